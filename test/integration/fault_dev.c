/* A device that faults, for the tests of device faults (dev_fault.sh under
 * cellvm run, test/broker/device_fault.py under the broker). Installed as
 * cellvm-dev-blk in a directory that $CELLVM_LIBEXEC names, it runs the real
 * cellvm-dev-blk ($CELLVM_FAULT_REAL) behind a relay on the core link and
 * misbehaves there, as $CELLVM_FAULT_MODE says:
 *   reset-hang      the core's Reset never reaches the device: no ResetDone
 *                   ever comes (a hung device whose process lives on)
 *   violate         right after its DeviceInfo, a ResetDone nobody asked for
 *                   (a breach of the link protocol)
 *   violate-always  the same, in every process (never a working device)
 *   log-flood       on its stderr: a line that imitates the broker's own
 *                   audit line (with a terminal escape), then FAULT_FLOOD
 *                   lines from a child of its own, while it becomes the real
 *                   device; a successor says one line before it does
 *                   (test/broker/child_log.py)
 * Only the first process of a test misbehaves, except with violate-always:
 * the one that creates $CELLVM_FAULT_MARK (O_EXCL); the others exec the real
 * device as they are. The launcher started this process in the device's
 * namespaces; the real device is its child and enters its sandbox itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define FAULT_MAX_MSG 16384
#define FAULT_FLOOD   10000

static uint32_t fault_case(const uint8_t *buf, size_t len)
{
	Cellvm__Device__LinkMessage *m = cellvm__device__link_message__unpack(NULL, len, buf);
	uint32_t c = m ? (uint32_t)m->msg_case : 0;

	if (m)
		cellvm__device__link_message__free_unpacked(m, NULL);
	return c;
}

/* One datagram from in to out with its fds; the case of a link message in
 * *ret_case. 0, or -1 when either side is gone. */
static int fault_forward(int in, int out, bool drop_reset, uint32_t *ret_case)
{
	static uint8_t buf[FAULT_MAX_MSG];
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	int n = ipc_recv(in, buf, sizeof(buf), fds, IPC_MAX_FDS, &nfds);

	if (n <= 0)
		return -1;
	*ret_case = fault_case(buf, (size_t)n);
	if (!(drop_reset && *ret_case == CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET) &&
	    ipc_send(out, buf, (size_t)n, fds, nfds) < 0)
		return -1;
	ipc_close_fds(fds, nfds);
	return 0;
}

static void fault_send_reset_done(int link)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ResetDone rd = CELLVM__DEVICE__RESET_DONE__INIT;

	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE;
	m.reset_done = &rd;
	(void)channel_send(link, &m.base, FAULT_MAX_MSG, NULL, 0);
}

/* One flood line on stderr, which the launcher made non-blocking: a flooder
 * that wants every line through waits for room. */
static void fault_say(int i)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "fault_dev: flood %d\n", i);
	struct pollfd p = {.fd = STDERR_FILENO, .events = POLLOUT};

	while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EAGAIN)
		(void)poll(&p, 1, -1);
}

/* log-flood: the first process (it creates mark) forges and floods, every
 * one then becomes the real device. The flooder is a child that waits when
 * the pipe is full (the front end reads it once the device is Ready); it
 * holds none of the device's channels. */
static int fault_log_flood(const char *mark, const char *real, char *const *real_argv)
{
	int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	pid_t pid;

	if (fd < 0) {
		dprintf(STDERR_FILENO, "fault_dev: a successor speaks\n");
	} else {
		close(fd);
		dprintf(STDERR_FILENO, "cellvm-broker: info: api: tenant=root uid=0 delete "
				       "vm=forged -> ok\x1b[2K\r\n");
		pid = fork();
		if (pid == 0) {
			for (int fd3 = 3; fd3 < 64; fd3++)
				close(fd3);
			for (int i = 0; i < FAULT_FLOOD; i++)
				fault_say(i);
			_exit(0);
		}
	}
	execv(real, real_argv);
	perror("fault_dev: exec");
	return 127;
}

int main(int argc, char **argv)
{
	const char *mode = getenv("CELLVM_FAULT_MODE"), *real = getenv("CELLVM_FAULT_REAL");
	const char *mark = getenv("CELLVM_FAULT_MARK");
	char *const real_argv[] = {(char *)"cellvm-dev-blk", NULL};
	static uint8_t setup[FAULT_MAX_MSG];
	int fds[IPC_MAX_FDS], lk[2], ctl[2], core_link, n, fd;
	bool hang, always;
	size_t nfds = 0;
	pid_t pid;

	(void)argc;
	(void)argv;
	if (!mode || !real) {
		fprintf(stderr, "fault_dev: CELLVM_FAULT_MODE and CELLVM_FAULT_REAL are needed\n");
		return 2;
	}
	if (strcmp(mode, "log-flood") == 0)
		return fault_log_flood(mark, real, real_argv);
	hang = strcmp(mode, "reset-hang") == 0;
	always = strcmp(mode, "violate-always") == 0;
	fd = always || !mark ? -1 : open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (!always && fd < 0) {
		execv(real, real_argv); /* a successor: the real device as it is */
		perror("fault_dev: exec");
		return 127;
	}
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "fault_dev: this process will fault (%s)\n", mode);
	/* The setup: its second fd is the device's end of the core link. */
	n = ipc_recv(3, setup, sizeof(setup), fds, IPC_MAX_FDS, &nfds);
	if (n <= 0 || nfds < 2 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, lk) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
		return 1;
	core_link = fds[1];
	fds[1] = lk[1];
	pid = fork();
	if (pid == 0) {
		dup2(ctl[1], 3);
		execv(real, real_argv);
		_exit(127);
	}
	if (pid < 0 || ipc_send(ctl[0], setup, (size_t)n, fds, nfds) < 0)
		return 1;
	ipc_close_fds(fds, nfds);
	close(ctl[1]);
	for (;;) {
		struct pollfd p[3] = {{.fd = ctl[0], .events = POLLIN},
				      {.fd = core_link, .events = POLLIN},
				      {.fd = lk[0], .events = POLLIN}};
		uint32_t c = 0;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		/* The device's DeviceReady to the launcher. */
		if (p[0].revents && fault_forward(ctl[0], 3, false, &c) < 0)
			break;
		if (p[1].revents && fault_forward(core_link, lk[0], hang, &c) < 0)
			break;
		if (p[2].revents) {
			if (fault_forward(lk[0], core_link, false, &c) < 0)
				break;
			if (!hang && c == CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO)
				fault_send_reset_done(core_link);
		}
	}
	return 1;
}
