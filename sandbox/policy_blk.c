/* seccomp rules of cellvm-dev-blk (SANDBOX_DEV_BLK), on top of
 * policy_base.c: an epoll loop (in base) and one io_uring ring for the disk.
 * seccomp cannot see the ring's requests; sandbox_uring_restrict() limits
 * those to the image (a registered file) and the opcodes blk needs. */
#include "sandbox/policy.h"

#include <linux/io_uring.h>

/* clang-format off */
static const struct sb_rule blk_rules[] = {
	SB_ALLOW(io_uring_enter),	/* submit and reap disk I/O */
	/* Not io_uring_setup, io_uring_register or eventfd2: the ring and its
	 * eventfd are made, restricted and enabled before sandbox_enter()
	 * (blk_setup); a fresh ring would be free of the restrictions
	 * (IORING_OP_SOCKET, OPENAT...). */
};
/* clang-format on */

SB_POLICY(policy_blk, "blk", blk_rules);
