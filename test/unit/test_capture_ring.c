/* Unit tests for the frame capture ring: the writer (dev-procs/gpu/capture.c)
 * in this process over a real memfd, the readers (proto/capture_ring.h's
 * helpers) over read-only mappings of it, in forked children where they run
 * concurrently with the writer; and hostile rings for the reader helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dev-procs/gpu/capture.h"
#include "proto/capture_ring.h"

#define W 128
#define H 96

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every pixel of frame serial says which frame and which pixel it is: a
 * frame mixing two serials (torn) fails the check. */
static uint32_t pattern(uint64_t serial, uint32_t x, uint32_t y)
{
	return (uint32_t)(serial * 0x9e3779b1u) ^ (y << 16) ^ x;
}

static void fill(uint32_t *px, uint32_t w, uint32_t h, uint32_t stride_px, uint64_t serial)
{
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			px[y * stride_px + x] = pattern(serial, x, y);
}

static size_t bad_pixels(const uint32_t *px, uint32_t w, uint32_t h, uint64_t serial)
{
	size_t bad = 0;

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			bad += px[y * w + x] != pattern(serial, x, y);
	return bad;
}

static int ring_memfd(uint32_t nslots, uint32_t w, uint32_t h)
{
	int fd = memfd_create("capture-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)capture_ring_bytes(nslots, w, h)), 0);
	return fd;
}

/* A reader's view: the memfd reopened read-only and mapped PROT_READ, as a
 * capture client that received the fd would. */
static const void *map_ro(int memfd, size_t size)
{
	char path[64];
	void *m;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

/* (1) each frame comes back exactly: pixels (from a source whose stride is
 * wider than the frame), damage, metadata; overwritten frames are refused. */
static void test_publish_read_exact(void **state)
{
	const uint32_t nslots = 3, stride_px = W + 7;
	struct capture_rect dmg[CELLVM_CAPTURE_MAX_DAMAGE + 1];
	struct cellvm_capture_slot meta;
	struct capture c;
	uint32_t *src = calloc((size_t)stride_px * H, 4);
	size_t size = capture_ring_bytes(nslots, W, H);
	uint32_t *out = malloc((size_t)W * H * 4);
	const void *ro;
	int memfd = ring_memfd(nslots, W, H);

	assert_int_equal(capture_init(&c, memfd, nslots, W, H, NULL, 0), 0);
	ro = map_ro(memfd, size);
	assert_non_null(ro);
	assert_int_equal(cellvm_capture_check(ro, size), 0);
	assert_int_equal(cellvm_capture_latest(ro, size), 0);
	assert_int_equal(cellvm_capture_read_frame(ro, size, 0, &meta, out, (size_t)W * H * 4), 0);

	for (uint64_t s = 1; s <= 10; s++) {
		uint32_t w = W - (uint32_t)s, h = H - 2 * (uint32_t)s;
		size_t nd = s % 4;

		for (size_t i = 0; i < nd; i++)
			dmg[i] = (struct capture_rect){(uint32_t)i * 3, (uint32_t)s, 5, 7};
		fill(src, w, h, stride_px, s);
		assert_int_equal(capture_publish(&c, (uint32_t)s % 2, DRM_FORMAT_XRGB8888, w, h,
						 stride_px * 4, (const uint8_t *)src, dmg, nd),
				 (int64_t)s);
		assert_int_equal(cellvm_capture_latest(ro, size), s);
		memset(&meta, 0xa5, sizeof(meta));
		assert_int_equal(
			cellvm_capture_read_frame(ro, size, s, &meta, out, (size_t)W * H * 4), 1);
		assert_int_equal(meta.serial, s);
		assert_int_equal(meta.scanout, s % 2);
		assert_int_equal(meta.fourcc, DRM_FORMAT_XRGB8888);
		assert_int_equal(meta.width, w);
		assert_int_equal(meta.height, h);
		assert_int_equal(meta.stride, w * 4);
		assert_true(meta.timestamp_ns > 0 && meta.timestamp_ns <= now_ns());
		assert_int_equal(bad_pixels(out, w, h, s), 0);
		if (nd == 0) {
			assert_int_equal(meta.ndamage, 1);
			assert_int_equal(meta.damage[0].w, w);
			assert_int_equal(meta.damage[0].h, h);
		} else {
			assert_int_equal(meta.ndamage, nd);
			for (size_t i = 0; i < nd; i++)
				assert_memory_equal(&meta.damage[i], &dmg[i], sizeof(dmg[i]));
		}
		/* The latest, by 0, is the same frame. */
		assert_int_equal(
			cellvm_capture_read_frame(ro, size, 0, &meta, out, (size_t)W * H * 4), 1);
		assert_int_equal(meta.serial, s);
		/* Too small a buffer is the caller's problem, said as such. */
		assert_int_equal(cellvm_capture_read_frame(ro, size, s, &meta, out, 16), -ENOSPC);
	}
	/* Overwritten (7 shared its slot with 10) and not yet published frames. */
	assert_int_equal(cellvm_capture_read_frame(ro, size, 7, &meta, out, (size_t)W * H * 4), 0);
	assert_int_equal(cellvm_capture_read_frame(ro, size, 11, &meta, out, (size_t)W * H * 4), 0);
	assert_int_equal(cellvm_capture_read_frame(ro, size, 9, &meta, out, (size_t)W * H * 4), 1);

	/* More rectangles than a slot holds, and rectangles outside the frame:
	 * the whole frame, and clipped ones. */
	for (size_t i = 0; i < CELLVM_CAPTURE_MAX_DAMAGE + 1; i++)
		dmg[i] = (struct capture_rect){1, 1, 1, 1};
	fill(src, W, H, stride_px, 11);
	assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_ABGR8888, W, H, stride_px * 4,
					 (const uint8_t *)src, dmg, CELLVM_CAPTURE_MAX_DAMAGE + 1),
			 11);
	assert_int_equal(cellvm_capture_read_frame(ro, size, 11, &meta, out, (size_t)W * H * 4), 1);
	assert_int_equal(meta.ndamage, 1);
	assert_int_equal(meta.damage[0].w, W);
	assert_int_equal(meta.damage[0].h, H);
	assert_int_equal(bad_pixels(out, W, H, 11), 0);
	dmg[0] = (struct capture_rect){W - 4, H - 4, 100, 100};
	dmg[1] = (struct capture_rect){W + 1, 0, 1, 1};
	assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_ARGB8888, W, H, stride_px * 4,
					 (const uint8_t *)src, dmg, 2),
			 12);
	assert_int_equal(cellvm_capture_read_frame(ro, size, 12, &meta, out, (size_t)W * H * 4), 1);
	assert_int_equal(meta.ndamage, 1);
	assert_int_equal(meta.damage[0].x, W - 4);
	assert_int_equal(meta.damage[0].w, 4);
	assert_int_equal(meta.damage[0].h, 4);

	/* Frames the ring cannot hold, or formats it does not carry. */
	assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_XRGB8888, W + 1, H, (W + 1) * 4,
					 (const uint8_t *)src, NULL, 0),
			 -EINVAL);
	assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_XRGB8888, W, H, W * 4 - 4,
					 (const uint8_t *)src, NULL, 0),
			 -EINVAL);
	assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_RGB565, W, H, W * 4,
					 (const uint8_t *)src, NULL, 0),
			 -EINVAL);
	assert_int_equal(cellvm_capture_latest(ro, size), 12);

	munmap((void *)ro, size);
	capture_destroy(&c);
	close(memfd);
	free(src);
	free(out);
}

/* What a forked reader reports back through its pipe. */
struct reader_report {
	uint64_t kept, missed, retried, bad_frames, last, errors;
	uint64_t mid_copy_seq_changed; /* the slow reader's deliberately slow copy */
};

static void child_report(int fd, const struct reader_report *rep)
{
	if (write(fd, rep, sizeof(*rep)) != (ssize_t)sizeof(*rep))
		_exit(3);
	_exit(0);
}

static void read_report(pid_t pid, int fd, struct reader_report *rep)
{
	int status;

	assert_int_equal(read(fd, rep, sizeof(*rep)), sizeof(*rep));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Keep one frame (the latest): count the frames between it and the last
 * one kept as missed, and check every pixel. */
static int reader_take(const void *ro, size_t size, uint32_t *buf, size_t len,
		       struct reader_report *rep)
{
	struct cellvm_capture_slot meta;
	int r = cellvm_capture_read_frame(ro, size, 0, &meta, buf, len);

	if (r == 0) {
		rep->retried++;
		return 0;
	}
	if (r < 0) {
		rep->errors++;
		return r;
	}
	if (meta.serial <= rep->last)
		return 0; /* already kept: woken again before the next frame */
	rep->kept++;
	rep->missed += meta.serial - rep->last - 1;
	rep->last = meta.serial;
	if (meta.width != W || meta.height != H || bad_pixels(buf, W, H, meta.serial))
		rep->bad_frames++;
	return 1;
}

/* A reader that follows the ring through its eventfd until it kept frame
 * `until`, in a child. */
static pid_t spawn_follower(int memfd, size_t size, int efd, uint64_t until, int *ret_rfd,
			    int ready_fd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reader_report rep = {0};
		size_t len = (size_t)W * H * 4;
		uint32_t *buf = malloc(len);
		const void *ro = map_ro(memfd, size);
		struct pollfd pfd = {.fd = efd, .events = POLLIN};
		uint64_t cnt;

		close(p[0]);
		alarm(30);
		if (!ro || !buf || write(ready_fd, "r", 1) != 1)
			_exit(2);
		while (rep.last < until) {
			if (poll(&pfd, 1, 1000) < 0)
				_exit(4);
			(void)!read(efd, &cnt, sizeof(cnt));
			/* A frame overwritten mid-copy: take the newer one. */
			while (reader_take(ro, size, buf, len, &rep) == 0 && rep.last < until &&
			       rep.retried < 1000000)
				;
		}
		child_report(p[1], &rep);
	}
	close(p[1]);
	*ret_rfd = p[0];
	return pid;
}

/* (2) two readers follow 200 frames through their own eventfds: every frame
 * they keep is whole, and they know which ones they missed. */
static void test_two_readers(void **state)
{
	const uint32_t nslots = 3;
	const uint64_t nframes = 200;
	size_t size = capture_ring_bytes(nslots, W, H);
	uint32_t *src = malloc((size_t)W * H * 4);
	struct reader_report rep[2];
	int memfd = ring_memfd(nslots, W, H), efds[2], rfd[2], ready[2];
	struct capture c;
	pid_t pid[2];
	char b;

	for (int i = 0; i < 2; i++) {
		efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(efds[i] >= 0);
	}
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(capture_init(&c, memfd, nslots, W, H, efds, 2), 0);
	for (int i = 0; i < 2; i++)
		pid[i] = spawn_follower(memfd, size, efds[i], nframes, &rfd[i], ready[1]);
	for (int i = 0; i < 2; i++)
		assert_int_equal(read(ready[0], &b, 1), 1);

	for (uint64_t s = 1; s <= nframes; s++) {
		fill(src, W, H, W, s);
		assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_XRGB8888, W, H, W * 4,
						 (const uint8_t *)src, NULL, 0),
				 (int64_t)s);
	}
	for (int i = 0; i < 2; i++) {
		read_report(pid[i], rfd[i], &rep[i]);
		print_message("reader %d: kept %llu, missed %llu, retried %llu\n", i,
			      (unsigned long long)rep[i].kept, (unsigned long long)rep[i].missed,
			      (unsigned long long)rep[i].retried);
		assert_int_equal(rep[i].errors, 0);
		assert_int_equal(rep[i].bad_frames, 0);
		assert_int_equal(rep[i].last, nframes);
		assert_int_equal(rep[i].kept + rep[i].missed, nframes);
		assert_true(rep[i].kept >= 1);
		close(rfd[i]);
		close(efds[i]);
	}
	close(ready[0]);
	close(ready[1]);
	capture_destroy(&c);
	close(memfd);
	free(src);
}

/* (3) a slow reader: it stops in the middle of copying a frame by hand (the
 * documented protocol, one row at a time) while the writer publishes 500
 * frames, which finish in bounded time; the copy is then seen to be void.
 * Afterwards it samples the ring with sleeps between reads (the sleeps are
 * its load, not synchronisation), counts the frames it missed by serial
 * gaps and never keeps a torn frame. */
static void test_slow_reader(void **state)
{
	const uint32_t nslots = 4;
	const uint64_t burst = 500, paced = 300, last = 1 + burst + paced;
	size_t size = capture_ring_bytes(nslots, W, H);
	uint32_t *src = malloc((size_t)W * H * 4);
	int memfd = ring_memfd(nslots, W, H), to_parent[2], to_child[2], rfd[2];
	struct reader_report rep;
	struct capture c;
	uint64_t t0, dt;
	pid_t pid;
	char b;

	assert_int_equal(capture_init(&c, memfd, nslots, W, H, NULL, 0), 0);
	fill(src, W, H, W, 1);
	assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_XRGB8888, W, H, W * 4,
					 (const uint8_t *)src, NULL, 0),
			 1);
	assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rfd, O_CLOEXEC), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reader_report r = {0};
		size_t len = (size_t)W * H * 4;
		uint32_t *buf = malloc(len);
		const uint8_t *ro = map_ro(memfd, size);
		const struct cellvm_capture_header *h = (const void *)ro;
		const struct cellvm_capture_slot *slot;
		uint64_t seq;

		alarm(30);
		if (!ro || !buf || cellvm_capture_check(ro, size) < 0)
			_exit(2);
		/* Frame 1 by hand, stopping halfway through the pixels. */
		slot = (const void *)(ro + h->slots_offset + (1 % h->nslots) * h->slot_size);
		seq = cellvm_capture_load64(&slot->seq, memory_order_acquire);
		if (seq != 2)
			_exit(5);
		for (uint32_t y = 0; y < H; y++) {
			if (y == H / 2) {
				if (write(to_parent[1], "m", 1) != 1 ||
				    read(to_child[0], &b, 1) != 1)
					_exit(6);
			}
			memcpy(buf + y * W,
			       (const uint8_t *)slot + h->pixels_offset + (size_t)y * W * 4,
			       (size_t)W * 4);
			usleep(100);
		}
		atomic_thread_fence(memory_order_acquire);
		r.mid_copy_seq_changed =
			cellvm_capture_load64(&slot->seq, memory_order_relaxed) != seq;
		r.last = 1 + burst;
		if (write(to_parent[1], "c", 1) != 1)
			_exit(7);
		while (r.last < last) {
			reader_take(ro, size, buf, len, &r);
			usleep(5000);
		}
		child_report(rfd[1], &r);
	}

	assert_int_equal(read(to_parent[0], &b, 1), 1);
	assert_int_equal(b, 'm');
	t0 = now_ns();
	for (uint64_t s = 2; s <= 1 + burst; s++) {
		fill(src, W, H, W, s);
		assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_XRGB8888, W, H, W * 4,
						 (const uint8_t *)src, NULL, 0),
				 (int64_t)s);
	}
	dt = now_ns() - t0;
	print_message("500 publishes with a reader stopped mid-copy: %llu us\n",
		      (unsigned long long)(dt / 1000));
	/* Bounded: generous for sanitizer builds on a loaded machine, and far
	 * below "waited for the reader" (which would never finish). */
	assert_true(dt < 5000000000ull);
	assert_int_equal(write(to_child[1], "d", 1), 1);
	assert_int_equal(read(to_parent[0], &b, 1), 1);
	assert_int_equal(b, 'c');

	for (uint64_t s = 2 + burst; s <= last; s++) {
		fill(src, W, H, W, s);
		assert_int_equal(capture_publish(&c, 0, DRM_FORMAT_XRGB8888, W, H, W * 4,
						 (const uint8_t *)src, NULL, 0),
				 (int64_t)s);
		usleep(500); /* the writer's pace: about ten frames per reader sleep */
	}
	read_report(pid, rfd[0], &rep);
	print_message("slow reader: kept %llu, missed %llu, retried %llu\n",
		      (unsigned long long)rep.kept, (unsigned long long)rep.missed,
		      (unsigned long long)rep.retried);
	assert_int_equal(rep.mid_copy_seq_changed, 1);
	assert_int_equal(rep.errors, 0);
	assert_int_equal(rep.bad_frames, 0);
	assert_int_equal(rep.last, last);
	assert_true(rep.missed > 0);
	assert_int_equal(rep.kept + rep.missed, paced);

	for (int i = 0; i < 2; i++) {
		close(to_parent[i]);
		close(to_child[i]);
		close(rfd[i]);
	}
	capture_destroy(&c);
	close(memfd);
	free(src);
}

/* A small ring (1 slot of 8x8) in a mapping followed by an inaccessible
 * page: any read past the mapping faults. */
#define SMALL_W 8
#define SMALL_H 8

struct hostile {
	uint8_t *map;
	size_t size;
	struct capture c;
	int memfd;
};

static void hostile_setup(struct hostile *t)
{
	uint32_t px[SMALL_W * SMALL_H] = {0};

	t->size = capture_ring_bytes(1, SMALL_W, SMALL_H);
	t->memfd = ring_memfd(1, SMALL_W, SMALL_H);
	assert_int_equal(capture_init(&t->c, t->memfd, 1, SMALL_W, SMALL_H, NULL, 0), 0);
	assert_int_equal(capture_publish(&t->c, 0, DRM_FORMAT_XRGB8888, SMALL_W, SMALL_H,
					 SMALL_W * 4, (const uint8_t *)px, NULL, 0),
			 1);
	assert_int_equal(capture_cursor(&t->c, NULL, 0, 0, 0, 0, 0, true), 1);
	t->map = mmap(NULL, t->size + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->map != MAP_FAILED);
	assert_true(mmap(t->map, t->size, PROT_READ, MAP_SHARED | MAP_FIXED, t->memfd, 0) ==
		    t->map);
}

static void hostile_teardown(struct hostile *t)
{
	munmap(t->map, t->size + 4096);
	capture_destroy(&t->c);
	close(t->memfd);
}

/* All three helpers refuse the ring (negative), without faulting. */
static void expect_refused(const struct hostile *t)
{
	struct cellvm_capture_slot meta;
	struct cellvm_capture_cursor cur;
	static uint8_t out[1 << 20];

	assert_true(cellvm_capture_check(t->map, t->size) < 0);
	assert_true(cellvm_capture_read_frame(t->map, t->size, 0, &meta, out, sizeof(out)) < 0);
	assert_true(cellvm_capture_read_frame(t->map, t->size, 1, &meta, out, sizeof(out)) < 0);
	assert_true(cellvm_capture_read_cursor(t->map, t->size, &cur) < 0);
}

/* (4) a hostile gpu process: geometry pointing past the mapping, and slot
 * contents that do not fit their slot. The writer's own mapping plays the
 * hostile writer. */
static void test_hostile_ring(void **state)
{
	struct cellvm_capture_header *h, saved;
	struct cellvm_capture_slot *s, saved_slot, meta;
	struct cellvm_capture_cursor *cur, saved_cur, rc;
	static uint8_t out[1 << 20];
	struct hostile t;

	hostile_setup(&t);
	h = t.c.hdr;
	saved = *h;
	assert_int_equal(cellvm_capture_check(t.map, t.size), 0);
	assert_int_equal(cellvm_capture_read_frame(t.map, t.size, 1, &meta, out, sizeof(out)), 1);
	assert_int_equal(cellvm_capture_read_cursor(t.map, t.size, &rc), 1);
	/* The mapping's size is what counts, not the header's word. */
	assert_true(cellvm_capture_check(t.map, t.size - 1) < 0);
	assert_true(cellvm_capture_check(t.map, 4095) < 0);
	assert_true(cellvm_capture_check(NULL, t.size) < 0);

#define HOSTILE(field, value)                                                                      \
	do {                                                                                       \
		h->field = (value);                                                                \
		expect_refused(&t);                                                                \
		*h = saved;                                                                        \
	} while (0)
	HOSTILE(magic, 0);
	HOSTILE(version, 2);
	HOSTILE(header_size, 8192);
	HOSTILE(nslots, 0);
	HOSTILE(nslots, 2);
	HOSTILE(nslots, UINT32_MAX);
	HOSTILE(slot_size, saved.slot_size * 2);
	HOSTILE(slot_size, UINT64_MAX);
	HOSTILE(slot_size, UINT64_MAX - 7);
	HOSTILE(slot_size, 8);
	HOSTILE(slots_offset, saved.slots_offset + 4096);
	HOSTILE(slots_offset, UINT64_MAX - 7);
	HOSTILE(slots_offset, 0);
	HOSTILE(pixels_offset, (uint32_t)saved.slot_size);
	HOSTILE(pixels_offset, 8);
	HOSTILE(pixels_offset, UINT32_MAX - 7);
	HOSTILE(max_width, 1024);
	HOSTILE(max_height, UINT32_MAX);
	HOSTILE(max_width, 0);
	HOSTILE(cursor_offset, (uint32_t)t.size - 8);
	HOSTILE(cursor_offset, UINT32_MAX - 7);
	HOSTILE(cursor_offset, 8);
	HOSTILE(cursor_offset, CELLVM_CAPTURE_HEADER_SIZE + 4);
#undef HOSTILE

	/* A sound geometry with a slot whose contents do not fit it. */
	s = (struct cellvm_capture_slot *)((uint8_t *)h + h->slots_offset + h->slot_size * 0);
	saved_slot = *s;
#define HOSTILE_SLOT(field, value)                                                                 \
	do {                                                                                       \
		s->field = (value);                                                                \
		assert_true(cellvm_capture_read_frame(t.map, t.size, 1, &meta, out, sizeof(out)) < \
			    0);                                                                    \
		*s = saved_slot;                                                                   \
	} while (0)
	HOSTILE_SLOT(width, SMALL_W + 1);
	HOSTILE_SLOT(width, 0);
	HOSTILE_SLOT(height, UINT32_MAX);
	HOSTILE_SLOT(stride, 4);
	HOSTILE_SLOT(stride, UINT32_MAX);
	HOSTILE_SLOT(serial, 2);
	HOSTILE_SLOT(ndamage, 0);
	HOSTILE_SLOT(ndamage, CELLVM_CAPTURE_MAX_DAMAGE + 1);
	HOSTILE_SLOT(damage[0].w, SMALL_W + 1);
	HOSTILE_SLOT(damage[0].x, UINT32_MAX);
	HOSTILE_SLOT(damage[0].h, UINT32_MAX);
#undef HOSTILE_SLOT
	/* A slot half-written (odd seq) is "not now", not an error; a serial
	 * the slot never held is "not now" as well. */
	s->seq = 1;
	assert_int_equal(cellvm_capture_read_frame(t.map, t.size, 1, &meta, out, sizeof(out)), 0);
	*s = saved_slot;
	h->frame_serial = UINT64_MAX;
	assert_int_equal(cellvm_capture_read_frame(t.map, t.size, 0, &meta, out, sizeof(out)), 0);
	*h = saved;

	cur = (struct cellvm_capture_cursor *)((uint8_t *)h + h->cursor_offset);
	saved_cur = *cur;
	cur->width = 65;
	assert_true(cellvm_capture_read_cursor(t.map, t.size, &rc) < 0);
	*cur = saved_cur;
	cur->hot_x = 64;
	assert_true(cellvm_capture_read_cursor(t.map, t.size, &rc) < 0);
	*cur = saved_cur;
	cur->fourcc = DRM_FORMAT_XRGB8888;
	assert_true(cellvm_capture_read_cursor(t.map, t.size, &rc) < 0);
	*cur = saved_cur;
	assert_int_equal(cellvm_capture_read_cursor(t.map, t.size, &rc), 1);
	hostile_teardown(&t);
}

/* (5) the cursor: image, hotspot, position, visibility and its own serial;
 * a NULL image keeps the last one. */
static void test_cursor(void **state)
{
	static uint32_t img[CELLVM_CAPTURE_CURSOR_SIZE * CELLVM_CAPTURE_CURSOR_SIZE];
	struct cellvm_capture_cursor cur;
	size_t size = capture_ring_bytes(2, W, H);
	int memfd = ring_memfd(2, W, H), efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct capture c;
	const void *ro;
	uint64_t cnt;

	assert_true(efd >= 0);
	assert_int_equal(capture_init(&c, memfd, 2, W, H, &efd, 1), 0);
	ro = map_ro(memfd, size);
	assert_non_null(ro);
	assert_int_equal(cellvm_capture_read_cursor(ro, size, &cur), 0);

	for (size_t i = 0; i < sizeof(img) / sizeof(img[0]); i++)
		img[i] = 0x80000000u | (uint32_t)i;
	assert_int_equal(capture_cursor(&c, img, 3, 5, -2, 700, 1, true), 1);
	assert_int_equal(read(efd, &cnt, sizeof(cnt)), sizeof(cnt));
	assert_int_equal(cnt, 1);
	assert_int_equal(cellvm_capture_read_cursor(ro, size, &cur), 1);
	assert_int_equal(cur.serial, 1);
	assert_int_equal(cur.hot_x, 3);
	assert_int_equal(cur.hot_y, 5);
	assert_int_equal(cur.x, -2);
	assert_int_equal(cur.y, 700);
	assert_int_equal(cur.scanout, 1);
	assert_int_equal(cur.visible, 1);
	assert_int_equal(cur.width, 64);
	assert_int_equal(cur.height, 64);
	assert_int_equal(cur.fourcc, DRM_FORMAT_ARGB8888);
	assert_memory_equal(cur.image, img, sizeof(img));

	/* Move and hide, keeping the image; frames do not touch the cursor. */
	assert_int_equal(capture_cursor(&c, NULL, 3, 5, 10, 20, 0, false), 2);
	assert_int_equal(cellvm_capture_read_cursor(ro, size, &cur), 1);
	assert_int_equal(cur.serial, 2);
	assert_int_equal(cur.x, 10);
	assert_int_equal(cur.visible, 0);
	assert_memory_equal(cur.image, img, sizeof(img));
	assert_int_equal(cellvm_capture_latest(ro, size), 0);

	munmap((void *)ro, size);
	capture_destroy(&c);
	close(efd);
	close(memfd);
}

/* (6) capture_init refuses a memfd too small for the geometry, and bad
 * geometry. */
static void test_init_refuses(void **state)
{
	struct capture c;
	size_t need = capture_ring_bytes(2, W, H);
	int memfd = memfd_create("capture-small", MFD_CLOEXEC);

	assert_true(need > 0);
	assert_true(memfd >= 0);
	assert_int_equal(capture_init(&c, memfd, 2, W, H, NULL, 0), -EINVAL);
	assert_int_equal(ftruncate(memfd, (off_t)need - 1), 0);
	assert_int_equal(capture_init(&c, memfd, 2, W, H, NULL, 0), -EINVAL);
	assert_null(c.hdr);
	assert_int_equal(ftruncate(memfd, (off_t)need), 0);
	assert_int_equal(capture_init(&c, memfd, 0, W, H, NULL, 0), -EINVAL);
	assert_int_equal(capture_init(&c, memfd, 2, 0, H, NULL, 0), -EINVAL);
	assert_int_equal(capture_init(&c, memfd, 2, W, CELLVM_CAPTURE_MAX_DIM + 1, NULL, 0),
			 -EINVAL);
	assert_int_equal(capture_init(&c, memfd, CELLVM_CAPTURE_MAX_SLOTS + 1, W, H, NULL, 0),
			 -EINVAL);
	assert_int_equal(capture_init(&c, -1, 2, W, H, NULL, 0), -EBADF);
	assert_int_equal(capture_ring_bytes(0, W, H), 0);
	assert_int_equal(capture_init(&c, memfd, 2, W, H, NULL, 0), 0);
	assert_int_equal(cellvm_capture_check(c.hdr, need), 0);
	capture_destroy(&c);
	close(memfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_read_exact),
		cmocka_unit_test(test_two_readers),
		cmocka_unit_test(test_slow_reader),
		cmocka_unit_test(test_hostile_ring),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_init_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
