/* The keeper channel's receiving side in cellvm-keeper: a Hold replaces the
 * held set (its fds may come in FdChunks after it), a Release ends the
 * keeper; a new broker gets the set as a Held. Runs in the keeper; every
 * message is checked against the table below and its own bounds, though only
 * a root peer can send one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keeper.pb-c.h"
#include "keeper/keeper.h"
#include "proto/channel.h"
#include "proto/ipc.h"

static void keeper_set_clear(struct keeper_set *s)
{
	ipc_close_fds(s->fds, s->nfds);
	s->nfds = 0;
	s->total = 0;
	free(s->blob);
	s->blob = NULL;
	s->blob_len = 0;
}

void keeper_init(struct keeper *k)
{
	memset(k, 0, sizeof(*k));
}

void keeper_free(struct keeper *k)
{
	keeper_set_clear(&k->held);
	keeper_set_clear(&k->pending);
}

/* Take fds (their slots set to -1) into the pending set. */
static int keeper_take_fds(struct keeper *k, int *fds, size_t nfds)
{
	struct keeper_set *p = &k->pending;

	if (nfds > p->total - p->nfds)
		return -EBADF; /* more than the Hold announced */
	for (size_t i = 0; i < nfds; i++) {
		p->fds[p->nfds++] = fds[i];
		fds[i] = -1;
	}
	return 0;
}

/* The pending set is complete: it replaces the held one. */
static void keeper_commit(struct keeper *k)
{
	keeper_set_clear(&k->held);
	k->held = k->pending;
	memset(&k->pending, 0, sizeof(k->pending));
	k->d.state = KEEPER_IDLE;
}

static int keeper_on_hold(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct keeper *k = ctx;
	const Cellvm__Keeper__Hold *m = msg;
	int r;

	/* UNTRUSTED(peer): sizes bounded before anything is allocated. */
	if (m->total_fds > KEEPER_MAX_FDS || nfds > m->total_fds || m->blob.len > KEEPER_MAX_BLOB ||
	    (m->blob.len && !m->blob.data))
		return -EINVAL;
	keeper_set_clear(&k->pending);
	k->pending.total = m->total_fds;
	if (m->blob.len) {
		k->pending.blob = malloc(m->blob.len);
		if (!k->pending.blob)
			return -ENOMEM;
		memcpy(k->pending.blob, m->blob.data, m->blob.len);
		k->pending.blob_len = m->blob.len;
	}
	r = keeper_take_fds(k, fds, nfds);
	if (r < 0)
		return r;
	if (k->pending.nfds == k->pending.total)
		keeper_commit(k);
	else
		k->d.state = KEEPER_FILLING;
	return 0;
}

static int keeper_on_chunk(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct keeper *k = ctx;
	int r;

	(void)msg;
	r = keeper_take_fds(k, fds, nfds);
	if (r < 0)
		return r;
	if (k->pending.nfds == k->pending.total)
		keeper_commit(k);
	return 0;
}

static int keeper_on_release(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct keeper *k = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	k->released = true;
	return 0;
}

/* What the broker connection may send, when. */
static const struct dispatch_entry keeper_table[] = {
	[CELLVM__KEEPER__KEEPER_IN__MSG_HOLD] = {keeper_on_hold, DISPATCH_STATE(KEEPER_IDLE),
						 DISPATCH_FDS},
	[CELLVM__KEEPER__KEEPER_IN__MSG_CHUNK] = {keeper_on_chunk, DISPATCH_STATE(KEEPER_FILLING),
						  DISPATCH_NEEDS_FDS},
	[CELLVM__KEEPER__KEEPER_IN__MSG_RELEASE] = {keeper_on_release, DISPATCH_STATE(KEEPER_IDLE),
						    0},
};

static const struct dispatch_channel keeper_chan = {
	.envelope = &cellvm__keeper__keeper_in__descriptor,
	.max_len = KEEPER_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = keeper_table,
	.n = sizeof(keeper_table) / sizeof(keeper_table[0]),
};

void keeper_new_conn(struct keeper *k)
{
	keeper_set_clear(&k->pending);
	dispatch_init(&k->d, &keeper_chan, KEEPER_IDLE);
}

int keeper_recv(struct keeper *k, int conn)
{
	int r = dispatch_recv(conn, &k->d, k);

	if (r < 0 && r != -EAGAIN && r != -EINTR)
		keeper_set_clear(&k->pending); /* the set held before stays */
	return r;
}

int keeper_deliver(struct keeper *k, const uint8_t *buf, size_t len, int *fds, size_t nfds)
{
	ProtobufCMessage *m = NULL;
	uint32_t c = 0;
	int r;

	if (len > KEEPER_MAX_MSG) {
		ipc_close_fds(fds, nfds);
		return -EMSGSIZE;
	}
	r = channel_decode(keeper_chan.envelope, buf, len, nfds, &m, &c);
	if (r < 0) {
		ipc_close_fds(fds, nfds);
		keeper_set_clear(&k->pending);
		return r;
	}
	r = dispatch_deliver(&k->d, k, m, c, fds, nfds);
	if (r < 0)
		keeper_set_clear(&k->pending);
	return r;
}

int keeper_send_held(const struct keeper *k, int conn)
{
	Cellvm__Keeper__KeeperOut out = CELLVM__KEEPER__KEEPER_OUT__INIT;
	Cellvm__Keeper__Held held = CELLVM__KEEPER__HELD__INIT;
	Cellvm__Keeper__FdChunk chunk = CELLVM__KEEPER__FD_CHUNK__INIT;
	size_t sent, n;
	int r;

	held.blob.data = k->held.blob;
	held.blob.len = k->held.blob_len;
	held.total_fds = (uint32_t)k->held.nfds;
	out.msg_case = CELLVM__KEEPER__KEEPER_OUT__MSG_HELD;
	out.held = &held;
	n = k->held.nfds < IPC_MAX_FDS ? k->held.nfds : IPC_MAX_FDS;
	r = channel_send(conn, &out.base, KEEPER_MAX_MSG, k->held.fds, n);
	for (sent = n; r == 0 && sent < k->held.nfds; sent += n) {
		n = k->held.nfds - sent < IPC_MAX_FDS ? k->held.nfds - sent : IPC_MAX_FDS;
		out.msg_case = CELLVM__KEEPER__KEEPER_OUT__MSG_CHUNK;
		out.chunk = &chunk;
		r = channel_send(conn, &out.base, KEEPER_MAX_MSG, k->held.fds + sent, n);
	}
	return r;
}
