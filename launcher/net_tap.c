/* Opening the tap of a --net option; see net_tap.h. Runs in the launcher
 * (cellvm run, cellvm-broker), which holds CAP_NET_ADMIN. The name and queue
 * count come from net_opt_parse and are checked again; kernel answers about an
 * existing interface are trusted. */
#include "launcher/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* TUNSETIFF said EINVAL about the existing interface name: it is not a tap,
 * or a tap of the other queue mode. The tun driver tells which over ethtool. */
static void net_tap_explain_einval(int sock, const char *name, uint32_t queues, char *err,
				   size_t errlen)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (char *)&info;
	if (ioctl(sock, SIOCETHTOOL, &ifr) < 0 || strcmp(info.driver, "tun") != 0) {
		snprintf(err, errlen, "tap=%s: the interface exists and is not a tap", name);
		return;
	}
	if (strcmp(info.bus_info, "tap") != 0) {
		snprintf(err, errlen, "tap=%s: the interface exists and is a tun (IP), not a tap",
			 name);
		return;
	}
	snprintf(err, errlen,
		 "tap=%s: the tap exists and is %smulti-queue; queues=%u needs one that is %s",
		 name, queues > 1 ? "not " : "", queues,
		 queues > 1 ? "(ip tuntap add ... multi_queue)" : "not");
}

static int net_tap_attach(int sock, const char *name, uint32_t queues, bool existed, char *err,
			  size_t errlen)
{
	struct ifreq ifr = {0};
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s%s", strerror(errno),
			 errno == ENOENT ? " (no tun driver: modprobe tun)" : "");
		return r;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		return fd;
	r = -errno;
	close(fd);
	if (r == -EINVAL && existed)
		net_tap_explain_einval(sock, name, queues, err, errlen);
	else if (r == -EBUSY)
		snprintf(err, errlen, "tap=%s: the tap is in use (by another VM or program?)",
			 name);
	else if (r == -EPERM)
		snprintf(err, errlen, "tap=%s: not allowed (CAP_NET_ADMIN, or the tap's owner)",
			 name);
	else
		snprintf(err, errlen, "tap=%s: TUNSETIFF: %s", name, strerror(-r));
	return r;
}

/* A tap we created: the MTU the guest is told, and up. */
static int net_tap_configure(int sock, const char *name, uint32_t mtu, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	const char *what = "SIOCSIFMTU";
	int r;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (mtu) {
		ifr.ifr_mtu = (int)(mtu < NET_OPT_TAP_MAX_MTU ? mtu : NET_OPT_TAP_MAX_MTU);
		if (ioctl(sock, SIOCSIFMTU, &ifr) < 0)
			goto fail;
	}
	what = "SIOCGIFFLAGS";
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	what = "SIOCSIFFLAGS (up)";
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "tap=%s: %s: %s", name, what, strerror(-r));
	return r;
}

int net_tap_open(const char *name, uint32_t queues, uint32_t mtu, int *ret_fds, bool *ret_created,
		 char *err, size_t errlen)
{
	bool existed;
	uint32_t n = 0;
	int sock, r;

	if (!net_opt_tap_name_ok(name) || queues < 1 || queues > NET_OPT_MAX_QUEUES) {
		snprintf(err, errlen, "invalid tap name or queue count");
		return -EINVAL;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	/* The first TUNSETIFF creates a missing tap, the others attach to it. */
	existed = if_nametoindex(name) != 0;
	for (; n < queues; n++) {
		r = net_tap_attach(sock, name, queues, existed || n > 0, err, errlen);
		if (r < 0)
			goto fail;
		ret_fds[n] = r;
	}
	if (!existed) {
		r = net_tap_configure(sock, name, mtu, err, errlen);
		if (r < 0)
			goto fail;
	}
	close(sock);
	*ret_created = !existed;
	return 0;
fail:
	while (n > 0)
		close(ret_fds[--n]);
	close(sock);
	return r;
}

int net_tap_open_opt(struct net_opt *n, char *err, size_t errlen)
{
	int r;

	if (!n->mac_given) {
		r = net_opt_random_mac(n->mac);
		if (r < 0) {
			snprintf(err, errlen, "getrandom (for a MAC address): %s", strerror(-r));
			return r;
		}
	}
	r = net_tap_open(n->tap, n->queues, n->mtu, n->fds, &n->created, err, errlen);
	if (r < 0)
		return r;
	n->nfds = n->queues;
	cellvm__device__net_config__init(&n->net);
	n->net.mac.data = n->mac;
	n->net.mac.len = NET_OPT_ETH_ALEN;
	n->net.mtu = n->mtu;
	n->net.queue_pairs = n->queues;
	n->net.rate_bytes = n->rate_bytes;
	n->net.burst_bytes = n->burst_bytes;
	n->net.rate_packets = n->rate_packets;
	n->net.burst_packets = n->burst_packets;
	return 0;
}

void net_tap_close_opt(struct net_opt *n)
{
	for (size_t i = 0; i < n->nfds; i++)
		if (n->fds[i] >= 0)
			close(n->fds[i]);
	for (size_t i = 0; i < NET_OPT_MAX_QUEUES; i++)
		n->fds[i] = -1;
	n->nfds = 0;
}
