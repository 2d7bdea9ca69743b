/* The io_uring backend of cellvm-dev-blk: one ring shared by every queue,
 * the disk image as registered file 0, the ring restricted to the opcodes
 * below before it is enabled (io_uring is invisible to seccomp), completions
 * signalled on an eventfd. Made before the sandbox (blk_setup), used inside. Offsets and iovecs
 * come from requests that blk_req.c already checked. */
#pragma once
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_io {
	struct io_uring ring;
	bool ready;
	int efd;	       /* completion eventfd (owned) */
	uint32_t inflight;     /* operations prepared and not yet reaped */
	uint32_t max_inflight; /* completion queue entries: never more in flight */
	uint32_t queued;       /* prepared, not yet submitted */
};

/* Create the ring (entries submission slots) for image_fd (not consumed):
 * disabled, file and eventfd registered, restricted, then enabled.
 * Returns 0 or -errno. */
int blk_io_init(struct blk_io *io, int image_fd, uint32_t entries);
void blk_io_close(struct blk_io *io);

/* Whether n more operations may be put in flight now. */
bool blk_io_room(const struct blk_io *io, uint32_t n);

/* Prepare one operation; tag comes back with its result. The iovecs must stay
 * valid until the completion is reaped. Returns 0 or -errno (-EBUSY when no
 * room: check blk_io_room first). */
int blk_io_readv(struct blk_io *io, const struct iovec *iov, uint32_t n, uint64_t off,
		 uint64_t tag);
int blk_io_writev(struct blk_io *io, const struct iovec *iov, uint32_t n, uint64_t off,
		  uint64_t tag);
int blk_io_fsync(struct blk_io *io, uint64_t tag);
int blk_io_fallocate(struct blk_io *io, int mode, uint64_t off, uint64_t len, uint64_t tag);

/* Hand the prepared operations to the kernel. Returns 0 or -errno. */
int blk_io_submit(struct blk_io *io);

typedef void (*blk_io_done_fn)(void *arg, uint64_t tag, int32_t res);

/* Reap the completions there are, without blocking; done() for each (it may
 * prepare new operations). Returns the number reaped. */
uint32_t blk_io_reap(struct blk_io *io, blk_io_done_fn done, void *arg);

/* Submit what is prepared and wait until nothing is in flight, reaping into
 * done(). Returns 0 or -errno (the ring is then unusable). */
int blk_io_drain(struct blk_io *io, blk_io_done_fn done, void *arg);
