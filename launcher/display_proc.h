/* Starting cellvm-display, a VM's sandboxed VNC server (docs/display.md),
 * and talking to it: the privileged parent's side of proto/display.proto.
 * Part of the launcher library (cellvm run, cellvm-broker). What the display
 * sends is untrusted: a dispatch table checks it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "launcher/launcher.h"
#include "proto/dispatch.h"
#include "proto/input_event.h"

struct display_config {
	int ring_fd;	    /* the capture ring memfd (sealed against shrinking); not taken */
	uint64_t ring_size; /* its size */
	int efd;	    /* one subscriber eventfd of the ring; not taken */
	uint32_t scanout;
	bool relative;		 /* a mouse (REL_MOVE) instead of a tablet (ABS_MOVE) */
	const char *name;	 /* the desktop's name (NULL: "cellvm"), at most 63 bytes */
	uint32_t max_clients;	 /* 0: the display's default (4); at most 32 */
	uint32_t client_wait_ms; /* 0: the default (500) */
	int debug;
	const struct launcher_jail *jail; /* NULL: 65534, the launcher's cgroup */
};

struct display_proc {
	pid_t pid;
	int pidfd;
	int ctl; /* our end of the control channel */
	int log; /* > 0: its stderr pipe (jail->log_pipe); the caller may take it */
	struct dispatch d;
};

/* What one message from the display said (launcher_display_recv). */
struct display_msg {
	enum { DISPLAY_MSG_INPUT = 1, DISPLAY_MSG_STATUS } kind;
	struct cellvm_input_event events[CELLVM_INPUT_MAX_EVENTS]; /* INPUT */
	size_t nevents;
	/* STATUS */
	uint64_t id, frames_sent, bytes_sent, clients_total, clients_refused, frames_seen;
	uint32_t clients;
};

/* Start cellvm-display, hand it its DisplaySetup and wait for DisplayReady
 * (sent once it is sandboxed). On failure returns -errno with a message in
 * err, and nothing is left running. */
int launcher_start_display(const struct display_config *cfg, struct display_proc *ret, char *err,
			   size_t errlen);

/* Hand the display one accepted, authenticated stream connection fd (a dup
 * goes; the caller keeps and closes its own). resumed: the caller already
 * ran the RFB version exchange and VNC authentication with it, up to (not
 * including) the SecurityResult. 0 or -errno. */
int launcher_display_client(struct display_proc *p, int fd, uint64_t id, bool view_only,
			    bool resumed);

/* Ask for a DisplayStatus (it comes through launcher_display_recv). */
int launcher_display_query(struct display_proc *p, uint64_t id);

/* Read one message from the display into *ret. 0; -ECONNRESET when it is
 * gone; -EAGAIN when there is none (the channel is non-blocking); a
 * dispatch refusal or -EPROTO when it broke the protocol (stop it). */
int launcher_display_recv(struct display_proc *p, struct display_msg *ret);
/* A running server an earlier broker started (p's pid, pidfd, ctl and log
 * set): its channel's state, as after its Ready. */
void launcher_display_adopt(struct display_proc *p);

/* Kill (if still running; sig 0: close the channel and give it a second to
 * exit by itself first) and reap it, close its fds. Returns its exit status
 * (128+signal when killed), or -1. */
int launcher_stop_display(struct display_proc *p, int sig);
