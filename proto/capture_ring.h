/* The frame capture ring: the layout of the memfd in which cellvm-dev-gpu
 * publishes what a VM's scanouts show, for any number of readers that map
 * it read-only (the broker's screenshots, the display server, third-party
 * capture clients). This header is the whole contract: a reader needs
 * nothing else (C11, <drm_fourcc.h> from libdrm: `pkg-config --cflags
 * libdrm`). Little-endian, fixed-width fields, offsets in bytes from the
 * start of the mapping.
 *
 *   [header: struct cellvm_capture_header, 4 KiB, at 0]
 *   [cursor: struct cellvm_capture_cursor with its 64x64 ARGB8888 image,
 *    at header.cursor_offset]
 *   [nslots frame slots, slot_size bytes each, from header.slots_offset:
 *    struct cellvm_capture_slot, then the pixels at pixels_offset from the
 *    slot's start]
 *
 * The writer fills slot (serial % nslots) under the slot's seqlock (seq is
 * 2 * serial - 1, odd, while writing, then 2 * serial), then stores the
 * serial in header.frame_serial (release) and writes 1 to every
 * subscriber's eventfd. A reader takes header.frame_serial (acquire), copies
 * that slot, and keeps the copy only when the slot's seq was 2 * serial
 * before and after it; a serial more than one past the last it kept says
 * how many frames it missed. The cursor has its own seqlock and serial (and
 * also writes the eventfds). The writer never waits for a reader: a reader
 * that copies too slowly sees its copy overwritten and tries again.
 *
 * UNTRUSTED(gpu process): to a reader, everything in the ring comes from a
 * sandboxed process that runs guest-driven code. The helpers below check
 * every size and offset against the mapping's size on each call (the
 * writer could change the header at any time) and copy only from inside
 * the mapping. The mapping must be page-aligned (mmap) and stay mapped for
 * the call. A reader that cannot rule out the memfd shrinking under it
 * checks that it carries F_SEAL_SHRINK (fcntl F_GET_SEALS), else a copy
 * can fault with SIGBUS. A changed header.created_ns (or magic) means the
 * gpu process restarted and serials start again from 1. */
#pragma once
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <drm_fourcc.h>

#define CELLVM_CAPTURE_MAGIC	   0x50414356u /* "VCAP" */
#define CELLVM_CAPTURE_VERSION	   1
#define CELLVM_CAPTURE_HEADER_SIZE 4096
#define CELLVM_CAPTURE_MAX_DAMAGE  16
#define CELLVM_CAPTURE_CURSOR_SIZE 64 /* the cursor image is 64x64 */
/* Limits the writer keeps and a reader enforces (they keep byte counts far
 * from overflowing 64 bits). */
#define CELLVM_CAPTURE_MAX_DIM	 16384 /* max_width, max_height */
#define CELLVM_CAPTURE_MAX_SLOTS 256
#define CELLVM_CAPTURE_BPP	 4 /* every format here is 32 bits per pixel */

/* At offset 0. Written once by the writer when the ring is (re)initialised,
 * magic last; then only frame_serial changes. */
struct cellvm_capture_header {
	uint32_t magic;		/* CELLVM_CAPTURE_MAGIC */
	uint32_t version;	/* CELLVM_CAPTURE_VERSION */
	uint32_t header_size;	/* CELLVM_CAPTURE_HEADER_SIZE */
	uint32_t nslots;	/* 1..CELLVM_CAPTURE_MAX_SLOTS frame slots */
	uint64_t slot_size;	/* bytes per slot, a multiple of 4096 */
	uint64_t slots_offset;	/* slot 0, from the mapping's start; 4096-aligned */
	uint32_t pixels_offset; /* a slot's pixels, from the slot's start; 4096-aligned */
	uint32_t max_width;	/* the largest frame a slot holds, in pixels */
	uint32_t max_height;
	uint32_t cursor_offset; /* struct cellvm_capture_cursor, from the mapping's start */
	/* The latest published frame's serial, 0 before the first. Written with
	 * release semantics after the slot's seq: read it with acquire. */
	uint64_t frame_serial;
	uint64_t created_ns; /* CLOCK_MONOTONIC when the ring was initialised */
	uint8_t reserved[CELLVM_CAPTURE_HEADER_SIZE - 64]; /* zero */
};

/* The cursor, apart from the frames. Its image is ARGB8888 (DRM fourcc:
 * each pixel a little-endian uint32_t 0xAARRGGBB), rows of 64 pixels. */
struct cellvm_capture_cursor {
	uint64_t seq;		/* seqlock: odd while written, else 2 * serial */
	uint64_t serial;	/* 1 for the first cursor update, then +1 each */
	int32_t x, y;		/* the pointer's position in scanout coordinates */
	uint32_t hot_x, hot_y;	/* the hotspot within the image */
	uint32_t scanout;	/* which scanout the cursor is on */
	uint32_t visible;	/* 0 hidden, 1 shown */
	uint32_t width, height; /* CELLVM_CAPTURE_CURSOR_SIZE each */
	uint32_t fourcc;	/* DRM_FORMAT_ARGB8888 */
	uint32_t reserved[3];
	uint32_t image[CELLVM_CAPTURE_CURSOR_SIZE * CELLVM_CAPTURE_CURSOR_SIZE];
};

struct cellvm_capture_rect {
	uint32_t x, y, w, h; /* in pixels, inside the frame */
};

/* A slot's metadata; the pixels are at header.pixels_offset from the slot's
 * start: height rows of stride bytes (stride == width * 4 from our writer),
 * each pixel a little-endian uint32_t in the layout fourcc names. */
struct cellvm_capture_slot {
	uint64_t seq;		/* seqlock: odd while written, else 2 * serial */
	uint64_t serial;	/* the frame's serial */
	uint64_t timestamp_ns;	/* CLOCK_MONOTONIC when the frame was published */
	uint32_t scanout;	/* the scanout the frame shows */
	uint32_t fourcc;	/* DRM_FORMAT_XRGB8888, _ARGB8888, _XBGR8888 or _ABGR8888 */
	uint32_t width, height; /* 1..max_width, 1..max_height */
	uint32_t stride;	/* bytes per row, >= width * 4 */
	/* 1..CELLVM_CAPTURE_MAX_DAMAGE rectangles: what changed since the
	 * previous frame of this scanout (one covering the frame when unknown). */
	uint32_t ndamage;
	struct cellvm_capture_rect damage[CELLVM_CAPTURE_MAX_DAMAGE];
	uint64_t reserved[2];
};

_Static_assert(sizeof(struct cellvm_capture_header) == CELLVM_CAPTURE_HEADER_SIZE,
	       "capture header is 4 KiB");
_Static_assert(offsetof(struct cellvm_capture_header, slot_size) == 16, "capture header layout");
_Static_assert(offsetof(struct cellvm_capture_header, pixels_offset) == 32,
	       "capture header layout");
_Static_assert(offsetof(struct cellvm_capture_header, frame_serial) == 48, "capture header layout");
_Static_assert(offsetof(struct cellvm_capture_header, created_ns) == 56, "capture header layout");
_Static_assert(offsetof(struct cellvm_capture_cursor, x) == 16, "capture cursor layout");
_Static_assert(offsetof(struct cellvm_capture_cursor, fourcc) == 48, "capture cursor layout");
_Static_assert(offsetof(struct cellvm_capture_cursor, image) == 64, "capture cursor layout");
_Static_assert(sizeof(struct cellvm_capture_cursor) == 64 + 64 * 64 * 4, "capture cursor size");
_Static_assert(sizeof(struct cellvm_capture_rect) == 16, "capture rect size");
_Static_assert(offsetof(struct cellvm_capture_slot, scanout) == 24, "capture slot layout");
_Static_assert(offsetof(struct cellvm_capture_slot, ndamage) == 44, "capture slot layout");
_Static_assert(offsetof(struct cellvm_capture_slot, damage) == 48, "capture slot layout");
_Static_assert(sizeof(struct cellvm_capture_slot) == 320, "capture slot size");

/* The geometry a reader validated, read once from the header per call. */
struct cellvm_capture_geometry {
	uint64_t slot_size, slots_offset;
	uint32_t nslots, pixels_offset, max_width, max_height, cursor_offset;
};

/* Shared memory another process writes: single loads through atomics (the
 * fields stay plain integers so the layout reads the same from any
 * language; _Atomic uint32_t/uint64_t have their representation on every
 * ABI Linux runs on). */
static inline uint32_t cellvm_capture_load32(const uint32_t *p)
{
	return atomic_load_explicit((const _Atomic uint32_t *)p, memory_order_relaxed);
}

static inline uint64_t cellvm_capture_load64(const uint64_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p, mo);
}

static inline int cellvm_capture_geometry_get(const void *map, size_t size,
					      struct cellvm_capture_geometry *ret)
{
	const struct cellvm_capture_header *h = map;
	uint64_t slots_room;

	if (!map || ((uintptr_t)map & 7) || size < sizeof(*h))
		return -EINVAL;
	if (atomic_load_explicit((const _Atomic uint32_t *)&h->magic, memory_order_acquire) !=
		    CELLVM_CAPTURE_MAGIC ||
	    cellvm_capture_load32(&h->version) != CELLVM_CAPTURE_VERSION ||
	    cellvm_capture_load32(&h->header_size) != CELLVM_CAPTURE_HEADER_SIZE)
		return -EPROTO;
	ret->nslots = cellvm_capture_load32(&h->nslots);
	ret->slot_size = cellvm_capture_load64(&h->slot_size, memory_order_relaxed);
	ret->slots_offset = cellvm_capture_load64(&h->slots_offset, memory_order_relaxed);
	ret->pixels_offset = cellvm_capture_load32(&h->pixels_offset);
	ret->max_width = cellvm_capture_load32(&h->max_width);
	ret->max_height = cellvm_capture_load32(&h->max_height);
	ret->cursor_offset = cellvm_capture_load32(&h->cursor_offset);

	/* UNTRUSTED(gpu process): every number below is checked against the
	 * mapping's size before it is used to address anything. */
	if (ret->nslots < 1 || ret->nslots > CELLVM_CAPTURE_MAX_SLOTS || ret->max_width < 1 ||
	    ret->max_width > CELLVM_CAPTURE_MAX_DIM || ret->max_height < 1 ||
	    ret->max_height > CELLVM_CAPTURE_MAX_DIM)
		return -EBADMSG;
	if (ret->cursor_offset < CELLVM_CAPTURE_HEADER_SIZE || (ret->cursor_offset & 7) ||
	    ret->cursor_offset > size ||
	    size - ret->cursor_offset < sizeof(struct cellvm_capture_cursor))
		return -EBADMSG;
	if (ret->pixels_offset < sizeof(struct cellvm_capture_slot) || (ret->pixels_offset & 7) ||
	    ret->slot_size < ret->pixels_offset || (ret->slot_size & 7) ||
	    ret->slot_size - ret->pixels_offset <
		    (uint64_t)ret->max_width * ret->max_height * CELLVM_CAPTURE_BPP)
		return -EBADMSG;
	if (ret->slots_offset < CELLVM_CAPTURE_HEADER_SIZE || (ret->slots_offset & 7) ||
	    ret->slots_offset > size)
		return -EBADMSG;
	slots_room = size - ret->slots_offset;
	if (ret->slot_size > slots_room || slots_room / ret->slot_size < ret->nslots)
		return -EBADMSG;
	return 0;
}

/* Whether map (size bytes, page-aligned) holds a ring this header can read:
 * magic, version, and a geometry that fits the mapping. Returns 0, -EPROTO
 * (not a ring, or another version), -EBADMSG (a geometry that does not fit)
 * or -EINVAL (bad arguments). */
static inline int cellvm_capture_check(const void *map, size_t size)
{
	struct cellvm_capture_geometry g;

	return cellvm_capture_geometry_get(map, size, &g);
}

/* The latest published frame's serial (0: none yet), or -errno as
 * cellvm_capture_check. */
static inline int64_t cellvm_capture_latest(const void *map, size_t size)
{
	const struct cellvm_capture_header *h = map;
	struct cellvm_capture_geometry g;
	int r = cellvm_capture_geometry_get(map, size, &g);

	if (r < 0)
		return r;
	return (int64_t)(cellvm_capture_load64(&h->frame_serial, memory_order_acquire) & INT64_MAX);
}

/* Copy frame want_serial (0: the latest) out of the ring: its metadata into
 * *ret_meta and its height * stride bytes of pixels into pixels_out (out_len
 * bytes; slot_size - pixels_offset always suffices). Returns 1 with a
 * consistent copy; 0 when there is no such frame now (none published yet,
 * not yet published, overwritten, or being written: retry, or skip to the
 * latest); -ENOSPC when out_len is too small for this frame; -EPROTO,
 * -EBADMSG or -EINVAL for a bad ring (or bad arguments). On 0 or an error,
 * *ret_meta and pixels_out hold garbage. */
static inline int cellvm_capture_read_frame(const void *map, size_t size, uint64_t want_serial,
					    struct cellvm_capture_slot *ret_meta, void *pixels_out,
					    size_t out_len)
{
	const struct cellvm_capture_header *h = map;
	const struct cellvm_capture_slot *slot;
	struct cellvm_capture_geometry g;
	uint64_t serial, seq, bytes;
	int r;

	r = cellvm_capture_geometry_get(map, size, &g);
	if (r < 0)
		return r;
	if (!ret_meta || (!pixels_out && out_len))
		return -EINVAL;
	serial = want_serial;
	if (serial == 0)
		serial = cellvm_capture_load64(&h->frame_serial, memory_order_acquire);
	if (serial == 0 || serial > UINT64_MAX / 2)
		return 0;
	slot = (const struct cellvm_capture_slot *)((const uint8_t *)map + g.slots_offset +
						    (serial % g.nslots) * g.slot_size);
	seq = cellvm_capture_load64(&slot->seq, memory_order_acquire);
	if (seq != 2 * serial)
		return 0;
	memcpy(ret_meta, slot, sizeof(*ret_meta));

	/* UNTRUSTED(gpu process): the frame's size and damage are checked
	 * against the geometry (already checked against the mapping) before
	 * they say how much to copy; only the copy in *ret_meta is used. */
	r = 0;
	if (ret_meta->serial != serial || ret_meta->width < 1 || ret_meta->width > g.max_width ||
	    ret_meta->height < 1 || ret_meta->height > g.max_height ||
	    ret_meta->stride < (uint64_t)ret_meta->width * CELLVM_CAPTURE_BPP ||
	    (uint64_t)ret_meta->stride * ret_meta->height > g.slot_size - g.pixels_offset ||
	    ret_meta->ndamage < 1 || ret_meta->ndamage > CELLVM_CAPTURE_MAX_DAMAGE)
		r = -EBADMSG;
	for (uint32_t i = 0; r == 0 && i < ret_meta->ndamage; i++) {
		const struct cellvm_capture_rect *d = &ret_meta->damage[i];

		if (d->w > ret_meta->width || d->x > ret_meta->width - d->w ||
		    d->h > ret_meta->height || d->y > ret_meta->height - d->h)
			r = -EBADMSG;
	}
	bytes = (uint64_t)ret_meta->stride * ret_meta->height;
	if (r == 0 && bytes > out_len)
		r = -ENOSPC;
	if (r == 0)
		memcpy(pixels_out, (const uint8_t *)slot + g.pixels_offset, bytes);

	/* The seqlock's read side: the copies above happen before the second
	 * look at seq. */
	atomic_thread_fence(memory_order_acquire);
	if (cellvm_capture_load64(&slot->seq, memory_order_relaxed) != seq)
		return 0; /* rewritten while we copied: whatever we saw is void */
	return r < 0 ? r : 1;
}

/* Copy the cursor into *ret. Returns 1 with a consistent copy, 0 when there
 * has been no cursor update yet or it is being written (retry), or -errno
 * for a bad ring as cellvm_capture_read_frame. */
static inline int cellvm_capture_read_cursor(const void *map, size_t size,
					     struct cellvm_capture_cursor *ret)
{
	const struct cellvm_capture_cursor *cur;
	struct cellvm_capture_geometry g;
	uint64_t seq;
	int r;

	r = cellvm_capture_geometry_get(map, size, &g);
	if (r < 0)
		return r;
	if (!ret)
		return -EINVAL;
	cur = (const struct cellvm_capture_cursor *)((const uint8_t *)map + g.cursor_offset);
	seq = cellvm_capture_load64(&cur->seq, memory_order_acquire);
	if (seq == 0 || (seq & 1))
		return 0;
	memcpy(ret, cur, sizeof(*ret));
	atomic_thread_fence(memory_order_acquire);
	if (cellvm_capture_load64(&cur->seq, memory_order_relaxed) != seq)
		return 0;
	/* UNTRUSTED(gpu process): a consistent copy can still be nonsense. */
	if (ret->serial * 2 != seq || ret->width != CELLVM_CAPTURE_CURSOR_SIZE ||
	    ret->height != CELLVM_CAPTURE_CURSOR_SIZE || ret->fourcc != DRM_FORMAT_ARGB8888 ||
	    ret->hot_x >= CELLVM_CAPTURE_CURSOR_SIZE || ret->hot_y >= CELLVM_CAPTURE_CURSOR_SIZE ||
	    ret->visible > 1)
		return -EBADMSG;
	return 1;
}

/* Copy the latest frame of one scanout out of the ring: the slots are
 * walked from the latest serial back (at most nslots frames), each slot's
 * scanout looked at under its seqlock, and the newest one showing scanout
 * copied with cellvm_capture_read_frame (its copy, not the look, decides).
 * Frames of other scanouts may have pushed every frame of this one out of
 * the ring: a scanout flushed rarely next to a busy one can have none.
 * Returns 1 with a consistent copy (as cellvm_capture_read_frame); 0 when
 * the ring holds no frame of scanout now; -EAGAIN when the writer overwrote
 * the frame it found on each of a few tries; -ENOSPC, -EPROTO, -EBADMSG or
 * -EINVAL as cellvm_capture_read_frame. On 0 or an error, *ret_meta and
 * pixels_out hold garbage. */
static inline int cellvm_capture_read_scanout(const void *map, size_t size, uint32_t scanout,
					      struct cellvm_capture_slot *ret_meta,
					      void *pixels_out, size_t out_len)
{
	const struct cellvm_capture_header *h = map;
	struct cellvm_capture_geometry g;
	int r;

	r = cellvm_capture_geometry_get(map, size, &g);
	if (r < 0)
		return r;
	if (!ret_meta || (!pixels_out && out_len))
		return -EINVAL;
	/* Bounded: a writer publishing faster than we copy cannot keep us. */
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t latest = cellvm_capture_load64(&h->frame_serial, memory_order_acquire);
		uint64_t found = 0;

		if (latest > UINT64_MAX / 2)
			return -EBADMSG;
		for (uint64_t s = latest; s >= 1 && latest - s < g.nslots; s--) {
			const struct cellvm_capture_slot *slot =
				(const struct cellvm_capture_slot *)((const uint8_t *)map +
								     g.slots_offset +
								     (s % g.nslots) * g.slot_size);
			uint64_t seq = cellvm_capture_load64(&slot->seq, memory_order_acquire);
			uint32_t so = cellvm_capture_load32(&slot->scanout);

			atomic_thread_fence(memory_order_acquire);
			if (seq != 2 * s ||
			    cellvm_capture_load64(&slot->seq, memory_order_relaxed) != seq)
				continue; /* overwritten, or being written */
			if (so == scanout) {
				found = s;
				break;
			}
		}
		if (found == 0) {
			/* Nothing of this scanout, unless the ring moved while
			 * we looked (then look again). */
			if (cellvm_capture_load64(&h->frame_serial, memory_order_acquire) == latest)
				return 0;
			continue;
		}
		r = cellvm_capture_read_frame(map, size, found, ret_meta, pixels_out, out_len);
		if (r < 0)
			return r;
		if (r == 1 && ret_meta->scanout == scanout)
			return 1;
	}
	return -EAGAIN;
}
