/* The launcher<->core channel (vm.proto) over ipc framing. Decoding checks
 * the envelope's fd count against the fds that arrived. */
#pragma once
#include <stddef.h>
#include "vm.pb-c.h"

#define VM_CHANNEL_MAX_MSG 8192

/* Pack and send msg with its fds; sets msg->nfds. Returns 0 or -errno. */
int vm_channel_send(int sock, Cellvm__Vm__VmMessage *msg, const int *fds, size_t nfds);

/* Receive and decode one message. On success returns 0, *ret_msg (free with
 * cellvm__vm__vm_message__free_unpacked(m, NULL)) and its fds (caller owns).
 * -EPROTO for undecodable bytes, an empty oneof or an fd count mismatch (no fds
 * are left open then); -ECONNRESET on EOF; other -errno from ipc_recv. */
int vm_channel_recv(int sock, Cellvm__Vm__VmMessage **ret_msg, int *ret_fds, size_t max_fds,
		    size_t *ret_nfds);

/* Decode a datagram already received (the part fuzzed). Returns 0 or -EPROTO. */
int vm_channel_decode(const uint8_t *buf, size_t len, size_t nfds_received,
		      Cellvm__Vm__VmMessage **ret_msg);
