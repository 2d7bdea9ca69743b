/* Dispatch tables; see dispatch.h. The handlers and the states are the
 * receivers'; the rules, the fds left over and the decoded message's lifetime
 * are kept here, once for every channel. */
#include "proto/dispatch.h"

#include <assert.h>
#include <string.h>

#include "proto/channel.h"
#include "proto/ipc.h"

void dispatch_init(struct dispatch *d, const struct dispatch_channel *ch, uint32_t state)
{
	assert(state < 32 && ch->n <= 64);
	*d = (struct dispatch){.ch = ch, .state = state};
}

int dispatch_check(struct dispatch *d, uint32_t msg_case, size_t nfds)
{
	const struct dispatch_entry *e;

	assert(d->state < 32);
	if (msg_case >= d->ch->n || !d->ch->table[msg_case].handler)
		return DISPATCH_E_UNEXPECTED;
	e = &d->ch->table[msg_case];
	if (nfds ? !(e->flags & (DISPATCH_FDS | DISPATCH_NEEDS_FDS))
		 : (e->flags & DISPATCH_NEEDS_FDS) != 0)
		return DISPATCH_E_FDS;
	if (!(e->states & DISPATCH_STATE(d->state)))
		return DISPATCH_E_STATE;
	if ((e->flags & DISPATCH_ONCE) && (d->seen & (1ULL << msg_case)))
		return DISPATCH_E_REPEATED;
	d->seen |= 1ULL << msg_case;
	return 0;
}

/* The oneof member of case msg_case (every member of our envelopes is a
 * message), or NULL. */
static const void *dispatch_payload(const ProtobufCMessage *m, uint32_t msg_case)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field(m->descriptor, msg_case);

	if (!f || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	return *(const void *const *)(const void *)((const char *)m + f->offset);
}

int dispatch_deliver(struct dispatch *d, void *ctx, ProtobufCMessage *m, uint32_t msg_case,
		     int *fds, size_t nfds)
{
	const struct dispatch_entry *e = NULL;
	const void *payload = NULL;
	int r;

	/* UNTRUSTED(peer): msg_case, nfds and every field of m. */
	d->last_case = msg_case;
	r = dispatch_check(d, msg_case, nfds);
	if (r == 0 && d->ch->check)
		r = d->ch->check(ctx, m);
	if (r == 0) {
		e = &d->ch->table[msg_case];
		payload = dispatch_payload(m, msg_case);
		if (!payload)
			r = -EPROTO;
	}
	if (r == 0) {
		r = e->handler(ctx, payload, fds, nfds);
		if (r >= 0 && (e->flags & DISPATCH_KEEP)) {
			/* One-shot, so there is never a second one to keep. */
			assert((e->flags & DISPATCH_ONCE) && !d->kept);
			d->kept = m;
			m = NULL;
		}
	}
	ipc_close_fds(fds, nfds);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

int dispatch_recv(int sock, struct dispatch *d, void *ctx)
{
	const struct dispatch_channel *ch = d->ch;
	ProtobufCMessage *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t c = 0;
	int r;

	/* UNTRUSTED(peer): one datagram; channel_recv checks that it decodes
	 * and that its fds match its nfds, the table the rest. */
	r = channel_recv(sock, ch->envelope, ch->max_len, &m, &c, fds,
			 ch->max_fds < IPC_MAX_FDS ? ch->max_fds : IPC_MAX_FDS, &nfds);
	if (r < 0)
		return r;
	return dispatch_deliver(d, ctx, m, c, fds, nfds);
}

bool dispatch_violation(int r)
{
	return r == -EPROTO || r == -EMSGSIZE || r == DISPATCH_E_UNEXPECTED ||
	       r == DISPATCH_E_STATE || r == DISPATCH_E_REPEATED || r == DISPATCH_E_FDS;
}

const char *dispatch_strerror(int r)
{
	switch (r) {
	case DISPATCH_E_UNEXPECTED: return "a message this side never takes";
	case DISPATCH_E_STATE: return "a message not allowed in this state";
	case DISPATCH_E_REPEATED: return "a one-shot message sent again";
	case DISPATCH_E_FDS: return "fds against the message's rule";
	case -EPROTO: return "malformed message";
	case -EMSGSIZE: return "oversized message";
	default: return strerror(-r);
	}
}
