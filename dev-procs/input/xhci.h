/* An xHCI host controller (eXtensible Host Controller Interface 1.2) in
 * cellvm-dev-input, with the VM's USB HID devices (usb_hid.c) on its USB 2.0
 * root ports. The core forwards every access to the register BAR
 * (capability, operational, runtime, doorbells); the controller reads and
 * writes its rings and contexts in guest RAM and raises its one interrupter
 * through a callback (the process writes the irqfd the core routes to MSI-X
 * or INTx).
 *
 * Register values, rings, TRBs and contexts are guest input. A bad one ends
 * in what the specification defines: a TRB completed with an error code, a
 * command completed with one, or the controller halted with Host System
 * Error (guest memory it cannot reach) or Host Controller Error (its own
 * state made impossible). Every ring walk is bounded per doorbell, and no
 * access leaves guest RAM. Does not log; owns no memory or fds. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/gmem.h"
#include "dev-procs/input/usb_hid.h"

/* BAR layout (64 KiB; the core keeps the MSI-X table and PBA at
 * XHCI_MSIX_OFF and up, and forwards only what is below it). */
#define XHCI_BAR_SIZE	0x10000
#define XHCI_CAP_LEN	0x40
#define XHCI_OP_OFF	0x40
#define XHCI_PORT_OFF	(XHCI_OP_OFF + 0x400)
#define XHCI_EXTCAP_OFF 0x800
#define XHCI_RT_OFF	0x1000
#define XHCI_DB_OFF	0x2000
#define XHCI_MSIX_OFF	0x3000 /* the core's: MSI-X table */
#define XHCI_PBA_OFF	0x3800 /* the core's: pending bits */
#define XHCI_REGS_END	XHCI_MSIX_OFF

#define XHCI_MAX_SLOTS	8
#define XHCI_USB2_PORTS 4 /* ports 1-4: USB 2.0 (the HID devices) */
#define XHCI_USB3_PORTS 4 /* ports 5-8: USB 3.x (nothing connected) */
#define XHCI_PORTS	(XHCI_USB2_PORTS + XHCI_USB3_PORTS)
#define XHCI_MAX_EPS	31 /* device context index 1..31 */
#define XHCI_ERST_MAX	8  /* event ring segments */
#define XHCI_TRB_LEN	16
/* Ring walks: TRBs looked at per doorbell (or per command ring run), and
 * link TRBs followed per TD, beyond which the ring counts as looping. */
#define XHCI_WALK_MAX	  256
#define XHCI_LINKS_MAX	  16
#define XHCI_TD_BYTES_MAX (64 * 1024) /* a control TD's data stage at most */

/* Completion codes (xHCI 1.2 table 6-90). */
enum xhci_cc {
	XHCI_CC_SUCCESS = 1,
	XHCI_CC_DATA_BUFFER = 2,
	XHCI_CC_BABBLE = 3,
	XHCI_CC_USB_TRANSACTION = 4,
	XHCI_CC_TRB = 5,
	XHCI_CC_STALL = 6,
	XHCI_CC_RESOURCE = 7,
	XHCI_CC_BANDWIDTH = 8,
	XHCI_CC_NO_SLOTS = 9,
	XHCI_CC_INVALID_STREAM_TYPE = 10,
	XHCI_CC_SLOT_NOT_ENABLED = 11,
	XHCI_CC_EP_NOT_ENABLED = 12,
	XHCI_CC_SHORT_PACKET = 13,
	XHCI_CC_RING_UNDERRUN = 14,
	XHCI_CC_RING_OVERRUN = 15,
	XHCI_CC_VF_EVENT_RING_FULL = 16,
	XHCI_CC_PARAMETER = 17,
	XHCI_CC_CONTEXT_STATE = 19,
	XHCI_CC_EVENT_RING_FULL = 21,
	XHCI_CC_COMMAND_RING_STOPPED = 24,
	XHCI_CC_COMMAND_ABORTED = 25,
	XHCI_CC_STOPPED = 26,
	XHCI_CC_STOPPED_LENGTH_INVALID = 27,
};

/* A ring the controller consumes (command ring, transfer rings). */
struct xhci_ring {
	uint64_t dequeue; /* guest address of the next TRB */
	bool ccs;	  /* consumer cycle state */
};

struct xhci_ep {
	uint8_t state; /* endpoint context state: 0 disabled, 1 running, 2 halted, 3 stopped, 4
			  error */
	uint8_t type;  /* endpoint type (context field EP Type) */
	uint16_t max_packet;
	struct xhci_ring ring;
	bool td_waiting; /* interrupt IN: a TD is on the ring, no report yet */
};

struct xhci_slot {
	bool enabled;
	uint8_t state; /* slot context state: 0 disabled/enabled, 1 default, 2 addressed, 3
			  configured */
	uint8_t port;  /* root hub port, 1-based; 0 before Address Device */
	uint64_t ctx;  /* the output device context (DCBAA entry) */
	struct xhci_ep ep[XHCI_MAX_EPS + 1]; /* [1] EP0, [dci] */
};

struct xhci_port {
	uint32_t portsc;     /* as read, change bits included */
	struct usb_hid *dev; /* connected device (USB 2.0 ports), or NULL */
};

struct xhci_intr {
	uint32_t iman, imod, erstsz;
	uint64_t erstba, erdp;
	/* the event ring as the controller produces it */
	/* the segment table, read when ERSTBA is written (4.9.4) */
	uint64_t erst_base[XHCI_ERST_MAX];
	uint32_t erst_size[XHCI_ERST_MAX];
	uint32_t nseg;	   /* segments read then (ERSTSZ may change later) */
	uint32_t seg;	   /* current segment */
	uint64_t seg_base; /* its base and TRB count (0: the ring is off) */
	uint32_t seg_size;
	uint32_t enq; /* TRB index within the segment */
	bool pcs;     /* producer cycle state */
	bool full;    /* the ring was full: an Event Ring Full event went last */
	bool pending; /* events written since the driver last moved ERDP past them */
};

struct xhci {
	const struct gmem *mem;
	void (*irq)(void *opaque);
	void *opaque;
	/* operational registers */
	uint32_t usbcmd, usbsts, dnctrl, config;
	uint64_t crcr_ptr; /* command ring pointer the driver wrote */
	bool crr;	   /* command ring running */
	struct xhci_ring cmd;
	uint64_t dcbaap;
	struct xhci_intr intr;
	struct xhci_port port[XHCI_PORTS];
	struct xhci_slot slot[XHCI_MAX_SLOTS + 1];
	uint64_t mfindex_base_ns; /* MFINDEX counts 125 us microframes from here */
	/* counts */
	uint64_t guest_errors; /* the guest broke the rules (xhci_cc_guest_fault, halts, doorbells)
				*/
	uint64_t events, transfers;
	const char *halt_reason; /* why HSE/HCE was set, or NULL */
};

/* A controller reading guest RAM through mem; irq(opaque) raises its
 * interrupt (edge: once per assertion). Ports start empty. */
void xhci_init(struct xhci *x, const struct gmem *mem, void (*irq)(void *opaque), void *opaque);
/* Connect dev to USB 2.0 root port (1..XHCI_USB2_PORTS). Returns 0 or
 * -EINVAL / -EBUSY. */
int xhci_attach(struct xhci *x, uint32_t port, struct usb_hid *dev);

/* One guest access to the register BAR (offset below XHCI_REGS_END; size 1,
 * 2, 4 or 8). UNTRUSTED(guest): offset, size, value. */
uint64_t xhci_read(struct xhci *x, uint64_t off, uint32_t size);
void xhci_write(struct xhci *x, uint64_t off, uint32_t size, uint64_t value);

/* dev queued a report: complete its waiting interrupt IN TD if there is one. */
void xhci_dev_ready(struct xhci *x, struct usb_hid *dev);

/* Whether the controller runs (USBCMD.RS and not halted on an error). */
bool xhci_running(const struct xhci *x);
