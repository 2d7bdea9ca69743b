/* The capture ring into the screen: the newest frame of our scanout becomes
 * the framebuffer (resized when its size changes, converted from its fourcc
 * to the screen's 32-bit format), only its damage marked modified unless
 * frames were missed; the ring's cursor becomes the screen's cursor (shape,
 * hotspot, position; hidden when invisible or on another scanout). Runs in
 * cellvm-display. UNTRUSTED(gpu process): the ring, read only through the
 * checked helpers of proto/capture_ring.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "display/display.h"
#include "proto/capture_ring.h"

/* How many serials back we look for the newest frame of our scanout. */
#define DISPLAY_FB_LOOKBACK 64

/* A cursor nobody sees: 1x1, mask empty. Used before the first cursor and
 * while the guest's is hidden. */
static rfbCursorPtr display_fb_blank_cursor(void)
{
	rfbCursorPtr c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->width = c->height = 1;
	c->source = calloc(1, 1);
	c->mask = calloc(1, 1);
	c->foreRed = c->foreGreen = c->foreBlue = 0xffff;
	c->cleanup = c->cleanupSource = c->cleanupMask = TRUE;
	if (!c->source || !c->mask) {
		free(c->source);
		free(c->mask);
		free(c);
		return NULL;
	}
	return c;
}

/* The screen's pixels are XRGB8888 (0x00RRGGBB, little-endian), the
 * format guests' scanouts mostly have: their rows are copied as they are. */
static void display_fb_format(rfbScreenInfoPtr s)
{
	s->serverFormat.redShift = 16;
	s->serverFormat.greenShift = 8;
	s->serverFormat.blueShift = 0;
}

static int display_fb_resize(struct display *dp, uint32_t w, uint32_t h)
{
	uint8_t *fb = calloc((size_t)w * h, 4), *old = dp->fb;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	if (!fb)
		return -ENOMEM;
	/* rfbNewFramebuffer puts libvncserver's default format back (red at
	 * the low byte) and sets each client's translation for it: ours again,
	 * and the translations with it. */
	rfbNewFramebuffer(dp->screen, (char *)fb, (int)w, (int)h, 8, 3, 4);
	display_fb_format(dp->screen);
	it = rfbGetClientIterator(dp->screen);
	while ((cl = rfbClientIteratorNext(it)))
		if (cl->sock != RFB_INVALID_SOCKET)
			rfbSetTranslateFunction(cl);
	rfbReleaseClientIterator(it);
	dp->fb = fb;
	dp->fb_w = w;
	dp->fb_h = h;
	free(old);
	return 0;
}

int display_fb_screen(struct display *dp)
{
	int argc = 1;
	char *argv[] = {(char *)"cellvm-display", NULL};
	rfbCursorPtr blank;

	dp->screen = rfbGetScreen(&argc, argv, 640, 480, 8, 3, 4);
	if (!dp->screen)
		return -ENOMEM;
	dp->fb = calloc(640 * 480, 4);
	if (!dp->fb)
		return -ENOMEM;
	dp->fb_w = 640;
	dp->fb_h = 480;
	dp->screen->frameBuffer = (char *)dp->fb;
	display_fb_format(dp->screen);
	blank = display_fb_blank_cursor();
	if (!blank)
		return -ENOMEM;
	/* Not rfbSetCursor: the default arrow is static, not to be freed. */
	dp->screen->cursor = blank;
	return 0;
}

void display_fb_free(struct display *dp)
{
	free(dp->frame);
	dp->frame = NULL;
}

/* One pixel of the frame (fourcc) as the screen's format wants it. */
static void display_fb_convert(struct display *dp, const struct cellvm_capture_slot *m,
			       const struct cellvm_capture_rect *d)
{
	const rfbPixelFormat *f = &dp->screen->serverFormat;
	bool xrgb = m->fourcc == DRM_FORMAT_XRGB8888 || m->fourcc == DRM_FORMAT_ARGB8888;
	/* The frame's red and blue shifts, and whether that is the screen's
	 * own layout (a row copy then). */
	uint32_t rs = xrgb ? 16 : 0, bs = xrgb ? 0 : 16;
	bool same = f->redShift == rs && f->greenShift == 8 && f->blueShift == bs;

	for (uint32_t y = d->y; y < d->y + d->h; y++) {
		const uint8_t *src = dp->frame + (size_t)y * m->stride + (size_t)d->x * 4;
		uint8_t *dst = dp->fb + ((size_t)y * dp->fb_w + d->x) * 4;

		if (same) {
			memcpy(dst, src, (size_t)d->w * 4);
			continue;
		}
		for (uint32_t x = 0; x < d->w; x++) {
			uint32_t p, o;

			memcpy(&p, src + (size_t)x * 4, 4);
			o = ((p >> rs) & 0xff) << f->redShift | ((p >> 8) & 0xff) << f->greenShift |
			    ((p >> bs) & 0xff) << f->blueShift;
			memcpy(dst + (size_t)x * 4, &o, 4);
		}
	}
}

static bool display_fb_fourcc_ok(uint32_t fourcc)
{
	return fourcc == DRM_FORMAT_XRGB8888 || fourcc == DRM_FORMAT_ARGB8888 ||
	       fourcc == DRM_FORMAT_XBGR8888 || fourcc == DRM_FORMAT_ABGR8888;
}

/* Find the newest frame of our scanout in (last_serial, latest]; exact when
 * every serial in between was seen and is another scanout's (its damage
 * then says all that changed). Returns its serial or 0. */
static uint64_t display_fb_find(struct display *dp, uint64_t latest, bool *ret_exact)
{
	struct cellvm_capture_slot m;
	uint64_t lo = dp->last_serial;
	/* Metadata only: no room for pixels (-ENOSPC says the copy of the
	 * metadata was consistent). Not NULL, for GCC's nonnull analysis. */
	uint8_t none;

	*ret_exact = dp->have_frame;
	if (latest - lo > DISPLAY_FB_LOOKBACK) {
		lo = latest - DISPLAY_FB_LOOKBACK;
		*ret_exact = false;
	}
	for (uint64_t s = latest; s > lo; s--) {
		int r = cellvm_capture_read_frame(dp->ring, dp->ring_size, s, &m, &none, 0);

		if (r != -ENOSPC) {
			*ret_exact = false;
			continue;
		}
		if (m.scanout == dp->scanout) {
			if (s != latest)
				*ret_exact = false; /* the newer ones were others' */
			for (uint64_t t = s - 1; t > lo && *ret_exact; t--) {
				struct cellvm_capture_slot o;
				if (cellvm_capture_read_frame(dp->ring, dp->ring_size, t, &o, &none,
							      0) != -ENOSPC ||
				    o.scanout == dp->scanout)
					*ret_exact = false;
			}
			return s;
		}
	}
	return 0;
}

static int display_fb_frame(struct display *dp)
{
	const struct cellvm_capture_header *h = (const void *)dp->ring;
	struct cellvm_capture_geometry g;
	struct cellvm_capture_slot m;
	struct cellvm_capture_rect full;
	uint64_t latest, created, s;
	bool exact;
	int64_t l;
	int r;

	r = cellvm_capture_geometry_get(dp->ring, dp->ring_size, &g);
	if (r < 0)
		return r;
	created = cellvm_capture_load64(&h->created_ns, memory_order_relaxed);
	if (created != dp->ring_created_ns) {
		/* The gpu process restarted: serials start again. */
		dp->ring_created_ns = created;
		dp->last_serial = 0;
		dp->cursor_serial = 0;
		dp->have_frame = false;
		dp->cursor_shown = false;
	}
	l = cellvm_capture_latest(dp->ring, dp->ring_size);
	if (l < 0)
		return (int)l;
	latest = (uint64_t)l;
	if (latest < dp->last_serial) {
		dp->last_serial = 0; /* went back: start over */
		dp->have_frame = false;
	}
	if (latest == dp->last_serial)
		return 0;
	s = display_fb_find(dp, latest, &exact);
	if (s == 0) {
		dp->last_serial = latest;
		return 0;
	}
	if (g.slot_size - g.pixels_offset > dp->frame_len) {
		uint8_t *f = realloc(dp->frame, g.slot_size - g.pixels_offset);
		if (!f)
			return -ENOMEM;
		dp->frame = f;
		dp->frame_len = g.slot_size - g.pixels_offset;
	}
	r = cellvm_capture_read_frame(dp->ring, dp->ring_size, s, &m, dp->frame, dp->frame_len);
	if (r == 0)
		return 0; /* overwritten as we copied: a newer one wakes us again */
	if (r < 0)
		return r;
	dp->last_serial = latest;
	if (!display_fb_fourcc_ok(m.fourcc)) {
		log_warn("frame %llu: unknown format %#x, skipped", (unsigned long long)s,
			 m.fourcc);
		return 0;
	}
	dp->frames_seen++;
	if (m.width != dp->fb_w || m.height != dp->fb_h) {
		r = display_fb_resize(dp, m.width, m.height);
		if (r < 0)
			return r;
		exact = false;
	}
	full = (struct cellvm_capture_rect){0, 0, m.width, m.height};
	if (!exact) {
		m.ndamage = 1;
		m.damage[0] = full;
	}
	/* The damage was checked against the frame by the reader. */
	for (uint32_t i = 0; i < m.ndamage; i++) {
		const struct cellvm_capture_rect *d = &m.damage[i];

		if (d->w == 0 || d->h == 0)
			continue;
		display_fb_convert(dp, &m, d);
		rfbMarkRectAsModified(dp->screen, (int)d->x, (int)d->y, (int)(d->x + d->w),
				      (int)(d->y + d->h));
	}
	dp->have_frame = true;
	return 0;
}

static rfbCursorPtr display_fb_make_cursor(struct display *dp,
					   const struct cellvm_capture_cursor *cur)
{
	const rfbPixelFormat *f = &dp->screen->serverFormat;
	const int n = CELLVM_CAPTURE_CURSOR_SIZE;
	const size_t stride = (size_t)(n + 7) / 8;
	rfbCursorPtr c = calloc(1, sizeof(*c));

	if (!c)
		goto fail;
	c->width = c->height = (unsigned short)n;
	c->xhot = (unsigned short)cur->hot_x;
	c->yhot = (unsigned short)cur->hot_y;
	c->richSource = malloc((size_t)n * n * 4);
	c->source = calloc(stride * n, 1);
	/* The mask from the alpha channel, here rather than with libvncserver's
	 * rfbMakeMaskFromAlphaSource, which dithers and sets the bit next to
	 * the pixel's (0x100 >> x % 8). */
	c->mask = calloc(stride * n, 1);
	if (!c->richSource || !c->source || !c->mask)
		goto fail;
	for (int i = 0; i < n * n; i++) {
		uint32_t p = cur->image[i], o;
		int y = i / n, x = i % n;

		o = ((p >> 16) & 0xff) << f->redShift | ((p >> 8) & 0xff) << f->greenShift |
		    (p & 0xff) << f->blueShift;
		memcpy(c->richSource + (size_t)i * 4, &o, 4);
		if ((p >> 24) >= 0x80)
			c->mask[y * stride + x / 8] |= (unsigned char)(0x80 >> (x % 8));
		/* The 1-bit source for clients without rich cursors: light pixels. */
		if (((p >> 16) & 0xff) + ((p >> 8) & 0xff) + (p & 0xff) > 3 * 127)
			c->source[y * stride + x / 8] |= (unsigned char)(0x80 >> (x % 8));
	}
	c->foreRed = c->foreGreen = c->foreBlue = 0xffff;
	c->cleanup = c->cleanupSource = c->cleanupMask = c->cleanupRichSource = TRUE;
	return c;
fail:
	if (c) {
		free(c->richSource);
		free(c->source);
		free(c->mask);
		free(c);
	}
	return NULL;
}

static int display_fb_cursor(struct display *dp)
{
	struct cellvm_capture_cursor cur;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	rfbCursorPtr c;
	bool shown;
	int r;

	r = cellvm_capture_read_cursor(dp->ring, dp->ring_size, &cur);
	if (r <= 0)
		return r; /* none yet, or being written: the writer wakes us again */
	if (cur.serial == dp->cursor_serial)
		return 0;
	dp->cursor_serial = cur.serial;
	shown = cur.visible && cur.scanout == dp->scanout;
	/* Most updates only move it: the shape goes out again only when it
	 * changed (or it was hidden or shown). */
	if (shown != dp->cursor_shown ||
	    (shown && (cur.hot_x != dp->cursor_hot_x || cur.hot_y != dp->cursor_hot_y ||
		       memcmp(cur.image, dp->cursor_image, sizeof(cur.image)) != 0))) {
		c = shown ? display_fb_make_cursor(dp, &cur) : display_fb_blank_cursor();
		if (!c)
			return -ENOMEM;
		rfbSetCursor(dp->screen, c);
		dp->cursor_shown = shown;
		dp->cursor_hot_x = cur.hot_x;
		dp->cursor_hot_y = cur.hot_y;
		memcpy(dp->cursor_image, cur.image, sizeof(cur.image));
	}
	/* The position (the hotspot's), for clients with the PointerPos
	 * pseudo-encoding and for drawing it into the frames of the others. */
	dp->screen->cursorX = cur.x;
	dp->screen->cursorY = cur.y;
	it = rfbGetClientIterator(dp->screen);
	while ((cl = rfbClientIteratorNext(it)))
		if (cl->enableCursorPosUpdates)
			cl->cursorWasMoved = TRUE;
	rfbReleaseClientIterator(it);
	return 0;
}

int display_fb_update(struct display *dp)
{
	int r = display_fb_frame(dp);

	if (r < 0)
		return r;
	return display_fb_cursor(dp);
}
