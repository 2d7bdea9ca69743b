/* Device supervision for a running VM: when a device process dies, restart
 * it with bounded exponential back-off and hand the new process to the core
 * (which has it take over the queues: docs/devices.md); after too many
 * restarts in a row, give up and let the core tell the guest. Runs in the
 * launcher's process, driven by its poll loop. */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/launcher.h"

#define SUPERVISE_MAX_RESTARTS	 8   /* in a row, then the device stays down */
#define SUPERVISE_BACKOFF_MIN_MS 100 /* doubled per restart in a row */
#define SUPERVISE_BACKOFF_MAX_MS 5000
#define SUPERVISE_STABLE_MS	 60000 /* up this long: the next crash counts from 0 */

/* The restart policy, shared with cellvm-broker: whether a device that
 * crashed after up_ms of running, with in_a_row restarts before, is
 * restarted (*in_a_row updated: a device that stayed up counts from 0), and
 * after how many milliseconds. Returns the delay, or -1 to give up. */
int64_t supervise_next_restart(uint32_t *in_a_row, uint64_t up_ms);

/* Start device i again into *ret (Ready, its link not yet given away).
 * Returns 0 or -errno. */
typedef int (*supervise_start_fn)(void *arg, size_t i, struct device_proc *ret);

struct supervised {
	char name[16];	     /* "disk 0", "net 1": for logs */
	uint32_t in_a_row;   /* restarts since it last stayed up */
	uint32_t restarts;   /* all restarts */
	uint64_t restart_at; /* monotonic ms of the pending restart, 0 if none */
	uint64_t started_at;
	bool gone; /* given up */
};

struct supervisor {
	struct core_proc *core;
	struct device_proc *procs; /* the running processes, indexed like the core's devices */
	struct supervised dev[LAUNCHER_MAX_DEVICES];
	size_t n;
	supervise_start_fn start;
	void *arg;
};

void supervise_init(struct supervisor *s, struct core_proc *core, struct device_proc *procs,
		    const char *const *names, size_t n, supervise_start_fn start, void *arg);
/* Before poll: the pidfds to watch (pfd[0..n)) and the time to the next
 * restart (lowers *timeout_ms). Returns n. */
size_t supervise_fill(struct supervisor *s, struct pollfd *pfd, int *timeout_ms);
/* After poll: reap dead devices, run due restarts. */
void supervise_ready(struct supervisor *s, const struct pollfd *pfd);
