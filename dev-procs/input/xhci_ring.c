/* The xHCI controller's command ring, device slots, contexts and transfer
 * rings; see xhci.h. Runs in cellvm-dev-input. Rings, TRBs and contexts are
 * guest memory and untrusted: each TRB is copied before it is looked at,
 * every walk is bounded, and a bad one completes with the error code the
 * specification gives (or halts the controller, xhci.c). */
#include <string.h>

#include "dev-procs/input/xhci_int.h"

#define XHCI_TD_TRBS	64 /* TRBs of one TD at most */
#define XHCI_REPORT_MAX 64

/* context field access: dword i of a 32-byte context */
#define CTX_DW(c, i) ((c)[(i)])

static struct xhci_slot *xhci_slot_get(struct xhci *x, uint32_t id)
{
	if (id < 1 || id > XHCI_MAX_SLOTS || !x->slot[id].enabled)
		return NULL;
	return &x->slot[id];
}

static struct usb_hid *xhci_slot_dev(struct xhci *x, const struct xhci_slot *s)
{
	if (s->port < 1 || s->port > XHCI_PORTS)
		return NULL;
	return x->port[s->port - 1].dev;
}

static bool xhci_trb_read(struct xhci *x, uint64_t addr, struct xhci_trb *t)
{
	uint32_t d[4];

	if (!xhci_dma_read(x, addr, d, sizeof(d), "a ring outside RAM"))
		return false;
	t->param = (uint64_t)d[1] << 32 | d[0];
	t->status = d[2];
	t->control = d[3];
	return true;
}

static void xhci_cmd_done(struct xhci *x, uint64_t trb, enum xhci_cc cc, uint32_t slot)
{
	if (xhci_cc_guest_fault(cc))
		x->guest_errors++;
	xhci_event(x, trb, (uint32_t)cc << 24, (uint32_t)TRB_COMMAND_COMPLETION << 10 | slot << 24);
}

/* ---- contexts ---- */

/* The output device context of slot id (from the DCBAA), or 0 (halted). */
static uint64_t xhci_out_ctx(struct xhci *x, uint32_t id)
{
	uint64_t p;

	if (!xhci_dma_read(x, x->dcbaap + 8ULL * id, &p, sizeof(p), "DCBAA outside RAM"))
		return 0;
	p &= ~63ULL;
	if (!p || !gmem_range_ok(x->mem, p, 32ULL * (XHCI_MAX_EPS + 1))) {
		xhci_halt_error(x, USBSTS_HSE, "device context outside RAM");
		return 0;
	}
	return p;
}

static bool xhci_ctx_read(struct xhci *x, uint64_t addr, uint32_t c[8])
{
	return xhci_dma_read(x, addr, c, 32, "a context outside RAM");
}

static void xhci_ctx_write(struct xhci *x, uint64_t addr, const uint32_t c[8])
{
	(void)xhci_dma_write(x, addr, c, 32, "a context outside RAM");
}

/* Write endpoint dci's state and dequeue pointer to the output context. */
static void xhci_ep_sync(struct xhci *x, struct xhci_slot *s, uint32_t dci)
{
	struct xhci_ep *ep = &s->ep[dci];
	uint32_t c[8];

	if (!s->ctx || !xhci_ctx_read(x, s->ctx + 32ULL * dci, c))
		return;
	CTX_DW(c, 0) = (CTX_DW(c, 0) & ~7U) | ep->state;
	CTX_DW(c, 2) = (uint32_t)(ep->ring.dequeue & ~15ULL) | (ep->ring.ccs ? 1U : 0U);
	CTX_DW(c, 3) = (uint32_t)(ep->ring.dequeue >> 32);
	xhci_ctx_write(x, s->ctx + 32ULL * dci, c);
}

static void xhci_slot_sync(struct xhci *x, struct xhci_slot *s, uint32_t address)
{
	uint32_t c[8];

	if (!s->ctx || !xhci_ctx_read(x, s->ctx, c))
		return;
	CTX_DW(c, 3) = (uint32_t)s->state << 27 | (address & 0xff);
	xhci_ctx_write(x, s->ctx, c);
}

/* UNTRUSTED(guest): an endpoint context from an input context. Returns
 * false when it cannot describe an endpoint. */
static bool xhci_ep_from_ctx(struct xhci_ep *ep, const uint32_t c[8], uint32_t dci)
{
	uint32_t type = (CTX_DW(c, 1) >> 3) & 7;
	uint32_t mps = CTX_DW(c, 1) >> 16;
	uint64_t deq = (uint64_t)CTX_DW(c, 3) << 32 | (CTX_DW(c, 2) & ~15U);

	if (type == 0 || mps == 0 || ((CTX_DW(c, 0) >> 10) & 0x1f) /* streams */ ||
	    (dci == 1) != (type == EPT_CONTROL) ||
	    (type != EPT_CONTROL && (dci & 1) != (type >> 2)))
		return false;
	*ep = (struct xhci_ep){.state = EP_RUNNING,
			       .type = (uint8_t)type,
			       .max_packet = (uint16_t)mps,
			       .ring = {.dequeue = deq, .ccs = CTX_DW(c, 2) & 1}};
	return true;
}

/* ---- commands ---- */

static enum xhci_cc xhci_cmd_enable_slot(struct xhci *x, const struct xhci_trb *t,
					 uint32_t *ret_slot)
{
	uint32_t max = x->config & 0xff;

	if ((t->control >> 16) & 0x1f)
		return XHCI_CC_TRB; /* slot type: ours is 0 */
	for (uint32_t i = 1; i <= max; i++) {
		if (!x->slot[i].enabled) {
			x->slot[i] = (struct xhci_slot){.enabled = true, .state = SLOT_ENABLED};
			*ret_slot = i;
			return XHCI_CC_SUCCESS;
		}
	}
	return XHCI_CC_NO_SLOTS;
}

static enum xhci_cc xhci_cmd_address(struct xhci *x, const struct xhci_trb *t, struct xhci_slot *s,
				     uint32_t id)
{
	const bool bsr = t->control & TRB_BSR;
	uint64_t in = t->param & ~15ULL;
	uint32_t icc[8], sc[8], ec[8];
	struct usb_hid *dev;
	struct xhci_ep ep0;
	uint32_t port;

	if (s->state > SLOT_DEFAULT || (s->state == SLOT_DEFAULT && bsr))
		return XHCI_CC_CONTEXT_STATE;
	if (!xhci_ctx_read(x, in, icc) || !xhci_ctx_read(x, in + 32, sc) ||
	    !xhci_ctx_read(x, in + 64, ec))
		return XHCI_CC_TRB; /* halted already */
	/* UNTRUSTED(guest): add A0 and A1 only, drop nothing; a root port
	 * (no route string: nothing sits behind a hub) with a device that
	 * is enabled; a control endpoint 0. */
	if (CTX_DW(icc, 0) != 0 || CTX_DW(icc, 1) != 3)
		return XHCI_CC_PARAMETER;
	port = (CTX_DW(sc, 1) >> 16) & 0xff;
	if (port < 1 || port > XHCI_PORTS || (CTX_DW(sc, 0) & 0xfffff))
		return XHCI_CC_TRB;
	dev = x->port[port - 1].dev;
	if (!dev || !(x->port[port - 1].portsc & 2U /* PED */))
		return XHCI_CC_USB_TRANSACTION;
	for (uint32_t i = 1; i <= XHCI_MAX_SLOTS; i++)
		if (i != id && x->slot[i].enabled && x->slot[i].port == port)
			return XHCI_CC_TRB; /* one device, one slot */
	if (!xhci_ep_from_ctx(&ep0, ec, 1))
		return XHCI_CC_PARAMETER;
	s->ctx = xhci_out_ctx(x, id);
	if (!s->ctx)
		return XHCI_CC_TRB;
	s->port = (uint8_t)port;
	s->state = bsr ? SLOT_DEFAULT : SLOT_ADDRESSED;
	for (uint32_t d = 2; d <= XHCI_MAX_EPS; d++)
		s->ep[d] = (struct xhci_ep){0};
	s->ep[1] = ep0;
	CTX_DW(sc, 3) = (uint32_t)s->state << 27 | (bsr ? 0 : id);
	xhci_ctx_write(x, s->ctx, sc);
	CTX_DW(ec, 0) = (CTX_DW(ec, 0) & ~7U) | EP_RUNNING;
	xhci_ctx_write(x, s->ctx + 32, ec);
	if (!bsr)
		usb_hid_set_address(dev, (uint8_t)id);
	return XHCI_CC_SUCCESS;
}

static enum xhci_cc xhci_cmd_configure(struct xhci *x, const struct xhci_trb *t,
				       struct xhci_slot *s)
{
	uint64_t in = t->param & ~15ULL;
	uint32_t icc[8], sc[8];
	struct xhci_ep eps[XHCI_MAX_EPS + 1];
	bool any = false;

	if (s->state != SLOT_ADDRESSED && s->state != SLOT_CONFIGURED)
		return XHCI_CC_CONTEXT_STATE;
	if (t->control & TRB_DC) {
		for (uint32_t d = 2; d <= XHCI_MAX_EPS; d++) {
			if (s->ep[d].state != EP_DISABLED) {
				s->ep[d].state = EP_DISABLED;
				xhci_ep_sync(x, s, d);
			}
		}
		s->state = SLOT_ADDRESSED;
		xhci_slot_sync(x, s, 0);
		return XHCI_CC_SUCCESS;
	}
	if (!xhci_ctx_read(x, in, icc))
		return XHCI_CC_TRB;
	/* UNTRUSTED(guest): drop and add flags for endpoints 2..31 (A0 may
	 * update the slot; EP0 is Address Device's and Evaluate Context's).
	 * Every added context is checked before any endpoint changes. */
	if ((CTX_DW(icc, 0) & 3) || (CTX_DW(icc, 1) & 2))
		return XHCI_CC_TRB;
	memcpy(eps, s->ep, sizeof(eps));
	for (uint32_t d = 2; d <= XHCI_MAX_EPS; d++) {
		uint32_t c[8];

		if (CTX_DW(icc, 0) & (1U << d))
			eps[d].state = EP_DISABLED;
		if (!(CTX_DW(icc, 1) & (1U << d)))
			continue;
		if (!xhci_ctx_read(x, in + 32ULL * (d + 1), c))
			return XHCI_CC_TRB;
		if (!xhci_ep_from_ctx(&eps[d], c, d))
			return XHCI_CC_PARAMETER;
	}
	for (uint32_t d = 2; d <= XHCI_MAX_EPS; d++) {
		uint32_t c[8];

		any |= eps[d].state != EP_DISABLED;
		if ((CTX_DW(icc, 1) & (1U << d)) && xhci_ctx_read(x, in + 32ULL * (d + 1), c)) {
			CTX_DW(c, 0) = (CTX_DW(c, 0) & ~7U) | EP_RUNNING;
			xhci_ctx_write(x, s->ctx + 32ULL * d, c);
		} else if ((CTX_DW(icc, 0) & (1U << d)) && s->ep[d].state != EP_DISABLED) {
			s->ep[d].state = EP_DISABLED;
			xhci_ep_sync(x, s, d);
		}
	}
	memcpy(s->ep, eps, sizeof(eps));
	s->state = any ? SLOT_CONFIGURED : SLOT_ADDRESSED;
	if ((CTX_DW(icc, 1) & 1) && xhci_ctx_read(x, in + 32, sc) && s->ctx) {
		uint32_t out[8];

		/* Context Entries and the rest of the driver's slot fields;
		 * the state and address stay the controller's. */
		if (xhci_ctx_read(x, s->ctx, out)) {
			CTX_DW(sc, 3) = CTX_DW(out, 3);
			xhci_ctx_write(x, s->ctx, sc);
		}
	}
	xhci_slot_sync(x, s, s->state >= SLOT_ADDRESSED ? (uint32_t)(s - x->slot) : 0);
	return XHCI_CC_SUCCESS;
}

static enum xhci_cc xhci_cmd_evaluate(struct xhci *x, const struct xhci_trb *t, struct xhci_slot *s)
{
	uint64_t in = t->param & ~15ULL;
	uint32_t icc[8], c[8], out[8];

	if (s->state == SLOT_ENABLED || !s->ctx)
		return XHCI_CC_CONTEXT_STATE;
	if (!xhci_ctx_read(x, in, icc))
		return XHCI_CC_TRB;
	/* UNTRUSTED(guest): only the slot's Max Exit Latency and
	 * Interrupter Target, and EP0's Max Packet Size, are evaluated. */
	if ((CTX_DW(icc, 1) & 1) && xhci_ctx_read(x, in + 32, c) && xhci_ctx_read(x, s->ctx, out)) {
		CTX_DW(out, 1) = (CTX_DW(out, 1) & ~0xffffU) | (CTX_DW(c, 1) & 0xffff);
		CTX_DW(out, 2) = (CTX_DW(out, 2) & 0x3fffffU) | (CTX_DW(c, 2) & ~0x3fffffU);
		xhci_ctx_write(x, s->ctx, out);
	}
	if ((CTX_DW(icc, 1) & 2) && xhci_ctx_read(x, in + 64, c) &&
	    xhci_ctx_read(x, s->ctx + 32, out)) {
		uint32_t mps = CTX_DW(c, 1) >> 16;

		if (mps == 0)
			return XHCI_CC_PARAMETER;
		s->ep[1].max_packet = (uint16_t)mps;
		CTX_DW(out, 1) = (CTX_DW(out, 1) & 0xffff) | mps << 16;
		xhci_ctx_write(x, s->ctx + 32, out);
	}
	return XHCI_CC_SUCCESS;
}

/* Reset, Stop and Set TR Dequeue on endpoint dci of slot s. */
static enum xhci_cc xhci_cmd_endpoint(struct xhci *x, const struct xhci_trb *t, struct xhci_slot *s,
				      uint32_t type)
{
	uint32_t dci = TRB_EP(t->control);
	struct xhci_ep *ep;

	if (dci < 1 || dci > XHCI_MAX_EPS)
		return XHCI_CC_TRB;
	ep = &s->ep[dci];
	if (ep->state == EP_DISABLED)
		return XHCI_CC_EP_NOT_ENABLED;
	switch (type) {
	case TRB_RESET_EP:
		if (ep->state != EP_HALTED)
			return XHCI_CC_CONTEXT_STATE;
		ep->state = EP_STOPPED;
		break;
	case TRB_STOP_EP:
		if (ep->state != EP_RUNNING)
			return XHCI_CC_CONTEXT_STATE;
		ep->state = EP_STOPPED;
		ep->td_waiting = false;
		break;
	default: /* Set TR Dequeue Pointer */
		if (ep->state != EP_STOPPED && ep->state != EP_ERROR)
			return XHCI_CC_CONTEXT_STATE;
		/* UNTRUSTED(guest): any pointer; it is checked when used. */
		if ((t->status >> 16) || ((t->param >> 1) & 7))
			return XHCI_CC_TRB; /* streams: none offered */
		ep->ring.dequeue = t->param & ~15ULL;
		ep->ring.ccs = t->param & 1;
		ep->td_waiting = false;
		break;
	}
	xhci_ep_sync(x, s, dci);
	return XHCI_CC_SUCCESS;
}

static enum xhci_cc xhci_cmd_reset_device(struct xhci *x, struct xhci_slot *s)
{
	if (s->state < SLOT_ADDRESSED)
		return XHCI_CC_CONTEXT_STATE;
	for (uint32_t d = 2; d <= XHCI_MAX_EPS; d++) {
		if (s->ep[d].state != EP_DISABLED) {
			s->ep[d].state = EP_DISABLED;
			xhci_ep_sync(x, s, d);
		}
	}
	s->state = SLOT_DEFAULT;
	xhci_slot_sync(x, s, 0);
	return XHCI_CC_SUCCESS;
}

static void xhci_cmd_exec(struct xhci *x, uint64_t addr, const struct xhci_trb *t)
{
	const uint32_t type = TRB_TYPE(t->control);
	uint32_t id = TRB_SLOT(t->control);
	struct xhci_slot *s = NULL;
	enum xhci_cc cc;

	if (type == TRB_ENABLE_SLOT) {
		id = 0;
		cc = xhci_cmd_enable_slot(x, t, &id);
		xhci_cmd_done(x, addr, cc, id);
		return;
	}
	if (type == TRB_NOOP_CMD) {
		xhci_cmd_done(x, addr, XHCI_CC_SUCCESS, 0);
		return;
	}
	if (type < TRB_DISABLE_SLOT || type > TRB_RESET_DEVICE) {
		xhci_cmd_done(x, addr, XHCI_CC_TRB, 0);
		return;
	}
	/* UNTRUSTED(guest): the slot id of every other command. */
	s = xhci_slot_get(x, id);
	if (!s) {
		xhci_cmd_done(x, addr, XHCI_CC_SLOT_NOT_ENABLED, id);
		return;
	}
	switch (type) {
	case TRB_DISABLE_SLOT:
		*s = (struct xhci_slot){0};
		cc = XHCI_CC_SUCCESS;
		break;
	case TRB_ADDRESS_DEVICE: cc = xhci_cmd_address(x, t, s, id); break;
	case TRB_CONFIGURE_EP: cc = xhci_cmd_configure(x, t, s); break;
	case TRB_EVALUATE_CONTEXT: cc = xhci_cmd_evaluate(x, t, s); break;
	case TRB_RESET_DEVICE: cc = xhci_cmd_reset_device(x, s); break;
	default: cc = xhci_cmd_endpoint(x, t, s, type); break;
	}
	xhci_cmd_done(x, addr, cc, id);
}

void xhci_run_commands(struct xhci *x)
{
	uint32_t links = 0;

	/* Bounded per doorbell: what is left runs at the next one. */
	for (uint32_t n = 0; n < XHCI_WALK_MAX && x->crr && xhci_running(x); n++) {
		struct xhci_trb t;
		uint64_t addr = x->cmd.dequeue;

		if (!xhci_trb_read(x, addr, &t))
			return;
		if (!!(t.control & TRB_C) != x->cmd.ccs)
			return; /* the ring is empty */
		if (TRB_TYPE(t.control) == TRB_LINK) {
			/* UNTRUSTED(guest): a ring of nothing but links loops. */
			if (++links > XHCI_LINKS_MAX) {
				xhci_halt_error(x, USBSTS_HCE, "command ring: link TRBs loop");
				return;
			}
			x->cmd.dequeue = t.param & ~15ULL;
			if (t.control & TRB_TC)
				x->cmd.ccs = !x->cmd.ccs;
			continue;
		}
		links = 0;
		x->cmd.dequeue = addr + XHCI_TRB_LEN;
		xhci_cmd_exec(x, addr, &t);
	}
}

/* ---- transfers ---- */

struct xhci_td {
	uint32_t n;
	uint64_t addr[XHCI_TD_TRBS];
	struct xhci_trb trb[XHCI_TD_TRBS];
	struct xhci_ring next; /* the ring after the TD */
};

/* Gather the TD at ep's dequeue pointer: TRBs up to one without the chain
 * bit; on EP0 a whole control transfer (its Setup, Data and Status stages
 * are TDs of their own, 4.11.2.2), up to the Status Stage TRB. 1: a whole
 * TD; 0: none (or not whole yet); -1: a bad ring (a TRB Error went to the
 * driver, the endpoint halted). */
static int xhci_td_gather(struct xhci *x, struct xhci_slot *s, uint32_t dci, struct xhci_td *td)
{
	struct xhci_ep *ep = &s->ep[dci];
	struct xhci_ring r = ep->ring;
	uint32_t links = 0;

	td->n = 0;
	for (;;) {
		struct xhci_trb t;

		if (!xhci_trb_read(x, r.dequeue, &t))
			return 0; /* halted */
		if (!!(t.control & TRB_C) != r.ccs)
			return 0;
		if (TRB_TYPE(t.control) == TRB_LINK) {
			/* UNTRUSTED(guest): links that loop, or chains that do
			 * not end, are bounded. */
			if (++links > XHCI_LINKS_MAX)
				goto bad;
			r.dequeue = t.param & ~15ULL;
			if (t.control & TRB_TC)
				r.ccs = !r.ccs;
			continue;
		}
		if (td->n == XHCI_TD_TRBS)
			goto bad;
		td->addr[td->n] = r.dequeue;
		td->trb[td->n++] = t;
		r.dequeue += XHCI_TRB_LEN;
		if (!(t.control & TRB_CH) && (dci != 1 || TRB_TYPE(t.control) == TRB_STATUS ||
					      TRB_TYPE(td->trb[0].control) != TRB_SETUP)) {
			td->next = r;
			return 1;
		}
	}
bad:
	x->guest_errors++;
	ep->state = EP_HALTED;
	ep->td_waiting = false;
	xhci_event(x, td->n ? td->addr[0] : ep->ring.dequeue, (uint32_t)XHCI_CC_TRB << 24,
		   (uint32_t)TRB_TRANSFER_EVENT << 10 | dci << 16 | (uint32_t)(s - x->slot) << 24);
	xhci_ep_sync(x, s, dci);
	return -1;
}

static void xhci_xfer_event(struct xhci *x, struct xhci_slot *s, uint32_t dci, uint64_t param,
			    enum xhci_cc cc, uint32_t len, bool ed)
{
	if (xhci_cc_guest_fault(cc))
		x->guest_errors++;
	xhci_event(x, param, (uint32_t)cc << 24 | (len & 0xffffff),
		   (uint32_t)TRB_TRANSFER_EVENT << 10 | dci << 16 | (uint32_t)(s - x->slot) << 24 |
			   (ed ? TRB_ED : 0));
}

/* End a TD in error: an event on its first TRB, the endpoint halted. */
static void xhci_td_fail(struct xhci *x, struct xhci_slot *s, uint32_t dci,
			 const struct xhci_td *td, uint32_t i, enum xhci_cc cc)
{
	s->ep[dci].ring = td->next;
	s->ep[dci].state = EP_HALTED;
	s->ep[dci].td_waiting = false;
	xhci_xfer_event(x, s, dci, td->addr[i], cc, 0, false);
	xhci_ep_sync(x, s, dci);
}

static bool xhci_trb_is_data(uint32_t type)
{
	return type == TRB_DATA || type == TRB_NORMAL;
}

/* Move data between buf[0..len) and the TD's data TRBs from index first
 * (in: buf to guest; out: guest to buf, len the room). Sends the events the
 * TRBs ask for (IOC, or ISP on a short one). Returns the bytes moved, or -1
 * after a bad buffer (the TD failed). */
static int64_t xhci_td_data(struct xhci *x, struct xhci_slot *s, uint32_t dci,
			    const struct xhci_td *td, uint32_t first, uint32_t last, uint8_t *buf,
			    uint32_t len, bool in)
{
	uint32_t done = 0;

	for (uint32_t i = first; i < last; i++) {
		const struct xhci_trb *t = &td->trb[i];
		uint32_t type = TRB_TYPE(t->control);
		uint32_t tl = t->status & 0x1ffff, n;
		bool short_pkt;

		if (type == TRB_EVENT_DATA) {
			if (t->control & TRB_IOC)
				xhci_xfer_event(x, s, dci, t->param,
						done < len && in ? XHCI_CC_SHORT_PACKET
								 : XHCI_CC_SUCCESS,
						done, true);
			continue;
		}
		if (type == TRB_NOOP) {
			if (t->control & TRB_IOC)
				xhci_xfer_event(x, s, dci, td->addr[i], XHCI_CC_SUCCESS, 0, false);
			continue;
		}
		n = tl < len - done ? tl : len - done;
		/* UNTRUSTED(guest): the buffer (or immediate data, OUT only). */
		if (t->control & TRB_IDT) {
			if (in || tl > 8) {
				xhci_td_fail(x, s, dci, td, i, XHCI_CC_TRB);
				return -1;
			}
			if (n)
				memcpy(buf + done, &t->param, n);
		} else if (n) {
			void *p = gmem_ptr(x->mem, t->param, n);

			if (!p) {
				xhci_td_fail(x, s, dci, td, i, XHCI_CC_TRB);
				return -1;
			}
			if (in)
				memcpy(p, buf + done, n);
			else
				memcpy(buf + done, p, n);
		}
		done += n;
		short_pkt = n < tl;
		if ((t->control & TRB_IOC) || (short_pkt && (t->control & TRB_ISP)))
			xhci_xfer_event(x, s, dci, td->addr[i],
					short_pkt ? XHCI_CC_SHORT_PACKET : XHCI_CC_SUCCESS, tl - n,
					false);
	}
	return done;
}

/* One control TD on EP0: SETUP, optional data, STATUS. */
static void xhci_control_td(struct xhci *x, struct xhci_slot *s, const struct xhci_td *td)
{
	static uint8_t buf[XHCI_TD_BYTES_MAX];
	const struct xhci_trb *st = &td->trb[0];
	struct usb_hid *dev = xhci_slot_dev(x, s);
	struct usb_setup setup;
	uint32_t last = td->n - 1, room = 0;
	bool in, data_in = false, has_data = false;
	int r;

	s->ep[1].ring = td->next;
	/* UNTRUSTED(guest): a Setup Stage TRB with its 8 bytes immediate,
	 * data TRBs (Data Stage first) going one way, a Status Stage last;
	 * wLength within the data buffers (a longer one is CVE-2020-14364's
	 * overflow in QEMU). */
	if (TRB_TYPE(st->control) != TRB_SETUP || !(st->control & TRB_IDT) ||
	    (st->status & 0x1ffff) != 8 || td->n < 2 ||
	    TRB_TYPE(td->trb[last].control) != TRB_STATUS) {
		xhci_td_fail(x, s, 1, td, 0, XHCI_CC_TRB);
		return;
	}
	for (uint32_t i = 1; i < last; i++) {
		uint32_t type = TRB_TYPE(td->trb[i].control);

		if (type == TRB_DATA && i == 1) {
			data_in = td->trb[i].control & TRB_DIR_IN;
			has_data = true;
		} else if (!(type == TRB_NORMAL && has_data) && type != TRB_EVENT_DATA &&
			   type != TRB_NOOP) {
			xhci_td_fail(x, s, 1, td, i, XHCI_CC_TRB);
			return;
		}
		if (xhci_trb_is_data(type))
			room += td->trb[i].status & 0x1ffff;
	}
	setup.request_type = (uint8_t)st->param;
	setup.request = (uint8_t)(st->param >> 8);
	setup.value = (uint16_t)(st->param >> 16);
	setup.index = (uint16_t)(st->param >> 32);
	setup.length = (uint16_t)(st->param >> 48);
	in = setup.request_type & 0x80;
	if ((has_data && data_in != in) || setup.length > room || room > sizeof(buf) ||
	    (setup.length && !has_data) || !dev) {
		xhci_td_fail(x, s, 1, td, 0, !dev ? XHCI_CC_USB_TRANSACTION : XHCI_CC_TRB);
		return;
	}
	if (in) {
		r = usb_hid_control(dev, &setup, buf, setup.length);
		if (r >= 0 && xhci_td_data(x, s, 1, td, 1, last, buf, (uint32_t)r, true) < 0)
			return;
	} else {
		int64_t got = xhci_td_data(x, s, 1, td, 1, last, buf, setup.length, false);

		if (got < 0)
			return;
		r = usb_hid_control(dev, &setup, buf, (size_t)got);
	}
	if (r < 0) {
		/* A STALL: on the Status Stage TRB, EP0 halted until the
		 * driver resets it. */
		xhci_td_fail(x, s, 1, td, last, XHCI_CC_STALL);
		return;
	}
	x->transfers++;
	if (td->trb[last].control & TRB_IOC)
		xhci_xfer_event(x, s, 1, td->addr[last], XHCI_CC_SUCCESS, 0, false);
}

/* One interrupt IN TD with a report from dev. */
static void xhci_report_td(struct xhci *x, struct xhci_slot *s, uint32_t dci,
			   const struct xhci_td *td, struct usb_hid *dev)
{
	uint8_t buf[XHCI_REPORT_MAX];
	size_t n;

	for (uint32_t i = 0; i < td->n; i++) {
		uint32_t type = TRB_TYPE(td->trb[i].control);

		/* UNTRUSTED(guest): Normal, Event Data and No-op TRBs only. */
		if (type != TRB_NORMAL && type != TRB_EVENT_DATA && type != TRB_NOOP) {
			xhci_td_fail(x, s, dci, td, i, XHCI_CC_TRB);
			return;
		}
	}
	s->ep[dci].ring = td->next;
	n = usb_hid_fetch(dev, buf, sizeof(buf));
	if (xhci_td_data(x, s, dci, td, 0, td->n, buf, (uint32_t)n, true) >= 0)
		x->transfers++;
}

/* Run endpoint dci of slot s: control TDs while there are any, interrupt IN
 * TDs while the device has reports. Bounded per call. */
static void xhci_ep_run(struct xhci *x, struct xhci_slot *s, uint32_t dci)
{
	static struct xhci_td td;
	struct xhci_ep *ep = &s->ep[dci];
	struct usb_hid *dev = xhci_slot_dev(x, s);

	for (uint32_t n = 0; n < XHCI_WALK_MAX / 4 && ep->state == EP_RUNNING && xhci_running(x);
	     n++) {
		int r = xhci_td_gather(x, s, dci, &td);

		if (r <= 0) {
			ep->td_waiting = false;
			return;
		}
		if (dci == 1) {
			xhci_control_td(x, s, &td);
			continue;
		}
		if (dci != 3 || ep->type != EPT_INT_IN || !dev) {
			/* Our devices have endpoint 0x81 alone: anything else
			 * stalls, as the device would. */
			xhci_td_fail(x, s, dci, &td, 0, XHCI_CC_STALL);
			return;
		}
		if (!usb_hid_pending(dev)) {
			ep->td_waiting = true;
			return;
		}
		xhci_report_td(x, s, dci, &td, dev);
	}
}

void xhci_doorbell(struct xhci *x, uint32_t slot, uint32_t target)
{
	struct xhci_slot *s = xhci_slot_get(x, slot);

	/* UNTRUSTED(guest): a doorbell of a slot that is not enabled, or for
	 * an endpoint that is not, does nothing. */
	if (!s || target < 1 || target > XHCI_MAX_EPS || s->ep[target].state == EP_DISABLED) {
		x->guest_errors++;
		return;
	}
	if (s->ep[target].state == EP_HALTED || s->ep[target].state == EP_ERROR)
		return; /* until the driver resets it: Linux rings it meanwhile */
	if (s->ep[target].state == EP_STOPPED) {
		s->ep[target].state = EP_RUNNING; /* a doorbell restarts it */
		xhci_ep_sync(x, s, target);
	}
	xhci_ep_run(x, s, target);
}

void xhci_ring_dev_ready(struct xhci *x, struct usb_hid *dev)
{
	for (uint32_t i = 1; i <= XHCI_MAX_SLOTS; i++) {
		struct xhci_slot *s = &x->slot[i];

		if (s->enabled && xhci_slot_dev(x, s) == dev && s->ep[3].td_waiting)
			xhci_ep_run(x, s, 3);
	}
}

void xhci_slots_reset(struct xhci *x)
{
	memset(x->slot, 0, sizeof(x->slot));
}
