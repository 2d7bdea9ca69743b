/* virtio-net transmit path; see net.h. Runs in cellvm-dev-net. Chains checked
 * by net_tx_parse() are written to the tap from guest RAM behind a private
 * copy of the header, one writev() per frame. The rings and headers are
 * UNTRUSTED(guest). */
#include "dev-procs/net/net.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "dev-procs/net/net_io.h"

/* ---- TX ---- */

static void net_tx_send(struct net *n, struct net_tap *tap, struct net_tx_req *req)
{
	struct iovec one;
	const struct iovec *iov = req->iov;
	uint32_t niov = req->niov;
	ssize_t r;

	if (tap->dead) {
		n->c.tx_drop_backend++;
		return;
	}
	if (niov > NET_RX_MAX_IOV) {
		/* More pieces than one writev takes: linearise (rare; <= 64 KiB). */
		net_io_iov_copy(req->iov, niov, 0, n->tx_bounce, NET_HDR_LEN + req->frame_len,
				false);
		one = (struct iovec){n->tx_bounce, NET_HDR_LEN + req->frame_len};
		iov = &one;
		niov = 1;
	}
	r = net_io_write(tap->fd, iov, (int)niov);
	if (r < 0) {
		if (net_io_gone((int)-r))
			net_tap_gone(n, tap, (int)-r);
		else if (n->c.tx_drop_backend == 0)
			log_warn("tap queue %u: write: %s (logged once)", tap->index,
				 strerror((int)-r));
		n->c.tx_drop_backend++;
		return;
	}
	n->c.tx_packets++;
	n->c.tx_bytes += req->frame_len;
	if (net_rate_limited(&n->tx_rate))
		net_rate_consume(&n->tx_rate, req->frame_len);
}

void net_tx_run(struct net *n, uint32_t pair)
{
	struct net_txq *q = &n->tx[pair];
	struct devproc_queue *dq = &n->dp->queues[2 * pair + 1];
	enum net_tx_verdict v;
	uint32_t budget;
	int r;

	if (!n->active || !q->live)
		return;
	budget = q->vq.size;
	while (!n->dp->needs_reset && !n->tx_limited) {
		if (net_rate_limited(&n->tx_rate) && !net_rate_allow(&n->tx_rate, net_now_ns())) {
			n->tx_limited = true;
			n->c.tx_throttled++;
			net_arm_timer(n->tx_timer, net_rate_wait_ns(&n->tx_rate));
			break;
		}
		if (budget == 0) {
			/* One ring's worth per wakeup: come back through the kick
			 * eventfd so the other queues and the link get their turn. */
			uint64_t one = 1;

			if (virtq_enable_kicks(&q->vq))
				(void)!write(dq->kick_fd, &one, sizeof(one));
			break;
		}
		r = virtq_pop(&q->vq, &n->chain);
		if (r < 0) {
			devproc_needs_reset(n->dp, "invalid TX chain or available index");
			return;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(&q->vq))
				break;
			continue;
		}
		budget--;
		v = net_tx_parse(&n->txlim, &n->chain, &n->txreq);
		if (v == NET_TX_OK) {
			net_tx_send(n, &n->tap[pair], &n->txreq);
		} else if (n->c.tx_drop[v]++ == 0) {
			log_warn("TX frame dropped: %s (first of its kind; counted from now on)",
				 net_tx_verdict_name(v));
		}
		virtq_push(&q->vq, n->chain.head, 0);
		q->pushed = true;
	}
	if (q->pushed) {
		q->pushed = false;
		if (virtq_should_notify(&q->vq))
			devproc_notify(n->dp, dq);
	}
}
