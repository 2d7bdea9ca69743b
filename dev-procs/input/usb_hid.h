/* USB HID devices (HID 1.11, USB 2.0 chapter 9) behind cellvm-dev-input's
 * xHCI controller (xhci.c): a boot keyboard (modifiers plus 6-key rollover,
 * LED output report), a relative mouse (5 buttons, 16-bit motion, wheel and
 * horizontal wheel) and an absolute tablet (5 buttons, 0..32767 on both axes,
 * wheels). Each answers the standard and HID class control requests on
 * endpoint 0 with descriptors carrying the identity the VM's owner chose
 * (vendor, product, release, strings, polling interval), and hands reports to
 * its interrupt IN endpoint (address 0x81) from a bounded queue.
 *
 * Injected records (proto/input_event.h) become one report each (a boot
 * mouse's long motion becomes several), in the order posted; queued() and
 * consumed() count reports so that input.c acknowledges a request once the
 * guest fetched its last report. Control requests are guest input: any
 * setup packet is answered with data or a STALL, never more than wLength
 * bytes. Does not log; owns no memory or fds (callers embed it). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/input_event.h"

#define USB_HID_REPORT_MAX   8	/* the longest report (keyboard: 8 bytes) */
#define USB_HID_QUEUE	     64 /* reports waiting for the guest */
#define USB_HID_STRING_MAX   63 /* bytes of a configured string */
#define USB_HID_MAX_PACKET0  64 /* endpoint 0's wMaxPacketSize */
#define USB_HID_EP_IN	     0x81
#define USB_HID_DESC_MAX     256    /* the longest descriptor any request returns */
#define USB_HID_DEFAULT_VID  0x1d6b /* Linux Foundation */
#define USB_HID_KEYBOARD_PID 0x0104 /* overridden by the identity */
/* The other defaults an identity's 0 or empty fields take: idProduct
 * 0x0105 (mouse) and 0x0106 (tablet), bcdDevice 0x0100, manufacturer
 * "cellvm", product "USB Keyboard"/"USB Mouse"/"USB Tablet" (Linux names
 * the input devices "cellvm USB Keyboard" and so on), no serial (iSerialNumber 0), bInterval 1 ms.
 * Strings go to the guest as UTF-16LE: ASCII as is, each other UTF-8 sequence as '?'. */
#define USB_HID_MOUSE_PID   0x0105
#define USB_HID_TABLET_PID  0x0106
#define USB_HID_DEFAULT_REL 0x0100

enum usb_hid_kind { USB_HID_KEYBOARD, USB_HID_MOUSE, USB_HID_TABLET, USB_HID_KINDS };

/* bmRequestType/bRequest values the devices answer (USB 2.0 table 9-4,
 * HID 1.11 section 7.2). */
#define USB_REQ_GET_STATUS	  0x00
#define USB_REQ_CLEAR_FEATURE	  0x01
#define USB_REQ_SET_FEATURE	  0x03
#define USB_REQ_SET_ADDRESS	  0x05
#define USB_REQ_GET_DESCRIPTOR	  0x06
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_REQ_GET_INTERFACE	  0x0a
#define USB_REQ_SET_INTERFACE	  0x0b
#define HID_REQ_GET_REPORT	  0x01
#define HID_REQ_GET_IDLE	  0x02
#define HID_REQ_GET_PROTOCOL	  0x03
#define HID_REQ_SET_REPORT	  0x09
#define HID_REQ_SET_IDLE	  0x0a
#define HID_REQ_SET_PROTOCOL	  0x0b
#define USB_DT_DEVICE		  0x01
#define USB_DT_CONFIG		  0x02
#define USB_DT_STRING		  0x03
#define USB_DT_INTERFACE	  0x04
#define USB_DT_ENDPOINT		  0x05
#define HID_DT_HID		  0x21
#define HID_DT_REPORT		  0x22

struct usb_hid_identity {
	uint16_t vendor, product, release; /* idVendor, idProduct, bcdDevice */
	char manufacturer[USB_HID_STRING_MAX + 1];
	char product_name[USB_HID_STRING_MAX + 1];
	char serial[USB_HID_STRING_MAX + 1]; /* empty: iSerialNumber 0 */
	uint8_t interval_ms;		     /* bInterval, 1..255 */
};

/* A SETUP packet, host byte order. */
struct usb_setup {
	uint8_t request_type, request;
	uint16_t value, index, length;
};

struct usb_hid {
	enum usb_hid_kind kind;
	struct usb_hid_identity id;
	/* device state */
	uint8_t address;
	uint8_t configuration; /* 0: not configured */
	bool boot_protocol;    /* SET_PROTOCOL(0) */
	uint8_t idle;	       /* SET_IDLE's duration (kept, reported; reports go on change) */
	bool remote_wakeup;
	uint8_t leds; /* keyboard: the last output report (bit 0 Num, 1 Caps, 2 Scroll) */
	/* input state, as posted */
	uint8_t modifiers;
	uint8_t keys[6];    /* usages held, in press order; 0: free */
	uint8_t nkeys_over; /* usages held beyond six (rollover) */
	uint8_t held[32];   /* bitmap of the non-modifier usages held, all of them */
	uint8_t buttons;    /* bit per enum cellvm_input_button */
	int32_t x, y;	    /* tablet position */
	/* reports queued for the interrupt IN endpoint */
	uint8_t q[USB_HID_QUEUE][USB_HID_REPORT_MAX];
	uint8_t qlen_of[USB_HID_QUEUE];
	uint32_t qhead, qlen;
	uint64_t queued, consumed; /* reports ever queued, ever fetched by the guest */
	uint64_t stalls;	   /* control requests answered with a STALL */
};

/* A device of kind k with identity id (NULL: the defaults for k; fields
 * left 0 or empty in id also take the defaults). */
void usb_hid_init(struct usb_hid *h, enum usb_hid_kind k, const struct usb_hid_identity *id);
/* A bus reset (port reset): address 0, not configured, report protocol,
 * queued reports dropped (counted as consumed: the guest will not get
 * them) and held input forgotten. */
void usb_hid_reset(struct usb_hid *h);

/* One control transfer on endpoint 0. UNTRUSTED(guest): s and, for host to
 * device requests, data[0..len). For device-to-host requests the device
 * writes at most min(len, s->length) bytes of its answer to data and returns
 * their count; for host-to-device ones it reads len bytes (len <= s->length,
 * the caller's check) and returns 0. -EPIPE: a STALL (request not supported,
 * bad value, wrong state). SET_ADDRESS is the controller's (xHCI does it in
 * Address Device) and is answered by usb_hid_set_address. */
int usb_hid_control(struct usb_hid *h, const struct usb_setup *s, uint8_t *data, size_t len);
void usb_hid_set_address(struct usb_hid *h, uint8_t address);

/* Interrupt IN: the report at the head of the queue, copied to buf (at most
 * max bytes; the rest of a longer report is lost, as on a short buffer), and
 * dequeued (consumed + 1). Returns its length, or 0 when none is queued. */
size_t usb_hid_fetch(struct usb_hid *h, uint8_t *buf, size_t max);
bool usb_hid_pending(const struct usb_hid *h);
/* The interrupt IN endpoint's wMaxPacketSize (at least the longest report). */
uint16_t usb_hid_max_packet(const struct usb_hid *h);

/* Whether the keyboard has a HID usage (page 7) for Linux key code code. */
bool usb_hid_has_key(uint16_t code);
/* Post one checked record (keyboard: KEY_DOWN/UP; mouse: REL_MOVE, BTN_*,
 * WHEEL; tablet: ABS_MOVE, BTN_*, WHEEL): update the state and queue the
 * report(s). 0, -ENOSPC (no room: nothing changed, try again after a fetch),
 * -EINVAL (this device takes no such record, or the keyboard no such key).
 * Values past a field's range are clamped: motion to +-32767 (a boot mouse's
 * to +-127 * USB_HID_QUEUE, so that its split always fits an empty queue),
 * positions to 0..32767, wheels to +-127. */
int usb_hid_post(struct usb_hid *h, const struct cellvm_input_event *e);

static inline uint64_t usb_hid_queued(const struct usb_hid *h)
{
	return h->queued;
}
static inline uint64_t usb_hid_consumed(const struct usb_hid *h)
{
	return h->consumed;
}
/* The guest set a configuration (its driver bound). */
static inline bool usb_hid_configured(const struct usb_hid *h)
{
	return h->configuration != 0;
}
