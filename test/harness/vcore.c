/* The cellvm-core half of the test harness; see vdriver.h. Runs in test
 * processes and speaks device.proto on the core<->device link the way
 * vmm-core does: Attach with the interrupt, shared page and kick eventfds,
 * Activate with queue addresses, Reset until ResetDone. What the device sends
 * back is untrusted: decoding is checked and every wait has a deadline. */
#include "test/harness/vdriver.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define VCORE_MAX_MSG 16384

int vcore_start(struct vcore *c, const struct device_config *cfg, struct vdrv_mem *m, char *err,
		size_t errlen)
{
	*c = (struct vcore){.irq_fd = -1, .shm_fd = -1, .inflight_fd = -1};
	for (uint32_t i = 0; i < DEVPROC_MAX_QUEUES; i++)
		c->kick_fd[i] = c->qirq_fd[i] = -1;
	return launcher_start_device(cfg, m->fd, m->size, m->mem.low_size, &c->proc, err, errlen);
}

static int vcore_send(struct vcore *c, Cellvm__Device__LinkMessage *msg, const int *fds,
		      size_t nfds)
{
	return channel_send(c->proc.link, &msg->base, VCORE_MAX_MSG, fds, nfds);
}

static int vcore_take_info(struct vcore *c, const Cellvm__Device__DeviceInfo *info)
{
	if (info->config.len > sizeof(c->config) || info->n_selects > DEVPROC_MAX_SELECTS)
		return -EPROTO;
	for (size_t i = 0; i < info->n_selects; i++) {
		const Cellvm__Device__ConfigSelect *s = info->selects[i];

		if (s->select > 0xff || s->subsel > 0xff || s->data.len > DEVPROC_SELECT_DATA_MAX)
			return -EPROTO;
		c->selects[i] = (struct devproc_config_select){.select = (uint8_t)s->select,
							       .subsel = (uint8_t)s->subsel,
							       .size = (uint8_t)s->data.len};
		memcpy(c->selects[i].data, s->data.data, s->data.len);
	}
	c->nselects = (uint32_t)info->n_selects;
	c->device_id = info->device_id;
	c->features = info->features;
	memcpy(c->config, info->config.data, info->config.len);
	c->config_len = info->config.len;
	c->num_queues = info->num_queues;
	c->queue_max_size = info->queue_max_size;
	return 0;
}

int vcore_recv(struct vcore *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->proc.link, .events = POLLIN};
	Cellvm__Device__LinkMessage *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t mc;
	int r;

	if (c->link_closed)
		return -ECONNRESET;
	r = poll(&pfd, 1, timeout_ms);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	r = channel_recv(c->proc.link, &cellvm__device__link_message__descriptor, VCORE_MAX_MSG,
			 (ProtobufCMessage **)&m, &mc, fds, IPC_MAX_FDS, &nfds);
	if (r == -ECONNRESET)
		c->link_closed = true;
	if (r < 0)
		return r;
	ipc_close_fds(fds, nfds); /* the device never sends fds */
	switch (mc) {
	case CELLVM__DEVICE__LINK_MESSAGE__MSG_NEEDS_RESET: c->needs_reset++; break;
	case CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE: c->reset_done++; break;
	case CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO: r = vcore_take_info(c, m->info); break;
	case CELLVM__DEVICE__LINK_MESSAGE__MSG_CONFIG_UPDATE:
		if (m->config_update->config.len != c->config_len) {
			r = -EPROTO;
			break;
		}
		memcpy(c->config, m->config_update->config.data, c->config_len);
		c->config_updates++;
		break;
	default: r = -EPROTO; break;
	}
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r < 0 ? r : (int)mc;
}

static int vcore_make_inflight(struct vcore *c)
{
	const size_t len = sizeof(struct virtq_inflight) * DEVPROC_MAX_QUEUES;
	void *p;

	if (c->inflight_fd >= 0)
		return 0;
	c->inflight_fd = memfd_create("vcore-inflight", MFD_CLOEXEC);
	if (c->inflight_fd < 0 || ftruncate(c->inflight_fd, (off_t)len) < 0)
		return -errno;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->inflight_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	c->rec = p;
	return 0;
}

static int vcore_make_fds(struct vcore *c, uint32_t nkicks)
{
	if (c->inflight) {
		int r = vcore_make_inflight(c);
		if (r < 0)
			return r;
	}
	c->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->shm_fd = memfd_create("vcore-shared", MFD_CLOEXEC);
	if (c->irq_fd < 0 || c->shm_fd < 0 ||
	    ftruncate(c->shm_fd, sizeof(struct devproc_shared)) < 0)
		return -errno;
	c->shared = mmap(NULL, sizeof(struct devproc_shared), PROT_READ | PROT_WRITE, MAP_SHARED,
			 c->shm_fd, 0);
	if (c->shared == MAP_FAILED) {
		c->shared = NULL;
		return -errno;
	}
	for (uint32_t i = 0; i < nkicks; i++) {
		c->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->kick_fd[i] < 0)
			return -errno;
		if (c->queue_irqs) {
			c->qirq_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (c->qirq_fd[i] < 0)
				return -errno;
		}
	}
	c->nkick = nkicks;
	return 0;
}

int vcore_attach(struct vcore *c, uint32_t nkicks)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Attach a = CELLVM__DEVICE__ATTACH__INIT;
	int fds[3 + 2 * DEVPROC_MAX_QUEUES];
	size_t nfds;
	int r;

	if (nkicks > DEVPROC_MAX_QUEUES)
		return -EINVAL;
	r = vcore_make_fds(c, nkicks);
	if (r < 0)
		return r;
	fds[0] = c->irq_fd;
	fds[1] = c->shm_fd;
	for (uint32_t i = 0; i < nkicks; i++)
		fds[2 + i] = c->kick_fd[i];
	nfds = 2 + nkicks;
	if (c->queue_irqs)
		for (uint32_t i = 0; i < nkicks; i++)
			fds[nfds++] = c->qirq_fd[i];
	if (c->inflight)
		fds[nfds++] = c->inflight_fd;
	a.num_queues = nkicks;
	a.queue_irqs = c->queue_irqs;
	a.inflight = c->inflight;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	r = vcore_send(c, &m, fds, nfds);
	if (r < 0)
		return r;
	r = vcore_recv(c, 5000);
	if (r < 0)
		return r;
	return r == CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO ? 0 : -EPROTO;
}

void vcore_attach_queue(struct vcore *c, struct vdrv_queue *q)
{
	q->kick_fd = q->index < c->nkick ? c->kick_fd[q->index] : -1;
}

static int vcore_activate_msg(struct vcore *c, uint64_t features, const uint32_t *index,
			      const uint32_t *size, const uint64_t (*addr)[3], uint32_t n,
			      bool resume)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Activate a = CELLVM__DEVICE__ACTIVATE__INIT;
	Cellvm__Device__Queue qs[DEVPROC_MAX_QUEUES], *pq[DEVPROC_MAX_QUEUES];

	if (n > DEVPROC_MAX_QUEUES)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		cellvm__device__queue__init(&qs[i]);
		qs[i].index = index[i];
		qs[i].size = size[i];
		qs[i].desc = addr[i][0];
		qs[i].avail = addr[i][1];
		qs[i].used = addr[i][2];
		pq[i] = &qs[i];
	}
	a.features = features;
	a.n_queues = n;
	a.queues = pq;
	a.resume = resume;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ACTIVATE;
	m.activate = &a;
	return vcore_send(c, &m, NULL, 0);
}

int vcore_activate_raw(struct vcore *c, uint64_t features, const uint32_t *index,
		       const uint32_t *size, const uint64_t (*addr)[3], uint32_t n)
{
	return vcore_activate_msg(c, features, index, size, addr, n, false);
}

static int vcore_activate_queues(struct vcore *c, uint64_t features, struct vdrv_queue *const *qs,
				 uint32_t n, bool resume);

int vcore_activate(struct vcore *c, uint64_t features, struct vdrv_queue *const *qs, uint32_t n)
{
	return vcore_activate_queues(c, features, qs, n, false);
}

int vcore_activate_resume(struct vcore *c, uint64_t features, struct vdrv_queue *const *qs,
			  uint32_t n)
{
	return vcore_activate_queues(c, features, qs, n, true);
}

static int vcore_activate_queues(struct vcore *c, uint64_t features, struct vdrv_queue *const *qs,
				 uint32_t n, bool resume)
{
	uint32_t index[DEVPROC_MAX_QUEUES], size[DEVPROC_MAX_QUEUES];
	uint64_t addr[DEVPROC_MAX_QUEUES][3];

	if (n > DEVPROC_MAX_QUEUES)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		index[i] = qs[i]->index;
		size[i] = qs[i]->size;
		addr[i][0] = qs[i]->desc;
		addr[i][1] = qs[i]->avail;
		addr[i][2] = qs[i]->used;
		vcore_attach_queue(c, qs[i]);
	}
	return vcore_activate_msg(c, features, index, size, (const uint64_t(*)[3])addr, n, resume);
}

int vcore_reset(struct vcore *c, int timeout_ms)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Reset rs = CELLVM__DEVICE__RESET__INIT;
	uint32_t done = c->reset_done;
	int r;

	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET;
	m.reset = &rs;
	r = vcore_send(c, &m, NULL, 0);
	if (r < 0)
		return r;
	while (c->reset_done == done) {
		r = vcore_recv(c, timeout_ms);
		if (r < 0)
			return r;
	}
	return 0;
}

bool vcore_wait_needs_reset(struct vcore *c, int timeout_ms)
{
	while (c->needs_reset == 0) {
		if (vcore_recv(c, timeout_ms) < 0)
			return false;
	}
	return true;
}

uint64_t vcore_irq_take(struct vcore *c)
{
	uint64_t v = 0;

	if (read(c->irq_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* What an Attach handed over (the crash-recovery records stay). */
static void vcore_close_attach(struct vcore *c)
{
	if (c->shared)
		munmap(c->shared, sizeof(struct devproc_shared));
	c->shared = NULL;
	if (c->irq_fd >= 0)
		close(c->irq_fd);
	if (c->shm_fd >= 0)
		close(c->shm_fd);
	c->irq_fd = c->shm_fd = -1;
	for (uint32_t i = 0; i < DEVPROC_MAX_QUEUES; i++) {
		if (c->kick_fd[i] >= 0)
			close(c->kick_fd[i]);
		if (c->qirq_fd[i] >= 0)
			close(c->qirq_fd[i]);
		c->kick_fd[i] = c->qirq_fd[i] = -1;
	}
}

int vcore_crash_restart(struct vcore *c, const struct device_config *cfg, struct vdrv_mem *m,
			char *err, size_t errlen)
{
	/* SIGKILL: the process gets no chance to tidy anything. */
	if (c->proc.pid > 0)
		(void)launcher_stop_device(&c->proc, SIGKILL);
	vcore_close_attach(c);
	c->link_closed = false;
	c->needs_reset = c->reset_done = 0;
	return launcher_start_device(cfg, m->fd, m->size, m->mem.low_size, &c->proc, err, errlen);
}

uint64_t vcore_qirq_take(struct vcore *c, uint32_t q)
{
	uint64_t v = 0;

	if (q >= DEVPROC_MAX_QUEUES || c->qirq_fd[q] < 0 ||
	    read(c->qirq_fd[q], &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

bool vcore_alive(struct vcore *c)
{
	struct pollfd pfd = {.fd = c->proc.pidfd, .events = POLLIN};

	return c->proc.pidfd >= 0 && poll(&pfd, 1, 0) == 0;
}

/* Whether the task's current syscall (/proc/<pid>/syscall: the number, then
 * the arguments in hex; "running" when it is not blocked) is an epoll wait
 * with no timeout. */
static bool vcore_in_epoll_wait(pid_t pid)
{
	unsigned long a[4];
	char path[64], line[256];
	bool idle = false;
	FILE *f;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f) &&
	    sscanf(line, "%ld %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3]) == 5) {
#ifdef SYS_epoll_wait
		idle |= nr == SYS_epoll_wait && (int)a[3] == -1;
#endif
		idle |= nr == SYS_epoll_pwait && (int)a[3] == -1;
#ifdef SYS_epoll_pwait2
		idle |= nr == SYS_epoll_pwait2 && a[3] == 0; /* no timespec: no timeout */
#endif
	}
	fclose(f);
	return idle;
}

bool vcore_wait_idle(struct vcore *c, int timeout_ms)
{
	const struct timespec nap = {.tv_nsec = 1000 * 1000};

	for (int waited = 0;; waited++) {
		if (c->proc.pid > 0 && vcore_in_epoll_wait(c->proc.pid))
			return true;
		if (waited >= timeout_ms || !vcore_alive(c))
			return false;
		nanosleep(&nap, NULL);
	}
}

int vcore_wait_exit(struct vcore *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->proc.pidfd, .events = POLLIN};

	if (c->proc.pidfd < 0 || poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	return launcher_stop_device(&c->proc, SIGTERM);
}

int vcore_stop(struct vcore *c)
{
	int status = -1;

	/* Closing the link ends the device on its own, as when the core exits. */
	if (c->proc.link >= 0) {
		close(c->proc.link);
		c->proc.link = -1;
	}
	if (c->proc.pid > 0)
		status = launcher_stop_device(&c->proc, SIGTERM);
	vcore_close_attach(c);
	if (c->rec)
		munmap(c->rec, sizeof(struct virtq_inflight) * DEVPROC_MAX_QUEUES);
	if (c->inflight_fd >= 0)
		close(c->inflight_fd);
	c->rec = NULL;
	c->inflight_fd = -1;
	return status;
}
