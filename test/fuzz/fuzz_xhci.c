/* libFuzzer target for the input process's xHCI controller (dev-procs/input/
 * xhci.c, xhci_ring.c) with its three USB HID devices on root ports 1-3,
 * in-process: the input is a guest driving the register BAR and writing
 * rings, TRBs and contexts into 16 MiB of guest RAM (untrusted), mixed with
 * host injections. One op at a time:
 *   0x00-0x3F  o16 v64    register write of 1 << (op & 3) bytes at o16
 *   0x40-0x7F  o16        register read, the same sizes
 *   0x80-0x9F  g16 n b... n + 1 bytes copied to guest RAM at g16 * 16
 *   0xA0-0xBF  a          a record injected into device (op & 3) % 3
 *                         (bit 2: down/press; bits 3-4: which record)
 *   0xC0-0xFF  ...        driver shortcuts (op & 7): 0 reset and run with
 *                         the DCBAA at 0x10000, the command ring at
 *                         0x11000, one event ring segment of 256 TRBs at
 *                         0x12000 (ERST at 0x13000); 1 doorbell 0; 2 s t:
 *                         doorbell s % 10, target t; 3 the driver caught
 *                         up (ERDP to the enqueue point, EHB cleared);
 *                         4 p: reset port p % 8 + 1; others: nothing
 * Checks besides the sanitizers: reads past the registers are 0 and narrow
 * reads fit their width, a controller with HSE or HCE is halted, the event
 * ring's enqueue point stays in its segment, slot and endpoint states stay
 * in range, the devices' report queues stay bounded and every report queued
 * is queued, fetched or dropped exactly once. With FUZZ_SEEDGEN it writes
 * its seeds instead (the device tests' hostile cases) into argv[1]. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "test/fuzz/fuzz_check.h"
#include "test/fuzz/fuzz_seedfile.h"

#define DCBAA	   0x10000ULL
#define CMD_RING   0x11000ULL
#define EV_RING	   0x12000ULL
#define ERST	   0x13000ULL
#define OP_USBCMD  0x40
#define OP_CRCR	   0x58
#define OP_DCBAAP  0x70
#define OP_CONFIG  0x78
#define RT_IMAN	   0x1020
#define RT_ERSTSZ  0x1028
#define RT_ERSTBA  0x1030
#define RT_ERDP	   0x1038
#define PORTSC(p)  (0x440 + 16 * ((p)-1))
#define DB(s)	   (0x2000 + 4 * (s))
#define REG_WINDOW 0x3400 /* offsets reach a little past the registers */

#ifndef FUZZ_SEEDGEN
#include "common/gmem.h"
#include "dev-procs/input/usb_hid.h"
#include "dev-procs/input/xhci.h"
#include "dev-procs/input/xhci_int.h"

#define RAM_SIZE GMEM_MIN_SIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct gmem mem;
static struct xhci x;
static struct usb_hid dev[USB_HID_KINDS];
static uint64_t irqs;

static void fuzz_irq(void *opaque)
{
	CHECK(opaque == &x);
	irqs++;
}

static void fuzz_check(void)
{
	const struct xhci_intr *in = &x.intr;

	if (x.usbsts & (USBSTS_HSE | USBSTS_HCE))
		CHECK((x.usbsts & USBSTS_HCH) && !xhci_running(&x));
	if (in->seg_size) {
		CHECK(in->enq < in->seg_size);
		CHECK(in->nseg <= XHCI_ERST_MAX && in->seg < in->nseg);
		CHECK(gmem_range_ok(&mem, in->seg_base, (uint64_t)in->seg_size * XHCI_TRB_LEN));
	}
	for (uint32_t i = 1; i <= XHCI_MAX_SLOTS; i++) {
		const struct xhci_slot *s = &x.slot[i];

		if (!s->enabled)
			continue;
		CHECK(s->state <= SLOT_CONFIGURED);
		CHECK(s->port <= XHCI_PORTS);
		for (uint32_t d = 1; d <= XHCI_MAX_EPS; d++)
			CHECK(s->ep[d].state <= EP_ERROR);
	}
	for (uint32_t k = 0; k < USB_HID_KINDS; k++) {
		const struct usb_hid *h = &dev[k];

		CHECK(h->qlen <= USB_HID_QUEUE && h->qhead < USB_HID_QUEUE);
		CHECK(h->queued == h->consumed + h->qlen);
		CHECK(h->address < 128 && h->configuration <= 1);
	}
}

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void fuzz_wr(uint64_t off, uint32_t size, uint64_t v)
{
	xhci_write(&x, off, size, v);
}

static void fuzz_inject(uint8_t op, uint8_t a)
{
	struct usb_hid *h = &dev[(op & 3) % 3];
	bool down = op & 4;
	uint32_t which = (op >> 3) & 3;
	struct cellvm_input_event e = {0};
	uint64_t queued = h->queued;
	int r;

	if (h->kind == USB_HID_KEYBOARD) {
		e.kind = down ? CELLVM_INPUT_KEY_DOWN : CELLVM_INPUT_KEY_UP;
		e.code = which == 3 ? KEY_LEFTSHIFT : a;
	} else if (which == 0) {
		e.kind = h->kind == USB_HID_MOUSE ? CELLVM_INPUT_REL_MOVE : CELLVM_INPUT_ABS_MOVE;
		e.a = h->kind == USB_HID_MOUSE ? (int8_t)a * (down ? 300 : 1) : a * 128;
		e.b = h->kind == USB_HID_MOUSE ? -(int8_t)a : (255 - a) * 128;
	} else if (which == 1) {
		e.kind = CELLVM_INPUT_WHEEL;
		e.a = (int8_t)a;
		e.b = down ? 1 : 0;
	} else {
		e.kind = down ? CELLVM_INPUT_BTN_DOWN : CELLVM_INPUT_BTN_UP;
		e.code = a % CELLVM_INPUT_BTN_COUNT;
	}
	r = usb_hid_post(h, &e);
	CHECK(r == 0 || r == -ENOSPC || r == -EINVAL);
	if (r == 0) {
		CHECK(h->queued > queued);
		xhci_dev_ready(&x, h);
	} else {
		CHECK(h->queued == queued);
	}
}

static void fuzz_init(void)
{
	uint32_t erst[4] = {(uint32_t)EV_RING, 0, 256, 0};

	fuzz_wr(OP_USBCMD, 4, 2);
	memcpy(ram + ERST, erst, sizeof(erst));
	fuzz_wr(OP_CONFIG, 4, XHCI_MAX_SLOTS);
	fuzz_wr(OP_DCBAAP, 8, DCBAA);
	fuzz_wr(OP_CRCR, 8, CMD_RING | 1);
	fuzz_wr(RT_ERSTSZ, 4, 1);
	fuzz_wr(RT_ERDP, 8, EV_RING);
	fuzz_wr(RT_ERSTBA, 8, ERST);
	fuzz_wr(RT_IMAN, 4, 2);
	fuzz_wr(OP_USBCMD, 4, 1U | 1U << 2 | 1U << 3);
}

/* One shortcut; returns the argument bytes it took. */
static size_t fuzz_macro(uint8_t op, const uint8_t *p, size_t left)
{
	switch (op & 7) {
	case 0: fuzz_init(); return 0;
	case 1: fuzz_wr(DB(0), 4, 0); return 0;
	case 2:
		if (left < 2)
			return left;
		fuzz_wr(DB(p[0] % 10), 4, p[1]);
		return 2;
	case 3:
		if (x.intr.seg_size)
			fuzz_wr(RT_ERDP, 8,
				(x.intr.seg_base + (uint64_t)x.intr.enq * XHCI_TRB_LEN) | 8);
		return 0;
	case 4:
		if (left < 1)
			return left;
		fuzz_wr(PORTSC(p[0] % XHCI_PORTS + 1), 4, 1U << 9 | 1U << 4);
		return 1;
	default: return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	if (!ram) {
		ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		CHECK(ram != MAP_FAILED);
		CHECK(gmem_init(&mem, ram, RAM_SIZE) == 0);
	}
	/* Fresh zeroed RAM for each input: pages touched before come back. */
	CHECK(madvise(ram, RAM_SIZE, MADV_DONTNEED) == 0);
	irqs = 0;
	xhci_init(&x, &mem, fuzz_irq, &x);
	for (uint32_t k = 0; k < USB_HID_KINDS; k++) {
		usb_hid_init(&dev[k], (enum usb_hid_kind)k, NULL);
		CHECK(xhci_attach(&x, k + 1, &dev[k]) == 0);
	}
	CHECK(xhci_attach(&x, 1, &dev[0]) == -EBUSY);
	CHECK(xhci_attach(&x, 5, &dev[0]) == -EINVAL);
	while (i < size) {
		uint8_t op = data[i++];
		size_t left = size - i;

		if (op < 0x40) {
			uint32_t sz = 1U << (op & 3);

			if (left < 10)
				break;
			fuzz_wr(le(data + i, 2) % REG_WINDOW, sz, le(data + i + 2, 8));
			i += 10;
		} else if (op < 0x80) {
			uint32_t sz = 1U << (op & 3);
			uint64_t off, v;

			if (left < 2)
				break;
			off = le(data + i, 2) % REG_WINDOW;
			i += 2;
			v = xhci_read(&x, off, sz);
			if (off >= XHCI_REGS_END)
				CHECK(v == 0);
			if (sz < 8)
				CHECK(v < (1ULL << (8 * sz)));
		} else if (op < 0xa0) {
			uint64_t gpa;
			size_t n;

			if (left < 3)
				break;
			gpa = le(data + i, 2) * 16;
			n = (size_t)data[i + 2] + 1;
			i += 3;
			if (n > size - i)
				n = size - i;
			memcpy(ram + gpa, data + i, n);
			i += n;
		} else if (op < 0xc0) {
			if (left < 1)
				break;
			fuzz_inject(op, data[i++]);
		} else {
			i += fuzz_macro(op, data + i, left);
		}
		fuzz_check();
	}
	return 0;
}

#else /* FUZZ_SEEDGEN: the seeds, one file per hostile case */

#define SLOT_OUT 0x20000ULL
#define IN_CTX	 0x21000ULL
#define EP0	 0x22000ULL
#define EP1	 0x23000ULL
#define BUF	 0x24000ULL
#define OUTSIDE	 0x80000000ULL

struct seq {
	uint8_t b[16384];
	size_t n;
	uint32_t cmd; /* next command TRB index */
	uint32_t ep0; /* next EP0 TRB index */
};

static void put(struct seq *s, const void *p, size_t n)
{
	if (s->n + n > sizeof(s->b)) {
		fprintf(stderr, "seed too long\n");
		exit(1);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put_le(struct seq *s, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));

		put(s, &c, 1);
	}
}

static void op(struct seq *s, uint8_t o)
{
	put(s, &o, 1);
}

static void wr(struct seq *s, uint32_t off, uint32_t size, uint64_t v)
{
	op(s, (uint8_t)(size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3));
	put_le(s, off, 2);
	put_le(s, v, 8);
}

static void rd(struct seq *s, uint32_t off, uint32_t size)
{
	op(s, (uint8_t)(0x40 | (size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3)));
	put_le(s, off, 2);
}

/* Bytes into guest RAM at gpa (16-byte aligned), in pieces of 256. */
static void blob(struct seq *s, uint64_t gpa, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		size_t k = n < 256 ? n : 256;

		op(s, 0x80);
		put_le(s, gpa / 16, 2);
		op(s, (uint8_t)(k - 1));
		put(s, b, k);
		b += k;
		gpa += k;
		n -= k;
	}
}

/* A TRB with cycle bit 1 (the rings' first lap), or as given in control. */
static void trb_raw(struct seq *s, uint64_t gpa, uint64_t param, uint32_t status, uint32_t control)
{
	uint32_t d[4] = {(uint32_t)param, (uint32_t)(param >> 32), status, control};

	blob(s, gpa, d, sizeof(d));
}

static void trb(struct seq *s, uint64_t gpa, uint64_t param, uint32_t status, uint32_t control)
{
	trb_raw(s, gpa, param, status, control | 1);
}

static void command(struct seq *s, uint64_t param, uint32_t control)
{
	trb(s, CMD_RING + 16ULL * s->cmd++, param, 0, control);
	op(s, 0xc1);
	op(s, 0xc3);
}

static void ep0_trb(struct seq *s, uint64_t param, uint32_t status, uint32_t control)
{
	trb(s, EP0 + 16ULL * s->ep0++, param, status, control);
}

static void doorbell(struct seq *s, uint8_t slot, uint8_t target)
{
	op(s, 0xc2);
	op(s, slot);
	op(s, target);
	op(s, 0xc3);
}

static void address_ctx(struct seq *s, uint32_t port, uint32_t add)
{
	uint32_t c[24] = {0};

	c[1] = add;
	c[8] = 1U << 27 | 1U << 20;
	c[9] = port << 16;
	c[17] = 3U << 1 | 4U << 3 | 64U << 16;
	c[18] = (uint32_t)EP0 | 1;
	c[20] = 8;
	blob(s, IN_CTX, c, sizeof(c));
}

/* Reset, run, port 1 reset, slot 1 enabled (and addressed). */
static void base(struct seq *s, bool address)
{
	const uint64_t dcbaa[2] = {0, SLOT_OUT}; /* blobs start 16-byte aligned */

	*s = (struct seq){0};
	op(s, 0xc0);
	op(s, 0xc4);
	op(s, 0);
	command(s, 0, 9U << 10);
	blob(s, DCBAA, dcbaa, sizeof(dcbaa));
	if (!address)
		return;
	address_ctx(s, 1, 3);
	command(s, IN_CTX, 11U << 10 | 1U << 24);
}

static void control(struct seq *s, uint64_t setup, uint64_t buf, uint32_t len, bool in)
{
	ep0_trb(s, setup, 8, 2U << 10 | 1U << 6 | (len ? (in ? 3U : 2U) : 0) << 16);
	if (len)
		ep0_trb(s, buf, len, 3U << 10 | 1U << 2 | (in ? 1U << 16 : 0));
	ep0_trb(s, 0, 0, 4U << 10 | 1U << 5 | (in && len ? 0 : 1U << 16));
	doorbell(s, 1, 1);
}

static void emit(const char *dir, const char *name, const struct seq *s)
{
	fuzz_seed_write(dir, name, s->b, s->n);
}

int main(int argc, char **argv)
{
	static struct seq s;
	uint32_t c[40] = {0};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}

	/* A whole enumeration, a report, the LEDs. */
	base(&s, true);
	control(&s, 0x0012000001000680ULL, BUF, 18, true);
	control(&s, 0x0022000002000680ULL, BUF, 34, true);
	control(&s, 0x00ff000003020680ULL, BUF, 255, true);
	control(&s, 0x0000000000010900ULL, 0, 0, false);
	c[1] = 1U | 1U << 3;
	c[8] = 3U << 27 | 1U << 20;
	c[9] = 1U << 16;
	c[33] = 3U << 1 | 7U << 3 | 8U << 16;
	c[34] = (uint32_t)EP1 | 1;
	blob(&s, IN_CTX, c, sizeof(c));
	command(&s, IN_CTX, 12U << 10 | 1U << 24);
	trb(&s, EP1, BUF + 0x100, 8, 1U << 10 | 1U << 5 | 1U << 2);
	doorbell(&s, 1, 3);
	op(&s, 0xa4); /* key down */
	op(&s, KEY_A);
	op(&s, 0xc3);
	blob(&s, BUF + 0x200, &(uint8_t){2}, 1);
	control(&s, 0x0001000002000921ULL, BUF + 0x200, 1, false);
	control(&s, 0x00000000000b21ULL, 0, 0, false); /* boot protocol */
	emit(argv[1], "enumerate", &s);

	/* A command ring of one link TRB pointing at itself. */
	base(&s, false);
	trb(&s, CMD_RING + 16ULL * s.cmd, CMD_RING + 16ULL * s.cmd, 0, 6U << 10);
	op(&s, 0xc1);
	rd(&s, 0x44, 4);
	emit(argv[1], "cmd_link_loop", &s);

	/* EP0's ring: a link to itself. */
	base(&s, true);
	ep0_trb(&s, EP0, 0, 6U << 10);
	doorbell(&s, 1, 1);
	doorbell(&s, 1, 1);
	emit(argv[1], "ep0_link_loop", &s);

	/* 70 chained TRBs. */
	base(&s, true);
	ep0_trb(&s, 0x0012000001000680ULL, 8, 2U << 10 | 1U << 6 | 1U << 4 | 3U << 16);
	for (int i = 0; i < 69; i++)
		ep0_trb(&s, BUF, 1, 3U << 10 | 1U << 4 | 1U << 16);
	doorbell(&s, 1, 1);
	emit(argv[1], "endless_chain", &s);

	/* A data buffer outside RAM. */
	base(&s, true);
	control(&s, 0x0012000001000680ULL, OUTSIDE, 18, true);
	emit(argv[1], "buffer_outside", &s);

	/* The DCBAA outside RAM. */
	base(&s, false);
	wr(&s, OP_DCBAAP, 8, OUTSIDE);
	address_ctx(&s, 1, 3);
	command(&s, IN_CTX, 11U << 10 | 1U << 24);
	rd(&s, 0x44, 4);
	emit(argv[1], "dcbaa_outside", &s);

	/* The event ring segment table outside RAM, then a bad segment. */
	base(&s, false);
	wr(&s, RT_ERSTBA, 8, OUTSIDE);
	op(&s, 0xc0);
	blob(&s, ERST, (uint32_t[4]){(uint32_t)EV_RING, 0, 8, 0}, 16);
	wr(&s, RT_ERSTBA, 8, ERST);
	wr(&s, OP_USBCMD, 4, 1);
	emit(argv[1], "erst_outside", &s);

	/* Input contexts: wrong add flags, drop flags, root port 9 and 0,
	 * an empty port. */
	base(&s, false);
	address_ctx(&s, 1, 7);
	command(&s, IN_CTX, 11U << 10 | 1U << 24);
	address_ctx(&s, 9, 3);
	command(&s, IN_CTX, 11U << 10 | 1U << 24);
	address_ctx(&s, 0, 3);
	command(&s, IN_CTX, 11U << 10 | 1U << 24);
	address_ctx(&s, 5, 3);
	command(&s, IN_CTX, 11U << 10 | 1U << 24);
	emit(argv[1], "bad_input_ctx", &s);

	/* Slot ids 0 and 200 in commands. */
	base(&s, false);
	address_ctx(&s, 1, 3);
	command(&s, IN_CTX, 11U << 10);
	command(&s, IN_CTX, 11U << 10 | 200U << 24);
	command(&s, 0, 10U << 10 | 200U << 24);
	command(&s, IN_CTX, 12U << 10 | 0U << 24);
	emit(argv[1], "bad_slot_ids", &s);

	/* wLength 4096 against a 64-byte data stage. */
	base(&s, true);
	control(&s, 0x1000000002000680ULL, BUF, 64, true);
	emit(argv[1], "setup_too_long", &s);

	/* Doorbells of disabled slots, a doorbell while halted, a CRCR write
	 * while running, narrow writes, reads past the registers. */
	base(&s, false);
	doorbell(&s, 5, 1);
	doorbell(&s, 9, 3);
	wr(&s, OP_USBCMD, 4, 0);
	trb(&s, CMD_RING + 16ULL * s.cmd++, 0, 0, 23U << 10);
	op(&s, 0xc1);
	wr(&s, OP_USBCMD, 4, 1);
	op(&s, 0xc1);
	wr(&s, OP_CRCR, 8, 0x30001);
	wr(&s, OP_USBCMD, 1, 0);
	wr(&s, OP_USBCMD, 2, 0);
	wr(&s, OP_CONFIG, 1, 2);
	rd(&s, 0x2ffc, 4);
	rd(&s, 0x3000, 4);
	rd(&s, 0x3ffc, 8);
	rd(&s, 0x0001, 2);
	emit(argv[1], "registers", &s);

	/* ERSTSZ rewritten to 0 while the ring runs, then the event ring
	 * wraps: 255 No-ops, a link back (toggle cycle), ten more. */
	base(&s, false);
	wr(&s, RT_ERSTSZ, 4, 0);
	op(&s, 0xc3);
	for (uint32_t i = s.cmd; i < 255; i++)
		trb(&s, CMD_RING + 16ULL * i, 0, 0, 23U << 10);
	trb(&s, CMD_RING + 16ULL * 255, CMD_RING, 0, 6U << 10 | 1U << 1);
	op(&s, 0xc1);
	op(&s, 0xc3);
	for (uint32_t i = 0; i < 10; i++)
		trb_raw(&s, CMD_RING + 16ULL * i, 0, 0, 23U << 10);
	op(&s, 0xc1);
	op(&s, 0xc3);
	emit(argv[1], "erstsz_rewritten", &s);
	return 0;
}
#endif
