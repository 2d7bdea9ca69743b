/* cellvm run's capture sockets: programs follow the VM's screen
 * (--capture-socket PATH, the gpu's frame ring) or sound (--audio-socket
 * PATH, the snd's audio ring) without the broker. Each connection is one
 * reader for as long as it stays open: it is sent one line of JSON (the
 * kind's hello: gpu_opt_reader_hello, snd_opt_reader_hello) with two fds
 * (SCM_RIGHTS), the ring memfd read-only and an eventfd of its own that the
 * device writes once per new frame or cursor change, or per audio period;
 * it reads the ring as proto/capture_ring.h or proto/audio_ring.h says.
 * Closing the connection ends the subscription. At most CAPSOCK_MAX readers
 * at once (the devices' limit); more are told so and closed. Runs in cellvm
 * run (root); the socket is 0600 and whatever a client writes is read and
 * dropped. */
#pragma once
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/gpu_opt.h"
#include "launcher/launcher.h"
#include "launcher/snd_opt.h"

#define CAPSOCK_MAX GPU_OPT_MAX_READERS
_Static_assert(SND_OPT_MAX_READERS == CAPSOCK_MAX, "one reader limit for both rings");

/* What differs between the rings: the option named in messages, the
 * device, and the options' calls. */
struct capsock_kind {
	const char *option; /* "--capture-socket" */
	const char *device; /* "gpu" */
	int (*reader_fd)(const void *opt);
	size_t (*hello)(const void *opt, char *buf, size_t len);
};

extern const struct capsock_kind capsock_gpu; /* opt: const struct gpu_opt * */
extern const struct capsock_kind capsock_snd; /* opt: const struct snd_opt * */

struct capsock {
	int listen_fd; /* -1: no socket */
	char path[108];
	int conns[CAPSOCK_MAX]; /* -1: free */
	uint64_t ids[CAPSOCK_MAX];
	uint64_t next_id;
	const struct capsock_kind *kind;
	const void *opt; /* the VM's display or sound card */
};

/* No socket, no readers (what capsock_open starts from). */
void capsock_init(struct capsock *cs);
/* Listen on path (a stale socket there is removed first) for readers of
 * kind's ring, whose options are opt. Returns 0 or an exit status with a
 * message logged. */
int capsock_open(struct capsock *cs, const char *path, const struct capsock_kind *kind,
		 const void *opt);
/* Listen on path (the same way) with mode 0600; returns the listening fd
 * (non-blocking) or an exit status negated, with a message naming option
 * logged. */
int capsock_listen(const char *path, const char *option);
/* The listener and the readers' connections to watch: at most 1 +
 * CAPSOCK_MAX entries in pfd. Returns the count. */
size_t capsock_poll_fill(struct capsock *cs, struct pollfd *pfd);
/* After poll: take a new reader (subscribing it at the device dev, NULL
 * when it is gone), and end those whose connections closed. */
void capsock_poll_ready(struct capsock *cs, const struct pollfd *pfd, struct device_proc *dev);
void capsock_close(struct capsock *cs);
