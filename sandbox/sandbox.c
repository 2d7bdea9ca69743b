/* sandbox_enter(): the steps that turn a freshly started cellvm child into a
 * sandboxed one, in the order sandbox.h lists them. Runs in the child (core
 * or device process) before it reads any untrusted input; every step says
 * what it takes away. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"

/* New fds a kind may still get after the sandbox, beyond those it keeps.
 * Room for a whole channel message's fds first (IPC_MAX_FDS, 64: a device's
 * Attach brings up to 50), or recvmsg() truncates it (MSG_CTRUNC). */
static const unsigned sandbox_fd_slack[SANDBOX_KIND_COUNT] = {
	[SANDBOX_CORE] = 512,	 /* messages, eventfds for devices (49 each) */
	[SANDBOX_DEV_BLK] = 128, /* messages, its io_uring ring and eventfd */
	[SANDBOX_DEV_NET] = 128, /* messages; its taps and timerfds are kept fds */
};

static int sandbox_check_keep(const int *keep, size_t nkeep, int *ret_max)
{
	int max = STDERR_FILENO;

	for (size_t i = 0; i < nkeep; i++) {
		if (keep[i] < 0 || fcntl(keep[i], F_GETFD) < 0)
			return -EBADF;
		if (keep[i] > max)
			max = keep[i];
	}
	*ret_max = max;
	return 0;
}

/* The smallest kept fd >= lo, or -1. keep[] is short: no need to sort it. */
static int sandbox_next_kept(const int *keep, size_t nkeep, int lo)
{
	int best = -1;

	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] >= lo && (best < 0 || keep[i] < best))
			best = keep[i];
	return best;
}

/* Whatever the process inherited or opened and did not list is closed. */
static int sandbox_close_fds(const int *keep, size_t nkeep)
{
	int lo = STDERR_FILENO + 1;

	for (;;) {
		int k = sandbox_next_kept(keep, nkeep, lo);

		if (k < 0)
			return close_range((unsigned)lo, ~0U, 0) < 0 ? -errno : 0;
		if (k > lo && close_range((unsigned)lo, (unsigned)k - 1, 0) < 0)
			return -errno;
		lo = k + 1;
	}
}

static int sandbox_set_rlimits(enum sandbox_kind kind, int max_fd)
{
	struct rlimit none = {0, 0}, nofile;
	rlim_t want = (rlim_t)max_fd + 1 + sandbox_fd_slack[kind];

	/* No core files: they would hold guest memory. */
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return -errno;
	/* A compromised process cannot hoard fds (hard limit too: no way back). */
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return -errno;
	if (want < nofile.rlim_max)
		nofile.rlim_max = want;
	nofile.rlim_cur = nofile.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return -errno;
	/* Not RLIMIT_NPROC: vCPU threads and io_uring's io-wq workers count
	 * against it. Not RLIMIT_FSIZE either: stderr may be a regular file,
	 * and a log line would then end the process with SIGXFSZ; no file can
	 * be opened anyway. */
	return 0;
}

static int sandbox_drop_privileges(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {{0}};

	/* Root inside never means capabilities again, even across exec. */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return -errno;
	/* Nothing can come back from the bounding set... */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	/* ...nor from the ambient set... */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	/* ...and nothing is left: effective, permitted, inheritable. */
	if (syscall(SYS_capset, &hdr, none) < 0)
		return -errno;
	/* No setuid or file-capability gains; also what Landlock and seccomp
	 * need without CAP_SYS_ADMIN. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* No core dumps (not even to a core_pattern pipe) and no ptrace or
	 * /proc/PID/mem from other processes of the same unprivileged uid. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int sandbox_enter(enum sandbox_kind kind, const int *keep, size_t nkeep)
{
	bool landlock;
	int r, max_fd;

	if ((unsigned)kind >= SANDBOX_KIND_COUNT || (nkeep && !keep))
		return -EINVAL;
	r = sandbox_check_keep(keep, nkeep, &max_fd);
	if (r < 0)
		return r;
	r = sandbox_ns_check();
	if (r < 0)
		return r;
	r = sandbox_ns_become_root();
	if (r < 0)
		return r;
	r = sandbox_ns_empty_root();
	if (r < 0)
		return r;
	/* Cosmetic: the host's name is none of the guest's business. */
	if (sethostname("cellvm", 6) < 0)
		return -errno;
	r = sandbox_close_fds(keep, nkeep);
	if (r < 0)
		return r;
	r = sandbox_set_rlimits(kind, max_fd);
	if (r < 0)
		return r;
	r = sandbox_drop_privileges();
	if (r < 0)
		return r;
	r = sandbox_landlock_restrict(&landlock);
	if (r < 0)
		return r;
	/* Last: every step above needed system calls the filter forbids. */
	r = sandbox_seccomp_load(kind);
	if (r < 0)
		return r;
	return landlock ? 0 : SANDBOX_NO_LANDLOCK;
}
