/* launcher<->core channel; see vm_channel.h. Bytes from the peer are untrusted. */
#include "proto/vm_channel.h"
#include "proto/ipc.h"

#include <errno.h>
#include <stdlib.h>

int vm_channel_send(int sock, Cellvm__Vm__VmMessage *msg, const int *fds, size_t nfds)
{
	uint8_t buf[VM_CHANNEL_MAX_MSG];
	size_t len;

	msg->nfds = (uint32_t)nfds;
	len = cellvm__vm__vm_message__get_packed_size(msg);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	cellvm__vm__vm_message__pack(msg, buf);
	return ipc_send(sock, buf, len, fds, nfds);
}

int vm_channel_decode(const uint8_t *buf, size_t len, size_t nfds_received,
		      Cellvm__Vm__VmMessage **ret_msg)
{
	Cellvm__Vm__VmMessage *m;

	m = cellvm__vm__vm_message__unpack(NULL, len, buf);
	if (!m)
		return -EPROTO;
	if (m->msg_case == CELLVM__VM__VM_MESSAGE__MSG__NOT_SET || m->nfds != nfds_received) {
		cellvm__vm__vm_message__free_unpacked(m, NULL);
		return -EPROTO;
	}
	*ret_msg = m;
	return 0;
}

int vm_channel_recv(int sock, Cellvm__Vm__VmMessage **ret_msg, int *ret_fds, size_t max_fds,
		    size_t *ret_nfds)
{
	uint8_t buf[VM_CHANNEL_MAX_MSG];
	int n, r;

	n = ipc_recv(sock, buf, sizeof(buf), ret_fds, max_fds, ret_nfds);
	if (n < 0)
		return n;
	r = vm_channel_decode(buf, (size_t)n, *ret_nfds, ret_msg);
	if (r < 0) {
		ipc_close_fds(ret_fds, *ret_nfds);
		*ret_nfds = 0;
	}
	return r;
}
