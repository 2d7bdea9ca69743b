/* Host presentation of cellvm-dev-gpu on a real DRM/KMS device: the launcher's
 * gpu_opt parses "1024x768,present=/dev/dri/cardN" and opens the node, the
 * real process is started by the launcher (sandboxed as in production) with
 * the ring and the node, the harness (test/harness/vgpu.h) plays the core
 * and the guest's virtio-gpu driver, and what the CRTC scans out is read
 * back through a second open of the node (drmModeGetCrtc -> the
 * framebuffer -> drmModeGetFB2's handle -> MAP_DUMB and mmap; root, so the
 * handle is given) and compared pixel for pixel with the guest's frames;
 * the cursor plane likewise, where the device has one. Needs a KMS device:
 * exits 77 without /dev/dri/card*; it is in the kvm tier, whose emulated
 * host has one (scripts/kvm-host.sh: QEMU's virtio-gpu). "hostile" runs
 * the refusals alone (no device needed: the host tier): present= paths
 * that are not DRM devices, and a device handed a non-DRM fd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "dev-procs/gpu/gpu_cmd.h"
#include "launcher/gpu_opt.h"
#include "launcher/launcher.h"
#include "launcher/launcher_dev.h"
#include "test/harness/vgpu.h"

#define GP_TIMEOUT_MS 10000
#define GP_MEM_SIZE   (64ULL << 20)
#define GP_CURSOR_HX  5
#define GP_CURSOR_HY  7
#define GP_RES_FRAME  1
#define GP_RES_BGR    2
#define GP_RES_CURSOR 3

static struct vgpu T;
static struct gpu_opt O;
static uint32_t gp_w, gp_h; /* the guest's scanout, as the test started it */
static char card[32];	    /* the node under test, "" where there is none */

static uint64_t gp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the fixture: vgpu_start with the launcher's GpuConfig and backends ---- */

/* vgpu_start builds its own GpuConfig; this one takes gc and the backend
 * fds as the launcher hands them over (launcher_dev.c's gpu row), the rest
 * as vgpu_start does. The fds stay the caller's. */
static int gp_start(struct vgpu *t, Cellvm__Device__GpuConfig *gc, const int *fds, size_t nfds,
		    char *err, size_t errlen)
{
	struct device_config cfg = {.kind = "gpu", .gpu = gc};
	int r;

	memset(t, 0, sizeof(*t));
	t->ring_fd = t->stats_fd = -1;
	for (int i = 0; i < VGPU_MAX_EFDS; i++)
		t->efd[i] = -1;
	t->qsize = 64;
	for (size_t i = 0; i < nfds; i++)
		cfg.backend_fds[cfg.nbackend++] = fds[i];
	r = vgpu_launch(t, &cfg, GP_MEM_SIZE, err, errlen);
	if (r < 0)
		(void)vgpu_stop(t);
	return r;
}

/* The device as `cellvm run --gpu WxH,present=CARD` starts it. */
static void gp_start_present(uint32_t w, uint32_t h)
{
	char opt[64], err[256];
	int fds[2], r;

	gp_w = w;
	gp_h = h;
	snprintf(opt, sizeof(opt), "%ux%u,present=%s", w, h, card);
	assert_int_equal(gpu_opt_parse(opt, &O, err, sizeof(err)), 0);
	r = gpu_opt_open(&O, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "gpu_opt_open: %s\n", err);
	assert_int_equal(r, 0);
	assert_int_equal(O.cfg.present_fd_index, GPU_OPT_PRESENT_INDEX);
	fds[0] = O.ring_fd;
	fds[GPU_OPT_PRESENT_INDEX] = O.present_fd;
	r = gp_start(&T, &O.cfg, fds, 2, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "device start: %s\n", err);
	assert_int_equal(r, 0);
}

static int teardown(void **state)
{
	int status = 0;

	(void)state;
	if (T.started)
		status = vgpu_stop(&T);
	gpu_opt_close(&O);
	if (status != 0) {
		fprintf(stderr, "device exit status %d\n", status);
		return -1;
	}
	return 0;
}

/* ---- reading the scanout back ---- */

struct gp_scan {
	int fd; /* our own open of the node: not master, root */
	uint32_t crtc_id, crtc_index, cursor_plane;
	uint32_t prop_crtc_x, prop_crtc_y; /* the cursor plane's properties */
};

static struct gp_scan S = {.fd = -1};

/* The CRTC the device drives: the first connected connector's (the device
 * picks that connector, and its encoder now drives that CRTC). */
static void gp_scan_open(void)
{
	drmModeRes *res;
	drmModePlaneRes *pr;

	S.fd = open(card, O_RDWR | O_CLOEXEC);
	assert_true(S.fd >= 0);
	/* Cursor planes, and their CRTC_X/Y, are shown to atomic clients. */
	assert_int_equal(drmSetClientCap(S.fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);
	assert_int_equal(drmSetClientCap(S.fd, DRM_CLIENT_CAP_ATOMIC, 1), 0);
	res = drmModeGetResources(S.fd);
	assert_non_null(res);
	for (int i = 0; i < res->count_connectors && !S.crtc_id; i++) {
		drmModeConnector *c = drmModeGetConnector(S.fd, res->connectors[i]);
		drmModeEncoder *e;

		if (c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0) {
			e = drmModeGetEncoder(S.fd, c->encoder_id);
			assert_non_null(e);
			S.crtc_id = e->crtc_id;
			drmModeFreeEncoder(e);
		}
		drmModeFreeConnector(c);
	}
	assert_true(S.crtc_id != 0);
	for (int i = 0; i < res->count_crtcs; i++)
		if (res->crtcs[i] == S.crtc_id)
			S.crtc_index = (uint32_t)i;
	drmModeFreeResources(res);
	pr = drmModeGetPlaneResources(S.fd);
	assert_non_null(pr);
	for (uint32_t i = 0; i < pr->count_planes && !S.cursor_plane; i++) {
		drmModePlane *pl = drmModeGetPlane(S.fd, pr->planes[i]);
		drmModeObjectProperties *props;
		bool cursor = false;
		uint32_t px = 0, py = 0;

		if (!pl)
			continue;
		props = drmModeObjectGetProperties(S.fd, pl->plane_id, DRM_MODE_OBJECT_PLANE);
		for (uint32_t k = 0; props && k < props->count_props; k++) {
			drmModePropertyRes *p = drmModeGetProperty(S.fd, props->props[k]);

			if (!p)
				continue;
			if (strcmp(p->name, "type") == 0)
				cursor = props->prop_values[k] == DRM_PLANE_TYPE_CURSOR;
			if (strcmp(p->name, "CRTC_X") == 0)
				px = p->prop_id;
			if (strcmp(p->name, "CRTC_Y") == 0)
				py = p->prop_id;
			drmModeFreeProperty(p);
		}
		drmModeFreeObjectProperties(props);
		if (cursor && (pl->possible_crtcs & (1U << S.crtc_index))) {
			S.cursor_plane = pl->plane_id;
			S.prop_crtc_x = px;
			S.prop_crtc_y = py;
		}
		drmModeFreePlane(pl);
	}
	drmModeFreePlaneResources(pr);
}

static void gp_scan_close(void)
{
	if (S.fd >= 0)
		close(S.fd);
	S = (struct gp_scan){.fd = -1};
}

/* The pixels of framebuffer fb_id, copied into *ret (malloc'ed, width x
 * height XRGB/ARGB words). False when there is no framebuffer. */
static bool gp_read_fb(uint32_t fb_id, uint32_t **ret, uint32_t *w, uint32_t *h)
{
	struct drm_mode_map_dumb m = {0};
	struct drm_gem_close gc = {0};
	drmModeFB2 *fb;
	uint8_t *map;
	size_t size;

	if (!fb_id)
		return false;
	fb = drmModeGetFB2(S.fd, fb_id);
	assert_non_null(fb);
	/* Root outside the master gets the handle (CAP_SYS_ADMIN). */
	assert_true(fb->handles[0] != 0);
	*w = fb->width;
	*h = fb->height;
	size = (size_t)fb->pitches[0] * fb->height;
	m.handle = fb->handles[0];
	assert_int_equal(drmIoctl(S.fd, DRM_IOCTL_MODE_MAP_DUMB, &m), 0);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, S.fd, (off_t)m.offset);
	assert_true(map != MAP_FAILED);
	*ret = malloc((size_t)*w * *h * 4);
	assert_non_null(*ret);
	for (uint32_t y = 0; y < *h; y++)
		memcpy(*ret + (size_t)y * *w, map + (size_t)y * fb->pitches[0], (size_t)*w * 4);
	munmap(map, size);
	gc.handle = fb->handles[0];
	(void)drmIoctl(S.fd, DRM_IOCTL_GEM_CLOSE, &gc);
	drmModeFreeFB2(fb);
	return true;
}

/* What the guest's pixel (x, y) of frame k is, as RGB. */
static uint32_t pattern(uint32_t x, uint32_t y, uint32_t k)
{
	return (x * 7 + k * 40) % 256 << 16 | (y * 3 + k * 90) % 256 << 8 |
	       ((x ^ y) + k * 17) % 256;
}

/* Does the CRTC scan out frame k: the guest's gp_w x gp_h at the top
 * left, cropped to the mode, black elsewhere (the X byte is not shown:
 * RGB compared)? Prints the first difference when verbose. */
static bool gp_scanout_is(uint32_t k, bool verbose)
{
	drmModeCrtc *c = drmModeGetCrtc(S.fd, S.crtc_id);
	uint32_t *px = NULL, w = 0, h = 0;
	bool ok;

	assert_non_null(c);
	ok = gp_read_fb(c->buffer_id, &px, &w, &h);
	if (ok && (w != c->mode.hdisplay || h != c->mode.vdisplay))
		ok = false;
	drmModeFreeCrtc(c);
	for (uint32_t y = 0; ok && y < h; y++) {
		for (uint32_t x = 0; ok && x < w; x++) {
			uint32_t want = x < gp_w && y < gp_h ? pattern(x, y, k) : 0;

			if ((px[(size_t)y * w + x] & 0xffffff) != want) {
				if (verbose)
					fprintf(stderr, "frame %u: (%u, %u) is %06x, not %06x\n", k,
						x, y, px[(size_t)y * w + x] & 0xffffff, want);
				ok = false;
			}
		}
	}
	free(px);
	return ok;
}

/* Wait until cond holds: after each look, a round trip through the device
 * (GET_DISPLAY_INFO), whose loop takes the node's flip events in turn, so a
 * frame held back behind a pending flip gets its chance. Bounded. */
static bool gp_wait(bool (*cond)(uint32_t), uint32_t arg)
{
	uint64_t end = gp_now_ms() + GP_TIMEOUT_MS;

	while (!cond(arg)) {
		if (gp_now_ms() >= end)
			return false;
		assert_int_equal(vgpu_serving(&T), 0);
	}
	return true;
}

static bool gp_frame_shown(uint32_t k)
{
	return gp_scanout_is(k, false);
}

/* ---- the guest's side ---- */

/* Write frame k into resource id's backing at addr (gp_w x gp_h, in virtio
 * format fmt's byte order) and transfer it. */
static void gp_fill(uint32_t id, uint32_t fmt, uint64_t addr, uint32_t k)
{
	uint8_t *p = vgpu_host(&T, addr, (uint64_t)gp_w * gp_h * 4);

	for (uint32_t y = 0; y < gp_h; y++) {
		for (uint32_t x = 0; x < gp_w; x++) {
			uint32_t v = pattern(x, y, k);
			uint8_t *q = p + ((size_t)y * gp_w + x) * 4;

			if (fmt == VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM) { /* bytes B G R x */
				vgpu_put32(q, 0xff000000u | v);
			} else { /* R8G8B8X8: bytes R G B x */
				q[0] = (uint8_t)(v >> 16);
				q[1] = (uint8_t)(v >> 8);
				q[2] = (uint8_t)v;
				q[3] = 0xff;
			}
		}
	}
	assert_int_equal(vgpu_transfer(&T, id, 0, 0, gp_w, gp_h, 0), VIRTIO_GPU_RESP_OK_NODATA);
}

/* Resource id, gp_w x gp_h of virtio format fmt, backed by one piece of
 * guest RAM; returns its address. */
static uint64_t gp_resource(uint32_t id, uint32_t fmt)
{
	uint32_t len = gp_w * gp_h * 4;
	uint64_t a = vdrv_alloc(&T.mem, len, 4096);

	assert_int_equal(vgpu_create(&T, id, fmt, gp_w, gp_h), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_attach(&T, id, &a, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	return a;
}

/* ---- tests ---- */

/* Frames: set scanout shows one; a flush, then at once a set scanout of a
 * resource in the other byte order (swapped on the way), which comes while
 * the flush's flip is pending: dropped, then shown as the newest when the
 * flip completes; then a flush of the same resource. */
static void test_present_frames(void **state)
{
	uint64_t a, b;

	(void)state;
	gp_start_present(1024, 768);
	gp_scan_open();
	a = gp_resource(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, a, 0);
	assert_int_equal(vgpu_set_scanout(&T, 0, GP_RES_FRAME, 0, 0, gp_w, gp_h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	if (!gp_wait(gp_frame_shown, 0))
		assert_true(gp_scanout_is(0, true));

	b = gp_resource(GP_RES_BGR, VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM);
	gp_fill(GP_RES_BGR, VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, b, 2);
	gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, a, 1);
	assert_int_equal(vgpu_flush(&T, GP_RES_FRAME, 0, 0, gp_w, gp_h), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, GP_RES_BGR, 0, 0, gp_w, gp_h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	if (!gp_wait(gp_frame_shown, 2))
		assert_true(gp_scanout_is(2, true));

	gp_fill(GP_RES_BGR, VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, b, 3);
	assert_int_equal(vgpu_flush(&T, GP_RES_BGR, 0, 0, gp_w, gp_h), VIRTIO_GPU_RESP_OK_NODATA);
	if (!gp_wait(gp_frame_shown, 3))
		assert_true(gp_scanout_is(3, true));
	assert_int_equal(vgpu_serving(&T), 0);
	gp_scan_close();
}

/* A guest scanout larger than the host's mode (1600x1000 on the emulated
 * host's 1280x800): its top-left part is shown, cut at the mode's edges,
 * not scaled (a larger mode shows it whole, black around it). */
static void test_present_crop(void **state)
{
	uint64_t a;

	(void)state;
	gp_start_present(1600, 1000);
	gp_scan_open();
	a = gp_resource(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, a, 10);
	assert_int_equal(vgpu_set_scanout(&T, 0, GP_RES_FRAME, 0, 0, gp_w, gp_h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	if (!gp_wait(gp_frame_shown, 10))
		assert_true(gp_scanout_is(10, true));
	gp_scan_close();
}

/* The cursor plane's state: its framebuffer's 64x64 top-left pixels in px
 * (ARGB), its position. False when it shows nothing. */
static bool gp_cursor_read(uint32_t *px, int64_t *x, int64_t *y)
{
	drmModePlane *pl = drmModeGetPlane(S.fd, S.cursor_plane);
	drmModeObjectProperties *props;
	uint32_t *all = NULL, w = 0, h = 0;
	bool ok;

	assert_non_null(pl);
	ok = gp_read_fb(pl->fb_id, &all, &w, &h);
	drmModeFreePlane(pl);
	if (!ok)
		return false;
	assert_true(w >= GPU_CURSOR_DIM && h >= GPU_CURSOR_DIM);
	for (uint32_t r = 0; r < GPU_CURSOR_DIM; r++)
		memcpy(px + r * GPU_CURSOR_DIM, all + (size_t)r * w, GPU_CURSOR_DIM * 4);
	free(all);
	props = drmModeObjectGetProperties(S.fd, S.cursor_plane, DRM_MODE_OBJECT_PLANE);
	assert_non_null(props);
	for (uint32_t k = 0; k < props->count_props; k++) {
		if (props->props[k] == S.prop_crtc_x)
			*x = (int64_t)props->prop_values[k];
		if (props->props[k] == S.prop_crtc_y)
			*y = (int64_t)props->prop_values[k];
	}
	drmModeFreeObjectProperties(props);
	return true;
}

static uint32_t cursor_px(uint32_t x, uint32_t y)
{
	/* Opaque and clear parts, and a cross: alpha is the X byte. */
	uint32_t a = (x + y) % 3 == 0 ? 0 : 0xff;

	return a << 24 | (x * 4) << 16 | (y * 4) << 8 | (x == y ? 0xff : 0x20);
}

/* What the cursor should be: visible at (x, y) less the hotspot, or not. */
static int32_t want_x, want_y;
static bool want_visible;

static bool gp_cursor_is(uint32_t verbose)
{
	static uint32_t px[GPU_CURSOR_DIM * GPU_CURSOR_DIM];
	int64_t x = INT64_MIN, y = INT64_MIN;
	bool shown = gp_cursor_read(px, &x, &y);

	if (!want_visible)
		return !shown;
	if (!shown || x != want_x || y != want_y) {
		if (verbose)
			fprintf(stderr, "cursor: shown %d at (%lld, %lld), not at (%d, %d)\n",
				shown, (long long)x, (long long)y, want_x, want_y);
		return false;
	}
	for (uint32_t r = 0; r < GPU_CURSOR_DIM; r++) {
		for (uint32_t c = 0; c < GPU_CURSOR_DIM; c++) {
			if (px[r * GPU_CURSOR_DIM + c] != cursor_px(c, r)) {
				if (verbose)
					fprintf(stderr, "cursor (%u, %u) is %08x, not %08x\n", c, r,
						px[r * GPU_CURSOR_DIM + c], cursor_px(c, r));
				return false;
			}
		}
	}
	return true;
}

/* The guest's cursor on the CRTC's cursor plane: its image (ARGB, the X
 * byte of B8G8R8X8 as alpha, as Linux draws it), the pointer less the
 * hotspot as the plane's position, a move, hidden. */
static void test_present_cursor(void **state)
{
	uint32_t len = GPU_CURSOR_DIM * GPU_CURSOR_DIM * 4;
	uint8_t *img;
	uint64_t a, fa;

	(void)state;
	gp_start_present(1024, 768);
	gp_scan_open();
	if (!S.cursor_plane) {
		gp_scan_close();
		skip(); /* the frames were checked; this device has no cursor plane */
	}
	fa = gp_resource(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, fa, 4);
	assert_int_equal(vgpu_set_scanout(&T, 0, GP_RES_FRAME, 0, 0, gp_w, gp_h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	a = vdrv_alloc(&T.mem, len, 4096);
	img = vgpu_host(&T, a, len);
	for (uint32_t y = 0; y < GPU_CURSOR_DIM; y++)
		for (uint32_t x = 0; x < GPU_CURSOR_DIM; x++)
			vgpu_put32(img + (y * GPU_CURSOR_DIM + x) * 4, cursor_px(x, y));
	assert_int_equal(vgpu_create(&T, GP_RES_CURSOR, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
				     GPU_CURSOR_DIM, GPU_CURSOR_DIM),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_attach(&T, GP_RES_CURSOR, &a, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_transfer(&T, GP_RES_CURSOR, 0, 0, GPU_CURSOR_DIM, GPU_CURSOR_DIM, 0),
			 VIRTIO_GPU_RESP_OK_NODATA);

	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 100, 50, GP_RES_CURSOR,
				     GP_CURSOR_HX, GP_CURSOR_HY),
			 0);
	want_visible = true;
	want_x = 100 - GP_CURSOR_HX;
	want_y = 50 - GP_CURSOR_HY;
	if (!gp_wait(gp_cursor_is, 0))
		assert_true(gp_cursor_is(1));

	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 300, 200, 0, 0, 0), 0);
	want_x = 300 - GP_CURSOR_HX;
	want_y = 200 - GP_CURSOR_HY;
	if (!gp_wait(gp_cursor_is, 0))
		assert_true(gp_cursor_is(1));

	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 300, 200, 0, 0, 0), 0);
	want_visible = false;
	assert_true(gp_wait(gp_cursor_is, 0));
	/* The frame under it is still the guest's. */
	assert_true(gp_scanout_is(4, true));
	gp_scan_close();
}

/* The device loses DRM master (we drop it for its file: the launcher's fd
 * is the same open file): it logs once and stops presenting for good, even
 * once master is back; the guest notices nothing. */
static void test_present_master_lost(void **state)
{
	uint64_t a;

	(void)state;
	gp_start_present(1024, 768);
	gp_scan_open();
	a = gp_resource(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, a, 5);
	assert_int_equal(vgpu_set_scanout(&T, 0, GP_RES_FRAME, 0, 0, gp_w, gp_h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	if (!gp_wait(gp_frame_shown, 5))
		assert_true(gp_scanout_is(5, true));

	assert_int_equal(drmDropMaster(O.present_fd), 0);
	for (uint32_t k = 6; k < 9; k++) {
		gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, a, k);
		assert_int_equal(vgpu_flush(&T, GP_RES_FRAME, 0, 0, gp_w, gp_h),
				 VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 10, 10, 0, 0, 0),
				 0);
		assert_int_equal(vgpu_serving(&T), 0);
	}
	/* Master back: the device has stopped, and stays stopped. */
	assert_int_equal(drmSetMaster(O.present_fd), 0);
	gp_fill(GP_RES_FRAME, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, a, 9);
	assert_int_equal(vgpu_flush(&T, GP_RES_FRAME, 0, 0, gp_w, gp_h), VIRTIO_GPU_RESP_OK_NODATA);
	for (int i = 0; i < 20; i++)
		assert_int_equal(vgpu_serving(&T), 0);
	for (uint32_t k = 6; k < 10; k++)
		assert_false(gp_scanout_is(k, false));
	gp_scan_close();
}

/* ---- hostile (no KMS device needed) ---- */

/* present= that is not a DRM device: refused by the launcher, with a
 * message naming it; nothing left open. */
static void test_opt_refuses(void **state)
{
	char path[] = "/tmp/test_gpu_present.XXXXXX", opt[96], err[256];
	const struct {
		const char *path;
		int r;
	} cases[] = {{"/dev/null", -ENODEV}, {path, -ENODEV}, {"/nonexistent/card0", -ENOENT}};
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(opt, sizeof(opt), "1024x768,present=%s", cases[i].path);
		assert_int_equal(gpu_opt_parse(opt, &O, err, sizeof(err)), 0);
		assert_int_equal(gpu_opt_open(&O, err, sizeof(err)), cases[i].r);
		fprintf(stderr, "refused as expected: %s\n", err);
		assert_non_null(strstr(err, cases[i].path));
		if (cases[i].r == -ENODEV)
			assert_non_null(strstr(err, "not a DRM device"));
		assert_int_equal(O.present_fd, -1);
		assert_int_equal(O.ring_fd, -1);
	}
	unlink(path);
	/* Not an absolute path; a scanout that is not there; a bad suffix. */
	assert_int_equal(gpu_opt_parse("1024x768,present=card0", &O, err, sizeof(err)), -EINVAL);
	assert_int_equal(gpu_opt_parse("1024x768,present=/dev/dri/card0:1", &O, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(gpu_opt_parse("1024x768,present=/dev/dri/card0:x", &O, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(gpu_opt_parse("1024x768,present=", &O, err, sizeof(err)), -EINVAL);
	assert_int_equal(
		gpu_opt_parse("1024x768,800x600,present=/dev/dri/card0:1", &O, err, sizeof(err)),
		0);
	assert_int_equal(O.present_scanout, 1);
	assert_string_equal(O.present_path, "/dev/dri/card0");
}

/* A broker's VM (a jail: its definition is a tenant's) may not name a host
 * device; refused before anything is opened, as the user's fault. */
static void test_broker_refused(void **state)
{
	struct launcher_jail jail = {.uid = 70000, .gid = 70000, .cgroup_fd = -1};
	struct launcher_dev d = {.kind = LAUNCHER_DEV_GPU, .gpu = &O, .jail = &jail};
	enum vm_exit ex = VM_EXIT_RUNNING;
	char err[256];

	(void)state;
	assert_int_equal(gpu_opt_parse("1024x768,present=/dev/null", &O, err, sizeof(err)), 0);
	assert_int_equal(launcher_dev_open(&d, err, sizeof(err), &ex), -EPERM);
	fprintf(stderr, "refused as expected: %s\n", err);
	assert_non_null(strstr(err, "cellvm run only"));
	assert_int_equal(ex, VM_EXIT_BAD_INPUT);
	assert_int_equal(O.present_fd, -1);
	assert_int_equal(O.ring_fd, -1);
}

/* The device checks what the launcher sent: a node that is not a DRM
 * device, an index past the backends, a scanout that is not there. Each
 * setup is refused: the process exits before Ready. */
static void test_device_refuses(void **state)
{
	Cellvm__Device__GpuConfig gc = CELLVM__DEVICE__GPU_CONFIG__INIT;
	char err[256];
	int fds[2];

	(void)state;
	assert_int_equal(gpu_opt_parse("1024x768", &O, err, sizeof(err)), 0);
	assert_int_equal(gpu_opt_open(&O, err, sizeof(err)), 0);
	gc = O.cfg;
	fds[0] = O.ring_fd;
	fds[1] = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(fds[1] >= 0);

	gc.present_fd_index = 1;
	assert_true(gp_start(&T, &gc, fds, 2, err, sizeof(err)) < 0);
	fprintf(stderr, "/dev/null as the node: refused: %s\n", err);
	assert_non_null(strstr(err, "failed to start")); /* it ran, and said no */
	gc.present_fd_index = 2;
	assert_true(gp_start(&T, &gc, fds, 2, err, sizeof(err)) < 0);
	fprintf(stderr, "index past the backends: refused: %s\n", err);
	assert_non_null(strstr(err, "failed to start"));
	gc.present_fd_index = 1;
	gc.present_scanout = 1;
	assert_true(gp_start(&T, &gc, fds, 2, err, sizeof(err)) < 0);
	fprintf(stderr, "scanout 1 of 1: refused: %s\n", err);
	assert_non_null(strstr(err, "failed to start"));
	/* The same backends without presentation: /dev/null is then an
	 * eventfd the device never reads; it starts (the control case). */
	close(fds[1]);
	fds[1] = O.ring_fd;
	gc.present_fd_index = 0;
	gc.present_scanout = 0;
	assert_int_equal(gp_start(&T, &gc, fds, 1, err, sizeof(err)), 0);
	assert_int_equal(vgpu_serving(&T), 0);
}

/* Can we present on card: a KMS device with a connected connector, whose
 * DRM master nobody holds (a running compositor does)? Says why not. */
static bool gp_card_usable(const char **why)
{
	int fd = open(card, O_RDWR | O_CLOEXEC);
	drmModeRes *res;
	bool connected = false;

	if (fd < 0) {
		*why = "cannot be opened";
		return false;
	}
	if (!drmIsMaster(fd)) {
		*why = "another program is its DRM master (a compositor?)";
		close(fd);
		return false;
	}
	res = drmModeGetResources(fd);
	for (int i = 0; res && i < res->count_connectors && !connected; i++) {
		drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);

		connected = c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0;
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	close(fd);
	*why = connected ? NULL : "no KMS output with a connected connector";
	return connected;
}

/* The first /dev/dri/cardN we can present on; each one passed over is
 * named. */
static bool gp_find_card(void)
{
	for (int i = 0; i < 16; i++) {
		const char *why;
		struct stat st;

		snprintf(card, sizeof(card), "/dev/dri/card%d", i);
		if (stat(card, &st) != 0 || !S_ISCHR(st.st_mode))
			continue;
		if (gp_card_usable(&why))
			return true;
		printf("%s: %s\n", card, why);
	}
	card[0] = '\0';
	return false;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest present[] = {
		cmocka_unit_test_teardown(test_present_frames, teardown),
		cmocka_unit_test_teardown(test_present_crop, teardown),
		cmocka_unit_test_teardown(test_present_cursor, teardown),
		cmocka_unit_test_teardown(test_present_master_lost, teardown),
	};
	const struct CMUnitTest hostile[] = {
		cmocka_unit_test_teardown(test_opt_refuses, teardown),
		cmocka_unit_test_teardown(test_broker_refused, teardown),
		cmocka_unit_test_teardown(test_device_refuses, teardown),
	};

	gpu_opt_init(&O);
	if (argc > 1 && strcmp(argv[1], "hostile") == 0)
		return cmocka_run_group_tests(hostile, NULL, NULL);
	if (geteuid() != 0) {
		printf("SKIP: needs root (the sandbox, and the scanout's buffer handles)\n");
		return 77;
	}
	if (!gp_find_card()) {
		printf("SKIP: no DRM/KMS device (/dev/dri/card*) to present on here\n");
		return 77;
	}
	printf("presenting on %s\n", card);
	return cmocka_run_group_tests(present, NULL, NULL);
}
