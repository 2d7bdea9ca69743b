/* libFuzzer target: every channel's decoding (vm.proto, device.proto control
 * and link envelopes) through channel_decode, then the dispatch-table checks
 * (state, once-only, fds) with the message case that came out. Input layout:
 * byte 0 selects the envelope, byte 1 the fd count that "arrived", byte 2 the
 * receiver's state; the rest is the datagram. */
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "vm.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int handled;

static int on_msg(void *ctx, const void *msg, int *fds, size_t nfds)
{
	(void)ctx;
	(void)msg;
	(void)fds;
	(void)nfds;
	handled++;
	return 0;
}

/* The shapes of the real tables: setup once with fds in state 0; the rest
 * in later states. */
static const struct dispatch_entry table[] = {
	[1] = {on_msg, DISPATCH_STATE(0), DISPATCH_ONCE | DISPATCH_FDS},
	[2] = {on_msg, DISPATCH_STATE(0), DISPATCH_ONCE},
	[3] = {on_msg, DISPATCH_STATE(1), 0},
	[4] = {on_msg, DISPATCH_STATE(1) | DISPATCH_STATE(2), 0},
	[5] = {on_msg, DISPATCH_STATE(2), DISPATCH_FDS},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&cellvm__vm__vm_message__descriptor,
		&cellvm__device__control_message__descriptor,
		&cellvm__device__link_message__descriptor,
	};
	struct dispatch d = {.table = table, .n = sizeof(table) / sizeof(table[0])};
	ProtobufCMessage *m;
	uint32_t c;
	size_t nfds;

	if (size < 3)
		return 0;
	nfds = data[1] % 4;
	d.state = data[2] % 3;
	if (channel_decode(descs[data[0] % 3], data + 3, size - 3, nfds, &m, &c) < 0)
		return 0;
	/* No real fds: -1 entries are skipped by ipc_close_fds. */
	{
		int fds[4] = {-1, -1, -1, -1};
		(void)dispatch_run(&d, c, NULL, m, fds, nfds);
		/* A second delivery of a one-shot message must be refused. */
		(void)dispatch_run(&d, c, NULL, m, fds, nfds);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
