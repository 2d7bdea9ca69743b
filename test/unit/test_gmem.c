/* Unit tests for common/gmem: layout limits and the bounds-checked
 * translation every guest-supplied address goes through. The host side is a
 * PROT_NONE reservation: gmem never touches it, and large layouts cost nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/mman.h>
#include "common/gmem.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

struct fixture {
	uint8_t *host;
	size_t len;
};

/* Address space for the biggest layout tested (5 GiB), never backed. */
static int setup(void **state)
{
	static struct fixture f;

	f.len = 5 * GiB;
	f.host = mmap(NULL, f.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f.host == MAP_FAILED)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	munmap(f->host, f->len);
	return 0;
}

static uint8_t *host_of(void **state)
{
	return ((struct fixture *)*state)->host;
}

static void test_init_bounds(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);

	assert_int_equal(gmem_init(&m, h, 0), -EINVAL);
	assert_int_equal(gmem_init(&m, h, GMEM_MIN_SIZE - 4096), -EINVAL);
	assert_int_equal(gmem_init(&m, h, GMEM_MIN_SIZE + 1), -EINVAL);
	assert_int_equal(gmem_init(&m, h, 64 * MiB + 0x800), -EINVAL);
	assert_int_equal(gmem_init(&m, h, GMEM_MAX_SIZE + 4096), -EINVAL);
	assert_int_equal(gmem_init(&m, h, UINT64_MAX), -EINVAL);
	assert_int_equal(gmem_init(&m, h, UINT64_MAX & ~0xfffULL), -EINVAL);

	assert_int_equal(gmem_init(&m, h, GMEM_MIN_SIZE), 0);
	assert_int_equal(m.size, GMEM_MIN_SIZE);
	assert_int_equal(m.low_size, GMEM_MIN_SIZE);
	assert_int_equal(gmem_init(&m, h, GMEM_MAX_SIZE), 0);
	assert_int_equal(m.low_size, GMEM_MMIO_HOLE_START);
	assert_ptr_equal(m.host, h);
}

static void test_init_split(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);

	assert_int_equal(gmem_init(&m, h, GMEM_MMIO_HOLE_START - 4096), 0);
	assert_int_equal(m.low_size, GMEM_MMIO_HOLE_START - 4096);
	assert_int_equal(m.size, m.low_size);
	assert_int_equal(gmem_init(&m, h, GMEM_MMIO_HOLE_START), 0);
	assert_int_equal(m.low_size, GMEM_MMIO_HOLE_START);
	assert_int_equal(gmem_init(&m, h, GMEM_MMIO_HOLE_START + 4096), 0);
	assert_int_equal(m.low_size, GMEM_MMIO_HOLE_START);
	assert_int_equal(m.size - m.low_size, 4096);
	assert_int_equal(gmem_init(&m, h, 4 * GiB), 0);
	assert_int_equal(m.low_size, GMEM_MMIO_HOLE_START);
}

static void test_ptr_low(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);

	assert_int_equal(gmem_init(&m, h, 64 * MiB), 0);
	assert_ptr_equal(gmem_ptr(&m, 0, 1), h);
	assert_ptr_equal(gmem_ptr(&m, 0, 64 * MiB), h);
	assert_ptr_equal(gmem_ptr(&m, 0x1000, 0x1000), h + 0x1000);
	assert_ptr_equal(gmem_ptr(&m, 64 * MiB - 1, 1), h + 64 * MiB - 1);
	assert_null(gmem_ptr(&m, 64 * MiB - 1, 2));
	assert_null(gmem_ptr(&m, 64 * MiB, 1));
	assert_null(gmem_ptr(&m, 0, 64 * MiB + 1));
	/* The hole and everything up to the high region is not RAM. */
	assert_null(gmem_ptr(&m, GMEM_MMIO_HOLE_START, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START, 1));
	assert_true(gmem_range_ok(&m, 0x100000, 0x1000));
	assert_false(gmem_range_ok(&m, 0x100000, 64 * MiB));
}

static void test_ptr_len_zero(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);

	assert_int_equal(gmem_init(&m, h, 64 * MiB), 0);
	assert_ptr_equal(gmem_ptr(&m, 0, 0), h);
	assert_ptr_equal(gmem_ptr(&m, 0x5000, 0), h + 0x5000);
	/* An empty range at the very end is still inside the mapping's bounds. */
	assert_ptr_equal(gmem_ptr(&m, 64 * MiB, 0), h + 64 * MiB);
	assert_null(gmem_ptr(&m, 64 * MiB + 1, 0));
	assert_null(gmem_ptr(&m, GMEM_MMIO_HOLE_START, 0));
	assert_null(gmem_ptr(&m, UINT64_MAX, 0));
}

static void test_ptr_overflow(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);

	assert_int_equal(gmem_init(&m, h, 5 * GiB), 0);
	assert_null(gmem_ptr(&m, 0x1000, UINT64_MAX));
	assert_null(gmem_ptr(&m, UINT64_MAX, 1));
	assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	assert_null(gmem_ptr(&m, 2, UINT64_MAX - 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START, UINT64_MAX));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + 0x1000, UINT64_MAX - 0xfff));
	assert_null(gmem_ptr(&m, UINT64_MAX - 0xfff, 0x1000));
	/* Wraps to a small end address that would pass a naive end check. */
	assert_null(gmem_ptr(&m, 0x10000, UINT64_MAX - 0xfff));
}

static void test_ptr_hole(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);
	const uint64_t low = GMEM_MMIO_HOLE_START;

	assert_int_equal(gmem_init(&m, h, 5 * GiB), 0);
	assert_ptr_equal(gmem_ptr(&m, low - 0x1000, 0x1000), h + low - 0x1000);
	/* Spanning into the hole, or across it into high RAM: never. */
	assert_null(gmem_ptr(&m, low - 0x1000, 0x1001));
	assert_null(gmem_ptr(&m, low - 1, GMEM_HIGH_START - low + 2));
	assert_null(gmem_ptr(&m, 0, 5 * GiB));
	assert_null(gmem_ptr(&m, low, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START - 1, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START - 1, 2));
	assert_null(gmem_ptr(&m, 0xfee00000, 4));
}

static void test_ptr_high(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);
	const uint64_t low = GMEM_MMIO_HOLE_START, high = 5 * GiB - GMEM_MMIO_HOLE_START;

	assert_int_equal(gmem_init(&m, h, 5 * GiB), 0);
	assert_ptr_equal(gmem_ptr(&m, GMEM_HIGH_START, 1), h + low);
	assert_ptr_equal(gmem_ptr(&m, GMEM_HIGH_START, high), h + low);
	assert_ptr_equal(gmem_ptr(&m, GMEM_HIGH_START + high - 1, 1), h + low + high - 1);
	assert_ptr_equal(gmem_ptr(&m, GMEM_HIGH_START + high, 0), h + low + high);
	assert_null(gmem_ptr(&m, GMEM_HIGH_START, high + 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + high, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + high - 1, 2));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + high + 1, 0));
}

static void test_ptr_exactly_hole(void **state)
{
	struct gmem m;
	uint8_t *h = host_of(state);

	/* RAM ends exactly at the hole, no high region at all: nothing above
	 * the hole is RAM. */
	assert_int_equal(gmem_init(&m, h, GMEM_MMIO_HOLE_START), 0);
	assert_non_null(gmem_ptr(&m, GMEM_MMIO_HOLE_START - 1, 1));
	assert_null(gmem_ptr(&m, GMEM_MMIO_HOLE_START, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + 1, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_bounds),  cmocka_unit_test(test_init_split),
		cmocka_unit_test(test_ptr_low),	     cmocka_unit_test(test_ptr_len_zero),
		cmocka_unit_test(test_ptr_overflow), cmocka_unit_test(test_ptr_hole),
		cmocka_unit_test(test_ptr_high),     cmocka_unit_test(test_ptr_exactly_hole),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
