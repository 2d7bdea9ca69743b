/* virtio-net guest data (virtio 1.2, 5.1.6): the 12-byte virtio_net_hdr of
 * every frame, TX chains turned into a checked frame for the tap, RX chains
 * checked before the device writes into them, control-queue commands and the
 * receive filter they set. Runs in cellvm-dev-net (and in tests and fuzzers
 * in-process). Chains, headers and command payloads are guest data: each is
 * copied once into a private struct and checked against what was negotiated. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dev-procs/devlib/virtq.h"

#define NET_HDR_LEN	  12U /* virtio 1.x: num_buffers is always there */
#define NET_ETH_HLEN	  14U
#define NET_VLAN_HLEN	  4U
#define NET_ETH_ALEN	  6U
#define NET_FRAME_MAX	  (65536U + NET_ETH_HLEN) /* a TSO frame: 64 KiB and its header */
#define NET_TX_MAX_IOV	  (VIRTQ_MAX_SEGS + 1)	  /* the header copy, then the chain's pieces */
#define NET_CTRL_MAX	  4096U			  /* command payload bytes taken from a chain */
#define NET_MAC_TABLE_MAX 64U			  /* entries kept per table; more: accept all */

/* struct virtio_net_hdr_v1, host order. */
struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

void net_hdr_decode(const uint8_t raw[NET_HDR_LEN], struct net_hdr *ret);
void net_hdr_encode(const struct net_hdr *h, uint8_t raw[NET_HDR_LEN]);

/* What the driver negotiated for its TX frames. */
struct net_tx_limits {
	bool csum;	    /* VIRTIO_NET_F_CSUM */
	bool tso4, tso6;    /* VIRTIO_NET_F_HOST_TSO4/6 */
	bool ecn;	    /* VIRTIO_NET_F_HOST_ECN: TSO frames may carry the ECN bit */
	uint32_t frame_max; /* largest non-GSO frame: MTU + Ethernet (+VLAN) header */
};

/* Why a TX chain is not sent (the index of its drop counter). */
enum net_tx_verdict {
	NET_TX_OK,
	NET_TX_WRITABLE,  /* device-writable buffers in a TX chain */
	NET_TX_SHORT_HDR, /* fewer readable bytes than the 12-byte header */
	NET_TX_RUNT,	  /* frame shorter than an Ethernet header */
	NET_TX_TOO_BIG,	  /* over frame_max, or over NET_FRAME_MAX with GSO */
	NET_TX_BAD_FLAGS, /* unknown flags, or NEEDS_CSUM without CSUM */
	NET_TX_BAD_GSO,	  /* gso_type or ECN not negotiated, gso_size 0, hdr_len too big */
	NET_TX_BAD_CSUM,  /* csum_start + csum_offset + 2 past the frame */
	NET_TX_NVERDICT
};

/* A checked TX frame: iov[0] is the private, re-encoded header (what the tap
 * reads), then the frame's pieces in guest RAM. */
struct net_tx_req {
	struct net_hdr hdr;
	uint8_t hdr_raw[NET_HDR_LEN];
	uint32_t frame_len;
	uint32_t niov;
	struct iovec iov[NET_TX_MAX_IOV];
};

/* Parse TX chain c (as virtq_pop returned it). */
enum net_tx_verdict net_tx_parse(const struct net_tx_limits *lim, const struct virtq_chain *c,
				 struct net_tx_req *ret);
/* Check a header against the limits for a frame of frame_len bytes. */
enum net_tx_verdict net_hdr_check_tx(const struct net_tx_limits *lim, const struct net_hdr *h,
				     uint32_t frame_len);
const char *net_tx_verdict_name(enum net_tx_verdict v);

/* An RX chain the device may write into: writable buffers only, room for
 * the header. */
bool net_rx_chain_ok(const struct virtq_chain *c);

/* ---- control queue (5.1.6.5) ---- */

struct net_ctrl {
	uint8_t class, cmd;
	bool too_big; /* payload over NET_CTRL_MAX: answered with an error */
	uint32_t len; /* payload bytes in data */
	uint8_t *ack; /* the chain's last device-writable byte */
	uint8_t data[NET_CTRL_MAX];
};

/* Parse a control chain. Returns 0 with *ret filled (a command without class
 * and cmd bytes has len 0 and class 0xff), or -EINVAL when the chain has no
 * device-writable ack byte: it cannot be answered. */
int net_ctrl_parse(const struct virtq_chain *c, struct net_ctrl *ret);

struct net_mac_table {
	uint32_t n_uni, n_multi;
	bool uni_overflow, multi_overflow; /* more than NET_MAC_TABLE_MAX: accept all */
	uint8_t uni[NET_MAC_TABLE_MAX][NET_ETH_ALEN];
	uint8_t multi[NET_MAC_TABLE_MAX][NET_ETH_ALEN];
};

/* VIRTIO_NET_CTRL_MAC_TABLE_SET's payload: le32 count and count MACs,
 * unicast then multicast, nothing after. Returns 0 or -EINVAL (counts
 * larger than the payload, trailing bytes). */
int net_ctrl_mac_table(const uint8_t *p, uint32_t len, struct net_mac_table *ret);

/* The receive filter the control queue sets. */
struct net_filter {
	bool promisc, allmulti;
	uint8_t mac[NET_ETH_ALEN];
	struct net_mac_table table;
};

/* Whether a frame to dst passes the filter. */
bool net_filter_accept(const struct net_filter *f, const uint8_t dst[NET_ETH_ALEN]);
