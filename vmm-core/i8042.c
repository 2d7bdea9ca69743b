/* Minimal i8042 controller; see i8042.h. Unknown commands and stray data bytes
 * are ignored; the output buffer holds one byte and is overwritten, never overrun. */
#include "vmm-core/i8042.h"

#include <string.h>

#define ST_OBF	  0x01
#define ST_SYS	  0x04
#define ST_CMD	  0x08
#define ST_UNLOCK 0x10

#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_AUX_TEST   0xa9
#define CMD_SELF_TEST  0xaa
#define CMD_KBD_TEST   0xab
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_PULSE_RST  0xfe

void i8042_init(struct i8042 *k)
{
	memset(k, 0, sizeof(*k));
	k->ctr = 0x45; /* translate, system flag, kbd irq */
}

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->out_full = true;
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR: i8042_reply(k, k->ctr); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP: k->pending = cmd; break;
	case CMD_SELF_TEST: i8042_reply(k, 0x55); break;
	case CMD_KBD_TEST: i8042_reply(k, 0x00); break;
	case CMD_AUX_TEST: i8042_reply(k, 0xff); break; /* no aux port */
	case CMD_READ_OUTP: i8042_reply(k, 0x01); break;
	default:
		/* Pulse output lines: bit 0 is the CPU reset line (active low). */
		if ((cmd & 0xf0) == 0xf0 && !(cmd & 0x01))
			k->reset_requested = true;
		break;
	}
}

bool i8042_pio(struct i8042 *k, uint16_t port, uint8_t *data, bool is_write)
{
	/* UNTRUSTED(guest): any command or data byte, in any order; unknown
	 * ones are dropped and the only effect outside the model is a reset. */
	if (!is_write) {
		if (port == I8042_CMD_PORT) {
			*data = (uint8_t)(ST_SYS | ST_UNLOCK | (k->pending ? ST_CMD : 0) |
					  (k->out_full ? ST_OBF : 0));
		} else {
			*data = k->out;
			k->out_full = false;
		}
		return false;
	}
	if (port == I8042_CMD_PORT) {
		k->pending = 0;
		i8042_command(k, *data);
	} else if (k->pending == CMD_WRITE_CTR) {
		k->ctr = *data;
		k->pending = 0;
	} else if (k->pending == CMD_WRITE_OUTP) {
		if (!(*data & 0x01))
			k->reset_requested = true;
		k->pending = 0;
	}
	/* Other data bytes would go to a keyboard; there is none here. */
	if (k->reset_requested) {
		k->reset_requested = false;
		return true;
	}
	return false;
}
