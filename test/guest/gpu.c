/* cellvm-check-gpu: the test guest's display check, through the kernel's own
 * virtio-gpu driver. Prints the kernel's lines about it (fb0 bound to
 * virtio_gpudrmfb), then, as the host asks on stdin (one word per line):
 *   shot    the console is on screen (fbcon): nothing to do but answer
 *   draw    take the display as DRM master: a dumb buffer of the connector's
 *           preferred mode filled with gpu_pattern(), set on the CRTC and
 *           flushed, and a 64x64 ARGB cursor (gpu_cursor_pixel()) with its
 *           hotspot at CURSOR_HOT, moved to CURSOR_X0, CURSOR_Y0
 *   move    move the cursor to CURSOR_X1, CURSOR_Y1
 *   done    exit 0
 * Output lines:
 *   CELLVM-KMSG <a kernel log line about virtio_gpu or fb0>
 *   CELLVM-GPU ready                         (waiting for the first word)
 *   CELLVM-GPU shot
 *   CELLVM-GPU drawn <w>x<h> pitch=<bytes>
 *   CELLVM-GPU moved <x>,<y>
 * The host (test/guest/guest_check.py, check gpu) computes the same pattern
 * and compares the capture ring with it pixel for pixel. Runs in the guest;
 * statically linked; DRM through its ioctls (libdrm's copies of the uapi
 * headers). */
#include <errno.h>
#include <fcntl.h>
#include <libdrm/drm.h>
#include <libdrm/drm_mode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"

#define CURSOR_SIZE	64
#define CURSOR_HOT_X	5
#define CURSOR_HOT_Y	7
#define CURSOR_X0	100
#define CURSOR_Y0	120
#define CURSOR_X1	300
#define CURSOR_Y1	200
#define FOURCC_XRGB8888 0x34325258u /* 'X' 'R' '2' '4' */

/* The screen's pixel at (x, y), XRGB8888 (X 0). guest_check.py has it too. */
static uint32_t gpu_pattern(uint32_t x, uint32_t y)
{
	uint32_t r = (x * 3 + y) & 0xff, g = ((y * 5) ^ x) & 0xff, b = ((x + y * 7) >> 2) & 0xff;

	return r << 16 | g << 8 | b;
}

/* The cursor's pixel, ARGB8888: an opaque left part and a clear stripe
 * (0: the same whether alpha is taken as premultiplied or not). */
static uint32_t gpu_cursor_pixel(uint32_t x, uint32_t y)
{
	return x < 48 ? 0xffu << 24 | (x * 4) << 16 | (y * 4) << 8 | 0x40 : 0;
}

static void die(const char *what)
{
	printf("CELLVM-GPU error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die(what);
}

/* The kernel's lines about virtio-gpu and fb0 (fb0: virtio_gpudrmfb). */
static void print_kmsg(void)
{
	static const char *const words[] = {"virtio_gpu", "virtio-gpu", "fb0", "[drm]", NULL};

	guest_print_kmsg(words);
}

struct dumb {
	uint32_t handle, pitch;
	uint64_t size;
	uint8_t *map;
};

static void dumb_create(int fd, uint32_t w, uint32_t h, struct dumb *d)
{
	struct drm_mode_create_dumb c = {.width = w, .height = h, .bpp = 32};
	struct drm_mode_map_dumb m = {0};
	void *p;

	xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c, "CREATE_DUMB");
	m.handle = c.handle;
	xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &m, "MAP_DUMB");
	p = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)m.offset);
	if (p == MAP_FAILED)
		die("mmap of the dumb buffer");
	d->handle = c.handle;
	d->pitch = c.pitch;
	d->size = c.size;
	d->map = p;
}

struct display {
	int fd;
	uint32_t crtc, connector, fb;
	struct drm_mode_modeinfo mode;
	struct dumb screen, cursor;
};

/* The first connected connector, its preferred mode and a CRTC for it. */
static void display_find(struct display *d)
{
	struct drm_mode_card_res res = {0};
	uint32_t conns[8], crtcs[8], encs[8];

	xioctl(d->fd, DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
	if (res.count_connectors == 0 || res.count_crtcs == 0 || res.count_connectors > 8 ||
	    res.count_crtcs > 8 || res.count_encoders > 8) {
		errno = ENODEV;
		die("resources");
	}
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.encoder_id_ptr = (uintptr_t)encs;
	res.count_fbs = 0;
	xioctl(d->fd, DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
	for (uint32_t i = 0; i < res.count_connectors; i++) {
		struct drm_mode_get_connector c = {.connector_id = conns[i]};
		struct drm_mode_modeinfo modes[32];

		xioctl(d->fd, DRM_IOCTL_MODE_GETCONNECTOR, &c, "GETCONNECTOR");
		if (c.connection != 1 || c.count_modes == 0)
			continue;
		c.count_modes = c.count_modes > 32 ? 32 : c.count_modes;
		c.modes_ptr = (uintptr_t)modes;
		c.count_props = 0;
		c.count_encoders = 0;
		xioctl(d->fd, DRM_IOCTL_MODE_GETCONNECTOR, &c, "GETCONNECTOR");
		d->connector = conns[i];
		d->mode = modes[0];
		for (uint32_t m = 0; m < c.count_modes; m++)
			if (modes[m].type & DRM_MODE_TYPE_PREFERRED) {
				d->mode = modes[m];
				break;
			}
		d->crtc = crtcs[0];
		return;
	}
	errno = ENODEV;
	die("no connected connector");
}

static void display_draw(struct display *d)
{
	uint32_t w = d->mode.hdisplay, h = d->mode.vdisplay;
	struct drm_mode_fb_cmd2 fb = {.width = w, .height = h, .pixel_format = FOURCC_XRGB8888};
	struct drm_mode_crtc set = {0};
	struct drm_mode_fb_dirty_cmd dirty = {0};
	struct drm_mode_cursor2 cur = {0};

	dumb_create(d->fd, w, h, &d->screen);
	for (uint32_t y = 0; y < h; y++) {
		uint32_t *row = (uint32_t *)(d->screen.map + (size_t)y * d->screen.pitch);

		for (uint32_t x = 0; x < w; x++)
			row[x] = gpu_pattern(x, y);
	}
	fb.handles[0] = d->screen.handle;
	fb.pitches[0] = d->screen.pitch;
	xioctl(d->fd, DRM_IOCTL_MODE_ADDFB2, &fb, "ADDFB2");
	d->fb = fb.fb_id;
	set.crtc_id = d->crtc;
	set.fb_id = d->fb;
	set.set_connectors_ptr = (uintptr_t)&d->connector;
	set.count_connectors = 1;
	set.mode = d->mode;
	set.mode_valid = 1;
	xioctl(d->fd, DRM_IOCTL_MODE_SETCRTC, &set, "SETCRTC");
	/* The whole buffer to the host (virtio-gpu: transfer and flush). */
	dirty.fb_id = d->fb;
	xioctl(d->fd, DRM_IOCTL_MODE_DIRTYFB, &dirty, "DIRTYFB");

	dumb_create(d->fd, CURSOR_SIZE, CURSOR_SIZE, &d->cursor);
	for (uint32_t y = 0; y < CURSOR_SIZE; y++) {
		uint32_t *row = (uint32_t *)(d->cursor.map + (size_t)y * d->cursor.pitch);

		for (uint32_t x = 0; x < CURSOR_SIZE; x++)
			row[x] = gpu_cursor_pixel(x, y);
	}
	cur.flags = DRM_MODE_CURSOR_BO;
	cur.crtc_id = d->crtc;
	cur.width = CURSOR_SIZE;
	cur.height = CURSOR_SIZE;
	cur.handle = d->cursor.handle;
	cur.hot_x = CURSOR_HOT_X;
	cur.hot_y = CURSOR_HOT_Y;
	xioctl(d->fd, DRM_IOCTL_MODE_CURSOR2, &cur, "CURSOR2 (image)");
	memset(&cur, 0, sizeof(cur));
	cur.flags = DRM_MODE_CURSOR_MOVE;
	cur.crtc_id = d->crtc;
	cur.x = CURSOR_X0;
	cur.y = CURSOR_Y0;
	xioctl(d->fd, DRM_IOCTL_MODE_CURSOR2, &cur, "CURSOR2 (move)");
	printf("CELLVM-GPU drawn %ux%u pitch=%u\n", w, h, d->screen.pitch);
}

static void display_move(struct display *d)
{
	struct drm_mode_cursor2 cur = {
		.flags = DRM_MODE_CURSOR_MOVE, .crtc_id = d->crtc, .x = CURSOR_X1, .y = CURSOR_Y1};

	xioctl(d->fd, DRM_IOCTL_MODE_CURSOR2, &cur, "CURSOR2 (move)");
	printf("CELLVM-GPU moved %d,%d\n", CURSOR_X1, CURSOR_Y1);
}

int main(void)
{
	struct display d = {.fd = -1};
	char word[32];

	setvbuf(stdout, NULL, _IOLBF, 0);
	print_kmsg();
	printf("CELLVM-GPU ready\n");
	while (fgets(word, sizeof(word), stdin)) {
		word[strcspn(word, "\r\n")] = '\0';
		if (strcmp(word, "shot") == 0) {
			printf("CELLVM-GPU shot\n");
		} else if (strcmp(word, "draw") == 0) {
			d.fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
			if (d.fd < 0)
				die("/dev/dri/card0");
			/* fbcon's emulation is no master: the first opener is. */
			xioctl(d.fd, DRM_IOCTL_SET_MASTER, NULL, "SET_MASTER");
			display_find(&d);
			display_draw(&d);
		} else if (strcmp(word, "move") == 0 && d.fd >= 0) {
			display_move(&d);
		} else if (strcmp(word, "done") == 0) {
			return 0;
		}
	}
	return 1;
}
