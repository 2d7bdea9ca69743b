/* xHCI fixture of the device tests: the real cellvm-dev-input started by the
 * launcher with the usb backend alone (its xHCI link, no PS/2, no virtio),
 * the harness as the core on the xHCI link (XhciAttach, one MmioAccess at a
 * time) and as a minimal xHCI driver (reset, DCBAA, command ring, one event
 * ring segment, port reset, slots, control and interrupt IN transfers) with
 * its structures at fixed places in the guest RAM memfd, and as the
 * launcher on the control channel (InputCommand, InputReply). Runs in test
 * processes only. The device is the untrusted party: every wait is bounded.
 * Functions returning int give >= 0 or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"
#include "proto/input_event.h"
#include "test/harness/inctl.h"
#include "test/harness/vdriver.h"

#define VX_TIMEOUT_MS 5000
#define VX_RING_TRBS  256 /* every ring: 255 TRBs and a link back */

/* Guest RAM layout (16 MiB memfd, all of it low RAM). */
#define VX_DCBAA     0x10000ULL
#define VX_CMD_RING  0x11000ULL
#define VX_EV_RING   0x12000ULL
#define VX_ERST	     0x13000ULL
#define VX_SLOT_MEM  0x20000ULL /* + slot * VX_SLOT_SIZE: the slot's structures */
#define VX_SLOT_SIZE 0x8000ULL
#define VX_OUT_CTX   0x0000 /* offsets within a slot's area */
#define VX_IN_CTX    0x1000
#define VX_EP0_RING  0x2000
#define VX_EP1_RING  0x3000	   /* DCI 3: interrupt IN 0x81 */
#define VX_BUF	     0x4000	   /* 16 KiB of data buffers */
#define VX_SCRATCH   0x100000ULL   /* free for tests */
#define VX_OUTSIDE   0x80000000ULL /* not RAM: between low RAM and 4 GiB */

#define VX_SLOTS 8

/* Register offsets (xhci.h's layout). */
#define VX_OP	     0x40
#define VX_USBCMD    (VX_OP + 0x00)
#define VX_USBSTS    (VX_OP + 0x04)
#define VX_CRCR	     (VX_OP + 0x18)
#define VX_DCBAAP    (VX_OP + 0x30)
#define VX_CONFIG    (VX_OP + 0x38)
#define VX_PORTSC(p) (0x440 + 16 * ((p)-1))
#define VX_RT	     0x1000
#define VX_IMAN	     (VX_RT + 0x20)
#define VX_IMOD	     (VX_RT + 0x24)
#define VX_ERSTSZ    (VX_RT + 0x28)
#define VX_ERSTBA    (VX_RT + 0x30)
#define VX_ERDP	     (VX_RT + 0x38)
#define VX_DB(s)     (0x2000 + 4 * (s))

#define VX_STS_HCH (1U << 0)
#define VX_STS_HSE (1U << 2)
#define VX_STS_HCE (1U << 12)

/* TRB fields */
#define VX_TRB_TYPE(t) ((uint32_t)(t) << 10)
#define VX_C	       (1U << 0)
#define VX_TC	       (1U << 1)
#define VX_ISP	       (1U << 2)
#define VX_CH	       (1U << 4)
#define VX_IOC	       (1U << 5)
#define VX_IDT	       (1U << 6)
#define VX_DIR_IN      (1U << 16)
enum {
	VX_NORMAL = 1,
	VX_SETUP = 2,
	VX_DATA = 3,
	VX_STATUS = 4,
	VX_LINK = 6,
	VX_NOOP = 8,
	VX_ENABLE_SLOT = 9,
	VX_DISABLE_SLOT = 10,
	VX_ADDRESS_DEVICE = 11,
	VX_CONFIGURE_EP = 12,
	VX_RESET_EP = 14,
	VX_NOOP_CMD = 23,
	VX_EV_TRANSFER = 32,
	VX_EV_COMMAND = 33,
	VX_EV_PORT = 34,
};

struct vx_trb {
	uint64_t param;
	uint32_t status, control;
};

static inline uint32_t vx_ev_type(const struct vx_trb *e)
{
	return (e->control >> 10) & 0x3f;
}
static inline uint32_t vx_ev_cc(const struct vx_trb *e)
{
	return e->status >> 24;
}
static inline uint32_t vx_ev_slot(const struct vx_trb *e)
{
	return e->control >> 24;
}
static inline uint32_t vx_ev_ep(const struct vx_trb *e)
{
	return (e->control >> 16) & 0x1f;
}

/* A producer's ring (command or transfer): next TRB and cycle. */
struct vx_ring {
	uint64_t base;
	uint32_t enq;
	bool pcs;
};

struct vxhci {
	struct vdrv_mem mem;
	struct vcore core; /* the process and its control channel (no virtio link) */
	int link;	   /* the core's end of the xHCI link */
	int irq;	   /* the controller's interrupt eventfd (ours) */
	struct vx_ring cmd;
	uint32_t ev_deq; /* event ring: next TRB index, consumer cycle */
	bool ev_ccs;
	struct vx_ring ep[VX_SLOTS + 1][4]; /* [slot][dci]: 1 EP0, 3 interrupt IN */
	uint32_t port_events;		    /* Port Status Change events seen */
	uint32_t last_port;		    /* the port of the last one */
	struct inctl ctl;		    /* the control channel */
	bool started;
};

/* Start the device with the usb backend (ids[k]: kind k's identity, NULL
 * for the defaults) and send XhciAttach with our eventfd. */
int vx_start(struct vxhci *x, Cellvm__Device__UsbHidConfig *const ids[3]);
/* Close the links and reap the device; returns its exit status. */
int vx_stop(struct vxhci *x);
/* Whether the process still runs (its pidfd is not readable). */
bool vx_alive(struct vxhci *x);

/* ---- registers ---- */

/* One MmioAccess and its MmioResult; for a read, *ret the value. */
int vx_mmio(struct vxhci *x, uint64_t off, uint32_t size, bool write, uint64_t value,
	    uint64_t *ret);
/* 32-bit read (aborts the test on a link failure: UINT64_MAX never comes
 * from a 32-bit register) and write. */
uint64_t vx_rd(struct vxhci *x, uint64_t off, uint32_t size);
int vx_wr(struct vxhci *x, uint64_t off, uint32_t size, uint64_t value);

/* ---- the driver ---- */

void *vx_host(struct vxhci *x, uint64_t gpa, uint64_t len);
/* HCRST, then program DCBAA, the command ring, the event ring (ERST with
 * one segment of VX_RING_TRBS) and the interrupter, without running. */
int vx_reset(struct vxhci *x);
/* USBCMD: run, interrupts and host system error interrupts enabled. */
int vx_run(struct vxhci *x);
/* The next event within timeout_ms (waiting on the interrupt eventfd):
 * 1 with it (consumed: ERDP moved, IMAN.IP and EHB cleared), 0 on none. */
int vx_event(struct vxhci *x, struct vx_trb *ret, int timeout_ms);
/* Whether an event waits in the ring now (no MMIO). */
bool vx_event_ready(struct vxhci *x);
/* Drain the interrupt eventfd: the interrupts since the last call. */
uint64_t vx_irq_take(struct vxhci *x);

/* Put one TRB on a ring (cycle bit ours; a link back at the end). Returns
 * its guest address. */
uint64_t vx_ring_put(struct vxhci *x, struct vx_ring *r, uint64_t param, uint32_t status,
		     uint32_t control);
/* Queue a command and ring doorbell 0; the completion for it (other events
 * in between are counted and dropped). 1 with it, 0 on none. */
int vx_command(struct vxhci *x, uint64_t param, uint32_t status, uint32_t control,
	       struct vx_trb *ret);
/* Its completion code, or -ETIMEDOUT. */
int vx_cmd_cc(struct vxhci *x, uint64_t param, uint32_t status, uint32_t control);

/* Reset root port p; 0 once PRC is seen (the change bits cleared after). */
int vx_port_reset(struct vxhci *x, uint32_t p);
/* Enable Slot: the slot id, or -(completion code), or -ETIMEDOUT. */
int vx_enable_slot(struct vxhci *x);
/* Write the Address Device input context for port p into slot s's area
 * (add A0|A1, full speed, EP0 max packet 64, EP0 ring reset). */
void vx_address_ctx(struct vxhci *x, uint32_t s, uint32_t p);
/* Address Device of slot s on port p (DCBAA entry set): completion code. */
int vx_address(struct vxhci *x, uint32_t s, uint32_t p);
/* Configure Endpoint: the interrupt IN endpoint (DCI 3, max packet 8,
 * interval from bInterval): completion code. */
int vx_configure(struct vxhci *x, uint32_t s);
/* A control transfer on slot s's EP0: SETUP (bmRequestType, bRequest,
 * wValue, wIndex, wLength), a data stage over buf (len bytes, in when
 * bmRequestType says so; none when len is 0), STATUS with IOC. Returns the
 * completion code of the transfer (the status stage's, or the error's);
 * *ret_len the bytes the data stage moved. */
int vx_control(struct vxhci *x, uint32_t s, uint8_t type, uint8_t req, uint16_t value,
	       uint16_t index, uint16_t length, uint64_t buf, uint32_t len, uint32_t *ret_len);
/* Port reset, Enable Slot, Address Device, SET_CONFIGURATION 1, Configure
 * Endpoint for the device on port p: its slot id (> 0) or -errno. */
int vx_device_up(struct vxhci *x, uint32_t p);
/* Queue one interrupt IN TD (one Normal TRB, IOC|ISP, len bytes at buf) on
 * slot s's DCI 3 and ring its doorbell. Returns the TRB's address. */
uint64_t vx_intr_td(struct vxhci *x, uint32_t s, uint64_t buf, uint32_t len);
/* The report of the TD at trb: its length (len - residual), or -errno. */
int vx_intr_wait(struct vxhci *x, uint32_t s, uint64_t trb, uint32_t len, int timeout_ms);
/* A slot's output context dword: ctx 0 the slot, 1.. the endpoints. */
uint32_t vx_out_dw(struct vxhci *x, uint32_t s, uint32_t ctx, uint32_t dw);

/* ---- the control channel ---- */

/* Inject on the usb backend (the rest of the channel: inctl.h on x->ctl). */
int64_t vx_inject(struct vxhci *x, const struct cellvm_input_event *ev, size_t n);
