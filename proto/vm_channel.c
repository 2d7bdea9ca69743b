/* launcher<->core channel; see vm_channel.h. Bytes from the peer are untrusted. */
#include "proto/vm_channel.h"
#include "proto/channel.h"

int vm_channel_send(int sock, Cellvm__Vm__VmMessage *msg, const int *fds, size_t nfds)
{
	return channel_send(sock, &msg->base, VM_CHANNEL_MAX_MSG, fds, nfds);
}

int vm_channel_decode(const uint8_t *buf, size_t len, size_t nfds_received,
		      Cellvm__Vm__VmMessage **ret_msg)
{
	uint32_t c;

	return channel_decode(&cellvm__vm__vm_message__descriptor, buf, len, nfds_received,
			      (ProtobufCMessage **)ret_msg, &c);
}

int vm_channel_recv(int sock, Cellvm__Vm__VmMessage **ret_msg, int *ret_fds, size_t max_fds,
		    size_t *ret_nfds)
{
	uint32_t c;

	return channel_recv(sock, &cellvm__vm__vm_message__descriptor, VM_CHANNEL_MAX_MSG,
			    (ProtobufCMessage **)ret_msg, &c, ret_fds, max_fds, ret_nfds);
}
