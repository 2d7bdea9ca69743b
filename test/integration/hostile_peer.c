/* Hostile peers on every channel, from both sides, against the rules of each
 * receiver's dispatch table (what it takes in which state, how often, with
 * which fds).
 *  - As a hostile launcher: start the real cellvm-core / cellvm-dev-blk with
 *    a channel on fd 3 and send malformed envelopes, out-of-state and repeated
 *    one-shot messages, fd-count mismatches, oversized and empty datagrams. The
 *    unprivileged side must exit with status 1 (never crash or hang).
 *  - Once they run (started by the real launcher, Ready): a second setup, a
 *    message that goes the other way, and, on a device's core link, Attach
 *    and Reset out of order, repeated or with fds against the rule. The core
 *    stops with status 1, the device exits with status 1.
 *  - As a core that ended: what it left on its channel, read by the
 *    launcher (and the broker) through launcher_core_stopped: a CoreStopped,
 *    or a violation, with no fd left open.
 *  - As a hostile child: this same binary, started as "cellvm-core" or
 *    "cellvm-dev-blk" by the real `cellvm run` (CELLVM_LIBEXEC points at a
 *    directory of links to it), misbehaves on its channel; the launcher must
 *    report an error and exit 1.
 * Exits 77 (skipped) when a part could not run for want of /dev/kvm or of a
 * built cellvm-dev-blk, unless a case that did run failed.
 * usage: hostile_peer BIN_DIR KERNEL (serial_irq.elf, a guest that keeps
 * running, is looked for next to KERNEL) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "launcher/launcher.h"
#include "proto/channel.h"
#include "proto/devshm.h"
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

enum attack {
	GARBAGE,
	EMPTY,
	OVERSIZED,
	WRONG_STATE,
	NFDS_LIE,
	EXTRA_FDS,
	NO_ONEOF,
	SETUP_NO_FDS,
	RESTART_FIRST,
	FW_KERNEL_ALONE,
	FW_INITRD_ALONE,
	EOF_ONLY
};
static const char *const attack_names[] = {"garbage",
					   "empty datagram",
					   "oversized",
					   "wrong state",
					   "nfds lie",
					   "extra fds",
					   "no oneof",
					   "setup without fds",
					   "DeviceRestart first",
					   "a firmware's kernel without a firmware",
					   "a firmware's initrd without a kernel",
					   "eof"};

/* A setup with its envelope honest about carrying no fds: the table wants
 * them (DISPATCH_NEEDS_FDS). */
static void send_setup_no_fds(int sock, int is_core)
{
	if (is_core) {
		Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
		Cellvm__Vm__CoreSetup s = CELLVM__VM__CORE_SETUP__INIT;

		s.cpus = 1;
		s.memory_bytes = 64 << 20;
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
		m.setup = &s;
		channel_send(sock, &m.base, 8192, NULL, 0);
	} else {
		Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
		Cellvm__Device__DeviceSetup s = CELLVM__DEVICE__DEVICE_SETUP__INIT;

		s.kind = (char *)"blk";
		m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SETUP;
		m.setup = &s;
		channel_send(sock, &m.base, 8192, NULL, 0);
	}
}

/* DeviceRestart before CoreSetup: allowed only once the core is Ready. */
static void send_restart(int sock)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__DeviceRestart dr = CELLVM__VM__DEVICE_RESTART__INIT;

	dr.give_up = true;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_DEVICE_RESTART;
	m.device_restart = &dr;
	channel_send(sock, &m.base, 8192, NULL, 0);
}

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
	case SETUP_NO_FDS: send_setup_no_fds(sock, is_core); break;
	case RESTART_FIRST: send_restart(sock); break;
	case FW_KERNEL_ALONE:
	case FW_INITRD_ALONE: {
		/* Flags that contradict each other, the fd count matching them. */
		Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
		Cellvm__Vm__CoreSetup s = CELLVM__VM__CORE_SETUP__INIT;
		int fds[5] = {devnull, devnull, devnull, devnull, devnull};

		s.cpus = 1;
		s.memory_bytes = 64 << 20;
		s.cmdline = (char *)"";
		s.has_fw_kernel = a == FW_KERNEL_ALONE;
		s.has_firmware = s.has_initrd = a == FW_INITRD_ALONE;
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
		m.setup = &s;
		channel_send(sock, &m.base, 8192, fds, 5);
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

		if ((a == RESTART_FIRST || a == FW_KERNEL_ALONE || a == FW_INITRD_ALONE) &&
		    !is_core)
			continue; /* the control channel has no such messages */
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
		pid = spawn(bin, sv[1]);
		close(sv[1]);
		send_attack(sv[0], a, is_core);
		close(sv[0]);
		snprintf(name, sizeof(name), "%s: %s", strrchr(bin, '/') + 1, attack_names[a]);
		expect_exit(name, pid, 1);
	}
}

/* ---- as a hostile launcher (and core), once they run ---- */

static void check(const char *name, bool ok, const char *why)
{
	cases++;
	if (ok) {
		printf("ok   %s\n", name);
	} else {
		fprintf(stderr, "FAIL %s: %s\n", name, why);
		failures++;
	}
}

static void devnull_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* A real cellvm-core, started and Ready (through the launcher), on a guest
 * that keeps running. False when it cannot start here. */
static bool start_core(const char *guest, struct core_proc *p)
{
	struct core_config cfg = {.kernel = guest, .cpus = 1, .memory = 64 << 20};
	char err[512];
	int r, status;

	cfg.mem_fd = launcher_create_memory(cfg.memory);
	if (cfg.mem_fd < 0)
		return false;
	r = launcher_start_core(&cfg, p, err, sizeof(err), &status);
	close(cfg.mem_fd);
	if (r < 0)
		fprintf(stderr, "cellvm-core did not start: %s\n", err);
	return r == 0;
}

static void core_setup_again(int chan)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreSetup s = CELLVM__VM__CORE_SETUP__INIT;
	int fds[4];

	devnull_fds(fds, 4);
	s.cpus = 1;
	s.memory_bytes = 64 << 20;
	s.cmdline = (char *)"";
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
	m.setup = &s;
	channel_send(chan, &m.base, 8192, fds, 4);
	ipc_close_fds(fds, 4);
}

static void core_ready_to_core(int chan)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreReady rd = CELLVM__VM__CORE_READY__INIT;

	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_READY;
	m.ready = &rd;
	channel_send(chan, &m.base, 8192, NULL, 0);
}

/* The running core gets attack: it stops the VM (status 1) and says why in
 * its CoreStopped. */
static void running_core_case(const char *guest, const char *name, void (*attack)(int chan))
{
	struct core_proc p;
	char detail[160], label[128];
	int st, r;

	snprintf(label, sizeof(label), "cellvm-core, running: %s", name);
	if (!start_core(guest, &p)) {
		printf("SKIP %s: no running core here\n", label);
		skipped++;
		return;
	}
	attack(p.chan);
	st = reap(p.pid);
	p.pid = -1;
	r = launcher_core_stopped(&p, detail, sizeof(detail));
	launcher_close(&p);
	check(label, st == 1 && r == 1 && strstr(detail, "launcher channel"),
	      "expected status 1 and a CoreStopped about the launcher channel");
}

/* A real cellvm-dev-blk on a 1 MiB image, started and Ready (through the
 * launcher). False when it cannot start here. */
static bool start_device(struct device_proc *dev)
{
	Cellvm__Device__BlkConfig bc = CELLVM__DEVICE__BLK_CONFIG__INIT;
	struct device_config cfg = {.kind = "blk", .nbackend = 1, .blk = &bc};
	char path[] = "/tmp/cellvm-hostile-img-XXXXXX", err[512];
	const uint64_t mem_size = 16 << 20;
	int img, mem, r = -1;

	bc.num_queues = 1;
	bc.queue_size = 64;
	img = mkstemp(path);
	if (img < 0)
		return false;
	unlink(path);
	mem = launcher_create_memory(mem_size);
	if (ftruncate(img, 1 << 20) == 0 && mem >= 0) {
		cfg.backend_fds[0] = img;
		r = launcher_start_device(&cfg, mem, mem_size, mem_size, dev, err, sizeof(err));
		if (r < 0)
			fprintf(stderr, "cellvm-dev-blk did not start: %s\n", err);
	}
	close(img);
	if (mem >= 0)
		close(mem);
	return r == 0;
}

static int send_link(int link, Cellvm__Device__LinkMessage *m, const int *fds, size_t nfds)
{
	return channel_send(link, &m->base, 16384, fds, nfds);
}

/* Attach with one queue, as the core does (without records); 0 once the
 * device answered with DeviceInfo. */
static int dev_attach(int link)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT, *in = NULL;
	Cellvm__Device__Attach a = CELLVM__DEVICE__ATTACH__INIT;
	struct pollfd pfd = {.fd = link, .events = POLLIN};
	int fds[3], got[IPC_MAX_FDS];
	size_t ngot = 0;
	uint32_t c = 0;
	int r;

	fds[0] = eventfd(0, EFD_CLOEXEC);
	fds[1] = memfd_create("hostile-shared", MFD_CLOEXEC);
	fds[2] = eventfd(0, EFD_CLOEXEC);
	if (fds[1] < 0 || ftruncate(fds[1], sizeof(struct devproc_shared)) < 0) {
		ipc_close_fds(fds, 3);
		return -1;
	}
	a.num_queues = 1;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	r = send_link(link, &m, fds, 3);
	ipc_close_fds(fds, 3);
	if (r < 0 || poll(&pfd, 1, 10 * 1000) != 1)
		return -1;
	r = channel_recv(link, &cellvm__device__link_message__descriptor, 16384,
			 (ProtobufCMessage **)&in, &c, got, IPC_MAX_FDS, &ngot);
	if (r < 0)
		return -1;
	ipc_close_fds(got, ngot);
	protobuf_c_message_free_unpacked(&in->base, NULL);
	return c == CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO ? 0 : -1;
}

static void dev_setup_again(struct device_proc *dev)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__DeviceSetup s = CELLVM__DEVICE__DEVICE_SETUP__INIT;
	int fds[2];

	devnull_fds(fds, 2);
	s.kind = (char *)"blk";
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SETUP;
	m.setup = &s;
	channel_send(dev->ctl, &m.base, 16384, fds, 2);
	ipc_close_fds(fds, 2);
}

static void dev_activate_first(struct device_proc *dev)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Activate a = CELLVM__DEVICE__ACTIVATE__INIT;

	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ACTIVATE;
	m.activate = &a;
	send_link(dev->link, &m, NULL, 0);
}

static void dev_reset(int link, bool with_fd)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Reset rs = CELLVM__DEVICE__RESET__INIT;
	int fd = -1;

	if (with_fd)
		devnull_fds(&fd, 1);
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET;
	m.reset = &rs;
	send_link(link, &m, &fd, with_fd ? 1 : 0);
	if (fd >= 0)
		close(fd);
}

static void dev_reset_first(struct device_proc *dev)
{
	dev_reset(dev->link, false);
}

static void dev_attach_no_fds(struct device_proc *dev)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Attach a = CELLVM__DEVICE__ATTACH__INIT;

	a.num_queues = 1;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	send_link(dev->link, &m, NULL, 0);
}

static void dev_attach_twice(struct device_proc *dev)
{
	if (dev_attach(dev->link) == 0)
		(void)dev_attach(dev->link);
}

static void dev_reset_with_fd(struct device_proc *dev)
{
	if (dev_attach(dev->link) == 0)
		dev_reset(dev->link, true);
}

static void dev_reset_done_to_device(struct device_proc *dev)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ResetDone done = CELLVM__DEVICE__RESET_DONE__INIT;

	if (dev_attach(dev->link) < 0)
		return;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE;
	m.reset_done = &done;
	send_link(dev->link, &m, NULL, 0);
}

/* The running device gets attack: it exits with status 1. */
static void running_device_case(const char *name, void (*attack)(struct device_proc *dev))
{
	struct device_proc dev;
	char label[128];
	int st;

	snprintf(label, sizeof(label), "cellvm-dev-blk, running: %s", name);
	if (!start_device(&dev)) {
		printf("SKIP %s: no running device here\n", label);
		skipped++;
		return;
	}
	attack(&dev);
	st = reap(dev.pid);
	dev.pid = -1;
	launcher_stop_device(&dev, SIGKILL);
	check(label, st == 1, "expected exit status 1");
}

static void attack_running(const char *bin_dir, const char *kernel)
{
	char guest[4096];
	const char *slash = strrchr(kernel, '/');

	setenv("CELLVM_LIBEXEC", bin_dir, 1);
	snprintf(guest, sizeof(guest), "%.*s/serial_irq.elf", slash ? (int)(slash - kernel) : 1,
		 slash ? kernel : ".");
	if (access(guest, R_OK) == 0) {
		running_core_case(guest, "CoreSetup again, after Ready", core_setup_again);
		running_core_case(guest, "CoreReady (the core's own message)", core_ready_to_core);
	} else {
		printf("SKIP: %s not found; running core cases not run\n", guest);
		skipped++;
	}
	running_device_case("DeviceSetup again, after Ready", dev_setup_again);
	running_device_case("Activate before Attach", dev_activate_first);
	running_device_case("Reset before Attach", dev_reset_first);
	running_device_case("Attach without fds", dev_attach_no_fds);
	running_device_case("Attach twice", dev_attach_twice);
	running_device_case("Reset with an fd", dev_reset_with_fd);
	running_device_case("ResetDone (the device's own message)", dev_reset_done_to_device);
}

/* ---- the launcher reading what a core left (launcher_core_stopped) ---- */

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

enum last_words { LW_STOPPED, LW_NOTHING, LW_READY, LW_STOPPED_FD, LW_SETUP, LW_GARBAGE };

static void say_last_words(int sock, enum last_words w)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreStopped st = CELLVM__VM__CORE_STOPPED__INIT;
	Cellvm__Vm__CoreReady rd = CELLVM__VM__CORE_READY__INIT;
	Cellvm__Vm__CoreSetup su = CELLVM__VM__CORE_SETUP__INIT;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	st.reason = CELLVM__VM__STOP_REASON__STOP_POWER_OFF;
	st.detail = (char *)"power-off port";
	su.cmdline = (char *)"";
	switch (w) {
	case LW_STOPPED:
	case LW_STOPPED_FD:
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_STOPPED;
		m.stopped = &st;
		channel_send(sock, &m.base, 8192, &fd, w == LW_STOPPED_FD ? 1 : 0);
		break;
	case LW_READY:
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_READY;
		m.ready = &rd;
		channel_send(sock, &m.base, 8192, NULL, 0);
		break;
	case LW_SETUP:
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
		m.setup = &su;
		channel_send(sock, &m.base, 8192, NULL, 0);
		break;
	case LW_GARBAGE: ipc_send(sock, "\xff\xff\xff\xff", 4, NULL, 0); break;
	case LW_NOTHING: break;
	}
	close(fd);
}

/* A core that ended left w on its channel: the launcher's table takes a
 * CoreStopped (1, its detail) or nothing (0) and refuses anything else
 * (< 0), never leaving an fd open. */
static void last_words_case(const char *name, enum last_words w, int want)
{
	struct core_proc p = {.pid = -1, .pidfd = -1, .chan = -1, .console = -1};
	char detail[64], label[128];
	int sv[2], before, r;
	bool ok;

	snprintf(label, sizeof(label), "launcher, a core's last words: %s", name);
	before = count_fds();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		check(label, false, strerror(errno));
		return;
	}
	p.chan = sv[0];
	say_last_words(sv[1], w);
	close(sv[1]);
	r = launcher_core_stopped(&p, detail, sizeof(detail));
	launcher_close(&p);
	ok = want < 0 ? r < 0 : r == want;
	if (ok && r == 1)
		ok = strcmp(detail, "power-off port") == 0;
	check(label, ok && count_fds() == before, "wrong answer, or an fd left open");
}

static void attack_last_words(void)
{
	last_words_case("CoreStopped", LW_STOPPED, 1);
	last_words_case("nothing", LW_NOTHING, 0);
	last_words_case("CoreReady again", LW_READY, -1);
	last_words_case("CoreStopped with an fd", LW_STOPPED_FD, -1);
	last_words_case("CoreSetup (the launcher's own)", LW_SETUP, -1);
	last_words_case("garbage", LW_GARBAGE, -1);
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
	} else if (strcmp(mode, "setup") == 0) {
		/* the launcher's own message, back: not in its table */
		Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
		Cellvm__Vm__CoreSetup st = CELLVM__VM__CORE_SETUP__INIT;
		st.cmdline = (char *)"";
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
		m.setup = &st;
		channel_send(3, &m.base, 8192, NULL, 0);
	} else if (strcmp(mode, "ready-fd") == 0) {
		/* a well-formed Ready carrying an fd: never fds from a core */
		Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
		Cellvm__Vm__CoreReady rd = CELLVM__VM__CORE_READY__INIT;
		int fd = open("/dev/null", O_RDONLY);
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_READY;
		m.ready = &rd;
		channel_send(3, &m.base, 8192, &fd, 1);
	} else if (strcmp(mode, "silent") == 0) {
		/* says nothing and exits */
	}
	pause();
	return 0;
}

/* Started as cellvm-dev-blk by cellvm run: take the setup, then misbehave. */
static int fake_device(const char *mode)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	uint8_t buf[65536];
	int fds[32];
	size_t nfds;

	(void)ipc_recv(3, buf, sizeof(buf), fds, 32, &nfds);
	ipc_close_fds(fds, nfds);
	if (strcmp(mode, "setup") == 0) {
		/* the launcher's own message, back: not in its table */
		Cellvm__Device__DeviceSetup st = CELLVM__DEVICE__DEVICE_SETUP__INIT;
		st.kind = (char *)"blk";
		m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SETUP;
		m.setup = &st;
		channel_send(3, &m.base, 8192, NULL, 0);
	} else if (strcmp(mode, "ready-fd") == 0) {
		/* a well-formed Ready carrying an fd: never fds from a device */
		Cellvm__Device__DeviceReady rd = CELLVM__DEVICE__DEVICE_READY__INIT;
		int fd = open("/dev/null", O_RDONLY);
		m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_READY;
		m.ready = &rd;
		channel_send(3, &m.base, 8192, &fd, 1);
	} else if (strcmp(mode, "garbage") == 0) {
		memset(buf, 0xee, 100);
		ipc_send(3, buf, 100, NULL, 0);
	}
	pause();
	return 0;
}

/* cellvm run with CELLVM_LIBEXEC=dir and env=mode set: it must exit 1, and
 * say why (expect, in its messages) when expect is not NULL. */
static void run_launcher(const char *bin_dir, const char *dir, const char *kernel, const char *disk,
			 const char *env, const char *mode, const char *name, const char *expect)
{
	char cellvm[512], diskopt[600], said[8192];
	int errfd = memfd_create("cellvm-stderr", MFD_CLOEXEC);
	ssize_t n;
	pid_t pid;

	snprintf(cellvm, sizeof(cellvm), "%s/cellvm", bin_dir);
	snprintf(diskopt, sizeof(diskopt), "path=%s", disk ? disk : "");
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		setenv("CELLVM_LIBEXEC", dir, 1);
		setenv(env, mode, 1);
		dup2(null, 0);
		dup2(null, 1);
		if (errfd >= 0)
			dup2(errfd, 2);
		if (disk)
			execl(cellvm, "cellvm", "run", "--kernel", kernel, "--memory", "64M",
			      "--disk", diskopt, (char *)NULL);
		else
			execl(cellvm, "cellvm", "run", "--kernel", kernel, "--memory", "64M",
			      (char *)NULL);
		_exit(127);
	}
	expect_exit(name, pid, 1);
	n = errfd >= 0 ? pread(errfd, said, sizeof(said) - 1, 0) : -1;
	said[n > 0 ? n : 0] = 0;
	if (errfd >= 0)
		close(errfd);
	if (expect && !strstr(said, expect)) {
		fprintf(stderr, "FAIL %s: no \"%s\" in what it said:\n%s\n", name, expect, said);
		failures++;
	}
}

static void attack_launcher(const char *bin_dir, const char *kernel, const char *self)
{
	static const char *const modes[] = {"garbage", "oversized", "fds",
					    "silent",  "setup",	    "ready-fd"};
	static const char *const dev_modes[] = {"garbage", "setup", "ready-fd"};
	char dir[] = "/tmp/cellvm-hostile-XXXXXX", disk[256], link[256];
	int img;

	if (!mkdtemp(dir)) {
		fprintf(stderr, "FAIL launcher cases: mkdtemp: %s\n", strerror(errno));
		cases++;
		failures++;
		return;
	}
	snprintf(link, sizeof(link), "%s/cellvm-core", dir);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char name[128];

		unlink(link);
		if (symlink(self, link) < 0) {
			fprintf(stderr, "FAIL launcher cases: symlink: %s\n", strerror(errno));
			cases++;
			failures++;
			return;
		}
		snprintf(name, sizeof(name), "launcher vs core: %s", modes[i]);
		run_launcher(bin_dir, dir, kernel, NULL, "CELLVM_FAKE_CORE", modes[i], name,
			     strcmp(modes[i], "silent") ? "broke the protocol" : NULL);
	}
	unlink(link);
	/* A device misbehaving to the launcher: cellvm run with one disk. */
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	img = open(disk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (img < 0 || ftruncate(img, 1 << 20) < 0) {
		fprintf(stderr, "FAIL launcher cases: %s: %s\n", disk, strerror(errno));
		cases++;
		failures++;
	} else {
		snprintf(link, sizeof(link), "%s/cellvm-dev-blk", dir);
		for (size_t i = 0; i < sizeof(dev_modes) / sizeof(dev_modes[0]); i++) {
			char name[128];

			unlink(link);
			if (symlink(self, link) < 0)
				break;
			snprintf(name, sizeof(name), "launcher vs device: %s", dev_modes[i]);
			run_launcher(bin_dir, dir, kernel, disk, "CELLVM_FAKE_DEVICE", dev_modes[i],
				     name, "broke the protocol");
		}
		unlink(link);
	}
	if (img >= 0)
		close(img);
	unlink(disk);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *fake = getenv("CELLVM_FAKE_CORE");
	const char *fake_dev = getenv("CELLVM_FAKE_DEVICE");
	char path[4096];
	struct stat st;

	if (fake)
		return fake_core(fake);
	if (fake_dev)
		return fake_device(fake_dev);
	if (argc != 3) {
		fprintf(stderr, "usage: hostile_peer BIN_DIR KERNEL\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	attack_last_words();
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
			attack_running(argv[1], argv[2]);
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
