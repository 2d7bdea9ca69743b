/* --net parsing; see net_opt.h. Runs in the launcher's processes (cellvm
 * run, cellvm-broker). The option string is user input: every value is checked and
 * quoted back sanitised. The tap is opened in net_tap.c. */
#include "launcher/net_opt.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/parse.h"

enum net_opt_key {
	NET_KEY_TAP,
	NET_KEY_MAC,
	NET_KEY_QUEUES,
	NET_KEY_MTU,
	NET_KEY_RATE,
	NET_KEY_BURST,
	NET_KEY_PPS,
	NET_KEY_PPS_BURST,
	NET_KEY_TRANSPORT,
	NET_KEY_COUNT,
};

static const char *const net_opt_keys[NET_KEY_COUNT] = {
	[NET_KEY_TAP] = "tap",
	[NET_KEY_MAC] = "mac",
	[NET_KEY_QUEUES] = "queues",
	[NET_KEY_MTU] = "mtu",
	[NET_KEY_RATE] = "rate",
	[NET_KEY_BURST] = "burst",
	[NET_KEY_PPS] = "pps",
	[NET_KEY_PPS_BURST] = "pps-burst",
	[NET_KEY_TRANSPORT] = "transport",
};

/* User text quoted back in a message: at most 40 bytes, printable ASCII. */
static const char *net_opt_quote(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i < 40 && i + 4 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] && i + 4 <= len) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

bool net_opt_tap_name_ok(const char *name)
{
	size_t n = strlen(name);

	/* '%' would make TUNSETIFF pick a name ("tap%d"); '/', ':' and blanks
	 * are refused by the kernel; the rest keeps names easy to type. */
	if (n == 0 || n >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.';
		if (!ok)
			return false;
	}
	return true;
}

static int net_opt_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_opt_parse_mac(const char *s, uint8_t ret[NET_OPT_ETH_ALEN], char *err, size_t errlen)
{
	uint8_t mac[NET_OPT_ETH_ALEN];
	char q[48];

	if (strlen(s) != 3 * NET_OPT_ETH_ALEN - 1)
		goto bad;
	for (size_t i = 0; i < NET_OPT_ETH_ALEN; i++) {
		int hi = net_opt_hex(s[3 * i]), lo = net_opt_hex(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i + 1 < NET_OPT_ETH_ALEN && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) {
		snprintf(err, errlen,
			 "mac: %s is a multicast address (the low bit of the first byte is set)",
			 s);
		return -EINVAL;
	}
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		snprintf(err, errlen, "mac: the all-zero address is not a NIC's");
		return -EINVAL;
	}
	memcpy(ret, mac, NET_OPT_ETH_ALEN);
	return 0;
bad:
	snprintf(err, errlen, "mac: '%s' is not six hex bytes XX:XX:XX:XX:XX:XX",
		 net_opt_quote(s, q, sizeof(q)));
	return -EINVAL;
}

int net_opt_random_mac(uint8_t ret[NET_OPT_ETH_ALEN])
{
	ssize_t n;

	do
		n = getrandom(ret, NET_OPT_ETH_ALEN, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != NET_OPT_ETH_ALEN)
		return -EIO;
	/* Locally administered (bit 1), unicast (bit 0 clear). */
	ret[0] = (uint8_t)((ret[0] & 0xfc) | 0x02);
	return 0;
}

void net_opt_format_mac(const uint8_t mac[NET_OPT_ETH_ALEN], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

/* A positive count with an optional K/M/G/T suffix (binary, as --memory). */
static int net_opt_count(const char *key, const char *val, uint64_t *ret, char *err, size_t errlen)
{
	char q[48];
	int r = parse_size(val, ret);

	if (r == 0 && *ret > 0)
		return 0;
	snprintf(err, errlen, "%s: '%s' is %s", key, net_opt_quote(val, q, sizeof(q)),
		 r == -ERANGE ? "too large"
			      : "not a number above 0 (with an optional K, M, G or T suffix)");
	return -EINVAL;
}

static int net_opt_value(struct net_opt *n, enum net_opt_key k, const char *val, char *err,
			 size_t errlen)
{
	char q[48];

	switch (k) {
	case NET_KEY_TAP:
		if (!net_opt_tap_name_ok(val)) {
			snprintf(err, errlen,
				 "tap: '%s' is not an interface name (1 to %d letters, digits, "
				 "'-', '_' or '.')",
				 net_opt_quote(val, q, sizeof(q)), IFNAMSIZ - 1);
			return -EINVAL;
		}
		strcpy(n->tap, val);
		return 0;
	case NET_KEY_MAC: n->mac_given = true; return net_opt_parse_mac(val, n->mac, err, errlen);
	case NET_KEY_QUEUES:
		if (parse_u32(val, 1, NET_OPT_MAX_QUEUES, &n->queues) < 0) {
			snprintf(err, errlen, "queues: '%s' is not a number from 1 to %d",
				 net_opt_quote(val, q, sizeof(q)), NET_OPT_MAX_QUEUES);
			return -EINVAL;
		}
		return 0;
	case NET_KEY_MTU:
		if (parse_u32(val, NET_OPT_MIN_MTU, NET_OPT_MAX_MTU, &n->mtu) < 0) {
			snprintf(err, errlen, "mtu: '%s' is not a number from %d to %d",
				 net_opt_quote(val, q, sizeof(q)), NET_OPT_MIN_MTU,
				 NET_OPT_MAX_MTU);
			return -EINVAL;
		}
		return 0;
	case NET_KEY_RATE: return net_opt_count("rate", val, &n->rate_bytes, err, errlen);
	case NET_KEY_BURST: return net_opt_count("burst", val, &n->burst_bytes, err, errlen);
	case NET_KEY_PPS: return net_opt_count("pps", val, &n->rate_packets, err, errlen);
	case NET_KEY_PPS_BURST:
		return net_opt_count("pps-burst", val, &n->burst_packets, err, errlen);
	case NET_KEY_TRANSPORT:
		if (strcmp(val, "pci") == 0) {
			n->transport = "pci";
		} else if (strcmp(val, "mmio") == 0) {
			n->transport = "mmio";
		} else {
			snprintf(err, errlen, "transport: '%s' is not pci or mmio",
				 net_opt_quote(val, q, sizeof(q)));
			return -EINVAL;
		}
		return 0;
	case NET_KEY_COUNT: break;
	}
	assert(!"net_opt_value: no such key");
	return -EINVAL;
}

int net_opt_parse(const char *s, struct net_opt *ret, char *err, size_t errlen)
{
	char buf[NET_OPT_MAX_LEN + 1], q[48];
	bool seen[NET_KEY_COUNT] = {false};
	char *item = buf;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->queues = 1;
	ret->nfds = 0;
	for (size_t i = 0; i < NET_OPT_MAX_QUEUES; i++)
		ret->fds[i] = -1;
	if (strlen(s) > NET_OPT_MAX_LEN) {
		snprintf(err, errlen, "option longer than %d bytes", NET_OPT_MAX_LEN);
		return -EINVAL;
	}
	if (!*s) {
		snprintf(err, errlen, "empty option (tap=NAME is required)");
		return -EINVAL;
	}
	strcpy(buf, s);
	/* Items split by hand: an empty one (",," or a trailing ',') is an error,
	 * where strtok would skip it. */
	while (item) {
		char *next = strchr(item, ','), *eq;
		enum net_opt_key k;

		if (next)
			*next++ = 0;
		eq = strchr(item, '=');
		if (!*item) {
			snprintf(err, errlen, "empty item (two commas, or one at an end)");
			return -EINVAL;
		}
		if (!eq) {
			snprintf(err, errlen, "'%s' is not key=value",
				 net_opt_quote(item, q, sizeof(q)));
			return -EINVAL;
		}
		*eq = 0;
		for (k = 0; k < NET_KEY_COUNT; k++)
			if (strcmp(item, net_opt_keys[k]) == 0)
				break;
		if (k == NET_KEY_COUNT) {
			snprintf(err, errlen,
				 "unknown key '%s' (tap, mac, queues, mtu, rate, burst, pps, "
				 "pps-burst, transport)",
				 net_opt_quote(item, q, sizeof(q)));
			return -EINVAL;
		}
		if (seen[k]) {
			snprintf(err, errlen, "%s= given twice", net_opt_keys[k]);
			return -EINVAL;
		}
		seen[k] = true;
		r = net_opt_value(ret, k, eq + 1, err, errlen);
		if (r < 0)
			return r;
		item = next;
	}
	if (!seen[NET_KEY_TAP]) {
		snprintf(err, errlen, "tap= is required");
		return -EINVAL;
	}
	if (ret->burst_bytes && !ret->rate_bytes) {
		snprintf(err, errlen, "burst= needs rate=");
		return -EINVAL;
	}
	if (ret->burst_packets && !ret->rate_packets) {
		snprintf(err, errlen, "pps-burst= needs pps=");
		return -EINVAL;
	}
	return 0;
}
