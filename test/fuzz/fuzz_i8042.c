/* libFuzzer target: input bytes are a guest's accesses to the i8042 ports
 * (untrusted). Two bytes per access: op (bit 0: command/status port, bit 1:
 * write) and the value. Checks besides the sanitizers: a reset is reported
 * exactly when the reset line is pulsed, and status always tells the truth. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "test/fuzz/fuzz_check.h"
#include "vmm-core/i8042.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reset line: command 0xF0-0xFE with bit 0 clear, or output port bit 0
 * cleared through 0xD1. */
static bool fuzz_expect_reset(const struct i8042 *k, uint16_t port, uint8_t v)
{
	if (port == I8042_CMD_PORT)
		return (v & 0xf1) == 0xf0;
	return k->pending == 0xd1 && !(v & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i8042 k;

	i8042_init(&k);
	for (size_t i = 0; i + 1 < size; i += 2) {
		uint16_t port = data[i] & 1 ? I8042_CMD_PORT : I8042_DATA_PORT;
		bool is_write = data[i] & 2, reset, want;
		uint8_t v = data[i + 1];
		const uint8_t written = v;
		const bool out_full = k.out_full;
		const uint8_t out = k.out;

		want = is_write && fuzz_expect_reset(&k, port, v);
		reset = i8042_pio(&k, port, &v, is_write);
		CHECK(reset == want);
		CHECK(!k.reset_requested);
		if (!is_write && port == I8042_CMD_PORT) {
			CHECK(!!(v & 0x01) == out_full);
			CHECK(!!(v & 0x08) == (k.pending != 0));
		}
		if (!is_write && port == I8042_DATA_PORT) {
			CHECK(v == out);
			CHECK(!k.out_full);
		}
		if (is_write && port == I8042_CMD_PORT && written == 0xaa)
			CHECK(k.out_full && k.out == 0x55);
		CHECK(k.pending == 0 || k.pending == 0x60 || k.pending == 0xd1);
		if (reset)
			i8042_init(&k); /* what the VM does: a new machine */
	}
	return 0;
}
