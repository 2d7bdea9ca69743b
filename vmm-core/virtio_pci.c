/* virtio-pci modern transport with MSI-X for out-of-process devices; see
 * virtio_pci.h. The virtio rules themselves (status, features, queue setup)
 * are in virtio_dev.c; the PCI bus and BAR placement in pci.c. The register
 * map (common configuration, capability layouts) is Linux's uapi one. */
#include "vmm-core/virtio_pci.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PCI_VENDOR_REDHAT_QUMRANET 0x1af4
#define VIRTIO_PCI_DEVICE_BASE	   0x1040 /* + virtio device id (modern) */
#define VIRTIO_PCI_SUBSYS_ID	   0x1100

/* The common configuration: the 64-bit queue addresses as one field each. */
#define CC_SIZE sizeof(struct virtio_pci_common_cfg)

/* Message Control's high byte (PCI_MSIX_FLAGS + 1). */
#define MSIX_CTRL_ENABLE (PCI_MSIX_FLAGS_ENABLE >> 8)
#define MSIX_CTRL_MASK	 (PCI_MSIX_FLAGS_MASKALL >> 8)

static uint32_t vpci_class(uint32_t device_id)
{
	switch (device_id) {
	case 1: return 0x020000;  /* network controller, ethernet */
	case 2: return 0x018000;  /* mass storage, other */
	case 16: return 0x038000; /* display, other */
	case 18: return 0x098000; /* input device, other */
	case 25: return 0x040100; /* multimedia audio */
	default: return 0xff0000;
	}
}

/* ---- interrupts ---- */

static int vpci_irq_fd(const struct vpci_dev *d, uint32_t k)
{
	return k == 0 ? d->v.irq_fd : d->v.q[k - 1].irq_fd;
}

static uint16_t vpci_vector(const struct vpci_dev *d, uint32_t k)
{
	return k == 0 ? d->config_msix_vector : d->v.q[k - 1].msix_vector;
}

static bool vpci_msix_enabled(const struct vpci_dev *d)
{
	return d->f.cfg[d->msix_cap + PCI_MSIX_FLAGS + 1] & MSIX_CTRL_ENABLE;
}

static bool vpci_vector_masked(const struct vpci_dev *d, uint16_t v)
{
	return (d->f.cfg[d->msix_cap + PCI_MSIX_FLAGS + 1] & MSIX_CTRL_MASK) ||
	       (d->msix[v].ctrl & 1);
}

/* Attach (attach) or detach (!attach) the irqfds whose state differs from
 * want. */
static void vpci_set_irqfds(struct vpci_dev *d, const bool *want, bool attach)
{
	for (uint32_t k = 0; k <= d->v.num_queues; k++) {
		struct kvm_irqfd irqfd = {.fd = (uint32_t)vpci_irq_fd(d, k),
					  .gsi = d->gsi_base + k};

		if (want[k] != attach || want[k] == d->irqfd_on[k] || vpci_irq_fd(d, k) < 0)
			continue;
		/* Attaching delivers what the eventfd kept while detached. */
		if (!attach)
			irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
		if (ioctl(d->vm_fd, KVM_IRQFD, &irqfd) < 0)
			vdev_report(&d->v, VDEV_REPORT_HOST_ERROR,
				    attach ? "irqfd attach" : "irqfd detach", 0, -errno);
		else
			d->irqfd_on[k] = attach;
	}
}

/* Route every interrupt source (configuration change and each queue) as the
 * driver set things up, and attach or detach its irqfd. Device lock held. */
static void vpci_update_irqs(struct vpci_dev *d)
{
	const bool msix = vpci_msix_enabled(d);
	const bool intx_off = pci_get16(d->f.cfg + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
	bool want[1 + VDEV_MAX_QUEUES];
	int r;

	if (msix && !d->msix_reported) {
		/* Once per device: tests look for it to see MSI-X in use. A guest
		 * toggling the enable bit must not fill the host log. */
		vdev_report(&d->v, VDEV_REPORT_MSIX_ENABLED, NULL, 0, 0);
		d->msix_reported = true;
	}
	irq_routes_lock(d->routes);
	for (uint32_t k = 0; k <= d->v.num_queues; k++) {
		uint32_t gsi = d->gsi_base + k;
		uint16_t v = vpci_vector(d, k);

		want[k] = false;
		if (msix) {
			if (v < d->nvec && !vpci_vector_masked(d, v)) {
				irq_routes_set_msi(d->routes, gsi, d->msix[v].addr_lo,
						   d->msix[v].addr_hi, d->msix[v].data);
				want[k] = true;
			} else {
				irq_routes_clear(d->routes, gsi);
			}
		} else {
			irq_routes_set_pin(d->routes, gsi, PCI_INTX_PIN(d->f.slot));
			want[k] = !intx_off;
		}
	}
	/* Detach before a route goes away and attach after it is there, so no
	 * interrupt meets a GSI without a route: it stays in its eventfd. */
	vpci_set_irqfds(d, want, false);
	r = irq_routes_commit(d->routes);
	irq_routes_unlock(d->routes);
	if (r < 0)
		vdev_report(&d->v, VDEV_REPORT_HOST_ERROR, "interrupt routing", 0, r);
	vpci_set_irqfds(d, want, true);
}

static uint64_t vpci_pba_word(const struct vpci_dev *d)
{
	uint64_t pba = 0;

	/* Pending: a source whose vector is masked has an unread interrupt. */
	for (uint32_t k = 0; k <= d->v.num_queues; k++) {
		uint16_t v = vpci_vector(d, k);
		struct pollfd p = {.fd = vpci_irq_fd(d, k), .events = POLLIN};

		if (v < d->nvec && !d->irqfd_on[k] && p.fd >= 0 && poll(&p, 1, 0) == 1)
			pba |= 1ULL << v;
	}
	return pba;
}

static void vpci_on_reset(struct vdev *vd)
{
	struct vpci_dev *d = vd->transport;

	d->config_msix_vector = VDEV_NO_VECTOR;
	vpci_update_irqs(d);
}

/* ---- notify ioeventfds ---- */

static void vpci_ioeventfds(struct vpci_dev *d, uint64_t bar, bool assign)
{
	for (uint32_t i = 0; i < d->v.num_queues; i++) {
		struct kvm_ioeventfd io = {
			.addr = bar + VPCI_NOTIFY_OFF + (uint64_t)i * VPCI_NOTIFY_MULT,
			.len = d->ioevent_any_len ? 0 : 2, /* Linux writes the 16-bit index */
			.fd = d->v.q[i].kick_fd,
			.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN};

		/* A guest can make this fail (two BARs at one address): its
		 * doing, so a rate-limited line. */
		if (ioctl(d->vm_fd, KVM_IOEVENTFD, &io) < 0 && assign)
			vdev_guest_error(&d->v, "BAR placed where a notify ioeventfd cannot go",
					 VPCI_NOTIFY_OFF + (uint64_t)i * VPCI_NOTIFY_MULT);
	}
}

static void vpci_bar_mapped(struct pci_func *f, int bar, uint64_t addr)
{
	struct vpci_dev *d = f->priv;

	if (bar != 0)
		return;
	pthread_mutex_lock(&d->v.lock);
	if (d->bar_addr)
		vpci_ioeventfds(d, d->bar_addr, false);
	d->bar_addr = addr;
	if (addr)
		vpci_ioeventfds(d, addr, true);
	pthread_mutex_unlock(&d->v.lock);
}

/* ---- common configuration ---- */

static uint64_t vpci_common_read(struct vpci_dev *d, uint32_t field)
{
	struct vdev *vd = &d->v;
	const struct vdev_queue *q = vd->queue_sel < vd->num_queues ? &vd->q[vd->queue_sel] : NULL;

	switch (field) {
	case VIRTIO_PCI_COMMON_DFSELECT: return vd->dev_features_sel;
	case VIRTIO_PCI_COMMON_DF: return vdev_device_features(vd, vd->dev_features_sel);
	case VIRTIO_PCI_COMMON_GFSELECT: return vd->drv_features_sel;
	case VIRTIO_PCI_COMMON_GF:
		return vd->drv_features_sel > 1
			       ? 0
			       : (uint32_t)(vd->driver_features >> (32 * vd->drv_features_sel));
	case VIRTIO_PCI_COMMON_MSIX: return d->config_msix_vector;
	case VIRTIO_PCI_COMMON_NUMQ: return vd->num_queues;
	case VIRTIO_PCI_COMMON_STATUS: return vd->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION: return vd->config_generation & 0xff;
	case VIRTIO_PCI_COMMON_Q_SELECT: return vd->queue_sel;
	case VIRTIO_PCI_COMMON_Q_SIZE: return q ? (q->num ? q->num : vd->queue_max) : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX: return q ? q->msix_vector : VDEV_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q ? q->ready : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF: return q ? vd->queue_sel : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO: return q ? q->desc : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: return q ? q->avail : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO: return q ? q->used : 0;
	default: return 0;
	}
}

static void vpci_common_write(struct vpci_dev *d, uint32_t field, uint64_t v, uint32_t off)
{
	struct vdev *vd = &d->v;
	struct vdev_queue *q;

	switch (field) {
	case VIRTIO_PCI_COMMON_DFSELECT: vd->dev_features_sel = (uint32_t)v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: vd->drv_features_sel = (uint32_t)v; break;
	case VIRTIO_PCI_COMMON_GF:
		vdev_write_driver_features(vd, vd->drv_features_sel, (uint32_t)v, off);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		/* A vector the table does not have reads back as NO_VECTOR. */
		d->config_msix_vector = v < d->nvec ? (uint16_t)v : VDEV_NO_VECTOR;
		vpci_update_irqs(d);
		break;
	case VIRTIO_PCI_COMMON_STATUS: vdev_write_status(vd, (uint32_t)v); break;
	case VIRTIO_PCI_COMMON_Q_SELECT: vd->queue_sel = (uint32_t)v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		q = vdev_queue_for_write(vd, off);
		if (q)
			vdev_set_queue_size(vd, q, (uint32_t)v, off);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (vd->queue_sel >= vd->num_queues) {
			vdev_guest_error(vd, "vector for a queue that does not exist", off);
			break;
		}
		vd->q[vd->queue_sel].msix_vector = v < d->nvec ? (uint16_t)v : VDEV_NO_VECTOR;
		vpci_update_irqs(d);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		q = vdev_queue_for_write(vd, off);
		if (!q)
			break;
		if (v != 1) {
			vdev_guest_error(vd, "queue_enable written with other than 1", off);
			break;
		}
		if (q->num == 0)
			q->num = vd->queue_max;
		q->ready = true;
		break;
	default: vdev_guest_error(vd, "write to a read-only common field", off); break;
	}
}

/* Field at off: its start and size, or 0 when off is in no field. */
static uint32_t vpci_common_field(uint32_t off, uint32_t *size)
{
	static const uint8_t start[] = {VIRTIO_PCI_COMMON_DFSELECT,
					VIRTIO_PCI_COMMON_DF,
					VIRTIO_PCI_COMMON_GFSELECT,
					VIRTIO_PCI_COMMON_GF,
					VIRTIO_PCI_COMMON_MSIX,
					VIRTIO_PCI_COMMON_NUMQ,
					VIRTIO_PCI_COMMON_STATUS,
					VIRTIO_PCI_COMMON_CFGGENERATION,
					VIRTIO_PCI_COMMON_Q_SELECT,
					VIRTIO_PCI_COMMON_Q_SIZE,
					VIRTIO_PCI_COMMON_Q_MSIX,
					VIRTIO_PCI_COMMON_Q_ENABLE,
					VIRTIO_PCI_COMMON_Q_NOFF,
					VIRTIO_PCI_COMMON_Q_DESCLO,
					VIRTIO_PCI_COMMON_Q_AVAILLO,
					VIRTIO_PCI_COMMON_Q_USEDLO,
					CC_SIZE};

	for (size_t i = 0; i + 1 < sizeof(start); i++) {
		if (off >= start[i] && off < start[i + 1]) {
			*size = start[i + 1] - start[i];
			return start[i];
		}
	}
	*size = 0;
	return 0;
}

static void vpci_common_access(struct vpci_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			       bool is_write)
{
	uint32_t size, field = vpci_common_field(off, &size);
	uint64_t v = 0;

	/* UNTRUSTED(guest): a whole field, or one half of a 64-bit one. */
	if (!size || !((off == field && len == size) ||
		       (size == 8 && len == 4 && (off == field || off == field + 4)))) {
		if (!is_write)
			memset(data, 0xff, len);
		vdev_guest_error(&d->v, "common config access of the wrong size", off);
		return;
	}
	if (!is_write) {
		v = vpci_common_read(d, field) >> (8 * (off - field));
		memcpy(data, &v, len);
		return;
	}
	memcpy(&v, data, len);
	if (size == 8) {
		struct vdev_queue *q = vdev_queue_for_write(&d->v, off);
		uint64_t *addr;
		if (!q)
			return;
		addr = field == VIRTIO_PCI_COMMON_Q_DESCLO    ? &q->desc
		       : field == VIRTIO_PCI_COMMON_Q_AVAILLO ? &q->avail
							      : &q->used;
		if (len == 8)
			*addr = v;
		else if (off == field)
			*addr = (*addr & ~0xffffffffULL) | v;
		else
			*addr = (*addr & 0xffffffffULL) | (v << 32);
		return;
	}
	vpci_common_write(d, field, v, off);
}

/* ---- MSI-X table and PBA ---- */

static void vpci_msix_access(struct vpci_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			     bool is_write)
{
	uint32_t v = off / 16, word = (off % 16) / 4;
	uint32_t *e;

	/* UNTRUSTED(guest): dword accesses (or a qword one on the address). */
	if (v >= d->nvec || (len != 4 && !(len == 8 && word == 0)) || (off & 3)) {
		if (!is_write)
			memset(data, 0xff, len);
		vdev_guest_error(&d->v, "MSI-X table access out of range or of a bad size", off);
		return;
	}
	e = &d->msix[v].addr_lo + word;
	if (!is_write) {
		memcpy(data, e, len);
		return;
	}
	memcpy(e, data, len);
	if (word == 3)
		d->msix[v].ctrl &= 1; /* only the mask bit is writable */
	vpci_update_irqs(d);
}

/* ---- BAR 0 ---- */

static void vpci_bar_access_locked(struct vpci_dev *d, uint64_t off, uint8_t *data, uint32_t len,
				   bool is_write)
{
	struct vdev *vd = &d->v;

	if (off < CC_SIZE) {
		vpci_common_access(d, (uint32_t)off, data, len, is_write);
	} else if (off >= VPCI_ISR_OFF && off < VPCI_ISR_OFF + 4) {
		/* ISR: reading acknowledges (the INTx line is edge-triggered). */
		uint64_t isr = 0;
		if (!is_write && off == VPCI_ISR_OFF && vd->shared)
			isr = atomic_exchange((_Atomic uint32_t *)&vd->shared->isr, 0) & 3;
		if (!is_write)
			memcpy(data, &isr, len);
	} else if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + DEVPROC_CONFIG_MAX) {
		if (!is_write)
			vdev_config_read(vd, off - VPCI_DEVICE_OFF, data, len);
		else
			vdev_config_write(vd, off - VPCI_DEVICE_OFF, data, len);
	} else if (off >= VPCI_NOTIFY_OFF &&
		   off < VPCI_NOTIFY_OFF + (uint64_t)vd->num_queues * VPCI_NOTIFY_MULT) {
		/* The ioeventfd normally takes notifies; one that exits here
		 * (another size than it matches) is passed on all the same. */
		uint32_t qi = (uint32_t)(off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT;
		uint64_t one = 1;
		if (is_write)
			(void)!write(vd->q[qi].kick_fd, &one, sizeof(one));
		else
			memset(data, 0, len);
	} else if (off >= VPCI_MSIX_OFF && off < VPCI_MSIX_OFF + 16ULL * d->nvec) {
		vpci_msix_access(d, (uint32_t)(off - VPCI_MSIX_OFF), data, len, is_write);
	} else if (off >= VPCI_PBA_OFF && off < VPCI_PBA_OFF + 8) {
		uint64_t pba = vpci_pba_word(d) >> (8 * (off - VPCI_PBA_OFF));
		if (!is_write)
			memcpy(data, &pba, len);
	} else if (!is_write) {
		memset(data, 0, len);
	} else {
		vdev_guest_error(vd, "write outside the BAR's registers", off);
	}
}

static void vpci_bar_access(struct pci_func *f, int bar, uint64_t off, uint8_t *data, uint32_t len,
			    bool is_write)
{
	struct vpci_dev *d = f->priv;

	if (bar != 0)
		return;
	pthread_mutex_lock(&d->v.lock);
	vpci_bar_access_locked(d, off, data, len, is_write);
	pthread_mutex_unlock(&d->v.lock);
}

/* ---- configuration space hooks (bus lock held) ---- */

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

/* The data of VIRTIO_PCI_CAP_PCI_CFG (struct virtio_pci_cfg_cap). */
#define VPCI_CFG_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

/* VIRTIO_PCI_CAP_PCI_CFG: a window into BAR 0 through configuration space. */
static void vpci_cfg_window(struct vpci_dev *d, bool is_write)
{
	uint8_t *cap = d->f.cfg + d->cfg_cap;
	uint32_t off = pci_get32(cap + VIRTIO_PCI_CAP_OFFSET);
	uint32_t len = pci_get32(cap + VIRTIO_PCI_CAP_LENGTH);

	/* UNTRUSTED(guest): bar, offset and length as written. */
	if (cap[VIRTIO_PCI_CAP_BAR] != 0 || (len != 1 && len != 2 && len != 4) ||
	    (off & (len - 1)) || off > VPCI_BAR_SIZE - len)
		return;
	pthread_mutex_lock(&d->v.lock);
	vpci_bar_access_locked(d, off, cap + VPCI_CFG_DATA, len, is_write);
	pthread_mutex_unlock(&d->v.lock);
}

static void vpci_config_written(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct vpci_dev *d = f->priv;

	if (overlaps(off, len, d->msix_cap + PCI_MSIX_FLAGS, 2) ||
	    overlaps(off, len, PCI_COMMAND, 2)) {
		pthread_mutex_lock(&d->v.lock);
		vpci_update_irqs(d);
		pthread_mutex_unlock(&d->v.lock);
	}
	if (overlaps(off, len, d->cfg_cap + VPCI_CFG_DATA, 4))
		vpci_cfg_window(d, true);
}

static void vpci_config_read(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct vpci_dev *d = f->priv;

	if (overlaps(off, len, d->cfg_cap + VPCI_CFG_DATA, 4))
		vpci_cfg_window(d, false);
}

static const struct pci_func_ops vpci_ops = {
	.bar_access = vpci_bar_access,
	.bar_mapped = vpci_bar_mapped,
	.config_written = vpci_config_written,
	.config_read = vpci_config_read,
};

/* ---- setup ---- */

/* A virtio capability: struct virtio_pci_cap, or (caplen 20) one with a
 * 32-bit word after it (struct virtio_pci_notify_cap's multiplier, struct
 * virtio_pci_cfg_cap's data). */
static int vpci_add_vcap(struct vpci_dev *d, uint8_t type, uint32_t off, uint32_t len,
			 uint8_t caplen, uint32_t extra)
{
	/* pci_func_add_cap() writes cap_vndr and cap_next: the body starts at
	 * cap_len. */
	uint8_t cap[sizeof(struct virtio_pci_notify_cap)] = {0};
	uint8_t *body = cap + VIRTIO_PCI_CAP_LEN;

	cap[VIRTIO_PCI_CAP_LEN] = caplen;
	cap[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	cap[VIRTIO_PCI_CAP_BAR] = 0;
	pci_put32(cap + VIRTIO_PCI_CAP_OFFSET, off);
	pci_put32(cap + VIRTIO_PCI_CAP_LENGTH, len);
	if (caplen > sizeof(struct virtio_pci_cap))
		pci_put32(cap + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier),
			  extra);
	return pci_func_add_cap(&d->f, PCI_CAP_ID_VNDR, body, caplen);
}

static int vpci_build_function(struct vpci_dev *d)
{
	uint32_t dev_len = d->v.config_len < 4 ? 4 : (d->v.config_len + 3) & ~3U;
	int r;

	pci_func_init(&d->f, PCI_VENDOR_REDHAT_QUMRANET,
		      (uint16_t)(VIRTIO_PCI_DEVICE_BASE + d->v.device_id),
		      vpci_class(d->v.device_id), 1, PCI_VENDOR_REDHAT_QUMRANET,
		      VIRTIO_PCI_SUBSYS_ID, &vpci_ops, d);
	r = pci_func_add_bar(&d->f, 0, VPCI_BAR_SIZE);
	if (r < 0)
		return r;
	r = pci_func_add_msix(&d->f, (uint16_t)d->nvec, VPCI_MSIX_OFF, VPCI_PBA_OFF);
	if (r < 0)
		return r;
	d->msix_cap = (uint8_t)r;
	if ((r = vpci_add_vcap(d, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF, CC_SIZE,
			       sizeof(struct virtio_pci_cap), 0)) < 0 ||
	    (r = vpci_add_vcap(d, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF,
			       d->v.num_queues * VPCI_NOTIFY_MULT,
			       sizeof(struct virtio_pci_notify_cap), VPCI_NOTIFY_MULT)) < 0 ||
	    (r = vpci_add_vcap(d, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 4,
			       sizeof(struct virtio_pci_cap), 0)) < 0 ||
	    (r = vpci_add_vcap(d, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE_OFF, dev_len,
			       sizeof(struct virtio_pci_cap), 0)) < 0 ||
	    (r = vpci_add_vcap(d, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, sizeof(struct virtio_pci_cfg_cap),
			       0)) < 0)
		return r;
	d->cfg_cap = (uint8_t)r;
	/* The window's bar, offset, length and data are the driver's. */
	d->f.wmask[d->cfg_cap + VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(d->f.wmask + d->cfg_cap + VIRTIO_PCI_CAP_OFFSET, 0xff,
	       sizeof(struct virtio_pci_cfg_cap) - VIRTIO_PCI_CAP_OFFSET);
	return 0;
}

int vpci_attach(struct vpci_dev *d, int vm_fd, struct irq_routes *routes, int link_fd)
{
	int r;

	memset(d, 0, sizeof(*d));
	vdev_init(&d->v, "virtio-pci");
	d->v.transport = d;
	d->v.on_reset = vpci_on_reset;
	d->vm_fd = vm_fd;
	d->routes = routes;
	d->config_msix_vector = VDEV_NO_VECTOR;
	d->ioevent_any_len = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	/* The queue count comes with DeviceInfo, after Attach: eventfds for
	 * every possible queue, the extra ones closed afterwards. */
	for (uint32_t i = 0; i < VDEV_MAX_QUEUES; i++) {
		d->v.q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->v.q[i].irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->v.q[i].kick_fd < 0 || d->v.q[i].irq_fd < 0) {
			d->v.link_fd = link_fd;
			return -errno;
		}
	}
	r = vdev_attach(&d->v, link_fd, VDEV_MAX_QUEUES, true);
	if (r < 0)
		return r;
	for (uint32_t i = d->v.num_queues; i < VDEV_MAX_QUEUES; i++) {
		close(d->v.q[i].kick_fd);
		close(d->v.q[i].irq_fd);
		d->v.q[i].kick_fd = d->v.q[i].irq_fd = -1;
	}
	d->nvec = d->v.num_queues + 1;
	for (uint32_t v = 0; v < d->nvec; v++)
		d->msix[v].ctrl = 1; /* masked until the driver sets it up */
	r = irq_routes_alloc(routes, 1 + d->v.num_queues);
	if (r < 0)
		return r;
	d->gsi_base = (uint32_t)r;
	return vpci_build_function(d);
}

int vpci_start(struct vpci_dev *d)
{
	snprintf(d->v.name, sizeof(d->v.name), "virtio-pci 00:%02x.0", d->f.slot);
	pthread_mutex_lock(&d->v.lock);
	vpci_update_irqs(d);
	pthread_mutex_unlock(&d->v.lock);
	return 0;
}

int vpci_on_link(struct vpci_dev *d)
{
	return vdev_on_link(&d->v);
}

void vpci_destroy(struct vpci_dev *d)
{
	vdev_destroy(&d->v);
}
