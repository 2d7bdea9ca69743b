/* virtio-net receive path; see net.h. Runs in cellvm-dev-net. Frames are
 * read from a tap queue straight into the guest's posted buffers when enough
 * of them are held (several chains with MRG_RXBUF), else through a bounce
 * buffer; with no buffers the tap is not watched until the queue is kicked,
 * so the kernel keeps what it can and nothing spins. The rings are
 * UNTRUSTED(guest); the frames come from the host kernel. */
#include "dev-procs/net/net.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "dev-procs/net/net_io.h"

#define NET_RX_BUDGET 64 /* frames per wakeup; the tap stays readable for more */

/* ---- watching the taps ---- */

static uint32_t net_tap_target(const struct net *n, const struct net_tap *tap)
{
	return tap->index % (n->cur_pairs ? n->cur_pairs : 1);
}

static void net_on_tap(struct devproc *dp, void *arg)
{
	struct net_tap *tap = arg;

	(void)dp;
	net_rx_tap(tap->n, tap);
}

void net_rx_watch(struct net *n, struct net_tap *tap)
{
	const struct net_rxq *q = &n->rx[net_tap_target(n, tap)];
	const bool want = n->active && !n->dp->needs_reset && !tap->dead && !n->rx_limited &&
			  q->live && !q->starved;
	int r;

	if (want == tap->watched)
		return;
	if (want) {
		r = devproc_watch(n->dp, tap->fd, net_on_tap, tap);
		if (r < 0) {
			log_err("tap queue %u: cannot watch it: %s", tap->index, strerror(-r));
			return;
		}
	} else {
		devproc_unwatch(n->dp, tap->fd);
	}
	tap->watched = want;
}

/* ---- RX ---- */

static void net_stash_compact(struct net_rxq *q)
{
	uint32_t base;

	if (q->nstash == 0) {
		q->first = q->iov_end = 0;
		return;
	}
	base = q->stash[q->first].iov0;
	memmove(q->iov, q->iov + base, (q->iov_end - base) * sizeof(q->iov[0]));
	memmove(q->stash, q->stash + q->first, q->nstash * sizeof(q->stash[0]));
	for (uint32_t i = 0; i < q->nstash; i++)
		q->stash[i].iov0 -= base;
	q->iov_end -= base;
	q->first = 0;
}

static void net_stash_add(struct net_rxq *q, const struct virtq_chain *c)
{
	struct net_rx_chain *s = &q->stash[q->first + q->nstash];

	s->head = c->head;
	s->iov0 = q->iov_end;
	s->niov = (uint16_t)c->nseg;
	s->cap = c->write_len;
	for (uint32_t i = 0; i < c->nseg; i++)
		q->iov[q->iov_end++] = (struct iovec){c->seg[i].host, c->seg[i].len};
	q->stash_cap += c->write_len;
	q->nstash++;
}

/* Take chains from the ring until the held ones can take want bytes.
 * Returns 1 when the ring ran empty first, 0 when the stash is full enough
 * (or cannot hold more), -EINVAL after asking for a reset. */
static int net_stash_fill(struct net *n, struct net_rxq *q, uint64_t want)
{
	const uint32_t max_segs = q->vq.size < VIRTQ_MAX_SEGS ? q->vq.size : VIRTQ_MAX_SEGS;
	struct virtq_chain *c = &n->chain;
	int r;

	while (q->stash_cap < want) {
		if ((!n->mrg && q->nstash) || q->nstash == NET_RX_STASH)
			return 0;
		if (q->first + q->nstash == NET_RX_STASH || q->iov_end + max_segs > NET_RX_IOV_CAP)
			net_stash_compact(q);
		/* Room for the longest chain the ring may hand over; otherwise
		 * the held chains already have over NET_RX_MAX_IOV buffers. */
		if (q->iov_end + max_segs > NET_RX_IOV_CAP)
			return 0;
		r = virtq_pop(&q->vq, c);
		if (r < 0) {
			devproc_needs_reset(n->dp, "invalid RX chain or available index");
			return -EINVAL;
		}
		if (r == 0)
			return 1;
		if (!net_rx_chain_ok(c)) {
			/* Returned unused: the driver sees an empty buffer. */
			if (n->c.rx_bad_chain++ == 0)
				log_warn("RX chain with readable buffers or no room for the header "
					 "(logged once)");
			virtq_push(&q->vq, c->head, 0);
			q->pushed = true;
			continue;
		}
		net_stash_add(q, c);
	}
	return 0;
}

/* len bytes (header included) are in the held chains: hand them over. */
static void net_rx_complete(struct net *n, struct net_rxq *q, uint32_t len)
{
	const struct net_rx_chain *f = &q->stash[q->first];
	uint32_t nbuf = 0, left = len;
	uint64_t cap = 0;
	uint8_t nb[2];

	while (cap < len)
		cap += q->stash[q->first + nbuf++].cap;
	/* The tap leaves num_buffers alone; flags only with GUEST_CSUM (5.1.6.4.1). */
	nb[0] = (uint8_t)nbuf;
	nb[1] = (uint8_t)(nbuf >> 8);
	net_io_iov_copy(q->iov + f->iov0, f->niov, 10, nb, 2, true);
	if (!n->guest_csum) {
		static const uint8_t zero;
		net_io_iov_copy(q->iov + f->iov0, f->niov, 0, (void *)&zero, 1, true);
	}
	for (uint32_t i = 0; i < nbuf; i++) {
		const struct net_rx_chain *s = &q->stash[q->first + i];
		uint32_t l = left < s->cap ? left : (uint32_t)s->cap;

		virtq_push(&q->vq, s->head, l);
		left -= l;
		q->stash_cap -= s->cap;
	}
	q->first += nbuf;
	q->nstash -= nbuf;
	q->pushed = true;
	n->c.rx_packets++;
	n->c.rx_bytes += len - NET_HDR_LEN;
	if (net_rate_limited(&n->rx_rate))
		net_rate_consume(&n->rx_rate, len - NET_HDR_LEN);
}

/* A frame of len bytes was read: keep it or not. */
static bool net_rx_wanted(struct net *n, uint32_t len, const uint8_t dst[NET_ETH_ALEN])
{
	if (len < NET_HDR_LEN + NET_ETH_HLEN) {
		n->c.rx_drop_runt++;
		return false;
	}
	if (!net_filter_accept(&n->filter, dst)) {
		n->c.rx_drop_filtered++;
		return false;
	}
	return true;
}

/* Deliver the frame waiting in q->bounce. Returns 1 when it is delivered or
 * dropped, 0 when it waits for buffers, -EINVAL after a reset request. */
static int net_rx_deliver_pending(struct net *n, struct net_rxq *q)
{
	const uint32_t len = q->pending;
	int r;

	r = net_stash_fill(n, q, len);
	if (r < 0)
		return r;
	if (q->stash_cap < len) {
		if (r == 1)
			return 0;
		/* Every buffer the device may hold is too small. */
		if (n->c.rx_drop_too_big++ == 0)
			log_warn(
				"RX frame of %u bytes larger than the posted buffers (logged once)",
				len);
		q->pending = 0;
		return 1;
	}
	net_io_iov_copy(q->iov + q->stash[q->first].iov0, q->iov_end - q->stash[q->first].iov0, 0,
			q->bounce, len, true);
	q->pending = 0;
	net_rx_complete(n, q, len);
	return 1;
}

/* No buffers: stop watching the queue's taps until it is kicked. Returns true
 * when buffers arrived meanwhile (go on instead). */
static bool net_rx_starve(struct net *n, uint32_t t)
{
	struct net_rxq *q = &n->rx[t];

	q->starved = true;
	if (virtq_enable_kicks(&q->vq)) {
		q->starved = false;
		return true;
	}
	for (uint32_t i = 0; i < n->pairs; i++)
		if (net_tap_target(n, &n->tap[i]) == t)
			net_rx_watch(n, &n->tap[i]);
	return false;
}

static void net_rx_notify(struct net *n, uint32_t t)
{
	struct net_rxq *q = &n->rx[t];

	if (q->pushed) {
		q->pushed = false;
		if (virtq_should_notify(&q->vq))
			devproc_notify(n->dp, &n->dp->queues[2 * t]);
	}
}

/* Read one frame from tap into q: straight into the held chains when they
 * can take the largest frame, else into the bounce buffer. Returns 1 to go
 * on, 0 when the tap is empty or failed. */
/* The held chains that take the largest frame, as one readv()'s iovecs:
 * returns their count and capacity, or 0 when they do not (or need more
 * iovecs than readv() takes). */
static uint32_t net_rx_direct(const struct net *n, const struct net_rxq *q, uint64_t *ret_cap)
{
	uint64_t cap = 0;
	uint32_t niov = 0;

	for (uint32_t i = 0; i < q->nstash && cap < n->rx_frame_max; i++) {
		cap += q->stash[q->first + i].cap;
		niov += q->stash[q->first + i].niov;
	}
	if (cap < n->rx_frame_max || niov > NET_RX_MAX_IOV)
		return 0;
	*ret_cap = cap;
	return niov;
}

static int net_rx_read(struct net *n, struct net_tap *tap, struct net_rxq *q)
{
	const struct net_rx_chain *f = &q->stash[q->first];
	struct iovec bounce = {q->bounce, NET_RX_BOUNCE};
	uint8_t dst[NET_ETH_ALEN];
	uint64_t cap = 0;
	const uint32_t niov = net_rx_direct(n, q, &cap);
	const bool direct = niov > 0;
	ssize_t r;

	if (direct) {
		r = net_io_read(tap->fd, q->iov + f->iov0, (int)niov);
	} else {
		cap = NET_RX_BOUNCE;
		r = net_io_read(tap->fd, &bounce, 1);
	}
	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		/* Any other failure would repeat on every wakeup of a readable
		 * fd: the queue is given up like a tap that went away. */
		net_tap_gone(n, tap, (int)-r);
		return 0;
	}
	if ((uint64_t)r > cap) {
		/* The kernel had more than the buffers took and dropped the rest. */
		if (n->c.rx_drop_too_big++ == 0)
			log_warn("RX frame of %zd bytes larger than the buffers (logged once)", r);
		return 1;
	}
	memset(dst, 0, sizeof(dst));
	if (direct)
		net_io_iov_copy(q->iov + f->iov0, q->iov_end - f->iov0, NET_HDR_LEN, dst,
				sizeof(dst), false);
	else
		memcpy(dst, q->bounce + NET_HDR_LEN, sizeof(dst));
	if (!net_rx_wanted(n, (uint32_t)r, dst))
		return 1;
	if (direct)
		net_rx_complete(n, q, (uint32_t)r);
	else
		q->pending = (uint32_t)r;
	return 1;
}

void net_rx_tap(struct net *n, struct net_tap *tap)
{
	const uint32_t t = net_tap_target(n, tap);
	struct net_rxq *q = &n->rx[t];
	int r;

	if (!tap->watched)
		return;
	if (n->dp->needs_reset) {
		/* Waiting for the driver's reset: the tap keeps its frames and
		 * is not polled meanwhile (no spinning on a readable fd). */
		net_rx_watch(n, tap);
		return;
	}
	for (uint32_t budget = NET_RX_BUDGET; budget && !n->dp->needs_reset; budget--) {
		if (q->pending) {
			r = net_rx_deliver_pending(n, q);
			if (r < 0)
				return;
			if (r == 0 && !net_rx_starve(n, t))
				break;
			continue;
		}
		if (net_rate_limited(&n->rx_rate) && !net_rate_allow(&n->rx_rate, net_now_ns())) {
			n->rx_limited = true;
			n->c.rx_throttled++;
			net_arm_timer(n->rx_timer, net_rate_wait_ns(&n->rx_rate));
			for (uint32_t i = 0; i < n->pairs; i++)
				net_rx_watch(n, &n->tap[i]);
			break;
		}
		r = net_stash_fill(n, q, n->mrg ? n->rx_frame_max : 1);
		if (r < 0)
			return;
		if (q->nstash == 0) {
			if (!net_rx_starve(n, t))
				break;
			continue;
		}
		if (!net_rx_read(n, tap, q))
			break;
	}
	net_rx_notify(n, t);
}

void net_rx_kick(struct net *n, uint32_t pair)
{
	struct net_rxq *q = &n->rx[pair];

	if (!q->live)
		return;
	q->starved = false;
	for (uint32_t i = 0; i < n->pairs; i++) {
		if (net_tap_target(n, &n->tap[i]) != pair)
			continue;
		net_rx_watch(n, &n->tap[i]);
		net_rx_tap(n, &n->tap[i]);
	}
}

int net_rx_restash(struct net *n, uint32_t pair, const uint16_t *heads, uint32_t nheads)
{
	const uint32_t max_segs =
		n->rx[pair].vq.size < VIRTQ_MAX_SEGS ? n->rx[pair].vq.size : VIRTQ_MAX_SEGS;
	struct net_rxq *q = &n->rx[pair];

	for (uint32_t k = 0; k < nheads; k++) {
		if (virtq_chain_at(&q->vq, heads[k], &n->chain) < 0)
			return -EINVAL;
		if (q->nstash < NET_RX_STASH && q->iov_end + max_segs <= NET_RX_IOV_CAP &&
		    net_rx_chain_ok(&n->chain)) {
			net_stash_add(q, &n->chain);
		} else {
			/* No room to hold it (or not a buffer): back empty. */
			virtq_push(&q->vq, heads[k], 0);
			q->pushed = true;
		}
	}
	net_rx_notify(n, pair);
	return 0;
}

void net_rx_drop_all(struct net *n)
{
	/* Reset: held chains are forgotten (the driver took the rings back),
	 * a frame waiting for buffers is lost. */
	for (uint32_t i = 0; i < n->pairs; i++) {
		struct net_rxq *q = &n->rx[i];

		if (q->pending)
			n->c.rx_drop_reset++;
		q->pending = 0;
		q->first = q->nstash = q->iov_end = 0;
		q->stash_cap = 0;
		q->starved = false;
	}
}
