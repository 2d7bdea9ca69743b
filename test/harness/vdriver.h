/* Test harness that plays the two parties a device process talks to: the
 * guest driver (split rings and buffers in a real guest-RAM memfd, kicks,
 * interrupts, the used ring) and cellvm-core on the core<->device link
 * (Attach, Activate, Reset, NeedsReset). Runs in test processes only; the
 * device under test is the untrusted party here, so every wait is bounded.
 * Functions returning int give 0 (or a count) or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/launcher.h"
#include "common/gmem.h"
#include "dev-procs/devlib/devproc.h"
#include "dev-procs/devlib/virtq.h"

#define VDRV_ALLOC_START (1ULL << 20) /* the bump allocator starts at 1 MiB */

/* Guest RAM as the launcher makes it: a sealed memfd, mapped here too. */
struct vdrv_mem {
	int fd;
	uint64_t size;
	struct gmem mem;
	uint64_t next; /* bump allocator, low RAM only */
};

int vdrv_mem_create(struct vdrv_mem *m, uint64_t size);
void vdrv_mem_destroy(struct vdrv_mem *m);
/* len bytes of zeroed low RAM aligned to align; aborts when RAM runs out. */
uint64_t vdrv_alloc(struct vdrv_mem *m, uint64_t len, uint64_t align);
/* Host pointer for [gpa, gpa+len); aborts if that is not RAM (a test bug). */
void *vdrv_host(struct vdrv_mem *m, uint64_t gpa, uint64_t len);

/* One buffer of a chain, as the driver describes it. */
struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

/* The driver's side of one split queue. */
struct vdrv_queue {
	struct vdrv_mem *m;
	uint32_t index;
	uint32_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t last_used; /* next used entry to read */
	uint16_t next_desc; /* descriptors are handed out round-robin */
	int kick_fd;	    /* set by vcore_attach_queue() */
};

/* Allocate and zero the rings of a queue of size entries. */
int vdrv_queue_init(struct vdrv_queue *q, struct vdrv_mem *m, uint32_t index, uint32_t size);
/* Write descriptor idx of the ring's table verbatim (hostile tests too). */
void vdrv_desc_set(struct vdrv_queue *q, uint32_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next);
/* Same, in a table at gpa (an indirect table). */
void vdrv_desc_write(struct vdrv_mem *m, uint64_t table, uint32_t idx, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next);
/* Write n buffers as a chain of ring descriptors; returns the head. */
uint16_t vdrv_chain(struct vdrv_queue *q, const struct vdrv_buf *b, uint32_t n);
/* Write n buffers into a new indirect table and one ring descriptor
 * pointing at it; returns the head. */
uint16_t vdrv_chain_indirect(struct vdrv_queue *q, const struct vdrv_buf *b, uint32_t n);
/* Publish head in the avail ring (entry, then index, with a release fence). */
void vdrv_avail_add(struct vdrv_queue *q, uint16_t head);
/* Hostile: write an avail entry or avail->idx verbatim. */
void vdrv_avail_set_entry(struct vdrv_queue *q, uint16_t slot, uint16_t head);
void vdrv_avail_set_idx(struct vdrv_queue *q, uint16_t idx);
void vdrv_avail_set_flags(struct vdrv_queue *q, uint16_t flags);
void vdrv_set_used_event(struct vdrv_queue *q, uint16_t v);
uint16_t vdrv_avail_event(struct vdrv_queue *q);
uint16_t vdrv_used_idx(struct vdrv_queue *q);
/* Signal the queue's kick eventfd. */
int vdrv_kick(struct vdrv_queue *q);
/* Take the next used element: 1 with id/len, 0 when none is there. */
int vdrv_used_next(struct vdrv_queue *q, uint32_t *ret_id, uint32_t *ret_len);
/* Wait (polling the used ring, not the interrupt) up to timeout_ms for an
 * unread used element. Returns 1 or 0 on timeout. */
int vdrv_wait_used(struct vdrv_queue *q, int timeout_ms);

/* ---- the core's side of the link ---- */

struct vcore {
	struct device_proc proc;
	int irq_fd; /* the device writes here to interrupt the guest */
	int shm_fd;
	struct devproc_shared *shared;
	int kick_fd[DEVPROC_MAX_QUEUES];
	uint32_t nkick;
	/* Set before vcore_attach() to hand the device one interrupt eventfd
	 * per queue, as virtio-pci with MSI-X does. */
	bool queue_irqs;
	int qirq_fd[DEVPROC_MAX_QUEUES];
	/* Set before vcore_attach() to hand the device crash-recovery records
	 * (kept across vcore_crash_restart()), as cellvm-core does. */
	bool inflight;
	int inflight_fd;
	struct virtq_inflight *rec; /* DEVPROC_MAX_QUEUES of them */
	/* From DeviceInfo. */
	uint32_t device_id;
	uint64_t features;
	uint8_t config[DEVPROC_CONFIG_MAX];
	size_t config_len;
	uint32_t num_queues;
	uint32_t queue_max_size;
	struct devproc_config_select selects[DEVPROC_MAX_SELECTS]; /* virtio-input's window */
	uint32_t nselects;
	/* Messages seen while waiting for something else. */
	uint32_t needs_reset;
	uint32_t reset_done;
	uint32_t config_updates; /* ConfigUpdate messages; config[] holds the last */
	bool link_closed;
};

/* Start the device (launcher_start_device) over guest RAM m. */
int vcore_start(struct vcore *c, const struct device_config *cfg, struct vdrv_mem *m, char *err,
		size_t errlen);
/* Send Attach with nkicks kick eventfds and take DeviceInfo. */
int vcore_attach(struct vcore *c, uint32_t nkicks);
/* Give q the kick eventfd of its index. */
void vcore_attach_queue(struct vcore *c, struct vdrv_queue *q);
/* Activate with the n queues described by qs. */
int vcore_activate(struct vcore *c, uint64_t features, struct vdrv_queue *const *qs, uint32_t n);
/* Activate with raw queue descriptions (hostile sizes and addresses). */
int vcore_activate_raw(struct vcore *c, uint64_t features, const uint32_t *index,
		       const uint32_t *size, const uint64_t (*addr)[3], uint32_t n);
/* Activate with resume set: the device takes over from the records. */
int vcore_activate_resume(struct vcore *c, uint64_t features, struct vdrv_queue *const *qs,
			  uint32_t n);
/* Crash the device (SIGKILL) and start a new one with cfg over guest RAM m,
 * keeping the crash-recovery records; then vcore_attach() it again. */
int vcore_crash_restart(struct vcore *c, const struct device_config *cfg, struct vdrv_mem *m,
			char *err, size_t errlen);
/* Send Reset and wait for ResetDone. */
int vcore_reset(struct vcore *c, int timeout_ms);
/* Receive one link message within timeout_ms; returns its case, -ETIMEDOUT,
 * -ECONNRESET when the device closed the link, or -EPROTO. */
int vcore_recv(struct vcore *c, int timeout_ms);
/* Whether a NeedsReset arrived (now or earlier) within timeout_ms. */
bool vcore_wait_needs_reset(struct vcore *c, int timeout_ms);
/* Interrupts raised since the last call (the eventfd counter), 0 if none. */
uint64_t vcore_irq_take(struct vcore *c);
/* Interrupts of queue q (queue_irqs mode) since the last call. */
uint64_t vcore_qirq_take(struct vcore *c, uint32_t q);
/* Alive: its pidfd is not readable. */
bool vcore_alive(struct vcore *c);
/* Wait up to timeout_ms for the device to be idle: its main thread asleep in
 * epoll_wait() without a timeout. Seen at any instant, that means nothing it
 * watches is ready (a ready fd would have woken it), so it does not run again
 * until something new happens: it does not spin. True once seen. */
bool vcore_wait_idle(struct vcore *c, int timeout_ms);
/* Wait up to timeout_ms for the device to exit; returns its status (as
 * launcher_stop_device) or -ETIMEDOUT. */
int vcore_wait_exit(struct vcore *c, int timeout_ms);
/* Close the link and reap the device; returns its exit status. */
int vcore_stop(struct vcore *c);
