/* What a running core tells its launcher on the VM channel (vm.proto, after
 * CoreReady): a device it dropped while the device's process may live on
 * (DeviceFault: a reset it did not finish, a breach of the link protocol),
 * read through the launcher's dispatch table for a running core; and the
 * kill of that process, whose end the restart policy (supervise.h) then
 * treats as a crash. Runs in the privileged process (cellvm run,
 * cellvm-broker); the core's messages are untrusted. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "launcher/launcher.h"

/* A DeviceFault, checked. */
struct launcher_fault {
	uint32_t index;	   /* the device's place in CoreSetup.devices: < ndevs */
	uint32_t restarts; /* the successors the core had received (supervise_fault) */
	int reason;	   /* Cellvm__Vm__DeviceFaultReason */
	char detail[96];   /* the core's words, printable characters only */
};

/* The running core's channel chan is readable: take one message (ndevs: the
 * devices the core was given). Returns 1 with *ret filled for a DeviceFault;
 * 0 when the core is ending (the channel closed, or what waits is its
 * CoreStopped, left unread for launcher_core_stopped): stop watching the
 * channel, the core's pidfd follows; -EAGAIN when nothing waits after all;
 * any other -errno when the core broke the protocol (the caller kills it). */
int launcher_fault_recv(int chan, size_t ndevs, struct launcher_fault *ret);

/* End a device process the core dropped: SIGKILL through its pidfd, unless it
 * has exited already (its own status then stays what is reported). Its pidfd
 * turns readable, and the caller reaps it as any device's end. Returns 1 when
 * it was killed, 0 when it had already ended, or -errno. */
int launcher_fault_kill(const struct device_proc *p);
