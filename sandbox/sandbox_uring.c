/* sandbox_uring_restrict(): io_uring requests are invisible to seccomp, so a
 * ring is narrowed by the kernel's own restrictions before it is enabled.
 * Runs in a sandboxed device process; the SQEs it will later carry are built
 * from guest requests. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

/* liburing 2.3 as Debian 12 ships it declares io_uring_register_restrictions()
 * and io_uring_enable_rings() but its shared library does not export them
 * (fixed in 2.4): the system call directly. */
static int sandbox_uring_register(struct io_uring *ring, unsigned op, const void *arg, unsigned n)
{
	return syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n) < 0 ? -errno : 0;
}

int sandbox_uring_restrict(struct io_uring *ring, const uint8_t *sqe_ops, size_t nops)
{
	struct io_uring_restriction res[IORING_OP_LAST + 1];
	size_t n = 0;
	int r;

	if (!ring || !sqe_ops || nops == 0 || nops > IORING_OP_LAST)
		return -EINVAL;
	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < nops; i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = sqe_ops[i];
	}
	/* Registered files only, and no other SQE flag (links, async, buffer
	 * selection): a request can never name an fd of its own. */
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	/* No IORING_RESTRICTION_REGISTER_OP entry: once enabled, the ring
	 * accepts no io_uring_register() operation at all. */
	r = sandbox_uring_register(ring, IORING_REGISTER_RESTRICTIONS, res, (unsigned)n);
	if (r < 0)
		return r;
	return sandbox_uring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}
