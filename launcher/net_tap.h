/* The tap behind a --net option, opened in the launcher (it needs
 * CAP_NET_ADMIN, which no device process has): one fd per queue pair, handed
 * to cellvm-dev-net. The option itself is parsed by net_opt.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/net_opt.h"

/* Open queues fds on the tap called name (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 * plus IFF_MULTI_QUEUE when queues > 1). A tap that does not exist is created,
 * not persistent (it disappears with the last fd), owned so that only
 * CAP_NET_ADMIN can attach to it (owner root, a group nobody is in), given
 * mtu when not 0 (at most NET_OPT_TAP_MAX_MTU) and brought up; *ret_created
 * says so. An existing interface that is not a tap, a tap in use, or one of
 * the other queue mode is refused (-EINVAL, -EBUSY); so is a multi-queue tap
 * without owner or group, which any user could attach a queue to (-EACCES),
 * and one with queues besides ours (-EBUSY). On success the caller owns the
 * fds (close-on-exec, blocking); on failure returns -errno with a message in err and leaves nothing
 * open. */
int net_tap_open(const char *name, uint32_t queues, uint32_t mtu, int *ret_fds, bool *ret_created,
		 char *err, size_t errlen);

/* Pick the MAC if none was given, open the tap (net_tap_open) into n->fds
 * and fill n->net. Returns 0 or -errno with a message in err. */
int net_tap_open_opt(struct net_opt *n, char *err, size_t errlen);
/* Close the tap fds (idempotent). */
void net_tap_close_opt(struct net_opt *n);
