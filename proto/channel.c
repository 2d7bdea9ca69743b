/* Generic protobuf-c channel; see channel.h. The envelope layout is read from
 * the protobuf-c descriptor, so one implementation serves every .proto. */
#include "proto/channel.h"
#include "proto/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHANNEL_BUF_MAX 65536

static uint32_t *channel_nfds_field(ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "nfds");

	if (!f || f->type != PROTOBUF_C_TYPE_UINT32)
		return NULL;
	return (uint32_t *)(void *)((char *)m + f->offset);
}

static int channel_oneof_case(const ProtobufCMessage *m, uint32_t *ret)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t c;
			memcpy(&c, (const char *)m + f->quantifier_offset, sizeof(c));
			*ret = c;
			return 0;
		}
	}
	return -EINVAL;
}

int channel_send(int sock, ProtobufCMessage *msg, size_t max_len, const int *fds, size_t nfds)
{
	uint32_t *nf = channel_nfds_field(msg);
	uint8_t stackbuf[4096], *buf = stackbuf;
	size_t len;
	int r;

	if (!nf)
		return -EINVAL;
	*nf = (uint32_t)nfds;
	len = protobuf_c_message_get_packed_size(msg);
	if (len > max_len || len > CHANNEL_BUF_MAX)
		return -EMSGSIZE;
	if (len > sizeof(stackbuf)) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
	}
	protobuf_c_message_pack(msg, buf);
	r = ipc_send(sock, buf, len, fds, nfds);
	if (buf != stackbuf)
		free(buf);
	return r;
}

int channel_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		   size_t nfds_received, ProtobufCMessage **ret_msg, uint32_t *ret_case)
{
	ProtobufCMessage *m;
	uint32_t *nf, c = 0;

	/* UNTRUSTED(peer): buf, len and the fd count are the peer's; protobuf-c
	 * bounds the decoding, the envelope's nfds must match what arrived and
	 * one oneof case must be set. */
	m = protobuf_c_message_unpack(desc, NULL, len, buf);
	if (!m)
		return -EPROTO;
	nf = channel_nfds_field(m);
	if (!nf || *nf != nfds_received || channel_oneof_case(m, &c) < 0 || c == 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return -EPROTO;
	}
	*ret_msg = m;
	*ret_case = c;
	return 0;
}

int channel_recv(int sock, const ProtobufCMessageDescriptor *desc, size_t max_len,
		 ProtobufCMessage **ret_msg, uint32_t *ret_case, int *ret_fds, size_t max_fds,
		 size_t *ret_nfds)
{
	size_t cap = (max_len < CHANNEL_BUF_MAX ? max_len : CHANNEL_BUF_MAX) + 1;
	uint8_t *buf = malloc(cap);
	int n, r;

	if (!buf)
		return -ENOMEM;
	/* UNTRUSTED(peer): the datagram and its fds, bounded by max_len and
	 * max_fds (ipc_recv refuses more). */
	n = ipc_recv(sock, buf, cap, ret_fds, max_fds, ret_nfds);
	if (n < 0) {
		free(buf);
		return n;
	}
	/* One byte of slack: a datagram that fills it is over the limit. */
	if ((size_t)n >= cap)
		r = -EMSGSIZE;
	else
		r = channel_decode(desc, buf, (size_t)n, *ret_nfds, ret_msg, ret_case);
	free(buf);
	if (r < 0) {
		ipc_close_fds(ret_fds, *ret_nfds);
		*ret_nfds = 0;
	}
	return r;
}
