/* cellvm run's capture socket (--capture-socket PATH): programs follow the
 * VM's screen without the broker. Each connection is one capture reader for
 * as long as it stays open: it is sent one line of JSON (gpu_opt_reader_hello:
 * the ring's size and the scanouts' modes) with two fds (SCM_RIGHTS), the
 * ring memfd read-only and an eventfd of its own that the gpu device writes
 * once per new frame or cursor change; it reads the ring as
 * proto/capture_ring.h says. Closing the connection ends the subscription.
 * At most CAPSOCK_MAX readers at once (the device's limit); more are told
 * so and closed. Runs in cellvm run (root); the socket is 0600 and whatever
 * a client writes is read and dropped. */
#pragma once
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/gpu_opt.h"
#include "launcher/launcher.h"

#define CAPSOCK_MAX GPU_OPT_MAX_READERS

struct capsock {
	int listen_fd; /* -1: no socket */
	char path[108];
	int conns[CAPSOCK_MAX]; /* -1: free */
	uint64_t ids[CAPSOCK_MAX];
	uint64_t next_id;
	const struct gpu_opt *opt; /* the VM's display */
};

/* No socket, no readers (what capsock_open starts from). */
void capsock_init(struct capsock *cs);
/* Listen on path (a stale socket there is removed first). Returns 0 or an
 * exit status with a message logged. */
int capsock_open(struct capsock *cs, const char *path, const struct gpu_opt *opt);
/* The listener and the readers' connections to watch: at most 1 +
 * CAPSOCK_MAX entries in pfd. Returns the count. */
size_t capsock_poll_fill(struct capsock *cs, struct pollfd *pfd);
/* After poll: take a new reader (subscribing it at the gpu device dev, NULL
 * when it is gone), and end those whose connections closed. */
void capsock_poll_ready(struct capsock *cs, const struct pollfd *pfd, struct device_proc *dev);
void capsock_close(struct capsock *cs);
