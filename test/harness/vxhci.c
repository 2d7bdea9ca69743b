/* The xHCI fixture; see vxhci.h. Runs in test processes: starts the real
 * cellvm-dev-input the way the launcher does for cellvm run --input usb,
 * plays the core on the xHCI link and a minimal xHCI driver over it. What the
 * device sends back (messages, events in guest RAM) is untrusted: decoded
 * with bounds, every wait with a deadline. */
#include "test/harness/vxhci.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/channel.h"
#include "proto/ipc.h"

#define VX_MAX_MSG  16384
#define VX_MEM_SIZE (16ULL << 20)

static int vx_link_send(struct vxhci *x, Cellvm__Device__XhciMessage *m, const int *fds,
			size_t nfds)
{
	return channel_send(x->link, &m->base, VX_MAX_MSG, fds, nfds);
}

int vx_start(struct vxhci *x, Cellvm__Device__UsbHidConfig *const ids[3])
{
	Cellvm__Device__InputConfig ic = CELLVM__DEVICE__INPUT_CONFIG__INIT;
	Cellvm__Device__UsbHidConfig def[3], *pu[3];
	Cellvm__Device__XhciMessage m = CELLVM__DEVICE__XHCI_MESSAGE__INIT;
	Cellvm__Device__XhciAttach a = CELLVM__DEVICE__XHCI_ATTACH__INIT;
	struct device_config cfg = {.kind = "input", .nbackend = 1, .no_link = true};
	char err[256];
	int sp[2], r;

	memset(x, 0, sizeof(*x));
	x->link = x->irq = -1;
	x->ctl = (struct inctl){.fd = -1, .next_id = 1};
	x->core.proc.link = x->core.proc.ctl = x->core.proc.pidfd = -1;
	r = vdrv_mem_create(&x->mem, VX_MEM_SIZE);
	if (r < 0)
		return r;
	x->irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->irq < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	for (uint32_t k = 0; k < 3; k++) {
		cellvm__device__usb_hid_config__init(&def[k]);
		def[k].kind = k;
		pu[k] = ids && ids[k] ? ids[k] : &def[k];
		pu[k]->kind = k;
	}
	ic.has_usb = true;
	ic.n_usb = 3;
	ic.usb = pu;
	ic.default_backend = CELLVM_INPUT_BACKEND_USB;
	cfg.backend_fds[0] = sp[1];
	cfg.input = &ic;
	r = vcore_start(&x->core, &cfg, &x->mem, err, sizeof(err));
	close(sp[1]); /* the launcher hands over a copy */
	if (r < 0) {
		close(sp[0]);
		fprintf(stderr, "vx_start: %s\n", err);
		return r;
	}
	x->link = sp[0];
	x->ctl.fd = x->core.proc.ctl;
	x->started = true;
	m.msg_case = CELLVM__DEVICE__XHCI_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	return vx_link_send(x, &m, &x->irq, 1);
}

int vx_stop(struct vxhci *x)
{
	int status;

	/* Closing the xHCI link ends the device, as when the core exits. */
	if (x->link >= 0)
		close(x->link);
	x->link = -1;
	status = vcore_stop(&x->core);
	if (x->irq >= 0)
		close(x->irq);
	x->irq = -1;
	vdrv_mem_destroy(&x->mem);
	x->started = false;
	return status;
}

bool vx_alive(struct vxhci *x)
{
	return vcore_alive(&x->core);
}

/* ---- registers ---- */

int vx_mmio(struct vxhci *x, uint64_t off, uint32_t size, bool write, uint64_t value, uint64_t *ret)
{
	Cellvm__Device__XhciMessage m = CELLVM__DEVICE__XHCI_MESSAGE__INIT;
	Cellvm__Device__MmioAccess a = CELLVM__DEVICE__MMIO_ACCESS__INIT;
	Cellvm__Device__XhciMessage *in = NULL;
	struct pollfd pfd = {.fd = x->link, .events = POLLIN};
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t mc;
	int r;

	a.offset = off;
	a.size = size;
	a.write = write;
	a.value = value;
	m.msg_case = CELLVM__DEVICE__XHCI_MESSAGE__MSG_ACCESS;
	m.access = &a;
	r = vx_link_send(x, &m, NULL, 0);
	if (r < 0)
		return r;
	r = poll(&pfd, 1, VX_TIMEOUT_MS);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	r = channel_recv(x->link, &cellvm__device__xhci_message__descriptor, VX_MAX_MSG,
			 (ProtobufCMessage **)&in, &mc, fds, IPC_MAX_FDS, &nfds);
	if (r < 0)
		return r;
	ipc_close_fds(fds, nfds);
	r = mc == CELLVM__DEVICE__XHCI_MESSAGE__MSG_RESULT && nfds == 0 ? 0 : -EPROTO;
	if (r == 0 && ret)
		*ret = in->result->value;
	protobuf_c_message_free_unpacked(&in->base, NULL);
	return r;
}

uint64_t vx_rd(struct vxhci *x, uint64_t off, uint32_t size)
{
	uint64_t v = 0;
	int r = vx_mmio(x, off, size, false, 0, &v);

	if (r < 0) {
		fprintf(stderr, "vx_rd(0x%llx): %s\n", (unsigned long long)off, strerror(-r));
		return UINT64_MAX;
	}
	return v;
}

int vx_wr(struct vxhci *x, uint64_t off, uint32_t size, uint64_t value)
{
	return vx_mmio(x, off, size, true, value, NULL);
}

/* ---- the driver ---- */

void *vx_host(struct vxhci *x, uint64_t gpa, uint64_t len)
{
	return vdrv_host(&x->mem, gpa, len);
}

static void vx_trb_write(struct vxhci *x, uint64_t gpa, uint64_t param, uint32_t status,
			 uint32_t control)
{
	uint32_t d[4] = {(uint32_t)param, (uint32_t)(param >> 32), status, control};

	/* The cycle bit goes last, as a driver's store order would. */
	memcpy(vx_host(x, gpa, 12), d, 12);
	__atomic_store_n((uint32_t *)vx_host(x, gpa + 12, 4), control, __ATOMIC_RELEASE);
}

static uint64_t vx_slot_area(uint32_t s)
{
	return VX_SLOT_MEM + (uint64_t)s * VX_SLOT_SIZE;
}

int vx_reset(struct vxhci *x)
{
	uint32_t *erst;
	int r;

	r = vx_wr(x, VX_USBCMD, 4, 2); /* HCRST */
	if (r < 0)
		return r;
	memset(vx_host(x, VX_DCBAA, 0x10000), 0, 0x10000);
	memset(vx_host(x, VX_SLOT_MEM, VX_SLOT_SIZE * (VX_SLOTS + 1)), 0,
	       VX_SLOT_SIZE * (VX_SLOTS + 1));
	x->cmd = (struct vx_ring){.base = VX_CMD_RING, .pcs = true};
	memset(x->ep, 0, sizeof(x->ep));
	x->ev_deq = 0;
	x->ev_ccs = true;
	erst = vx_host(x, VX_ERST, 16);
	erst[0] = (uint32_t)VX_EV_RING;
	erst[1] = 0;
	erst[2] = VX_RING_TRBS;
	erst[3] = 0;
	if ((r = vx_wr(x, VX_CONFIG, 4, VX_SLOTS)) < 0 ||
	    (r = vx_wr(x, VX_DCBAAP, 8, VX_DCBAA)) < 0 ||
	    (r = vx_wr(x, VX_CRCR, 8, VX_CMD_RING | 1)) < 0 ||
	    (r = vx_wr(x, VX_ERSTSZ, 4, 1)) < 0 || (r = vx_wr(x, VX_ERDP, 8, VX_EV_RING)) < 0 ||
	    (r = vx_wr(x, VX_ERSTBA, 8, VX_ERST)) < 0 || (r = vx_wr(x, VX_IMOD, 4, 0)) < 0 ||
	    (r = vx_wr(x, VX_IMAN, 4, 3)) < 0)
		return r;
	(void)vx_irq_take(x);
	return 0;
}

int vx_run(struct vxhci *x)
{
	return vx_wr(x, VX_USBCMD, 4, 1U | 1U << 2 | 1U << 3); /* RS, INTE, HSEE */
}

uint64_t vx_irq_take(struct vxhci *x)
{
	uint64_t v = 0;

	if (read(x->irq, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static bool vx_ev_peek(struct vxhci *x, struct vx_trb *ret)
{
	uint64_t gpa = VX_EV_RING + 16ULL * x->ev_deq;
	uint32_t c = __atomic_load_n((uint32_t *)vx_host(x, gpa + 12, 4), __ATOMIC_ACQUIRE);
	uint32_t d[3];

	if (!!(c & VX_C) != x->ev_ccs)
		return false;
	memcpy(d, vx_host(x, gpa, 12), 12);
	*ret = (struct vx_trb){.param = (uint64_t)d[1] << 32 | d[0], .status = d[2], .control = c};
	return true;
}

bool vx_event_ready(struct vxhci *x)
{
	struct vx_trb e;

	return vx_ev_peek(x, &e);
}

static int64_t vx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vx_event(struct vxhci *x, struct vx_trb *ret, int timeout_ms)
{
	int64_t end = vx_now_ms() + timeout_ms;
	struct pollfd pfd = {.fd = x->irq, .events = POLLIN};
	int r;

	while (!vx_ev_peek(x, ret)) {
		int64_t left = end - vx_now_ms();

		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)left) == 1)
			(void)vx_irq_take(x);
	}
	if (++x->ev_deq == VX_RING_TRBS) {
		x->ev_deq = 0;
		x->ev_ccs = !x->ev_ccs;
	}
	/* Handled: IP and EHB cleared (write-1-to-clear), ERDP moved on. */
	r = vx_wr(x, VX_IMAN, 4, 3);
	if (r == 0)
		r = vx_wr(x, VX_ERDP, 8, (VX_EV_RING + 16ULL * x->ev_deq) | 8);
	if (r < 0)
		return r;
	if (vx_ev_type(ret) == VX_EV_PORT) {
		x->port_events++;
		x->last_port = (uint32_t)(ret->param >> 24) & 0xff;
	}
	return 1;
}

uint64_t vx_ring_put(struct vxhci *x, struct vx_ring *r, uint64_t param, uint32_t status,
		     uint32_t control)
{
	uint64_t gpa = r->base + 16ULL * r->enq;

	vx_trb_write(x, gpa, param, status, (control & ~VX_C) | (r->pcs ? VX_C : 0));
	if (++r->enq == VX_RING_TRBS - 1) {
		vx_trb_write(x, r->base + 16ULL * r->enq, r->base, 0,
			     VX_TRB_TYPE(VX_LINK) | VX_TC | (r->pcs ? VX_C : 0));
		r->enq = 0;
		r->pcs = !r->pcs;
	}
	return gpa;
}

int vx_command(struct vxhci *x, uint64_t param, uint32_t status, uint32_t control,
	       struct vx_trb *ret)
{
	uint64_t trb = vx_ring_put(x, &x->cmd, param, status, control);
	int r;

	r = vx_wr(x, VX_DB(0), 4, 0);
	if (r < 0)
		return r;
	for (;;) {
		r = vx_event(x, ret, VX_TIMEOUT_MS);
		if (r <= 0)
			return r;
		if (vx_ev_type(ret) == VX_EV_COMMAND && ret->param == trb)
			return 1;
	}
}

int vx_cmd_cc(struct vxhci *x, uint64_t param, uint32_t status, uint32_t control)
{
	struct vx_trb e;
	int r = vx_command(x, param, status, control, &e);

	if (r < 0)
		return r;
	return r == 0 ? -ETIMEDOUT : (int)vx_ev_cc(&e);
}

int vx_port_reset(struct vxhci *x, uint32_t p)
{
	uint32_t before = x->port_events;
	struct vx_trb e;
	uint64_t v;
	int r;

	r = vx_wr(x, VX_PORTSC(p), 4, 1U << 9 | 1U << 4); /* PP, PR */
	if (r < 0)
		return r;
	while (x->port_events == before) {
		r = vx_event(x, &e, VX_TIMEOUT_MS);
		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
	}
	if (x->last_port != p)
		return -EPROTO;
	v = vx_rd(x, VX_PORTSC(p), 4);
	if (!(v & (1U << 21)))
		return -EPROTO;
	/* Clear the change bits (CSC, PRC): RW1C, PED kept (0 written). */
	return vx_wr(x, VX_PORTSC(p), 4, 1U << 9 | 1U << 17 | 1U << 21);
}

int vx_enable_slot(struct vxhci *x)
{
	struct vx_trb e;
	int r = vx_command(x, 0, 0, VX_TRB_TYPE(VX_ENABLE_SLOT), &e);

	if (r <= 0)
		return r < 0 ? r : -ETIMEDOUT;
	if (vx_ev_cc(&e) != 1)
		return -(int)vx_ev_cc(&e);
	return (int)vx_ev_slot(&e);
}

void vx_address_ctx(struct vxhci *x, uint32_t s, uint32_t p)
{
	uint64_t area = vx_slot_area(s);
	uint32_t *in = vx_host(x, area + VX_IN_CTX, 33 * 32);

	memset(in, 0, 33 * 32);
	in[1] = 3;				    /* add A0, A1 */
	in[8 + 0] = 1U << 27 | 1U << 20;	    /* slot: 1 context entry, full speed */
	in[8 + 1] = p << 16;			    /* root hub port */
	in[16 + 1] = 3U << 1 | 4U << 3 | 64U << 16; /* EP0: CErr 3, control, MPS 64 */
	in[16 + 2] = (uint32_t)(area + VX_EP0_RING) | 1;
	in[16 + 3] = 0;
	in[16 + 4] = 8; /* average TRB length */
	memset(vx_host(x, area + VX_EP0_RING, 16 * VX_RING_TRBS), 0, 16 * VX_RING_TRBS);
	x->ep[s][1] = (struct vx_ring){.base = area + VX_EP0_RING, .pcs = true};
}

int vx_address(struct vxhci *x, uint32_t s, uint32_t p)
{
	uint64_t area = vx_slot_area(s);

	*(uint64_t *)vx_host(x, VX_DCBAA + 8ULL * s, 8) = area + VX_OUT_CTX;
	vx_address_ctx(x, s, p);
	return vx_cmd_cc(x, area + VX_IN_CTX, 0,
			 VX_TRB_TYPE(VX_ADDRESS_DEVICE) | (uint32_t)s << 24);
}

int vx_configure(struct vxhci *x, uint32_t s)
{
	uint64_t area = vx_slot_area(s);
	uint32_t *in = vx_host(x, area + VX_IN_CTX, 33 * 32);

	memset(in, 0, 33 * 32);
	in[1] = 1U | 1U << 3;		 /* add A0 (slot), A3 (DCI 3) */
	in[8 + 0] = 3U << 27 | 1U << 20; /* 3 context entries, full speed */
	in[8 + 1] = vx_out_dw(x, s, 0, 1);
	in[32 + 0] = 3U << 16;			   /* interval: 2^3 * 125 us */
	in[32 + 1] = 3U << 1 | 7U << 3 | 8U << 16; /* CErr 3, interrupt IN, MPS 8 */
	in[32 + 2] = (uint32_t)(area + VX_EP1_RING) | 1;
	in[32 + 4] = 8;
	memset(vx_host(x, area + VX_EP1_RING, 16 * VX_RING_TRBS), 0, 16 * VX_RING_TRBS);
	x->ep[s][3] = (struct vx_ring){.base = area + VX_EP1_RING, .pcs = true};
	return vx_cmd_cc(x, area + VX_IN_CTX, 0, VX_TRB_TYPE(VX_CONFIGURE_EP) | (uint32_t)s << 24);
}

int vx_control(struct vxhci *x, uint32_t s, uint8_t type, uint8_t req, uint16_t value,
	       uint16_t index, uint16_t length, uint64_t buf, uint32_t len, uint32_t *ret_len)
{
	struct vx_ring *ring = &x->ep[s][1];
	const bool in = type & 0x80;
	uint64_t setup = (uint64_t)type | (uint64_t)req << 8 | (uint64_t)value << 16 |
			 (uint64_t)index << 32 | (uint64_t)length << 48;
	uint64_t data = 0, status;
	uint32_t trt = len == 0 ? 0 : in ? 3 : 2;
	struct vx_trb e;
	int r;

	if (ret_len)
		*ret_len = 0;
	vx_ring_put(x, ring, setup, 8, VX_TRB_TYPE(VX_SETUP) | VX_IDT | trt << 16);
	if (len)
		data = vx_ring_put(x, ring, buf, len,
				   VX_TRB_TYPE(VX_DATA) | VX_IOC | VX_ISP | (in ? VX_DIR_IN : 0));
	/* The status stage goes the other way (IN when there is no data). */
	status = vx_ring_put(x, ring, 0, 0,
			     VX_TRB_TYPE(VX_STATUS) | VX_IOC | (in && len ? 0 : VX_DIR_IN));
	r = vx_wr(x, VX_DB(s), 4, 1);
	if (r < 0)
		return r;
	for (;;) {
		r = vx_event(x, &e, VX_TIMEOUT_MS);
		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
		if (vx_ev_type(&e) != VX_EV_TRANSFER || vx_ev_slot(&e) != s || vx_ev_ep(&e) != 1)
			continue;
		if (data && e.param == data) {
			if (ret_len)
				*ret_len = len - (e.status & 0xffffff);
			if (vx_ev_cc(&e) == 1 || vx_ev_cc(&e) == 13)
				continue;
		}
		if (e.param == status || (vx_ev_cc(&e) != 1 && vx_ev_cc(&e) != 13))
			return (int)vx_ev_cc(&e);
	}
}

int vx_device_up(struct vxhci *x, uint32_t p)
{
	int s, r;

	r = vx_port_reset(x, p);
	if (r < 0)
		return r;
	s = vx_enable_slot(x);
	if (s <= 0)
		return s < 0 ? s : -EPROTO;
	r = vx_address(x, (uint32_t)s, p);
	if (r != 1)
		return r < 0 ? r : -EPROTO;
	r = vx_control(x, (uint32_t)s, 0x00, 0x09, 1, 0, 0, 0, 0, NULL); /* SET_CONFIGURATION */
	if (r != 1)
		return r < 0 ? r : -EPROTO;
	r = vx_configure(x, (uint32_t)s);
	if (r != 1)
		return r < 0 ? r : -EPROTO;
	return s;
}

uint64_t vx_intr_td(struct vxhci *x, uint32_t s, uint64_t buf, uint32_t len)
{
	uint64_t trb =
		vx_ring_put(x, &x->ep[s][3], buf, len, VX_TRB_TYPE(VX_NORMAL) | VX_IOC | VX_ISP);

	(void)vx_wr(x, VX_DB(s), 4, 3);
	return trb;
}

int vx_intr_wait(struct vxhci *x, uint32_t s, uint64_t trb, uint32_t len, int timeout_ms)
{
	struct vx_trb e;
	int r;

	for (;;) {
		r = vx_event(x, &e, timeout_ms);
		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
		if (vx_ev_type(&e) != VX_EV_TRANSFER || vx_ev_slot(&e) != s || vx_ev_ep(&e) != 3)
			continue;
		if (e.param != trb || (vx_ev_cc(&e) != 1 && vx_ev_cc(&e) != 13))
			return -EPROTO;
		return (int)(len - (e.status & 0xffffff));
	}
}

uint32_t vx_out_dw(struct vxhci *x, uint32_t s, uint32_t ctx, uint32_t dw)
{
	const uint32_t *c = vx_host(x, vx_slot_area(s) + VX_OUT_CTX + 32ULL * ctx, 32);

	return __atomic_load_n(&c[dw], __ATOMIC_ACQUIRE);
}

/* ---- the control channel ---- */

int64_t vx_inject(struct vxhci *x, const struct cellvm_input_event *ev, size_t n)
{
	return inctl_inject(&x->ctl, CELLVM_INPUT_BACKEND_USB, ev, n);
}
