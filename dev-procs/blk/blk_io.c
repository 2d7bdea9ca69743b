/* io_uring backend of cellvm-dev-blk; see blk_io.h. The ring is made before
 * the sandbox, which forbids making another; the I/O runs inside it.
 * The ring can only do what blk needs: vectored reads and writes, fsync and
 * fallocate, on registered file 0 (the image) and nothing else. */
#include "dev-procs/blk/blk_io.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BLK_IO_IMAGE 0 /* index of the image among the registered files */

/* Everything the ring may ever be asked to do. */
static const uint8_t blk_io_ops[] = {
	IORING_OP_READV,     /* IN */
	IORING_OP_WRITEV,    /* OUT */
	IORING_OP_FSYNC,     /* FLUSH */
	IORING_OP_FALLOCATE, /* DISCARD, WRITE_ZEROES */
};

int blk_io_init(struct blk_io *io, int image_fd, uint32_t entries)
{
	struct io_uring_params p;
	int r;

	*io = (struct blk_io){.efd = -1};
	memset(&p, 0, sizeof(p));
	/* Disabled until restricted; a completion queue twice the submission
	 * queue, and never more in flight than it holds (no overflow). */
	p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 2;
	r = io_uring_queue_init_params(entries, &io->ring, &p);
	if (r < 0)
		return r;
	io->max_inflight = p.cq_entries;
	r = io_uring_register_files(&io->ring, &image_fd, 1);
	if (r < 0)
		goto fail;
	io->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = io_uring_register_eventfd(&io->ring, io->efd);
	if (r < 0)
		goto fail;
	/* io_uring is invisible to seccomp: these opcodes, on the registered
	 * image only, are all the ring will ever do. */
	r = sandbox_uring_restrict(&io->ring, blk_io_ops, sizeof(blk_io_ops));
	if (r < 0)
		goto fail;
	io->ready = true;
	return 0;
fail:
	if (io->efd >= 0)
		close(io->efd);
	io->efd = -1;
	io_uring_queue_exit(&io->ring);
	return r;
}

void blk_io_close(struct blk_io *io)
{
	if (!io->ready)
		return;
	io_uring_queue_exit(&io->ring);
	if (io->efd >= 0)
		close(io->efd);
	io->efd = -1;
	io->ready = false;
}

bool blk_io_room(const struct blk_io *io, uint32_t n)
{
	return io->ready && n <= io->max_inflight - io->inflight;
}

static struct io_uring_sqe *blk_io_sqe(struct blk_io *io)
{
	struct io_uring_sqe *sqe;

	if (!blk_io_room(io, 1))
		return NULL;
	sqe = io_uring_get_sqe(&io->ring);
	if (!sqe && blk_io_submit(io) == 0)
		sqe = io_uring_get_sqe(&io->ring);
	return sqe;
}

static void blk_io_queued(struct blk_io *io, struct io_uring_sqe *sqe, uint64_t tag)
{
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, tag);
	io->inflight++;
	io->queued++;
}

int blk_io_readv(struct blk_io *io, const struct iovec *iov, uint32_t n, uint64_t off, uint64_t tag)
{
	struct io_uring_sqe *sqe = blk_io_sqe(io);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_readv(sqe, BLK_IO_IMAGE, iov, n, off);
	blk_io_queued(io, sqe, tag);
	return 0;
}

int blk_io_writev(struct blk_io *io, const struct iovec *iov, uint32_t n, uint64_t off,
		  uint64_t tag)
{
	struct io_uring_sqe *sqe = blk_io_sqe(io);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_writev(sqe, BLK_IO_IMAGE, iov, n, off);
	blk_io_queued(io, sqe, tag);
	return 0;
}

int blk_io_fsync(struct blk_io *io, uint64_t tag)
{
	struct io_uring_sqe *sqe = blk_io_sqe(io);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, BLK_IO_IMAGE, 0);
	blk_io_queued(io, sqe, tag);
	return 0;
}

int blk_io_fallocate(struct blk_io *io, int mode, uint64_t off, uint64_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe = blk_io_sqe(io);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, BLK_IO_IMAGE, mode, (off_t)off, (off_t)len);
	blk_io_queued(io, sqe, tag);
	return 0;
}

int blk_io_submit(struct blk_io *io)
{
	while (io->queued) {
		int r = io_uring_submit(&io->ring);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		io->queued = io_uring_sq_ready(&io->ring);
		if (r == 0)
			break;
	}
	return 0;
}

uint32_t blk_io_reap(struct blk_io *io, blk_io_done_fn done, void *arg)
{
	struct io_uring_cqe *cqe;
	eventfd_t v;
	uint32_t n = 0;

	if (!io->ready)
		return 0;
	/* Drain the counter first: a completion after this read signals again. */
	(void)eventfd_read(io->efd, &v);
	while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		int32_t res = cqe->res;

		io_uring_cqe_seen(&io->ring, cqe);
		io->inflight--;
		n++;
		done(arg, tag, res);
	}
	return n;
}

int blk_io_drain(struct blk_io *io, blk_io_done_fn done, void *arg)
{
	struct io_uring_cqe *cqe;
	int r;

	if (!io->ready)
		return 0;
	r = blk_io_submit(io);
	if (r < 0)
		return r;
	while (io->inflight) {
		r = io_uring_wait_cqe(&io->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		blk_io_reap(io, done, arg);
		r = blk_io_submit(io);
		if (r < 0)
			return r;
	}
	return 0;
}
