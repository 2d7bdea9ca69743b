/* Unit tests for dev-procs/input/ps2.c, driven the way a guest's i8042, atkbd
 * and psmouse drivers drive it (ports 0x60/0x64 only) plus the host's
 * injection calls: controller commands, keyboard and mouse protocols, the
 * scan code sets, bounded queues and their accounting, and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include "dev-procs/input/ps2.h"
#include "dev-procs/input/ps2_keymap.h"

struct irq_count {
	int line1, line12, other;
};

static void on_irq(void *opaque, int line)
{
	struct irq_count *c = opaque;

	if (line == 1)
		c->line1++;
	else if (line == 12)
		c->line12++;
	else
		c->other++;
}

static uint8_t status(struct ps2 *p)
{
	return ps2_port_read(p, PS2_CMD_PORT);
}

static bool cmd(struct ps2 *p, uint8_t c)
{
	return ps2_port_write(p, PS2_CMD_PORT, c);
}

static bool put(struct ps2 *p, uint8_t d)
{
	return ps2_port_write(p, PS2_DATA_PORT, d);
}

static void aux(struct ps2 *p, uint8_t d)
{
	assert_false(cmd(p, 0xd4));
	assert_false(put(p, d));
}

static void expect_bytes(struct ps2 *p, const uint8_t *want, size_t n, bool from_aux)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t st = status(p);

		assert_true(st & PS2_STR_OBF);
		assert_int_equal(!!(st & PS2_STR_AUXB), from_aux);
		assert_int_equal(ps2_port_read(p, PS2_DATA_PORT), want[i]);
	}
	assert_false(status(p) & PS2_STR_OBF);
}

#define EXPECT(p, ...)                                                                             \
	do {                                                                                       \
		const uint8_t want_[] = {__VA_ARGS__};                                             \
		expect_bytes(p, want_, sizeof(want_), false);                                      \
	} while (0)
#define EXPECT_AUX(p, ...)                                                                         \
	do {                                                                                       \
		const uint8_t want_[] = {__VA_ARGS__};                                             \
		expect_bytes(p, want_, sizeof(want_), true);                                       \
	} while (0)

static void expect_empty(struct ps2 *p)
{
	assert_false(status(p) & PS2_STR_OBF);
}

static void write_ctr(struct ps2 *p, uint8_t ctr)
{
	assert_false(cmd(p, 0x60));
	assert_false(put(p, ctr));
}

static uint8_t read_ctr(struct ps2 *p)
{
	assert_false(cmd(p, 0x20));
	assert_true(status(p) & PS2_STR_OBF);
	return ps2_port_read(p, PS2_DATA_PORT);
}

/* What Linux leaves behind once i8042, atkbd and psmouse have bound. */
static void setup(struct ps2 *p, struct irq_count *c, bool xlate)
{
	memset(c, 0, sizeof(*c));
	ps2_init(p, on_irq, c);
	write_ctr(p, PS2_CTR_KBDINT | PS2_CTR_AUXINT | PS2_CTR_SYS | (xlate ? PS2_CTR_XLATE : 0));
	assert_false(put(p, 0xf4));
	EXPECT(p, 0xfa);
	aux(p, 0xff);
	EXPECT_AUX(p, 0xfa, 0xaa, 0x00);
	aux(p, 0xf4);
	EXPECT_AUX(p, 0xfa);
	assert_true(ps2_kbd_active(p));
	assert_true(ps2_mouse_active(p));
}

static void key(struct ps2 *p, uint16_t code, bool down)
{
	assert_int_equal(ps2_kbd_key(p, code, down), 0);
}

static void test_self_test(void **state)
{
	struct irq_count c = {0};
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	assert_true(status(&p) & PS2_STR_SYS);
	expect_empty(&p);
	assert_int_equal(read_ctr(&p), PS2_CTR_DEFAULT);
	write_ctr(&p, 0x03);
	assert_int_equal(read_ctr(&p), 0x03);
	assert_false(status(&p) & PS2_STR_SYS);
	assert_false(cmd(&p, 0xaa));
	EXPECT(&p, 0x55);
	assert_int_equal(read_ctr(&p), PS2_CTR_DEFAULT);
	assert_true(status(&p) & PS2_STR_SYS);
	assert_int_equal(c.other, 0);
}

static void test_ctr_and_ram(void **state)
{
	struct irq_count c = {0};
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	assert_false(cmd(&p, 0x75));
	assert_true(status(&p) & PS2_STR_CMD);
	assert_false(put(&p, 0x5a));
	assert_false(status(&p) & PS2_STR_CMD);
	assert_false(cmd(&p, 0x35));
	EXPECT(&p, 0x5a);
	write_ctr(&p, 0x00);
	assert_int_equal(read_ctr(&p), 0x00);
	/* Port enable/disable commands flip the CTR bits. */
	assert_false(cmd(&p, 0xad));
	assert_false(cmd(&p, 0xa7));
	assert_int_equal(read_ctr(&p), PS2_CTR_KBDDIS | PS2_CTR_AUXDIS);
	assert_false(cmd(&p, 0xae));
	assert_false(cmd(&p, 0xa8));
	assert_int_equal(read_ctr(&p), 0x00);
	/* Unknown commands are ignored. */
	assert_false(cmd(&p, 0xc5));
	assert_false(cmd(&p, 0x01));
	expect_empty(&p);
	assert_int_equal(ps2_port_read(&p, 0x61), 0xff);
	assert_false(ps2_port_write(&p, 0x61, 0xfe));
}

static void test_interface_tests(void **state)
{
	struct irq_count c = {0};
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	assert_false(cmd(&p, 0xa9));
	EXPECT(&p, 0x00);
	assert_false(cmd(&p, 0xab));
	EXPECT(&p, 0x00);
	assert_false(cmd(&p, 0xc0));
	EXPECT(&p, 0x80);
	assert_false(cmd(&p, 0xe0));
	EXPECT(&p, 0x00);
	assert_false(cmd(&p, 0xd0));
	assert_true(ps2_port_read(&p, PS2_DATA_PORT) & 0x01);
	assert_false(cmd(&p, 0xd1));
	assert_false(put(&p, 0xdf));
	assert_false(cmd(&p, 0xd0));
	EXPECT(&p, 0xcf); /* bits 4/5 follow the output buffer, empty when read */
}

static void test_loopback(void **state)
{
	struct irq_count c = {0};
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	write_ctr(&p, PS2_CTR_SYS);
	assert_false(cmd(&p, 0xd3));
	assert_false(put(&p, 0x5a));
	EXPECT_AUX(&p, 0x5a);
	assert_int_equal(c.line12, 0);
	write_ctr(&p, PS2_CTR_SYS | PS2_CTR_AUXINT | PS2_CTR_KBDINT);
	assert_false(cmd(&p, 0xd3));
	assert_false(put(&p, 0xa5));
	assert_int_equal(c.line12, 1);
	assert_int_equal(c.line1, 0);
	EXPECT_AUX(&p, 0xa5);
	assert_false(cmd(&p, 0xd2));
	assert_false(put(&p, 0x11));
	assert_int_equal(c.line1, 1);
	EXPECT(&p, 0x11);
	/* Controller answers go out as keyboard bytes. */
	read_ctr(&p);
	assert_int_equal(c.line1, 2);
	assert_int_equal(c.line12, 1);
}

static void test_kbd_reset_and_ids(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, false);
	assert_false(put(&p, 0xff));
	EXPECT(&p, 0xfa, 0xaa);
	assert_true(ps2_kbd_active(&p));
	assert_false(put(&p, 0xf2));
	EXPECT(&p, 0xfa, 0xab, 0x83);
	assert_false(put(&p, 0xee));
	EXPECT(&p, 0xee);
	assert_false(put(&p, 0x01));
	EXPECT(&p, 0xfe);
	assert_false(put(&p, 0xf3));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x20));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0xfe));
	EXPECT(&p, 0xfa);	     /* resend: the last byte again */
	assert_false(put(&p, 0xfa)); /* set-3 all keys make/break */
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0xfb));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x1c));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0xf2));
	EXPECT(&p, 0xfa, 0xab, 0x83);

	setup(&p, &c, true);
	assert_false(put(&p, 0xf2));
	EXPECT(&p, 0xfa, 0xab, 0x41);
	assert_false(put(&p, 0xff));
	EXPECT(&p, 0xfa, 0xaa);
}

static void test_kbd_leds(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	assert_int_equal(ps2_kbd_leds(&p), 0);
	assert_false(put(&p, 0xed));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x06));
	EXPECT(&p, 0xfa);
	assert_int_equal(ps2_kbd_leds(&p), 6);
	assert_false(put(&p, 0xed));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x01));
	EXPECT(&p, 0xfa);
	assert_int_equal(ps2_kbd_leds(&p), 1);
	assert_false(put(&p, 0xff));
	EXPECT(&p, 0xfa, 0xaa);
	assert_int_equal(ps2_kbd_leds(&p), 0);
}

static void set_set(struct ps2 *p, uint8_t set)
{
	assert_false(put(p, 0xf0));
	EXPECT(p, 0xfa);
	assert_false(put(p, set));
	EXPECT(p, 0xfa);
}

static void test_kbd_set2_raw(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, false);
	assert_false(put(&p, 0xf0));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x00));
	EXPECT(&p, 0xfa, 0x02);
	key(&p, KEY_A, true);
	EXPECT(&p, 0x1c);
	key(&p, KEY_A, false);
	EXPECT(&p, 0xf0, 0x1c);
	key(&p, KEY_RIGHTCTRL, true);
	key(&p, KEY_RIGHTCTRL, false);
	EXPECT(&p, 0xe0, 0x14, 0xe0, 0xf0, 0x14);
	key(&p, KEY_F7, true);
	EXPECT(&p, 0x83);
	key(&p, KEY_PAUSE, true);
	EXPECT(&p, 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);
	key(&p, KEY_PAUSE, false);
	expect_empty(&p);
	key(&p, KEY_SYSRQ, true);
	EXPECT(&p, 0xe0, 0x12, 0xe0, 0x7c);
	key(&p, KEY_SYSRQ, false);
	EXPECT(&p, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12);
	key(&p, KEY_HANJA, true);
	key(&p, KEY_HANJA, false);
	EXPECT(&p, 0xf1);
	key(&p, KEY_MUTE, true);
	EXPECT(&p, 0xe0, 0x23);
	key(&p, KEY_102ND, true);
	EXPECT(&p, 0x61);
	key(&p, KEY_RO, true);
	EXPECT(&p, 0x51);
	assert_int_equal(ps2_kbd_key(&p, KEY_AGAIN, true), -EINVAL); /* set 3 only */
	assert_int_equal(ps2_kbd_key(&p, KEY_MAX, true), -EINVAL);
	assert_int_equal(ps2_kbd_key(&p, 0, true), -EINVAL);
}

static void test_kbd_set1_and_3(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, false);
	set_set(&p, 1);
	key(&p, KEY_A, true);
	key(&p, KEY_A, false);
	EXPECT(&p, 0x1e, 0x9e);
	key(&p, KEY_RIGHTCTRL, true);
	key(&p, KEY_RIGHTCTRL, false);
	EXPECT(&p, 0xe0, 0x1d, 0xe0, 0x9d);
	key(&p, KEY_PAUSE, true);
	EXPECT(&p, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
	key(&p, KEY_SYSRQ, true);
	key(&p, KEY_SYSRQ, false);
	EXPECT(&p, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);

	set_set(&p, 3);
	assert_false(put(&p, 0xf0));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x00));
	EXPECT(&p, 0xfa, 0x03);
	key(&p, KEY_A, true);
	key(&p, KEY_A, false);
	EXPECT(&p, 0x1c, 0xf0, 0x1c);
	key(&p, KEY_LEFTCTRL, true);
	EXPECT(&p, 0x11);
	key(&p, KEY_SYSRQ, true);
	key(&p, KEY_SYSRQ, false);
	EXPECT(&p, 0x57, 0xf0, 0x57);
	key(&p, KEY_PAUSE, true);
	key(&p, KEY_PAUSE, false);
	EXPECT(&p, 0x62, 0xf0, 0x62);
	key(&p, KEY_AGAIN, true);
	EXPECT(&p, 0x0b);
	assert_int_equal(ps2_kbd_key(&p, KEY_PLAYPAUSE, true), -EINVAL);
	/* An unknown set is refused, the current one kept. */
	assert_false(put(&p, 0xf0));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x04));
	EXPECT(&p, 0xfe);
	key(&p, KEY_A, true);
	EXPECT(&p, 0x1c);
	/* Reset brings back set 2. */
	assert_false(put(&p, 0xff));
	EXPECT(&p, 0xfa, 0xaa);
	key(&p, KEY_A, true);
	EXPECT(&p, 0x1c);
	key(&p, KEY_A, false);
	EXPECT(&p, 0xf0, 0x1c);
}

static void test_kbd_translated(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	assert_false(put(&p, 0xf0));
	EXPECT(&p, 0xfa);
	assert_false(put(&p, 0x00));
	EXPECT(&p, 0xfa, 0x41);
	key(&p, KEY_A, true);
	key(&p, KEY_A, false);
	EXPECT(&p, 0x1e, 0x9e);
	key(&p, KEY_F7, true);
	EXPECT(&p, 0x41);
	key(&p, KEY_LEFTMETA, false);
	EXPECT(&p, 0xe0, 0xdb);
	/* The swallowed 0xF0 still counts as consumed. */
	assert_int_equal(ps2_kbd_consumed(&p), ps2_kbd_queued(&p));
}

/* For every key: set 2 through translation reads exactly as set 1 raw. */
static void test_translation_table(void **state)
{
	struct irq_count c;
	struct ps2 xl, raw;
	int keys = 0;

	setup(&xl, &c, true);
	setup(&raw, &c, false);
	set_set(&raw, 1);
	for (uint16_t code = 0; code < 256; code++) {
		for (int down = 1; down >= 0; down--) {
			uint8_t b1[PS2_KEY_MAX_BYTES], b2[PS2_KEY_MAX_BYTES];
			int n1 = ps2_keymap_encode(1, code, down, b1);
			int n2 = ps2_keymap_encode(2, code, down, b2);
			int r1, r2;

			assert_int_equal(n1 < 0, n2 < 0);
			r1 = ps2_kbd_key(&raw, code, down);
			r2 = ps2_kbd_key(&xl, code, down);
			assert_int_equal(r1, n1 < 0 ? -EINVAL : 0);
			assert_int_equal(r2, n2 < 0 ? -EINVAL : 0);
			if (n1 < 0)
				continue;
			keys += down;
			while (status(&raw) & PS2_STR_OBF) {
				assert_true(status(&xl) & PS2_STR_OBF);
				assert_int_equal(ps2_port_read(&xl, PS2_DATA_PORT),
						 ps2_port_read(&raw, PS2_DATA_PORT));
			}
			expect_empty(&xl);
		}
	}
	/* The 104/105-key set, Japanese and Korean keys, multimedia keys. */
	assert_true(keys >= 140);
	assert_int_equal(ps2_kbd_consumed(&xl), ps2_kbd_queued(&xl));
	assert_int_equal(ps2_kbd_consumed(&raw), ps2_kbd_queued(&raw));
}

static void test_mouse_reset_getid(void **state)
{
	struct irq_count c = {0};
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	assert_false(cmd(&p, 0xa8));
	write_ctr(&p, PS2_CTR_KBDINT | PS2_CTR_AUXINT | PS2_CTR_SYS);
	aux(&p, 0xff);
	EXPECT_AUX(&p, 0xfa, 0xaa, 0x00);
	assert_int_equal(c.line12, 3);
	aux(&p, 0xf2);
	EXPECT_AUX(&p, 0xfa, 0x00);
	aux(&p, 0xe9);
	EXPECT_AUX(&p, 0xfa, 0x00, 0x02, 100);
	/* Each command's ACK is read before the next, as libps2 does. */
	for (size_t i = 0; i < 5; i++) {
		aux(&p, (const uint8_t[]){0xe8, 0x03, 0xe7, 0xf3, 40}[i]);
		EXPECT_AUX(&p, 0xfa);
	}
	aux(&p, 0xe9);
	EXPECT_AUX(&p, 0xfa, 0x10, 0x03, 40);
	aux(&p, 0xf6);
	EXPECT_AUX(&p, 0xfa);
	aux(&p, 0xe9);
	EXPECT_AUX(&p, 0xfa, 0x00, 0x02, 100);
	/* An answer nobody read is replaced by the next command's. */
	aux(&p, 0xf2);
	aux(&p, 0xf2);
	EXPECT_AUX(&p, 0xfa, 0xfa, 0x00);
	aux(&p, 0x42);
	EXPECT_AUX(&p, 0xfe);
	/* Wrap mode echoes until 0xEC. */
	aux(&p, 0xee);
	EXPECT_AUX(&p, 0xfa);
	aux(&p, 0xf4);
	EXPECT_AUX(&p, 0xf4);
	aux(&p, 0x12);
	EXPECT_AUX(&p, 0x12);
	aux(&p, 0xec);
	EXPECT_AUX(&p, 0xfa);
	assert_false(ps2_mouse_active(&p));
	assert_int_equal(ps2_mouse_event(&p, 1, 1, 0, 0, 0), -EAGAIN);
}

static void rate(struct ps2 *p, uint8_t r)
{
	aux(p, 0xf3);
	aux(p, r);
	EXPECT_AUX(p, 0xfa, 0xfa);
}

static void test_mouse_magic(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	rate(&p, 200);
	rate(&p, 200);
	rate(&p, 80); /* the Explorer knock first does nothing */
	assert_int_equal(ps2_mouse_id(&p), 0);
	rate(&p, 200);
	rate(&p, 100);
	rate(&p, 80);
	aux(&p, 0xf2);
	EXPECT_AUX(&p, 0xfa, 0x03);
	assert_int_equal(ps2_mouse_id(&p), 3);
	rate(&p, 200);
	rate(&p, 200);
	rate(&p, 80);
	aux(&p, 0xf2);
	EXPECT_AUX(&p, 0xfa, 0x04);
	assert_int_equal(ps2_mouse_id(&p), 4);
	aux(&p, 0xff);
	EXPECT_AUX(&p, 0xfa, 0xaa, 0x00);
	assert_int_equal(ps2_mouse_id(&p), 0);
}

static void test_mouse_packets(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	assert_int_equal(ps2_mouse_event(&p, 10, -5, 3, 7, 0x19), 0);
	EXPECT_AUX(&p, 0x09, 10, 5); /* left only, y up, no wheel */
	assert_int_equal(ps2_mouse_event(&p, -3, 4, 0, 0, 0x02), 0);
	EXPECT_AUX(&p, 0x3a, 0xfd, 0xfc);
	assert_int_equal(ps2_mouse_event(&p, 0, 0, 0, 0, 0x02), 0); /* nothing new */
	expect_empty(&p);
	assert_int_equal(ps2_mouse_event(&p, 0, 0, 0, 0, 0x00), 0);
	EXPECT_AUX(&p, 0x08, 0, 0);

	rate(&p, 200);
	rate(&p, 100);
	rate(&p, 80);
	aux(&p, 0xf4);
	EXPECT_AUX(&p, 0xfa);
	assert_int_equal(ps2_mouse_event(&p, 1, 0, 1, 0, 0x04), 0);
	EXPECT_AUX(&p, 0x0c, 1, 0, 0xff); /* wheel away: negative z */
	assert_int_equal(ps2_mouse_event(&p, 0, 0, -2, 0, 0x04), 0);
	EXPECT_AUX(&p, 0x0c, 0, 0, 0x02);

	rate(&p, 200);
	rate(&p, 200);
	rate(&p, 80);
	assert_int_equal(ps2_mouse_event(&p, 0, 0, -1, 0, 0x18), 0);
	EXPECT_AUX(&p, 0x08, 0, 0, 0x31);
	assert_int_equal(ps2_mouse_event(&p, 0, 0, 0, 2, 0x18), 0);
	EXPECT_AUX(&p, 0x08, 0, 0, 0x7e); /* horizontal: 0x40 | -2 in 6 bits */
	assert_int_equal(ps2_mouse_event(&p, 0, 0, 20, 0, 0), 0);
	EXPECT_AUX(&p, 0x08, 0, 0, 0x08, 0x08, 0, 0, 0x08, 0x08, 0, 0, 0x0c);
}

static void test_mouse_split(void **state)
{
	struct irq_count c;
	struct ps2 p;
	uint64_t q;

	setup(&p, &c, true);
	assert_int_equal(ps2_mouse_event(&p, 600, -300, 0, 0, 0), 0);
	EXPECT_AUX(&p, 0x08, 255, 255, 0x08, 255, 45, 0x08, 90, 0);
	assert_int_equal(ps2_mouse_event(&p, -600, 0, 0, 0, 0), 0);
	EXPECT_AUX(&p, 0x18, 0x00, 0, 0x18, 0x00, 0, 0x18, 0xa8, 0);
	/* Beyond a whole queue: one queue's worth, overflow flagged last. */
	q = ps2_mouse_queued(&p);
	assert_int_equal(ps2_mouse_event(&p, 1000000, 0, 0, 0, 0), 0);
	assert_int_equal(ps2_mouse_queued(&p) - q, PS2_MOUSE_QUEUE_CAP / 3 * 3);
	for (int i = 0; i < PS2_MOUSE_QUEUE_CAP / 3; i++) {
		uint8_t b0 = ps2_port_read(&p, PS2_DATA_PORT);

		assert_int_equal(b0, i == PS2_MOUSE_QUEUE_CAP / 3 - 1 ? 0x48 : 0x08);
		assert_int_equal(ps2_port_read(&p, PS2_DATA_PORT), 255);
		assert_int_equal(ps2_port_read(&p, PS2_DATA_PORT), 0);
	}
	expect_empty(&p);
	assert_int_equal(ps2_mouse_consumed(&p), ps2_mouse_queued(&p));
}

static void test_mouse_remote(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	aux(&p, 0xf0);
	EXPECT_AUX(&p, 0xfa);
	assert_false(ps2_mouse_active(&p));
	assert_int_equal(ps2_mouse_event(&p, 5, 0, 0, 0, 1), 0);
	assert_int_equal(ps2_mouse_event(&p, 400, 2, 0, 0, 1), 0);
	expect_empty(&p);
	aux(&p, 0xeb);
	EXPECT_AUX(&p, 0xfa, 0x69, 255, 0xfe);
	aux(&p, 0xeb);
	EXPECT_AUX(&p, 0xfa, 0x09, 0, 0);
	aux(&p, 0xea);
	EXPECT_AUX(&p, 0xfa);
	assert_true(ps2_mouse_active(&p));
}

static void test_bounded_queues(void **state)
{
	struct irq_count c;
	struct ps2 p;
	uint64_t q;
	int n = 0, r;

	setup(&p, &c, false);
	while ((r = ps2_kbd_key(&p, KEY_A, true)) == 0)
		n++;
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(n, PS2_KBD_QUEUE_CAP + 1); /* the queue and the output buffer */
	assert_int_equal(ps2_kbd_queued(&p), (uint64_t)n);
	assert_int_equal(ps2_kbd_consumed(&p), 0);
	/* Two bytes: one read frees one place, not enough. */
	assert_int_equal(ps2_kbd_key(&p, KEY_A, false), -ENOSPC);
	assert_int_equal(ps2_port_read(&p, PS2_DATA_PORT), 0x1c);
	assert_int_equal(ps2_kbd_consumed(&p), 1);
	assert_int_equal(ps2_kbd_key(&p, KEY_A, false), -ENOSPC);
	assert_int_equal(ps2_port_read(&p, PS2_DATA_PORT), 0x1c);
	q = ps2_kbd_queued(&p);
	assert_int_equal(ps2_kbd_key(&p, KEY_A, false), 0);
	assert_int_equal(ps2_kbd_queued(&p), q + 2);
	/* All-or-nothing: Pause's eight bytes do not go in part. */
	while (ps2_port_read(&p, PS2_DATA_PORT) != 0xf0)
		;
	assert_int_equal(ps2_kbd_key(&p, KEY_PAUSE, true), 0);
	while (ps2_kbd_key(&p, KEY_A, true) == 0)
		;
	q = ps2_kbd_queued(&p);
	for (int i = 0; i < 7; i++)
		ps2_port_read(&p, PS2_DATA_PORT);
	assert_int_equal(ps2_kbd_key(&p, KEY_PAUSE, true), -ENOSPC);
	assert_int_equal(ps2_kbd_queued(&p), q);
	while (status(&p) & PS2_STR_OBF)
		ps2_port_read(&p, PS2_DATA_PORT);
	assert_int_equal(ps2_kbd_consumed(&p), ps2_kbd_queued(&p));

	/* The mouse: whole packets only. */
	n = 0;
	while ((r = ps2_mouse_event(&p, 1, 0, 0, 0, 0)) == 0)
		n++;
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(n, (PS2_MOUSE_QUEUE_CAP + 1) / 3);
	assert_true(ps2_mouse_queued(&p) - ps2_mouse_consumed(&p) <= PS2_MOUSE_QUEUE_CAP + 1);
	/* A command flushing the device counts its bytes as consumed. */
	aux(&p, 0xf5);
	EXPECT_AUX(&p, 0x08, 0xfa); /* the byte already in the output buffer stays */
	assert_int_equal(ps2_mouse_consumed(&p), ps2_mouse_queued(&p));
}

static void test_eagain(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	assert_false(put(&p, 0xf5));
	EXPECT(&p, 0xfa);
	assert_false(ps2_kbd_active(&p));
	assert_int_equal(ps2_kbd_key(&p, KEY_A, true), -EAGAIN);
	assert_false(put(&p, 0xf4));
	EXPECT(&p, 0xfa);
	key(&p, KEY_A, true);
	EXPECT(&p, 0x1e);
	assert_false(cmd(&p, 0xad));
	assert_int_equal(ps2_kbd_key(&p, KEY_A, true), -EAGAIN);
	assert_false(cmd(&p, 0xae));
	write_ctr(&p, PS2_CTR_AUXINT | PS2_CTR_SYS | PS2_CTR_XLATE);
	assert_int_equal(ps2_kbd_key(&p, KEY_A, true), -EAGAIN);
	assert_int_equal(ps2_mouse_event(&p, 1, 0, 0, 0, 0), 0);
	EXPECT_AUX(&p, 0x08, 1, 0);
	assert_false(cmd(&p, 0xa7));
	assert_int_equal(ps2_mouse_event(&p, 1, 0, 0, 0, 0), -EAGAIN);
	assert_false(cmd(&p, 0xa8));
	aux(&p, 0xf5);
	EXPECT_AUX(&p, 0xfa);
	assert_int_equal(ps2_mouse_event(&p, 1, 0, 0, 0, 0), -EAGAIN);
	/* An invalid key is refused as such even while the keyboard is off. */
	assert_int_equal(ps2_kbd_key(&p, 0x1ff, true), -EINVAL);
}

static void test_irq(void **state)
{
	struct irq_count c;
	struct ps2 p;

	setup(&p, &c, true);
	memset(&c, 0, sizeof(c));
	key(&p, KEY_RIGHTCTRL, true);
	assert_int_equal(c.line1, 1);
	ps2_port_read(&p, PS2_DATA_PORT);
	assert_int_equal(c.line1, 2);
	ps2_port_read(&p, PS2_DATA_PORT);
	assert_int_equal(c.line1, 2);
	assert_int_equal(ps2_mouse_event(&p, 1, 1, 0, 0, 0), 0);
	assert_int_equal(c.line12, 1);
	EXPECT_AUX(&p, 0x28, 1, 0xff);
	assert_int_equal(c.line12, 3);
	assert_int_equal(c.line1, 2);
	/* Interrupts off in the CTR: bytes flow, no pulses. */
	write_ctr(&p, PS2_CTR_SYS);
	assert_int_equal(c.line1, 2);
	assert_false(cmd(&p, 0x20));
	assert_int_equal(c.line1, 2);
	/* Turning the interrupt on with a byte waiting pulses once. */
	assert_false(cmd(&p, 0x60));
	assert_false(put(&p, PS2_CTR_SYS | PS2_CTR_KBDINT));
	assert_int_equal(c.line1, 3);
	EXPECT(&p, PS2_CTR_SYS);
	assert_int_equal(c.other, 0);
}

static void test_reset_requests(void **state)
{
	struct irq_count c = {0};
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	assert_true(cmd(&p, 0xfe));
	assert_true(cmd(&p, 0xf0));
	assert_true(cmd(&p, 0xfc));
	assert_false(cmd(&p, 0xff));
	assert_false(cmd(&p, 0xf1));
	assert_false(cmd(&p, 0xd1));
	assert_false(put(&p, 0xdf));
	assert_false(cmd(&p, 0xd1));
	assert_true(put(&p, 0xde));
	assert_false(put(&p, 0xee)); /* a keyboard byte now, not the output port */
	EXPECT(&p, 0xee);
}

static uint64_t prng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random port traffic (biased to the commands that matter) and injections:
 * nothing crashes, every queue stays bounded, the books always balance. */
static void test_hostile(void **state)
{
	static const uint8_t cmds[] = {0x20, 0x60, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xad, 0xae,
				       0xc0, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xe0, 0xff};
	static const uint8_t devcmds[] = {0xed, 0xee, 0xf0, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
					  0xfe, 0xff, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0x00,
					  0x01, 0x02, 0x03, 200,  100,	80};
	struct irq_count c = {0};
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	struct ps2 p;

	ps2_init(&p, on_irq, &c);
	for (int i = 0; i < 300000; i++) {
		uint64_t r = prng(&s);
		uint8_t v = (uint8_t)(r >> 8);
		bool reset;

		switch (r % 8) {
		case 0:
			v = cmds[(r >> 16) % sizeof(cmds)];
			/* fall through */
		case 1:
			reset = cmd(&p, v);
			assert_int_equal(reset, (v & 0xf1) == 0xf0);
			break;
		case 2:
			v = devcmds[(r >> 16) % sizeof(devcmds)];
			/* fall through */
		case 3: put(&p, v); break;
		case 4:
		case 5: ps2_port_read(&p, (r >> 20) & 1 ? PS2_CMD_PORT : PS2_DATA_PORT); break;
		case 6: ps2_kbd_key(&p, (uint16_t)(r >> 16) % 300, (r >> 40) & 1); break;
		case 7:
			ps2_mouse_event(&p, (int32_t)(r >> 16) >> (r & 0x18), (int8_t)(r >> 48),
					(int8_t)(r >> 56) >> 4, (int8_t)(r >> 40) >> 4,
					(uint8_t)(r >> 32));
			break;
		}
		assert_true(ps2_kbd_consumed(&p) <= ps2_kbd_queued(&p));
		assert_true(ps2_kbd_queued(&p) - ps2_kbd_consumed(&p) <= PS2_KBD_QUEUE_CAP + 1);
		assert_true(ps2_mouse_consumed(&p) <= ps2_mouse_queued(&p));
		assert_true(ps2_mouse_queued(&p) - ps2_mouse_consumed(&p) <=
			    PS2_MOUSE_QUEUE_CAP + 1);
		assert_true(ps2_mouse_id(&p) == 0 || ps2_mouse_id(&p) == 3 ||
			    ps2_mouse_id(&p) == 4);
		assert_true(ps2_kbd_leds(&p) <= 7);
		assert_false(status(&p) & PS2_STR_IBF);
	}
	assert_int_equal(c.other, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_test),
		cmocka_unit_test(test_ctr_and_ram),
		cmocka_unit_test(test_interface_tests),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_kbd_reset_and_ids),
		cmocka_unit_test(test_kbd_leds),
		cmocka_unit_test(test_kbd_set2_raw),
		cmocka_unit_test(test_kbd_set1_and_3),
		cmocka_unit_test(test_kbd_translated),
		cmocka_unit_test(test_translation_table),
		cmocka_unit_test(test_mouse_reset_getid),
		cmocka_unit_test(test_mouse_magic),
		cmocka_unit_test(test_mouse_packets),
		cmocka_unit_test(test_mouse_split),
		cmocka_unit_test(test_mouse_remote),
		cmocka_unit_test(test_bounded_queues),
		cmocka_unit_test(test_eagain),
		cmocka_unit_test(test_irq),
		cmocka_unit_test(test_reset_requests),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
