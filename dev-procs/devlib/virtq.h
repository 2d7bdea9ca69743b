/* Split virtqueue (virtio 1.2, section 2.7) as seen by a device: walking
 * descriptor chains that the guest wrote, and returning used buffers. Every
 * field read from guest RAM is untrusted: each descriptor is copied once,
 * checked (bounds, chain length, loops, indirect rules), and never re-read.
 * Runs in device processes; used by the test harness as well (driver side
 * helpers live in test/). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/gmem.h"
#include "proto/devshm.h" /* VIRTQ_MAX_SIZE, struct virtq_inflight */

#define VIRTQ_MAX_SEGS 1024 /* longest chain accepted, direct or indirect */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29

/* Guest RAM layout of the rings (little-endian, as the spec lays them out). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Bytes of each ring for a queue of size n (event fields included). */
#define VIRTQ_DESC_BYTES(n)  ((uint64_t)(n)*16)
#define VIRTQ_AVAIL_BYTES(n) (6 + (uint64_t)(n)*2)
#define VIRTQ_USED_BYTES(n)  (6 + (uint64_t)(n)*8)

struct virtq {
	const struct gmem *mem;
	uint32_t size; /* power of two, <= VIRTQ_MAX_SIZE */
	uint64_t desc, avail, used;
	bool event_idx;		 /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t last_avail;	 /* next avail entry to consume */
	uint16_t avail_seen;	 /* avail->idx as last read: it never moves back */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool signalled_valid;
	bool broken;			 /* a driver error was seen: NEEDS_RESET */
	struct virtq_inflight *inflight; /* crash-recovery record, or NULL */
	/* Host views of the rings, checked once by virtq_init(). */
	uint8_t *desc_host, *avail_host, *used_host;
};

/* One buffer segment of a chain, host view already bounds-checked. */
struct virtq_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;    /* device-writable */
	uint8_t *host; /* gmem_ptr(gpa, len) */
};

/* Zero-length descriptors count against the chain length but leave no
 * segment. */
struct virtq_chain {
	uint16_t head;
	uint32_t nseg;
	uint32_t nread; /* leading device-readable segments */
	uint64_t read_len, write_len;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

/* Set up a queue after checking the ring addresses and size (power of two,
 * 1..VIRTQ_MAX_SIZE, rings inside RAM and aligned: desc 16, avail 2, used 4).
 * Returns 0 or -EINVAL. */
int virtq_init(struct virtq *vq, const struct gmem *mem, uint32_t size, uint64_t desc,
	       uint64_t avail, uint64_t used, bool event_idx, bool indirect);

/* Keep the crash-recovery record in rec from now on (a fresh queue: the
 * record is cleared). */
void virtq_track(struct virtq *vq, struct virtq_inflight *rec);

/* Take over a queue that a crashed predecessor ran, from its record rec:
 * continue at its avail position, forget the heads the guest can already see
 * as used, and list the heads still in flight (at most max) in heads, to be
 * walked with virtq_chain_at() and served again. A record its predecessor
 * never started is a fresh queue (nothing listed). Returns their count, or
 * -EINVAL when the record or the used ring do not add up (the queue is then
 * broken). */
int virtq_resume(struct virtq *vq, struct virtq_inflight *rec, uint16_t *heads, uint32_t max);

/* Walk the chain at head (a head virtq_resume() listed). Returns 0 or
 * -EINVAL (the queue is then broken). */
int virtq_chain_at(struct virtq *vq, uint16_t head, struct virtq_chain *ret);

/* Take the next available chain. Returns 1 with *ret filled, 0 when the ring
 * is empty, -EINVAL for a driver error (the queue is marked broken; the
 * caller asks for a reset). Readable segments must all precede writable ones. */
int virtq_pop(struct virtq *vq, struct virtq_chain *ret);

/* Return a chain to the driver with the number of bytes written. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* After pushes: whether the driver wants an interrupt now (EVENT_IDX's
 * used_event, or !VRING_AVAIL_F_NO_INTERRUPT). Updates the signalled mark. */
bool virtq_should_notify(struct virtq *vq);

/* With EVENT_IDX: publish avail_event so the driver kicks for the next entry;
 * then the caller re-checks for work (returns true if more is available). */
bool virtq_enable_kicks(struct virtq *vq);

/* Copy [off, off + len) of c's device-readable part into buf. Returns
 * false, copying nothing, when the readable part is shorter. */
bool virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf, uint64_t len);
/* Copy len bytes of resp into c's device-writable part, as much as it
 * holds; returns the bytes written. */
uint32_t virtq_chain_write(const struct virtq_chain *c, const void *resp, uint32_t len);
