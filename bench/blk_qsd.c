/* The qemu-storage-daemon side of bench-blk: the daemon started with a
 * vhost-user-blk export of the file, and the minimal vhost-user front-end
 * (vhost_user.c) handing it the harness's guest RAM and ring. Runs in the
 * benchmark process; the daemon is a peer: vhost_user.c checks its replies
 * and the wait for its socket has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/blk.h"
#include "common/fdutil.h"

#define BENCH_SOCK_MS 5000 /* qemu-storage-daemon must listen within this */

/* QEMU's option syntax: a comma inside a value is doubled. */
static void blk_qsd_escape(char *dst, size_t len, const char *src)
{
	size_t j = 0;

	for (; *src && j + 2 < len; src++) {
		dst[j++] = *src;
		if (*src == ',')
			dst[j++] = ',';
	}
	dst[j] = 0;
}

static void blk_qsd_log_tail(const char *log, char *buf, size_t len)
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

int blk_qsd_start(struct bench_dev *d, const struct bench_opts *o, const char *path, bool direct,
		  const char *sock, const char *log)
{
	char file[PATH_MAX * 2], sk[PATH_MAX * 2], blockdev[PATH_MAX * 2 + 128],
		export[PATH_MAX * 2 + 128], err[256], tail[200];
	char *argv[] = {"qemu-storage-daemon", "--blockdev", blockdev, "--export", export, NULL};
	double deadline;
	int fd, r, status;

	blk_qsd_escape(file, sizeof(file), path);
	blk_qsd_escape(sk, sizeof(sk), sock);
	snprintf(blockdev, sizeof(blockdev),
		 "driver=file,node-name=f,filename=%s,cache.direct=%s%s%s", file,
		 direct ? "on" : "off", o->qsd_aio ? ",aio=" : "", o->qsd_aio ? o->qsd_aio : "");
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,writable=on",
		 sk);
	r = blk_gen_mem_init(d);
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
	d->qsd_pid = blk_proc_spawn(argv, fd);
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
				blk_proc_reap(d->qsd_pid);
			d->qsd_pid = 0;
			blk_qsd_log_tail(log, tail, sizeof(tail));
			snprintf(d->note, sizeof(d->note), "qemu-storage-daemon did not listen: %s",
				 tail);
			return -ECONNREFUSED;
		}
		usleep(10000);
	}
	r = vhost_user_start(&d->vu, &d->mem, &d->q, 1ULL << VIRTIO_F_VERSION_1, err, sizeof(err));
	if (r < 0) {
		blk_qsd_log_tail(log, tail, sizeof(tail));
		snprintf(d->note, sizeof(d->note), "vhost-user handshake: %s; its log: %s", err,
			 tail);
		return r;
	}
	d->irq_fd = d->vu.call_fd;
	d->up = true;
	return 0;
}
