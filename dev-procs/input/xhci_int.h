/* What xhci.c (registers, ports, event ring) and xhci_ring.c (command and
 * transfer rings, contexts) share inside the xHCI model; see xhci.h. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/input/xhci.h"

/* TRB types (xHCI 1.2 table 6-91). */
enum xhci_trb_type {
	TRB_NORMAL = 1,
	TRB_SETUP = 2,
	TRB_DATA = 3,
	TRB_STATUS = 4,
	TRB_ISOCH = 5,
	TRB_LINK = 6,
	TRB_EVENT_DATA = 7,
	TRB_NOOP = 8,
	TRB_ENABLE_SLOT = 9,
	TRB_DISABLE_SLOT = 10,
	TRB_ADDRESS_DEVICE = 11,
	TRB_CONFIGURE_EP = 12,
	TRB_EVALUATE_CONTEXT = 13,
	TRB_RESET_EP = 14,
	TRB_STOP_EP = 15,
	TRB_SET_TR_DEQUEUE = 16,
	TRB_RESET_DEVICE = 17,
	TRB_NOOP_CMD = 23,
	TRB_TRANSFER_EVENT = 32,
	TRB_COMMAND_COMPLETION = 33,
	TRB_PORT_STATUS_CHANGE = 34,
	TRB_HOST_CONTROLLER = 37,
};

/* TRB control bits */
#define TRB_C	    (1U << 0)
#define TRB_TC	    (1U << 1) /* link: toggle cycle */
#define TRB_ENT	    (1U << 1) /* evaluate next TRB */
#define TRB_ISP	    (1U << 2)
#define TRB_ED	    (1U << 2) /* event: event data */
#define TRB_CH	    (1U << 4)
#define TRB_IOC	    (1U << 5)
#define TRB_IDT	    (1U << 6)
#define TRB_BSR	    (1U << 9) /* address device: block set address */
#define TRB_DC	    (1U << 9) /* configure endpoint: deconfigure */
#define TRB_DIR_IN  (1U << 16)
#define TRB_TYPE(c) (((c) >> 10) & 0x3f)
#define TRB_SLOT(c) (((c) >> 24) & 0xff)
#define TRB_EP(c)   (((c) >> 16) & 0x1f)

struct xhci_trb {
	uint64_t param;
	uint32_t status, control;
};

/* endpoint and slot context states */
enum { EP_DISABLED, EP_RUNNING, EP_HALTED, EP_STOPPED, EP_ERROR };
enum { SLOT_ENABLED, SLOT_DEFAULT, SLOT_ADDRESSED, SLOT_CONFIGURED };
/* endpoint types */
enum { EPT_CONTROL = 4, EPT_INT_IN = 7 };

/* USBSTS bits */
#define USBSTS_HCH  (1U << 0)
#define USBSTS_HSE  (1U << 2)
#define USBSTS_EINT (1U << 3)
#define USBSTS_PCD  (1U << 4)
#define USBSTS_HCE  (1U << 12)

/* Whether a completion code says the guest broke the rules (counted as a
 * guest error). A STALL is a device's ordinary answer and Context State
 * Error what Linux's enumeration meets on its way: neither counts. */
static inline bool xhci_cc_guest_fault(enum xhci_cc cc)
{
	return cc == XHCI_CC_TRB || cc == XHCI_CC_PARAMETER || cc == XHCI_CC_SLOT_NOT_ENABLED ||
	       cc == XHCI_CC_EP_NOT_ENABLED || cc == XHCI_CC_USB_TRANSACTION;
}

/* Read or write guest RAM; on an address outside it the controller halts
 * with Host System Error (why) and the call returns false. */
bool xhci_dma_read(struct xhci *x, uint64_t gpa, void *buf, uint32_t len, const char *why);
bool xhci_dma_write(struct xhci *x, uint64_t gpa, const void *buf, uint32_t len, const char *why);
/* Halt with Host System Error (guest memory) or Host Controller Error (a
 * state the guest made impossible). */
void xhci_halt_error(struct xhci *x, uint32_t sts_bit, const char *why);
/* Put one event on the event ring (its cycle bit is set here) and raise
 * the interrupter. */
void xhci_event(struct xhci *x, uint64_t param, uint32_t status, uint32_t control);

/* xhci_ring.c: the command ring (doorbell 0), a slot's doorbell, a
 * device's report, and a controller reset of the slots. */
void xhci_run_commands(struct xhci *x);
void xhci_doorbell(struct xhci *x, uint32_t slot, uint32_t target);
void xhci_slots_reset(struct xhci *x);
void xhci_ring_dev_ready(struct xhci *x, struct usb_hid *dev);
