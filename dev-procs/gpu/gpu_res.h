/* The 2D resources of cellvm-dev-gpu: host pixel buffers the guest names by
 * id, their backing (scatter lists in guest RAM), the copy from backing to
 * host (TRANSFER_TO_HOST_2D), and the per-VM budget every byte the guest
 * makes this process hold is charged to. Runs in the gpu process; ids,
 * sizes, rectangles and backing entries come from the guest and are checked
 * by the caller (gpu_cmd.c) and again here where memory is touched. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/gmem.h"

/* virtio 1.2, 5.7.6.8: the 2D formats (named in memory byte order). */
#define VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM 1
#define VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM 2
#define VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM 3
#define VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM 4
#define VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM 67
#define VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM 68
#define VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM 121
#define VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM 134

#define GPU_RES_BPP	    4	  /* every format above is 32 bits per pixel */
#define GPU_RES_MAX_DIM	    16384 /* width or height, as Linux's mode_config max */
#define GPU_RES_MAX_COUNT   16384 /* resources alive at once */
#define GPU_RES_MAX_ENTRIES 16384 /* backing entries of one resource (QEMU's too) */
#define GPU_RES_OVERHEAD    512	  /* bytes charged per resource beyond its pixels */
#define GPU_RES_ENTRY_COST  16	  /* bytes charged per backing entry */
#define GPU_RES_BUCKETS	    256
#define GPU_MAX_HOST_BYTES  (256ULL << 20) /* the default budget */

struct gpu_rect {
	uint32_t x, y, width, height;
};

/* One backing entry, already checked against guest RAM. */
struct gpu_backing_ent {
	uint8_t *host;
	uint32_t len;
};

struct gpu_res {
	uint32_t id;
	uint32_t format; /* VIRTIO_GPU_FORMAT_* */
	uint32_t fourcc; /* the host copy's DRM fourcc (gpu_res.c's table) */
	bool swap;	 /* the guest's pixels are byte-swapped into it */
	uint32_t width, height;
	uint32_t stride;  /* width * GPU_RES_BPP */
	uint8_t *pixels;  /* stride * height bytes, zeroed at creation */
	uint64_t charged; /* bytes charged to the budget for this resource */
	struct gpu_backing_ent *ents;
	uint32_t nents; /* 0: no backing */
	uint64_t backing_len;
	uint32_t refs;	      /* the guest's name (until UNREF) + each scanout showing it */
	bool named;	      /* still in the id table */
	struct gpu_res *next; /* hash chain */
};

struct gpu_res_table {
	struct gpu_res *bucket[GPU_RES_BUCKETS];
	uint64_t bytes;	    /* charged now */
	uint64_t max_bytes; /* the budget */
	uint32_t count;	    /* resources alive (named or held by a scanout) */
};

void gpu_res_table_init(struct gpu_res_table *t, uint64_t max_bytes);
/* Free every resource, whoever holds it (device reset: the caller has
 * dropped its scanout pointers first). */
void gpu_res_table_clear(struct gpu_res_table *t);

/* Whether format is one of the spec's 2D formats; the DRM fourcc of the host
 * copy (0: none), one of XRGB8888, ARGB8888, XBGR8888, ABGR8888; whether
 * the guest's pixels are byte-swapped into it (the alpha-first formats). */
bool gpu_res_format_ok(uint32_t format);
uint32_t gpu_res_fourcc(uint32_t format);
bool gpu_res_format_swapped(uint32_t format);
/* One pixel of the host copy (4 bytes at p, in fourcc) as ARGB8888 (alpha
 * 0xff for X formats). */
uint32_t gpu_res_argb(uint32_t fourcc, const uint8_t *p);

/* Create resource id: -EEXIST (id 0 or taken), -EINVAL (format, a size 0 or
 * past GPU_RES_MAX_DIM), -ENOSPC (the budget or the count would be
 * exceeded), -ENOMEM (the host said no). On success *ret holds the guest's
 * reference. */
int gpu_res_create(struct gpu_res_table *t, uint32_t id, uint32_t format, uint32_t width,
		   uint32_t height, struct gpu_res **ret);
/* The named resource id, or NULL. */
struct gpu_res *gpu_res_lookup(const struct gpu_res_table *t, uint32_t id);
/* The guest lets go of its name: the id is free again, the backing is
 * dropped (guest RAM is not read again), the pixels live on while a scanout
 * holds a reference. */
void gpu_res_unref(struct gpu_res_table *t, struct gpu_res *r);
void gpu_res_get(struct gpu_res *r);
void gpu_res_put(struct gpu_res_table *t, struct gpu_res *r);

/* Attach n entries (host views checked by the caller against guest RAM):
 * -EBUSY already attached, -EINVAL none or fewer bytes than the pixels,
 * -ENOSPC the budget. The array is copied. */
int gpu_res_attach(struct gpu_res_table *t, struct gpu_res *r, const struct gpu_backing_ent *ents,
		   uint32_t n);
/* -ENOENT when there is no backing. */
int gpu_res_detach(struct gpu_res_table *t, struct gpu_res *r);

/* Whether rect lies inside the resource (checked 64-bit math), and is not
 * empty. */
bool gpu_res_rect_ok(const struct gpu_res *r, const struct gpu_rect *rect);
/* Copy rect from the backing at offset (row h of the rectangle at offset +
 * h * stride) into the pixels. -EINVAL: a row past the backing (nothing is
 * copied), -ENOENT: no backing. */
int gpu_res_transfer(struct gpu_res *r, const struct gpu_rect *rect, uint64_t offset);
