/* Unit tests for vmm-core/i8042: the probe Linux's i8042 driver makes, the two
 * ways a guest reboots, and the hostile cases from HOSTILE_INPUTS.md (unknown
 * commands, stray data bytes, commands interleaved with parameters). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "vmm-core/i8042.h"

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08

static uint8_t status(struct i8042 *k)
{
	uint8_t v = 0;

	assert_false(i8042_pio(k, I8042_CMD_PORT, &v, false));
	return v;
}

static uint8_t data(struct i8042 *k)
{
	uint8_t v = 0;

	assert_false(i8042_pio(k, I8042_DATA_PORT, &v, false));
	return v;
}

/* Returns whether the write asked for a reset. */
static bool cmd(struct i8042 *k, uint8_t c)
{
	return i8042_pio(k, I8042_CMD_PORT, &c, true);
}

static bool put(struct i8042 *k, uint8_t d)
{
	return i8042_pio(k, I8042_DATA_PORT, &d, true);
}

static void test_initial(void **state)
{
	struct i8042 k;

	i8042_init(&k);
	assert_int_equal(status(&k) & ST_OBF, 0);
	assert_true(status(&k) & ST_SYS);
	assert_false(k.reset_requested);
}

static void test_self_test(void **state)
{
	struct i8042 k;

	i8042_init(&k);
	assert_false(cmd(&k, 0xaa));
	assert_true(status(&k) & ST_OBF);
	assert_int_equal(data(&k), 0x55);
	/* Reading the output buffer empties it. */
	assert_int_equal(status(&k) & ST_OBF, 0);
	/* Interface tests: keyboard passes, there is no aux port. */
	assert_false(cmd(&k, 0xab));
	assert_int_equal(data(&k), 0x00);
	assert_false(cmd(&k, 0xa9));
	assert_int_equal(data(&k), 0xff);
}

static void test_ctr(void **state)
{
	struct i8042 k;

	i8042_init(&k);
	assert_false(cmd(&k, 0x20));
	assert_true(status(&k) & ST_OBF);
	assert_int_equal(data(&k), 0x45);
	assert_false(cmd(&k, 0x60));
	assert_true(status(&k) & ST_CMD); /* waiting for the parameter */
	assert_false(put(&k, 0x74));
	assert_int_equal(status(&k) & ST_CMD, 0);
	assert_false(cmd(&k, 0x20));
	assert_int_equal(data(&k), 0x74);
	/* One parameter per command: the next data byte goes nowhere. */
	assert_false(put(&k, 0x11));
	assert_false(cmd(&k, 0x20));
	assert_int_equal(data(&k), 0x74);
}

static void test_pulse_reset(void **state)
{
	struct i8042 k;

	i8042_init(&k);
	assert_true(cmd(&k, 0xfe));
	/* Reported once, not latched into the next access. */
	assert_false(k.reset_requested);
	assert_false(cmd(&k, 0x20));
	assert_int_equal(data(&k), 0x45);
	/* Any pulse command with bit 0 clear pulses the reset line; 0xff pulses none. */
	assert_true(cmd(&k, 0xf0));
	assert_true(cmd(&k, 0xf2));
	assert_false(cmd(&k, 0xff));
	assert_false(cmd(&k, 0xf1));
	assert_false(cmd(&k, 0xfd));
}

static void test_output_port_reset(void **state)
{
	struct i8042 k;

	i8042_init(&k);
	assert_false(cmd(&k, 0xd0));
	assert_int_equal(data(&k), 0x01); /* reset line not asserted */
	assert_false(cmd(&k, 0xd1));
	assert_false(put(&k, 0x01)); /* bit 0 set: keep running */
	assert_false(cmd(&k, 0xd1));
	assert_false(put(&k, 0xff));
	assert_false(cmd(&k, 0xd1));
	assert_true(put(&k, 0xfe)); /* bit 0 clear: reset */
	assert_false(cmd(&k, 0xd1));
	assert_true(put(&k, 0x00));
	/* The parameter was consumed: another clear byte is just a stray byte. */
	assert_false(put(&k, 0x00));
}

static void test_stray_data(void **state)
{
	struct i8042 k, before;

	i8042_init(&k);
	before = k;
	for (int v = 0; v < 256; v++)
		assert_false(put(&k, (uint8_t)v));
	assert_memory_equal(&k, &before, sizeof(k));
	assert_int_equal(status(&k) & ST_OBF, 0);
}

static void test_unknown_commands(void **state)
{
	static const uint8_t known[] = {0x20, 0x60, 0xa9, 0xaa, 0xab, 0xd0, 0xd1};
	struct i8042 k;

	for (int c = 0; c < 0xf0; c++) {
		if (memchr(known, c, sizeof(known)))
			continue;
		i8042_init(&k);
		assert_false(cmd(&k, (uint8_t)c));
		assert_int_equal(status(&k) & (ST_OBF | ST_CMD), 0);
		/* A data byte after it is not taken as a parameter. */
		assert_false(put(&k, 0x00));
		assert_false(cmd(&k, 0x20));
		assert_int_equal(data(&k), 0x45);
	}
}

static void test_interleaved(void **state)
{
	struct i8042 k;

	/* A new command cancels the one waiting for its parameter. */
	i8042_init(&k);
	assert_false(cmd(&k, 0x60));
	assert_false(cmd(&k, 0xaa));
	assert_false(put(&k, 0x00));
	assert_false(cmd(&k, 0x20));
	assert_int_equal(data(&k), 0x45);
	/* Write-output-port interrupted: its parameter never arrives. */
	assert_false(cmd(&k, 0xd1));
	assert_false(cmd(&k, 0x20));
	assert_false(put(&k, 0x00));
	assert_int_equal(data(&k), 0x45);
}

static void test_output_overwritten(void **state)
{
	struct i8042 k;

	/* The guest never reads: one byte, overwritten, never overrun. */
	i8042_init(&k);
	for (int i = 0; i < 10000; i++)
		assert_false(cmd(&k, i & 1 ? 0x20 : 0xaa));
	assert_int_equal(data(&k), 0x45);
	assert_int_equal(status(&k) & ST_OBF, 0);
	/* An empty buffer reads as its last value. */
	assert_int_equal(data(&k), 0x45);
}

static void test_hostile_sweep(void **state)
{
	struct i8042 k;
	uint32_t x = 1;

	i8042_init(&k);
	for (int i = 0; i < 200000; i++) {
		uint8_t v;
		bool reset;
		x = x * 1103515245 + 12345;
		v = (uint8_t)(x >> 16);
		reset = i8042_pio(&k, (x >> 8) & 1 ? I8042_CMD_PORT : I8042_DATA_PORT, &v,
				  (x >> 9) & 1);
		assert_false(k.reset_requested);
		if (reset)
			i8042_init(&k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_self_test),
		cmocka_unit_test(test_ctr),
		cmocka_unit_test(test_pulse_reset),
		cmocka_unit_test(test_output_port_reset),
		cmocka_unit_test(test_stray_data),
		cmocka_unit_test(test_unknown_commands),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_output_overwritten),
		cmocka_unit_test(test_hostile_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
