/* Host presentation of cellvm-dev-gpu through libdrm; see present.h. Runs
 * in the gpu process: present_open before the sandbox (the node's
 * resources, dumb buffers, their mappings and the first modeset), the rest
 * inside it, where seccomp allows exactly the four ioctls used below
 * (PAGE_FLIP, SETCRTC, CURSOR, CURSOR2: sandbox/policy_gpu.c) and the
 * read() of the node's events. The frames come from the model (checked
 * there); what the node answers is the kernel's. */
#include "dev-procs/gpu/present.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <xf86drm.h>

#include "common/log.h"

/* ---- setup (before the sandbox) ---- */

static int present_buf_make(struct present *p, struct present_buf *b, uint32_t w, uint32_t h,
			    bool fb)
{
	struct drm_mode_create_dumb c = {.width = w, .height = h, .bpp = 32};
	struct drm_mode_map_dumb m = {0};
	void *map;
	int r;

	if (drmIoctl(p->fd, DRM_IOCTL_MODE_CREATE_DUMB, &c) < 0)
		return -errno;
	b->handle = c.handle;
	b->pitch = c.pitch;
	b->size = c.size;
	if (fb) {
		/* depth 24, 32 bits per pixel: XRGB8888 */
		r = drmModeAddFB(p->fd, w, h, 24, 32, b->pitch, b->handle, &b->fb_id);
		if (r < 0)
			return r;
	}
	m.handle = b->handle;
	if (drmIoctl(p->fd, DRM_IOCTL_MODE_MAP_DUMB, &m) < 0)
		return -errno;
	map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, (off_t)m.offset);
	if (map == MAP_FAILED)
		return -errno;
	b->map = map;
	memset(b->map, 0, b->size);
	return 0;
}

static void present_buf_free(struct present *p, struct present_buf *b)
{
	struct drm_mode_destroy_dumb d = {.handle = b->handle};

	if (b->map)
		munmap(b->map, b->size);
	if (b->fb_id)
		drmModeRmFB(p->fd, b->fb_id);
	if (b->handle)
		(void)drmIoctl(p->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
	*b = (struct present_buf){0};
}

/* A CRTC the connector's encoders can drive: the one already driving it
 * first. 0 when there is none. */
static uint32_t present_pick_crtc(int fd, const drmModeRes *res, const drmModeConnector *c)
{
	uint32_t crtc = 0;

	for (int i = 0; i < c->count_encoders && !crtc; i++) {
		drmModeEncoder *e = drmModeGetEncoder(fd, c->encoders[i]);

		if (!e)
			continue;
		if (e->encoder_id == c->encoder_id && e->crtc_id)
			crtc = e->crtc_id;
		for (int k = 0; k < res->count_crtcs && !crtc; k++)
			if (e->possible_crtcs & (1U << k))
				crtc = res->crtcs[k];
		drmModeFreeEncoder(e);
	}
	return crtc;
}

/* The first connected connector with a mode, its preferred mode, a CRTC. */
static int present_pick(struct present *p, char *err, size_t errlen)
{
	drmModeRes *res = drmModeGetResources(p->fd);
	int r = -ENODEV;

	if (!res) {
		r = errno ? -errno : -ENODEV;
		snprintf(err, errlen, "no KMS resources (%s): not a modesetting device",
			 strerror(-r));
		return r;
	}
	for (int i = 0; i < res->count_connectors && r < 0; i++) {
		drmModeConnector *c = drmModeGetConnector(p->fd, res->connectors[i]);
		int best = 0;

		if (!c)
			continue;
		if (c->connection == DRM_MODE_CONNECTED && c->count_modes > 0) {
			for (int k = 0; k < c->count_modes; k++)
				if (c->modes[k].type & DRM_MODE_TYPE_PREFERRED) {
					best = k;
					break;
				}
			p->crtc_id = present_pick_crtc(p->fd, res, c);
			if (p->crtc_id) {
				p->conn_id = c->connector_id;
				p->mode = c->modes[best];
				p->width = p->mode.hdisplay;
				p->height = p->mode.vdisplay;
				r = 0;
			}
		}
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	if (r < 0)
		snprintf(err, errlen, "no connected connector with a mode and a CRTC");
	return r;
}

int present_open(struct present *p, int fd, char *err, size_t errlen)
{
	uint64_t cap = 0;
	struct stat st;
	int r;

	*p = (struct present){.fd = -1};
	/* UNTRUSTED(launcher): a peer's fd; it must be a DRM node. */
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != PRESENT_DRM_MAJOR) {
		snprintf(err, errlen, "not a DRM device (a character device of major %d)",
			 PRESENT_DRM_MAJOR);
		return -ENODEV;
	}
	p->fd = fd;
	if (drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &cap) < 0 || !cap) {
		snprintf(err, errlen, "the DRM device has no dumb buffers");
		r = -ENOTSUP;
		goto fail;
	}
	r = present_pick(p, err, errlen);
	if (r < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		r = present_buf_make(p, &p->buf[i], p->width, p->height, true);
		if (r < 0) {
			snprintf(err, errlen, "a %ux%u dumb buffer: %s", p->width, p->height,
				 strerror(-r));
			goto fail;
		}
	}
	/* The first modeset, showing black; it needs DRM master, which the
	 * launcher's open gave us unless someone else (a compositor) has it. */
	r = drmModeSetCrtc(fd, p->crtc_id, p->buf[0].fb_id, 0, 0, &p->conn_id, 1, &p->mode);
	if (r < 0) {
		snprintf(err, errlen, "setting %ux%u on CRTC %u: %s%s", p->width, p->height,
			 p->crtc_id, strerror(-r),
			 r == -EACCES || r == -EPERM ? " (another program is DRM master)" : "");
		goto fail;
	}
	/* The cursor plane's buffer: of the device's cursor size (at least
	 * 64x64), and only where the CRTC has a cursor (hiding it answers
	 * ENXIO where not). */
	p->cursor_w = drmGetCap(fd, DRM_CAP_CURSOR_WIDTH, &cap) == 0 && cap >= GPU_CURSOR_DIM
			      ? (uint32_t)cap
			      : GPU_CURSOR_DIM;
	p->cursor_h = drmGetCap(fd, DRM_CAP_CURSOR_HEIGHT, &cap) == 0 && cap >= GPU_CURSOR_DIM
			      ? (uint32_t)cap
			      : GPU_CURSOR_DIM;
	if (drmModeSetCursor(fd, p->crtc_id, 0, 0, 0) == 0 &&
	    present_buf_make(p, &p->cursor, p->cursor_w, p->cursor_h, false) == 0)
		p->have_cursor = true;
	else
		present_buf_free(p, &p->cursor);
	p->on = true;
	return 0;

fail:
	present_close(p);
	return r;
}

void present_close(struct present *p)
{
	if (p->fd < 0)
		return;
	present_buf_free(p, &p->cursor);
	for (int i = 0; i < 2; i++)
		present_buf_free(p, &p->buf[i]);
	p->on = false;
	p->fd = -1;
}

/* ---- frames (in the sandbox) ---- */

/* Log once and stop: the guest goes on as before. */
static void present_fail(struct present *p, const char *what, int r)
{
	log_warn("host presentation stopped: %s: %s%s, after %llu frames (%llu dropped behind a "
		 "flip)",
		 what, strerror(-r), r == -EACCES || r == -EPERM ? " (DRM master lost)" : "",
		 (unsigned long long)p->frames, (unsigned long long)p->drops);
	p->on = false;
	p->flip_pending = false;
}

/* The frame into b: its top-left part that fits, black to the right of it
 * and below it. The ring's four formats: xRGB as they are, xBGR swapped. */
static void present_copy(const struct present *p, struct present_buf *b, const struct gpu_frame *f)
{
	const uint32_t w = f->width < p->width ? f->width : p->width;
	const uint32_t h = f->height < p->height ? f->height : p->height;
	const bool bgr = f->fourcc == DRM_FORMAT_XBGR8888 || f->fourcc == DRM_FORMAT_ABGR8888;

	for (uint32_t y = 0; y < p->height; y++) {
		uint8_t *row = b->map + (uint64_t)y * b->pitch;
		const uint8_t *src = f->pixels + (uint64_t)y * f->stride;

		if (y >= h) {
			memset(row, 0, (size_t)p->width * 4);
			continue;
		}
		if (!bgr) {
			memcpy(row, src, (size_t)w * 4);
		} else {
			uint32_t *d = (uint32_t *)(void *)row;

			for (uint32_t x = 0; x < w; x++)
				d[x] = gpu_res_argb(f->fourcc, src + x * 4);
		}
		memset(row + (size_t)w * 4, 0, (size_t)(p->width - w) * 4);
	}
}

static void present_flip_done(int fd, unsigned int seq, unsigned int sec, unsigned int usec,
			      void *data)
{
	struct present *p = data;

	(void)fd, (void)seq, (void)sec, (void)usec;
	p->flip_pending = false;
}

static void present_cursor_apply(struct present *p);

void present_frame(struct present *p, const struct gpu_frame *f)
{
	const uint32_t back = p->front ^ 1;
	int r = -EINVAL;

	if (!p->on)
		return;
	if (p->flip_pending) {
		/* Never wait for the vblank: the newest frame follows the flip. */
		p->stale = true;
		p->drops++;
		return;
	}
	present_copy(p, &p->buf[back], f);
	if (!p->use_setcrtc) {
		r = drmModePageFlip(p->fd, p->crtc_id, p->buf[back].fb_id, DRM_MODE_PAGE_FLIP_EVENT,
				    p);
		if (r == 0) {
			p->flip_pending = true;
			p->front = back;
			p->frames++;
			return;
		}
		if (r == -EBUSY) {
			/* A commit not ours still running (ours has signalled
			 * its event): no event will come for this one, so the
			 * frame is dropped and the next one tries again. */
			p->drops++;
			return;
		}
		if (r != -EINVAL && r != -ENOSYS) {
			present_fail(p, "page flip", r);
			return;
		}
		log_info("host presentation: no page flips on this device: mode sets instead");
		p->use_setcrtc = true;
	}
	r = drmModeSetCrtc(p->fd, p->crtc_id, p->buf[back].fb_id, 0, 0, &p->conn_id, 1, &p->mode);
	if (r < 0) {
		present_fail(p, "mode set", r);
		return;
	}
	p->front = back;
	p->frames++;
	if (p->cursor_dirty)
		present_cursor_apply(p);
}

bool present_event(struct present *p)
{
	drmEventContext ev = {.version = 2, .page_flip_handler = present_flip_done};
	bool stale;

	if (!p->on)
		return false;
	if (drmHandleEvent(p->fd, &ev) < 0) {
		present_fail(p, "reading events", errno ? -errno : -EIO);
		return false;
	}
	if (p->flip_pending)
		return false;
	if (p->cursor_dirty)
		present_cursor_apply(p);
	stale = p->stale;
	p->stale = false;
	return stale && p->on;
}

/* ---- the cursor ---- */

/* What the guest last asked for, onto the cursor plane. */
static void present_cursor_apply(struct present *p)
{
	int r = 0;

	p->cursor_dirty = false;
	if (!p->cur_visible) {
		if (p->cursor_shown)
			r = drmModeSetCursor(p->fd, p->crtc_id, 0, 0, 0);
		p->cursor_shown = false;
	} else if (p->cursor_image || !p->cursor_shown) {
		r = drmModeSetCursor2(p->fd, p->crtc_id, p->cursor.handle, p->cursor_w, p->cursor_h,
				      (int)p->hot_x, (int)p->hot_y);
		p->cursor_image = false;
		p->cursor_shown = r == 0;
	}
	/* The plane's top-left corner: the pointer less the hotspot. */
	if (r == 0 && p->cursor_shown)
		r = drmModeMoveCursor(p->fd, p->crtc_id, p->cur_x - (int32_t)p->hot_x,
				      p->cur_y - (int32_t)p->hot_y);
	if (r == -EACCES || r == -EPERM || r == -ENODEV || r == -EIO) {
		present_fail(p, "cursor", r);
	} else if (r < 0) {
		log_warn("host presentation: cursor: %s: showing none", strerror(-r));
		p->have_cursor = false;
	}
}

void present_cursor(struct present *p, const uint32_t *argb, uint32_t hot_x, uint32_t hot_y,
		    int32_t x, int32_t y, bool visible)
{
	if (!p->on || !p->have_cursor)
		return;
	if (argb) {
		for (uint32_t row = 0; row < p->cursor_h; row++) {
			uint8_t *d = p->cursor.map + (uint64_t)row * p->cursor.pitch;

			memset(d, 0, (size_t)p->cursor_w * 4);
			if (row < GPU_CURSOR_DIM)
				memcpy(d, argb + row * GPU_CURSOR_DIM, GPU_CURSOR_DIM * 4);
		}
		p->cursor_image = true;
	}
	p->hot_x = hot_x;
	p->hot_y = hot_y;
	p->cur_x = x;
	p->cur_y = y;
	p->cur_visible = visible;
	p->cursor_dirty = true;
	/* A cursor update behind a pending flip would wait for it. */
	if (!p->flip_pending)
		present_cursor_apply(p);
}
