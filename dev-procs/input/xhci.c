/* The xHCI controller's registers, root ports, event ring and interrupter;
 * see xhci.h. Runs in cellvm-dev-input; every access comes from the guest
 * (through the core) and every value is untrusted. The rings and contexts
 * are xhci_ring.c's. */
#include "dev-procs/input/xhci.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "dev-procs/input/xhci_int.h"

/* capability registers */
#define XHCI_HCIVERSION 0x0100
#define XHCI_HCSPARAMS1 ((uint32_t)XHCI_MAX_SLOTS | 1U << 8 | (uint32_t)XHCI_PORTS << 24)
#define XHCI_HCSPARAMS2 (3U << 4) /* ERST Max: 2^3 segments */
#define XHCI_HCCPARAMS1 (1U | 1U << 7 | (uint32_t)(XHCI_EXTCAP_OFF / 4) << 16) /* AC64, NSS */

/* USBCMD bits */
#define USBCMD_RS    (1U << 0)
#define USBCMD_HCRST (1U << 1)
#define USBCMD_INTE  (1U << 2)
#define USBCMD_HSEE  (1U << 3)
#define USBCMD_RW    (USBCMD_RS | USBCMD_INTE | USBCMD_HSEE | 1U << 10) /* + EWE */
#define USBSTS_RW1C  (USBSTS_HSE | USBSTS_EINT | USBSTS_PCD | 1U << 10)

/* CRCR bits */
#define CRCR_RCS (1U << 0)
#define CRCR_CS	 (1U << 1)
#define CRCR_CA	 (1U << 2)
#define CRCR_CRR (1U << 3)

/* PORTSC bits */
#define PORTSC_CCS	 (1U << 0)
#define PORTSC_PED	 (1U << 1)
#define PORTSC_PR	 (1U << 4)
#define PORTSC_PLS_SHIFT 5
#define PORTSC_PLS	 (0xfU << PORTSC_PLS_SHIFT)
#define PORTSC_PP	 (1U << 9)
#define PORTSC_SPEED(s)	 ((uint32_t)(s) << 10)
#define PORTSC_PIC	 (3U << 14)
#define PORTSC_LWS	 (1U << 16)
#define PORTSC_CSC	 (1U << 17)
#define PORTSC_PEC	 (1U << 18)
#define PORTSC_WRC	 (1U << 19)
#define PORTSC_OCC	 (1U << 20)
#define PORTSC_PRC	 (1U << 21)
#define PORTSC_PLC	 (1U << 22)
#define PORTSC_CEC	 (1U << 23)
#define PORTSC_WAKE	 (7U << 25) /* WCE, WDE, WOE */
#define PORTSC_WPR	 (1U << 31)
#define PORTSC_CHANGES                                                                             \
	(PORTSC_CSC | PORTSC_PEC | PORTSC_WRC | PORTSC_OCC | PORTSC_PRC | PORTSC_PLC | PORTSC_CEC)
#define PLS_U0	     0
#define PLS_U3	     3
#define PLS_RXDETECT 5
#define PLS_POLLING  7
#define PLS_RESUME   15
#define SPEED_FULL   1

/* interrupter registers */
#define IMAN_IP	 (1U << 0)
#define IMAN_IE	 (1U << 1)
#define ERDP_EHB (1ULL << 3)

static uint64_t xhci_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- guest memory and errors ---- */

void xhci_halt_error(struct xhci *x, uint32_t sts_bit, const char *why)
{
	if (x->usbsts & (USBSTS_HSE | USBSTS_HCE))
		return; /* halted already: the first reason stands */
	x->usbsts |= sts_bit | USBSTS_HCH;
	x->crr = false;
	x->halt_reason = why;
	x->guest_errors++;
	if (sts_bit == USBSTS_HSE && (x->usbcmd & USBCMD_HSEE))
		x->irq(x->opaque);
}

bool xhci_dma_read(struct xhci *x, uint64_t gpa, void *buf, uint32_t len, const char *why)
{
	const void *p = gmem_ptr(x->mem, gpa, len);

	if (!p) {
		xhci_halt_error(x, USBSTS_HSE, why);
		memset(buf, 0, len);
		return false;
	}
	memcpy(buf, p, len);
	return true;
}

bool xhci_dma_write(struct xhci *x, uint64_t gpa, const void *buf, uint32_t len, const char *why)
{
	void *p = gmem_ptr(x->mem, gpa, len);

	if (!p) {
		xhci_halt_error(x, USBSTS_HSE, why);
		return false;
	}
	memcpy(p, buf, len);
	return true;
}

bool xhci_running(const struct xhci *x)
{
	return (x->usbcmd & USBCMD_RS) && !(x->usbsts & USBSTS_HCH);
}

/* ---- the event ring and the interrupter ---- */

/* Assert the interrupter when events wait and the driver is not handling
 * an interrupt (EHB clear). EHB, not IP, gates it: with MSI-X the
 * controller clears IP itself once the message is written (4.17.5), and
 * Linux then never clears it. */
static void xhci_intr_update(struct xhci *x)
{
	struct xhci_intr *in = &x->intr;

	if (!in->pending || (in->erdp & ERDP_EHB))
		return;
	in->erdp |= ERDP_EHB;
	in->iman |= IMAN_IP;
	x->usbsts |= USBSTS_EINT;
	if ((in->iman & IMAN_IE) && (x->usbcmd & USBCMD_INTE))
		x->irq(x->opaque);
}

/* Read the segment table. False on a bad one (halted). */
static bool xhci_er_load(struct xhci *x)
{
	struct xhci_intr *in = &x->intr;
	uint32_t e[XHCI_ERST_MAX][4];

	if (!xhci_dma_read(x, in->erstba, e, 16 * in->erstsz, "event ring segment table"))
		return false;
	for (uint32_t i = 0; i < in->erstsz; i++) {
		/* UNTRUSTED(guest): segments of 16 to 4096 TRBs, 64-byte
		 * aligned, in RAM. */
		in->erst_base[i] = ((uint64_t)e[i][1] << 32 | e[i][0]) & ~63ULL;
		in->erst_size[i] = e[i][2] & 0xffff;
		if (in->erst_size[i] < 16 || in->erst_size[i] > 4096 ||
		    !gmem_range_ok(x->mem, in->erst_base[i],
				   (uint64_t)in->erst_size[i] * XHCI_TRB_LEN)) {
			xhci_halt_error(x, USBSTS_HSE,
					"event ring segment outside RAM or of a bad size");
			return false;
		}
	}
	return true;
}

static void xhci_er_seg(struct xhci_intr *in, uint32_t seg)
{
	in->seg = seg;
	in->seg_base = in->erst_base[seg];
	in->seg_size = in->erst_size[seg];
	in->enq = 0;
}

static void xhci_er_reset(struct xhci *x)
{
	struct xhci_intr *in = &x->intr;

	in->pcs = true;
	in->full = false;
	in->seg_size = 0;
	in->seg_base = 0;
	in->pending = false;
	in->nseg = 0;
	/* UNTRUSTED(guest): ERSTSZ 0 turns the ring off (events dropped). */
	if (in->erstsz == 0)
		return;
	if (in->erstsz > XHCI_ERST_MAX) {
		xhci_halt_error(x, USBSTS_HCE, "more event ring segments than offered");
		return;
	}
	if (xhci_er_load(x)) {
		in->nseg = in->erstsz;
		xhci_er_seg(in, 0);
	}
}

static uint64_t xhci_er_enq_addr(const struct xhci_intr *in)
{
	return in->seg_base + (uint64_t)in->enq * XHCI_TRB_LEN;
}

/* Whether the TRB after the enqueue position is where the driver's
 * dequeue pointer is (the ring would be full after one more event). */
static bool xhci_er_next_is_full(const struct xhci *x)
{
	const struct xhci_intr *in = &x->intr;
	uint64_t next;

	if (in->enq + 1 < in->seg_size)
		next = xhci_er_enq_addr(in) + XHCI_TRB_LEN;
	else
		next = in->erst_base[(in->seg + 1) % in->nseg];
	return next == (in->erdp & ~15ULL);
}

static void xhci_er_put(struct xhci *x, uint64_t param, uint32_t status, uint32_t control)
{
	struct xhci_intr *in = &x->intr;
	uint32_t trb[4] = {(uint32_t)param, (uint32_t)(param >> 32), status,
			   (control & ~TRB_C) | (in->pcs ? TRB_C : 0)};

	if (!xhci_dma_write(x, xhci_er_enq_addr(in), trb, sizeof(trb), "event ring"))
		return;
	x->events++;
	in->pending = true;
	if (++in->enq == in->seg_size) {
		uint32_t next = (in->seg + 1) % in->nseg;

		if (next == 0)
			in->pcs = !in->pcs;
		xhci_er_seg(in, next);
	}
}

void xhci_event(struct xhci *x, uint64_t param, uint32_t status, uint32_t control)
{
	struct xhci_intr *in = &x->intr;

	if (!xhci_running(x) || in->seg_size == 0)
		return;
	if (in->full) {
		x->guest_errors++; /* dropped until the driver frees room */
		return;
	}
	if (xhci_er_next_is_full(x)) {
		/* The last free TRB says the ring is full (4.9.4). */
		xhci_er_put(x, 0, (uint32_t)XHCI_CC_EVENT_RING_FULL << 24,
			    (uint32_t)TRB_HOST_CONTROLLER << 10);
		in->full = true;
	} else {
		xhci_er_put(x, param, status, control);
	}
	xhci_intr_update(x);
}

/* ---- ports ---- */

static bool xhci_port_usb2(uint32_t i)
{
	return i < XHCI_USB2_PORTS;
}

/* Set change bits on port i (0-based); tell the driver when they are new. */
static void xhci_port_change(struct xhci *x, uint32_t i, uint32_t bits)
{
	struct xhci_port *p = &x->port[i];
	bool fresh = (p->portsc & bits) != bits;

	p->portsc |= bits;
	if (fresh && xhci_running(x)) {
		x->usbsts |= USBSTS_PCD;
		xhci_event(x, (uint64_t)(i + 1) << 24, (uint32_t)XHCI_CC_SUCCESS << 24,
			   (uint32_t)TRB_PORT_STATUS_CHANGE << 10);
	}
}

/* The port's state after a controller reset: powered, the device (if any)
 * connected but not enabled. */
static void xhci_port_init(struct xhci *x, uint32_t i)
{
	struct xhci_port *p = &x->port[i];

	p->portsc = PORTSC_PP;
	if (p->dev) {
		p->portsc |= PORTSC_CCS | PORTSC_CSC | PORTSC_SPEED(SPEED_FULL) |
			     (uint32_t)PLS_POLLING << PORTSC_PLS_SHIFT;
		usb_hid_reset(p->dev);
	} else {
		p->portsc |= (uint32_t)PLS_RXDETECT << PORTSC_PLS_SHIFT;
	}
}

static void xhci_port_reset(struct xhci *x, uint32_t i, bool warm)
{
	struct xhci_port *p = &x->port[i];
	uint32_t change = PORTSC_PRC | (warm ? PORTSC_WRC : 0);

	/* A reset completes at once: the device is reset, the port enabled
	 * and in U0 (a USB 2.0 port after its reset signalling). */
	p->portsc &= ~(PORTSC_PLS | PORTSC_PED | PORTSC_PR);
	if (p->dev) {
		usb_hid_reset(p->dev);
		p->portsc |= PORTSC_PED | (uint32_t)PLS_U0 << PORTSC_PLS_SHIFT;
	} else {
		p->portsc |= (uint32_t)PLS_RXDETECT << PORTSC_PLS_SHIFT;
	}
	xhci_port_change(x, i, change);
}

static void xhci_portsc_write(struct xhci *x, uint32_t i, uint32_t v)
{
	struct xhci_port *p = &x->port[i];

	/* UNTRUSTED(guest): v. Change bits are write-1-to-clear; PED is
	 * write-1-to-disable; PR and WPR start resets; PLS only with LWS. */
	p->portsc &= ~(v & PORTSC_CHANGES);
	if ((v & PORTSC_PED) && (p->portsc & PORTSC_PED))
		p->portsc &= ~PORTSC_PED;
	p->portsc = (p->portsc & ~(PORTSC_PIC | PORTSC_WAKE)) | (v & (PORTSC_PIC | PORTSC_WAKE));
	if ((v & PORTSC_LWS) && (p->portsc & PORTSC_PED)) {
		uint32_t pls = (v & PORTSC_PLS) >> PORTSC_PLS_SHIFT;
		uint32_t old = (p->portsc & PORTSC_PLS) >> PORTSC_PLS_SHIFT;

		if (pls == PLS_U0 || pls == PLS_U3 || pls == PLS_RESUME) {
			/* Resume completes at once: U3 -> U0 with a link change. */
			if (pls == PLS_RESUME)
				pls = PLS_U0;
			p->portsc = (p->portsc & ~PORTSC_PLS) | pls << PORTSC_PLS_SHIFT;
			if (old == PLS_U3 && pls == PLS_U0)
				xhci_port_change(x, i, PORTSC_PLC);
		}
	}
	if (v & PORTSC_PR)
		xhci_port_reset(x, i, false);
	else if ((v & PORTSC_WPR) && !xhci_port_usb2(i))
		xhci_port_reset(x, i, true);
}

int xhci_attach(struct xhci *x, uint32_t port, struct usb_hid *dev)
{
	if (port < 1 || port > XHCI_USB2_PORTS || !dev)
		return -EINVAL;
	if (x->port[port - 1].dev)
		return -EBUSY;
	x->port[port - 1].dev = dev;
	xhci_port_init(x, port - 1);
	return 0;
}

/* ---- reset and run ---- */

static void xhci_reset(struct xhci *x)
{
	x->usbcmd = 0;
	x->usbsts = USBSTS_HCH;
	x->dnctrl = x->config = 0;
	x->crcr_ptr = 0;
	x->crr = false;
	x->cmd = (struct xhci_ring){0};
	x->dcbaap = 0;
	memset(&x->intr, 0, sizeof(x->intr));
	x->halt_reason = NULL;
	xhci_slots_reset(x);
	for (uint32_t i = 0; i < XHCI_PORTS; i++)
		xhci_port_init(x, i);
}

void xhci_init(struct xhci *x, const struct gmem *mem, void (*irq)(void *opaque), void *opaque)
{
	memset(x, 0, sizeof(*x));
	x->mem = mem;
	x->irq = irq;
	x->opaque = opaque;
	xhci_reset(x);
}

static void xhci_usbcmd_write(struct xhci *x, uint32_t v)
{
	if (v & USBCMD_HCRST) {
		xhci_reset(x);
		return;
	}
	if ((v & USBCMD_RS) && !(x->usbcmd & USBCMD_RS)) {
		/* A controller halted on an error needs a reset first. */
		if (!(x->usbsts & (USBSTS_HSE | USBSTS_HCE))) {
			x->usbsts &= ~USBSTS_HCH;
			x->mfindex_base_ns = xhci_now_ns();
		}
	} else if (!(v & USBCMD_RS) && (x->usbcmd & USBCMD_RS)) {
		x->usbsts |= USBSTS_HCH;
		x->crr = false;
	}
	x->usbcmd = v & USBCMD_RW;
	xhci_intr_update(x);
}

static void xhci_crcr_write(struct xhci *x, bool high, uint32_t v)
{
	if (x->crr) {
		/* Running: only stop and abort; the pointer is read-only.
		 * Commands run to completion as they come, so there is none in
		 * flight to abort: the ring stops at once. */
		if (!high && (v & (CRCR_CS | CRCR_CA))) {
			x->crr = false;
			xhci_event(x, x->cmd.dequeue, (uint32_t)XHCI_CC_COMMAND_RING_STOPPED << 24,
				   (uint32_t)TRB_COMMAND_COMPLETION << 10);
		}
		return;
	}
	if (high) {
		x->crcr_ptr = (x->crcr_ptr & 0xffffffffULL) | (uint64_t)v << 32;
	} else {
		x->crcr_ptr = (x->crcr_ptr & ~0xffffffffULL) | (v & ~63U) | (v & CRCR_RCS);
	}
	x->cmd.dequeue = x->crcr_ptr & ~63ULL;
	x->cmd.ccs = x->crcr_ptr & CRCR_RCS;
}

/* ---- register reads ---- */

static uint32_t xhci_extcap_read(uint64_t off)
{
	/* Two Supported Protocol capabilities: USB 2.0 on ports 1-4, USB 3.0
	 * on ports 5-8 (Linux wants both roothubs described). */
	static const uint32_t caps[8] = {
		0x02000402,
		0x20425355,
		1U | (uint32_t)XHCI_USB2_PORTS << 8,
		0,
		0x03000002,
		0x20425355,
		(XHCI_USB2_PORTS + 1U) | (uint32_t)XHCI_USB3_PORTS << 8,
		0,
	};
	uint64_t i = (off - XHCI_EXTCAP_OFF) / 4;

	return i < 8 ? caps[i] : 0;
}

static uint32_t xhci_read32(struct xhci *x, uint64_t off)
{
	struct xhci_intr *in = &x->intr;

	if (off < XHCI_CAP_LEN) {
		switch (off) {
		case 0x00: return XHCI_CAP_LEN | (uint32_t)XHCI_HCIVERSION << 16;
		case 0x04: return XHCI_HCSPARAMS1;
		case 0x08: return XHCI_HCSPARAMS2;
		case 0x10: return XHCI_HCCPARAMS1;
		case 0x14: return XHCI_DB_OFF;
		case 0x18: return XHCI_RT_OFF;
		default: return 0;
		}
	}
	if (off >= XHCI_PORT_OFF && off < XHCI_PORT_OFF + 16ULL * XHCI_PORTS) {
		uint32_t i = (uint32_t)((off - XHCI_PORT_OFF) / 16);

		return (off & 15) == 0 ? x->port[i].portsc : 0;
	}
	if (off >= XHCI_OP_OFF && off < XHCI_PORT_OFF) {
		switch (off - XHCI_OP_OFF) {
		case 0x00: return x->usbcmd;
		case 0x04: return x->usbsts;
		case 0x08: return 1; /* PAGESIZE: 4 KiB */
		case 0x14: return x->dnctrl;
		case 0x18: return x->crr ? CRCR_CRR : 0;
		case 0x30: return (uint32_t)x->dcbaap;
		case 0x34: return (uint32_t)(x->dcbaap >> 32);
		case 0x38: return x->config;
		default: return 0;
		}
	}
	if (off >= XHCI_EXTCAP_OFF && off < XHCI_RT_OFF)
		return xhci_extcap_read(off);
	if (off == XHCI_RT_OFF) {
		if (!xhci_running(x))
			return 0;
		return (uint32_t)((xhci_now_ns() - x->mfindex_base_ns) / 125000) & 0x3fff;
	}
	switch (off - XHCI_RT_OFF) {
	case 0x20: return in->iman;
	case 0x24: return in->imod;
	case 0x28: return in->erstsz;
	case 0x30: return (uint32_t)in->erstba;
	case 0x34: return (uint32_t)(in->erstba >> 32);
	case 0x38: return (uint32_t)in->erdp;
	case 0x3c: return (uint32_t)(in->erdp >> 32);
	default: return 0; /* doorbells read as 0 */
	}
}

uint64_t xhci_read(struct xhci *x, uint64_t off, uint32_t size)
{
	uint64_t v;

	/* UNTRUSTED(guest): any offset and size; registers are dwords, a
	 * smaller read takes the bytes of its dword, a qword read two. */
	if (off >= XHCI_REGS_END || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    (off & (size - 1)))
		return 0;
	if (size == 8)
		return xhci_read32(x, off) | (uint64_t)xhci_read32(x, off + 4) << 32;
	v = xhci_read32(x, off & ~3ULL) >> ((off & 3) * 8);
	return size == 4 ? v : v & ((1ULL << (size * 8)) - 1);
}

/* ---- register writes ---- */

static void xhci_rt_write(struct xhci *x, uint64_t off, uint32_t v)
{
	struct xhci_intr *in = &x->intr;

	switch (off) {
	case 0x20: /* IMAN: IP is write-1-to-clear */
		if (v & IMAN_IP)
			in->iman &= ~IMAN_IP;
		in->iman = (in->iman & ~IMAN_IE) | (v & IMAN_IE);
		if ((in->iman & (IMAN_IP | IMAN_IE)) == (IMAN_IP | IMAN_IE) &&
		    (x->usbcmd & USBCMD_INTE))
			x->irq(x->opaque);
		break;
	case 0x24: in->imod = v; break;
	case 0x28: in->erstsz = v & 0xffff; break;
	case 0x30: in->erstba = (in->erstba & ~0xffffffffULL) | (v & ~63U); break;
	case 0x34:
		/* Writing ERSTBA (its high half last) (re)starts the ring. */
		in->erstba = (in->erstba & 0xffffffffULL) | (uint64_t)v << 32;
		xhci_er_reset(x);
		break;
	case 0x38: {
		uint64_t ehb = in->erdp & ERDP_EHB;

		if (v & ERDP_EHB)
			ehb = 0; /* write-1-to-clear */
		in->erdp = (in->erdp & ~0xffffffffULL) | (v & ~(uint32_t)ERDP_EHB) | ehb;
		goto moved;
	}
	case 0x3c: in->erdp = (in->erdp & 0xffffffffULL) | (uint64_t)v << 32; goto moved;
	default: break;
	}
	return;
moved:
	/* The driver consumed up to ERDP: events remain when it is not
	 * where the next one goes. */
	in->pending = in->seg_size && (in->erdp & ~15ULL) != xhci_er_enq_addr(in);
	if (in->full && (in->erdp & ~15ULL) != xhci_er_enq_addr(in))
		in->full = false;
	xhci_intr_update(x);
}

static void xhci_write32(struct xhci *x, uint64_t off, uint32_t v)
{
	if (off >= XHCI_PORT_OFF && off < XHCI_PORT_OFF + 16ULL * XHCI_PORTS) {
		if ((off & 15) == 0)
			xhci_portsc_write(x, (uint32_t)((off - XHCI_PORT_OFF) / 16), v);
		return;
	}
	if (off >= XHCI_OP_OFF && off < XHCI_PORT_OFF) {
		switch (off - XHCI_OP_OFF) {
		case 0x00: xhci_usbcmd_write(x, v); break;
		case 0x04: x->usbsts &= ~(v & USBSTS_RW1C); break;
		case 0x14: x->dnctrl = v & 0xffff; break;
		case 0x18: xhci_crcr_write(x, false, v); break;
		case 0x1c: xhci_crcr_write(x, true, v); break;
		case 0x30: x->dcbaap = (x->dcbaap & ~0xffffffffULL) | (v & ~63U); break;
		case 0x34: x->dcbaap = (x->dcbaap & 0xffffffffULL) | (uint64_t)v << 32; break;
		case 0x38:
			x->config = (v & 0xff) <= XHCI_MAX_SLOTS ? v & 0xff : XHCI_MAX_SLOTS;
			break;
		default: break;
		}
		return;
	}
	if (off >= XHCI_RT_OFF && off < XHCI_DB_OFF) {
		xhci_rt_write(x, off - XHCI_RT_OFF, v);
		return;
	}
	if (off >= XHCI_DB_OFF && off < XHCI_DB_OFF + 4ULL * (XHCI_MAX_SLOTS + 1)) {
		uint32_t db = (uint32_t)((off - XHCI_DB_OFF) / 4);

		if (!xhci_running(x))
			return; /* doorbells of a halted controller do nothing */
		if (db == 0) {
			if ((v & 0xff) == 0) {
				x->crr = true;
				xhci_run_commands(x);
			}
		} else {
			xhci_doorbell(x, db, v & 0xff);
		}
		return;
	}
	/* capability registers and the rest: read-only */
}

void xhci_write(struct xhci *x, uint64_t off, uint32_t size, uint64_t value)
{
	/* UNTRUSTED(guest): registers take dword writes (a qword is two, low
	 * first, as drivers write 64-bit registers); narrower or unaligned
	 * writes are dropped. */
	if (off >= XHCI_REGS_END || (off & 3) || (size != 4 && size != 8)) {
		x->guest_errors++;
		return;
	}
	xhci_write32(x, off, (uint32_t)value);
	if (size == 8)
		xhci_write32(x, off + 4, (uint32_t)(value >> 32));
}

void xhci_dev_ready(struct xhci *x, struct usb_hid *dev)
{
	if (xhci_running(x))
		xhci_ring_dev_ready(x, dev);
}
