/* cellvm-dev-input's model: one VM's every input backend (the i8042 with its
 * keyboard and mouse, ps2.c; the virtio-input keyboard, mouse, tablet and
 * touchscreen, vinput.c) behind one queue of injected events. Events go out
 * in the order they were injected, each on the backend its request chose
 * (or the VM's active one); a request is answered once the guest's driver
 * consumed every event of it (port 0x60 read, virtqueue buffer used).
 * Runs in the input process; the guest's port accesses and rings, and the
 * launcher's commands, are untrusted. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/devlib/devproc.h"
#include "dev-procs/input/ps2.h"
#include "dev-procs/input/usb_hid.h"
#include "dev-procs/input/vinput.h"
#include "dev-procs/input/xhci.h"
#include "proto/input_event.h"

#define INPUT_MAX_PENDING  4096 /* events queued for the guest, every request together */
#define INPUT_MAX_REQUESTS 64	/* requests not yet answered */
#define INPUT_NFN	   4	/* virtio-input functions at most */
/* Room beyond INPUT_MAX_PENDING for the releases a backend switch queues:
 * every key, button and touch of both backends held at once. */
#define INPUT_RELEASE_RESERVE                                                                      \
	(2 * (CELLVM_INPUT_KEY_MAX + CELLVM_INPUT_BTN_COUNT + CELLVM_INPUT_TOUCH_SLOTS))

/* Where an event goes. */
enum input_sink {
	INPUT_SINK_PS2_KBD,
	INPUT_SINK_PS2_MOUSE,
	INPUT_SINK_USB,					    /* + enum usb_hid_kind */
	INPUT_SINK_VIRTIO = INPUT_SINK_USB + USB_HID_KINDS, /* + the function index */
};

struct input_item {
	struct cellvm_input_event ev;
	uint8_t backend; /* resolved */
	uint8_t sink;	 /* enum input_sink, or INPUT_SINK_VIRTIO + function */
	uint8_t ps2_buttons;
	bool posted;
	uint64_t mark; /* the sink's queued count right after the post */
	uint32_t req;  /* slot in requests[], or UINT32_MAX (internal) */
};

struct input_request {
	uint64_t id; /* 0: free */
	uint32_t total, delivered;
};

/* What one backend holds down (released when the VM switches away). */
struct input_held {
	uint64_t keys[(CELLVM_INPUT_KEY_MAX + 64) / 64];
	uint8_t buttons;  /* bit per enum cellvm_input_button */
	uint16_t touches; /* bit per slot (virtio) */
};

struct input {
	struct devproc *dp; /* the host function (the control channel) */
	bool has_ps2;
	int ps2_link;	/* -1: no PS/2 */
	int ps2_irq[2]; /* IRQ 1, IRQ 12 eventfds from the core */
	struct dispatch ps2_proto;
	struct ps2 ps2;
	bool has_usb;
	int xhci_link; /* -1: no xHCI */
	int xhci_irq;  /* the controller's interrupt eventfd from the core */
	struct dispatch xhci_proto;
	struct xhci xhci;
	struct usb_hid usb[USB_HID_KINDS];
	bool usb_present[USB_HID_KINDS];
	uint32_t nfn;
	struct vinput vin[INPUT_NFN];
	int fn_of_kind[4]; /* enum vinput_kind -> function, or -1 */
	uint8_t active;	   /* enum cellvm_input_backend */
	bool virtio_abs;   /* virtio and USB buttons/wheel go to the tablet */
	struct input_held held[CELLVM_INPUT_BACKEND_MAX + 1];
	uint8_t ps2_buttons; /* the PS/2 mouse's button state as queued */
	/* the queue: a ring of items, head first */
	struct input_item *q;
	uint32_t qhead, qlen, qmax; /* qmax: what injections may fill */
	uint32_t qcap;		    /* qmax + INPUT_RELEASE_RESERVE: the ring */
	uint32_t nposted;	    /* items at the head that are posted */
	struct input_request req[INPUT_MAX_REQUESTS];
	int timer_fd;	     /* a delayed head item */
	uint64_t not_before; /* CLOCK_MONOTONIC ns, for the head; 0: not armed */
	uint64_t injected, delivered_total, refused;
};

/* The frame's ops for cellvm-dev-input (main.c: devproc_main). */
extern const struct devproc_ops input_ops;
