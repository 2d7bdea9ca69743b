/* The fio reference of bench-blk: the same case issued directly with
 * io_uring by fio on the same file, its JSON report read for IOPS or
 * bandwidth. Runs in the benchmark process. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/blk.h"
#include "dev-procs/blk/blk.h"

#define BENCH_FIO_OUT (4U << 20)

static double blk_fio_field(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

int blk_fio_run(const struct bench_opts *o, const char *path, bool direct,
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
	pid = blk_proc_spawn(argv, p[1]);
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
	ret->value = c->bs >= BENCH_MAX_BS ? blk_fio_field(sec, "\"bw_bytes\" :") / 1e6
					   : blk_fio_field(sec, "\"iops\" :");
	ret->ok = ret->value > 0;
	ret->irq_per_req = -1;
	free(out);
	return 0;
}
