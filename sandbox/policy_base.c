/* seccomp rules every sandboxed cellvm process gets, composed with its
 * kind's file (policy_core.c, policy_blk.c). Runs in the sandboxed process;
 * a rule is here only if that process calls it after sandbox_enter(). The
 * tables of all policy files stay out of clang-format, which would move the
 * reasons away from their rules: one rule a line, its reason beside it. */
#include "sandbox/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* clang-format off */
static const struct sb_rule base_rules[] = {
	SB_ALLOW(read),					/* channels, eventfds, the console */
	SB_ALLOW(write),				/* channels, eventfds, log lines (stderr) */
	SB_ALLOW(writev),				/* abort(): glibc's fatal-error message */
	SB_ALLOW(close),				/* fds received and then dropped */
	SB_ALLOW(fstat),				/* the size of a received memfd */
	SB_ALLOW_ARG(newfstatat, 3, AT_EMPTY_PATH),	/* same: glibc's fstat() */
	SB_ALLOW(recvmsg),				/* channel messages, with SCM_RIGHTS */
	SB_ALLOW(sendmsg),				/* channel messages */
	SB_ALLOW(recvfrom),				/* recv(): peeking at the control channel */
	SB_ALLOW(epoll_wait),				/* event loops */
	SB_ALLOW(epoll_pwait),				/* event loops (some libcs) */
	SB_ALLOW(epoll_ctl),				/* watching fds in the loop */
	SB_ALLOW_MASKED(mmap, 2, PROT_EXEC, 0),		/* malloc, stacks, rings: not executable */
	SB_ALLOW_MASKED(mprotect, 2, PROT_EXEC, 0),	/* guard pages: never executable */
	SB_ALLOW(munmap),				/* free */
	SB_ALLOW(madvise),				/* free, thread exit (MADV_DONTNEED) */
	SB_ALLOW(mremap),				/* realloc of large blocks */
	SB_ALLOW(brk),					/* malloc */
	SB_ALLOW(futex),				/* locks, condition variables, joins */
	SB_ALLOW(rt_sigreturn),				/* returning from a signal handler */
	SB_ALLOW(rt_sigprocmask),			/* glibc around thread creation, abort() */
	SB_ALLOW(rt_sigaction),				/* abort() resets SIGABRT; kick handlers */
	SB_ALLOW_SELF(tgkill, 0),			/* raise/abort, kicks: own threads only */
	SB_ALLOW(getpid),				/* raise(), pthread_kill(), DeviceReady */
	SB_ALLOW(gettid),				/* raise() */
	SB_ALLOW(clock_gettime),			/* timeouts (when the vDSO cannot) */
	SB_ALLOW(gettimeofday),				/* same */
	SB_ALLOW(clock_nanosleep),			/* short waits */
	SB_ALLOW(nanosleep),				/* short waits */
	SB_ALLOW(restart_syscall),			/* a wait interrupted by a signal */
	SB_ALLOW(getrandom),				/* random bytes with no file to open */
	SB_ALLOW(exit),					/* a thread ends */
	SB_ALLOW(exit_group),				/* the process ends */
#ifdef CELLVM_SANITIZER_RUNTIME
	/* ASan+UBSan builds only: what their runtime calls on its own. */
	SB_ALLOW(sigaltstack),				/* ASan: a signal stack per thread */
	SB_ALLOW(sched_yield),				/* sanitizer spin locks */
	SB_ALLOW(sched_getaffinity),			/* ASan: pthread_getattr_np() per thread */
	SB_ALLOW_ARG(ioctl, 1, TCGETS),			/* reports: isatty(2) picks colours first */
	/* UBSan reports look for the module list and the executable's name
	 * (raw open, readlink; libc's open is openat and stays fatal): nothing
	 * to find here, but the report goes on instead of SIGSYS. ASan's
	 * symbols are loaded before the sandbox (sandbox_ns.c). */
	SB_ERRNO(open, ENOENT),				/* UBSan report: the module list */
	SB_ERRNO(readlink, ENOENT),			/* UBSan report: the executable's name */
#endif
};
/* clang-format on */

SB_POLICY(policy_base, "base", base_rules);
