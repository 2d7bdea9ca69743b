/* Unit tests for vmm-core/acpi_pm: the PM1 registers' semantics (write 1 to
 * clear, enable bits, SCI_EN read-only), the SCI as a level that follows
 * status & enable, the power button, the sleep request (S5 only), the reset
 * register, the PM timer's rate, accesses of every size at odd offsets, and
 * the power-off port kept for the test payloads (word) and the test guest's
 * cellvm-poweroff (byte to 0x605), with and without ACPI. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "vmm-core/acpi.h"
#include "vmm-core/acpi_pm.h"

struct sci_log {
	int level;
	int calls;
};

static void set_sci(void *opaque, int level)
{
	struct sci_log *l = opaque;

	l->level = level;
	l->calls++;
}

static enum acpi_pm_action io(struct acpi_pm *pm, uint16_t port, uint32_t size, bool is_write,
			      uint32_t *v)
{
	enum acpi_pm_action a = ACPI_PM_NONE;
	uint8_t d[4] = {0};

	for (uint32_t i = 0; i < size; i++)
		d[i] = (uint8_t)(*v >> (8 * i));
	assert_true(acpi_pm_pio(pm, port, d, size, is_write, &a));
	if (!is_write) {
		*v = 0;
		for (uint32_t i = 0; i < size; i++)
			*v |= (uint32_t)d[i] << (8 * i);
	}
	return a;
}

static uint32_t rd(struct acpi_pm *pm, uint16_t port, uint32_t size)
{
	uint32_t v = 0;

	assert_int_equal(io(pm, port, size, false, &v), ACPI_PM_NONE);
	return v;
}

static enum acpi_pm_action wr(struct acpi_pm *pm, uint16_t port, uint32_t size, uint32_t v)
{
	return io(pm, port, size, true, &v);
}

static void test_registers(void **state)
{
	struct sci_log l = {0};
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, true, set_sci, &l);
	assert_int_equal(rd(&pm, 0x600, 2), 0);
	assert_int_equal(rd(&pm, 0x602, 2), 0);
	/* SCI_EN reads 1 whatever is written. */
	assert_int_equal(rd(&pm, 0x604, 2), 1);
	assert_int_equal(wr(&pm, 0x604, 2, 0), ACPI_PM_NONE);
	assert_int_equal(rd(&pm, 0x604, 2), 1);
	/* Only the defined enable bits stick: TMR, GBL, PWRBTN, SLPBTN, RTC. */
	wr(&pm, 0x602, 2, 0xffff);
	assert_int_equal(rd(&pm, 0x602, 2), 0x721);
	assert_int_equal(rd(&pm, 0x603, 1), 0x07);
	/* A dword over STS and EN reads both. */
	assert_int_equal(rd(&pm, 0x600, 4), 0x7210000);
	/* GBL_EN alone reads back (ACPICA checks it). */
	wr(&pm, 0x602, 2, ACPI_PM1_GBL_EN);
	assert_int_equal(rd(&pm, 0x602, 2), ACPI_PM1_GBL_EN);
	/* Bytes with no register (0x606, 0x607) read as all ones. */
	assert_int_equal(rd(&pm, 0x604, 4), 0xffff0001);
	/* SLP_TYP is kept (and read back), SLP_EN is not. */
	assert_int_equal(wr(&pm, 0x604, 2, 5 << 10), ACPI_PM_NONE);
	assert_int_equal(rd(&pm, 0x604, 2), (5 << 10) | 1);
	/* Not ours. */
	{
		enum acpi_pm_action a;
		uint8_t d[4];
		assert_false(acpi_pm_pio(&pm, 0x5fc, d, 4, false, &a));
		assert_false(acpi_pm_pio(&pm, 0x60c, d, 1, false, &a));
		assert_false(acpi_pm_pio(&pm, 0xcf9, d, 2, true, &a));
		assert_false(acpi_pm_pio(&pm, 0x600, d, 8, false, &a));
		/* A dword from 0x5fe takes 0x600-0x601 only. */
		assert_true(acpi_pm_pio(&pm, 0x5fe, d, 4, false, &a));
		assert_int_equal(d[0], 0xff);
		assert_int_equal(d[1], 0xff);
	}
	assert_int_equal(l.calls, 0);
	acpi_pm_destroy(&pm);
}

static void test_power_button_sci(void **state)
{
	struct sci_log l = {0};
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, true, set_sci, &l);
	/* Not enabled: status set, no SCI, the guest does not listen. */
	assert_false(acpi_pm_power_button(&pm));
	assert_int_equal(rd(&pm, 0x600, 2), ACPI_PM1_PWRBTN_STS);
	assert_int_equal(l.calls, 0);
	/* Enabling with the status pending raises the SCI at once. */
	wr(&pm, 0x603, 1, 0x01);
	assert_int_equal(l.level, 1);
	assert_int_equal(l.calls, 1);
	/* Writing 0 to STS clears nothing; 1 to another bit neither. */
	wr(&pm, 0x600, 2, 0);
	wr(&pm, 0x600, 2, 0x0002);
	assert_int_equal(rd(&pm, 0x600, 2), ACPI_PM1_PWRBTN_STS);
	assert_int_equal(l.level, 1);
	/* Write 1 to clear (the high byte alone): the SCI drops. */
	wr(&pm, 0x601, 1, 0x01);
	assert_int_equal(rd(&pm, 0x600, 2), 0);
	assert_int_equal(l.level, 0);
	assert_int_equal(l.calls, 2);
	/* Enabled: a press raises it and the guest listens. */
	assert_true(acpi_pm_power_button(&pm));
	assert_int_equal(l.level, 1);
	/* Disabling the event drops the line, the status stays. */
	wr(&pm, 0x602, 2, 0);
	assert_int_equal(l.level, 0);
	assert_int_equal(rd(&pm, 0x600, 2), ACPI_PM1_PWRBTN_STS);
	assert_int_equal(l.calls, 4);
	acpi_pm_destroy(&pm);
}

static void test_sleep(void **state)
{
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, true, NULL, NULL);
	/* Linux: SLP_TYP first, then SLP_TYP | SLP_EN (S5 is type 0). */
	assert_int_equal(wr(&pm, 0x604, 2, 0), ACPI_PM_NONE);
	assert_int_equal(wr(&pm, 0x604, 2, ACPI_PM1_SLP_EN), ACPI_PM_POWER_OFF);
	/* Another sleep type is ignored. */
	assert_int_equal(wr(&pm, 0x604, 2, ACPI_PM1_SLP_EN | 3 << 10), ACPI_PM_NONE);
	assert_int_equal(wr(&pm, 0x605, 1, 0x20 | 1 << 2), ACPI_PM_NONE);
	/* The test guest's byte, and a dword from 0x604. */
	assert_int_equal(wr(&pm, 0x605, 1, 0x20), ACPI_PM_POWER_OFF);
	assert_int_equal(wr(&pm, 0x604, 4, ACPI_PM1_SLP_EN), ACPI_PM_POWER_OFF);
	/* SLP_EN written to the low byte's neighbour is not SLP_EN. */
	assert_int_equal(wr(&pm, 0x604, 1, 0x20), ACPI_PM_NONE);
	acpi_pm_destroy(&pm);
}

static void test_reset(void **state)
{
	struct acpi_pm pm;

	(void)state;
	acpi_pm_init(&pm, true, NULL, NULL);
	assert_int_equal(wr(&pm, 0xcf9, 1, 0x06), ACPI_PM_RESET);
	assert_int_equal(wr(&pm, 0xcf9, 1, 0x0e), ACPI_PM_RESET);
	assert_int_equal(wr(&pm, 0xcf9, 1, 0x02), ACPI_PM_NONE);
	assert_int_equal(wr(&pm, 0xcf9, 1, 0x04), ACPI_PM_NONE);
	assert_int_equal(rd(&pm, 0xcf9, 1), 0);
	acpi_pm_destroy(&pm);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_timer(void **state)
{
	struct acpi_pm pm;
	uint64_t t0, t1;
	uint32_t a, b;
	struct timespec d = {0, 20 * 1000 * 1000};

	(void)state;
	acpi_pm_init(&pm, true, NULL, NULL);
	t0 = now_ns();
	a = rd(&pm, 0x608, 4);
	nanosleep(&d, NULL); /* the timer must advance: real time has to pass */
	b = rd(&pm, 0x608, 4);
	t1 = now_ns();
	/* 3.579545 MHz: the ticks between the reads fit the time around them. */
	assert_true((uint64_t)(b - a) <= (t1 - t0) * 3579545ULL / 1000000000ULL + 1);
	assert_true((uint64_t)(b - a) >= 20000000ULL * 3579545ULL / 1000000000ULL - 1);
	/* Writes are ignored; narrower reads are parts of the same counter. */
	assert_int_equal(wr(&pm, 0x608, 4, 0), ACPI_PM_NONE);
	assert_true(rd(&pm, 0x60b, 1) <= 0xff);
	acpi_pm_destroy(&pm);
}

static void test_no_acpi(void **state)
{
	struct sci_log l = {0};
	struct acpi_pm pm;
	enum acpi_pm_action a;
	uint8_t d[4] = {0};

	(void)state;
	acpi_pm_init(&pm, false, set_sci, &l);
	/* The old port: a word with SLP_EN, a byte with bit 5 at 0x605. */
	assert_int_equal(wr(&pm, 0x604, 2, ACPI_PM1_SLP_EN), ACPI_PM_POWER_OFF);
	assert_int_equal(wr(&pm, 0x605, 1, 0x20), ACPI_PM_POWER_OFF);
	assert_int_equal(wr(&pm, 0x604, 2, 0x0001), ACPI_PM_NONE);
	assert_int_equal(rd(&pm, 0x604, 2), 0);
	/* Nothing else is there. */
	assert_false(acpi_pm_pio(&pm, 0x600, d, 2, false, &a));
	assert_false(acpi_pm_pio(&pm, 0x608, d, 4, false, &a));
	assert_false(acpi_pm_pio(&pm, 0x604, d, 1, true, &a));
	assert_false(acpi_pm_pio(&pm, 0xcf9, d, 1, true, &a));
	assert_false(acpi_pm_power_button(&pm));
	assert_int_equal(l.calls, 0);
	acpi_pm_destroy(&pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers), cmocka_unit_test(test_power_button_sci),
		cmocka_unit_test(test_sleep),	  cmocka_unit_test(test_reset),
		cmocka_unit_test(test_timer),	  cmocka_unit_test(test_no_acpi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
