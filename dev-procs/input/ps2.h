/* The PS/2 model of the input device process: an i8042 controller (ports 0x60
 * and 0x64) with an AT keyboard and a PS/2 (IntelliMouse) mouse behind it. A
 * pure library: the core forwards the guest's port accesses (UNTRUSTED(guest))
 * and the process injects host input; no I/O, no allocation, no logging. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define PS2_DATA_PORT 0x60
#define PS2_CMD_PORT  0x64

/* Bounded queues of host input inside each device. A real keyboard buffers
 * about 16 bytes; the mouse holds 16 three-byte or 4-byte packets (a few more
 * than a real one, so that one large host motion still fits once split). A
 * guest that never reads gets -ENOSPC back at the host, never memory growth. */
#define PS2_KBD_QUEUE_CAP   16
#define PS2_MOUSE_QUEUE_CAP 64
/* A command's answer waits apart from the queued input and goes out first
 * (the longest: ACK and a four-byte packet for 0xEB). */
#define PS2_REPLY_CAP 5

/* Status register (port 0x64 read). */
#define PS2_STR_OBF    0x01 /* output buffer full */
#define PS2_STR_IBF    0x02 /* input buffer full: always 0, writes complete at once */
#define PS2_STR_SYS    0x04 /* system flag, mirrors CTR bit 2 */
#define PS2_STR_CMD    0x08 /* last write went to 0x64 (A2) */
#define PS2_STR_UNLOCK 0x10 /* keyboard not inhibited by the keylock */
#define PS2_STR_AUXB   0x20 /* the output buffer holds a mouse byte */

/* Controller command byte (CTR, RAM byte 0). */
#define PS2_CTR_KBDINT 0x01
#define PS2_CTR_AUXINT 0x02
#define PS2_CTR_SYS    0x04
#define PS2_CTR_KBDDIS 0x10
#define PS2_CTR_AUXDIS 0x20
#define PS2_CTR_XLATE  0x40
/* What a firmware leaves behind and what self-test (0xAA) restores. */
#define PS2_CTR_DEFAULT (PS2_CTR_KBDINT | PS2_CTR_SYS | PS2_CTR_AUXDIS | PS2_CTR_XLATE)

/* Where the byte in the output buffer came from. */
enum ps2_src {
	PS2_SRC_CTL,	   /* the controller's own answer (raises IRQ 1) */
	PS2_SRC_KBD_LOOP,  /* 0xD2 */
	PS2_SRC_AUX_LOOP,  /* 0xD3 */
	PS2_SRC_KBD_REPLY, /* the keyboard's answer to a command */
	PS2_SRC_KBD_EVENT, /* injected key bytes */
	PS2_SRC_AUX_REPLY, /* the mouse's answer to a command */
	PS2_SRC_AUX_EVENT, /* injected mouse packets */
};

struct ps2_queue {
	uint8_t buf[PS2_MOUSE_QUEUE_CAP];
	uint16_t head, len, cap;
};

/* What the two devices share: a command answer ahead of the input queue. */
struct ps2_dev {
	struct ps2_queue events;
	uint8_t reply[PS2_REPLY_CAP];
	uint8_t reply_pos, reply_len;
	uint8_t pending;   /* command waiting for its argument, or 0 */
	uint8_t last_sent; /* for 0xFE resend */
	uint64_t queued, consumed;
};

struct ps2_kbd {
	struct ps2_dev dev;
	bool scanning;
	bool key_list; /* after 0xFB-0xFD: set-3 key codes follow until a command */
	uint8_t set;   /* scan code set 1, 2 or 3 */
	uint8_t leds;
	uint8_t typematic;
};

struct ps2_mouse {
	struct ps2_dev dev;
	bool reporting, remote, wrap, scale21;
	uint8_t id; /* 0 PS/2, 3 IntelliMouse, 4 IntelliMouse Explorer */
	uint8_t rate, resolution;
	uint8_t rates[3];	     /* the last sample rates set, newest last */
	uint8_t buttons;	     /* as last reported */
	int32_t acc_x, acc_y, acc_z; /* remote mode: motion not yet read */
};

struct ps2 {
	void (*irq)(void *opaque, int line);
	void *opaque;
	uint8_t ram[32]; /* ram[0] is the CTR */
	uint8_t outport;
	uint8_t pending; /* controller command waiting for its data byte, or 0 */
	bool cmd_last;	 /* status A2 */
	bool out_full;	 /* the one-byte output buffer */
	uint8_t out;
	enum ps2_src out_src;
	bool ctl_full; /* a controller answer or loopback byte waiting for it */
	uint8_t ctl;
	enum ps2_src ctl_src;
	bool xlate_break; /* translation swallowed a 0xF0: next byte gets 0x80 */
	struct ps2_kbd kbd;
	struct ps2_mouse mouse;
};

/* irq(opaque, line) pulses ISA IRQ `line` (1 keyboard, 12 mouse) each time a
 * byte enters the output buffer while that port's interrupt is enabled in the
 * CTR (and when the CTR enables it while such a byte waits there). */
void ps2_init(struct ps2 *p, void (*irq)(void *opaque, int line), void *opaque);

/* UNTRUSTED(guest): port and val are the guest's accesses, forwarded by the
 * core. Other ports read 0xFF and ignore writes. ps2_port_write returns true
 * when the write asked for a CPU reset. */
uint8_t ps2_port_read(struct ps2 *p, uint16_t port);
bool ps2_port_write(struct ps2 *p, uint16_t port, uint8_t val);

/* Host injection: 0 when the event's bytes were queued whole (or it had none
 * to send), -ENOSPC when the bounded queue cannot take them now (nothing
 * queued), -EAGAIN while the guest has the device or its port turned off,
 * -EINVAL for a key with no scan code in the current set. */
int ps2_kbd_key(struct ps2 *p, uint16_t linux_code, bool down);
/* Whether the keyboard has a scan code for the key in its current set. */
bool ps2_kbd_has_key(const struct ps2 *p, uint16_t linux_code);
/* dx, dy as Linux REL_X/REL_Y (+y down); dz wheel detents, + away from the
 * user; dw horizontal wheel, + right (IntelliMouse Explorer only). buttons:
 * bit0 left, bit1 right, bit2 middle, bit3 side, bit4 extra. Large motions
 * are split into several packets, all-or-nothing; what exceeds a whole empty
 * queue is dropped and flagged with the overflow bits. In remote mode motion
 * accumulates for the guest's 0xEB. */
int ps2_mouse_event(struct ps2 *p, int32_t dx, int32_t dy, int32_t dz, int32_t dw, uint8_t buttons);

/* Bytes the host queued, and bytes the guest read out of port 0x60 (or threw
 * away with a command that flushes the device, or a break prefix translation
 * swallowed), per device. An event is consumed once consumed reaches the
 * queued total taken right after it was queued. */
uint64_t ps2_kbd_queued(const struct ps2 *p);
uint64_t ps2_kbd_consumed(const struct ps2 *p);
uint64_t ps2_mouse_queued(const struct ps2 *p);
uint64_t ps2_mouse_consumed(const struct ps2 *p);

/* Whether the guest's driver has the device: scanning (reporting, stream mode)
 * on, and its port enabled with its interrupt in the CTR. */
bool ps2_kbd_active(const struct ps2 *p);
bool ps2_mouse_active(const struct ps2 *p);
uint8_t ps2_mouse_id(const struct ps2 *p);
/* bit0 scroll, bit1 num, bit2 caps lock, as the guest last set them. */
uint8_t ps2_kbd_leds(const struct ps2 *p);
