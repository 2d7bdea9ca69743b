/* cellvm-keeper's seccomp allowlist: once it listens and has dropped its
 * capabilities it only polls, accepts, checks a peer, passes fds and
 * allocates. Anything else kills it (its VM does not outlive the next
 * broker then, which the broker logs: nothing is adopted without it). Runs in
 * the keeper, before its loop. */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>

#include "keeper/keeper.h"

#ifdef CELLVM_SANITIZER_RUNTIME
extern void __lsan_do_leak_check(void) __attribute__((weak));
#endif

/* clang-format off */
static const int keeper_syscalls[] = {
	SCMP_SYS(poll), SCMP_SYS(ppoll),	/* the loop */
	SCMP_SYS(accept4),			/* a new broker */
	SCMP_SYS(getsockopt),			/* its SO_PEERCRED */
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),	/* the keeper channel, fds as SCM_RIGHTS */
	SCMP_SYS(close),			/* connections, fds let go */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), /* malloc: blobs, messages */
	SCMP_SYS(mremap), SCMP_SYS(madvise),	/* realloc, free */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall), /* an interrupted poll */
	SCMP_SYS(exit), SCMP_SYS(exit_group),	/* Release, or an error */
#ifdef CELLVM_SANITIZER_RUNTIME
	/* ASan+UBSan builds only: what their runtime calls on its own. */
	SCMP_SYS(sigaltstack), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(futex), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(write),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(tgkill),
#endif
};
/* clang-format on */

int keeper_seccomp_load(void)
{
	scmp_filter_ctx ctx;
	int r = 0;

#ifdef CELLVM_SANITIZER_RUNTIME
	/* LeakSanitizer's check at exit needs /proc and ptrace: run it now,
	 * which also switches the one at exit off (sandbox_ns.c does the same). */
	if (__lsan_do_leak_check)
		__lsan_do_leak_check();
#endif
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < sizeof(keeper_syscalls) / sizeof(keeper_syscalls[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, keeper_syscalls[i], 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
