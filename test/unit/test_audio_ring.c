/* The audio capture ring: its writer (dev-procs/snd/audio_ring.c) in this
 * process over a real memfd, and the readers' helpers (proto/audio_ring.h)
 * over a read-only mapping of it: periods read back exactly, a buffer split
 * into periods with their own timestamps and positions, bad arguments, a
 * slow reader that finds serials skipped, a ring reinitialised under its
 * readers, hostile headers and periods, and a writer thread publishing
 * while the reader copies (no copy ever mixes two periods). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev-procs/snd/audio_ring.h"
#include "proto/audio_ring.h"

static int ring_memfd(uint32_t nperiods, uint32_t period_bytes, size_t *ret_size)
{
	int fd = memfd_create("audio-ring-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	*ret_size = (size_t)cellvm_audio_ring_bytes(nperiods, period_bytes);
	assert_int_equal(ftruncate(fd, (off_t)*ret_size), 0);
	return fd;
}

static const void *map_ro(int fd, size_t size)
{
	void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	assert_true(m != MAP_FAILED);
	return m;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i);
}

static void test_publish_read(void **state)
{
	struct audio_ring r;
	struct cellvm_audio_geometry g;
	struct cellvm_audio_period meta;
	uint8_t pcm[1024], buf[1024];
	size_t size;
	int fd = ring_memfd(8, 1024, &size), efd[2];
	const void *ro;

	(void)state;
	for (int i = 0; i < 2; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(audio_ring_init(&r, fd, 8, 1024, 2, efd, 2), 0);
	ro = map_ro(fd, size);
	assert_int_equal(cellvm_audio_geometry_get(ro, size, &g), 0);
	assert_int_equal(g.nperiods, 8);
	assert_int_equal(g.period_bytes, 1024);
	assert_int_equal(g.nstreams, 2);
	assert_int_equal(cellvm_audio_latest(ro, size), 0);
	assert_int_equal(cellvm_audio_read(ro, size, 1, &meta, buf, sizeof(buf)), -ENOENT);

	for (uint32_t k = 1; k <= 5; k++) {
		fill(pcm, sizeof(pcm), k);
		assert_int_equal(audio_ring_publish(&r, k % 2, CELLVM_AUDIO_S32, 44100, 2, pcm,
						    8 * k, 1000 * k, 100 * k,
						    k == 1 ? CELLVM_AUDIO_DISCONT : 0),
				 1);
	}
	assert_int_equal(cellvm_audio_latest(ro, size), 5);
	for (uint32_t k = 1; k <= 5; k++) {
		fill(pcm, sizeof(pcm), k);
		assert_int_equal(cellvm_audio_read(ro, size, k, &meta, buf, sizeof(buf)), 8 * k);
		assert_memory_equal(buf, pcm, 8 * k);
		assert_int_equal(meta.serial, k);
		assert_int_equal(meta.stream, k % 2);
		assert_int_equal(meta.format, CELLVM_AUDIO_S32);
		assert_int_equal(meta.rate, 44100);
		assert_int_equal(meta.channels, 2);
		assert_int_equal(meta.timestamp_ns, 1000 * k);
		assert_int_equal(meta.position, 100 * k);
		assert_int_equal(meta.flags, k == 1 ? CELLVM_AUDIO_DISCONT : 0);
	}
	/* A buffer too small for the period. */
	assert_int_equal(cellvm_audio_read(ro, size, 5, &meta, buf, 39), -ENOSPC);
	/* Each subscriber once per publish. */
	for (int i = 0; i < 2; i++) {
		uint64_t v = 0;

		assert_int_equal(read(efd[i], &v, sizeof(v)), sizeof(v));
		assert_int_equal(v, 5);
		close(efd[i]);
	}
	audio_ring_destroy(&r);
	munmap((void *)ro, size);
	close(fd);
}

/* 2500 bytes of S16 stereo into periods of at most 1000: 1000, 1000, 500;
 * each period's timestamp and position its own first frame's. */
static void test_split(void **state)
{
	struct audio_ring r;
	struct cellvm_audio_period meta;
	uint8_t pcm[2500], buf[1000], got[2500];
	size_t size, off = 0;
	int fd = ring_memfd(8, 1000, &size);
	const void *ro;

	(void)state;
	assert_int_equal(audio_ring_init(&r, fd, 8, 1000, 1, NULL, 0), 0);
	ro = map_ro(fd, size);
	fill(pcm, sizeof(pcm), 3);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 8000, 2, pcm, sizeof(pcm),
					    5000000000ULL, 80, CELLVM_AUDIO_DISCONT),
			 3);
	for (uint64_t s = 1; s <= 3; s++) {
		long n = cellvm_audio_read(ro, size, s, &meta, buf, sizeof(buf));

		assert_int_equal(n, s < 3 ? 1000 : 500);
		assert_int_equal(meta.position, 80 + (s - 1) * 250);
		assert_int_equal(meta.timestamp_ns, 5000000000ULL + (s - 1) * 250 * 125000);
		assert_int_equal(meta.flags, s == 1 ? CELLVM_AUDIO_DISCONT : 0);
		memcpy(got + off, buf, (size_t)n);
		off += (size_t)n;
	}
	assert_memory_equal(got, pcm, sizeof(pcm));
	/* A period that is not whole frames at this ring's size: 6 channels of
	 * 4 bytes split at 984 bytes (41 frames). */
	assert_int_equal(
		audio_ring_publish(&r, 0, CELLVM_AUDIO_FLOAT, 48000, 6, pcm, 24 * 50, 0, 0, 0), 2);
	assert_int_equal(cellvm_audio_read(ro, size, 4, &meta, buf, sizeof(buf)), 984);
	assert_int_equal(cellvm_audio_read(ro, size, 5, &meta, buf, sizeof(buf)), 216);
	audio_ring_destroy(&r);
	munmap((void *)ro, size);
	close(fd);
}

static void test_invalid(void **state)
{
	struct audio_ring r;
	uint8_t pcm[64] = {0};
	size_t size;
	int fd = ring_memfd(4, 256, &size);

	(void)state;
	/* Geometry, and a memfd too small for it. */
	assert_int_equal(audio_ring_init(&r, fd, 1, 256, 1, NULL, 0), -EINVAL);
	assert_int_equal(audio_ring_init(&r, fd, 4, 0, 1, NULL, 0), -EINVAL);
	assert_int_equal(audio_ring_init(&r, fd, 4, CELLVM_AUDIO_MAX_PERIOD_BYTES + 1, 1, NULL, 0),
			 -EINVAL);
	assert_int_equal(audio_ring_init(&r, fd, 64, 256, 1, NULL, 0), -EINVAL);
	assert_int_equal(audio_ring_init(&r, fd, 4, 256, 1, NULL, 0), 0);
	/* What the ring cannot carry. */
	assert_int_equal(audio_ring_publish(&r, 0, 3, 48000, 2, pcm, 8, 0, 0, 0), -EINVAL);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 7999, 2, pcm, 8, 0, 0, 0),
			 -EINVAL);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 192001, 2, pcm, 8, 0, 0, 0),
			 -EINVAL);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 48000, 0, pcm, 8, 0, 0, 0),
			 -EINVAL);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 48000, 9, pcm, 36, 0, 0, 0),
			 -EINVAL);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 48000, 2, pcm, 6, 0, 0, 0),
			 -EINVAL);
	assert_int_equal(r.serial, 0);
	audio_ring_destroy(&r);
	close(fd);
}

/* A reader that falls behind by more than the ring: the periods it missed
 * are gone (-ENOENT), it skips to the oldest and reads on from there. */
static void test_slow_reader(void **state)
{
	struct audio_ring r;
	struct cellvm_audio_period meta;
	uint8_t pcm[64], buf[64];
	uint64_t latest, oldest, lost = 0;
	size_t size;
	int fd = ring_memfd(4, 64, &size);
	const void *ro;

	(void)state;
	assert_int_equal(audio_ring_init(&r, fd, 4, 64, 1, NULL, 0), 0);
	ro = map_ro(fd, size);
	for (uint32_t k = 1; k <= 10; k++) {
		fill(pcm, sizeof(pcm), k);
		assert_int_equal(
			audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 48000, 1, pcm, 64, k, 0, 0), 1);
	}
	latest = cellvm_audio_latest(ro, size);
	assert_int_equal(latest, 10);
	oldest = cellvm_audio_oldest(latest, 4);
	assert_int_equal(oldest, 8);
	for (uint64_t s = 1; s < oldest; s++)
		lost += cellvm_audio_read(ro, size, s, &meta, buf, sizeof(buf)) == -ENOENT;
	assert_true(lost >= 6);
	for (uint64_t s = oldest; s <= latest; s++) {
		fill(pcm, sizeof(pcm), (uint32_t)s);
		assert_int_equal(cellvm_audio_read(ro, size, s, &meta, buf, sizeof(buf)), 64);
		assert_memory_equal(buf, pcm, 64);
	}
	/* Serials not yet published. */
	assert_int_equal(cellvm_audio_read(ro, size, 11, &meta, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(cellvm_audio_read(ro, size, 0, &meta, buf, sizeof(buf)), -ENOENT);
	audio_ring_destroy(&r);
	munmap((void *)ro, size);
	close(fd);
}

/* A restarted device reinitialises the ring: a new created_ns, serials
 * from 1, no old period passing as new. */
static void test_reinit(void **state)
{
	struct audio_ring r;
	struct cellvm_audio_period meta;
	uint8_t pcm[64] = {1}, buf[64];
	uint64_t created;
	size_t size;
	int fd = ring_memfd(4, 64, &size);
	const struct cellvm_audio_header *h;

	(void)state;
	assert_int_equal(audio_ring_init(&r, fd, 4, 64, 1, NULL, 0), 0);
	h = map_ro(fd, size);
	created = h->created_ns;
	for (int k = 0; k < 3; k++)
		assert_int_equal(
			audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 48000, 1, pcm, 64, 0, 0, 0), 1);
	audio_ring_destroy(&r);
	assert_int_equal(audio_ring_init(&r, fd, 4, 64, 1, NULL, 0), 0);
	assert_true(h->created_ns >= created);
	assert_int_equal(cellvm_audio_latest(h, size), 0);
	assert_int_equal(cellvm_audio_read(h, size, 2, &meta, buf, sizeof(buf)), -ENOENT);
	audio_ring_destroy(&r);
	munmap((void *)h, size);
	close(fd);
}

/* The reader's checks against a ring a hostile snd process wrote. */
static void test_hostile_ring(void **state)
{
	struct audio_ring r;
	struct cellvm_audio_geometry g;
	struct cellvm_audio_period meta, *p;
	struct cellvm_audio_header *h;
	uint8_t pcm[64] = {0}, buf[64];
	size_t size;
	int fd = ring_memfd(4, 64, &size);

	(void)state;
	assert_int_equal(audio_ring_init(&r, fd, 4, 64, 1, NULL, 0), 0);
	assert_int_equal(audio_ring_publish(&r, 0, CELLVM_AUDIO_S16, 48000, 1, pcm, 64, 0, 0, 0),
			 1);
	h = r.hdr; /* the writer's own mapping: a hostile writer's view */
	p = (struct cellvm_audio_period *)((uint8_t *)h + h->slots_offset + 1 * h->slot_size);

	h->nperiods = 100000;
	assert_int_equal(cellvm_audio_geometry_get(h, size, &g), -EBADMSG);
	h->nperiods = 64; /* more slots than the mapping holds */
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -EBADMSG);
	h->nperiods = 4;
	h->slot_size = 65;
	assert_int_equal(cellvm_audio_geometry_get(h, size, &g), -EBADMSG);
	h->slot_size = 128;
	h->slots_offset = size;
	assert_int_equal(cellvm_audio_geometry_get(h, size, &g), -EBADMSG);
	h->slots_offset = CELLVM_AUDIO_HEADER_SIZE;
	h->period_bytes = 65;
	assert_int_equal(cellvm_audio_geometry_get(h, size, &g), -EBADMSG);
	h->period_bytes = 64;
	h->version = 2;
	assert_int_equal(cellvm_audio_geometry_get(h, size, &g), -EPROTO);
	h->version = CELLVM_AUDIO_VERSION;
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), 64);
	/* A period's own fields. */
	p->bytes = 65;
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -EBADMSG);
	p->bytes = 63; /* not whole frames */
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -EBADMSG);
	p->bytes = 64;
	p->format = 4;
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -EBADMSG);
	p->format = CELLVM_AUDIO_S16;
	p->channels = 9;
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -EBADMSG);
	p->channels = 1;
	p->rate = 1;
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -EBADMSG);
	p->rate = 48000;
	p->seq = 3; /* being written */
	assert_int_equal(cellvm_audio_read(h, size, 1, &meta, buf, sizeof(buf)), -ENOENT);
	/* Bad arguments. */
	assert_int_equal(cellvm_audio_geometry_get(NULL, size, &g), -EINVAL);
	assert_int_equal(cellvm_audio_geometry_get(h, 100, &g), -EINVAL);
	audio_ring_destroy(&r);
	close(fd);
}

/* ---- a writer thread and a reader ---- */

#define CW_PERIODS 8
#define CW_BYTES   4096
#define CW_N	   20000

struct cw {
	struct audio_ring r;
	atomic_bool done;
};

static uint32_t cw_len(uint64_t serial)
{
	return (uint32_t)(64 + (serial * 52) % (CW_BYTES - 64)) & ~3u;
}

static void *cw_writer(void *arg)
{
	struct cw *w = arg;
	static uint8_t pcm[CW_BYTES];

	for (uint64_t s = 1; s <= CW_N; s++) {
		memset(pcm, (int)(s & 0xff), cw_len(s));
		if (audio_ring_publish(&w->r, 0, CELLVM_AUDIO_S16, 48000, 2, pcm, cw_len(s), s, s,
				       0) != 1)
			abort();
	}
	atomic_store(&w->done, true);
	return NULL;
}

static void test_concurrent(void **state)
{
	static uint8_t buf[CW_BYTES];
	struct cw w = {0};
	struct cellvm_audio_period meta;
	uint64_t good = 0, torn = 0;
	pthread_t th;
	size_t size;
	int fd = ring_memfd(CW_PERIODS, CW_BYTES, &size);
	const void *ro;

	(void)state;
	assert_int_equal(audio_ring_init(&w.r, fd, CW_PERIODS, CW_BYTES, 1, NULL, 0), 0);
	ro = map_ro(fd, size);
	assert_int_equal(pthread_create(&th, NULL, cw_writer, &w), 0);
	while (!atomic_load(&w.done)) {
		uint64_t latest = cellvm_audio_latest(ro, size);

		for (uint64_t s = cellvm_audio_oldest(latest, CW_PERIODS); s <= latest; s++) {
			long n = cellvm_audio_read(ro, size, s, &meta, buf, sizeof(buf));

			if (n == -EAGAIN || n == -ENOENT) {
				torn++;
				continue;
			}
			/* A copy that passed the seqlock is one whole period. */
			assert_int_equal(n, cw_len(s));
			assert_int_equal(meta.timestamp_ns, s);
			for (long i = 0; i < n; i++)
				if (buf[i] != (uint8_t)(s & 0xff))
					fail_msg("serial %llu byte %ld mixed",
						 (unsigned long long)s, i);
			good++;
		}
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	/* With the writer gone every period still in the ring reads whole (a
	 * loaded machine may run the writer to its end before the loop above
	 * got one good copy). */
	for (uint64_t s = cellvm_audio_oldest(CW_N, CW_PERIODS); s <= CW_N; s++) {
		long n = cellvm_audio_read(ro, size, s, &meta, buf, sizeof(buf));

		assert_int_equal(n, cw_len(s));
		assert_int_equal(meta.timestamp_ns, s);
		for (long i = 0; i < n; i++)
			if (buf[i] != (uint8_t)(s & 0xff))
				fail_msg("serial %llu byte %ld mixed", (unsigned long long)s, i);
		good++;
	}
	assert_true(good > 0);
	(void)torn;
	assert_int_equal(cellvm_audio_latest(ro, size), CW_N);
	audio_ring_destroy(&w.r);
	munmap((void *)ro, size);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_read), cmocka_unit_test(test_split),
		cmocka_unit_test(test_invalid),	     cmocka_unit_test(test_slow_reader),
		cmocka_unit_test(test_reinit),	     cmocka_unit_test(test_hostile_ring),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
