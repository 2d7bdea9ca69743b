/* In-process tests of cellvm-dev-net's pure parts: the token buckets
 * (net_rate.c) against a clock the test moves, and the header, control
 * command and filter code (net_hdr.c) on hand-made chains. No tap, no
 * device process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "dev-procs/net/net_hdr.h"
#include "dev-procs/net/net_rate.h"

#define SEC 1000000000ULL

static void test_rate_unlimited(void **state)
{
	struct net_rate r;

	(void)state;
	net_rate_init(&r, 0, 0, 0, 0, 0);
	assert_false(net_rate_limited(&r));
	for (int i = 0; i < 1000; i++) {
		assert_true(net_rate_allow(&r, 0));
		net_rate_consume(&r, 65536);
	}
}

static void test_rate_packets(void **state)
{
	struct net_rate r;
	uint64_t t = 5 * SEC;
	int sent = 0;

	(void)state;
	/* 100 packets/s, burst 10: 10 at once, then one every 10 ms. */
	net_rate_init(&r, 0, 0, 100, 10, t);
	assert_true(net_rate_limited(&r));
	while (net_rate_allow(&r, t)) {
		net_rate_consume(&r, 1500);
		sent++;
	}
	assert_int_equal(sent, 10);
	assert_int_equal(net_rate_wait_ns(&r), 10000000);
	assert_false(net_rate_allow(&r, t + 9999999));
	assert_true(net_rate_allow(&r, t + 10000000));
	/* Over 10 s at most rate * 10 + burst go. */
	for (uint64_t now = t; now < t + 10 * SEC; now += 1000000)
		while (net_rate_allow(&r, now)) {
			net_rate_consume(&r, 1);
			sent++;
		}
	assert_true(sent <= 10 + 1000 + 1);
	assert_true(sent >= 1000);
}

static void test_rate_bytes_debt(void **state)
{
	struct net_rate r;

	(void)state;
	/* 1000 B/s, burst 0 = one second's worth. A 5000-byte frame may go
	 * (debt), then nothing for 4 s and a bit. */
	net_rate_init(&r, 1000, 0, 0, 0, 0);
	assert_true(net_rate_allow(&r, 0));
	net_rate_consume(&r, 5000);
	assert_false(net_rate_allow(&r, 0));
	assert_int_equal(net_rate_wait_ns(&r), 4 * SEC + 1);
	assert_false(net_rate_allow(&r, 4 * SEC));
	assert_true(net_rate_allow(&r, 4 * SEC + 1));
	/* Idle time refills to the burst only. */
	assert_true(net_rate_allow(&r, 1000 * SEC));
	net_rate_consume(&r, 1000);
	assert_false(net_rate_allow(&r, 1000 * SEC));
	/* Huge rates do not overflow. */
	net_rate_init(&r, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0, 0);
	assert_true(net_rate_allow(&r, UINT64_MAX));
}

static const struct net_tx_limits lim = {
	.csum = true, .tso4 = true, .tso6 = false, .frame_max = 1518};

static void test_hdr_check(void **state)
{
	struct net_hdr h = {0};

	(void)state;
	assert_int_equal(net_hdr_check_tx(&lim, &h, 60), NET_TX_OK);
	assert_int_equal(net_hdr_check_tx(&lim, &h, 13), NET_TX_RUNT);
	assert_int_equal(net_hdr_check_tx(&lim, &h, 1519), NET_TX_TOO_BIG);
	h = (struct net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 24};
	assert_int_equal(net_hdr_check_tx(&lim, &h, 60), NET_TX_OK);
	assert_int_equal(net_hdr_check_tx(&lim, &h, 59), NET_TX_BAD_CSUM);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1448;
	h.hdr_len = 54;
	assert_int_equal(net_hdr_check_tx(&lim, &h, NET_FRAME_MAX), NET_TX_OK);
	assert_int_equal(net_hdr_check_tx(&lim, &h, NET_FRAME_MAX + 1), NET_TX_TOO_BIG);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(net_hdr_check_tx(&lim, &h, 1000), NET_TX_BAD_GSO);
	/* ECN: on TSO frames with HOST_ECN only. */
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(net_hdr_check_tx(&lim, &h, 1000), NET_TX_BAD_GSO);
	{
		struct net_tx_limits e = lim;

		e.ecn = true;
		assert_int_equal(net_hdr_check_tx(&e, &h, 1000), NET_TX_OK);
		h.gso_type = VIRTIO_NET_HDR_GSO_ECN;
		assert_int_equal(net_hdr_check_tx(&e, &h, 1000), NET_TX_BAD_GSO);
	}
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.hdr_len = 1001;
	assert_int_equal(net_hdr_check_tx(&lim, &h, 1000), NET_TX_BAD_GSO);
	h.hdr_len = 54;
	h.gso_size = 0;
	assert_int_equal(net_hdr_check_tx(&lim, &h, 1000), NET_TX_BAD_GSO);
	h = (struct net_hdr){.flags = VIRTIO_NET_HDR_F_RSC_INFO};
	assert_int_equal(net_hdr_check_tx(&lim, &h, 60), NET_TX_BAD_FLAGS);
}

/* A chain over buffers laid out in ram, lengths lens[], writable from w on. */
static void mkchain(struct virtq_chain *c, uint8_t *ram, const uint32_t *lens, uint32_t n,
		    uint32_t w)
{
	uint32_t off = 0;

	memset(c, 0, sizeof(*c));
	for (uint32_t i = 0; i < n; i++) {
		c->seg[i] = (struct virtq_seg){
			.gpa = off, .len = lens[i], .write = i >= w, .host = ram + off};
		if (i < w) {
			c->nread++;
			c->read_len += lens[i];
		} else {
			c->write_len += lens[i];
		}
		off += lens[i];
	}
	c->nseg = n;
}

static struct virtq_chain chain;
static struct net_tx_req req;
static struct net_ctrl ctrl;
static uint8_t ram[1 << 16];

static void test_tx_parse_split(void **state)
{
	struct net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			    .csum_start = 34,
			    .csum_offset = 6,
			    .num_buffers = 0x5555};

	(void)state;
	net_hdr_encode(&h, ram);
	memset(ram + 12, 0xab, 100);
	/* Header split 3 + 10 (the last byte already frame), frame 99 more. */
	mkchain(&chain, ram, (const uint32_t[]){3, 10, 99}, 3, 3);
	assert_int_equal(net_tx_parse(&lim, &chain, &req), NET_TX_OK);
	assert_int_equal(req.frame_len, 100);
	assert_int_equal(req.niov, 3);
	assert_ptr_equal(req.iov[1].iov_base, ram + 12);
	assert_int_equal(req.iov[1].iov_len, 1);
	assert_int_equal(req.iov[0].iov_len, NET_HDR_LEN);
	/* The copy handed to the tap has num_buffers cleared. */
	assert_int_equal(req.hdr_raw[10] | req.hdr_raw[11], 0);
	mkchain(&chain, ram, (const uint32_t[]){11}, 1, 1);
	assert_int_equal(net_tx_parse(&lim, &chain, &req), NET_TX_SHORT_HDR);
	mkchain(&chain, ram, (const uint32_t[]){12, 60}, 2, 1);
	assert_int_equal(net_tx_parse(&lim, &chain, &req), NET_TX_WRITABLE);
}

static void test_ctrl(void **state)
{
	uint8_t cmd[] = {VIRTIO_NET_CTRL_MAC,
			 VIRTIO_NET_CTRL_MAC_TABLE_SET,
			 1,
			 0,
			 0,
			 0,
			 2,
			 2,
			 3,
			 4,
			 5,
			 6,
			 0,
			 0,
			 0,
			 0};
	struct net_mac_table t;
	struct net_filter f;

	(void)state;
	memcpy(ram, cmd, sizeof(cmd));
	mkchain(&chain, ram, (const uint32_t[]){1, 15, 1}, 3, 2);
	assert_int_equal(net_ctrl_parse(&chain, &ctrl), 0);
	assert_int_equal(ctrl.class, VIRTIO_NET_CTRL_MAC);
	assert_int_equal(ctrl.cmd, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	assert_int_equal(ctrl.len, 14);
	assert_ptr_equal(ctrl.ack, ram + 16);
	assert_int_equal(net_ctrl_mac_table(ctrl.data, ctrl.len, &t), 0);
	assert_int_equal(t.n_uni, 1);
	assert_int_equal(t.n_multi, 0);
	assert_int_equal(net_ctrl_mac_table(ctrl.data, ctrl.len - 1, &t), -EINVAL);
	/* No writable byte: no ack. */
	mkchain(&chain, ram, (const uint32_t[]){16}, 1, 1);
	assert_int_equal(net_ctrl_parse(&chain, &ctrl), -EINVAL);
	/* Oversized. */
	mkchain(&chain, ram, (const uint32_t[]){NET_CTRL_MAX + 3, 1}, 2, 1);
	assert_int_equal(net_ctrl_parse(&chain, &ctrl), 0);
	assert_true(ctrl.too_big);
	/* The filter. */
	memset(&f, 0, sizeof(f));
	memcpy(f.mac, "\x52\x54\x00\x00\x00\x01", 6);
	assert_true(net_filter_accept(&f, (const uint8_t *)"\x52\x54\x00\x00\x00\x01"));
	assert_true(net_filter_accept(&f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff"));
	assert_false(net_filter_accept(&f, (const uint8_t *)"\x01\x00\x5e\x00\x00\x01"));
	assert_false(net_filter_accept(&f, (const uint8_t *)"\x02\x02\x03\x04\x05\x06"));
	f.table = t;
	assert_true(net_filter_accept(&f, (const uint8_t *)"\x02\x02\x03\x04\x05\x06"));
	f.allmulti = true;
	assert_true(net_filter_accept(&f, (const uint8_t *)"\x01\x00\x5e\x00\x00\x01"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_unlimited),	cmocka_unit_test(test_rate_packets),
		cmocka_unit_test(test_rate_bytes_debt), cmocka_unit_test(test_hdr_check),
		cmocka_unit_test(test_tx_parse_split),	cmocka_unit_test(test_ctrl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
