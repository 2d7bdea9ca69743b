/* Generic protobuf-c channel over ipc framing: every envelope has a uint32
 * `nfds` field and one `oneof msg`. Decoding checks that the fds that arrived
 * match nfds and that a oneof case is set. Runs in every process; received
 * bytes are untrusted. */
#pragma once
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Pack msg (setting its nfds field) and send it with fds. Returns 0 or -errno;
 * -EMSGSIZE when the packed message exceeds max_len. */
int channel_send(int sock, ProtobufCMessage *msg, size_t max_len, const int *fds, size_t nfds);

/* Decode one datagram. On success *ret_msg (free with
 * protobuf_c_message_free_unpacked(m, NULL)) and *ret_case (the oneof case).
 * Returns 0 or -EPROTO. */
int channel_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		   size_t nfds_received, ProtobufCMessage **ret_msg, uint32_t *ret_case);

/* Receive and decode one message (datagrams over max_len are violations).
 * Fds (caller owns) in ret_fds. Returns 0, -ECONNRESET on EOF, -EPROTO or
 * -EMSGSIZE for violations (no fds left open), or -errno. */
int channel_recv(int sock, const ProtobufCMessageDescriptor *desc, size_t max_len,
		 ProtobufCMessage **ret_msg, uint32_t *ret_case, int *ret_fds, size_t max_fds,
		 size_t *ret_nfds);
