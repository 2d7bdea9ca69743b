/* 2D resources of cellvm-dev-gpu; see gpu_res.h. Runs in the gpu process.
 * Every allocation the guest causes (pixels, backing arrays, the resource
 * itself) is charged to the table's budget before it is made, and given back
 * when it is freed: a guest cannot make the process hold more than the
 * budget, however it creates, attaches and unrefs. */
#include "dev-procs/gpu/gpu_res.h"

#include <drm_fourcc.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gpu_res_table_init(struct gpu_res_table *t, uint64_t max_bytes)
{
	memset(t, 0, sizeof(*t));
	t->max_bytes = max_bytes;
}

static void gpu_res_free(struct gpu_res_table *t, struct gpu_res *r)
{
	t->bytes -= r->charged;
	t->count--;
	free(r->ents);
	free(r->pixels);
	free(r);
}

void gpu_res_table_clear(struct gpu_res_table *t)
{
	for (size_t b = 0; b < GPU_RES_BUCKETS; b++) {
		struct gpu_res *r = t->bucket[b], *next;

		for (; r; r = next) {
			next = r->next;
			gpu_res_free(t, r);
		}
		t->bucket[b] = NULL;
	}
	/* Resources held only by scanouts are no longer in the table: the
	 * caller frees those through gpu_res_put() before calling this. */
}

/* ---- formats ---- */

/* The guest's formats are named in memory byte order (B8G8R8A8: B, G, R, A
 * in memory); DRM fourccs name the bits of a little-endian 32-bit word from
 * the top (ARGB8888: B, G, R, A in memory). So the virtio name read
 * backwards is the DRM name of the guest's layout:
 *
 *   virtio format   memory bytes   guest layout   host copy (ring)
 *   B8G8R8A8 (1)    B G R A        ARGB8888       ARGB8888
 *   B8G8R8X8 (2)    B G R x        XRGB8888       XRGB8888 (Linux's fbdev/dumb)
 *   A8R8G8B8 (3)    A R G B        BGRA8888       ARGB8888, bytes swapped
 *   X8R8G8B8 (4)    x R G B        BGRX8888       XRGB8888, bytes swapped
 *   R8G8B8A8 (67)   R G B A        ABGR8888       ABGR8888
 *   X8B8G8R8 (68)   x B G R        RGBX8888       XBGR8888, bytes swapped
 *   A8B8G8R8 (121)  A B G R        RGBA8888       ABGR8888, bytes swapped
 *   R8G8B8X8 (134)  R G B x        XBGR8888       XBGR8888
 *
 * The capture ring carries the four formats readers must handle (XRGB8888,
 * ARGB8888, XBGR8888, ABGR8888): the alpha-first layouts are byte-swapped
 * per pixel as they are transferred, so the host copy is always in one of
 * them. Linux's driver maps DRM_FORMAT_XRGB8888 to B8G8R8X8 on little-endian
 * hosts, as QEMU shows B8G8R8X8 as pixman's x8r8g8b8: the same reading. */
struct gpu_res_layout {
	uint32_t format, fourcc; /* fourcc: the host copy's */
	bool swap;		 /* reverse each pixel's bytes on transfer */
};

static const struct gpu_res_layout gpu_res_layouts[] = {
	{VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, DRM_FORMAT_ARGB8888, false},
	{VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, DRM_FORMAT_XRGB8888, false},
	{VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, DRM_FORMAT_ARGB8888, true},
	{VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, DRM_FORMAT_XRGB8888, true},
	{VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, DRM_FORMAT_ABGR8888, false},
	{VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, DRM_FORMAT_XBGR8888, true},
	{VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, DRM_FORMAT_ABGR8888, true},
	{VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, DRM_FORMAT_XBGR8888, false},
};

static const struct gpu_res_layout *gpu_res_layout(uint32_t format)
{
	for (size_t i = 0; i < sizeof(gpu_res_layouts) / sizeof(gpu_res_layouts[0]); i++)
		if (gpu_res_layouts[i].format == format)
			return &gpu_res_layouts[i];
	return NULL;
}

bool gpu_res_format_ok(uint32_t format)
{
	return gpu_res_layout(format) != NULL;
}

uint32_t gpu_res_fourcc(uint32_t format)
{
	const struct gpu_res_layout *l = gpu_res_layout(format);

	return l ? l->fourcc : 0;
}

bool gpu_res_format_swapped(uint32_t format)
{
	const struct gpu_res_layout *l = gpu_res_layout(format);

	return l && l->swap;
}

uint32_t gpu_res_argb(uint32_t fourcc, const uint8_t *p)
{
	const uint32_t a =
		fourcc == DRM_FORMAT_ARGB8888 || fourcc == DRM_FORMAT_ABGR8888 ? p[3] : 0xff;

	if (fourcc == DRM_FORMAT_ABGR8888 || fourcc == DRM_FORMAT_XBGR8888)
		return a << 24 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	return a << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* ---- the table ---- */

static size_t gpu_res_bucket(uint32_t id)
{
	return (id * 2654435761u) >> 24 & (GPU_RES_BUCKETS - 1);
}

struct gpu_res *gpu_res_lookup(const struct gpu_res_table *t, uint32_t id)
{
	for (struct gpu_res *r = t->bucket[gpu_res_bucket(id)]; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static bool gpu_res_charge(struct gpu_res_table *t, uint64_t n)
{
	if (n > t->max_bytes || t->bytes > t->max_bytes - n)
		return false;
	t->bytes += n;
	return true;
}

int gpu_res_create(struct gpu_res_table *t, uint32_t id, uint32_t format, uint32_t width,
		   uint32_t height, struct gpu_res **ret)
{
	struct gpu_res *r;
	uint64_t size, cost;

	if (id == 0 || gpu_res_lookup(t, id))
		return -EEXIST;
	if (!gpu_res_format_ok(format) || width == 0 || height == 0 || width > GPU_RES_MAX_DIM ||
	    height > GPU_RES_MAX_DIM)
		return -EINVAL;
	/* At most 16384 * 16384 * 4 = 1 GiB: no overflow in 64 bits. */
	size = (uint64_t)width * height * GPU_RES_BPP;
	cost = size + GPU_RES_OVERHEAD;
	if (t->count >= GPU_RES_MAX_COUNT || !gpu_res_charge(t, cost))
		return -ENOSPC;
	r = calloc(1, sizeof(*r));
	if (r)
		r->pixels = calloc(1, size);
	if (!r || !r->pixels) {
		free(r);
		t->bytes -= cost;
		return -ENOMEM;
	}
	r->id = id;
	r->format = format;
	r->fourcc = gpu_res_fourcc(format);
	r->swap = gpu_res_format_swapped(format);
	r->width = width;
	r->height = height;
	r->stride = width * GPU_RES_BPP;
	r->charged = cost;
	r->refs = 1;
	r->named = true;
	r->next = t->bucket[gpu_res_bucket(id)];
	t->bucket[gpu_res_bucket(id)] = r;
	t->count++;
	*ret = r;
	return 0;
}

void gpu_res_get(struct gpu_res *r)
{
	r->refs++;
}

void gpu_res_put(struct gpu_res_table *t, struct gpu_res *r)
{
	if (--r->refs == 0)
		gpu_res_free(t, r);
}

void gpu_res_unref(struct gpu_res_table *t, struct gpu_res *r)
{
	struct gpu_res **p = &t->bucket[gpu_res_bucket(r->id)];

	while (*p != r)
		p = &(*p)->next;
	*p = r->next;
	r->next = NULL;
	r->named = false;
	(void)gpu_res_detach(t, r);
	gpu_res_put(t, r);
}

/* ---- backing ---- */

int gpu_res_attach(struct gpu_res_table *t, struct gpu_res *r, const struct gpu_backing_ent *ents,
		   uint32_t n)
{
	uint64_t total = 0, cost;

	if (r->nents)
		return -EBUSY;
	if (n == 0 || n > GPU_RES_MAX_ENTRIES)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (ents[i].len == 0 || !ents[i].host)
			return -EINVAL;
		total += ents[i].len; /* at most 16384 * 4 GiB: no overflow */
	}
	if (total < (uint64_t)r->stride * r->height)
		return -EINVAL;
	cost = (uint64_t)n * GPU_RES_ENTRY_COST;
	if (!gpu_res_charge(t, cost))
		return -ENOSPC;
	r->ents = malloc(n * sizeof(*ents));
	if (!r->ents) {
		t->bytes -= cost;
		return -ENOMEM;
	}
	memcpy(r->ents, ents, n * sizeof(*ents));
	r->nents = n;
	r->backing_len = total;
	r->charged += cost;
	return 0;
}

int gpu_res_detach(struct gpu_res_table *t, struct gpu_res *r)
{
	uint64_t cost = (uint64_t)r->nents * GPU_RES_ENTRY_COST;

	if (!r->nents)
		return -ENOENT;
	free(r->ents);
	r->ents = NULL;
	r->nents = 0;
	r->backing_len = 0;
	r->charged -= cost;
	t->bytes -= cost;
	return 0;
}

/* ---- transfers ---- */

bool gpu_res_rect_ok(const struct gpu_res *r, const struct gpu_rect *rect)
{
	return rect->width && rect->height && (uint64_t)rect->x + rect->width <= r->width &&
	       (uint64_t)rect->y + rect->height <= r->height;
}

/* A forward-only reader of the backing: rows come at growing offsets, so a
 * transfer walks the entries once. */
struct gpu_res_cursor {
	const struct gpu_res *r;
	uint32_t i;    /* current entry */
	uint64_t base; /* its offset in the backing */
};

static void gpu_res_read(struct gpu_res_cursor *c, uint64_t off, uint8_t *dst, uint64_t len)
{
	const struct gpu_res *r = c->r;

	while (len) {
		uint64_t in, n;

		while (c->base + r->ents[c->i].len <= off) {
			c->base += r->ents[c->i].len;
			c->i++;
		}
		in = off - c->base;
		n = r->ents[c->i].len - in;
		if (n > len)
			n = len;
		memcpy(dst, r->ents[c->i].host + in, n);
		dst += n;
		off += n;
		len -= n;
	}
}

int gpu_res_transfer(struct gpu_res *r, const struct gpu_rect *rect, uint64_t offset)
{
	struct gpu_res_cursor c = {.r = r};
	uint64_t row = (uint64_t)rect->width * GPU_RES_BPP, last;

	if (!r->nents)
		return -ENOENT;
	if (!gpu_res_rect_ok(r, rect))
		return -EINVAL;
	/* UNTRUSTED(guest): offset; the last row must end inside the backing.
	 * offset < 2^64 and the rest < 2^32 * 2^16: checked before adding. */
	if (offset > r->backing_len)
		return -EINVAL;
	last = (uint64_t)r->stride * (rect->height - 1) + row;
	if (last > r->backing_len - offset)
		return -EINVAL;
	for (uint32_t h = 0; h < rect->height; h++) {
		uint8_t *dst = r->pixels + (uint64_t)(rect->y + h) * r->stride +
			       (uint64_t)rect->x * GPU_RES_BPP;

		gpu_res_read(&c, offset + (uint64_t)r->stride * h, dst, row);
		if (r->swap)
			for (uint64_t i = 0; i < row; i += GPU_RES_BPP) {
				uint32_t px;

				memcpy(&px, dst + i, sizeof(px));
				px = __builtin_bswap32(px);
				memcpy(dst + i, &px, sizeof(px));
			}
	}
	return 0;
}
