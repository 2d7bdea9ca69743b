/* cellvm-check-clock: runs in the test guest's user space. Prints the
 * clocksource in use, then runs a periodic timer (a timerfd on
 * CLOCK_MONOTONIC, period_ms) and prints one line per wake-up
 *   CELLVM-CLOCK tick=<n> exp=<expirations> mono_ms=<CLOCK_MONOTONIC>
 * until a line arrives on stdin (the console: the host writes it when it has
 * what it wants), then a summary
 *   CELLVM-DATA clock ticks=<n> max_exp=<largest expirations at one wake-up>
 * A guest clock that jumps forward (a pause that lets it run on) shows as a
 * wake-up with many expirations and a gap in mono_ms; the host compares the
 * gaps with its own clock across a pause (test/broker/pause.py).
 * Usage: cellvm-check-clock PERIOD_MS LIMIT_TICKS */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void print_clocksource(void)
{
	char buf[64] = "unknown";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			snprintf(buf, sizeof(buf), "unknown");
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("CELLVM-DATA clock source=%s\n", buf);
}

int main(int argc, char **argv)
{
	long period_ms = argc > 1 && argv[1][0] ? strtol(argv[1], NULL, 10) : 100;
	long limit = argc > 2 && argv[2][0] ? strtol(argv[2], NULL, 10) : 3000;
	struct itimerspec its = {0};
	uint64_t max_exp = 0, n = 0;
	int tfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (period_ms <= 0 || period_ms > 10000 || limit <= 0) {
		fprintf(stderr, "cellvm-check-clock: bad period %ld or limit %ld\n", period_ms,
			limit);
		return 2;
	}
	print_clocksource();
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0) {
		fprintf(stderr, "cellvm-check-clock: timerfd_create: %s\n", strerror(errno));
		return 1;
	}
	its.it_value.tv_sec = period_ms / 1000;
	its.it_value.tv_nsec = (period_ms % 1000) * 1000000L;
	its.it_interval = its.it_value;
	if (timerfd_settime(tfd, 0, &its, NULL) < 0) {
		fprintf(stderr, "cellvm-check-clock: timerfd_settime: %s\n", strerror(errno));
		return 1;
	}
	printf("CELLVM-CLOCK-READY period_ms=%ld mono_ms=%llu\n", period_ms,
	       (unsigned long long)mono_ms());
	while ((long)n < limit) {
		struct pollfd p[2] = {{.fd = tfd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
		uint64_t exp;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "cellvm-check-clock: poll: %s\n", strerror(errno));
			return 1;
		}
		if (p[1].revents) {
			char line[64];

			/* The host's word: stop. */
			if (read(0, line, sizeof(line)) >= 0)
				break;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		if (read(tfd, &exp, sizeof(exp)) != (ssize_t)sizeof(exp))
			continue;
		n++;
		if (exp > max_exp)
			max_exp = exp;
		printf("CELLVM-CLOCK tick=%llu exp=%llu mono_ms=%llu\n", (unsigned long long)n,
		       (unsigned long long)exp, (unsigned long long)mono_ms());
	}
	printf("CELLVM-DATA clock ticks=%llu max_exp=%llu\n", (unsigned long long)n,
	       (unsigned long long)max_exp);
	return 0;
}
