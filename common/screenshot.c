/* Screenshots from the frame capture ring: the frame and the cursor copied
 * out with proto/capture_ring.h's checked readers, converted to RGB8 with
 * the cursor blended in, encoded by libspng into memory. A library: runs in
 * its caller's process, logs nothing. UNTRUSTED(gpu process): the ring;
 * only the copies the readers made (and checked) are read here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spng.h>

#include "common/screenshot.h"
#include "proto/capture_ring.h"

/* zlib level 1 with the UP filter: a 1080p desktop encodes several times
 * faster than at the defaults (level 6, every filter tried per row), for
 * a file typically well under twice as large. */
#define SCREENSHOT_ZLEVEL 1

static int shot_err(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int shot_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* A ring pixel's red, green, blue (little-endian 32-bit words). */
static void shot_rgb(uint8_t *dst, const uint8_t *src, uint32_t n, bool bgr)
{
	if (bgr) /* XBGR/ABGR8888: bytes R G B x */
		for (uint32_t i = 0; i < n; i++, dst += 3, src += 4) {
			dst[0] = src[0];
			dst[1] = src[1];
			dst[2] = src[2];
		}
	else /* XRGB/ARGB8888: bytes B G R x */
		for (uint32_t i = 0; i < n; i++, dst += 3, src += 4) {
			dst[0] = src[2];
			dst[1] = src[1];
			dst[2] = src[0];
		}
}

/* Premultiplied over: out = fg + bg * (255 - a) / 255, rounded. A color
 * above its alpha (not premultiplied: a bad or hostile image) saturates. */
static uint8_t shot_over(uint32_t fg, uint32_t bg, uint32_t a)
{
	uint32_t t = bg * (255 - a) + 128;
	uint32_t v = fg + ((t + (t >> 8)) >> 8);

	return (uint8_t)(v > 255 ? 255 : v);
}

/* Blend the cursor into rgb, which holds the frame's part crop (stride
 * crop->w * 3). The image's top left is at the position less the hotspot;
 * everything is in 64-bit so that no position (int32) can wrap. */
static void shot_cursor(uint8_t *rgb, const struct screenshot_rect *crop,
			const struct cellvm_capture_cursor *cur)
{
	int64_t ox = (int64_t)cur->x - cur->hot_x, oy = (int64_t)cur->y - cur->hot_y;

	for (int64_t cy = 0; cy < CELLVM_CAPTURE_CURSOR_SIZE; cy++) {
		int64_t y = oy + cy - crop->y;

		if (y < 0 || y >= crop->h)
			continue;
		for (int64_t cx = 0; cx < CELLVM_CAPTURE_CURSOR_SIZE; cx++) {
			int64_t x = ox + cx - crop->x;
			uint32_t p = cur->image[cy * CELLVM_CAPTURE_CURSOR_SIZE + cx];
			uint32_t a = p >> 24;
			uint8_t *d;

			if (x < 0 || x >= crop->w || p == 0)
				continue;
			d = rgb + ((uint64_t)y * crop->w + (uint64_t)x) * 3;
			d[0] = shot_over((p >> 16) & 0xff, d[0], a);
			d[1] = shot_over((p >> 8) & 0xff, d[1], a);
			d[2] = shot_over(p & 0xff, d[2], a);
		}
	}
}

/* The cursor, when it is shown on scanout: 1 with *ret, 0 when not (none
 * yet, hidden, elsewhere, or being rewritten on every try), or -EPROTO. */
static int shot_read_cursor(const void *map, size_t size, uint32_t scanout,
			    struct cellvm_capture_cursor *ret)
{
	int r = 0;

	for (int i = 0; i < 4 && r == 0; i++)
		r = cellvm_capture_read_cursor(map, size, ret);
	if (r < 0)
		return -EPROTO;
	return r == 1 && ret->visible && ret->scanout == scanout;
}

static int shot_encode(const uint8_t *rgb, uint32_t w, uint32_t h, uint8_t **ret_png,
		       size_t *ret_len, char *err, size_t errlen)
{
	struct spng_ihdr ihdr = {
		.width = w,
		.height = h,
		.bit_depth = 8,
		.color_type = SPNG_COLOR_TYPE_TRUECOLOR,
	};
	spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
	size_t len = 0;
	void *png;
	int r;

	if (!ctx)
		return shot_err(err, errlen, -ENOMEM, "out of memory");
	r = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
	if (r == 0)
		r = spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL, SCREENSHOT_ZLEVEL);
	if (r == 0)
		r = spng_set_option(ctx, SPNG_FILTER_CHOICE, SPNG_FILTER_CHOICE_UP);
	if (r == 0)
		r = spng_set_ihdr(ctx, &ihdr);
	if (r == 0)
		r = spng_encode_image(ctx, rgb, (size_t)w * h * 3, SPNG_FMT_PNG,
				      SPNG_ENCODE_FINALIZE);
	if (r != 0) {
		spng_ctx_free(ctx);
		return shot_err(err, errlen, r == SPNG_EMEM ? -ENOMEM : -EIO, "png encoder: %s",
				spng_strerror(r));
	}
	/* The buffer comes from the context's allocator (malloc): ours now. */
	png = spng_get_png_buffer(ctx, &len, &r);
	spng_ctx_free(ctx);
	if (!png)
		return shot_err(err, errlen, -EIO, "png encoder: %s", spng_strerror(r));
	*ret_png = png;
	*ret_len = len;
	return 0;
}

/* The latest frame of scanout, copied out: *ret_px (malloc'd, rows of
 * meta->stride bytes), its metadata, and whether it is BGR. */
static int shot_frame(const void *map, size_t size, uint32_t scanout,
		      struct cellvm_capture_slot *meta, uint8_t **ret_px, bool *ret_bgr, char *err,
		      size_t errlen)
{
	struct cellvm_capture_geometry g;
	size_t px_len;
	uint8_t *px;
	int r;

	/* Too small to hold a header is a bad ring too (the fd's size is the
	 * gpu process's to choose). */
	r = cellvm_capture_geometry_get(map, size, &g);
	if (r < 0)
		return shot_err(err, errlen, -EPROTO, "not a capture ring this reader can use (%s)",
				strerror(-r));
	/* Whatever the frame's stride, its pixels fit in this (the geometry
	 * was checked against the mapping, so it is no larger than that). */
	px_len = g.slot_size - g.pixels_offset;
	px = malloc(px_len);
	if (!px)
		return shot_err(err, errlen, -ENOMEM, "out of memory");
	r = cellvm_capture_read_scanout(map, size, scanout, meta, px, px_len);
	if (r == 0)
		r = shot_err(err, errlen, -ENOENT, "no frame of scanout %u in the ring", scanout);
	else if (r == -EAGAIN)
		r = shot_err(err, errlen, r, "the frame was overwritten on every try");
	else if (r < 0)
		r = shot_err(err, errlen, -EPROTO, "bad capture ring (%s)", strerror(-r));
	if (r < 0) {
		free(px);
		return r;
	}
	/* UNTRUSTED(gpu process): the reader checked sizes and stride against
	 * the geometry; the fourcc is ours to check. */
	switch (meta->fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888: *ret_bgr = false; break;
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888: *ret_bgr = true; break;
	default:
		free(px);
		return shot_err(err, errlen, -EPROTO, "bad capture ring (fourcc 0x%08x)",
				meta->fourcc);
	}
	*ret_px = px;
	return 0;
}

int screenshot_png(const void *map, size_t size, const struct screenshot_opts *o, uint8_t **ret_png,
		   size_t *ret_len, char *err, size_t errlen)
{
	struct cellvm_capture_cursor cur;
	struct cellvm_capture_slot meta;
	struct screenshot_rect crop;
	uint8_t *px = NULL, *rgb = NULL;
	bool bgr = false;
	int r;

	if (!map || !o || !ret_png || !ret_len)
		return shot_err(err, errlen, -EINVAL, "bad arguments");
	if (o->scanout >= 4)
		return shot_err(err, errlen, -EINVAL, "scanout %u: there are at most 4",
				o->scanout);
	if ((uintptr_t)map & 7)
		return shot_err(err, errlen, -EINVAL, "the ring's mapping is not aligned");
	r = shot_frame(map, size, o->scanout, &meta, &px, &bgr, err, errlen);
	if (r < 0)
		return r;

	crop = o->crop;
	if (crop.w == 0)
		crop = (struct screenshot_rect){0, 0, meta.width, meta.height};
	if (crop.h == 0 || crop.x >= meta.width || crop.w > meta.width - crop.x ||
	    crop.y >= meta.height || crop.h > meta.height - crop.y) {
		r = shot_err(err, errlen, -ERANGE, "crop %ux%u+%u+%u is not inside the %ux%u frame",
			     crop.w, crop.h, crop.x, crop.y, meta.width, meta.height);
		goto out;
	}
	rgb = malloc((size_t)crop.w * crop.h * 3);
	if (!rgb) {
		r = shot_err(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t y = 0; y < crop.h; y++)
		shot_rgb(rgb + (size_t)y * crop.w * 3,
			 px + (size_t)(crop.y + y) * meta.stride + (size_t)crop.x * 4, crop.w, bgr);
	if (o->cursor) {
		r = shot_read_cursor(map, size, o->scanout, &cur);
		if (r < 0) {
			r = shot_err(err, errlen, r, "bad capture ring (cursor)");
			goto out;
		}
		if (r == 1)
			shot_cursor(rgb, &crop, &cur);
	}
	r = shot_encode(rgb, crop.w, crop.h, ret_png, ret_len, err, errlen);
out:
	free(rgb);
	free(px);
	return r;
}
