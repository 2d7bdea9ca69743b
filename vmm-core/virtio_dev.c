/* Transport-independent virtio device state in the core; see virtio_dev.h.
 * Guest writes are checked against the virtio 1.2 rules: queue setup only
 * between FEATURES_OK and DRIVER_OK, features only those offered, status
 * never skipping steps. The device's link messages go through link_table. */
#include "vmm-core/virtio_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define VDEV_LINK_MAX_MSG     16384
#define VDEV_RESET_TIMEOUT_MS 2000
#define VDEV_INFO_TIMEOUT_MS  5000

/* Where the device is on the link: Attach sent and DeviceInfo awaited;
 * attached; a Reset sent and its ResetDone awaited. */
enum { LINK_ATTACHING, LINK_IDLE, LINK_RESETTING };

static const struct dispatch_channel vdev_link_channel;

void vdev_init(struct vdev *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	{
		pthread_condattr_t a;
		/* Reset deadlines on the monotonic clock: a wall-clock step must
		 * not shorten or stretch them. */
		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&d->cond, &a);
		pthread_condattr_destroy(&a);
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->link_fd = d->irq_fd = d->shared_fd = d->inflight_fd = -1;
	d->guest_reports = VDEV_GUEST_REPORTS;
	dispatch_init(&d->link_proto, &vdev_link_channel, LINK_ATTACHING);
	for (uint32_t i = 0; i < VDEV_MAX_QUEUES; i++) {
		d->q[i].kick_fd = d->q[i].irq_fd = -1;
		d->q[i].msix_vector = VDEV_NO_VECTOR;
	}
}

void vdev_report(const struct vdev *d, enum vdev_report what, const char *detail, uint64_t off,
		 int err)
{
	if (d->report)
		d->report(d, what, detail, off, err);
}

void vdev_guest_error(struct vdev *d, const char *what, uint64_t off)
{
	/* Rate-limited: a guest must not be able to flood the host log. */
	if (d->guest_reports > 0) {
		d->guest_reports--;
		vdev_report(d, VDEV_REPORT_GUEST_ERROR, what, off, 0);
	}
}

static int vdev_send(struct vdev *d, Cellvm__Device__LinkMessage *m, const int *fds, size_t nfds)
{
	return channel_send(d->link_fd, &m->base, VDEV_LINK_MAX_MSG, fds, nfds);
}

static int vdev_recv_info(struct vdev *d)
{
	struct pollfd pfd = {.fd = d->link_fd, .events = POLLIN};

	if (poll(&pfd, 1, VDEV_INFO_TIMEOUT_MS) <= 0)
		return -ETIMEDOUT;
	/* UNTRUSTED(device): its answer to Attach; in LINK_ATTACHING the table
	 * takes DeviceInfo alone. */
	return dispatch_recv(d->link_fd, &d->link_proto, d);
}

static int vdev_make_shared(struct vdev *d)
{
	int shm, r = 0;

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
	d->shared_fd = shm;
	return 0;
out:
	close(shm);
	return r;
}

static int vdev_make_inflight(struct vdev *d)
{
	const size_t len = sizeof(struct virtq_inflight) * VDEV_MAX_QUEUES;
	int fd;

	fd = memfd_create("cellvm-vdev-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int r = -errno; /* before close() can change it */

		close(fd);
		return r;
	}
	d->inflight_fd = fd;
	return 0;
}

/* Send Attach with the eventfds of nq queues, the shared page and the
 * crash-recovery records; wait for DeviceInfo. */
static int vdev_send_attach(struct vdev *d, uint32_t nq)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Attach a = CELLVM__DEVICE__ATTACH__INIT;
	int fds[3 + 2 * VDEV_MAX_QUEUES];
	size_t nfds = 0;
	int r;

	fds[nfds++] = d->irq_fd;
	fds[nfds++] = d->shared_fd;
	for (uint32_t i = 0; i < nq; i++)
		fds[nfds++] = d->q[i].kick_fd;
	if (d->queue_irqs)
		for (uint32_t i = 0; i < nq; i++)
			fds[nfds++] = d->q[i].irq_fd;
	fds[nfds++] = d->inflight_fd;
	a.num_queues = nq;
	a.queue_irqs = d->queue_irqs;
	a.inflight = true;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	/* A new peer: nothing seen from it yet. */
	dispatch_init(&d->link_proto, &vdev_link_channel, LINK_ATTACHING);
	r = vdev_send(d, &m, fds, nfds);
	if (r < 0)
		return r;
	return vdev_recv_info(d);
}

int vdev_attach(struct vdev *d, int link_fd, uint32_t nq, bool queue_irqs)
{
	int r;

	d->link_fd = link_fd;
	d->queue_irqs = queue_irqs;
	if (nq > VDEV_MAX_QUEUES)
		return -EINVAL;
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return -errno;
	r = vdev_make_shared(d);
	if (r < 0)
		return r;
	r = vdev_make_inflight(d);
	if (r < 0)
		return r;
	return vdev_send_attach(d, nq);
}

void vdev_config_interrupt(struct vdev *d)
{
	uint64_t one = 1;

	d->config_generation++;
	if (d->shared)
		atomic_fetch_or((_Atomic uint32_t *)&d->shared->isr, DEVPROC_ISR_CONFIG);
	(void)!write(d->irq_fd, &one, sizeof(one));
}

/* The core stops reading the device's link (lock held). A device the
 * launcher restarts may still have a process (hung, or hostile): note why,
 * for the launcher, which kills and restarts it (vdev_take_fault). */
static void vdev_drop(struct vdev *d, enum vdev_fault why)
{
	if (!d->dead && d->restartable)
		d->fault = why;
	d->dead = true;
}

enum vdev_fault vdev_take_fault(struct vdev *d, uint32_t *ret_restarts)
{
	enum vdev_fault f;

	pthread_mutex_lock(&d->lock);
	f = d->fault;
	d->fault = VDEV_FAULT_NONE;
	*ret_restarts = d->restarts;
	pthread_mutex_unlock(&d->lock);
	return f;
}

/* Reset from the guest (status 0): the device quiesces before we return, so
 * nothing of the old driver's rings is touched afterwards. Lock held. A
 * device that does not answer in VDEV_RESET_TIMEOUT_MS is dropped, and the
 * launcher told (its process lives, and must not keep the guest's disk hung). */
static void vdev_reset(struct vdev *d)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Reset rs = CELLVM__DEVICE__RESET__INIT;
	struct timespec deadline;
	uint32_t seq;

	d->status = 0;
	d->activated = false;
	d->driver_features = 0;
	d->dev_features_sel = d->drv_features_sel = d->queue_sel = 0;
	for (uint32_t i = 0; i < VDEV_MAX_QUEUES; i++) {
		d->q[i].num = 0;
		d->q[i].ready = false;
		d->q[i].desc = d->q[i].avail = d->q[i].used = 0;
		d->q[i].msix_vector = VDEV_NO_VECTOR;
	}
	if (d->shared)
		atomic_store((_Atomic uint32_t *)&d->shared->isr, 0);
	if (d->on_reset)
		d->on_reset(d);
	if (d->dead)
		return;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET;
	m.reset = &rs;
	/* From now on the link takes a ResetDone (one per Reset: two vCPUs
	 * may reset at once, each waiting for its own). */
	seq = ++d->resets_sent;
	d->link_proto.state = LINK_RESETTING;
	if (vdev_send(d, &m, NULL, 0) < 0) {
		vdev_drop(d, VDEV_FAULT_LINK_LOST);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += VDEV_RESET_TIMEOUT_MS / 1000;
	while ((int32_t)(d->resets_done - seq) < 0 && !d->dead) {
		if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) == ETIMEDOUT) {
			vdev_report(d, VDEV_REPORT_RESET_TIMEOUT, NULL, 0, -ETIMEDOUT);
			vdev_drop(d, VDEV_FAULT_RESET_TIMEOUT);
		}
	}
}

/* DRIVER_OK: hand the queues to the device (resume: to a device process
 * that replaces a crashed one). Lock held. */
static void vdev_activate(struct vdev *d, bool resume)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Activate act = CELLVM__DEVICE__ACTIVATE__INIT;
	Cellvm__Device__Queue qs[VDEV_MAX_QUEUES], *pq[VDEV_MAX_QUEUES];
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
	act.resume = resume;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ACTIVATE;
	m.activate = &act;
	if (d->dead || vdev_send(d, &m, NULL, 0) < 0)
		vdev_drop(d, VDEV_FAULT_LINK_LOST);
	else
		d->activated = true;
}

void vdev_write_status(struct vdev *d, uint32_t v)
{
	uint32_t old = d->status;

	if (v == 0) {
		vdev_reset(d);
		return;
	}
	/* Status bits only accumulate (besides reset) and never skip a step. */
	if ((v & old & ~VDEV_ST_NEEDS_RESET) != (old & ~VDEV_ST_NEEDS_RESET) ||
	    (v & ~(VDEV_ST_ACKNOWLEDGE | VDEV_ST_DRIVER | VDEV_ST_DRIVER_OK | VDEV_ST_FEATURES_OK |
		   VDEV_ST_FAILED | VDEV_ST_NEEDS_RESET))) {
		vdev_guest_error(d, "status going backwards or unknown bits", 0);
		return;
	}
	v &= ~VDEV_ST_NEEDS_RESET; /* set by the device only */
	if ((v & VDEV_ST_FEATURES_OK) && !(old & VDEV_ST_FEATURES_OK)) {
		/* Only features we offered, and a modern driver. */
		if ((d->driver_features & ~d->device_features) ||
		    !(d->driver_features & (1ULL << VIRTIO_F_VERSION_1)) || !(v & VDEV_ST_DRIVER)) {
			vdev_guest_error(d, "features not offered", 0);
			v &= ~VDEV_ST_FEATURES_OK;
		}
	}
	if ((v & VDEV_ST_DRIVER_OK) && !(old & VDEV_ST_DRIVER_OK)) {
		if (!(v & VDEV_ST_FEATURES_OK)) {
			vdev_guest_error(d, "DRIVER_OK before FEATURES_OK", 0);
			return;
		}
		d->status = v | (old & VDEV_ST_NEEDS_RESET);
		vdev_activate(d, false);
		return;
	}
	d->status = v | (old & VDEV_ST_NEEDS_RESET);
}

uint32_t vdev_device_features(const struct vdev *d, uint32_t sel)
{
	return sel > 1 ? 0 : (uint32_t)(d->device_features >> (32 * sel));
}

void vdev_write_driver_features(struct vdev *d, uint32_t sel, uint32_t v, uint64_t off)
{
	if ((d->status & VDEV_ST_FEATURES_OK) || sel > 1) {
		vdev_guest_error(d, "feature write after FEATURES_OK or beyond bit 63", off);
		return;
	}
	if (sel == 0)
		d->driver_features = (d->driver_features & ~0xffffffffULL) | v;
	else
		d->driver_features = (d->driver_features & 0xffffffffULL) | ((uint64_t)v << 32);
}

struct vdev_queue *vdev_queue_for_write(struct vdev *d, uint64_t off)
{
	if (!(d->status & VDEV_ST_FEATURES_OK) || (d->status & VDEV_ST_DRIVER_OK)) {
		vdev_guest_error(d, "queue setup outside FEATURES_OK..DRIVER_OK", off);
		return NULL;
	}
	if (d->queue_sel >= d->num_queues) {
		vdev_guest_error(d, "queue setup for a queue that does not exist", off);
		return NULL;
	}
	return &d->q[d->queue_sel];
}

void vdev_set_queue_size(struct vdev *d, struct vdev_queue *q, uint32_t v, uint64_t off)
{
	/* A power of two up to the maximum; anything else leaves the queue off. */
	if (v && v <= d->queue_max && !(v & (v - 1)))
		q->num = v;
	else
		vdev_guest_error(d, "bad queue size", off);
}

/* virtio-input's window (virtio 1.2 5.8.4): select, subsel, size, 5 bytes
 * reserved, then the answer. */
#define VDEV_SEL_SELECT 0
#define VDEV_SEL_SUBSEL 1
#define VDEV_SEL_SIZE	2
#define VDEV_SEL_DATA	8

void vdev_config_read(const struct vdev *d, uint64_t off, uint8_t *data, uint32_t len)
{
	/* UNTRUSTED(guest): any offset and length in the config window. */
	memset(data, 0, len);
	if (d->selects) {
		uint8_t win[VDEV_SEL_DATA + DEVPROC_SELECT_DATA_MAX] = {0};

		win[VDEV_SEL_SELECT] = d->sel_select;
		win[VDEV_SEL_SUBSEL] = d->sel_subsel;
		for (uint32_t i = 0; i < d->nselects; i++) {
			const struct devproc_config_select *c = &d->selects[i];

			if (c->select == d->sel_select && c->subsel == d->sel_subsel) {
				win[VDEV_SEL_SIZE] = c->size;
				memcpy(win + VDEV_SEL_DATA, c->data, c->size);
				break;
			}
		}
		if (off < sizeof(win))
			memcpy(data, win + off, len < sizeof(win) - off ? len : sizeof(win) - off);
		return;
	}
	if (off < d->config_len)
		memcpy(data, d->config + off,
		       len < d->config_len - off ? len : d->config_len - off);
}

void vdev_config_write(struct vdev *d, uint64_t off, const uint8_t *data, uint32_t len)
{
	/* UNTRUSTED(guest): only select and subsel are writable, a byte at a
	 * time or together (Linux writes each with a byte access). */
	if (!d->selects || off > VDEV_SEL_SUBSEL || off + len > VDEV_SEL_SUBSEL + 1) {
		vdev_guest_error(d, "device config write", off);
		return;
	}
	for (uint32_t i = 0; i < len; i++) {
		if (off + i == VDEV_SEL_SELECT)
			d->sel_select = data[i];
		else
			d->sel_subsel = data[i];
	}
}

static void vdev_mark_needs_reset(struct vdev *d)
{
	/* The device refuses to go on: tell the driver (virtio 1.2 2.1.2). */
	if (d->status & VDEV_ST_DRIVER_OK) {
		d->status |= VDEV_ST_NEEDS_RESET;
		vdev_config_interrupt(d);
	}
}

/* ---- the device's link messages (main thread, lock held) ---- */

static int vdev_on_info(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__DeviceInfo *in = msg;
	struct vdev *d = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(device): sizes bound our copies and the guest's view. */
	if (in->num_queues == 0 || in->num_queues > VDEV_MAX_QUEUES || in->queue_max_size == 0 ||
	    in->queue_max_size > 32768 || (in->queue_max_size & (in->queue_max_size - 1)) ||
	    in->config.len > DEVPROC_CONFIG_MAX || !(in->features & (1ULL << VIRTIO_F_VERSION_1)))
		return -EPROTO;
	d->device_id = in->device_id;
	d->device_features = in->features;
	d->num_queues = in->num_queues;
	d->queue_max = in->queue_max_size;
	d->config_len = (uint32_t)in->config.len;
	memcpy(d->config, in->config.data, in->config.len);
	/* UNTRUSTED(device): the window's answers, each bounded. */
	if (in->n_selects > DEVPROC_MAX_SELECTS)
		return -EPROTO;
	free(d->selects);
	d->selects = NULL;
	d->nselects = 0;
	if (in->n_selects) {
		d->selects = calloc(in->n_selects, sizeof(*d->selects));
		if (!d->selects)
			return -ENOMEM;
		for (size_t i = 0; i < in->n_selects; i++) {
			const Cellvm__Device__ConfigSelect *c = in->selects[i];

			if (c->select > 0xff || c->subsel > 0xff ||
			    c->data.len > DEVPROC_SELECT_DATA_MAX) {
				free(d->selects);
				d->selects = NULL;
				return -EPROTO;
			}
			d->selects[i].select = (uint8_t)c->select;
			d->selects[i].subsel = (uint8_t)c->subsel;
			d->selects[i].size = (uint8_t)c->data.len;
			memcpy(d->selects[i].data, c->data.data, c->data.len);
		}
		d->nselects = (uint32_t)in->n_selects;
	}
	d->link_proto.state = LINK_IDLE;
	return 0;
}

static int vdev_on_reset_done(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct vdev *d = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	/* The table takes it only while a reset is pending: done < sent. */
	if (++d->resets_done == d->resets_sent)
		d->link_proto.state = LINK_IDLE;
	return 0;
}

static int vdev_on_needs_reset(void *ctx, const void *msg, int *fds, size_t nfds)
{
	(void)msg;
	(void)fds;
	(void)nfds;
	vdev_mark_needs_reset(ctx);
	return 0;
}

static int vdev_on_config_update(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__ConfigUpdate *cu = msg;
	struct vdev *d = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(device): the same size as the configuration it offered. */
	if (cu->config.len != d->config_len)
		return -EPROTO;
	memcpy(d->config, cu->config.data, d->config_len);
	vdev_config_interrupt(d);
	return 0;
}

/* What a device may send, when: DeviceInfo once, answering Attach; ResetDone
 * only while a Reset of ours waits for it; NeedsReset and ConfigUpdate once
 * attached (also while a reset is pending: they may cross it). Never fds. */
static const struct dispatch_entry vdev_link_table[] = {
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO] = {vdev_on_info, DISPATCH_STATE(LINK_ATTACHING),
						    DISPATCH_ONCE},
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE] = {vdev_on_reset_done,
							  DISPATCH_STATE(LINK_RESETTING), 0},
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_NEEDS_RESET] = {vdev_on_needs_reset,
							   DISPATCH_STATE(LINK_IDLE) |
								   DISPATCH_STATE(LINK_RESETTING),
							   0},
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_CONFIG_UPDATE] = {vdev_on_config_update,
							     DISPATCH_STATE(LINK_IDLE) |
								     DISPATCH_STATE(LINK_RESETTING),
							     0},
	/* Attach, Activate and Reset go the other way. */
};

static const struct dispatch_channel vdev_link_channel = {
	.envelope = &cellvm__device__link_message__descriptor,
	.max_len = VDEV_LINK_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = vdev_link_table,
	.n = sizeof(vdev_link_table) / sizeof(vdev_link_table[0]),
};

int vdev_on_link(struct vdev *d)
{
	bool was_dead;
	int r;

	pthread_mutex_lock(&d->lock);
	/* UNTRUSTED(device): one message; the link is readable, so this does
	 * not block. */
	r = dispatch_recv(d->link_fd, &d->link_proto, d);
	if (r >= 0) {
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	was_dead = d->dead;
	/* EOF or a failed receive: the process is gone or going; anything else
	 * is a breach of the protocol by a process that may live on. */
	vdev_drop(d, r == -ECONNRESET || !(dispatch_violation(r) || r == -EPROTO)
			     ? VDEV_FAULT_LINK_LOST
			     : VDEV_FAULT_PROTOCOL);
	/* A device the launcher restarts keeps the guest's view meanwhile:
	 * kicks and interrupts wait in their eventfds. */
	if (!d->restartable)
		vdev_mark_needs_reset(d);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return was_dead ? 0 : r;
}

int vdev_reattach(struct vdev *d, int link_fd)
{
	uint32_t id, nq, qmax, clen;
	bool took_over;
	uint64_t feat;
	int r;

	pthread_mutex_lock(&d->lock);
	/* Counted whatever comes of it: the launcher counts what it sent. */
	d->restarts++;
	if (!d->dead) {
		pthread_mutex_unlock(&d->lock);
		close(link_fd);
		return -EBUSY;
	}
	/* A fault not told yet is about the process this one replaces. */
	d->fault = VDEV_FAULT_NONE;
	if (d->link_fd >= 0)
		close(d->link_fd);
	d->link_fd = link_fd;
	id = d->device_id;
	feat = d->device_features;
	nq = d->num_queues;
	qmax = d->queue_max;
	clen = d->config_len;
	r = vdev_send_attach(d, nq);
	/* UNTRUSTED(device): the successor must be the same device. */
	if (r == 0 && (d->device_id != id || d->device_features != feat || d->num_queues != nq ||
		       d->queue_max != qmax || d->config_len != clen))
		r = -EPROTO;
	if (r < 0) {
		d->device_id = id;
		d->device_features = feat;
		d->num_queues = nq;
		d->queue_max = qmax;
		d->config_len = clen;
		/* The refused successor may live on (waiting on its link): the
		 * launcher is to end it and try again or give up. */
		if (d->restartable)
			d->fault = r == -EPROTO ? VDEV_FAULT_PROTOCOL : VDEV_FAULT_LINK_LOST;
		pthread_mutex_unlock(&d->lock);
		return r;
	}
	d->dead = false;
	/* The new process owes no ResetDone: a vCPU still waiting for the old
	 * one's stops waiting. */
	d->resets_done = d->resets_sent;
	/* A running driver keeps running: the new process takes over from the
	 * records of the old one, or starts the queues afresh if the old one
	 * never got this activation. */
	took_over = d->status & VDEV_ST_DRIVER_OK;
	if (took_over)
		vdev_activate(d, d->activated);
	r = d->dead ? -EPIPE : took_over;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return r;
}

void vdev_give_up(struct vdev *d)
{
	pthread_mutex_lock(&d->lock);
	d->restartable = false;
	if (d->dead)
		vdev_mark_needs_reset(d);
	pthread_mutex_unlock(&d->lock);
}

void vdev_destroy(struct vdev *d)
{
	free(d->selects);
	d->selects = NULL;
	for (uint32_t i = 0; i < VDEV_MAX_QUEUES; i++) {
		if (d->q[i].kick_fd >= 0)
			close(d->q[i].kick_fd);
		if (d->q[i].irq_fd >= 0)
			close(d->q[i].irq_fd);
		d->q[i].kick_fd = d->q[i].irq_fd = -1;
	}
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	if (d->link_fd >= 0)
		close(d->link_fd);
	if (d->shared_fd >= 0)
		close(d->shared_fd);
	if (d->inflight_fd >= 0)
		close(d->inflight_fd);
	d->irq_fd = d->link_fd = d->shared_fd = d->inflight_fd = -1;
	if (d->shared)
		munmap(d->shared, sizeof(*d->shared));
	d->shared = NULL;
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
}
