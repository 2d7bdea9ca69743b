/* seccomp rules of cellvm-dev-net (SANDBOX_DEV_NET), on top of
 * policy_base.c: an epoll loop (in base), frames read from and written to the
 * tap queues the launcher opened, and two timerfds for the rate limiter. The
 * taps' vnet header size is set before sandbox_enter(); only the offloads
 * change afterwards, when the guest driver negotiates them. */
#include "sandbox/policy.h"

#include <linux/if_tun.h>
#include <sys/ioctl.h>

/* clang-format off */
static const struct sb_rule net_rules[] = {
	SB_ALLOW(readv),			/* RX: a frame straight into guest buffers */
	SB_ALLOW_ARG(ioctl, 1, TUNSETOFFLOAD),	/* guest-negotiated offloads, at activation */
	SB_ALLOW(timerfd_settime),		/* rate limiter: resume when tokens are back */
};
/* clang-format on */

SB_POLICY(policy_net, "net", net_rules);
