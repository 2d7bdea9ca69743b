/* The launcher's side of cellvm-display: start it like a device process
 * (launcher_spawn: namespaces, the jail's ids and cgroup, only fd 3), hand
 * it the capture ring and its eventfd in DisplaySetup, wait for its Ready,
 * then hand it connections and read what it sends through a dispatch table.
 * Runs in the privileged parent. UNTRUSTED(display): every message from it. */
#include "launcher/display_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "display.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define DISPLAY_PROC_MAX_MSG 16384

/* Where the display is, as its parent sees it. */
enum { DISPLAY_PROC_STARTING, DISPLAY_PROC_RUNNING };

struct display_proc_rx {
	struct display_proc *p;
	struct display_msg *out;
};

static int display_proc_on_ready(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct display_proc_rx *rx = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	rx->p->d.state = DISPLAY_PROC_RUNNING;
	return 0;
}

static int display_proc_on_input(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Display__DisplayInput *in = msg;
	struct display_proc_rx *rx = ctx;
	size_t n = in->events.len / sizeof(struct cellvm_input_event);

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(display): whole records, at most one InputInject's worth.
	 * The input process checks each record again. */
	if (in->events.len % sizeof(struct cellvm_input_event) || n == 0 ||
	    n > CELLVM_INPUT_MAX_EVENTS)
		return -EPROTO;
	rx->out->kind = DISPLAY_MSG_INPUT;
	memcpy(rx->out->events, in->events.data, in->events.len);
	rx->out->nevents = n;
	return 0;
}

static int display_proc_on_status(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Display__DisplayStatus *st = msg;
	struct display_proc_rx *rx = ctx;

	(void)fds;
	(void)nfds;
	rx->out->kind = DISPLAY_MSG_STATUS;
	rx->out->id = st->id;
	rx->out->clients = st->clients;
	rx->out->frames_sent = st->frames_sent;
	rx->out->bytes_sent = st->bytes_sent;
	rx->out->clients_total = st->clients_total;
	rx->out->clients_refused = st->clients_refused;
	rx->out->frames_seen = st->frames_seen;
	return 0;
}

/* What the display may send: Ready once while it starts, then input and
 * status. Never fds. */
static const struct dispatch_entry display_proc_table[] = {
	[CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_READY] = {display_proc_on_ready,
							 DISPATCH_STATE(DISPLAY_PROC_STARTING),
							 DISPATCH_ONCE},
	[CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_INPUT] = {display_proc_on_input,
							 DISPATCH_STATE(DISPLAY_PROC_RUNNING), 0},
	[CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_STATUS] = {display_proc_on_status,
							  DISPATCH_STATE(DISPLAY_PROC_RUNNING), 0},
};

static const struct dispatch_channel display_proc_chan = {
	.envelope = &cellvm__display__display_message__descriptor,
	.max_len = DISPLAY_PROC_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = display_proc_table,
	.n = sizeof(display_proc_table) / sizeof(display_proc_table[0]),
};

static int display_proc_setup(const struct display_config *cfg, int ctl)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplaySetup s = CELLVM__DISPLAY__DISPLAY_SETUP__INIT;
	int fds[2] = {cfg->ring_fd, cfg->efd};

	s.ring_size = cfg->ring_size;
	s.scanout = cfg->scanout;
	s.pointer = cfg->relative ? CELLVM__DISPLAY__POINTER_MODE__POINTER_RELATIVE
				  : CELLVM__DISPLAY__POINTER_MODE__POINTER_ABSOLUTE;
	s.name = (char *)(cfg->name ? cfg->name : "cellvm");
	s.max_clients = cfg->max_clients;
	s.client_wait_ms = cfg->client_wait_ms;
	s.log_level = cfg->debug ? 1 : 0;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_SETUP;
	m.setup = &s;
	return channel_send(ctl, &m.base, DISPLAY_PROC_MAX_MSG, fds, 2);
}

int launcher_start_display(const struct display_config *cfg, struct display_proc *ret, char *err,
			   size_t errlen)
{
	struct display_msg msg;
	int ctl[2] = {-1, -1};
	int r;

	*ret = (struct display_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
	if (cfg->ring_fd < 0 || cfg->efd < 0) {
		snprintf(err, errlen, "cellvm-display needs the capture ring and an eventfd");
		return -EINVAL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return r;
	}
	r = launcher_spawn("cellvm-display", ctl[1], cfg->jail, &ret->pid, &ret->pidfd, &ret->log,
			   err, errlen);
	close(ctl[1]);
	ret->ctl = ctl[0];
	if (r < 0)
		goto fail;
	dispatch_init(&ret->d, &display_proc_chan, DISPLAY_PROC_STARTING);
	r = display_proc_setup(cfg, ret->ctl);
	if (r < 0) {
		snprintf(err, errlen, "cellvm-display: cannot hand over its setup: %s",
			 strerror(-r));
		goto fail;
	}
	r = launcher_wait_chan(ret->ctl, ret->pidfd, "cellvm-display", err, errlen);
	if (r < 0)
		goto fail;
	/* UNTRUSTED(display): its first message, which must be Ready. */
	r = launcher_display_recv(ret, &msg);
	if (r < 0 || ret->d.state != DISPLAY_PROC_RUNNING) {
		if (r < 0 && dispatch_violation(r))
			snprintf(err, errlen, "cellvm-display broke the protocol during setup (%s)",
				 dispatch_strerror(r));
		else
			snprintf(err, errlen, "cellvm-display failed to start (see its messages)");
		r = -ECHILD;
		goto fail;
	}
	if (fcntl(ret->ctl, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	launcher_stop_display(ret, SIGKILL);
	return r;
}

int launcher_display_client(struct display_proc *p, int fd, uint64_t id, bool view_only,
			    bool resumed)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplayClient c = CELLVM__DISPLAY__DISPLAY_CLIENT__INIT;

	c.id = id;
	c.view_only = view_only;
	c.mode = resumed ? CELLVM__DISPLAY__CLIENT_MODE__CLIENT_RESUMED
			 : CELLVM__DISPLAY__CLIENT_MODE__CLIENT_FRESH;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_CLIENT;
	m.client = &c;
	return channel_send(p->ctl, &m.base, DISPLAY_PROC_MAX_MSG, &fd, 1);
}

int launcher_display_query(struct display_proc *p, uint64_t id)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplayQuery q = CELLVM__DISPLAY__DISPLAY_QUERY__INIT;

	q.id = id;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_QUERY;
	m.query = &q;
	return channel_send(p->ctl, &m.base, DISPLAY_PROC_MAX_MSG, NULL, 0);
}

void launcher_display_adopt(struct display_proc *p)
{
	dispatch_init(&p->d, &display_proc_chan, DISPLAY_PROC_RUNNING);
}

int launcher_display_recv(struct display_proc *p, struct display_msg *ret)
{
	struct display_proc_rx rx = {.p = p, .out = ret};

	ret->kind = 0;
	return dispatch_recv(p->ctl, &p->d, &rx);
}

int launcher_stop_display(struct display_proc *p, int sig)
{
	int status = -1, ws = 0;

	if (p->ctl >= 0)
		close(p->ctl); /* the display ends when its channel closes */
	p->ctl = -1;
	if (p->pid > 0) {
		bool gone = false;
		pid_t w;

		if (sig != SIGKILL && p->pidfd >= 0) {
			struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
			gone = poll(&pfd, 1, 1000) > 0;
		}
		/* PID 1 of its namespace: only SIGKILL is sure to reach it. */
		if (!gone)
			kill(p->pid, SIGKILL);
		while ((w = waitpid(p->pid, &ws, 0)) < 0 && errno == EINTR)
			;
		if (w > 0)
			status = launcher_exit_status(ws);
		p->pid = -1;
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->log > 0)
		close(p->log);
	p->pidfd = p->log = -1;
	return status;
}
