/* Launcher; see launcher.h. Opens /dev/kvm, the kernel and initrd, creates the
 * sealed guest-RAM memfd, starts device processes and cellvm-core with
 * fork+exec (only the channel inherited), and hands them their resources.
 * Messages from children are untrusted: a dispatch table says what each may
 * send when, and anything else ends that child. */
#include "launcher/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "proto/ipc.h"
#include "proto/vm_channel.h"
#ifdef CELLVM_HAVE_SANDBOX
#include "sandbox/sandbox.h"
#endif

/* Root inside a child's user namespace is this unprivileged id outside,
 * unless the front end gives its VM one of its own (struct launcher_jail). */
#define LAUNCHER_CHILD_UID 65534
#define LAUNCHER_CHILD_GID 65534

#define LAUNCHER_DEVICE_MAX_MSG 16384

int launcher_bin_dir(char *buf, size_t len)
{
	const char *env = getenv("CELLVM_LIBEXEC");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if ((size_t)snprintf(buf, len, "%s", env) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if ((size_t)snprintf(buf, len, "%s", exe) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int launcher_create_memory(uint64_t size)
{
	int fd = memfd_create("cellvm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	/* Every process maps this memfd: its size must never change under them. */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void launcher_exec_child(int exe, const char *argv0, int chan, int sync, int log,
				bool outlive_parent)
{
	char *const argv[] = {(char *)argv0, NULL};
	sigset_t none;
	char go;
	int devnull;

	/* The signal mask is inherited across execve: a child starts with
	 * none blocked (cellvm run blocks SIGTERM for its signalfd). */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A child must not outlive the process that supervises it, unless that
	 * process hands its supervision on (the broker's keepers). */
	if (!outlive_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Wait until the launcher has mapped our user namespace's ids. */
	if (read(sync, &go, 1) != 1)
		_exit(127);
#ifdef CELLVM_HAVE_SANDBOX
	/* Become the namespace's root, which is an unprivileged id outside;
	 * exec then gives us capabilities inside our namespaces only. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		_exit(127);
#endif
	/* Its own stderr where the front end reads each process apart. */
	if (log >= 0 && dup2(log, STDERR_FILENO) < 0)
		_exit(127);
	if (dup2(chan, LAUNCHER_CHILD_CHANNEL_FD) < 0)
		_exit(127);
	/* The binary was opened by the launcher: the child, an unprivileged id
	 * by now, needs no search permission on the directories above it. */
	if (dup2(exe, LAUNCHER_CHILD_CHANNEL_FD + 1) < 0 ||
	    fcntl(LAUNCHER_CHILD_CHANNEL_FD + 1, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		/* stdout stays free of anything but the console, which is the launcher's */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	}
	/* Exactly one inherited fd besides stdio: the channel (the binary's fd
	 * is close-on-exec). */
	syscall(SYS_close_range, LAUNCHER_CHILD_CHANNEL_FD + 2, ~0U, 0);
	syscall(SYS_execveat, LAUNCHER_CHILD_CHANNEL_FD + 1, "", argv, environ, AT_EMPTY_PATH);
	_exit(127);
}

/* Its stderr pipe where jail asks for one: the read end in *ret_log, the
 * write end to give the child in log[1]. Both non-blocking: the front end's
 * loop must never wait on a child, and no child may wait on the front end (a
 * device that stalled on a full pipe would stall its guest's I/O, and one
 * before its Ready, its boot). A child whose pipe is full loses the line
 * (EAGAIN; a line up to PIPE_BUF goes whole or not at all). 0, or -errno. */
static int launcher_log_pipe(const struct launcher_jail *jail, int log[2], int *ret_log)
{
	if (!jail || !jail->log_pipe)
		return 0;
	if (pipe2(log, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(log[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(log[1], F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;
		ipc_close_fds(log, 2);
		return r;
	}
	*ret_log = log[0];
	log[0] = -1;
	return 0;
}

/* Start bin_dir/name with child_chan as its fd 3, as jail says (NULL: 65534,
 * our own cgroup, our stderr); its stderr pipe's read end in *ret_log. */
int launcher_spawn(const char *name, int child_chan, const struct launcher_jail *jail,
		   pid_t *ret_pid, int *ret_pidfd, int *ret_log, char *err, size_t errlen)
{
	int log[2] = {-1, -1};
	char dir[PATH_MAX], path[PATH_MAX + 64];
	uid_t uid = jail ? jail->uid : LAUNCHER_CHILD_UID;
	gid_t gid = jail ? jail->gid : LAUNCHER_CHILD_GID;
	int cgroup_fd = jail ? jail->cgroup_fd : -1;
	int sync[2], exe;
	pid_t pid;
	int r;

	r = launcher_bin_dir(dir, sizeof(dir));
	if (r < 0) {
		snprintf(err, errlen, "cannot find the cellvm binaries: %s", strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	exe = open(path, O_PATH | O_CLOEXEC);
	if (exe < 0 || access(path, X_OK) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (exe >= 0)
			close(exe);
		/* Our own binary missing is an installation problem, not bad input. */
		return -ELIBACC;
	}
	r = launcher_log_pipe(jail, log, ret_log);
	if (r < 0 || pipe2(sync, O_CLOEXEC) < 0) {
		r = r < 0 ? r : -errno;
		snprintf(err, errlen, "pipe: %s", strerror(-r));
		close(exe);
		ipc_close_fds(log, 2);
		return r;
	}
#ifdef CELLVM_HAVE_SANDBOX
	/* New user, pid, mount, ipc, uts and net namespaces from the start, and
	 * the VM's cgroup (its pids.max may refuse the clone: EAGAIN). */
	pid = sandbox_fork_cgroup(cgroup_fd);
#else
	(void)uid;
	(void)gid;
	(void)cgroup_fd;
	pid = fork();
#endif
	if (pid < 0) {
		r = pid == -1 ? -errno : (int)pid;
		snprintf(err, errlen, "fork%s: %s", cgroup_fd >= 0 ? " into the VM's cgroup" : "",
			 strerror(-r));
		close(sync[0]);
		close(sync[1]);
		close(exe);
		ipc_close_fds(log, 2);
		return r;
	}
	if (pid == 0)
		launcher_exec_child(exe, name, child_chan, sync[0], log[1],
				    jail && jail->outlive_parent);
	close(sync[0]);
	close(exe);
	/* Only the child holds the write end: its exit shows as EOF. */
	ipc_close_fds(log, 2);
#ifdef CELLVM_HAVE_SANDBOX
	r = sandbox_map_ids(pid, uid, gid);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot map its user namespace: %s", name, strerror(-r));
		close(sync[1]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
#endif
	(void)!write(sync[1], "g", 1);
	close(sync[1]);
	*ret_pid = pid;
	*ret_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (*ret_pidfd < 0) {
		r = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	return 0;
}

static int launcher_reap(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return -1;
	while (waitpid(*pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	*pid = -1;
	return launcher_exit_status(status);
}

/* Written before the first start (before the broker's launcher threads
 * exist), read by every start after. */
static int launcher_ready_ms = LAUNCHER_READY_TIMEOUT_MS;

void launcher_set_ready_timeout_ms(int ms)
{
	launcher_ready_ms = ms < LAUNCHER_READY_TIMEOUT_MIN   ? LAUNCHER_READY_TIMEOUT_MIN
			    : ms > LAUNCHER_READY_TIMEOUT_MAX ? LAUNCHER_READY_TIMEOUT_MAX
							      : ms;
}

int launcher_ready_timeout_ms(void)
{
	return launcher_ready_ms;
}

int launcher_wait_chan(int chan, int pidfd, const char *who, char *err, size_t errlen)
{
	struct pollfd pfd[2] = {{.fd = chan, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
	int ms = launcher_ready_timeout_ms();
	int n = poll(pfd, 2, ms);

	if (n == 0) {
		snprintf(err, errlen, "%s did not become ready in %d ms", who, ms);
		return -ETIMEDOUT;
	}
	if (n < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: waiting for Ready: %s", who, strerror(e));
		return -e;
	}
	if (!(pfd[0].revents & (POLLIN | POLLHUP))) {
		snprintf(err, errlen, "%s exited before it was ready", who);
		return -ECHILD;
	}
	return 0;
}

/* ---- core ---- */

/* The core's copy of a kernel or initrd: a dup of the front end's fd, or the
 * caller's own path opened here. O_NONBLOCK: a FIFO named as the kernel must
 * not hang the launcher (the core refuses anything but a regular file). The
 * core maps the file (MAP_PRIVATE from offset 0): the shared offset of a dup
 * does not matter. Returns the fd, or -1 with errno set. */
static int launcher_open_file(int fd, const char *path)
{
	if (fd > 0)
		return fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (!path) {
		errno = EBADF;
		return -1;
	}
	return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

static bool launcher_has_fw_kernel(const struct core_config *cfg)
{
	return cfg->has_firmware && (cfg->fw_kernel_fd > 0 || cfg->fw_kernel);
}

static int launcher_open_resources(const struct core_config *cfg, int *fds, size_t *nfds, char *err,
				   size_t errlen)
{
	const char *what = "/dev/kvm";
	int r;

	fds[0] = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fds[0] < 0)
		goto fail;
	fds[1] = dup(cfg->mem_fd);
	what = "guest memory";
	if (fds[1] < 0)
		goto fail;
	what = cfg->kernel_fd > 0 || !cfg->kernel ? (cfg->has_firmware ? "firmware" : "kernel")
						  : cfg->kernel;
	fds[2] = launcher_open_file(cfg->kernel_fd, cfg->kernel);
	if (fds[2] < 0)
		goto fail;
	/* fds[3] (console) is filled in by the caller. */
	*nfds = 4;
	if (cfg->initrd_fd > 0 || cfg->initrd) {
		what = cfg->initrd_fd > 0 ? "initrd" : cfg->initrd;
		fds[4] = launcher_open_file(cfg->initrd_fd, cfg->initrd);
		if (fds[4] < 0)
			goto fail;
		*nfds = 5;
	}
	if (launcher_has_fw_kernel(cfg)) {
		what = cfg->fw_kernel_fd > 0 ? "kernel" : cfg->fw_kernel;
		fds[*nfds] = launcher_open_file(cfg->fw_kernel_fd, cfg->fw_kernel);
		if (fds[*nfds] < 0)
			goto fail;
		(*nfds)++;
	}
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return r;
}

static int launcher_send_setup(const struct core_config *cfg, int chan, const int *fds, size_t nfds)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreSetup s = CELLVM__VM__CORE_SETUP__INIT;
	Cellvm__Vm__CoreDevice devs[LAUNCHER_MAX_DEVICES], *pdevs[LAUNCHER_MAX_DEVICES];

	s.cpus = cfg->cpus;
	s.memory_bytes = cfg->memory;
	s.has_firmware = cfg->has_firmware;
	s.has_fw_kernel = launcher_has_fw_kernel(cfg);
	s.cmdline = (char *)(cfg->cmdline && (!cfg->has_firmware || s.has_fw_kernel) ? cfg->cmdline
										     : "");
	s.no_acpi = cfg->no_acpi;
	s.has_initrd = cfg->initrd_fd > 0 || cfg->initrd != NULL;
	s.log_level = cfg->debug ? 1 : 0;
	s.test_flags = cfg->test_flags;
	for (size_t i = 0; i < cfg->ndevices; i++) {
		cellvm__vm__core_device__init(&devs[i]);
		devs[i].kind = (char *)cfg->device_kinds[i];
		devs[i].transport = (char *)(cfg->device_transports && cfg->device_transports[i]
						     ? cfg->device_transports[i]
						     : "mmio");
		/* The input, gpu and snd devices are not restarted
		 * (launcher_dev_restartable; the kinds are its table's names). */
		devs[i].restartable = cfg->restart_devices && strcmp(devs[i].kind, "input") != 0 &&
				      strcmp(devs[i].kind, "gpu") != 0 &&
				      strcmp(devs[i].kind, "snd") != 0;
		pdevs[i] = &devs[i];
	}
	s.n_devices = cfg->ndevices;
	s.devices = pdevs;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
	m.setup = &s;
	return vm_channel_send(chan, &m, fds, nfds);
}

/* Reap a child that broke its protocol or went quiet: a second's grace for
 * one that is already exiting, then SIGKILL. Returns its status, or -1 when
 * it had to be killed. */
static int launcher_drop_child(pid_t *pid, int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	if (*pid <= 0)
		return -1;
	if (pidfd < 0 || poll(&pfd, 1, 1000) <= 0) {
		kill(*pid, SIGKILL);
		launcher_reap(pid);
		return -1;
	}
	return launcher_reap(pid);
}

/* Where a core is in its protocol, as its launcher sees it: starting (until
 * Ready), then running (until Stopped). */
enum { CORE_STARTING, CORE_RUNNING };

/* What the core's message said. */
struct launcher_core_msg {
	bool ready, stopped;
	char *detail; /* CoreStopped's detail goes here */
	size_t len;
};

static int launcher_on_core_ready(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct launcher_core_msg *cm = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	cm->ready = true;
	return 0;
}

static int launcher_on_core_stopped(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__CoreStopped *st = msg;
	struct launcher_core_msg *cm = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(core): the detail is text for a message, nothing more. */
	if (cm->len)
		snprintf(cm->detail, cm->len, "%s", st->detail ? st->detail : "stopped");
	cm->stopped = true;
	return 0;
}

/* What a core may send, when: CoreReady once, while starting; CoreStopped
 * once, while starting (it refused its input) or running (the VM ended).
 * Never fds. */
static const struct dispatch_entry launcher_core_table[] = {
	[CELLVM__VM__VM_MESSAGE__MSG_READY] = {launcher_on_core_ready,
					       DISPATCH_STATE(CORE_STARTING), DISPATCH_ONCE},
	[CELLVM__VM__VM_MESSAGE__MSG_STOPPED] = {launcher_on_core_stopped,
						 DISPATCH_STATE(CORE_STARTING) |
							 DISPATCH_STATE(CORE_RUNNING),
						 DISPATCH_ONCE},
	/* CoreSetup and DeviceRestart go the other way. */
};

static const struct dispatch_channel launcher_core_chan = {
	.envelope = &cellvm__vm__vm_message__descriptor,
	.max_len = VM_CHANNEL_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = launcher_core_table,
	.n = sizeof(launcher_core_table) / sizeof(launcher_core_table[0]),
};

/* Wait for Ready. A Stopped first is the core refusing its input (its status
 * tells why); anything else is a protocol violation and the core is dropped. */
static int launcher_wait_ready(struct core_proc *p, char *err, size_t errlen, int *ret_status)
{
	struct launcher_core_msg cm = {.detail = err, .len = errlen};
	struct dispatch d;
	int r;

	r = launcher_wait_chan(p->chan, p->pidfd, "cellvm-core", err, errlen);
	if (r < 0)
		goto drop;
	dispatch_init(&d, &launcher_core_chan, CORE_STARTING);
	/* UNTRUSTED(core): its first message, checked by launcher_core_table. */
	r = dispatch_recv(p->chan, &d, &cm);
	if (r == -ECONNRESET) {
		*ret_status = launcher_drop_child(&p->pid, p->pidfd);
		snprintf(err, errlen, "cellvm-core exited during setup (status %d)", *ret_status);
		return -ECHILD;
	}
	if (r < 0) {
		snprintf(err, errlen, "cellvm-core broke the protocol during setup (%s)",
			 dispatch_strerror(r));
		r = -EPROTO;
		goto drop;
	}
	if (cm.stopped) {
		*ret_status = launcher_drop_child(&p->pid, p->pidfd);
		return -ECHILD;
	}
	return 0;
drop:
	kill(p->pid, SIGKILL);
	launcher_reap(&p->pid);
	*ret_status = -1;
	return r;
}

int launcher_start_core(const struct core_config *cfg, struct core_proc *ret, char *err,
			size_t errlen, int *ret_status)
{
	int fds[6 + LAUNCHER_MAX_DEVICES]; /* a firmware's kernel after the initrd */
	int chan[2] = {-1, -1}, cons[2] = {-1, -1};
	size_t nfds = 0, nbase;
	int r;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		fds[i] = -1;
	*ret_status = -1;
	*ret = (struct core_proc){.pid = -1, .pidfd = -1, .chan = -1, .console = -1, .log = -1};
	if (cfg->ndevices > LAUNCHER_MAX_DEVICES) {
		snprintf(err, errlen, "at most %d devices", LAUNCHER_MAX_DEVICES);
		return -E2BIG;
	}
	/* A firmware boots from a disk, or a kernel of its own: only then an
	 * initrd (CoreSetup). */
	if (cfg->has_firmware && (cfg->initrd_fd > 0 || cfg->initrd) &&
	    !launcher_has_fw_kernel(cfg)) {
		snprintf(err, errlen, "a firmware takes an initrd only with a kernel");
		return -EINVAL;
	}
	r = launcher_open_resources(cfg, fds, &nfds, err, errlen);
	if (r < 0)
		goto out;
	nbase = nfds;
	for (size_t i = 0; i < cfg->ndevices; i++) {
		fds[nfds] = dup(cfg->devices[i].link);
		if (fds[nfds++] < 0) {
			r = -errno;
			snprintf(err, errlen, "dup: %s", strerror(errno));
			goto out;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cons) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto out;
	}
	fds[3] = cons[1];
	r = launcher_spawn("cellvm-core", chan[1], cfg->jail, &ret->pid, &ret->pidfd, &ret->log,
			   err, errlen);
	if (r < 0)
		goto out;
	/* Only the child holds its end now: its exit shows as EOF. */
	close(chan[1]);
	chan[1] = -1;
	ret->chan = chan[0];
	ret->console = cons[0];
	chan[0] = cons[0] = -1;
	(void)nbase;
	r = launcher_send_setup(cfg, ret->chan, fds, nfds);
	if (r < 0) {
		snprintf(err, errlen, "cannot hand resources to cellvm-core: %s", strerror(-r));
		*ret_status = launcher_wait_core(ret);
		goto kill;
	}
	r = launcher_wait_ready(ret, err, errlen, ret_status);
	if (r < 0)
		goto kill;
	goto out;
kill:
	if (*ret_status < 0 && ret->pid > 0) {
		kill(ret->pid, SIGKILL);
		launcher_wait_core(ret);
	}
	launcher_close(ret);
out:
	ipc_close_fds(fds, sizeof(fds) / sizeof(fds[0]));
	ipc_close_fds(chan, 2);
	ipc_close_fds(cons, 1);
	return r;
}

int launcher_core_stopped(struct core_proc *p, char *detail, size_t len)
{
	struct pollfd pfd = {.fd = p->chan, .events = POLLIN};
	struct launcher_core_msg cm = {.detail = detail, .len = len};
	struct dispatch d;
	int r;

	if (len)
		detail[0] = 0;
	if (p->chan < 0 || poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		return 0;
	dispatch_init(&d, &launcher_core_chan, CORE_RUNNING);
	/* UNTRUSTED(core): what it left on its way out, checked by
	 * launcher_core_table (only CoreStopped follows Ready). */
	r = dispatch_recv(p->chan, &d, &cm);
	if (r == -ECONNRESET)
		return 0;
	return r < 0 ? r : 1;
}

int launcher_wait_core(struct core_proc *p)
{
	return launcher_reap(&p->pid);
}

int launcher_core_device_restarted(struct core_proc *core, uint32_t index, struct device_proc *dev)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__DeviceRestart dr = CELLVM__VM__DEVICE_RESTART__INIT;
	int r;

	dr.index = index;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_DEVICE_RESTART;
	m.device_restart = &dr;
	r = vm_channel_send(core->chan, &m, &dev->link, 1);
	if (r < 0)
		return r;
	/* The core has its end now. */
	close(dev->link);
	dev->link = -1;
	return 0;
}

int launcher_core_device_gone(struct core_proc *core, uint32_t index)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__DeviceRestart dr = CELLVM__VM__DEVICE_RESTART__INIT;

	dr.index = index;
	dr.give_up = true;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_DEVICE_RESTART;
	m.device_restart = &dr;
	return vm_channel_send(core->chan, &m, NULL, 0);
}

void launcher_close(struct core_proc *p)
{
	int fds[3] = {p->pidfd, p->chan, p->console};

	ipc_close_fds(fds, 3);
	if (p->log > 0)
		close(p->log);
	p->pidfd = p->chan = p->console = p->log = -1;
}

/* ---- devices ---- */

static int launcher_device_name(const char *kind, char *buf, size_t len)
{
	/* The kind becomes part of a path: letters only. */
	if (!kind || !*kind || strlen(kind) > 16)
		return -EINVAL;
	for (const char *c = kind; *c; c++)
		if (*c < 'a' || *c > 'z')
			return -EINVAL;
	snprintf(buf, len, "cellvm-dev-%s", kind);
	return 0;
}

static int launcher_device_setup(const struct device_config *cfg, int ctl, int mem_fd,
				 const int *link_ends, size_t nlinks, uint64_t mem_size,
				 uint64_t low_size)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__DeviceSetup s = CELLVM__DEVICE__DEVICE_SETUP__INIT;
	int fds[2 + LAUNCHER_MAX_LINKS + LAUNCHER_MAX_BACKENDS];
	size_t nfds = 0;

	if (cfg->nbackend > LAUNCHER_MAX_BACKENDS)
		return -E2BIG;
	s.kind = (char *)cfg->kind;
	s.mem_size = mem_size;
	s.mem_low_size = low_size;
	s.log_level = cfg->debug ? 1 : 0;
	s.test_flags = cfg->test_flags;
	s.blk = (Cellvm__Device__BlkConfig *)cfg->blk;
	s.net = (Cellvm__Device__NetConfig *)cfg->net;
	s.input = (Cellvm__Device__InputConfig *)cfg->input;
	s.gpu = (Cellvm__Device__GpuConfig *)cfg->gpu;
	s.snd = (Cellvm__Device__SndConfig *)cfg->snd;
	s.extra_links = nlinks ? (uint32_t)nlinks - 1 : 0;
	s.no_link = nlinks == 0;
	fds[nfds++] = mem_fd;
	for (size_t i = 0; i < nlinks; i++)
		fds[nfds++] = link_ends[i];
	for (size_t i = 0; i < cfg->nbackend; i++)
		fds[nfds++] = cfg->backend_fds[i];
	if (cfg->stats_fd > 0) {
		fds[nfds++] = cfg->stats_fd;
		s.has_stats = true;
	}
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SETUP;
	m.setup = &s;
	return channel_send(ctl, &m.base, LAUNCHER_DEVICE_MAX_MSG, fds, nfds);
}

int launcher_reader_subscribe(int ctl, uint64_t id, int efd)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__CaptureSubscribe s = CELLVM__DEVICE__CAPTURE_SUBSCRIBE__INIT;

	s.id = id;
	m.nfds = 1;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SUBSCRIBE;
	m.subscribe = &s;
	return channel_send(ctl, &m.base, LAUNCHER_DEVICE_MAX_MSG, &efd, 1);
}

int launcher_reader_unsubscribe(int ctl, uint64_t id)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__CaptureUnsubscribe u = CELLVM__DEVICE__CAPTURE_UNSUBSCRIBE__INIT;

	u.id = id;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_UNSUBSCRIBE;
	m.unsubscribe = &u;
	return channel_send(ctl, &m.base, LAUNCHER_DEVICE_MAX_MSG, NULL, 0);
}

/* Where a device is in its protocol, as its launcher sees it: only its start
 * is read. */
enum { DEVICE_STARTING };

static int launcher_on_device_ready(void *ctx, const void *msg, int *fds, size_t nfds)
{
	(void)ctx;
	(void)msg;
	(void)fds;
	(void)nfds;
	return 0;
}

/* What a device may send its launcher: DeviceReady once, while it starts
 * (nothing after it is read). Never fds. */
static const struct dispatch_entry launcher_device_table[] = {
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_READY] = {launcher_on_device_ready,
							DISPATCH_STATE(DEVICE_STARTING),
							DISPATCH_ONCE},
	/* DeviceSetup goes the other way. */
};

static const struct dispatch_channel launcher_device_chan = {
	.envelope = &cellvm__device__control_message__descriptor,
	.max_len = LAUNCHER_DEVICE_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = launcher_device_table,
	.n = sizeof(launcher_device_table) / sizeof(launcher_device_table[0]),
};

int launcher_start_device(const struct device_config *cfg, int mem_fd, uint64_t mem_size,
			  uint64_t low_size, struct device_proc *ret, char *err, size_t errlen)
{
	int ctl[2] = {-1, -1}, link[2 * LAUNCHER_MAX_LINKS];
	int dev_ends[LAUNCHER_MAX_LINKS];
	size_t nlinks = cfg->no_link ? 0 : 1 + (size_t)cfg->extra_links;
	struct dispatch d;
	char name[64];
	int r;

	for (size_t i = 0; i < 2 * LAUNCHER_MAX_LINKS; i++)
		link[i] = -1;
	*ret = (struct device_proc){.pid = -1, .pidfd = -1, .ctl = -1, .link = -1, .log = -1};
	for (size_t i = 0; i < LAUNCHER_MAX_LINKS - 1; i++)
		ret->more_links[i] = -1;
	r = launcher_device_name(cfg->kind, name, sizeof(name));
	if (r < 0) {
		snprintf(err, errlen, "invalid device kind");
		return r;
	}
	if (nlinks > LAUNCHER_MAX_LINKS || (cfg->no_link && cfg->extra_links)) {
		snprintf(err, errlen, "at most %d links per device", LAUNCHER_MAX_LINKS);
		return -E2BIG;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < nlinks; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, &link[2 * i]) < 0) {
			r = -errno;
			snprintf(err, errlen, "socketpair: %s", strerror(errno));
			goto fail;
		}
		dev_ends[i] = link[2 * i + 1];
	}
	r = launcher_spawn(name, ctl[1], cfg->jail, &ret->pid, &ret->pidfd, &ret->log, err, errlen);
	if (r < 0)
		goto fail;
	close(ctl[1]);
	ctl[1] = -1;
	ret->ctl = ctl[0];
	ctl[0] = -1;
	r = launcher_device_setup(cfg, ret->ctl, mem_fd, dev_ends, nlinks, mem_size, low_size);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot hand over its setup: %s", name, strerror(-r));
		goto fail;
	}
	r = launcher_wait_chan(ret->ctl, ret->pidfd, name, err, errlen);
	if (r < 0)
		goto fail;
	dispatch_init(&d, &launcher_device_chan, DEVICE_STARTING);
	/* UNTRUSTED(device): its first message, checked by launcher_device_table. */
	r = dispatch_recv(ret->ctl, &d, NULL);
	if (r < 0) {
		if (dispatch_violation(r))
			snprintf(err, errlen, "%s broke the protocol during setup (%s)", name,
				 dispatch_strerror(r));
		else
			snprintf(err, errlen, "%s failed to start (see its messages above)", name);
		r = -ECHILD;
		goto fail;
	}
	for (size_t i = 0; i < nlinks; i++) {
		if (i == 0)
			ret->link = link[0];
		else
			ret->more_links[ret->nmore++] = link[2 * i];
		link[2 * i] = -1;
		close(link[2 * i + 1]);
		link[2 * i + 1] = -1;
	}
	ipc_close_fds(ctl, 2);
	return 0;
fail:
	launcher_stop_device(ret, SIGKILL);
	ipc_close_fds(ctl, 2);
	ipc_close_fds(link, 2 * LAUNCHER_MAX_LINKS);
	return r;
}

int launcher_stop_device(struct device_proc *p, int sig)
{
	int fds[3] = {p->pidfd, p->ctl, p->link};
	int status = -1;

	if (p->pid > 0) {
		/* A device ends by itself when its core link closes: give it a second. */
		if (sig != SIGKILL && p->pidfd >= 0) {
			struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
			if (poll(&pfd, 1, 1000) > 0)
				sig = 0;
		}
		if (sig)
			kill(p->pid, sig);
		status = launcher_reap(&p->pid);
	}
	ipc_close_fds(fds, 3);
	ipc_close_fds(p->more_links, p->nmore);
	p->nmore = 0;
	if (p->log > 0)
		close(p->log);
	p->pidfd = p->ctl = p->link = p->log = -1;
	return status;
}

/* ---- a cooperative pause ---- */

int launcher_core_pause(struct core_proc *core)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__Pause p = CELLVM__VM__PAUSE__INIT;

	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_PAUSE;
	m.pause = &p;
	return vm_channel_send(core->chan, &m, NULL, 0);
}

int launcher_core_resume(struct core_proc *core)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__Resume rs = CELLVM__VM__RESUME__INIT;

	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_RESUME;
	m.resume = &rs;
	return vm_channel_send(core->chan, &m, NULL, 0);
}

int launcher_core_power_button(struct core_proc *core)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__PowerButton pb = CELLVM__VM__POWER_BUTTON__INIT;

	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_POWER_BUTTON;
	m.power_button = &pb;
	return vm_channel_send(core->chan, &m, NULL, 0);
}
