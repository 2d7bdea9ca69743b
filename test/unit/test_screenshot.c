/* Unit tests for common/screenshot.c: frames and cursors written by the real
 * ring writer (dev-procs/gpu/capture.c) into a memfd, screenshot_png over a
 * read-only mapping of it, and every PNG decoded back with libspng and
 * compared pixel for pixel with what was published: each fourcc, crops,
 * the cursor blended (premultiplied) or not, partly off the frame, two
 * scanouts, no frame, bad crops, hostile rings, and a writer publishing
 * from another process while screenshots are taken. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <spng.h>

#include "common/screenshot.h"
#include "dev-procs/gpu/capture.h"
#include "proto/capture_ring.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the frames below are built as host-order words: a little-endian host"
#endif

#define W     67 /* odd sizes: no row is a multiple of anything */
#define H     41
#define SLOTS 3

struct ring {
	struct capture c;
	int fd;
	size_t size;
	const void *ro; /* the reader's read-only mapping */
};

/* A ring of SLOTS slots of W x H, and a read-only mapping of it through a
 * read-only fd, as a capture client would have. */
static void ring_open(struct ring *r, uint32_t nslots)
{
	char path[64];
	int rofd;
	void *m;

	r->size = capture_ring_bytes(nslots, W, H);
	assert_true(r->size > 0);
	r->fd = memfd_create("screenshot-test", MFD_CLOEXEC);
	assert_true(r->fd >= 0);
	assert_int_equal(ftruncate(r->fd, (off_t)r->size), 0);
	assert_int_equal(capture_init(&r->c, r->fd, nslots, W, H, NULL, 0), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->fd);
	rofd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(rofd >= 0);
	m = mmap(NULL, r->size, PROT_READ, MAP_SHARED, rofd, 0);
	assert_true(m != MAP_FAILED);
	close(rofd);
	r->ro = m;
}

static void ring_close(struct ring *r)
{
	munmap((void *)r->ro, r->size);
	capture_destroy(&r->c);
	close(r->fd);
}

/* Frame k's pixel (x, y) as a 32-bit word; its top byte (alpha or x) is
 * noise that the PNG must not show. */
static uint32_t word(uint32_t k, uint32_t x, uint32_t y)
{
	uint32_t v = (k + 1) * 0x9e3779b1u ^ (x * 0x85ebca6bu) ^ (y * 0xc2b2ae35u);

	return v ^ v >> 15;
}

/* Publish frame k (w x h, from a source with a wider stride) on scanout. */
static int64_t publish(struct ring *r, uint32_t scanout, uint32_t fourcc, uint32_t k, uint32_t w,
		       uint32_t h)
{
	const uint32_t spx = w + 5;
	uint32_t *src = calloc((size_t)spx * h, 4);
	int64_t serial;

	assert_non_null(src);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			src[y * spx + x] = word(k, x, y);
	serial = capture_publish(&r->c, scanout, fourcc, w, h, spx * 4, (const uint8_t *)src, NULL,
				 0);
	free(src);
	assert_true(serial > 0);
	return serial;
}

/* What frame k's pixel should be in the PNG. */
static void want_rgb(uint8_t *rgb, uint32_t fourcc, uint32_t k, uint32_t x, uint32_t y)
{
	uint32_t v = word(k, x, y);
	bool bgr = fourcc == DRM_FORMAT_XBGR8888 || fourcc == DRM_FORMAT_ABGR8888;

	rgb[0] = (uint8_t)(bgr ? v : v >> 16);
	rgb[1] = (uint8_t)(v >> 8);
	rgb[2] = (uint8_t)(bgr ? v >> 16 : v);
}

/* Decode a PNG with libspng: an 8-bit RGB image of w x h, into a malloc'd
 * buffer of w * h * 3. */
static uint8_t *decode(const uint8_t *png, size_t len, uint32_t w, uint32_t h)
{
	spng_ctx *ctx = spng_ctx_new(0);
	struct spng_ihdr ihdr;
	size_t out_len;
	uint8_t *out;

	assert_non_null(ctx);
	assert_int_equal(spng_set_png_buffer(ctx, png, len), 0);
	assert_int_equal(spng_get_ihdr(ctx, &ihdr), 0);
	assert_int_equal(ihdr.width, w);
	assert_int_equal(ihdr.height, h);
	assert_int_equal(ihdr.bit_depth, 8);
	assert_int_equal(ihdr.color_type, SPNG_COLOR_TYPE_TRUECOLOR);
	assert_int_equal(spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &out_len), 0);
	assert_int_equal(out_len, (size_t)w * h * 3);
	out = malloc(out_len);
	assert_non_null(out);
	assert_int_equal(spng_decode_image(ctx, out, out_len, SPNG_FMT_RGB8, 0), 0);
	spng_ctx_free(ctx);
	return out;
}

/* Take a screenshot that must succeed, decoded. */
static uint8_t *shoot(struct ring *r, const struct screenshot_opts *o, uint32_t w, uint32_t h)
{
	char err[128] = "";
	uint8_t *png = NULL, *rgb;
	size_t len = 0;
	int e = screenshot_png(r->ro, r->size, o, &png, &len, err, sizeof(err));

	if (e != 0)
		fprintf(stderr, "screenshot_png: %d %s\n", e, err);
	assert_int_equal(e, 0);
	assert_non_null(png);
	assert_true(len > 8);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	rgb = decode(png, len, w, h);
	free(png);
	return rgb;
}

/* A screenshot that must fail with want; the message must say something. */
static void shoot_fails(const void *map, size_t size, const struct screenshot_opts *o, int want)
{
	char err[128] = "";
	uint8_t *png = (uint8_t *)"untouched";
	size_t len = 7;

	assert_int_equal(screenshot_png(map, size, o, &png, &len, err, sizeof(err)), want);
	assert_string_equal((const char *)png, "untouched");
	assert_true(strlen(err) > 0);
}

/* The decoded image (cw x ch) against frame k's part at (cx, cy). */
static void check_frame(const uint8_t *rgb, uint32_t fourcc, uint32_t k, uint32_t cx, uint32_t cy,
			uint32_t cw, uint32_t ch)
{
	for (uint32_t y = 0; y < ch; y++)
		for (uint32_t x = 0; x < cw; x++) {
			uint8_t want[3];

			want_rgb(want, fourcc, k, cx + x, cy + y);
			if (memcmp(rgb + ((size_t)y * cw + x) * 3, want, 3) != 0) {
				fprintf(stderr, "pixel (%u, %u) differs\n", x, y);
				fail();
			}
		}
}

static void test_fourccs(void **state)
{
	static const uint32_t fourccs[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888,
					   DRM_FORMAT_XBGR8888, DRM_FORMAT_ABGR8888};
	struct ring r;

	(void)state;
	ring_open(&r, SLOTS);
	for (uint32_t i = 0; i < 4; i++) {
		uint8_t *rgb;

		publish(&r, 0, fourccs[i], i, W, H);
		rgb = shoot(&r, &(struct screenshot_opts){.scanout = 0}, W, H);
		check_frame(rgb, fourccs[i], i, 0, 0, W, H);
		free(rgb);
	}
	/* A frame smaller than the ring's geometry. */
	publish(&r, 0, DRM_FORMAT_XRGB8888, 9, 5, 3);
	{
		uint8_t *rgb = shoot(&r, &(struct screenshot_opts){0}, 5, 3);

		check_frame(rgb, DRM_FORMAT_XRGB8888, 9, 0, 0, 5, 3);
		free(rgb);
	}
	ring_close(&r);
}

static void test_crop(void **state)
{
	static const struct screenshot_rect crops[] = {
		{0, 0, W, H},	  {10, 7, 20, 9},   {W - 1, H - 1, 1, 1},
		{0, H - 3, W, 3}, {W - 4, 0, 4, H},
	};
	struct ring r;

	(void)state;
	ring_open(&r, SLOTS);
	publish(&r, 0, DRM_FORMAT_ABGR8888, 3, W, H);
	for (size_t i = 0; i < sizeof(crops) / sizeof(crops[0]); i++) {
		const struct screenshot_rect *c = &crops[i];
		uint8_t *rgb = shoot(&r, &(struct screenshot_opts){.crop = *c}, c->w, c->h);

		check_frame(rgb, DRM_FORMAT_ABGR8888, 3, c->x, c->y, c->w, c->h);
		free(rgb);
	}
	ring_close(&r);
}

static void test_bad_crop(void **state)
{
	static const struct screenshot_rect bad[] = {
		{0, 0, W + 1, H},      {0, 0, W, H + 1},      {W, 0, 1, 1},
		{0, H, 1, 1},	       {1, 0, W, 1},	      {0, 1, 1, H},
		{UINT32_MAX, 0, 2, 1}, {0, UINT32_MAX, 1, 2}, {0, 0, 1, 0},
		{5, 5, UINT32_MAX, 1},
	};
	struct ring r;

	(void)state;
	ring_open(&r, SLOTS);
	publish(&r, 0, DRM_FORMAT_XRGB8888, 0, W, H);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		shoot_fails(r.ro, r.size, &(struct screenshot_opts){.crop = bad[i]}, -ERANGE);
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.scanout = 4}, -EINVAL);
	{
		uint8_t *png;
		size_t len;

		assert_int_equal(screenshot_png(r.ro, r.size, NULL, &png, &len, NULL, 0), -EINVAL);
		assert_int_equal(screenshot_png(NULL, r.size, &(struct screenshot_opts){0}, &png,
						&len, NULL, 0),
				 -EINVAL);
		/* A mapping not 8-aligned is refused by the reader. */
		assert_int_equal(screenshot_png((const uint8_t *)r.ro + 1, r.size - 1,
						&(struct screenshot_opts){0}, &png, &len, NULL, 0),
				 -EINVAL);
	}
	ring_close(&r);
}

/* A cursor image with every kind of pixel: transparent, opaque, and
 * premultiplied partial alpha (color <= alpha). */
static uint32_t cursor_px(uint32_t x, uint32_t y)
{
	uint32_t a = (x * 4 + y * 3) % 256, c = a ? (x * 7 + y) % (a + 1) : 0;

	if ((x + y) % 5 == 0)
		return 0;
	return a << 24 | c << 16 | (a - c / 2) << 8 | c / 3;
}

/* Premultiplied over, in floating point: the reference for the blend. */
static uint8_t over_ref(uint32_t fg, uint32_t bg, uint32_t a)
{
	return (uint8_t)lround(fmin(255.0, fg + bg * (255.0 - a) / 255.0));
}

/* The expected image: frame k's part (cx, cy, cw, ch) with the cursor's top
 * left at (ox, oy) in the frame blended in. */
static void check_cursor(const uint8_t *rgb, uint32_t fourcc, uint32_t k, uint32_t cx, uint32_t cy,
			 uint32_t cw, uint32_t ch, int64_t ox, int64_t oy, uint32_t *ncovered)
{
	*ncovered = 0;
	for (uint32_t y = 0; y < ch; y++)
		for (uint32_t x = 0; x < cw; x++) {
			int64_t ix = (int64_t)cx + x - ox, iy = (int64_t)cy + y - oy;
			uint8_t want[3];

			want_rgb(want, fourcc, k, cx + x, cy + y);
			if (ix >= 0 && ix < 64 && iy >= 0 && iy < 64) {
				uint32_t p = cursor_px((uint32_t)ix, (uint32_t)iy), a = p >> 24;

				want[0] = over_ref(p >> 16 & 0xff, want[0], a);
				want[1] = over_ref(p >> 8 & 0xff, want[1], a);
				want[2] = over_ref(p & 0xff, want[2], a);
				(*ncovered)++;
			}
			if (memcmp(rgb + ((size_t)y * cw + x) * 3, want, 3) != 0) {
				fprintf(stderr, "pixel (%u, %u) differs\n", x, y);
				fail();
			}
		}
}

static void test_cursor(void **state)
{
	static uint32_t img[64 * 64];
	const struct screenshot_opts with = {.cursor = true};
	uint32_t covered;
	struct ring r;
	uint8_t *rgb;

	(void)state;
	for (uint32_t y = 0; y < 64; y++)
		for (uint32_t x = 0; x < 64; x++)
			img[y * 64 + x] = cursor_px(x, y);
	ring_open(&r, SLOTS);
	/* No cursor update yet: asking for it draws nothing. */
	publish(&r, 0, DRM_FORMAT_XRGB8888, 1, W, H);
	rgb = shoot(&r, &with, W, H);
	check_frame(rgb, DRM_FORMAT_XRGB8888, 1, 0, 0, W, H);
	free(rgb);

	/* Hotspot (5, 7) at (20, 9): the image's top left at (15, 2). */
	capture_cursor(&r.c, img, 5, 7, 20, 9, 0, true);
	rgb = shoot(&r, &with, W, H);
	check_cursor(rgb, DRM_FORMAT_XRGB8888, 1, 0, 0, W, H, 15, 2, &covered);
	assert_int_equal(covered, (W - 15) * (H - 2));
	free(rgb);
	/* Not asked for, hidden, or on another scanout: the frame alone. */
	rgb = shoot(&r, &(struct screenshot_opts){.cursor = false}, W, H);
	check_frame(rgb, DRM_FORMAT_XRGB8888, 1, 0, 0, W, H);
	free(rgb);
	capture_cursor(&r.c, NULL, 5, 7, 20, 9, 1, true);
	rgb = shoot(&r, &with, W, H);
	check_frame(rgb, DRM_FORMAT_XRGB8888, 1, 0, 0, W, H);
	free(rgb);
	capture_cursor(&r.c, NULL, 5, 7, 20, 9, 0, false);
	rgb = shoot(&r, &with, W, H);
	check_frame(rgb, DRM_FORMAT_XRGB8888, 1, 0, 0, W, H);
	free(rgb);

	/* With a crop: only the part inside it, in the crop's coordinates;
	 * and over a BGR frame. */
	publish(&r, 0, DRM_FORMAT_ABGR8888, 2, W, H);
	capture_cursor(&r.c, NULL, 5, 7, 20, 9, 0, true);
	rgb = shoot(&r, &(struct screenshot_opts){.cursor = true, .crop = {30, 10, 20, 20}}, 20,
		    20);
	check_cursor(rgb, DRM_FORMAT_ABGR8888, 2, 30, 10, 20, 20, 15, 2, &covered);
	assert_int_equal(covered, 20 * 20);
	free(rgb);
	ring_close(&r);
}

/* The cursor partly off the frame on each side, and far off it (positions
 * at the ends of int32: nothing may wrap). */
static void test_cursor_offscreen(void **state)
{
	static uint32_t img[64 * 64];
	static const struct {
		int32_t x, y;
		uint32_t covered;
	} pos[] = {
		{-20, -30, (64 - 20 - 5) * (64 - 30 - 7)}, /* top left: hotspot (5, 7) */
		{W - 10, H - 3, (10 + 5) * (3 + 7)},	   /* bottom right */
		{-68, 10, 0},				   /* just left of it */
		{W + 5, 10, 0},				   /* just right of it */
		{INT32_MIN, INT32_MIN, 0},
		{INT32_MAX, INT32_MAX, 0},
		{INT32_MIN, 10, 0},
	};
	struct ring r;

	(void)state;
	for (uint32_t y = 0; y < 64; y++)
		for (uint32_t x = 0; x < 64; x++)
			img[y * 64 + x] = cursor_px(x, y);
	ring_open(&r, SLOTS);
	publish(&r, 0, DRM_FORMAT_XRGB8888, 4, W, H);
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		uint32_t covered;
		uint8_t *rgb;

		capture_cursor(&r.c, img, 5, 7, pos[i].x, pos[i].y, 0, true);
		rgb = shoot(&r, &(struct screenshot_opts){.cursor = true}, W, H);
		check_cursor(rgb, DRM_FORMAT_XRGB8888, 4, 0, 0, W, H, (int64_t)pos[i].x - 5,
			     (int64_t)pos[i].y - 7, &covered);
		assert_int_equal(covered, pos[i].covered);
		free(rgb);
	}
	ring_close(&r);
}

static void test_two_scanouts(void **state)
{
	struct ring r;
	uint8_t *rgb;

	(void)state;
	ring_open(&r, SLOTS);
	publish(&r, 0, DRM_FORMAT_XRGB8888, 10, W, H);
	publish(&r, 1, DRM_FORMAT_XBGR8888, 11, 30, 20);
	publish(&r, 0, DRM_FORMAT_ARGB8888, 12, W, H);
	/* Each scanout its own latest frame, whichever is the ring's latest. */
	rgb = shoot(&r, &(struct screenshot_opts){.scanout = 0}, W, H);
	check_frame(rgb, DRM_FORMAT_ARGB8888, 12, 0, 0, W, H);
	free(rgb);
	rgb = shoot(&r, &(struct screenshot_opts){.scanout = 1}, 30, 20);
	check_frame(rgb, DRM_FORMAT_XBGR8888, 11, 0, 0, 30, 20);
	free(rgb);
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.scanout = 2}, -ENOENT);
	/* A crop inside scanout 0's frame but not scanout 1's. */
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.scanout = 1, .crop = {25, 0, 10, 1}},
		    -ERANGE);
	/* Scanout 0's frames push scanout 1's out of the three slots: with
	 * serials 2 (scanout 1), 3 and 4 in them it is still there; 5 takes
	 * its slot. */
	publish(&r, 0, DRM_FORMAT_XRGB8888, 13, W, H);
	rgb = shoot(&r, &(struct screenshot_opts){.scanout = 1}, 30, 20);
	check_frame(rgb, DRM_FORMAT_XBGR8888, 11, 0, 0, 30, 20);
	free(rgb);
	publish(&r, 0, DRM_FORMAT_XRGB8888, 15, W, H);
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.scanout = 1}, -ENOENT);
	rgb = shoot(&r, &(struct screenshot_opts){.scanout = 0}, W, H);
	check_frame(rgb, DRM_FORMAT_XRGB8888, 15, 0, 0, W, H);
	free(rgb);
	ring_close(&r);
}

static void test_no_frame(void **state)
{
	struct ring r;

	(void)state;
	ring_open(&r, SLOTS);
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){0}, -ENOENT);
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.cursor = true}, -ENOENT);
	/* A cursor alone is no frame. */
	capture_cursor(&r.c, NULL, 0, 0, 1, 1, 0, true);
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.cursor = true}, -ENOENT);
	ring_close(&r);
}

/* The ring as the writer's own mapping sees it: what a compromised gpu
 * process may scribble. */
static struct cellvm_capture_slot *slot_of(struct ring *r, uint64_t serial)
{
	return (struct cellvm_capture_slot *)((uint8_t *)r->c.hdr + r->c.slots_offset +
					      (serial % r->c.nslots) * r->c.slot_size);
}

static void test_hostile(void **state)
{
	struct cellvm_capture_header *h, saved;
	struct cellvm_capture_slot *s, ssaved;
	struct cellvm_capture_cursor *cur;
	const struct screenshot_opts o = {0};
	struct ring r;
	int64_t serial;
	uint8_t *rgb;

	(void)state;
	ring_open(&r, SLOTS);
	serial = publish(&r, 0, DRM_FORMAT_XRGB8888, 20, W, H);
	h = r.c.hdr;
	saved = *h;

	/* The header: not a ring, another version, bad geometry. */
	h->magic = 0;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	h->version = 2;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	h->nslots = 0;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	h->nslots = 1000;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	h->max_width = CELLVM_CAPTURE_MAX_DIM;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	h->slots_offset = UINT64_MAX - 7;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	h->frame_serial = UINT64_MAX;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*h = saved;
	/* A mapping smaller than the ring says it is. */
	shoot_fails(r.ro, r.size - 4096, &o, -EPROTO);
	shoot_fails(r.ro, 100, &o, -EPROTO);

	/* A consistent slot whose contents are nonsense. */
	s = slot_of(&r, (uint64_t)serial);
	ssaved = *s;
	s->width = W + 1;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*s = ssaved;
	s->stride = 4;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*s = ssaved;
	s->stride = UINT32_MAX;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*s = ssaved;
	s->fourcc = DRM_FORMAT_RGB565;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*s = ssaved;
	s->ndamage = 0;
	shoot_fails(r.ro, r.size, &o, -EPROTO);
	*s = ssaved;
	/* A slot left mid-write (odd seq): no frame to take. */
	s->seq = 2 * (uint64_t)serial - 1;
	shoot_fails(r.ro, r.size, &o, -ENOENT);
	*s = ssaved;
	/* A stride wider than the frame (within the slot) is read as one. */
	{
		struct cellvm_capture_slot *sl = s;
		uint32_t *px = (uint32_t *)((uint8_t *)sl + r.c.pixels_offset);

		sl->width = 10;
		sl->height = 4;
		sl->stride = W * 4;
		sl->damage[0] = (struct cellvm_capture_rect){0, 0, 10, 4};
		rgb = shoot(&r, &o, 10, 4);
		for (uint32_t y = 0; y < 4; y++)
			for (uint32_t x = 0; x < 10; x++) {
				uint32_t v = px[y * W + x];

				assert_int_equal(rgb[(y * 10 + x) * 3], (v >> 16) & 0xff);
				assert_int_equal(rgb[(y * 10 + x) * 3 + 2], v & 0xff);
			}
		free(rgb);
		*s = ssaved;
	}

	/* A cursor the reader refuses fails a screenshot that asks for it,
	 * not one that does not. */
	capture_cursor(&r.c, NULL, 0, 0, 1, 1, 0, true);
	cur = (struct cellvm_capture_cursor *)((uint8_t *)h + r.c.cursor_offset);
	cur->visible = 7;
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.cursor = true}, -EPROTO);
	rgb = shoot(&r, &o, W, H);
	check_frame(rgb, DRM_FORMAT_XRGB8888, 20, 0, 0, W, H);
	free(rgb);
	cur->visible = 1;
	cur->hot_x = 64;
	shoot_fails(r.ro, r.size, &(struct screenshot_opts){.cursor = true}, -EPROTO);
	cur->hot_x = 0;
	/* A cursor whose colors exceed its alpha (not premultiplied) saturates
	 * instead of wrapping: white over anything stays white. */
	memset(cur->image, 0, sizeof(cur->image));
	for (int i = 0; i < 64 * 64; i++)
		cur->image[i] = 0x10ffffffu;
	rgb = shoot(&r, &(struct screenshot_opts){.cursor = true}, W, H);
	for (uint32_t y = 0; y < 64 && y + 1 < H; y++)
		for (uint32_t x = 0; x < 64 && x + 1 < W; x++)
			assert_memory_equal(rgb + ((size_t)(y + 1) * W + x + 1) * 3, "\xff\xff\xff",
					    3);
	free(rgb);
	ring_close(&r);
}

/* A writer in another process publishing as fast as it can (each frame one
 * color, naming its serial) while screenshots are taken: each screenshot is
 * one whole frame, never a mix; the writer may win a try (-EAGAIN). */
static void test_concurrent_writer(void **state)
{
	struct ring r;
	uint32_t ok = 0, again = 0;
	struct timespec t0, t;
	pid_t pid;

	(void)state;
	ring_open(&r, 2);
	/* Frame 1 from here: there is always a frame to take. */
	publish(&r, 0, DRM_FORMAT_XRGB8888, 0, W, H);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static uint32_t px[W * H];

		for (uint32_t k = 1;; k++) {
			uint32_t v = (k * 0x01010101u) & 0xffffff;

			for (uint32_t i = 0; i < W * H; i++)
				px[i] = v | (uint32_t)(i << 24);
			if (capture_publish(&r.c, 0, DRM_FORMAT_XRGB8888, W, H, W * 4,
					    (const uint8_t *)px, NULL, 0) < 0)
				_exit(1);
		}
	}
	/* Start once the writer runs (its first frame is serial 2): a bounded
	 * wait on the ring itself. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (cellvm_capture_latest(r.ro, r.size) < 2) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		assert_true(t.tv_sec - t0.tv_sec < 10);
	}
	for (int i = 0; i < 300; i++) {
		char err[128];
		uint8_t *png = NULL, *rgb;
		size_t len;
		int e = screenshot_png(r.ro, r.size, &(struct screenshot_opts){0}, &png, &len, err,
				       sizeof(err));

		if (e == -EAGAIN) {
			again++;
			continue; /* the writer won every try */
		}
		assert_int_equal(e, 0);
		rgb = decode(png, len, W, H);
		for (uint32_t p = 1; p < W * H; p++)
			assert_memory_equal(rgb + p * 3, rgb, 3);
		free(rgb);
		free(png);
		ok++;
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	fprintf(stderr, "concurrent writer: %u whole screenshots, %u lost to the writer\n", ok,
		again);
	assert_true(ok > 0);
	ring_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fourccs),		  cmocka_unit_test(test_crop),
		cmocka_unit_test(test_bad_crop),	  cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_cursor_offscreen),  cmocka_unit_test(test_two_scanouts),
		cmocka_unit_test(test_no_frame),	  cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_concurrent_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
