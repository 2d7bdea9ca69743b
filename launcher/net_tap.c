/* Opening the tap of a --net option; see net_tap.h. Runs in the launcher
 * (cellvm run, cellvm-broker), which holds CAP_NET_ADMIN. The name and queue
 * count come from net_opt_parse and are checked again; kernel answers about an
 * existing interface are trusted. */
#include "launcher/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Who may attach to a tap the launcher creates: its owner root and a group
 * nobody is in. The kernel lets a process without CAP_NET_ADMIN attach a
 * queue only when its euid is the owner and it is in the group (each when
 * set), so with both only CAP_NET_ADMIN attaches: the launcher, which opens
 * every queue a device process gets (the device never attaches one itself).
 * Not the sandbox's 65534: every sandboxed child of every VM, and the host's
 * "nobody" processes, run as that id. Not root alone either: a root process
 * that dropped CAP_NET_ADMIN (a hardened service) would still pass. The
 * group is (gid_t)-2, the highest valid id, which no account has. */
#define NET_TAP_OWNER 0U
#define NET_TAP_GROUP 4294967294U

/* What the kernel says of a tap (rtnetlink, IFLA_INFO_DATA of kind "tun");
 * owner and group are -1 when unset. */
struct net_tap_info {
	int64_t owner, group;
	uint32_t queues, disabled;
};

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

static int net_tap_parse_tun(const struct nlattr *data, size_t len, struct net_tap_info *ret)
{
	for (const struct nlattr *a = data;
	     len >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len;) {
		const void *v = (const char *)a + NLA_HDRLEN;
		uint32_t u = 0;
		size_t step = NLA_ALIGN(a->nla_len);

		if (a->nla_len >= NLA_HDRLEN + sizeof(u))
			memcpy(&u, v, sizeof(u));
		switch (a->nla_type & NLA_TYPE_MASK) {
		case IFLA_TUN_OWNER: ret->owner = u; break;
		case IFLA_TUN_GROUP: ret->group = u; break;
		case IFLA_TUN_NUM_QUEUES: ret->queues = u; break;
		case IFLA_TUN_NUM_DISABLED_QUEUES: ret->disabled = u; break;
		}
		if (step >= len)
			break;
		len -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return 0;
}

/* Ask the kernel who may attach to the tap, and how many queues are on it
 * (attached, and detached but held). -EOPNOTSUPP when the kernel does not
 * say (before Linux 4.15). */
static int net_tap_info(const char *name, struct net_tap_info *ret)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST},
		 .i = {.ifi_family = AF_UNSPEC}};
	union {
		struct nlmsghdr h;
		char buf[16384];
	} resp;
	const struct nlmsghdr *h = &resp.h;
	ssize_t n;
	size_t len;
	int fd, r = -EOPNOTSUPP;

	*ret = (struct net_tap_info){.owner = -1, .group = -1};
	req.i.ifi_index = (int)if_nametoindex(name);
	if (req.i.ifi_index == 0)
		return -ENODEV;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		r = -errno;
		goto out;
	}
	n = recv(fd, &resp, sizeof(resp), 0);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	len = (size_t)n;
	if (!NLMSG_OK(h, len) || h->nlmsg_type != RTM_NEWLINK) {
		r = h->nlmsg_type == NLMSG_ERROR ? -ENODEV : -EPROTO;
		goto out;
	}
	/* IFLA_LINKINFO { IFLA_INFO_KIND "tun", IFLA_INFO_DATA { IFLA_TUN_* } } */
	len = IFLA_PAYLOAD(h);
	for (const struct rtattr *a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		size_t ilen = RTA_PAYLOAD(a);

		if (a->rta_type != IFLA_LINKINFO)
			continue;
		for (const struct rtattr *b = RTA_DATA(a); RTA_OK(b, ilen); b = RTA_NEXT(b, ilen))
			if (b->rta_type == IFLA_INFO_DATA)
				r = net_tap_parse_tun(RTA_DATA(b), RTA_PAYLOAD(b), ret);
	}
out:
	close(fd);
	return r;
}

/* Set the owner and group of the tap attached to fd (see NET_TAP_OWNER): on
 * the fd that created it, before anything else is done with it. */
static int net_tap_set_owner(int fd, const char *name, char *err, size_t errlen)
{
	const char *what = "TUNSETOWNER";
	int r;

	if (ioctl(fd, TUNSETOWNER, (unsigned long)NET_TAP_OWNER) < 0)
		goto fail;
	what = "TUNSETGROUP";
	if (ioctl(fd, TUNSETGROUP, (unsigned long)NET_TAP_GROUP) < 0)
		goto fail;
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "tap=%s: %s: %s", name, what, strerror(-r));
	return r;
}

/* A multi-queue tap hands a queue, and part of the traffic, to whoever
 * attaches one. Refuse a tap without owner or group (anyone with
 * /dev/net/tun could attach), and one with queues besides our own (someone
 * attached before its owner was set, or uses it now). */
static int net_tap_check_mq(const char *name, uint32_t queues, bool existed, char *err,
			    size_t errlen)
{
	struct net_tap_info ti;
	int r = net_tap_info(name, &ti);

	if (r == -EOPNOTSUPP && !existed)
		return 0; /* an old kernel: the owner we set is all we can do */
	if (r < 0) {
		snprintf(err, errlen, "tap=%s: cannot tell who may attach to it: %s", name,
			 strerror(-r));
		return r;
	}
	if (ti.owner < 0 && ti.group < 0) {
		snprintf(err, errlen,
			 "tap=%s: the multi-queue tap has no owner or group, so any user could "
			 "attach a queue and take part of its traffic (ip tuntap add ... user "
			 "or group)",
			 name);
		return -EACCES;
	}
	if (ti.queues != queues || ti.disabled != 0) {
		snprintf(err, errlen,
			 "tap=%s: %u queues are attached to it, %u held detached; "
			 "only our %u may be: it is in use by someone else",
			 name, ti.queues, ti.disabled, queues);
		return -EBUSY;
	}
	return 0;
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
		/* The tap we just created gets its owner before its next queue. */
		if (n == 0 && !existed) {
			r = net_tap_set_owner(ret_fds[0], name, err, errlen);
			if (r < 0) {
				n++;
				goto fail;
			}
		}
	}
	if (queues > 1) {
		r = net_tap_check_mq(name, queues, existed, err, errlen);
		if (r < 0)
			goto fail;
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
