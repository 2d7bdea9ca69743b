/* The frame capture ring's writer, in cellvm-dev-gpu: copies each flushed
 * scanout and each cursor change into the memfd laid out in
 * proto/capture_ring.h and wakes the subscribers' eventfds. Its inputs come
 * from the gpu model, which has already checked the guest's requests; it
 * reads nothing back from the ring, so a reader that could write it still
 * cannot steer the writer. */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dev-procs/gpu/capture.h"

#define CAPTURE_PAGE 4096u

static uint64_t capture_round_page(uint64_t n)
{
	return (n + CAPTURE_PAGE - 1) & ~(uint64_t)(CAPTURE_PAGE - 1);
}

static uint64_t capture_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool capture_geometry_ok(uint32_t nslots, uint32_t max_width, uint32_t max_height)
{
	return nslots >= 1 && nslots <= CELLVM_CAPTURE_MAX_SLOTS && max_width >= 1 &&
	       max_width <= CELLVM_CAPTURE_MAX_DIM && max_height >= 1 &&
	       max_height <= CELLVM_CAPTURE_MAX_DIM;
}

/* The layout capture_init writes: header, cursor, then page-aligned slots
 * whose pixels start on the slot's second page. */
static uint64_t capture_slots_offset(void)
{
	return capture_round_page(CELLVM_CAPTURE_HEADER_SIZE +
				  sizeof(struct cellvm_capture_cursor));
}

static uint64_t capture_slot_size(uint32_t max_width, uint32_t max_height)
{
	return capture_round_page(CAPTURE_PAGE +
				  (uint64_t)max_width * max_height * CELLVM_CAPTURE_BPP);
}

size_t capture_ring_bytes(uint32_t nslots, uint32_t max_width, uint32_t max_height)
{
	uint64_t n;

	if (!capture_geometry_ok(nslots, max_width, max_height))
		return 0;
	/* At most 256 slots of 1 GiB each: fits 64 bits, maybe not size_t. */
	n = capture_slots_offset() + nslots * capture_slot_size(max_width, max_height);
	if (n > SIZE_MAX)
		return 0;
	return (size_t)n;
}

static void capture_store64(uint64_t *p, uint64_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, mo);
}

int capture_init(struct capture *c, int memfd, uint32_t nslots, uint32_t max_width,
		 uint32_t max_height, const int *efds, size_t nefds)
{
	struct cellvm_capture_header *h;
	struct stat st;
	size_t bytes;
	void *map;

	memset(c, 0, sizeof(*c));
	bytes = capture_ring_bytes(nslots, max_width, max_height);
	if (bytes == 0)
		return -EINVAL;
	if (fstat(memfd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < bytes)
		return -EINVAL;
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED)
		return -errno;

	/* A ring reused after a restart may have readers: they see the magic
	 * go away, then a new ring (created_ns differs), never a half-written
	 * header. The old slots' seqs go to 0 so no old frame passes as new. */
	h = map;
	atomic_store_explicit((_Atomic uint32_t *)&h->magic, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memset((uint8_t *)map + sizeof(h->magic), 0, capture_slots_offset() - sizeof(h->magic));
	for (uint32_t i = 0; i < nslots; i++)
		memset((uint8_t *)map + capture_slots_offset() +
			       (uint64_t)i * capture_slot_size(max_width, max_height),
		       0, sizeof(struct cellvm_capture_slot));
	h->version = CELLVM_CAPTURE_VERSION;
	h->header_size = CELLVM_CAPTURE_HEADER_SIZE;
	h->nslots = nslots;
	h->slot_size = capture_slot_size(max_width, max_height);
	h->slots_offset = capture_slots_offset();
	h->pixels_offset = CAPTURE_PAGE;
	h->max_width = max_width;
	h->max_height = max_height;
	h->cursor_offset = CELLVM_CAPTURE_HEADER_SIZE;
	h->created_ns = capture_now_ns();
	atomic_store_explicit((_Atomic uint32_t *)&h->magic, CELLVM_CAPTURE_MAGIC,
			      memory_order_release);

	c->hdr = h;
	c->size = bytes;
	c->nslots = nslots;
	c->slot_size = capture_slot_size(max_width, max_height);
	c->slots_offset = capture_slots_offset();
	c->pixels_offset = CAPTURE_PAGE;
	c->max_width = max_width;
	c->max_height = max_height;
	c->cursor_offset = CELLVM_CAPTURE_HEADER_SIZE;
	c->efds = efds;
	c->nefds = nefds;
	return 0;
}

static void capture_notify(struct capture *c)
{
	uint64_t one = 1;

	/* A reader that has not drained its eventfd in 2^64 - 2 wakeups gets
	 * EAGAIN here: it will still find the latest frame. Never block. */
	for (size_t i = 0; i < c->nefds; i++)
		(void)!write(c->efds[i], &one, sizeof(one));
}

static bool capture_fourcc_ok(uint32_t fourcc)
{
	return fourcc == DRM_FORMAT_XRGB8888 || fourcc == DRM_FORMAT_ARGB8888 ||
	       fourcc == DRM_FORMAT_XBGR8888 || fourcc == DRM_FORMAT_ABGR8888;
}

/* The damage as a slot holds it: clipped to the frame, empty rectangles
 * dropped, and one rectangle covering the frame when none (or too many)
 * are left. */
static void capture_set_damage(struct cellvm_capture_slot *s, const struct capture_rect *damage,
			       size_t ndamage)
{
	uint32_t n = 0;

	if (damage && ndamage <= CELLVM_CAPTURE_MAX_DAMAGE) {
		for (size_t i = 0; i < ndamage; i++) {
			const struct capture_rect *d = &damage[i];
			uint32_t w, h;

			if (d->x >= s->width || d->y >= s->height)
				continue;
			w = d->w < s->width - d->x ? d->w : s->width - d->x;
			h = d->h < s->height - d->y ? d->h : s->height - d->y;
			if (w == 0 || h == 0)
				continue;
			s->damage[n++] = (struct cellvm_capture_rect){d->x, d->y, w, h};
		}
	}
	if (n == 0)
		s->damage[n++] = (struct cellvm_capture_rect){0, 0, s->width, s->height};
	memset(&s->damage[n], 0, (CELLVM_CAPTURE_MAX_DAMAGE - n) * sizeof(s->damage[0]));
	s->ndamage = n;
}

int64_t capture_publish(struct capture *c, uint32_t scanout, uint32_t fourcc, uint32_t width,
			uint32_t height, uint32_t stride, const uint8_t *pixels,
			const struct capture_rect *damage, size_t ndamage)
{
	struct cellvm_capture_header *h = c->hdr;
	struct cellvm_capture_slot *s;
	uint32_t row = width * CELLVM_CAPTURE_BPP;
	uint64_t serial;
	uint8_t *dst;

	assert(h && pixels);
	if (width < 1 || width > c->max_width || height < 1 || height > c->max_height ||
	    stride < (uint64_t)width * CELLVM_CAPTURE_BPP || !capture_fourcc_ok(fourcc))
		return -EINVAL;

	serial = ++c->frame_serial;
	s = (struct cellvm_capture_slot *)((uint8_t *)h + c->slots_offset +
					   (serial % c->nslots) * c->slot_size);
	capture_store64(&s->seq, 2 * serial - 1, memory_order_relaxed);
	/* Readers that see the new contents see the odd seq first. */
	atomic_thread_fence(memory_order_release);

	s->serial = serial;
	s->timestamp_ns = capture_now_ns();
	s->scanout = scanout;
	s->fourcc = fourcc;
	s->width = width;
	s->height = height;
	s->stride = row;
	capture_set_damage(s, damage, ndamage);
	dst = (uint8_t *)s + c->pixels_offset;
	if (stride == row)
		memcpy(dst, pixels, (size_t)row * height);
	else
		for (uint32_t y = 0; y < height; y++)
			memcpy(dst + (size_t)y * row, pixels + (size_t)y * stride, row);

	capture_store64(&s->seq, 2 * serial, memory_order_release);
	capture_store64(&h->frame_serial, serial, memory_order_release);
	capture_notify(c);
	return (int64_t)serial;
}

uint64_t capture_cursor(struct capture *c, const uint32_t *image, uint32_t hot_x, uint32_t hot_y,
			int32_t x, int32_t y, uint32_t scanout, bool visible)
{
	struct cellvm_capture_cursor *cur;
	uint64_t serial;

	assert(c->hdr);
	cur = (struct cellvm_capture_cursor *)((uint8_t *)c->hdr + c->cursor_offset);
	serial = ++c->cursor_serial;
	capture_store64(&cur->seq, 2 * serial - 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);

	cur->serial = serial;
	cur->x = x;
	cur->y = y;
	/* The gpu model checks the guest's hotspot; clamp so the ring never
	 * holds one a reader would refuse. */
	cur->hot_x = hot_x < CELLVM_CAPTURE_CURSOR_SIZE ? hot_x : CELLVM_CAPTURE_CURSOR_SIZE - 1;
	cur->hot_y = hot_y < CELLVM_CAPTURE_CURSOR_SIZE ? hot_y : CELLVM_CAPTURE_CURSOR_SIZE - 1;
	cur->scanout = scanout;
	cur->visible = visible ? 1 : 0;
	cur->width = CELLVM_CAPTURE_CURSOR_SIZE;
	cur->height = CELLVM_CAPTURE_CURSOR_SIZE;
	cur->fourcc = DRM_FORMAT_ARGB8888;
	if (image)
		memcpy(cur->image, image, sizeof(cur->image));

	capture_store64(&cur->seq, 2 * serial, memory_order_release);
	capture_notify(c);
	return serial;
}

void capture_destroy(struct capture *c)
{
	if (c->hdr)
		munmap(c->hdr, c->size);
	memset(c, 0, sizeof(*c));
}
