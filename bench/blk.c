/* bench-blk: I/O rates of cellvm-dev-blk with the test harness as the guest
 * driver, next to the same I/O issued by fio with io_uring on the same file
 * and by the same request generator against qemu-storage-daemon's
 * vhost-user-blk export. Runs as a benchmark process (not in a VM); it
 * reports and asserts nothing. The devices under test are peers: their used
 * entries are checked before they are used and every wait has a deadline. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/vhost_user.h"
#include "common/fdutil.h"
#include "common/parse.h"
#include "dev-procs/blk/blk.h"
#include "device.pb-c.h"
#include "test/harness/vdriver.h"

#define BENCH_MAX_QD	 32
#define BENCH_MAX_BS	 (128U << 10)
#define BENCH_QUEUE_SIZE 256 /* both devices; BENCH_MAX_QD chains of BENCH_SEGS fit */
#define BENCH_SEGS	 3   /* header, data, status */
#define BENCH_MEM_SIZE	 (64ULL << 20)
#define BENCH_STALL_S	 10.0 /* no completion for this long: the device is stuck */
#define BENCH_SOCK_MS	 5000 /* qemu-storage-daemon must listen within this */
#define BENCH_FIO_OUT	 (4U << 20)
#define BENCH_TMPFS	 0x01021994

_Static_assert(BENCH_MAX_QD <= 64, "gen_run keeps the slots in flight in a 64-bit mask");
_Static_assert(BENCH_QUEUE_SIZE >= BENCH_MAX_QD * BENCH_SEGS, "every slot owns its descriptors");

enum { DEV_CELLVM, DEV_FIO, DEV_QSD, DEV_N };

struct bench_opts {
	uint32_t seconds;
	const char *dir;
	uint64_t size;
	bool irq_wait;	     /* wait for the interrupt instead of polling the used ring */
	const char *qsd_aio; /* NULL: QEMU's default (a thread pool) */
};

struct bench_case {
	const char *name;
	const char *fio_rw;
	uint32_t type; /* VIRTIO_BLK_T_IN or _OUT */
	uint32_t bs;
	uint32_t qd;
	bool random;
};

static const struct bench_case bench_cases[] = {
	{"randread 4k qd1", "randread", VIRTIO_BLK_T_IN, 4096, 1, true},
	{"randread 4k qd32", "randread", VIRTIO_BLK_T_IN, 4096, 32, true},
	{"randwrite 4k qd1", "randwrite", VIRTIO_BLK_T_OUT, 4096, 1, true},
	{"randwrite 4k qd32", "randwrite", VIRTIO_BLK_T_OUT, 4096, 32, true},
	{"read 128k qd8", "read", VIRTIO_BLK_T_IN, 128U << 10, 8, false},
	{"write 128k qd8", "write", VIRTIO_BLK_T_OUT, 128U << 10, 8, false},
};
#define BENCH_NCASES (sizeof(bench_cases) / sizeof(bench_cases[0]))

struct bench_result {
	bool ok;
	double value;	    /* IOPS for 4 KiB, MB/s (10^6) for 128 KiB */
	double irq_per_req; /* < 0: not counted */
};

/* A device under test, driven through the harness's rings. */
struct bench_dev {
	struct vdrv_mem mem;
	struct vdrv_queue q;
	uint64_t hdr[BENCH_MAX_QD]; /* header, then the status byte at +16 */
	uint64_t data[BENCH_MAX_QD];
	uint8_t *hdr_host[BENCH_MAX_QD];
	volatile uint8_t *status_host[BENCH_MAX_QD];
	const uint16_t *used_flags;
	int irq_fd; /* counted after each case (or waited on with --irq) */
	bool up;
	char note[512]; /* why it is not up */
	struct vcore core;
	bool core_started;
	struct vhost_user vu;
	pid_t qsd_pid;
};

/* One file location and cache mode: a table of results. */
struct bench_group {
	const char *where;
	bool direct;
	char path[PATH_MAX];
	char fs[32];
	struct bench_result res[BENCH_NCASES][DEV_N];
	char note[DEV_N][512];
};

/* Set by SIGINT/SIGTERM so that the image files and daemons are cleaned up:
 * the one piece of state a signal handler can reach. */
static volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bench_rand(uint64_t *s)
{
	/* xorshift64*: cheap, and the same sequence for both devices. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* ---- child processes (fio, qemu-storage-daemon) ---- */

/* Start argv[0] from PATH with stdin on /dev/null and stdout and stderr on
 * out_fd (fork and exec in one step). Returns the pid or -errno. */
static pid_t bench_spawn(char *const argv[], int out_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r ? -r : pid;
}

static bool bench_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* SIGTERM, then SIGKILL after two seconds; returns the wait status. */
static int bench_reap(pid_t pid)
{
	int status = 0;

	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

/* ---- the disk image ---- */

static int bench_make_file(const char *path, uint64_t size)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	uint64_t seed = 0x5eed, *buf;
	int r = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	if (!buf)
		return -ENOMEM;
	/* Written, not sparse: reads find data, writes overwrite it. */
	for (uint64_t off = 0; off < size && r == 0; off += 1 << 20) {
		size_t n = size - off < (1 << 20) ? size - off : (1 << 20);

		for (size_t i = 0; i < n / 8; i++)
			buf[i] = bench_rand(&seed);
		r = fd_write_all(fd, buf, n);
	}
	free(buf);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	return r;
}

/* Whether the file system serves O_DIRECT: open and one aligned read. */
static int bench_direct_probe(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (posix_memalign(&buf, 4096, 4096))
		return -ENOMEM;
	if (pread(fd, buf, 4096, 0) != 4096)
		r = errno ? -errno : -EIO;
	free(buf);
	return r;
}

static void bench_fs_name(const char *dir, char *buf, size_t len)
{
	static const struct {
		long magic;
		const char *name;
	} names[] = {{BENCH_TMPFS, "tmpfs"}, {0xEF53, "ext4"},	      {0x58465342, "xfs"},
		     {0x9123683E, "btrfs"},  {0x794c7630, "overlay"}, {0x2fc12fc1, "zfs"}};
	struct statfs st;

	snprintf(buf, len, "?");
	if (statfs(dir, &st) < 0)
		return;
	snprintf(buf, len, "fs %#lx", (long)st.f_type);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((long)st.f_type == names[i].magic)
			snprintf(buf, len, "%s", names[i].name);
}

/* ---- the devices under test ---- */

static void dev_init(struct bench_dev *d)
{
	*d = (struct bench_dev){
		.mem = {.fd = -1},
		.irq_fd = -1,
		.vu = {.sock = -1, .kick_fd = -1, .call_fd = -1},
	};
}

static int dev_mem_init(struct bench_dev *d)
{
	int r;

	r = vdrv_mem_create(&d->mem, BENCH_MEM_SIZE);
	if (r < 0)
		return r;
	r = vdrv_queue_init(&d->q, &d->mem, 0, BENCH_QUEUE_SIZE);
	if (r < 0)
		return r;
	d->used_flags = vdrv_host(&d->mem, d->q.used, 2);
	for (uint32_t i = 0; i < BENCH_MAX_QD; i++) {
		/* Page-aligned data: O_DIRECT takes it as it is. */
		d->data[i] = vdrv_alloc(&d->mem, BENCH_MAX_BS, 4096);
		d->hdr[i] = vdrv_alloc(&d->mem, BLK_HDR_BYTES + 1, 64);
		d->hdr_host[i] = vdrv_host(&d->mem, d->hdr[i], BLK_HDR_BYTES + 1);
		d->status_host[i] = d->hdr_host[i] + BLK_HDR_BYTES;
		memset(vdrv_host(&d->mem, d->data[i], BENCH_MAX_BS), 0xa5, BENCH_MAX_BS);
	}
	return 0;
}

static int cellvm_start(struct bench_dev *d, const char *path, bool direct)
{
	Cellvm__Device__BlkConfig bc = CELLVM__DEVICE__BLK_CONFIG__INIT;
	struct device_config cfg = {.kind = "blk", .nbackend = 1};
	struct vdrv_queue *qs[1] = {&d->q};
	char err[256];
	int fd, r;

	r = dev_mem_init(d);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "guest RAM: %s", strerror(-r));
		return r;
	}
	/* The launcher's contract: direct=on comes with an O_DIRECT fd. */
	fd = open(path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0) {
		r = -errno;
		snprintf(d->note, sizeof(d->note), "open %s: %s", path, strerror(-r));
		return r;
	}
	bc.num_queues = 1;
	bc.queue_size = BENCH_QUEUE_SIZE;
	bc.direct = direct;
	cfg.backend_fds[0] = fd;
	cfg.blk = &bc;
	r = vcore_start(&d->core, &cfg, &d->mem, err, sizeof(err));
	close(fd);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "device start: %s", err);
		return r;
	}
	d->core_started = true;
	r = vcore_attach(&d->core, 1);
	if (r == 0 && d->core.device_id != VIRTIO_ID_BLOCK)
		r = -EPROTO;
	if (r == 0)
		r = vcore_activate(&d->core, d->core.features & (1ULL << VIRTIO_F_VERSION_1), qs,
				   1);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "attach/activate: %s", strerror(-r));
		return r;
	}
	d->irq_fd = d->core.irq_fd;
	d->up = true;
	return 0;
}

/* QEMU's option syntax: a comma inside a value is doubled. */
static void qsd_escape(char *dst, size_t len, const char *src)
{
	size_t j = 0;

	for (; *src && j + 2 < len; src++) {
		dst[j++] = *src;
		if (*src == ',')
			dst[j++] = ',';
	}
	dst[j] = 0;
}

static void qsd_log_tail(const char *log, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(log, O_RDONLY | O_CLOEXEC);
	char tail[200] = "";
	off_t end;
	ssize_t n;

	if (fd >= 0 && (end = lseek(fd, 0, SEEK_END)) >= 0) {
		n = pread(fd, tail, sizeof(tail) - 1, end > 199 ? end - 199 : 0);
		tail[n > 0 ? n : 0] = 0;
		for (char *p = tail; *p; p++)
			if (*p == '\n')
				*p = ' ';
	}
	snprintf(buf, len, "%s", tail);
}

static int qsd_start(struct bench_dev *d, const struct bench_opts *o, const char *path, bool direct,
		     const char *sock, const char *log)
{
	char file[PATH_MAX * 2], sk[PATH_MAX * 2], blockdev[PATH_MAX * 2 + 128],
		export[PATH_MAX * 2 + 128], err[256], tail[200];
	char *argv[] = {"qemu-storage-daemon", "--blockdev", blockdev, "--export", export, NULL};
	double deadline;
	int fd, r, status;

	qsd_escape(file, sizeof(file), path);
	qsd_escape(sk, sizeof(sk), sock);
	snprintf(blockdev, sizeof(blockdev),
		 "driver=file,node-name=f,filename=%s,cache.direct=%s%s%s", file,
		 direct ? "on" : "off", o->qsd_aio ? ",aio=" : "", o->qsd_aio ? o->qsd_aio : "");
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,writable=on",
		 sk);
	r = dev_mem_init(d);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "guest RAM: %s", strerror(-r));
		return r;
	}
	unlink(sock);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(d->note, sizeof(d->note), "qsd log: %s", strerror(-r));
		return r;
	}
	d->qsd_pid = bench_spawn(argv, fd);
	close(fd);
	if (d->qsd_pid < 0) {
		r = d->qsd_pid;
		d->qsd_pid = 0;
		snprintf(d->note, sizeof(d->note), "qemu-storage-daemon: %s", strerror(-r));
		return r;
	}
	deadline = bench_now() + BENCH_SOCK_MS / 1000.0;
	while ((r = vhost_user_connect(&d->vu, sock)) < 0) {
		const bool exited = waitpid(d->qsd_pid, &status, WNOHANG) == d->qsd_pid;

		if (exited || bench_now() > deadline || bench_interrupted) {
			if (!exited)
				bench_reap(d->qsd_pid);
			d->qsd_pid = 0;
			qsd_log_tail(log, tail, sizeof(tail));
			snprintf(d->note, sizeof(d->note), "qemu-storage-daemon did not listen: %s",
				 tail);
			return -ECONNREFUSED;
		}
		usleep(10000);
	}
	r = vhost_user_start(&d->vu, &d->mem, &d->q, 1ULL << VIRTIO_F_VERSION_1, err, sizeof(err));
	if (r < 0) {
		qsd_log_tail(log, tail, sizeof(tail));
		snprintf(d->note, sizeof(d->note), "vhost-user handshake: %s; its log: %s", err,
			 tail);
		return r;
	}
	d->irq_fd = d->vu.call_fd;
	d->up = true;
	return 0;
}

static void dev_stop(struct bench_dev *d)
{
	if (d->core_started)
		vcore_stop(&d->core);
	d->core_started = false;
	vhost_user_close(&d->vu);
	if (d->qsd_pid > 0)
		bench_reap(d->qsd_pid);
	d->qsd_pid = 0;
	vdrv_mem_destroy(&d->mem);
	d->up = false;
}

/* ---- the request generator (the guest driver) ---- */

struct gen {
	const struct bench_case *c;
	uint64_t rng;
	uint64_t seq;	  /* next sequential block */
	uint64_t nblocks; /* of c->bs in the file */
};

static void gen_post(struct bench_dev *d, struct gen *g, uint32_t slot)
{
	const struct bench_case *c = g->c;
	uint64_t blk = c->random ? bench_rand(&g->rng) % g->nblocks : g->seq++ % g->nblocks;
	uint64_t sector = htole64(blk * c->bs / BLK_SECTOR_SIZE);
	uint32_t type = htole32(c->type), zero = 0;
	struct vdrv_buf b[BENCH_SEGS] = {
		{d->hdr[slot], BLK_HDR_BYTES, false},
		{d->data[slot], c->bs, c->type == VIRTIO_BLK_T_IN},
		{d->hdr[slot] + BLK_HDR_BYTES, 1, true},
	};

	memcpy(d->hdr_host[slot], &type, 4);
	memcpy(d->hdr_host[slot] + 4, &zero, 4);
	memcpy(d->hdr_host[slot] + 8, &sector, 8);
	*d->status_host[slot] = 0xff;
	/* Slot i owns descriptors 3i..3i+2: completions come back in any
	 * order, and handing descriptors out round-robin could reuse a chain
	 * still in flight. */
	d->q.next_desc = (uint16_t)(slot * BENCH_SEGS);
	vdrv_avail_add(&d->q, vdrv_chain(&d->q, b, BENCH_SEGS));
}

/* Notify unless the device asked not to be (VIRTQ_USED_F_NO_NOTIFY). */
static int gen_kick(struct bench_dev *d)
{
	/* The avail index store before the flags load, as virtio 2.7.13.3 asks. */
	atomic_thread_fence(memory_order_seq_cst);
	if (le16toh(__atomic_load_n(d->used_flags, __ATOMIC_RELAXED)) & VIRTQ_USED_F_NO_NOTIFY)
		return 0;
	return vdrv_kick(&d->q);
}

static uint64_t gen_irq_take(struct bench_dev *d)
{
	uint64_t v = 0;

	if (read(d->irq_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Keep c->qd requests in flight for o->seconds: reap what the used ring
 * holds, post as many new requests, one kick for the batch. Returns 0 or
 * -errno (-ETIMEDOUT for a stuck device, -EPROTO for a bad used entry). */
static int gen_run(struct bench_dev *d, const struct bench_case *c, const struct bench_opts *o,
		   struct bench_result *ret)
{
	struct gen g = {.c = c, .rng = 0x9e3779b97f4a7c15ULL, .nblocks = o->size / c->bs};
	uint64_t done = 0, counted = 0, errors = 0, irqs = 0, busy = 0; /* one bit per slot */
	double t0, now, last, elapsed = 0;
	uint32_t inflight, id, len;
	bool stopping = false;
	int r;

	gen_irq_take(d);
	t0 = last = bench_now();
	for (inflight = 0; inflight < c->qd; inflight++) {
		gen_post(d, &g, inflight);
		busy |= 1ULL << inflight;
	}
	r = gen_kick(d);
	while (r == 0 && (!stopping || inflight)) {
		uint32_t reaped = 0;

		while (vdrv_used_next(&d->q, &id, &len) == 1) {
			uint32_t slot = id / BENCH_SEGS;

			/* UNTRUSTED(device): the id must be a head in flight. */
			if (id % BENCH_SEGS || slot >= c->qd || !(busy & (1ULL << slot)))
				return -EPROTO;
			busy &= ~(1ULL << slot);
			errors += *d->status_host[slot] != VIRTIO_BLK_S_OK;
			done++;
			inflight--;
			reaped++;
			if (!stopping) {
				gen_post(d, &g, slot);
				busy |= 1ULL << slot;
				inflight++;
			}
		}
		now = bench_now();
		if (reaped) {
			last = now;
			if (!stopping)
				r = gen_kick(d);
		}
		if (!stopping && (now >= t0 + o->seconds || bench_interrupted)) {
			stopping = true;
			counted = done;
			elapsed = now - t0;
		}
		if (reaped)
			continue;
		if (now - last > BENCH_STALL_S)
			return -ETIMEDOUT;
		if (o->irq_wait) {
			struct pollfd pfd = {.fd = d->irq_fd, .events = POLLIN};

			if (poll(&pfd, 1, 100) == 1)
				irqs += gen_irq_take(d);
		} else {
			/* Two cores: let the device (or its threads) run here. */
			sched_yield();
		}
	}
	if (r < 0)
		return r;
	irqs += gen_irq_take(d);
	ret->ok = errors == 0 && elapsed > 0;
	ret->value = (double)counted / elapsed;
	if (c->bs >= BENCH_MAX_BS)
		ret->value = ret->value * c->bs / 1e6;
	ret->irq_per_req = done ? (double)irqs / (double)done : -1;
	return errors ? -EIO : 0;
}

/* One 4 KiB read at offset 4 KiB through the device, compared with the
 * file: a device (or a vhost-user address translation) that answers OK with
 * the wrong bytes would otherwise go unnoticed. Returns 0 or -errno. */
static int gen_check(struct bench_dev *d, const char *path)
{
	static const struct bench_case c = {"check", "read", VIRTIO_BLK_T_IN, 4096, 1, false};
	struct gen g = {.c = &c, .seq = 1, .nblocks = 2};
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t want[4096];
	uint32_t id, len;
	int r;

	if (fd < 0)
		return -errno;
	r = fd_pread_all(fd, want, sizeof(want), 4096);
	if (r < 0)
		return r;
	memset(vdrv_host(&d->mem, d->data[0], sizeof(want)), 0, sizeof(want));
	gen_post(d, &g, 0);
	r = gen_kick(d);
	if (r < 0)
		return r;
	if (!vdrv_wait_used(&d->q, (int)(BENCH_STALL_S * 1000)))
		return -ETIMEDOUT;
	if (vdrv_used_next(&d->q, &id, &len) != 1 || id != 0)
		return -EPROTO;
	gen_irq_take(d);
	if (*d->status_host[0] != VIRTIO_BLK_S_OK)
		return -EIO;
	return memcmp(vdrv_host(&d->mem, d->data[0], sizeof(want)), want, sizeof(want)) ? -EBADMSG
											: 0;
}

/* ---- fio ---- */

static double fio_field(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

static int fio_run(const struct bench_opts *o, const char *path, bool direct,
		   const struct bench_case *c, struct bench_result *ret, char *note, size_t len)
{
	char file[PATH_MAX + 16], rw[32], bs[32], qd[32], rt[32], size[48], dio[16];
	char *argv[] = {"fio", "--name=x", "--ioengine=io_uring", file, rw, bs, qd, "--time_based",
			rt, size, dio,
			/* The page cache stays as the devices see it. */
			"--invalidate=0", "--output-format=json", NULL};
	char *out = malloc(BENCH_FIO_OUT);
	size_t n = 0;
	int p[2], status = 0;
	const char *sec;
	ssize_t k;
	pid_t pid;

	if (!out || pipe2(p, O_CLOEXEC) < 0) {
		free(out);
		return -errno;
	}
	snprintf(file, sizeof(file), "--filename=%s", path);
	snprintf(rw, sizeof(rw), "--rw=%s", c->fio_rw);
	snprintf(bs, sizeof(bs), "--bs=%u", c->bs);
	snprintf(qd, sizeof(qd), "--iodepth=%u", c->qd);
	snprintf(rt, sizeof(rt), "--runtime=%u", o->seconds);
	snprintf(size, sizeof(size), "--size=%llu", (unsigned long long)o->size);
	snprintf(dio, sizeof(dio), "--direct=%d", direct);
	pid = bench_spawn(argv, p[1]);
	close(p[1]);
	while (pid > 0 && (k = read(p[0], out + n, BENCH_FIO_OUT - 1 - n)) != 0) {
		if (k < 0 && errno != EINTR)
			break;
		n += k > 0 ? (size_t)k : 0;
	}
	close(p[0]);
	out[n] = 0;
	if (pid > 0)
		waitpid(pid, &status, 0);
	sec = strstr(out, "\"jobs\"");
	if (sec)
		sec = strstr(sec, c->type == VIRTIO_BLK_T_IN ? "\"read\" : {" : "\"write\" : {");
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || !sec) {
		for (char *q = out; *q; q++)
			*q = *q == '\n' ? ' ' : *q;
		snprintf(note, len, "fio failed (%s): %.160s", pid < 0 ? strerror(-pid) : "status",
			 out);
		free(out);
		return -EIO;
	}
	ret->value = c->bs >= BENCH_MAX_BS ? fio_field(sec, "\"bw_bytes\" :") / 1e6
					   : fio_field(sec, "\"iops\" :");
	ret->ok = ret->value > 0;
	ret->irq_per_req = -1;
	free(out);
	return 0;
}

/* ---- the report ---- */

static void bench_print_header(int argc, char **argv, const struct bench_opts *o)
{
	char date[64];
	struct utsname u;
	time_t t = time(NULL);

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", localtime(&t));
	uname(&u);
	printf("bench-blk: cellvm-dev-blk vs fio (io_uring) vs qemu-storage-daemon "
	       "(vhost-user-blk)\ncommand:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\ndate:    %s\nhost:    %s, Linux %s, %ld cpus\n", date, u.nodename, u.release,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("setup:   %llu MiB file, %u s per case, 1 queue of %u, no EVENT_IDX/indirect; "
	       "completions %s\n",
	       (unsigned long long)(o->size >> 20), o->seconds, BENCH_QUEUE_SIZE,
	       o->irq_wait ? "taken on the interrupt" : "reaped by polling the used ring");
	printf("qsd:     --blockdev driver=file,cache.direct=<mode>%s%s\n\n",
	       o->qsd_aio ? ",aio=" : " (aio default: threads)", o->qsd_aio ? o->qsd_aio : "");
}

static void bench_cell(const struct bench_result *r, bool mbps)
{
	if (!r->ok)
		printf(" %10s", "-");
	else
		printf(mbps ? " %10.1f" : " %10.0f", r->value);
}

static void bench_ratio(const struct bench_result *a, const struct bench_result *b)
{
	if (!a->ok || !b->ok)
		printf(" %10s", "-");
	else
		printf(" %9.2fx", a->value / b->value);
}

static void bench_irq(const struct bench_result *r)
{
	if (!r->ok || r->irq_per_req < 0)
		printf(" %9s", "-");
	else
		printf(" %9.2f", r->irq_per_req);
}

static void bench_print_group(const struct bench_group *gr)
{
	static const char *const dev_names[DEV_N] = {"cellvm", "fio", "qsd"};
	uint32_t fio_met = 0, fio_n = 0, qsd_met = 0, qsd_n = 0;

	printf("== %s (%s), %s ==\n", gr->path, gr->fs, gr->direct ? "direct=on" : "buffered");
	printf("%-18s %-4s %10s %10s %10s %10s %10s %9s %9s\n", "case", "unit", "cellvm", "fio",
	       "qsd", "cellvm/fio", "cellvm/qsd", "irq/req", "irq/req");
	printf("%-18s %-4s %10s %10s %10s %10s %10s %9s %9s\n", "", "", "", "io_uring", "vhost", "",
	       "", "cellvm", "qsd");
	for (size_t i = 0; i < BENCH_NCASES; i++) {
		const struct bench_result *r = gr->res[i];
		const bool mbps = bench_cases[i].bs >= BENCH_MAX_BS;

		printf("%-18s %-4s", bench_cases[i].name, mbps ? "MB/s" : "IOPS");
		for (int k = 0; k < DEV_N; k++)
			bench_cell(&r[k], mbps);
		bench_ratio(&r[DEV_CELLVM], &r[DEV_FIO]);
		bench_ratio(&r[DEV_CELLVM], &r[DEV_QSD]);
		bench_irq(&r[DEV_CELLVM]);
		bench_irq(&r[DEV_QSD]);
		printf("\n");
		if (r[DEV_CELLVM].ok && r[DEV_FIO].ok) {
			fio_n++;
			fio_met += r[DEV_CELLVM].value >= 0.9 * r[DEV_FIO].value;
		}
		if (r[DEV_CELLVM].ok && r[DEV_QSD].ok) {
			qsd_n++;
			qsd_met += r[DEV_CELLVM].value > r[DEV_QSD].value;
		}
	}
	printf("targets: cellvm >= 0.90 x fio in %u of %u cases; cellvm > qsd in %u of %u cases\n",
	       fio_met, fio_n, qsd_met, qsd_n);
	for (int k = 0; k < DEV_N; k++)
		if (gr->note[k][0])
			printf("note: %s: %s\n", dev_names[k], gr->note[k]);
	printf("\n");
	fflush(stdout);
}

/* ---- one group: a file, three ways to drive it ---- */

static void bench_note_run(struct bench_group *gr, int k, const struct bench_case *c, int r)
{
	/* First failure per device only: the table shows the rest as "-". */
	if (!gr->note[k][0])
		snprintf(gr->note[k], sizeof(gr->note[k]), "%s: %s", c->name, strerror(-r));
}

static void bench_group_cases(struct bench_group *gr, const struct bench_opts *o,
			      struct bench_dev *dev, bool have_fio)
{
	char note[240];
	int r;

	for (size_t i = 0; i < BENCH_NCASES && !bench_interrupted; i++) {
		const struct bench_case *c = &bench_cases[i];

		if (dev[DEV_CELLVM].up) {
			r = gen_run(&dev[DEV_CELLVM], c, o, &gr->res[i][DEV_CELLVM]);
			if (r < 0)
				bench_note_run(gr, DEV_CELLVM, c, r);
			/* A device that lost track of its ring is not asked again. */
			if (r == -ETIMEDOUT || r == -EPROTO)
				dev[DEV_CELLVM].up = false;
		}
		if (have_fio && !bench_interrupted) {
			r = fio_run(o, gr->path, gr->direct, c, &gr->res[i][DEV_FIO], note,
				    sizeof(note));
			if (r < 0 && !gr->note[DEV_FIO][0])
				snprintf(gr->note[DEV_FIO], sizeof(gr->note[DEV_FIO]), "%s: %s",
					 c->name, note);
		}
		if (dev[DEV_QSD].up && !bench_interrupted) {
			r = gen_run(&dev[DEV_QSD], c, o, &gr->res[i][DEV_QSD]);
			if (r < 0)
				bench_note_run(gr, DEV_QSD, c, r);
			if (r == -ETIMEDOUT || r == -EPROTO)
				dev[DEV_QSD].up = false;
		}
	}
}

static void bench_group(struct bench_group *gr, const struct bench_opts *o, const char *tmp,
			bool have_fio, bool have_qsd)
{
	struct bench_dev dev[DEV_N];
	char sock[PATH_MAX], log[PATH_MAX];
	int r;

	bench_fs_name(gr->where, gr->fs, sizeof(gr->fs));
	snprintf(gr->path, sizeof(gr->path), "%s/cellvm-bench-blk-%d.img", gr->where,
		 (int)getpid());
	r = bench_make_file(gr->path, o->size);
	if (r < 0) {
		printf("== %s: skipped: cannot create the file: %s ==\n\n", gr->path, strerror(-r));
		if (r != -EEXIST) /* not ours to remove */
			unlink(gr->path);
		return;
	}
	if (gr->direct && (r = bench_direct_probe(gr->path)) < 0) {
		printf("== %s (%s), direct=on: skipped: the file system refuses O_DIRECT: %s "
		       "==\n\n",
		       gr->path, gr->fs, strerror(-r));
		unlink(gr->path);
		return;
	}
	for (int k = 0; k < DEV_N; k++)
		dev_init(&dev[k]);
	(void)cellvm_start(&dev[DEV_CELLVM], gr->path, gr->direct);
	snprintf(gr->note[DEV_CELLVM], sizeof(gr->note[0]), "%s", dev[DEV_CELLVM].note);
	if (!have_fio)
		snprintf(gr->note[DEV_FIO], sizeof(gr->note[0]), "fio not found: column skipped");
	snprintf(sock, sizeof(sock), "%s/qsd.sock", tmp);
	snprintf(log, sizeof(log), "%s/qsd.log", tmp);
	if (have_qsd) {
		(void)qsd_start(&dev[DEV_QSD], o, gr->path, gr->direct, sock, log);
		snprintf(gr->note[DEV_QSD], sizeof(gr->note[0]), "%s", dev[DEV_QSD].note);
	} else {
		snprintf(gr->note[DEV_QSD], sizeof(gr->note[0]),
			 "qemu-storage-daemon not found: column skipped");
	}
	for (int k = 0; k < DEV_N; k++) {
		if (dev[k].up && (r = gen_check(&dev[k], gr->path)) < 0) {
			snprintf(gr->note[k], sizeof(gr->note[k]),
				 "reading back 4 KiB of the file failed: %s", strerror(-r));
			dev[k].up = false;
		}
	}
	bench_group_cases(gr, o, dev, have_fio);
	for (int k = 0; k < DEV_N; k++)
		dev_stop(&dev[k]);
	unlink(sock);
	unlink(log);
	unlink(gr->path);
	if (!bench_interrupted)
		bench_print_group(gr);
}

/* ---- main ---- */

static void bench_usage(FILE *f)
{
	fprintf(f, "usage: bench-blk [--seconds N] [--dir D] [--size S] [--irq] "
		   "[--qsd-aio threads|native|io_uring]\n"
		   "  --seconds N  per case and device (default 3)\n"
		   "  --dir D      the on-disk location (default /var/tmp); /dev/shm is always "
		   "measured too\n"
		   "  --size S     file size (default 256M)\n"
		   "  --irq        wait for interrupts instead of polling the used ring\n"
		   "  --qsd-aio A  qemu-storage-daemon's aio= (default: QEMU's, threads)\n");
}

static int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	*o = (struct bench_opts){.seconds = 3, .dir = "/var/tmp", .size = 256ULL << 20};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r = 0;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			bench_usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--irq")) {
			o->irq_wait = true;
			continue;
		} else if (!v) {
			r = -EINVAL;
		} else if (!strcmp(a, "--seconds")) {
			r = parse_u32(v, 1, 3600, &o->seconds);
		} else if (!strcmp(a, "--dir")) {
			o->dir = v;
		} else if (!strcmp(a, "--size")) {
			r = parse_size(v, &o->size);
			if (r == 0 && (o->size < (1ULL << 20) || o->size % BENCH_MAX_BS))
				r = -EINVAL;
		} else if (!strcmp(a, "--qsd-aio")) {
			o->qsd_aio = v;
		} else {
			r = -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "bench-blk: bad option %s%s%s\n", a, v ? " " : "",
				v ? v : "");
			bench_usage(stderr);
			return r;
		}
		i++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = bench_on_signal};
	struct bench_group groups[3] = {
		{.where = "/dev/shm"},
		{.where = NULL},
		{.where = NULL, .direct = true},
	};
	struct bench_opts o;
	/* The daemon's socket and log: a fresh private folder (short enough
	 * for sun_path). */
	char tmp[] = "/tmp/cellvm-bench-blk-XXXXXX";
	bool have_fio, have_qsd;

	if (bench_parse(argc, argv, &o) < 0)
		return 2;
	groups[1].where = groups[2].where = o.dir;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A device that exits mid-run must not take us with it. */
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmp)) {
		perror("bench-blk: mkdtemp");
		return 1;
	}
	bench_print_header(argc, argv, &o);
	have_fio = bench_in_path("fio");
	have_qsd = bench_in_path("qemu-storage-daemon");
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]) && !bench_interrupted; i++)
		bench_group(&groups[i], &o, tmp, have_fio, have_qsd);
	rmdir(tmp);
	if (bench_interrupted) {
		fprintf(stderr, "bench-blk: interrupted\n");
		return 130;
	}
	return 0;
}
