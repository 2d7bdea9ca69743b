/* Unit tests for dev-procs/input/usb_hid.c, driven the way a guest's USB
 * stack drives the devices through xHCI (control transfers on endpoint 0,
 * interrupt IN fetches) plus the host's injected records: descriptors parsed
 * back, standard and HID class requests, reports in both protocols, the
 * bounded queue and its accounting, and hostile setup packets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include "dev-procs/input/usb_hid.h"

#define BUF 1024

static int ctl(struct usb_hid *h, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
	       uint16_t length, uint8_t *data, size_t len)
{
	struct usb_setup s = {type, req, value, index, length};

	return usb_hid_control(h, &s, data, len);
}

/* GET_DESCRIPTOR to the device, wLength and buffer both `length`. */
static int get_desc(struct usb_hid *h, uint8_t type, uint8_t index, uint8_t *d, uint16_t length)
{
	return ctl(h, 0x80, USB_REQ_GET_DESCRIPTOR, type << 8 | index, 0, length, d, length);
}

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static struct cellvm_input_event ev(uint8_t kind, uint16_t code, int32_t a, int32_t b)
{
	struct cellvm_input_event e = {.kind = kind, .code = code, .a = a, .b = b};

	return e;
}

static void post_ok(struct usb_hid *h, uint8_t kind, uint16_t code, int32_t a, int32_t b)
{
	struct cellvm_input_event e = ev(kind, code, a, b);

	assert_int_equal(usb_hid_post(h, &e), 0);
}

static void check_report(struct usb_hid *h, const uint8_t *want, size_t n)
{
	uint8_t r[USB_HID_REPORT_MAX + 4];

	memset(r, 0xcc, sizeof(r));
	assert_int_equal(usb_hid_fetch(h, r, sizeof(r)), n);
	assert_memory_equal(r, want, n);
}

static void check_string(struct usb_hid *h, uint8_t index, const char *want)
{
	uint8_t d[BUF];
	size_t n = strlen(want);
	int r = get_desc(h, USB_DT_STRING, index, d, 255);

	assert_int_equal(r, 2 + 2 * n);
	assert_int_equal(d[0], 2 + 2 * n);
	assert_int_equal(d[1], USB_DT_STRING);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(le16(d + 2 + 2 * i), (uint8_t)want[i]);
}

/* Walks a report descriptor: the bits of the input and output reports, the
 * collections balanced, every item's length inside the descriptor. */
static void rdesc_bits(const uint8_t *d, size_t n, unsigned *ret_in, unsigned *ret_out)
{
	unsigned size = 0, count = 0, in = 0, out = 0;
	int depth = 0;
	size_t i = 0;

	while (i < n) {
		uint8_t b = d[i], len = (b & 3) == 3 ? 4 : b & 3;
		uint32_t v = 0;

		assert_true(b != 0xfe); /* no long items */
		assert_true(i + 1 + len <= n);
		for (unsigned k = 0; k < len; k++)
			v |= (uint32_t)d[i + 1 + k] << (8 * k);
		switch (b & 0xfc) {
		case 0x74: size = v; break;
		case 0x94: count = v; break;
		case 0x80: in += size * count; break;
		case 0x90: out += size * count; break;
		case 0xa0: depth++; break;
		case 0xc0: depth--; break;
		}
		assert_true(depth >= 0);
		i += 1 + len;
	}
	assert_int_equal(depth, 0);
	*ret_in = in;
	*ret_out = out;
}

static void test_device_descriptor(void **state)
{
	struct usb_hid_identity id = {.vendor = 0x1234,
				      .product = 0x5678,
				      .release = 0x0203,
				      .manufacturer = "ACME",
				      .product_name = "Keys",
				      .serial = "SN-9",
				      .interval_ms = 8};
	struct usb_hid h;
	uint8_t d[BUF];

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, &id);
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, d, 255), 18);
	assert_int_equal(d[0], 18);
	assert_int_equal(d[1], USB_DT_DEVICE);
	assert_int_equal(le16(d + 2), 0x0200);
	assert_int_equal(d[7], 64);
	assert_int_equal(le16(d + 8), 0x1234);
	assert_int_equal(le16(d + 10), 0x5678);
	assert_int_equal(le16(d + 12), 0x0203);
	assert_int_equal(d[14], 1);
	assert_int_equal(d[15], 2);
	assert_int_equal(d[16], 3);
	assert_int_equal(d[17], 1);
	check_string(&h, 1, "ACME");
	check_string(&h, 2, "Keys");
	check_string(&h, 3, "SN-9");
	assert_int_equal(get_desc(&h, USB_DT_STRING, 0, d, 255), 4);
	assert_int_equal(d[0], 4);
	assert_int_equal(le16(d + 2), 0x0409);
	assert_int_equal(get_desc(&h, USB_DT_CONFIG, 0, d, 255), 34);
	assert_int_equal(d[9 + 9 + 9 + 6], 8); /* bInterval */

	/* The defaults, and no serial string. */
	usb_hid_init(&h, USB_HID_MOUSE, NULL);
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, d, 255), 18);
	assert_int_equal(le16(d + 8), USB_HID_DEFAULT_VID);
	assert_int_equal(le16(d + 10), USB_HID_MOUSE_PID);
	assert_int_equal(le16(d + 12), USB_HID_DEFAULT_REL);
	assert_int_equal(d[16], 0);
	check_string(&h, 1, "cellvm");
	check_string(&h, 2, "USB Mouse");
	assert_int_equal(get_desc(&h, USB_DT_STRING, 3, d, 255), -EPIPE);
	usb_hid_init(&h, USB_HID_TABLET, NULL);
	check_string(&h, 2, "USB Tablet");
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, d, 255), 18);
	assert_int_equal(le16(d + 10), USB_HID_TABLET_PID);
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	check_string(&h, 2, "USB Keyboard");

	/* Non-ASCII: one '?' per UTF-8 sequence. */
	memset(&id, 0, sizeof(id));
	strcpy(id.product_name, "K\xc3\xa9y\xe2\x82\xac");
	usb_hid_init(&h, USB_HID_KEYBOARD, &id);
	check_string(&h, 2, "K?y?");
	check_string(&h, 1, "cellvm");
}

static void test_config_descriptor(void **state)
{
	static const uint8_t sub[] = {1, 1, 0}, proto[] = {1, 2, 0};
	struct usb_hid h;
	uint8_t d[BUF], hid[BUF], rd[BUF];

	(void)state;
	for (int k = 0; k < USB_HID_KINDS; k++) {
		unsigned in, out;
		int n;

		usb_hid_init(&h, k, NULL);
		assert_int_equal(get_desc(&h, USB_DT_CONFIG, 0, d, 9), 9);
		assert_int_equal(le16(d + 2), 34);
		n = get_desc(&h, USB_DT_CONFIG, 0, d, 0xffff);
		assert_int_equal(n, 34);
		/* Each descriptor's bLength, walking the whole. */
		assert_int_equal(d[0], 9);
		assert_int_equal(d[1], USB_DT_CONFIG);
		assert_int_equal(d[4], 1);
		assert_int_equal(d[5], 1);
		assert_int_equal(d[7], 0xa0);
		assert_int_equal(d[8], 50);
		assert_int_equal(d[9], 9);
		assert_int_equal(d[10], USB_DT_INTERFACE);
		assert_int_equal(d[13], 1);
		assert_int_equal(d[14], 3);
		assert_int_equal(d[15], sub[k]);
		assert_int_equal(d[16], proto[k]);
		assert_int_equal(d[18], 9);
		assert_int_equal(d[19], HID_DT_HID);
		assert_int_equal(le16(d + 20), 0x0111);
		assert_int_equal(d[22], 0);
		assert_int_equal(d[23], 1);
		assert_int_equal(d[24], HID_DT_REPORT);
		assert_int_equal(d[27], 7);
		assert_int_equal(d[28], USB_DT_ENDPOINT);
		assert_int_equal(d[29], USB_HID_EP_IN);
		assert_int_equal(d[30], 3);
		assert_int_equal(le16(d + 31), 8);
		assert_int_equal(usb_hid_max_packet(&h), 8);
		assert_int_equal(d[33], 1);
		assert_int_equal(9 + d[9] + d[18] + d[27], 34);

		/* The HID descriptor alone, to the interface, equals the one inside. */
		assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_DESCRIPTOR, HID_DT_HID << 8, 0, 255, hid,
				     sizeof(hid)),
				 9);
		assert_memory_equal(hid, d + 18, 9);
		n = ctl(&h, 0x81, USB_REQ_GET_DESCRIPTOR, HID_DT_REPORT << 8, 0, 0xffff, rd,
			sizeof(rd));
		assert_int_equal(n, le16(d + 25));
		rdesc_bits(rd, (size_t)n, &in, &out);
		assert_int_equal(in, k == USB_HID_KEYBOARD ? 64 : 56);
		assert_int_equal(out, k == USB_HID_KEYBOARD ? 8 : 0);
		/* Another interface has nothing. */
		assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_DESCRIPTOR, HID_DT_REPORT << 8, 1, 255,
				     rd, sizeof(rd)),
				 -EPIPE);
	}
}

static void test_truncation(void **state)
{
	struct usb_hid h;
	uint8_t d[BUF], full[BUF];

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, full, 255), 18);
	/* The first request a host makes: 8 bytes for bMaxPacketSize0. */
	memset(d, 0xcc, sizeof(d));
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, d, 8), 8);
	assert_memory_equal(d, full, 8);
	assert_int_equal(d[8], 0xcc);
	/* wLength 0: nothing written. */
	memset(d, 0xcc, sizeof(d));
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, d, 0), 0);
	assert_int_equal(d[0], 0xcc);
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_CONFIG << 8, 0, 0, NULL, 0),
			 0);
	/* Huge wLength, short buffer: never past len. */
	memset(d, 0xcc, sizeof(d));
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_CONFIG << 8, 0, 0xffff, d, 5),
			 5);
	assert_int_equal(d[0], 9);
	assert_int_equal(d[5], 0xcc);
	memset(d, 0xcc, sizeof(d));
	assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_DESCRIPTOR, HID_DT_REPORT << 8, 0, 0xffff, d, 3),
			 3);
	assert_int_equal(d[3], 0xcc);
	memset(d, 0xcc, sizeof(d));
	assert_int_equal(
		ctl(&h, 0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_STRING << 8 | 2, 0x0409, 0xffff, d, 1),
		1);
	assert_int_equal(d[1], 0xcc);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0100, 0, 0xffff, d, 2), 2);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0100, 0, 4, d, BUF), 4);
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_STATUS, 0, 0, 1, d, BUF), 1);
	assert_int_equal(h.stalls, 0);
}

static void test_standard_requests(void **state)
{
	struct usb_hid h;
	uint8_t d[BUF];

	(void)state;
	usb_hid_init(&h, USB_HID_MOUSE, NULL);
	usb_hid_set_address(&h, 5);
	assert_int_equal(h.address, 5);
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_CONFIGURATION, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 0);
	assert_false(usb_hid_configured(&h));
	/* Interfaces only exist once configured. */
	assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_INTERFACE, 0, 0, 1, d, 1), -EPIPE);
	assert_int_equal(ctl(&h, 0x00, USB_REQ_SET_CONFIGURATION, 2, 0, 0, NULL, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0x00, USB_REQ_SET_CONFIGURATION, 0x101, 0, 0, NULL, 0), -EPIPE);
	assert_false(usb_hid_configured(&h));
	assert_int_equal(ctl(&h, 0x00, USB_REQ_SET_CONFIGURATION, 1, 0, 0, NULL, 0), 0);
	assert_true(usb_hid_configured(&h));
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_CONFIGURATION, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 1);
	assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_INTERFACE, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 0);
	assert_int_equal(ctl(&h, 0x01, USB_REQ_SET_INTERFACE, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0x01, USB_REQ_SET_INTERFACE, 1, 0, 0, NULL, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0x01, USB_REQ_SET_INTERFACE, 0, 1, 0, NULL, 0), -EPIPE);

	/* Status and features. */
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_STATUS, 0, 0, 2, d, 2), 2);
	assert_int_equal(le16(d), 0);
	assert_int_equal(ctl(&h, 0x00, USB_REQ_SET_FEATURE, 1, 0, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0x80, USB_REQ_GET_STATUS, 0, 0, 2, d, 2), 2);
	assert_int_equal(le16(d), 2);
	assert_int_equal(ctl(&h, 0x00, USB_REQ_CLEAR_FEATURE, 1, 0, 0, NULL, 0), 0);
	assert_false(h.remote_wakeup);
	assert_int_equal(ctl(&h, 0x00, USB_REQ_SET_FEATURE, 2, 0, 0, NULL, 0), -EPIPE); /* test */
	assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_STATUS, 0, 0, 2, d, 2), 2);
	assert_int_equal(ctl(&h, 0x82, USB_REQ_GET_STATUS, 0, 0x81, 2, d, 2), 2);
	assert_int_equal(le16(d), 0);
	assert_int_equal(ctl(&h, 0x82, USB_REQ_GET_STATUS, 0, 0x82, 2, d, 2), -EPIPE);
	assert_int_equal(ctl(&h, 0x02, USB_REQ_SET_FEATURE, 0, 0x81, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0x02, USB_REQ_CLEAR_FEATURE, 0, 0x81, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0x02, USB_REQ_CLEAR_FEATURE, 0, 0x02, 0, NULL, 0), -EPIPE);

	/* Idle and protocol. */
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_IDLE, 0x7d00, 0, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_IDLE, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 0x7d);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_PROTOCOL, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 1);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_PROTOCOL, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 0);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 2, 0, 0, NULL, 0), -EPIPE);
	/* Feature reports, SET_REPORT to a mouse. */
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0300, 0, 8, d, 8), -EPIPE);
	d[0] = 1;
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0200, 0, 1, d, 1), -EPIPE);
	assert_int_equal(h.stalls, 11);

	/* The tablet has no boot protocol. */
	usb_hid_init(&h, USB_HID_TABLET, NULL);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 0, 0, 0, NULL, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 1, 0, 0, NULL, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_PROTOCOL, 0, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 1);
}

static void test_unknown_requests(void **state)
{
	struct usb_hid h;
	uint8_t d[BUF];
	uint64_t stalls;

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	memset(d, 0xcc, sizeof(d));
	assert_int_equal(get_desc(&h, 0xff, 0, d, 255), -EPIPE);
	assert_int_equal(get_desc(&h, USB_DT_STRING, 255, d, 255), -EPIPE);
	assert_int_equal(get_desc(&h, USB_DT_STRING, 4, d, 255), -EPIPE);
	assert_int_equal(get_desc(&h, 6, 0, d, 255), -EPIPE); /* device qualifier */
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 1, d, 255), -EPIPE);
	assert_int_equal(get_desc(&h, USB_DT_CONFIG, 1, d, 255), -EPIPE);
	assert_int_equal(d[0], 0xcc);
	stalls = h.stalls;
	assert_int_equal(stalls, 6);
	/* Vendor requests, unknown standard ones, the wrong direction. */
	assert_int_equal(ctl(&h, 0xc0, 0x01, 0, 0, 64, d, 64), -EPIPE);
	assert_int_equal(ctl(&h, 0x40, 0x01, 0, 0, 0, NULL, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0x80, 0xff, 0, 0, 64, d, 64), -EPIPE);
	assert_int_equal(ctl(&h, 0x80, 0x0c, 0, 0, 64, d, 64), -EPIPE); /* SYNCH_FRAME */
	assert_int_equal(ctl(&h, 0x00, USB_REQ_GET_DESCRIPTOR, 0x100, 0, 18, d, 18), -EPIPE);
	assert_int_equal(ctl(&h, 0x80, USB_REQ_SET_CONFIGURATION, 1, 0, 0, d, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0xa1, 0x77, 0, 0, 8, d, 8), -EPIPE);
	assert_int_equal(ctl(&h, 0xa0, HID_REQ_GET_REPORT, 0x100, 0, 8, d, 8), -EPIPE);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x101, 0, 8, d, 8), -EPIPE);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x100, 1, 8, d, 8), -EPIPE);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0200, 0, 0, d, 0), -EPIPE);
	assert_int_equal(ctl(&h, 0x81, USB_REQ_GET_DESCRIPTOR, 0xff00, 0, 255, d, 255), -EPIPE);
	assert_int_equal(h.stalls, stalls + 12);
	assert_false(usb_hid_configured(&h));
	assert_int_equal(d[0], 0xcc);
}

static void test_keyboard(void **state)
{
	struct usb_hid h;
	uint8_t d[BUF];

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_LEFTSHIFT, 0, 0);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_A, 0, 0);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_RIGHTMETA, 0, 0);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_ENTER, 0, 0);
	post_ok(&h, CELLVM_INPUT_KEY_UP, KEY_A, 0, 0);
	post_ok(&h, CELLVM_INPUT_KEY_UP, KEY_A, 0, 0);	     /* not held: same state */
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_ENTER, 0, 0); /* already held */
	post_ok(&h, CELLVM_INPUT_KEY_UP, KEY_LEFTSHIFT, 0, 0);
	assert_int_equal(usb_hid_queued(&h), 8);
	check_report(&h, (const uint8_t[]){0x02, 0, 0, 0, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x02, 0, 0x04, 0, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x82, 0, 0x04, 0, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x82, 0, 0x04, 0x28, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x82, 0, 0x28, 0, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x82, 0, 0x28, 0, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x82, 0, 0x28, 0, 0, 0, 0, 0}, 8);
	check_report(&h, (const uint8_t[]){0x80, 0, 0x28, 0, 0, 0, 0, 0}, 8);
	assert_int_equal(usb_hid_consumed(&h), 8);
	assert_false(usb_hid_pending(&h));
	assert_int_equal(usb_hid_fetch(&h, d, sizeof(d)), 0);
	/* GET_REPORT says the state now. */
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0100, 0, 8, d, 8), 8);
	assert_memory_equal(d, ((const uint8_t[]){0x80, 0, 0x28, 0, 0, 0, 0, 0}), 8);

	/* Boot protocol: the same layout. */
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 0, 0, 0, NULL, 0), 0);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_LEFTCTRL, 0, 0);
	check_report(&h, (const uint8_t[]){0x81, 0, 0x28, 0, 0, 0, 0, 0}, 8);

	/* Every modifier to its bit, a few keys to their usages. */
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	static const uint16_t mods[] = {KEY_LEFTCTRL,  KEY_LEFTSHIFT,  KEY_LEFTALT,  KEY_LEFTMETA,
					KEY_RIGHTCTRL, KEY_RIGHTSHIFT, KEY_RIGHTALT, KEY_RIGHTMETA};
	for (int i = 0; i < 8; i++) {
		post_ok(&h, CELLVM_INPUT_KEY_DOWN, mods[i], 0, 0);
		check_report(&h, (const uint8_t[]){(uint8_t)(1 << i), 0, 0, 0, 0, 0, 0, 0}, 8);
		post_ok(&h, CELLVM_INPUT_KEY_UP, mods[i], 0, 0);
		check_report(&h, (const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0}, 8);
	}
	static const struct {
		uint16_t code;
		uint8_t usage;
	} keys[] = {{KEY_Z, 0x1d},	    {KEY_1, 0x1e},	   {KEY_0, 0x27},
		    {KEY_ESC, 0x29},	    {KEY_BACKSPACE, 0x2a}, {KEY_TAB, 0x2b},
		    {KEY_SPACE, 0x2c},	    {KEY_CAPSLOCK, 0x39},  {KEY_F1, 0x3a},
		    {KEY_F12, 0x45},	    {KEY_SYSRQ, 0x46},	   {KEY_PAUSE, 0x48},
		    {KEY_DELETE, 0x4c},	    {KEY_UP, 0x52},	   {KEY_NUMLOCK, 0x53},
		    {KEY_KP0, 0x62},	    {KEY_102ND, 0x64},	   {KEY_COMPOSE, 0x65},
		    {KEY_POWER, 0x66},	    {KEY_KPEQUAL, 0x67},   {KEY_F13, 0x68},
		    {KEY_F24, 0x73},	    {KEY_MUTE, 0x7f},	   {KEY_VOLUMEUP, 0x80},
		    {KEY_VOLUMEDOWN, 0x81}, {KEY_RO, 0x87},	   {KEY_YEN, 0x89},
		    {KEY_HANGEUL, 0x90},    {KEY_HANJA, 0x91},	   {KEY_BACKSLASH, 0x31},
		    {KEY_PLAYPAUSE, 0xe8}};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_true(usb_hid_has_key(keys[i].code));
		post_ok(&h, CELLVM_INPUT_KEY_DOWN, keys[i].code, 0, 0);
		check_report(&h, (const uint8_t[]){0, 0, keys[i].usage, 0, 0, 0, 0, 0}, 8);
		post_ok(&h, CELLVM_INPUT_KEY_UP, keys[i].code, 0, 0);
		check_report(&h, (const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0}, 8);
	}
	for (int i = 0; i < 8; i++)
		assert_true(usb_hid_has_key(mods[i]));
	assert_false(usb_hid_has_key(0));
	assert_false(usb_hid_has_key(KEY_FN));
	assert_false(usb_hid_has_key(BTN_LEFT));
	assert_false(usb_hid_has_key(CELLVM_INPUT_KEY_MAX));
	assert_false(usb_hid_has_key(0xffff));
	struct cellvm_input_event e = ev(CELLVM_INPUT_KEY_DOWN, KEY_FN, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(CELLVM_INPUT_REL_MOVE, 0, 1, 1);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(CELLVM_INPUT_BTN_DOWN, 0, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	assert_false(usb_hid_pending(&h));
}

static void test_keyboard_rollover(void **state)
{
	static const uint16_t k[] = {KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H};
	static const uint8_t rollover[] = {0x04, 0, 1, 1, 1, 1, 1, 1};
	struct usb_hid h;

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_LEFTALT, 0, 0);
	check_report(&h, (const uint8_t[]){0x04, 0, 0, 0, 0, 0, 0, 0}, 8);
	for (int i = 0; i < 6; i++)
		post_ok(&h, CELLVM_INPUT_KEY_DOWN, k[i], 0, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(usb_hid_fetch(&h, (uint8_t[8]){0}, 8), 8);
	check_report(&h, (const uint8_t[]){0x04, 0, 4, 5, 6, 7, 8, 9}, 8);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, k[6], 0, 0);
	check_report(&h, rollover, 8);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, k[7], 0, 0);
	check_report(&h, rollover, 8);
	post_ok(&h, CELLVM_INPUT_KEY_UP, k[0], 0, 0); /* seven held */
	check_report(&h, rollover, 8);
	post_ok(&h, CELLVM_INPUT_KEY_UP, k[0], 0, 0); /* not held */
	check_report(&h, rollover, 8);
	post_ok(&h, CELLVM_INPUT_KEY_UP, k[3], 0, 0); /* six: all listed again */
	check_report(&h, (const uint8_t[]){0x04, 0, 5, 6, 8, 9, 0x0a, 0x0b}, 8);
	post_ok(&h, CELLVM_INPUT_KEY_UP, k[1], 0, 0);
	check_report(&h, (const uint8_t[]){0x04, 0, 6, 8, 9, 0x0a, 0x0b, 0}, 8);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, k[0], 0, 0);
	check_report(&h, (const uint8_t[]){0x04, 0, 6, 8, 9, 0x0a, 0x0b, 4}, 8);
	assert_int_equal(usb_hid_queued(&h), usb_hid_consumed(&h));
}

static void test_leds(void **state)
{
	struct usb_hid h;
	uint8_t d[8];

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	d[0] = 0xff;
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0200, 0, 1, d, 1), 0);
	assert_int_equal(h.leds, 0x1f);
	d[0] = 0x02;
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0200, 0, 1, d, 1), 0);
	assert_int_equal(h.leds, 0x02);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0200, 0, 1, d, 1), 1);
	assert_int_equal(d[0], 0x02);
	/* Not an output report, or nothing in it: STALL, LEDs kept. */
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0300, 0, 1, d, 1), -EPIPE);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0200, 0, 0, d, 0), -EPIPE);
	assert_int_equal(h.leds, 0x02);
	assert_false(usb_hid_pending(&h));
}

static void test_mouse(void **state)
{
	struct usb_hid h;
	uint8_t d[8];

	(void)state;
	usb_hid_init(&h, USB_HID_MOUSE, NULL);
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 300, -2);
	check_report(&h, (const uint8_t[]){0, 0x2c, 0x01, 0xfe, 0xff, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, -32767, 32767);
	check_report(&h, (const uint8_t[]){0, 0x01, 0x80, 0xff, 0x7f, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_LEFT, 0, 0);
	check_report(&h, (const uint8_t[]){0x01, 0, 0, 0, 0, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_EXTRA, 0, 0);
	check_report(&h, (const uint8_t[]){0x11, 0, 0, 0, 0, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 1, 1);
	check_report(&h, (const uint8_t[]){0x11, 1, 0, 1, 0, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_WHEEL, 0, -1, 200);
	check_report(&h, (const uint8_t[]){0x11, 0, 0, 0, 0, 0xff, 0x7f}, 7);
	post_ok(&h, CELLVM_INPUT_BTN_UP, CELLVM_INPUT_BTN_LEFT, 0, 0);
	check_report(&h, (const uint8_t[]){0x10, 0, 0, 0, 0, 0, 0}, 7);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0100, 0, 8, d, 8), 7);
	assert_memory_equal(d, ((const uint8_t[]){0x10, 0, 0, 0, 0, 0, 0}), 7);
	/* Records it takes not. */
	struct cellvm_input_event e = ev(CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_COUNT, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(CELLVM_INPUT_ABS_MOVE, 0, 1, 1);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(CELLVM_INPUT_KEY_DOWN, KEY_A, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(CELLVM_INPUT_TOUCH_DOWN, 0, 1, 1);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(0, 0, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(0xff, 0, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	assert_int_equal(usb_hid_queued(&h), 7);
	assert_int_equal(usb_hid_consumed(&h), 7);
}

static void test_mouse_boot(void **state)
{
	struct usb_hid h;
	uint8_t r[8];
	int32_t sx = 0, sy = 0;
	size_t n = 0;

	(void)state;
	usb_hid_init(&h, USB_HID_MOUSE, NULL);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 0, 0, 0, NULL, 0), 0);
	post_ok(&h, CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_RIGHT, 0, 0);
	check_report(&h, (const uint8_t[]){0x02, 0, 0}, 3);
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 5, -7);
	check_report(&h, (const uint8_t[]){0x02, 5, 0xf9}, 3);
	/* 300, -1000: eight reports, each within +-127, summing exactly. */
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 300, -1000);
	assert_int_equal(usb_hid_queued(&h) - usb_hid_consumed(&h), 8);
	while (usb_hid_pending(&h)) {
		assert_int_equal(usb_hid_fetch(&h, r, sizeof(r)), 3);
		assert_int_equal(r[0], 0x02);
		assert_true((int8_t)r[1] >= -127 && (int8_t)r[2] >= -127);
		sx += (int8_t)r[1];
		sy += (int8_t)r[2];
		n++;
	}
	assert_int_equal(n, 8);
	assert_int_equal(sx, 300);
	assert_int_equal(sy, -1000);
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 127, -127);
	check_report(&h, (const uint8_t[]){0x02, 127, 0x81}, 3);
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 0, 0);
	check_report(&h, (const uint8_t[]){0x02, 0, 0}, 3);
	/* No wheel in boot protocol: still one report, of the buttons. */
	post_ok(&h, CELLVM_INPUT_WHEEL, 0, 3, -3);
	check_report(&h, (const uint8_t[]){0x02, 0, 0}, 3);
	/* Longer than the whole queue holds: cut to what fits, never refused
	 * for ever. */
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, -32767, 0);
	assert_int_equal(usb_hid_queued(&h) - usb_hid_consumed(&h), USB_HID_QUEUE);
	/* Back to report protocol. */
	usb_hid_reset(&h);
	assert_int_equal(usb_hid_queued(&h), usb_hid_consumed(&h));
	post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 5, 5);
	check_report(&h, (const uint8_t[]){0, 5, 0, 5, 0, 0, 0}, 7);
}

static void test_tablet(void **state)
{
	struct usb_hid h;
	uint8_t d[8];

	(void)state;
	usb_hid_init(&h, USB_HID_TABLET, NULL);
	post_ok(&h, CELLVM_INPUT_ABS_MOVE, 0, 0x1234, 32767);
	check_report(&h, (const uint8_t[]){0, 0x34, 0x12, 0xff, 0x7f, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_MIDDLE, 0, 0);
	check_report(&h, (const uint8_t[]){0x04, 0x34, 0x12, 0xff, 0x7f, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_WHEEL, 0, 2, -1);
	check_report(&h, (const uint8_t[]){0x04, 0x34, 0x12, 0xff, 0x7f, 2, 0xff}, 7);
	post_ok(&h, CELLVM_INPUT_ABS_MOVE, 0, 0, 1);
	check_report(&h, (const uint8_t[]){0x04, 0, 0, 1, 0, 0, 0}, 7);
	post_ok(&h, CELLVM_INPUT_ABS_MOVE, 0, -5, 99999); /* clamped to the axes */
	check_report(&h, (const uint8_t[]){0x04, 0, 0, 0xff, 0x7f, 0, 0}, 7);
	assert_int_equal(ctl(&h, 0xa1, HID_REQ_GET_REPORT, 0x0100, 0, 8, d, 8), 7);
	assert_memory_equal(d, ((const uint8_t[]){0x04, 0, 0, 0xff, 0x7f, 0, 0}), 7);
	struct cellvm_input_event e = ev(CELLVM_INPUT_REL_MOVE, 0, 1, 1);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	e = ev(CELLVM_INPUT_KEY_UP, KEY_A, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -EINVAL);
	assert_false(usb_hid_pending(&h));
}

static void test_queue_full(void **state)
{
	struct usb_hid h, before;
	struct cellvm_input_event e;
	uint8_t r[8];

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	for (int i = 0; i < USB_HID_QUEUE; i++)
		post_ok(&h, i % 2 ? CELLVM_INPUT_KEY_UP : CELLVM_INPUT_KEY_DOWN, KEY_Q, 0, 0);
	assert_int_equal(usb_hid_queued(&h), USB_HID_QUEUE);
	e = ev(CELLVM_INPUT_KEY_DOWN, KEY_W, 0, 0);
	memcpy(&before, &h, sizeof(h));
	assert_int_equal(usb_hid_post(&h, &e), -ENOSPC);
	assert_memory_equal(&h, &before, sizeof(h));
	e = ev(CELLVM_INPUT_KEY_DOWN, KEY_LEFTCTRL, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -ENOSPC);
	assert_memory_equal(&h, &before, sizeof(h));
	check_report(&h, (const uint8_t[]){0, 0, 0x14, 0, 0, 0, 0, 0}, 8);
	e = ev(CELLVM_INPUT_KEY_DOWN, KEY_W, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), 0);
	assert_int_equal(usb_hid_queued(&h), USB_HID_QUEUE + 1);
	assert_int_equal(usb_hid_consumed(&h), 1);
	/* The queue wraps: the last report is the W. */
	for (int i = 0; i < USB_HID_QUEUE - 1; i++)
		assert_int_equal(usb_hid_fetch(&h, r, sizeof(r)), 8);
	check_report(&h, (const uint8_t[]){0, 0, 0x1a, 0, 0, 0, 0, 0}, 8);
	assert_int_equal(usb_hid_consumed(&h), USB_HID_QUEUE + 1);

	/* A boot mouse's split motion needs room for all its reports. */
	usb_hid_init(&h, USB_HID_MOUSE, NULL);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 0, 0, 0, NULL, 0), 0);
	for (int i = 0; i < USB_HID_QUEUE - 2; i++)
		post_ok(&h, CELLVM_INPUT_REL_MOVE, 0, 1, 0);
	e = ev(CELLVM_INPUT_REL_MOVE, 0, 3 * 127, 0);
	memcpy(&before, &h, sizeof(h));
	assert_int_equal(usb_hid_post(&h, &e), -ENOSPC);
	assert_memory_equal(&h, &before, sizeof(h));
	assert_int_equal(usb_hid_fetch(&h, r, sizeof(r)), 3);
	assert_int_equal(usb_hid_post(&h, &e), 0);
	assert_int_equal(usb_hid_queued(&h) - usb_hid_consumed(&h), USB_HID_QUEUE);
	e = ev(CELLVM_INPUT_BTN_DOWN, 0, 0, 0);
	assert_int_equal(usb_hid_post(&h, &e), -ENOSPC);
	assert_int_equal(h.buttons, 0);

	/* A short fetch buffer loses the rest of the report, not the next. */
	usb_hid_init(&h, USB_HID_TABLET, NULL);
	post_ok(&h, CELLVM_INPUT_ABS_MOVE, 0, 1, 2);
	post_ok(&h, CELLVM_INPUT_ABS_MOVE, 0, 3, 4);
	memset(r, 0xcc, sizeof(r));
	assert_int_equal(usb_hid_fetch(&h, r, 2), 2);
	assert_int_equal(r[1], 1);
	assert_int_equal(r[2], 0xcc);
	check_report(&h, (const uint8_t[]){0, 3, 0, 4, 0, 0, 0}, 7);
}

static void test_reset(void **state)
{
	struct usb_hid h;
	uint8_t d[8];

	(void)state;
	usb_hid_init(&h, USB_HID_KEYBOARD, NULL);
	usb_hid_set_address(&h, 9);
	assert_int_equal(ctl(&h, 0x00, USB_REQ_SET_CONFIGURATION, 1, 0, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_PROTOCOL, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_IDLE, 0x0400, 0, 0, NULL, 0), 0);
	d[0] = 0x03;
	assert_int_equal(ctl(&h, 0x21, HID_REQ_SET_REPORT, 0x0200, 0, 1, d, 1), 0);
	for (int i = 0; i < 8; i++)
		post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_A + i, 0, 0);
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_LEFTSHIFT, 0, 0);
	assert_int_equal(usb_hid_fetch(&h, d, sizeof(d)), 8);
	usb_hid_reset(&h);
	assert_int_equal(h.address, 0);
	assert_false(usb_hid_configured(&h));
	assert_false(h.boot_protocol);
	assert_int_equal(h.idle, 0);
	assert_int_equal(h.leds, 0);
	assert_false(usb_hid_pending(&h));
	assert_int_equal(usb_hid_queued(&h), 9);
	assert_int_equal(usb_hid_consumed(&h), 9);
	/* Held input forgotten: the next report has only the new key. */
	post_ok(&h, CELLVM_INPUT_KEY_DOWN, KEY_Z, 0, 0);
	check_report(&h, (const uint8_t[]){0, 0, 0x1d, 0, 0, 0, 0, 0}, 8);
	/* The identity survives. */
	assert_int_equal(get_desc(&h, USB_DT_DEVICE, 0, d, 8), 8);
	assert_int_equal(d[7], 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_descriptor),
		cmocka_unit_test(test_config_descriptor),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_standard_requests),
		cmocka_unit_test(test_unknown_requests),
		cmocka_unit_test(test_keyboard),
		cmocka_unit_test(test_keyboard_rollover),
		cmocka_unit_test(test_leds),
		cmocka_unit_test(test_mouse),
		cmocka_unit_test(test_mouse_boot),
		cmocka_unit_test(test_tablet),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
