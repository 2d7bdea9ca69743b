/* Hostile-driver tests of the virtio-blk rules (HOSTILE_INPUTS.md, section
 * virtio-blk) against the real cellvm-dev-blk: sector arithmetic that
 * overflows or passes the capacity, lengths that are not whole sectors,
 * short headers, discard/write-zeroes with too many segments, unknown flags,
 * ranges past the end, more segments or longer segments than advertised.
 * Each gets IOERR or UNSUPP, the image (hash and size) stays as it was, no
 * buffer is written, and the device keeps serving. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/dev/devtest.h"

#define MiB (1ULL << 20)

static struct dt T;
static uint64_t hash0, size0;

static void start(const struct dt_opts *o)
{
	assert_int_equal(dt_start(&T, o), 0);
	hash0 = dt_image_hash(&T);
	size0 = dt_image_size(&T);
}

static int teardown(void **state)
{
	(void)state;
	return dt_teardown(&T);
}

static void assert_disk_unchanged(void)
{
	assert_int_equal(dt_image_size(&T), size0);
	assert_true(dt_image_hash(&T) == hash0);
}

static void assert_untouched(uint64_t gpa, uint64_t len, uint8_t fill)
{
	const uint8_t *p = dt_host(&T, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		assert_int_equal(p[i], fill);
}

static int rq(uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
	uint32_t ulen;
	int st = dt_request(&T, 0, type, sector, data, len, &ulen);

	/* Failed requests write nothing but the status byte. */
	if (st != VIRTIO_BLK_S_OK)
		assert_int_equal(ulen, 1);
	return st;
}

static void test_sector_overflow(void **state)
{
	static const uint64_t sectors[] = {
		UINT64_MAX, UINT64_MAX / 512, UINT64_MAX / 512 + 1,
		1ULL << 55, (1ULL << 54) - 1, DT_IMAGE_SECT + 1ULL,
	};
	uint64_t data;

	(void)state;
	start(&(struct dt_opts){0});
	data = dt_buf(&T, 4096, 0x5a);
	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		assert_int_equal(rq(VIRTIO_BLK_T_OUT, sectors[i], data, 4096), VIRTIO_BLK_S_IOERR);
		assert_int_equal(rq(VIRTIO_BLK_T_IN, sectors[i], data, 4096), VIRTIO_BLK_S_IOERR);
	}
	assert_untouched(data, 4096, 0x5a);
	assert_disk_unchanged();
	assert_true(dt_healthy(&T));
}

static void test_past_capacity(void **state)
{
	const uint64_t cap = DT_IMAGE_SECT;
	uint64_t data;

	(void)state;
	start(&(struct dt_opts){0});
	data = dt_buf(&T, 1024, 0x5a);
	/* Straddling the end, starting at the end. */
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, cap - 1, data, 1024), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, cap, data, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_IN, cap - 1, data, 1024), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_IN, cap, data, 512), VIRTIO_BLK_S_IOERR);
	assert_untouched(data, 1024, 0x5a);
	assert_disk_unchanged();
	/* The last sector itself is fine. */
	assert_int_equal(rq(VIRTIO_BLK_T_IN, cap - 1, data, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, cap - 1, data, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(dt_image_size(&T), size0);
}

static void test_partial_sectors(void **state)
{
	static const uint32_t lens[] = {1, 100, 511, 513, 1000, 4095};
	uint64_t data;

	(void)state;
	start(&(struct dt_opts){0});
	data = dt_buf(&T, 4096, 0x5a);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(rq(VIRTIO_BLK_T_IN, 0, data, lens[i]), VIRTIO_BLK_S_IOERR);
		assert_int_equal(rq(VIRTIO_BLK_T_OUT, 0, data, lens[i]), VIRTIO_BLK_S_IOERR);
	}
	assert_untouched(data, 4096, 0x5a);
	assert_disk_unchanged();
}

static void test_short_header(void **state)
{
	uint64_t hdr, st;
	uint32_t id, len;

	(void)state;
	start(&(struct dt_opts){0});
	for (uint32_t hl = 1; hl < 16; hl += 7) {
		hdr = dt_hdr(&T, VIRTIO_BLK_T_OUT, 0);
		st = dt_status(&T);
		dt_post(&T, 0, (struct vdrv_buf[]){{hdr, hl, false}, {st, 1, true}}, 2, false);
		assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
		assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_IOERR);
	}
	/* A header split over three descriptors is a header. */
	hdr = dt_hdr(&T, VIRTIO_BLK_T_FLUSH, 0);
	st = dt_status(&T);
	dt_post(&T, 0,
		(struct vdrv_buf[]){
			{hdr, 3, false}, {hdr + 3, 9, false}, {hdr + 12, 4, false}, {st, 1, true}},
		4, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_OK);
	assert_disk_unchanged();
}

static int dwz(uint32_t type, uint32_t n, const uint64_t *sector, const uint32_t *num,
	       const uint32_t *flags)
{
	return rq(type, 0, dt_dwz(&T, n, sector, num, flags), n * BLK_DWZ_BYTES);
}

static void test_dwz_segments(void **state)
{
	uint64_t sector[BLK_DWZ_SEG_MAX + 1];
	uint32_t num[BLK_DWZ_SEG_MAX + 1], flags[BLK_DWZ_SEG_MAX + 1] = {0};

	(void)state;
	start(&(struct dt_opts){0});
	for (uint32_t i = 0; i <= BLK_DWZ_SEG_MAX; i++) {
		sector[i] = 8 * i;
		num[i] = 8;
	}
	/* One more segment than max_discard_seg / max_write_zeroes_seg. */
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, BLK_DWZ_SEG_MAX + 1, sector, num, flags),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, BLK_DWZ_SEG_MAX + 1, sector, num, flags),
			 VIRTIO_BLK_S_IOERR);
	/* Not a whole number of segments; none at all. */
	assert_int_equal(rq(VIRTIO_BLK_T_DISCARD, 0, dt_dwz(&T, 2, sector, num, flags), 24),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, 0), VIRTIO_BLK_S_IOERR);
	assert_disk_unchanged();
	/* Exactly the maximum works. */
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, BLK_DWZ_SEG_MAX, sector, num, flags),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(dt_image_size(&T), size0);
}

static void test_dwz_flags_and_ranges(void **state)
{
	uint64_t s1[] = {0}, s_huge[] = {UINT64_MAX};
	uint32_t n1[] = {1}, n2[] = {2}, n_over[] = {BLK_DWZ_SECT_MAX + 1}, f0[] = {0};
	uint32_t f_unknown[] = {2}, f_unmap[] = {VIRTIO_BLK_DWZ_F_UNMAP}, f_all[] = {UINT32_MAX};

	(void)state;
	start(&(struct dt_opts){.sectors = 8192});
	/* Unknown flags: UNSUPP for both; unmap on discard: UNSUPP. */
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s1, n1, f_unknown), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s1, n1, f_unknown), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s1, n1, f_all), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s1, n1, f_unmap), VIRTIO_BLK_S_UNSUPP);
	/* Ranges past the end, overflowing, over max sectors. */
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, (uint64_t[]){8191}, n2, f0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s_huge, n1, f0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, (uint64_t[]){8192}, n1, f0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s1, n_over, f0), VIRTIO_BLK_S_IOERR);
	/* A bad segment after a good one fails the whole request first. */
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 2, (uint64_t[]){0, UINT64_MAX / 512},
			     (uint32_t[]){8, 8}, (uint32_t[]){0, 0}),
			 VIRTIO_BLK_S_IOERR);
	assert_disk_unchanged();
	assert_true(dt_healthy(&T));
}

static void test_dwz_not_negotiated(void **state)
{
	uint64_t s[] = {0};
	uint32_t n[] = {8}, f[] = {0};

	(void)state;
	start(&(struct dt_opts){.drop = 1ULL << VIRTIO_BLK_F_DISCARD |
					1ULL << VIRTIO_BLK_F_WRITE_ZEROES});
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s, n, f), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s, n, f), VIRTIO_BLK_S_UNSUPP);
	assert_disk_unchanged();
}

/* More data segments than seg_max, a segment longer than size_max. */
static void test_segment_limits(void **state)
{
	enum { NSEG = BLK_SEG_MAX + 1 };
	struct vdrv_buf b[NSEG + 2];
	uint64_t data, st;
	uint32_t id, len;

	(void)state;
	start(&(struct dt_opts){.queue_size = 256, .sectors = 8192});
	assert_int_equal(T.core.config[BLK_CFG_SEG_MAX], BLK_SEG_MAX);
	data = dt_buf(&T, NSEG * 512, 0x5a);
	for (uint32_t n = BLK_SEG_MAX; n <= NSEG; n++) {
		st = dt_status(&T);
		b[0] = (struct vdrv_buf){dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false};
		for (uint32_t i = 0; i < n; i++)
			b[1 + i] = (struct vdrv_buf){data + i * 512, 512, true};
		b[1 + n] = (struct vdrv_buf){st, 1, true};
		dt_post(&T, 0, b, n + 2, true);
		assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
		assert_int_equal(*(uint8_t *)dt_host(&T, st, 1),
				 n == BLK_SEG_MAX ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
		if (n == BLK_SEG_MAX)
			memset(dt_host(&T, data, NSEG * 512), 0x5a, NSEG * 512);
	}
	assert_untouched(data, NSEG * 512, 0x5a);
	/* One segment a sector longer than size_max, then one of size_max. */
	data = dt_buf(&T, BLK_SIZE_MAX + 512, 0x5a);
	assert_int_equal(rq(VIRTIO_BLK_T_IN, 0, data, BLK_SIZE_MAX + 512), VIRTIO_BLK_S_IOERR);
	assert_untouched(data, BLK_SIZE_MAX + 512, 0x5a);
	assert_int_equal(rq(VIRTIO_BLK_T_IN, 0, data, BLK_SIZE_MAX), VIRTIO_BLK_S_OK);
	assert_disk_unchanged();
}

/* A driver that does not negotiate VIRTIO_BLK_F_SIZE_MAX (OVMF) is not bound
 * by size_max: one 3 MiB segment reads and writes whole. */
static void test_segment_no_size_max(void **state)
{
	uint64_t data;

	(void)state;
	start(&(struct dt_opts){.sectors = 8192, .drop = 1ULL << VIRTIO_BLK_F_SIZE_MAX});
	data = dt_buf(&T, 3 * MiB, 0x5a);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, 0, data, 3 * MiB), VIRTIO_BLK_S_OK);
	memset(dt_host(&T, data, 3 * MiB), 0, 3 * MiB);
	assert_int_equal(rq(VIRTIO_BLK_T_IN, 0, data, 3 * MiB), VIRTIO_BLK_S_OK);
	assert_untouched(data, 3 * MiB, 0x5a);
}

static void test_get_id_readable(void **state)
{
	uint64_t data, st;
	uint32_t id, len;

	(void)state;
	start(&(struct dt_opts){0});
	data = dt_buf(&T, 20, 0x5a);
	st = dt_status(&T);
	dt_post(&T, 0,
		(struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_GET_ID, 0), 16, false},
				    {data, 20, false},
				    {st, 1, true}},
		3, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_IOERR);
	assert_untouched(data, 20, 0x5a);
	/* GET_ID with no buffer: nothing to write, OK. */
	assert_int_equal(rq(VIRTIO_BLK_T_GET_ID, 0, 0, 0), VIRTIO_BLK_S_OK);
}

/* A device that claims sectors its image does not have (a test hook, as a
 * compromised process could): a guest write past the image's end fails with
 * an I/O error (RLIMIT_FSIZE: EFBIG, SIGXFSZ ignored) and the image does not
 * grow; the device lives on. */
static void test_write_past_image(void **state)
{
#ifdef CELLVM_TEST_HOOKS
	struct dt_opts o = {0};
	uint64_t data;

	(void)state;
	assert_int_equal(setenv("CELLVM_TEST_BLK_EXTRA_SECTORS", "64", 1), 0);
	start(&o);
	unsetenv("CELLVM_TEST_BLK_EXTRA_SECTORS");
	data = dt_buf(&T, 4096, 0x77);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, DT_IMAGE_SECT, data, 4096), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, DT_IMAGE_SECT + 56, data, 4096), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
	assert_disk_unchanged();
	assert_true(dt_healthy(&T));
#else
	(void)state;
	skip();
#endif
}

/* After an fsync error (injected by a test hook at the first FLUSH's
 * completion: the kernel reports a writeback error once per file), every
 * later FLUSH fails too, although the kernel's next fsync succeeds: the
 * data it could not write may be gone. */
static void test_flush_error_sticky(void **state)
{
#ifdef CELLVM_TEST_HOOKS
	struct dt_opts o = {0};
	uint64_t data;

	(void)state;
	assert_int_equal(setenv("CELLVM_TEST_BLK_FAIL_FSYNC", "1", 1), 0);
	start(&o);
	unsetenv("CELLVM_TEST_BLK_FAIL_FSYNC");
	data = dt_buf(&T, 512, 0x42);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, 5, data, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(rq(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rq(VIRTIO_BLK_T_OUT, 6, data, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(rq(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_IOERR);
	/* A reset does not make it safe again either. */
	assert_int_equal(dt_recover(&T), 0);
	assert_int_equal(rq(VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_IOERR);
	assert_true(dt_healthy(&T));
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sector_overflow, teardown),
		cmocka_unit_test_teardown(test_past_capacity, teardown),
		cmocka_unit_test_teardown(test_partial_sectors, teardown),
		cmocka_unit_test_teardown(test_short_header, teardown),
		cmocka_unit_test_teardown(test_dwz_segments, teardown),
		cmocka_unit_test_teardown(test_dwz_flags_and_ranges, teardown),
		cmocka_unit_test_teardown(test_dwz_not_negotiated, teardown),
		cmocka_unit_test_teardown(test_segment_limits, teardown),
		cmocka_unit_test_teardown(test_segment_no_size_max, teardown),
		cmocka_unit_test_teardown(test_get_id_readable, teardown),
		cmocka_unit_test_teardown(test_write_past_image, teardown),
		cmocka_unit_test_teardown(test_flush_error_sticky, teardown),
	};

	dt_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
