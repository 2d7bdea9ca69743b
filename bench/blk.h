/* The pieces of bench-blk and what they share: the options, the cases, a
 * device under test as the request generator drives it. One file per piece:
 * blk.c (options, files, groups of cases, the report), blk_cellvm.c (the
 * harness starting cellvm-dev-blk), blk_qsd.c (qemu-storage-daemon behind
 * vhost-user), blk_gen.c (the request generator, the guest driver),
 * blk_fio.c (the fio runner), blk_proc.c (their child processes). Runs in
 * the benchmark process only. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bench/vhost_user.h"
#include "test/harness/vdriver.h"

#define BENCH_MAX_QD	 32
#define BENCH_MAX_BS	 (128U << 10)
#define BENCH_QUEUE_SIZE 256 /* both devices; BENCH_MAX_QD chains of BENCH_SEGS fit */
#define BENCH_SEGS	 3   /* header, data, status */
#define BENCH_MEM_SIZE	 (64ULL << 20)
#define BENCH_STALL_S	 10.0 /* no completion for this long: the device is stuck */

_Static_assert(BENCH_QUEUE_SIZE >= BENCH_MAX_QD * BENCH_SEGS, "every slot owns its descriptors");

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

/* Set by SIGINT/SIGTERM so that the image files and daemons are cleaned up:
 * the one piece of state a signal handler can reach (blk.c). */
extern volatile sig_atomic_t bench_interrupted;

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t bench_rand(uint64_t *s)
{
	/* xorshift64*: cheap, and the same sequence for both devices. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* blk_proc.c: start argv[0] from PATH with stdin on /dev/null and stdout
 * and stderr on out_fd (fork and exec in one step); the pid or -errno.
 * Whether prog is an executable in PATH. SIGTERM, then SIGKILL after two
 * seconds; the wait status. */
pid_t blk_proc_spawn(char *const argv[], int out_fd);
bool blk_proc_in_path(const char *prog);
int blk_proc_reap(pid_t pid);

/* blk_gen.c: guest RAM, the ring and the generator's slots in d (the caller
 * releases them with vdrv_mem_destroy); 0 or -errno. */
int blk_gen_mem_init(struct bench_dev *d);
/* Keep c->qd requests in flight for o->seconds: reap what the used ring
 * holds, post as many new requests, one kick for the batch. Returns 0 or
 * -errno (-ETIMEDOUT for a stuck device, -EPROTO for a bad used entry). */
int blk_gen_run(struct bench_dev *d, const struct bench_case *c, const struct bench_opts *o,
		struct bench_result *ret);
/* One 4 KiB read at offset 4 KiB through the device, compared with the
 * file: a device (or a vhost-user address translation) that answers OK with
 * the wrong bytes would otherwise go unnoticed. Returns 0 or -errno. */
int blk_gen_check(struct bench_dev *d, const char *path);

/* blk_cellvm.c: start cellvm-dev-blk on path the way the launcher does in
 * production, attach and activate one queue; d->up on success. 0 or -errno,
 * with d->note saying why. */
int blk_cellvm_start(struct bench_dev *d, const char *path, bool direct);

/* blk_qsd.c: start qemu-storage-daemon exporting path as vhost-user-blk on
 * the unix socket sock (its output in log) and connect to it; d->up on
 * success. 0 or -errno, with d->note saying why. */
int blk_qsd_start(struct bench_dev *d, const struct bench_opts *o, const char *path, bool direct,
		  const char *sock, const char *log);

/* blk_fio.c: case c with fio (io_uring) on path; 0, or -errno with the
 * reason in note. */
int blk_fio_run(const struct bench_opts *o, const char *path, bool direct,
		const struct bench_case *c, struct bench_result *ret, char *note, size_t len);
