/* virtio-net header, TX frame and control-command parsing; see net_hdr.h.
 * Runs in cellvm-dev-net. A chain's layout is the guest's choice: the header
 * may be split across descriptors or share one with the frame, so bytes are
 * taken through a cursor over the segments. Every field is UNTRUSTED(guest),
 * copied once into a private struct before it is checked. */
#include "dev-procs/net/net_hdr.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

static uint16_t net_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t net_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void net_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void net_hdr_decode(const uint8_t raw[NET_HDR_LEN], struct net_hdr *ret)
{
	ret->flags = raw[0];
	ret->gso_type = raw[1];
	ret->hdr_len = net_le16(raw + 2);
	ret->gso_size = net_le16(raw + 4);
	ret->csum_start = net_le16(raw + 6);
	ret->csum_offset = net_le16(raw + 8);
	ret->num_buffers = net_le16(raw + 10);
}

void net_hdr_encode(const struct net_hdr *h, uint8_t raw[NET_HDR_LEN])
{
	raw[0] = h->flags;
	raw[1] = h->gso_type;
	net_put16(raw + 2, h->hdr_len);
	net_put16(raw + 4, h->gso_size);
	net_put16(raw + 6, h->csum_start);
	net_put16(raw + 8, h->csum_offset);
	net_put16(raw + 10, h->num_buffers);
}

enum net_tx_verdict net_hdr_check_tx(const struct net_tx_limits *lim, const struct net_hdr *h,
				     uint32_t frame_len)
{
	const uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	/* DATA_VALID and RSC_INFO are the device's to set (5.1.6.2.1). */
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_TX_BAD_FLAGS;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !lim->csum)
		return NET_TX_BAD_FLAGS;
	if (frame_len < NET_ETH_HLEN)
		return NET_TX_RUNT;
	/* The ECN bit only on a TSO frame, and only with HOST_ECN. */
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && (gso == VIRTIO_NET_HDR_GSO_NONE || !lim->ecn))
		return NET_TX_BAD_GSO;
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (frame_len > lim->frame_max)
			return NET_TX_TOO_BIG;
	} else {
		/* Only what was negotiated; no UFO is offered. GSO needs
		 * NEEDS_CSUM and an MSS (5.1.6.2.1). */
		if (!(gso == VIRTIO_NET_HDR_GSO_TCPV4 && lim->tso4) &&
		    !(gso == VIRTIO_NET_HDR_GSO_TCPV6 && lim->tso6))
			return NET_TX_BAD_GSO;
		if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h->gso_size == 0 ||
		    h->hdr_len > frame_len)
			return NET_TX_BAD_GSO;
		if (frame_len > NET_FRAME_MAX)
			return NET_TX_TOO_BIG;
	}
	/* The checksum the tap computes lands inside the frame. */
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)h->csum_start + h->csum_offset + 2 > frame_len)
		return NET_TX_BAD_CSUM;
	return NET_TX_OK;
}

const char *net_tx_verdict_name(enum net_tx_verdict v)
{
	static const char *const names[NET_TX_NVERDICT] = {
		[NET_TX_OK] = "ok",
		[NET_TX_WRITABLE] = "writable",
		[NET_TX_SHORT_HDR] = "short_hdr",
		[NET_TX_RUNT] = "runt",
		[NET_TX_TOO_BIG] = "too_big",
		[NET_TX_BAD_FLAGS] = "bad_flags",
		[NET_TX_BAD_GSO] = "bad_gso",
		[NET_TX_BAD_CSUM] = "bad_csum",
	};

	return (unsigned)v < NET_TX_NVERDICT ? names[v] : "?";
}

enum net_tx_verdict net_tx_parse(const struct net_tx_limits *lim, const struct virtq_chain *c,
				 struct net_tx_req *ret)
{
	uint32_t i = 0, off = 0, got = 0;
	enum net_tx_verdict v;
	uint64_t frame;

	/* The device never writes into a TX chain: one with writable buffers
	 * is not a frame. */
	if (c->nread != c->nseg)
		return NET_TX_WRITABLE;
	if (c->read_len < NET_HDR_LEN)
		return NET_TX_SHORT_HDR;
	frame = c->read_len - NET_HDR_LEN;
	if (frame > NET_FRAME_MAX)
		return NET_TX_TOO_BIG;
	/* The header, copied once out of however many segments hold it. */
	while (got < NET_HDR_LEN) {
		uint32_t take = c->seg[i].len - off;

		if (take > NET_HDR_LEN - got)
			take = NET_HDR_LEN - got;
		memcpy(ret->hdr_raw + got, c->seg[i].host + off, take);
		got += take;
		off += take;
		if (off == c->seg[i].len) {
			i++;
			off = 0;
		}
	}
	__asm__ volatile("" ::: "memory");
	net_hdr_decode(ret->hdr_raw, &ret->hdr);
	v = net_hdr_check_tx(lim, &ret->hdr, (uint32_t)frame);
	if (v != NET_TX_OK)
		return v;
	/* What the tap reads is the checked copy, num_buffers cleared: the
	 * guest cannot change it after the check. */
	ret->hdr.num_buffers = 0;
	net_hdr_encode(&ret->hdr, ret->hdr_raw);
	ret->frame_len = (uint32_t)frame;
	ret->iov[0] = (struct iovec){ret->hdr_raw, NET_HDR_LEN};
	ret->niov = 1;
	for (; i < c->nseg; i++, off = 0)
		ret->iov[ret->niov++] =
			(struct iovec){c->seg[i].host + off, (size_t)c->seg[i].len - off};
	return NET_TX_OK;
}

bool net_rx_chain_ok(const struct virtq_chain *c)
{
	/* Never write into device-readable buffers; the header must fit in the
	 * chain (with MRG_RXBUF, in every buffer: 5.1.6.3.1). */
	return c->nread == 0 && c->nseg > 0 && c->write_len >= NET_HDR_LEN;
}

int net_ctrl_parse(const struct virtq_chain *c, struct net_ctrl *ret)
{
	const struct virtq_seg *last;
	uint8_t hdr[2];
	uint32_t got = 0;

	/* The ack is the last device-writable byte; without one there is no
	 * way to answer. */
	if (c->nseg == c->nread)
		return -EINVAL;
	last = &c->seg[c->nseg - 1];
	ret->ack = last->host + last->len - 1;
	ret->class = 0xff;
	ret->cmd = 0xff;
	ret->len = 0;
	ret->too_big = c->read_len - (c->read_len >= 2 ? 2 : c->read_len) > NET_CTRL_MAX;
	if (c->read_len < 2)
		return 0;
	/* class, cmd, then the payload: copied out once, at most NET_CTRL_MAX. */
	for (uint32_t i = 0; i < c->nread; i++) {
		const struct virtq_seg *s = &c->seg[i];

		for (uint32_t off = 0; off < s->len;) {
			uint32_t take;

			if (got < 2) {
				hdr[got++] = s->host[off++];
				continue;
			}
			if (ret->too_big)
				break;
			take = s->len - off;
			memcpy(ret->data + ret->len, s->host + off, take);
			ret->len += take;
			off += take;
		}
	}
	__asm__ volatile("" ::: "memory");
	ret->class = hdr[0];
	ret->cmd = hdr[1];
	if (ret->too_big)
		ret->len = 0;
	return 0;
}

/* One table of MAC_TABLE_SET at p: le32 count, then count addresses. */
static int net_mac_list(const uint8_t *p, uint32_t len, uint32_t *used, uint8_t (*macs)[6],
			uint32_t *ret_n, bool *ret_overflow)
{
	uint32_t n;

	if (len < 4)
		return -EINVAL;
	n = net_le32(p);
	/* UNTRUSTED(guest): n, bounded by the bytes that are really there. */
	if (n > (len - 4) / NET_ETH_ALEN)
		return -EINVAL;
	*ret_overflow = n > NET_MAC_TABLE_MAX;
	*ret_n = *ret_overflow ? 0 : n;
	if (!*ret_overflow)
		memcpy(macs, p + 4, (size_t)n * NET_ETH_ALEN);
	*used = 4 + n * NET_ETH_ALEN;
	return 0;
}

int net_ctrl_mac_table(const uint8_t *p, uint32_t len, struct net_mac_table *ret)
{
	uint32_t a, b;

	if (net_mac_list(p, len, &a, ret->uni, &ret->n_uni, &ret->uni_overflow) < 0 ||
	    net_mac_list(p + a, len - a, &b, ret->multi, &ret->n_multi, &ret->multi_overflow) < 0)
		return -EINVAL;
	return a + b == len ? 0 : -EINVAL;
}

static bool net_mac_in(const uint8_t (*macs)[6], uint32_t n, const uint8_t *dst)
{
	for (uint32_t i = 0; i < n; i++)
		if (memcmp(macs[i], dst, NET_ETH_ALEN) == 0)
			return true;
	return false;
}

bool net_filter_accept(const struct net_filter *f, const uint8_t dst[NET_ETH_ALEN])
{
	static const uint8_t bcast[NET_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (f->promisc)
		return true;
	if (memcmp(dst, bcast, NET_ETH_ALEN) == 0)
		return true;
	if (dst[0] & 1)
		return f->allmulti || f->table.multi_overflow ||
		       net_mac_in((const uint8_t(*)[6])f->table.multi, f->table.n_multi, dst);
	return memcmp(dst, f->mac, NET_ETH_ALEN) == 0 || f->table.uni_overflow ||
	       net_mac_in((const uint8_t(*)[6])f->table.uni, f->table.n_uni, dst);
}
