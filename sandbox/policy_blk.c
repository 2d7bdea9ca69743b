/* seccomp rules of cellvm-dev-blk (SANDBOX_DEV_BLK), on top of
 * policy_base.c: an epoll loop (in base) and one io_uring ring for the disk.
 * seccomp cannot see the ring's requests; sandbox_uring_restrict() limits
 * those to the image (a registered file) and the opcodes blk needs. */
#include "sandbox/policy.h"

#include <linux/io_uring.h>

/* clang-format off */
static const struct sb_rule blk_rules[] = {
	SB_ALLOW(io_uring_enter),	/* submit and reap disk I/O */
	/* blk_sandboxed() sets its ring up after sandbox_enter(); the rules
	 * below go once the ring and its eventfd are made before it. */
	SB_ALLOW(io_uring_setup),					/* creating the disk ring */
	SB_ALLOW_ARG(io_uring_register, 1, IORING_REGISTER_FILES),	/* the image */
	SB_ALLOW_ARG(io_uring_register, 1, IORING_REGISTER_EVENTFD),	/* completion wakeups */
	SB_ALLOW_ARG(io_uring_register, 1, IORING_REGISTER_RESTRICTIONS),	/* narrowing it */
	SB_ALLOW_ARG(io_uring_register, 1, IORING_REGISTER_ENABLE_RINGS),	/* enabling it */
	SB_ALLOW(eventfd2),						/* the completion eventfd */
};
/* clang-format on */

SB_POLICY(policy_blk, "blk", blk_rules);
