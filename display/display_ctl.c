/* The control channel of cellvm-display: what the privileged parent may
 * send when (a dispatch table: DisplaySetup once and first, then clients
 * and queries), and what the display sends back (Ready, Input, Status).
 * Runs in cellvm-display. The parent is trusted, but a message that breaks
 * the protocol ends the process with a clear error rather than being
 * guessed at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "common/log.h"
#include "display/display.h"
#include "proto/capture_ring.h"
#include "proto/channel.h"
#include "proto/ipc.h"

static int display_ctl_send(struct display *dp, Cellvm__Display__DisplayMessage *m)
{
	return channel_send(dp->ctl, &m->base, DISPLAY_MAX_MSG, NULL, 0);
}

int display_ctl_send_ready(struct display *dp)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplayReady rd = CELLVM__DISPLAY__DISPLAY_READY__INIT;

	rd.pid = (uint32_t)getpid();
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_READY;
	m.ready = &rd;
	return display_ctl_send(dp, &m);
}

int display_ctl_send_input(struct display *dp, const struct cellvm_input_event *ev, size_t n)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplayInput in = CELLVM__DISPLAY__DISPLAY_INPUT__INIT;

	if (n == 0 || n > CELLVM_INPUT_MAX_EVENTS)
		return -EINVAL;
	in.events.data = (uint8_t *)ev;
	in.events.len = n * sizeof(*ev);
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_INPUT;
	m.input = &in;
	return display_ctl_send(dp, &m);
}

/* The ring memfd: at least its header, the size the parent says it is,
 * sealed against shrinking (a copy out of it must never fault). */
static int display_ctl_map_ring(struct display *dp, int fd, uint64_t size)
{
	struct stat st;
	int seals;
	void *map;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (size < sizeof(struct cellvm_capture_header) || (uint64_t)st.st_size != size) {
		log_err("DisplaySetup: ring_size %llu, but the memfd has %lld bytes",
			(unsigned long long)size, (long long)st.st_size);
		return -EINVAL;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		log_err("DisplaySetup: the ring memfd is not sealed against shrinking");
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	dp->ring = map;
	dp->ring_size = (size_t)size;
	return 0;
}

static int display_ctl_on_setup(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Display__DisplaySetup *s = msg;
	struct display *dp = ctx;
	int r;

	if (nfds != 2) {
		log_err("DisplaySetup: %zu fds, want 2 (ring memfd, eventfd)", nfds);
		return -EBADF;
	}
	if (s->max_clients > DISPLAY_MAX_CLIENTS || s->client_wait_ms > DISPLAY_MAX_WAIT_MS ||
	    strlen(s->name) > DISPLAY_NAME_MAX ||
	    (s->pointer != CELLVM__DISPLAY__POINTER_MODE__POINTER_ABSOLUTE &&
	     s->pointer != CELLVM__DISPLAY__POINTER_MODE__POINTER_RELATIVE)) {
		log_err("DisplaySetup: a field out of range (max_clients <= %d, "
			"client_wait_ms <= %d, name <= %d bytes, a known pointer mode)",
			DISPLAY_MAX_CLIENTS, DISPLAY_MAX_WAIT_MS, DISPLAY_NAME_MAX);
		return -EINVAL;
	}
	r = display_ctl_map_ring(dp, fds[0], s->ring_size);
	if (r < 0)
		return r;
	dp->ring_fd = fds[0];
	dp->efd = fds[1];
	fds[0] = fds[1] = -1;
	dp->scanout = s->scanout;
	dp->absolute = s->pointer == CELLVM__DISPLAY__POINTER_MODE__POINTER_ABSOLUTE;
	dp->max_clients = s->max_clients ? s->max_clients : DISPLAY_DEFAULT_CLIENTS;
	dp->wait_ms = s->client_wait_ms ? s->client_wait_ms : DISPLAY_DEFAULT_WAIT_MS;
	dp->debug = s->log_level > 0;
	snprintf(dp->name, sizeof(dp->name), "%s", *s->name ? s->name : "cellvm");
	dp->d.state = DISPLAY_ST_SERVING;
	return 0;
}

static int display_ctl_on_client(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Display__DisplayClient *c = msg;
	struct display *dp = ctx;
	int fd, type, r;
	socklen_t len = sizeof(type);

	if (nfds != 1) {
		log_err("DisplayClient: %zu fds, want 1 (the connection)", nfds);
		return -EBADF;
	}
	if (c->mode != CELLVM__DISPLAY__CLIENT_MODE__CLIENT_FRESH &&
	    c->mode != CELLVM__DISPLAY__CLIENT_MODE__CLIENT_RESUMED) {
		log_err("DisplayClient: unknown mode %d", c->mode);
		return -EINVAL;
	}
	if (getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
		log_err("DisplayClient: the fd is not a stream socket");
		return -EINVAL;
	}
	fd = fds[0];
	fds[0] = -1;
	dp->clients_total++;
	r = display_vnc_add_client(dp, fd, c->id, c->view_only,
				   c->mode == CELLVM__DISPLAY__CLIENT_MODE__CLIENT_RESUMED);
	if (r < 0) {
		/* The client's own failure (or one too many): not the parent's. */
		dp->clients_refused++;
		log_info("client %llu refused: %s", (unsigned long long)c->id,
			 r == -EUSERS ? "too many clients" : strerror(-r));
	}
	return 0;
}

static int display_ctl_on_query(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Display__DisplayQuery *q = msg;
	struct display *dp = ctx;
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplayStatus st = CELLVM__DISPLAY__DISPLAY_STATUS__INIT;

	(void)fds;
	(void)nfds;
	st.id = q->id;
	st.clients = dp->nclients;
	st.frames_sent = dp->frames_sent;
	st.bytes_sent = display_pump_bytes(dp->pump);
	st.clients_total = dp->clients_total;
	st.clients_refused = dp->clients_refused;
	st.frames_seen = dp->frames_seen;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_STATUS;
	m.status = &st;
	return display_ctl_send(dp, &m);
}

/* What the parent may send: DisplaySetup once and first (two fds), then
 * DisplayClient (one fd each) and DisplayQuery (none). Ready, Input and
 * Status go the other way. */
static const struct dispatch_entry display_ctl_table[] = {
	[CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_SETUP] = {display_ctl_on_setup,
							 DISPATCH_STATE(DISPLAY_ST_INIT),
							 DISPATCH_ONCE | DISPATCH_NEEDS_FDS},
	[CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_CLIENT] = {display_ctl_on_client,
							  DISPATCH_STATE(DISPLAY_ST_SERVING),
							  DISPATCH_NEEDS_FDS},
	[CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_QUERY] = {display_ctl_on_query,
							 DISPATCH_STATE(DISPLAY_ST_SERVING), 0},
};

const struct dispatch_channel display_ctl_chan = {
	.envelope = &cellvm__display__display_message__descriptor,
	.max_len = DISPLAY_MAX_MSG,
	.max_fds = 2,
	.table = display_ctl_table,
	.n = sizeof(display_ctl_table) / sizeof(display_ctl_table[0]),
};
