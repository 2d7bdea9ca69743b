/* seccomp rules of cellvm-dev-gpu (SANDBOX_DEV_GPU), on top of
 * policy_base.c, which already holds everything it calls after
 * sandbox_enter(): the epoll loop over its core link; reads and writes of
 * eventfds (its interrupts, the capture ring's subscribers); memory for the
 * guest's resources (mmap without PROT_EXEC, munmap, brk, within the
 * per-VM budget); clock_gettime for the ring's frame timestamps (the vDSO
 * first). Guest RAM and the capture ring are mapped before the sandbox. It
 * opens nothing, and has no rule of its own: the table is empty on purpose. */
#include "sandbox/policy.h"

/* clang-format off */
static const struct sb_rule gpu_rules[] = {
	/* none: see above */
};
/* clang-format on */

const struct sb_policy policy_gpu = {"gpu", gpu_rules, 0};
