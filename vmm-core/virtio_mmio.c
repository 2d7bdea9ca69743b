/* virtio-mmio transport for out-of-process devices; see virtio_mmio.h.
 * Guest register writes are checked against the virtio 1.2 rules: queue
 * registers only between FEATURES_OK and DRIVER_OK, features only those
 * offered, status never skipping steps. */
#include "vmm-core/virtio_mmio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/channel.h"
#include "proto/ipc.h"

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

#define ST_ACKNOWLEDGE 1U
#define ST_DRIVER      2U
#define ST_DRIVER_OK   4U
#define ST_FEATURES_OK 8U
#define ST_NEEDS_RESET 64U
#define ST_FAILED      128U

#define VIRTIO_F_VERSION_1 32

#define VMMIO_LINK_MAX_MSG     16384
#define VMMIO_RESET_TIMEOUT_MS 2000

static void vmmio_guest_error(struct vmmio_dev *d, const char *what, uint64_t off)
{
	/* Rate-limited: a guest must not be able to flood the host log. */
	if (d->log_budget > 0) {
		d->log_budget--;
		log_warn("virtio-mmio@0x%llx: guest %s (register 0x%llx) ignored",
			 (unsigned long long)d->base, what, (unsigned long long)off);
	}
}

static int vmmio_send(struct vmmio_dev *d, Cellvm__Device__LinkMessage *m, const int *fds,
		      size_t nfds)
{
	return channel_send(d->link_fd, &m->base, VMMIO_LINK_MAX_MSG, fds, nfds);
}

static int vmmio_recv_info(struct vmmio_dev *d)
{
	struct pollfd pfd = {.fd = d->link_fd, .events = POLLIN};
	Cellvm__Device__LinkMessage *m = NULL;
	const Cellvm__Device__DeviceInfo *in;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t c;
	int r;

	if (poll(&pfd, 1, 5000) <= 0)
		return -ETIMEDOUT;
	r = channel_recv(d->link_fd, &cellvm__device__link_message__descriptor, VMMIO_LINK_MAX_MSG,
			 (ProtobufCMessage **)&m, &c, fds, IPC_MAX_FDS, &nfds);
	if (r < 0)
		return r;
	r = -EPROTO;
	if (nfds || c != CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO)
		goto out;
	in = m->info;
	/* UNTRUSTED(device): sizes bound our copies and the guest's view. */
	if (in->num_queues == 0 || in->num_queues > VMMIO_MAX_QUEUES || in->queue_max_size == 0 ||
	    in->queue_max_size > 32768 || (in->queue_max_size & (in->queue_max_size - 1)) ||
	    in->config.len > DEVPROC_CONFIG_MAX || !(in->features & (1ULL << VIRTIO_F_VERSION_1)))
		goto out;
	d->device_id = in->device_id;
	d->device_features = in->features;
	d->num_queues = in->num_queues;
	d->queue_max = in->queue_max_size;
	d->config_len = (uint32_t)in->config.len;
	memcpy(d->config, in->config.data, in->config.len);
	r = 0;
out:
	ipc_close_fds(fds, nfds);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

int vmmio_attach(struct vmmio_dev *d, int vm_fd, int link_fd, uint64_t base, uint32_t gsi)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Attach a = CELLVM__DEVICE__ATTACH__INIT;
	int fds[2 + VMMIO_MAX_QUEUES];
	int shm = -1, r;
	uint32_t nq;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->base = base;
	d->gsi = gsi;
	d->link_fd = link_fd;
	d->irq_fd = -1;
	d->log_budget = 16;
	for (uint32_t i = 0; i < VMMIO_MAX_QUEUES; i++)
		d->q[i].kick_fd = -1;

	/* The queue count comes with DeviceInfo, after Attach: send a kick
	 * eventfd for every possible queue, trim the rest afterwards. */
	nq = VMMIO_MAX_QUEUES;
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return -errno;
	{
		struct kvm_irqfd irqfd = {.fd = (uint32_t)d->irq_fd, .gsi = gsi};
		if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
			return -errno;
	}
	shm = memfd_create("cellvm-vdev-shared", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (shm < 0)
		return -errno;
	if (ftruncate(shm, sizeof(struct devproc_shared)) < 0 ||
	    fcntl(shm, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		goto out;
	}
	d->shared = mmap(NULL, sizeof(struct devproc_shared), PROT_READ | PROT_WRITE, MAP_SHARED,
			 shm, 0);
	if (d->shared == MAP_FAILED) {
		d->shared = NULL;
		r = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < nq; i++) {
		struct kvm_ioeventfd io = {.addr = base + REG_QUEUE_NOTIFY,
					   .len = 4,
					   .datamatch = i,
					   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH};
		d->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->q[i].kick_fd < 0) {
			r = -errno;
			goto out;
		}
		io.fd = d->q[i].kick_fd;
		if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0) {
			r = -errno;
			goto out;
		}
	}
	fds[0] = d->irq_fd;
	fds[1] = shm;
	for (uint32_t i = 0; i < nq; i++)
		fds[2 + i] = d->q[i].kick_fd;
	a.num_queues = nq;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	r = vmmio_send(d, &m, fds, 2 + nq);
	if (r < 0)
		goto out;
	r = vmmio_recv_info(d);
out:
	if (shm >= 0)
		close(shm);
	return r;
}

/* After DeviceInfo: the kicks beyond the device's queues are not needed. */
static void vmmio_trim_kicks(struct vmmio_dev *d, int vm_fd)
{
	for (uint32_t i = d->num_queues; i < VMMIO_MAX_QUEUES; i++) {
		struct kvm_ioeventfd io = {.addr = d->base + REG_QUEUE_NOTIFY,
					   .len = 4,
					   .datamatch = i,
					   .fd = d->q[i].kick_fd,
					   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
						    KVM_IOEVENTFD_FLAG_DEASSIGN};
		if (d->q[i].kick_fd < 0)
			continue;
		(void)ioctl(vm_fd, KVM_IOEVENTFD, &io);
		close(d->q[i].kick_fd);
		d->q[i].kick_fd = -1;
	}
}

int vmmio_attach_finish(struct vmmio_dev *d, int vm_fd)
{
	vmmio_trim_kicks(d, vm_fd);
	return 0;
}

static void vmmio_interrupt(struct vmmio_dev *d)
{
	uint64_t one = 1;

	(void)!write(d->irq_fd, &one, sizeof(one));
}

/* Reset from the guest (status 0): the device quiesces before we return, so
 * nothing of the old driver's rings is touched afterwards. Lock held. */
static void vmmio_reset(struct vmmio_dev *d)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Reset rs = CELLVM__DEVICE__RESET__INIT;
	struct timespec deadline;

	d->status = 0;
	d->driver_features = 0;
	d->dev_features_sel = d->drv_features_sel = d->queue_sel = 0;
	for (uint32_t i = 0; i < VMMIO_MAX_QUEUES; i++) {
		d->q[i].num = 0;
		d->q[i].ready = false;
		d->q[i].desc = d->q[i].avail = d->q[i].used = 0;
	}
	if (d->shared)
		atomic_store((_Atomic uint32_t *)&d->shared->isr, 0);
	if (d->dead)
		return;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET;
	m.reset = &rs;
	d->reset_done = false;
	if (vmmio_send(d, &m, NULL, 0) < 0) {
		d->dead = true;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += VMMIO_RESET_TIMEOUT_MS / 1000;
	while (!d->reset_done && !d->dead) {
		if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) == ETIMEDOUT) {
			log_err("virtio-mmio@0x%llx: device did not finish its reset",
				(unsigned long long)d->base);
			d->dead = true;
		}
	}
}

/* DRIVER_OK: hand the queues to the device. Lock held. */
static void vmmio_activate(struct vmmio_dev *d)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Activate act = CELLVM__DEVICE__ACTIVATE__INIT;
	Cellvm__Device__Queue qs[VMMIO_MAX_QUEUES], *pq[VMMIO_MAX_QUEUES];
	size_t n = 0;

	for (uint32_t i = 0; i < d->num_queues; i++) {
		if (!d->q[i].ready)
			continue;
		cellvm__device__queue__init(&qs[n]);
		qs[n].index = i;
		qs[n].size = d->q[i].num;
		qs[n].desc = d->q[i].desc;
		qs[n].avail = d->q[i].avail;
		qs[n].used = d->q[i].used;
		pq[n] = &qs[n];
		n++;
	}
	act.features = d->driver_features;
	act.n_queues = n;
	act.queues = pq;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ACTIVATE;
	m.activate = &act;
	if (vmmio_send(d, &m, NULL, 0) < 0)
		d->dead = true;
}

static void vmmio_write_status(struct vmmio_dev *d, uint32_t v)
{
	uint32_t old = d->status;

	if (v == 0) {
		vmmio_reset(d);
		return;
	}
	/* Status bits only accumulate (besides reset) and never skip a step. */
	if ((v & old) != old ||
	    (v & ~(ST_ACKNOWLEDGE | ST_DRIVER | ST_DRIVER_OK | ST_FEATURES_OK | ST_FAILED))) {
		vmmio_guest_error(d, "status going backwards or unknown bits", REG_STATUS);
		return;
	}
	if ((v & ST_FEATURES_OK) && !(old & ST_FEATURES_OK)) {
		/* Only features we offered, and a modern driver. */
		if ((d->driver_features & ~d->device_features) ||
		    !(d->driver_features & (1ULL << VIRTIO_F_VERSION_1)) || !(v & ST_DRIVER)) {
			vmmio_guest_error(d, "features not offered", REG_STATUS);
			v &= ~ST_FEATURES_OK;
		}
	}
	if ((v & ST_DRIVER_OK) && !(old & ST_DRIVER_OK)) {
		if (!(v & ST_FEATURES_OK)) {
			vmmio_guest_error(d, "DRIVER_OK before FEATURES_OK", REG_STATUS);
			return;
		}
		d->status = v;
		vmmio_activate(d);
		return;
	}
	d->status = v | (old & ST_NEEDS_RESET);
}

/* Queue registers may change only between FEATURES_OK and DRIVER_OK. */
static struct vmmio_queue *vmmio_queue_for_write(struct vmmio_dev *d, uint64_t off)
{
	if (!(d->status & ST_FEATURES_OK) || (d->status & ST_DRIVER_OK)) {
		vmmio_guest_error(d, "queue setup outside FEATURES_OK..DRIVER_OK", off);
		return NULL;
	}
	if (d->queue_sel >= d->num_queues) {
		vmmio_guest_error(d, "queue setup for a queue that does not exist", off);
		return NULL;
	}
	return &d->q[d->queue_sel];
}

static void vmmio_write(struct vmmio_dev *d, uint64_t off, uint32_t v)
{
	struct vmmio_queue *q;

	switch (off) {
	case REG_DEVICE_FEAT_SEL: d->dev_features_sel = v; break;
	case REG_DRIVER_FEAT_SEL: d->drv_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		if ((d->status & ST_FEATURES_OK) || d->drv_features_sel > 1) {
			vmmio_guest_error(d, "feature write after FEATURES_OK", off);
			break;
		}
		if (d->drv_features_sel == 0)
			d->driver_features = (d->driver_features & ~0xffffffffULL) | v;
		else
			d->driver_features =
				(d->driver_features & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case REG_QUEUE_SEL: d->queue_sel = v; break;
	case REG_QUEUE_NUM:
		q = vmmio_queue_for_write(d, off);
		/* A power of two up to the maximum; anything else leaves the queue off. */
		if (q && v && v <= d->queue_max && !(v & (v - 1)))
			q->num = v;
		else if (q)
			vmmio_guest_error(d, "bad queue size", off);
		break;
	case REG_QUEUE_READY:
		q = vmmio_queue_for_write(d, off);
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
		q = vmmio_queue_for_write(d, off);
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
		if (d->shared)
			atomic_fetch_and((_Atomic uint32_t *)&d->shared->isr, ~v);
		break;
	case REG_STATUS: vmmio_write_status(d, v); break;
	default: vmmio_guest_error(d, "write to a read-only or unknown register", off); break;
	}
}

static uint32_t vmmio_read(struct vmmio_dev *d, uint64_t off)
{
	const struct vmmio_queue *q = d->queue_sel < d->num_queues ? &d->q[d->queue_sel] : NULL;

	switch (off) {
	case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case REG_VERSION: return VIRTIO_MMIO_VERSION;
	case REG_DEVICE_ID: return d->device_id;
	case REG_VENDOR_ID: return VIRTIO_VENDOR_ID;
	case REG_DEVICE_FEATURES:
		if (d->dev_features_sel > 1)
			return 0;
		return (uint32_t)(d->device_features >> (32 * d->dev_features_sel));
	case REG_QUEUE_NUM_MAX: return q ? d->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return d->shared ? atomic_load((_Atomic uint32_t *)&d->shared->isr) & 3 : 0;
	case REG_STATUS: return d->status;
	case REG_CONFIG_GENERATION: return d->config_generation;
	default: return 0;
	}
}

void vmmio_access(struct vmmio_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;
		/* UNTRUSTED(guest): any offset and length in the config window. */
		if (!is_write) {
			memset(data, 0, len);
			if (c < d->config_len)
				memcpy(data, d->config + c,
				       len < d->config_len - c ? len : d->config_len - c);
		} else {
			vmmio_guest_error(d, "config write", off);
		}
	} else if (len != 4 || (off & 3)) {
		/* Registers below the config space are 32-bit only. */
		if (!is_write)
			memset(data, 0xff, len);
		vmmio_guest_error(d, "register access that is not 32-bit aligned", off);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		vmmio_write(d, off, v);
	} else {
		uint32_t v = vmmio_read(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

int vmmio_on_link(struct vmmio_dev *d)
{
	Cellvm__Device__LinkMessage *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t c;
	int r;

	r = channel_recv(d->link_fd, &cellvm__device__link_message__descriptor, VMMIO_LINK_MAX_MSG,
			 (ProtobufCMessage **)&m, &c, fds, IPC_MAX_FDS, &nfds);
	pthread_mutex_lock(&d->lock);
	if (r < 0 || nfds) {
		ipc_close_fds(fds, nfds);
		r = r < 0 ? r : -EPROTO;
		goto dead;
	}
	switch (c) {
	case CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE: d->reset_done = true; break;
	case CELLVM__DEVICE__LINK_MESSAGE__MSG_NEEDS_RESET:
		/* The device refuses to go on: tell the driver (virtio 1.2 2.1.2). */
		if (d->status & ST_DRIVER_OK) {
			d->status |= ST_NEEDS_RESET;
			d->config_generation++;
			if (d->shared)
				atomic_fetch_or((_Atomic uint32_t *)&d->shared->isr,
						DEVPROC_ISR_CONFIG);
			vmmio_interrupt(d);
		}
		break;
	default: r = -EPROTO; goto dead;
	}
	protobuf_c_message_free_unpacked(&m->base, NULL);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
dead:
	if (m)
		protobuf_c_message_free_unpacked(&m->base, NULL);
	if (!d->dead)
		log_err("virtio-mmio@0x%llx: device link lost (%s)", (unsigned long long)d->base,
			strerror(-r));
	d->dead = true;
	if (d->status & ST_DRIVER_OK) {
		d->status |= ST_NEEDS_RESET;
		d->config_generation++;
		if (d->shared)
			atomic_fetch_or((_Atomic uint32_t *)&d->shared->isr, DEVPROC_ISR_CONFIG);
		vmmio_interrupt(d);
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return r;
}

int vmmio_cmdline(const struct vmmio_dev *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)d->base,
			 d->gsi);

	return (n < 0 || (size_t)n >= len) ? -ENOSPC : n;
}

void vmmio_destroy(struct vmmio_dev *d)
{
	for (uint32_t i = 0; i < VMMIO_MAX_QUEUES; i++)
		if (d->q[i].kick_fd >= 0)
			close(d->q[i].kick_fd);
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	if (d->link_fd >= 0)
		close(d->link_fd);
	if (d->shared)
		munmap(d->shared, sizeof(*d->shared));
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
}
