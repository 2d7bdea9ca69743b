/* cellvm run's input socket; see inject.h. The client's body is untrusted:
 * it is parsed by launcher/input_req.c, and the input device checks every
 * record again. */
#include "cli/inject.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "common/log.h"
#include "device.pb-c.h"
#include "launcher/input_api.h"
#include "launcher/input_opt.h"
#include "launcher/input_req.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "proto/ipc.h"
#include "proto/vm_exit.h"

#define INJECT_MAX_MSG 16384

int inject_open(struct inject *ij, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	ij->listen_fd = -1;
	ij->next_id = 1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("--input-socket: path too long");
		return VM_EXIT_BAD_INPUT;
	}
	snprintf(ij->path, sizeof(ij->path), "%s", path);
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	ij->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ij->listen_fd < 0 || fchmod(ij->listen_fd, 0600) < 0 ||
	    bind(ij->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(ij->listen_fd, 8) < 0) {
		log_err("--input-socket %s: %s", path, strerror(errno));
		inject_close(ij);
		return VM_EXIT_BAD_INPUT;
	}
	return 0;
}

void inject_close(struct inject *ij)
{
	if (ij->listen_fd >= 0) {
		close(ij->listen_fd);
		unlink(ij->path);
	}
	ij->listen_fd = -1;
}

static int64_t inject_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the whole body (to the client's shutdown) within INJECT_READ_MS. */
static ssize_t inject_read_body(int fd, char *buf, size_t max)
{
	int64_t end = inject_now_ms() + INJECT_READ_MS;
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = end - inject_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + got, max - got);
		if (n == 0)
			return (ssize_t)got;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		got += (size_t)n;
		if (got == max)
			return -EMSGSIZE;
	}
}

static void inject_answer(int fd, json_object *j)
{
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);

	/* The client may be gone: nothing to do about it. */
	if (fd_write_all(fd, s, strlen(s)) == 0)
		(void)fd_write_all(fd, "\n", 1);
	json_object_put(j);
}

static void inject_error(int fd, enum input_api_err e, const char *msg, int event)
{
	struct input_api_result res = {.e = e, .msg = msg, .event = event};

	inject_answer(fd, input_api_result_json(&res, NULL));
}

/* What the input device may say to us: InputReplies only, never fds. */
enum { INJECT_WAITING };
struct inject_wait {
	uint64_t id;
	Cellvm__Device__InputReply *reply; /* kept copy, or NULL */
};

static int inject_on_reply(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__InputReply *r = msg;
	struct inject_wait *w = ctx;
	size_t len;
	uint8_t *buf;

	(void)fds;
	(void)nfds;
	if (r->id != w->id)
		return 0; /* an answer to a request that timed out earlier */
	len = cellvm__device__input_reply__get_packed_size(r);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	cellvm__device__input_reply__pack(r, buf);
	w->reply = cellvm__device__input_reply__unpack(NULL, len, buf);
	free(buf);
	return w->reply ? 0 : -ENOMEM;
}

static const struct dispatch_entry inject_table[] = {
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_REPLY] = {inject_on_reply,
							      DISPATCH_STATE(INJECT_WAITING), 0},
};

static const struct dispatch_channel inject_chan = {
	.envelope = &cellvm__device__control_message__descriptor,
	.max_len = INJECT_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = inject_table,
	.n = sizeof(inject_table) / sizeof(inject_table[0]),
};

/* Send cmd and wait for its reply until deadline (ms, monotonic). Returns
 * the reply (the caller frees it), or NULL on a timeout or a broken device. */
static Cellvm__Device__InputReply *inject_call(struct device_proc *dev,
					       Cellvm__Device__InputCommand *cmd, int64_t deadline,
					       bool *ret_broken)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	struct inject_wait w = {.id = cmd->id};
	struct dispatch d;

	*ret_broken = false;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_CMD;
	m.input_cmd = cmd;
	if (channel_send(dev->ctl, &m.base, INJECT_MAX_MSG, NULL, 0) < 0) {
		*ret_broken = true;
		return NULL;
	}
	dispatch_init(&d, &inject_chan, INJECT_WAITING);
	while (!w.reply) {
		struct pollfd pfd = {.fd = dev->ctl, .events = POLLIN};
		int64_t left = deadline - inject_now_ms();
		int r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return NULL;
		/* UNTRUSTED(device): one datagram through the table. */
		r = dispatch_recv(dev->ctl, &d, &w);
		if (r < 0) {
			log_err("input device: %s on its control channel", dispatch_strerror(r));
			*ret_broken = true;
			return NULL;
		}
	}
	return w.reply;
}

/* The device's answer r to a command about total events (req: the inject's
 * request, whose event the device's record index names, or NULL). */
static void inject_reply(const struct inject *ij, int fd, const Cellvm__Device__InputReply *r,
			 uint32_t total, const struct input_req *req)
{
	struct input_api_result res = {.e = input_api_err_of(r->status),
				       .msg = r->error[0] ? r->error : NULL,
				       .event = req ? input_req_event_of(req, r->error_event) : -1,
				       .delivered = r->delivered,
				       .total = total ? total : r->total,
				       .reply = r};

	if (r->status == CELLVM__DEVICE__INPUT_STATUS__INPUT_PENDING)
		res.msg = "the guest has not consumed the events in time (the rest follow when it "
			  "does)";
	inject_answer(fd, input_api_result_json(&res, ij->opt));
}

static void inject_handle(struct inject *ij, int fd, struct device_proc *dev)
{
	static struct input_req req;
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputInject inj = CELLVM__DEVICE__INPUT_INJECT__INIT;
	Cellvm__Device__InputSwitch sw = CELLVM__DEVICE__INPUT_SWITCH__INIT;
	Cellvm__Device__InputQuery q = CELLVM__DEVICE__INPUT_QUERY__INIT;
	Cellvm__Device__InputReply *r;
	char body[INPUT_REQ_MAX_BODY + 1], err[256];
	int64_t deadline = inject_now_ms() + INJECT_DEADLINE_MS;
	json_object *j, *v;
	bool broken;
	ssize_t n;
	int ev = -1;

	/* UNTRUSTED(client): the body. */
	n = inject_read_body(fd, body, sizeof(body) - 1);
	if (n < 0) {
		inject_error(fd, INPUT_API_INVALID,
			     "no complete request (write it, then shut down)", -1);
		return;
	}
	body[n] = 0;
	if (!dev) {
		inject_error(fd, INPUT_API_NOT_AVAILABLE, "this VM has no input device", -1);
		return;
	}
	cmd.id = ij->next_id++;
	j = json_tokener_parse(body);
	if (j && json_object_object_get_ex(j, "switch-input-backend", &v) &&
	    json_object_object_length(j) == 1) {
		int b = json_object_is_type(v, json_type_string)
				? input_opt_backend(json_object_get_string(v))
				: -EINVAL;

		json_object_put(j);
		if (b < 0) {
			inject_error(fd, INPUT_API_NOT_AVAILABLE, "unknown backend", -1);
			return;
		}
		sw.backend = (uint32_t)b;
		cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_SWITCH_BACKEND;
		cmd.switch_backend = &sw;
	} else if (j && json_object_object_get_ex(j, "input-info", NULL) &&
		   json_object_object_length(j) == 1) {
		json_object_put(j);
		cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
		cmd.query = &q;
	} else {
		json_object_put(j);
		if (input_req_parse_bytes(body, (size_t)n, &req, err, sizeof(err), &ev) < 0) {
			inject_error(fd, INPUT_API_INVALID, err, ev);
			return;
		}
		inj.backend = req.backend;
		inj.events.data = (uint8_t *)req.ev;
		inj.events.len = req.n * sizeof(req.ev[0]);
		cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT;
		cmd.inject = &inj;
	}
	r = inject_call(dev, &cmd, deadline, &broken);
	if (!r && !broken && cmd.cmd_case == CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT) {
		/* Not consumed in time: how far it got; the rest still goes. */
		Cellvm__Device__InputCommand pq = CELLVM__DEVICE__INPUT_COMMAND__INIT;

		q.progress_of = cmd.id;
		pq.id = ij->next_id++;
		pq.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
		pq.query = &q;
		r = inject_call(dev, &pq, inject_now_ms() + 1000, &broken);
		if (r && r->status == CELLVM__DEVICE__INPUT_STATUS__INPUT_OK) {
			/* It finished in between (its answer came first). */
			r->delivered = r->total = (uint32_t)req.n;
			r->error[0] = 0;
		}
	}
	if (!r) {
		inject_error(fd, broken ? INPUT_API_BACKEND_ERROR : INPUT_API_BUSY,
			     broken ? "the input device is gone"
				    : "no answer from the input device",
			     -1);
		return;
	}
	if (cmd.cmd_case == CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT)
		inject_reply(ij, fd, r, (uint32_t)req.n, &req);
	else
		inject_reply(ij, fd, r, 0, NULL);
	cellvm__device__input_reply__free_unpacked(r, NULL);
}

void inject_serve(struct inject *ij, struct device_proc *dev)
{
	int fd = accept4(ij->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	inject_handle(ij, fd, dev);
	close(fd);
}
