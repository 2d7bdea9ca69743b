/* The keeper channel (keeper/keeper.c): a Hold replaces the held set, its
 * fds may come in FdChunks, a Release ends the keeper; hostile messages (a
 * chunk out of turn, more fds than announced, a set over SCM_MAX_FD, bytes
 * that do not decode) are refused and leave the held set as it was. Then the
 * real cellvm-keeper (argv[1]: the binaries' directory): a set handed over,
 * the broker connection gone, a new connection gets the same fds back. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keeper.pb-c.h"
#include "keeper/keeper.h"
#include "proto/channel.h"
#include "proto/ipc.h"

static const char *bin_dir;

/* One datagram of the broker's, packed, delivered with nfds fresh fds. */
static int deliver(struct keeper *k, ProtobufCMessage *m, size_t nfds)
{
	uint8_t buf[KEEPER_MAX_MSG];
	int fds[IPC_MAX_FDS];
	uint32_t *nf = NULL;
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "nfds");
	size_t len;

	nf = (uint32_t *)((uint8_t *)m + f->offset);
	*nf = (uint32_t)nfds;
	len = protobuf_c_message_pack(m, buf);
	for (size_t i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return keeper_deliver(k, buf, len, fds, nfds);
}

static int hold(struct keeper *k, const char *blob, uint32_t total, size_t nfds)
{
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__Hold h = CELLVM__KEEPER__HOLD__INIT;

	h.blob.data = (uint8_t *)blob;
	h.blob.len = strlen(blob);
	h.total_fds = total;
	in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_HOLD;
	in.hold = &h;
	return deliver(k, &in.base, nfds);
}

static int chunk(struct keeper *k, size_t nfds)
{
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__FdChunk c = CELLVM__KEEPER__FD_CHUNK__INIT;

	in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_CHUNK;
	in.chunk = &c;
	return deliver(k, &in.base, nfds);
}

static int release(struct keeper *k)
{
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__Release r = CELLVM__KEEPER__RELEASE__INIT;

	in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_RELEASE;
	in.release = &r;
	return deliver(k, &in.base, 0);
}

static void test_hold_and_chunks(void **state)
{
	struct keeper k;

	(void)state;
	keeper_init(&k);
	keeper_new_conn(&k);
	assert_int_equal(hold(&k, "one", 2, 2), 0);
	assert_int_equal(k.held.nfds, 2);
	assert_memory_equal(k.held.blob, "one", 3);
	/* 100 fds: a Hold with 64 and a chunk with 36; the old set stays until then. */
	assert_int_equal(hold(&k, "two", 100, 64), 0);
	assert_int_equal(k.d.state, KEEPER_FILLING);
	assert_int_equal(k.held.nfds, 2);
	assert_int_equal(chunk(&k, 36), 0);
	assert_int_equal(k.d.state, KEEPER_IDLE);
	assert_int_equal(k.held.nfds, 100);
	assert_memory_equal(k.held.blob, "two", 3);
	assert_false(k.released);
	assert_int_equal(release(&k), 0);
	assert_true(k.released);
	keeper_free(&k);
}

static void test_hostile(void **state)
{
	struct keeper k;
	uint8_t junk[] = {0xff, 0xff, 0xff, 0x0f, 0x12};
	int fd;

	(void)state;
	keeper_init(&k);
	keeper_new_conn(&k);
	assert_int_equal(hold(&k, "kept", 1, 1), 0);
	/* A chunk with no Hold before it. */
	assert_int_equal(chunk(&k, 1), DISPATCH_E_STATE);
	/* Over SCM_MAX_FD, more fds than announced, a blob too large. */
	assert_int_equal(hold(&k, "x", KEEPER_MAX_FDS + 1, 1), -EINVAL);
	assert_int_equal(hold(&k, "x", 1, 2), -EINVAL);
	{
		char *big = malloc(KEEPER_MAX_BLOB + 2);

		memset(big, 'b', KEEPER_MAX_BLOB + 1);
		big[KEEPER_MAX_BLOB + 1] = 0;
		assert_int_equal(hold(&k, big, 0, 0), -EINVAL);
		free(big);
	}
	/* Chunks past the announced count: refused, the pending set dropped. */
	assert_int_equal(hold(&k, "y", 3, 1), 0);
	assert_int_equal(chunk(&k, 3), -EBADF);
	assert_int_equal(k.pending.nfds, 0);
	/* A chunk without fds; a Release in the middle of a Hold. */
	k.d.state = KEEPER_IDLE;
	assert_int_equal(hold(&k, "z", 2, 1), 0);
	assert_int_equal(chunk(&k, 0), DISPATCH_E_FDS);
	assert_int_equal(release(&k), DISPATCH_E_STATE);
	assert_false(k.released);
	/* Bytes that do not decode; the fds that came with them are closed. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(keeper_deliver(&k, junk, sizeof(junk), &fd, 1) < 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	/* Through all of it, the set held first. */
	assert_int_equal(k.held.nfds, 1);
	assert_memory_equal(k.held.blob, "kept", 4);
	keeper_free(&k);
}

/* The real binary: a pipe's write end handed over, our connection closed;
 * a new one gets it back (a Held with the blob), and Release ends it. */
static void test_binary(void **state)
{
	/* Not on a 9p /tmp (the emulated KVM host's): no unix sockets there. */
	char path[4096], dir[] = "/dev/shm/keeper-test-XXXXXX", buf[8];
	Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
	Cellvm__Keeper__Hold h = CELLVM__KEEPER__HOLD__INIT;
	Cellvm__Keeper__KeeperOut *out = NULL;
	ProtobufCMessage *m = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd, sp[2], p[2], fds[IPC_MAX_FDS], conn, status;
	size_t nfds = 0;
	uint32_t c = 0;
	pid_t pid;

	(void)state;
	if (!bin_dir)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/k.sock", dir);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0); /* it listens */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(path, sizeof(path), "%s/cellvm-keeper", bin_dir);
	pid = fork();
	if (pid == 0) {
		dup2(lfd, 3);
		dup2(sp[1], 4);
		execl(path, "cellvm-keeper", (char *)NULL);
		_exit(127);
	}
	close(lfd);
	close(sp[1]);
	h.blob.data = (uint8_t *)"state";
	h.blob.len = 5;
	h.total_fds = 1;
	in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_HOLD;
	in.hold = &h;
	assert_int_equal(channel_send(sp[0], &in.base, KEEPER_MAX_MSG, &p[1], 1), 0);
	close(p[1]);
	close(sp[0]); /* the broker is gone: the keeper waits */
	conn = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	/* Refused until the keeper listens: polled, bounded (5 s). */
	for (int i = 0; connect(conn, (struct sockaddr *)&sa, sizeof(sa)) < 0; i++) {
		assert_int_equal(errno, ECONNREFUSED);
		assert_true(i < 500);
		usleep(10000);
	}
	{
		/* The keeper listened: the peer is it, not us. */
		struct ucred cred;
		socklen_t len = sizeof(cred);

		assert_int_equal(getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);
		assert_int_equal(cred.pid, pid);
	}
	assert_int_equal(channel_recv(conn, &cellvm__keeper__keeper_out__descriptor, KEEPER_MAX_MSG,
				      &m, &c, fds, IPC_MAX_FDS, &nfds),
			 0);
	out = (Cellvm__Keeper__KeeperOut *)m;
	assert_int_equal(c, CELLVM__KEEPER__KEEPER_OUT__MSG_HELD);
	assert_int_equal(out->held->total_fds, 1);
	assert_int_equal(nfds, 1);
	assert_memory_equal(out->held->blob.data, "state", 5);
	protobuf_c_message_free_unpacked(m, NULL);
	assert_int_equal(write(fds[0], "ok", 2), 2);
	close(fds[0]);
	/* The keeper's dup is the pipe's last write end but one: it is open. */
	assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
	in = (Cellvm__Keeper__KeeperIn)CELLVM__KEEPER__KEEPER_IN__INIT;
	{
		Cellvm__Keeper__Release r = CELLVM__KEEPER__RELEASE__INIT;

		in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_RELEASE;
		in.release = &r;
		assert_int_equal(channel_send(conn, &in.base, KEEPER_MAX_MSG, NULL, 0), 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Released: every write end is closed now. */
	assert_int_equal(read(p[0], buf, sizeof(buf)), 0);
	close(p[0]);
	close(conn);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_and_chunks),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_binary),
	};

	signal(SIGPIPE, SIG_IGN);
	bin_dir = argc > 1 ? argv[1] : NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
