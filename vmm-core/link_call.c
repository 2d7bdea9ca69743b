/* A forwarded access's round trip; see link_call.h. Runs in cellvm-core's
 * vCPU threads; every datagram that comes back goes through the link's
 * dispatch table. */
#include "vmm-core/link_call.h"

#include <errno.h>
#include <poll.h>

#include "proto/channel.h"

enum link_call_fail link_call(int fd, ProtobufCMessage *m, size_t max_len, struct dispatch *proto,
			      uint32_t waiting, void *ctx, bool *answered, int timeout_ms,
			      int *ret_err)
{
	int r = channel_send(fd, m, max_len, NULL, 0);

	*ret_err = r;
	if (r < 0)
		return LINK_CALL_SEND;
	*answered = false;
	proto->state = waiting;
	while (!*answered) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*ret_err = r < 0 ? -errno : 0;
			return LINK_CALL_TIMEOUT;
		}
		/* UNTRUSTED(device): one datagram through the table. */
		r = dispatch_recv(fd, proto, ctx);
		if (r < 0) {
			*ret_err = r;
			return LINK_CALL_PEER;
		}
	}
	*ret_err = 0;
	return LINK_CALL_OK;
}

const char *link_call_reason(enum link_call_fail f)
{
	switch (f) {
	case LINK_CALL_SEND: return "send failed";
	case LINK_CALL_TIMEOUT: return "no answer in time";
	case LINK_CALL_PEER: return "protocol violation or link lost";
	default: return "no failure";
	}
}
