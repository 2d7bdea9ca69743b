/* seccomp rules of cellvm-display (SANDBOX_DISPLAY), on top of
 * policy_base.c: its poll loop over the control channel, the ring's eventfd
 * and libvncserver's client sockets; libvncserver's own calls on a client's
 * socket (select and fcntl around its reads and writes, the peer's name,
 * TCP_NODELAY); a socketpair per client for the pump thread, which runs an
 * epoll loop (base) over them. The ring is mapped before the sandbox. It
 * opens no file, and no socket but those socketpairs: no listening, no
 * connecting (Landlock refuses TCP bind and connect too). */
#include "sandbox/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

/* The flags glibc's pthread_create() passes to clone(2), and nothing else. */
#define DISPLAY_THREAD_FLAGS                                                                       \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
#define DISPLAY_FLAGS_MASK 0xffffffffULL /* the kernel reads the low 32 bits only */

/* clang-format off */
static const struct sb_rule display_rules[] = {
	SB_ALLOW(poll),					/* the main loop */
	SB_ALLOW(ppoll),				/* same, where libc uses ppoll */
	SB_ALLOW(select),				/* libvncserver: rfbCheckFds, waits in reads and writes */
	SB_ALLOW(pselect6),				/* same, where libc uses pselect6 */
	SB_ALLOW_ARG(fcntl, 1, F_GETFL),		/* libvncserver: making a client non-blocking */
	SB_ALLOW_ARG(fcntl, 1, F_SETFL),		/* same; ours for the pump's ends */
	SB_ALLOW_ARG(fcntl, 1, F_GETFD),		/* libvncserver: close-on-exec of a client */
	SB_ALLOW_ARG(fcntl, 1, F_SETFD),		/* same */
	SB_ALLOW_ARG(socketpair, 0, AF_UNIX),		/* one per client: libvncserver's end and the pump's */
	SB_ALLOW(getsockopt),				/* DisplayClient: is the fd a stream socket */
	SB_ALLOW(setsockopt),				/* libvncserver: TCP_NODELAY on a new client */
	SB_ALLOW(getpeername),				/* libvncserver: the client's address, for its logs */
	SB_ALLOW(getsockname),				/* same */
	SB_ALLOW(shutdown),				/* closing a client; the pump's half-close */
	SB_ALLOW(sendto),				/* send(): the pump, libvncserver */
	SB_ALLOW(eventfd2),				/* the pump's wake-up, made after the sandbox */
	SB_ALLOW(epoll_create1),			/* the pump's epoll set */
	SB_ALLOW_MASKED(clone, 0, DISPLAY_FLAGS_MASK, DISPLAY_THREAD_FLAGS),	/* the pump thread, nothing else */
	SB_ERRNO(clone3, ENOSYS),			/* flags out of reach: glibc falls back to clone */
	SB_ALLOW(set_robust_list),			/* the new thread's robust futex list */
	SB_ALLOW(rseq),					/* the new thread registers its rseq area */
};
/* clang-format on */

SB_POLICY(policy_display, "display", display_rules);
