/* The broker's side of the VMs' keepers (cellvm-keeper, keeper/): one per
 * running VM, started after its boot, holding a dup of every fd the broker
 * keeps for it, so a broker that dies (SIGKILL, a crash, --on-exit keep)
 * closes nothing the VM's processes talk to; the next broker connects to it
 * and adopts the VM (broker_adopt.c). Runs in the broker's loop. What a
 * keeper sends back is read by broker_keeper_recv_held, strictly: the keeper
 * runs as root, but its socket is checked before it is trusted at all.
 * docs/broker.md, "VMs outlive the broker". */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "keeper.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define KEEPER_BIN	    "cellvm-keeper"
#define KEEPER_MAX_MSG	    (64 * 1024)
#define KEEPER_RECV_TIMEOUT 5000 /* ms a keeper may take to send its set */

/* STATE_DIR/keep: root's, 0700 (the sockets' only protection besides the
 * keeper's own check of its peer's uid). Opened once; > 0 then. */
static int broker_keeper_dir(struct broker *b)
{
	struct stat st;
	int fd;

	if (b->keep_dirfd > 0)
		return b->keep_dirfd;
	fd = open(b->state_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (mkdirat(fd, "keep", 0700) < 0 && errno != EEXIST) {
		close(fd);
		return -errno;
	}
	b->keep_dirfd = openat(fd, "keep", O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(fd);
	if (b->keep_dirfd < 0) {
		int r = -errno;

		b->keep_dirfd = 0;
		return r;
	}
	if (fstat(b->keep_dirfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_err("state directory %s/keep: not %u's with mode 0700: no keepers",
			b->state_dir, (unsigned)geteuid());
		close(b->keep_dirfd);
		b->keep_dirfd = 0;
		return -EPERM;
	}
	return b->keep_dirfd;
}

/* The socket's address through the directory's fd: short whatever the state
 * directory's path, and bound to the directory checked. */
static void broker_keeper_addr(int dirfd, const char *id, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s.sock", dirfd, id);
}

/* The keeper ended while the VM runs (killed by hand): the VM does not
 * survive the broker any more, so a new keeper is started. */
static void broker_keeper_on_exit(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;

	(void)fd;
	(void)what;
	log_warn("vm %s: its keeper (pid %d) ended: starting another", vm->id, (int)vm->keeper_pid);
	broker_keeper_release(vm);
	if (vm->state == BROKER_VM_RUNNING || vm->state == BROKER_VM_PAUSED) {
		(void)broker_keeper_start(vm);
		(void)broker_state_save(vm->b, vm);
	}
}

/* Send the VM's set: a Hold, and FdChunks for the fds past the first 64. */
static int broker_keeper_send(struct broker_vm *vm)
{
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__Hold hold = CELLVM__KEEPER__HOLD__INIT;
	Cellvm__Keeper__FdChunk chunk = CELLVM__KEEPER__FD_CHUNK__INIT;
	struct broker_handover h;
	size_t sent, n;
	int r;

	r = broker_handover_collect(vm, &h);
	if (r < 0)
		return r;
	hold.blob.data = h.blob;
	hold.blob.len = h.blob_len;
	hold.total_fds = (uint32_t)h.nfds;
	in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_HOLD;
	in.hold = &hold;
	n = h.nfds < IPC_MAX_FDS ? h.nfds : IPC_MAX_FDS;
	r = channel_send(vm->keeper_conn, &in.base, KEEPER_MAX_MSG, h.fds, n);
	for (sent = n; r == 0 && sent < h.nfds; sent += n) {
		n = h.nfds - sent < IPC_MAX_FDS ? h.nfds - sent : IPC_MAX_FDS;
		in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_CHUNK;
		in.chunk = &chunk;
		r = channel_send(vm->keeper_conn, &in.base, KEEPER_MAX_MSG, h.fds + sent, n);
	}
	broker_handover_free(&h);
	return r;
}

int broker_keeper_start(struct broker_vm *vm)
{
	struct sockaddr_un sa;
	char dir[PATH_MAX], path[PATH_MAX + 32], name[BROKER_ID_LEN + 8];
	int dirfd, lfd = -1, sp[2] = {-1, -1}, pp[2] = {-1, -1}, r;
	pid_t pid;

	dirfd = broker_keeper_dir(vm->b);
	if (dirfd < 0) {
		r = dirfd;
		goto fail;
	}
	r = launcher_bin_dir(dir, sizeof(dir));
	if (r < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", dir, KEEPER_BIN);
	snprintf(name, sizeof(name), "%s.sock", vm->id);
	broker_keeper_addr(dirfd, vm->id, &sa);
	(void)unlinkat(dirfd, name, 0); /* an earlier keeper's, gone */
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	/* Bound here, in the directory checked; the keeper listens itself, so
	 * SO_PEERCRED names it (a listener's credentials are its listen()'s). */
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		goto fail;
	}
	if (pipe2(pp, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	/* Twice: the keeper is init's child from the start, as it is for every
	 * later broker; nobody has to reap it in the loop. */
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0) {
		/* The children: async-signal-safe calls only, then exec. */
		char *const argv[] = {(char *)KEEPER_BIN, NULL};
		char *const envp[] = {NULL};
		sigset_t none;
		pid_t k = fork();

		if (k != 0) {
			(void)!write(pp[1], &k, sizeof(k));
			_exit(0);
		}
		int l = fcntl(lfd, F_DUPFD, 5), c = fcntl(sp[1], F_DUPFD, 5);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Above 4 first: neither may be overwritten by the other's dup2. */
		if (l < 0 || c < 0 || dup2(l, 3) < 0 || dup2(c, 4) < 0)
			_exit(127);
		syscall(SYS_close_range, 5, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(pp[1]);
	pp[1] = -1;
	(void)waitpid(pid, NULL, 0); /* it only forks */
	if (read(pp[0], &pid, sizeof(pid)) != (ssize_t)sizeof(pid) || pid <= 0) {
		r = -ECHILD;
		goto fail;
	}
	close(pp[0]);
	pp[0] = -1;
	close(lfd);
	close(sp[1]);
	vm->keeper_conn = sp[0];
	vm->keeper_pid = pid;
	vm->keeper_start = broker_state_proc_start(pid);
	vm->keeper_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (vm->keeper_pidfd >= 0) {
		vm->keeper_ev = event_new(vm->b->base, vm->keeper_pidfd, EV_READ,
					  broker_keeper_on_exit, vm);
		if (vm->keeper_ev)
			event_add(vm->keeper_ev, NULL);
	}
	/* Never wait on it in the loop: a stopped keeper fails the send. */
	(void)fcntl(vm->keeper_conn, F_SETFL, O_NONBLOCK);
	r = broker_keeper_send(vm);
	if (r < 0) {
		log_err("vm %s: cannot hand its fds to its keeper: %s", vm->id, strerror(-r));
		broker_keeper_release(vm);
		return r;
	}
	return 0;
fail:
	log_err("vm %s: cannot start its keeper (%s): the VM does not outlive the broker", vm->id,
		strerror(-r));
	if (lfd >= 0)
		close(lfd);
	ipc_close_fds(sp, 2);
	ipc_close_fds(pp, 2);
	return r;
}

void broker_keeper_refresh(struct broker_vm *vm)
{
	int r;

	if (vm->keeper_conn < 0)
		return;
	r = broker_keeper_send(vm);
	if (r < 0)
		log_err("vm %s: cannot refresh its keeper: %s", vm->id, strerror(-r));
}

static void broker_keeper_on_ended(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;

	(void)fd;
	(void)what;
	vm->keeper_ending = false;
	broker_keeper_release(vm); /* its event, pidfd and socket go */
	broker_vm_stop_check(vm);
}

void broker_keeper_end(struct broker_vm *vm)
{
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__Release rel = CELLVM__KEEPER__RELEASE__INIT;

	if (vm->keeper_ending)
		return;
	if (vm->keeper_ev)
		event_free(vm->keeper_ev);
	vm->keeper_ev = NULL;
	if (vm->keeper_conn >= 0) {
		in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_RELEASE;
		in.release = &rel;
		(void)channel_send(vm->keeper_conn, &in.base, KEEPER_MAX_MSG, NULL, 0);
		close(vm->keeper_conn);
		vm->keeper_conn = -1;
	}
	if (vm->keeper_pidfd < 0)
		return;
	/* Killed as well: its exit closes every dup at once, and a keeper that
	 * does not read its connection cannot hold the stop. */
	(void)syscall(SYS_pidfd_send_signal, vm->keeper_pidfd, SIGKILL, NULL, 0);
	vm->keeper_ev =
		event_new(vm->b->base, vm->keeper_pidfd, EV_READ, broker_keeper_on_ended, vm);
	if (!vm->keeper_ev || event_add(vm->keeper_ev, NULL) < 0) {
		log_warn("vm %s: cannot watch its keeper's end", vm->id);
		return;
	}
	vm->keeper_ending = true;
}

void broker_keeper_release(struct broker_vm *vm)
{
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__Release rel = CELLVM__KEEPER__RELEASE__INIT;
	char name[BROKER_ID_LEN + 8];

	if (vm->keeper_ev)
		event_free(vm->keeper_ev);
	vm->keeper_ev = NULL;
	if (vm->keeper_conn >= 0) {
		in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_RELEASE;
		in.release = &rel;
		if (channel_send(vm->keeper_conn, &in.base, KEEPER_MAX_MSG, NULL, 0) < 0)
			log_warn("vm %s: cannot release its keeper", vm->id);
		close(vm->keeper_conn);
	}
	vm->keeper_conn = -1;
	if (vm->keeper_pidfd >= 0)
		close(vm->keeper_pidfd); /* init's child: it exits on Release, init reaps it */
	vm->keeper_pidfd = -1;
	vm->keeper_pid = 0;
	vm->keeper_start = 0;
	snprintf(name, sizeof(name), "%s.sock", vm->id);
	if (vm->b->keep_dirfd > 0)
		(void)unlinkat(vm->b->keep_dirfd, name, 0);
}

int broker_keeper_connect(struct broker *b, const char *id, pid_t want_pid, int *ret_conn,
			  char *why, size_t whylen)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char name[BROKER_ID_LEN + 8];
	struct stat st;
	int dirfd = broker_keeper_dir(b), fd;

	if (dirfd < 0) {
		snprintf(why, whylen, "no keep directory: %s", strerror(-dirfd));
		return dirfd;
	}
	/* UNTRUSTED(state): whatever is at the name; only a socket root made
	 * in root's 0700 directory is connected to. */
	snprintf(name, sizeof(name), "%s.sock", id);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(why, whylen, "no keeper socket: %s", strerror(errno));
		return -ENOENT;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(why, whylen, "keep/%s is not a socket of uid %u", name,
			 (unsigned)geteuid());
		return -EPERM;
	}
	broker_keeper_addr(dirfd, id, &sa);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, whylen, "cannot connect to its keeper: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ECONNREFUSED;
	}
	/* The process at the other end is the one recorded, and root. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid != want_pid ||
	    cred.uid != geteuid()) {
		snprintf(why, whylen, "its socket's peer is pid %d uid %u, not the keeper %d",
			 (int)cred.pid, (unsigned)cred.uid, (int)want_pid);
		close(fd);
		return -EPERM;
	}
	*ret_conn = fd;
	return 0;
}

/* One datagram of the keeper's answer within the time left. */
static int broker_keeper_recv_one(int conn, ProtobufCMessage **m, uint32_t *c, int *fds,
				  size_t max_fds, size_t *nfds)
{
	struct pollfd p = {.fd = conn, .events = POLLIN};
	int r = poll(&p, 1, KEEPER_RECV_TIMEOUT);

	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	return channel_recv(conn, &cellvm__keeper__keeper_out__descriptor, KEEPER_MAX_MSG, m, c,
			    fds, max_fds, nfds);
}

int broker_keeper_recv_held(int conn, uint8_t **ret_blob, size_t *ret_len, int *fds,
			    size_t *ret_nfds, char *why, size_t whylen)
{
	ProtobufCMessage *m = NULL;
	Cellvm__Keeper__KeeperOut *out;
	size_t total, got = 0, n = 0;
	uint32_t c = 0;
	int r;

	*ret_blob = NULL;
	*ret_nfds = 0;
	/* UNTRUSTED(keeper): a Held first, bounded, then exactly its chunks. */
	r = broker_keeper_recv_one(conn, &m, &c, fds, IPC_MAX_FDS, &n);
	if (r < 0) {
		snprintf(why, whylen, "no set from its keeper: %s", dispatch_strerror(r));
		return r;
	}
	out = (Cellvm__Keeper__KeeperOut *)m;
	got = n;
	if (c != CELLVM__KEEPER__KEEPER_OUT__MSG_HELD || !out->held->blob.len ||
	    out->held->total_fds > 253 || n > out->held->total_fds) {
		snprintf(why, whylen, "its keeper sent no valid Held");
		r = -EPROTO;
		goto fail;
	}
	total = out->held->total_fds;
	*ret_blob = malloc(out->held->blob.len);
	if (!*ret_blob) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(*ret_blob, out->held->blob.data, out->held->blob.len);
	*ret_len = out->held->blob.len;
	protobuf_c_message_free_unpacked(m, NULL);
	m = NULL;
	while (got < total) {
		size_t room = total - got < IPC_MAX_FDS ? total - got : IPC_MAX_FDS;

		r = broker_keeper_recv_one(conn, &m, &c, fds + got, room, &n);
		if (r < 0) {
			snprintf(why, whylen, "its keeper's set ended early: %s",
				 dispatch_strerror(r));
			goto fail;
		}
		got += n;
		if (c != CELLVM__KEEPER__KEEPER_OUT__MSG_CHUNK || !n) {
			snprintf(why, whylen, "its keeper sent no valid FdChunk");
			r = -EPROTO;
			goto fail;
		}
		protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}
	*ret_nfds = got;
	return 0;
fail:
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	ipc_close_fds(fds, got);
	free(*ret_blob);
	*ret_blob = NULL;
	return r;
}
