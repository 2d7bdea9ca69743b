/* libFuzzer target: input bytes are a guest's accesses to the i8042 ports of
 * the input process's PS/2 model (untrusted), mixed with host injections.
 * One op at a time:
 *   0x00-0x3F, v    port access: bit 0 port 0x64 (else 0x60), bit 1 write
 *   0x40-0x7F, c    key: code c + 256 * (bit 0), bit 1 down
 *   0x80-0xBF, x y z w b  mouse event; bits 0-4 shift x and y left (large motions)
 *   0xC0-0xFF       the guest drains the output buffer
 * Checks besides the sanitizers: resets exactly when asked, the status
 * register tells the truth, interrupts only on enabled lines, queues bounded,
 * and every queued byte is read, flushed or swallowed exactly once. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "dev-procs/input/ps2.h"
#include "test/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_irq(void *opaque, int line)
{
	const struct ps2 *p = opaque;

	CHECK(line == 1 || line == 12);
	CHECK(p->out_full);
	CHECK(p->ram[0] & (line == 12 ? PS2_CTR_AUXINT : PS2_CTR_KBDINT));
}

static void fuzz_check_dev(const struct ps2_dev *d, enum ps2_src event_src, const struct ps2 *p)
{
	uint64_t in_out = p->out_full && p->out_src == event_src;

	CHECK(d->events.len <= d->events.cap);
	CHECK(d->events.head < d->events.cap);
	CHECK(d->reply_pos <= d->reply_len && d->reply_len <= PS2_REPLY_CAP);
	CHECK(d->queued == d->consumed + d->events.len + in_out);
}

static void fuzz_check(const struct ps2 *p)
{
	CHECK(p->kbd.dev.events.cap == PS2_KBD_QUEUE_CAP);
	CHECK(p->mouse.dev.events.cap == PS2_MOUSE_QUEUE_CAP);
	fuzz_check_dev(&p->kbd.dev, PS2_SRC_KBD_EVENT, p);
	fuzz_check_dev(&p->mouse.dev, PS2_SRC_AUX_EVENT, p);
	CHECK(p->kbd.set >= 1 && p->kbd.set <= 3);
	CHECK(p->mouse.id == 0 || p->mouse.id == 3 || p->mouse.id == 4);
	/* Nothing waits while the output buffer is empty and the way is open. */
	if (!p->out_full)
		CHECK(!p->ctl_full);
}

static void fuzz_port(struct ps2 *p, uint8_t op, uint8_t v)
{
	uint16_t port = op & 1 ? PS2_CMD_PORT : PS2_DATA_PORT;
	bool want;
	uint8_t st;

	if (op & 2) {
		if (port == PS2_CMD_PORT)
			want = (v & 0xf1) == 0xf0;
		else
			want = p->pending == 0xd1 && !(v & 1);
		CHECK(ps2_port_write(p, port, v) == want);
		CHECK(p->cmd_last == (port == PS2_CMD_PORT));
		if (port == PS2_CMD_PORT && v == 0xaa)
			CHECK(p->ram[0] == PS2_CTR_DEFAULT);
		if (want)
			ps2_init(p, fuzz_irq, p); /* what the VM does: a new machine */
		return;
	}
	if (port == PS2_CMD_PORT) {
		st = ps2_port_read(p, port);
		CHECK(!!(st & PS2_STR_OBF) == p->out_full);
		CHECK(!(st & PS2_STR_IBF));
		CHECK(!(st & PS2_STR_AUXB) || (st & PS2_STR_OBF));
		return;
	}
	(void)ps2_port_read(p, port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ps2 p;
	size_t i = 0;

	ps2_init(&p, fuzz_irq, &p);
	while (i < size) {
		uint8_t op = data[i++];

		if (op < 0x40) {
			if (i >= size)
				break;
			fuzz_port(&p, op, data[i++]);
		} else if (op < 0x80) {
			uint16_t code;
			uint64_t q = p.kbd.dev.queued;
			int r;

			if (i >= size)
				break;
			code = (uint16_t)(data[i++] | (op & 1) << 8);
			r = ps2_kbd_key(&p, code, op & 2);
			CHECK(r == 0 || r == -ENOSPC || r == -EAGAIN || r == -EINVAL);
			if (r < 0)
				CHECK(p.kbd.dev.queued == q);
			if (r == -EAGAIN)
				CHECK(!ps2_kbd_active(&p));
		} else if (op < 0xc0) {
			uint64_t q = p.mouse.dev.queued;
			int32_t x, y;
			int r;

			if (size - i < 5)
				break;
			x = (int32_t)((uint32_t)(int8_t)data[i] << (op & 0x1f));
			y = (int32_t)((uint32_t)(int8_t)data[i + 1] << (op & 0x1f));
			r = ps2_mouse_event(&p, x, y, (int8_t)data[i + 2], (int8_t)data[i + 3],
					    data[i + 4]);
			i += 5;
			CHECK(r == 0 || r == -ENOSPC || r == -EAGAIN);
			if (r < 0)
				CHECK(p.mouse.dev.queued == q);
		} else {
			for (int n = 0; n < 4 * PS2_MOUSE_QUEUE_CAP && p.out_full; n++)
				(void)ps2_port_read(&p, PS2_DATA_PORT);
		}
		fuzz_check(&p);
	}
	return 0;
}
