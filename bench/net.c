/* bench-net: packet rates of cellvm-dev-net with the test harness as the
 * guest driver, on a tap in a private network namespace, next to the limit
 * measured in the same run: the same frames written to (TX) or read from (RX)
 * a tap fd by one process. TX and RX, 64-byte and 1514-byte frames and 64 KiB
 * TSO segments. Runs as a benchmark process (root, not in a VM); it reports
 * and asserts nothing. The device is a peer: used entries are checked before
 * they are used and every wait has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "test/harness/vnet.h"

#define BENCH_QSIZE   256
#define BENCH_RXBUF   4096 /* mergeable RX buffers, as Linux posts them (page-sized at most) */
#define BENCH_STALL_S 5.0  /* nothing completed for this long: the device is stuck */
#define BENCH_BATCH   64   /* sendmmsg batch of the RX generator */

struct bench_case {
	const char *name;
	size_t payload; /* TCP payload bytes */
	bool tso;
};

static const struct bench_case cases[] = {
	{"64 B", 64 - 54, false},
	{"1514 B", 1514 - 54, false},
	{"64 KiB TSO", 65536 - 54 - 1, true},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct bench_res {
	double pps, gbps;
};

static const uint8_t dst_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static uint32_t bench_seconds = 3;
static uint32_t bench_repeat = 3; /* rounds, alternating cellvm and direct; median kept */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The frame of a case and its vnet header. */
static size_t bench_frame(const struct bench_case *c, const uint8_t *dst, const uint8_t *src,
			  uint8_t *buf, struct net_hdr *h)
{
	size_t len = vnet_frame_tcp(buf, dst, src, c->payload, 1, c->tso);

	*h = (struct net_hdr){0};
	if (c->tso)
		*h = (struct net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				      .hdr_len = 54,
				      .gso_size = 1448,
				      .csum_start = 34,
				      .csum_offset = 16};
	return len;
}

static struct bench_res bench_result(uint64_t frames, uint64_t bytes, double dt)
{
	return (struct bench_res){frames / dt, bytes * 8.0 / dt / 1e9};
}

/* ---- the reference: one process on a tap fd ---- */

static int ref_tap(const char *name, unsigned offload)
{
	struct ifreq ifr;
	int fd, s, sz = NET_HDR_LEN;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0)
		goto fail;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	close(s);
	return fd;
fail:
	close(fd);
	return -errno;
}

/* The reference writes from as many distinct buffers as the device's ring
 * holds, so that both copy from the same amount of memory (a guest's frames
 * are not all in one cache-hot buffer either). */
static struct bench_res ref_tx(const struct bench_case *c)
{
	static uint8_t frame[70000];
	uint8_t *bufs;
	struct net_hdr h;
	uint64_t n = 0, bytes = 0;
	double t0, t;
	size_t len, stride;
	uint32_t k = 0;
	int fd = ref_tap("cvref-tx", 0);

	if (fd < 0)
		return (struct bench_res){0, 0};
	len = bench_frame(c, dst_mac, (const uint8_t *)"\x02\0\0\0\0\x01", frame, &h);
	stride = (NET_HDR_LEN + len + 63) & ~(size_t)63;
	bufs = malloc(stride * BENCH_QSIZE);
	if (!bufs) {
		close(fd);
		return (struct bench_res){0, 0};
	}
	for (uint32_t i = 0; i < BENCH_QSIZE; i++) {
		net_hdr_encode(&h, bufs + i * stride);
		memcpy(bufs + i * stride + NET_HDR_LEN, frame, len);
	}
	t0 = t = now_s();
	while (t - t0 < bench_seconds) {
		for (int i = 0; i < 64; i++, k = (k + 1) % BENCH_QSIZE) {
			if (write(fd, bufs + k * stride, NET_HDR_LEN + len) < 0)
				break;
			n++;
			bytes += len;
		}
		t = now_s();
	}
	free(bufs);
	close(fd);
	return bench_result(n, bytes, t - t0);
}

/* ---- the RX generator: a packet socket injecting frames into a tap ---- */

struct gen {
	int ifindex;
	const struct bench_case *c;
	atomic_bool stop;
	pthread_t thr;
};

static void *gen_main(void *arg)
{
	static uint8_t frame[70000];
	struct gen *g = arg;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = g->ifindex};
	struct virtio_net_hdr vh;
	struct mmsghdr mm[BENCH_BATCH];
	struct iovec iov[2];
	struct net_hdr h;
	size_t len;
	int one = 1, s;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("generator socket");
		return NULL;
	}
	len = bench_frame(g->c, (const uint8_t *)"\x52\x54\x00\x12\x34\x56", dst_mac, frame, &h);
	memset(&vh, 0, sizeof(vh));
	vh.flags = h.flags;
	vh.gso_type = h.gso_type;
	vh.hdr_len = h.hdr_len;
	vh.gso_size = h.gso_size;
	vh.csum_start = h.csum_start;
	vh.csum_offset = h.csum_offset;
	iov[0] = (struct iovec){&vh, sizeof(vh)};
	iov[1] = (struct iovec){frame, len};
	for (int i = 0; i < BENCH_BATCH; i++)
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = iov, .msg_iovlen = 2}};
	while (!atomic_load(&g->stop))
		(void)!sendmmsg(s, mm, BENCH_BATCH, 0);
	close(s);
	return NULL;
}

static void gen_start(struct gen *g, int ifindex, const struct bench_case *c)
{
	g->ifindex = ifindex;
	g->c = c;
	atomic_store(&g->stop, false);
	pthread_create(&g->thr, NULL, gen_main, g);
}

static void gen_stop(struct gen *g)
{
	atomic_store(&g->stop, true);
	pthread_join(g->thr, NULL);
}

/* Reads go to rotating buffers of about the memory the device's RX ring has. */
#define REF_RX_BUFS 16

static struct bench_res ref_rx(const struct bench_case *c)
{
	static uint8_t buf[REF_RX_BUFS][70000];
	uint32_t k = 0;
	uint64_t n = 0, bytes = 0;
	struct gen g;
	double t0, t;
	int fd = ref_tap("cvref-rx", c->tso ? TUN_F_CSUM | TUN_F_TSO4 : 0);

	if (fd < 0)
		return (struct bench_res){0, 0};
	gen_start(&g, (int)if_nametoindex("cvref-rx"), c);
	usleep(100 * 1000);
	t0 = t = now_s();
	while (t - t0 < bench_seconds) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (poll(&pfd, 1, 100) == 1) {
			for (int i = 0; i < 64; i++) {
				ssize_t r = read(fd, buf[k], sizeof(buf[k]));

				k = (k + 1) % REF_RX_BUFS;

				if (r <= NET_HDR_LEN)
					break;
				n++;
				bytes += (uint64_t)r - NET_HDR_LEN;
			}
		}
		t = now_s();
	}
	gen_stop(&g);
	close(fd);
	return bench_result(n, bytes, t - t0);
}

/* ---- cellvm-dev-net through the harness ---- */

static struct vnet T;

/* Kick only when the device asked for it (EVENT_IDX's avail_event), as
 * Linux's virtqueue_kick_prepare() does: old is avail->idx at the last kick. */
static void bench_kick(struct vdrv_queue *q, uint16_t *old)
{
	uint16_t ev = vdrv_avail_event(q), now = q->avail_idx;

	atomic_thread_fence(memory_order_seq_cst);
	ev = vdrv_avail_event(q);
	if ((uint16_t)(now - ev - 1) < (uint16_t)(now - *old))
		vdrv_kick(q);
	*old = now;
}

/* Nothing used yet: ask for an interrupt a quarter of a ring further on
 * (EVENT_IDX's used_event, like a NAPI driver's mitigation) and sleep on
 * the interrupt, at most 1 ms. Leaves the CPU to the device. */
static void bench_wait(struct vdrv_queue *q)
{
	struct pollfd pfd = {.fd = T.core.irq_fd, .events = POLLIN};

	vdrv_set_used_event(q, (uint16_t)(q->last_used + q->size / 4));
	atomic_thread_fence(memory_order_seq_cst);
	if (vdrv_used_idx(q) != q->last_used)
		return;
	if (poll(&pfd, 1, 1) == 1)
		vcore_irq_take(&T.core);
}

/* Keep the TX ring full of copies of one frame; count completions. */
static struct bench_res dev_tx(const struct bench_case *c)
{
	static uint8_t frame[70000];
	struct vdrv_queue *q = &T.tx[0];
	uint8_t raw[NET_HDR_LEN];
	uint64_t n = 0, gpa;
	double t0, t, last;
	struct net_hdr h;
	uint32_t id, len;
	uint16_t kicked;
	size_t flen;

	flen = bench_frame(c, dst_mac, T.mac, frame, &h);
	net_hdr_encode(&h, raw);
	/* Header and frame in one descriptor, as Linux lays them out. */
	for (uint32_t i = 0; i < q->size; i++) {
		gpa = vdrv_alloc(&T.mem, NET_HDR_LEN + flen, 64);
		memcpy(vdrv_host(&T.mem, gpa, NET_HDR_LEN), raw, NET_HDR_LEN);
		memcpy(vdrv_host(&T.mem, gpa + NET_HDR_LEN, flen), frame, flen);
		vdrv_desc_set(q, i, gpa, (uint32_t)(NET_HDR_LEN + flen), 0, 0);
		vdrv_avail_add(q, (uint16_t)i);
	}
	vdrv_kick(q);
	kicked = q->avail_idx;
	t0 = t = last = now_s();
	while (t - t0 < bench_seconds && t - last < BENCH_STALL_S) {
		uint32_t got = 0;

		while (vdrv_used_next(q, &id, &len) == 1) {
			if (id >= q->size) {
				fprintf(stderr, "device returned head %u\n", id);
				return (struct bench_res){0, 0};
			}
			vdrv_avail_add(q, (uint16_t)id);
			got++;
		}
		t = now_s();
		if (got) {
			n += got;
			last = t;
			bench_kick(q, &kicked);
		} else {
			bench_wait(q);
		}
	}
	/* Let the ring drain before the next case reuses it. */
	while (vdrv_used_idx(q) != q->avail_idx && now_s() - t < BENCH_STALL_S)
		sched_yield();
	q->last_used = vdrv_used_idx(q);
	return bench_result(n, n * flen, t - t0);
}

static struct bench_res dev_rx(const struct bench_case *c)
{
	struct vdrv_queue *q = &T.rx[0];
	uint64_t n = 0, bytes = 0;
	uint64_t gpa[BENCH_QSIZE];
	uint32_t id, len, rest = 0;
	uint16_t kicked;
	double t0, t, last;
	struct gen g;

	for (uint32_t i = 0; i < q->size; i++) {
		gpa[i] = vdrv_alloc(&T.mem, BENCH_RXBUF, 64);
		vdrv_desc_set(q, i, gpa[i], BENCH_RXBUF, VIRTQ_DESC_F_WRITE, 0);
		vdrv_avail_add(q, (uint16_t)i);
	}
	vdrv_kick(q);
	gen_start(&g, T.ifindex, c);
	usleep(100 * 1000);
	/* Warm-up frames: buffers back to the ring (and tell the device). */
	while (vdrv_used_next(q, &id, &len) == 1)
		vdrv_avail_add(q, (uint16_t)(id % q->size));
	vdrv_kick(q);
	kicked = q->avail_idx;
	t0 = t = last = now_s();
	while (t - t0 < bench_seconds && t - last < BENCH_STALL_S) {
		uint32_t got = 0;

		while (vdrv_used_next(q, &id, &len) == 1) {
			if (id >= q->size || len > BENCH_RXBUF) {
				fprintf(stderr, "device returned head %u len %u\n", id, len);
				gen_stop(&g);
				return (struct bench_res){0, 0};
			}
			if (rest == 0) {
				struct net_hdr h;

				net_hdr_decode(vdrv_host(&T.mem, gpa[id], NET_HDR_LEN), &h);
				rest = h.num_buffers ? h.num_buffers : 1;
				n++;
				bytes += len - NET_HDR_LEN;
			} else {
				bytes += len;
			}
			rest--;
			vdrv_avail_add(q, (uint16_t)id);
			got++;
		}
		t = now_s();
		if (got) {
			last = t;
			bench_kick(q, &kicked);
		} else {
			bench_wait(q);
		}
	}
	gen_stop(&g);
	return bench_result(n, bytes, t - t0);
}

static int bench_cmp(const void *a, const void *b)
{
	const struct bench_res *x = a, *y = b;

	return (x->pps > y->pps) - (x->pps < y->pps);
}

/* One cellvm measurement on a fresh device (rings and counters empty). */
static struct bench_res bench_dev(const struct bench_case *c, int dir)
{
	struct bench_res r;

	if (vnet_start(&T, &(struct vnet_opts){.queue_size = BENCH_QSIZE}) < 0)
		exit(1);
	/* The harness's own packet socket would copy every frame. */
	close(T.pkt);
	T.pkt = -1;
	r = dir == 0 ? dev_tx(c) : dev_rx(c);
	vnet_stop(&T);
	free(T.logtext);
	T.logtext = NULL;
	return r;
}

int main(int argc, char **argv)
{
	struct bench_res res[NCASES][2][2]; /* case, tx/rx, cellvm/direct: medians */
	struct bench_res runs[2][16];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			bench_seconds = (uint32_t)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
			bench_repeat = (uint32_t)atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--seconds N] [--repeat N]\n", argv[0]);
			return 2;
		}
	}
	if (bench_seconds == 0)
		bench_seconds = 1;
	if (bench_repeat == 0 || bench_repeat > 16)
		bench_repeat = 3;
	vnet_require();
	for (size_t k = 0; k < NCASES; k++) {
		for (int dir = 0; dir < 2; dir++) {
			for (uint32_t i = 0; i < bench_repeat; i++) {
				runs[0][i] = bench_dev(&cases[k], dir);
				runs[1][i] = dir == 0 ? ref_tx(&cases[k]) : ref_rx(&cases[k]);
			}
			for (int w = 0; w < 2; w++) {
				qsort(runs[w], bench_repeat, sizeof(runs[w][0]), bench_cmp);
				res[k][dir][w] = runs[w][bench_repeat / 2];
			}
		}
	}
	printf("bench-net: median of %u rounds of %u s per case, one queue pair of %u, harness as "
	       "guest driver\n",
	       bench_repeat, bench_seconds, BENCH_QSIZE);
	printf("%-12s %-3s %14s %10s %14s %10s %7s\n", "frame", "dir", "cellvm pkt/s", "Gbit/s",
	       "direct pkt/s", "Gbit/s", "ratio");
	for (size_t k = 0; k < NCASES; k++)
		for (int dir = 0; dir < 2; dir++) {
			const struct bench_res *d = &res[k][dir][0], *f = &res[k][dir][1];

			printf("%-12s %-3s %14.0f %10.2f %14.0f %10.2f %6.0f%%\n", cases[k].name,
			       dir ? "RX" : "TX", d->pps, d->gbps, f->pps, f->gbps,
			       f->pps > 0 ? 100.0 * d->pps / f->pps : 0.0);
		}
	return 0;
}
