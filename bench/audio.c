/* bench-audio: the playback path of the real cellvm-dev-snd, with the
 * harness (test/harness/vsnd.h) as core and guest driver and a reader
 * thread on the audio capture ring as the capture client. For periods of
 * 5, 10 and 20 ms (S16 stereo 48 kHz, four periods in each stream's
 * buffer, the guest refilling each one as it comes back): the latency from
 * a period's place on the stream's time line (its timestamp_ns, when its
 * first frame plays) to the reader holding a copy of it, the jitter of the
 * reader's arrivals and of the guest's completions (their intervals
 * against the period length), and the device process's CPU time per stream (from
 * /proc/PID/schedstat). The references, measured in the same run: the
 * same period on a plain timerfd in this process (the host's own timer
 * jitter, the floor for any paced device), and a memcpy of one period.
 * Reports; asserts no timing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "dev-procs/snd/snd_ctl.h"
#include "proto/audio_ring.h"
#include "test/harness/vsnd.h"

#define RATE	    48000
#define RATE_IDX    7 /* VIRTIO_SND_PCM_RATE_48000 */
#define FRAME_BYTES 4 /* S16 stereo */
#define NPERIODS    4 /* periods per stream buffer, all in flight */
#define MAX_STREAMS 4
#define MAX_SAMPLES 20000

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-audio: %s: %s\n", what, strerror(r < 0 ? -r : EPROTO));
	exit(1);
}

/* ---- the capture client: a thread woken by its eventfd ---- */

struct reader {
	const void *ring;
	size_t size;
	int efd, stop;
	uint64_t period_ns;
	uint64_t lat[MAX_SAMPLES], gap[MAX_SAMPLES]; /* ns */
	size_t nlat, ngap;
	uint64_t periods, lost, last_arrival;
	uint8_t buf[CELLVM_AUDIO_MAX_PERIOD_BYTES];
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct pollfd pfd[2] = {{.fd = rd->efd, .events = POLLIN},
				{.fd = rd->stop, .events = POLLIN}};
	uint64_t next = cellvm_audio_latest(rd->ring, rd->size) + 1;
	struct cellvm_audio_geometry g;

	if (cellvm_audio_geometry_get(rd->ring, rd->size, &g) < 0)
		return NULL;
	for (;;) {
		uint64_t latest;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (pfd[1].revents)
			return NULL;
		(void)vsnd_efd_take(rd->efd);
		latest = cellvm_audio_latest(rd->ring, rd->size);
		if (next < cellvm_audio_oldest(latest, g.nperiods)) {
			rd->lost += cellvm_audio_oldest(latest, g.nperiods) - next;
			next = cellvm_audio_oldest(latest, g.nperiods);
		}
		for (; next <= latest; next++) {
			struct cellvm_audio_period m;
			long n = cellvm_audio_read(rd->ring, rd->size, next, &m, rd->buf,
						   sizeof(rd->buf));
			uint64_t now = bench_now_ns();

			if (n < 0) {
				rd->lost++;
				continue;
			}
			rd->periods++;
			if (m.stream != 0)
				continue;
			/* A period is published when it starts to play: its
			 * timestamp is at most a timer wake-up in the past. */
			if (rd->nlat < MAX_SAMPLES)
				rd->lat[rd->nlat++] =
					now > m.timestamp_ns ? now - m.timestamp_ns : 0;
			if (rd->last_arrival && rd->ngap < MAX_SAMPLES) {
				uint64_t d = now - rd->last_arrival;

				rd->gap[rd->ngap++] =
					d > rd->period_ns ? d - rd->period_ns : rd->period_ns - d;
			}
			rd->last_arrival = now;
		}
	}
}

/* The device's CPU time so far (ns), from /proc/PID/schedstat. */
static uint64_t cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

struct result {
	double lat50, lat99, latmax, arr50, arr99, done50, done99, cpu_pct;
	uint64_t periods, lost;
};

/* Play for seconds on nstreams playback streams with periods of pms ms. */
static void run(uint32_t pms, uint32_t nstreams, double seconds, struct result *res)
{
	const uint32_t pbytes = RATE / 1000 * pms * FRAME_BYTES;
	const uint64_t period_ns = (uint64_t)pms * 1000000;
	static struct reader rd;
	static uint64_t done[MAX_SAMPLES];
	struct vsnd_opts o = {.playback = nstreams,
			      .capture = 1,
			      .ring_periods = 256,
			      .ring_period_bytes = 64 << 10,
			      .nefds = 1,
			      .wav_sink = -1,
			      .wav_source = -1};
	static uint8_t pcm[VSND_SLOT_MAX];
	uint32_t head_stream[1024], head_slot[1024], k[MAX_STREAMS] = {0};
	uint64_t last_done = 0, t0, cpu0, stop_at;
	size_t ndone = 0;
	struct vsnd t;
	pthread_t th;
	char err[256];
	int r;

	memset(&t, 0, sizeof(t));
	r = vsnd_start(&t, &o, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench-audio: device start: %s\n", err);
		exit(1);
	}
	for (uint32_t i = 0; i < pbytes; i++)
		pcm[i] = (uint8_t)(i * 37);
	for (uint32_t s = 0; s < nstreams; s++) {
		r = vsnd_set_params(&t, s, pbytes * NPERIODS, pbytes, 2, CELLVM_AUDIO_S16,
				    RATE_IDX);
		if (r != SND_S_OK || vsnd_pcm(&t, SND_R_PCM_PREPARE, s) != SND_S_OK)
			die("set params/prepare", r);
		for (uint32_t j = 0; j < NPERIODS; j++) {
			uint32_t slot = s * NPERIODS + j;
			int h = vsnd_xfer(&t, SND_TXQ, slot, s, pcm, pbytes);

			if (h < 0 || h >= 1024)
				die("post", h < 0 ? h : -ERANGE);
			head_stream[h] = s;
			head_slot[h] = slot;
		}
	}
	memset(&rd, 0, sizeof(rd));
	rd.ring = t.ring;
	rd.size = t.ring_size;
	rd.efd = t.efd[0];
	rd.period_ns = period_ns;
	rd.stop = eventfd(0, EFD_CLOEXEC);
	if (pthread_create(&th, NULL, reader_main, &rd) != 0)
		die("thread", -EAGAIN);
	cpu0 = cpu_ns(t.core.proc.pid);
	t0 = bench_now_ns();
	for (uint32_t s = 0; s < nstreams; s++) {
		if (vsnd_pcm(&t, SND_R_PCM_START, s) != SND_S_OK)
			die("start", -EPROTO);
	}
	stop_at = t0 + (uint64_t)(seconds * 1e9);
	while (bench_now_ns() < stop_at) {
		uint32_t id, len;
		uint64_t now;

		r = vsnd_wait_used(&t, SND_TXQ, VSND_TIMEOUT_MS, &id, &len);
		if (r != 1 || id >= 1024)
			die("completion", r < 0 ? r : -ETIMEDOUT);
		now = bench_now_ns();
		const uint32_t s = head_stream[id], slot = head_slot[id];

		/* Completions of stream 0 should come one period apart. */
		if (s == 0 && last_done && ndone < MAX_SAMPLES) {
			const uint64_t d = now - last_done;

			done[ndone++] = d > period_ns ? d - period_ns : period_ns - d;
		}
		if (s == 0)
			last_done = now;
		k[s]++;
		r = vsnd_xfer(&t, SND_TXQ, slot, s, pcm, pbytes);
		if (r < 0 || r >= 1024)
			die("post", r < 0 ? r : -ERANGE);
		head_stream[r] = s;
		head_slot[r] = slot;
	}
	const uint64_t wall = bench_now_ns() - t0, cpu = cpu_ns(t.core.proc.pid) - cpu0;

	for (uint32_t s = 0; s < nstreams; s++)
		(void)vsnd_pcm(&t, SND_R_PCM_STOP, s);
	(void)!write(rd.stop, &(uint64_t){1}, 8);
	pthread_join(th, NULL);
	close(rd.stop);
	if (vsnd_stop(&t) != 0)
		die("device exit", -EPROTO);
	if (!rd.nlat || !rd.ngap || !ndone)
		die("no samples", -ENODATA);
	res->lat50 = ms(bench_pct(rd.lat, rd.nlat, 50));
	res->lat99 = ms(bench_pct(rd.lat, rd.nlat, 99));
	res->latmax = ms(bench_pct(rd.lat, rd.nlat, 100));
	res->arr50 = ms(bench_pct(rd.gap, rd.ngap, 50));
	res->arr99 = ms(bench_pct(rd.gap, rd.ngap, 99));
	res->done50 = ms(bench_pct(done, ndone, 50));
	res->done99 = ms(bench_pct(done, ndone, 99));
	res->cpu_pct = 100.0 * (double)cpu / (double)wall / nstreams;
	res->periods = rd.periods;
	res->lost = rd.lost;
}

/* The reference: a timerfd of the same period in this process, its
 * wake-ups' jitter (p50, p99) over seconds. */
static void timer_ref(uint32_t pms, double seconds, double *p50, double *p99)
{
	static uint64_t gap[MAX_SAMPLES];
	const uint64_t period_ns = (uint64_t)pms * 1000000;
	struct itimerspec its = {.it_interval = {0, (long)period_ns},
				 .it_value = {0, (long)period_ns}};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	uint64_t last = bench_now_ns(), end = last + (uint64_t)(seconds * 1e9), v;
	size_t n = 0;

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
		die("timerfd", -errno);
	while (bench_now_ns() < end && n < MAX_SAMPLES) {
		if (read(fd, &v, sizeof(v)) != sizeof(v))
			die("timerfd read", -errno);
		const uint64_t now = bench_now_ns(), d = now - last;

		gap[n++] = d > period_ns ? d - period_ns : period_ns - d;
		last = now;
	}
	close(fd);
	*p50 = ms(bench_pct(gap, n, 50));
	*p99 = ms(bench_pct(gap, n, 99));
}

static double memcpy_ref_us(uint32_t bytes)
{
	static uint8_t a[1 << 20], b[1 << 20];
	uint64_t t0;
	const int reps = 2000;

	memset(a, 1, sizeof(a));
	t0 = bench_now_ns();
	for (int i = 0; i < reps; i++) {
		a[i % bytes] = (uint8_t)i;
		memcpy(b, a, bytes);
		__asm__ volatile("" : : "r"(b) : "memory");
	}
	return (double)(bench_now_ns() - t0) / reps / 1e3;
}

int main(int argc, char **argv)
{
	static const uint32_t periods_ms[] = {5, 10, 20};
	double seconds = 3;
	uint32_t streams = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--streams") && i + 1 < argc) {
			streams = (uint32_t)atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: bench-audio [--seconds S] [--streams 1..4]\n");
			return 2;
		}
	}
	if (seconds <= 0 || streams < 1 || streams > MAX_STREAMS) {
		fprintf(stderr, "bench-audio: --seconds > 0, --streams 1..4\n");
		return 2;
	}
	printf("cellvm-dev-snd playback, S16 stereo 48 kHz, %u period(s) per buffer, %u stream(s), "
	       "%.1f s per period length\n",
	       NPERIODS, streams, seconds);
	for (size_t i = 0; i < sizeof(periods_ms) / sizeof(periods_ms[0]); i++) {
		const uint32_t pms = periods_ms[i];
		struct result r;
		double t50, t99;

		run(pms, streams, seconds, &r);
		timer_ref(pms, seconds < 2 ? seconds : 2, &t50, &t99);
		printf("period %2u ms: period->reader latency p50 %.3f ms p99 %.3f ms max %.3f ms; "
		       "reader arrival jitter p50 %.3f ms p99 %.3f ms; guest completion jitter p50 "
		       "%.3f ms p99 %.3f ms; device CPU %.2f%% of a core per stream; %llu periods, "
		       "%llu lost\n",
		       pms, r.lat50, r.lat99, r.latmax, r.arr50, r.arr99, r.done50, r.done99,
		       r.cpu_pct, (unsigned long long)r.periods, (unsigned long long)r.lost);
		printf("reference: timerfd %2u ms in this process: jitter p50 %.3f ms p99 %.3f ms; "
		       "memcpy of one period (%u bytes) %.2f us\n",
		       pms, t50, t99, RATE / 1000 * pms * FRAME_BYTES,
		       memcpy_ref_us(RATE / 1000 * pms * FRAME_BYTES));
	}
	return 0;
}
