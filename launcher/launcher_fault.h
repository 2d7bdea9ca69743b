/* What a running core tells its launcher on the VM channel (vm.proto, after
 * CoreReady): a device it dropped while the device's process may live on
 * (DeviceFault: a reset it did not finish, a breach of the link protocol),
 * read through the launcher's dispatch table for a running core; and the
 * kill of that process, whose end the restart policy (supervise.h) then
 * treats as a crash. Runs in the privileged process (cellvm run,
 * cellvm-broker); the core's messages are untrusted. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/launcher.h"

/* What the watcher of a running core waits for besides DeviceFaults: a
 * CorePaused or a CoreResumed is taken only while its request is pending
 * (any other time it breaks the protocol). */
enum launcher_core_pending {
	LAUNCHER_CORE_NONE,	    /* nothing asked */
	LAUNCHER_CORE_PAUSING,	    /* Pause sent, CorePaused awaited */
	LAUNCHER_CORE_RESUMING,	    /* Resume sent, CoreResumed awaited */
	LAUNCHER_CORE_POWER_BUTTON, /* PowerButton sent, CorePowerButton awaited */
};

/* What launcher_fault_recv took. */
enum launcher_core_msg {
	LAUNCHER_MSG_FAULT = 1,	   /* a DeviceFault: index, restarts, reason, detail */
	LAUNCHER_MSG_PAUSED,	   /* CorePaused: guest_clock_ns; detail: its error, if any */
	LAUNCHER_MSG_RESUMED,	   /* CoreResumed: guest_clock_ns */
	LAUNCHER_MSG_POWER_BUTTON, /* CorePowerButton: guest_listens */
};

/* A DeviceFault, CorePaused, CoreResumed or CorePowerButton, checked. */
struct launcher_fault {
	enum launcher_core_msg msg;
	bool failed;		 /* CorePaused with an error: the vCPUs run on */
	bool guest_listens;	 /* CorePowerButton: the guest enabled the ACPI event */
	uint64_t guest_clock_ns; /* CorePaused, CoreResumed */
	uint32_t index;		 /* the device's place in CoreSetup.devices: < ndevs */
	uint32_t restarts;	 /* the successors the core had received (supervise_fault) */
	int reason;		 /* Cellvm__Vm__DeviceFaultReason */
	char detail[96];	 /* the core's words, printable characters only */
};

/* The running core's channel chan is readable: take one message (ndevs: the
 * devices the core was given; pending: enum launcher_core_pending). Returns 1
 * with *ret filled (ret->msg says which);
 * 0 when the core is ending (the channel closed, or what waits is its
 * CoreStopped, left unread for launcher_core_stopped): stop watching the
 * channel, the core's pidfd follows; -EAGAIN when nothing waits after all;
 * any other -errno when the core broke the protocol (the caller kills it). */
int launcher_core_recv(int chan, size_t ndevs, int pending, struct launcher_fault *ret);
/* The same with nothing pending (cellvm run never pauses): a DeviceFault. */
int launcher_fault_recv(int chan, size_t ndevs, struct launcher_fault *ret);

/* End a device process the core dropped: SIGKILL through its pidfd, unless it
 * has exited already (its own status then stays what is reported). Its pidfd
 * turns readable, and the caller reaps it as any device's end. Returns 1 when
 * it was killed, 0 when it had already ended, or -errno. */
int launcher_fault_kill(const struct device_proc *p);
