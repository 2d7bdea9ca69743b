/* virtio-blk device model; see blk.h. Runs in cellvm-dev-blk, behind the
 * devproc frame. Chains come from guest-written rings (virtq checks them),
 * request contents from guest memory (blk_req checks them); this file decides
 * what to do with a checked request, keeps the requests in flight, and
 * answers the driver. Bad guest input ends in NEEDS_RESET, never a crash. */
#include "dev-procs/blk/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define BLK_RING_ENTRIES  256 /* io_uring submissions; twice that in flight */
#define BLK_NO_SLOT	  UINT32_MAX
#define BLK_TAG(slot, op) (((uint64_t)(slot) << 8) | (op)) /* op < BLK_DWZ_SEG_MAX */
#define BLK_TAG_RETRY	  0x80				   /* the operation is a fallback already */

/* ---- slots and heads in flight ---- */

static uint32_t blk_slot_get(struct blk *b)
{
	uint32_t i = b->free_head;

	if (i == BLK_NO_SLOT)
		return i;
	b->free_head = b->slots[i].next_free;
	b->slots[i].in_use = true;
	b->slots[i].pending = 0;
	b->slots[i].failed = false;
	return i;
}

static void blk_slot_put(struct blk *b, uint32_t i)
{
	b->slots[i].in_use = false;
	b->slots[i].next_free = b->free_head;
	b->free_head = i;
}

static bool blk_busy_test(const struct blk_queue *q, uint16_t head)
{
	return q->busy[head / 64] & (1ULL << (head % 64));
}

static void blk_busy_set(struct blk_queue *q, uint16_t head, bool on)
{
	if (on)
		q->busy[head / 64] |= 1ULL << (head % 64);
	else
		q->busy[head / 64] &= ~(1ULL << (head % 64));
}

/* ---- answering the driver ---- */

static void blk_complete(struct blk *b, uint32_t i, uint8_t status, uint32_t data_written)
{
	struct blk_slot *s = &b->slots[i];
	struct blk_queue *q = &b->q[s->queue];

	/* After a reset nothing is written to guest memory: the driver has
	 * taken the rings back. */
	if (b->active && q->live) {
		virtq_push(&q->vq, s->head, blk_req_finish(&s->req, status, data_written));
		q->pushed = true;
	}
	b->count.requests++;
	if (status != VIRTIO_BLK_S_OK)
		b->count.errors++;
	else if (s->req.op == BLK_OP_READ)
		b->count.bytes_out += s->req.len;
	else if (s->req.op == BLK_OP_WRITE)
		b->count.bytes_in += s->req.len;
	blk_busy_set(q, s->head, false);
	blk_slot_put(b, i);
}

/* Submit what was prepared and interrupt the guest once if any queue that
 * received used buffers asks for it. */
static void blk_flush(struct blk *b)
{
	int r;

	r = blk_io_submit(&b->io);
	if (r < 0)
		log_err("disk backend: submission failed: %s", strerror(-r));
	for (uint32_t i = 0; i < b->num_queues; i++) {
		struct blk_queue *q = &b->q[i];

		if (q->live && q->pushed) {
			q->pushed = false;
			if (virtq_should_notify(&q->vq))
				devproc_notify(b->dp, &b->dp->queues[i]);
		}
	}
}

/* ---- starting requests ---- */

static int blk_start_dwz(struct blk *b, uint32_t i)
{
	struct blk_slot *s = &b->slots[i];
	int r = 0;

	for (uint32_t k = 0; k < s->req.nrange && r == 0; k++) {
		const struct blk_range *rg = &s->req.range[k];
		int mode = FALLOC_FL_KEEP_SIZE;

		/* Discard and unmapping write-zeroes punch a hole (reads back
		 * zeroes); plain write-zeroes keeps the blocks allocated. */
		if (s->req.op == BLK_OP_DISCARD || rg->unmap || b->no_zero_range)
			mode |= FALLOC_FL_PUNCH_HOLE;
		else
			mode |= FALLOC_FL_ZERO_RANGE;
		r = blk_io_fallocate(&b->io, mode, rg->off, rg->len, BLK_TAG(i, k));
		if (r == 0)
			s->pending++;
	}
	return r;
}

static int blk_start_io(struct blk *b, uint32_t i)
{
	struct blk_slot *s = &b->slots[i];
	struct blk_req *req = &s->req;
	int r;

	switch (req->op) {
	case BLK_OP_READ:
		r = blk_io_readv(&b->io, req->iov, req->niov, req->offset, BLK_TAG(i, 0));
		break;
	case BLK_OP_WRITE:
		r = blk_io_writev(&b->io, req->iov, req->niov, req->offset, BLK_TAG(i, 0));
		break;
	case BLK_OP_FLUSH:
		/* A failed fsync is reported once by the kernel (errseq), and the
		 * dirty data it could not write may be gone: every later FLUSH of
		 * this device process fails too, as nothing can say it is safe. */
		if (b->flush_failed)
			return -EIO;
		r = blk_io_fsync(&b->io, BLK_TAG(i, 0));
		break;
	default: return blk_start_dwz(b, i);
	}
	if (r == 0)
		s->pending++;
	return r;
}

/* Start the request in b->chain, popped from queue qi. */
static void blk_start(struct blk *b, uint32_t qi)
{
	struct blk_queue *q = &b->q[qi];
	uint16_t head = b->chain.head;
	struct blk_slot *s;
	uint32_t i;
	int r;

	/* UNTRUSTED(guest): a head still in flight made available again would
	 * have two requests share one chain. */
	if (blk_busy_test(q, head)) {
		q->vq.broken = true;
		devproc_needs_reset(b->dp, "descriptor chain made available while in flight");
		return;
	}
	i = blk_slot_get(b);
	if (i == BLK_NO_SLOT) {
		/* Cannot happen: one slot per head of every queue. */
		log_err("request pool exhausted");
		abort();
	}
	s = &b->slots[i];
	s->head = head;
	s->queue = (uint8_t)qi;
	blk_busy_set(q, head, true);
	r = blk_req_parse(&b->lim, &b->chain, &s->req);
	if (r < 0) {
		/* Nowhere to put a status: drop the chain, stop the device. */
		blk_busy_set(q, head, false);
		blk_slot_put(b, i);
		q->vq.broken = true;
		devproc_needs_reset(b->dp, "request without a device-writable status byte");
		return;
	}
	switch (s->req.op) {
	case BLK_OP_NONE: blk_complete(b, i, s->req.status, 0); return;
	case BLK_OP_GET_ID:
		blk_complete(b, i, VIRTIO_BLK_S_OK, blk_req_get_id(&s->req, b->serial));
		return;
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (s->req.len == 0) {
			blk_complete(b, i, VIRTIO_BLK_S_OK, 0);
			return;
		}
		break;
	default: break;
	}
	if (blk_start_io(b, i) < 0)
		s->failed = true;
	if (s->pending == 0)
		blk_complete(b, i, s->failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK, 0);
}

/* Pop and start requests until the ring is empty, the backend is full, or
 * one queue's worth of heads was taken (then come back through the kick
 * eventfd, so a guest that keeps posting cannot starve the control link). */
static void blk_queue_run(struct blk *b, uint32_t qi)
{
	struct blk_queue *q = &b->q[qi];
	uint32_t budget = q->vq.size;
	int r;

	q->stalled = false;
	while (!b->dp->needs_reset) {
		if (!blk_io_room(&b->io, BLK_DWZ_SEG_MAX)) {
			q->stalled = true;
			return;
		}
		if (budget == 0) {
			uint64_t one = 1;

			if (virtq_enable_kicks(&q->vq))
				(void)!write(q->dq->kick_fd, &one, sizeof(one));
			return;
		}
		r = virtq_pop(&q->vq, &b->chain);
		if (r < 0) {
			devproc_needs_reset(b->dp, "invalid descriptor chain or available index");
			return;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(&q->vq))
				return;
			continue;
		}
		budget--;
		blk_start(b, qi);
	}
}

/* ---- completions ---- */

static void blk_on_cqe(void *arg, uint64_t tag, int32_t res)
{
	struct blk *b = arg;
	uint32_t i = (uint32_t)(tag >> 8), k = tag & 0x7f;
	struct blk_slot *s;
	bool ok;

	if (i >= b->nslots || !b->slots[i].in_use || b->slots[i].pending == 0) {
		log_err("disk backend: completion for no request");
		abort();
	}
	s = &b->slots[i];
	if (!b->active) {
		/* Reset: the request is dropped, guest memory untouched. */
		if (--s->pending == 0) {
			blk_busy_set(&b->q[s->queue], s->head, false);
			blk_slot_put(b, i);
		}
		return;
	}
	if (s->req.op == BLK_OP_WRITE_ZEROES && res == -EOPNOTSUPP && !(tag & BLK_TAG_RETRY) &&
	    k < s->req.nrange) {
		/* The file system cannot zero a range in place (tmpfs): a hole
		 * reads back as zeroes too. Once per range. */
		const struct blk_range *rg = &s->req.range[k];

		b->no_zero_range = true;
		if (blk_io_fallocate(&b->io, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, rg->off,
				     rg->len, tag | BLK_TAG_RETRY) == 0)
			return;
	}
#ifdef CELLVM_TEST_HOOKS
	/* Test builds only: the first fsync fails as after a writeback error. */
	if (s->req.op == BLK_OP_FLUSH && b->test_fail_fsync) {
		b->test_fail_fsync = false;
		res = -EIO;
	}
#endif
	if (s->req.op == BLK_OP_READ || s->req.op == BLK_OP_WRITE)
		ok = res >= 0 && (uint64_t)res == s->req.len; /* short: past the end */
	else
		ok = res == 0;
	if (!ok) {
		s->failed = true;
		if (s->req.op == BLK_OP_FLUSH && !b->flush_failed) {
			b->flush_failed = true;
			log_err("disk backend: fsync failed (%s): every later flush fails",
				strerror(res < 0 ? -res : EIO));
		}
	}
	if (--s->pending)
		return;
	blk_complete(b, i, s->failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK,
		     !s->failed && s->req.op == BLK_OP_READ ? (uint32_t)s->req.len : 0);
}

static void blk_on_io(struct devproc *dp, void *arg)
{
	struct blk *b = arg;

	(void)dp;
	blk_io_reap(&b->io, blk_on_cqe, b);
	/* Room again: take up the queues that stopped for it. */
	for (uint32_t i = 0; i < b->num_queues; i++)
		if (b->active && b->q[i].live && b->q[i].stalled)
			blk_queue_run(b, i);
	blk_flush(b);
}

/* ---- devproc_ops ---- */

static void blk_kick(struct devproc *dp, struct devproc_queue *dq)
{
	struct blk *b = dp->priv;

	if (!b->active || dq->index >= b->num_queues || !b->q[dq->index].live)
		return;
	blk_queue_run(b, dq->index);
	blk_flush(b);
}

static int blk_activate(struct devproc *dp)
{
	struct blk *b = dp->priv;
	const bool event_idx = dp->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	const bool indirect = dp->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	int r;

	/* Legacy (pre-1.0) drivers are not served. */
	if (!(dp->features & (1ULL << VIRTIO_F_VERSION_1)))
		return -EINVAL;
	b->lim.discard = dp->features & (1ULL << VIRTIO_BLK_F_DISCARD);
	b->lim.write_zeroes = dp->features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	b->lim.size_max_negotiated = dp->features & (1ULL << VIRTIO_BLK_F_SIZE_MAX);
	for (uint32_t i = 0; i < b->num_queues; i++) {
		struct blk_queue *q = &b->q[i];
		struct devproc_queue *dq = &dp->queues[i];

		q->live = q->stalled = q->pushed = false;
		memset(q->busy, 0, (b->queue_size + 63) / 64 * sizeof(uint64_t));
		if (!dq->enabled)
			continue;
		/* UNTRUSTED(guest): the ring size and addresses, relayed by the
		 * core; virtq_init checks them against guest RAM. */
		r = dq->size <= b->queue_size ? virtq_init(&q->vq, &dp->mem, dq->size, dq->desc,
							   dq->avail, dq->used, event_idx, indirect)
					      : -EINVAL;
		if (r < 0) {
			for (uint32_t k = 0; k < i; k++)
				b->q[k].live = false;
			return r;
		}
		q->dq = dq;
		q->live = true;
		if (!dp->resume)
			virtq_track(&q->vq, dq->inflight);
	}
	b->active = true;
	return 0;
}

static void blk_stats(struct devproc *dp, struct devproc_stats *out)
{
	const struct blk *b = dp->priv;

	*out = b->count;
}

static void blk_reset(struct devproc *dp);

static int blk_resume_queues(struct devproc *dp)
{
	static uint16_t heads[VIRTQ_MAX_SIZE];
	struct blk *b = dp->priv;
	int n;

	for (uint32_t qi = 0; qi < b->num_queues; qi++) {
		struct blk_queue *q = &b->q[qi];

		if (!q->live || !q->dq->inflight)
			continue;
		n = virtq_resume(&q->vq, q->dq->inflight, heads, q->vq.size);
		if (n < 0)
			return n;
		for (int k = 0; k < n && !dp->needs_reset; k++) {
			if (!blk_io_room(&b->io, BLK_DWZ_SEG_MAX) &&
			    blk_io_drain(&b->io, blk_on_cqe, b) < 0)
				return -EIO;
			if (virtq_chain_at(&q->vq, heads[k], &b->chain) < 0)
				return -EINVAL;
			blk_start(b, qi);
		}
	}
	blk_flush(b);
	return 0;
}

/* A crashed predecessor's requests still in flight are served again: reads
 * and writes are idempotent, and the guest never saw them complete. On
 * failure (a record of a later queue that does not add up) everything is
 * rolled back: what was started is drained, no queue stays live, and the
 * device waits for the driver's reset. */
static int blk_resume(struct devproc *dp)
{
	int r = blk_resume_queues(dp);

	if (r < 0)
		blk_reset(dp);
	return r;
}

static void blk_reset(struct devproc *dp)
{
	struct blk *b = dp->priv;
	int r;

	/* Stop answering first, then wait for every backend operation: once
	 * this returns nothing will touch guest memory. */
	b->active = false;
	r = blk_io_drain(&b->io, blk_on_cqe, b);
	if (r < 0) {
		log_err("disk backend cannot be quiesced (%s): exiting", strerror(-r));
		_exit(1);
	}
	for (uint32_t i = 0; i < b->num_queues; i++)
		b->q[i].live = b->q[i].stalled = b->q[i].pushed = false;
}

static void blk_put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void blk_fill_info(const struct blk *b, struct devproc_info *info)
{
	uint8_t *c = info->config;

	info->device_id = VIRTIO_ID_BLOCK;
	info->features = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_SIZE_MAX |
			 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
			 1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_MQ |
			 1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (b->readonly)
		info->features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		info->features |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	memset(c, 0, BLK_CONFIG_LEN);
	blk_put_le(c + BLK_CFG_CAPACITY, b->lim.capacity, 8);
	blk_put_le(c + BLK_CFG_SIZE_MAX, b->lim.size_max, 4);
	blk_put_le(c + BLK_CFG_SEG_MAX, b->lim.seg_max, 4);
	blk_put_le(c + BLK_CFG_BLK_SIZE, BLK_SECTOR_SIZE, 4);
	blk_put_le(c + BLK_CFG_NUM_QUEUES, b->num_queues, 2);
	blk_put_le(c + BLK_CFG_MAX_DISCARD_SECT, b->lim.dwz_sect_max, 4);
	blk_put_le(c + BLK_CFG_MAX_DISCARD_SEG, b->lim.dwz_seg_max, 4);
	blk_put_le(c + BLK_CFG_DISCARD_ALIGN, BLK_DISCARD_ALIGN, 4);
	blk_put_le(c + BLK_CFG_MAX_WZ_SECT, b->lim.dwz_sect_max, 4);
	blk_put_le(c + BLK_CFG_MAX_WZ_SEG, b->lim.dwz_seg_max, 4);
	c[BLK_CFG_WZ_MAY_UNMAP] = 1;
	info->config_len = BLK_CONFIG_LEN;
	info->num_queues = b->num_queues;
	info->queue_max_size = b->queue_size;
}

/* The image's size in bytes: a regular file or a block device. */
static int blk_image_size(int fd, uint64_t *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, ret) < 0 ? -errno : 0;
	return -EINVAL;
}

static int blk_alloc(struct blk *b)
{
	b->nslots = b->num_queues * b->queue_size;
	b->slots = calloc(b->nslots, sizeof(*b->slots));
	if (!b->slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->nslots; i++)
		b->slots[i].next_free = i + 1 < b->nslots ? i + 1 : BLK_NO_SLOT;
	b->free_head = 0;
	for (uint32_t i = 0; i < b->num_queues; i++) {
		b->q[i].busy = calloc((b->queue_size + 63) / 64, sizeof(uint64_t));
		if (!b->q[i].busy)
			return -ENOMEM;
	}
	return 0;
}

static int blk_setup(struct devproc *dp, const Cellvm__Device__DeviceSetup *setup, int *backend_fds,
		     size_t nbackend, struct devproc_info *info)
{
	const Cellvm__Device__BlkConfig *cfg = setup->blk;
	struct blk *b = dp->priv;
	uint64_t size;
	int fl, r;

	/* The launcher's setup (a peer, checked): one image, sane geometry. */
	if (!cfg || nbackend != 1)
		return -EINVAL;
	b->dp = dp;
	b->image_fd = backend_fds[0];
	b->num_queues = cfg->num_queues ? cfg->num_queues : 1;
	b->queue_size = cfg->queue_size ? cfg->queue_size : BLK_QUEUE_SIZE_DEFAULT;
	if (b->num_queues > DEVPROC_MAX_QUEUES || b->queue_size < 4 ||
	    b->queue_size > BLK_QUEUE_SIZE_MAX || (b->queue_size & (b->queue_size - 1)))
		return -EINVAL;
	if (cfg->serial && strlen(cfg->serial) > BLK_ID_BYTES)
		return -EINVAL;
	memset(b->serial, 0, sizeof(b->serial));
	if (cfg->serial)
		memcpy(b->serial, cfg->serial, strlen(cfg->serial));
	r = blk_image_size(b->image_fd, &size);
	if (r < 0)
		return r;
	fl = fcntl(b->image_fd, F_GETFL);
	if (fl < 0)
		return -errno;
	/* An image opened read-only makes a read-only disk, whatever was asked. */
	b->readonly = cfg->readonly || (fl & O_ACCMODE) == O_RDONLY;
	b->direct = cfg->direct;
	b->lim = (struct blk_limits){
		.capacity = size / BLK_SECTOR_SIZE,
		.seg_max = b->queue_size - 2 < BLK_SEG_MAX ? b->queue_size - 2 : BLK_SEG_MAX,
		.size_max = BLK_SIZE_MAX,
		.piece_max = BLK_PIECE_MAX,
		.dwz_seg_max = BLK_DWZ_SEG_MAX,
		.dwz_sect_max = BLK_DWZ_SECT_MAX,
		.readonly = b->readonly,
	};
	b->image_size = size;
#ifdef CELLVM_TEST_HOOKS
	/* Test builds only: claim sectors the image does not have, as a
	 * compromised process could, to show RLIMIT_FSIZE stops the growth. */
	if (getenv("CELLVM_TEST_BLK_EXTRA_SECTORS"))
		b->lim.capacity += strtoull(getenv("CELLVM_TEST_BLK_EXTRA_SECTORS"), NULL, 0);
	b->test_fail_fsync = getenv("CELLVM_TEST_BLK_FAIL_FSYNC") != NULL;
#endif
	r = blk_alloc(b);
	if (r < 0)
		return r;
	/* Before the sandbox: made disabled, the image and the eventfd
	 * registered, restricted to blk's opcodes, then enabled. */
	r = blk_io_init(&b->io, b->image_fd, BLK_RING_ENTRIES);
	if (r < 0)
		return r;
	blk_fill_info(b, info);
	return 0;
}

/* The ring and its eventfd were made in blk_setup(): the sandbox allows
 * neither io_uring_setup nor io_uring_register nor eventfd2. */
static int blk_sandboxed(struct devproc *dp)
{
	struct blk *b = dp->priv;

	return devproc_watch(dp, b->io.efd, blk_on_io, b);
}

static size_t blk_keep_fds(struct devproc *dp, int *fds, size_t max)
{
	const struct blk *b = dp->priv;

	if (max < 2)
		return 0;
	fds[0] = b->io.ring.ring_fd;
	fds[1] = b->io.efd;
	return 2;
}

/* The process itself and the io-wq workers the kernel may start for the
 * ring: every operation on a regular file or a block device is "bounded"
 * work, at most min(submission entries, 4 per CPU) workers. The image may
 * not grow past its size: the image is the only file the process writes
 * (stderr aside, see sandbox.c). */
static void blk_limits(struct devproc *dp, struct sandbox_opts *o)
{
	const struct blk *b = dp->priv;
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	uint32_t workers =
		cpus > 0 && cpus < BLK_RING_ENTRIES / 4 ? (uint32_t)cpus * 4 : BLK_RING_ENTRIES;

	o->tasks = 1 + workers;
	o->limit_file_size = true;
	o->file_size = b->image_size;
}

const struct devproc_ops blk_ops = {
	.kind = "blk",
	.setup = blk_setup,
	.sandboxed = blk_sandboxed,
	.keep_fds = blk_keep_fds,
	.limits = blk_limits,
	.activate = blk_activate,
	.resume = blk_resume,
	.stats = blk_stats,
	.kick = blk_kick,
	.reset = blk_reset,
};
