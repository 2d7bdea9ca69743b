/* bench-vnc: VNC update latency through the real sandboxed cellvm-display,
 * from a frame published in the capture ring (the real writer, as the gpu
 * process does) to a libvncclient client's framebuffer holding it: full
 * 1920x1080 frames and partial ones (one 256x256 rectangle of damage),
 * p50/p99. The client is on a unix socketpair handed over as the parent
 * would. Its reference, measured in the same run: a memcpy of the same
 * bytes, and the same bytes sent through a socketpair to another process
 * and acknowledged (the floor of moving them to a viewer). Reports; asserts
 * no timing. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "test/display/displaytest.h"

#define W	1920
#define H	1080
#define RECT	256
#define SAMPLES 5

static double pct_us(uint64_t *v, size_t n, unsigned pct)
{
	return (double)bench_pct(v, n, pct) / 1000.0;
}

/* Whether the client's framebuffer shows frame seed inside r: its corners
 * and centre (one FramebufferUpdate is handled whole, so these say it
 * arrived). */
static bool holds(rfbClient *c, const struct capture_rect *r, uint32_t seed)
{
	const uint32_t xs[SAMPLES] = {r->x, r->x + r->w - 1, r->x, r->x + r->w - 1,
				      r->x + r->w / 2};
	const uint32_t ys[SAMPLES] = {r->y, r->y, r->y + r->h - 1, r->y + r->h - 1,
				      r->y + r->h / 2};
	const uint32_t *fb = (const uint32_t *)c->frameBuffer;

	if (c->width != W || c->height != H)
		return false;
	for (int i = 0; i < SAMPLES; i++)
		if ((fb[(size_t)ys[i] * W + xs[i]] & 0xffffff) != dt_pattern(xs[i], ys[i], seed))
			return false;
	return true;
}

/* Publish, then pump the client until it holds the frame. -1 on a timeout. */
static int64_t one_update(struct dt *t, rfbClient *c, uint32_t seed, const struct capture_rect *r,
			  bool partial)
{
	uint64_t t0, deadline;

	dt_publish(t, W, H, seed, partial ? r : NULL, partial ? 1 : 0);
	t0 = bench_now_ns();
	deadline = t0 + 10ULL * 1000000000ULL;
	while (!holds(c, r, seed)) {
		int n;

		if (bench_now_ns() > deadline)
			return -1;
		n = WaitForMessage(c, 100000);
		if (n < 0 || (n > 0 && !HandleRFBServerMessage(c)))
			return -1;
	}
	return (int64_t)(bench_now_ns() - t0);
}

/* The reference: len bytes to a child process through a socketpair and its
 * one-byte acknowledgement back. */
static int socket_reference(const uint8_t *buf, size_t len, uint64_t *lat, unsigned iters)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		uint8_t *in = malloc(len);

		close(sv[0]);
		for (unsigned i = 0; in && i < iters; i++) {
			size_t got = 0;

			while (got < len) {
				ssize_t n = read(sv[1], in + got, len - got);
				if (n <= 0)
					_exit(1);
				got += (size_t)n;
			}
			if (write(sv[1], "k", 1) != 1)
				_exit(1);
		}
		_exit(in ? 0 : 1);
	}
	close(sv[1]);
	for (unsigned i = 0; i < iters; i++) {
		uint64_t t0 = bench_now_ns();
		size_t put = 0;
		char k;

		while (put < len) {
			ssize_t n = write(sv[0], buf + put, len - put);
			if (n <= 0)
				return -EIO;
			put += (size_t)n;
		}
		if (read(sv[0], &k, 1) != 1)
			return -EIO;
		lat[i] = bench_now_ns() - t0;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *enc = "raw";
	unsigned iters = 100;
	struct capture_rect full = {0, 0, W, H};
	uint64_t *lat, *ref;
	uint8_t *dst;
	struct dt t;
	rfbClient *c;
	int fd, r;
	uint32_t seed = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
			iters = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--encoding") == 0 && i + 1 < argc)
			enc = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--iters N] [--encoding raw|zrle|tight|...]\n",
				argv[0]);
			return 2;
		}
	}
	if (iters < 2)
		iters = 2;
	signal(SIGPIPE, SIG_IGN);
	r = dt_start_size(&t, false, 4, W, H);
	if (r == 77)
		return 77;
	if (r < 0)
		return 1;
	fd = dt_connect(&t, 1, true, false);
	c = dt_client_new(enc);
	if (fd < 0 || !c || !dt_client_init(c, fd)) {
		fprintf(stderr, "bench-vnc: cannot connect a client\n");
		return 1;
	}
	lat = calloc(iters, sizeof(*lat));
	ref = calloc(iters, sizeof(*ref));
	dst = malloc((size_t)W * H * 4);
	if (!lat || !ref || !dst)
		return 1;
	/* Warm up: the first frame, the resize to 1920x1080, a full compare. */
	dt_publish(&t, W, H, seed, NULL, 0);
	if (!dt_client_sees(&t, c, 10000)) {
		fprintf(stderr, "bench-vnc: the first frame never arrived\n");
		return 1;
	}
	printf("bench-vnc: %ux%u XRGB8888, %u updates each, encoding %s, one libvncclient "
	       "client on a unix socketpair\n",
	       W, H, iters, enc);
	printf("%-26s %12s %12s\n", "case", "p50 us", "p99 us");
	for (int partial = 0; partial < 2; partial++) {
		for (unsigned i = 0; i < iters; i++) {
			struct capture_rect rr = {(i * 97) % (W - RECT), (i * 53) % (H - RECT),
						  RECT, RECT};
			int64_t l = one_update(&t, c, ++seed, partial ? &rr : &full, partial);

			if (l < 0) {
				fprintf(stderr, "bench-vnc: update %u never arrived\n", i);
				return 1;
			}
			lat[i] = (uint64_t)l;
		}
		printf("%-26s %12.1f %12.1f\n",
		       partial ? "ring -> client, 256x256" : "ring -> client, full",
		       pct_us(lat, iters, 50), pct_us(lat, iters, 99));
	}
	/* Whatever the samples said, the whole frame must be there. */
	if (!dt_client_sees(&t, c, 10000)) {
		fprintf(stderr,
			"bench-vnc: the client's framebuffer differs from the last frame\n");
		return 1;
	}
	for (unsigned i = 0; i < iters; i++) {
		uint64_t t0 = bench_now_ns();

		memcpy(dst, t.pixels, (size_t)W * H * 4);
		__asm__ volatile("" : : "r"(dst) : "memory");
		ref[i] = bench_now_ns() - t0;
	}
	printf("%-26s %12.1f %12.1f\n", "reference: memcpy, full", pct_us(ref, iters, 50),
	       pct_us(ref, iters, 99));
	for (int partial = 0; partial < 2; partial++) {
		size_t len = partial ? (size_t)RECT * RECT * 4 : (size_t)W * H * 4;

		if (socket_reference((const uint8_t *)t.pixels, len, ref, iters) < 0) {
			fprintf(stderr, "bench-vnc: the socketpair reference failed\n");
			return 1;
		}
		printf("%-26s %12.1f %12.1f\n",
		       partial ? "reference: socket, 256 KiB" : "reference: socket, full",
		       pct_us(ref, iters, 50), pct_us(ref, iters, 99));
	}
	dt_client_free(c);
	dt_stop(&t);
	free(lat);
	free(ref);
	free(dst);
	return 0;
}
