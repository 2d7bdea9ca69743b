/* USB HID keyboard, mouse and tablet of the input device process: the
 * descriptors, endpoint 0's standard and HID class requests, and the reports
 * injected records become on the interrupt IN endpoint. Setup packets and
 * their data come from the guest (through xhci.c) and are untrusted; records
 * come from input.c, already checked. */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include "dev-procs/input/usb_hid.h"
#include "dev-procs/input/usb_keymap.h"

#define USB_DIR_IN	   0x80
#define USB_TYPE_MASK	   0x60
#define USB_TYPE_STANDARD  0x00
#define USB_TYPE_CLASS	   0x20
#define USB_RECIP_MASK	   0x1f
#define USB_RECIP_DEVICE   0x00
#define USB_RECIP_IFACE	   0x01
#define USB_RECIP_ENDPOINT 0x02

#define USB_FEAT_ENDPOINT_HALT 0
#define USB_FEAT_REMOTE_WAKEUP 1

#define HID_REPORT_INPUT   1
#define HID_REPORT_OUTPUT  2
#define HID_REPORT_FEATURE 3

#define USB_HID_CONFIG_LEN (9 + 9 + 9 + 7) /* config, interface, HID, endpoint */
#define USB_HID_ROLLOVER   0x01		   /* ErrorRollOver */
#define USB_HID_LED_MASK   0x1f		   /* Num, Caps, Scroll, Compose, Kana */
#define USB_HID_STR_SERIAL 3

/* The boot keyboard of HID 1.11 appendix B.1, byte for byte the layout of
 * its report: modifiers, reserved, six key usages; LEDs out. */
static const uint8_t usb_hid_keyboard_rdesc[] = {
	0x05, 0x01,	  /* Usage Page (Generic Desktop) */
	0x09, 0x06,	  /* Usage (Keyboard) */
	0xa1, 0x01,	  /* Collection (Application) */
	0x05, 0x07,	  /*   Usage Page (Keyboard/Keypad) */
	0x19, 0xe0,	  /*   Usage Minimum (Left Control) */
	0x29, 0xe7,	  /*   Usage Maximum (Right GUI) */
	0x15, 0x00,	  /*   Logical Minimum (0) */
	0x25, 0x01,	  /*   Logical Maximum (1) */
	0x75, 0x01,	  /*   Report Size (1) */
	0x95, 0x08,	  /*   Report Count (8) */
	0x81, 0x02,	  /*   Input (Data, Variable, Absolute): byte 0, modifiers */
	0x75, 0x08,	  /*   Report Size (8) */
	0x95, 0x01,	  /*   Report Count (1) */
	0x81, 0x01,	  /*   Input (Constant): byte 1, reserved */
	0x05, 0x08,	  /*   Usage Page (LEDs) */
	0x19, 0x01,	  /*   Usage Minimum (Num Lock) */
	0x29, 0x05,	  /*   Usage Maximum (Kana) */
	0x75, 0x01,	  /*   Report Size (1) */
	0x95, 0x05,	  /*   Report Count (5) */
	0x91, 0x02,	  /*   Output (Data, Variable, Absolute): LED bits 0..4 */
	0x75, 0x03,	  /*   Report Size (3) */
	0x95, 0x01,	  /*   Report Count (1) */
	0x91, 0x01,	  /*   Output (Constant): bits 5..7, padding */
	0x05, 0x07,	  /*   Usage Page (Keyboard/Keypad) */
	0x19, 0x00,	  /*   Usage Minimum (0) */
	0x29, 0xff,	  /*   Usage Maximum (255) */
	0x15, 0x00,	  /*   Logical Minimum (0) */
	0x26, 0xff, 0x00, /*   Logical Maximum (255) */
	0x75, 0x08,	  /*   Report Size (8) */
	0x95, 0x06,	  /*   Report Count (6) */
	0x81, 0x00,	  /*   Input (Data, Array): bytes 2..7, key usages */
	0xc0,		  /* End Collection */
};

/* Report protocol: buttons, 16-bit relative X and Y, wheel, horizontal wheel
 * (7 bytes). The boot protocol's 3 bytes need no descriptor (HID 1.11 B.2). */
static const uint8_t usb_hid_mouse_rdesc[] = {
	0x05, 0x01,	  /* Usage Page (Generic Desktop) */
	0x09, 0x02,	  /* Usage (Mouse) */
	0xa1, 0x01,	  /* Collection (Application) */
	0x09, 0x01,	  /*   Usage (Pointer) */
	0xa1, 0x00,	  /*   Collection (Physical) */
	0x05, 0x09,	  /*     Usage Page (Button) */
	0x19, 0x01,	  /*     Usage Minimum (1) */
	0x29, 0x05,	  /*     Usage Maximum (5) */
	0x15, 0x00,	  /*     Logical Minimum (0) */
	0x25, 0x01,	  /*     Logical Maximum (1) */
	0x75, 0x01,	  /*     Report Size (1) */
	0x95, 0x05,	  /*     Report Count (5) */
	0x81, 0x02,	  /*     Input (Data, Variable, Absolute): byte 0 bits 0..4 */
	0x75, 0x03,	  /*     Report Size (3) */
	0x95, 0x01,	  /*     Report Count (1) */
	0x81, 0x01,	  /*     Input (Constant): bits 5..7, padding */
	0x05, 0x01,	  /*     Usage Page (Generic Desktop) */
	0x09, 0x30,	  /*     Usage (X) */
	0x09, 0x31,	  /*     Usage (Y) */
	0x16, 0x01, 0x80, /*     Logical Minimum (-32767) */
	0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
	0x75, 0x10,	  /*     Report Size (16) */
	0x95, 0x02,	  /*     Report Count (2) */
	0x81, 0x06,	  /*     Input (Data, Variable, Relative): bytes 1..4 */
	0x09, 0x38,	  /*     Usage (Wheel) */
	0x15, 0x81,	  /*     Logical Minimum (-127) */
	0x25, 0x7f,	  /*     Logical Maximum (127) */
	0x75, 0x08,	  /*     Report Size (8) */
	0x95, 0x01,	  /*     Report Count (1) */
	0x81, 0x06,	  /*     Input (Data, Variable, Relative): byte 5 */
	0x05, 0x0c,	  /*     Usage Page (Consumer) */
	0x0a, 0x38, 0x02, /*     Usage (AC Pan) */
	0x81, 0x06,	  /*     Input (Data, Variable, Relative): byte 6 */
	0xc0,		  /*   End Collection */
	0xc0,		  /* End Collection */
};

/* Buttons, absolute X and Y in 0..32767, wheel, horizontal wheel (7 bytes). */
static const uint8_t usb_hid_tablet_rdesc[] = {
	0x05, 0x01,	  /* Usage Page (Generic Desktop) */
	0x09, 0x02,	  /* Usage (Mouse) */
	0xa1, 0x01,	  /* Collection (Application) */
	0x09, 0x01,	  /*   Usage (Pointer) */
	0xa1, 0x00,	  /*   Collection (Physical) */
	0x05, 0x09,	  /*     Usage Page (Button) */
	0x19, 0x01,	  /*     Usage Minimum (1) */
	0x29, 0x05,	  /*     Usage Maximum (5) */
	0x15, 0x00,	  /*     Logical Minimum (0) */
	0x25, 0x01,	  /*     Logical Maximum (1) */
	0x75, 0x01,	  /*     Report Size (1) */
	0x95, 0x05,	  /*     Report Count (5) */
	0x81, 0x02,	  /*     Input (Data, Variable, Absolute): byte 0 bits 0..4 */
	0x75, 0x03,	  /*     Report Size (3) */
	0x95, 0x01,	  /*     Report Count (1) */
	0x81, 0x01,	  /*     Input (Constant): bits 5..7, padding */
	0x05, 0x01,	  /*     Usage Page (Generic Desktop) */
	0x09, 0x30,	  /*     Usage (X) */
	0x09, 0x31,	  /*     Usage (Y) */
	0x15, 0x00,	  /*     Logical Minimum (0) */
	0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
	0x35, 0x00,	  /*     Physical Minimum (0) */
	0x46, 0xff, 0x7f, /*     Physical Maximum (32767) */
	0x75, 0x10,	  /*     Report Size (16) */
	0x95, 0x02,	  /*     Report Count (2) */
	0x81, 0x02,	  /*     Input (Data, Variable, Absolute): bytes 1..4 */
	0x09, 0x38,	  /*     Usage (Wheel) */
	0x15, 0x81,	  /*     Logical Minimum (-127) */
	0x25, 0x7f,	  /*     Logical Maximum (127) */
	0x35, 0x00,	  /*     Physical Minimum (0) */
	0x45, 0x00,	  /*     Physical Maximum (0): the wheels have no extent */
	0x75, 0x08,	  /*     Report Size (8) */
	0x95, 0x01,	  /*     Report Count (1) */
	0x81, 0x06,	  /*     Input (Data, Variable, Relative): byte 5 */
	0x05, 0x0c,	  /*     Usage Page (Consumer) */
	0x0a, 0x38, 0x02, /*     Usage (AC Pan) */
	0x81, 0x06,	  /*     Input (Data, Variable, Relative): byte 6 */
	0xc0,		  /*   End Collection */
	0xc0,		  /* End Collection */
};

struct usb_hid_kind_info {
	const uint8_t *rdesc;
	uint16_t rdesc_len;
	uint8_t subclass, protocol; /* bInterfaceSubClass, bInterfaceProtocol */
	uint16_t product;
	const char *name;
};

static const struct usb_hid_kind_info usb_hid_kinds[USB_HID_KINDS] = {
	[USB_HID_KEYBOARD] = {usb_hid_keyboard_rdesc, sizeof(usb_hid_keyboard_rdesc), 1, 1,
			      USB_HID_KEYBOARD_PID, "USB Keyboard"},
	[USB_HID_MOUSE] = {usb_hid_mouse_rdesc, sizeof(usb_hid_mouse_rdesc), 1, 2,
			   USB_HID_MOUSE_PID, "USB Mouse"},
	[USB_HID_TABLET] = {usb_hid_tablet_rdesc, sizeof(usb_hid_tablet_rdesc), 0, 0,
			    USB_HID_TABLET_PID, "USB Tablet"},
};

_Static_assert(sizeof(usb_hid_keyboard_rdesc) <= USB_HID_DESC_MAX, "fits a request");
_Static_assert(sizeof(usb_hid_mouse_rdesc) <= USB_HID_DESC_MAX, "fits a request");
_Static_assert(sizeof(usb_hid_tablet_rdesc) <= USB_HID_DESC_MAX, "fits a request");
_Static_assert(2 + 2 * USB_HID_STRING_MAX <= USB_HID_DESC_MAX, "a string fits");

static const struct usb_hid_kind_info *usb_hid_info(const struct usb_hid *h)
{
	return &usb_hid_kinds[h->kind];
}

static void usb_hid_put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void usb_hid_str_default(char *dst, const char *src, const char *def)
{
	const char *s = src && src[0] ? src : def;
	size_t n = strnlen(s, USB_HID_STRING_MAX);

	memcpy(dst, s, n);
	dst[n] = '\0';
}

void usb_hid_init(struct usb_hid *h, enum usb_hid_kind k, const struct usb_hid_identity *id)
{
	const struct usb_hid_kind_info *ki;

	assert(k < USB_HID_KINDS);
	memset(h, 0, sizeof(*h));
	h->kind = k;
	ki = usb_hid_info(h);
	h->id.vendor = id && id->vendor ? id->vendor : USB_HID_DEFAULT_VID;
	h->id.product = id && id->product ? id->product : ki->product;
	h->id.release = id && id->release ? id->release : USB_HID_DEFAULT_REL;
	h->id.interval_ms = id && id->interval_ms ? id->interval_ms : 1;
	usb_hid_str_default(h->id.manufacturer, id ? id->manufacturer : NULL, "cellvm");
	usb_hid_str_default(h->id.product_name, id ? id->product_name : NULL, ki->name);
	usb_hid_str_default(h->id.serial, id ? id->serial : NULL, "");
}

static void usb_hid_forget_input(struct usb_hid *h)
{
	h->modifiers = 0;
	memset(h->keys, 0, sizeof(h->keys));
	memset(h->held, 0, sizeof(h->held));
	h->nkeys_over = 0;
	h->buttons = 0;
}

void usb_hid_reset(struct usb_hid *h)
{
	h->address = 0;
	h->configuration = 0;
	h->boot_protocol = false;
	h->idle = 0;
	h->remote_wakeup = false;
	h->leds = 0;
	usb_hid_forget_input(h);
	/* The guest will never fetch these: count them as consumed so that
	 * input.c still acknowledges the requests that made them. */
	h->consumed += h->qlen;
	h->qhead = 0;
	h->qlen = 0;
}

void usb_hid_set_address(struct usb_hid *h, uint8_t address)
{
	h->address = address & 0x7f;
}

/* ---- descriptors ---- */

static size_t usb_hid_desc_device(const struct usb_hid *h, uint8_t *d)
{
	d[0] = 18;
	d[1] = USB_DT_DEVICE;
	usb_hid_put16(d + 2, 0x0200); /* bcdUSB */
	d[4] = 0;		      /* bDeviceClass: per interface */
	d[5] = 0;
	d[6] = 0;
	d[7] = USB_HID_MAX_PACKET0;
	usb_hid_put16(d + 8, h->id.vendor);
	usb_hid_put16(d + 10, h->id.product);
	usb_hid_put16(d + 12, h->id.release);
	d[14] = 1; /* iManufacturer */
	d[15] = 2; /* iProduct */
	d[16] = h->id.serial[0] ? USB_HID_STR_SERIAL : 0;
	d[17] = 1; /* bNumConfigurations */
	return 18;
}

static size_t usb_hid_desc_hid(const struct usb_hid *h, uint8_t *d)
{
	d[0] = 9;
	d[1] = HID_DT_HID;
	usb_hid_put16(d + 2, 0x0111); /* bcdHID */
	d[4] = 0;		      /* bCountryCode: not localized */
	d[5] = 1;		      /* bNumDescriptors */
	d[6] = HID_DT_REPORT;
	usb_hid_put16(d + 7, usb_hid_info(h)->rdesc_len);
	return 9;
}

static size_t usb_hid_desc_config(const struct usb_hid *h, uint8_t *d)
{
	const struct usb_hid_kind_info *ki = usb_hid_info(h);
	uint8_t *p;

	d[0] = 9;
	d[1] = USB_DT_CONFIG;
	usb_hid_put16(d + 2, USB_HID_CONFIG_LEN);
	d[4] = 1;    /* bNumInterfaces */
	d[5] = 1;    /* bConfigurationValue */
	d[6] = 0;    /* iConfiguration */
	d[7] = 0xa0; /* bus powered, remote wakeup */
	d[8] = 50;   /* bMaxPower: 100 mA */
	p = d + 9;
	p[0] = 9;
	p[1] = USB_DT_INTERFACE;
	p[2] = 0; /* bInterfaceNumber */
	p[3] = 0; /* bAlternateSetting */
	p[4] = 1; /* bNumEndpoints */
	p[5] = 3; /* bInterfaceClass: HID */
	p[6] = ki->subclass;
	p[7] = ki->protocol;
	p[8] = 0; /* iInterface */
	p += 9;
	p += usb_hid_desc_hid(h, p);
	p[0] = 7;
	p[1] = USB_DT_ENDPOINT;
	p[2] = USB_HID_EP_IN;
	p[3] = 3; /* interrupt */
	usb_hid_put16(p + 4, usb_hid_max_packet(h));
	p[6] = h->id.interval_ms;
	p += 7;
	assert(p - d == USB_HID_CONFIG_LEN);
	return USB_HID_CONFIG_LEN;
}

/* -EPIPE for a string the device does not have. */
static int usb_hid_desc_string(const struct usb_hid *h, uint8_t index, uint8_t *d)
{
	const char *s;
	size_t n = 2;

	switch (index) {
	case 0: /* the languages: US English only */
		d[0] = 4;
		d[1] = USB_DT_STRING;
		usb_hid_put16(d + 2, 0x0409);
		return 4;
	case 1: s = h->id.manufacturer; break;
	case 2: s = h->id.product_name; break;
	case USB_HID_STR_SERIAL:
		if (!h->id.serial[0])
			return -EPIPE;
		s = h->id.serial;
		break;
	default: return -EPIPE;
	}
	for (size_t i = 0; s[i] && i < USB_HID_STRING_MAX; i++) {
		uint8_t c = (uint8_t)s[i];

		/* One '?' for each UTF-8 sequence: its lead byte makes it,
		 * continuation bytes (10xxxxxx) are dropped. */
		if (c >= 0x80 && c < 0xc0)
			continue;
		usb_hid_put16(d + n, c < 0x80 ? c : '?');
		n += 2;
	}
	d[0] = (uint8_t)n;
	d[1] = USB_DT_STRING;
	return (int)n;
}

/* ---- reports ---- */

static size_t usb_hid_report_keyboard(const struct usb_hid *h, uint8_t *r)
{
	r[0] = h->modifiers;
	r[1] = 0;
	if (h->nkeys_over)
		memset(r + 2, USB_HID_ROLLOVER, 6);
	else
		memcpy(r + 2, h->keys, 6);
	return 8;
}

/* A pointer report: the state of the buttons, the given motion (relative
 * for the mouse, the position for the tablet) and wheels. */
static size_t usb_hid_report_pointer(const struct usb_hid *h, uint8_t *r, int32_t x, int32_t y,
				     int8_t wheel, int8_t pan)
{
	r[0] = h->buttons;
	if (h->kind == USB_HID_MOUSE && h->boot_protocol) {
		r[1] = (uint8_t)(int8_t)x;
		r[2] = (uint8_t)(int8_t)y;
		return 3;
	}
	usb_hid_put16(r + 1, (uint16_t)(int16_t)x);
	usb_hid_put16(r + 3, (uint16_t)(int16_t)y);
	r[5] = (uint8_t)wheel;
	r[6] = (uint8_t)pan;
	return 7;
}

/* The report GET_REPORT(Input) answers: the state, no motion. */
static size_t usb_hid_report_now(const struct usb_hid *h, uint8_t *r)
{
	if (h->kind == USB_HID_KEYBOARD)
		return usb_hid_report_keyboard(h, r);
	if (h->kind == USB_HID_TABLET)
		return usb_hid_report_pointer(h, r, h->x, h->y, 0, 0);
	return usb_hid_report_pointer(h, r, 0, 0, 0, 0);
}

static uint32_t usb_hid_room(const struct usb_hid *h)
{
	return USB_HID_QUEUE - h->qlen;
}

static void usb_hid_push(struct usb_hid *h, const uint8_t *r, size_t len)
{
	uint32_t slot = (h->qhead + h->qlen) % USB_HID_QUEUE;

	assert(h->qlen < USB_HID_QUEUE && len <= USB_HID_REPORT_MAX);
	memcpy(h->q[slot], r, len);
	h->qlen_of[slot] = (uint8_t)len;
	h->qlen++;
	h->queued++;
}

static void usb_hid_push_state(struct usb_hid *h)
{
	uint8_t r[USB_HID_REPORT_MAX];

	usb_hid_push(h, r, usb_hid_report_now(h, r));
}

size_t usb_hid_fetch(struct usb_hid *h, uint8_t *buf, size_t max)
{
	size_t len;

	if (!h->qlen)
		return 0;
	len = h->qlen_of[h->qhead];
	if (len > max)
		len = max;
	if (len)
		memcpy(buf, h->q[h->qhead], len);
	h->qhead = (h->qhead + 1) % USB_HID_QUEUE;
	h->qlen--;
	h->consumed++;
	return len;
}

bool usb_hid_pending(const struct usb_hid *h)
{
	return h->qlen != 0;
}

uint16_t usb_hid_max_packet(const struct usb_hid *h)
{
	(void)h;
	return USB_HID_REPORT_MAX;
}

bool usb_hid_has_key(uint16_t code)
{
	return usb_keymap_usage(code) != 0;
}

static bool usb_hid_held(const struct usb_hid *h, uint8_t u)
{
	return h->held[u / 8] & (1u << (u % 8));
}

/* After a release brought the count back to six: the report lists every
 * key held again (the order of the presses beyond six is not kept; hosts
 * read the array as a set). */
static void usb_hid_keys_refill(struct usb_hid *h)
{
	size_t n = 0;

	memset(h->keys, 0, sizeof(h->keys));
	for (unsigned u = 1; u < 256 && n < 6; u++)
		if (usb_hid_held(h, (uint8_t)u))
			h->keys[n++] = (uint8_t)u;
}

static void usb_hid_key_down(struct usb_hid *h, uint8_t u)
{
	size_t i;

	if (usb_hid_held(h, u))
		return;
	h->held[u / 8] |= 1u << (u % 8);
	for (i = 0; i < 6 && h->keys[i]; i++)
		;
	if (i < 6 && !h->nkeys_over)
		h->keys[i] = u;
	else
		h->nkeys_over++;
}

static void usb_hid_key_up(struct usb_hid *h, uint8_t u)
{
	size_t i;

	if (!usb_hid_held(h, u))
		return;
	h->held[u / 8] &= ~(1u << (u % 8));
	if (h->nkeys_over) {
		if (--h->nkeys_over == 0)
			usb_hid_keys_refill(h);
		return;
	}
	for (i = 0; i < 6 && h->keys[i] != u; i++)
		;
	assert(i < 6);
	memmove(h->keys + i, h->keys + i + 1, 5 - i);
	h->keys[5] = 0;
}

static int usb_hid_post_key(struct usb_hid *h, const struct cellvm_input_event *e)
{
	uint8_t u = usb_keymap_usage(e->code);
	bool down = e->kind == CELLVM_INPUT_KEY_DOWN;

	if (!u)
		return -EINVAL;
	if (!usb_hid_room(h))
		return -ENOSPC;
	if (u >= 0xe0 && u <= 0xe7) {
		if (down)
			h->modifiers |= 1u << (u - 0xe0);
		else
			h->modifiers &= ~(1u << (u - 0xe0));
	} else if (down) {
		usb_hid_key_down(h, u);
	} else {
		usb_hid_key_up(h, u);
	}
	usb_hid_push_state(h);
	return 0;
}

static int32_t usb_hid_clamp(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* How many boot reports (at most 127 per axis each) a motion takes. */
static uint32_t usb_hid_boot_steps(int32_t dx, int32_t dy)
{
	uint32_t ax = (uint32_t)(dx < 0 ? -dx : dx), ay = (uint32_t)(dy < 0 ? -dy : dy);
	uint32_t m = ax > ay ? ax : ay;

	return m ? (m + 126) / 127 : 1;
}

static int usb_hid_post_rel(struct usb_hid *h, int32_t dx, int32_t dy)
{
	uint8_t r[USB_HID_REPORT_MAX];

	if (!h->boot_protocol) {
		if (!usb_hid_room(h))
			return -ENOSPC;
		dx = usb_hid_clamp(dx, -32767, 32767);
		dy = usb_hid_clamp(dy, -32767, 32767);
		usb_hid_push(h, r, usb_hid_report_pointer(h, r, dx, dy, 0, 0));
		return 0;
	}
	/* A motion that could never fit the queue whole is cut to what does,
	 * or it would be refused with -ENOSPC for ever. */
	dx = usb_hid_clamp(dx, -127 * USB_HID_QUEUE, 127 * USB_HID_QUEUE);
	dy = usb_hid_clamp(dy, -127 * USB_HID_QUEUE, 127 * USB_HID_QUEUE);
	if (usb_hid_boot_steps(dx, dy) > usb_hid_room(h))
		return -ENOSPC;
	do {
		int32_t sx = usb_hid_clamp(dx, -127, 127), sy = usb_hid_clamp(dy, -127, 127);

		usb_hid_push(h, r, usb_hid_report_pointer(h, r, sx, sy, 0, 0));
		dx -= sx;
		dy -= sy;
	} while (dx || dy);
	return 0;
}

static int usb_hid_post_pointer(struct usb_hid *h, const struct cellvm_input_event *e)
{
	uint8_t r[USB_HID_REPORT_MAX];
	int32_t x = h->kind == USB_HID_TABLET ? h->x : 0, y = h->kind == USB_HID_TABLET ? h->y : 0;

	switch (e->kind) {
	case CELLVM_INPUT_REL_MOVE:
		if (h->kind != USB_HID_MOUSE)
			return -EINVAL;
		return usb_hid_post_rel(h, e->a, e->b);
	case CELLVM_INPUT_ABS_MOVE:
		if (h->kind != USB_HID_TABLET)
			return -EINVAL;
		if (!usb_hid_room(h))
			return -ENOSPC;
		h->x = usb_hid_clamp(e->a, 0, CELLVM_INPUT_ABS_MAX);
		h->y = usb_hid_clamp(e->b, 0, CELLVM_INPUT_ABS_MAX);
		usb_hid_push_state(h);
		return 0;
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP:
		if (e->code >= CELLVM_INPUT_BTN_COUNT)
			return -EINVAL;
		if (!usb_hid_room(h))
			return -ENOSPC;
		if (e->kind == CELLVM_INPUT_BTN_DOWN)
			h->buttons |= 1u << e->code;
		else
			h->buttons &= ~(1u << e->code);
		usb_hid_push_state(h);
		return 0;
	case CELLVM_INPUT_WHEEL:
		if (!usb_hid_room(h))
			return -ENOSPC;
		/* A boot mouse has no wheel: the report says the buttons. */
		usb_hid_push(h, r,
			     usb_hid_report_pointer(h, r, x, y,
						    (int8_t)usb_hid_clamp(e->a, -127, 127),
						    (int8_t)usb_hid_clamp(e->b, -127, 127)));
		return 0;
	default: return -EINVAL;
	}
}

int usb_hid_post(struct usb_hid *h, const struct cellvm_input_event *e)
{
	if (h->kind == USB_HID_KEYBOARD) {
		if (e->kind != CELLVM_INPUT_KEY_DOWN && e->kind != CELLVM_INPUT_KEY_UP)
			return -EINVAL;
		return usb_hid_post_key(h, e);
	}
	return usb_hid_post_pointer(h, e);
}

/* ---- control requests ---- */

/* The answer of a device-to-host request: at most min(len, wLength). */
static int usb_hid_answer(const struct usb_setup *s, uint8_t *data, size_t len, const void *src,
			  size_t n)
{
	if (n > s->length)
		n = s->length;
	if (n > len)
		n = len;
	if (n)
		memcpy(data, src, n);
	return (int)n;
}

static int usb_hid_get_descriptor(struct usb_hid *h, const struct usb_setup *s, uint8_t *data,
				  size_t len)
{
	uint8_t d[USB_HID_DESC_MAX];
	uint8_t type = s->value >> 8, index = s->value & 0xff;
	int n;

	if ((s->request_type & USB_RECIP_MASK) == USB_RECIP_IFACE) {
		/* UNTRUSTED(guest): wIndex names the interface; we have one. */
		if (s->index != 0 || index != 0)
			return -EPIPE;
		if (type == HID_DT_HID)
			return usb_hid_answer(s, data, len, d, usb_hid_desc_hid(h, d));
		if (type == HID_DT_REPORT)
			return usb_hid_answer(s, data, len, usb_hid_info(h)->rdesc,
					      usb_hid_info(h)->rdesc_len);
		return -EPIPE;
	}
	switch (type) {
	case USB_DT_DEVICE:
		if (index != 0)
			return -EPIPE;
		return usb_hid_answer(s, data, len, d, usb_hid_desc_device(h, d));
	case USB_DT_CONFIG:
		if (index != 0)
			return -EPIPE;
		return usb_hid_answer(s, data, len, d, usb_hid_desc_config(h, d));
	case USB_DT_STRING:
		/* wIndex is the language; we have one and answer it for any. */
		n = usb_hid_desc_string(h, index, d);
		if (n < 0)
			return n;
		return usb_hid_answer(s, data, len, d, (size_t)n);
	case HID_DT_HID: /* some hosts ask the device for these */
		return usb_hid_answer(s, data, len, d, usb_hid_desc_hid(h, d));
	default:
		/* Device qualifier and other speed configuration among them:
		 * a full-speed-only device answers them with a STALL. */
		return -EPIPE;
	}
}

static int usb_hid_feature(struct usb_hid *h, const struct usb_setup *s, bool set)
{
	switch (s->request_type & USB_RECIP_MASK) {
	case USB_RECIP_DEVICE:
		if (s->value != USB_FEAT_REMOTE_WAKEUP)
			return -EPIPE;
		h->remote_wakeup = set;
		return 0;
	case USB_RECIP_ENDPOINT:
		/* Halt is accepted and has no effect: the endpoints never stall
		 * on their own, and a cleared halt resets nothing we keep. */
		if (s->value != USB_FEAT_ENDPOINT_HALT)
			return -EPIPE;
		if ((s->index & 0xff) != 0 && (s->index & 0xff) != 0x80 &&
		    (s->index & 0xff) != USB_HID_EP_IN)
			return -EPIPE;
		return 0;
	default: return -EPIPE;
	}
}

static int usb_hid_get_status(struct usb_hid *h, const struct usb_setup *s, uint8_t *data,
			      size_t len)
{
	uint8_t st[2] = {0, 0};

	switch (s->request_type & USB_RECIP_MASK) {
	case USB_RECIP_DEVICE:
		st[0] = h->remote_wakeup ? 0x02 : 0; /* bit 0 self-powered: no */
		break;
	case USB_RECIP_IFACE:
		if (s->index != 0)
			return -EPIPE;
		break;
	case USB_RECIP_ENDPOINT:
		if ((s->index & 0xff) != 0 && (s->index & 0xff) != 0x80 &&
		    (s->index & 0xff) != USB_HID_EP_IN)
			return -EPIPE;
		break;
	default: return -EPIPE;
	}
	return usb_hid_answer(s, data, len, st, sizeof(st));
}

static int usb_hid_standard(struct usb_hid *h, const struct usb_setup *s, uint8_t *data, size_t len)
{
	bool in = s->request_type & USB_DIR_IN;
	uint8_t recip = s->request_type & USB_RECIP_MASK;
	uint8_t zero = 0;

	switch (s->request) {
	case USB_REQ_GET_STATUS: return in ? usb_hid_get_status(h, s, data, len) : -EPIPE;
	case USB_REQ_CLEAR_FEATURE:
	case USB_REQ_SET_FEATURE:
		return in ? -EPIPE : usb_hid_feature(h, s, s->request == USB_REQ_SET_FEATURE);
	case USB_REQ_SET_ADDRESS:
		if (in || recip != USB_RECIP_DEVICE || s->value > 127)
			return -EPIPE;
		usb_hid_set_address(h, (uint8_t)s->value);
		return 0;
	case USB_REQ_GET_DESCRIPTOR:
		if (!in || (recip != USB_RECIP_DEVICE && recip != USB_RECIP_IFACE))
			return -EPIPE;
		return usb_hid_get_descriptor(h, s, data, len);
	case USB_REQ_GET_CONFIGURATION:
		if (!in || recip != USB_RECIP_DEVICE)
			return -EPIPE;
		return usb_hid_answer(s, data, len, &h->configuration, 1);
	case USB_REQ_SET_CONFIGURATION:
		if (in || recip != USB_RECIP_DEVICE || s->value > 1)
			return -EPIPE;
		h->configuration = (uint8_t)s->value;
		return 0;
	case USB_REQ_GET_INTERFACE:
		/* Only a configured device has interfaces (USB 2.0 9.4.4). */
		if (!in || recip != USB_RECIP_IFACE || s->index != 0 || !h->configuration)
			return -EPIPE;
		return usb_hid_answer(s, data, len, &zero, 1);
	case USB_REQ_SET_INTERFACE:
		if (in || recip != USB_RECIP_IFACE || s->index != 0 || s->value != 0 ||
		    !h->configuration)
			return -EPIPE;
		return 0;
	default: return -EPIPE;
	}
}

static int usb_hid_get_report(struct usb_hid *h, const struct usb_setup *s, uint8_t *data,
			      size_t len)
{
	uint8_t r[USB_HID_REPORT_MAX];

	/* UNTRUSTED(guest): wValue is type << 8 | report id; ours has no ids. */
	if ((s->value & 0xff) != 0)
		return -EPIPE;
	switch (s->value >> 8) {
	case HID_REPORT_INPUT: return usb_hid_answer(s, data, len, r, usb_hid_report_now(h, r));
	case HID_REPORT_OUTPUT:
		if (h->kind != USB_HID_KEYBOARD)
			return -EPIPE;
		return usb_hid_answer(s, data, len, &h->leds, 1);
	default: return -EPIPE;
	}
}

static int usb_hid_set_report(struct usb_hid *h, const struct usb_setup *s, const uint8_t *data,
			      size_t len)
{
	if (h->kind != USB_HID_KEYBOARD || s->value != (HID_REPORT_OUTPUT << 8) || len < 1)
		return -EPIPE;
	h->leds = data[0] & USB_HID_LED_MASK;
	return 0;
}

static int usb_hid_class(struct usb_hid *h, const struct usb_setup *s, uint8_t *data, size_t len)
{
	bool in = s->request_type & USB_DIR_IN;
	uint8_t proto;

	/* UNTRUSTED(guest): class requests go to our one interface. */
	if ((s->request_type & USB_RECIP_MASK) != USB_RECIP_IFACE || s->index != 0)
		return -EPIPE;
	switch (s->request | (in ? 0x100 : 0)) {
	case HID_REQ_GET_REPORT | 0x100: return usb_hid_get_report(h, s, data, len);
	case HID_REQ_SET_REPORT: return usb_hid_set_report(h, s, data, len);
	case HID_REQ_GET_IDLE | 0x100: return usb_hid_answer(s, data, len, &h->idle, 1);
	case HID_REQ_SET_IDLE:
		/* The duration is kept and reported; reports go on change. */
		h->idle = s->value >> 8;
		return 0;
	case HID_REQ_GET_PROTOCOL | 0x100:
		proto = h->boot_protocol ? 0 : 1;
		return usb_hid_answer(s, data, len, &proto, 1);
	case HID_REQ_SET_PROTOCOL:
		/* Only boot devices (subclass 1) have a boot protocol. */
		if (h->kind == USB_HID_TABLET || s->value > 1)
			return -EPIPE;
		h->boot_protocol = s->value == 0;
		return 0;
	default: return -EPIPE;
	}
}

int usb_hid_control(struct usb_hid *h, const struct usb_setup *s, uint8_t *data, size_t len)
{
	int r;

	switch (s->request_type & USB_TYPE_MASK) {
	case USB_TYPE_STANDARD: r = usb_hid_standard(h, s, data, len); break;
	case USB_TYPE_CLASS: r = usb_hid_class(h, s, data, len); break;
	default: r = -EPIPE; break;
	}
	if (r == -EPIPE)
		h->stalls++;
	return r;
}
