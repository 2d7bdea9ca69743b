/* --net option of cellvm run (later also the broker's NIC definitions):
 * "tap=NAME[,mac=..][,queues=N][,mtu=N][,rate=..][,burst=..][,pps=..]
 * [,pps-burst=..][,transport=pci|mmio]". User input, parsed and checked here
 * in the launcher; the tap is opened here too (it needs CAP_NET_ADMIN, which
 * no device process has), one fd per queue pair, handed to cellvm-dev-net. */
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
	bool mac_given;	       /* false: net_opt_open() picks a random one */
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
	Cellvm__Device__NetConfig net; /* filled by net_opt_open(); points into this struct */
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

/* Open queues fds on the tap called name (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 * plus IFF_MULTI_QUEUE when queues > 1). A tap that does not exist is created,
 * not persistent (it disappears with the last fd), given mtu when not 0 (at
 * most NET_OPT_TAP_MAX_MTU) and brought up; *ret_created says so. An existing interface that is not
 * a tap, a tap in use, or one of the other queue mode is refused. On success the caller owns the
 * fds (close-on-exec, blocking); on failure returns -errno with a message in err and leaves nothing
 * open. */
int net_opt_open_tap(const char *name, uint32_t queues, uint32_t mtu, int *ret_fds,
		     bool *ret_created, char *err, size_t errlen);

/* Pick the MAC if none was given, open the tap (net_opt_open_tap) into n->fds
 * and fill n->net. Returns 0 or -errno with a message in err. */
int net_opt_open(struct net_opt *n, char *err, size_t errlen);
/* Close the tap fds (idempotent). */
void net_opt_close(struct net_opt *n);

/* "52:54:00:12:34:56" into buf (at least 18 bytes). */
void net_opt_format_mac(const uint8_t mac[NET_OPT_ETH_ALEN], char *buf, size_t len);
