/* Hostile peers on every channel, from both sides.
 *  - As a hostile launcher: start the real cellvm-core / cellvm-dev-blk with
 *    a channel on fd 3 and send malformed envelopes, out-of-state and repeated
 *    one-shot messages, fd-count mismatches, oversized and empty datagrams. The
 *    unprivileged side must exit with status 1 (never crash or hang).
 *  - As a hostile child: this same binary, started as "cellvm-core" by the
 *    real `cellvm run` (CELLVM_LIBEXEC points at a directory of links to it),
 *    misbehaves on its channel; the launcher must report an error and exit 1.
 * Exits 77 (skipped) when a part could not run for want of /dev/kvm or of a
 * built cellvm-dev-blk, unless a case that did run failed.
 * usage: hostile_peer BIN_DIR KERNEL */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"
#include "vm.pb-c.h"

static int failures, cases, skipped;

static pid_t spawn(const char *path, int chan)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(chan, 3);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2); /* the peer's complaints are expected noise */
		syscall(SYS_close_range, 4, ~0U, 0);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait for the exit (its pidfd turns readable), up to 60 s: well beyond the
 * launcher's own 10 s wait for a silent core, which a loaded machine
 * stretches. Returns the exit status, 128+sig, or -1 on timeout. */
static int reap(pid_t pid)
{
	struct pollfd pfd = {.fd = (int)syscall(SYS_pidfd_open, pid, 0), .events = POLLIN};
	int st;

	if (pfd.fd < 0 || poll(&pfd, 1, 60 * 1000) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (pfd.fd >= 0)
			close(pfd.fd);
		return -1;
	}
	close(pfd.fd);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_exit(const char *name, pid_t pid, int want)
{
	int st = reap(pid);

	cases++;
	if (st != want) {
		fprintf(stderr, "FAIL %s: status %d, expected %d\n", name, st, want);
		failures++;
	} else {
		printf("ok   %s\n", name);
	}
}

enum attack { GARBAGE, EMPTY, OVERSIZED, WRONG_STATE, NFDS_LIE, EXTRA_FDS, NO_ONEOF, EOF_ONLY };
static const char *const attack_names[] = {"garbage",  "empty datagram", "oversized", "wrong state",
					   "nfds lie", "extra fds",	 "no oneof",  "eof"};

static void send_attack(int sock, enum attack a, int is_core)
{
	uint8_t buf[200000];
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	size_t len;

	switch (a) {
	case GARBAGE:
		memset(buf, 0xff, 64);
		ipc_send(sock, buf, 64, NULL, 0);
		break;
	case EMPTY: ipc_send(sock, buf, 0, NULL, 0); break;
	case OVERSIZED:
		memset(buf, 0, sizeof(buf));
		ipc_send(sock, buf, sizeof(buf), NULL, 0);
		break;
	case WRONG_STATE:
		if (is_core) {
			Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
			Cellvm__Vm__CoreReady r = CELLVM__VM__CORE_READY__INIT;
			m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_READY;
			m.ready = &r;
			channel_send(sock, &m.base, 8192, NULL, 0);
		} else {
			Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
			Cellvm__Device__DeviceReady r = CELLVM__DEVICE__DEVICE_READY__INIT;
			m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_READY;
			m.ready = &r;
			channel_send(sock, &m.base, 8192, NULL, 0);
		}
		break;
	case NFDS_LIE:
	case EXTRA_FDS:
	case NO_ONEOF: {
		/* A setup whose envelope claims 5 fds: send none, or too many. */
		int fds[8];
		size_t nfds = a == EXTRA_FDS ? 8 : 0;
		for (size_t i = 0; i < 8; i++)
			fds[i] = devnull;
		if (is_core) {
			Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
			Cellvm__Vm__CoreSetup s = CELLVM__VM__CORE_SETUP__INIT;
			s.cpus = 1;
			s.memory_bytes = 64 << 20;
			s.cmdline = (char *)"";
			if (a != NO_ONEOF) {
				m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
				m.setup = &s;
			}
			m.nfds = 5;
			len = cellvm__vm__vm_message__pack(&m, buf);
		} else {
			Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
			Cellvm__Device__DeviceSetup s = CELLVM__DEVICE__DEVICE_SETUP__INIT;
			s.kind = (char *)"blk";
			if (a != NO_ONEOF) {
				m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SETUP;
				m.setup = &s;
			}
			m.nfds = 5;
			len = cellvm__device__control_message__pack(&m, buf);
		}
		ipc_send(sock, buf, len, fds, nfds);
		break;
	}
	case EOF_ONLY: break;
	}
	if (devnull >= 0)
		close(devnull);
}

static void attack_child(const char *bin, int is_core)
{
	for (enum attack a = GARBAGE; a <= EOF_ONLY; a++) {
		int sv[2];
		char name[128];
		pid_t pid;

		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
		pid = spawn(bin, sv[1]);
		close(sv[1]);
		send_attack(sv[0], a, is_core);
		close(sv[0]);
		snprintf(name, sizeof(name), "%s: %s", strrchr(bin, '/') + 1, attack_names[a]);
		expect_exit(name, pid, 1);
	}
}

/* ---- as a hostile child of the real launcher ---- */

static int fake_core(const char *mode)
{
	uint8_t buf[65536];
	int fds[32];
	size_t nfds;

	/* Take the setup, then misbehave. */
	(void)ipc_recv(3, buf, sizeof(buf), fds, 32, &nfds);
	ipc_close_fds(fds, nfds);
	if (strcmp(mode, "garbage") == 0) {
		memset(buf, 0xee, 100);
		ipc_send(3, buf, 100, NULL, 0);
	} else if (strcmp(mode, "oversized") == 0) {
		memset(buf, 0, sizeof(buf));
		ipc_send(3, buf, sizeof(buf), NULL, 0);
	} else if (strcmp(mode, "fds") == 0) {
		int fd = open("/dev/null", O_RDONLY);
		ipc_send(3, buf, 0, &fd, 1);
	} else if (strcmp(mode, "silent") == 0) {
		/* says nothing and exits */
	}
	pause();
	return 0;
}

static void attack_launcher(const char *bin_dir, const char *kernel, const char *self)
{
	static const char *const modes[] = {"garbage", "oversized", "fds", "silent"};
	char dir[] = "/tmp/cellvm-hostile-XXXXXX";

	if (!mkdtemp(dir)) {
		fprintf(stderr, "FAIL launcher cases: mkdtemp: %s\n", strerror(errno));
		cases++;
		failures++;
		return;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char link[256], cellvm[512], name[128];
		pid_t pid;

		snprintf(link, sizeof(link), "%s/cellvm-core", dir);
		unlink(link);
		if (symlink(self, link) < 0) {
			fprintf(stderr, "FAIL launcher cases: symlink: %s\n", strerror(errno));
			cases++;
			failures++;
			return;
		}
		snprintf(cellvm, sizeof(cellvm), "%s/cellvm", bin_dir);
		pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);
			setenv("CELLVM_LIBEXEC", dir, 1);
			setenv("CELLVM_FAKE_CORE", modes[i], 1);
			dup2(null, 0);
			dup2(null, 1);
			execl(cellvm, "cellvm", "run", "--kernel", kernel, "--memory", "64M",
			      (char *)NULL);
			_exit(127);
		}
		snprintf(name, sizeof(name), "launcher vs core: %s", modes[i]);
		expect_exit(name, pid, 1);
		unlink(link);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *fake = getenv("CELLVM_FAKE_CORE");
	char path[4096];
	struct stat st;

	if (fake)
		return fake_core(fake);
	if (argc != 3) {
		fprintf(stderr, "usage: hostile_peer BIN_DIR KERNEL\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(path, sizeof(path), "%s/cellvm-core", argv[1]);
	attack_child(path, 1);
	snprintf(path, sizeof(path), "%s/cellvm-dev-blk", argv[1]);
	if (stat(path, &st) == 0) {
		attack_child(path, 0);
	} else {
		printf("SKIP: %s not built; device channel cases not run\n", path);
		skipped++;
	}
	if (access("/dev/kvm", R_OK | W_OK) == 0) {
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = 0;
			attack_launcher(argv[1], argv[2], path);
		} else {
			fprintf(stderr, "FAIL launcher cases: readlink /proc/self/exe\n");
			cases++;
			failures++;
		}
	} else {
		printf("SKIP: no usable /dev/kvm; launcher cases not run\n");
		skipped++;
	}
	printf("%d passed, %d failed, %d parts skipped\n", cases - failures, failures, skipped);
	/* A part not run is never a pass; a failure shows either way. */
	if (failures)
		return 1;
	return skipped ? 77 : 0;
}
