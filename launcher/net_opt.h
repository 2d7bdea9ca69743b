/* A NIC's options: --net of cellvm run, and each NIC of a cellvm-broker VM
 * definition (broker_vmdef.c turns it into this same string):
 * "tap=NAME[,mac=..][,queues=N][,mtu=N][,rate=..][,burst=..][,pps=..]
 * [,pps-burst=..][,transport=pci|mmio]". User input, parsed and checked here
 * in the launcher; the tap is opened by net_tap.h. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"

#define NET_OPT_MAX_QUEUES 8 /* NetConfig.queue_pairs */
#define NET_OPT_MIN_MTU	   68
#define NET_OPT_MAX_MTU	   65535
#define NET_OPT_MAX_LEN	   1024 /* the whole option string */
/* A tap's own MTU stops 14 bytes (its Ethernet header) short of 65535. */
#define NET_OPT_TAP_MAX_MTU 65521
#define NET_OPT_ETH_ALEN    6

struct net_opt {
	char tap[IFNAMSIZ];
	uint8_t mac[NET_OPT_ETH_ALEN];
	bool mac_given;	       /* false: net_tap_open_opt() picks a random one */
	uint32_t queues;       /* queue pairs, one tap fd each */
	uint32_t mtu;	       /* 0: not given (the guest is not told one) */
	uint64_t rate_bytes;   /* 0: unlimited */
	uint64_t burst_bytes;  /* 0: one second's worth */
	uint64_t rate_packets; /* 0: unlimited */
	uint64_t burst_packets;
	const char *transport; /* "pci", "mmio" (static strings), or NULL: the default */
	int fds[NET_OPT_MAX_QUEUES];
	size_t nfds;
	bool created;		       /* the tap did not exist: it goes when its fds do */
	Cellvm__Device__NetConfig net; /* filled by net_tap_open_opt(); points into this struct */
};

/* Parse s into *ret. Returns 0 or -EINVAL with a message in err. Touches no
 * system state (no random MAC yet). */
int net_opt_parse(const char *s, struct net_opt *ret, char *err, size_t errlen);

/* A MAC address "XX:XX:XX:XX:XX:XX" that a NIC may own: six hex bytes, not
 * multicast, not all zero. Returns 0 or -EINVAL with a message in err. */
int net_opt_parse_mac(const char *s, uint8_t ret[NET_OPT_ETH_ALEN], char *err, size_t errlen);

/* A random locally administered unicast MAC (getrandom). Returns 0 or -errno. */
int net_opt_random_mac(uint8_t ret[NET_OPT_ETH_ALEN]);

/* Whether name is a tap name we accept: 1 to IFNAMSIZ-1 bytes of letters,
 * digits, '-', '_' and '.', not "." or "..". */
bool net_opt_tap_name_ok(const char *name);

/* "52:54:00:12:34:56" into buf (at least 18 bytes). */
void net_opt_format_mac(const uint8_t mac[NET_OPT_ETH_ALEN], char *buf, size_t len);
