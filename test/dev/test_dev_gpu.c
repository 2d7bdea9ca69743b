/* Device tests for cellvm-dev-gpu: the real process started by the
 * launcher (sandboxed as in production), the harness (test/harness/vgpu.h)
 * as cellvm-core and as the guest's virtio-gpu driver on real control and
 * cursor queues, and as a capture client reading the ring memfd it handed
 * over (with two subscriber eventfds). Covers display info and EDID, the create / attach /
 * transfer / set scanout / flush path down to the ring's pixels, damage and
 * fourcc for every format, fences, the cursor, detach and unref, every
 * hostile case of QEMU's virtio-gpu CVEs (each answered with the spec's
 * error, the process serving afterwards), the host-memory budget, and 200
 * create/attach/unref rounds that must leave nothing behind. Host tier: no
 * KVM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dev-procs/gpu/gpu_cmd.h"
#include "launcher/gpu_opt.h"
#include "proto/capture_ring.h"
#include "test/harness/vgpu.h"

#define GT_TIMEOUT_MS VGPU_TIMEOUT_MS
#define GT_MEM_SIZE   (64ULL << 20)
#define GT_RING_W     1024
#define GT_RING_H     768
#define GT_RING_SLOTS 4

struct gt_opts {
	uint64_t budget; /* 0: the device's default */
};

static struct vgpu T;

/* ---- the fixture (test/harness/vgpu.h) ---- */

/* Two scanouts (1024x768, 800x600), a ring of four slots, two eventfds. */
static void gt_start(const struct gt_opts *o)
{
	struct vgpu_opts vo = {
		.mem_size = GT_MEM_SIZE,
		.budget = o->budget,
		.ring_slots = GT_RING_SLOTS,
		.ring_max_width = GT_RING_W,
		.ring_max_height = GT_RING_H,
		.nefds = 2,
	};
	char err[256];
	int r = vgpu_start(&T, &vo, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "device start: %s\n", err);
	assert_int_equal(r, 0);
}

static int teardown(void **state)
{
	int status;

	(void)state;
	if (!T.started)
		return 0;
	status = vgpu_stop(&T);
	if (status != 0) {
		fprintf(stderr, "device exit status %d\n", status);
		return -1;
	}
	return 0;
}

/* The display info round trip, and the process alive: after every hostile
 * case. */
static void assert_serving(void)
{
	assert_int_equal(vgpu_serving(&T), 0);
}

/* The latest frame: its metadata, pixels into px (GT_RING_W*GT_RING_H*4). */
static int64_t ring_frame(struct cellvm_capture_slot *meta, uint8_t *px)
{
	int64_t serial = cellvm_capture_latest(T.ring, T.ring_size);

	assert_true(serial >= 0);
	if (serial == 0)
		return 0;
	assert_int_equal(cellvm_capture_read_frame(T.ring, T.ring_size, (uint64_t)serial, meta, px,
						   (size_t)GT_RING_W * GT_RING_H * 4),
			 1);
	return serial;
}

/* ---- tests ---- */

static void test_display_info(void **state)
{
	uint8_t c[GPU_HDR_LEN];
	const uint8_t *r;
	uint32_t used;

	(void)state;
	gt_start(&(struct gt_opts){0});
	assert_int_equal(T.core.device_id, VIRTIO_ID_GPU);
	assert_true(T.core.features & (1ULL << VIRTIO_GPU_F_EDID));
	assert_true(T.core.features & (1ULL << 32));
	assert_false(T.core.features & (1ULL << VIRTIO_GPU_F_VIRGL));
	assert_false(T.core.features & (1ULL << VIRTIO_GPU_F_BLOB));
	assert_false(T.core.features & (1ULL << 4)); /* CONTEXT_INIT */
	assert_int_equal(T.core.config_len, GPU_CONFIG_LEN);
	assert_int_equal(vgpu_le32(T.core.config + 0), 0);  /* events_read */
	assert_int_equal(vgpu_le32(T.core.config + 8), 2);  /* num_scanouts */
	assert_int_equal(vgpu_le32(T.core.config + 12), 0); /* num_capsets */
	assert_int_equal(T.core.num_queues, 2);
	vgpu_hdr(c, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	assert_int_equal(vgpu_ctrl2(&T, c, sizeof(c), NULL, 0, GPU_DISPLAY_INFO_LEN, &used),
			 VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	assert_int_equal(used, GPU_DISPLAY_INFO_LEN);
	r = vgpu_resp(&T) + GPU_HDR_LEN;
	assert_int_equal(vgpu_le32(r + 8), 1024);
	assert_int_equal(vgpu_le32(r + 12), 768);
	assert_int_equal(vgpu_le32(r + 16), 1);
	assert_int_equal(vgpu_le32(r + 24 + 8), 800);
	assert_int_equal(vgpu_le32(r + 24 + 12), 600);
	assert_int_equal(vgpu_le32(r + 24 + 16), 1);
	for (int s = 2; s < VIRTIO_GPU_MAX_SCANOUTS; s++)
		assert_int_equal(vgpu_le32(r + s * 24 + 16), 0);
	/* A response buffer smaller than the answer gets only what fits. */
	assert_int_equal(vgpu_ctrl2(&T, c, sizeof(c), NULL, 0, 100, &used),
			 VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	assert_int_equal(used, 100);
	assert_int_equal(vgpu_resp(&T)[100], 0xee);
}

static void test_edid(void **state)
{
	static const uint32_t modes[2][2] = {{1024, 768}, {800, 600}};
	uint8_t c[32];
	uint32_t used;

	(void)state;
	gt_start(&(struct gt_opts){0});
	for (uint32_t s = 0; s < 2; s++) {
		const uint8_t *e;
		uint8_t sum = 0;

		vgpu_hdr(c, VIRTIO_GPU_CMD_GET_EDID);
		vgpu_put32(c + 24, s);
		vgpu_put32(c + 28, 0);
		assert_int_equal(vgpu_ctrl2(&T, c, sizeof(c), NULL, 0, GPU_RESP_EDID_LEN, &used),
				 VIRTIO_GPU_RESP_OK_EDID);
		assert_int_equal(used, GPU_RESP_EDID_LEN);
		assert_int_equal(vgpu_le32(vgpu_resp(&T) + 24), 128);
		e = vgpu_resp(&T) + 32;
		assert_memory_equal(e, "\x00\xff\xff\xff\xff\xff\xff\x00", 8);
		for (int i = 0; i < 128; i++)
			sum += e[i];
		assert_int_equal(sum, 0);
		assert_int_equal(e[18], 1); /* EDID 1.4 */
		assert_int_equal(e[19], 4);
		assert_true(e[24] & 0x02); /* the first timing is preferred */
		/* The detailed timing: active pixels as configured. */
		assert_int_equal(e[56] | (e[58] >> 4) << 8, modes[s][0]);
		assert_int_equal(e[59] | (e[61] >> 4) << 8, modes[s][1]);
		assert_true((e[54] | e[55] << 8) > 0); /* a pixel clock */
		for (int i = 128; i < 1024; i++)
			assert_int_equal(e[i], 0);
	}
	vgpu_put32(c + 24, 2);
	assert_int_equal(vgpu_ctrl(&T, c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	vgpu_put32(c + 24, UINT32_MAX);
	assert_int_equal(vgpu_ctrl(&T, c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	assert_serving();
}

/* What a 64x48 XRGB image's pixel (x, y) holds in round k. */
static uint32_t pattern(uint32_t x, uint32_t y, uint32_t k)
{
	return 0xff000000u | (x * 4 + k) << 16 | (y * 5 + k) << 8 | ((x ^ y) + k * 3) % 256;
}

static void test_frame(void **state)
{
	enum { W = 64, H = 48, N = 4 };
	static uint8_t img[W * H * 4], px[GT_RING_W * GT_RING_H * 4];
	struct cellvm_capture_slot meta;
	uint64_t addr[N];
	uint32_t len[N];
	int64_t serial;

	(void)state;
	gt_start(&(struct gt_opts){0});
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, W, H),
			 VIRTIO_GPU_RESP_OK_NODATA);
	vgpu_backing(&T, W * H * 4, N, addr, len);
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			vgpu_put32(img + (y * W + x) * 4, pattern(x, y, 0));
	vgpu_backing_write(&T, addr, len, N, img, sizeof(img));
	assert_int_equal(vgpu_attach(&T, 1, addr, len, N), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, W, H, 0), VIRTIO_GPU_RESP_OK_NODATA);
	vgpu_efd_take(T.efd[0]);
	vgpu_efd_take(T.efd[1]);
	assert_int_equal(cellvm_capture_latest(T.ring, T.ring_size), 0);
	/* SET_SCANOUT publishes the whole frame. */
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, W, H), VIRTIO_GPU_RESP_OK_NODATA);
	serial = ring_frame(&meta, px);
	assert_int_equal(serial, 1);
	assert_int_equal(meta.scanout, 0);
	assert_int_equal(meta.fourcc, DRM_FORMAT_XRGB8888);
	assert_int_equal(meta.width, W);
	assert_int_equal(meta.height, H);
	assert_int_equal(meta.ndamage, 1);
	assert_int_equal(meta.damage[0].w, W);
	assert_int_equal(meta.damage[0].h, H);
	for (uint32_t y = 0; y < H; y++)
		assert_memory_equal(px + (uint64_t)y * meta.stride, img + y * W * 4, W * 4);
	assert_true(vgpu_efd_take(T.efd[0]) >= 1);
	assert_true(vgpu_efd_take(T.efd[1]) >= 1);

	/* A partial transfer of a changed rectangle, then a partial flush:
	 * only that rectangle changes, and it is the damage. */
	for (uint32_t y = 4; y < 12; y++)
		for (uint32_t x = 8; x < 24; x++)
			vgpu_put32(img + (y * W + x) * 4, pattern(x, y, 1));
	/* The guest also scribbles outside: not transferred, not shown. */
	for (uint32_t x = 0; x < W; x++)
		vgpu_put32(img + (20 * W + x) * 4, 0xdeadbeef);
	vgpu_backing_write(&T, addr, len, N, img, sizeof(img));
	assert_int_equal(vgpu_transfer(&T, 1, 8, 4, 16, 8, 4 * W * 4 + 8 * 4),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_flush(&T, 1, 8, 4, 16, 8), VIRTIO_GPU_RESP_OK_NODATA);
	serial = ring_frame(&meta, px);
	assert_int_equal(serial, 2);
	assert_int_equal(meta.ndamage, 1);
	assert_int_equal(meta.damage[0].x, 8);
	assert_int_equal(meta.damage[0].y, 4);
	assert_int_equal(meta.damage[0].w, 16);
	assert_int_equal(meta.damage[0].h, 8);
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			assert_int_equal(vgpu_le32(px + (uint64_t)y * meta.stride + x * 4),
					 y >= 4 && y < 12 && x >= 8 && x < 24 ? pattern(x, y, 1)
									      : pattern(x, y, 0));
	assert_true(vgpu_efd_take(T.efd[0]) >= 1);

	/* Scanout 1 shows a part of the same resource: a flush reaches both,
	 * each with the damage in its own coordinates. */
	assert_int_equal(vgpu_set_scanout(&T, 1, 1, 16, 8, 32, 32), VIRTIO_GPU_RESP_OK_NODATA);
	serial = ring_frame(&meta, px);
	assert_int_equal(meta.scanout, 1);
	assert_int_equal(meta.width, 32);
	assert_int_equal(meta.height, 32);
	assert_int_equal(vgpu_le32(px), pattern(16, 8, 1));
	assert_int_equal(vgpu_le32(px + 31 * meta.stride + 31 * 4), pattern(47, 39, 0));
	assert_int_equal(vgpu_flush(&T, 1, 20, 10, 4, 4), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ring_frame(&meta, px), serial + 2);
	assert_int_equal(meta.scanout, 1);
	assert_int_equal(meta.damage[0].x, 4);
	assert_int_equal(meta.damage[0].y, 2);
	assert_int_equal(meta.damage[0].w, 4);
	assert_int_equal(meta.damage[0].h, 4);
	/* A flush outside scanout 1's part publishes scanout 0 alone. */
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ring_frame(&meta, px), serial + 3);
	assert_int_equal(meta.scanout, 0);
	/* Disabled: a flush publishes nothing for it. */
	assert_int_equal(vgpu_set_scanout(&T, 1, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, W, H), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ring_frame(&meta, px), serial + 3);
	assert_serving();
}

/* Every format: the ring's fourcc, and pixels in that fourcc's layout. */
static void test_formats(void **state)
{
	static const struct {
		uint32_t format, fourcc;
		uint8_t mem[4]; /* the guest's bytes for R=0x11 G=0x22 B=0x33 A=0x44 */
	} f[] = {
		{VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, DRM_FORMAT_ARGB8888, {0x33, 0x22, 0x11, 0x44}},
		{VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, DRM_FORMAT_XRGB8888, {0x33, 0x22, 0x11, 0x44}},
		{VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, DRM_FORMAT_ARGB8888, {0x44, 0x11, 0x22, 0x33}},
		{VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, DRM_FORMAT_XRGB8888, {0x44, 0x11, 0x22, 0x33}},
		{VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, DRM_FORMAT_ABGR8888, {0x11, 0x22, 0x33, 0x44}},
		{VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, DRM_FORMAT_XBGR8888, {0x44, 0x33, 0x22, 0x11}},
		{VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, DRM_FORMAT_ABGR8888, {0x44, 0x33, 0x22, 0x11}},
		{VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, DRM_FORMAT_XBGR8888, {0x11, 0x22, 0x33, 0x44}},
	};
	static uint8_t px[GT_RING_W * GT_RING_H * 4];
	struct cellvm_capture_slot meta;

	(void)state;
	gt_start(&(struct gt_opts){0});
	for (uint32_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t a = vdrv_alloc(&T.mem, 4096, 4096);
		uint32_t l = 4096, id = 10 + i;
		/* What the ring holds: the fourcc's little-endian word. */
		bool bgr = f[i].fourcc == DRM_FORMAT_ABGR8888 || f[i].fourcc == DRM_FORMAT_XBGR8888;
		uint32_t want = 0x44u << 24 | (bgr ? 0x332211u : 0x112233u);

		for (int p = 0; p < 8; p++)
			memcpy((uint8_t *)vgpu_host(&T, a, 32) + p * 4, f[i].mem, 4);
		assert_int_equal(vgpu_create(&T, id, f[i].format, 4, 2), VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_attach(&T, id, &a, &l, 1), VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_transfer(&T, id, 0, 0, 4, 2, 0), VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_set_scanout(&T, 0, id, 0, 0, 4, 2),
				 VIRTIO_GPU_RESP_OK_NODATA);
		assert_true(ring_frame(&meta, px) > 0);
		assert_int_equal(meta.fourcc, f[i].fourcc);
		for (int p = 0; p < 8; p++) {
			uint32_t got = vgpu_le32(px + (p / 4) * meta.stride + (p % 4) * 4);

			/* X formats: the fourth byte is whatever the guest had. */
			assert_int_equal(got & 0xffffff, want & 0xffffff);
			if (f[i].fourcc == DRM_FORMAT_ARGB8888 ||
			    f[i].fourcc == DRM_FORMAT_ABGR8888)
				assert_int_equal(got >> 24, 0x44);
		}
	}
	assert_serving();
}

static void test_fences(void **state)
{
	uint8_t c[40];
	uint32_t used;

	(void)state;
	gt_start(&(struct gt_opts){0});
	vgpu_hdr(c, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	vgpu_put32(c + 4, VIRTIO_GPU_FLAG_FENCE);
	vgpu_put64(c + 8, 0x1122334455667788ULL);
	vgpu_put32(c + 16, 7);
	vgpu_put32(c + 24, 5);
	vgpu_put32(c + 28, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	vgpu_put32(c + 32, 16);
	vgpu_put32(c + 36, 16);
	assert_int_equal(vgpu_ctrl2(&T, c, sizeof(c), NULL, 0, GPU_HDR_LEN, &used),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_le32(vgpu_resp(&T) + 4), VIRTIO_GPU_FLAG_FENCE);
	assert_int_equal(vgpu_le64(vgpu_resp(&T) + 8), 0x1122334455667788ULL);
	assert_int_equal(vgpu_le32(vgpu_resp(&T) + 16), 7);
	/* An error answers the fence too. */
	vgpu_put64(c + 8, 42);
	assert_int_equal(vgpu_ctrl(&T, c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_le32(vgpu_resp(&T) + 4), VIRTIO_GPU_FLAG_FENCE);
	assert_int_equal(vgpu_le64(vgpu_resp(&T) + 8), 42);
	/* No fence asked: none answered. */
	assert_int_equal(vgpu_unref(&T, 5), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_le32(vgpu_resp(&T) + 4), 0);
	assert_int_equal(vgpu_le64(vgpu_resp(&T) + 8), 0);
}

static uint32_t cursor_px(uint32_t x, uint32_t y)
{
	return (x + y) % 2 ? 0x80ff0000u | x << 8 | y : 0x00000000u;
}

static void test_cursor(void **state)
{
	static uint8_t img[64 * 64 * 4];
	struct cellvm_capture_cursor cur;
	struct devproc_stats st;
	uint64_t a, serial, errors;
	uint32_t l = sizeof(img);

	(void)state;
	gt_start(&(struct gt_opts){0});
	assert_int_equal(vgpu_create(&T, 3, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64),
			 VIRTIO_GPU_RESP_OK_NODATA);
	for (uint32_t y = 0; y < 64; y++)
		for (uint32_t x = 0; x < 64; x++)
			vgpu_put32(img + (y * 64 + x) * 4, cursor_px(x, y));
	a = vdrv_alloc(&T.mem, sizeof(img), 4096);
	memcpy(vgpu_host(&T, a, sizeof(img)), img, sizeof(img));
	assert_int_equal(vgpu_attach(&T, 3, &a, &l, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_transfer(&T, 3, 0, 0, 64, 64, 0), VIRTIO_GPU_RESP_OK_NODATA);
	vgpu_efd_take(T.efd[0]);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 1, 100, 50, 3, 5, 7), 0);
	assert_int_equal(cellvm_capture_read_cursor(T.ring, T.ring_size, &cur), 1);
	assert_int_equal(cur.visible, 1);
	assert_int_equal(cur.scanout, 1);
	assert_int_equal(cur.x, 100);
	assert_int_equal(cur.y, 50);
	assert_int_equal(cur.hot_x, 5);
	assert_int_equal(cur.hot_y, 7);
	assert_memory_equal(cur.image, img, sizeof(img));
	assert_true(vgpu_efd_take(T.efd[0]) >= 1);
	serial = cur.serial;
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, -3, 700, 0, 0, 0), 0);
	assert_int_equal(cellvm_capture_read_cursor(T.ring, T.ring_size, &cur), 1);
	assert_int_equal(cur.serial, serial + 1);
	assert_int_equal(cur.visible, 1);
	assert_int_equal(cur.scanout, 0);
	assert_int_equal(cur.x, -3);
	assert_int_equal(cur.y, 700);
	assert_int_equal(cur.hot_x, 5);
	assert_memory_equal(cur.image, img, sizeof(img));

	/* Ignored and counted: a cursor resource that is not 64x64, an unknown
	 * one, a hotspot outside, a scanout out of range, an unknown command,
	 * a command too short. */
	launcher_stats_read(T.stats, &st);
	errors = st.errors;
	assert_int_equal(vgpu_create(&T, 4, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 32, 64),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 4, 0, 0), 0);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 99, 0, 0), 0);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 3, 64, 0), 0);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 2, 1, 1, 3, 0, 0), 0);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_MOVE_CURSOR, UINT32_MAX, 1, 1, 0, 0, 0), 0);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0, 1, 1, 0, 0, 0), 0);
	vgpu_hdr(vgpu_host(&T, T.cmd, 24), VIRTIO_GPU_CMD_MOVE_CURSOR);
	assert_int_equal(vgpu_post(&T, &T.uq, (struct vdrv_buf[]){{T.cmd, 24, false}}, 1), 0);
	assert_int_equal(cellvm_capture_read_cursor(T.ring, T.ring_size, &cur), 1);
	assert_int_equal(cur.serial, serial + 1);
	assert_int_equal(cur.x, -3);
	for (int ms = 0; ms < GT_TIMEOUT_MS; ms += 10) {
		launcher_stats_read(T.stats, &st);
		if (st.errors >= errors + 7)
			break;
		usleep(10000);
	}
	assert_int_equal(st.errors, errors + 7);

	/* The cursor keeps its copy: the resource may go. Hidden with 0. */
	assert_int_equal(vgpu_unref(&T, 3), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 10, 10, 0, 0, 0), 0);
	assert_int_equal(vgpu_cursor(&T, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 10, 10, 0, 0, 0), 0);
	assert_int_equal(cellvm_capture_read_cursor(T.ring, T.ring_size, &cur), 1);
	assert_int_equal(cur.serial, serial + 3);
	assert_int_equal(cur.visible, 0);
	assert_serving();
}

static void test_detach_unref(void **state)
{
	uint64_t a;
	uint32_t l = 4096;

	(void)state;
	gt_start(&(struct gt_opts){0});
	a = vdrv_alloc(&T.mem, 4096, 4096);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 32, 32),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_attach(&T, 1, &a, &l, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 32, 32, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_detach(&T, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* Without backing: no transfer, no second detach. */
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 32, 32, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_detach(&T, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Attach again after a detach. */
	assert_int_equal(vgpu_attach(&T, 1, &a, &l, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_unref(&T, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_unref(&T, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_detach(&T, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* The id is free again. */
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_serving();
}

static void test_hostile_ids(void **state)
{
	uint8_t c[64] = {0};
	uint32_t used;

	(void)state;
	gt_start(&(struct gt_opts){0});
	assert_int_equal(vgpu_create(&T, 0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* CVE-2016-10029: scanout ids out of range. */
	assert_int_equal(vgpu_set_scanout(&T, 2, 1, 0, 0, 8, 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	assert_int_equal(vgpu_set_scanout(&T, 16, 1, 0, 0, 8, 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	assert_int_equal(vgpu_set_scanout(&T, UINT32_MAX, 0, 0, 0, 0, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	/* Unknown resources everywhere. */
	assert_int_equal(vgpu_set_scanout(&T, 0, 9, 0, 0, 8, 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_flush(&T, 9, 0, 0, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_transfer(&T, 9, 0, 0, 8, 8, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_attach(&T, 9, (uint64_t[]){1 << 20}, (uint32_t[]){4096}, 1),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_detach(&T, 9), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_unref(&T, 9), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(vgpu_unref(&T, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* CVE-2016-9845, CVE-2016-10028: capsets (there are none). */
	vgpu_hdr(c, VIRTIO_GPU_CMD_GET_CAPSET_INFO);
	vgpu_put32(c + 24, 0);
	vgpu_put32(c + 28, 0);
	assert_int_equal(vgpu_ctrl2(&T, c, 32, NULL, 0, 4096, &used),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(used, GPU_HDR_LEN);
	vgpu_hdr(c, VIRTIO_GPU_CMD_GET_CAPSET);
	vgpu_put32(c + 24, 1);
	vgpu_put32(c + 28, UINT32_MAX);
	assert_int_equal(vgpu_ctrl2(&T, c, 32, NULL, 0, 4096, &used),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(used, GPU_HDR_LEN);
	/* Unknown and unoffered commands: 3D, blob, nonsense. */
	vgpu_hdr(c, 0x0200); /* CTX_CREATE */
	assert_int_equal(vgpu_ctrl(&T, c, 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
	vgpu_hdr(c, 0x010c); /* RESOURCE_CREATE_BLOB */
	assert_int_equal(vgpu_ctrl(&T, c, 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
	vgpu_hdr(c, 0xdeadbeef);
	assert_int_equal(vgpu_ctrl(&T, c, 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* A command shorter than its struct; a header cut short. */
	vgpu_hdr(c, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	assert_int_equal(vgpu_ctrl(&T, c, 30), VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(vgpu_ctrl(&T, c, 10), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* A response buffer too small for a header gets what fits; none at all
	 * gets nothing. */
	vgpu_hdr(c, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	assert_int_equal(vgpu_ctrl2(&T, c, 24, NULL, 0, 8, &used), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	assert_int_equal(used, 8);
	assert_int_equal(vgpu_resp(&T)[8], 0xee);
	(void)vgpu_ctrl2(&T, c, 24, NULL, 0, 0, &used);
	assert_int_equal(used, 0);
	assert_serving();
}

static void test_hostile_sizes(void **state)
{
	uint64_t a;
	uint32_t l = 64 * 64 * 4;

	(void)state;
	gt_start(&(struct gt_opts){0});
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(
		vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, UINT32_MAX, UINT32_MAX),
		VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0x40000001, 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER); /* stride overflows 32 bits */
	assert_int_equal(vgpu_create(&T, 1, 5, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_create(&T, 1, 0, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* 16384 x 16384 x 4 = 1 GiB: past the 256 MiB budget. */
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16384, 16384),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64),
			 VIRTIO_GPU_RESP_OK_NODATA);
	a = vdrv_alloc(&T.mem, l, 4096);
	assert_int_equal(vgpu_attach(&T, 1, &a, &l, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* Rectangles outside the resource, empty, or whose x + width wraps. */
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, 65, 64),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, UINT32_MAX, 0, 2, 64),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, 0, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_flush(&T, 1, 60, 0, 5, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0xfffffff0, 1, 0x20),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 0, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 1, 0, 64, 64, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 0, UINT32_MAX, 64, 2, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Offsets past the backing: the last row would end past it. */
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 64, 64, 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 1, 1, l),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 1, 1, UINT64_MAX),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 1, 1, UINT64_MAX - 2),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 1, 1, l - 4), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 63, 64, 1, 63 * 256), VIRTIO_GPU_RESP_OK_NODATA);
	assert_serving();
}

/* CVE-2021-3544 and its kind: backing entries the guest describes. */
static void test_hostile_backing(void **state)
{
	const uint32_t size = 64 * 64 * 4;
	uint64_t a, addr[4];
	uint32_t len[4];

	(void)state;
	gt_start(&(struct gt_opts){0});
	a = vdrv_alloc(&T.mem, size, 4096);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_attach_raw(&T, 1, 0, NULL, NULL, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Counts far past what the request holds, or past the limit. */
	assert_int_equal(vgpu_attach_raw(&T, 1, UINT32_MAX, &a, &size, 1),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_attach_raw(&T, 1, 0x10000000, &a, &size, 1),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_attach_raw(&T, 1, GPU_RES_MAX_ENTRIES + 1, &a, &size, 1),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	addr[0] = a;
	addr[1] = a + 4096;
	len[0] = len[1] = size / 2;
	assert_int_equal(vgpu_attach_raw(&T, 1, 3, addr, len, 2),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Entries outside guest RAM: past its end, across it, wrapping. */
	addr[1] = GT_MEM_SIZE;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	addr[1] = GT_MEM_SIZE - 4096;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	addr[1] = UINT64_MAX - 4095;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	addr[1] = GMEM_MMIO_HOLE_START;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Zero length; in total smaller than the resource. */
	addr[1] = a + size / 2;
	len[1] = 0;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	len[1] = size / 2 - 4;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Nothing was attached by any of these. */
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 1, 1, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	len[1] = size / 2;
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_OK_NODATA);
	/* Twice. */
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 64, 64, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* Entries in the same buffer as the command, as one chain piece. */
	{
		uint8_t c[32 + 16];

		assert_int_equal(vgpu_detach(&T, 1), VIRTIO_GPU_RESP_OK_NODATA);
		vgpu_hdr(c, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
		vgpu_put32(c + 24, 1);
		vgpu_put32(c + 28, 1);
		vgpu_put64(c + 32, a);
		vgpu_put32(c + 40, size);
		vgpu_put32(c + 44, 0);
		assert_int_equal(vgpu_ctrl(&T, c, sizeof(c)), VIRTIO_GPU_RESP_OK_NODATA);
	}
	assert_serving();
}

/* CVE-2017-5578's kind: unref of what a scanout shows. The scanout keeps
 * its reference: the pixels live until it lets go (ASan in the device
 * would see a use after free). */
static void test_unref_while_shown(void **state)
{
	static uint8_t px[GT_RING_W * GT_RING_H * 4];
	struct cellvm_capture_slot meta;
	uint64_t a;
	uint32_t l = 16 * 16 * 4;

	(void)state;
	gt_start(&(struct gt_opts){.budget = 512 * 1024 * 4 + GPU_RES_OVERHEAD});
	a = vdrv_alloc(&T.mem, l, 4096);
	memset(vgpu_host(&T, a, l), 0x5a, l);
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_attach(&T, 1, &a, &l, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_transfer(&T, 1, 0, 0, 16, 16, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, 16, 16), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 1, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_unref(&T, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* The id is the guest's again; the scanouts still show the old one. */
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 4, 4), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, 4, 4), VIRTIO_GPU_RESP_OK_NODATA);
	assert_true(ring_frame(&meta, px) > 0);
	assert_int_equal(meta.width, 4);
	assert_int_equal(vgpu_le32(px), 0);
	/* Scanout 1 lets the last reference go; the old pixels are freed. */
	assert_int_equal(vgpu_set_scanout(&T, 1, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_unref(&T, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* Everything is back in the budget, which this fits exactly. */
	assert_int_equal(vgpu_create(&T, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 512, 1024),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_serving();
}

static void test_budget(void **state)
{
	const uint64_t budget = 4 << 20;

	(void)state;
	gt_start(&(struct gt_opts){.budget = budget});
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1024, 1024),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY); /* 4 MiB + its overhead */
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(vgpu_create(&T, id, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 512, 512),
				 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_create(&T, 4, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 512, 512),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(vgpu_unref(&T, 2), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_create(&T, 4, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 512, 512),
			 VIRTIO_GPU_RESP_OK_NODATA);
	/* Backing entries count too. Left: 4 MiB - 3 * (1 MiB + 512) =
	 * 1047040 bytes; 810 x 323 pixels and their overhead leave 8, less
	 * than one entry. */
	{
		const uint32_t w = 810, h = 323;
		uint64_t addr[2];
		uint32_t len[2];

		assert_int_equal(budget - 3 * (512 * 512 * 4 + GPU_RES_OVERHEAD) -
					 (w * h * 4 + GPU_RES_OVERHEAD),
				 8);
		assert_int_equal(vgpu_create(&T, 5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h),
				 VIRTIO_GPU_RESP_OK_NODATA);
		addr[0] = addr[1] = vdrv_alloc(&T.mem, w * h * 4, 4096);
		len[0] = len[1] = w * h * 4;
		assert_int_equal(vgpu_attach(&T, 5, addr, len, 1),
				 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
		assert_int_equal(vgpu_unref(&T, 1), VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_attach(&T, 5, addr, len, 2), VIRTIO_GPU_RESP_OK_NODATA);
	}
	assert_serving();
}

/* 200 rounds of create, attach, transfer, show, unref (in varying orders):
 * then exactly the whole budget is free again. */
static void test_no_leak(void **state)
{
	const uint64_t budget = 512 * 512 * 4 + GPU_RES_OVERHEAD;
	uint64_t addr[4];
	uint32_t len[4];
	struct devproc_stats st;

	(void)state;
	gt_start(&(struct gt_opts){.budget = budget});
	vgpu_backing(&T, 64 * 64 * 4, 4, addr, len);
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t id = 1 + i % 7;

		assert_int_equal(vgpu_create(&T, id, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64),
				 VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_attach(&T, id, addr, len, 4), VIRTIO_GPU_RESP_OK_NODATA);
		if (i % 3 == 0) /* a second attach is refused, and costs nothing */
			assert_int_equal(vgpu_attach(&T, id, addr, len, 4),
					 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
		assert_int_equal(vgpu_transfer(&T, id, 0, 0, 64, 64, 0), VIRTIO_GPU_RESP_OK_NODATA);
		if (i % 2)
			assert_int_equal(vgpu_set_scanout(&T, i % 4 == 1 ? 0 : 1, id, 0, 0, 64, 64),
					 VIRTIO_GPU_RESP_OK_NODATA);
		if (i % 5 == 0)
			assert_int_equal(vgpu_detach(&T, id), VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(vgpu_unref(&T, id), VIRTIO_GPU_RESP_OK_NODATA);
		if (i % 4 == 3)
			assert_int_equal(vgpu_set_scanout(&T, 1, 0, 0, 0, 0, 0),
					 VIRTIO_GPU_RESP_OK_NODATA);
	}
	assert_int_equal(vgpu_set_scanout(&T, 0, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 1, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* Fits only if every byte came back; one more pixel does not. */
	assert_int_equal(vgpu_create(&T, 100, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 512, 512 + 1),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(vgpu_create(&T, 100, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 512, 512),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_create(&T, 101, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	launcher_stats_read(T.stats, &st);
	assert_true(st.requests >= 200 * 4);
	assert_serving();
}

/* A driver reset drops every resource and scanout. */
static void test_reset(void **state)
{
	(void)state;
	gt_start(&(struct gt_opts){.budget = 256 * 256 * 4 + GPU_RES_OVERHEAD});
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 256, 256),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, 256, 256), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vcore_reset(&T.core, GT_TIMEOUT_MS), 0);
	assert_int_equal(vgpu_activate(&T), 0);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* All of the budget is free again (this fits it exactly). */
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 256, 256),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_serving();
}

/* Capture readers that come and go while the device runs
 * (CaptureSubscribe / CaptureUnsubscribe on the control channel, as the
 * launcher's launcher_reader_subscribe sends them): a reader's eventfd is written
 * once per frame from its subscription on, no more after it went; a
 * repeated id and a 17th reader are refused and the device goes on. The
 * control channel and the queues are separate fds, so a subscription is
 * known to have taken when its eventfd is first written; one sent after an
 * unsubscription is a marker that the unsubscription took. */
static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sub_flush_until(int efd)
{
	uint64_t end = monotonic_ms() + GT_TIMEOUT_MS;

	for (;;) {
		assert_int_equal(vgpu_flush(&T, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
		if (vgpu_efd_take(efd))
			return;
		assert_true(monotonic_ms() < end);
	}
}

static void test_subscribe(void **state)
{
	enum { N = 19 };
	int efd[N], marker;
	uint64_t addr[1];
	uint32_t len[1];
	int ctl;

	(void)state;
	gt_start(&(struct gt_opts){0});
	ctl = T.core.proc.ctl;
	assert_int_equal(vgpu_create(&T, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
	vgpu_backing(&T, 8 * 8 * 4, 1, addr, len);
	assert_int_equal(vgpu_attach(&T, 1, addr, len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_set_scanout(&T, 0, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	for (int i = 0; i < N; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(efd[i] >= 0);
	}

	/* Readers 1 and 2 come: each is written per frame. */
	assert_int_equal(launcher_reader_subscribe(ctl, 1, efd[0]), 0);
	assert_int_equal(launcher_reader_subscribe(ctl, 2, efd[1]), 0);
	sub_flush_until(efd[1]);
	vgpu_efd_take(efd[0]);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_efd_take(efd[0]), 1);
	assert_int_equal(vgpu_efd_take(efd[1]), 1);

	/* Reader 1 goes; reader 3 (a marker) comes after it. */
	assert_int_equal(launcher_reader_unsubscribe(ctl, 1), 0);
	assert_int_equal(launcher_reader_subscribe(ctl, 3, efd[2]), 0);
	sub_flush_until(efd[2]);
	vgpu_efd_take(efd[0]);
	vgpu_efd_take(efd[1]);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_efd_take(efd[2]), 1);
	assert_int_equal(vgpu_efd_take(efd[1]), 1);
	assert_int_equal(vgpu_efd_take(efd[0]), 0);

	/* Id 2 again (another eventfd) is refused; 14 more fill the 16
	 * places (2, 3 and these: efd[4..17]); the 17th (efd[18]) is refused.
	 * efd[17], the 16th, is the marker. */
	assert_int_equal(launcher_reader_subscribe(ctl, 2, efd[3]), 0);
	for (int i = 4; i < N; i++)
		assert_int_equal(launcher_reader_subscribe(ctl, 100 + (uint64_t)i, efd[i]), 0);
	/* Unknown ids going: logged, not fatal. */
	assert_int_equal(launcher_reader_unsubscribe(ctl, 424242), 0);
	marker = efd[17];
	sub_flush_until(marker);
	for (int i = 0; i < N; i++)
		vgpu_efd_take(efd[i]);
	assert_int_equal(vgpu_flush(&T, 1, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(vgpu_efd_take(efd[3]), 0);  /* the repeated id */
	assert_int_equal(vgpu_efd_take(efd[18]), 0); /* the 17th */
	assert_int_equal(vgpu_efd_take(efd[0]), 0);  /* gone before */
	for (int i = 1; i < 18; i++)
		if (i != 3)
			assert_int_equal(vgpu_efd_take(efd[i]), 1);
	assert_int_equal(vgpu_serving(&T), 0);
	for (int i = 0; i < N; i++)
		close(efd[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_display_info, teardown),
		cmocka_unit_test_teardown(test_edid, teardown),
		cmocka_unit_test_teardown(test_frame, teardown),
		cmocka_unit_test_teardown(test_formats, teardown),
		cmocka_unit_test_teardown(test_fences, teardown),
		cmocka_unit_test_teardown(test_cursor, teardown),
		cmocka_unit_test_teardown(test_detach_unref, teardown),
		cmocka_unit_test_teardown(test_hostile_ids, teardown),
		cmocka_unit_test_teardown(test_hostile_sizes, teardown),
		cmocka_unit_test_teardown(test_hostile_backing, teardown),
		cmocka_unit_test_teardown(test_unref_while_shown, teardown),
		cmocka_unit_test_teardown(test_budget, teardown),
		cmocka_unit_test_teardown(test_no_leak, teardown),
		cmocka_unit_test_teardown(test_reset, teardown),
		cmocka_unit_test_teardown(test_subscribe, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
