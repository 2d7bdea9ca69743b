/* virtio-net device model; see net.h. Runs in cellvm-dev-net, behind the
 * devproc frame: checks the launcher's setup and the tap fds, offers the
 * features and configuration space, sets the queues up at activation, runs
 * the control queue (rx mode, MAC filter, MAC address, queue pairs) and the
 * rate-limiter timers. Frames go through net_rx.c and net_tx.c. Control
 * commands are guest data, parsed by net_hdr.c; bad ones are answered
 * VIRTIO_NET_ERR. */
#include "dev-procs/net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dev-procs/net/net_io.h"

#define NET_FEATURES_BASE                                                                          \
	(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |     \
	 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM |                             \
	 1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6 |                         \
	 1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6 |                       \
	 1ULL << VIRTIO_NET_F_HOST_ECN | 1ULL << VIRTIO_NET_F_GUEST_ECN |                          \
	 1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_NET_F_CTRL_VQ |                           \
	 1ULL << VIRTIO_NET_F_CTRL_RX | 1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR |                       \
	 1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC)

static bool net_has(const struct net *n, int bit)
{
	return n->dp->features & (1ULL << bit);
}

/* ---- configuration space ---- */

static void net_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void net_fill_config(struct net *n, const uint8_t mac_in[NET_ETH_ALEN])
{
	uint8_t mac[NET_ETH_ALEN];

	memcpy(mac, mac_in, NET_ETH_ALEN); /* may point into n->config */
	memset(n->config, 0, sizeof(n->config));
	memcpy(n->config + NET_CFG_MAC, mac, NET_ETH_ALEN);
	net_put16(n->config + NET_CFG_STATUS, n->link_up ? VIRTIO_NET_S_LINK_UP : 0);
	net_put16(n->config + NET_CFG_MAX_PAIRS, (uint16_t)n->pairs);
	net_put16(n->config + NET_CFG_MTU, (uint16_t)n->mtu);
}

/* Tell the core (and through it the guest) that the config changed; before
 * Attach it is only DeviceInfo's to carry. */
static void net_config_changed(struct net *n)
{
	int r;

	if (!n->dp->shared) {
		memcpy(n->dp->info.config, n->config, NET_CONFIG_LEN);
		return;
	}
	r = devproc_config_update(n->dp, n->config, NET_CONFIG_LEN);
	/* A closed link (the core is gone, we are exiting) is not news. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		log_err("cannot send the configuration update: %s", strerror(-r));
}

void net_tap_gone(struct net *n, struct net_tap *tap, int err)
{
	if (tap->dead)
		return;
	/* Once per tap queue; the fd is never polled again, so no spinning. */
	log_warn("tap queue %u is gone (%s): link down", tap->index, strerror(err));
	tap->dead = true;
	net_rx_watch(n, tap);
	if (n->link_up) {
		n->link_up = false;
		net_fill_config(n, n->config + NET_CFG_MAC);
		net_config_changed(n);
	}
}

/* ---- timers ---- */

uint64_t net_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void net_arm_timer(int fd, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(ns / 1000000000ULL),
			     .tv_nsec = (long)(ns % 1000000000ULL)},
	};

	/* ns 0 disarms. */
	(void)timerfd_settime(fd, 0, &its, NULL);
}

static void net_on_rx_timer(struct devproc *dp, void *arg)
{
	struct net *n = arg;
	uint64_t v;

	(void)dp;
	(void)!read(n->rx_timer, &v, sizeof(v));
	if (!n->rx_limited)
		return;
	n->rx_limited = false;
	for (uint32_t i = 0; i < n->pairs; i++) {
		net_rx_watch(n, &n->tap[i]);
		net_rx_tap(n, &n->tap[i]);
	}
}

static void net_on_tx_timer(struct devproc *dp, void *arg)
{
	struct net *n = arg;
	uint64_t v;

	(void)dp;
	(void)!read(n->tx_timer, &v, sizeof(v));
	if (!n->tx_limited)
		return;
	n->tx_limited = false;
	for (uint32_t i = 0; i < n->pairs; i++)
		if (n->tx[i].live)
			net_tx_run(n, i);
}

/* ---- control queue ---- */

static uint8_t net_ctrl_rx(struct net *n, const struct net_ctrl *c)
{
	if (!net_has(n, VIRTIO_NET_F_CTRL_RX) || c->len != 1)
		return VIRTIO_NET_ERR;
	switch (c->cmd) {
	case VIRTIO_NET_CTRL_RX_PROMISC: n->filter.promisc = c->data[0] != 0; break;
	case VIRTIO_NET_CTRL_RX_ALLMULTI: n->filter.allmulti = c->data[0] != 0; break;
	default: return VIRTIO_NET_ERR; /* the CTRL_RX_EXTRA commands are not offered */
	}
	return VIRTIO_NET_OK;
}

static uint8_t net_ctrl_mac(struct net *n, const struct net_ctrl *c)
{
	struct net_mac_table t;

	switch (c->cmd) {
	case VIRTIO_NET_CTRL_MAC_TABLE_SET:
		if (!net_has(n, VIRTIO_NET_F_CTRL_RX) ||
		    net_ctrl_mac_table(c->data, c->len, &t) < 0)
			return VIRTIO_NET_ERR;
		n->filter.table = t;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC_ADDR_SET:
		if (!net_has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) || c->len != NET_ETH_ALEN)
			return VIRTIO_NET_ERR;
		memcpy(n->filter.mac, c->data, NET_ETH_ALEN);
		net_fill_config(n, c->data);
		net_config_changed(n);
		return VIRTIO_NET_OK;
	default: return VIRTIO_NET_ERR;
	}
}

static uint8_t net_ctrl_mq(struct net *n, const struct net_ctrl *c)
{
	uint16_t pairs;

	if (!net_has(n, VIRTIO_NET_F_MQ) || c->cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    c->len != 2)
		return VIRTIO_NET_ERR;
	pairs = (uint16_t)(c->data[0] | c->data[1] << 8);
	/* UNTRUSTED(guest): pairs, within what the device has. */
	if (pairs < 1 || pairs > n->pairs)
		return VIRTIO_NET_ERR;
	n->cur_pairs = pairs;
	/* Tap queue k feeds RX queue k % pairs: frames the kernel steers to a
	 * queue the guest no longer uses still arrive. */
	for (uint32_t i = 0; i < n->pairs; i++) {
		net_rx_watch(n, &n->tap[i]);
		net_rx_tap(n, &n->tap[i]);
	}
	return VIRTIO_NET_OK;
}

/* Answer the command in n->chain. Returns 0, or -EINVAL after asking for a
 * reset (no ack byte to answer in). */
static int net_ctrl_one(struct net *n)
{
	struct net_ctrl *c = &n->ctrl;
	uint8_t status = VIRTIO_NET_ERR;

	if (net_ctrl_parse(&n->chain, c) < 0) {
		n->ctrl_vq.broken = true;
		devproc_needs_reset(n->dp, "control command without a device-writable ack");
		return -EINVAL;
	}
	if (!c->too_big) {
		switch (c->class) {
		case VIRTIO_NET_CTRL_RX: status = net_ctrl_rx(n, c); break;
		case VIRTIO_NET_CTRL_MAC: status = net_ctrl_mac(n, c); break;
		case VIRTIO_NET_CTRL_MQ: status = net_ctrl_mq(n, c); break;
		default: break;
		}
	}
	if (status == VIRTIO_NET_OK)
		n->c.ctrl_ok++;
	else if (n->c.ctrl_err++ == 0)
		log_warn("control command class %u cmd %u refused (logged once)", c->class, c->cmd);
	*c->ack = status;
	virtq_push(&n->ctrl_vq, n->chain.head, 1);
	return 0;
}

static void net_ctrl_run(struct net *n)
{
	bool pushed = false;
	int r;

	while (n->active && n->ctrl_live && !n->dp->needs_reset) {
		r = virtq_pop(&n->ctrl_vq, &n->chain);
		if (r < 0) {
			devproc_needs_reset(n->dp,
					    "invalid control queue chain or available index");
			return;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(&n->ctrl_vq))
				break;
			continue;
		}
		if (net_ctrl_one(n) < 0)
			return;
		pushed = true;
	}
	if (pushed && virtq_should_notify(&n->ctrl_vq))
		devproc_notify(n->dp, &n->dp->queues[n->ctrl_idx]);
}

/* ---- devproc_ops ---- */

static void net_kick(struct devproc *dp, struct devproc_queue *dq)
{
	struct net *n = dp->priv;
	uint32_t pair;

	if (!n->active || dq->index >= DEVPROC_MAX_QUEUES)
		return;
	pair = n->role_pair[dq->index];
	switch (n->role[dq->index]) {
	case NET_Q_RX: net_rx_kick(n, pair); break;
	case NET_Q_TX: net_tx_run(n, pair); break;
	case NET_Q_CTRL: net_ctrl_run(n); break;
	default: break;
	}
}

static int net_queue_init(struct net *n, struct virtq *vq, uint32_t index, bool *live)
{
	struct devproc_queue *dq = &n->dp->queues[index];
	const bool event_idx = net_has(n, VIRTIO_RING_F_EVENT_IDX);
	const bool indirect = net_has(n, VIRTIO_RING_F_INDIRECT_DESC);
	int r;

	*live = false;
	if (index >= n->dp->num_queues || !dq->enabled)
		return 0;
	/* UNTRUSTED(guest): the ring size and addresses, relayed by the core;
	 * virtq_init checks them against guest RAM. */
	if (dq->size > n->queue_size)
		return -EINVAL;
	r = virtq_init(vq, &n->dp->mem, dq->size, dq->desc, dq->avail, dq->used, event_idx,
		       indirect);
	if (r < 0)
		return r;
	*live = true;
	/* A fresh queue keeps its crash-recovery record from now on; one
	 * taken over from a crashed process does in net_resume(). */
	if (!n->dp->resume)
		virtq_track(vq, dq->inflight);
	return 0;
}

static unsigned net_tap_offloads(const struct net *n)
{
	unsigned f = 0;

	/* What the guest takes in: partial checksums, then TSO on top of them. */
	if (net_has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (net_has(n, VIRTIO_NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (net_has(n, VIRTIO_NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		/* TSO frames with CWR set stay whole only if the guest said so. */
		if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && net_has(n, VIRTIO_NET_F_GUEST_ECN))
			f |= TUN_F_TSO_ECN;
	}
	return f;
}

static int net_activate(struct devproc *dp)
{
	struct net *n = dp->priv;
	const bool mq = net_has(n, VIRTIO_NET_F_MQ);
	const uint32_t used_pairs = mq ? n->pairs : 1;
	const uint32_t mtu = net_has(n, VIRTIO_NET_F_MTU) ? n->mtu : NET_MTU_DEFAULT;
	unsigned offl;
	int r;

	/* Legacy (pre-1.0) drivers are not served: the 12-byte header is fixed. */
	if (!net_has(n, VIRTIO_F_VERSION_1))
		return -EINVAL;
	memset(n->role, NET_Q_NONE, sizeof(n->role));
	for (uint32_t i = 0; i < used_pairs; i++) {
		n->role[2 * i] = NET_Q_RX;
		n->role[2 * i + 1] = NET_Q_TX;
		n->role_pair[2 * i] = n->role_pair[2 * i + 1] = (uint8_t)i;
	}
	/* The control queue follows the pairs in use: index 2 without MQ. */
	n->ctrl_idx = 2 * used_pairs;
	if (net_has(n, VIRTIO_NET_F_CTRL_VQ))
		n->role[n->ctrl_idx] = NET_Q_CTRL;
	for (uint32_t i = 0; i < n->pairs; i++) {
		n->rx[i].live = n->tx[i].live = false;
		n->rx[i].starved = n->rx[i].pushed = n->tx[i].pushed = false;
		n->rx[i].first = n->rx[i].nstash = n->rx[i].iov_end = n->rx[i].pending = 0;
		n->rx[i].stash_cap = 0;
	}
	n->ctrl_live = false;
	for (uint32_t i = 0; i < used_pairs; i++) {
		r = net_queue_init(n, &n->rx[i].vq, 2 * i, &n->rx[i].live);
		if (r == 0)
			r = net_queue_init(n, &n->tx[i].vq, 2 * i + 1, &n->tx[i].live);
		if (r < 0)
			return r;
	}
	if (net_has(n, VIRTIO_NET_F_CTRL_VQ)) {
		r = net_queue_init(n, &n->ctrl_vq, n->ctrl_idx, &n->ctrl_live);
		if (r < 0)
			return r;
	}
	n->mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	n->guest_csum = net_has(n, VIRTIO_NET_F_GUEST_CSUM);
	offl = net_tap_offloads(n);
	n->rx_frame_max = NET_HDR_LEN + ((offl & (TUN_F_TSO4 | TUN_F_TSO6))
						 ? NET_FRAME_MAX
						 : mtu + NET_ETH_HLEN + NET_VLAN_HLEN);
	n->txlim = (struct net_tx_limits){
		.csum = net_has(n, VIRTIO_NET_F_CSUM),
		.tso4 = net_has(n, VIRTIO_NET_F_CSUM) && net_has(n, VIRTIO_NET_F_HOST_TSO4),
		.tso6 = net_has(n, VIRTIO_NET_F_CSUM) && net_has(n, VIRTIO_NET_F_HOST_TSO6),
		.ecn = net_has(n, VIRTIO_NET_F_HOST_ECN),
		/* Without VIRTIO_NET_F_MTU the driver may pick any MTU. */
		.frame_max = net_has(n, VIRTIO_NET_F_MTU) ? n->mtu + NET_ETH_HLEN + NET_VLAN_HLEN
							  : NET_FRAME_MAX,
	};
	for (uint32_t i = 0; i < n->pairs; i++) {
		if (n->tap[i].dead)
			continue;
		r = net_io_set_offload(n->tap[i].fd, offl);
		if (r < 0 && net_io_gone(-r)) {
			net_tap_gone(n, &n->tap[i], -r);
		} else if (r < 0) {
			log_err("tap queue %u: TUNSETOFFLOAD %#x: %s", i, offl, strerror(-r));
			return r;
		}
	}
	/* After a reset: receive everything, to the configured address. */
	memset(&n->filter, 0, sizeof(n->filter));
	n->filter.promisc = true;
	memcpy(n->filter.mac, n->config + NET_CFG_MAC, NET_ETH_ALEN);
	n->cur_pairs = 1;
	net_rate_init(&n->rx_rate, n->rate_cfg[0], n->rate_cfg[1], n->rate_cfg[2], n->rate_cfg[3],
		      net_now_ns());
	n->tx_rate = n->rx_rate;
	n->rx_limited = n->tx_limited = false;
	n->active = true;
	for (uint32_t i = 0; i < n->pairs; i++)
		net_rx_watch(n, &n->tap[i]);
	return 0;
}

/* This process replaces a crashed one: take each queue over from its
 * record. RX chains the old process held go back to the stash (any frame
 * fits any buffer); TX chains it took are returned unsent (at most once: it
 * may have written them already); control commands are answered again
 * (each sets a state, so running one twice is harmless). The old process's
 * receive filter and queue-pair count are not known: the device starts
 * promiscuous with one pair, receiving more, never less. */
static int net_resume(struct devproc *dp)
{
	static uint16_t heads[VIRTQ_MAX_SIZE];
	struct net *n = dp->priv;
	int k;

	for (uint32_t i = 0; i < n->pairs; i++) {
		struct net_txq *tq = &n->tx[i];

		if (n->rx[i].live && dp->queues[2 * i].inflight) {
			k = virtq_resume(&n->rx[i].vq, dp->queues[2 * i].inflight, heads,
					 n->rx[i].vq.size);
			if (k < 0 || net_rx_restash(n, i, heads, (uint32_t)k) < 0)
				return -EINVAL;
		}
		if (tq->live && dp->queues[2 * i + 1].inflight) {
			k = virtq_resume(&tq->vq, dp->queues[2 * i + 1].inflight, heads,
					 tq->vq.size);
			if (k < 0)
				return k;
			for (int j = 0; j < k; j++)
				virtq_push(&tq->vq, heads[j], 0);
			n->c.tx_drop_restart += (uint64_t)k;
			tq->pushed |= k > 0;
		}
	}
	if (n->ctrl_live && dp->queues[n->ctrl_idx].inflight) {
		k = virtq_resume(&n->ctrl_vq, dp->queues[n->ctrl_idx].inflight, heads,
				 n->ctrl_vq.size);
		if (k < 0)
			return k;
		for (int j = 0; j < k; j++)
			if (virtq_chain_at(&n->ctrl_vq, heads[j], &n->chain) < 0 ||
			    net_ctrl_one(n) < 0)
				return -EINVAL;
		if (k > 0 && virtq_should_notify(&n->ctrl_vq))
			devproc_notify(dp, &dp->queues[n->ctrl_idx]);
	}
	return 0;
}

static void net_reset(struct devproc *dp)
{
	struct net *n = dp->priv;

	/* Everything is synchronous: once the taps are unwatched and the held
	 * chains forgotten, no guest memory is touched any more. */
	n->active = false;
	net_rx_drop_all(n);
	for (uint32_t i = 0; i < n->pairs; i++) {
		net_rx_watch(n, &n->tap[i]);
		n->rx[i].live = n->tx[i].live = false;
	}
	n->ctrl_live = false;
	n->rx_limited = n->tx_limited = false;
	net_arm_timer(n->rx_timer, 0);
	net_arm_timer(n->tx_timer, 0);
	/* A MAC the driver set lasts until the reset. */
	if (memcmp(n->config + NET_CFG_MAC, n->mac_cfg, NET_ETH_ALEN) != 0) {
		net_fill_config(n, n->mac_cfg);
		net_config_changed(n);
	}
}

static int net_check_setup(const Cellvm__Device__NetConfig *cfg, size_t nbackend)
{
	/* The launcher's setup (a peer, checked): one tap per pair, a MAC. */
	if (!cfg || cfg->mac.len != NET_ETH_ALEN || cfg->queue_pairs != nbackend || nbackend < 1 ||
	    nbackend > NET_MAX_PAIRS)
		return -EINVAL;
	if (cfg->mtu && (cfg->mtu < 68 || cfg->mtu > 65535))
		return -EINVAL;
	if (cfg->queue_size && (cfg->queue_size < 4 || cfg->queue_size > NET_QUEUE_SIZE_MAX ||
				(cfg->queue_size & (cfg->queue_size - 1))))
		return -EINVAL;
	return 0;
}

static int net_setup(struct devproc *dp, const Cellvm__Device__DeviceSetup *setup, int *backend_fds,
		     size_t nbackend, struct devproc_info *info)
{
	const Cellvm__Device__NetConfig *cfg = setup->net;
	struct net *n = dp->priv;
	int r;

	r = net_check_setup(cfg, nbackend);
	if (r < 0)
		return r;
	n->dp = dp;
	n->pairs = (uint32_t)nbackend;
	n->queue_size = cfg->queue_size ? cfg->queue_size : NET_QUEUE_SIZE_DEFAULT;
	n->mtu = cfg->mtu;
	memcpy(n->mac_cfg, cfg->mac.data, NET_ETH_ALEN);
	n->rate_cfg[0] = cfg->rate_bytes;
	n->rate_cfg[1] = cfg->burst_bytes;
	n->rate_cfg[2] = cfg->rate_packets;
	n->rate_cfg[3] = cfg->burst_packets;
	for (uint32_t i = 0; i < n->pairs; i++) {
		n->tap[i] = (struct net_tap){.n = n, .fd = backend_fds[i], .index = i};
		/* TUNSETVNETHDRSZ here, before the sandbox: the policy allows no
		 * other tap ioctl than TUNSETOFFLOAD. */
		r = net_io_setup(n->tap[i].fd);
		if (r < 0) {
			log_err("tap queue %u: not a tap with a vnet header: %s", i, strerror(-r));
			return r;
		}
		n->rx[i].bounce = malloc(NET_RX_BOUNCE);
		if (!n->rx[i].bounce)
			return -ENOMEM;
	}
	n->tx_bounce = malloc(NET_RX_BOUNCE);
	if (!n->tx_bounce)
		return -ENOMEM;
	/* timerfds made now: timerfd_create is not in the policy. */
	n->rx_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	n->tx_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (n->rx_timer < 0 || n->tx_timer < 0)
		return -errno;
	n->link_up = true;
	net_fill_config(n, n->mac_cfg);

	info->device_id = VIRTIO_ID_NET;
	info->features = NET_FEATURES_BASE;
	if (n->mtu)
		info->features |= 1ULL << VIRTIO_NET_F_MTU;
	if (n->pairs > 1)
		info->features |= 1ULL << VIRTIO_NET_F_MQ;
	memcpy(info->config, n->config, NET_CONFIG_LEN);
	info->config_len = NET_CONFIG_LEN;
	info->num_queues = 2 * n->pairs + 1;
	info->queue_max_size = n->queue_size;
	return 0;
}

static int net_sandboxed(struct devproc *dp)
{
	struct net *n = dp->priv;
	int r;

	r = devproc_watch(dp, n->rx_timer, net_on_rx_timer, n);
	if (r == 0)
		r = devproc_watch(dp, n->tx_timer, net_on_tx_timer, n);
	return r;
}

static size_t net_keep_fds(struct devproc *dp, int *fds, size_t max)
{
	struct net *n = dp->priv;

	if (max < 2)
		return 0;
	fds[0] = n->rx_timer;
	fds[1] = n->tx_timer;
	return 2;
}

/* For the host's API: frames either way, bytes each way, every drop. */
static void net_stats(struct devproc *dp, struct devproc_stats *out)
{
	const struct net *n = dp->priv;
	const struct net_counters *c = &n->c;

	out->requests = c->rx_packets + c->tx_packets;
	out->bytes_in = c->tx_bytes;
	out->bytes_out = c->rx_bytes;
	out->errors = c->rx_drop_too_big + c->rx_drop_filtered + c->rx_drop_runt + c->rx_bad_chain +
		      c->rx_drop_reset + c->tx_drop_backend + c->tx_drop_restart;
	for (int i = 0; i < NET_TX_NVERDICT; i++)
		out->errors += c->tx_drop[i];
}

const struct devproc_ops net_ops = {
	.kind = "net",
	.stats = net_stats,
	.setup = net_setup,
	.sandboxed = net_sandboxed,
	.activate = net_activate,
	.resume = net_resume,
	.kick = net_kick,
	.reset = net_reset,
	.keep_fds = net_keep_fds,
};

void net_log_counters(const struct net *n)
{
	const struct net_counters *c = &n->c;

	log_info("counters: rx_packets=%lu rx_bytes=%lu tx_packets=%lu tx_bytes=%lu "
		 "rx_drop_too_big=%lu rx_drop_filtered=%lu rx_drop_runt=%lu rx_bad_chain=%lu "
		 "rx_drop_reset=%lu tx_drop_backend=%lu tx_drop_restart=%lu ctrl_ok=%lu "
		 "ctrl_err=%lu "
		 "rx_throttled=%lu tx_throttled=%lu",
		 c->rx_packets, c->rx_bytes, c->tx_packets, c->tx_bytes, c->rx_drop_too_big,
		 c->rx_drop_filtered, c->rx_drop_runt, c->rx_bad_chain, c->rx_drop_reset,
		 c->tx_drop_backend, c->tx_drop_restart, c->ctrl_ok, c->ctrl_err, c->rx_throttled,
		 c->tx_throttled);
	log_info("counters: tx_drop_writable=%lu tx_drop_short_hdr=%lu tx_drop_runt=%lu "
		 "tx_drop_too_big=%lu tx_drop_bad_flags=%lu tx_drop_bad_gso=%lu "
		 "tx_drop_bad_csum=%lu",
		 c->tx_drop[NET_TX_WRITABLE], c->tx_drop[NET_TX_SHORT_HDR], c->tx_drop[NET_TX_RUNT],
		 c->tx_drop[NET_TX_TOO_BIG], c->tx_drop[NET_TX_BAD_FLAGS],
		 c->tx_drop[NET_TX_BAD_GSO], c->tx_drop[NET_TX_BAD_CSUM]);
}
