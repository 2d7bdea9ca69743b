/* The input device process's PS/2 model: an i8042 controller with an AT
 * keyboard and an IntelliMouse behind it, as a state machine over the guest's
 * accesses to ports 0x60/0x64 (UNTRUSTED(guest): any byte, any order) and the
 * host's injected input. Every buffer is fixed-size; nothing here does I/O. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "dev-procs/input/ps2.h"
#include "dev-procs/input/ps2_keymap.h"

#define PS2_ACK	   0xfa
#define PS2_RESEND 0xfe
#define PS2_BAT_OK 0xaa

/* Controller output port: reset line (1 = running), A20, then the two
 * output-buffer-full lines and the keyboard clock/data lines. */
#define PS2_OUTPORT_DEFAULT 0xcf
#define PS2_OUTPORT_RESET   0x01

static uint8_t ps2_ctr(const struct ps2 *p)
{
	return p->ram[0];
}

static void ps2_queue_init(struct ps2_queue *q, uint16_t cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
}

static uint16_t ps2_queue_room(const struct ps2_queue *q)
{
	return (uint16_t)(q->cap - q->len);
}

static void ps2_queue_push(struct ps2_queue *q, const uint8_t *b, uint16_t n)
{
	for (uint16_t i = 0; i < n && q->len < q->cap; i++)
		q->buf[(q->head + q->len++) % q->cap] = b[i];
}

static uint8_t ps2_queue_pop(struct ps2_queue *q)
{
	uint8_t b = q->buf[q->head];

	q->head = (uint16_t)((q->head + 1) % q->cap);
	q->len--;
	return b;
}

/* Flushed input counts as consumed: the guest's own command threw it away,
 * and the host must not wait for it forever. */
static void ps2_dev_flush(struct ps2_dev *d)
{
	d->consumed += d->events.len;
	d->events.head = 0;
	d->events.len = 0;
}

/* A new command's answer replaces whatever answer was still unread. */
static void ps2_dev_reply(struct ps2_dev *d, const uint8_t *b, uint8_t n)
{
	if (n > PS2_REPLY_CAP)
		n = PS2_REPLY_CAP;
	memcpy(d->reply, b, n);
	d->reply_pos = 0;
	d->reply_len = n;
}

static void ps2_dev_reply1(struct ps2_dev *d, uint8_t b)
{
	ps2_dev_reply(d, &b, 1);
}

static bool ps2_dev_has_byte(const struct ps2_dev *d)
{
	return d->reply_pos < d->reply_len || d->events.len > 0;
}

static uint8_t ps2_dev_take(struct ps2_dev *d, bool *ret_event)
{
	uint8_t b;

	if (d->reply_pos < d->reply_len) {
		b = d->reply[d->reply_pos++];
		*ret_event = false;
	} else {
		b = ps2_queue_pop(&d->events);
		*ret_event = true;
	}
	d->last_sent = b;
	return b;
}

static int ps2_src_line(enum ps2_src src)
{
	return src == PS2_SRC_AUX_LOOP || src == PS2_SRC_AUX_REPLY || src == PS2_SRC_AUX_EVENT ? 12
											       : 1;
}

static void ps2_out_load(struct ps2 *p, uint8_t b, enum ps2_src src)
{
	int line = ps2_src_line(src);

	p->out = b;
	p->out_src = src;
	p->out_full = true;
	if (ps2_ctr(p) & (line == 12 ? PS2_CTR_AUXINT : PS2_CTR_KBDINT))
		p->irq(p->opaque, line);
}

/* The keyboard's next byte as the controller hands it on: with translation
 * on, a 0xF0 break prefix is swallowed and sets bit 7 of the next byte. */
static bool ps2_kbd_next(struct ps2 *p, uint8_t *ret_b, enum ps2_src *ret_src)
{
	struct ps2_dev *d = &p->kbd.dev;
	bool event;
	uint8_t b;

	while (ps2_dev_has_byte(d)) {
		b = ps2_dev_take(d, &event);
		*ret_src = event ? PS2_SRC_KBD_EVENT : PS2_SRC_KBD_REPLY;
		if (!(ps2_ctr(p) & PS2_CTR_XLATE)) {
			*ret_b = b;
			return true;
		}
		if (b == 0xf0) {
			p->xlate_break = true;
			if (event)
				d->consumed++;
			continue;
		}
		*ret_b = (uint8_t)(ps2_keymap_xlate(b) | (p->xlate_break ? 0x80 : 0));
		p->xlate_break = false;
		return true;
	}
	return false;
}

/* Moves the next byte into an empty output buffer: the controller's own
 * answers first, then the keyboard, then the mouse. The keyboard has plain
 * priority: its queue is short and key bytes are what a user waits on. A port
 * disabled in the CTR holds its device's bytes back. */
static void ps2_fill(struct ps2 *p)
{
	enum ps2_src src;
	bool event;
	uint8_t b;

	if (p->out_full)
		return;
	if (p->ctl_full) {
		p->ctl_full = false;
		ps2_out_load(p, p->ctl, p->ctl_src);
		return;
	}
	if (!(ps2_ctr(p) & PS2_CTR_KBDDIS) && ps2_kbd_next(p, &b, &src)) {
		ps2_out_load(p, b, src);
		return;
	}
	if (!(ps2_ctr(p) & PS2_CTR_AUXDIS) && ps2_dev_has_byte(&p->mouse.dev)) {
		b = ps2_dev_take(&p->mouse.dev, &event);
		ps2_out_load(p, b, event ? PS2_SRC_AUX_EVENT : PS2_SRC_AUX_REPLY);
	}
}

/* A controller answer or loopback byte; it waits while the output buffer
 * still holds an unread byte, and a newer one replaces it. */
static void ps2_ctl_answer(struct ps2 *p, uint8_t b, enum ps2_src src)
{
	p->ctl = b;
	p->ctl_src = src;
	p->ctl_full = true;
	ps2_fill(p);
}

/* ---- keyboard ---- */

static void ps2_kbd_defaults(struct ps2_kbd *k)
{
	k->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
	k->key_list = false;
}

static void ps2_kbd_reset(struct ps2 *p)
{
	struct ps2_kbd *k = &p->kbd;

	ps2_dev_flush(&k->dev);
	ps2_kbd_defaults(k);
	k->scanning = true;
	k->set = 2;
	k->leds = 0;
	k->dev.pending = 0;
	p->xlate_break = false;
}

static void ps2_kbd_arg(struct ps2 *p, uint8_t cmd, uint8_t arg)
{
	struct ps2_kbd *k = &p->kbd;
	uint8_t ans[2] = {PS2_ACK, 0};

	switch (cmd) {
	case 0xed:
		k->leds = arg & 7;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	case 0xf3:
		k->typematic = arg & 0x7f;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	case 0xf0:
		if (arg > 3) {
			ps2_dev_reply1(&k->dev, PS2_RESEND);
			break;
		}
		if (arg == 0) {
			ans[1] = k->set; /* translated on the way out when XLATE is on */
			ps2_dev_reply(&k->dev, ans, 2);
			break;
		}
		/* Codes queued in the old set would read as garbage in the new one. */
		ps2_dev_flush(&k->dev);
		p->xlate_break = false;
		k->set = arg;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	}
}

/* UNTRUSTED(guest): a byte written to port 0x60 for the keyboard. */
static void ps2_kbd_write(struct ps2 *p, uint8_t v)
{
	static const uint8_t bat[] = {PS2_ACK, PS2_BAT_OK};
	static const uint8_t id[] = {PS2_ACK, 0xab, 0x83};
	struct ps2_kbd *k = &p->kbd;
	uint8_t cmd = k->dev.pending;

	k->dev.pending = 0;
	/* A typematic byte with bit 7 set, like any byte from 0xED up after a
	 * key list, is a new command, as on a real keyboard. */
	if (cmd && !(cmd == 0xf3 && (v & 0x80))) {
		ps2_kbd_arg(p, cmd, v);
		return;
	}
	if (k->key_list && v < 0xed) {
		ps2_dev_reply1(&k->dev, PS2_ACK);
		return;
	}
	k->key_list = false;
	switch (v) {
	case 0xed: /* LEDs */
	case 0xf0: /* scan code set */
	case 0xf3: /* typematic rate and delay */
		k->dev.pending = v;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	case 0xee: ps2_dev_reply1(&k->dev, 0xee); break;
	case 0xf2: ps2_dev_reply(&k->dev, id, sizeof(id)); break;
	case 0xf4:
		ps2_dev_flush(&k->dev);
		k->scanning = true;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	case 0xf5:
	case 0xf6:
		ps2_dev_flush(&k->dev);
		ps2_kbd_defaults(k);
		k->scanning = v == 0xf6;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	case 0xf7: /* set-3 key modes: every key here sends make and break */
	case 0xf8:
	case 0xf9:
	case 0xfa: ps2_dev_reply1(&k->dev, PS2_ACK); break;
	case 0xfb:
	case 0xfc:
	case 0xfd:
		k->key_list = true;
		ps2_dev_reply1(&k->dev, PS2_ACK);
		break;
	case 0xfe: ps2_dev_reply1(&k->dev, k->dev.last_sent); break;
	case 0xff:
		ps2_kbd_reset(p);
		ps2_dev_reply(&k->dev, bat, sizeof(bat));
		break;
	default: ps2_dev_reply1(&k->dev, PS2_RESEND); break;
	}
}

/* ---- mouse ---- */

static void ps2_mouse_defaults(struct ps2_mouse *m)
{
	m->rate = 100;
	m->resolution = 2; /* 4 counts/mm */
	m->scale21 = false;
	m->remote = false;
	m->reporting = false;
	m->acc_x = m->acc_y = m->acc_z = 0;
}

static void ps2_mouse_reset(struct ps2_mouse *m)
{
	ps2_dev_flush(&m->dev);
	ps2_mouse_defaults(m);
	m->wrap = false;
	m->id = 0;
	m->buttons = 0;
	m->dev.pending = 0;
	memset(m->rates, 0, sizeof(m->rates));
}

static uint8_t ps2_mouse_psize(const struct ps2_mouse *m)
{
	return m->id ? 4 : 3;
}

static int32_t ps2_clamp(int64_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* One packet; x and y already in -256..255, y up, z in -8..7, w in -32..31
 * (a packet carries z or w, never both). */
static void ps2_mouse_packet(const struct ps2_mouse *m, int32_t x, int32_t y, int32_t z, int32_t w,
			     uint8_t buttons, uint8_t ovf, uint8_t out[4])
{
	out[0] = (uint8_t)((buttons & 7) | 0x08 | (x < 0 ? 0x10 : 0) | (y < 0 ? 0x20 : 0) | ovf);
	out[1] = (uint8_t)x;
	out[2] = (uint8_t)y;
	if (m->id == 3)
		out[3] = (uint8_t)z;
	else if (m->id == 4 && w)
		out[3] = (uint8_t)(0x40 | (w & 0x3f));
	else if (m->id == 4)
		out[3] = (uint8_t)((z & 0x0f) | ((buttons & 0x18) << 1));
}

static void ps2_mouse_sample_rate(struct ps2_mouse *m, uint8_t rate)
{
	m->rate = rate;
	m->rates[0] = m->rates[1];
	m->rates[1] = m->rates[2];
	m->rates[2] = rate;
	/* The IntelliMouse knocks: 200, 100, 80 turns on the wheel, then
	 * 200, 200, 80 the fourth and fifth buttons. */
	if (m->id == 0 && m->rates[0] == 200 && m->rates[1] == 100 && m->rates[2] == 80)
		m->id = 3;
	else if (m->id == 3 && m->rates[0] == 200 && m->rates[1] == 200 && m->rates[2] == 80)
		m->id = 4;
}

/* 0xEB: ACK and one packet of the motion gathered so far. */
static void ps2_mouse_read_data(struct ps2_mouse *m)
{
	uint8_t ans[5] = {PS2_ACK};
	uint8_t ovf = 0;
	int32_t x = ps2_clamp(m->acc_x, -256, 255), y = ps2_clamp(m->acc_y, -256, 255);
	int32_t z = ps2_clamp(m->acc_z, -8, 7);

	if (x != m->acc_x)
		ovf |= 0x40;
	if (y != m->acc_y)
		ovf |= 0x80;
	ps2_mouse_packet(m, x, y, m->id ? z : 0, 0, m->buttons, ovf, ans + 1);
	m->acc_x = m->acc_y = m->acc_z = 0;
	ps2_dev_reply(&m->dev, ans, (uint8_t)(1 + ps2_mouse_psize(m)));
}

static void ps2_mouse_status(struct ps2_mouse *m)
{
	uint8_t ans[4] = {PS2_ACK};

	ans[1] = (uint8_t)((m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
			   (m->scale21 ? 0x10 : 0) | (m->buttons & 1 ? 0x04 : 0) |
			   (m->buttons & 4 ? 0x02 : 0) | (m->buttons & 2 ? 0x01 : 0));
	ans[2] = m->resolution;
	ans[3] = m->rate;
	ps2_dev_reply(&m->dev, ans, sizeof(ans));
}

/* UNTRUSTED(guest): a byte the guest sent to the mouse through 0xD4. */
static void ps2_mouse_write(struct ps2_mouse *m, uint8_t v)
{
	static const uint8_t bat[] = {PS2_ACK, PS2_BAT_OK, 0x00};
	uint8_t cmd = m->dev.pending;

	m->dev.pending = 0;
	if (cmd == 0xf3) {
		ps2_mouse_sample_rate(m, v);
		ps2_dev_reply1(&m->dev, PS2_ACK);
		return;
	}
	if (cmd == 0xe8) {
		m->resolution = v & 3;
		ps2_dev_reply1(&m->dev, PS2_ACK);
		return;
	}
	if (m->wrap && v != 0xec && v != 0xff) {
		ps2_dev_reply1(&m->dev, v);
		return;
	}
	switch (v) {
	case 0xe6:
	case 0xe7:
		m->scale21 = v == 0xe7;
		ps2_dev_reply1(&m->dev, PS2_ACK);
		break;
	case 0xe8:
	case 0xf3:
		m->dev.pending = v;
		ps2_dev_reply1(&m->dev, PS2_ACK);
		break;
	case 0xe9: ps2_mouse_status(m); break;
	case 0xea:
	case 0xf0:
		m->remote = v == 0xf0;
		m->acc_x = m->acc_y = m->acc_z = 0;
		ps2_dev_reply1(&m->dev, PS2_ACK);
		break;
	case 0xeb: ps2_mouse_read_data(m); break;
	case 0xec:
	case 0xee:
		m->wrap = v == 0xee;
		ps2_dev_reply1(&m->dev, PS2_ACK);
		break;
	case 0xf2: {
		const uint8_t id[] = {PS2_ACK, m->id};

		ps2_dev_reply(&m->dev, id, sizeof(id));
		break;
	}
	case 0xf4:
		m->reporting = true;
		ps2_dev_reply1(&m->dev, PS2_ACK);
		break;
	case 0xf5:
	case 0xf6:
		ps2_dev_flush(&m->dev);
		ps2_mouse_defaults(m);
		ps2_dev_reply1(&m->dev, PS2_ACK);
		break;
	case 0xfe: ps2_dev_reply1(&m->dev, m->dev.last_sent); break;
	case 0xff:
		ps2_mouse_reset(m);
		ps2_dev_reply(&m->dev, bat, sizeof(bat));
		break;
	default: ps2_dev_reply1(&m->dev, PS2_RESEND); break;
	}
}

/* ---- controller ---- */

static void ps2_ctl_defaults(struct ps2 *p)
{
	memset(p->ram, 0, sizeof(p->ram));
	p->ram[0] = PS2_CTR_DEFAULT;
	p->outport = PS2_OUTPORT_DEFAULT;
	p->pending = 0;
}

void ps2_init(struct ps2 *p, void (*irq)(void *opaque, int line), void *opaque)
{
	memset(p, 0, sizeof(*p));
	p->irq = irq;
	p->opaque = opaque;
	ps2_ctl_defaults(p);
	ps2_queue_init(&p->kbd.dev.events, PS2_KBD_QUEUE_CAP);
	ps2_queue_init(&p->mouse.dev.events, PS2_MOUSE_QUEUE_CAP);
	ps2_kbd_reset(p);
	ps2_mouse_reset(&p->mouse);
}

/* The interrupt line of a byte already waiting follows the CTR, as the
 * 8042's level output does: enabling it pulses the edge-triggered pin. */
static void ps2_ctr_write(struct ps2 *p, uint8_t v)
{
	uint8_t old = ps2_ctr(p);

	p->ram[0] = v;
	if (p->out_full) {
		int line = ps2_src_line(p->out_src);
		uint8_t bit = line == 12 ? PS2_CTR_AUXINT : PS2_CTR_KBDINT;

		if ((v & bit) && !(old & bit))
			p->irq(p->opaque, line);
	}
	ps2_fill(p);
}

static uint8_t ps2_outport_read(const struct ps2 *p)
{
	uint8_t v = (uint8_t)(p->outport & ~0x30);

	if (p->out_full)
		v |= ps2_src_line(p->out_src) == 12 ? 0x20 : 0x10;
	return v;
}

/* UNTRUSTED(guest): a command byte written to port 0x64. Returns true for a
 * reset pulse. Commands not listed are ignored, as many 8042 clones do. */
static bool ps2_ctl_command(struct ps2 *p, uint8_t v)
{
	p->pending = 0;
	if (v >= 0x20 && v <= 0x3f) {
		ps2_ctl_answer(p, p->ram[v & 0x1f], PS2_SRC_CTL);
		return false;
	}
	if ((v >= 0x60 && v <= 0x7f) || (v >= 0xd1 && v <= 0xd4)) {
		p->pending = v;
		return false;
	}
	if (v >= 0xf0) /* pulse the output lines whose bit is clear; bit 0 is reset */
		return !(v & 1);
	switch (v) {
	case 0xa7: ps2_ctr_write(p, ps2_ctr(p) | PS2_CTR_AUXDIS); break;
	case 0xa8: ps2_ctr_write(p, (uint8_t)(ps2_ctr(p) & ~PS2_CTR_AUXDIS)); break;
	case 0xa9: /* aux interface test: no fault */
	case 0xab: /* keyboard interface test: no fault */
		ps2_ctl_answer(p, 0x00, PS2_SRC_CTL);
		break;
	case 0xaa: /* self-test: passes, and the controller is back to its defaults */
		ps2_ctl_defaults(p);
		ps2_ctl_answer(p, 0x55, PS2_SRC_CTL);
		break;
	case 0xad: ps2_ctr_write(p, ps2_ctr(p) | PS2_CTR_KBDDIS); break;
	case 0xae: ps2_ctr_write(p, (uint8_t)(ps2_ctr(p) & ~PS2_CTR_KBDDIS)); break;
	case 0xc0: /* input port: keyboard not inhibited */
		ps2_ctl_answer(p, 0x80, PS2_SRC_CTL);
		break;
	case 0xd0: ps2_ctl_answer(p, ps2_outport_read(p), PS2_SRC_CTL); break;
	case 0xe0: /* test inputs: clock and data low */
		ps2_ctl_answer(p, 0x00, PS2_SRC_CTL);
		break;
	default: break;
	}
	return false;
}

/* UNTRUSTED(guest): a data byte written to port 0x60. */
static bool ps2_ctl_data(struct ps2 *p, uint8_t v)
{
	uint8_t cmd = p->pending;

	p->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		if (cmd == 0x60)
			ps2_ctr_write(p, v);
		else
			p->ram[cmd & 0x1f] = v;
		return false;
	}
	switch (cmd) {
	case 0xd1:
		/* A20 is always on here; only the reset line matters. */
		p->outport = v;
		return !(v & PS2_OUTPORT_RESET);
	case 0xd2: ps2_ctl_answer(p, v, PS2_SRC_KBD_LOOP); return false;
	case 0xd3: ps2_ctl_answer(p, v, PS2_SRC_AUX_LOOP); return false;
	case 0xd4:
		/* Talking to a device turns its port's clock back on. */
		p->ram[0] &= (uint8_t)~PS2_CTR_AUXDIS;
		ps2_mouse_write(&p->mouse, v);
		break;
	default:
		p->ram[0] &= (uint8_t)~PS2_CTR_KBDDIS;
		ps2_kbd_write(p, v);
		break;
	}
	ps2_fill(p);
	return false;
}

uint8_t ps2_port_read(struct ps2 *p, uint16_t port)
{
	uint8_t v;

	if (port == PS2_CMD_PORT) {
		v = PS2_STR_UNLOCK;
		if (p->out_full)
			v |= PS2_STR_OBF;
		if (p->out_full && ps2_src_line(p->out_src) == 12)
			v |= PS2_STR_AUXB;
		if (ps2_ctr(p) & PS2_CTR_SYS)
			v |= PS2_STR_SYS;
		if (p->cmd_last)
			v |= PS2_STR_CMD;
		return v;
	}
	if (port != PS2_DATA_PORT)
		return 0xff;
	/* An empty buffer reads its last byte again, as the 8042 does. */
	v = p->out;
	if (!p->out_full)
		return v;
	p->out_full = false;
	if (p->out_src == PS2_SRC_KBD_EVENT)
		p->kbd.dev.consumed++;
	else if (p->out_src == PS2_SRC_AUX_EVENT)
		p->mouse.dev.consumed++;
	ps2_fill(p);
	return v;
}

bool ps2_port_write(struct ps2 *p, uint16_t port, uint8_t val)
{
	if (port == PS2_CMD_PORT) {
		p->cmd_last = true;
		return ps2_ctl_command(p, val);
	}
	if (port != PS2_DATA_PORT)
		return false;
	p->cmd_last = false;
	return ps2_ctl_data(p, val);
}

/* ---- host side ---- */

bool ps2_kbd_active(const struct ps2 *p)
{
	return p->kbd.scanning && !(ps2_ctr(p) & PS2_CTR_KBDDIS) && (ps2_ctr(p) & PS2_CTR_KBDINT);
}

bool ps2_mouse_active(const struct ps2 *p)
{
	const struct ps2_mouse *m = &p->mouse;

	return m->reporting && !m->remote && !m->wrap && !(ps2_ctr(p) & PS2_CTR_AUXDIS) &&
	       (ps2_ctr(p) & PS2_CTR_AUXINT);
}

bool ps2_kbd_has_key(const struct ps2 *p, uint16_t linux_code)
{
	uint8_t b[PS2_KEY_MAX_BYTES];

	return ps2_keymap_encode(p->kbd.set, linux_code, true, b) >= 0;
}

int ps2_kbd_key(struct ps2 *p, uint16_t linux_code, bool down)
{
	uint8_t b[PS2_KEY_MAX_BYTES];
	int n;

	n = ps2_keymap_encode(p->kbd.set, linux_code, down, b);
	if (n < 0)
		return n;
	if (!ps2_kbd_active(p))
		return -EAGAIN;
	if (n > ps2_queue_room(&p->kbd.dev.events))
		return -ENOSPC;
	ps2_queue_push(&p->kbd.dev.events, b, (uint16_t)n);
	p->kbd.dev.queued += (uint64_t)n;
	ps2_fill(p);
	return 0;
}

/* Packets needed to carry v in steps of at most lo..hi. */
static int64_t ps2_steps(int64_t v, int32_t lo, int32_t hi)
{
	if (v > 0)
		return (v + hi - 1) / hi;
	return v < 0 ? (-v + -lo - 1) / -lo : 0;
}

static int64_t ps2_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static void ps2_mouse_accumulate(struct ps2_mouse *m, int64_t x, int64_t y, int64_t z,
				 uint8_t buttons)
{
	const int32_t lim = 1 << 20; /* far beyond one packet; keeps the sums bounded */

	m->acc_x = ps2_clamp(m->acc_x + x, -lim, lim);
	m->acc_y = ps2_clamp(m->acc_y + y, -lim, lim);
	m->acc_z = ps2_clamp(m->acc_z + z, -lim, lim);
	m->buttons = buttons;
}

int ps2_mouse_event(struct ps2 *p, int32_t dx, int32_t dy, int32_t dz, int32_t dw, uint8_t buttons)
{
	struct ps2_mouse *m = &p->mouse;
	const uint8_t psize = ps2_mouse_psize(m);
	uint8_t buf[PS2_MOUSE_QUEUE_CAP + 4];
	int64_t x = dx, y = -(int64_t)dy, z = m->id ? -(int64_t)dz : 0;
	int64_t w = m->id == 4 ? -(int64_t)dw : 0, nv, nh, n, cap;
	uint16_t len = 0;
	uint8_t ovf = 0;

	buttons &= m->id == 4 ? 0x1f : 0x07;
	if (m->remote && !m->wrap) {
		ps2_mouse_accumulate(m, x, y, z, buttons);
		return 0;
	}
	if (!ps2_mouse_active(p))
		return -EAGAIN;
	nv = ps2_max(ps2_max(ps2_steps(x, -256, 255), ps2_steps(y, -256, 255)),
		     ps2_steps(z, -8, 7));
	nh = ps2_steps(w, -32, 31);
	if (nv + nh == 0) {
		if (buttons == m->buttons)
			return 0; /* nothing this protocol can tell */
		nv = 1;
	}
	/* What would not fit an empty queue is dropped, flagged as overflow. */
	cap = m->dev.events.cap / psize;
	if (nv > cap)
		nv = cap;
	if (nh > cap - nv)
		nh = cap - nv;
	n = nv + nh;
	if (n * psize > ps2_queue_room(&m->dev.events))
		return -ENOSPC;
	for (int64_t i = 0; i < nv; i++) {
		int32_t px = ps2_clamp(x, -256, 255), py = ps2_clamp(y, -256, 255);
		int32_t pz = ps2_clamp(z, -8, 7);

		x -= px;
		y -= py;
		z -= pz;
		if (i == nv - 1)
			ovf = (uint8_t)((x ? 0x40 : 0) | (y ? 0x80 : 0));
		ps2_mouse_packet(m, px, py, pz, 0, buttons, ovf, buf + len);
		len += psize;
	}
	for (int64_t i = 0; i < nh; i++) {
		int32_t pw = ps2_clamp(w, -32, 31);

		w -= pw;
		ps2_mouse_packet(m, 0, 0, 0, pw, buttons, 0, buf + len);
		len += psize;
	}
	m->buttons = buttons;
	ps2_queue_push(&m->dev.events, buf, len);
	m->dev.queued += len;
	ps2_fill(p);
	return 0;
}

uint64_t ps2_kbd_queued(const struct ps2 *p)
{
	return p->kbd.dev.queued;
}

uint64_t ps2_kbd_consumed(const struct ps2 *p)
{
	return p->kbd.dev.consumed;
}

uint64_t ps2_mouse_queued(const struct ps2 *p)
{
	return p->mouse.dev.queued;
}

uint64_t ps2_mouse_consumed(const struct ps2 *p)
{
	return p->mouse.dev.consumed;
}

uint8_t ps2_mouse_id(const struct ps2 *p)
{
	return p->mouse.id;
}

uint8_t ps2_kbd_leds(const struct ps2 *p)
{
	return p->kbd.leds;
}
