/* Device supervision, one policy for cellvm run and cellvm-broker: when a
 * device process dies, restart it with bounded exponential back-off and hand
 * the new process to the core (which has it take over the queues:
 * docs/devices.md); after too many restarts in a row, give up and let the
 * core tell the guest. Here are the policy and each device's restart state;
 * the callers drive them from their loops (cellvm run from its poll loop,
 * cli/devices.c; the broker from libevent, broker_supervise.c), start the
 * processes and log. Times are CLOCK_MONOTONIC milliseconds
 * (supervise_now_ms), passed in. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define SUPERVISE_MAX_RESTARTS	 8   /* in a row, then the device stays down */
#define SUPERVISE_BACKOFF_MIN_MS 100 /* doubled per restart in a row */
#define SUPERVISE_BACKOFF_MAX_MS 5000
#define SUPERVISE_STABLE_MS	 60000 /* up this long: the next crash counts from 0 */

/* One device's restart state. */
struct supervise_dev {
	uint32_t in_a_row;   /* restart attempts since it last stayed up */
	uint32_t restarts;   /* restarts that worked */
	uint64_t started_ms; /* when its process (or the last restart attempt) started */
	uint64_t restart_at; /* when the pending restart is due; 0: none pending */
	bool gone;	     /* given up on, or ended with the VM: never restarted */
	bool faulted;	     /* its process was ended for a fault (supervise_fault) */
};

/* What to do about a device whose process ended. */
enum supervise_verdict {
	SUPERVISE_VM_ENDING, /* it exited cleanly: its core link closed, the VM is ending */
	SUPERVISE_RESTART,   /* restart it at restart_at (supervise_wait_ms) */
	SUPERVISE_GIVE_UP,   /* too many in a row: tell the core (launcher_core_device_gone) */
};

uint64_t supervise_now_ms(void);
/* Its first process started at now. */
void supervise_init(struct supervise_dev *d, uint64_t now);
/* Its process ended at now with status (launcher_stop_device's: 0 a clean
 * exit, 128+signal, -1 unknown); a restart attempt that failed is status -1.
 * A crash after SUPERVISE_STABLE_MS up counts from 0 again. */
enum supervise_verdict supervise_died(struct supervise_dev *d, int status, uint64_t now);
/* The core dropped the device (DeviceFault: a reset it did not finish, a
 * breach of the protocol) when it had received restarts successors. True
 * when that is about the process running now (not one already replaced, nor
 * a device given up on or waiting for its restart): the caller kills it, and
 * its end, whatever its status, counts as a crash (restarted with back-off,
 * within the limit: a device that keeps breaking is given up on). */
bool supervise_fault(struct supervise_dev *d, uint32_t restarts);
/* Milliseconds from now until the pending restart is due (0: due); -1 when
 * none is pending. */
int64_t supervise_wait_ms(const struct supervise_dev *d, uint64_t now);
/* A restart attempt begins at now: it counts in the row, whatever comes of it. */
void supervise_restarting(struct supervise_dev *d, uint64_t now);
/* The attempt worked: the new process is running and the core has it. */
void supervise_restarted(struct supervise_dev *d);
/* The caller cannot restart it at all (out of memory for a timer): given up
 * on, as after too many restarts; the caller tells the core. */
void supervise_give_up(struct supervise_dev *d);
