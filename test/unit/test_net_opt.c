/* Unit tests for broker/net_opt (and the transport= key of broker/disk_opt):
 * the --net and --disk option strings are user input, so every hostile
 * string gets a clear refusal. Run as "test_net_opt tap", the tap opening code
 * is driven on real taps in a network namespace of the test's own
 * (unshare(CLONE_NEWNET)); that mode exits 77 without root or /dev/net/tun. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/disk_opt.h"
#include "launcher/net_opt.h"
#include "launcher/net_tap.h"

/* ---- parsing ---- */

static void check_err_printable(const char *s, const char *err)
{
	if (!*err)
		fail_msg("'%s': refused without a message", s);
	for (const char *c = err; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			fail_msg("'%s': message has byte %#x: %s", s, (unsigned char)*c, err);
}

/* s is refused with -EINVAL and a printable message containing want. */
static void refused(const char *s, const char *want)
{
	struct net_opt n;
	char err[512] = "";
	int r = net_opt_parse(s, &n, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("net_opt_parse(\"%s\") = %d, want -EINVAL", s, r);
	check_err_printable(s, err);
	if (!strstr(err, want))
		fail_msg("net_opt_parse(\"%s\"): '%s' lacks '%s'", s, err, want);
}

static void accepted(const char *s, struct net_opt *n)
{
	char err[512] = "";
	int r = net_opt_parse(s, n, err, sizeof(err));

	if (r != 0)
		fail_msg("net_opt_parse(\"%s\") = %d: %s", s, r, err);
}

static void test_parse_full(void **state)
{
	struct net_opt n;

	(void)state;
	accepted("tap=cvm0,mac=52:54:00:Ab:cD:ef,queues=4,mtu=9000,rate=100M,burst=1M,pps=10K,"
		 "pps-burst=100,transport=mmio",
		 &n);
	assert_string_equal(n.tap, "cvm0");
	assert_true(n.mac_given);
	assert_memory_equal(n.mac, ((uint8_t[]){0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}), 6);
	assert_int_equal(n.queues, 4);
	assert_int_equal(n.mtu, 9000);
	assert_int_equal(n.rate_bytes, 100ULL << 20);
	assert_int_equal(n.burst_bytes, 1ULL << 20);
	assert_int_equal(n.rate_packets, 10240);
	assert_int_equal(n.burst_packets, 100);
	assert_string_equal(n.transport, "mmio");
	assert_int_equal(n.nfds, 0);
	for (int i = 0; i < NET_OPT_MAX_QUEUES; i++)
		assert_int_equal(n.fds[i], -1);
}

static void test_parse_defaults(void **state)
{
	struct net_opt n;

	(void)state;
	accepted("tap=t", &n);
	assert_string_equal(n.tap, "t");
	assert_false(n.mac_given);
	assert_int_equal(n.queues, 1);
	assert_int_equal(n.mtu, 0);
	assert_int_equal(n.rate_bytes | n.burst_bytes | n.rate_packets | n.burst_packets, 0);
	assert_null(n.transport);
	/* Any order; the longest name; the bounds. */
	accepted("transport=pci,queues=8,tap=a-b_c.d0123456,mtu=68", &n);
	assert_string_equal(n.tap, "a-b_c.d0123456");
	assert_string_equal(n.transport, "pci");
	accepted("tap=012345678901234,mtu=65535,queues=1,rate=1,burst=1", &n);
	assert_int_equal(n.mtu, 65535);
	accepted("tap=x,rate=1T,pps=1", &n);
	assert_int_equal(n.rate_bytes, 1ULL << 40);
}

static void test_parse_structure(void **state)
{
	(void)state;
	refused("", "empty option");
	refused(",", "empty item");
	refused("tap=a,", "empty item");
	refused(",tap=a", "empty item");
	refused("tap=a,,mtu=1500", "empty item");
	refused("tap", "not key=value");
	refused("tap=a,mtu", "not key=value");
	refused("=", "unknown key ''");
	refused("=a", "unknown key ''");
	refused("tap=a,foo=1", "unknown key 'foo'");
	refused("TAP=a", "unknown key 'TAP'");
	refused("tap =a", "unknown key 'tap '");
	refused("tap=a,pps_burst=1", "unknown key 'pps_burst'");
	refused("mac=52:54:00:12:34:56", "tap= is required");
	refused("queues=2", "tap= is required");
	refused("tap=a,tap=b", "tap= given twice");
	refused("tap=a,tap=a", "tap= given twice");
	refused("tap=a,mac=52:54:00:12:34:56,mac=52:54:00:12:34:56", "mac= given twice");
	refused("tap=a,queues=1,queues=2", "queues= given twice");
	refused("tap=a,transport=pci,transport=pci", "transport= given twice");
	refused("tap=a,pps=1,pps=1", "pps= given twice");
	refused("tap=a,burst=1M", "burst= needs rate=");
	refused("tap=a,pps-burst=10", "pps-burst= needs pps=");
	refused("tap=a,rate=1M,pps-burst=10", "pps-burst= needs pps=");
}

static void test_parse_tap_name(void **state)
{
	(void)state;
	refused("tap=", "not an interface name");
	refused("tap=0123456789abcdef", "not an interface name"); /* IFNAMSIZ */
	refused("tap=a/b", "not an interface name");
	refused("tap=a b", "not an interface name");
	refused("tap=a:b", "not an interface name");
	refused("tap=tap%d", "not an interface name");
	refused("tap=.", "not an interface name");
	refused("tap=..", "not an interface name");
	refused("tap=a\\0b", "not an interface name");
	refused("tap=a\x01", "not an interface name");
	refused("tap=\x7f", "not an interface name");
	refused("tap=\xc3\xa9t", "not an interface name");
	refused("tap=a=b", "not an interface name");
	/* Control bytes are not echoed back. */
	refused("tap=\x1b[2J", "'?[2J'");
	assert_true(net_opt_tap_name_ok("..."));
	assert_false(net_opt_tap_name_ok(""));
}

static void test_parse_mac(void **state)
{
	static const char *const bad_form[] = {
		"",
		"52:54:00:12:34",
		"52:54:00:12:34:5",
		"52:54:00:12:34:56:78",
		"52-54-00-12-34-56",
		"525400123456",
		"5g:54:00:12:34:56",
		" 52:54:00:12:34:56",
		"52:54:00:12:34:56 ",
		"52:54:00:12:34:5 ",
		"52:54:00:12:34:+6",
		"52::54:00:12:34:5",
		"0x:54:00:12:34:56",
		"52:54:00:12:34:56:",
	};
	uint8_t mac[6];
	char err[256], buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_form) / sizeof(bad_form[0]); i++) {
		snprintf(buf, sizeof(buf), "tap=a,mac=%s", bad_form[i]);
		refused(buf, "not six hex bytes");
	}
	refused("tap=a,mac=01:00:5e:00:00:01", "multicast");
	refused("tap=a,mac=ff:ff:ff:ff:ff:ff", "multicast");
	refused("tap=a,mac=33:33:00:00:00:01", "multicast");
	refused("tap=a,mac=00:00:00:00:00:00", "all-zero");
	assert_int_equal(net_opt_parse_mac("02:00:00:00:00:00", mac, err, sizeof(err)), 0);
	assert_int_equal(mac[0], 2);
	assert_int_equal(net_opt_parse_mac("FE:FF:FF:FF:FF:FF", mac, err, sizeof(err)), 0);
	assert_int_equal(mac[5], 0xff);
}

static void test_parse_numbers(void **state)
{
	static const char *const bad_queues[] = {
		"0",
		"9",
		"-1",
		"+1",
		" 1",
		"1 ",
		"1x",
		"",
		"0x2",
		"4294967297",
		"99999999999999999999",
	};
	static const char *const bad_mtu[] = {
		"0",	 "67",	       "65536",
		"",	 "1500.0",     "-1500",
		"1500k", "4294969296", "18446744073709551617",
	};
	static const char *const bad_rate[] = {
		"0", "", "x", "-1", "1.5M", "1M1", "M", "1Q", "0K",
	};
	char buf[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_queues) / sizeof(bad_queues[0]); i++) {
		snprintf(buf, sizeof(buf), "tap=a,queues=%s", bad_queues[i]);
		refused(buf, "queues: ");
		refused(buf, "1 to 8");
	}
	for (size_t i = 0; i < sizeof(bad_mtu) / sizeof(bad_mtu[0]); i++) {
		snprintf(buf, sizeof(buf), "tap=a,mtu=%s", bad_mtu[i]);
		refused(buf, "68 to 65535");
	}
	for (size_t i = 0; i < sizeof(bad_rate) / sizeof(bad_rate[0]); i++) {
		snprintf(buf, sizeof(buf), "tap=a,rate=%s", bad_rate[i]);
		refused(buf, "rate: ");
		refused(buf, "not a number above 0");
		snprintf(buf, sizeof(buf), "tap=a,pps=1,pps-burst=%s", bad_rate[i]);
		refused(buf, "pps-burst: ");
	}
	refused("tap=a,rate=18446744073709551616", "rate: '18446744073709551616' is too large");
	refused("tap=a,rate=16777216T", "too large");
	refused("tap=a,rate=1M,burst=99999999999999999999999", "burst: ");
	refused("tap=a,pps=17179869184G", "pps: ");
	refused("tap=a,transport=PCI", "transport: 'PCI' is not pci or mmio");
	refused("tap=a,transport=", "not pci or mmio");
	refused("tap=a,transport=pci ", "not pci or mmio");
	refused("tap=a,transport=virtio", "not pci or mmio");
}

static void test_parse_long(void **state)
{
	char s[NET_OPT_MAX_LEN + 64], err[512];
	struct net_opt n;

	(void)state;
	/* Too long as a whole. */
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = 0;
	refused(s, "longer than 1024");
	/* Exactly the limit: parsed, and the key is quoted back truncated. */
	memcpy(s, "tap=a,", 6);
	memset(s + 6, 'k', NET_OPT_MAX_LEN - 8);
	memcpy(s + NET_OPT_MAX_LEN - 2, "=1", 3);
	assert_int_equal(strlen(s), NET_OPT_MAX_LEN);
	refused(s, "unknown key 'kkkk");
	assert_int_equal(net_opt_parse(s, &n, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) < 200);
	assert_non_null(strstr(err, "k...'"));
	/* A long tap name and a long MAC are refused, not truncated. */
	snprintf(s, sizeof(s), "tap=%0500d", 0);
	refused(s, "not an interface name");
	snprintf(s, sizeof(s), "tap=a,mac=52:54:00:12:34:56%0500d", 0);
	refused(s, "not six hex bytes");
	/* A small error buffer is filled, not overrun (ASan watches). */
	for (size_t len = 1; len < 16; len++) {
		char *small = malloc(len);
		assert_non_null(small);
		assert_int_equal(net_opt_parse("tap=a,mtu=1", &n, small, len), -EINVAL);
		assert_true(strlen(small) < len);
		free(small);
	}
}

static void test_random_mac(void **state)
{
	uint8_t mac[6], prev[6] = {0};
	char buf[18], err[128];
	int same = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(net_opt_random_mac(mac), 0);
		assert_int_equal(mac[0] & 3, 2); /* locally administered unicast */
		net_opt_format_mac(mac, buf, sizeof(buf));
		assert_int_equal(strlen(buf), 17);
		uint8_t back[6];
		assert_int_equal(net_opt_parse_mac(buf, back, err, sizeof(err)), 0);
		assert_memory_equal(back, mac, 6);
		same += memcmp(prev, mac, 6) == 0;
		memcpy(prev, mac, 6);
	}
	assert_true(same < 2);
}

static void disk_transport(const char *s, int want_r, const char *want)
{
	struct disk_opt d;
	char err[512] = "";
	int r = disk_opt_parse(s, &d, err, sizeof(err));

	if (r != want_r)
		fail_msg("disk_opt_parse(\"%s\") = %d, want %d (%s)", s, r, want_r, err);
	if (r == 0 && (want ? !d.transport || strcmp(d.transport, want) : d.transport != NULL))
		fail_msg("disk_opt_parse(\"%s\"): transport %s, want %s", s,
			 d.transport ? d.transport : "(none)", want ? want : "(none)");
	if (r < 0 && !strstr(err, "transport"))
		fail_msg("disk_opt_parse(\"%s\"): '%s'", s, err);
}

static void test_disk_transport(void **state)
{
	(void)state;
	disk_transport("path=/x", 0, NULL);
	disk_transport("path=/x,transport=pci", 0, "pci");
	disk_transport("transport=mmio,path=/x,readonly=on", 0, "mmio");
	disk_transport("path=/x,transport=", -EINVAL, NULL);
	disk_transport("path=/x,transport=Mmio", -EINVAL, NULL);
	disk_transport("path=/x,transport=isa", -EINVAL, NULL);
}

/* ---- real taps, in a network namespace of our own ---- */

static int ctl_sock(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	return s;
}

static short if_flags(const char *name)
{
	struct ifreq ifr = {0};
	int s = ctl_sock();

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	close(s);
	return ifr.ifr_flags;
}

static int if_mtu(const char *name)
{
	struct ifreq ifr = {0};
	int s = ctl_sock();

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFMTU, &ifr), 0);
	close(s);
	return ifr.ifr_mtu;
}

static short tun_flags(int fd)
{
	struct ifreq ifr = {0};

	assert_int_equal(ioctl(fd, TUNGETIFF, &ifr), 0);
	return ifr.ifr_flags;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* A tap as `ip tuntap add` makes it: persistent, with nothing attached. */
static void make_persistent(const char *name, short flags)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = flags;
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
}

/* The same, owned by root (as `ip tuntap add ... user 0` makes it). */
static void make_persistent_owned(const char *name, short flags)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = flags;
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETOWNER, 0UL), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
}

static void remove_persistent(const char *name, short flags)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = flags;
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 0), 0);
	close(fd);
	assert_int_equal(if_nametoindex(name), 0);
}

static void test_tap_create(void **state)
{
	int fds[NET_OPT_MAX_QUEUES];
	bool created = false;
	char err[256] = "";

	(void)state;
	assert_int_equal(if_nametoindex("cvt0"), 0);
	assert_int_equal(net_tap_open("cvt0", 1, 9000, fds, &created, err, sizeof(err)), 0);
	assert_true(created);
	assert_true(if_nametoindex("cvt0") != 0);
	assert_true(if_flags("cvt0") & IFF_UP);
	assert_int_equal(if_mtu("cvt0"), 9000);
	assert_int_equal(tun_flags(fds[0]) & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE),
			 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	assert_int_equal(tun_flags(fds[0]) & IFF_PERSIST, 0);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);

	/* One queue, in use: a second VM on it is refused. */
	int again[1];
	assert_int_equal(net_tap_open("cvt0", 1, 0, again, &created, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "in use"));
	/* Single-queue, asked for two. */
	int two[2];
	assert_int_equal(net_tap_open("cvt0", 2, 0, two, &created, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not multi-queue"));

	/* Not persistent: it goes with its fd. */
	close(fds[0]);
	assert_int_equal(if_nametoindex("cvt0"), 0);

	/* The largest virtio MTU is more than a tap takes: the tap gets its most. */
	assert_int_equal(net_tap_open("cvt0", 1, 65535, fds, &created, err, sizeof(err)), 0);
	assert_int_equal(if_mtu("cvt0"), NET_OPT_TAP_MAX_MTU);
	close(fds[0]);
}

/* As uid/gid 65534 with no capabilities, with a /dev/net/tun fd opened
 * before (any user who may open it), try to attach a queue to the
 * multi-queue tap name: the errno (0 when it worked). */
static int attach_unprivileged(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), st = -1;
	pid_t pid;

	assert_true(fd >= 0);
	pid = fork();
	if (pid == 0) {
		struct ifreq ifr = {0};

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(100);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
		_exit(ioctl(fd, TUNSETIFF, &ifr) == 0 ? 0 : errno);
	}
	close(fd);
	assert_true(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_tap_multiqueue(void **state)
{
	int fds[NET_OPT_MAX_QUEUES];
	bool created = false;
	char err[256] = "";

	(void)state;
	assert_int_equal(
		net_tap_open("cvt-mq", NET_OPT_MAX_QUEUES, 0, fds, &created, err, sizeof(err)), 0);
	assert_true(created);
	assert_true(if_flags("cvt-mq") & IFF_UP);
	assert_int_equal(if_mtu("cvt-mq"), 1500);
	for (int i = 0; i < NET_OPT_MAX_QUEUES; i++) {
		assert_true(tun_flags(fds[i]) & IFF_MULTI_QUEUE);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(fds[i], fds[j]);
	}
	/* Its owner and group let nobody without CAP_NET_ADMIN attach a queue. */
	assert_int_equal(attach_unprivileged("cvt-mq"), EPERM);
	/* Multi-queue, asked for one queue. */
	int one[1];
	assert_int_equal(net_tap_open("cvt-mq", 1, 0, one, &created, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is multi-queue; queues=1 needs one that is not"));
	close_all(fds, NET_OPT_MAX_QUEUES);
	assert_int_equal(if_nametoindex("cvt-mq"), 0);
}

static void test_tap_existing(void **state)
{
	int fds[NET_OPT_MAX_QUEUES];
	bool created = true;
	char err[256] = "";
	short tap = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;

	(void)state;
	/* A persistent tap the user made (and left down, at its MTU): used as is. */
	make_persistent("cvt-p", tap);
	assert_int_equal(net_tap_open("cvt-p", 1, 9000, fds, &created, err, sizeof(err)), 0);
	assert_false(created);
	assert_false(if_flags("cvt-p") & IFF_UP);
	assert_int_equal(if_mtu("cvt-p"), 1500);
	close(fds[0]);
	assert_true(if_nametoindex("cvt-p") != 0);
	remove_persistent("cvt-p", tap);

	/* A persistent multi-queue tap without owner or group: any user could
	 * attach a queue to it, so it is refused. */
	make_persistent("cvt-pm", tap | IFF_MULTI_QUEUE);
	assert_int_equal(net_tap_open("cvt-pm", 3, 0, fds, &created, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "has no owner or group"));
	remove_persistent("cvt-pm", tap | IFF_MULTI_QUEUE);

	/* (the attack it would allow: an unprivileged user attaches a queue) */
	make_persistent("cvt-pm", tap | IFF_MULTI_QUEUE);
	assert_int_equal(attach_unprivileged("cvt-pm"), 0);
	remove_persistent("cvt-pm", tap | IFF_MULTI_QUEUE);

	/* With an owner, it takes several queues. */
	make_persistent_owned("cvt-pm", tap | IFF_MULTI_QUEUE);
	assert_int_equal(net_tap_open("cvt-pm", 3, 0, fds, &created, err, sizeof(err)), 0);
	assert_false(created);
	close_all(fds, 3);
	remove_persistent("cvt-pm", tap | IFF_MULTI_QUEUE);

	/* A tun is not a tap. */
	make_persistent("cvt-tun", IFF_TUN | IFF_NO_PI);
	assert_int_equal(net_tap_open("cvt-tun", 1, 0, fds, &created, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is a tun (IP), not a tap"));
	remove_persistent("cvt-tun", IFF_TUN | IFF_NO_PI);

	/* Nor is the loopback device. */
	assert_int_equal(net_tap_open("lo", 1, 0, fds, &created, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tap=lo: the interface exists and is not a tap");
	assert_int_equal(net_tap_open("lo", 2, 0, fds, &created, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not a tap"));

	/* Names the kernel would not take never reach it. */
	assert_int_equal(net_tap_open("tap%d", 1, 0, fds, &created, err, sizeof(err)), -EINVAL);
	assert_int_equal(net_tap_open("a", 0, 0, fds, &created, err, sizeof(err)), -EINVAL);
	assert_int_equal(net_tap_open("a", 9, 0, fds, &created, err, sizeof(err)), -EINVAL);
}

static void test_net_opt_open(void **state)
{
	struct net_opt n;
	char err[256] = "";

	(void)state;
	assert_int_equal(net_opt_parse("tap=cvt-o,queues=2,mtu=4000,rate=1M,burst=64K,pps=1000", &n,
				       err, sizeof(err)),
			 0);
	assert_int_equal(net_tap_open_opt(&n, err, sizeof(err)), 0);
	assert_int_equal(n.nfds, 2);
	assert_true(n.created);
	assert_int_equal(n.mac[0] & 3, 2);
	assert_int_equal(n.net.mac.len, 6);
	assert_memory_equal(n.net.mac.data, n.mac, 6);
	assert_int_equal(n.net.mtu, 4000);
	assert_int_equal(n.net.queue_pairs, 2);
	assert_int_equal(n.net.rate_bytes, 1 << 20);
	assert_int_equal(n.net.burst_bytes, 64 << 10);
	assert_int_equal(n.net.rate_packets, 1000);
	assert_int_equal(n.net.burst_packets, 0);
	/* The packed NetConfig is what cellvm-dev-net checks. */
	size_t len = cellvm__device__net_config__get_packed_size(&n.net);
	uint8_t buf[128];
	assert_true(len <= sizeof(buf));
	cellvm__device__net_config__pack(&n.net, buf);
	Cellvm__Device__NetConfig *u = cellvm__device__net_config__unpack(NULL, len, buf);
	assert_non_null(u);
	assert_int_equal(u->queue_pairs, 2);
	assert_memory_equal(u->mac.data, n.mac, 6);
	cellvm__device__net_config__free_unpacked(u, NULL);
	net_tap_close_opt(&n);
	net_tap_close_opt(&n); /* idempotent */
	assert_int_equal(n.nfds, 0);
	assert_int_equal(if_nametoindex("cvt-o"), 0);

	/* A given MAC is kept. */
	assert_int_equal(net_opt_parse("tap=cvt-o,mac=52:54:00:12:34:56", &n, err, sizeof(err)), 0);
	assert_int_equal(net_tap_open_opt(&n, err, sizeof(err)), 0);
	assert_memory_equal(n.mac, ((uint8_t[]){0x52, 0x54, 0, 0x12, 0x34, 0x56}), 6);
	net_tap_close_opt(&n);
	/* A failed open leaves nothing open. */
	assert_int_equal(net_opt_parse("tap=lo", &n, err, sizeof(err)), 0);
	assert_int_equal(net_tap_open_opt(&n, err, sizeof(err)), -EINVAL);
	assert_int_equal(n.nfds, 0);
	net_tap_close_opt(&n);
}

static int run_tap_tests(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap_create),
		cmocka_unit_test(test_tap_multiqueue),
		cmocka_unit_test(test_tap_existing),
		cmocka_unit_test(test_net_opt_open),
	};

	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		fprintf(stderr, "SKIP: /dev/net/tun: %s\n", strerror(errno));
		return 77;
	}
	/* Our own network namespace: the taps never touch the host's. */
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "SKIP: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests_name("net_opt_tap", tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),	cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_structure), cmocka_unit_test(test_parse_tap_name),
		cmocka_unit_test(test_parse_mac),	cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_long),	cmocka_unit_test(test_random_mac),
		cmocka_unit_test(test_disk_transport),
	};

	if (argc > 1 && strcmp(argv[1], "tap") == 0)
		return run_tap_tests();
	return cmocka_run_group_tests_name("net_opt", tests, NULL, NULL);
}
