/* cellvm-dev-net's device model (virtio 1.2, 5.1): features, configuration
 * space, the queues (rx0, tx0, rx1, tx1, ..., then the control queue), the
 * receive filter, the rate limiter and the counters. Runs in the
 * cellvm-dev-net process; main.c hands net_ops to devproc_main(). Guest input
 * reaches it through virtq (chains) and net_hdr (headers, commands). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dev-procs/devlib/devproc.h"
#include "dev-procs/devlib/virtq.h"
#include "dev-procs/net/net_hdr.h"
#include "dev-procs/net/net_rate.h"

#define VIRTIO_ID_NET	   1
#define VIRTIO_F_VERSION_1 32

/* virtio_net_config (5.1.4): mac, status, max_virtqueue_pairs, mtu. */
#define NET_CFG_MAC	  0
#define NET_CFG_STATUS	  6
#define NET_CFG_MAX_PAIRS 8
#define NET_CFG_MTU	  10
#define NET_CONFIG_LEN	  12

#define NET_MAX_PAIRS	       DEVPROC_MAX_BACKENDS /* one tap fd per pair */
#define NET_QUEUE_SIZE_DEFAULT 256
#define NET_QUEUE_SIZE_MAX     1024
#define NET_RX_STASH	       256  /* RX chains taken from the ring, not yet filled */
#define NET_RX_MAX_IOV	       1024 /* UIO_MAXIOV: one readv() */
/* Held buffers: room for the longest chain (VIRTQ_MAX_SEGS) on top of a
 * readv()'s worth, so one long chain never keeps the others out. */
#define NET_RX_IOV_CAP	(NET_RX_MAX_IOV + VIRTQ_MAX_SEGS)
#define NET_RX_BOUNCE	(NET_FRAME_MAX + NET_VLAN_HLEN + NET_HDR_LEN + 4096)
#define NET_MTU_DEFAULT 1500

/* One RX chain held by the device: its writable buffers are
 * iov[iov0 .. iov0+niov) of its queue. */
struct net_rx_chain {
	uint16_t head;
	uint16_t niov;
	uint32_t iov0;
	uint64_t cap;
};

struct net_rxq {
	struct virtq vq;
	bool live;
	bool starved; /* no buffers: its taps are not watched until a kick */
	bool pushed;
	/* Chains popped ahead of the frames that fill them, in ring order. */
	struct net_rx_chain stash[NET_RX_STASH];
	uint32_t first, nstash;
	uint64_t stash_cap;
	uint32_t iov_end;
	struct iovec iov[NET_RX_IOV_CAP];
	/* A frame read into bounce that waits for buffers (bounce path). */
	uint8_t *bounce;
	uint32_t pending; /* its length, 0: none */
};

struct net_txq {
	struct virtq vq;
	bool live;
	bool pushed;
};

struct net;

struct net_tap {
	struct net *n;
	int fd;
	uint32_t index;
	bool watched;
	bool dead;
};

struct net_counters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_drop_too_big;  /* frame larger than the buffers the guest posted */
	uint64_t rx_drop_filtered; /* not for us while not promiscuous */
	uint64_t rx_drop_runt;	   /* shorter than an Ethernet header */
	uint64_t rx_bad_chain;	   /* readable or header-less RX chains returned empty */
	uint64_t rx_drop_reset;	   /* frames read but not delivered when the driver reset */
	uint64_t tx_drop[NET_TX_NVERDICT];
	uint64_t tx_drop_backend; /* the tap refused or is gone */
	uint64_t tx_drop_restart; /* taken by a crashed predecessor: returned unsent */
	uint64_t ctrl_ok, ctrl_err;
	uint64_t rx_throttled, tx_throttled; /* times the rate limiter paused a direction */
};

enum net_qrole { NET_Q_NONE, NET_Q_RX, NET_Q_TX, NET_Q_CTRL };

struct net {
	struct devproc *dp;
	uint32_t pairs;	    /* max_virtqueue_pairs: the tap fds */
	uint32_t cur_pairs; /* VQ_PAIRS_SET */
	uint32_t queue_size;
	uint32_t mtu; /* 0: not offered */
	uint8_t mac_cfg[NET_ETH_ALEN];
	uint8_t config[NET_CONFIG_LEN];
	bool link_up;
	struct net_tap tap[NET_MAX_PAIRS];
	struct net_rxq rx[NET_MAX_PAIRS];
	struct net_txq tx[NET_MAX_PAIRS];
	struct virtq ctrl_vq;
	bool ctrl_live;
	uint32_t ctrl_idx;
	/* Roles of the device's queues, set at activation (the control queue
	 * moves with MQ). */
	uint8_t role[DEVPROC_MAX_QUEUES];
	uint8_t role_pair[DEVPROC_MAX_QUEUES];
	bool active;
	bool mrg;	       /* VIRTIO_NET_F_MRG_RXBUF */
	bool guest_csum;       /* VIRTIO_NET_F_GUEST_CSUM */
	uint32_t rx_frame_max; /* header + largest frame the tap may hand over */
	struct net_tx_limits txlim;
	struct net_filter filter;
	/* Rate limiter: per direction, its own buckets and timerfd. */
	uint64_t rate_cfg[4]; /* rate_bytes, burst_bytes, rate_packets, burst_packets */
	struct net_rate rx_rate, tx_rate;
	int rx_timer, tx_timer;
	bool rx_limited, tx_limited;
	struct net_counters c;
	uint8_t *tx_bounce; /* linearised frames with more pieces than writev takes */
	struct virtq_chain chain;
	struct net_tx_req txreq;
	struct net_ctrl ctrl;
};

extern const struct devproc_ops net_ops;

/* net_rx.c: the receive path; net_rx_watch() (un)watches a tap as its RX
 * queue, the rate limiter and the device state say. */
void net_rx_tap(struct net *n, struct net_tap *tap);
void net_rx_kick(struct net *n, uint32_t pair);
void net_rx_drop_all(struct net *n);
/* Resume: put the chains a crashed process held back in pair's stash.
 * Returns 0 or -EINVAL (the queue is broken). */
int net_rx_restash(struct net *n, uint32_t pair, const uint16_t *heads, uint32_t nheads);
void net_rx_watch(struct net *n, struct net_tap *tap);
/* net_tx.c: the transmit path. */
void net_tx_run(struct net *n, uint32_t pair);
/* net.c */
void net_tap_gone(struct net *n, struct net_tap *tap, int err);
uint64_t net_now_ns(void);
/* Fire once after ns nanoseconds; 0 disarms. */
void net_arm_timer(int fd, uint64_t ns);
/* Log the counters (at exit). */
void net_log_counters(const struct net *n);
