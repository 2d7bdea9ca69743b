/* sandbox_enter(): the steps that turn a freshly started cellvm child into a
 * sandboxed one, in the order sandbox.h lists them. Runs in the child (core
 * or device process) before it reads any untrusted input; every step says
 * what it takes away. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "common/log.h"
#include "sandbox/sandbox_internal.h"

/* New fds a kind may still get after the sandbox, beyond those it keeps.
 * Room for a whole channel message's fds first (IPC_MAX_FDS, 64: a device's
 * Attach brings up to 50), or recvmsg() truncates it (MSG_CTRUNC). */
static const unsigned sandbox_fd_slack[SANDBOX_KIND_COUNT] = {
	[SANDBOX_CORE] = 512,	   /* messages, eventfds for devices (49 each) */
	[SANDBOX_DEV_BLK] = 128,   /* messages, its io_uring ring and eventfd */
	[SANDBOX_DEV_NET] = 128,   /* messages; its taps and timerfds are kept fds */
	[SANDBOX_DEV_INPUT] = 128, /* messages; its links and timerfd are kept fds */
	[SANDBOX_DEV_GPU] = 128,   /* messages; the ring and eventfds are kept fds */
	[SANDBOX_DEV_SND] = 128,   /* messages, readers' eventfds, pushed sound */
	[SANDBOX_DISPLAY] = 128,   /* messages, clients (3 fds each), the pump's epoll */
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

/* The address space mapped now (guest RAM included), from /proc while the
 * process still sees it. 0 if unknown. */
static uint64_t sandbox_vm_bytes(void)
{
	char buf[128];
	unsigned long long pages = 0;

	if (fd_read_file_at(AT_FDCWD, "/proc/self/statm", buf, sizeof(buf)) <= 0)
		return 0;
	if (sscanf(buf, "%llu", &pages) != 1)
		return 0;
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Lower a limit, soft and hard alike (no way back); never raise one. */
static int sandbox_lower(int res, rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		return -errno;
	if (want < rl.rlim_max)
		rl.rlim_max = want;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

/* Room beyond what is mapped at entry: allocator arenas and a stack per
 * thread (glibc: up to 64 MiB of arena and RLIMIT_STACK, 8 MiB, each), and
 * 256 MiB for the process's own growth. */
#define SANDBOX_AS_ROOM	    (256ULL << 20)
#define SANDBOX_AS_PER_TASK (80ULL << 20)

static int sandbox_set_rlimits(enum sandbox_kind kind, int max_fd, uint64_t vm_bytes,
			       struct sandbox_opts *o)
{
	uint32_t tasks = o->tasks ? o->tasks : 1;
	int r;

	/* No core files: they would hold guest memory. */
	r = sandbox_lower(RLIMIT_CORE, 0);
	/* A compromised process cannot hoard fds (hard limit too: no way back). */
	if (r == 0)
		r = sandbox_lower(RLIMIT_NOFILE, (rlim_t)max_fd + 1 + sandbox_fd_slack[kind]);
	/* Rings and memory are set up before: nothing is pinned afterwards. */
	if (r == 0)
		r = sandbox_lower(RLIMIT_MEMLOCK, 0);
	/* No fork; only the threads the kind says it runs (vCPUs, io_uring's
	 * workers). Counted per user of the process's user namespace (root
	 * of its own, 65534 outside): only this process's tasks count. */
	if (r == 0)
		r = sandbox_lower(RLIMIT_NPROC, tasks);
	/* The disk image may not grow past its size: a write beyond it fails
	 * with EFBIG (SIGXFSZ ignored), which the guest sees as an I/O error.
	 * A log line to a regular-file stderr already past that size fails
	 * the same way instead of killing the process. */
	if (r == 0 && o->limit_file_size) {
		if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
			return -errno;
		r = sandbox_lower(RLIMIT_FSIZE, (rlim_t)o->file_size);
	}
#ifndef CELLVM_SANITIZER_RUNTIME
	/* Sanitizer builds: none (their shadow memory reserves terabytes). */
	if (r == 0 && vm_bytes) {
		o->as_limit = vm_bytes + SANDBOX_AS_ROOM + SANDBOX_AS_PER_TASK * tasks;
		r = sandbox_lower(RLIMIT_AS, o->as_limit);
	}
#else
	(void)vm_bytes;
#endif
	return r;
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

static void sandbox_describe(struct sandbox_opts *o)
{
	char ll[24];

	if (o->landlock_abi > 0)
		snprintf(ll, sizeof(ll), "landlock:%d", o->landlock_abi);
	else
		snprintf(ll, sizeof(ll), "landlock:none");
	snprintf(o->layers, sizeof(o->layers),
		 "namespaces seccomp %s no_new_privs rlimits(core nofile memlock nproc:%u%s%s)", ll,
		 o->tasks ? o->tasks : 1, o->limit_file_size ? " fsize" : "",
		 o->as_limit ? " as" : "");
}

int sandbox_enter_opts(enum sandbox_kind kind, const int *keep, size_t nkeep,
		       struct sandbox_opts *opts)
{
	struct sandbox_opts none = {0}, *o = opts ? opts : &none;
	uint64_t vm_bytes;
	int r, max_fd;

	o->landlock_abi = 0;
	o->as_limit = 0;
	o->layers[0] = 0;
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
	vm_bytes = sandbox_vm_bytes();
	r = sandbox_ns_empty_root();
	if (r < 0)
		return r;
	/* Cosmetic: the host's name is none of the guest's business. */
	if (sethostname("cellvm", 6) < 0)
		return -errno;
	r = sandbox_close_fds(keep, nkeep);
	if (r < 0)
		return r;
	r = sandbox_set_rlimits(kind, max_fd, vm_bytes, o);
	if (r < 0)
		return r;
	r = sandbox_drop_privileges();
	if (r < 0)
		return r;
	r = sandbox_landlock_restrict(&o->landlock_abi);
	if (r < 0)
		return r;
	/* Last: every step above needed system calls the filter forbids. */
	r = sandbox_seccomp_load(kind);
	if (r < 0)
		return r;
	sandbox_describe(o);
	sandbox_title_set(o->layers);
	return o->landlock_abi ? 0 : SANDBOX_NO_LANDLOCK;
}

int sandbox_enter(enum sandbox_kind kind, const int *keep, size_t nkeep)
{
	return sandbox_enter_opts(kind, keep, nkeep, NULL);
}

void sandbox_log_layers(int r, const struct sandbox_opts *o)
{
	if (r & SANDBOX_NO_LANDLOCK)
		log_warn("sandbox: NO LANDLOCK on this kernel: paths are closed only by the "
			 "empty root and seccomp (also through io_uring)");
	log_info("sandbox: %s", o->layers);
}
