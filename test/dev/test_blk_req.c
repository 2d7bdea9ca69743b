/* In-process tests of dev-procs/blk/blk_req: virtio-blk request parsing over
 * hand-built chains (the layout virtq_pop hands over). Covers the status
 * byte rules, headers split anywhere, sector and length checks with their
 * overflows, seg_max and size_max, GET_ID buffer sizes, every discard and
 * write-zeroes rule, read-only disks, unknown types. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "dev-procs/blk/blk_req.h"

#define CAP 2048

static uint8_t ram[1 << 20];
static struct virtq_chain C;
static struct blk_req R;
static struct blk_limits L;

static int setup(void **state)
{
	(void)state;
	memset(&C, 0, sizeof(C));
	memset(ram, 0xcc, sizeof(ram));
	L = (struct blk_limits){
		.capacity = CAP,
		.seg_max = 8,
		.size_max = 4096,
		.piece_max = 4096,
		.dwz_seg_max = 4,
		.dwz_sect_max = 1024,
		.discard = true,
		.write_zeroes = true,
	};
	return 0;
}

static void seg(uint32_t off, uint32_t len, bool write)
{
	struct virtq_seg *s = &C.seg[C.nseg++];

	*s = (struct virtq_seg){.gpa = off, .len = len, .write = write, .host = ram + off};
	if (write) {
		C.write_len += len;
	} else {
		C.read_len += len;
		C.nread++;
	}
}

static void hdr_at(uint32_t off, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memcpy(ram + off, &t, 4);
	memset(ram + off + 4, 0, 4);
	memcpy(ram + off + 8, &s, 8);
}

/* header(R) [data] status(W): the common shape. */
static int req(uint32_t type, uint64_t sector, uint32_t len, bool data_write)
{
	hdr_at(0, type, sector);
	seg(0, 16, false);
	if (len)
		seg(0x1000, len, data_write);
	seg(0x80000, 1, true);
	return blk_req_parse(&L, &C, &R);
}

static void assert_answer(uint8_t status)
{
	assert_int_equal(R.op, BLK_OP_NONE);
	assert_int_equal(R.status, status);
	assert_ptr_equal(R.status_byte, ram + 0x80000);
}

static void test_status_byte(void **state)
{
	(void)state;
	/* None at all; only readable buffers. */
	assert_int_equal(blk_req_parse(&L, &C, &R), -EINVAL);
	hdr_at(0, VIRTIO_BLK_T_FLUSH, 0);
	seg(0, 16, false);
	assert_int_equal(blk_req_parse(&L, &C, &R), -EINVAL);
	seg(0x100, 1, false);
	assert_int_equal(blk_req_parse(&L, &C, &R), -EINVAL);
	/* The last byte of the last writable segment. */
	setup(NULL);
	hdr_at(0, VIRTIO_BLK_T_FLUSH, 0);
	seg(0, 16, false);
	seg(0x100, 7, true);
	assert_int_equal(blk_req_parse(&L, &C, &R), 0);
	assert_int_equal(R.op, BLK_OP_FLUSH);
	assert_ptr_equal(R.status_byte, ram + 0x106);
	assert_int_equal(blk_req_finish(&R, VIRTIO_BLK_S_OK, 0), 1);
	assert_int_equal(ram[0x106], 0);
}

static void test_header(void **state)
{
	(void)state;
	/* Short. */
	hdr_at(0, VIRTIO_BLK_T_IN, 0);
	seg(0, 15, false);
	seg(0x80000, 1, true);
	assert_int_equal(blk_req_parse(&L, &C, &R), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	/* Split 1 + 15, then data in the second piece's tail. */
	setup(NULL);
	hdr_at(0x10, VIRTIO_BLK_T_OUT, 5);
	seg(0x10, 1, false);
	seg(0x11, 15 + 512, false);
	seg(0x80000, 1, true);
	assert_int_equal(blk_req_parse(&L, &C, &R), 0);
	assert_int_equal(R.op, BLK_OP_WRITE);
	assert_int_equal(R.offset, 5 * 512);
	assert_int_equal(R.len, 512);
	assert_int_equal(R.niov, 1);
	assert_ptr_equal(R.iov[0].iov_base, ram + 0x20);
}

static void test_read_write(void **state)
{
	(void)state;
	assert_int_equal(req(VIRTIO_BLK_T_IN, 10, 1024, true), 0);
	assert_int_equal(R.op, BLK_OP_READ);
	assert_int_equal(R.offset, 10 * 512);
	assert_int_equal(R.len, 1024);
	assert_ptr_equal(R.iov[0].iov_base, ram + 0x1000);
	assert_int_equal(blk_req_finish(&R, VIRTIO_BLK_S_OK, 1024), 1025);
	/* Data and status in one writable segment. */
	setup(NULL);
	hdr_at(0, VIRTIO_BLK_T_IN, 0);
	seg(0, 16, false);
	seg(0x1000, 513, true);
	assert_int_equal(blk_req_parse(&L, &C, &R), 0);
	assert_int_equal(R.len, 512);
	assert_int_equal(R.iov[0].iov_len, 512);
	assert_ptr_equal(R.status_byte, ram + 0x1200);
	/* Zero-length data: nothing to do. */
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 0, true), 0);
	assert_int_equal(R.op, BLK_OP_READ);
	assert_int_equal(R.len, 0);
}

static void test_ranges(void **state)
{
	static const uint64_t bad[] = {
		CAP, CAP - 1, UINT64_MAX, UINT64_MAX / 512, UINT64_MAX / 512 + 1, 1ULL << 55};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup(NULL);
		assert_int_equal(req(VIRTIO_BLK_T_IN, bad[i], 1024, true), 0);
		assert_answer(VIRTIO_BLK_S_IOERR);
		setup(NULL);
		assert_int_equal(req(VIRTIO_BLK_T_OUT, bad[i], 1024, false), 0);
		assert_answer(VIRTIO_BLK_S_IOERR);
	}
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_OUT, CAP - 2, 1024, false), 0);
	assert_int_equal(R.op, BLK_OP_WRITE);
	static const uint32_t partial[] = {1, 511, 513, 1023};
	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		setup(NULL);
		assert_int_equal(req(VIRTIO_BLK_T_IN, 0, partial[i], true), 0);
		assert_answer(VIRTIO_BLK_S_IOERR);
	}
}

static void test_wrong_direction(void **state)
{
	(void)state;
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 512, false), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_OUT, 0, 512, true), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_GET_ID, 0, 20, false), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
}

static void test_segment_limits(void **state)
{
	(void)state;
	/* seg_max pieces fit, one more does not. */
	for (uint32_t n = 8; n <= 9; n++) {
		setup(NULL);
		hdr_at(0, VIRTIO_BLK_T_IN, 0);
		seg(0, 16, false);
		for (uint32_t i = 0; i < n; i++)
			seg(0x1000 + i * 512, 512, true);
		seg(0x80000, 1, true);
		assert_int_equal(blk_req_parse(&L, &C, &R), 0);
		if (n == 8) {
			assert_int_equal(R.op, BLK_OP_READ);
			assert_int_equal(R.niov, 8);
		} else {
			assert_answer(VIRTIO_BLK_S_IOERR);
		}
	}
	/* One piece over size_max, the limit negotiated: the driver's error. */
	setup(NULL);
	L.size_max_negotiated = true;
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 8192, true), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	/* Not negotiated (OVMF): size_max does not bind, the segment is cut
	 * into piece_max pieces... */
	setup(NULL);
	L.size_max = 1024;
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 8192 + 512, true), 0);
	assert_int_equal(R.op, BLK_OP_READ);
	assert_int_equal(R.len, 8192 + 512);
	assert_int_equal(R.niov, 3);
	assert_int_equal(R.iov[0].iov_len, 4096);
	assert_int_equal(R.iov[1].iov_len, 4096);
	assert_int_equal(R.iov[2].iov_len, 512);
	assert_ptr_equal((uint8_t *)R.iov[1].iov_base, (uint8_t *)R.iov[0].iov_base + 4096);
	/* ... at most seg_max of them. */
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 8 * 4096, true), 0);
	assert_int_equal(R.niov, 8);
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 8 * 4096 + 512, true), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
}

static void test_get_id(void **state)
{
	static const char serial[BLK_ID_BYTES] = "0123456789abcdefghij";

	(void)state;
	assert_int_equal(req(VIRTIO_BLK_T_GET_ID, 0, 8, true), 0);
	assert_int_equal(R.op, BLK_OP_GET_ID);
	assert_int_equal(blk_req_get_id(&R, serial), 8);
	assert_memory_equal(ram + 0x1000, serial, 8);
	assert_int_equal(ram[0x1008], 0xcc);
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_GET_ID, 0, 100, true), 0);
	assert_int_equal(blk_req_get_id(&R, serial), 20);
	assert_memory_equal(ram + 0x1000, serial, 20);
	assert_int_equal(ram[0x1014], 0xcc);
	/* Split over segments of 3, 5 and 40 bytes. */
	setup(NULL);
	hdr_at(0, VIRTIO_BLK_T_GET_ID, 0);
	seg(0, 16, false);
	seg(0x1000, 3, true);
	seg(0x2000, 5, true);
	seg(0x3000, 40, true);
	assert_int_equal(blk_req_parse(&L, &C, &R), 0);
	assert_int_equal(blk_req_get_id(&R, serial), 20);
	assert_memory_equal(ram + 0x1000, serial, 3);
	assert_memory_equal(ram + 0x2000, serial + 3, 5);
	assert_memory_equal(ram + 0x3000, serial + 8, 12);
	assert_int_equal(ram[0x300c], 0xcc);
}

static int dwz(uint32_t type, uint32_t n, const uint64_t *s, const uint32_t *num,
	       const uint32_t *flags, uint32_t len)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t sl = htole64(s[i]);
		uint32_t nl = htole32(num[i]), fl = htole32(flags[i]);

		memcpy(ram + 0x1000 + i * 16, &sl, 8);
		memcpy(ram + 0x1008 + i * 16, &nl, 4);
		memcpy(ram + 0x100c + i * 16, &fl, 4);
	}
	return req(type, 0, len ? len : n * 16, false);
}

static void test_discard_write_zeroes(void **state)
{
	uint64_t s[5] = {0, 8, 16, 24, 32};
	uint32_t num[5] = {8, 8, 0, 8, 8}, f[5] = {0};

	(void)state;
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 4, s, num, f, 0), 0);
	assert_int_equal(R.op, BLK_OP_DISCARD);
	assert_int_equal(R.nrange, 3); /* the empty range is skipped */
	assert_int_equal(R.range[2].off, 24 * 512);
	assert_int_equal(R.range[2].len, 8 * 512);
	/* Over max segments; not whole segments; none. */
	setup(NULL);
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 5, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 2, s, num, f, 24), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	assert_int_equal(req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, false), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	/* Flags. */
	setup(NULL);
	f[0] = VIRTIO_BLK_DWZ_F_UNMAP;
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_UNSUPP);
	setup(NULL);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s, num, f, 0), 0);
	assert_int_equal(R.op, BLK_OP_WRITE_ZEROES);
	assert_true(R.range[0].unmap);
	setup(NULL);
	f[0] = 4;
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_UNSUPP);
	f[0] = 0;
	/* Ranges: past the end, overflowing, over max sectors. */
	setup(NULL);
	s[0] = CAP - 4;
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	s[0] = UINT64_MAX - 1;
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	s[0] = 0;
	num[0] = 1025;
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	/* Not negotiated. */
	setup(NULL);
	L.discard = false;
	num[0] = 8;
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_UNSUPP);
}

static void test_readonly(void **state)
{
	uint64_t s[1] = {0};
	uint32_t num[1] = {8}, f[1] = {0};

	(void)state;
	L.readonly = true;
	assert_int_equal(req(VIRTIO_BLK_T_OUT, 0, 512, false), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	L.readonly = true;
	L.discard = L.write_zeroes = false; /* not offered on a read-only disk */
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	L.readonly = true;
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, s, num, f, 0), 0);
	assert_answer(VIRTIO_BLK_S_IOERR);
	setup(NULL);
	L.readonly = true;
	assert_int_equal(req(VIRTIO_BLK_T_IN, 0, 512, true), 0);
	assert_int_equal(R.op, BLK_OP_READ);
}

static void test_unknown_types(void **state)
{
	static const uint32_t types[] = {
		2,	    3,	       5, VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE,
		0x80000000, UINT32_MAX};

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		setup(NULL);
		assert_int_equal(req(types[i], 0, 0, false), 0);
		assert_answer(VIRTIO_BLK_S_UNSUPP);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_status_byte, setup),
		cmocka_unit_test_setup(test_header, setup),
		cmocka_unit_test_setup(test_read_write, setup),
		cmocka_unit_test_setup(test_ranges, setup),
		cmocka_unit_test_setup(test_wrong_direction, setup),
		cmocka_unit_test_setup(test_segment_limits, setup),
		cmocka_unit_test_setup(test_get_id, setup),
		cmocka_unit_test_setup(test_discard_write_zeroes, setup),
		cmocka_unit_test_setup(test_readonly, setup),
		cmocka_unit_test_setup(test_unknown_types, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
