/* Device supervision; see supervise.h. */
#include "launcher/supervise.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static uint64_t supervise_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void supervise_init(struct supervisor *s, struct core_proc *core, struct device_proc *procs,
		    const char *const *names, size_t n, supervise_start_fn start, void *arg)
{
	uint64_t now = supervise_now_ms();

	memset(s, 0, sizeof(*s));
	s->core = core;
	s->procs = procs;
	s->n = n;
	s->start = start;
	s->arg = arg;
	for (size_t i = 0; i < n; i++) {
		snprintf(s->dev[i].name, sizeof(s->dev[i].name), "%s", names[i]);
		s->dev[i].started_at = now;
	}
}

size_t supervise_fill(struct supervisor *s, struct pollfd *pfd, int *timeout_ms)
{
	uint64_t now = supervise_now_ms();

	for (size_t i = 0; i < s->n; i++) {
		struct supervised *d = &s->dev[i];

		pfd[i] = (struct pollfd){.fd = s->procs[i].pidfd, .events = POLLIN};
		if (d->restart_at) {
			uint64_t wait = d->restart_at > now ? d->restart_at - now : 0;
			if (*timeout_ms < 0 || wait < (uint64_t)*timeout_ms)
				*timeout_ms = (int)wait;
		}
	}
	return s->n;
}

int64_t supervise_next_restart(uint32_t *in_a_row, uint64_t up_ms)
{
	uint64_t delay;

	if (up_ms >= SUPERVISE_STABLE_MS)
		*in_a_row = 0;
	if (*in_a_row >= SUPERVISE_MAX_RESTARTS)
		return -1;
	delay = (uint64_t)SUPERVISE_BACKOFF_MIN_MS << *in_a_row;
	return (int64_t)(delay < SUPERVISE_BACKOFF_MAX_MS ? delay : SUPERVISE_BACKOFF_MAX_MS);
}

static void supervise_died(struct supervisor *s, size_t i)
{
	struct supervised *d = &s->dev[i];
	uint64_t now = supervise_now_ms();
	int64_t delay;
	int st;

	st = launcher_stop_device(&s->procs[i], SIGKILL);
	if (st == 0) {
		/* A device ends cleanly only when its core link closes: the
		 * VM is ending, there is nothing to restart. */
		d->gone = true;
		return;
	}
	delay = supervise_next_restart(&d->in_a_row, now - d->started_at);
	if (delay < 0) {
		log_err("%s: device process ended (status %d) after %u restarts in a row: "
			"giving up, the guest is told the device needs a reset",
			d->name, st, d->in_a_row);
		d->gone = true;
		(void)launcher_core_device_gone(s->core, (uint32_t)i);
		return;
	}
	log_warn("%s: device process ended (status %d): restarting in %llu ms", d->name, st,
		 (unsigned long long)delay);
	d->restart_at = now + delay;
}

static void supervise_restart(struct supervisor *s, size_t i)
{
	struct supervised *d = &s->dev[i];
	int r;

	d->restart_at = 0;
	d->in_a_row++;
	d->restarts++;
	d->started_at = supervise_now_ms();
	r = s->start(s->arg, i, &s->procs[i]);
	if (r == 0)
		r = launcher_core_device_restarted(s->core, (uint32_t)i, &s->procs[i]);
	if (r < 0) {
		/* Counted as a crash: back off and try again, up to the limit. */
		log_err("%s: restart failed: %s", d->name, strerror(-r));
		if (s->procs[i].pid > 0)
			(void)launcher_stop_device(&s->procs[i], SIGKILL);
		supervise_died(s, i);
		return;
	}
	log_info("%s: device process restarted (%u so far)", d->name, d->restarts);
}

void supervise_ready(struct supervisor *s, const struct pollfd *pfd)
{
	uint64_t now = supervise_now_ms();

	for (size_t i = 0; i < s->n; i++) {
		struct supervised *d = &s->dev[i];

		if (d->gone)
			continue;
		if (pfd[i].fd >= 0 && pfd[i].revents)
			supervise_died(s, i);
		else if (d->restart_at && d->restart_at <= now)
			supervise_restart(s, i);
	}
}
