/* Namespaces of a sandboxed process: the launcher side (sandbox_fork,
 * sandbox_map_ids; root, in the broker) and the child's own steps (its ids,
 * an empty read-only root). Nothing here reads untrusted input: the child
 * has not received any yet. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "sandbox/sandbox_internal.h"

#define SANDBOX_NS_FLAGS                                                                           \
	(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)
#define SANDBOX_MAP_WAIT_S 10 /* how long a child waits for sandbox_map_ids() */

unsigned long sandbox_clone_flags(void)
{
	return SANDBOX_NS_FLAGS;
}

/* Raw system calls: they change this thread's credentials only, without
 * glibc's all-threads broadcast, which the thread list it inherited from
 * the parent would confuse. */
int sandbox_ns_become_root(void)
{
	if (syscall(SYS_setresgid, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_setresuid, 0, 0, 0) < 0)
		return -errno;
	/* The host's groups (root's gid 0 among them) would otherwise stay. */
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return -errno;
	return 0;
}

/* In the child: -EINVAL from setresgid/setresuid means "not mapped yet". */
static void sandbox_ns_wait_ids(void)
{
	struct timespec start, now, pause = {0, 20 * 1000};

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (sandbox_ns_become_root() == -EINVAL) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= SANDBOX_MAP_WAIT_S)
			return; /* sandbox_enter() will fail with EINVAL */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 1000 * 1000)
			pause.tv_nsec *= 2;
	}
}

pid_t sandbox_fork(void)
{
	return sandbox_fork_cgroup(-1);
}

/* Move a child that waits for its ids into cgroup_fd (cgroup.procs). */
static int sandbox_ns_move(pid_t pid, int cgroup_fd)
{
	char s[16];
	int fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC), r = 0;
	int len = snprintf(s, sizeof(s), "%d", (int)pid);

	if (fd < 0)
		return -errno;
	if (write(fd, s, (size_t)len) != len)
		r = -errno;
	close(fd);
	return r;
}

pid_t sandbox_fork_cgroup(int cgroup_fd)
{
	bool cloned_into = true;
	long pid = -1;

	errno = ENOSYS;
	if (cgroup_fd >= 0) {
		/* clone3 with CLONE_INTO_CGROUP: the child is never counted in the
		 * launcher's cgroup, not even until its exec (stack 0: like fork). */
		struct clone_args args = {.flags = SANDBOX_NS_FLAGS | CLONE_INTO_CGROUP,
					  .exit_signal = SIGCHLD,
					  .cgroup = (uint64_t)cgroup_fd};

		pid = syscall(SYS_clone3, &args, sizeof(args));
	}
	/* systemd's RestrictNamespaces= answers clone3 with ENOSYS (its filter
	 * cannot see clone3's flags): clone, and move the child before it is
	 * let go (it waits for its ids). A move is not refused by pids.max, a
	 * clone3 into the cgroup would be; the child's own threads still are. */
	if (pid < 0 && errno == ENOSYS) {
		cloned_into = false;
		pid = syscall(SYS_clone, SANDBOX_NS_FLAGS | SIGCHLD, NULL, NULL, NULL, 0);
	}
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sandbox_ns_wait_ids();
		return 0;
	}
	if (cgroup_fd >= 0 && !cloned_into) {
		int r = sandbox_ns_move((pid_t)pid, cgroup_fd);

		if (r < 0) {
			kill((pid_t)pid, SIGKILL);
			while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
				;
			return r;
		}
	}
	return (pid_t)pid;
}

static int sandbox_ns_write(pid_t pid, const char *file, const char *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	/* The kernel takes a map in one write or not at all. */
	return fd_write_file_at(AT_FDCWD, path, s);
}

int sandbox_map_ids(pid_t child, uid_t uid, gid_t gid)
{
	char map[64];
	int r;

	if (child <= 0)
		return -EINVAL;
	/* gid first: the child waits for uid_map, the last one written. */
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	r = sandbox_ns_write(child, "gid_map", map);
	if (r < 0)
		return r;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	return sandbox_ns_write(child, "uid_map", map);
}

#ifdef CELLVM_SANITIZER_RUNTIME
/* What the sanitizer runtime would need from the file system later, done
 * while /proc is still there (on a /proc of our own pid namespace, so that
 * thread ids are ours):
 *  - LeakSanitizer's end-of-process check needs /proc and ptrace: it would
 *    die by SIGSYS at exit. Run it now instead, which also switches the one
 *    at exit off; leaks made from here on go unreported.
 *  - A report finds its frames' modules in /proc/self/maps and, with GCC's
 *    runtime, their file:line in the binaries' debug info, read in process
 *    (libbacktrace): load both now, and a report from inside the sandbox is
 *    complete. clang's runtime symbolizes in an llvm-symbolizer subprocess,
 *    which the sandbox forbids: there, only the module list (a report needs
 *    ASAN_OPTIONS=symbolize=0 to finish). Reading the debug info takes
 *    ~0.1 s; ASAN_OPTIONS=symbolize=0 skips it. */
extern void __lsan_do_leak_check(void) __attribute__((weak));
extern void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t len)
	__attribute__((weak));
extern int __sanitizer_get_module_and_offset_for_pc(void *pc, char *module, size_t len,
						    void **ret_offset) __attribute__((weak));

static void sandbox_ns_sanitizer_prepare(void)
{
	void *pc = __builtin_return_address(0);

	(void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (__lsan_do_leak_check)
		__lsan_do_leak_check();
#ifdef __clang__
	if (__sanitizer_get_module_and_offset_for_pc) {
		void *offset;

		(void)__sanitizer_get_module_and_offset_for_pc(pc, NULL, 0, &offset);
	}
#else
	if (__sanitizer_symbolize_pc) {
		char line[256];

		__sanitizer_symbolize_pc(pc, "%L", line, sizeof(line));
	}
#endif
}
#endif

int sandbox_ns_empty_root(void)
{
	int fs, mnt = -1, r = 0;

	/* Nothing we mount or unmount propagates to the launcher's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
#ifdef CELLVM_SANITIZER_RUNTIME
	sandbox_ns_sanitizer_prepare();
#endif
	/* A read-only tmpfs with nothing in it, not even a host directory to
	 * mount it on: it is stacked on "/" and pivoted into place. */
	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "cellvm", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		r = -errno;
		goto out;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC,
		      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
			      MOUNT_ATTR_NOSYMFOLLOW);
	if (mnt < 0 || move_mount(mnt, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
	    fchdir(mnt) < 0) {
		r = -errno;
		goto out;
	}
	/* pivot_root(".", "."): the old root ends up stacked on the new one,
	 * and is detached with everything under it (/proc, /dev, /sys...). */
	if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		r = -errno;
out:
	if (mnt >= 0)
		close(mnt);
	close(fs);
	return r;
}

/* Refuse to pivot the host's root: everything above is only safe inside a
 * user namespace of our own (then the mounts and the hostname are ours).
 * The initial namespace maps all 2^32 ids onto themselves. */
int sandbox_ns_check(void)
{
	unsigned inside, outside, count;
	char buf[128];
	ssize_t n;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (sscanf(buf, "%u %u %u", &inside, &outside, &count) == 3 && inside == 0 &&
	    outside == 0 && count == 4294967295U)
		return -EPERM;
	return 0;
}
