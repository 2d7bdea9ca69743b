/* Device tests for the xHCI controller of cellvm-dev-input: the real process
 * started by the launcher with the usb backend, the harness
 * (test/harness/vxhci.h) as the core on the xHCI link, as the guest's xHCI
 * and HID drivers, and as the launcher on the control channel. Covers the
 * capability registers, reset and run, ports, slots and contexts, every
 * descriptor with the configured identity, interrupt IN reports of injected
 * input and their acknowledgement once the guest took them, the boot
 * protocol, the LED output report, and hostile rings, contexts, buffers,
 * event ring setups and register accesses (after each the process still
 * answers, and the outcome is the one xHCI defines). Every wait is bounded.
 * No KVM needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/input-event-codes.h>
#include <stdio.h>
#include <string.h>

#include "test/harness/vxhci.h"

#define TMO VX_TIMEOUT_MS

#define ST_OK	   CELLVM__DEVICE__INPUT_STATUS__INPUT_OK
#define ST_PENDING CELLVM__DEVICE__INPUT_STATUS__INPUT_PENDING

#define CC_SUCCESS   1
#define CC_USB_TRANS 4
#define CC_TRB	     5
#define CC_STALL     6
#define CC_SHORT     13
#define CC_NO_SLOT   11
#define CC_PARAMETER 17

#define PORT_KBD    1
#define PORT_MOUSE  2
#define PORT_TABLET 3

static struct vxhci X;

static Cellvm__Device__UsbHidConfig kbd_id = {
	PROTOBUF_C_MESSAGE_INIT(&cellvm__device__usb_hid_config__descriptor),
	.kind = 0,
	.vendor = 0x046d,
	.product = 0xc31c,
	.release = 0x6400,
	.manufacturer = (char *)"Logitech",
	.product_name = (char *)"USB Keyboard",
	.serial = (char *)"CV-0001",
	.interval_ms = 1,
};

/* Started, reset and running: the state every case begins in. */
static int setup(void **state)
{
	Cellvm__Device__UsbHidConfig *ids[3] = {&kbd_id, NULL, NULL};

	(void)state;
	assert_int_equal(vx_start(&X, ids), 0);
	assert_int_equal(vx_reset(&X), 0);
	assert_int_equal(vx_run(&X), 0);
	return 0;
}

static int teardown(void **state)
{
	int status;

	(void)state;
	if (!X.started)
		return 0;
	status = vx_stop(&X);
	if (status != 0)
		fprintf(stderr, "device exit status %d\n", status);
	return status == 0 ? 0 : -1;
}

static uint32_t rd32(uint64_t off)
{
	uint64_t v = vx_rd(&X, off, 4);

	assert_true(v != UINT64_MAX);
	return (uint32_t)v;
}

static void wr32(uint64_t off, uint32_t v)
{
	assert_int_equal(vx_wr(&X, off, 4, v), 0);
}

/* The process survived and still answers a register read. */
static void still_answers(void)
{
	assert_true(vx_alive(&X));
	assert_int_equal(rd32(0) >> 16, 0x0100); /* HCIVERSION */
}

/* Nothing else is on the event ring: a No-op command's completion is the
 * very next event (absence shown by a later answer arriving first). */
static void no_event_but_noop(void)
{
	struct vx_trb e;
	uint64_t trb = vx_ring_put(&X, &X.cmd, 0, 0, VX_TRB_TYPE(VX_NOOP_CMD));

	wr32(VX_DB(0), 0);
	assert_int_equal(vx_event(&X, &e, TMO), 1);
	assert_int_equal(vx_ev_type(&e), VX_EV_COMMAND);
	assert_true(e.param == trb);
	assert_int_equal(vx_ev_cc(&e), CC_SUCCESS);
}

static uint8_t *host(uint64_t gpa, uint64_t len)
{
	return vx_host(&X, gpa, len);
}

static uint64_t slot_area(uint32_t s)
{
	return VX_SLOT_MEM + (uint64_t)s * VX_SLOT_SIZE;
}

/* ---- reset, capabilities, ports ---- */

static void test_reset_and_caps(void **state)
{
	uint32_t v;

	(void)state;
	/* Running: HCH clear. */
	assert_int_equal(rd32(VX_USBSTS) & VX_STS_HCH, 0);
	v = rd32(0);
	assert_int_equal(v & 0xff, 0x40);	/* CAPLENGTH */
	assert_int_equal(v >> 16, 0x0100);	/* HCIVERSION */
	v = rd32(0x04);				/* HCSPARAMS1 */
	assert_int_equal(v & 0xff, 8);		/* MaxSlots */
	assert_int_equal((v >> 8) & 0x7ff, 1);	/* MaxIntrs */
	assert_int_equal(v >> 24, 8);		/* MaxPorts */
	assert_int_equal(rd32(0x14), 0x2000);	/* DBOFF */
	assert_int_equal(rd32(0x18), 0x1000);	/* RTSOFF */
	v = rd32(0x10);				/* HCCPARAMS1 */
	assert_true(v & 1);			/* AC64 */
	assert_int_equal((v >> 16) * 4, 0x800); /* xECP */
	/* Supported Protocol: USB 2.0 ports 1-4, then USB 3.0 ports 5-8. */
	v = rd32(0x800);
	assert_int_equal(v & 0xff, 2);
	assert_int_equal(v >> 16, 0x0200);
	assert_int_equal((v >> 8) & 0xff, 4);	   /* next: 16 bytes on */
	assert_int_equal(rd32(0x804), 0x20425355); /* "USB " */
	assert_int_equal(rd32(0x808) & 0xffff, 1 | 4 << 8);
	v = rd32(0x810);
	assert_int_equal(v & 0xff, 2);
	assert_int_equal(v >> 16, 0x0300);
	assert_int_equal((v >> 8) & 0xff, 0); /* last */
	assert_int_equal(rd32(0x818) & 0xffff, 5 | 4 << 8);
	assert_int_equal(rd32(VX_OP + 0x08), 1); /* PAGESIZE 4 KiB */
	/* Stop: HCH set; run again: clear. */
	wr32(VX_USBCMD, 0);
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	assert_int_equal(vx_run(&X), 0);
	assert_int_equal(rd32(VX_USBSTS) & VX_STS_HCH, 0);
	/* HCRST halts and clears the registers. */
	assert_int_equal(vx_reset(&X), 0);
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	assert_int_equal(rd32(VX_USBCMD), 0);
	assert_int_equal(vx_run(&X), 0);
	no_event_but_noop();
}

static void test_ports(void **state)
{
	uint32_t v;

	(void)state;
	/* After reset: a device on ports 1-3 (CCS, CSC), powered, not enabled. */
	for (uint32_t p = 1; p <= 8; p++) {
		v = rd32(VX_PORTSC(p));
		assert_true(v & (1U << 9)); /* PP */
		if (p <= 3) {
			assert_true(v & 1);		      /* CCS */
			assert_true(v & (1U << 17));	      /* CSC */
			assert_false(v & 2);		      /* PED */
			assert_int_equal((v >> 10) & 0xf, 1); /* full speed */
		} else {
			assert_false(v & 1);
		}
	}
	/* Port reset: PED, PRC, U0 and a Port Status Change event. */
	for (uint32_t p = 1; p <= 3; p++) {
		struct vx_trb e;

		wr32(VX_PORTSC(p), 1U << 9 | 1U << 4);
		assert_int_equal(vx_event(&X, &e, TMO), 1);
		assert_int_equal(vx_ev_type(&e), VX_EV_PORT);
		assert_int_equal(e.param >> 24, p);
		assert_int_equal(vx_ev_cc(&e), CC_SUCCESS);
		v = rd32(VX_PORTSC(p));
		assert_true(v & 1);
		assert_true(v & 2);		     /* PED */
		assert_true(v & (1U << 21));	     /* PRC */
		assert_false(v & (1U << 4));	     /* PR done */
		assert_int_equal((v >> 5) & 0xf, 0); /* U0 */
		/* RW1C: the change bits clear, PED stays. */
		wr32(VX_PORTSC(p), 1U << 9 | 1U << 17 | 1U << 21);
		v = rd32(VX_PORTSC(p));
		assert_false(v & (1U << 21));
		assert_false(v & (1U << 17));
		assert_true(v & 2);
	}
	/* An empty port's reset: PRC without PED. */
	assert_int_equal(vx_port_reset(&X, 4), 0);
	assert_false(rd32(VX_PORTSC(4)) & 2);
	no_event_but_noop();
}

/* ---- slots, contexts, descriptors ---- */

static void get_desc(uint32_t s, uint8_t type, uint16_t value, uint16_t index, uint16_t len,
		     uint8_t *out, uint32_t *ret_len)
{
	uint64_t buf = slot_area(s) + VX_BUF;

	memset(host(buf, 512), 0xee, 512);
	assert_int_equal(vx_control(&X, s, type, 0x06, value, index, len, buf, len, ret_len),
			 CC_SUCCESS);
	memcpy(out, host(buf, len), len);
}

static void want_string(uint32_t s, uint8_t index, const char *text)
{
	uint8_t d[256];
	uint32_t n;
	size_t len = strlen(text);

	get_desc(s, 0x80, 0x0300 | index, 0x0409, 255, d, &n);
	assert_int_equal(n, 2 + 2 * len);
	assert_int_equal(d[0], 2 + 2 * len);
	assert_int_equal(d[1], 3);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(d[2 + 2 * i], (uint8_t)text[i]);
		assert_int_equal(d[3 + 2 * i], 0);
	}
}

static void test_enumerate_keyboard(void **state)
{
	uint8_t d[256];
	uint32_t n, v;
	uint16_t rlen;
	int s;

	(void)state;
	assert_int_equal(vx_port_reset(&X, PORT_KBD), 0);
	s = vx_enable_slot(&X);
	assert_int_equal(s, 1);
	assert_int_equal(vx_address(&X, 1, PORT_KBD), CC_SUCCESS);
	/* Output context: slot Addressed (2), address = slot id; EP0 running. */
	v = vx_out_dw(&X, 1, 0, 3);
	assert_int_equal(v >> 27, 2);
	assert_int_equal(v & 0xff, 1);
	assert_int_equal(vx_out_dw(&X, 1, 1, 0) & 7, 1);

	/* Device descriptor: the configured identity. */
	get_desc(1, 0x80, 0x0100, 0, 18, d, &n);
	assert_int_equal(n, 18);
	assert_int_equal(d[0], 18);
	assert_int_equal(d[1], 1);
	assert_int_equal(d[2] | d[3] << 8, 0x0200);
	assert_int_equal(d[7], 64);
	assert_int_equal(d[8] | d[9] << 8, 0x046d);
	assert_int_equal(d[10] | d[11] << 8, 0xc31c);
	assert_int_equal(d[12] | d[13] << 8, 0x6400);
	assert_int_equal(d[14], 1);
	assert_int_equal(d[15], 2);
	assert_int_equal(d[16], 3);
	assert_int_equal(d[17], 1);
	/* A short read (Linux's first 8 bytes): short packet, 8 bytes. */
	get_desc(1, 0x80, 0x0100, 0, 8, d, &n);
	assert_int_equal(n, 8);

	/* Configuration: total length, interface, HID, endpoint 0x81. */
	get_desc(1, 0x80, 0x0200, 0, 255, d, &n);
	assert_int_equal(n, 34);
	assert_int_equal(d[1], 2);
	assert_int_equal(d[2] | d[3] << 8, 34);
	assert_int_equal(d[4], 1); /* bNumInterfaces */
	assert_int_equal(d[9 + 1], 4);
	assert_int_equal(d[9 + 5], 3); /* HID */
	assert_int_equal(d[9 + 6], 1); /* boot */
	assert_int_equal(d[9 + 7], 1); /* keyboard */
	assert_int_equal(d[18 + 1], 0x21);
	assert_int_equal(d[18 + 2] | d[18 + 3] << 8, 0x0111);
	assert_int_equal(d[18 + 6], 0x22);
	assert_int_equal(d[27 + 1], 5);
	assert_int_equal(d[27 + 2], 0x81);
	assert_int_equal(d[27 + 3], 3);
	assert_int_equal(d[27 + 4] | d[27 + 5] << 8, 8);
	assert_int_equal(d[27 + 6], 1); /* bInterval */
	rlen = (uint16_t)(d[18 + 7] | d[18 + 8] << 8);

	/* Strings: languages, then each back to the configured text. */
	get_desc(1, 0x80, 0x0300, 0, 255, d, &n);
	assert_int_equal(n, 4);
	assert_int_equal(d[2] | d[3] << 8, 0x0409);
	want_string(1, 1, "Logitech");
	want_string(1, 2, "USB Keyboard");
	want_string(1, 3, "CV-0001");
	/* A string it does not have: STALL, EP0 halted; Reset Endpoint. */
	assert_int_equal(
		vx_control(&X, 1, 0x80, 0x06, 0x0304, 0, 255, slot_area(1) + VX_BUF, 255, NULL),
		CC_STALL);
	assert_int_equal(vx_out_dw(&X, 1, 1, 0) & 7, 2);
	assert_int_equal(vx_cmd_cc(&X, 0, 0, VX_TRB_TYPE(VX_RESET_EP) | 1U << 16 | 1U << 24),
			 CC_SUCCESS);

	/* HID report descriptor: the boot keyboard's, of the length the HID
	 * descriptor gave. */
	get_desc(1, 0x81, 0x2200, 0, rlen, d, &n);
	assert_int_equal(n, rlen);
	assert_int_equal(d[0], 0x05);
	assert_int_equal(d[1], 0x01);
	assert_int_equal(d[2], 0x09);
	assert_int_equal(d[3], 0x06); /* Keyboard */
	assert_int_equal(d[rlen - 1], 0xc0);

	/* SET_CONFIGURATION 1, GET_CONFIGURATION says 1. */
	assert_int_equal(vx_control(&X, 1, 0x00, 0x09, 1, 0, 0, 0, 0, NULL), CC_SUCCESS);
	assert_int_equal(vx_control(&X, 1, 0x80, 0x08, 0, 0, 1, slot_area(1) + VX_BUF, 1, &n),
			 CC_SUCCESS);
	assert_int_equal(n, 1);
	assert_int_equal(*host(slot_area(1) + VX_BUF, 1), 1);
	/* Configure Endpoint: slot Configured (3), DCI 3 running. */
	assert_int_equal(vx_configure(&X, 1), CC_SUCCESS);
	assert_int_equal(vx_out_dw(&X, 1, 0, 3) >> 27, 3);
	assert_int_equal(vx_out_dw(&X, 1, 3, 0) & 7, 1);
}

static void test_enumerate_defaults(void **state)
{
	uint8_t d[256];
	uint32_t n;
	int s;

	(void)state;
	/* The mouse and tablet with the default identity. */
	s = vx_device_up(&X, PORT_MOUSE);
	assert_true(s > 0);
	get_desc((uint32_t)s, 0x80, 0x0100, 0, 18, d, &n);
	assert_int_equal(d[8] | d[9] << 8, 0x1d6b);
	assert_int_equal(d[10] | d[11] << 8, 0x0105);
	assert_int_equal(d[16], 0); /* no serial */
	want_string((uint32_t)s, 1, "cellvm");
	want_string((uint32_t)s, 2, "USB Mouse");
	get_desc((uint32_t)s, 0x80, 0x0200, 0, 34, d, &n);
	assert_int_equal(d[9 + 7], 2); /* boot mouse */
	s = vx_device_up(&X, PORT_TABLET);
	assert_true(s > 0);
	get_desc((uint32_t)s, 0x80, 0x0100, 0, 18, d, &n);
	assert_int_equal(d[10] | d[11] << 8, 0x0106);
	want_string((uint32_t)s, 2, "USB Tablet");
}

/* ---- interrupt IN reports ---- */

static struct cellvm_input_event ev_key(uint16_t code, bool down)
{
	return (struct cellvm_input_event){
		.kind = down ? CELLVM_INPUT_KEY_DOWN : CELLVM_INPUT_KEY_UP, .code = code};
}

static struct inctl_reply reply(void)
{
	struct inctl_reply r;

	assert_int_equal(inctl_reply(&X.ctl, &r, TMO), 0);
	return r;
}

static void expect_ok(int64_t id, uint32_t n)
{
	struct inctl_reply r = reply();

	assert_int_equal(r.id, id);
	assert_int_equal(r.status, ST_OK);
	assert_int_equal(r.delivered, n);
}

/* Queue a TD on slot s, take its report (len bytes expected), compare. */
static void want_report(uint32_t s, const uint8_t *want, uint32_t len)
{
	uint64_t buf = slot_area(s) + VX_BUF + 0x1000;
	uint64_t trb;

	memset(host(buf, 64), 0xee, 64);
	trb = vx_intr_td(&X, s, buf, 64);
	assert_int_equal(vx_intr_wait(&X, s, trb, 64, TMO), len);
	assert_memory_equal(host(buf, len), want, len);
	assert_int_equal(*host(buf + len, 1), 0xee);
}

static void test_keyboard_reports(void **state)
{
	const struct cellvm_input_event ev[4] = {ev_key(KEY_LEFTSHIFT, true), ev_key(KEY_A, true),
						 ev_key(KEY_A, false),
						 ev_key(KEY_LEFTSHIFT, false)};
	const uint8_t r0[8] = {0x02, 0, 0, 0, 0, 0, 0, 0}, r1[8] = {0x02, 0, 0x04, 0, 0, 0, 0, 0},
		      r2[8] = {0x02, 0, 0, 0, 0, 0, 0, 0}, r3[8] = {0};
	struct inctl_reply r;
	int64_t id, q;
	int s;

	(void)state;
	s = vx_device_up(&X, PORT_KBD);
	assert_true(s > 0);
	/* Injected before any TD: no acknowledgement yet (the query's answer
	 * comes first and says PENDING). */
	id = vx_inject(&X, ev, 4);
	assert_true(id > 0);
	q = inctl_query(&X.ctl, (uint64_t)id);
	r = reply();
	assert_int_equal(r.id, q);
	assert_int_equal(r.status, ST_PENDING);
	assert_int_equal(r.delivered, 0);
	assert_int_equal(r.total, 4);
	assert_false(inctl_reply_ready(&X.ctl));
	/* Each TD takes one report, in order; the reply after the last. */
	want_report((uint32_t)s, r0, 8);
	want_report((uint32_t)s, r1, 8);
	want_report((uint32_t)s, r2, 8);
	assert_false(inctl_reply_ready(&X.ctl));
	want_report((uint32_t)s, r3, 8);
	expect_ok(id, 4);

	/* A TD waiting first: the report completes it as it is injected. */
	{
		uint64_t buf = slot_area((uint32_t)s) + VX_BUF + 0x1000;
		uint64_t trb = vx_intr_td(&X, (uint32_t)s, buf, 8);
		const struct cellvm_input_event e1 = ev_key(KEY_B, true);
		const uint8_t rb[8] = {0, 0, 0x05, 0, 0, 0, 0, 0};

		assert_false(vx_event_ready(&X));
		id = vx_inject(&X, &e1, 1);
		assert_int_equal(vx_intr_wait(&X, (uint32_t)s, trb, 8, TMO), 8);
		assert_memory_equal(host(buf, 8), rb, 8);
		expect_ok(id, 1);
	}
}

static void test_mouse_reports(void **state)
{
	const struct cellvm_input_event ev[4] = {
		{.kind = CELLVM_INPUT_REL_MOVE, .a = 5, .b = -3},
		{.kind = CELLVM_INPUT_WHEEL, .a = 1, .b = -2},
		{.kind = CELLVM_INPUT_BTN_DOWN, .code = CELLVM_INPUT_BTN_LEFT},
		{.kind = CELLVM_INPUT_BTN_UP, .code = CELLVM_INPUT_BTN_LEFT},
	};
	const uint8_t m0[7] = {0, 5, 0, 0xfd, 0xff, 0, 0}, m1[7] = {0, 0, 0, 0, 0, 1, 0xfe},
		      m2[7] = {1, 0, 0, 0, 0, 0, 0}, m3[7] = {0};
	int64_t id;
	int s;

	(void)state;
	s = vx_device_up(&X, PORT_MOUSE);
	assert_true(s > 0);
	id = vx_inject(&X, ev, 4);
	want_report((uint32_t)s, m0, 7);
	want_report((uint32_t)s, m1, 7);
	want_report((uint32_t)s, m2, 7);
	want_report((uint32_t)s, m3, 7);
	expect_ok(id, 4);
}

static void test_tablet_reports(void **state)
{
	const struct cellvm_input_event ev[2] = {
		{.kind = CELLVM_INPUT_ABS_MOVE, .a = 1000, .b = 32767},
		{.kind = CELLVM_INPUT_BTN_DOWN, .code = CELLVM_INPUT_BTN_RIGHT},
	};
	const uint8_t t0[7] = {0, 0xe8, 0x03, 0xff, 0x7f, 0, 0},
		      t1[7] = {2, 0xe8, 0x03, 0xff, 0x7f, 0, 0};
	int64_t id;
	int s;

	(void)state;
	s = vx_device_up(&X, PORT_TABLET);
	assert_true(s > 0);
	id = vx_inject(&X, ev, 2);
	want_report((uint32_t)s, t0, 7);
	want_report((uint32_t)s, t1, 7);
	expect_ok(id, 2);
}

static void test_boot_protocol(void **state)
{
	const struct cellvm_input_event mv = {.kind = CELLVM_INPUT_REL_MOVE, .a = 200, .b = -7};
	const uint8_t b0[3] = {0, 127, 0xf9}, b1[3] = {0, 73, 0};
	const struct cellvm_input_event k = ev_key(KEY_A, true);
	const uint8_t kr[8] = {0, 0, 0x04, 0, 0, 0, 0, 0};
	uint64_t buf;
	uint32_t n;
	int64_t id;
	int ks, ms;

	(void)state;
	ks = vx_device_up(&X, PORT_KBD);
	ms = vx_device_up(&X, PORT_MOUSE);
	assert_true(ks > 0 && ms > 0);
	/* SET_PROTOCOL(boot) on both; GET_PROTOCOL says 0. */
	assert_int_equal(vx_control(&X, (uint32_t)ks, 0x21, 0x0b, 0, 0, 0, 0, 0, NULL), CC_SUCCESS);
	assert_int_equal(vx_control(&X, (uint32_t)ms, 0x21, 0x0b, 0, 0, 0, 0, 0, NULL), CC_SUCCESS);
	buf = slot_area((uint32_t)ms) + VX_BUF;
	*host(buf, 1) = 0xee;
	assert_int_equal(vx_control(&X, (uint32_t)ms, 0xa1, 0x03, 0, 0, 1, buf, 1, &n), CC_SUCCESS);
	assert_int_equal(n, 1);
	assert_int_equal(*host(buf, 1), 0);
	/* The boot keyboard's report is the same 8 bytes. */
	id = vx_inject(&X, &k, 1);
	want_report((uint32_t)ks, kr, 8);
	expect_ok(id, 1);
	/* A boot mouse: 3-byte reports, a long motion split at 127. */
	id = vx_inject(&X, &mv, 1);
	want_report((uint32_t)ms, b0, 3);
	want_report((uint32_t)ms, b1, 3);
	expect_ok(id, 1);
}

static const struct inctl_backend *usb_state(const struct inctl_reply *r)
{
	for (uint32_t i = 0; i < r->nbackends; i++)
		if (r->backends[i].backend == CELLVM_INPUT_BACKEND_USB)
			return &r->backends[i];
	fail_msg("no usb backend in the reply");
	return NULL;
}

static void test_leds(void **state)
{
	struct inctl_reply r;
	uint64_t buf;
	int64_t id;
	int s;

	(void)state;
	id = inctl_query(&X.ctl, 0);
	r = reply();
	assert_int_equal(r.id, id);
	assert_false(usb_state(&r)->bound);
	s = vx_device_up(&X, PORT_KBD);
	assert_true(s > 0);
	/* SET_REPORT(Output): Caps Lock and Scroll Lock. */
	buf = slot_area((uint32_t)s) + VX_BUF;
	*host(buf, 1) = 0x06;
	assert_int_equal(vx_control(&X, (uint32_t)s, 0x21, 0x09, 0x0200, 0, 1, buf, 1, NULL),
			 CC_SUCCESS);
	id = inctl_query(&X.ctl, 0);
	r = reply();
	assert_int_equal(r.id, id);
	assert_true(usb_state(&r)->bound);
	assert_int_equal(usb_state(&r)->leds, 0x06);
	assert_non_null(strstr(usb_state(&r)->detail, "keyboard configured"));
	assert_non_null(strstr(usb_state(&r)->detail, "mouse not configured"));
	/* GET_REPORT(Output) reads them back. */
	*host(buf, 1) = 0;
	assert_int_equal(vx_control(&X, (uint32_t)s, 0xa1, 0x01, 0x0200, 0, 1, buf, 1, NULL),
			 CC_SUCCESS);
	assert_int_equal(*host(buf, 1), 0x06);
}

/* ---- hostile guests ---- */

static void test_cmd_ring_link_loop(void **state)
{
	(void)state;
	/* A command ring of one link TRB pointing at itself: the walk gives
	 * up after XHCI_LINKS_MAX links and halts with Host Controller Error. */
	*(uint32_t *)host(VX_CMD_RING + 12, 4) = 0; /* keep cycle 0 while writing */
	memcpy(host(VX_CMD_RING, 8), &(uint64_t){VX_CMD_RING}, 8);
	*(uint32_t *)host(VX_CMD_RING + 12, 4) = VX_TRB_TYPE(VX_LINK) | VX_C;
	wr32(VX_DB(0), 0);
	still_answers();
	assert_true(rd32(VX_USBSTS) & VX_STS_HCE);
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	assert_false(vx_event_ready(&X));
	/* Run refused until a reset; after one, commands work again. */
	assert_int_equal(vx_run(&X), 0);
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	assert_int_equal(vx_reset(&X), 0);
	assert_int_equal(rd32(VX_USBSTS) & VX_STS_HCE, 0);
	assert_int_equal(vx_run(&X), 0);
	no_event_but_noop();
}

/* A slot with EP0 addressed on port 1. */
static uint32_t addressed(void)
{
	int s;

	assert_int_equal(vx_port_reset(&X, PORT_KBD), 0);
	s = vx_enable_slot(&X);
	assert_true(s > 0);
	assert_int_equal(vx_address(&X, (uint32_t)s, PORT_KBD), CC_SUCCESS);
	return (uint32_t)s;
}

static void expect_ep0_error(uint32_t s, uint64_t trb, uint32_t cc)
{
	struct vx_trb e;

	assert_int_equal(vx_event(&X, &e, TMO), 1);
	assert_int_equal(vx_ev_type(&e), VX_EV_TRANSFER);
	assert_int_equal(vx_ev_slot(&e), s);
	assert_int_equal(vx_ev_ep(&e), 1);
	assert_int_equal(vx_ev_cc(&e), cc);
	assert_true(e.param == trb);
	assert_int_equal(vx_out_dw(&X, s, 1, 0) & 7, 2); /* halted */
	still_answers();
	assert_int_equal(rd32(VX_USBSTS) & VX_STS_HCH, 0);
	no_event_but_noop();
}

static void test_xfer_ring_link_loop(void **state)
{
	uint32_t s;
	uint64_t ring;

	(void)state;
	s = addressed();
	ring = slot_area(s) + VX_EP0_RING;
	vx_ring_put(&X, &X.ep[s][1], ring, 0, VX_TRB_TYPE(VX_LINK));
	wr32(VX_DB(s), 1);
	expect_ep0_error(s, ring, CC_TRB);
	/* A halted endpoint's doorbell does nothing. */
	wr32(VX_DB(s), 1);
	no_event_but_noop();
}

static void test_endless_chain(void **state)
{
	uint32_t s;
	uint64_t first;

	(void)state;
	s = addressed();
	/* 70 chained TRBs: past the 64 of one TD. */
	first = vx_ring_put(&X, &X.ep[s][1], 0x0000000001000680ULL, 8,
			    VX_TRB_TYPE(VX_SETUP) | VX_IDT | VX_CH | 3U << 16);
	for (int i = 0; i < 69; i++)
		vx_ring_put(&X, &X.ep[s][1], slot_area(s) + VX_BUF, 1,
			    VX_TRB_TYPE(VX_DATA) | VX_CH | VX_DIR_IN);
	wr32(VX_DB(s), 1);
	expect_ep0_error(s, first, CC_TRB);
}

static void test_buffer_outside_ram(void **state)
{
	uint32_t s;
	uint64_t data;

	(void)state;
	s = addressed();
	/* GET_DESCRIPTOR(device) into a buffer that is not RAM. */
	vx_ring_put(&X, &X.ep[s][1], 0x0012000001000680ULL, 8,
		    VX_TRB_TYPE(VX_SETUP) | VX_IDT | 3U << 16);
	data = vx_ring_put(&X, &X.ep[s][1], VX_OUTSIDE, 18,
			   VX_TRB_TYPE(VX_DATA) | VX_DIR_IN | VX_CH);
	vx_ring_put(&X, &X.ep[s][1], 0, 0, VX_TRB_TYPE(VX_STATUS) | VX_IOC);
	wr32(VX_DB(s), 1);
	expect_ep0_error(s, data, CC_TRB);
	/* Not a host system error: guest buffers are the TD's fault. */
	assert_int_equal(rd32(VX_USBSTS) & (VX_STS_HSE | VX_STS_HCE), 0);
}

static void test_dcbaa_outside_ram(void **state)
{
	int s;

	(void)state;
	assert_int_equal(vx_port_reset(&X, PORT_KBD), 0);
	s = vx_enable_slot(&X);
	assert_true(s > 0);
	assert_int_equal(vx_wr(&X, VX_DCBAAP, 8, VX_OUTSIDE), 0);
	(void)vx_irq_take(&X);
	vx_address_ctx(&X, (uint32_t)s, PORT_KBD);
	vx_ring_put(&X, &X.cmd, slot_area((uint32_t)s) + VX_IN_CTX, 0,
		    VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24);
	wr32(VX_DB(0), 0);
	still_answers();
	assert_true(rd32(VX_USBSTS) & VX_STS_HSE);
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	assert_true(vx_irq_take(&X) > 0); /* HSEE: the interrupt says so */
	assert_false(vx_event_ready(&X)); /* no completion from a halted one */
}

static void test_erst_outside_ram(void **state)
{
	uint32_t *erst;

	(void)state;
	/* The table itself outside RAM. */
	wr32(VX_USBCMD, 0);
	assert_int_equal(vx_wr(&X, VX_ERSTBA, 8, VX_OUTSIDE), 0);
	still_answers();
	assert_true(rd32(VX_USBSTS) & VX_STS_HSE);
	assert_int_equal(vx_run(&X), 0); /* refused: HSE needs a reset */
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	/* After a reset: a segment outside RAM, then one of a bad size. */
	assert_int_equal(vx_reset(&X), 0);
	assert_int_equal(rd32(VX_USBSTS) & VX_STS_HSE, 0);
	erst = (uint32_t *)host(VX_ERST, 16);
	erst[0] = (uint32_t)VX_OUTSIDE;
	assert_int_equal(vx_wr(&X, VX_ERSTBA, 8, VX_ERST), 0);
	assert_true(rd32(VX_USBSTS) & VX_STS_HSE);
	assert_int_equal(vx_reset(&X), 0);
	erst = (uint32_t *)host(VX_ERST, 16);
	erst[2] = 8; /* fewer than 16 TRBs */
	assert_int_equal(vx_wr(&X, VX_ERSTBA, 8, VX_ERST), 0);
	assert_true(rd32(VX_USBSTS) & VX_STS_HSE);
	still_answers();
	/* And a good one works again. */
	assert_int_equal(vx_reset(&X), 0);
	assert_int_equal(vx_run(&X), 0);
	no_event_but_noop();
}

static void test_bad_input_context(void **state)
{
	uint64_t in;
	uint32_t *c;
	int s;

	(void)state;
	assert_int_equal(vx_port_reset(&X, PORT_KBD), 0);
	s = vx_enable_slot(&X);
	assert_true(s > 0);
	in = slot_area((uint32_t)s) + VX_IN_CTX;
	*(uint64_t *)host(VX_DCBAA + 8ULL * (uint32_t)s, 8) = slot_area((uint32_t)s);
	c = (uint32_t *)host(in, 33 * 32);
	/* Add flags other than A0|A1: Parameter Error. */
	vx_address_ctx(&X, (uint32_t)s, PORT_KBD);
	c[1] = 7;
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_PARAMETER);
	/* Drop flags set: Parameter Error. */
	vx_address_ctx(&X, (uint32_t)s, PORT_KBD);
	c[0] = 4;
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_PARAMETER);
	/* Root port 9 (there are 8): TRB Error; port 0 too. */
	vx_address_ctx(&X, (uint32_t)s, 9);
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_TRB);
	vx_address_ctx(&X, (uint32_t)s, 0);
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_TRB);
	/* An empty port: USB Transaction Error (nobody answers). */
	vx_address_ctx(&X, (uint32_t)s, 5);
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_USB_TRANS);
	/* EP0 of type interrupt, or max packet 0: Parameter Error. */
	vx_address_ctx(&X, (uint32_t)s, PORT_KBD);
	c[16 + 1] = 3U << 1 | 7U << 3 | 64U << 16;
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_PARAMETER);
	vx_address_ctx(&X, (uint32_t)s, PORT_KBD);
	c[16 + 1] = 3U << 1 | 4U << 3;
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24),
			 CC_PARAMETER);
	/* The slot is still Enabled: nothing was written to its context. */
	assert_int_equal(vx_out_dw(&X, (uint32_t)s, 0, 3), 0);
	/* A good one still succeeds. */
	assert_int_equal(vx_address(&X, (uint32_t)s, PORT_KBD), CC_SUCCESS);
	/* Configure Endpoint with an interrupt IN context on an OUT DCI (2):
	 * Parameter Error; with EP0's add flag: TRB Error. */
	memset(c, 0, 33 * 32);
	c[1] = 1U << 2;
	c[24 + 1] = 3U << 1 | 7U << 3 | 8U << 16;
	c[24 + 2] = (uint32_t)(slot_area((uint32_t)s) + VX_EP1_RING) | 1;
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_CONFIGURE_EP) | (uint32_t)s << 24),
			 CC_PARAMETER);
	c[1] = 2U | 1U << 3;
	assert_int_equal(vx_cmd_cc(&X, in, 0, VX_TRB_TYPE(VX_CONFIGURE_EP) | (uint32_t)s << 24),
			 CC_TRB);
	still_answers();
}

static void test_bad_slot_ids(void **state)
{
	const uint32_t ids[3] = {0, 200, 7};

	(void)state;
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t id = ids[i];

		assert_int_equal(vx_cmd_cc(&X, slot_area(1) + VX_IN_CTX, 0,
					   VX_TRB_TYPE(VX_ADDRESS_DEVICE) | id << 24),
				 CC_NO_SLOT);
		assert_int_equal(vx_cmd_cc(&X, slot_area(1) + VX_IN_CTX, 0,
					   VX_TRB_TYPE(VX_CONFIGURE_EP) | id << 24),
				 CC_NO_SLOT);
		assert_int_equal(vx_cmd_cc(&X, 0, 0, VX_TRB_TYPE(VX_DISABLE_SLOT) | id << 24),
				 CC_NO_SLOT);
		assert_int_equal(
			vx_cmd_cc(&X, 0, 0, VX_TRB_TYPE(VX_RESET_EP) | 1U << 16 | id << 24),
			CC_NO_SLOT);
	}
	still_answers();
}

static void test_setup_too_long(void **state)
{
	uint32_t s;
	uint64_t setup, buf;
	uint8_t *canary;

	(void)state;
	s = addressed();
	buf = slot_area(s) + VX_BUF;
	memset(host(buf, 64), 0x11, 64);
	canary = host(buf + 64, 4096);
	memset(canary, 0xca, 4096);
	/* GET_DESCRIPTOR(config) with wLength 4096 into a 64-byte data stage. */
	setup = vx_ring_put(&X, &X.ep[s][1], 0x1000000002000680ULL, 8,
			    VX_TRB_TYPE(VX_SETUP) | VX_IDT | 3U << 16);
	vx_ring_put(&X, &X.ep[s][1], buf, 64, VX_TRB_TYPE(VX_DATA) | VX_DIR_IN);
	vx_ring_put(&X, &X.ep[s][1], 0, 0, VX_TRB_TYPE(VX_STATUS) | VX_IOC);
	wr32(VX_DB(s), 1);
	expect_ep0_error(s, setup, CC_TRB);
	for (uint32_t i = 0; i < 4096; i++)
		assert_int_equal(canary[i], 0xca);
	for (uint32_t i = 0; i < 64; i++)
		assert_int_equal(*host(buf + i, 1), 0x11); /* nothing moved at all */
}

static void test_doorbell_disabled_slot(void **state)
{
	(void)state;
	for (uint32_t s = 1; s <= 8; s++)
		wr32(VX_DB(s), 1);
	wr32(VX_DB(5), 3);
	wr32(VX_DB(8), 0xff);
	still_answers();
	assert_int_equal(rd32(VX_USBSTS) & (VX_STS_HCH | VX_STS_HSE | VX_STS_HCE), 0);
	no_event_but_noop();
}

static void test_wrong_state_writes(void **state)
{
	struct vx_trb e;
	uint64_t trb;

	(void)state;
	/* A doorbell while halted does nothing; once running it works. */
	wr32(VX_USBCMD, 0);
	assert_true(rd32(VX_USBSTS) & VX_STS_HCH);
	trb = vx_ring_put(&X, &X.cmd, 0, 0, VX_TRB_TYPE(VX_NOOP_CMD));
	wr32(VX_DB(0), 0);
	assert_false(vx_event_ready(&X));
	assert_int_equal(rd32(VX_CRCR) & 8, 0); /* CRR clear */
	assert_int_equal(vx_run(&X), 0);
	assert_false(vx_event_ready(&X));
	wr32(VX_DB(0), 0);
	assert_int_equal(vx_event(&X, &e, TMO), 1);
	assert_true(e.param == trb);
	assert_int_equal(vx_ev_cc(&e), CC_SUCCESS);
	/* Running (CRR set): a CRCR write does not move the ring. */
	assert_int_equal(rd32(VX_CRCR), 8);
	memset(host(VX_SCRATCH, 64), 0, 64);
	assert_int_equal(vx_wr(&X, VX_CRCR, 8, VX_SCRATCH | 1), 0);
	no_event_but_noop();
	/* CRCR reads as CRR alone: the pointer does not leak back. */
	assert_int_equal(vx_rd(&X, VX_CRCR, 8), 8);
}

static void test_narrow_and_stray_accesses(void **state)
{
	(void)state;
	/* Narrow reads take the bytes of their dword. */
	assert_int_equal(vx_rd(&X, 0, 1), 0x40);
	assert_int_equal(vx_rd(&X, 2, 2), 0x0100);
	assert_int_equal(vx_rd(&X, 0x04 + 3, 1), 8); /* MaxPorts */
	assert_int_equal(vx_rd(&X, VX_DCBAAP, 8), VX_DCBAA);
	/* Misaligned reads give 0. */
	assert_int_equal(vx_rd(&X, 1, 2), 0);
	assert_int_equal(vx_rd(&X, 2, 4), 0);
	/* 1- and 2-byte writes are dropped: USBCMD keeps RS, CONFIG its
	 * value, DCBAAP its pointer. */
	assert_int_equal(vx_wr(&X, VX_USBCMD, 1, 0), 0);
	assert_int_equal(vx_wr(&X, VX_USBCMD, 2, 0), 0);
	assert_int_equal(rd32(VX_USBCMD) & 1, 1);
	assert_int_equal(rd32(VX_USBSTS) & VX_STS_HCH, 0);
	assert_int_equal(vx_wr(&X, VX_CONFIG, 1, 2), 0);
	assert_int_equal(rd32(VX_CONFIG), 8);
	assert_int_equal(vx_wr(&X, VX_DCBAAP + 2, 2, 0xffff), 0);
	assert_int_equal(rd32(VX_DCBAAP), VX_DCBAA);
	/* Writes to read-only capability registers change nothing. */
	wr32(0, 0xffffffff);
	wr32(0x04, 0);
	assert_int_equal(rd32(0x04) >> 24, 8);
	/* Past the registers, inside the forwarded window: reads give 0,
	 * writes are dropped. */
	assert_int_equal(rd32(0x3c), 0);
	assert_int_equal(rd32(0x0c00), 0);
	assert_int_equal(rd32(0x0900), 0);
	assert_int_equal(rd32(VX_RT + 0x40), 0); /* interrupter 1: none */
	assert_int_equal(rd32(VX_DB(9)), 0);
	assert_int_equal(rd32(0x2ffc), 0);
	assert_int_equal(vx_rd(&X, 0x2ff8, 8), 0);
	wr32(0x2ffc, 0xffffffff);
	wr32(VX_DB(9), 0);
	wr32(VX_RT + 0x40, 0xffffffff);
	still_answers();
	no_event_but_noop();
}

/* ERSTSZ rewritten while the ring runs (0, then more than offered): the
 * controller keeps the segment table it read at the ERSTBA write, so the
 * ring wraps as before. */
static void test_erstsz_rewritten(void **state)
{
	(void)state;
	for (uint32_t round = 0; round < 2; round++) {
		wr32(VX_ERSTSZ, round == 0 ? 0 : 0xffff);
		/* More events than the segment has TRBs: it wraps. */
		for (uint32_t i = 0; i < VX_RING_TRBS + 8; i++)
			assert_int_equal(vx_cmd_cc(&X, 0, 0, VX_TRB_TYPE(VX_NOOP_CMD)), CC_SUCCESS);
		still_answers();
	}
}

static void test_access_past_window(void **state)
{
	uint64_t v;

	(void)state;
	/* The MSI-X table is the core's: an access there on the link is the
	 * core breaking the protocol, and the device exits with status 1 (it
	 * does not crash). */
	assert_true(vx_mmio(&X, 0x3000, 4, false, 0, &v) < 0);
	assert_int_equal(vcore_wait_exit(&X.core, TMO), 1);
	X.started = true;
	(void)vx_stop(&X);
}

/* More events than the event ring holds: an Event Ring Full event, and
 * after the driver catches up, normal events again. */
static void test_event_ring_full(void **state)
{
	struct vx_trb e;
	uint32_t seen = 0;
	bool full = false;

	(void)state;
	/* Let the device fill the ring without the driver moving ERDP: 300
	 * No-op commands, 200 per doorbell (the command ring holds 255). */
	for (uint32_t i = 0; i < 300; i++) {
		vx_ring_put(&X, &X.cmd, 0, 0, VX_TRB_TYPE(VX_NOOP_CMD));
		if (i == 199 || i == 299)
			wr32(VX_DB(0), 0);
	}
	still_answers();
	while (vx_event(&X, &e, 200) == 1) {
		seen++;
		if (vx_ev_type(&e) == 37) {
			assert_int_equal(vx_ev_cc(&e), 21);
			full = true;
		}
	}
	assert_true(full);
	assert_true(seen <= VX_RING_TRBS);
	no_event_but_noop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_and_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumerate_keyboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumerate_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mouse_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tablet_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_ring_link_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xfer_ring_link_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endless_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dcbaa_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erst_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_slot_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_disabled_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_state_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_narrow_and_stray_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_ring_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erstsz_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_past_window, setup, teardown),
	};

	inctl_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
