/* bench-blk: I/O rates of cellvm-dev-blk with the test harness as the guest
 * driver, next to the same I/O issued by fio with io_uring on the same file
 * and by the same request generator against qemu-storage-daemon's
 * vhost-user-blk export. Runs as a benchmark process (not in a VM); it
 * reports and asserts nothing. This file holds the options, the image
 * files, the groups of cases and the report; blk.h lists the other pieces. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/blk.h"
#include "common/fdutil.h"
#include "common/parse.h"
#include "dev-procs/blk/blk.h"

#define BENCH_TMPFS 0x01021994

enum { DEV_CELLVM, DEV_FIO, DEV_QSD, DEV_N };

static const struct bench_case bench_cases[] = {
	{"randread 4k qd1", "randread", VIRTIO_BLK_T_IN, 4096, 1, true},
	{"randread 4k qd32", "randread", VIRTIO_BLK_T_IN, 4096, 32, true},
	{"randwrite 4k qd1", "randwrite", VIRTIO_BLK_T_OUT, 4096, 1, true},
	{"randwrite 4k qd32", "randwrite", VIRTIO_BLK_T_OUT, 4096, 32, true},
	{"read 128k qd8", "read", VIRTIO_BLK_T_IN, 128U << 10, 8, false},
	{"write 128k qd8", "write", VIRTIO_BLK_T_OUT, 128U << 10, 8, false},
};
#define BENCH_NCASES (sizeof(bench_cases) / sizeof(bench_cases[0]))

/* One file location and cache mode: a table of results. */
struct bench_group {
	const char *where;
	bool direct;
	char path[PATH_MAX];
	char fs[32];
	struct bench_result res[BENCH_NCASES][DEV_N];
	char note[DEV_N][512];
};

volatile sig_atomic_t bench_interrupted;

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
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

static void bench_dev_init(struct bench_dev *d)
{
	*d = (struct bench_dev){
		.mem = {.fd = -1},
		.irq_fd = -1,
		.vu = {.sock = -1, .kick_fd = -1, .call_fd = -1},
	};
}

static void bench_dev_stop(struct bench_dev *d)
{
	if (d->core_started)
		vcore_stop(&d->core);
	d->core_started = false;
	vhost_user_close(&d->vu);
	if (d->qsd_pid > 0)
		blk_proc_reap(d->qsd_pid);
	d->qsd_pid = 0;
	vdrv_mem_destroy(&d->mem);
	d->up = false;
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
			r = blk_gen_run(&dev[DEV_CELLVM], c, o, &gr->res[i][DEV_CELLVM]);
			if (r < 0)
				bench_note_run(gr, DEV_CELLVM, c, r);
			/* A device that lost track of its ring is not asked again. */
			if (r == -ETIMEDOUT || r == -EPROTO)
				dev[DEV_CELLVM].up = false;
		}
		if (have_fio && !bench_interrupted) {
			r = blk_fio_run(o, gr->path, gr->direct, c, &gr->res[i][DEV_FIO], note,
					sizeof(note));
			if (r < 0 && !gr->note[DEV_FIO][0])
				snprintf(gr->note[DEV_FIO], sizeof(gr->note[DEV_FIO]), "%s: %s",
					 c->name, note);
		}
		if (dev[DEV_QSD].up && !bench_interrupted) {
			r = blk_gen_run(&dev[DEV_QSD], c, o, &gr->res[i][DEV_QSD]);
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
		bench_dev_init(&dev[k]);
	(void)blk_cellvm_start(&dev[DEV_CELLVM], gr->path, gr->direct);
	snprintf(gr->note[DEV_CELLVM], sizeof(gr->note[0]), "%s", dev[DEV_CELLVM].note);
	if (!have_fio)
		snprintf(gr->note[DEV_FIO], sizeof(gr->note[0]), "fio not found: column skipped");
	snprintf(sock, sizeof(sock), "%s/qsd.sock", tmp);
	snprintf(log, sizeof(log), "%s/qsd.log", tmp);
	if (have_qsd) {
		(void)blk_qsd_start(&dev[DEV_QSD], o, gr->path, gr->direct, sock, log);
		snprintf(gr->note[DEV_QSD], sizeof(gr->note[0]), "%s", dev[DEV_QSD].note);
	} else {
		snprintf(gr->note[DEV_QSD], sizeof(gr->note[0]),
			 "qemu-storage-daemon not found: column skipped");
	}
	for (int k = 0; k < DEV_N; k++) {
		if (dev[k].up && (r = blk_gen_check(&dev[k], gr->path)) < 0) {
			snprintf(gr->note[k], sizeof(gr->note[k]),
				 "reading back 4 KiB of the file failed: %s", strerror(-r));
			dev[k].up = false;
		}
	}
	bench_group_cases(gr, o, dev, have_fio);
	for (int k = 0; k < DEV_N; k++)
		bench_dev_stop(&dev[k]);
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
	have_fio = blk_proc_in_path("fio");
	have_qsd = blk_proc_in_path("qemu-storage-daemon");
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]) && !bench_interrupted; i++)
		bench_group(&groups[i], &o, tmp, have_fio, have_qsd);
	rmdir(tmp);
	if (bench_interrupted) {
		fprintf(stderr, "bench-blk: interrupted\n");
		return 130;
	}
	return 0;
}
