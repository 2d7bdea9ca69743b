/* Sandboxes for cellvm's unprivileged processes (cellvm-core, cellvm-dev-*):
 * namespaces, an empty read-only root, no capabilities, Landlock, rlimits,
 * closed fds and a seccomp allowlist per process kind; see docs/sandbox.md.
 * The launcher side (sandbox_fork, sandbox_map_ids) runs as root in the
 * broker; the child side (sandbox_enter, sandbox_uring_restrict) in the child
 * itself, before it reads anything untrusted. Returns no memory, takes no fd. */
#pragma once
#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Root inside a child's user namespace is this unprivileged id outside,
 * unless its launcher maps another (the broker: one id of its pool per VM). */
#define SANDBOX_UID_DEFAULT 65534
#define SANDBOX_GID_DEFAULT 65534

enum sandbox_kind {
	SANDBOX_CORE,	   /* cellvm-core: KVM, vCPU threads; policy_core.c */
	SANDBOX_DEV_BLK,   /* cellvm-dev-blk: io_uring disk I/O; policy_blk.c */
	SANDBOX_DEV_NET,   /* cellvm-dev-net: tap queues; policy_net.c */
	SANDBOX_DEV_INPUT, /* cellvm-dev-input: PS/2, virtio-input; policy_input.c */
	SANDBOX_DEV_GPU,   /* cellvm-dev-gpu: virtio-gpu 2D, capture ring; policy_gpu.c */
	SANDBOX_DEV_SND,   /* cellvm-dev-snd: virtio-snd, audio ring, WAV files; policy_snd.c */
	SANDBOX_DISPLAY,   /* cellvm-display: the VNC server; policy_display.c */
	SANDBOX_KIND_COUNT
};

/* What sandbox_enter() could not do on this kernel (a positive return). */
enum sandbox_degraded {
	SANDBOX_NO_LANDLOCK = 1 << 0, /* Landlock not built in or disabled at boot */
};

/* What a process asks of sandbox_enter_opts() beyond its kind, and what it
 * got. */
struct sandbox_opts {
	/* in */
	bool limit_file_size; /* set RLIMIT_FSIZE to file_size (and ignore SIGXFSZ) */
	uint64_t file_size;   /* bytes no file the process writes may grow past */
	uint32_t tasks;	      /* RLIMIT_NPROC: threads (io_uring workers count too),
			       * the process itself included; 0: 1 */
	/* out: filled by sandbox_enter_opts() as it goes */
	int landlock_abi;  /* 0: the kernel has no Landlock */
	uint64_t as_limit; /* RLIMIT_AS set, or 0 (sanitizer builds: none) */
	char layers[160];  /* "namespaces seccomp landlock:N no_new_privs rlimits",
			    * what sandbox_enter_opts() put in place */
};

/* The namespaces a child gets, as clone(2) flags: CLONE_NEWUSER|CLONE_NEWPID|
 * CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWNET. */
unsigned long sandbox_clone_flags(void);

/* Launcher side: fork(2) into sandbox_clone_flags() (raw clone, flags|SIGCHLD).
 * Returns the child's pid in the parent, 0 in the child, or -errno.
 * The child is PID 1 of its pid namespace: only SIGKILL, SIGSTOP and signals
 * it handles reach it. Before returning 0 the child waits (up to 10 s) until
 * the parent has called sandbox_map_ids(), then becomes root of its user
 * namespace (the mapped unprivileged ids outside) and drops the host's
 * supplementary groups: it runs as the unprivileged uid from then on, and
 * keeps its capabilities inside the namespace across execve(), which
 * sandbox_enter() needs for the mounts.
 * Like vfork, the child of a multi-threaded parent may only exec or call
 * async-signal-safe functions (glibc's cached thread id is the parent's). */
pid_t sandbox_fork(void);
/* sandbox_fork() into the cgroup v2 directory cgroup_fd (an O_DIRECTORY fd,
 * not taken): clone3 with CLONE_INTO_CGROUP, so the child starts there and
 * its cgroup's limits (pids.max...) apply to the clone itself. cgroup_fd < 0:
 * sandbox_fork(). */
pid_t sandbox_fork_cgroup(int cgroup_fd);

/* Launcher side, right after sandbox_fork(): map root inside the child's user
 * namespace to uid/gid outside ("0 UID 1"; SANDBOX_UID_DEFAULT and
 * SANDBOX_GID_DEFAULT unless there is a reason). setgroups is not denied:
 * the writer is privileged and only one gid is mapped, and the child must
 * be able to drop the host's supplementary groups. Returns 0 or -errno. */
int sandbox_map_ids(pid_t child, uid_t uid, gid_t gid);

/* Child side, once it holds every fd it will ever need, before it reads
 * untrusted input; must be called while single-threaded, in a child of
 * sandbox_fork() (-EPERM in the host's user namespace). In order:
 *  1. ids: root of the user namespace, no supplementary groups;
 *  2. mounts: all private, an empty read-only tmpfs (ro,nosuid,nodev,noexec,
 *     nosymfollow) becomes the root through pivot_root, the old root with
 *     everything under it is detached;
 *  3. hostname "cellvm" (cosmetic);
 *  4. every fd above 2 not in keep[] (any order, duplicates fine) is closed;
 *     -EBADF if a kept fd is not open;
 *  5. rlimits: RLIMIT_CORE 0, RLIMIT_NOFILE the highest kept fd + 1 + a
 *     per-kind slack (a channel message's fds and more), RLIMIT_MEMLOCK 0
 *     (rings are made before: nothing is pinned later), RLIMIT_NPROC
 *     opts->tasks (1 by default: no fork, no thread), RLIMIT_FSIZE only
 *     when asked (opts->limit_file_size), RLIMIT_AS the address space in
 *     use + room for the tasks' stacks and arenas (not in sanitizer builds:
 *     their shadow memory reserves terabytes);
 *  6. capabilities: securebits locked (root means nothing), bounding set,
 *     ambient, effective, permitted, inheritable all empty; no_new_privs;
 *     not dumpable (no core dump of guest RAM, no ptrace or /proc/PID/mem by
 *     other processes of the same unprivileged uid; root outside still reads
 *     /proc/PID);
 *  7. Landlock: every access right the kernel's ABI knows handled and none
 *     granted: no file system access (and, where the ABI has them, no TCP,
 *     no abstract unix sockets or signals beyond the process);
 *  8. seccomp: the allowlist of `kind`, default action kill-process, last.
 * Returns 0 when every layer is in place, a positive mask of enum
 * sandbox_degraded when the kernel lacks one (the caller decides whether to
 * log it), or -errno (the caller must exit: the process is half-closed).
 * Test builds (CELLVM_TEST_HOOKS) only: CELLVM_SECCOMP_LOG=1 in the
 * environment makes the default action "log" instead of "kill".
 * ASan builds (CELLVM_SANITIZER_RUNTIME), before step 2: LeakSanitizer's
 * check runs here instead of at exit (it needs /proc and ptrace), and the
 * symbols a report needs are loaded (see sandbox_ns.c). */
int sandbox_enter(enum sandbox_kind kind, const int *keep, size_t nkeep);

/* sandbox_enter() with the limits in *opts (NULL: the defaults), which also
 * gets what was put in place. Last, the process title (/proc/PID/cmdline,
 * which root outside reads without ptrace rights, as of a non-dumpable
 * process) becomes "ARGV0 [sandbox: LAYERS]", in the argv and environment
 * area (the environment strings are moved to the heap first, as
 * setproctitle(3) does; truncated if the area is short): the broker's
 * `info` reads it (broker_vm_info.c). */
int sandbox_enter_opts(enum sandbox_kind kind, const int *keep, size_t nkeep,
		       struct sandbox_opts *opts);
/* Log, once per process start, what sandbox_enter_opts() (its result r >= 0)
 * really gave: a missing Landlock as a warning, then the layers. */
void sandbox_log_layers(int r, const struct sandbox_opts *o);

/* io_uring requests bypass seccomp, so a ring is created with
 * IORING_SETUP_R_DISABLED, its files registered (io_uring_register_files)
 * and its eventfd if any, and then this restricts it
 * (IORING_REGISTER_RESTRICTIONS) to the SQE opcodes sqe_ops[0..nops) on
 * registered files only (IOSQE_FIXED_FILE required, no other SQE flag
 * allowed), allows no io_uring_register() operation any more, and enables
 * it. Any other request completes with -EACCES. Returns 0 or -errno
 * (-EINVAL: bad arguments, -EBADFD: the ring was not created disabled,
 * -EBUSY: already restricted). */
int sandbox_uring_restrict(struct io_uring *ring, const uint8_t *sqe_ops, size_t nops);
