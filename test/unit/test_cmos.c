/* Unit tests for vmm-core/cmos: the clock read the way Linux's mc146818 code
 * and SeaBIOS read it (against the host's clock), set the way Linux sets it
 * (SET, the registers, SET off), the memory-size bytes SeaBIOS and OVMF read
 * for 16 MiB, 1 GiB and 5 GiB, and every index and value a hostile guest
 * could write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>
#include "vmm-core/cmos.h"

struct fixture {
	struct gmem mem;
	struct cmos c;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	/* Only the sizes are read: no RAM behind them. */
	f.mem = (struct gmem){.size = 1ULL << 30, .low_size = 1ULL << 30};
	cmos_init(&f.c, &f.mem, 2);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cmos_destroy(&f->c);
	return 0;
}

static uint8_t get(struct cmos *c, uint8_t i)
{
	uint8_t v = i;

	assert_true(cmos_pio(c, CMOS_PORT_INDEX, &v, true));
	v = 0x5a;
	assert_true(cmos_pio(c, CMOS_PORT_DATA, &v, false));
	return v;
}

static void set(struct cmos *c, uint8_t i, uint8_t v)
{
	assert_true(cmos_pio(c, CMOS_PORT_INDEX, &i, true));
	assert_true(cmos_pio(c, CMOS_PORT_DATA, &v, true));
}

static int bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* The time the registers show, decoded as the guest would. */
static time_t read_clock(struct cmos *c, bool binary)
{
	int (*dec)(uint8_t) = binary ? NULL : bcd;
	uint8_t r[10];
	struct tm tm = {0};

	for (uint8_t i = 0; i < 10; i++)
		r[i] = get(c, i);
#define D(x) (dec ? dec(x) : (x))
	tm.tm_sec = D(r[CMOS_SECONDS]);
	tm.tm_min = D(r[CMOS_MINUTES]);
	tm.tm_hour = D(r[CMOS_HOURS]);
	tm.tm_mday = D(r[CMOS_DAY]);
	tm.tm_mon = D(r[CMOS_MONTH]) - 1;
	tm.tm_year = D(get(c, CMOS_CENTURY)) * 100 + D(r[CMOS_YEAR]) - 1900;
	{
		time_t t = timegm(&tm);
		struct tm chk;

		gmtime_r(&t, &chk);
		assert_int_equal(D(r[CMOS_WEEKDAY]), chk.tm_wday + 1);
		return t;
	}
#undef D
}

static void check_host_time(struct cmos *c, bool binary)
{
	for (int tries = 0; tries < 5; tries++) {
		time_t before = now(), t = read_clock(c, binary), after = now();

		assert_true(t >= before && t <= after);
		if (before == after)
			return;
	}
	fail_msg("the clock crossed a second five times in a row");
}

static void test_time_bcd(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(get(&f->c, CMOS_REG_B), CMOS_B_24H);
	assert_int_equal(get(&f->c, CMOS_REG_A), 0x26);
	assert_int_equal(get(&f->c, CMOS_REG_D), 0x80);
	check_host_time(&f->c, false);
}

static void test_time_binary(void **state)
{
	struct fixture *f = *state;

	set(&f->c, CMOS_REG_B, CMOS_B_24H | CMOS_B_BINARY);
	check_host_time(&f->c, true);
	/* And back: the format applies at once. */
	set(&f->c, CMOS_REG_B, CMOS_B_24H);
	check_host_time(&f->c, false);
}

/* 2024-02-29 15:30:00 the way Linux's mc146818_set_time writes it. */
static void set_leap_day(struct cmos *c, uint8_t b)
{
	set(c, CMOS_REG_B, (uint8_t)(b | CMOS_B_SET));
	set(c, CMOS_SECONDS, 0x00);
	set(c, CMOS_MINUTES, 0x30);
	set(c, CMOS_HOURS, (b & CMOS_B_24H) ? 0x15 : 0x83);
	set(c, CMOS_DAY, 0x29);
	set(c, CMOS_MONTH, 0x02);
	set(c, CMOS_YEAR, 0x24);
	set(c, CMOS_CENTURY, 0x20);
	/* Frozen: the registers read as written. */
	assert_int_equal(get(c, CMOS_MINUTES), 0x30);
	assert_int_equal(get(c, CMOS_YEAR), 0x24);
	set(c, CMOS_REG_B, b);
}

static void test_set_time(void **state)
{
	struct fixture *f = *state;
	uint8_t s;

	set_leap_day(&f->c, CMOS_B_24H);
	s = get(&f->c, CMOS_SECONDS);
	assert_true(s <= 0x03); /* a few seconds at most have passed */
	assert_int_equal(get(&f->c, CMOS_MINUTES), 0x30);
	assert_int_equal(get(&f->c, CMOS_HOURS), 0x15);
	assert_int_equal(get(&f->c, CMOS_WEEKDAY), 5); /* a Thursday */
	assert_int_equal(get(&f->c, CMOS_DAY), 0x29);
	assert_int_equal(get(&f->c, CMOS_MONTH), 0x02);
	assert_int_equal(get(&f->c, CMOS_YEAR), 0x24);
	assert_int_equal(get(&f->c, CMOS_CENTURY), 0x20);
	/* 12-hour form: 3 PM. */
	set(&f->c, CMOS_REG_B, 0);
	assert_int_equal(get(&f->c, CMOS_HOURS), 0x83);
	/* Binary, 12-hour. */
	set(&f->c, CMOS_REG_B, CMOS_B_BINARY);
	assert_int_equal(get(&f->c, CMOS_HOURS), 0x83);
	assert_int_equal(get(&f->c, CMOS_DAY), 29);
	assert_int_equal(get(&f->c, CMOS_CENTURY), 20);
	/* A write with SET off takes effect at once: minute 45, binary. */
	set(&f->c, CMOS_MINUTES, 45);
	assert_int_equal(get(&f->c, CMOS_MINUTES), 45);
	assert_int_equal(get(&f->c, CMOS_HOURS), 0x83);
	/* Set in 12-hour form: 12 AM is midnight. */
	set(&f->c, CMOS_REG_B, CMOS_B_SET);
	set(&f->c, CMOS_HOURS, 0x12);
	set(&f->c, CMOS_REG_B, 0);
	set(&f->c, CMOS_REG_B, CMOS_B_24H);
	assert_int_equal(get(&f->c, CMOS_HOURS), 0x00);
	assert_int_equal(get(&f->c, CMOS_DAY), 0x29);
}

static void test_set_time_invalid(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint8_t reg, val;
	} bad[] = {
		{CMOS_SECONDS, 0x60}, {CMOS_MINUTES, 0x5a}, {CMOS_HOURS, 0x24},
		{CMOS_DAY, 0x00},     {CMOS_DAY, 0x30},	    {CMOS_MONTH, 0x13},
		{CMOS_MONTH, 0x00},   {CMOS_YEAR, 0xff},    {CMOS_CENTURY, 0xa0},
	};

	set_leap_day(&f->c, CMOS_B_24H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* One bad field while SET is on: the whole time is dropped. */
		set(&f->c, CMOS_REG_B, CMOS_B_24H | CMOS_B_SET);
		set(&f->c, CMOS_YEAR, 0x99);
		set(&f->c, bad[i].reg, bad[i].val);
		set(&f->c, CMOS_REG_B, CMOS_B_24H);
		assert_int_equal(get(&f->c, CMOS_YEAR), 0x24);
		/* And with SET off. */
		set(&f->c, bad[i].reg, bad[i].val);
		assert_int_equal(get(&f->c, CMOS_YEAR), 0x24);
		assert_int_equal(get(&f->c, CMOS_MONTH), 0x02);
	}
	/* 12-hour form: hour 0 and 13 do not exist. */
	set(&f->c, CMOS_REG_B, 0);
	set(&f->c, CMOS_HOURS, 0x80);
	set(&f->c, CMOS_HOURS, 0x13);
	assert_int_equal(get(&f->c, CMOS_HOURS), 0x83);
	/* Year 2023 had no February 29th. */
	set(&f->c, CMOS_YEAR, 0x23);
	assert_int_equal(get(&f->c, CMOS_YEAR), 0x24);
}

static void test_registers(void **state)
{
	struct fixture *f = *state;
	uint8_t v;

	/* A: UIP never set, the rest stored. */
	set(&f->c, CMOS_REG_A, 0xff);
	assert_int_equal(get(&f->c, CMOS_REG_A), 0x7f);
	/* D: read-only 0x80. */
	set(&f->c, CMOS_REG_D, 0);
	assert_int_equal(get(&f->c, CMOS_REG_D), 0x80);
	/* C: read-only; UF after the second changes, cleared by the read.
	 * Moving the clock a year on changes the second count. */
	set(&f->c, CMOS_REG_C, 0xff);
	for (int tries = 0; tries < 5; tries++) {
		time_t before = now();
		uint8_t c1, c2;

		(void)get(&f->c, CMOS_REG_C);
		set(&f->c, CMOS_YEAR, get(&f->c, CMOS_YEAR) == 0x50 ? 0x51 : 0x50);
		c1 = get(&f->c, CMOS_REG_C);
		c2 = get(&f->c, CMOS_REG_C);
		if (now() != before)
			continue;
		assert_int_equal(c1, CMOS_C_UF);
		assert_int_equal(c2, 0);
		break;
	}
	/* The NMI bit of the index is ignored; port 0x70 reads 0xff. */
	v = 0x80 | CMOS_REG_D;
	assert_true(cmos_pio(&f->c, CMOS_PORT_INDEX, &v, true));
	assert_true(cmos_pio(&f->c, CMOS_PORT_DATA, &v, false));
	assert_int_equal(v, 0x80);
	assert_true(cmos_pio(&f->c, CMOS_PORT_INDEX, &v, false));
	assert_int_equal(v, 0xff);
	/* Plain RAM. */
	set(&f->c, 0x7f, 0xa5);
	assert_int_equal(get(&f->c, 0x7f), 0xa5);
	assert_int_equal(get(&f->c, 0xff), 0xa5);
	assert_false(cmos_pio(&f->c, 0x72, &v, false));
	assert_false(cmos_pio(&f->c, 0x6f, &v, true));
}

static void test_memory_1g(void **state)
{
	struct fixture *f = *state;

	/* 640 KiB base; 1 GiB - 1 MiB of extended memory in KiB (capped at
	 * 0xffff); (1 GiB - 16 MiB) / 64 KiB = 0x3f00; nothing above 4 GiB. */
	assert_int_equal(get(&f->c, 0x15) | get(&f->c, 0x16) << 8, 640);
	assert_int_equal(get(&f->c, 0x17) | get(&f->c, 0x18) << 8, 0xffff);
	assert_int_equal(get(&f->c, 0x30) | get(&f->c, 0x31) << 8, 0xffff);
	assert_int_equal(get(&f->c, 0x34) | get(&f->c, 0x35) << 8, 0x3f00);
	assert_int_equal(get(&f->c, 0x5b) | get(&f->c, 0x5c) << 8 | get(&f->c, 0x5d) << 16, 0);
	assert_int_equal(get(&f->c, 0x5f), 1);
	assert_int_equal(get(&f->c, CMOS_BOOTFLAG2), 0x12);
	{
		uint32_t sum = 0;

		for (uint8_t i = 0x10; i <= 0x2d; i++)
			sum += get(&f->c, i);
		assert_int_equal(get(&f->c, 0x2e) << 8 | get(&f->c, 0x2f), sum);
	}
}

static void test_memory_5g(void **state)
{
	struct gmem m = {.size = 5ULL << 30, .low_size = GMEM_MMIO_HOLE_START};
	struct cmos c;

	(void)state;
	cmos_init(&c, &m, 8);
	/* In 64 KiB units: the low RAM from 16 MiB up to the hole (2.75 GiB -
	 * 16 MiB: 0xaf00), and the 5 GiB less the low RAM above 4 GiB (2.25 GiB:
	 * 0x9000). */
	assert_int_equal(get(&c, 0x34) | get(&c, 0x35) << 8,
			 (GMEM_MMIO_HOLE_START - (16ULL << 20)) >> 16);
	assert_int_equal(get(&c, 0x5b) | get(&c, 0x5c) << 8 | get(&c, 0x5d) << 16,
			 ((5ULL << 30) - GMEM_MMIO_HOLE_START) >> 16);
	assert_int_equal(get(&c, 0x5f), 7);
	cmos_destroy(&c);

	/* 16 MiB: 15 MiB extended, nothing from 16 MiB. */
	m = (struct gmem){.size = 16ULL << 20, .low_size = 16ULL << 20};
	cmos_init(&c, &m, 1);
	assert_int_equal(get(&c, 0x17) | get(&c, 0x18) << 8, 15 * 1024);
	assert_int_equal(get(&c, 0x34) | get(&c, 0x35) << 8, 0);
	assert_int_equal(get(&c, 0x5f), 0);
	cmos_destroy(&c);

	/* 256 GiB, the most gmem allows: 253.25 GiB above 4 GiB fits 3 bytes. */
	m = (struct gmem){.size = GMEM_MAX_SIZE, .low_size = GMEM_MMIO_HOLE_START};
	cmos_init(&c, &m, 64);
	assert_int_equal(get(&c, 0x5b) | get(&c, 0x5c) << 8 | get(&c, 0x5d) << 16,
			 (GMEM_MAX_SIZE - GMEM_MMIO_HOLE_START) >> 16);
	cmos_destroy(&c);
}

static void test_hostile(void **state)
{
	struct fixture *f = *state;

	/* Every index (NMI bit too) and every value, in both formats; then
	 * the clock still reads as a valid time. */
	for (uint32_t b = 0; b < 2; b++) {
		for (uint32_t i = 0; i < 256; i++) {
			for (uint32_t v = 0; v < 256; v++) {
				uint8_t x = (uint8_t)i, y = (uint8_t)v;

				if ((i & 0x7f) == CMOS_REG_B)
					y = (uint8_t)((v & ~CMOS_B_SET) | (b ? CMOS_B_BINARY : 0));
				assert_true(cmos_pio(&f->c, CMOS_PORT_INDEX, &x, true));
				assert_true(cmos_pio(&f->c, CMOS_PORT_DATA, &y, true));
				assert_true(cmos_pio(&f->c, CMOS_PORT_DATA, &y, false));
			}
		}
	}
	set(&f->c, CMOS_REG_B, CMOS_B_24H);
	{
		int mo = bcd(get(&f->c, CMOS_MONTH)), d = bcd(get(&f->c, CMOS_DAY));
		int h = bcd(get(&f->c, CMOS_HOURS)), s = bcd(get(&f->c, CMOS_SECONDS));

		assert_true(mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
		assert_true(h <= 23 && s <= 59);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_time_bcd),  T(test_time_binary), T(test_set_time),  T(test_set_time_invalid),
		T(test_registers), T(test_memory_1g),	T(test_memory_5g), T(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
