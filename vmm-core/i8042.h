/* Minimal i8042 keyboard controller in the core: enough for Linux to probe a
 * controller with no devices behind it, and the reset line (command 0xFE, or
 * output-port bit 0 cleared), which ends the VM as a reboot. Register accesses
 * are guest input. The keyboard and mouse themselves belong to the input
 * device process (see ARCHITECTURE.md). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64

struct i8042 {
	uint8_t ctr; /* controller configuration byte */
	uint8_t out; /* output buffer */
	bool out_full;
	uint8_t pending; /* command waiting for its data byte, or 0 */
	bool reset_requested;
};

void i8042_init(struct i8042 *k);
/* Returns true when the access asked for a system reset. */
bool i8042_pio(struct i8042 *k, uint16_t port, uint8_t *data, bool is_write);
