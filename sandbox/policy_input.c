/* seccomp rules of cellvm-dev-input (SANDBOX_DEV_INPUT), on top of
 * policy_base.c: an epoll loop (in base) over its core links and the PS/2
 * port link, eventfd writes for the IRQ 1/12 and virtio interrupts (base's
 * write), and one timerfd for events injected with a delay. It opens
 * nothing and has no backend beyond the sockets it was handed. */
#include "sandbox/policy.h"

/* clang-format off */
static const struct sb_rule input_rules[] = {
	SB_ALLOW(timerfd_settime),	/* an injected event's delay_ms */
};
/* clang-format on */

SB_POLICY(policy_input, "input", input_rules);
