/* A VM's input devices: --input and --usb-device of cellvm run and the
 * input_config of a cellvm-broker VM definition (broker_vmdef.c builds the
 * same struct): which backends exist (ps2: the i8042 with keyboard and
 * mouse; virtio: a virtio-input keyboard, mouse, tablet and multi-touch
 * screen; usb: an xHCI controller with a USB HID keyboard, mouse and
 * tablet), which is active first, and the identity of each virtio-input and
 * USB device. User input, checked here; the PS/2 port link and the xHCI link
 * are made by input_opt_open. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"

#define INPUT_OPT_VIRTIO_FNS  4 /* keyboard, mouse, tablet, multi-touch */
#define INPUT_OPT_NAME_MAX    63
#define INPUT_OPT_SERIAL_MAX  31
#define INPUT_OPT_USB_FNS     3	 /* keyboard, mouse, tablet (UsbHidConfig.kind) */
#define INPUT_OPT_USB_STR_MAX 63 /* each USB string descriptor, in bytes */

/* One USB HID device's identity; 0 or "": the device's default. */
struct input_opt_usb {
	uint32_t vendor, product, release; /* idVendor, idProduct, bcdDevice */
	uint32_t interval_ms;		   /* 1..255 */
	char manufacturer[INPUT_OPT_USB_STR_MAX + 1];
	char product_name[INPUT_OPT_USB_STR_MAX + 1];
	char serial[INPUT_OPT_USB_STR_MAX + 1];
	bool given; /* set by input_opt_parse_usb or a definition */
};

struct input_opt {
	bool ps2;
	bool virtio;
	bool usb;
	uint32_t default_backend; /* enum cellvm_input_backend */
	char names[INPUT_OPT_VIRTIO_FNS][INPUT_OPT_NAME_MAX + 1];
	char serials[INPUT_OPT_VIRTIO_FNS][INPUT_OPT_SERIAL_MAX + 1];
	uint32_t vendor[INPUT_OPT_VIRTIO_FNS], product[INPUT_OPT_VIRTIO_FNS];
	/* The PS/2 port link: [0] the core's end, [1] the device's (-1: none). */
	int ps2_fds[2];
	/* USB identity by kind (0 keyboard, 1 mouse, 2 tablet). */
	struct input_opt_usb usb_ids[INPUT_OPT_USB_FNS];
	/* The xHCI link: [0] the core's end ("xhci"), [1] the device's (-1: none). */
	int xhci_fds[2];
	/* Filled by input_opt_open(); points into this struct. */
	Cellvm__Device__InputConfig cfg;
	Cellvm__Device__VirtioInputConfig vcfg[INPUT_OPT_VIRTIO_FNS];
	Cellvm__Device__VirtioInputConfig *pvcfg[INPUT_OPT_VIRTIO_FNS];
	Cellvm__Device__UsbHidConfig ucfg[INPUT_OPT_USB_FNS];
	Cellvm__Device__UsbHidConfig *pucfg[INPUT_OPT_USB_FNS];
};

/* Parse "ps2,virtio,usb[,default=ps2|virtio|usb]" (any of the three) into
 * *ret. The default backend is the first one named. Returns 0 or -EINVAL
 * with a message in err. */
int input_opt_parse(const char *s, struct input_opt *ret, char *err, size_t errlen);
/* Parse one --usb-device value, "KIND[,vendor=N][,product=N][,release=N]
 * [,manufacturer=S][,name=S][,serial=S][,interval=N]" (KIND keyboard, mouse
 * or tablet; N decimal or 0x hex) into o->usb_ids[KIND]. A kind given twice
 * is refused. Does not need o->usb (the caller checks). Returns 0 or
 * -EINVAL with a message in err. */
int input_opt_parse_usb(const char *s, struct input_opt *o, char *err, size_t errlen);
/* The USB kind a name stands for ("keyboard", "mouse", "tablet"), or -EINVAL;
 * and back (NULL for none). */
int input_opt_usb_kind(const char *name);
const char *input_opt_usb_kind_name(uint32_t kind);
/* Set one field of u from a string: key "vendor", "product", "release"
 * (0..0xffff), "interval" (1..255) as decimal or 0x hex; "manufacturer",
 * "name", "serial" (at most 63 bytes of printable ASCII). Returns 0, or
 * -EINVAL with a message in err that does not name the key (the caller's
 * spelling of it goes first), or -ENOENT for an unknown key (err untouched). */
int input_opt_usb_set(struct input_opt_usb *u, const char *key, const char *val, char *err,
		      size_t errlen);
/* An empty set of options (no backend yet); fds -1. */
void input_opt_init(struct input_opt *o);
/* The backend's name ("ps2", "virtio", "usb"), or NULL. */
const char *input_opt_backend_name(uint32_t backend);
/* The backend a name stands for, or -EINVAL. */
int input_opt_backend(const char *name);
/* How many virtio-input functions (links) the device has. */
uint32_t input_opt_nvirtio(const struct input_opt *o);
/* Make the PS/2 port link (ps2), the xHCI link (usb) and fill cfg.
 * Returns 0 or -errno. The fds are o's until input_opt_close. */
int input_opt_open(struct input_opt *o, char *err, size_t errlen);
void input_opt_close(struct input_opt *o);
