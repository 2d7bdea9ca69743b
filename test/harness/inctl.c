/* The input device's control channel as the launcher plays it; see
 * inctl.h. Runs in test and benchmark processes; what the device sends is
 * checked (one InputReply, no fds). */
#include "test/harness/inctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "launcher/launcher.h"
#include "proto/channel.h"
#include "proto/ipc.h"

void inctl_require(void)
{
	char dir[512], path[600];
	int fd;

	fd = memfd_create("inctl-probe", MFD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "SKIP: memfd_create: %s\n", strerror(errno));
		exit(77);
	}
	close(fd);
	if (launcher_bin_dir(dir, sizeof(dir)) < 0) {
		fprintf(stderr, "SKIP: cannot locate the cellvm binaries (CELLVM_LIBEXEC)\n");
		exit(77);
	}
	snprintf(path, sizeof(path), "%s/cellvm-dev-input", dir);
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "SKIP: %s: %s\n", path, strerror(errno));
		exit(77);
	}
}

int64_t inctl_cmd(struct inctl *c, uint64_t id, Cellvm__Device__InputCommand *cmd, const int *fds,
		  size_t nfds)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	int r;

	cmd->id = id ? id : c->next_id++;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_CMD;
	m.input_cmd = cmd;
	r = channel_send(c->fd, &m.base, INCTL_MAX_MSG, fds, nfds);
	return r < 0 ? r : (int64_t)cmd->id;
}

int64_t inctl_inject(struct inctl *c, uint32_t backend, const struct cellvm_input_event *ev,
		     size_t n)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputInject inj = CELLVM__DEVICE__INPUT_INJECT__INIT;

	inj.backend = backend;
	inj.events.data = (uint8_t *)ev;
	inj.events.len = n * sizeof(*ev);
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT;
	cmd.inject = &inj;
	return inctl_cmd(c, 0, &cmd, NULL, 0);
}

int64_t inctl_switch(struct inctl *c, uint32_t backend)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputSwitch sw = CELLVM__DEVICE__INPUT_SWITCH__INIT;

	sw.backend = backend;
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_SWITCH_BACKEND;
	cmd.switch_backend = &sw;
	return inctl_cmd(c, 0, &cmd, NULL, 0);
}

int64_t inctl_query(struct inctl *c, uint64_t progress_of)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputQuery q = CELLVM__DEVICE__INPUT_QUERY__INIT;

	q.progress_of = progress_of;
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
	cmd.query = &q;
	return inctl_cmd(c, 0, &cmd, NULL, 0);
}

bool inctl_reply_ready(struct inctl *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

static void inctl_copy_reply(struct inctl_reply *ret, const Cellvm__Device__InputReply *r)
{
	*ret = (struct inctl_reply){.id = r->id,
				    .status = r->status,
				    .delivered = r->delivered,
				    .total = r->total,
				    .active_backend = r->active_backend,
				    .pending = r->pending,
				    .error_event = r->error_event};
	snprintf(ret->error, sizeof(ret->error), "%s", r->error ? r->error : "");
	for (size_t i = 0; i < r->n_backends && i < 4; i++) {
		struct inctl_backend *b = &ret->backends[ret->nbackends++];

		b->backend = r->backends[i]->backend;
		b->bound = r->backends[i]->bound;
		b->leds = r->backends[i]->leds;
		snprintf(b->detail, sizeof(b->detail), "%s",
			 r->backends[i]->detail ? r->backends[i]->detail : "");
	}
}

int inctl_reply(struct inctl *c, struct inctl_reply *ret, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	Cellvm__Device__ControlMessage *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t mc;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	r = channel_recv(c->fd, &cellvm__device__control_message__descriptor, INCTL_MAX_MSG,
			 (ProtobufCMessage **)&m, &mc, fds, IPC_MAX_FDS, &nfds);
	if (r < 0)
		return r;
	ipc_close_fds(fds, nfds);
	r = mc == CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_REPLY && nfds == 0 ? 0 : -EPROTO;
	if (r == 0)
		inctl_copy_reply(ret, m->input_reply);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}
