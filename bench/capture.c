/* bench-capture: the frame capture path of the real cellvm-dev-gpu at
 * 1920x1080 XRGB8888, with the harness (test/harness/vgpu.h) as core and
 * guest driver and a reader thread as the capture client: the latency from
 * the guest submitting RESOURCE_FLUSH to the reader (woken by its eventfd)
 * holding a copy of the whole frame (cellvm_capture_read_frame), with full
 * and with 256x256 damage; frames per second with transfer and flush back
 * to back; screenshot_png's time at 1080p; and the guest's flush
 * completion with and without a stuck reader (one that maps the ring and
 * never reads). The reference, measured in the same run: memcpy of one
 * 1080p frame, and the frame rate that copy alone allows. Reports; asserts
 * no timing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "common/screenshot.h"
#include "dev-procs/gpu/gpu_cmd.h"
#include "proto/capture_ring.h"
#include "test/harness/vgpu.h"

#define FW	    1920
#define FH	    1080
#define FRAME_BYTES ((size_t)FW * FH * 4)
#define PART	    256 /* the partial damage: a PART x PART rectangle */
#define RING_SLOTS  3	/* GpuConfig's default */
#define RES_ID	    1
#define CURSOR_ID   2

static double pct_ms(uint64_t *v, size_t n, unsigned pct)
{
	return (double)bench_pct(v, n, pct) / 1e6;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-capture: %s: %s\n", what, strerror(r < 0 ? -r : EPROTO));
	exit(1);
}

static void ok(const char *what, int type)
{
	if (type != VIRTIO_GPU_RESP_OK_NODATA)
		die(what, type < 0 ? type : -EPROTO);
}

/* ---- the capture client: a thread woken by its eventfd ---- */

struct reader {
	const void *ring;
	size_t size;
	int efd;  /* the device writes it per frame */
	int stop; /* eventfd: ours, to end the thread */
	int done; /* eventfd: the thread writes it per frame copied */
	uint8_t *buf;
	size_t buf_len;
	_Atomic uint64_t serial, copied_ns; /* the last frame copied, and when */
	uint64_t frames, missed, torn;
	int err;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct pollfd pfd[2] = {{.fd = rd->efd, .events = POLLIN},
				{.fd = rd->stop, .events = POLLIN}};
	uint64_t last = atomic_load(&rd->serial), one = 1, v;

	for (;;) {
		int64_t latest;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rd->err = -errno;
			return NULL;
		}
		if (pfd[1].revents)
			return NULL;
		(void)!read(rd->efd, &v, sizeof(v));
		latest = cellvm_capture_latest(rd->ring, rd->size);
		while (latest > 0 && (uint64_t)latest != last) {
			struct cellvm_capture_slot meta;
			int r = cellvm_capture_read_frame(rd->ring, rd->size, 0, &meta, rd->buf,
							  rd->buf_len);

			if (r < 0) {
				rd->err = r;
				return NULL;
			}
			if (r == 1) {
				uint64_t t = bench_now_ns();

				if (meta.serial > last + 1)
					rd->missed += meta.serial - last - 1;
				last = meta.serial;
				rd->frames++;
				atomic_store_explicit(&rd->copied_ns, t, memory_order_relaxed);
				atomic_store_explicit(&rd->serial, last, memory_order_release);
				if (write(rd->done, &one, sizeof(one)) != sizeof(one)) {
					rd->err = -errno;
					return NULL;
				}
			} else {
				rd->torn++; /* overwritten while we copied: take the new one */
			}
			latest = cellvm_capture_latest(rd->ring, rd->size);
		}
	}
}

/* Wait until the reader has copied frame serial (or a later one); returns
 * when it copied it. */
static uint64_t reader_wait(struct reader *rd, uint64_t serial)
{
	struct pollfd pfd = {.fd = rd->done, .events = POLLIN};
	uint64_t v;

	while (atomic_load_explicit(&rd->serial, memory_order_acquire) < serial) {
		if (rd->err)
			die("reader", rd->err);
		if (poll(&pfd, 1, VGPU_TIMEOUT_MS) != 1)
			die("reader: frame not copied", -ETIMEDOUT);
		(void)!read(rd->done, &v, sizeof(v));
	}
	return atomic_load_explicit(&rd->copied_ns, memory_order_relaxed);
}

/* ---- the guest ---- */

/* A desktop-like frame for the encoder: a gradient, flat windows, and
 * rows of "text" (dense dots on white). pixels: FW * FH XRGB8888 words. */
static void draw(uint32_t *px)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (uint32_t y = 0; y < FH; y++)
		for (uint32_t x = 0; x < FW; x++)
			px[y * FW + x] =
				0xff000000u | (y * 255 / FH) << 16 | 0x40 << 8 | x * 255 / FW;
	for (uint32_t w = 0; w < 3; w++) {
		uint32_t x0 = 100 + w * 560, y0 = 120 + w * 180, ww = 800, wh = 600;

		for (uint32_t y = y0; y < y0 + wh && y < FH; y++)
			for (uint32_t x = x0; x < x0 + ww && x < FW; x++) {
				bool title = y < y0 + 30, text = !title && (y - y0) % 16 < 11;

				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				px[y * FW + x] = title			     ? 0xff3050a0u
						 : text && (seed >> 61) == 0 ? 0xff202020u
									     : 0xfff8f8f8u;
			}
	}
}

struct guest {
	struct vgpu t;
	uint64_t fb; /* the resource's backing in guest RAM */
};

/* The device at 1920x1080 with nefds subscribers, and the guest's frame
 * shown on scanout 0 (serial 1). */
static void guest_start(struct guest *g, uint32_t nefds, bool ring)
{
	struct vgpu_opts o = {
		.mem_size = 64ULL << 20,
		.nscanouts = 1,
		.width = {FW},
		.height = {FH},
		.ring_slots = ring ? RING_SLOTS : 0,
		.nefds = nefds,
	};
	uint32_t len = (uint32_t)FRAME_BYTES;
	char err[256];
	int r = vgpu_start(&g->t, &o, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "bench-capture: starting cellvm-dev-gpu: %s\n", err);
		exit(1);
	}
	g->fb = vdrv_alloc(&g->t.mem, FRAME_BYTES, 4096);
	draw(vgpu_host(&g->t, g->fb, FRAME_BYTES));
	ok("create", vgpu_create(&g->t, RES_ID, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, FW, FH));
	ok("attach", vgpu_attach(&g->t, RES_ID, &g->fb, &len, 1));
	ok("transfer", vgpu_transfer(&g->t, RES_ID, 0, 0, FW, FH, 0));
	ok("set scanout", vgpu_set_scanout(&g->t, 0, RES_ID, 0, 0, FW, FH));
}

/* A 64x64 arrow with a soft (premultiplied) edge, shown at the middle. */
static void guest_cursor(struct guest *g)
{
	uint64_t a = vdrv_alloc(&g->t.mem, 64 * 64 * 4, 4096);
	uint32_t *img = vgpu_host(&g->t, a, 64 * 64 * 4), len = 64 * 64 * 4;
	int r;

	for (uint32_t y = 0; y < 64; y++)
		for (uint32_t x = 0; x < 64; x++)
			img[y * 64 + x] = x < y / 2 ? 0xff000000u : x == y / 2 ? 0x80000000u : 0;
	ok("cursor create",
	   vgpu_create(&g->t, CURSOR_ID, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64));
	ok("cursor attach", vgpu_attach(&g->t, CURSOR_ID, &a, &len, 1));
	ok("cursor transfer", vgpu_transfer(&g->t, CURSOR_ID, 0, 0, 64, 64, 0));
	r = vgpu_cursor(&g->t, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, FW / 2, FH / 2, CURSOR_ID, 0, 0);
	if (r < 0)
		die("update cursor", r);
}

/* One guest frame: the changed part transferred, then flushed. Returns the
 * flush's submission time; *ret_done its completion, *ret_xfer (when not
 * NULL) how long the transfer took. */
static uint64_t guest_frame(struct guest *g, bool full, bool transfer, uint64_t *ret_done,
			    uint64_t *ret_xfer)
{
	uint32_t w = full ? FW : PART, h = full ? FH : PART, x = full ? 0 : 640, y = full ? 0 : 320;
	uint64_t t0 = bench_now_ns();

	if (transfer)
		ok("transfer",
		   vgpu_transfer(&g->t, RES_ID, x, y, w, h, ((uint64_t)y * FW + x) * 4));
	if (ret_xfer)
		*ret_xfer = bench_now_ns() - t0;
	t0 = bench_now_ns();
	ok("flush", vgpu_flush(&g->t, RES_ID, x, y, w, h));
	*ret_done = bench_now_ns();
	return t0;
}

/* ---- the cases ---- */

static void latency(struct guest *g, struct reader *rd, bool full, uint32_t iters, uint64_t *lat,
		    uint64_t *done, uint64_t *xfer)
{
	for (uint32_t i = 0; i < iters + RING_SLOTS; i++) {
		uint64_t t_done, t_xfer, t0 = guest_frame(g, full, true, &t_done, &t_xfer);
		int64_t serial = cellvm_capture_latest(g->t.ring, g->t.ring_size);
		uint64_t copied;

		if (serial <= 0)
			die("no frame published", serial < 0 ? (int)serial : -EPROTO);
		copied = reader_wait(rd, (uint64_t)serial);
		/* The first RING_SLOTS frames fault the ring's pages in. */
		if (i >= RING_SLOTS) {
			lat[i - RING_SLOTS] = copied - t0;
			done[i - RING_SLOTS] = t_done - t0;
			xfer[i - RING_SLOTS] = t_xfer;
		}
	}
}

/* Transfer and flush back to back for ms milliseconds: the guest's frames
 * per second, and the reader's. */
static void sustained(struct guest *g, struct reader *rd, bool full, uint32_t ms, double *ret_fps,
		      double *ret_reader_fps, uint64_t *ret_missed)
{
	uint64_t n = 0, t_done, f0 = rd->frames, m0 = rd->missed, t0 = bench_now_ns(), end;
	int64_t serial;

	end = t0 + (uint64_t)ms * 1000000;
	do {
		(void)guest_frame(g, full, true, &t_done, NULL);
		n++;
	} while (t_done < end);
	serial = cellvm_capture_latest(g->t.ring, g->t.ring_size);
	if (serial <= 0)
		die("no frame published", -EPROTO);
	/* The reader ends on the last frame (a slow one skips some). */
	(void)reader_wait(rd, (uint64_t)serial);
	*ret_fps = (double)n / ((double)(t_done - t0) / 1e9);
	*ret_reader_fps = (double)(rd->frames - f0) / ((double)(bench_now_ns() - t0) / 1e9);
	*ret_missed = rd->missed - m0;
}

/* The guest's flush completion alone (full damage; no transfer, so only
 * the flush's own work: publishing the frame) on two devices side by side,
 * one flush on each in turn so that both see the same machine: g[0] with
 * no subscriber, g[1] with a stuck reader (a process that maps its ring,
 * subscribes, and never reads). */
static void completion(uint32_t iters, uint64_t *none, uint64_t *stuck)
{
	struct guest g[2];
	int pipefd[2], status;
	uint64_t v;
	pid_t pid;

	guest_start(&g[0], 0, true);
	guest_start(&g[1], 1, true);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe", -errno);
	pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		const volatile uint8_t *m =
			mmap(NULL, g[1].t.ring_size, PROT_READ, MAP_SHARED, g[1].t.ring_fd, 0);
		char c;

		close(pipefd[1]);
		if (m == MAP_FAILED)
			_exit(1);
		(void)m[0];
		/* Stuck: blocks until the parent closes its end. */
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	for (uint32_t i = 0; i < iters + RING_SLOTS; i++)
		for (int k = 0; k < 2; k++) {
			uint64_t t_done, t0 = guest_frame(&g[k], true, false, &t_done, NULL);

			if (i >= RING_SLOTS)
				(k ? stuck : none)[i - RING_SLOTS] = t_done - t0;
		}
	/* The stuck reader's eventfd was never read: one count per frame,
	 * and the device never waited on it. */
	v = vgpu_efd_take(g[1].t.efd[0]);
	if (v < iters)
		die("stuck reader's eventfd", -EPROTO);
	close(pipefd[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("stuck reader", -ECHILD);
	for (int k = 0; k < 2; k++) {
		status = vgpu_stop(&g[k].t);
		if (status != 0)
			fprintf(stderr, "bench-capture: device exit status %d\n", status);
	}
}

/* memcpy of one frame, nbuf buffers of FRAME_BYTES in rotation: 2 is the
 * cache-warm floor; 6 (48 MiB) is the footprint of the capture path
 * (backing, resource, three slots, the reader's copy), past a 2-core
 * machine's last-level cache. */
static void reference(uint32_t nbuf, uint32_t iters, uint64_t *t)
{
	uint8_t *b[6];

	for (uint32_t i = 0; i < nbuf; i++) {
		b[i] = malloc(FRAME_BYTES);
		if (!b[i])
			die("malloc", -ENOMEM);
		memset(b[i], (int)i, FRAME_BYTES);
	}
	for (uint32_t i = 0; i < iters + nbuf; i++) {
		uint64_t t0 = bench_now_ns();

		memcpy(b[(i + 1) % nbuf], b[i % nbuf], FRAME_BYTES);
		if (i >= nbuf)
			t[i - nbuf] = bench_now_ns() - t0;
	}
	/* Keep the copies observable. */
	if (b[0][FRAME_BYTES / 2] == 0xff)
		fputs("", stderr);
	for (uint32_t i = 0; i < nbuf; i++)
		free(b[i]);
}

static void encode(struct guest *g, uint32_t iters, uint64_t *t, size_t *ret_len)
{
	const struct screenshot_opts o = {.scanout = 0, .cursor = true};

	for (uint32_t i = 0; i < iters; i++) {
		char err[128];
		uint8_t *png;
		size_t len;
		uint64_t t0 = bench_now_ns();
		int r = screenshot_png(g->t.ring, g->t.ring_size, &o, &png, &len, err, sizeof(err));

		t[i] = bench_now_ns() - t0;
		if (r < 0) {
			fprintf(stderr, "bench-capture: screenshot_png: %s\n", err);
			exit(1);
		}
		*ret_len = len;
		free(png);
	}
}

int main(int argc, char **argv)
{
	uint32_t iters = 200, ms = 2000, shots = 10;
	uint64_t *lat, *done, *ref, *xfer;
	struct reader rd = {0};
	struct guest g;
	pthread_t th;
	size_t png_len = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
			iters = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc)
			ms = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--shots") == 0 && i + 1 < argc)
			shots = (uint32_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: %s [--iters N] [--ms MS] [--shots N]\n", argv[0]);
			return 2;
		}
	}
	iters = iters < 2 ? 2 : iters;
	shots = shots < 1 ? 1 : shots;
	lat = calloc(iters, sizeof(*lat));
	done = calloc(iters, sizeof(*done));
	xfer = calloc(iters, sizeof(*xfer));
	ref = calloc(iters > shots ? iters : shots, sizeof(*ref));
	if (!lat || !done || !ref || !xfer)
		die("calloc", -ENOMEM);

	guest_start(&g, 1, true);
	rd.ring = g.t.ring;
	rd.size = g.t.ring_size;
	rd.efd = g.t.efd[0];
	rd.stop = eventfd(0, EFD_CLOEXEC);
	rd.done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rd.buf_len = FRAME_BYTES;
	rd.buf = malloc(rd.buf_len);
	if (rd.stop < 0 || rd.done < 0 || !rd.buf)
		die("reader setup", -errno);
	memset(rd.buf, 0, rd.buf_len);
	r = pthread_create(&th, NULL, reader_main, &rd);
	if (r != 0)
		die("pthread_create", -r);

	printf("bench-capture: cellvm-dev-gpu at %ux%u XRGB8888, ring of %u slots, the harness as "
	       "guest driver, a reader thread woken by its eventfd; %u frames per latency case, "
	       "%u ms per rate case\n",
	       FW, FH, RING_SLOTS, iters, ms);
	printf("%-34s %9s %9s %9s %9s %7s\n", "case", "p50 ms", "p99 ms", "fps", "read fps",
	       "missed");
	for (int full = 1; full >= 0; full--) {
		const char *name = full ? "full" : "256x256";
		double fps, rfps;
		uint64_t missed;
		char label[64];

		latency(&g, &rd, full, iters, lat, done, xfer);
		snprintf(label, sizeof(label), "flush->reader copy, %s", name);
		printf("%-34s %9.3f %9.3f\n", label, pct_ms(lat, iters, 50),
		       pct_ms(lat, iters, 99));
		snprintf(label, sizeof(label), "guest flush completion, %s", name);
		printf("%-34s %9.3f %9.3f\n", label, pct_ms(done, iters, 50),
		       pct_ms(done, iters, 99));
		snprintf(label, sizeof(label), "guest transfer completion, %s", name);
		printf("%-34s %9.3f %9.3f\n", label, pct_ms(xfer, iters, 50),
		       pct_ms(xfer, iters, 99));
		if (full)
			memcpy(ref, lat, iters * sizeof(*lat)); /* sorted: ref[p] below */
		sustained(&g, &rd, full, ms, &fps, &rfps, &missed);
		snprintf(label, sizeof(label), "transfer+flush back to back, %s", name);
		printf("%-34s %9s %9s %9.1f %9.1f %7llu\n", label, "", "", fps, rfps,
		       (unsigned long long)missed);
	}
	{
		double p99 = (double)ref[(uint64_t)(iters - 1) * 99 / 100] / 1e6;

		guest_cursor(&g);
		encode(&g, shots, lat, &png_len);
		printf("%-34s %9.3f %9.3f %9s %9s %7s  (%zu KiB, cursor drawn)\n",
		       "screenshot_png 1080p", pct_ms(lat, shots, 50), pct_ms(lat, shots, 99), "",
		       "", "", png_len / 1024);
		(void)!write(rd.stop, &(uint64_t){1}, sizeof(uint64_t));
		pthread_join(th, NULL);
		if (rd.err)
			die("reader", rd.err);
		r = vgpu_stop(&g.t);
		if (r != 0)
			fprintf(stderr, "bench-capture: device exit status %d\n", r);

		completion(iters, done, xfer);
		printf("%-34s %9.3f %9.3f\n", "flush completion, no reader",
		       pct_ms(done, iters, 50), pct_ms(done, iters, 99));
		printf("%-34s %9.3f %9.3f\n", "flush completion, stuck reader",
		       pct_ms(xfer, iters, 50), pct_ms(xfer, iters, 99));

		reference(2, iters, done);
		reference(6, iters, lat);
		printf("reference: memcpy of one %ux%u frame (%zu KiB): p50 %.3f ms, p99 %.3f ms "
		       "(2 buffers), p50 %.3f ms, p99 %.3f ms (6 buffers, 48 MiB); that copy alone "
		       "allows %.0f / %.0f fps\n",
		       FW, FH, FRAME_BYTES / 1024, pct_ms(done, iters, 50), pct_ms(done, iters, 99),
		       pct_ms(lat, iters, 50), pct_ms(lat, iters, 99),
		       1e3 / pct_ms(done, iters, 50), 1e3 / pct_ms(lat, iters, 50));
		printf("target: flush->reader copy p99 under 2 ms at 1080p (full damage): %.3f ms, "
		       "%s; reader saw %llu frames torn by the writer\n",
		       p99, p99 < 2.0 ? "met" : "not met", (unsigned long long)rd.torn);
	}
	close(rd.stop);
	close(rd.done);
	free(rd.buf);
	free(lat);
	free(done);
	free(ref);
	free(xfer);
	return 0;
}
