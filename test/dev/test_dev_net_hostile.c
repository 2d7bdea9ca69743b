/* Hostile-driver tests for cellvm-dev-net (HOSTILE_INPUTS.md, virtqueues and
 * virtio-net): bad vnet headers, oversized frames, TX chains with writable
 * or missing parts, RX chains the device must not write into, RX frames
 * larger than the posted buffers, control commands with short, oversized or
 * lying payloads, ring abuse, and a tap that disappears while the device
 * runs. Each case ends in a drop with its counter or NEEDS_RESET, and the
 * device serves the next good frame. Needs root; skips without /dev/net/tun. */
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
#include <unistd.h>

#include "test/harness/vnet.h"

static struct vnet T;
static bool started;
static const uint8_t peer[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static uint8_t frame[80000], got[80000];

static void start(const struct vnet_opts *o)
{
	assert_int_equal(vnet_start(&T, o), 0);
	started = true;
}

static void stop(void)
{
	assert_int_equal(vnet_stop(&T), 0);
	started = false;
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

/* A good frame still goes out, and nothing else went before it. */
static void assert_tx_serves(uint8_t seed)
{
	struct net_hdr h = {0};
	size_t len = vnet_frame_udp(frame, peer, T.mac, 80, seed);
	ssize_t n;

	assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, false), 0);
	n = vnet_pkt_recv(&T, VNET_TIMEOUT_MS, NULL, got, sizeof(got));
	assert_int_equal(n, len);
	assert_memory_equal(got, frame, len);
}

static void tx_bad(const struct net_hdr *h, uint32_t len, uint8_t seed)
{
	memset(frame, 0x42, len);
	/* vnet_tx waits for the used entry: a dropped frame is returned too. */
	assert_int_equal(vnet_tx(&T, 0, h, frame, len, false), 0);
	assert_tx_serves(seed);
}

static void test_tx_bad_headers(void **state)
{
	const uint8_t csum = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	uint8_t raw[NET_HDR_LEN] = {0};

	(void)state;
	start(&(struct vnet_opts){.mtu = 1500});
	/* Larger than negotiated: MTU + 18 without GSO, 64 KiB + 14 with. */
	tx_bad(&(struct net_hdr){0}, 1500 + 18 + 1, 1);
	tx_bad(&(struct net_hdr){.flags = csum,
				 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				 .hdr_len = 54,
				 .gso_size = 1400,
				 .csum_start = 34,
				 .csum_offset = 16},
	       NET_FRAME_MAX + 1, 2);
	/* gso_type: UFO not offered, ECN on a frame that is not TSO; gso_size 0;
	 * hdr_len past the frame; GSO without NEEDS_CSUM. */
	tx_bad(&(struct net_hdr){.flags = csum,
				 .gso_type = VIRTIO_NET_HDR_GSO_UDP,
				 .gso_size = 100,
				 .csum_start = 34,
				 .csum_offset = 6},
	       600, 3);
	tx_bad(&(struct net_hdr){.flags = csum,
				 .gso_type = VIRTIO_NET_HDR_GSO_NONE | VIRTIO_NET_HDR_GSO_ECN,
				 .gso_size = 100,
				 .csum_start = 34,
				 .csum_offset = 16},
	       600, 4);
	tx_bad(&(struct net_hdr){.flags = csum,
				 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				 .csum_start = 34,
				 .csum_offset = 16},
	       600, 5);
	tx_bad(&(struct net_hdr){.flags = csum,
				 .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
				 .gso_size = 100,
				 .hdr_len = 601,
				 .csum_start = 54,
				 .csum_offset = 16},
	       600, 6);
	tx_bad(&(struct net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 100}, 600, 7);
	/* The checksum would land past the frame. */
	tx_bad(&(struct net_hdr){.flags = csum, .csum_start = 50, .csum_offset = 9}, 60, 8);
	tx_bad(&(struct net_hdr){.flags = csum, .csum_start = 0xffff, .csum_offset = 0xffff}, 60,
	       9);
	/* Flags the driver must not set. */
	tx_bad(&(struct net_hdr){.flags = VIRTIO_NET_HDR_F_DATA_VALID}, 60, 10);
	tx_bad(&(struct net_hdr){.flags = 0x80}, 60, 11);
	/* Shorter than an Ethernet header. */
	tx_bad(&(struct net_hdr){0}, 5, 12);
	/* A header of 8 bytes and nothing else. */
	assert_int_equal(vnet_tx_bufs(&T, 0,
				      (struct vdrv_buf[]){{vnet_guest_copy(&T, raw, 8), 8, false}},
				      1),
			 0);
	assert_tx_serves(13);
	/* Device-writable buffers: alone, and after a good header and frame. */
	assert_int_equal(vnet_tx_bufs(&T, 0,
				      (struct vdrv_buf[]){{vdrv_alloc(&T.mem, 100, 64), 100, true}},
				      1),
			 0);
	assert_tx_serves(14);
	assert_int_equal(
		vnet_tx_bufs(&T, 0,
			     (struct vdrv_buf[]){{vnet_guest_copy(&T, raw, 12), 12, false},
						 {vnet_guest_copy(&T, frame, 60), 60, false},
						 {vdrv_alloc(&T.mem, 100, 64), 100, true}},
			     3),
		0);
	assert_tx_serves(15);
	assert_true(vcore_alive(&T.core));
	assert_int_equal(T.core.needs_reset, 0);
	stop();
	assert_int_equal(vnet_counter(&T, "tx_drop_too_big"), 2);
	assert_int_equal(vnet_counter(&T, "tx_drop_bad_gso"), 5);
	assert_int_equal(vnet_counter(&T, "tx_drop_bad_csum"), 2);
	assert_int_equal(vnet_counter(&T, "tx_drop_bad_flags"), 2);
	assert_int_equal(vnet_counter(&T, "tx_drop_runt"), 1);
	assert_int_equal(vnet_counter(&T, "tx_drop_short_hdr"), 1);
	assert_int_equal(vnet_counter(&T, "tx_drop_writable"), 2);
	assert_int_equal(vnet_counter(&T, "tx_packets"), 15);
}

static void test_tx_not_negotiated(void **state)
{
	(void)state;
	/* NEEDS_CSUM without CSUM, TSO without HOST_TSO4. */
	start(&(struct vnet_opts){.drop = 1ULL << VIRTIO_NET_F_CSUM |
					  1ULL << VIRTIO_NET_F_HOST_TSO4 |
					  1ULL << VIRTIO_NET_F_HOST_TSO6});
	tx_bad(&(struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				 .csum_start = 34,
				 .csum_offset = 6},
	       100, 1);
	tx_bad(&(struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				 .gso_size = 100,
				 .csum_start = 34,
				 .csum_offset = 16},
	       600, 2);
	stop();
	assert_int_equal(vnet_counter(&T, "tx_drop_bad_flags"), 2);
}

static void test_rx_bad_chains(void **state)
{
	uint32_t ulen;
	uint8_t *buf;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.drop = 1ULL << VIRTIO_NET_F_MRG_RXBUF});
	/* Device-readable, and too short for the header: returned empty. */
	vnet_rx_post_bufs(&T, 0, (struct vdrv_buf[]){{vdrv_alloc(&T.mem, 2048, 64), 2048, false}},
			  1);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	assert_int_equal(ulen, 0);
	vnet_rx_post_bufs(&T, 0, (struct vdrv_buf[]){{vdrv_alloc(&T.mem, 8, 64), 8, true}}, 1);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	assert_int_equal(ulen, 0);
	/* A 200-byte buffer: a 1000-byte frame is dropped, a small one fits. */
	vnet_rx_post(&T, 0, 1, 200);
	len = vnet_frame_udp(frame, T.mac, peer, 1000, 1);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	len = vnet_frame_udp(frame, T.mac, peer, 100, 2);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	assert_int_equal(ulen, NET_HDR_LEN + len);
	assert_memory_equal(buf + NET_HDR_LEN, frame, len);
	/* Frames larger than the MTU on a 9000-byte tap are dropped too. */
	assert_int_equal(T.core.needs_reset, 0);
	stop();
	assert_int_equal(vnet_counter(&T, "rx_bad_chain"), 2);
	assert_int_equal(vnet_counter(&T, "rx_drop_too_big"), 1);
	assert_int_equal(vnet_counter(&T, "rx_packets"), 1);
}

static void test_ctrl_hostile(void **state)
{
	uint8_t big[5000], table[4 + 6 + 4 + 6 + 1];
	uint8_t one = 1;
	uint16_t head;

	(void)state;
	start(&(struct vnet_opts){0});
	memset(big, 0, sizeof(big));
	/* rx mode: no payload, two bytes, an oversized payload. */
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0),
			 VIRTIO_NET_ERR);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, big, 2),
			 VIRTIO_NET_ERR);
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, big, sizeof(big)),
		VIRTIO_NET_ERR);
	/* RX_EXTRA commands are not offered. */
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOUNI, &one, 1),
			 VIRTIO_NET_ERR);
	/* MAC table: counts larger than the payload, trailing bytes, huge. */
	memset(table, 0, sizeof(table));
	table[0] = 0xe8;
	table[1] = 0x03; /* 1000 entries in 6 bytes */
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 20),
		VIRTIO_NET_ERR);
	table[0] = 1;
	table[1] = 0;
	table[10] = 1;
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 21),
		VIRTIO_NET_ERR);
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 19),
		VIRTIO_NET_ERR);
	big[0] = 0xff;
	big[1] = 0xff;
	big[2] = 0xff;
	big[3] = 0xff;
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, big, 4000),
		VIRTIO_NET_ERR);
	/* MAC address of 5 bytes; MQ not negotiated on one pair; VLAN, ANNOUNCE,
	 * unknown classes. */
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, peer, 5),
			 VIRTIO_NET_ERR);
	assert_int_equal(
		vnet_ctrl(&T, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\x01\x00", 2),
		VIRTIO_NET_ERR);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, big, 2),
			 VIRTIO_NET_ERR);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_ANNOUNCE, 0, NULL, 0), VIRTIO_NET_ERR);
	assert_int_equal(vnet_ctrl(&T, 99, 0, NULL, 0), VIRTIO_NET_ERR);
	/* One readable byte: no class and command. */
	{
		uint8_t ack = 0xee;
		uint32_t id, ulen;
		struct vdrv_buf b[2] = {{vnet_guest_copy(&T, &one, 1), 1, false},
					{vnet_guest_copy(&T, &ack, 1), 1, true}};

		head = vdrv_chain(&T.ctrl, b, 2);
		vdrv_avail_add(&T.ctrl, head);
		vdrv_kick(&T.ctrl);
		assert_int_equal(vdrv_wait_used(&T.ctrl, VNET_TIMEOUT_MS), 1);
		assert_int_equal(vdrv_used_next(&T.ctrl, &id, &ulen), 1);
		assert_int_equal(*(uint8_t *)vdrv_host(&T.mem, b[1].gpa, 1), VIRTIO_NET_ERR);
	}
	/* Still obeys a good command. */
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &one, 1),
			 VIRTIO_NET_OK);
	/* No device-writable ack at all: cannot be answered, NEEDS_RESET. */
	{
		uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0};
		uint16_t used = vdrv_used_idx(&T.ctrl);

		head = vdrv_chain(&T.ctrl,
				  (struct vdrv_buf[]){{vnet_guest_copy(&T, cmd, 3), 3, false}}, 1);
		vdrv_avail_add(&T.ctrl, head);
		vdrv_kick(&T.ctrl);
		assert_true(vcore_wait_needs_reset(&T.core, VNET_TIMEOUT_MS));
		assert_int_equal(vdrv_used_idx(&T.ctrl), used);
	}
	assert_int_equal(vnet_recover(&T), 0);
	assert_int_equal(vnet_ctrl(&T, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &one, 1),
			 VIRTIO_NET_OK);
	assert_tx_serves(1);
	stop();
	assert_int_equal(vnet_counter(&T, "ctrl_err"), 14);
}

static void test_ring_abuse(void **state)
{
	(void)state;
	start(&(struct vnet_opts){0});
	/* avail->idx ahead by more than the ring holds. */
	vdrv_avail_set_idx(&T.tx[0], (uint16_t)(T.tx[0].avail_idx + 300));
	vdrv_kick(&T.tx[0]);
	assert_true(vcore_wait_needs_reset(&T.core, VNET_TIMEOUT_MS));
	assert_int_equal(vnet_recover(&T), 0);
	assert_tx_serves(1);
	/* A head past the ring on RX. */
	vdrv_avail_set_entry(&T.rx[0], T.rx[0].avail_idx, 999);
	vdrv_avail_set_idx(&T.rx[0], (uint16_t)(T.rx[0].avail_idx + 1));
	vdrv_kick(&T.rx[0]);
	assert_true(vcore_wait_needs_reset(&T.core, VNET_TIMEOUT_MS));
	assert_int_equal(vnet_recover(&T), 0);
	assert_tx_serves(2);
	/* A descriptor loop on TX. */
	vdrv_desc_set(&T.tx[0], 0, vdrv_alloc(&T.mem, 64, 64), 64, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_set(&T.tx[0], 1, vdrv_alloc(&T.mem, 64, 64), 64, VIRTQ_DESC_F_NEXT, 0);
	vdrv_avail_add(&T.tx[0], 0);
	vdrv_kick(&T.tx[0]);
	assert_true(vcore_wait_needs_reset(&T.core, VNET_TIMEOUT_MS));
	assert_int_equal(vnet_recover(&T), 0);
	assert_tx_serves(3);
}

/* Kicks for queues that exist but are not in use (rx1/tx1 without MQ, the
 * control queue's old place) are ignored; the device serves on. */
static void test_kick_unused_queues(void **state)
{
	uint64_t one = 1;

	(void)state;
	start(&(struct vnet_opts){.pairs = 2, .drop = 1ULL << VIRTIO_NET_F_MQ});
	assert_int_equal(T.used_pairs, 1);
	for (uint32_t q = 3; q < 5; q++)
		assert_int_equal(write(T.core.kick_fd[q], &one, sizeof(one)), sizeof(one));
	assert_tx_serves(1);
	assert_true(vcore_alive(&T.core));
	assert_int_equal(T.core.needs_reset, 0);
}

/* Waiting for the driver's reset with frames queued on the tap: the device
 * must not poll the readable tap meanwhile. */
static void test_needs_reset_no_spin(void **state)
{
	struct pollfd pfd;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){0});
	vdrv_avail_set_entry(&T.rx[0], T.rx[0].avail_idx, 999);
	vdrv_avail_set_idx(&T.rx[0], (uint16_t)(T.rx[0].avail_idx + 1));
	vdrv_kick(&T.rx[0]);
	assert_true(vcore_wait_needs_reset(&T.core, VNET_TIMEOUT_MS));
	for (uint8_t i = 0; i < 8; i++) {
		len = vnet_frame_udp(frame, T.mac, peer, 100, i);
		assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	}
	/* The tap is readable (our copy of its queue shows it), yet the device
	 * sleeps: a tap it still watched would keep waking it. */
	pfd = (struct pollfd){.fd = T.tap_fd[0], .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, VNET_TIMEOUT_MS), 1);
	assert_true(vcore_wait_idle(&T.core, VNET_TIMEOUT_MS));
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(vnet_tap_reads(&T), 0);
	/* After the reset the queued frames arrive. */
	assert_int_equal(vnet_recover(&T), 0);
	vnet_rx_post(&T, 0, 16, 2048);
	{
		uint32_t ulen;
		uint8_t *buf;

		for (int i = 0; i < 8; i++)
			assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	}
}

static void test_tap_removed(void **state)
{
	const char *log, *first;
	struct net_hdr h = {0};
	size_t len;

	(void)state;
	start(&(struct vnet_opts){0});
	vnet_rx_post(&T, 0, 64, 2048);
	assert_tx_serves(1);
	assert_int_equal(T.core.config[NET_CFG_STATUS], VIRTIO_NET_S_LINK_UP);
	assert_int_equal(vnet_del_tap(&T), 0);
	/* The RX side notices at once: link down through ConfigUpdate. */
	while (T.core.config_updates == 0)
		assert_true(vcore_recv(&T.core, VNET_TIMEOUT_MS) >= 0);
	assert_int_equal(T.core.config[NET_CFG_STATUS], 0);
	/* No spinning on a dead fd (it would stay ready): the device sleeps. */
	assert_true(vcore_wait_idle(&T.core, VNET_TIMEOUT_MS));
	/* TX is returned (and counted), RX kicks do nothing harmful. */
	len = vnet_frame_udp(frame, peer, T.mac, 80, 2);
	assert_int_equal(vnet_tx(&T, 0, &h, frame, (uint32_t)len, false), 0);
	vnet_rx_post(&T, 0, 4, 2048);
	assert_true(vcore_alive(&T.core));
	stop();
	assert_int_equal(vnet_counter(&T, "tx_drop_backend"), 1);
	log = T.logtext;
	first = strstr(log, "is gone");
	assert_non_null(first);
	assert_null(strstr(first + 1, "is gone"));
}

static void test_reset_with_pending(void **state)
{
	uint32_t ulen;
	uint8_t *buf;
	size_t len;

	(void)state;
	start(&(struct vnet_opts){.tap_mtu = 9000});
	/* A frame bounced and waiting for more buffers when the driver resets. */
	vnet_rx_post(&T, 0, 2, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 5000, 1);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	assert_true(vnet_wait_tap_reads(&T, 1, VNET_TIMEOUT_MS));
	assert_int_equal(vnet_recover(&T), 0);
	vnet_rx_post(&T, 0, 100, 1024);
	len = vnet_frame_udp(frame, T.mac, peer, 100, 2);
	assert_int_equal(vnet_pkt_send(&T, NULL, frame, len), 0);
	assert_int_equal(vnet_rx_next(&T, 0, VNET_TIMEOUT_MS, &buf, &ulen), 1);
	assert_int_equal(ulen, NET_HDR_LEN + len);
	assert_memory_equal(buf + NET_HDR_LEN, frame, len);
	stop();
	assert_int_equal(vnet_counter(&T, "rx_drop_reset"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tx_bad_headers, teardown),
		cmocka_unit_test_teardown(test_tx_not_negotiated, teardown),
		cmocka_unit_test_teardown(test_rx_bad_chains, teardown),
		cmocka_unit_test_teardown(test_ctrl_hostile, teardown),
		cmocka_unit_test_teardown(test_ring_abuse, teardown),
		cmocka_unit_test_teardown(test_kick_unused_queues, teardown),
		cmocka_unit_test_teardown(test_needs_reset_no_spin, teardown),
		cmocka_unit_test_teardown(test_tap_removed, teardown),
		cmocka_unit_test_teardown(test_reset_with_pending, teardown),
	};

	vnet_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
