/* The audio capture ring: the layout of the memfd in which cellvm-dev-snd
 * publishes what a VM plays, one period at a time, for any number of
 * readers that map it read-only (the broker's WAV stream, cellctl
 * record-audio, third-party capture clients). This header is the whole
 * contract: a reader needs nothing else (C11). It follows the frame ring
 * (capture_ring.h): same seqlocks, same eventfds, same clock. Little-endian,
 * fixed-width fields, offsets in bytes from the start of the mapping.
 *
 *   [header: struct cellvm_audio_header, 4 KiB, at 0]
 *   [nperiods slots, slot_size bytes each, from header.slots_offset:
 *    struct cellvm_audio_period (64 bytes), then up to period_bytes of
 *    PCM, interleaved frames, at CELLVM_AUDIO_DATA_OFFSET from the slot's
 *    start]
 *
 * Every playback stream of the VM writes into the one ring; a period names
 * its stream, format, rate and channels, so a reader follows one stream and
 * sees its parameters change. The writer fills slot (serial % nperiods)
 * under the slot's seqlock (seq is 2 * serial - 1, odd, while writing, then
 * 2 * serial), then stores the serial in header.period_serial (release),
 * and once the periods of a buffer the guest played are in, writes 1 to
 * every subscriber's eventfd. A reader takes
 * header.period_serial (acquire), copies the slot of each serial it has not
 * seen, and keeps a copy only when the slot's seq was 2 * serial before and
 * after it. The writer never waits for a reader: a reader that falls more
 * than nperiods behind has lost the periods in between (it sees serials
 * skip) and goes on from the oldest one still in the ring.
 *
 * Time: a period's timestamp_ns is CLOCK_MONOTONIC at the moment the
 * device played the period's first frame (its place on the stream's real
 * time line, not when the reader got it), the clock of the frame ring's
 * timestamp_ns: a reader lines sound up with frames by these two numbers.
 * position counts the stream's frames before this period since the
 * stream's START; CELLVM_AUDIO_DISCONT marks the first period after a
 * START (the guest stopped, or underran and restarted).
 *
 * UNTRUSTED(snd process): to a reader, everything in the ring comes from a
 * sandboxed process that runs guest-driven code. The helpers below check
 * every size and offset against the mapping's size on each call and copy
 * only from inside the mapping. A reader that cannot rule out the memfd
 * shrinking checks it carries F_SEAL_SHRINK. A changed header.created_ns
 * (or magic) means the snd process restarted and serials start again. */
#pragma once
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CELLVM_AUDIO_MAGIC	 0x44554156u /* "VAUD" */
#define CELLVM_AUDIO_VERSION	 1
#define CELLVM_AUDIO_HEADER_SIZE 4096
#define CELLVM_AUDIO_DATA_OFFSET 64 /* a period's PCM, from its slot's start */
/* Limits the writer keeps and a reader enforces. */
#define CELLVM_AUDIO_MAX_PERIODS      4096
#define CELLVM_AUDIO_MAX_PERIOD_BYTES (1u << 20)
#define CELLVM_AUDIO_MAX_CHANNELS     8
#define CELLVM_AUDIO_MIN_RATE	      8000
#define CELLVM_AUDIO_MAX_RATE	      192000

/* Sample formats, the virtio-snd numbering (VIRTIO_SND_PCM_FMT_*): the
 * ones cellvm-dev-snd offers. Little-endian, interleaved. */
enum cellvm_audio_format {
	CELLVM_AUDIO_S16 = 5,	/* int16_t */
	CELLVM_AUDIO_S24 = 15,	/* 24 bits in the low bytes of an int32_t, sign-extended */
	CELLVM_AUDIO_S32 = 17,	/* int32_t */
	CELLVM_AUDIO_FLOAT = 19 /* IEEE 754 float, -1.0 .. 1.0 */
};

/* period.flags */
#define CELLVM_AUDIO_DISCONT 1u /* the first period after the stream's START */

/* At offset 0. Written once when the ring is (re)initialised, magic last;
 * then only period_serial changes. */
struct cellvm_audio_header {
	uint32_t magic;	       /* CELLVM_AUDIO_MAGIC */
	uint32_t version;      /* CELLVM_AUDIO_VERSION */
	uint32_t header_size;  /* CELLVM_AUDIO_HEADER_SIZE */
	uint32_t nperiods;     /* 2..CELLVM_AUDIO_MAX_PERIODS slots */
	uint64_t slot_size;    /* bytes per slot, a multiple of 64 */
	uint64_t slots_offset; /* slot 0, from the mapping's start; 4096-aligned */
	uint32_t period_bytes; /* the most PCM a slot holds, <= slot_size - 64 */
	uint32_t nstreams;     /* the VM's playback streams (stream ids 0..nstreams-1) */
	/* The latest published period's serial, 0 before the first. Written
	 * with release semantics after the slot's seq: read it with acquire. */
	uint64_t period_serial;
	uint64_t created_ns; /* CLOCK_MONOTONIC when the ring was initialised */
	uint8_t reserved[CELLVM_AUDIO_HEADER_SIZE - 56]; /* zero */
};

/* A slot's metadata; the PCM follows at CELLVM_AUDIO_DATA_OFFSET. */
struct cellvm_audio_period {
	uint64_t seq;	       /* seqlock: odd while written, else 2 * serial */
	uint64_t serial;       /* the period's serial (ring-wide, from 1) */
	uint64_t timestamp_ns; /* CLOCK_MONOTONIC when its first frame played */
	uint64_t position;     /* the stream's frames before this one since START */
	uint32_t stream;       /* the virtio-snd stream id (a playback stream) */
	uint32_t format;       /* enum cellvm_audio_format */
	uint32_t rate;	       /* frames per second */
	uint32_t channels;     /* 1..CELLVM_AUDIO_MAX_CHANNELS */
	uint32_t bytes;	       /* PCM bytes, whole frames, <= header.period_bytes */
	uint32_t flags;	       /* CELLVM_AUDIO_DISCONT */
	uint32_t reserved[2];  /* zero */
};

_Static_assert(sizeof(struct cellvm_audio_header) == CELLVM_AUDIO_HEADER_SIZE,
	       "audio header is 4 KiB");
_Static_assert(offsetof(struct cellvm_audio_header, period_bytes) == 32, "audio header layout");
_Static_assert(offsetof(struct cellvm_audio_header, period_serial) == 40, "audio header layout");
_Static_assert(offsetof(struct cellvm_audio_header, created_ns) == 48, "audio header layout");
_Static_assert(sizeof(struct cellvm_audio_period) == CELLVM_AUDIO_DATA_OFFSET,
	       "audio period is 64 bytes");
_Static_assert(offsetof(struct cellvm_audio_period, stream) == 32, "audio period layout");

/* Bytes per sample of a format, 0 for one the ring does not carry. */
static inline uint32_t cellvm_audio_sample_bytes(uint32_t format)
{
	switch (format) {
	case CELLVM_AUDIO_S16: return 2;
	case CELLVM_AUDIO_S24:
	case CELLVM_AUDIO_S32:
	case CELLVM_AUDIO_FLOAT: return 4;
	default: return 0;
	}
}

/* The ring's size for nperiods periods of period_bytes (the writer's, and
 * what a reader can expect the memfd to hold at least). */
static inline uint64_t cellvm_audio_ring_bytes(uint32_t nperiods, uint32_t period_bytes)
{
	uint64_t slot = ((uint64_t)period_bytes + CELLVM_AUDIO_DATA_OFFSET + 63) & ~63ULL;

	return (((uint64_t)CELLVM_AUDIO_HEADER_SIZE + slot * nperiods) + 4095) & ~4095ULL;
}

/* The geometry a reader validated, read once from the header per call. */
struct cellvm_audio_geometry {
	uint64_t slot_size, slots_offset;
	uint32_t nperiods, period_bytes, nstreams;
};

static inline uint32_t cellvm_audio_load32(const uint32_t *p)
{
	return atomic_load_explicit((const _Atomic uint32_t *)p, memory_order_relaxed);
}

static inline uint64_t cellvm_audio_load64(const uint64_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p, mo);
}

/* Read and check the header of map (size bytes, page-aligned). Returns 0,
 * -EPROTO (not a ring, or another version), -EBADMSG (a geometry that does
 * not fit the mapping) or -EINVAL (bad arguments). */
static inline int cellvm_audio_geometry_get(const void *map, size_t size,
					    struct cellvm_audio_geometry *ret)
{
	const struct cellvm_audio_header *h = map;
	uint64_t room;

	if (!map || ((uintptr_t)map & 7) || size < sizeof(*h))
		return -EINVAL;
	if (atomic_load_explicit((const _Atomic uint32_t *)&h->magic, memory_order_acquire) !=
		    CELLVM_AUDIO_MAGIC ||
	    cellvm_audio_load32(&h->version) != CELLVM_AUDIO_VERSION ||
	    cellvm_audio_load32(&h->header_size) != CELLVM_AUDIO_HEADER_SIZE)
		return -EPROTO;
	ret->nperiods = cellvm_audio_load32(&h->nperiods);
	ret->period_bytes = cellvm_audio_load32(&h->period_bytes);
	ret->nstreams = cellvm_audio_load32(&h->nstreams);
	ret->slot_size = cellvm_audio_load64(&h->slot_size, memory_order_relaxed);
	ret->slots_offset = cellvm_audio_load64(&h->slots_offset, memory_order_relaxed);

	/* UNTRUSTED(snd process): every number is checked against the
	 * mapping's size before it addresses anything. */
	if (ret->nperiods < 2 || ret->nperiods > CELLVM_AUDIO_MAX_PERIODS ||
	    ret->period_bytes < 1 || ret->period_bytes > CELLVM_AUDIO_MAX_PERIOD_BYTES)
		return -EBADMSG;
	if ((ret->slot_size & 63) ||
	    ret->slot_size < (uint64_t)ret->period_bytes + CELLVM_AUDIO_DATA_OFFSET)
		return -EBADMSG;
	if (ret->slots_offset < CELLVM_AUDIO_HEADER_SIZE || (ret->slots_offset & 63) ||
	    ret->slots_offset > size)
		return -EBADMSG;
	room = size - ret->slots_offset;
	if (ret->slot_size > room || room / ret->slot_size < ret->nperiods)
		return -EBADMSG;
	return 0;
}

/* The latest published serial (0: none yet), or 0 for a bad ring. */
static inline uint64_t cellvm_audio_latest(const void *map, size_t size)
{
	const struct cellvm_audio_header *h = map;

	if (!map || size < sizeof(*h))
		return 0;
	return cellvm_audio_load64(&h->period_serial, memory_order_acquire);
}

/* Copy period serial (1..latest) out of the ring: its metadata into *meta
 * and its PCM into buf (cap bytes, at least the ring's period_bytes for
 * any period to fit). Returns the PCM byte count, or -ENOENT (not
 * published yet, or already overwritten: the serial is not in its slot),
 * -EAGAIN (overwritten while copying: the period is lost), -ENOSPC (buf
 * too small for this period), -EBADMSG (a period whose fields do not fit)
 * or the geometry's errors. Only what the checks passed is copied. */
static inline long cellvm_audio_read(const void *map, size_t size, uint64_t serial,
				     struct cellvm_audio_period *meta, void *buf, size_t cap)
{
	struct cellvm_audio_geometry g;
	const struct cellvm_audio_period *p;
	const uint8_t *slot;
	uint64_t seq0, seq1;
	uint32_t bytes, ch, fmt, rate, sb;
	int r;

	r = cellvm_audio_geometry_get(map, size, &g);
	if (r < 0)
		return r;
	if (serial == 0)
		return -ENOENT;
	slot = (const uint8_t *)map + g.slots_offset + (serial % g.nperiods) * g.slot_size;
	p = (const struct cellvm_audio_period *)slot;
	seq0 = cellvm_audio_load64(&p->seq, memory_order_acquire);
	if (seq0 != 2 * serial)
		return -ENOENT;
	bytes = cellvm_audio_load32(&p->bytes);
	ch = cellvm_audio_load32(&p->channels);
	fmt = cellvm_audio_load32(&p->format);
	rate = cellvm_audio_load32(&p->rate);
	sb = cellvm_audio_sample_bytes(fmt);
	/* UNTRUSTED(snd process): the period's own fields. */
	if (bytes > g.period_bytes || sb == 0 || ch < 1 || ch > CELLVM_AUDIO_MAX_CHANNELS ||
	    rate < CELLVM_AUDIO_MIN_RATE || rate > CELLVM_AUDIO_MAX_RATE || bytes % (sb * ch))
		return -EBADMSG;
	if (bytes > cap)
		return -ENOSPC;
	meta->seq = seq0;
	meta->serial = serial;
	meta->timestamp_ns = cellvm_audio_load64(&p->timestamp_ns, memory_order_relaxed);
	meta->position = cellvm_audio_load64(&p->position, memory_order_relaxed);
	meta->stream = cellvm_audio_load32(&p->stream);
	meta->format = fmt;
	meta->rate = rate;
	meta->channels = ch;
	meta->bytes = bytes;
	meta->flags = cellvm_audio_load32(&p->flags);
	memcpy(buf, slot + CELLVM_AUDIO_DATA_OFFSET, bytes);
	atomic_thread_fence(memory_order_acquire);
	seq1 = cellvm_audio_load64(&p->seq, memory_order_relaxed);
	if (seq1 != seq0)
		return -EAGAIN;
	return (long)bytes;
}

/* The oldest serial a reader can still hope to read, given latest: a
 * reader behind it skips ahead (and counts the periods it lost). */
static inline uint64_t cellvm_audio_oldest(uint64_t latest, uint32_t nperiods)
{
	/* One slot short of the whole ring: the writer may be filling the
	 * slot after latest's, which holds the oldest serial. */
	return latest + 2 > nperiods ? latest + 2 - nperiods : 1;
}
