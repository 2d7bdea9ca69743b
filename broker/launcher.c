/* Launcher; see launcher.h. Opens /dev/kvm, the kernel and initrd, creates the
 * sealed guest-RAM memfd, and passes them to cellvm-core in CoreSetup. Messages
 * from the core are untrusted: anything but Ready/Stopped ends it. */
#include "broker/launcher.h"

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

#include "proto/ipc.h"
#include "proto/vm_channel.h"

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

static int launcher_memfd(uint64_t size)
{
	int fd = memfd_create("cellvm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void launcher_exec_child(const char *path, int chan)
{
	char *const argv[] = {(char *)"cellvm-core", NULL};
	int devnull;

	/* The core must not outlive the process that supervises it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(chan, LAUNCHER_CHILD_CHANNEL_FD) < 0)
		_exit(127);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		/* stdout stays free of anything but the console, which is the launcher's */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	}
	/* Exactly one inherited fd besides stdio: the channel. */
	syscall(SYS_close_range, LAUNCHER_CHILD_CHANNEL_FD + 1, ~0U, 0);
	execve(path, argv, environ);
	_exit(127);
}

static int launcher_open_resources(const struct core_config *cfg, int *fds, size_t *nfds,
				   char *err, size_t errlen)
{
	const char *what = "/dev/kvm";
	int r;

	fds[0] = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fds[0] < 0)
		goto fail;
	what = "guest memory";
	fds[1] = launcher_memfd(cfg->memory);
	if (fds[1] < 0) {
		errno = -fds[1];
		goto fail;
	}
	what = cfg->kernel;
	fds[2] = open(cfg->kernel, O_RDONLY | O_CLOEXEC);
	if (fds[2] < 0)
		goto fail;
	/* fds[3] (console) is filled in by the caller. */
	*nfds = 4;
	if (cfg->initrd) {
		what = cfg->initrd;
		fds[4] = open(cfg->initrd, O_RDONLY | O_CLOEXEC);
		if (fds[4] < 0)
			goto fail;
		*nfds = 5;
	}
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return r;
}

static int launcher_send_setup(const struct core_config *cfg, int chan, const int *fds,
			       size_t nfds)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreSetup s = CELLVM__VM__CORE_SETUP__INIT;

	s.cpus = cfg->cpus;
	s.memory_bytes = cfg->memory;
	s.cmdline = (char *)(cfg->cmdline ? cfg->cmdline : "");
	s.has_initrd = cfg->initrd != NULL;
	s.log_level = cfg->debug ? 1 : 0;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_SETUP;
	m.setup = &s;
	return vm_channel_send(chan, &m, fds, nfds);
}

/* Wait for Ready; a Stopped or the core's exit first is a start failure. */
static int launcher_wait_ready(struct core_proc *p, char *err, size_t errlen, int *ret_status)
{
	struct pollfd pfd[2] = {{.fd = p->chan, .events = POLLIN}, {.fd = p->pidfd, .events = POLLIN}};
	int n = poll(pfd, 2, LAUNCHER_READY_TIMEOUT_MS);
	Cellvm__Vm__VmMessage *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	int r;

	if (n == 0) {
		snprintf(err, errlen, "cellvm-core did not become ready in %d ms",
			 LAUNCHER_READY_TIMEOUT_MS);
		return -ETIMEDOUT;
	}
	if (n < 0)
		return -errno;
	r = vm_channel_recv(p->chan, &m, fds, IPC_MAX_FDS, &nfds);
	if (r < 0 || nfds) {
		ipc_close_fds(fds, nfds);
		if (m)
			cellvm__vm__vm_message__free_unpacked(m, NULL);
		*ret_status = launcher_wait_core(p);
		snprintf(err, errlen, "cellvm-core exited during setup (status %d)", *ret_status);
		return -ECHILD;
	}
	if (m->msg_case == CELLVM__VM__VM_MESSAGE__MSG_READY) {
		cellvm__vm__vm_message__free_unpacked(m, NULL);
		return 0;
	}
	if (m->msg_case == CELLVM__VM__VM_MESSAGE__MSG_STOPPED)
		snprintf(err, errlen, "%s", m->stopped->detail ? m->stopped->detail : "stopped");
	else
		snprintf(err, errlen, "cellvm-core broke the protocol during setup");
	cellvm__vm__vm_message__free_unpacked(m, NULL);
	*ret_status = launcher_wait_core(p);
	return -ECHILD;
}

int launcher_start_core(const struct core_config *cfg, struct core_proc *ret, char *err,
			size_t errlen, int *ret_status)
{
	int fds[5] = {-1, -1, -1, -1, -1};
	int chan[2] = {-1, -1}, cons[2] = {-1, -1};
	char dir[PATH_MAX], path[PATH_MAX + 32];
	size_t nfds = 0;
	pid_t pid;
	int r;

	*ret_status = -1;
	*ret = (struct core_proc){.pid = -1, .pidfd = -1, .chan = -1, .console = -1};
	r = launcher_bin_dir(dir, sizeof(dir));
	if (r < 0) {
		snprintf(err, errlen, "cannot find the cellvm binaries: %s", strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/cellvm-core", dir);
	r = launcher_open_resources(cfg, fds, &nfds, err, errlen);
	if (r < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cons) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto out;
	}
	fds[3] = cons[1];
	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		launcher_exec_child(path, chan[1]);
	ret->pid = pid;
	ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ret->chan = chan[0];
	ret->console = cons[0];
	chan[0] = cons[0] = -1;
	if (ret->pidfd < 0) {
		r = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		goto kill;
	}
	r = launcher_send_setup(cfg, ret->chan, fds, nfds);
	if (r < 0) {
		snprintf(err, errlen, "cannot hand resources to cellvm-core (%s): is %s there?",
			 strerror(-r), path);
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
	ipc_close_fds(fds, 5);
	ipc_close_fds(chan, 2);
	ipc_close_fds(cons, 1);
	return r;
}

int launcher_wait_core(struct core_proc *p)
{
	int status;

	if (p->pid <= 0)
		return -1;
	while (waitpid(p->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	p->pid = -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

void launcher_close(struct core_proc *p)
{
	int fds[3] = {p->pidfd, p->chan, p->console};

	ipc_close_fds(fds, 3);
	p->pidfd = p->chan = p->console = -1;
}
