/* One request and its answer over a link to a device process, as the core's
 * vCPU threads forward port and register accesses (ps2_link.c,
 * xhci_pci.c): send, then read datagrams through the link's dispatch table,
 * in its waiting state, until the answer's handler says it came. Runs in
 * cellvm-core; what comes back is untrusted (the device). */
#pragma once
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/dispatch.h"

/* Why a call failed (for the caller's one log line). */
enum link_call_fail { LINK_CALL_OK, LINK_CALL_SEND, LINK_CALL_TIMEOUT, LINK_CALL_PEER };

/* Send m on fd, put proto in state waiting, clear *answered and read until a
 * handler (called with ctx) sets it, waiting at most timeout_ms for each
 * datagram. Returns LINK_CALL_OK, or how it failed with the -errno (0 for
 * silence) in *ret_err. */
enum link_call_fail link_call(int fd, ProtobufCMessage *m, size_t max_len, struct dispatch *proto,
			      uint32_t waiting, void *ctx, bool *answered, int timeout_ms,
			      int *ret_err);

/* The words for a failure ("send failed", "no answer in time", ...). */
const char *link_call_reason(enum link_call_fail f);
