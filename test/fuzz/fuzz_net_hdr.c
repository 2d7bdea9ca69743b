/* libFuzzer target for dev-procs/net/net_hdr: arbitrary descriptor chains
 * (the shape virtq_pop hands over: non-empty segments, readable first) over
 * untrusted guest bytes, parsed as a TX frame, a control command (with the
 * MAC table and the receive filter it sets) or an RX chain. Layout: byte 0
 * selects the parser (bits 0-1: TX, control, RX) and what was negotiated
 * (bit 2 CSUM, bit 3 HOST_TSO4, bit 4 HOST_TSO6, bit 5 a 9000-byte MTU
 * instead of 1500, bit 6 HOST_ECN), byte 1 the segment count (mod 33), then 3 bytes per
 * segment (le16 length mod 16385, flags bit 0 device-writable), the rest is
 * the guest memory the segments cover, one after another. Checks besides
 * the sanitizers: an accepted TX frame obeys every limit that was
 * negotiated and its iovecs stay inside readable segments; an accepted
 * control command's ack is the chain's last writable byte; a MAC table
 * never holds more than its entries; header encode/decode round-trips.
 * Built with -DFUZZ_SEEDGEN it writes seed inputs. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev-procs/net/net_hdr.h"
#include "test/fuzz/fuzz_chain.h"
#include "test/fuzz/fuzz_check.h"

#define MAX_SEGS 32
#define RAM_SIZE 0x40000

enum { FUZZ_TX, FUZZ_CTRL, FUZZ_RX };

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[RAM_SIZE];
static struct virtq_chain chain;
static struct net_tx_req req;
static struct net_ctrl ctrl;
static struct net_filter filter;

static void fuzz_tx(const struct net_tx_limits *lim)
{
	enum net_tx_verdict v = net_tx_parse(lim, &chain, &req);
	const struct net_hdr *h = &req.hdr;
	uint64_t total = 0;

	CHECK((unsigned)v < NET_TX_NVERDICT);
	if (chain.nread != chain.nseg)
		CHECK(v == NET_TX_WRITABLE);
	if (v != NET_TX_OK)
		return;
	CHECK(chain.read_len == NET_HDR_LEN + (uint64_t)req.frame_len);
	CHECK(req.frame_len >= NET_ETH_HLEN && req.frame_len <= NET_FRAME_MAX);
	CHECK(net_hdr_check_tx(lim, h, req.frame_len) == NET_TX_OK);
	CHECK(!(h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM));
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		CHECK(req.frame_len <= lim->frame_max);
	else
		CHECK(((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4 &&
		       lim->tso4) ||
		      ((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV6 &&
		       lim->tso6));
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		CHECK(lim->ecn && h->gso_type != VIRTIO_NET_HDR_GSO_ECN);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		CHECK(lim->csum && (uint32_t)h->csum_start + h->csum_offset + 2 <= req.frame_len);
	CHECK(req.iov[0].iov_base == req.hdr_raw && req.iov[0].iov_len == NET_HDR_LEN);
	CHECK(req.hdr_raw[10] == 0 && req.hdr_raw[11] == 0);
	for (uint32_t i = 0; i < req.niov; i++) {
		CHECK(req.iov[i].iov_len > 0);
		if (i)
			CHECK(fuzz_chain_in_seg(&chain, req.iov[i].iov_base, req.iov[i].iov_len,
						false));
		total += req.iov[i].iov_len;
	}
	CHECK(req.niov <= NET_TX_MAX_IOV);
	CHECK(total == NET_HDR_LEN + (uint64_t)req.frame_len);
}

static void fuzz_ctrl(void)
{
	struct net_mac_table t;
	const struct virtq_seg *last;
	int r = net_ctrl_parse(&chain, &ctrl);

	if (chain.nread == chain.nseg) {
		CHECK(r == -EINVAL);
		return;
	}
	CHECK(r == 0);
	last = &chain.seg[chain.nseg - 1];
	CHECK(ctrl.ack == last->host + last->len - 1);
	CHECK(ctrl.len <= NET_CTRL_MAX);
	CHECK(!ctrl.too_big || ctrl.len == 0);
	if (chain.read_len >= 2 && !ctrl.too_big)
		CHECK(ctrl.len == chain.read_len - 2);
	if (net_ctrl_mac_table(ctrl.data, ctrl.len, &t) == 0) {
		CHECK(t.n_uni <= NET_MAC_TABLE_MAX && t.n_multi <= NET_MAC_TABLE_MAX);
		CHECK(!t.uni_overflow || t.n_uni == 0);
		CHECK(!t.multi_overflow || t.n_multi == 0);
		CHECK(4 + 4 + (t.n_uni + t.n_multi) * 6ULL <= ctrl.len);
		filter.table = t;
	}
	filter.promisc = ctrl.class & 1;
	filter.allmulti = ctrl.cmd & 1;
	if (ctrl.len >= 6) {
		bool ok = net_filter_accept(&filter, ctrl.data);

		if (filter.promisc)
			CHECK(ok);
	}
}

static void fuzz_rx(void)
{
	struct net_hdr h, h2;
	uint8_t raw[NET_HDR_LEN], raw2[NET_HDR_LEN];

	if (net_rx_chain_ok(&chain)) {
		CHECK(chain.nread == 0 && chain.write_len >= NET_HDR_LEN);
		for (uint32_t i = 0; i < chain.nseg; i++)
			CHECK(chain.seg[i].write);
	}
	if (chain.nseg && chain.seg[0].len >= NET_HDR_LEN) {
		memcpy(raw, chain.seg[0].host, NET_HDR_LEN);
		net_hdr_decode(raw, &h);
		net_hdr_encode(&h, raw2);
		CHECK(memcmp(raw, raw2, NET_HDR_LEN) == 0);
		net_hdr_decode(raw2, &h2);
		CHECK(memcmp(&h, &h2, sizeof(h)) == 0);
	}
}

/* Build the chain: segments in input order, readable ones first. */
static void fuzz_build(const uint8_t *desc, uint32_t n, const uint8_t *mem, size_t memlen)
{
	fuzz_chain_build(&chain, ram, sizeof(ram), 16384, desc, n, mem, memlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_tx_limits lim;
	uint32_t n;

	if (size < 2)
		return 0;
	n = data[1] % (MAX_SEGS + 1);
	if (size < 2 + 3 * (size_t)n)
		return 0;
	lim = (struct net_tx_limits){
		.csum = data[0] & 4,
		.tso4 = data[0] & 8,
		.tso6 = data[0] & 16,
		.ecn = data[0] & 64,
		.frame_max = (data[0] & 32 ? 9000 : 1500) + NET_ETH_HLEN + NET_VLAN_HLEN,
	};
	fuzz_build(data + 2, n, data + 2 + 3 * n, size - 2 - 3 * n);
	switch (data[0] & 3) {
	case FUZZ_TX: fuzz_tx(&lim); break;
	case FUZZ_CTRL: fuzz_ctrl(); break;
	default: fuzz_rx(); break;
	}
	return 0;
}

#else /* FUZZ_SEEDGEN */

static void seed_hdr(struct seed *s, const struct net_hdr *h)
{
	uint8_t raw[NET_HDR_LEN];

	net_hdr_encode(h, raw);
	seed_seg(s, raw, NET_HDR_LEN, false);
}

int main(int argc, char **argv)
{
	static struct seed s;
	uint8_t cmd[64] = {0};
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* TX: a plain frame; a checksummed one; a TSO frame split 5 + 7. */
	seed_begin(&s, FUZZ_TX | 4 | 8);
	seed_hdr(&s, &(struct net_hdr){0});
	seed_seg(&s, NULL, 60, false);
	r |= seed_write(argv[1], "tx_plain", &s);

	seed_begin(&s, FUZZ_TX | 4);
	seed_hdr(&s, &(struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 34,
				       .csum_offset = 16});
	seed_seg(&s, NULL, 200, false);
	r |= seed_write(argv[1], "tx_csum", &s);

	seed_begin(&s, FUZZ_TX | 4 | 8 | 16);
	{
		uint8_t raw[NET_HDR_LEN];

		net_hdr_encode(&(struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
						 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
						 .hdr_len = 54,
						 .gso_size = 1448,
						 .csum_start = 34,
						 .csum_offset = 16},
			       raw);
		seed_seg(&s, raw, 5, false);
		seed_seg(&s, raw + 5, 7, false);
	}
	seed_seg(&s, NULL, 4000, false);
	r |= seed_write(argv[1], "tx_tso_split", &s);

	/* Control: promisc off; a MAC table; VQ_PAIRS_SET. */
	seed_begin(&s, FUZZ_CTRL);
	cmd[0] = VIRTIO_NET_CTRL_RX;
	cmd[1] = VIRTIO_NET_CTRL_RX_PROMISC;
	seed_seg(&s, cmd, 3, false);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "ctrl_promisc", &s);

	seed_begin(&s, FUZZ_CTRL);
	memset(cmd, 0, sizeof(cmd));
	cmd[0] = VIRTIO_NET_CTRL_MAC;
	cmd[1] = VIRTIO_NET_CTRL_MAC_TABLE_SET;
	cmd[2] = 1;
	memcpy(cmd + 6, "\x02\x01\x02\x03\x04\x05", 6);
	cmd[12] = 1;
	memcpy(cmd + 16, "\x01\x00\x5e\x00\x00\x01", 6);
	seed_seg(&s, cmd, 2, false);
	seed_seg(&s, cmd + 2, 20, false);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "ctrl_mac_table", &s);

	seed_begin(&s, FUZZ_CTRL);
	memset(cmd, 0, sizeof(cmd));
	cmd[0] = VIRTIO_NET_CTRL_MQ;
	cmd[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
	cmd[2] = 2;
	seed_seg(&s, cmd, 4, false);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "ctrl_mq", &s);

	/* RX: a mergeable buffer. */
	seed_begin(&s, FUZZ_RX);
	seed_seg(&s, NULL, 1536, true);
	r |= seed_write(argv[1], "rx_buffer", &s);
	return r;
}
#endif
