/* Network fixture; see vnet.h. Runs in test and benchmark processes (root):
 * the tap, its packet socket and the device live in a network namespace this
 * process made for itself, so nothing reaches the host's network. */
#include "test/harness/vnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "device.pb-c.h"

#define VNET_SKIP 77

static const uint8_t vnet_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static void vnet_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)!write(fd, v, strlen(v));
	close(fd);
}

void vnet_require(void)
{
	static bool in_ns;

	if (access("/dev/net/tun", F_OK) < 0) {
		fprintf(stderr, "SKIP: /dev/net/tun: %s\n", strerror(errno));
		exit(VNET_SKIP);
	}
	if (in_ns)
		return;
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
		abort();
	}
	in_ns = true;
	/* No IPv6 on new interfaces: router solicitations and MLD reports
	 * would otherwise reach the guest's RX queue unasked. */
	vnet_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	vnet_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
}

bool vnet_has(const struct vnet *t, int bit)
{
	return t->negotiated & (1ULL << bit);
}

static int vnet_make_tap(struct vnet *t, int *fds)
{
	static unsigned seq;
	struct ifreq ifr;
	int s, r = 0;

	snprintf(t->ifname, sizeof(t->ifname), "cvnet%u", seq++);
	for (uint32_t i = 0; i < t->o.pairs; i++) {
		fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fds[i] < 0)
			return -errno;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
		ifr.ifr_flags =
			IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (t->o.pairs > 1 ? IFF_MULTI_QUEUE : 0);
		if (ioctl(fds[i], TUNSETIFF, &ifr) < 0)
			return -errno;
	}
	t->ifindex = (int)if_nametoindex(t->ifname);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	if (t->o.tap_mtu) {
		ifr.ifr_mtu = (int)t->o.tap_mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			r = -errno;
	}
	if (r == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	close(s);
	return r;
}

static int vnet_make_pkt(struct vnet *t)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = t->ifindex};
	int one = 1;

	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (t->pkt < 0)
		return -errno;
	if (setsockopt(t->pkt, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    bind(t->pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* Start the device with its stderr in t->log (unless keep_log); a restart
 * appends to the same log. */
static int vnet_start_device(struct vnet *t, const int *fds, bool restart)
{
	Cellvm__Device__NetConfig nc = CELLVM__DEVICE__NET_CONFIG__INIT;
	struct device_config cfg = {.kind = "net", .nbackend = t->o.pairs};
	int saved = -1, lfd = -1, r;
	char err[256];

	nc.mac.data = (uint8_t *)vnet_mac;
	nc.mac.len = 6;
	nc.mtu = t->o.mtu;
	nc.queue_pairs = t->o.pairs;
	nc.queue_size = t->o.queue_size;
	nc.rate_bytes = t->o.rate_bytes;
	nc.burst_bytes = t->o.burst_bytes;
	nc.rate_packets = t->o.rate_packets;
	nc.burst_packets = t->o.burst_packets;
	for (uint32_t i = 0; i < t->o.pairs; i++)
		cfg.backend_fds[i] = fds[i];
	cfg.net = &nc;
	cfg.test_flags = t->o.test_flags;
	if (!t->o.keep_log) {
		if (restart) {
			lfd = open(t->log, O_WRONLY | O_APPEND | O_CLOEXEC);
		} else {
			snprintf(t->log, sizeof(t->log), "/tmp/cvnet-log-XXXXXX");
			lfd = mkostemp(t->log, O_CLOEXEC);
		}
		if (lfd < 0)
			return -errno;
		fflush(stderr);
		saved = fcntl(2, F_DUPFD_CLOEXEC, 10);
		dup2(lfd, 2);
	}
	if (restart) {
		r = vcore_crash_restart(&t->core, &cfg, &t->mem, err, sizeof(err));
	} else {
		r = vcore_start(&t->core, &cfg, &t->mem, err, sizeof(err));
		/* vcore_start() clears the struct; Attach reads these. */
		t->core.queue_irqs = t->o.queue_irqs;
		t->core.inflight = t->o.inflight;
	}
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
		close(lfd);
	}
	if (r < 0)
		fprintf(stderr, "device start: %s\n", err);
	return r;
}

/* The driver's queues in index order. */
static uint32_t vnet_queue_list(struct vnet *t, struct vdrv_queue **qs)
{
	uint32_t nq = 0;

	for (uint32_t i = 0; i < t->used_pairs; i++) {
		qs[nq++] = &t->rx[i];
		qs[nq++] = &t->tx[i];
	}
	if (t->has_ctrl)
		qs[nq++] = &t->ctrl;
	return nq;
}

static int vnet_setup_queues(struct vnet *t)
{
	struct vdrv_queue *qs[2 * VNET_MAX_PAIRS + 1];
	uint32_t nq = 0;
	int r;

	t->used_pairs = vnet_has(t, VIRTIO_NET_F_MQ) ? t->o.pairs : 1;
	t->has_ctrl = vnet_has(t, VIRTIO_NET_F_CTRL_VQ);
	for (uint32_t i = 0; i < t->used_pairs; i++) {
		r = vdrv_queue_init(&t->rx[i], &t->mem, 2 * i, t->o.queue_size);
		if (r == 0)
			r = vdrv_queue_init(&t->tx[i], &t->mem, 2 * i + 1, t->o.queue_size);
		if (r < 0)
			return r;
		qs[nq++] = &t->rx[i];
		qs[nq++] = &t->tx[i];
	}
	if (t->has_ctrl) {
		r = vdrv_queue_init(&t->ctrl, &t->mem, 2 * t->used_pairs, t->o.queue_size);
		if (r < 0)
			return r;
		qs[nq++] = &t->ctrl;
	}
	r = vcore_activate(&t->core, t->negotiated, qs, nq);
	if (r < 0 || !t->has_ctrl)
		return r;
	/* Activate has no answer: a control command answered means the
	 * device is active and its tap offloads are set (frames injected
	 * earlier would be segmented by the kernel). Promiscuous is the
	 * state after a reset anyway. */
	return vnet_ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\1", 1) >= 0
		       ? 0
		       : -ETIMEDOUT;
}

int vnet_recover(struct vnet *t)
{
	int r = vcore_reset(&t->core, VNET_TIMEOUT_MS);

	if (r < 0)
		return r;
	t->core.needs_reset = 0;
	return vnet_setup_queues(t);
}

int vnet_crash_restart(struct vnet *t, bool resume)
{
	struct vdrv_queue *qs[2 * VNET_MAX_PAIRS + 1];
	uint32_t nq;
	int r;

	r = vnet_start_device(t, t->tap_fd, true);
	if (r < 0)
		return r;
	r = vcore_attach(&t->core, 2 * t->o.pairs + 1);
	if (r < 0 || !resume)
		return r;
	nq = vnet_queue_list(t, qs);
	return vcore_activate_resume(&t->core, t->negotiated, qs, nq);
}

int vnet_start(struct vnet *t, const struct vnet_opts *o)
{
	int *fds = t->tap_fd;
	int r;

	free(t->logtext); /* a previous run's (t zeroed before first use) */
	memset(t, 0, sizeof(*t));
	t->pkt = -1;
	t->mem.fd = -1;
	for (uint32_t i = 0; i < VNET_MAX_PAIRS; i++)
		t->tap_fd[i] = -1;
	t->o = *o;
	t->o.pairs = o->pairs ? o->pairs : 1;
	t->o.queue_size = o->queue_size ? o->queue_size : 256;
	if (t->o.pairs > VNET_MAX_PAIRS)
		return -EINVAL;
	r = vnet_make_tap(t, fds);
	if (r == 0)
		r = vnet_make_pkt(t);
	if (r == 0)
		r = vdrv_mem_create(&t->mem, 256ULL << 20);
	if (r == 0)
		r = vnet_start_device(t, fds, false);
	if (r < 0) {
		fprintf(stderr, "vnet_start: %s\n", strerror(-r));
		return r;
	}
	r = vcore_attach(&t->core, 2 * t->o.pairs + 1);
	if (r < 0) {
		fprintf(stderr, "attach: %s\n", strerror(-r));
		return r;
	}
	if (t->core.device_id != VIRTIO_ID_NET)
		return -EPROTO;
	memcpy(t->mac, t->core.config + NET_CFG_MAC, 6);
	t->negotiated =
		(o->features ? o->features : VNET_FEATURES_ALL) & t->core.features & ~o->drop;
	if (t->o.no_activate)
		return 0;
	return vnet_setup_queues(t);
}

static char *vnet_slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int vnet_stop(struct vnet *t)
{
	int status = vcore_stop(&t->core);

	if (t->pkt >= 0)
		close(t->pkt);
	t->pkt = -1;
	for (uint32_t i = 0; i < VNET_MAX_PAIRS; i++) {
		if (t->tap_fd[i] >= 0)
			close(t->tap_fd[i]);
		t->tap_fd[i] = -1;
	}
	vdrv_mem_destroy(&t->mem);
	if (t->log[0]) {
		free(t->logtext);
		t->logtext = vnet_slurp(t->log);
		/* Shown with the test's output: ctest keeps it for failures. */
		if (t->logtext)
			fprintf(stderr, "---- cellvm-dev-net log ----\n%s----\n", t->logtext);
		unlink(t->log);
		t->log[0] = 0;
	}
	return status;
}

int vnet_del_tap(struct vnet *t)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "ip link delete %s", t->ifname);
	return system(cmd) == 0 ? 0 : -EIO;
}

long vnet_counter(struct vnet *t, const char *name)
{
	char key[64];
	const char *p;

	if (!t->logtext)
		return -1;
	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(t->logtext, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* ---- guest driver ---- */

uint64_t vnet_guest_copy(struct vnet *t, const void *p, uint32_t len)
{
	uint64_t gpa = vdrv_alloc(&t->mem, len ? len : 1, 64);

	memcpy(vdrv_host(&t->mem, gpa, len), p, len);
	return gpa;
}

uint16_t vnet_rx_post_bufs(struct vnet *t, uint32_t p, const struct vdrv_buf *b, uint32_t n)
{
	struct vdrv_queue *q = &t->rx[p];
	uint16_t head = vdrv_chain(q, b, n);

	t->rx_buf[p][head % 1024] = b[0].gpa;
	t->rx_buf_len[p][head % 1024] = b[0].len;
	vdrv_avail_add(q, head);
	vdrv_kick(q);
	return head;
}

void vnet_rx_post(struct vnet *t, uint32_t p, uint32_t n, uint32_t len)
{
	struct vdrv_queue *q = &t->rx[p];

	for (uint32_t i = 0; i < n; i++) {
		struct vdrv_buf b = {vdrv_alloc(&t->mem, len, 64), len, true};
		uint16_t head = vdrv_chain(q, &b, 1);

		memset(vdrv_host(&t->mem, b.gpa, len), 0xcc, len);
		t->rx_buf[p][head % 1024] = b.gpa;
		t->rx_buf_len[p][head % 1024] = len;
		vdrv_avail_add(q, head);
	}
	vdrv_kick(q);
}

int vnet_rx_next(struct vnet *t, uint32_t p, int timeout_ms, uint8_t **ret_buf, uint32_t *ret_len)
{
	struct vdrv_queue *q = &t->rx[p];
	uint32_t id, len;

	if (!vdrv_wait_used(q, timeout_ms) || !vdrv_used_next(q, &id, &len))
		return 0;
	*ret_buf = vdrv_host(&t->mem, t->rx_buf[p][id % 1024], t->rx_buf_len[p][id % 1024]);
	*ret_len = len;
	return 1;
}

int vnet_tx_bufs(struct vnet *t, uint32_t p, const struct vdrv_buf *b, uint32_t n)
{
	struct vdrv_queue *q = &t->tx[p];
	uint32_t id, len;
	uint16_t head = vdrv_chain(q, b, n);

	vdrv_avail_add(q, head);
	vdrv_kick(q);
	if (!vdrv_wait_used(q, VNET_TIMEOUT_MS) || !vdrv_used_next(q, &id, &len) || id != head)
		return -ETIMEDOUT;
	return 0;
}

int vnet_tx(struct vnet *t, uint32_t p, const struct net_hdr *h, const void *frame, uint32_t len,
	    bool one_desc)
{
	uint8_t raw[NET_HDR_LEN];
	struct vdrv_buf b[2];
	uint64_t gpa;

	net_hdr_encode(h, raw);
	if (one_desc) {
		gpa = vdrv_alloc(&t->mem, NET_HDR_LEN + len, 64);
		memcpy(vdrv_host(&t->mem, gpa, NET_HDR_LEN), raw, NET_HDR_LEN);
		memcpy(vdrv_host(&t->mem, gpa + NET_HDR_LEN, len), frame, len);
		b[0] = (struct vdrv_buf){gpa, NET_HDR_LEN + len, false};
		return vnet_tx_bufs(t, p, b, 1);
	}
	b[0] = (struct vdrv_buf){vnet_guest_copy(t, raw, NET_HDR_LEN), NET_HDR_LEN, false};
	b[1] = (struct vdrv_buf){vnet_guest_copy(t, frame, len), len, false};
	return vnet_tx_bufs(t, p, b, 2);
}

int vnet_ctrl(struct vnet *t, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t hdr[2] = {cls, cmd}, ack = 0xee;
	struct vdrv_buf b[3];
	uint32_t n = 0, id, ulen;
	uint16_t head;

	b[n++] = (struct vdrv_buf){vnet_guest_copy(t, hdr, 2), 2, false};
	if (len)
		b[n++] = (struct vdrv_buf){vnet_guest_copy(t, data, len), len, false};
	b[n++] = (struct vdrv_buf){vnet_guest_copy(t, &ack, 1), 1, true};
	head = vdrv_chain(&t->ctrl, b, n);
	vdrv_avail_add(&t->ctrl, head);
	vdrv_kick(&t->ctrl);
	if (!vdrv_wait_used(&t->ctrl, VNET_TIMEOUT_MS) || !vdrv_used_next(&t->ctrl, &id, &ulen) ||
	    id != head)
		return -1;
	return *(uint8_t *)vdrv_host(&t->mem, b[n - 1].gpa, 1);
}

/* ---- the tap's side ---- */

static int64_t vnet_ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

ssize_t vnet_pkt_recv(struct vnet *t, int timeout_ms, struct net_hdr *h, void *buf, size_t cap)
{
	struct timespec end;
	struct virtio_net_hdr vh;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		struct pollfd pfd = {.fd = t->pkt, .events = POLLIN};
		struct sockaddr_ll sll;
		struct iovec iov[2] = {{&vh, sizeof(vh)}, {buf, cap}};
		struct msghdr mh = {.msg_name = &sll,
				    .msg_namelen = sizeof(sll),
				    .msg_iov = iov,
				    .msg_iovlen = 2};
		int64_t left = vnet_ms_left(&end);
		ssize_t n;

		if (left < 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = recvmsg(t->pkt, &mh, MSG_DONTWAIT);
		if (n < 0)
			continue;
		/* Our own injections show up as outgoing: not the guest's. */
		if (sll.sll_pkttype == PACKET_OUTGOING || n < (ssize_t)sizeof(vh))
			continue;
		if (h) {
			h->flags = vh.flags;
			h->gso_type = vh.gso_type;
			h->hdr_len = vh.hdr_len;
			h->gso_size = vh.gso_size;
			h->csum_start = vh.csum_start;
			h->csum_offset = vh.csum_offset;
			h->num_buffers = 0;
		}
		return n - (ssize_t)sizeof(vh);
	}
}

int vnet_pkt_send(struct vnet *t, const struct net_hdr *h, const void *frame, size_t len)
{
	struct virtio_net_hdr vh;
	struct iovec iov[2] = {{&vh, sizeof(vh)}, {(void *)frame, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	memset(&vh, 0, sizeof(vh));
	if (h) {
		vh.flags = h->flags;
		vh.gso_type = h->gso_type;
		vh.hdr_len = h->hdr_len;
		vh.gso_size = h->gso_size;
		vh.csum_start = h->csum_start;
		vh.csum_offset = h->csum_offset;
	}
	return sendmsg(t->pkt, &mh, 0) < 0 ? -errno : 0;
}

long vnet_tap_reads(struct vnet *t)
{
	char line[512], name[32];
	long reads = -1;
	FILE *f;

	/* This process's network namespace, where the tap lives. */
	f = fopen("/proc/self/net/dev", "re");
	if (!f)
		return -1;
	snprintf(name, sizeof(name), "%s:", t->ifname);
	while (reads < 0 && fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " ");
		unsigned long long v[10];

		if (strncmp(p, name, strlen(name)) != 0)
			continue;
		/* Receive: bytes packets errs drop fifo frame compressed
		 * multicast; then transmit: bytes packets ... */
		if (sscanf(p + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			   &v[9]) == 10)
			reads = (long)v[9];
	}
	fclose(f);
	return reads;
}

bool vnet_wait_tap_reads(struct vnet *t, long n, int timeout_ms)
{
	const struct timespec nap = {.tv_nsec = 1000 * 1000};

	for (int waited = 0;; waited++) {
		if (vnet_tap_reads(t) >= n)
			return true;
		if (waited >= timeout_ms)
			return false;
		nanosleep(&nap, NULL);
	}
}

/* ---- frames ---- */

static uint32_t vnet_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t vnet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void vnet_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t vnet_frame_ip(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint8_t proto,
			    size_t l4_len)
{
	static const uint8_t saddr[4] = {10, 0, 0, 1}, daddr[4] = {10, 0, 0, 2};
	uint8_t *ip = buf + 14;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	vnet_put16(buf + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	vnet_put16(ip + 2, (uint16_t)(20 + l4_len));
	vnet_put16(ip + 4, 0x1234);
	vnet_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, saddr, 4);
	memcpy(ip + 16, daddr, 4);
	vnet_put16(ip + 10, (uint16_t)~vnet_fold(vnet_sum(0, ip, 20)));
	return 34;
}

/* The pseudo-header sum of the L4 segment of an IPv4 frame. */
static uint32_t vnet_pseudo(const uint8_t *ip, size_t l4_len)
{
	uint32_t sum = vnet_sum(0, ip + 12, 8);

	return sum + ip[9] + (uint32_t)l4_len;
}

size_t vnet_frame_udp(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], size_t payload_len,
		      uint8_t seed)
{
	size_t off = vnet_frame_ip(buf, dst, src, 17, 8 + payload_len);
	uint8_t *udp = buf + off;

	vnet_put16(udp, (uint16_t)(1234 + seed));
	vnet_put16(udp + 2, 5678);
	vnet_put16(udp + 4, (uint16_t)(8 + payload_len));
	vnet_put16(udp + 6, 0);
	for (size_t i = 0; i < payload_len; i++)
		udp[8 + i] = (uint8_t)(seed + i * 7);
	vnet_put16(udp + 6, (uint16_t)~vnet_fold(vnet_sum(vnet_pseudo(buf + 14, 8 + payload_len),
							  udp, 8 + payload_len)));
	return off + 8 + payload_len;
}

size_t vnet_frame_tcp(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], size_t payload_len,
		      uint8_t seed, bool partial)
{
	size_t off = vnet_frame_ip(buf, dst, src, 6, 20 + payload_len);
	uint8_t *tcp = buf + off;
	uint32_t pseudo = vnet_pseudo(buf + 14, 20 + payload_len);

	memset(tcp, 0, 20);
	vnet_put16(tcp, 40000);
	vnet_put16(tcp + 2, 80);
	tcp[7] = 1;	  /* seq 1 */
	tcp[12] = 5 << 4; /* data offset */
	tcp[13] = 0x18;	  /* PSH|ACK */
	tcp[11] = 1;	  /* ack 1 */
	vnet_put16(tcp + 14, 65535);
	for (size_t i = 0; i < payload_len; i++)
		tcp[20 + i] = (uint8_t)(seed + i * 13);
	if (partial)
		vnet_put16(tcp + 16, vnet_fold(pseudo));
	else
		vnet_put16(tcp + 16, (uint16_t)~vnet_fold(vnet_sum(pseudo, tcp, 20 + payload_len)));
	return off + 20 + payload_len;
}

bool vnet_l4_csum_ok(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + 14;
	size_t ihl, tot, l4;

	if (len < 34 || frame[12] != 0x08 || frame[13] != 0)
		return false;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = (size_t)(ip[2] << 8 | ip[3]);
	if (tot > len - 14 || tot < ihl)
		return false;
	l4 = tot - ihl;
	return vnet_fold(vnet_sum(vnet_pseudo(ip, l4), ip + ihl, l4)) == 0xffff;
}
