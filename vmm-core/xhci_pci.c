/* The xHCI controller's PCI function; see xhci_pci.h. Runs in cellvm-core:
 * configuration and MSI-X accesses from vCPU threads (guest input, checked
 * here), register accesses forwarded to the input process, whose answers
 * are checked by a dispatch table; a bad answer or none ends the
 * forwarding without touching the VM. */
#include "vmm-core/xhci_pci.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"
#include "vmm-core/link_call.h"

#define XHCI_PCI_MAX_MSG 128
/* The id Red Hat assigned to emulated xHCI controllers; guests bind their
 * xHCI driver by class (0x0c0330) whatever the id. */
#define XHCI_PCI_VENDOR	 0x1b36
#define XHCI_PCI_DEVICE	 0x000d
#define XHCI_PCI_CLASS	 0x0c0330
#define MSIX_CTRL_ENABLE (PCI_MSIX_FLAGS_ENABLE >> 8)
#define MSIX_CTRL_MASK	 (PCI_MSIX_FLAGS_MASKALL >> 8)

/* The core's side of the link: an access is in flight, or none is. */
enum { XHCI_LINK_IDLE, XHCI_LINK_WAITING };

static int xhci_pci_on_result(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__MmioResult *r = msg;
	struct xhci_pci *x = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(input device): any value; the access's size cuts it. */
	x->value = r->value;
	x->answered = true;
	x->proto.state = XHCI_LINK_IDLE;
	return 0;
}

/* What the input process may send: one MmioResult per access, while one
 * waits for it; never fds. */
static const struct dispatch_entry xhci_pci_table[] = {
	[CELLVM__DEVICE__XHCI_MESSAGE__MSG_RESULT] = {xhci_pci_on_result,
						      DISPATCH_STATE(XHCI_LINK_WAITING), 0},
	/* XhciAttach and MmioAccess go the other way. */
};

static const struct dispatch_channel xhci_pci_channel = {
	.envelope = &cellvm__device__xhci_message__descriptor,
	.max_len = XHCI_PCI_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = xhci_pci_table,
	.n = sizeof(xhci_pci_table) / sizeof(xhci_pci_table[0]),
};

/* ---- interrupts ---- */

static bool xhci_pci_msix_on(const struct xhci_pci *x)
{
	return x->f.cfg[x->msix_cap + PCI_MSIX_FLAGS + 1] & MSIX_CTRL_ENABLE;
}

static bool xhci_pci_masked(const struct xhci_pci *x)
{
	return (x->f.cfg[x->msix_cap + PCI_MSIX_FLAGS + 1] & MSIX_CTRL_MASK) || (x->msix[3] & 1);
}

static void xhci_pci_irqfd(struct xhci_pci *x, bool attach)
{
	struct kvm_irqfd irqfd = {.fd = (uint32_t)x->irq_fd, .gsi = x->gsi};

	if (attach == x->irqfd_on || x->irq_fd < 0)
		return;
	/* Detached, the eventfd keeps an interrupt pending (the PBA shows
	 * it); attaching delivers it. */
	if (!attach)
		irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	if (ioctl(x->vm_fd, KVM_IRQFD, &irqfd) < 0)
		log_err("xHCI: irqfd %s: %s", attach ? "attach" : "detach", strerror(errno));
	else
		x->irqfd_on = attach;
}

/* Route the interrupt as the driver set things up. Lock held. */
static void xhci_pci_update_irq(struct xhci_pci *x)
{
	const bool intx_off = pci_get16(x->f.cfg + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
	bool want;
	int r;

	irq_routes_lock(x->routes);
	if (xhci_pci_msix_on(x)) {
		want = !xhci_pci_masked(x);
		if (want)
			irq_routes_set_msi(x->routes, x->gsi, x->msix[0], x->msix[1], x->msix[2]);
		else
			irq_routes_clear(x->routes, x->gsi);
	} else {
		irq_routes_set_pin(x->routes, x->gsi, PCI_INTX_PIN(x->f.slot));
		want = !intx_off;
	}
	/* Detach before a route goes, attach after it is there. */
	if (!want)
		xhci_pci_irqfd(x, false);
	r = irq_routes_commit(x->routes);
	irq_routes_unlock(x->routes);
	if (r < 0)
		log_err("xHCI: interrupt routing: %s", strerror(-r));
	if (want)
		xhci_pci_irqfd(x, true);
}

/* ---- forwarding ---- */

static void xhci_pci_fail(struct xhci_pci *x, const char *why, int err)
{
	log_err("xHCI link to the input device: %s (%s); the controller goes quiet", why,
		err ? dispatch_strerror(err) : "no answer");
	x->dead = true;
}

/* One register access through the link. Lock held. */
static void xhci_pci_forward(struct xhci_pci *x, uint64_t off, uint8_t *data, uint32_t len,
			     bool is_write)
{
	Cellvm__Device__XhciMessage m = CELLVM__DEVICE__XHCI_MESSAGE__INIT;
	Cellvm__Device__MmioAccess a = CELLVM__DEVICE__MMIO_ACCESS__INIT;
	enum link_call_fail f;
	uint64_t v = 0;
	int r;

	if (x->dead || x->fd < 0)
		goto quiet;
	a.offset = off;
	a.size = len;
	a.write = is_write;
	if (is_write)
		memcpy(&v, data, len);
	a.value = v;
	m.msg_case = CELLVM__DEVICE__XHCI_MESSAGE__MSG_ACCESS;
	m.access = &a;
	f = link_call(x->fd, &m.base, XHCI_PCI_MAX_MSG, &x->proto, XHCI_LINK_WAITING, x,
		      &x->answered, XHCI_PCI_TIMEOUT_MS, &r);
	if (f != LINK_CALL_OK) {
		xhci_pci_fail(x, link_call_reason(f), r);
		goto quiet;
	}
	if (!is_write)
		memcpy(data, &x->value, len);
	return;
quiet:
	if (!is_write)
		memset(data, 0xff, len);
}

/* ---- BAR 0 ---- */

static void xhci_pci_msix_access(struct xhci_pci *x, uint64_t off, uint8_t *data, uint32_t len,
				 bool is_write)
{
	uint32_t word = (uint32_t)(off / 4);

	/* UNTRUSTED(guest): dword accesses to the one entry (or a qword on
	 * its address). */
	if (off >= 16 || (off & 3) || (len != 4 && !(len == 8 && word == 0))) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		memcpy(data, &x->msix[word], len);
		return;
	}
	memcpy(&x->msix[word], data, len);
	x->msix[3] &= 1; /* only the mask bit is writable */
	xhci_pci_update_irq(x);
}

static void xhci_pci_bar_access(struct pci_func *f, int bar, uint64_t off, uint8_t *data,
				uint32_t len, bool is_write)
{
	struct xhci_pci *x = f->priv;

	if (bar != 0)
		return;
	pthread_mutex_lock(&x->lock);
	if (off < XHCI_PCI_MSIX_OFF) {
		xhci_pci_forward(x, off, data, len, is_write);
	} else if (off < XHCI_PCI_PBA_OFF) {
		xhci_pci_msix_access(x, off - XHCI_PCI_MSIX_OFF, data, len, is_write);
	} else if (!is_write) {
		struct pollfd p = {.fd = x->irq_fd, .events = POLLIN};
		uint64_t pba = 0;

		/* Pending: masked, with an interrupt kept in the eventfd. */
		if (off == XHCI_PCI_PBA_OFF && !x->irqfd_on && xhci_pci_msix_on(x) &&
		    poll(&p, 1, 0) == 1)
			pba = 1;
		memset(data, 0, len);
		memcpy(data, &pba, len < sizeof(pba) ? len : sizeof(pba));
	}
	pthread_mutex_unlock(&x->lock);
}

static void xhci_pci_config_written(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct xhci_pci *x = f->priv;
	const uint32_t ctl = x->msix_cap + (uint32_t)PCI_MSIX_FLAGS;

	if ((off < ctl + 2U && ctl < off + len) ||
	    (off < PCI_COMMAND + 2U && PCI_COMMAND < off + len)) {
		pthread_mutex_lock(&x->lock);
		xhci_pci_update_irq(x);
		pthread_mutex_unlock(&x->lock);
	}
}

static const struct pci_func_ops xhci_pci_ops = {
	.bar_access = xhci_pci_bar_access,
	.config_written = xhci_pci_config_written,
};

/* ---- setup ---- */

void xhci_pci_init(struct xhci_pci *x)
{
	memset(x, 0, sizeof(*x));
	pthread_mutex_init(&x->lock, NULL);
	x->fd = x->irq_fd = -1;
	dispatch_init(&x->proto, &xhci_pci_channel, XHCI_LINK_IDLE);
}

bool xhci_pci_present(const struct xhci_pci *x)
{
	return x->fd >= 0;
}

int xhci_pci_attach(struct xhci_pci *x, int vm_fd, struct irq_routes *routes, int link_fd)
{
	Cellvm__Device__XhciMessage m = CELLVM__DEVICE__XHCI_MESSAGE__INIT;
	Cellvm__Device__XhciAttach a = CELLVM__DEVICE__XHCI_ATTACH__INIT;
	int r;

	x->fd = link_fd;
	x->vm_fd = vm_fd;
	x->routes = routes;
	x->msix[3] = 1; /* masked until the driver sets it up */
	x->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->irq_fd < 0)
		return -errno;
	r = irq_routes_alloc(routes, 1);
	if (r < 0)
		return r;
	x->gsi = (uint32_t)r;
	pci_func_init(&x->f, XHCI_PCI_VENDOR, XHCI_PCI_DEVICE, XHCI_PCI_CLASS, 1, XHCI_PCI_VENDOR,
		      0x1100, &xhci_pci_ops, x);
	r = pci_func_add_bar(&x->f, 0, XHCI_PCI_BAR_SIZE);
	if (r < 0)
		return r;
	r = pci_func_add_msix(&x->f, 1, XHCI_PCI_MSIX_OFF, XHCI_PCI_PBA_OFF);
	if (r < 0)
		return r;
	x->msix_cap = (uint8_t)r;
	/* Serial Bus Release Number (0x60): USB 3.0, as drivers read it. */
	x->f.cfg[0x60] = 0x30;
	m.msg_case = CELLVM__DEVICE__XHCI_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	r = channel_send(x->fd, &m.base, XHCI_PCI_MAX_MSG, &x->irq_fd, 1);
	return r < 0 ? r : 0;
}

int xhci_pci_start(struct xhci_pci *x)
{
	pthread_mutex_lock(&x->lock);
	xhci_pci_update_irq(x);
	pthread_mutex_unlock(&x->lock);
	return 0;
}

void xhci_pci_destroy(struct xhci_pci *x)
{
	if (x->fd >= 0)
		close(x->fd);
	if (x->irq_fd >= 0)
		close(x->irq_fd);
	x->fd = x->irq_fd = -1;
	pthread_mutex_destroy(&x->lock);
}
