/* The device-process frame; see devproc.h. Runs in every cellvm-dev-KIND.
 * Both channels carry untrusted bytes: anything out of place makes this
 * process exit (the unprivileged side of a protocol violation). */
#include "dev-procs/devlib/devproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "proto/ipc.h"
#ifdef CELLVM_HAVE_SANDBOX
#include "sandbox/sandbox.h"
#endif

#define DEVPROC_MAX_MSG 16384

/* Where the launcher is on the control channel, and the core on the link. */
enum { CTL_SETUP, CTL_RUNNING };
enum { LINK_INIT, LINK_ATTACHED, LINK_ACTIVE };

static int devproc_send_link(struct devproc *dp, Cellvm__Device__LinkMessage *m)
{
	return channel_send(dp->link_fd, &m->base, DEVPROC_MAX_MSG, NULL, 0);
}

int devproc_watch(struct devproc *dp, int fd, void (*cb)(struct devproc *dp, void *arg), void *arg)
{
	struct devproc *h = dp->host;

	for (uint32_t i = 0; i < DEVPROC_MAX_WATCHES; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (h->watches[i].cb)
			continue;
		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		h->watches[i] = (struct devproc_watch){dp, fd, cb, arg};
		return 0;
	}
	return -ENOSPC;
}

int devproc_unwatch(struct devproc *dp, int fd)
{
	struct devproc *h = dp->host;

	for (uint32_t i = 0; i < DEVPROC_MAX_WATCHES; i++) {
		if (h->watches[i].cb && h->watches[i].fd == fd) {
			epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
			h->watches[i] = (struct devproc_watch){.fd = -1};
			return 0;
		}
	}
	return -ENOENT;
}

struct devproc *devproc_function(struct devproc *dp, uint32_t i)
{
	/* The functions are one array, the host first (devproc_main). */
	return i < dp->host->nfunctions ? &dp->host[i] : NULL;
}

void devproc_quit(struct devproc *dp, int status)
{
	dp->host->quit = true;
	if (status)
		dp->host->status = status;
}

int devproc_send_ctl(struct devproc *dp, Cellvm__Device__ControlMessage *m)
{
	return channel_send(dp->host->ctl_fd, &m->base, DEVPROC_MAX_MSG, NULL, 0);
}

void devproc_notify(struct devproc *dp, const struct devproc_queue *q)
{
	uint64_t one = 1;
	int fd = q->irq_fd >= 0 ? q->irq_fd : dp->irq_fd;

	if (dp->shared)
		atomic_fetch_or((_Atomic uint32_t *)&dp->shared->isr, DEVPROC_ISR_QUEUE);
	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));
}

int devproc_readers_setup(struct devproc_readers *r, int efd)
{
	if (r->n >= DEVPROC_MAX_BACKENDS)
		return -E2BIG;
	r->fds[r->n] = efd;
	r->ids[r->n++] = 0;
	return 0;
}

void devproc_readers_add(struct devproc_readers *r, uint64_t id, int efd, bool ring,
			 const char *what)
{
	size_t live = 0;

	for (size_t i = 0; i < r->n; i++) {
		live += r->ids[i] != 0;
		if (r->ids[i] == id) {
			log_warn("%s %llu subscribed twice: refused", what, (unsigned long long)id);
			close(efd);
			return;
		}
	}
	if (!ring || live == DEVPROC_MAX_READERS) {
		log_warn("%s %llu refused: %s", what, (unsigned long long)id,
			 ring ? "too many readers" : "no ring");
		close(efd);
		return;
	}
	r->fds[r->n] = efd;
	r->ids[r->n++] = id;
}

void devproc_readers_remove(struct devproc_readers *r, uint64_t id, const char *what)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->ids[i] != id)
			continue;
		close(r->fds[i]);
		r->n--;
		r->fds[i] = r->fds[r->n];
		r->ids[i] = r->ids[r->n];
		return;
	}
	log_warn("%s %llu is not subscribed", what, (unsigned long long)id);
}

int devproc_queues_init(struct devproc *dp, struct virtq *vq, bool *live, uint32_t n,
			uint32_t max_size)
{
	const bool event_idx = dp->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	const bool indirect = dp->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	int r;

	memset(live, 0, n * sizeof(*live));
	/* Legacy (pre-1.0) drivers are not served. */
	if (!(dp->features & (1ULL << 32)) || dp->num_queues < n)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		struct devproc_queue *dq = &dp->queues[i];

		if (!dq->enabled)
			continue;
		/* UNTRUSTED(guest): the ring size and addresses, relayed by the
		 * core; virtq_init checks them against guest RAM. */
		r = dq->size <= max_size ? virtq_init(&vq[i], &dp->mem, dq->size, dq->desc,
						      dq->avail, dq->used, event_idx, indirect)
					 : -EINVAL;
		if (r < 0) {
			memset(live, 0, n * sizeof(*live));
			return r;
		}
		if (!dp->resume)
			virtq_track(&vq[i], dq->inflight);
		live[i] = true;
	}
	return 0;
}

bool devproc_queue_serve(struct devproc *dp, struct devproc_queue *q, struct virtq *vq,
			 struct virtq_chain *chain,
			 bool (*serve)(void *ctx, uint32_t qi, const struct virtq_chain *c,
				       uint32_t *used),
			 void *ctx)
{
	uint32_t budget = vq->size, used;
	bool pushed = false;
	int r;

	while (!dp->needs_reset) {
		if (budget-- == 0) {
			uint64_t one = 1;

			if (virtq_enable_kicks(vq))
				(void)!write(q->kick_fd, &one, sizeof(one));
			break;
		}
		r = virtq_pop(vq, chain);
		if (r < 0) {
			devproc_needs_reset(dp, "invalid descriptor chain or available index");
			break;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(vq))
				break;
			continue;
		}
		if (serve(ctx, q->index, chain, &used)) {
			virtq_push(vq, chain->head, used);
			pushed = true;
		}
	}
	return pushed;
}

int devproc_config_update(struct devproc *dp, const void *config, size_t len)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ConfigUpdate cu = CELLVM__DEVICE__CONFIG_UPDATE__INIT;

	if (len != dp->info.config_len)
		return -EINVAL;
	memcpy(dp->info.config, config, len);
	cu.config.data = dp->info.config;
	cu.config.len = len;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_CONFIG_UPDATE;
	m.config_update = &cu;
	return devproc_send_link(dp, &m);
}

void devproc_needs_reset(struct devproc *dp, const char *reason)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__NeedsReset nr = CELLVM__DEVICE__NEEDS_RESET__INIT;

	if (dp->needs_reset)
		return;
	/* Once per reset cycle: a hostile guest cannot flood the log. */
	log_warn("guest driver error, device needs reset: %s", reason);
	dp->needs_reset = true;
	nr.reason = (char *)reason;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_NEEDS_RESET;
	m.needs_reset = &nr;
	if (devproc_send_link(dp, &m) < 0)
		devproc_quit(dp, 0);
}

static void devproc_on_kick(struct devproc *dp, void *arg)
{
	struct devproc_queue *q = arg;
	uint64_t v;

	/* Drain first: a kick that arrives while we work is seen next time. */
	(void)!read(q->kick_fd, &v, sizeof(v));
	if (dp->active && !dp->needs_reset && q->enabled)
		dp->ops->kick(dp, q);
}

static void devproc_test_hooks(struct devproc *dp);

/* ---- link handlers (core -> device) ---- */

static int devproc_on_attach(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__Attach *a = msg;
	struct devproc *dp = ctx;
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__DeviceInfo info = CELLVM__DEVICE__DEVICE_INFO__INIT;
	size_t nper;
	struct stat st;
	void *p;
	int r;

	/* fds: irqfd, shared page, one kick per queue, then (queue_irqs) one
	 * interrupt per queue, then (inflight) the records. The core does not
	 * know our queue count before DeviceInfo, so it may send more of them
	 * than we have queues: the ones not taken here are closed afterwards.
	 * UNTRUSTED(core): the counts say which fd is which. */
	nper = a->queue_irqs ? 2 : 1;
	if (a->num_queues < dp->info.num_queues || a->num_queues > DEVPROC_MAX_QUEUES ||
	    nfds != 2 + (size_t)a->num_queues * nper + (a->inflight ? 1 : 0))
		return -EPROTO;
	if (a->inflight) {
		const size_t len = sizeof(struct virtq_inflight) * DEVPROC_MAX_QUEUES;

		/* UNTRUSTED(core): the record's size before we map it. */
		if (fstat(fds[nfds - 1], &st) < 0 || (size_t)st.st_size != len)
			return -EPROTO;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[nfds - 1], 0);
		if (p == MAP_FAILED)
			return -errno;
		dp->inflight = p;
	}
	if (fstat(fds[1], &st) < 0 || st.st_size != (off_t)sizeof(struct devproc_shared))
		return -EPROTO;
	p = mmap(NULL, sizeof(struct devproc_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fds[1],
		 0);
	if (p == MAP_FAILED)
		return -errno;
	dp->shared = p;
	dp->irq_fd = fds[0];
	fds[0] = -1;
	dp->num_queues = dp->info.num_queues;
	for (uint32_t i = 0; i < dp->num_queues; i++) {
		int *kick = &fds[2 + i];
		int *irq = a->queue_irqs ? &fds[2 + a->num_queues + i] : NULL;

		dp->queues[i] =
			(struct devproc_queue){.index = i,
					       .kick_fd = *kick,
					       .irq_fd = irq ? *irq : -1,
					       .inflight = dp->inflight ? &dp->inflight[i] : NULL};
		*kick = -1;
		if (irq)
			*irq = -1;
		r = devproc_watch(dp, dp->queues[i].kick_fd, devproc_on_kick, &dp->queues[i]);
		if (r < 0)
			return r;
	}
	dp->link_proto.state = LINK_ATTACHED;

	info.device_id = dp->info.device_id;
	info.features = dp->info.features;
	info.config.data = dp->info.config;
	info.config.len = dp->info.config_len;
	info.num_queues = dp->info.num_queues;
	info.queue_max_size = dp->info.queue_max_size;
	Cellvm__Device__ConfigSelect sel[DEVPROC_MAX_SELECTS];
	Cellvm__Device__ConfigSelect *psel[DEVPROC_MAX_SELECTS];
	for (size_t i = 0; i < dp->info.nselects; i++) {
		const struct devproc_config_select *c = &dp->info.selects[i];

		cellvm__device__config_select__init(&sel[i]);
		sel[i].select = c->select;
		sel[i].subsel = c->subsel;
		sel[i].data.data = (uint8_t *)c->data;
		sel[i].data.len = c->size;
		psel[i] = &sel[i];
	}
	info.n_selects = dp->info.nselects;
	info.selects = psel;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO;
	m.info = &info;
	r = devproc_send_link(dp, &m);
	/* Test builds: now that the VM is wired up, misbehave if asked to. */
	devproc_test_hooks(dp);
	return r;
}

static int devproc_on_activate(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__Activate *a = msg;
	struct devproc *dp = ctx;
	int r;

	(void)fds;
	(void)nfds;
	/* The core checked the driver's choices; we check the core's message. */
	if ((a->features & ~dp->info.features) != 0 || a->n_queues > dp->num_queues)
		return -EPROTO;
	for (uint32_t i = 0; i < dp->num_queues; i++)
		dp->queues[i].enabled = false;
	for (size_t i = 0; i < a->n_queues; i++) {
		const Cellvm__Device__Queue *q = a->queues[i];
		struct devproc_queue *dq;
		if (q->index >= dp->num_queues || q->size == 0 || q->size > dp->info.queue_max_size)
			return -EPROTO;
		dq = &dp->queues[q->index];
		dq->size = q->size;
		dq->desc = q->desc;
		dq->avail = q->avail;
		dq->used = q->used;
		dq->enabled = true;
	}
	dp->features = a->features;
	dp->needs_reset = false;
	dp->resume = a->resume;
	if (dp->resume && (!dp->inflight || !dp->ops->resume)) {
		devproc_needs_reset(dp, "cannot take over from a crashed device process");
		return 0;
	}
	r = dp->ops->activate(dp);
	if (r < 0) {
		devproc_needs_reset(dp, "activation refused");
		return 0;
	}
	if (dp->resume) {
		r = dp->ops->resume(dp);
		if (r < 0) {
			devproc_needs_reset(dp, "the crash-recovery record does not add up");
			return 0;
		}
		log_info("took over from a crashed device process");
	}
	dp->active = true;
	dp->link_proto.state = LINK_ACTIVE;
	/* Work queued before DRIVER_OK would otherwise wait for the next kick. */
	for (uint32_t i = 0; i < dp->num_queues; i++)
		if (dp->queues[i].enabled && !dp->needs_reset)
			dp->ops->kick(dp, &dp->queues[i]);
	return 0;
}

static int devproc_on_reset(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct devproc *dp = ctx;
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ResetDone done = CELLVM__DEVICE__RESET_DONE__INIT;

	(void)msg;
	(void)fds;
	(void)nfds;
	/* Always: an activation or a takeover that failed half-way may have
	 * left queues set up and requests in flight (the model's reset is a
	 * no-op when nothing is). */
	dp->ops->reset(dp);
	dp->active = false;
	dp->needs_reset = false;
	for (uint32_t i = 0; i < dp->num_queues; i++)
		dp->queues[i].enabled = false;
	if (dp->shared)
		atomic_store((_Atomic uint32_t *)&dp->shared->isr, 0);
	/* The records describe the old rings: a successor that comes before
	 * the next activation runs must not take them over. */
	if (dp->inflight)
		memset(dp->inflight, 0, sizeof(*dp->inflight) * DEVPROC_MAX_QUEUES);
	dp->link_proto.state = LINK_ATTACHED;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE;
	m.reset_done = &done;
	return devproc_send_link(dp, &m);
}

/* What the core may send, when: Attach once and first (with its fds),
 * Activate while attached and not active, Reset once attached. The link
 * carries no fds after Attach. */
static const struct dispatch_entry link_table[] = {
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH] = {devproc_on_attach, DISPATCH_STATE(LINK_INIT),
						      DISPATCH_ONCE | DISPATCH_NEEDS_FDS},
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_ACTIVATE] = {devproc_on_activate,
							DISPATCH_STATE(LINK_ATTACHED), 0},
	[CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET] =
		{devproc_on_reset, DISPATCH_STATE(LINK_ATTACHED) | DISPATCH_STATE(LINK_ACTIVE), 0},
	/* DeviceInfo, ResetDone, NeedsReset and ConfigUpdate go the other way. */
};

static const struct dispatch_channel link_channel = {
	.envelope = &cellvm__device__link_message__descriptor,
	.max_len = DEVPROC_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = link_table,
	.n = sizeof(link_table) / sizeof(link_table[0]),
};

static void devproc_on_link(struct devproc *dp, void *arg)
{
	int r;

	(void)arg;
	/* UNTRUSTED(core): every message on the link, checked by link_table. */
	r = dispatch_recv(dp->link_fd, &dp->link_proto, dp);
	if (r == -ECONNRESET) {
		/* The core is gone: so is the VM. */
		devproc_quit(dp, 0);
		return;
	}
	if (r < 0) {
		log_err("core link %u: protocol violation (message %u: %s)", dp->index,
			dp->link_proto.last_case, dispatch_strerror(r));
		devproc_quit(dp, 1);
	}
}

/* ---- control channel (launcher -> device) ---- */

static int devproc_on_setup(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__DeviceSetup *s = msg;
	struct devproc *dp = ctx;
	size_t n = nfds, nlinks;

	/* UNTRUSTED(launcher): memory and links first, then the backends,
	 * then the counters page when has_stats. */
	if (s->extra_links >= DEVPROC_MAX_FUNCTIONS || (s->no_link && s->extra_links)) {
		log_err("launcher sent more links than a device has functions");
		return -EPROTO;
	}
	nlinks = s->no_link ? 0 : 1 + (size_t)s->extra_links;
	if (n < 1 + nlinks || n - 1 - nlinks > DEVPROC_MAX_BACKENDS + (s->has_stats ? 1 : 0) ||
	    strcmp(s->kind, dp->ops->kind) != 0) {
		log_err("launcher sent a setup this device does not take");
		return -EPROTO;
	}
	if (s->has_stats) {
		int sfd = fds[--n]; /* left to be closed: the mapping is enough */
		struct stat st;
		void *p;

		/* UNTRUSTED(launcher): the page's size before we map it. */
		if (fstat(sfd, &st) < 0 || st.st_size != DEVPROC_STATS_SIZE ||
		    (p = mmap(NULL, DEVPROC_STATS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd,
			      0)) == MAP_FAILED) {
			log_err("launcher sent an unusable counters page");
			return -EPROTO;
		}
		dp->stats = p;
		dp->stats_base = *dp->stats;
	}
	if (n < 1 + nlinks)
		return -EPROTO;
	dp->mem_fd = fds[0];
	dp->nfunctions = (uint32_t)nlinks;
	for (size_t i = 0; i < nlinks; i++)
		dp[i].link_fd = fds[1 + i];
	dp->nbackend = n - 1 - nlinks;
	memcpy(dp->backend_fds, fds + 1 + nlinks, dp->nbackend * sizeof(int));
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	dp->ctl_proto.state = CTL_RUNNING;
	return 0;
}

static int devproc_on_input_cmd(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct devproc *dp = ctx;

	(void)fds;
	(void)nfds;
	/* A kind that takes no commands gets none. */
	if (!dp->ops->command)
		return -EPROTO;
	return dp->ops->command(dp, msg);
}

static int devproc_on_subscribe(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__CaptureSubscribe *m = msg;
	struct devproc *dp = ctx;
	int efd;

	/* UNTRUSTED(launcher): exactly one fd, an id that is not 0. */
	if (!dp->ops->subscribe || nfds != 1 || m->id == 0)
		return -EPROTO;
	efd = fds[0];
	fds[0] = -1;
	return dp->ops->subscribe(dp, m->id, efd);
}

static int devproc_on_unsubscribe(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__CaptureUnsubscribe *m = msg;
	struct devproc *dp = ctx;

	(void)fds;
	(void)nfds;
	if (!dp->ops->unsubscribe || m->id == 0)
		return -EPROTO;
	return dp->ops->unsubscribe(dp, m->id);
}

static int devproc_on_audio_source(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__AudioSource *m = msg;
	struct devproc *dp = ctx;
	int fd;

	/* UNTRUSTED(launcher): exactly one fd, an id that is not 0. */
	if (!dp->ops->audio_source || nfds != 1 || m->id == 0)
		return -EPROTO;
	fd = fds[0];
	fds[0] = -1;
	return dp->ops->audio_source(dp, m->id, fd);
}

/* What the launcher may send, when: DeviceSetup once and first, with at
 * least memory and link; afterwards only InputCommands, capture
 * subscriptions and pushed sound (for a kind that takes them); only a
 * subscription (its eventfd) and pushed sound (its stream) carry an fd. */
static const struct dispatch_entry ctl_table[] = {
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SETUP] = {devproc_on_setup, DISPATCH_STATE(CTL_SETUP),
							DISPATCH_ONCE | DISPATCH_NEEDS_FDS |
								DISPATCH_KEEP},
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_CMD] = {devproc_on_input_cmd,
							    DISPATCH_STATE(CTL_RUNNING), 0},
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SUBSCRIBE] = {devproc_on_subscribe,
							    DISPATCH_STATE(CTL_RUNNING),
							    DISPATCH_NEEDS_FDS},
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_UNSUBSCRIBE] = {devproc_on_unsubscribe,
							      DISPATCH_STATE(CTL_RUNNING), 0},
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_AUDIO_SOURCE] = {devproc_on_audio_source,
							       DISPATCH_STATE(CTL_RUNNING),
							       DISPATCH_NEEDS_FDS},
	/* DeviceReady and InputReply go the other way. */
};

static const struct dispatch_channel ctl_channel = {
	.envelope = &cellvm__device__control_message__descriptor,
	.max_len = DEVPROC_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = ctl_table,
	.n = sizeof(ctl_table) / sizeof(ctl_table[0]),
};

static void devproc_on_ctl(struct devproc *dp, void *arg)
{
	int r;

	(void)arg;
	/* UNTRUSTED(launcher): after the setup only commands (ctl_table);
	 * EOF means it is gone. */
	r = dispatch_recv(dp->ctl_fd, &dp->ctl_proto, dp);
	if (r >= 0 || r == -EAGAIN || r == -EINTR)
		return;
	if (dispatch_violation(r) || r == -EPROTO) {
		log_err("launcher channel: protocol violation (%s)", dispatch_strerror(r));
		dp->status = 1;
	}
	dp->quit = true;
}

/* ---- setup ---- */

static int devproc_map_memory(struct devproc *dp, const Cellvm__Device__DeviceSetup *s)
{
	struct stat st;
	void *p;
	int r;

	if (fstat(dp->mem_fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size != s->mem_size)
		return -EINVAL;
	p = mmap(NULL, s->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, dp->mem_fd,
		 0);
	if (p == MAP_FAILED)
		return -errno;
	r = gmem_init(&dp->mem, p, s->mem_size);
	if (r < 0 || dp->mem.low_size != s->mem_low_size) {
		munmap(p, s->mem_size);
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

/* The launcher's DeviceSetup (kept in dp->ctl_proto.kept until freed), or
 * NULL when it sent none that this device takes. */
static const Cellvm__Device__DeviceSetup *devproc_recv_setup(struct devproc *dp)
{
	int r;

	/* UNTRUSTED(launcher): its first message, checked by ctl_table. */
	r = dispatch_recv(dp->ctl_fd, &dp->ctl_proto, dp);
	if (r < 0) {
		log_err("no valid setup from the launcher: %s", dispatch_strerror(r));
		return NULL;
	}
	return ((const Cellvm__Device__ControlMessage *)(const void *)dp->ctl_proto.kept)->setup;
}

/* Publish the counts (seqlock: odd while writing). */
static void devproc_publish_stats(struct devproc *dp)
{
	struct devproc_stats cur = {0};
	struct devproc_stats *s = dp->stats;
	uint32_t seq;

	if (!s || !dp->ops->stats)
		return;
	dp->ops->stats(dp, &cur);
	seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, seq | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&s->requests, dp->stats_base.requests + cur.requests, __ATOMIC_RELAXED);
	__atomic_store_n(&s->bytes_in, dp->stats_base.bytes_in + cur.bytes_in, __ATOMIC_RELAXED);
	__atomic_store_n(&s->bytes_out, dp->stats_base.bytes_out + cur.bytes_out, __ATOMIC_RELAXED);
	__atomic_store_n(&s->errors, dp->stats_base.errors + cur.errors, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, (seq | 1) + 1, __ATOMIC_RELEASE);
}

static int devproc_send_ready(struct devproc *dp)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__DeviceReady rd = CELLVM__DEVICE__DEVICE_READY__INIT;

	rd.pid = (uint32_t)getpid();
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_READY;
	m.ready = &rd;
	return channel_send(dp->ctl_fd, &m.base, DEVPROC_MAX_MSG, NULL, 0);
}

static int devproc_enter_sandbox(struct devproc *dp)
{
#ifdef CELLVM_HAVE_SANDBOX
	int keep[DEVPROC_MAX_BACKENDS + 16];
	struct sandbox_opts opts = {0};
	size_t n = 0;
	enum sandbox_kind kind;
	int r;

	if (strcmp(dp->ops->kind, "blk") == 0)
		kind = SANDBOX_DEV_BLK;
	else if (strcmp(dp->ops->kind, "net") == 0)
		kind = SANDBOX_DEV_NET;
	else if (strcmp(dp->ops->kind, "input") == 0)
		kind = SANDBOX_DEV_INPUT;
	else if (strcmp(dp->ops->kind, "gpu") == 0)
		kind = SANDBOX_DEV_GPU;
	else if (strcmp(dp->ops->kind, "snd") == 0)
		kind = SANDBOX_DEV_SND;
	else
		return -EINVAL;
	keep[n++] = dp->ctl_fd;
	for (uint32_t i = 0; i < dp->nfunctions; i++)
		keep[n++] = dp[i].link_fd;
	keep[n++] = dp->epfd;
	for (size_t i = 0; i < dp->nbackend; i++)
		keep[n++] = dp->backend_fds[i];
	if (dp->ops->keep_fds)
		n += dp->ops->keep_fds(dp, keep + n, sizeof(keep) / sizeof(keep[0]) - n);
	if (dp->ops->limits)
		dp->ops->limits(dp, &opts);
	r = sandbox_enter_opts(kind, keep, n, &opts);
	if (r < 0)
		return r;
	/* Once per process start: what it really got. */
	sandbox_log_layers(r, &opts);
	return 0;
#else
	(void)dp;
	return 0;
#endif
}

static void devproc_test_hooks(struct devproc *dp)
{
#ifdef CELLVM_TEST_HOOKS
	/* Test builds only: prove the sandbox by trying what it forbids. */
	if (dp->index != 0)
		return;
	if (dp->test_flags & DEVPROC_TEST_TRY_OPEN)
		(void)!open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (dp->test_flags & DEVPROC_TEST_TRY_EXECVE) {
		char *argv[] = {(char *)"/bin/true", NULL};
		execve(argv[0], argv, argv + 1);
	}
	if (dp->test_flags & DEVPROC_TEST_TRY_SOCKET)
		(void)!socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
	(void)dp;
#endif
}

int devproc_main(const struct devproc_ops *ops, void *priv)
{
	static struct devproc fns[DEVPROC_MAX_FUNCTIONS];
	struct devproc *dp = &fns[0];
	const Cellvm__Device__DeviceSetup *setup;
	char role[64];
	int r;

	for (uint32_t f = 0; f < DEVPROC_MAX_FUNCTIONS; f++) {
		fns[f] = (struct devproc){.ops = ops,
					  .priv = priv,
					  .host = dp,
					  .index = f,
					  .ctl_fd = DEVPROC_CHANNEL_FD,
					  .link_fd = -1,
					  .irq_fd = -1,
					  .mem_fd = -1,
					  .epfd = -1};
		for (uint32_t i = 0; i < DEVPROC_MAX_QUEUES; i++)
			fns[f].queues[i].kick_fd = fns[f].queues[i].irq_fd = -1;
		dispatch_init(&fns[f].link_proto, &link_channel, LINK_INIT);
	}
	dp->nfunctions = 1;
	snprintf(role, sizeof(role), "cellvm-dev-%s", ops->kind);
	log_init(role, getenv("CELLVM_DEBUG") ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	dispatch_init(&dp->ctl_proto, &ctl_channel, CTL_SETUP);
	if (fcntl(dp->ctl_fd, F_GETFD) < 0) {
		log_err("no channel on fd %d: %s is started by the launcher", DEVPROC_CHANNEL_FD,
			role);
		return 1;
	}
	setup = devproc_recv_setup(dp);
	if (!setup)
		return 1;
	if (setup->log_level)
		log_init(role, LOG_DEBUG);
	dp->test_flags = setup->test_flags;
	r = devproc_map_memory(dp, setup);
	if (r < 0) {
		log_err("guest memory: %s", strerror(-r));
		return 1;
	}
	close(dp->mem_fd);
	dp->mem_fd = -1;
	r = 0;
	/* The first is set up even without a link: it takes the backends. */
	for (uint32_t f = 0; f < (dp->nfunctions ? dp->nfunctions : 1) && r >= 0; f++) {
		fns[f].mem = dp->mem;
		fns[f].test_flags = dp->test_flags;
		r = ops->setup(&fns[f], setup, f == 0 ? dp->backend_fds : NULL,
			       f == 0 ? dp->nbackend : 0, &fns[f].info);
	}
	protobuf_c_message_free_unpacked(dp->ctl_proto.kept, NULL);
	dp->ctl_proto.kept = NULL;
	if (r < 0) {
		log_err("setup refused: %s", strerror(-r));
		return 1;
	}
	for (uint32_t f = 0; f < dp->nfunctions; f++) {
		const struct devproc_info *in = &fns[f].info;

		if (in->num_queues == 0 || in->num_queues > DEVPROC_MAX_QUEUES ||
		    in->config_len > DEVPROC_CONFIG_MAX || in->nselects > DEVPROC_MAX_SELECTS) {
			log_err("device model reported an impossible layout");
			return 1;
		}
	}
	dp->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (dp->epfd < 0)
		return 1;
	r = devproc_enter_sandbox(dp);
	if (r < 0) {
		log_err("cannot enter the sandbox: %s", strerror(-r));
		return 1;
	}
	if (ops->sandboxed) {
		r = ops->sandboxed(dp);
		if (r < 0) {
			log_err("backend setup failed: %s", strerror(-r));
			return 1;
		}
	}
	for (uint32_t f = 0; f < dp->nfunctions; f++)
		if (devproc_watch(&fns[f], fns[f].link_fd, devproc_on_link, NULL) < 0)
			return 1;
	if (devproc_watch(dp, dp->ctl_fd, devproc_on_ctl, NULL) < 0)
		return 1;
	if (devproc_send_ready(dp) < 0)
		return 1;

	while (!dp->quit) {
		struct epoll_event ev[16];
		int n = epoll_wait(dp->epfd, ev, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 0; i < n && !dp->quit; i++) {
			struct devproc_watch *w =
				&dp->watches[ev[i].data.u32 % DEVPROC_MAX_WATCHES];
			if (w->cb)
				w->cb(w->dp, w->arg);
		}
		devproc_publish_stats(dp);
	}
	for (uint32_t f = 0; f < dp->nfunctions; f++)
		if (fns[f].active)
			ops->reset(&fns[f]);
	return dp->status;
}
