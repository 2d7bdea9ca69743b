/* Device tests for cellvm-dev-net, the well-behaved driver's view: the real
 * device process started by the launcher on a tap in a network namespace of
 * this test's own, the harness as core and guest driver, and a packet socket
 * on the tap as the network. Covers the configuration space, TX and RX in
 * several layouts, merged RX buffers (direct and bounced), checksum and TSO
 * offloads both ways, two queue pairs, the control queue's rx mode, MAC
 * filter and MAC address, per-queue interrupts, the rate limiter, and the
 * sandbox the device runs in. Nothing waits a fixed time: each step waits,
 * bounded, for the event it needs, and a frame that must not arrive is shown
 * absent by one sent after it arriving first. Needs root; skips without
 * /dev/net/tun. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/harness/vnet.h"

static struct vnet T;
static bool started;
static const uint8_t foreign[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
static const uint8_t peer[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static uint8_t frame[70000], got[70000];

static void start(const struct vnet_opts *o)
{
	assert_int_equal(vnet_start(&T, o), 0);
	started = true;
}

/* An interrupt on queue q's own eventfd within ms milliseconds. */
static bool qirq_within(uint32_t q, int ms)
{
	struct pollfd pfd = {.fd = T.core.qirq_fd[q], .events = POLLIN};

	return poll(&pfd, 1, ms) == 1 && vcore_qirq_take(&T.core, q) > 0;
}

static int teardown(void **state)
{
	int status = 0;

	(void)state;
	if (started) {
		status = vnet_stop(&T);
		started = false;
		if (status != 0)
			fprintf(stderr, "device exit status %d\n", status);
	}
	free(T.logtext);
	T.logtext = NULL;
	return status ? -1 : 0;
}

static uint16_t cfg16(size_t off)
{
	return (uint16_t)(T.core.config[off] | T.core.config[off + 1] << 8);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Inject frame[0..len) and expect it, unchanged, in one RX buffer of pair p. */
static void expect_rx(uint32_t p, size_t len, struct net_hdr *ret_hdr)
{
	struct net_hdr h;
	uint8_t *buf;
	uint32_t ulen;

	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, p, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	assert_int_equal(ulen, NET_HDR_LEN + len);
	net_hdr_decode(buf, &h);
	assert_int_equal(h.num_buffers, 1);
	assert_memory_equal(buf + NET_HDR_LEN, frame, len);
	if (ret_hdr)
		*ret_hdr = h;
}

static void test_config_and_features(void **state)
{
	(void)state;
	start(&(struct vnet_opts){.mtu = 1500, .no_activate = true});
	assert_int_equal(T.core.device_id, VIRTIO_ID_NET);
	for (int bit = 0; bit < 64; bit++) {
		static const int want[] = {
			VIRTIO_F_VERSION_1,	 VIRTIO_NET_F_MAC,
			VIRTIO_NET_F_MTU,	 VIRTIO_NET_F_STATUS,
			VIRTIO_NET_F_CSUM,	 VIRTIO_NET_F_GUEST_CSUM,
			VIRTIO_NET_F_HOST_TSO4,	 VIRTIO_NET_F_HOST_TSO6,
			VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
			VIRTIO_NET_F_HOST_ECN,	 VIRTIO_NET_F_GUEST_ECN,
			VIRTIO_NET_F_MRG_RXBUF,	 VIRTIO_NET_F_CTRL_VQ,
			VIRTIO_NET_F_CTRL_RX,	 VIRTIO_NET_F_CTRL_MAC_ADDR,
			VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
		};
		bool w = false;

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			w |= want[i] == bit;
		if (w != !!(T.core.features & (1ULL << bit)))
			fail_msg("feature bit %d: offered %d, expected %d", bit,
				 !!(T.core.features & (1ULL << bit)), w);
	}
	assert_int_equal(T.core.config_len, NET_CONFIG_LEN);
	assert_memory_equal(T.core.config + NET_CFG_MAC, "\x52\x54\x00\x12\x34\x56", 6);
	assert_int_equal(cfg16(NET_CFG_STATUS), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(cfg16(NET_CFG_MAX_PAIRS), 1);
	assert_int_equal(cfg16(NET_CFG_MTU), 1500);
	assert_int_equal(T.core.num_queues, 3);
	assert_int_equal(T.core.queue_max_size, 256);
}

static void test_config_mq(void **state)
{
	(void)state;
	start(&(struct vnet_opts){.pairs = 2, .no_activate = true});
	assert_true(T.core.features & (1ULL << VIRTIO_NET_F_MQ));
	assert_false(T.core.features & (1ULL << VIRTIO_NET_F_MTU));
	assert_int_equal(cfg16(NET_CFG_MAX_PAIRS), 2);
	assert_int_equal(T.core.num_queues, 5);
}

/* The most pairs a device takes: 8 taps, 17 queues, all pairs in use. */
static void test_mq_max(void **state)
{
	uint8_t pairs[2] = {NET_MAX_PAIRS, 0};
	struct net_hdr h = {0};
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.pairs = NET_MAX_PAIRS, .queue_size = 64});
	assert_int_equal(T.core.num_queues, 2 * NET_MAX_PAIRS + 1);
	assert_int_equal(cfg16(NET_CFG_MAX_PAIRS), NET_MAX_PAIRS);
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
		VIRTIO_NET_OK);
	for (uint32_t p = 0; p < NET_MAX_PAIRS; p++) {
		len = vnet_frame_udp(frame, peer, T.mac, 100, (uint8_t)p);
		assert_int_equal(vnet_tx(&T, p, &h, frame, (uint32_t)len, false), 0);
		assert_int_equal(vnet_pkt_recv(&T, VNET_TIMEOUT_MS, NULL, got, sizeof(got)), len);
		assert_memory_equal(got, frame, len);
	}
}

static void test_tx(void **state)
{
	struct net_hdr h = {0}, rh;
	uint8_t raw[NET_HDR_LEN];
	size_t len;
	ssize_t n;

	(void)state;
	start(&(struct vnet_opts){0});
	/* Header and frame in two descriptors, then in one. */
	for (int one = 0; one < 2; one++) {
		len = vnet_frame_udp(frame, peer, T.mac, 100 + 50 * one, (uint8_t)one);
		assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, one), 0);
		n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, &rh, got, sizeof(got));
		assert_int_equal(n, len);
		assert_memory_equal(got, frame, len);
		assert_int_equal(rh.flags, 0);
		assert_int_equal(rh.gso_type, 0);
	}
	/* The header split 5 + 7 and the frame in three pieces, indirect. */
	len = vnet_frame_udp(frame, peer, T.mac, 1000, 9);
	net_hdr_encode(&h, raw);
	{
		uint64_t a = vnet_guest_copy(&T, raw, 5), b = vnet_guest_copy(&T, raw + 5, 7);
		uint64_t f = vnet_guest_copy(&T, frame, (uint32_t)len);
		struct vdrv_buf bufs[] = {{a, 5, false},
					  {b, 7, false},
					  {f, 10, false},
					  {f + 10, 500, false},
					  {f + 510, (uint32_t)len - 510, false}};
		uint16_t head = vdrv_chain_indirect(&T.tx[0], bufs, 5);
		uint32_t id, ulen;

		vdrv_avail_add(&T.tx[0], head);
		vdrv_kick(&T.tx[0]);
		assert_int_equal(vdrv_wait_used(&T.tx[0], VNET_TIMEOUT_MS), 1);
		assert_int_equal(vdrv_used_next(&T.tx[0], &id, &ulen), 1);
		assert_int_equal(id, head);
		assert_int_equal(ulen, 0);
	}
	n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, NULL, got, sizeof(got));
	assert_int_equal(n, len);
	assert_memory_equal(got, frame, len);
}

static void test_rx(void **state)
{
	struct net_hdr h;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.drop = 1ULL << VIRTIO_NET_F_MRG_RXBUF});
	vnet_rx_post(&T, 0, 16, NET_HDR_LEN + 1518);
	for (uint8_t i = 0; i < 8; i++) {
		len = vnet_frame_udp(frame, T.mac, peer, 60u + i * 180u, i);
		expect_rx(0, len, &h);
		assert_int_equal(h.gso_type, 0);
	}
	/* A full-size frame, and a broadcast one. */
	len = vnet_frame_udp(frame, T.mac, peer, 1500 - 28, 77);
	expect_rx(0, len, NULL);
	len = vnet_frame_udp(frame, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", peer, 64, 78);
	expect_rx(0, len, NULL);
}

/* A frame of len bytes spread over used buffers of bufsz bytes each. */
static void expect_rx_merged(size_t len, uint32_t bufsz)
{
	uint32_t want = (uint32_t)((len + NET_HDR_LEN + bufsz - 1) / bufsz), ulen, off = 0;
	struct net_hdr h;
	uint8_t *buf;

	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	for (uint32_t i = 0; i < want; i++) {
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
		if (i == 0) {
			net_hdr_decode(buf, &h);
			assert_int_equal(h.num_buffers, want);
			memcpy(got, buf + NET_HDR_LEN, ulen - NET_HDR_LEN);
			off = ulen - NET_HDR_LEN;
		} else {
			memcpy(got + off, buf, ulen);
			off += ulen;
		}
		assert_true(ulen <= bufsz);
	}
	assert_int_equal(off, len);
	assert_memory_equal(got, frame, len);
}

static void test_rx_mergeable(void **state)
{
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.tap_mtu = 9000});
	assert_true(vnet_has(&T, VIRTIO_NET_F_MRG_RXBUF));
	/* Enough buffers for a 64 KiB frame: read straight into them. */
	vnet_rx_post(&T, 0, 100, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 5000, 3);
	expect_rx_merged(len, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 100, 4);
	expect_rx_merged(len, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 1012 - 42, 5); /* exactly one buffer */
	expect_rx_merged(len, 1024);
}

static void test_rx_mergeable_bounce(void **state)
{
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.tap_mtu = 9000});
	/* Fewer buffers than the largest frame needs: through the bounce
	 * buffer, and a frame waits for buffers posted after it arrived. */
	vnet_rx_post(&T, 0, 8, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 3000, 6);
	expect_rx_merged(len, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 7000, 7);
	{
		/* 7042 + 12 bytes: 7 buffers, the first five of the first post. */
		long reads = vnet_tap_reads(&T);
		uint32_t ulen, off = 0;
		uint8_t *buf;

		assert_true(reads >= 0);
		assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
		/* Read from the tap while five buffers are posted: it waits. */
		assert_true(vnet_wait_tap_reads(&T, reads + 1, VNET_TIMEOUT_MS));
		assert_int_equal(vnet_rx_next(&T, 0, 0, &buf, &ulen), 0);
		vnet_rx_post(&T, 0, 8, 1024);

		for (int i = 0; i < 7; i++) {
			assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
			memcpy(got + off, buf + (i ? 0 : NET_HDR_LEN),
			       ulen - (i ? 0 : NET_HDR_LEN));
			off += ulen - (i ? 0 : NET_HDR_LEN);
		}
		assert_int_equal(off, len);
		assert_memory_equal(got, frame, len);
	}
}

/* A ring of 1024: chains may be that long, yet many short ones are held
 * for one large frame (merged over 4 KiB buffers, straight from the tap). */
static void test_rx_big_ring(void **state)
{
	struct net_hdr h, rh;
	uint32_t ulen, off;
	uint8_t *buf;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.queue_size = 1024});
	vnet_rx_post(&T, 0, 64, 4096);
	len = vnet_frame_tcp(frame, T.mac, peer, 30000, 8, true);
	h = (struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			     .hdr_len = 54,
			     .gso_size = 1448,
			     .csum_start = 34,
			     .csum_offset = 16};
	assert_int_equal(vnet_pkt_send(&T, &h, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	net_hdr_decode(buf, &rh);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(rh.num_buffers, (len + NET_HDR_LEN + 4095) / 4096);
	memcpy(got, buf + NET_HDR_LEN, ulen - NET_HDR_LEN);
	off = ulen - NET_HDR_LEN;
	for (uint32_t i = 1; i < rh.num_buffers; i++) {
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
		memcpy(got + off, buf, ulen);
		off += ulen;
	}
	assert_int_equal(off, len);
	assert_memory_equal(got + 54, frame + 54, len - 54);
}

static void test_tx_offloads(void **state)
{
	struct net_hdr h, rh;
	size_t len;
	ssize_t n;

	(void)state;
	start(&(struct vnet_opts){0});
	/* A partial checksum: the tap reports it as such, or checksummed. */
	len = vnet_frame_tcp(frame, peer, T.mac, 300, 1, true);
	h = (struct net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
	assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, false), 0);
	n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, &rh, got, sizeof(got));
	assert_int_equal(n, len);
	if (rh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		assert_int_equal(rh.csum_start, 34);
		assert_int_equal(rh.csum_offset, 16);
	} else {
		assert_true(vnet_l4_csum_ok(got, (size_t)n));
	}
	/* A TSO frame: 4000 bytes at MSS 1000, carried as one GSO packet. */
	len = vnet_frame_tcp(frame, peer, T.mac, 4000, 2, true);
	h = (struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			     .hdr_len = 54,
			     .gso_size = 1000,
			     .csum_start = 34,
			     .csum_offset = 16};
	assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, false), 0);
	n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, &rh, got, sizeof(got));
	assert_int_equal(n, len);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(rh.gso_size, 1000);
	assert_memory_equal(got + 54, frame + 54, 4000);
	/* HOST_ECN: a TSO frame with CWR set keeps its ECN bit. */
	frame[34 + 13] |= 0x80; /* CWR */
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, false), 0);
	n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, &rh, got, sizeof(got));
	assert_int_equal(n, len);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
}

static void test_rx_offloads(void **state)
{
	struct net_hdr h, rh;
	uint32_t ulen;
	uint8_t *buf;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){0});
	assert_true(vnet_has(&T, VIRTIO_NET_F_GUEST_TSO4));
	vnet_rx_post(&T, 0, 128, 2048);
	/* GUEST_CSUM: a partial checksum reaches the guest as NEEDS_CSUM. */
	len = vnet_frame_tcp(frame, T.mac, peer, 500, 3, true);
	h = (struct net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
	assert_int_equal(vnet_pkt_send(&T, &h, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	net_hdr_decode(buf, &rh);
	assert_int_equal(ulen, NET_HDR_LEN + len);
	assert_int_equal(rh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(rh.csum_start, 34);
	assert_int_equal(rh.csum_offset, 16);
	/* GUEST_TSO4: a 20000-byte GSO frame arrives whole, over merged buffers. */
	len = vnet_frame_tcp(frame, T.mac, peer, 20000, 4, true);
	h = (struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			     .hdr_len = 54,
			     .gso_size = 1400,
			     .csum_start = 34,
			     .csum_offset = 16};
	assert_int_equal(vnet_pkt_send(&T, &h, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	net_hdr_decode(buf, &rh);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(rh.gso_size, 1400);
	assert_int_equal(rh.num_buffers, (len + NET_HDR_LEN + 2047) / 2048);
	for (uint32_t i = 1; i < rh.num_buffers; i++)
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	/* GUEST_ECN: one with CWR set arrives whole, ECN bit and all. */
	frame[34 + 13] |= 0x80;
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(vnet_pkt_send(&T, &h, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	net_hdr_decode(buf, &rh);
	assert_int_equal(rh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	assert_int_equal(rh.num_buffers, (len + NET_HDR_LEN + 2047) / 2048);
	for (uint32_t i = 1; i < rh.num_buffers; i++)
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
}

static void test_rx_no_offloads(void **state)
{
	struct net_hdr h, rh;
	uint32_t ulen, segs = 0, bytes = 0;
	uint8_t *buf;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){
		.drop = 1ULL << VIRTIO_NET_F_GUEST_CSUM | 1ULL << VIRTIO_NET_F_GUEST_TSO4 |
			1ULL << VIRTIO_NET_F_GUEST_TSO6 | 1ULL << VIRTIO_NET_F_MRG_RXBUF});
	vnet_rx_post(&T, 0, 64, NET_HDR_LEN + 1518);
	/* Without GUEST_CSUM: flags 0 and a checksum that verifies. */
	len = vnet_frame_tcp(frame, T.mac, peer, 500, 5, true);
	h = (struct net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
	assert_int_equal(vnet_pkt_send(&T, &h, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	net_hdr_decode(buf, &rh);
	assert_int_equal(rh.flags, 0);
	assert_int_equal(rh.num_buffers, 1);
	assert_true(vnet_l4_csum_ok(buf + NET_HDR_LEN, ulen - NET_HDR_LEN));
	/* Without GUEST_TSO: the kernel segments a GSO frame for us. */
	len = vnet_frame_tcp(frame, T.mac, peer, 7000, 6, true);
	h = (struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			     .hdr_len = 54,
			     .gso_size = 1400,
			     .csum_start = 34,
			     .csum_offset = 16};
	assert_int_equal(vnet_pkt_send(&T, &h, frame, len), 0);
	while (bytes < 7000) {
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
		net_hdr_decode(buf, &rh);
		assert_int_equal(rh.gso_type, 0);
		assert_int_equal(rh.flags, 0);
		assert_true(ulen <= NET_HDR_LEN + 54 + 1400);
		assert_true(vnet_l4_csum_ok(buf + NET_HDR_LEN, ulen - NET_HDR_LEN));
		bytes += ulen - NET_HDR_LEN - 54;
		segs++;
	}
	assert_int_equal(bytes, 7000);
	assert_int_equal(segs, 5);
}

static void test_mq(void **state)
{
	uint8_t pairs[2];
	uint32_t seen[2] = {0, 0}, ulen;
	uint8_t *buf;
	size_t len;
	ssize_t n;

	(void)state;
	start(&(struct vnet_opts){.pairs = 2, .queue_irqs = true});
	assert_true(vnet_has(&T, VIRTIO_NET_F_MQ));
	assert_int_equal(T.used_pairs, 2);
	pairs[0] = 2;
	pairs[1] = 0;
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
		VIRTIO_NET_OK);
	/* TX on both pairs. */
	for (uint32_t p = 0; p < 2; p++) {
		struct net_hdr h = {0};

		len = vnet_frame_udp(frame, peer, T.mac, 200, (uint8_t)p);
		assert_int_equal(vnet_tx(&T, p, &h, frame, (uint32_t)len, false), 0);
		n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, NULL, got, sizeof(got));
		assert_int_equal(n, len);
		assert_memory_equal(got, frame, len);
		assert_true(qirq_within(2 * p + 1, VNET_TIMEOUT_MS));
	}
	/* RX: 32 flows, spread by the kernel over the two tap queues; each
	 * arrives once, on the RX queue of its tap queue. */
	vnet_rx_post(&T, 0, 64, 2048);
	vnet_rx_post(&T, 1, 64, 2048);
	for (uint8_t i = 0; i < 32; i++) {
		len = vnet_frame_udp(frame, T.mac, peer, 100, i);
		assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	}
	for (int64_t last = now_ns(), total = 0; total < 32;) {
		bool any = false;

		for (uint32_t p = 0; p < 2; p++) {
			while (vnet_rx_next(&T, p, 0, &buf, &ulen) == 1) {
				seen[p]++;
				total++;
				any = true;
			}
		}
		/* Each next frame, on either queue, within VNET_TIMEOUT_MS. */
		if (any) {
			last = now_ns();
			continue;
		}
		assert_true(now_ns() - last < VNET_TIMEOUT_MS * 1000000LL);
		(void)vdrv_wait_used(&T.rx[0], 1);
		(void)vdrv_wait_used(&T.rx[1], 1);
	}
	assert_int_equal(seen[0] + seen[1], 32);
	fprintf(stderr, "rx spread over the queues: %u + %u\n", seen[0], seen[1]);
	/* Pair counts out of range are refused; back to one pair: all on rx0. */
	pairs[0] = 3;
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
		VIRTIO_NET_ERR);
	pairs[0] = 0;
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
		VIRTIO_NET_ERR);
	pairs[0] = 1;
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
		VIRTIO_NET_OK);
	for (uint8_t i = 0; i < 16; i++) {
		len = vnet_frame_udp(frame, T.mac, peer, 100, (uint8_t)(100 + i));
		assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	}
	assert_true(qirq_within(0, VNET_TIMEOUT_MS));
	assert_int_equal(vnet_rx_next(&T, 1, 0, &buf, &ulen), 0);
}

static void test_ctrl_filter(void **state)
{
	uint8_t off = 0, on = 1, table[4 + 6 + 4 + 6];
	const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x07};
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.drop = 1ULL << VIRTIO_NET_F_MRG_RXBUF});
	vnet_rx_post(&T, 0, 64, NET_HDR_LEN + 1518);
	/* Promiscuous after reset: a foreign MAC gets through. */
	len = vnet_frame_udp(frame, foreign, peer, 64, 1);
	expect_rx(0, len, NULL);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
			 VIRTIO_NET_OK);
	/* Not any more: dropped; ours and broadcast still arrive. */
	len = vnet_frame_udp(frame, foreign, peer, 64, 2);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	len = vnet_frame_udp(frame, T.mac, peer, 64, 3);
	expect_rx(0, len, NULL);
	len = vnet_frame_udp(frame, mcast, peer, 64, 4);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	len = vnet_frame_udp(frame, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", peer, 64, 5);
	expect_rx(0, len, NULL);
	/* The MAC table lets the foreign unicast and the multicast group in. */
	memset(table, 0, sizeof(table));
	table[0] = 1;
	memcpy(table + 4, foreign, 6);
	table[10] = 1;
	memcpy(table + 14, mcast, 6);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
				   sizeof(table)),
			 VIRTIO_NET_OK);
	len = vnet_frame_udp(frame, foreign, peer, 64, 6);
	expect_rx(0, len, NULL);
	len = vnet_frame_udp(frame, mcast, peer, 64, 7);
	expect_rx(0, len, NULL);
	/* Empty table, then allmulti. */
	memset(table, 0, 8);
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 8),
		VIRTIO_NET_OK);
	len = vnet_frame_udp(frame, mcast, peer, 64, 8);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
			 VIRTIO_NET_OK);
	len = vnet_frame_udp(frame, mcast, peer, 64, 9);
	expect_rx(0, len, NULL);
	/* Nothing else came in after it: a marker sent last is next. */
	len = vnet_frame_udp(frame, T.mac, peer, 64, 10);
	expect_rx(0, len, NULL);
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
	assert_int_equal(vnet_counter(&T, "rx_drop_filtered"), 3);
	assert_int_equal(vnet_counter(&T, "rx_packets"), 7);
}

static void test_ctrl_mac_addr(void **state)
{
	const uint8_t mac2[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
	uint8_t off = 0;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.drop = 1ULL << VIRTIO_NET_F_MRG_RXBUF});
	vnet_rx_post(&T, 0, 16, NET_HDR_LEN + 1518);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac2, 6),
			 VIRTIO_NET_OK);
	while (T.core.config_updates == 0)
		assert_true(vcore_recv(&T.core, VNET_TIMEOUT_MS) >= 0);
	assert_memory_equal(T.core.config + NET_CFG_MAC, mac2, 6);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
			 VIRTIO_NET_OK);
	len = vnet_frame_udp(frame, mac2, peer, 64, 1);
	expect_rx(0, len, NULL);
	/* The old MAC no longer gets in: a frame to the new one sent after it
	 * is the next to arrive, and the old one was counted as filtered. */
	len = vnet_frame_udp(frame, T.mac, peer, 64, 2);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	len = vnet_frame_udp(frame, mac2, peer, 64, 3);
	expect_rx(0, len, NULL);
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
	assert_int_equal(vnet_counter(&T, "rx_drop_filtered"), 1);
	assert_int_equal(vnet_counter(&T, "rx_packets"), 2);
}

/* The token bucket's bound: n units may have gone t_ns after a moment the
 * bucket was full only if n <= burst + rate * t (n beyond the burst wait for
 * their tokens). Checked one-sided: a slow machine only makes it truer, so it
 * fails only when the limiter let something through early. */
static void assert_within_bucket(uint64_t n, uint64_t burst, uint64_t rate, int64_t t_ns)
{
	if (n > burst && (__int128)(n - burst) * 1000000000 > (__int128)rate * t_ns)
		fail_msg("%llu units after %lld ns: over burst %llu + %llu/s",
			 (unsigned long long)n, (long long)t_ns, (unsigned long long)burst,
			 (unsigned long long)rate);
}

/* TX at burst_packets and rate_packets: with all frames posted before one
 * kick, the device's first pass (ended by its interrupt) sends the burst and
 * holds the rest; its timer then lets the rest go as tokens come, in order;
 * each pause ends with a frame going (no wakeups for nothing). */
static void test_rate_tx(void **state)
{
	enum { N = 40, RATE = 50, BURST = 10 };
	struct net_hdr h = {0};
	uint16_t first;
	int64_t t0;
	size_t len = 0;
	long throttled;

	(void)state;
	start(&(struct vnet_opts){
		.rate_packets = RATE, .burst_packets = BURST, .queue_irqs = true});
	for (uint32_t i = 0; i < N; i++) {
		uint8_t raw[NET_HDR_LEN];
		struct vdrv_buf b[2];

		len = vnet_frame_udp(frame, peer, T.mac, 100, (uint8_t)i);
		net_hdr_encode(&h, raw);
		b[0] = (struct vdrv_buf){vnet_guest_copy(&T, raw, NET_HDR_LEN), NET_HDR_LEN, false};
		b[1] = (struct vdrv_buf){vnet_guest_copy(&T, frame, (uint32_t)len), (uint32_t)len,
					 false};
		vdrv_avail_add(&T.tx[0], vdrv_chain(&T.tx[0], b, 2));
	}
	(void)vcore_qirq_take(&T.core, 1);
	t0 = now_ns();
	vdrv_kick(&T.tx[0]);
	assert_true(qirq_within(1, VNET_TIMEOUT_MS));
	first = vdrv_used_idx(&T.tx[0]);
	fprintf(stderr, "TX: %u of %u frames in the first pass (burst %u)\n", first, N, BURST);
	assert_true(first >= BURST);
	assert_true(first < N);
	for (uint32_t i = 0; i < N; i++) {
		ssize_t n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, NULL, got, sizeof(got));

		assert_within_bucket(i + 1, BURST, RATE, now_ns() - t0);
		len = vnet_frame_udp(frame, peer, T.mac, 100, (uint8_t)i);
		assert_int_equal(n, len);
		assert_memory_equal(got, frame, len);
	}
	for (uint32_t i = 0; i < N; i++) {
		uint32_t id, ulen;

		assert_int_equal(vdrv_wait_used(&T.tx[0], VNET_TIMEOUT_MS), 1);
		assert_int_equal(vdrv_used_next(&T.tx[0], &id, &ulen), 1);
	}
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
	throttled = vnet_counter(&T, "tx_throttled");
	assert_true(throttled >= 1 && throttled <= N - BURST + 1);
	assert_int_equal(vnet_counter(&T, "tx_packets"), N);
}

/* RX at burst_bytes and rate_bytes, the same way: frames queued on the tap
 * before any buffer is posted (the device reads none meanwhile), then one
 * post; the first pass delivers the burst (and one frame of debt at most)
 * and holds the rest, which follow in order within the bucket's bound. */
static void test_rate_rx(void **state)
{
	enum { N = 60, RATE = 100000, BURST = 10000, FLEN = 1000 };
	struct pollfd pfd;
	uint16_t first;
	uint32_t ulen;
	uint8_t *buf;
	long throttled;
	int64_t t0;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.rate_bytes = RATE, .burst_bytes = BURST, .queue_irqs = true});
	for (uint32_t i = 0; i < N; i++) {
		len = vnet_frame_udp(frame, T.mac, peer, FLEN - 42, (uint8_t)i);
		assert_int_equal(len, FLEN);
		assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	}
	pfd = (struct pollfd){.fd = T.tap_fd[0], .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, VNET_TIMEOUT_MS), 1);
	assert_int_equal(vnet_tap_reads(&T), 0);
	(void)vcore_qirq_take(&T.core, 0);
	t0 = now_ns();
	vnet_rx_post(&T, 0, 2 * N, 2048);
	assert_true(qirq_within(0, VNET_TIMEOUT_MS));
	first = vdrv_used_idx(&T.rx[0]);
	fprintf(stderr, "RX: %u of %u frames in the first pass (burst %u bytes)\n", first, N,
		BURST);
	assert_true(first >= BURST / FLEN);
	assert_true(first < N);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
		/* Frame i may go once the bytes before it are within the bound. */
		assert_within_bucket((uint64_t)i * FLEN, BURST, RATE, now_ns() - t0);
		len = vnet_frame_udp(frame, T.mac, peer, FLEN - 42, (uint8_t)i);
		assert_int_equal(ulen, NET_HDR_LEN + len);
		assert_memory_equal(buf + NET_HDR_LEN, frame, len);
	}
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
	throttled = vnet_counter(&T, "rx_throttled");
	assert_true(throttled >= 1 && throttled <= N - BURST / FLEN + 1);
	assert_int_equal(vnet_counter(&T, "rx_packets"), N);
	assert_int_equal(vnet_counter(&T, "rx_bytes"), N * FLEN);
}

static void test_sandboxed(void **state)
{
	char path[64], line[256];
	bool seccomp = false, nnp = false;
	FILE *f;
	int status;

	(void)state;
	start(&(struct vnet_opts){0});
	snprintf(path, sizeof(path), "/proc/%d/status", T.core.proc.pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		seccomp |= strcmp(line, "Seccomp:\t2\n") == 0;
		nnp |= strcmp(line, "NoNewPrivs:\t1\n") == 0;
	}
	fclose(f);
	assert_true(seccomp);
	assert_true(nnp);
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
	/* An open() once attached is killed by the net policy. */
	assert_int_equal(vnet_start(&T, &(struct vnet_opts){.test_flags = DEVPROC_TEST_TRY_OPEN,
							    .no_activate = true}),
			 0);
	status = vcore_wait_exit(&T.core, VNET_TIMEOUT_MS);
	assert_int_equal(status, 128 + SIGSYS);
	vnet_stop(&T);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_config_and_features, teardown),
		cmocka_unit_test_teardown(test_config_mq, teardown),
		cmocka_unit_test_teardown(test_mq_max, teardown),
		cmocka_unit_test_teardown(test_tx, teardown),
		cmocka_unit_test_teardown(test_rx, teardown),
		cmocka_unit_test_teardown(test_rx_mergeable, teardown),
		cmocka_unit_test_teardown(test_rx_mergeable_bounce, teardown),
		cmocka_unit_test_teardown(test_rx_big_ring, teardown),
		cmocka_unit_test_teardown(test_tx_offloads, teardown),
		cmocka_unit_test_teardown(test_rx_offloads, teardown),
		cmocka_unit_test_teardown(test_rx_no_offloads, teardown),
		cmocka_unit_test_teardown(test_mq, teardown),
		cmocka_unit_test_teardown(test_ctrl_filter, teardown),
		cmocka_unit_test_teardown(test_ctrl_mac_addr, teardown),
		cmocka_unit_test_teardown(test_rate_tx, teardown),
		cmocka_unit_test_teardown(test_rate_rx, teardown),
		cmocka_unit_test_teardown(test_sandboxed, teardown),
	};

	vnet_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
