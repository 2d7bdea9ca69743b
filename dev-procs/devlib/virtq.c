/* Split virtqueue, device side; see virtq.h. Runs in every device process
 * (and in tests and fuzzers in-process). The rings live in guest RAM and the
 * guest may rewrite them at any moment: every index, descriptor and event
 * field read here is untrusted, read once into a private copy, and checked
 * before it is used to reach memory. */
#include "dev-procs/devlib/virtq.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* Offsets inside the rings (virtio 1.2, 2.7.6 and 2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4

static inline uint16_t vq_load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED));
}

static inline void vq_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static inline void vq_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

static inline uint8_t *vq_used_event_ptr(const struct virtq *vq)
{
	/* used_event trails the avail ring; avail_event trails the used ring. */
	return vq->avail_host + AVAIL_RING + 2 * (uint64_t)vq->size;
}

static inline uint8_t *vq_avail_event_ptr(const struct virtq *vq)
{
	return vq->used_host + USED_RING + 8 * (uint64_t)vq->size;
}

int virtq_init(struct virtq *vq, const struct gmem *mem, uint32_t size, uint64_t desc,
	       uint64_t avail, uint64_t used, bool event_idx, bool indirect)
{
	uint8_t *d, *a, *u;

	/* UNTRUSTED(guest): size and the ring addresses are the driver's. */
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -EINVAL;
	d = gmem_ptr(mem, desc, VIRTQ_DESC_BYTES(size));
	a = gmem_ptr(mem, avail, VIRTQ_AVAIL_BYTES(size));
	u = gmem_ptr(mem, used, VIRTQ_USED_BYTES(size));
	if (!d || !a || !u)
		return -EINVAL;
	*vq = (struct virtq){
		.mem = mem,
		.size = size,
		.desc = desc,
		.avail = avail,
		.used = used,
		.event_idx = event_idx,
		.indirect = indirect,
		.desc_host = d,
		.avail_host = a,
		.used_host = u,
	};
	return 0;
}

/* Copy one descriptor out of guest RAM. The barrier keeps the compiler from
 * folding later uses of the copy back into re-reads of guest memory, which the
 * guest may have changed in between. */
static void virtq_read_desc(const uint8_t *p, struct virtq_desc *d)
{
	memcpy(d, p, sizeof(*d));
	__asm__ volatile("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Switch the walk to an indirect table. Returns 0 or -EINVAL. */
static int virtq_enter_indirect(const struct virtq *vq, const struct virtq_desc *d,
				const uint8_t **table, uint32_t *table_n)
{
	/* UNTRUSTED(guest): the table's address and length. One level only, no
	 * NEXT beside it, a whole number of descriptors, never more than the
	 * queue holds (a chain is never longer than the queue size). */
	if (!vq->indirect || (d->flags & VIRTQ_DESC_F_NEXT))
		return -EINVAL;
	if (d->len == 0 || d->len % sizeof(struct virtq_desc) ||
	    d->len / sizeof(struct virtq_desc) > vq->size)
		return -EINVAL;
	*table = gmem_ptr(vq->mem, d->addr, d->len);
	if (!*table)
		return -EINVAL;
	*table_n = d->len / sizeof(struct virtq_desc);
	return 0;
}

/* Walk the chain at head into c. Each descriptor is read once; at most
 * min(size, VIRTQ_MAX_SEGS) buffer descriptors are visited, so a cycle ends
 * the walk instead of looping. Returns 0 or -EINVAL. */
static int virtq_walk(const struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const uint32_t max = vq->size < VIRTQ_MAX_SEGS ? vq->size : VIRTQ_MAX_SEGS;
	const uint8_t *table = vq->desc_host;
	uint32_t table_n = vq->size, count = 0, idx = head;
	bool in_indirect = false, seen_write = false;
	struct virtq_desc d;

	c->head = head;
	c->nseg = c->nread = 0;
	c->read_len = c->write_len = 0;
	for (;;) {
		/* UNTRUSTED(guest): idx is the avail ring's head or a next field;
		 * checked before it selects any memory. */
		if (idx >= table_n)
			return -EINVAL;
		virtq_read_desc(table + (uint64_t)idx * sizeof(d), &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect || virtq_enter_indirect(vq, &d, &table, &table_n) < 0)
				return -EINVAL;
			in_indirect = true;
			idx = 0;
			continue;
		}
		if (++count > max)
			return -EINVAL;
		/* Zero-length descriptors carry nothing: counted, not kept. */
		if (d.len) {
			struct virtq_seg *s = &c->seg[c->nseg];
			bool w = d.flags & VIRTQ_DESC_F_WRITE;

			/* UNTRUSTED(guest): addr and len, checked for overflow,
			 * the hole and the end of RAM by gmem_ptr. */
			s->host = gmem_ptr(vq->mem, d.addr, d.len);
			if (!s->host)
				return -EINVAL;
			/* The device never writes into a buffer that comes before
			 * the ones it reads: readable first, then writable. */
			if (!w && seen_write)
				return -EINVAL;
			seen_write |= w;
			s->gpa = d.addr;
			s->len = d.len;
			s->write = w;
			if (w) {
				c->write_len += d.len;
			} else {
				c->read_len += d.len;
				c->nread++;
			}
			c->nseg++;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *ret)
{
	uint16_t avail_idx, pending, head;

	if (vq->broken)
		return -EINVAL;
	/* Acquire: the ring entries below were written before the index. */
	avail_idx = le16toh(__atomic_load_n(
		(const uint16_t *)(const void *)(vq->avail_host + AVAIL_IDX), __ATOMIC_ACQUIRE));
	/* UNTRUSTED(guest): avail->idx. It only moves forward, and never by more
	 * than the ring holds; anything else is a driver error. */
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending > vq->size || pending < (uint16_t)(vq->avail_seen - vq->last_avail)) {
		vq->broken = true;
		return -EINVAL;
	}
	vq->avail_seen = avail_idx;
	if (pending == 0)
		return 0;
	head = vq_load16(vq->avail_host + AVAIL_RING + 2 * (vq->last_avail & (vq->size - 1)));
	if (virtq_walk(vq, head, ret) < 0) {
		vq->broken = true;
		return -EINVAL;
	}
	vq->last_avail++;
	if (vq->inflight) {
		/* The head is marked before the position moves past it: a
		 * successor never loses a request it cannot see. */
		__atomic_fetch_or(&vq->inflight->bits[head / 64], 1ULL << (head % 64),
				  __ATOMIC_RELEASE);
		__atomic_store_n(&vq->inflight->last_avail, vq->last_avail, __ATOMIC_RELEASE);
	}
	return 1;
}

void virtq_track(struct virtq *vq, struct virtq_inflight *rec)
{
	vq->inflight = rec;
	if (!rec)
		return;
	memset(rec->bits, 0, sizeof(rec->bits));
	rec->last_avail = vq->last_avail;
	rec->used_idx = vq->used_idx;
	__atomic_store_n(&rec->started, 1, __ATOMIC_RELEASE);
}

int virtq_chain_at(struct virtq *vq, uint16_t head, struct virtq_chain *ret)
{
	if (head >= vq->size || virtq_walk(vq, head, ret) < 0) {
		vq->broken = true;
		return -EINVAL;
	}
	return 0;
}

int virtq_resume(struct virtq *vq, struct virtq_inflight *rec, uint16_t *heads, uint32_t max)
{
	uint16_t used, done, taken;
	uint32_t n = 0;

	/* UNTRUSTED(device, guest): the record was written by the crashed
	 * process, the used ring lives in guest RAM. */
	if (!__atomic_load_n(&rec->started, __ATOMIC_ACQUIRE)) {
		/* The predecessor died before it started this activation's
		 * queue: nothing was taken, start afresh. */
		virtq_track(vq, rec);
		return 0;
	}
	used = vq_load16(vq->used_host + USED_IDX);
	done = (uint16_t)(used - rec->used_idx);
	taken = (uint16_t)(rec->last_avail - used);
	if (done > vq->size || taken > vq->size) {
		vq->broken = true;
		return -EINVAL;
	}
	/* Entries the predecessor published after its last record update are
	 * complete: their heads are no longer in flight. */
	for (uint16_t i = rec->used_idx; i != used; i++) {
		uint32_t id;
		memcpy(&id, vq->used_host + USED_RING + 8 * (uint64_t)(i & (vq->size - 1)), 4);
		id = le32toh(id);
		if (id < vq->size)
			rec->bits[id / 64] &= ~(1ULL << (id % 64));
	}
	rec->used_idx = used;
	vq->used_idx = used;
	vq->signalled_used = used;
	vq->signalled_valid = false;
	vq->last_avail = vq->avail_seen = rec->last_avail;
	vq->inflight = rec;
	for (uint32_t h = 0; h < vq->size; h++) {
		if (!(rec->bits[h / 64] & (1ULL << (h % 64))))
			continue;
		if (n == max || n == taken) {
			vq->broken = true;
			return -EINVAL;
		}
		heads[n++] = (uint16_t)h;
	}
	return (int)n;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	uint8_t *e = vq->used_host + USED_RING + 8 * (uint64_t)(vq->used_idx & (vq->size - 1));

	vq_store32(e, head);
	vq_store32(e + 4, written);
	vq->used_idx++;
	/* Release: the element (and the data and status written before this
	 * call) is visible before the index that hands it to the driver. */
	vq_store16(vq->used_host + USED_IDX, vq->used_idx, __ATOMIC_RELEASE);
	if (vq->inflight && head < vq->size) {
		/* After publishing: a successor that finds the head still marked
		 * sees it in the used ring past the recorded index. */
		__atomic_fetch_and(&vq->inflight->bits[head / 64], ~(1ULL << (head % 64)),
				   __ATOMIC_RELEASE);
		__atomic_store_n(&vq->inflight->used_idx, vq->used_idx, __ATOMIC_RELEASE);
	}
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, event;
	bool valid = vq->signalled_valid;

	/* Our used->idx store must be visible before we read the driver's
	 * suppression fields; otherwise each side can miss the other's update. */
	atomic_thread_fence(memory_order_seq_cst);
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (valid && old == new)
		return false;
	if (!vq->event_idx)
		return !(vq_load16(vq->avail_host + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* UNTRUSTED(guest): used_event; vring_need_event() in modular 16-bit
	 * arithmetic, so the wrap from 0xffff to 0 needs no special case. */
	event = vq_load16(vq_used_event_ptr(vq));
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

bool virtq_enable_kicks(struct virtq *vq)
{
	if (vq->broken)
		return false;
	if (vq->event_idx)
		vq_store16(vq_avail_event_ptr(vq), vq->last_avail, __ATOMIC_RELAXED);
	else
		vq_store16(vq->used_host + USED_FLAGS, 0, __ATOMIC_RELAXED);
	/* Publish before re-reading avail->idx, or a kick the driver skipped
	 * because of the old value is lost. */
	atomic_thread_fence(memory_order_seq_cst);
	return vq_load16(vq->avail_host + AVAIL_IDX) != vq->last_avail;
}

bool virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf, uint64_t len)
{
	uint8_t *dst = buf;
	uint64_t base = 0;

	if (off > c->read_len || len > c->read_len - off)
		return false;
	for (uint32_t i = 0; i < c->nread && len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		uint64_t in, n;

		if (base + s->len <= off) {
			base += s->len;
			continue;
		}
		in = off - base;
		n = s->len - in < len ? s->len - in : len;
		memcpy(dst, s->host + in, n);
		dst += n;
		off += n;
		len -= n;
		base += s->len;
	}
	return len == 0;
}

uint32_t virtq_chain_write(const struct virtq_chain *c, const void *resp, uint32_t len)
{
	const uint8_t *src = resp;
	uint32_t off = 0;

	for (uint32_t i = c->nread; i < c->nseg && off < len; i++) {
		uint32_t n = c->seg[i].len < len - off ? c->seg[i].len : len - off;

		memcpy(c->seg[i].host, src + off, n);
		off += n;
	}
	return off;
}
