/* The frame every device process (cellvm-dev-KIND) shares: its two channels
 * (control to the launcher on fd 3, link to the core), guest RAM, the
 * interrupt, the shared transport page, and one epoll loop. A device kind
 * supplies struct devproc_ops; main.c is then one call to devproc_main().
 * Messages on both channels are untrusted: a violation makes the process exit. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/gmem.h"
#include "dev-procs/devlib/virtq.h"
#include "device.pb-c.h"
#include "proto/devshm.h" /* the transport page, in-flight records, counters page */
#include "proto/dispatch.h"
#include "sandbox/sandbox.h"

#define DEVPROC_CHANNEL_FD   3
#define DEVPROC_MAX_BACKENDS 8
#define DEVPROC_MAX_WATCHES  64

/* DeviceSetup.test_flags (honoured only in builds with CELLVM_TEST_HOOKS):
 * once attached to the core, attempt a forbidden syscall so tests can see
 * SIGSYS while the VM goes on. */
#define DEVPROC_TEST_TRY_OPEN	(1U << 0)
#define DEVPROC_TEST_TRY_EXECVE (1U << 1)
#define DEVPROC_TEST_TRY_SOCKET (1U << 2)

struct devproc_queue {
	uint32_t index;
	uint32_t size;
	uint64_t desc, avail, used;
	int kick_fd;			 /* KVM ioeventfd on this queue's notify */
	int irq_fd;			 /* the queue's own interrupt (virtio-pci MSI-X), or -1 */
	struct virtq_inflight *inflight; /* crash-recovery record, or NULL */
	bool enabled;
};

/* What the device offers; filled by ops->setup. */
struct devproc_info {
	uint32_t device_id; /* virtio device id: 2 block, 1 net, ... */
	uint64_t features;  /* offered, including VIRTIO_F_VERSION_1 */
	uint8_t config[DEVPROC_CONFIG_MAX];
	size_t config_len;
	uint32_t num_queues;
	uint32_t queue_max_size;
	/* A configuration window the driver selects (virtio-input), or none. */
	struct devproc_config_select selects[DEVPROC_MAX_SELECTS];
	size_t nselects;
};

struct devproc;

/* An fd the loop watches (devproc_watch), for the function that asked. */
struct devproc_watch {
	struct devproc *dp;
	int fd;
	void (*cb)(struct devproc *dp, void *arg);
	void *arg;
};

struct devproc_ops {
	const char *kind; /* "blk": also names the sandbox policy */
	/* Before the sandbox. Check the setup; take ownership of the backend
	 * fds (e.g. the disk image); fill *info. Returns 0 or -errno (the
	 * process then exits with a message). */
	int (*setup)(struct devproc *dp, const Cellvm__Device__DeviceSetup *setup, int *backend_fds,
		     size_t nbackend, struct devproc_info *info);
	/* Inside the sandbox, before Ready: e.g. create and restrict io_uring,
	 * register fds with devproc_watch(). May be NULL. */
	int (*sandboxed)(struct devproc *dp);
	/* The driver set DRIVER_OK: dp->queues[] and dp->features are valid.
	 * With dp->resume, this process replaces a crashed one: set the queues
	 * up without starting them afresh (resume follows). Returns 0, or
	 * -errno to refuse (the device then needs a reset). */
	int (*activate)(struct devproc *dp);
	/* After activate with dp->resume: take over each queue from its
	 * crash-recovery record (virtq_resume) and serve again the requests
	 * the predecessor left in flight. NULL: the device cannot, and asks for
	 * a reset instead. */
	int (*resume)(struct devproc *dp);
	/* The queue's kick eventfd fired (already drained). */
	void (*kick)(struct devproc *dp, struct devproc_queue *q);
	/* The driver reset the device: stop the queues, complete or fail the
	 * requests in flight; return only when no guest memory will be touched. */
	void (*reset)(struct devproc *dp);
	/* This process's counts so far (the frame adds a predecessor's and
	 * publishes them after each round of events). May be NULL. */
	void (*stats)(struct devproc *dp, struct devproc_stats *out);
	/* Extra fds the sandbox must keep open (beyond backends), or NULL. */
	size_t (*keep_fds)(struct devproc *dp, int *fds, size_t max);
	/* The limits the sandbox sets beyond the defaults (sandbox.h: threads,
	 * file size), or NULL: one task, no file-size limit. */
	void (*limits)(struct devproc *dp, struct sandbox_opts *opts);
	/* An InputCommand on the control channel (called on the first
	 * function); the model answers with devproc_send_ctl. NULL: the kind
	 * takes none, and one is a protocol violation. Returns 0, or -EPROTO
	 * for a command that breaks the protocol (the process exits). */
	int (*command)(struct devproc *dp, const Cellvm__Device__InputCommand *cmd);
	/* A capture reader comes with its eventfd (the model takes efd, closing
	 * it when it refuses) or goes (CaptureSubscribe / CaptureUnsubscribe,
	 * on the first function). NULL: the kind takes none, and one is a
	 * protocol violation. Return 0, or -EPROTO (the process exits). */
	int (*subscribe)(struct devproc *dp, uint64_t id, int efd);
	int (*unsubscribe)(struct devproc *dp, uint64_t id);
	/* Sound for the guest's capture streams arrives (AudioSource, on the
	 * first function): fd, the read end of a WAV stream, is the model's
	 * (it closes it when done). NULL: the kind takes none, and one is a
	 * protocol violation. Return 0, or -EPROTO (the process exits). */
	int (*audio_source)(struct devproc *dp, uint64_t id, int fd);
};

/* Functions of one process: DeviceSetup.extra_links more links to the
 * core, each one virtio device with its own struct devproc. ops->setup is
 * called for each, in link order (dp->index), and gets the backends only
 * for the first. */
#define DEVPROC_MAX_FUNCTIONS 8

struct devproc {
	const struct devproc_ops *ops;
	void *priv;	      /* the device model's context */
	struct devproc *host; /* the first function: the process-wide state below */
	uint32_t index;	      /* this function's link, 0 first */
	uint32_t nfunctions;  /* in the host: how many */
	struct gmem mem;
	int mem_fd;
	int ctl_fd;  /* launcher channel */
	int link_fd; /* core link */
	int irq_fd;  /* KVM irqfd: every interrupt (mmio), config changes (pci) */
	int epfd;
	struct devproc_shared *shared;
	struct devproc_info info;
	struct devproc_queue queues[DEVPROC_MAX_QUEUES];
	uint32_t num_queues;
	uint64_t features; /* negotiated */
	bool active;
	bool needs_reset;
	bool resume;			 /* this activation takes over from a crashed process */
	struct virtq_inflight *inflight; /* DEVPROC_MAX_QUEUES records, or NULL */
	uint32_t test_flags;
	int backend_fds[DEVPROC_MAX_BACKENDS];
	size_t nbackend;
	struct devproc_stats *stats;	 /* the launcher's counters page, or NULL */
	struct devproc_stats stats_base; /* what predecessors counted */
	/* the loop (the host's) */
	struct devproc_watch watches[DEVPROC_MAX_WATCHES];
	struct dispatch ctl_proto;  /* where the launcher is in the control protocol */
	struct dispatch link_proto; /* where the core is in the link protocol */
	bool quit;
	int status; /* the exit status once quit */
};

/* Run the device process: receive setup, enter the sandbox, serve the core.
 * Returns the process exit status. */
int devproc_main(const struct devproc_ops *ops, void *priv);

/* Tell the guest that q has used buffers (ISR bit 0 + the queue's interrupt,
 * or the device's when the queue has none of its own). */
void devproc_notify(struct devproc *dp, const struct devproc_queue *q);

/* The eventfds of a ring's readers (the gpu's frame ring, the snd's audio
 * ring): those the setup handed over with the ring (id 0) and those that
 * came with CaptureSubscribe (their ids, at most DEVPROC_MAX_READERS live).
 * The ring's writer is given fds and a pointer to n. */
#define DEVPROC_MAX_READERS 16
struct devproc_readers {
	int fds[DEVPROC_MAX_BACKENDS + DEVPROC_MAX_READERS];
	uint64_t ids[DEVPROC_MAX_BACKENDS + DEVPROC_MAX_READERS];
	size_t n;
};

/* The setup's eventfd efd (no id). Returns 0, or -E2BIG past the backends. */
int devproc_readers_setup(struct devproc_readers *r, int efd);
/* Reader id (not 0) comes with efd, which is taken. UNTRUSTED(launcher): a
 * repeated id, one past DEVPROC_MAX_READERS, or one without a ring (!ring)
 * is refused: efd closed and a line logged naming what ("capture reader").
 * The device goes on either way. */
void devproc_readers_add(struct devproc_readers *r, uint64_t id, int efd, bool ring,
			 const char *what);
/* Reader id goes: its eventfd closed (an unknown id logged). */
void devproc_readers_remove(struct devproc_readers *r, uint64_t id, const char *what);

/* At activation, for a VERSION_1 device whose n queues (dp->num_queues at
 * least n) each have a struct virtq in vq[] and a flag in live[]: set up
 * every queue the driver enabled (UNTRUSTED(guest): its size, at most
 * max_size, and its addresses, checked by virtq_init), tracked in its
 * crash-recovery record unless dp->resume. live[i] says which are. Returns
 * 0, or -EINVAL (a legacy driver, too few queues, a bad ring: then none is
 * live). */
int devproc_queues_init(struct devproc *dp, struct virtq *vq, bool *live, uint32_t n,
			uint32_t max_size);

/* Serve queue q through its ring vq: pop each available chain into *chain
 * and hand it to serve(ctx, q's index, chain, &used), which either answers
 * it now (returns true: it is pushed with used bytes written) or keeps it
 * to answer later (returns false). At most one ring's worth per call, then
 * the rest comes back through q's kick eventfd, so a guest that keeps
 * posting cannot hold the loop. A broken ring (bad chain or available
 * index) ends in devproc_needs_reset. Returns whether a chain was pushed
 * (the caller decides when to notify). */
bool devproc_queue_serve(struct devproc *dp, struct devproc_queue *q, struct virtq *vq,
			 struct virtq_chain *chain,
			 bool (*serve)(void *ctx, uint32_t qi, const struct virtq_chain *c,
				       uint32_t *used),
			 void *ctx);

/* The device-specific configuration changed: send it to the core, which
 * raises a configuration-change interrupt. len must be info.config_len. */
int devproc_config_update(struct devproc *dp, const void *config, size_t len);

/* Bad guest input: stop processing, tell the core (which sets
 * DEVICE_NEEDS_RESET and raises a configuration interrupt), log once per
 * reset cycle. */
void devproc_needs_reset(struct devproc *dp, const char *reason);

/* Function i of dp's process (0..nfunctions), or NULL. */
struct devproc *devproc_function(struct devproc *dp, uint32_t i);

/* Send on the control channel (an InputReply). Returns 0 or -errno. */
int devproc_send_ctl(struct devproc *dp, Cellvm__Device__ControlMessage *m);

/* Ask the loop to end with status (the process then exits). */
void devproc_quit(struct devproc *dp, int status);

/* Call cb(dp, arg) whenever fd is readable. Returns 0 or -errno. */
int devproc_watch(struct devproc *dp, int fd, void (*cb)(struct devproc *dp, void *arg), void *arg);
int devproc_unwatch(struct devproc *dp, int fd);
