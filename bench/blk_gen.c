/* The request generator of bench-blk, playing the guest driver on one
 * ring in the harness's guest RAM: it keeps a case's queue depth of
 * requests in flight and counts completions and interrupts, the same way
 * for cellvm-dev-blk and for qemu-storage-daemon. Runs in the benchmark
 * process; the device under test is a peer: its used entries are checked
 * before they are used and every wait has a deadline. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk.h"
#include "common/fdutil.h"
#include "dev-procs/blk/blk.h"

_Static_assert(BENCH_MAX_QD <= 64, "blk_gen_run keeps the slots in flight in a 64-bit mask");

int blk_gen_mem_init(struct bench_dev *d)
{
	int r;

	r = vdrv_mem_create(&d->mem, BENCH_MEM_SIZE);
	if (r < 0)
		return r;
	r = vdrv_queue_init(&d->q, &d->mem, 0, BENCH_QUEUE_SIZE);
	if (r < 0)
		return r;
	d->used_flags = vdrv_host(&d->mem, d->q.used, 2);
	for (uint32_t i = 0; i < BENCH_MAX_QD; i++) {
		/* Page-aligned data: O_DIRECT takes it as it is. */
		d->data[i] = vdrv_alloc(&d->mem, BENCH_MAX_BS, 4096);
		d->hdr[i] = vdrv_alloc(&d->mem, BLK_HDR_BYTES + 1, 64);
		d->hdr_host[i] = vdrv_host(&d->mem, d->hdr[i], BLK_HDR_BYTES + 1);
		d->status_host[i] = d->hdr_host[i] + BLK_HDR_BYTES;
		memset(vdrv_host(&d->mem, d->data[i], BENCH_MAX_BS), 0xa5, BENCH_MAX_BS);
	}
	return 0;
}

struct blk_gen {
	const struct bench_case *c;
	uint64_t rng;
	uint64_t seq;	  /* next sequential block */
	uint64_t nblocks; /* of c->bs in the file */
};

static void blk_gen_post(struct bench_dev *d, struct blk_gen *g, uint32_t slot)
{
	const struct bench_case *c = g->c;
	uint64_t blk = c->random ? bench_rand(&g->rng) % g->nblocks : g->seq++ % g->nblocks;
	uint64_t sector = htole64(blk * c->bs / BLK_SECTOR_SIZE);
	uint32_t type = htole32(c->type), zero = 0;
	struct vdrv_buf b[BENCH_SEGS] = {
		{d->hdr[slot], BLK_HDR_BYTES, false},
		{d->data[slot], c->bs, c->type == VIRTIO_BLK_T_IN},
		{d->hdr[slot] + BLK_HDR_BYTES, 1, true},
	};

	memcpy(d->hdr_host[slot], &type, 4);
	memcpy(d->hdr_host[slot] + 4, &zero, 4);
	memcpy(d->hdr_host[slot] + 8, &sector, 8);
	*d->status_host[slot] = 0xff;
	/* Slot i owns descriptors 3i..3i+2: completions come back in any
	 * order, and handing descriptors out round-robin could reuse a chain
	 * still in flight. */
	d->q.next_desc = (uint16_t)(slot * BENCH_SEGS);
	vdrv_avail_add(&d->q, vdrv_chain(&d->q, b, BENCH_SEGS));
}

/* Notify unless the device asked not to be (VIRTQ_USED_F_NO_NOTIFY). */
static int blk_gen_kick(struct bench_dev *d)
{
	/* The avail index store before the flags load, as virtio 2.7.13.3 asks. */
	atomic_thread_fence(memory_order_seq_cst);
	if (le16toh(__atomic_load_n(d->used_flags, __ATOMIC_RELAXED)) & VIRTQ_USED_F_NO_NOTIFY)
		return 0;
	return vdrv_kick(&d->q);
}

static uint64_t blk_gen_irq_take(struct bench_dev *d)
{
	uint64_t v = 0;

	if (read(d->irq_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

int blk_gen_run(struct bench_dev *d, const struct bench_case *c, const struct bench_opts *o,
		struct bench_result *ret)
{
	struct blk_gen g = {.c = c, .rng = 0x9e3779b97f4a7c15ULL, .nblocks = o->size / c->bs};
	uint64_t done = 0, counted = 0, errors = 0, irqs = 0, busy = 0; /* one bit per slot */
	double t0, now, last, elapsed = 0;
	uint32_t inflight, id, len;
	bool stopping = false;
	int r;

	blk_gen_irq_take(d);
	t0 = last = bench_now();
	for (inflight = 0; inflight < c->qd; inflight++) {
		blk_gen_post(d, &g, inflight);
		busy |= 1ULL << inflight;
	}
	r = blk_gen_kick(d);
	while (r == 0 && (!stopping || inflight)) {
		uint32_t reaped = 0;

		while (vdrv_used_next(&d->q, &id, &len) == 1) {
			uint32_t slot = id / BENCH_SEGS;

			/* UNTRUSTED(device): the id must be a head in flight. */
			if (id % BENCH_SEGS || slot >= c->qd || !(busy & (1ULL << slot)))
				return -EPROTO;
			busy &= ~(1ULL << slot);
			errors += *d->status_host[slot] != VIRTIO_BLK_S_OK;
			done++;
			inflight--;
			reaped++;
			if (!stopping) {
				blk_gen_post(d, &g, slot);
				busy |= 1ULL << slot;
				inflight++;
			}
		}
		now = bench_now();
		if (reaped) {
			last = now;
			if (!stopping)
				r = blk_gen_kick(d);
		}
		if (!stopping && (now >= t0 + o->seconds || bench_interrupted)) {
			stopping = true;
			counted = done;
			elapsed = now - t0;
		}
		if (reaped)
			continue;
		if (now - last > BENCH_STALL_S)
			return -ETIMEDOUT;
		if (o->irq_wait) {
			struct pollfd pfd = {.fd = d->irq_fd, .events = POLLIN};

			if (poll(&pfd, 1, 100) == 1)
				irqs += blk_gen_irq_take(d);
		} else {
			/* Two cores: let the device (or its threads) run here. */
			sched_yield();
		}
	}
	if (r < 0)
		return r;
	irqs += blk_gen_irq_take(d);
	ret->ok = errors == 0 && elapsed > 0;
	ret->value = (double)counted / elapsed;
	if (c->bs >= BENCH_MAX_BS)
		ret->value = ret->value * c->bs / 1e6;
	ret->irq_per_req = done ? (double)irqs / (double)done : -1;
	return errors ? -EIO : 0;
}

int blk_gen_check(struct bench_dev *d, const char *path)
{
	static const struct bench_case c = {"check", "read", VIRTIO_BLK_T_IN, 4096, 1, false};
	struct blk_gen g = {.c = &c, .seq = 1, .nblocks = 2};
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t want[4096];
	uint32_t id, len;
	int r;

	if (fd < 0)
		return -errno;
	r = fd_pread_all(fd, want, sizeof(want), 4096);
	if (r < 0)
		return r;
	memset(vdrv_host(&d->mem, d->data[0], sizeof(want)), 0, sizeof(want));
	blk_gen_post(d, &g, 0);
	r = blk_gen_kick(d);
	if (r < 0)
		return r;
	if (!vdrv_wait_used(&d->q, (int)(BENCH_STALL_S * 1000)))
		return -ETIMEDOUT;
	if (vdrv_used_next(&d->q, &id, &len) != 1 || id != 0)
		return -EPROTO;
	blk_gen_irq_take(d);
	if (*d->status_host[0] != VIRTIO_BLK_S_OK)
		return -EIO;
	return memcmp(vdrv_host(&d->mem, d->data[0], sizeof(want)), want, sizeof(want)) ? -EBADMSG
											: 0;
}
