/* cellvm-keeper: holds one running VM's fds (its processes' channels,
 * pidfds, console, guest RAM, taps, counters pages) while no broker does, so
 * a broker that dies closes nothing the VM's processes talk to, and hands
 * them to the next broker (docs/broker.md, "VMs outlive the broker"). Started
 * by the broker as root, with fd 3 its socket (STATE_DIR/keep/<vm-id>.sock,
 * bound by the broker; we listen on it) and fd 4 its first broker connection.
 * Only a peer of our own uid (root) is served; what it sends is parsed
 * strictly all the same (keeper.c). */
#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "keeper/keeper.h"

#define KEEPER_LISTEN_FD 3
#define KEEPER_CONN_FD	 4

/* Everything but holding fds and passing them on goes: no capabilities (a
 * root without them only owns what root's uid owns: its socket), no new
 * privileges through exec. */
static int keeper_drop_privileges(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};

	for (int c = 0; c <= CAP_LAST_CAP; c++)
		(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* A connecting peer: served when it runs as our uid (root). Returns the new
 * broker connection, or -1 (refused, closed). */
static int keeper_accept(struct keeper *k, int lfd, uid_t euid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != euid ||
	    keeper_send_held(k, fd) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(void)
{
	struct keeper k;
	int conn = KEEPER_CONN_FD, r;
	uid_t euid = geteuid(); /* before the filter, which has no geteuid */

	/* Its own session: a signal to the broker's process group (a terminal's
	 * ^C, a service manager's stop of the broker alone) does not reach it. */
	(void)setsid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	/* We listen, not the broker that bound the socket: a connecting
	 * broker's SO_PEERCRED then names us (pid and uid). */
	if (chdir("/") < 0 || listen(KEEPER_LISTEN_FD, 4) < 0 || keeper_drop_privileges() < 0 ||
	    keeper_seccomp_load() < 0) {
		fprintf(stderr, "cellvm-keeper: cannot drop its privileges\n");
		return 1;
	}
	keeper_init(&k);
	keeper_new_conn(&k);
	while (!k.released) {
		struct pollfd p[2] = {{.fd = KEEPER_LISTEN_FD, .events = POLLIN},
				      {.fd = conn, .events = POLLIN}};

		if (poll(p, conn >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (conn >= 0 && p[1].revents) {
			r = keeper_recv(&k, conn);
			/* A broker gone without Release (killed, crashed, kept its VMs
			 * at exit): the next one connects. A broken message: the same. */
			if (r < 0 && r != -EAGAIN && r != -EINTR) {
				close(conn);
				conn = -1;
			}
		}
		if (p[0].revents & POLLIN) {
			int fd = keeper_accept(&k, KEEPER_LISTEN_FD, euid);

			if (fd >= 0) {
				/* The newest broker is the one: an older connection ends. */
				if (conn >= 0)
					close(conn);
				conn = fd;
				keeper_new_conn(&k);
			}
		} else if (p[0].revents & (POLLERR | POLLNVAL)) {
			break;
		}
	}
	keeper_free(&k);
	return k.released ? 0 : 1;
}
