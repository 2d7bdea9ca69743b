/* Network fixture of the device tests and bench/net: a private network
 * namespace with a tap (IFF_VNET_HDR, IFF_MULTI_QUEUE for several pairs), a
 * packet socket on it that sees what the guest sends and injects what the
 * guest must receive, the real cellvm-dev-net started by the launcher on the
 * tap's queues, and the harness (vdriver.h) as core and guest driver. Runs in
 * test and benchmark processes only, as root. The device is the untrusted
 * party: every wait is bounded. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dev-procs/net/net.h"
#include "test/harness/vdriver.h"

#define VNET_MAX_PAIRS	  NET_MAX_PAIRS
#define VNET_TIMEOUT_MS	  5000
#define VNET_FEATURES_ALL UINT64_MAX

struct vnet_opts {
	uint32_t pairs;	     /* 0: 1 */
	uint32_t queue_size; /* 0: 256 */
	uint32_t mtu;	     /* NetConfig.mtu: 0 = VIRTIO_NET_F_MTU not offered */
	uint32_t tap_mtu;    /* 0: the kernel's default (1500) */
	uint64_t features;   /* 0: everything offered; else these & offered */
	uint64_t drop;	     /* features not to negotiate */
	uint64_t rate_bytes, burst_bytes, rate_packets, burst_packets;
	bool queue_irqs;     /* one interrupt eventfd per queue (virtio-pci MSI-X) */
	bool no_activate;    /* stop after Attach */
	bool keep_log;	     /* leave the device's stderr alone (default: a file) */
	uint32_t test_flags; /* DEVPROC_TEST_* */
	bool inflight;	     /* hand the device crash-recovery records (restartable) */
};

struct vnet {
	struct vnet_opts o;
	char ifname[16];
	int ifindex;
	int pkt;		    /* AF_PACKET socket on the tap, with PACKET_VNET_HDR */
	int tap_fd[VNET_MAX_PAIRS]; /* our copies of the queues, for a restart */
	char log[64];		    /* the device's stderr, to read its counters */
	char *logtext;		    /* its contents once the device stopped */
	struct vdrv_mem mem;
	struct vcore core;
	struct vdrv_queue rx[VNET_MAX_PAIRS], tx[VNET_MAX_PAIRS], ctrl;
	uint32_t used_pairs;
	bool has_ctrl;
	uint64_t negotiated;
	uint8_t mac[6];
	/* RX buffers by head, per pair: gpa of the one buffer of each chain. */
	uint64_t rx_buf[VNET_MAX_PAIRS][1024];
	uint32_t rx_buf_len[VNET_MAX_PAIRS][1024];
};

/* Exit 77 if /dev/net/tun is missing; move this process into a network
 * namespace of its own (once); abort on anything else. */
void vnet_require(void);

/* Create the tap, start the device on it, attach, set the queues up and
 * activate. Returns 0 or -errno (with a message on stderr). */
int vnet_start(struct vnet *t, const struct vnet_opts *o);
/* Stop the device and delete the tap; returns the device's exit status. */
int vnet_stop(struct vnet *t);
/* After a NeedsReset: reset, fresh rings, activate again. Returns 0 or -errno. */
int vnet_recover(struct vnet *t);
/* Kill the device (SIGKILL) and start a new one on the same taps and
 * records; with resume it takes over the running queues. Returns 0 or -errno. */
int vnet_crash_restart(struct vnet *t, bool resume);
/* Delete the tap interface while the device runs. */
int vnet_del_tap(struct vnet *t);
/* A counter from the device's exit log ("tx_drop_bad_gso"); -1 if absent. */
long vnet_counter(struct vnet *t, const char *name);
bool vnet_has(const struct vnet *t, int bit);

/* ---- guest driver ---- */

/* Post n RX chains of one writable buffer of len bytes on pair p and kick. */
void vnet_rx_post(struct vnet *t, uint32_t p, uint32_t n, uint32_t len);
/* Post an RX chain made of the given buffers (hostile layouts too). */
uint16_t vnet_rx_post_bufs(struct vnet *t, uint32_t p, const struct vdrv_buf *b, uint32_t n);
/* Next used RX element of pair p within timeout_ms: 1 with the buffer's
 * host address and used length, 0 on timeout. */
int vnet_rx_next(struct vnet *t, uint32_t p, int timeout_ms, uint8_t **ret_buf, uint32_t *ret_len);
/* Send one frame on TX pair p: header (12 bytes) and frame in separate
 * descriptors unless one_desc; waits for the used element. Returns 0 or
 * -ETIMEDOUT. */
int vnet_tx(struct vnet *t, uint32_t p, const struct net_hdr *h, const void *frame, uint32_t len,
	    bool one_desc);
/* Post a raw TX chain and wait for its used element. */
int vnet_tx_bufs(struct vnet *t, uint32_t p, const struct vdrv_buf *b, uint32_t n);
/* One control command; returns the ack byte, or -1 on timeout. */
int vnet_ctrl(struct vnet *t, uint8_t cls, uint8_t cmd, const void *data, uint32_t len);
/* Copy bytes into fresh guest RAM; returns the gpa. */
uint64_t vnet_guest_copy(struct vnet *t, const void *p, uint32_t len);

/* ---- the tap's side ---- */

/* Next frame the guest sent, within timeout_ms (frames the host itself sends
 * are skipped). Returns its length (the vnet header in *h), or -1. */
ssize_t vnet_pkt_recv(struct vnet *t, int timeout_ms, struct net_hdr *h, void *buf, size_t cap);
/* Inject a frame towards the guest with vnet header h (NULL: none). */
int vnet_pkt_send(struct vnet *t, const struct net_hdr *h, const void *frame, size_t len);
/* Frames the device has read from the tap so far: the tap's transmit count,
 * which the kernel raises when a reader takes a frame (not when it queues
 * one). -1 if it cannot be read. */
long vnet_tap_reads(struct vnet *t);
/* Wait up to timeout_ms until the device has read n frames from the tap in
 * all; true if it has. */
bool vnet_wait_tap_reads(struct vnet *t, long n, int timeout_ms);

/* ---- frames ---- */

/* Ethernet + IPv4 + UDP with payload_len bytes of pattern seed, valid
 * checksums. Returns the frame length (buf must hold it). */
size_t vnet_frame_udp(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], size_t payload_len,
		      uint8_t seed);
/* Ethernet + IPv4 + TCP with payload_len bytes; the TCP checksum field holds
 * the pseudo-header sum (CHECKSUM_PARTIAL style) when partial, else the full
 * checksum. */
size_t vnet_frame_tcp(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], size_t payload_len,
		      uint8_t seed, bool partial);
/* Internet checksum of a frame's TCP or UDP over IPv4: true if it verifies. */
bool vnet_l4_csum_ok(const uint8_t *frame, size_t len);
