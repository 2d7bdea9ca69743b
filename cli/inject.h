/* cellvm run's input socket (--input-socket PATH): programs drive the VM's
 * keyboard, mouse and touchscreen without the broker. One connection is one
 * request: the client writes a JSON body (the inject-input request of the
 * broker's API, or {"switch-input-backend": "ps2"|"virtio"}, or
 * {"input-info": true}), shuts its side down, and reads one JSON answer.
 * The request is served in the console relay's loop: it waits there until
 * the guest consumed the events or INJECT_DEADLINE_MS passed (then the
 * answer is the 503 VM_BUSY the broker gives, with the count delivered).
 * Runs in cellvm run (root); the socket is 0600 and the body untrusted. */
#pragma once
#include <poll.h>
#include <stdbool.h>

#include "launcher/launcher.h"

struct input_opt;

#define INJECT_DEADLINE_MS 5000
#define INJECT_READ_MS	   2000

struct inject {
	int listen_fd; /* -1: no socket */
	char path[108];
	uint64_t next_id;
	const struct input_opt *opt; /* the VM's input options (capabilities), or NULL */
};

/* Listen on path (removed first if it is a stale socket). Returns 0 or an
 * exit status with a message logged. */
int inject_open(struct inject *ij, const char *path);
/* Serve one connection now pending on the listener, talking to the input
 * device over dev's control channel (NULL: the VM has none, or it is gone). */
void inject_serve(struct inject *ij, struct device_proc *dev);
void inject_close(struct inject *ij);
