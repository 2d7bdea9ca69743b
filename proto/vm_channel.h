/* The launcher<->core channel (vm.proto) over ipc framing: sending. Both
 * sides receive through their dispatch tables (dispatch_recv). */
#pragma once
#include <stddef.h>
#include "vm.pb-c.h"

#define VM_CHANNEL_MAX_MSG 8192

/* Pack and send msg with its fds; sets msg->nfds. Returns 0 or -errno. */
int vm_channel_send(int sock, Cellvm__Vm__VmMessage *msg, const int *fds, size_t nfds);
