/* virtio-mmio transport for out-of-process devices; see virtio_mmio.h. The
 * virtio rules themselves (status, features, queue setup) are in
 * virtio_dev.c. */
#include "vmm-core/virtio_mmio.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2
#define VIRTIO_VENDOR_ID    0x4d564c43 /* "CLVM" */

#define REG_MAGIC	      0x000
#define REG_VERSION	      0x004
#define REG_DEVICE_ID	      0x008
#define REG_VENDOR_ID	      0x00c
#define REG_DEVICE_FEATURES   0x010
#define REG_DEVICE_FEAT_SEL   0x014
#define REG_DRIVER_FEATURES   0x020
#define REG_DRIVER_FEAT_SEL   0x024
#define REG_QUEUE_SEL	      0x030
#define REG_QUEUE_NUM_MAX     0x034
#define REG_QUEUE_NUM	      0x038
#define REG_QUEUE_READY	      0x044
#define REG_QUEUE_NOTIFY      0x050
#define REG_INTERRUPT_STATUS  0x060
#define REG_INTERRUPT_ACK     0x064
#define REG_STATUS	      0x070
#define REG_QUEUE_DESC_LOW    0x080
#define REG_QUEUE_DESC_HIGH   0x084
#define REG_QUEUE_DRIVER_LOW  0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW  0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG	      0x100

static int vmmio_kick_ioeventfd(struct vmmio_dev *d, int vm_fd, uint32_t i, bool assign)
{
	struct kvm_ioeventfd io = {.addr = d->base + REG_QUEUE_NOTIFY,
				   .len = 4,
				   .datamatch = i,
				   .fd = d->v.q[i].kick_fd,
				   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
					    (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN)};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int vmmio_attach(struct vmmio_dev *d, int vm_fd, int link_fd, uint64_t base, uint32_t gsi)
{
	char name[40];
	int r;

	snprintf(name, sizeof(name), "virtio-mmio@0x%llx", (unsigned long long)base);
	vdev_init(&d->v, name);
	d->v.transport = d;
	d->base = base;
	d->gsi = gsi;
	/* The queue count comes with DeviceInfo, after Attach: send a kick
	 * eventfd for every possible queue, trim the rest afterwards. */
	for (uint32_t i = 0; i < VMMIO_MAX_QUEUES; i++) {
		d->v.q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->v.q[i].kick_fd < 0) {
			d->v.link_fd = link_fd;
			return -errno;
		}
		r = vmmio_kick_ioeventfd(d, vm_fd, i, true);
		if (r < 0) {
			d->v.link_fd = link_fd;
			return r;
		}
	}
	r = vdev_attach(&d->v, link_fd, VMMIO_MAX_QUEUES, false);
	if (r < 0)
		return r;
	{
		struct kvm_irqfd irqfd = {.fd = (uint32_t)d->v.irq_fd, .gsi = gsi};
		if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
			return -errno;
	}
	return 0;
}

/* After DeviceInfo: the kicks beyond the device's queues are not needed. */
int vmmio_attach_finish(struct vmmio_dev *d, int vm_fd)
{
	for (uint32_t i = d->v.num_queues; i < VMMIO_MAX_QUEUES; i++) {
		if (d->v.q[i].kick_fd < 0)
			continue;
		(void)vmmio_kick_ioeventfd(d, vm_fd, i, false);
		close(d->v.q[i].kick_fd);
		d->v.q[i].kick_fd = -1;
	}
	return 0;
}

static void vmmio_write(struct vmmio_dev *d, uint64_t off, uint32_t v)
{
	struct vdev *vd = &d->v;
	struct vdev_queue *q;

	switch (off) {
	case REG_DEVICE_FEAT_SEL: vd->dev_features_sel = v; break;
	case REG_DRIVER_FEAT_SEL: vd->drv_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		vdev_write_driver_features(vd, vd->drv_features_sel, v, off);
		break;
	case REG_QUEUE_SEL: vd->queue_sel = v; break;
	case REG_QUEUE_NUM:
		q = vdev_queue_for_write(vd, off);
		if (q)
			vdev_set_queue_size(vd, q, v, off);
		break;
	case REG_QUEUE_READY:
		q = vdev_queue_for_write(vd, off);
		if (q)
			q->ready = (v == 1) && q->num != 0;
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH: {
		uint64_t *addr;
		q = vdev_queue_for_write(vd, off);
		if (!q)
			break;
		addr = off < REG_QUEUE_DRIVER_LOW   ? &q->desc
		       : off < REG_QUEUE_DEVICE_LOW ? &q->avail
						    : &q->used;
		if (off & 4)
			*addr = (*addr & 0xffffffffULL) | ((uint64_t)v << 32);
		else
			*addr = (*addr & ~0xffffffffULL) | v;
		break;
	}
	case REG_QUEUE_NOTIFY:
		/* Kicks for existing queues go to the device's ioeventfd; this is
		 * a notify for a queue that does not exist. */
		break;
	case REG_INTERRUPT_ACK:
		if (vd->shared)
			atomic_fetch_and((_Atomic uint32_t *)&vd->shared->isr, ~v);
		break;
	case REG_STATUS: vdev_write_status(vd, v); break;
	default: vdev_guest_error(vd, "write to a read-only or unknown register", off); break;
	}
}

static uint32_t vmmio_read(struct vmmio_dev *d, uint64_t off)
{
	const struct vdev *vd = &d->v;
	const struct vdev_queue *q = vd->queue_sel < vd->num_queues ? &vd->q[vd->queue_sel] : NULL;

	switch (off) {
	case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case REG_VERSION: return VIRTIO_MMIO_VERSION;
	case REG_DEVICE_ID: return vd->device_id;
	case REG_VENDOR_ID: return VIRTIO_VENDOR_ID;
	case REG_DEVICE_FEATURES: return vdev_device_features(vd, vd->dev_features_sel);
	case REG_QUEUE_NUM_MAX: return q ? vd->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return vd->shared ? atomic_load((_Atomic uint32_t *)&vd->shared->isr) & 3 : 0;
	case REG_STATUS: return vd->status;
	case REG_CONFIG_GENERATION: return vd->config_generation;
	default: return 0;
	}
}

void vmmio_access(struct vmmio_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	/* UNTRUSTED(guest): offset, length and value as the guest chose.
	 * Registers take aligned 32-bit accesses only; the virtio rules (status
	 * order, features, queue sizes, no queue changes after DRIVER_OK) are
	 * vdev's; ring addresses are kept as written, and the device process
	 * checks them against guest RAM when it activates. */
	pthread_mutex_lock(&d->v.lock);
	if (off >= REG_CONFIG) {
		if (!is_write)
			vdev_config_read(&d->v, off - REG_CONFIG, data, len);
		else
			vdev_config_write(&d->v, off - REG_CONFIG, data, len);
	} else if (len != 4 || (off & 3)) {
		/* Registers below the config space are 32-bit only. */
		if (!is_write)
			memset(data, 0xff, len);
		vdev_guest_error(&d->v, "register access that is not 32-bit aligned", off);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		vmmio_write(d, off, v);
	} else {
		uint32_t v = vmmio_read(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->v.lock);
}

int vmmio_on_link(struct vmmio_dev *d)
{
	/* UNTRUSTED(device): checked by vdev_on_link's dispatch table. */
	return vdev_on_link(&d->v);
}

int vmmio_cmdline(const struct vmmio_dev *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)d->base,
			 d->gsi);

	return (n < 0 || (size_t)n >= len) ? -ENOSPC : n;
}

void vmmio_destroy(struct vmmio_dev *d)
{
	vdev_destroy(&d->v);
}
