/* Device-test fixture; see devtest.h. Runs in test processes: starts the
 * real cellvm-dev-blk the way production does (launcher_start_device) and
 * drives it through the harness. */
#include "test/dev/devtest.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "device.pb-c.h"

#define DT_SKIP 77

void dt_require(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct io_uring ring;
	int fd, r;

	r = io_uring_queue_init(2, &ring, 0);
	if (r < 0) {
		fprintf(stderr, "SKIP: io_uring unavailable here: %s\n", strerror(-r));
		exit(DT_SKIP);
	}
	io_uring_queue_exit(&ring);
	fd = memfd_create("dt-probe", MFD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "SKIP: memfd_create: %s\n", strerror(errno));
		exit(DT_SKIP);
	}
	close(fd);
	if (launcher_bin_dir(dir, sizeof(dir)) < 0) {
		fprintf(stderr, "SKIP: cannot locate the cellvm binaries (CELLVM_LIBEXEC)\n");
		exit(DT_SKIP);
	}
	snprintf(path, sizeof(path), "%s/cellvm-dev-blk", dir);
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "SKIP: %s: %s\n", path, strerror(errno));
		exit(DT_SKIP);
	}
}

uint8_t dt_pattern(uint64_t sector, uint32_t i)
{
	return (uint8_t)(sector * 7 + i * 13 + (sector >> 8) + 1);
}

static int dt_make_image(struct dt *t)
{
	uint8_t sec[BLK_SECTOR_SIZE];
	int r;

	snprintf(t->dir, sizeof(t->dir), "%s/cellvm-dt-XXXXXX", t->o.dir ? t->o.dir : "/tmp");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->path, sizeof(t->path), "%s/disk.img", t->dir);
	t->image_fd = open(t->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (t->image_fd < 0)
		return -errno;
	for (uint64_t s = 0; s < t->o.sectors; s++) {
		for (uint32_t i = 0; i < sizeof(sec); i++)
			sec[i] = dt_pattern(s, i);
		r = fd_write_all(t->image_fd, sec, sizeof(sec));
		if (r < 0)
			return r;
	}
	return 0;
}

static int dt_setup_queues(struct dt *t)
{
	struct vdrv_queue *qs[DT_MAX_QUEUES];
	int r;

	for (uint32_t i = 0; i < t->nq; i++) {
		r = vdrv_queue_init(&t->q[i], &t->mem, i, t->o.queue_size);
		if (r < 0)
			return r;
		qs[i] = &t->q[i];
	}
	return vcore_activate(&t->core, t->negotiated, qs, t->nq);
}

/* Start the device process over the image (first start or a restart). */
static int dt_launch(struct dt *t, bool restart)
{
	Cellvm__Device__BlkConfig bc = CELLVM__DEVICE__BLK_CONFIG__INIT;
	struct device_config cfg = {.kind = "blk", .nbackend = 1};
	char err[256];
	int dev_fd, r;

	/* The launcher's contract: a read-only disk gets a read-only fd. */
	if (t->o.direct && fdatasync(t->image_fd) < 0)
		return -errno;
	dev_fd = open(t->path, (t->o.readonly ? O_RDONLY : O_RDWR) | (t->o.direct ? O_DIRECT : 0) |
				       O_CLOEXEC);
	if (dev_fd < 0)
		return -errno;
	bc.readonly = t->o.readonly;
	bc.direct = t->o.direct;
	bc.serial = (char *)t->o.serial;
	bc.num_queues = t->o.num_queues;
	bc.queue_size = t->o.queue_size;
	cfg.backend_fds[0] = dev_fd;
	cfg.blk = &bc;
	if (t->o.stats && t->stats_fd <= 0) {
		t->stats_fd = launcher_stats_create(&t->stats);
		if (t->stats_fd < 0) {
			close(dev_fd);
			return t->stats_fd;
		}
	}
	cfg.stats_fd = t->stats_fd;
	if (restart) {
		r = vcore_crash_restart(&t->core, &cfg, &t->mem, err, sizeof(err));
	} else {
		r = vcore_start(&t->core, &cfg, &t->mem, err, sizeof(err));
		t->core.inflight = t->o.inflight;
	}
	close(dev_fd);
	if (r < 0) {
		fprintf(stderr, "device start: %s\n", err);
		return r;
	}
	r = vcore_attach(&t->core, t->o.num_queues);
	if (r < 0) {
		fprintf(stderr, "attach: %s\n", strerror(-r));
		return r;
	}
	return t->core.device_id == VIRTIO_ID_BLOCK ? 0 : -EPROTO;
}

int dt_start(struct dt *t, const struct dt_opts *o)
{
	int r;

	memset(t, 0, sizeof(*t));
	t->image_fd = -1;
	t->mem.fd = -1;
	t->o = *o;
	t->o.num_queues = o->num_queues ? o->num_queues : 1;
	t->o.queue_size = o->queue_size ? o->queue_size : 64;
	t->o.sectors = o->sectors ? o->sectors : DT_IMAGE_SECT;
	t->o.mem_size = o->mem_size ? o->mem_size : 64ULL << 20;
	t->o.serial = o->serial ? o->serial : DT_SERIAL;
	t->nq = t->o.num_queues < DT_MAX_QUEUES ? t->o.num_queues : DT_MAX_QUEUES;
	r = dt_make_image(t);
	if (r < 0) {
		fprintf(stderr, "image: %s\n", strerror(-r));
		return r;
	}
	r = vdrv_mem_create(&t->mem, t->o.mem_size);
	if (r < 0) {
		fprintf(stderr, "guest RAM: %s\n", strerror(-r));
		return r;
	}
	r = dt_launch(t, false);
	if (r < 0)
		return r;
	t->negotiated = (o->features ? o->features : DT_FEATURES_ALL) & t->core.features & ~o->drop;
	r = t->o.no_activate ? 0 : dt_setup_queues(t);
	if (r >= 0)
		t->started = true;
	return r;
}

int dt_crash_restart(struct dt *t, bool resume)
{
	struct vdrv_queue *qs[DT_MAX_QUEUES];
	int r;

	r = dt_launch(t, true);
	if (r < 0 || !resume)
		return r;
	for (uint32_t i = 0; i < t->nq; i++)
		qs[i] = &t->q[i];
	return vcore_activate_resume(&t->core, t->negotiated, qs, t->nq);
}

struct devproc_stats dt_stats_wait(struct dt *t, uint64_t requests)
{
	struct devproc_stats c = {0};

	for (int ms = 0; ms < DT_TIMEOUT_MS; ms += 10) {
		launcher_stats_read(t->stats, &c);
		if (c.requests >= requests)
			break;
		usleep(10 * 1000);
	}
	return c;
}

int dt_stop(struct dt *t)
{
	int status = vcore_stop(&t->core);

	if (t->stats_fd > 0)
		launcher_stats_close(t->stats_fd, t->stats);
	t->stats_fd = -1;
	t->stats = NULL;

	if (t->image_fd >= 0)
		close(t->image_fd);
	t->image_fd = -1;
	if (t->path[0])
		unlink(t->path);
	if (t->dir[0])
		rmdir(t->dir);
	t->path[0] = t->dir[0] = 0;
	vdrv_mem_destroy(&t->mem);
	t->started = false;
	return status;
}

int dt_teardown(struct dt *t)
{
	int status;

	if (!t->started)
		return 0;
	status = dt_stop(t);
	if (status != 0) {
		fprintf(stderr, "device exit status %d\n", status);
		return -1;
	}
	return 0;
}

int dt_recover(struct dt *t)
{
	int r = vcore_reset(&t->core, DT_TIMEOUT_MS);

	if (r < 0)
		return r;
	t->core.needs_reset = 0;
	return dt_setup_queues(t);
}

bool dt_healthy(struct dt *t)
{
	uint64_t data;
	uint8_t *p;
	uint32_t len;

	if (!vcore_alive(&t->core))
		return false;
	data = dt_buf(t, BLK_SECTOR_SIZE, 0);
	if (dt_request(t, 0, VIRTIO_BLK_T_IN, 3, data, BLK_SECTOR_SIZE, &len) != VIRTIO_BLK_S_OK)
		return false;
	p = dt_host(t, data, BLK_SECTOR_SIZE);
	for (uint32_t i = 0; i < BLK_SECTOR_SIZE; i++)
		if (p[i] != dt_pattern(3, i))
			return false;
	return len == BLK_SECTOR_SIZE + 1 && vcore_alive(&t->core);
}

uint64_t dt_image_hash(struct dt *t)
{
	uint64_t h = 0xcbf29ce484222325ULL, size = dt_image_size(t);
	uint8_t buf[4096];

	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		uint64_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		dt_image_read(t, off, buf, n);
		for (uint64_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	}
	return h;
}

uint64_t dt_image_size(struct dt *t)
{
	struct stat st;

	if (fstat(t->image_fd, &st) < 0)
		abort();
	return (uint64_t)st.st_size;
}

void dt_image_read(struct dt *t, uint64_t off, void *buf, uint64_t len)
{
	if (fd_pread_all(t->image_fd, buf, len, (off_t)off) < 0)
		abort();
}

void *dt_host(struct dt *t, uint64_t gpa, uint64_t len)
{
	return vdrv_host(&t->mem, gpa, len);
}

uint64_t dt_hdr(struct dt *t, uint32_t type, uint64_t sector)
{
	uint64_t gpa = vdrv_alloc(&t->mem, BLK_HDR_BYTES, 16);
	uint8_t *p = dt_host(t, gpa, BLK_HDR_BYTES);
	uint32_t ty = htole32(type);
	uint64_t se = htole64(sector);

	memcpy(p, &ty, 4);
	memcpy(p + 8, &se, 8);
	return gpa;
}

uint64_t dt_status(struct dt *t)
{
	uint64_t gpa = vdrv_alloc(&t->mem, 1, 1);

	*(uint8_t *)dt_host(t, gpa, 1) = 0xee;
	return gpa;
}

uint64_t dt_buf(struct dt *t, uint64_t len, uint8_t fill)
{
	uint64_t gpa = vdrv_alloc(&t->mem, len, 512);

	memset(dt_host(t, gpa, len), fill, len);
	return gpa;
}

uint64_t dt_dwz(struct dt *t, uint32_t n, const uint64_t *sector, const uint32_t *num,
		const uint32_t *flags)
{
	uint64_t gpa = vdrv_alloc(&t->mem, (uint64_t)n * BLK_DWZ_BYTES, 16);
	uint8_t *p = dt_host(t, gpa, (uint64_t)n * BLK_DWZ_BYTES);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = htole64(sector[i]);
		uint32_t k = htole32(num[i]), f = htole32(flags[i]);

		memcpy(p + i * BLK_DWZ_BYTES, &s, 8);
		memcpy(p + i * BLK_DWZ_BYTES + 8, &k, 4);
		memcpy(p + i * BLK_DWZ_BYTES + 12, &f, 4);
	}
	return gpa;
}

uint16_t dt_post(struct dt *t, uint32_t qi, const struct vdrv_buf *b, uint32_t n, bool indirect)
{
	struct vdrv_queue *q = &t->q[qi];
	uint16_t head = indirect ? vdrv_chain_indirect(q, b, n) : vdrv_chain(q, b, n);

	vdrv_avail_add(q, head);
	vdrv_kick(q);
	return head;
}

int dt_wait(struct dt *t, uint32_t qi, uint32_t *ret_id, uint32_t *ret_len)
{
	if (!vdrv_wait_used(&t->q[qi], DT_TIMEOUT_MS))
		return 0;
	return vdrv_used_next(&t->q[qi], ret_id, ret_len);
}

int dt_request(struct dt *t, uint32_t qi, uint32_t type, uint64_t sector, uint64_t data,
	       uint32_t len, uint32_t *ret_len)
{
	const bool w = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct vdrv_buf b[3];
	uint64_t st = dt_status(t);
	uint32_t n = 0, id, ulen;
	uint16_t head;

	b[n++] = (struct vdrv_buf){dt_hdr(t, type, sector), BLK_HDR_BYTES, false};
	if (len)
		b[n++] = (struct vdrv_buf){data, len, w};
	b[n++] = (struct vdrv_buf){st, 1, true};
	head = dt_post(t, qi, b, n, false);
	if (!dt_wait(t, qi, &id, &ulen) || id != head)
		return -1;
	if (ret_len)
		*ret_len = ulen;
	return *(uint8_t *)dt_host(t, st, 1);
}

bool dt_expect_reset(struct dt *t, uint32_t qi, const struct vdrv_buf *b, uint32_t n, bool indirect)
{
	uint16_t used = vdrv_used_idx(&t->q[qi]);

	dt_post(t, qi, b, n, indirect);
	if (!vcore_wait_needs_reset(&t->core, DT_TIMEOUT_MS))
		return false;
	return vdrv_used_idx(&t->q[qi]) == used;
}
