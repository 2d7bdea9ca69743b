/* launcher<->core channel; see vm_channel.h. */
#include "proto/vm_channel.h"
#include "proto/channel.h"

int vm_channel_send(int sock, Cellvm__Vm__VmMessage *msg, const int *fds, size_t nfds)
{
	return channel_send(sock, &msg->base, VM_CHANNEL_MAX_MSG, fds, nfds);
}
