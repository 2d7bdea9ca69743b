/* The virtio-gpu fixture (vgpu.h): cellvm-dev-gpu started by the launcher
 * with a ring memfd and subscriber eventfds, the harness as core and as the
 * guest's virtio-gpu driver. Runs in test and benchmark processes; the
 * device is untrusted here: every wait is bounded and every used entry
 * checked. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dev-procs/gpu/capture.h"
#include "dev-procs/gpu/gpu_cmd.h"
#include "device.pb-c.h"
#include "test/harness/vgpu.h"

#define VGPU_MEM_SIZE (64ULL << 20)
#define VGPU_QSIZE    64

static uint64_t vgpu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int vgpu_activate(struct vgpu *t)
{
	struct vdrv_queue *qs[2] = {&t->cq, &t->uq};
	int r;

	r = vdrv_queue_init(&t->cq, &t->mem, 0, t->qsize);
	if (r == 0)
		r = vdrv_queue_init(&t->uq, &t->mem, 1, t->qsize);
	if (r == 0)
		r = vcore_activate(&t->core,
				   t->core.features & (1ULL << 32 | 1ULL << VIRTIO_GPU_F_EDID), qs,
				   2);
	return r;
}

/* The ring memfd and the eventfds, before the device starts. */
static int vgpu_ring_make(struct vgpu *t, const struct vgpu_opts *o, uint32_t max_w, uint32_t max_h)
{
	for (uint32_t i = 0; i < t->nefds; i++) {
		t->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->efd[i] < 0)
			return -errno;
	}
	if (o->ring_slots == 0)
		return 0;
	t->ring_size = capture_ring_bytes(o->ring_slots, max_w, max_h);
	if (t->ring_size == 0)
		return -EINVAL;
	t->ring_fd = memfd_create("vgpu-ring", MFD_CLOEXEC);
	if (t->ring_fd < 0)
		return -errno;
	if (ftruncate(t->ring_fd, (off_t)t->ring_size) < 0)
		return -errno;
	return 0;
}

int vgpu_launch(struct vgpu *t, struct device_config *cfg, uint64_t mem_size, char *err,
		size_t errlen)
{
	int r;

	r = vdrv_mem_create(&t->mem, mem_size ? mem_size : VGPU_MEM_SIZE);
	if (r < 0) {
		snprintf(err, errlen, "guest RAM: %s", strerror(-r));
		return r;
	}
	r = launcher_stats_create(&t->stats);
	if (r < 0) {
		snprintf(err, errlen, "counters page: %s", strerror(-r));
		return r;
	}
	t->stats_fd = r;
	cfg->stats_fd = t->stats_fd;
	r = vcore_start(&t->core, cfg, &t->mem, err, errlen);
	if (r < 0)
		return r;
	t->started = true;
	r = vcore_attach(&t->core, 2);
	if (r == 0)
		r = vgpu_activate(t);
	if (r < 0) {
		snprintf(err, errlen, "attach and activate: %s", strerror(-r));
		return r;
	}
	t->cmd = vdrv_alloc(&t->mem, VGPU_SCRATCH, 4096);
	t->resp = vdrv_alloc(&t->mem, VGPU_SCRATCH, 4096);
	return 0;
}

int vgpu_start(struct vgpu *t, const struct vgpu_opts *o, char *err, size_t errlen)
{
	Cellvm__Device__GpuConfig gc = CELLVM__DEVICE__GPU_CONFIG__INIT;
	Cellvm__Device__GpuScanout so[VGPU_MAX_SCANOUT], *pso[VGPU_MAX_SCANOUT];
	struct device_config cfg = {.kind = "gpu"};
	uint32_t n = o->nscanouts, max_w = 0, max_h = 0;
	int r;

	memset(t, 0, sizeof(*t));
	t->ring_fd = t->stats_fd = -1;
	for (int i = 0; i < VGPU_MAX_EFDS; i++)
		t->efd[i] = -1;
	if (n > VGPU_MAX_SCANOUT || o->nefds > VGPU_MAX_EFDS) {
		snprintf(err, errlen, "bad fixture options");
		return -EINVAL;
	}
	t->nefds = o->nefds;
	t->qsize = o->qsize ? o->qsize : VGPU_QSIZE;
	for (uint32_t i = 0; i < (n ? n : 2); i++) {
		cellvm__device__gpu_scanout__init(&so[i]);
		so[i].width = n ? o->width[i] : i == 0 ? 1024 : 800;
		so[i].height = n ? o->height[i] : i == 0 ? 768 : 600;
		max_w = so[i].width > max_w ? so[i].width : max_w;
		max_h = so[i].height > max_h ? so[i].height : max_h;
		pso[i] = &so[i];
	}
	gc.n_scanouts = n ? n : 2;
	gc.scanouts = pso;
	gc.max_host_bytes = o->budget;
	gc.ring_slots = o->ring_slots;
	gc.ring_max_width = o->ring_max_width ? o->ring_max_width : max_w;
	gc.ring_max_height = o->ring_max_height ? o->ring_max_height : max_h;

	r = vgpu_ring_make(t, o, gc.ring_max_width, gc.ring_max_height);
	if (r < 0) {
		snprintf(err, errlen, "ring and eventfds: %s", strerror(-r));
		goto fail;
	}
	if (t->ring_fd >= 0)
		cfg.backend_fds[cfg.nbackend++] = t->ring_fd;
	for (uint32_t i = 0; t->ring_fd >= 0 && i < t->nefds; i++)
		cfg.backend_fds[cfg.nbackend++] = t->efd[i];
	cfg.gpu = &gc;
	r = vgpu_launch(t, &cfg, o->mem_size, err, errlen);
	if (r < 0)
		goto fail;
	if (t->ring_fd >= 0) {
		void *m = mmap(NULL, t->ring_size, PROT_READ, MAP_SHARED, t->ring_fd, 0);

		if (m == MAP_FAILED) {
			r = -errno;
			snprintf(err, errlen, "ring mapping: %s", strerror(-r));
			goto fail;
		}
		t->ring = m;
	}
	return 0;

fail:
	(void)vgpu_stop(t);
	return r;
}

int vgpu_stop(struct vgpu *t)
{
	int status = 0;

	if (t->started)
		status = vcore_stop(&t->core);
	if (t->ring)
		munmap((void *)t->ring, t->ring_size);
	if (t->ring_fd >= 0)
		close(t->ring_fd);
	for (int i = 0; i < VGPU_MAX_EFDS; i++)
		if (t->efd[i] >= 0)
			close(t->efd[i]);
	if (t->stats_fd >= 0)
		launcher_stats_close(t->stats_fd, t->stats);
	if (t->mem.size)
		vdrv_mem_destroy(&t->mem);
	memset(t, 0, sizeof(*t));
	t->ring_fd = t->stats_fd = -1;
	for (int i = 0; i < VGPU_MAX_EFDS; i++)
		t->efd[i] = -1;
	return status;
}

void *vgpu_host(struct vgpu *t, uint64_t gpa, uint64_t len)
{
	return vdrv_host(&t->mem, gpa, len);
}

/* Wait for q's next used entry: the interrupt eventfd wakes us (the device
 * notifies after it fills the used ring), the used ring decides. */
static int vgpu_wait_used(struct vgpu *t, struct vdrv_queue *q, int timeout_ms)
{
	uint64_t end = vgpu_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = {.fd = t->core.irq_fd, .events = POLLIN};

	for (;;) {
		uint64_t now;

		if (vdrv_used_idx(q) != q->last_used)
			return 1;
		now = vgpu_now_ms();
		if (now >= end)
			return 0;
		if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
			return -errno;
		(void)vcore_irq_take(&t->core);
	}
}

int vgpu_post(struct vgpu *t, struct vdrv_queue *q, const struct vdrv_buf *b, uint32_t n)
{
	uint32_t id, len;
	uint16_t head = vdrv_chain(q, b, n);
	int r;

	vdrv_avail_add(q, head);
	r = vdrv_kick(q);
	if (r < 0)
		return r;
	r = vgpu_wait_used(t, q, VGPU_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (r == 0)
		return -ETIMEDOUT;
	if (vdrv_used_next(q, &id, &len) != 1 || id != head || len > INT32_MAX)
		return -EPROTO;
	return (int)len;
}

int vgpu_ctrl2(struct vgpu *t, const uint8_t *cmd, uint32_t len, const uint8_t *extra,
	       uint32_t elen, uint32_t rlen, uint32_t *ret_len)
{
	struct vdrv_buf b[3];
	uint32_t n = 0;
	uint8_t *scratch = vgpu_host(t, t->cmd, VGPU_SCRATCH);
	int used;

	if (len + elen > VGPU_SCRATCH || rlen > VGPU_SCRATCH)
		return -EINVAL;
	memcpy(scratch, cmd, len);
	memset(vgpu_host(t, t->resp, VGPU_SCRATCH), 0xee, VGPU_SCRATCH);
	b[n++] = (struct vdrv_buf){t->cmd, len, false};
	if (extra) {
		memcpy(scratch + len, extra, elen);
		b[n++] = (struct vdrv_buf){t->cmd + len, elen, false};
	}
	if (rlen)
		b[n++] = (struct vdrv_buf){t->resp, rlen, true};
	used = vgpu_post(t, &t->cq, b, n);
	if (used < 0)
		return used;
	if ((uint32_t)used > rlen)
		return -EPROTO;
	if (ret_len)
		*ret_len = (uint32_t)used;
	return used >= 4 ? (int)vgpu_le32(vgpu_resp(t)) : 0;
}

int vgpu_ctrl(struct vgpu *t, const uint8_t *cmd, uint32_t len)
{
	uint32_t used = 0;
	int type = vgpu_ctrl2(t, cmd, len, NULL, 0, GPU_HDR_LEN, &used);

	if (type >= 0 && used != GPU_HDR_LEN)
		return -EPROTO;
	return type;
}

const uint8_t *vgpu_resp(struct vgpu *t)
{
	return vgpu_host(t, t->resp, VGPU_SCRATCH);
}

void vgpu_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void vgpu_put64(uint8_t *p, uint64_t v)
{
	vgpu_put32(p, (uint32_t)v);
	vgpu_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t vgpu_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t vgpu_le64(const uint8_t *p)
{
	return vgpu_le32(p) | (uint64_t)vgpu_le32(p + 4) << 32;
}

void vgpu_hdr(uint8_t *p, uint32_t type)
{
	memset(p, 0, GPU_HDR_LEN);
	vgpu_put32(p, type);
}

static void vgpu_rect(uint8_t *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	vgpu_put32(p, x);
	vgpu_put32(p + 4, y);
	vgpu_put32(p + 8, w);
	vgpu_put32(p + 12, h);
}

int vgpu_create(struct vgpu *t, uint32_t id, uint32_t fmt, uint32_t w, uint32_t h)
{
	uint8_t c[40];

	vgpu_hdr(c, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	vgpu_put32(c + 24, id);
	vgpu_put32(c + 28, fmt);
	vgpu_put32(c + 32, w);
	vgpu_put32(c + 36, h);
	return vgpu_ctrl(t, c, sizeof(c));
}

static int vgpu_id_cmd(struct vgpu *t, uint32_t type, uint32_t id)
{
	uint8_t c[32];

	vgpu_hdr(c, type);
	vgpu_put32(c + 24, id);
	vgpu_put32(c + 28, 0);
	return vgpu_ctrl(t, c, sizeof(c));
}

int vgpu_unref(struct vgpu *t, uint32_t id)
{
	return vgpu_id_cmd(t, VIRTIO_GPU_CMD_RESOURCE_UNREF, id);
}

int vgpu_detach(struct vgpu *t, uint32_t id)
{
	return vgpu_id_cmd(t, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, id);
}

int vgpu_attach_raw(struct vgpu *t, uint32_t id, uint32_t nr, const uint64_t *addr,
		    const uint32_t *len, uint32_t n)
{
	static uint8_t e[VGPU_SCRATCH / 2];
	uint8_t c[32];

	if (n > sizeof(e) / 16)
		return -EINVAL;
	vgpu_hdr(c, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
	vgpu_put32(c + 24, id);
	vgpu_put32(c + 28, nr);
	memset(e, 0, (size_t)n * 16);
	for (uint32_t i = 0; i < n; i++) {
		vgpu_put64(e + i * 16, addr[i]);
		vgpu_put32(e + i * 16 + 8, len[i]);
	}
	return vgpu_ctrl2(t, c, sizeof(c), n ? e : NULL, n * 16, GPU_HDR_LEN, NULL);
}

int vgpu_attach(struct vgpu *t, uint32_t id, const uint64_t *addr, const uint32_t *len, uint32_t n)
{
	return vgpu_attach_raw(t, id, n, addr, len, n);
}

int vgpu_transfer(struct vgpu *t, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
		  uint64_t off)
{
	uint8_t c[56];

	vgpu_hdr(c, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D);
	vgpu_rect(c + 24, x, y, w, h);
	vgpu_put64(c + 40, off);
	vgpu_put32(c + 48, id);
	vgpu_put32(c + 52, 0);
	return vgpu_ctrl(t, c, sizeof(c));
}

int vgpu_set_scanout(struct vgpu *t, uint32_t s, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
		     uint32_t h)
{
	uint8_t c[48];

	vgpu_hdr(c, VIRTIO_GPU_CMD_SET_SCANOUT);
	vgpu_rect(c + 24, x, y, w, h);
	vgpu_put32(c + 40, s);
	vgpu_put32(c + 44, id);
	return vgpu_ctrl(t, c, sizeof(c));
}

int vgpu_flush(struct vgpu *t, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	uint8_t c[48];

	vgpu_hdr(c, VIRTIO_GPU_CMD_RESOURCE_FLUSH);
	vgpu_rect(c + 24, x, y, w, h);
	vgpu_put32(c + 40, id);
	vgpu_put32(c + 44, 0);
	return vgpu_ctrl(t, c, sizeof(c));
}

int vgpu_cursor(struct vgpu *t, uint32_t type, uint32_t s, int32_t x, int32_t y, uint32_t id,
		uint32_t hx, uint32_t hy)
{
	uint8_t c[56] = {0};

	vgpu_hdr(c, type);
	vgpu_put32(c + 24, s);
	vgpu_put32(c + 28, (uint32_t)x);
	vgpu_put32(c + 32, (uint32_t)y);
	vgpu_put32(c + 40, id);
	vgpu_put32(c + 44, hx);
	vgpu_put32(c + 48, hy);
	memcpy(vgpu_host(t, t->cmd, sizeof(c)), c, sizeof(c));
	return vgpu_post(t, &t->uq, (struct vdrv_buf[]){{t->cmd, sizeof(c), false}}, 1);
}

int vgpu_serving(struct vgpu *t)
{
	uint8_t c[GPU_HDR_LEN];
	uint32_t used = 0;
	int type;

	if (!vcore_alive(&t->core))
		return -ESRCH;
	vgpu_hdr(c, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	type = vgpu_ctrl2(t, c, sizeof(c), NULL, 0, GPU_DISPLAY_INFO_LEN, &used);
	if (type < 0)
		return type;
	if (type != VIRTIO_GPU_RESP_OK_DISPLAY_INFO || used != GPU_DISPLAY_INFO_LEN ||
	    t->core.needs_reset)
		return -EPROTO;
	return 0;
}

void vgpu_backing(struct vgpu *t, uint32_t total, uint32_t n, uint64_t *addr, uint32_t *len)
{
	uint32_t left = total;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t l = i + 1 == n ? left : total / n + (i % 2 ? 100 : -100);

		(void)vdrv_alloc(&t->mem, 4096, 4096); /* a gap */
		addr[i] = vdrv_alloc(&t->mem, l, 64);
		len[i] = l;
		left -= l;
	}
}

void vgpu_backing_write(struct vgpu *t, const uint64_t *addr, const uint32_t *len, uint32_t n,
			const uint8_t *src, uint32_t total)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < n && off < total; i++) {
		uint32_t l = len[i] < total - off ? len[i] : total - off;

		memcpy(vgpu_host(t, addr[i], l), src + off, l);
		off += l;
	}
}

uint64_t vgpu_efd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}
