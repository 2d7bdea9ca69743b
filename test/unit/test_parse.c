/* Unit tests for common/parse: sizes and bounded integers from command lines
 * and API requests, where every string is untrusted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include "common/parse.h"

struct size_case {
	const char *s;
	int r;
	uint64_t v;
};

static void check_sizes(const struct size_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0xdeadbeef;
		int r = parse_size(c[i].s, &v);
		if (r != c[i].r)
			fail_msg("parse_size(\"%s\") = %d, want %d", c[i].s, r, c[i].r);
		if (r == 0 && v != c[i].v)
			fail_msg("parse_size(\"%s\") gave %llu, want %llu", c[i].s,
				 (unsigned long long)v, (unsigned long long)c[i].v);
		/* A failed parse leaves the output alone. */
		if (r < 0 && v != 0xdeadbeef)
			fail_msg("parse_size(\"%s\") failed but wrote %llu", c[i].s,
				 (unsigned long long)v);
	}
}

static void test_size_plain(void **state)
{
	static const struct size_case c[] = {
		{"0", 0, 0},
		{"1", 0, 1},
		{"1048576", 0, 1048576},
		{"007", 0, 7},
		{"1b", 0, 1},
		{"1B", 0, 1},
		{"18446744073709551615", 0, UINT64_MAX},
	};
	check_sizes(c, sizeof(c) / sizeof(c[0]));
}

static void test_size_suffixes(void **state)
{
	static const struct size_case c[] = {
		{"64k", 0, 64ULL << 10},   {"64K", 0, 64ULL << 10},  {"512M", 0, 512ULL << 20},
		{"512m", 0, 512ULL << 20}, {"2G", 0, 2ULL << 30},    {"3g", 0, 3ULL << 30},
		{"1T", 0, 1ULL << 40},	   {"1t", 0, 1ULL << 40},    {"0G", 0, 0},
		{"1KiB", 0, 1ULL << 10},   {"1kib", 0, 1ULL << 10},  {"2MiB", 0, 2ULL << 20},
		{"4GIB", 0, 4ULL << 30},   {"1TiB", 0, 1ULL << 40},  {"1KB", 0, 1ULL << 10},
		{"1MB", 0, 1ULL << 20},	   {"16gb", 0, 16ULL << 30}, {"1Tb", 0, 1ULL << 40},
	};
	check_sizes(c, sizeof(c) / sizeof(c[0]));
}

static void test_size_overflow(void **state)
{
	static const struct size_case c[] = {
		{"18446744073709551616", -ERANGE, 0},
		{"99999999999999999999999", -ERANGE, 0},
		/* 2^24 T = 2^64 */
		{"16777216T", -ERANGE, 0},
		{"16777215T", 0, 16777215ULL << 40},
		{"17179869184G", -ERANGE, 0},
		{"17179869183G", 0, 17179869183ULL << 30},
		{"18014398509481984K", -ERANGE, 0},
	};
	check_sizes(c, sizeof(c) / sizeof(c[0]));
}

static void test_size_garbage(void **state)
{
	static const struct size_case c[] = {
		{"", -EINVAL, 0},     {" 5", -EINVAL, 0},    {"5 ", -EINVAL, 0},
		{"-5", -EINVAL, 0},   {"+5", -EINVAL, 0},    {"12Q", -EINVAL, 0},
		{"K", -EINVAL, 0},    {"M1", -EINVAL, 0},    {"1iB", -EINVAL, 0},
		{"1Ki", -EINVAL, 0},  {"1KiBx", -EINVAL, 0}, {"1KBB", -EINVAL, 0},
		{"1.5G", -EINVAL, 0}, {"0x10", -EINVAL, 0},  {"1 K", -EINVAL, 0},
		{"1KK", -EINVAL, 0},  {"1bb", -EINVAL, 0},   {"1GiB ", -EINVAL, 0},
		{"1P", -EINVAL, 0},   {"1E", -EINVAL, 0},    {"\t1", -EINVAL, 0},
		{"1\n", -EINVAL, 0},
	};
	check_sizes(c, sizeof(c) / sizeof(c[0]));
}

static void test_size_null(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_size(NULL, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_u32_ranges(void **state)
{
	uint32_t v = 0;

	assert_int_equal(parse_u32("1", 1, 64, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_u32("64", 1, 64, &v), 0);
	assert_int_equal(v, 64);
	assert_int_equal(parse_u32("0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(parse_u32("000000000000000000000042", 0, 100, &v), 0);
	assert_int_equal(v, 42);

	v = 9;
	assert_int_equal(parse_u32("0", 1, 64, &v), -ERANGE);
	assert_int_equal(parse_u32("65", 1, 64, &v), -ERANGE);
	assert_int_equal(parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
	assert_int_equal(parse_u32("18446744073709551616", 0, UINT32_MAX, &v), -ERANGE);
	assert_int_equal(v, 9);
}

static void test_u32_garbage(void **state)
{
	static const char *const bad[] = {"",	 " 1",	"1 ", "-1", "+1", "1k",
					  "0x1", "1.0", "a",  "1a", "\n"};
	uint32_t v = 9;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_u32(bad[i], 0, UINT32_MAX, &v) != -EINVAL)
			fail_msg("parse_u32(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(parse_u32(NULL, 0, 1, &v), -EINVAL);
	assert_int_equal(v, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_plain),    cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_size_overflow), cmocka_unit_test(test_size_garbage),
		cmocka_unit_test(test_size_null),     cmocka_unit_test(test_u32_ranges),
		cmocka_unit_test(test_u32_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
