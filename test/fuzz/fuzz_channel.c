/* libFuzzer target: every channel's decoding (vm.proto, device.proto control
 * and link envelopes) through channel_decode, then dispatch_deliver with a
 * table shaped like the real ones (state, once-only, fd rules), twice: a
 * handler runs only for what its entry allows, and a one-shot message is
 * refused the second time. Input layout: byte 0 selects the envelope, byte 1
 * the fd count that "arrived", byte 2 the receiver's state; the rest is the
 * datagram. */
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "test/fuzz/fuzz_check.h"
#include "vm.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The shapes of the real tables: setup once with fds in state 0 (kept); the
 * rest in later states, one that may carry fds. */
static int on_msg(void *ctx, const void *msg, int *fds, size_t nfds);
static const struct dispatch_entry table[] = {
	[1] = {on_msg, DISPATCH_STATE(0), DISPATCH_ONCE | DISPATCH_NEEDS_FDS | DISPATCH_KEEP},
	[2] = {on_msg, DISPATCH_STATE(0), DISPATCH_ONCE},
	[3] = {on_msg, DISPATCH_STATE(1), 0},
	[4] = {on_msg, DISPATCH_STATE(1) | DISPATCH_STATE(2), 0},
	[5] = {on_msg, DISPATCH_STATE(2), DISPATCH_FDS},
};

struct fuzz_ctx {
	struct dispatch *d;
	int handled;
};

static int on_msg(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct fuzz_ctx *f = ctx;
	const struct dispatch_entry *e = &table[f->d->last_case];

	/* The table's promises, seen from the handler. */
	CHECK(msg != NULL);
	CHECK(e->states & DISPATCH_STATE(f->d->state));
	CHECK(nfds == 0 || (e->flags & (DISPATCH_FDS | DISPATCH_NEEDS_FDS)));
	CHECK(nfds > 0 || !(e->flags & DISPATCH_NEEDS_FDS));
	(void)fds;
	f->handled++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&cellvm__vm__vm_message__descriptor,
		&cellvm__device__control_message__descriptor,
		&cellvm__device__link_message__descriptor,
	};
	struct dispatch_channel ch = {.max_len = 65536,
				      .max_fds = 4,
				      .table = table,
				      .n = sizeof(table) / sizeof(table[0])};
	struct dispatch d;
	struct fuzz_ctx f = {.d = &d};
	int first = 0;

	if (size < 3)
		return 0;
	ch.envelope = descs[data[0] % 3];
	dispatch_init(&d, &ch, data[2] % 3);
	for (int round = 0; round < 2; round++) {
		/* No real fds: -1 entries are skipped when they are closed. */
		int fds[4] = {-1, -1, -1, -1};
		size_t nfds = data[1] % 4;
		ProtobufCMessage *m;
		uint32_t c;
		int r;

		if (channel_decode(ch.envelope, data + 3, size - 3, nfds, &m, &c) < 0)
			return 0;
		r = dispatch_deliver(&d, &f, m, c, fds, nfds);
		if (round == 0) {
			first = r;
		} else if (first == 0 && c < d.ch->n && (table[c].flags & DISPATCH_ONCE)) {
			/* A one-shot message the first round took is refused now. */
			CHECK(r == DISPATCH_E_REPEATED);
		}
	}
	CHECK(f.handled <= 2);
	if (d.kept)
		protobuf_c_message_free_unpacked(d.kept, NULL);
	return 0;
}
