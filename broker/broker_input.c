/* The input API of cellvm-broker: inject-input, input-info and
 * switch-input-backend become InputCommands on the VM's input device's
 * control channel, answered when its InputReply comes (the device answers an
 * inject once the guest's driver consumed every event) or at the caller's
 * deadline, with how far it got. Runs in the broker's loop, which never waits
 * for the device: the channel is non-blocking, replies arrive through an
 * event. UNTRUSTED(device): every reply, through a dispatch table. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "device.pb-c.h"
#include "launcher/input_opt.h"
#include "launcher/input_req.h"
#include "launcher/launcher_fault.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "proto/input_event.h"
#include "proto/ipc.h"

#define INPUT_MAX_MSG	  16384
#define INPUT_PROGRESS_MS 1000 /* for the device's progress report after a deadline */
#define INPUT_MAX_CALLS	  64   /* per VM, as the device takes */

struct broker_input_call {
	TAILQ_ENTRY(broker_input_call) link;
	struct broker_vm *vm;
	uint64_t id;	     /* the command's */
	uint64_t progress;   /* the progress query's, once the deadline passed */
	uint32_t total;	     /* events of an inject */
	uint16_t *src;	     /* an inject's request event of each record (malloc'd), or NULL */
	struct event *timer; /* the deadline, then the progress query's */
	broker_input_done_fn *done;
	void *arg;
};

static struct broker_vm_device *broker_input_dev(struct broker_vm *vm)
{
	struct broker_vm_device *d = vm->ndevs ? &vm->devs[vm->ndevs - 1] : NULL;

	return d && d->type == LAUNCHER_DEV_INPUT && d->running && d->proc.ctl >= 0 ? d : NULL;
}

/* Answer and forget a call. */
static void broker_input_finish(struct broker_input_call *c, const struct input_api_result *res)
{
	struct broker_vm *vm = c->vm;

	TAILQ_REMOVE(&vm->input_calls, c, link);
	vm->ninput_calls--;
	if (c->timer)
		event_free(c->timer);
	c->done(vm, res, c->arg);
	free(c->src);
	free(c);
}

static void broker_input_fail_all(struct broker_vm *vm, const char *why)
{
	struct input_api_result res = {.e = INPUT_API_BACKEND_ERROR, .msg = why, .event = -1};

	while (!TAILQ_EMPTY(&vm->input_calls)) {
		res.total = TAILQ_FIRST(&vm->input_calls)->total;
		broker_input_finish(TAILQ_FIRST(&vm->input_calls), &res);
	}
}

/* ---- replies (device -> broker) ---- */

enum { INPUT_RUNNING };

static int broker_input_on_reply(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__InputReply *r = msg;
	struct broker_vm *vm = ctx;
	struct input_api_result res = {.reply = r, .event = -1};
	struct broker_input_call *c;
	char busy[160];

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(device): an id we sent or an answer too late to matter. */
	TAILQ_FOREACH(c, &vm->input_calls, link)
	{
		if (r->id == c->id && !c->progress) {
			/* UNTRUSTED(device): the record it names, as the
			 * client's event. */
			if (c->src && r->error_event >= 0 && (uint32_t)r->error_event < c->total)
				res.event = c->src[r->error_event];
			res.e = input_api_err_of(r->status);
			res.msg = r->error[0] ? r->error : NULL;
			res.delivered = r->delivered;
			res.total = r->total;
			broker_input_finish(c, &res);
			return 0;
		}
		if (c->progress && (r->id == c->progress || r->id == c->id)) {
			/* Past the deadline: how far it got. An OK for the inject
			 * itself, or a progress answer that finds it done, means
			 * it finished meanwhile. */
			bool done =
				r->id == c->id
					? r->status == CELLVM__DEVICE__INPUT_STATUS__INPUT_OK
					: r->status != CELLVM__DEVICE__INPUT_STATUS__INPUT_PENDING;

			res.total = c->total;
			res.delivered = done ? c->total : r->delivered;
			res.e = done ? INPUT_API_OK : INPUT_API_BUSY;
			snprintf(busy, sizeof(busy),
				 "the guest has not consumed the events in time: %u of %u "
				 "delivered (the rest follow when it does)",
				 res.delivered, res.total);
			res.msg = done ? NULL : busy;
			res.reply = NULL;
			broker_input_finish(c, &res);
			return 0;
		}
	}
	return 0;
}

/* What the input device may say: InputReplies, never fds. */
static const struct dispatch_entry broker_input_table[] = {
	[CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_REPLY] = {broker_input_on_reply,
							      DISPATCH_STATE(INPUT_RUNNING), 0},
};

static const struct dispatch_channel broker_input_chan = {
	.envelope = &cellvm__device__control_message__descriptor,
	.max_len = INPUT_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = broker_input_table,
	.n = sizeof(broker_input_table) / sizeof(broker_input_table[0]),
};

static void broker_input_on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;
	int r;

	(void)what;
	r = dispatch_recv(fd, &vm->input_proto, vm);
	if (r >= 0 || r == -EAGAIN || r == -EINTR)
		return;
	/* Gone (its pidfd event says how), or in breach: no more answers. */
	if (r != -ECONNRESET) {
		log_err("vm %s: the input device broke the protocol (%s): it is killed", vm->id,
			dispatch_strerror(r));
		if (broker_input_dev(vm))
			launcher_fault_kill(&broker_input_dev(vm)->proc);
	}
	event_del(vm->input_ev);
	broker_input_fail_all(vm, "the input device is gone");
}

int broker_input_watch(struct broker_vm *vm)
{
	struct broker_vm_device *d = broker_input_dev(vm);
	int r;

	TAILQ_INIT(&vm->input_calls);
	vm->ninput_calls = 0;
	if (!d)
		return 0;
	/* Never blocks the loop: a device that does not read gets VM_BUSY. */
	r = fd_set_nonblock(d->proc.ctl, 1);
	if (r < 0)
		return r;
	dispatch_init(&vm->input_proto, &broker_input_chan, INPUT_RUNNING);
	vm->input_ev =
		event_new(vm->b->base, d->proc.ctl, EV_READ | EV_PERSIST, broker_input_on_ctl, vm);
	if (!vm->input_ev || event_add(vm->input_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void broker_input_teardown(struct broker_vm *vm)
{
	if (vm->input_ev)
		event_free(vm->input_ev);
	vm->input_ev = NULL;
	broker_input_fail_all(vm, "the VM stopped");
}

void broker_input_stop(struct broker *b)
{
	struct broker_vm *vm;

	TAILQ_FOREACH(vm, &b->vms, link)
	broker_input_fail_all(vm, "the broker is stopping");
}

/* ---- commands (broker -> device) ---- */

static int broker_input_send(struct broker_vm *vm, Cellvm__Device__InputCommand *cmd)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	struct broker_vm_device *d = broker_input_dev(vm);

	if (!d)
		return -ENODEV;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_CMD;
	m.input_cmd = cmd;
	return channel_send(d->proc.ctl, &m.base, INPUT_MAX_MSG, NULL, 0);
}

static void broker_input_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct broker_input_call *c = arg;
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputQuery q = CELLVM__DEVICE__INPUT_QUERY__INIT;
	struct input_api_result res = {.e = INPUT_API_BUSY, .event = -1, .total = c->total};
	struct timeval tv = {.tv_sec = INPUT_PROGRESS_MS / 1000};

	(void)fd;
	(void)what;
	if (c->progress || c->total == 0) {
		res.msg = "no answer from the input device";
		broker_input_finish(c, &res);
		return;
	}
	/* The inject's deadline: ask how far it got. */
	q.progress_of = c->id;
	cmd.id = c->progress = ++c->vm->input_next_id;
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
	cmd.query = &q;
	if (broker_input_send(c->vm, &cmd) < 0) {
		res.msg = "the input device does not take commands";
		broker_input_finish(c, &res);
		return;
	}
	evtimer_add(c->timer, &tv);
}

enum input_api_err broker_input_call(struct broker_vm *vm, Cellvm__Device__InputCommand *cmd,
				     uint32_t total, int timeout_ms, broker_input_done_fn *done,
				     void *arg, char *err, size_t errlen)
{
	struct broker_input_call *c;
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
	int r;

	if (!vm->def.has_input) {
		snprintf(err, errlen, "this VM has no input device (input_config)");
		return INPUT_API_NOT_AVAILABLE;
	}
	if (vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) {
		snprintf(err, errlen, "the VM is %s, not running", broker_vm_state_name(vm->state));
		return INPUT_API_BUSY;
	}
	if (!broker_input_dev(vm) || !vm->input_ev) {
		snprintf(err, errlen, "the input device is gone");
		return INPUT_API_BACKEND_ERROR;
	}
	if (vm->ninput_calls >= INPUT_MAX_CALLS) {
		snprintf(err, errlen, "%d input requests in flight on this VM", INPUT_MAX_CALLS);
		return INPUT_API_BUSY;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->timer = evtimer_new(vm->b->base, broker_input_on_timer, c))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return INPUT_API_BACKEND_ERROR;
	}
	c->vm = vm;
	c->total = total;
	c->done = done;
	c->arg = arg;
	cmd->id = c->id = ++vm->input_next_id;
	r = broker_input_send(vm, cmd);
	if (r < 0) {
		event_free(c->timer);
		free(c);
		snprintf(err, errlen, "%s",
			 r == -EAGAIN ? "the input device is not reading its commands"
				      : "the input device is gone");
		return r == -EAGAIN ? INPUT_API_BUSY : INPUT_API_BACKEND_ERROR;
	}
	TAILQ_INSERT_TAIL(&vm->input_calls, c, link);
	vm->ninput_calls++;
	evtimer_add(c->timer, &tv);
	return INPUT_API_OK;
}

/* ---- commands from the API's requests (REST and RPC alike) ---- */

/* A parsed inject's records: large, and the loop runs one request at a time. */
static struct input_req broker_input_req;

static enum input_api_err broker_input_send_inject(struct broker_vm *vm, int timeout_ms,
						   broker_input_done_fn *done, void *arg, char *err,
						   size_t errlen)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputInject inj = CELLVM__DEVICE__INPUT_INJECT__INIT;
	const struct input_req *req = &broker_input_req;
	enum input_api_err e;

	inj.backend = req->backend;
	inj.events.data = (uint8_t *)req->ev;
	inj.events.len = req->n * sizeof(req->ev[0]);
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT;
	cmd.inject = &inj;
	e = broker_input_call(vm, &cmd, (uint32_t)req->n, timeout_ms, done, arg, err, errlen);
	if (e == INPUT_API_OK) {
		struct broker_input_call *c = TAILQ_LAST(&vm->input_calls, broker_input_calls);

		/* Without the map (no memory) the answer names no event. */
		c->src = malloc(req->n * sizeof(*c->src) + 1);
		if (c->src)
			memcpy(c->src, req->src, req->n * sizeof(*c->src));
	}
	return e;
}

enum input_api_err broker_input_inject_json(struct broker_vm *vm, const json_object *body,
					    int timeout_ms, broker_input_done_fn *done, void *arg,
					    char *err, size_t errlen, int *ret_event)
{
	*ret_event = -1;
	if (input_req_parse(body, &broker_input_req, err, errlen, ret_event) < 0)
		return INPUT_API_INVALID;
	*ret_event = -1;
	return broker_input_send_inject(vm, timeout_ms, done, arg, err, errlen);
}

enum input_api_err broker_input_inject(struct broker_vm *vm, const char *json, size_t len,
				       int timeout_ms, broker_input_done_fn *done, void *arg,
				       char *err, size_t errlen, int *ret_event)
{
	int r;

	*ret_event = -1;
	r = input_req_parse_bytes(json, len, &broker_input_req, err, errlen, ret_event);
	if (r < 0)
		return r == -ENOMEM ? INPUT_API_BACKEND_ERROR : INPUT_API_INVALID;
	*ret_event = -1;
	return broker_input_send_inject(vm, timeout_ms, done, arg, err, errlen);
}

enum input_api_err broker_input_switch(struct broker_vm *vm, const char *backend,
				       broker_input_done_fn *done, void *arg, char *err,
				       size_t errlen)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputSwitch sw = CELLVM__DEVICE__INPUT_SWITCH__INIT;
	int b = input_opt_backend(backend);

	if (b < 0) {
		snprintf(err, errlen, "backend: one of ps2, virtio, usb");
		return INPUT_API_NOT_AVAILABLE;
	}
	sw.backend = (uint32_t)b;
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_SWITCH_BACKEND;
	cmd.switch_backend = &sw;
	return broker_input_call(vm, &cmd, 0, 5000, done, arg, err, errlen);
}

enum input_api_err broker_input_query(struct broker_vm *vm, broker_input_done_fn *done, void *arg,
				      char *err, size_t errlen)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputQuery q = CELLVM__DEVICE__INPUT_QUERY__INIT;

	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
	cmd.query = &q;
	return broker_input_call(vm, &cmd, 0, 5000, done, arg, err, errlen);
}
