/* The protobuf RPC API of cellvm-broker (proto/api.proto) on a SOCK_SEQPACKET
 * unix socket: the same operations as the REST API, for programs and cellctl.
 * Runs in the broker's loop; tenants from SO_PEERCRED at accept.
 * UNTRUSTED(client): every datagram, and the fds a Create may carry (its
 * kernel, initrd and disks as open files, named "fd:N": their kind and access
 * mode are checked in broker_vmdef.c). Framing (proto/channel.c) refuses
 * undecodable bytes; fds on any other request are refused; unknown fields are
 * refused here; definitions go through the same checks as REST
 * (broker_rpc_json.c turns them into the REST JSON). A client that breaks the
 * protocol or does not read its replies is dropped. Peers are classified at
 * accept: one without a tenant gets a place among RPC_MAX_NO_TENANT of its
 * own, for one answer or client_timeout seconds; a tenant's connections count
 * against its uid's limit (broker_conn_uid_take); an idle connection is closed
 * after idle_timeout seconds. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "broker/broker.h"
#include "broker/broker_rpc_json.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/screenshot.h"
#include "proto/channel.h"
#include "proto/dispatch.h"
#include "proto/ipc.h"

#define RPC_MAX_MSG	       (64 * 1024)
#define RPC_MAX_CLIENTS	       256
#define RPC_MAX_CLIENTS_TENANT 64 /* so that one tenant cannot take them all */
#define RPC_CONSOLE_CHUNK      (32 * 1024)
#define RPC_MAX_NO_TENANT      16 /* connections of peers without a tenant, all together */

/* RPC_CAPTURE, RPC_AUDIO: a capture or audio reader (its fds are sent; it
 * only waits to close). */
enum rpc_stream { RPC_NONE, RPC_CONSOLE, RPC_EVENTS, RPC_CAPTURE, RPC_AUDIO };

struct rpc_client {
	TAILQ_ENTRY(rpc_client) link;
	struct rpc *r;
	int fd;
	struct event *ev;
	struct event *idle; /* closes it when no request came for a while */
	struct tenant *tenant;
	uid_t uid;
	enum rpc_stream stream;
	bool dead;	       /* broke the protocol or stopped reading: freed by the caller */
	bool waiting;	       /* a boot answers it later: not read, not freed until then */
	bool counted;	       /* holds one of its uid's connections */
	struct dispatch proto; /* what it may ask now: rpc_table */
	char pending_action[16];
	char vm_id[BROKER_ID_LEN + 1];
	uint64_t pos;
	/* RPC_CAPTURE, RPC_AUDIO: its reader id at the VM's gpu or snd, and the
	 * boot it is of. */
	uint64_t capture_id;
	uint32_t capture_boot;
};

struct rpc {
	struct broker *b;
	int lfd;
	struct event *lev;
	TAILQ_HEAD(, rpc_client) clients;
	size_t nclients;   /* of tenants */
	size_t nno_tenant; /* of peers without a tenant */
	uint64_t refused_logged, nrefused;
};

static void rpc_free(struct rpc_client *c)
{
	if (c->stream == RPC_CAPTURE || c->stream == RPC_AUDIO) {
		struct broker_vm *vm = broker_vm_lookup(c->r->b, c->tenant, c->vm_id);

		if (vm && c->stream == RPC_CAPTURE)
			broker_display_unsubscribe(vm, c->capture_boot, c->capture_id);
		else if (vm)
			broker_audio_unsubscribe(vm, c->capture_boot, c->capture_id);
	}
	TAILQ_REMOVE(&c->r->clients, c, link);
	if (c->tenant)
		c->r->nclients--;
	else
		c->r->nno_tenant--;
	if (c->counted)
		broker_conn_uid_put(c->r->b, c->uid);
	event_free(c->ev);
	event_free(c->idle);
	close(c->fd);
	free(c);
}

/* The idle clock: it runs while the connection has nothing going on (no
 * stream, no boot being waited for). A peer without a tenant gets
 * client_timeout to ask its one question. */
static void rpc_idle_arm(struct rpc_client *c)
{
	int secs = c->tenant ? c->r->b->idle_timeout : c->r->b->client_timeout;

	if (c->stream != RPC_NONE || c->waiting)
		evtimer_del(c->idle);
	else
		evtimer_add(c->idle, &(struct timeval){.tv_sec = secs});
}

static void rpc_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_client *c = arg;

	if (c->stream != RPC_NONE || c->waiting)
		return;
	log_debug("rpc: closing a connection of uid %u idle for %d s", (unsigned)c->uid,
		  c->tenant ? c->r->b->idle_timeout : c->r->b->client_timeout);
	rpc_free(c);
}

static void rpc_refused(struct rpc *r, const char *why, uid_t uid)
{
	uint64_t now = broker_now();

	/* Refusals come in floods: one line a second, with a count. */
	r->nrefused++;
	if (r->refused_logged == now)
		return;
	log_warn("rpc: connection of uid %u refused: %s (%llu refused)", (unsigned)uid, why,
		 (unsigned long long)r->nrefused);
	r->refused_logged = now;
	r->nrefused = 0;
}

/* Send one Response with fds (not consumed); false (and the client dropped)
 * when it cannot take it. */
static bool rpc_send_fds(struct rpc_client *c, Cellvm__Api__Response *m, const int *fds,
			 size_t nfds)
{
	if (c->dead)
		return false;
	int r = channel_send(c->fd, &m->base, RPC_MAX_MSG, fds, nfds);

	if (r < 0) {
		/* -EAGAIN: the client does not read its replies; never wait for it. */
		log_debug("rpc: dropping a client: %s", strerror(-r));
		c->dead = true;
		return false;
	}
	return true;
}

static bool rpc_send(struct rpc_client *c, Cellvm__Api__Response *m)
{
	return rpc_send_fds(c, m, NULL, 0);
}

static bool rpc_error(struct rpc_client *c, enum api_err e, const char *msg)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__Error er = CELLVM__API__ERROR__INIT;

	er.code = (char *)api_err_code(e);
	er.message = (char *)msg;
	m.msg_case = CELLVM__API__RESPONSE__MSG_ERROR;
	m.error = &er;
	return rpc_send(c, &m);
}

static bool rpc_ok(struct rpc_client *c)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__Ok ok = CELLVM__API__OK__INIT;

	m.msg_case = CELLVM__API__RESPONSE__MSG_OK;
	m.ok = &ok;
	return rpc_send(c, &m);
}

static void rpc_send_info(struct rpc_client *c, const struct broker_vm *vm)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	struct rpc_info *ri = calloc(1, sizeof(*ri));

	if (!ri) {
		rpc_error(c, API_INTERNAL, "out of memory");
		return;
	}
	broker_rpc_json_fill_info(ri, vm);
	m.msg_case = CELLVM__API__RESPONSE__MSG_INFO;
	m.info = &ri->info;
	rpc_send(c, &m);
	json_object_put(ri->json);
	free(ri);
}

static void rpc_list(struct rpc_client *c)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__VmList l = CELLVM__API__VM_LIST__INIT;
	struct rpc_info **ris = calloc(c->r->b->nvms + 1, sizeof(*ris));
	Cellvm__Api__VmInfo **infos = calloc(c->r->b->nvms + 1, sizeof(*infos));
	struct broker_vm *vm;
	size_t n = 0;

	if (!ris || !infos)
		goto out;
	TAILQ_FOREACH(vm, &c->r->b->vms, link)
	{
		if (!c->tenant->admin && &c->r->b->tenants.t[vm->tenant] != c->tenant)
			continue;
		ris[n] = calloc(1, sizeof(**ris));
		if (!ris[n])
			goto out;
		broker_rpc_json_fill_info(ris[n], vm);
		infos[n] = &ris[n]->info;
		n++;
	}
	l.n_vms = n;
	l.vms = infos;
	m.msg_case = CELLVM__API__RESPONSE__MSG_LIST;
	m.list = &l;
	/* A long list may not fit one datagram: then the client gets an error. */
	if (protobuf_c_message_get_packed_size(&m.base) > RPC_MAX_MSG)
		rpc_error(c, API_INTERNAL, "the list is larger than one RPC message");
	else
		rpc_send(c, &m);
out:
	for (size_t i = 0; ris && i < n; i++) {
		json_object_put(ris[i]->json);
		free(ris[i]);
	}
	free(ris);
	free(infos);
}

static void rpc_counters(struct rpc_client *c, const struct broker_vm *vm)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	struct rpc_counters_info rc;

	broker_rpc_json_fill_counters(&rc, vm);
	m.msg_case = CELLVM__API__RESPONSE__MSG_COUNTERS;
	m.counters = &rc.reply;
	rpc_send(c, &m);
	json_object_put(rc.json);
}

static void rpc_log(struct rpc_client *c, const char *what, const char *vm_id, enum api_err e)
{
	log_info("rpc: tenant=%s uid=%u %s vm=%s -> %s", c->tenant->name, (unsigned)c->uid, what,
		 vm_id && *vm_id ? vm_id : "-", api_err_code(e));
}

static void rpc_create(struct rpc_client *c, const Cellvm__Api__Create *cr, const int *fds,
		       size_t nfds)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__Created cd = CELLVM__API__CREATED__INIT;
	char err[512];
	struct broker_vmdef def;
	struct broker_vm *vm = NULL;
	enum api_err e = API_INVALID_ARGUMENT;
	json_object *o;

	if (!cr->definition) {
		snprintf(err, sizeof(err), "definition is required");
		goto fail;
	}
	o = broker_rpc_json_create_body(cr->definition);
	/* The files it passed are dup'd (the dispatcher closes fds after us). */
	if (broker_vmdef_from_json_fds(o, c->tenant, fds, nfds, &def, err, sizeof(err)) < 0) {
		json_object_put(o);
		goto fail;
	}
	json_object_put(o);
	e = broker_vm_create(c->r->b, (int)(c->tenant - c->r->b->tenants.t), &def, &vm, err,
			     sizeof(err));
	if (e != API_OK) {
		broker_vmdef_free(&def);
		goto fail;
	}
	rpc_log(c, "create", vm->id, e);
	cd.vm_id = vm->id;
	m.msg_case = CELLVM__API__RESPONSE__MSG_CREATED;
	m.created = &cd;
	rpc_send(c, &m);
	return;
fail:
	rpc_log(c, "create", NULL, e);
	rpc_error(c, e, err);
}

/* The VM a request names (empty: the default VM), or NULL with the error sent. */
static struct broker_vm *rpc_vm(struct rpc_client *c, const char *id)
{
	struct broker_vm *vm = id && *id ? broker_vm_lookup(c->r->b, c->tenant, id)
					 : broker_vm_default(c->r->b, c->tenant);

	if (!vm)
		rpc_error(c, API_VM_NOT_FOUND, "no such VM");
	return vm;
}

/* A request answered later: this client's next requests wait (not read)
 * until then, so that replies stay in order. */
static void rpc_wait(struct rpc_client *c)
{
	c->waiting = true;
	event_del(c->ev);
}

/* Answered: back to reading this client's requests. */
static void rpc_resume(struct rpc_client *c)
{
	if (!c->dead && event_add(c->ev, NULL) < 0)
		c->dead = true;
	c->waiting = false;
	if (c->dead)
		rpc_free(c);
	else
		rpc_idle_arm(c);
}

static void rpc_on_booted(struct broker_vm *vm, enum api_err e, const char *err, void *arg)
{
	struct rpc_client *c = arg;

	rpc_log(c, c->pending_action, vm->id, e);
	if (e != API_OK)
		rpc_error(c, e, err);
	else
		rpc_send_info(c, vm);
	rpc_resume(c);
}

static void rpc_action(struct rpc_client *c, const Cellvm__Api__VmAction *a)
{
	static const struct {
		const char *name;
		enum api_err (*fn)(struct broker_vm *, broker_vm_boot_done_fn *, void *, char *,
				   size_t);
	} actions[] = {
		[CELLVM__API__ACTION__ACTION_BOOT] = {"boot", broker_vm_boot},
		[CELLVM__API__ACTION__ACTION_PAUSE] = {"pause", broker_vm_pause},
		[CELLVM__API__ACTION__ACTION_RESUME] = {"resume", broker_vm_resume},
		[CELLVM__API__ACTION__ACTION_REBOOT] = {"reboot", broker_vm_reboot},
		[CELLVM__API__ACTION__ACTION_POWER_OFF] = {"power-off", broker_vm_power_off},
	};
	struct broker_vm *vm = rpc_vm(c, a->vm_id);
	char err[512] = "";
	enum api_err e;

	if (!vm)
		return;
	if ((unsigned)a->action >= sizeof(actions) / sizeof(actions[0]) ||
	    !actions[a->action].name) {
		rpc_error(c, API_INVALID_ARGUMENT, "unknown action");
		return;
	}
	/* Boot and reboot answer when the VM is up, power-off when its
	 * processes are gone, pause and resume when the core has held or
	 * released its vCPUs; until then this client's next requests wait
	 * (replies stay in order). */
	snprintf(c->pending_action, sizeof(c->pending_action), "%s", actions[a->action].name);
	e = actions[a->action].fn(vm, rpc_on_booted, c, err, sizeof(err));
	if (e == API_OK) {
		rpc_wait(c);
		return;
	}
	rpc_log(c, actions[a->action].name, vm->id, e);
	if (e != API_OK)
		rpc_error(c, e, err);
	else
		rpc_send_info(c, vm);
}

/* Send c what vm's console log holds past c->pos, in ConsoleData of at most
 * RPC_CONSOLE_CHUNK bytes each: at least one when first (the answer to the
 * request, empty if need be), and, when end, end set on the last one (an
 * empty one when nothing is left). Returns false when c could not take it
 * (c->dead). */
static bool rpc_console_send(struct rpc_client *c, const struct broker_vm *vm, bool first, bool end)
{
	struct evbuffer *buf = evbuffer_new();
	bool sent = false, ok = true;

	broker_console_read(vm, &c->pos, buf);
	while (ok && (evbuffer_get_length(buf) || (!sent && (first || end)))) {
		Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
		Cellvm__Api__ConsoleData d = CELLVM__API__CONSOLE_DATA__INIT;
		uint8_t chunk[RPC_CONSOLE_CHUNK];
		int n = evbuffer_remove(buf, chunk, sizeof(chunk));

		d.data.data = chunk;
		d.data.len = n > 0 ? (size_t)n : 0;
		d.end = end && evbuffer_get_length(buf) == 0;
		m.msg_case = CELLVM__API__RESPONSE__MSG_CONSOLE;
		m.console = &d;
		ok = rpc_send(c, &m);
		sent = true;
	}
	evbuffer_free(buf);
	return ok;
}

static void rpc_console(struct rpc_client *c, const Cellvm__Api__Console *cs)
{
	struct broker_vm *vm = rpc_vm(c, cs->vm_id);

	if (!vm)
		return;
	c->pos = 0;
	snprintf(c->vm_id, sizeof(c->vm_id), "%s", vm->id);
	/* The log so far; then, when following, whatever comes. */
	if (rpc_console_send(c, vm, true, !cs->follow) && cs->follow)
		c->stream = RPC_CONSOLE;
}

/* ---- requests (the rules: rpc_table) ---- */

/* Each handler answers one request; on failure to answer, c->dead is set. */

static int rpc_on_ping(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__Pong p = CELLVM__API__PONG__INIT;

	(void)msg;
	(void)fds;
	(void)nfds;
	p.version = (char *)CELLVM_VERSION;
	p.tenant = c->tenant->name;
	m.msg_case = CELLVM__API__RESPONSE__MSG_PONG;
	m.pong = &p;
	rpc_send(c, &m);
	return 0;
}

static int rpc_on_shutdown(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct rpc_client *c = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	rpc_log(c, "vmm.shutdown", NULL, API_OK);
	if (rpc_ok(c))
		c->r->b->request_shutdown(c->r->b);
	return 0;
}

static int rpc_on_upgrade(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct rpc_client *c = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	rpc_log(c, "vmm.upgrade", NULL, API_OK);
	if (rpc_ok(c))
		c->r->b->request_upgrade(c->r->b);
	return 0;
}

static int rpc_on_create(void *ctx, const void *msg, int *fds, size_t nfds)
{
	rpc_create(ctx, msg, fds, nfds);
	return 0;
}

static int rpc_on_list(void *ctx, const void *msg, int *fds, size_t nfds)
{
	(void)msg;
	(void)fds;
	(void)nfds;
	rpc_list(ctx);
	return 0;
}

static int rpc_on_info(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__Info *q = msg;
	struct rpc_client *c = ctx;
	struct broker_vm *vm;

	(void)fds;
	(void)nfds;
	if ((vm = rpc_vm(c, q->vm_id)))
		rpc_send_info(c, vm);
	return 0;
}

static int rpc_on_action(void *ctx, const void *msg, int *fds, size_t nfds)
{
	(void)fds;
	(void)nfds;
	rpc_action(ctx, msg);
	return 0;
}

static void rpc_on_shutdown_done(struct broker_vm *vm, const struct broker_vm_shutdown_result *res,
				 void *arg)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__ShutdownResult sr = CELLVM__API__SHUTDOWN_RESULT__INIT;
	struct rpc_client *c = arg;

	rpc_log(c, "shutdown", vm->id, res->e);
	if (res->e != API_OK) {
		rpc_error(c, res->e, res->err);
	} else {
		sr.powered_off = res->powered_off;
		sr.guest_listens = res->guest_listens;
		sr.state = (char *)res->state;
		sr.seconds = res->seconds;
		sr.message = (char *)(res->message ? res->message : "");
		sr.last_exit = (char *)(res->last_exit ? res->last_exit : "");
		m.msg_case = CELLVM__API__RESPONSE__MSG_SHUTDOWN;
		m.shutdown = &sr;
		rpc_send(c, &m);
	}
	rpc_resume(c);
}

/* A graceful shutdown: answered once the guest powered off, the deadline
 * passed, or the core said the guest does not listen; until then this
 * client's next requests wait (replies stay in order). */
static int rpc_on_vm_shutdown(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__VmShutdown *q = msg;
	struct rpc_client *c = ctx;
	uint32_t timeout_s = BROKER_SHUTDOWN_DEFAULT_S;
	struct broker_vm *vm;
	char err[256] = "";
	enum api_err e;

	(void)fds;
	(void)nfds;
	if (!(vm = rpc_vm(c, q->vm_id)))
		return 0;
	/* UNTRUSTED(client): bounded by broker_vm_shutdown. */
	if (q->timeout_case == CELLVM__API__VM_SHUTDOWN__TIMEOUT_TIMEOUT_S)
		timeout_s = q->timeout_s;
	snprintf(c->pending_action, sizeof(c->pending_action), "shutdown");
	e = broker_vm_shutdown(vm, timeout_s, rpc_on_shutdown_done, c, err, sizeof(err));
	if (e == API_OK) {
		rpc_wait(c);
		return 0;
	}
	rpc_log(c, "shutdown", vm->id, e);
	rpc_error(c, e, err);
	return 0;
}

/* A running VM's delete is answered once its processes are gone (the VM is
 * freed right after this). */
static void rpc_on_deleted(struct broker_vm *vm, enum api_err e, const char *err, void *arg)
{
	struct rpc_client *c = arg;

	rpc_log(c, "delete", vm->id, e);
	if (e != API_OK)
		rpc_error(c, e, err);
	else
		rpc_ok(c);
	rpc_resume(c);
}

static int rpc_on_delete(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__Delete *q = msg;
	struct rpc_client *c = ctx;
	char id[BROKER_ID_LEN + 1], err[256];
	struct broker_vm *vm;
	bool pending;
	enum api_err e;

	(void)fds;
	(void)nfds;
	if (!(vm = rpc_vm(c, q->vm_id)))
		return 0;
	snprintf(id, sizeof(id), "%s", vm->id);
	e = broker_vm_delete_async(vm, rpc_on_deleted, c, &pending, err, sizeof(err));
	if (pending) {
		rpc_wait(c);
		return 0;
	}
	rpc_log(c, "delete", id, e);
	if (e == API_OK)
		rpc_ok(c);
	else
		rpc_error(c, e, err);
	return 0;
}

static int rpc_on_counters(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__Counters *q = msg;
	struct rpc_client *c = ctx;
	struct broker_vm *vm;

	(void)fds;
	(void)nfds;
	if ((vm = rpc_vm(c, q->vm_id)))
		rpc_counters(c, vm);
	return 0;
}

static int rpc_on_console(void *ctx, const void *msg, int *fds, size_t nfds)
{
	(void)fds;
	(void)nfds;
	rpc_console(ctx, msg);
	return 0;
}

static int rpc_on_console_input(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__ConsoleInput *q = msg;
	struct rpc_client *c = ctx;
	enum api_err e = API_INVALID_ARGUMENT;
	struct broker_vm *vm;
	char err[256];

	(void)fds;
	(void)nfds;
	if (!(vm = rpc_vm(c, q->vm_id)))
		return 0;
	snprintf(err, sizeof(err), "console input: 1 to 4096 bytes");
	if (q->data.len >= 1 && q->data.len <= 4096)
		e = broker_console_input(vm, q->data.data, q->data.len, err, sizeof(err));
	rpc_log(c, "console-input", vm->id, e);
	if (e == API_OK)
		rpc_ok(c);
	else
		rpc_error(c, e, err);
	return 0;
}

static int rpc_on_events(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct rpc_client *c = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	if (rpc_ok(c))
		c->stream = RPC_EVENTS;
	return 0;
}

/* ---- display (broker_display.c) ---- */

static int rpc_on_screenshot(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__Screenshot *q = msg;
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__ScreenshotData d = CELLVM__API__SCREENSHOT_DATA__INIT;
	struct screenshot_opts o = {
		.scanout = q->scanout, .cursor = !q->no_cursor, .crop = {q->x, q->y, q->w, q->h}};
	struct broker_vm *vm = rpc_vm(c, q->vm_id);
	uint8_t *png = NULL;
	size_t len = 0;
	char err[256];
	enum api_err e;
	int mfd;

	(void)fds;
	(void)nfds;
	if (!vm)
		return 0;
	/* UNTRUSTED(client): a crop is all four or none; the rest is checked
	 * against the frame by screenshot_png. */
	if (!q->w != !q->h || (!q->w && (q->x || q->y))) {
		rpc_error(c, API_INVALID_ARGUMENT, "a crop is x, y, w and h together");
		return 0;
	}
	e = broker_display_screenshot(vm, &o, &png, &len, err, sizeof(err));
	if (e != API_OK) {
		rpc_error(c, e, err);
		return 0;
	}
	mfd = fd_memfd_sealed("cellvm-screenshot", png, len);
	free(png);
	if (mfd < 0) {
		rpc_error(c, API_INTERNAL, "cannot hand the screenshot over");
		return 0;
	}
	d.size = len;
	d.content_type = (char *)"image/png";
	m.msg_case = CELLVM__API__RESPONSE__MSG_SCREENSHOT;
	m.screenshot = &d;
	rpc_send_fds(c, &m, &mfd, 1);
	close(mfd);
	return 0;
}

/* A reader's answer (m, with the ring and its eventfd rfds, closed here):
 * the connection is the subscription from here on (rpc_free ends it). */
static void rpc_subscribed(struct rpc_client *c, const struct broker_vm *vm, enum rpc_stream stream,
			   uint64_t id, Cellvm__Api__Response *m, int rfds[2])
{
	c->stream = stream;
	c->capture_id = id;
	c->capture_boot = vm->boots;
	snprintf(c->vm_id, sizeof(c->vm_id), "%s", vm->id);
	rpc_send_fds(c, m, rfds, 2);
	ipc_close_fds(rfds, 2);
}

static int rpc_on_capture(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__Capture *q = msg;
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__CaptureStarted st = CELLVM__API__CAPTURE_STARTED__INIT;
	Cellvm__Api__CaptureScanout so[GPU_OPT_MAX_SCANOUTS], *pso[GPU_OPT_MAX_SCANOUTS];
	struct broker_vm *vm = rpc_vm(c, q->vm_id);
	char err[256], hello[256];
	int rfds[2];
	uint64_t id;
	enum api_err e;

	(void)fds;
	(void)nfds;
	if (!vm)
		return 0;
	e = broker_display_subscribe(vm, &id, rfds, hello, sizeof(hello), err, sizeof(err));
	rpc_log(c, "capture", vm->id, e);
	if (e != API_OK) {
		rpc_error(c, e, err);
		return 0;
	}
	for (uint32_t i = 0; i < vm->gpu.nscanouts; i++) {
		cellvm__api__capture_scanout__init(&so[i]);
		so[i].width = vm->gpu.modes[i][0];
		so[i].height = vm->gpu.modes[i][1];
		pso[i] = &so[i];
	}
	st.ring_bytes = vm->gpu.ring_size;
	st.n_scanouts = vm->gpu.nscanouts;
	st.scanouts = pso;
	m.msg_case = CELLVM__API__RESPONSE__MSG_CAPTURE;
	m.capture = &st;
	rpc_subscribed(c, vm, RPC_CAPTURE, id, &m, rfds);
	return 0;
}

/* ---- sound (broker_audio.c) ---- */

static int rpc_on_audio_capture(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__AudioCapture *q = msg;
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__AudioCaptureStarted st = CELLVM__API__AUDIO_CAPTURE_STARTED__INIT;
	struct broker_vm *vm = rpc_vm(c, q->vm_id);
	char err[256];
	int rfds[2];
	uint64_t id;
	enum api_err e;

	(void)fds;
	(void)nfds;
	if (!vm)
		return 0;
	e = broker_audio_subscribe(vm, &id, rfds, NULL, 0, err, sizeof(err));
	rpc_log(c, "audio-capture", vm->id, e);
	if (e != API_OK) {
		rpc_error(c, e, err);
		return 0;
	}
	st.ring_bytes = vm->snd.ring_size;
	st.playback = vm->def.snd_opt.playback;
	st.capture = vm->def.snd_opt.capture;
	m.msg_case = CELLVM__API__RESPONSE__MSG_AUDIO_CAPTURE;
	m.audio_capture = &st;
	rpc_subscribed(c, vm, RPC_AUDIO, id, &m, rfds);
	return 0;
}

static int rpc_on_audio_input(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__AudioInput *q = msg;
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__AudioInputStarted st = CELLVM__API__AUDIO_INPUT_STARTED__INIT;
	struct broker_vm *vm = rpc_vm(c, q->vm_id);
	char err[256];
	enum api_err e;
	int wfd;

	(void)fds;
	(void)nfds;
	if (!vm)
		return 0;
	e = broker_audio_source(vm, &wfd, err, sizeof(err));
	rpc_log(c, "audio-input", vm->id, e);
	if (e != API_OK) {
		rpc_error(c, e, err);
		return 0;
	}
	m.msg_case = CELLVM__API__RESPONSE__MSG_AUDIO_INPUT;
	m.audio_input = &st;
	rpc_send_fds(c, &m, &wfd, 1);
	close(wfd);
	return 0;
}

static int rpc_on_console_token(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__ConsoleToken *q = msg;
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__ConsoleTokenReply t = CELLVM__API__CONSOLE_TOKEN_REPLY__INIT;
	struct broker_vm *vm = rpc_vm(c, q->vm_id);
	json_object *o = NULL;
	char err[256];
	enum api_err e;

	(void)fds;
	(void)nfds;
	if (!vm)
		return 0;
	if (q->ttl_s > 600) {
		rpc_error(c, API_INVALID_ARGUMENT, "ttl_s: 1 to 600 (0: 60)");
		return 0;
	}
	e = broker_viewer_token(c->r->b, vm, q->view_only, q->ttl_s ? q->ttl_s : 60, &o, err,
				sizeof(err));
	rpc_log(c, "console-token", vm->id, e);
	if (e != API_OK) {
		rpc_error(c, e, err);
		return 0;
	}
	/* One source for both APIs: the REST answer's fields. */
	t.token = (char *)broker_rpc_json_str(o, "token");
	t.password = (char *)broker_rpc_json_str(o, "password");
	t.expires_in = q->ttl_s ? q->ttl_s : 60;
	t.view_only = q->view_only;
	t.viewer = (char *)broker_rpc_json_str(o, "viewer");
	t.websocket = (char *)broker_rpc_json_str(o, "websocket");
	t.vnc = (char *)broker_rpc_json_str(o, "vnc");
	m.msg_case = CELLVM__API__RESPONSE__MSG_CONSOLE_TOKEN;
	m.console_token = &t;
	rpc_send(c, &m);
	json_object_put(o);
	return 0;
}

static int rpc_on_viewer_connect(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__ViewerConnect *q = msg;
	struct rpc_client *c = ctx;
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__ViewerConnected vc = CELLVM__API__VIEWER_CONNECTED__INIT;
	struct broker_vm *vm = rpc_vm(c, q->vm_id);
	char err[256];
	enum api_err e;
	int sv[2];

	(void)fds;
	(void)nfds;
	if (!vm)
		return 0;
	/* The tenant of this connection is the authentication: one end to the
	 * VM's VNC server (FRESH: it runs the RFB handshake, None), the other
	 * to the client. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rpc_error(c, API_INTERNAL, "socketpair failed");
		return 0;
	}
	e = broker_display_viewer(vm, sv[0], q->view_only, false, err, sizeof(err));
	close(sv[0]);
	rpc_log(c, "viewer-connect", vm->id, e);
	if (e != API_OK) {
		close(sv[1]);
		rpc_error(c, e, err);
		return 0;
	}
	m.msg_case = CELLVM__API__RESPONSE__MSG_VIEWER_CONNECTED;
	m.viewer_connected = &vc;
	rpc_send_fds(c, &m, &sv[1], 1);
	close(sv[1]);
	return 0;
}

/* ---- input (broker_input.c builds the commands, as for REST) ---- */

/* Send an input answer: an InputResult, or an Error with the input codes and
 * how far an inject got. The fields are REST's JSON (one source for both). */
static void rpc_input_send(struct rpc_client *c, const struct broker_vm *vm,
			   const struct input_api_result *res)
{
	Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
	Cellvm__Api__Error er = CELLVM__API__ERROR__INIT;
	Cellvm__Api__InputResult ir = CELLVM__API__INPUT_RESULT__INIT;
	Cellvm__Api__InputBackendState *bs = NULL, **pbs = NULL;
	const Cellvm__Device__InputReply *r;
	size_t n = 0;

	if (res->e != INPUT_API_OK) {
		er.code = (char *)input_api_code(res->e);
		er.message = (char *)(res->msg ? res->msg : "failed");
		er.delivered = res->delivered;
		er.total = res->total;
		if (res->event >= 0) {
			er.at_case = CELLVM__API__ERROR__AT_EVENT;
			er.event = res->event;
		}
		m.msg_case = CELLVM__API__RESPONSE__MSG_ERROR;
		m.error = &er;
		rpc_send(c, &m);
		return;
	}
	/* From the device's answer itself (REST shows the same, as JSON). */
	r = res->reply;
	ir.delivered = res->delivered;
	ir.total = res->total;
	if (r) {
		const char *name = input_opt_backend_name(r->active_backend);

		ir.active_backend = (char *)(name ? name : "");
		ir.pending = r->pending;
		n = r->n_backends;
	}
	if (n) {
		bs = calloc(n, sizeof(*bs));
		pbs = calloc(n, sizeof(*pbs));
		if (!bs || !pbs) {
			rpc_error(c, API_INTERNAL, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = input_opt_backend_name(r->backends[i]->backend);

		cellvm__api__input_backend_state__init(&bs[i]);
		bs[i].backend = (char *)(name ? name : "unknown");
		bs[i].bound = r->backends[i]->bound;
		bs[i].detail = r->backends[i]->detail;
		bs[i].leds = r->backends[i]->leds;
		pbs[i] = &bs[i];
	}
	ir.n_backends = n;
	ir.backends = pbs;
	m.msg_case = CELLVM__API__RESPONSE__MSG_INPUT;
	m.input = &ir;
	rpc_send(c, &m);
out:
	free(bs);
	free(pbs);
}

static void rpc_input_done(struct broker_vm *vm, const struct input_api_result *res, void *arg)
{
	struct rpc_client *c = arg;

	log_info("rpc: tenant=%s uid=%u %s vm=%s -> %s (%u of %u)", c->tenant->name,
		 (unsigned)c->uid, c->pending_action, vm->id, input_api_code(res->e),
		 res->delivered, res->total);
	rpc_input_send(c, vm, res);
	rpc_resume(c);
}

/* Answer a request broker_input.c took (e OK: later, the client waits) or
 * refused (now). */
static void rpc_input_started(struct rpc_client *c, const char *what, struct broker_vm *vm,
			      enum input_api_err e, const char *err, int event)
{
	struct input_api_result res = {.e = e, .msg = err, .event = event};

	if (e == INPUT_API_OK) {
		rpc_wait(c);
		return;
	}
	log_info("rpc: tenant=%s uid=%u %s vm=%s -> %s", c->tenant->name, (unsigned)c->uid, what,
		 vm->id, input_api_code(e));
	rpc_input_send(c, NULL, &res);
}

static int rpc_on_inject_input(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__InjectInput *q = msg;
	struct rpc_client *c = ctx;
	struct broker_vm *vm;
	enum input_api_err e;
	char err[512];
	int ev = -1;

	(void)fds;
	(void)nfds;
	if (!(vm = rpc_vm(c, q->vm_id)))
		return 0;
	snprintf(c->pending_action, sizeof(c->pending_action), "inject-input");
	if (q->timeout_ms > 60000) {
		snprintf(err, sizeof(err), "timeout_ms: 1 to 60000 (0: 5000)");
		e = INPUT_API_INVALID;
	} else {
		/* UNTRUSTED(client): request_json, parsed as REST's body. */
		e = broker_input_inject(vm, q->request_json, strlen(q->request_json),
					q->timeout_ms ? (int)q->timeout_ms : 5000, rpc_input_done,
					c, err, sizeof(err), &ev);
	}
	rpc_input_started(c, "inject-input", vm, e, err, ev);
	return 0;
}

static int rpc_on_input_info(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__InputInfo *q = msg;
	struct rpc_client *c = ctx;
	struct broker_vm *vm;
	enum input_api_err e;
	char err[512];

	(void)fds;
	(void)nfds;
	if (!(vm = rpc_vm(c, q->vm_id)))
		return 0;
	snprintf(c->pending_action, sizeof(c->pending_action), "input-info");
	e = broker_input_query(vm, rpc_input_done, c, err, sizeof(err));
	rpc_input_started(c, "input-info", vm, e, err, -1);
	return 0;
}

static int rpc_on_switch_input(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Api__SwitchInputBackend *q = msg;
	struct rpc_client *c = ctx;
	struct broker_vm *vm;
	enum input_api_err e;
	char err[512];

	(void)fds;
	(void)nfds;
	if (!(vm = rpc_vm(c, q->vm_id)))
		return 0;
	snprintf(c->pending_action, sizeof(c->pending_action), "switch-input");
	e = broker_input_switch(vm, q->backend, rpc_input_done, c, err, sizeof(err));
	rpc_input_started(c, "switch-input", vm, e, err, -1);
	return 0;
}

/* protobuf-c keeps fields it does not know; the API refuses them. */
static bool rpc_unknown_fields(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d;

	if (!m)
		return false;
	if (m->n_unknown_fields)
		return true;
	d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *a =
				*(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++)
				if (rpc_unknown_fields(a[k]))
					return true;
		} else {
			/* A oneof member that is not the set case shares the storage. */
			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
			if (rpc_unknown_fields(*(ProtobufCMessage *const *)(base + f->offset)))
				return true;
		}
	}
	return false;
}

/* A request with fields the API does not know (rpc_check_fields). */
#define RPC_E_UNKNOWN_FIELDS (-EINVAL)

static int rpc_check_fields(void *ctx, const ProtobufCMessage *m)
{
	(void)ctx;
	return rpc_unknown_fields(m) ? RPC_E_UNKNOWN_FIELDS : 0;
}

/* A connection's state: its peer maps to no tenant (every request is refused
 * and the connection closed), to a tenant, to the administrator; or it
 * carries a stream (console follow, events), which takes no more requests. */
enum { RPC_ST_NO_TENANT, RPC_ST_TENANT, RPC_ST_ADMIN, RPC_ST_STREAM };

#define RPC_ST_ANY_TENANT (DISPATCH_STATE(RPC_ST_TENANT) | DISPATCH_STATE(RPC_ST_ADMIN))

static uint32_t rpc_state(const struct rpc_client *c)
{
	if (!c->tenant)
		return RPC_ST_NO_TENANT;
	if (c->stream != RPC_NONE)
		return RPC_ST_STREAM;
	return c->tenant->admin ? RPC_ST_ADMIN : RPC_ST_TENANT;
}

/* What a connection may ask, when: everything once it has a tenant and no
 * stream, Shutdown only as the administrator. Fds only with a Create (its
 * files); never a field the API does not know (rpc_check_fields). */
static const struct dispatch_entry rpc_table[] = {
	[CELLVM__API__REQUEST__MSG_PING] = {rpc_on_ping, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_SHUTDOWN] = {rpc_on_shutdown, DISPATCH_STATE(RPC_ST_ADMIN), 0},
	[CELLVM__API__REQUEST__MSG_UPGRADE] = {rpc_on_upgrade, DISPATCH_STATE(RPC_ST_ADMIN), 0},
	/* A create may pass its files open (SCM_RIGHTS), named "fd:N". */
	[CELLVM__API__REQUEST__MSG_CREATE] = {rpc_on_create, RPC_ST_ANY_TENANT, DISPATCH_FDS},
	[CELLVM__API__REQUEST__MSG_LIST] = {rpc_on_list, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_INFO] = {rpc_on_info, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_ACTION] = {rpc_on_action, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_DELETE] = {rpc_on_delete, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_VM_SHUTDOWN] = {rpc_on_vm_shutdown, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_COUNTERS] = {rpc_on_counters, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_CONSOLE] = {rpc_on_console, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_CONSOLE_INPUT] = {rpc_on_console_input, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_EVENTS] = {rpc_on_events, RPC_ST_ANY_TENANT, 0},
	/* Answered when the input device answers (the client waits). */
	[CELLVM__API__REQUEST__MSG_INJECT_INPUT] = {rpc_on_inject_input, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_INPUT_INFO] = {rpc_on_input_info, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_SWITCH_INPUT_BACKEND] = {rpc_on_switch_input, RPC_ST_ANY_TENANT,
							    0},
	/* Answered with fds: the PNG in a memfd; the ring and an eventfd. */
	[CELLVM__API__REQUEST__MSG_SCREENSHOT] = {rpc_on_screenshot, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_CAPTURE] = {rpc_on_capture, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_VIEWER_CONNECT] = {rpc_on_viewer_connect, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_CONSOLE_TOKEN] = {rpc_on_console_token, RPC_ST_ANY_TENANT, 0},
	/* Answered with fds: the audio ring and an eventfd; a pipe's write end. */
	[CELLVM__API__REQUEST__MSG_AUDIO_CAPTURE] = {rpc_on_audio_capture, RPC_ST_ANY_TENANT, 0},
	[CELLVM__API__REQUEST__MSG_AUDIO_INPUT] = {rpc_on_audio_input, RPC_ST_ANY_TENANT, 0},
};

static const struct dispatch_channel rpc_channel = {
	.envelope = &cellvm__api__request__descriptor,
	.max_len = RPC_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = rpc_table,
	.n = sizeof(rpc_table) / sizeof(rpc_table[0]),
	.check = rpc_check_fields,
};

/* Answer a request that was refused (r from dispatch_recv). Returns false
 * when the connection is to be closed now: the client left, or broke the
 * protocol. */
static bool rpc_refuse(struct rpc_client *c, int r)
{
	switch (r) {
	case -ECONNRESET: return false; /* the client left */
	case DISPATCH_E_FDS:
		rpc_error(c, API_INVALID_ARGUMENT, "no fds are accepted (but with a Create)");
		return false;
	case DISPATCH_E_STATE:
		if (!c->tenant) {
			rpc_error(c, API_PERMISSION_DENIED, "this user has no tenant here");
			c->dead = true;
		} else if (c->stream != RPC_NONE) {
			rpc_error(c, API_INVALID_ARGUMENT, "this connection carries a stream");
		} else {
			/* A tenant asked for what is the administrator's alone. */
			bool up = c->proto.last_case == CELLVM__API__REQUEST__MSG_UPGRADE;

			rpc_log(c, up ? "vmm.upgrade" : "vmm.shutdown", NULL,
				API_PERMISSION_DENIED);
			rpc_error(c, API_PERMISSION_DENIED,
				  up ? "only the administrator can upgrade the broker"
				     : "only the administrator can shut the broker down");
		}
		return true;
	case RPC_E_UNKNOWN_FIELDS:
		rpc_error(c, API_INVALID_ARGUMENT, "unknown fields in the request");
		return true;
	case DISPATCH_E_UNEXPECTED:
		rpc_error(c, API_INVALID_ARGUMENT, "unknown request");
		return true;
	default:
		rpc_error(c, API_INVALID_ARGUMENT, "undecodable or oversized request");
		return false;
	}
}

static void rpc_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_client *c = arg;
	int r;

	/* The rules depend on the connection's state as it is now. */
	c->proto.state = rpc_state(c);
	/* UNTRUSTED(client): one request, checked by rpc_table. */
	r = dispatch_recv(c->fd, &c->proto, c);
	if (r == -EAGAIN || r == -EINTR)
		return;
	if (r < 0 && !rpc_refuse(c, r)) {
		rpc_free(c);
		return;
	}
	if (c->dead && !c->waiting)
		rpc_free(c);
	else
		rpc_idle_arm(c);
}

static void rpc_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct rpc *r = arg;
	struct rpc_client *c, *o;
	const char *why = NULL;
	size_t mine = 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return; /* EAGAIN, or EMFILE: the REST guard pauses the other door */
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->r = r;
	c->fd = fd;
	c->tenant = broker_tenant_for_socket(&r->b->tenants, fd, &c->uid);
	if (!c->tenant) {
		/* Places of their own, few: a peer without a tenant never takes
		 * one of a tenant's. */
		if (r->nno_tenant >= RPC_MAX_NO_TENANT)
			why = "no tenant, and too many such connections";
	} else {
		TAILQ_FOREACH(o, &r->clients, link)
		mine += o->tenant == c->tenant;
		if (r->nclients >= RPC_MAX_CLIENTS)
			why = "too many clients";
		else if (mine >= RPC_MAX_CLIENTS_TENANT)
			why = "too many clients of this tenant";
		else if (!broker_conn_uid_take(r->b, c->uid))
			why = "too many connections of this uid";
		else
			c->counted = true;
	}
	if (why) {
		rpc_refused(r, why, c->uid);
		goto fail;
	}
	dispatch_init(&c->proto, &rpc_channel, rpc_state(c));
	c->ev = event_new(r->b->base, fd, EV_READ | EV_PERSIST, rpc_on_read, c);
	c->idle = evtimer_new(r->b->base, rpc_on_idle, c);
	if (!c->ev || !c->idle)
		goto fail;
	TAILQ_INSERT_TAIL(&r->clients, c, link);
	if (c->tenant)
		r->nclients++;
	else
		r->nno_tenant++;
	/* A peer without a tenant is refused at its first request (answering
	 * before it sent one could lose the answer in the hang-up). */
	event_add(c->ev, NULL);
	rpc_idle_arm(c);
	return;
fail:
	if (c->counted)
		broker_conn_uid_put(r->b, c->uid);
	if (c->ev)
		event_free(c->ev);
	if (c->idle)
		event_free(c->idle);
	close(fd);
	free(c);
}

void rpc_event(struct broker *b, const struct broker_vm *vm, const char *what, const char *detail)
{
	struct rpc_client *c, *next;

	if (!b->rpc)
		return;
	for (c = TAILQ_FIRST(&b->rpc->clients); c; c = next) {
		Cellvm__Api__Response m = CELLVM__API__RESPONSE__INIT;
		Cellvm__Api__Event e = CELLVM__API__EVENT__INIT;

		next = TAILQ_NEXT(c, link);
		if (c->stream != RPC_EVENTS ||
		    (!c->tenant->admin && c->tenant != &b->tenants.t[vm->tenant]))
			continue;
		e.seq = b->event_seq;
		e.time = broker_now();
		e.vm_id = (char *)vm->id;
		e.name = (char *)vm->def.name;
		e.event = (char *)what;
		e.detail = (char *)(detail ? detail : "");
		m.msg_case = CELLVM__API__RESPONSE__MSG_EVENT;
		m.event = &e;
		if (!rpc_send(c, &m))
			rpc_free(c);
	}
}

void rpc_console_update(struct broker *b, const struct broker_vm *vm, bool vm_gone)
{
	struct rpc_client *c, *next;

	if (!b->rpc)
		return;
	for (c = TAILQ_FIRST(&b->rpc->clients); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->stream != RPC_CONSOLE || strcmp(c->vm_id, vm->id) != 0)
			continue;
		(void)rpc_console_send(c, vm, false, vm_gone);
		if (vm_gone)
			c->stream = RPC_NONE;
		if (c->dead)
			rpc_free(c);
		else
			rpc_idle_arm(c);
	}
}

void rpc_audio_vm_gone(struct broker *b, const struct broker_vm *vm)
{
	struct rpc_client *c, *next;

	if (!b->rpc)
		return;
	/* An audio reader's connection carries nothing after its start: its
	 * hang-up is how the reader learns the VM stopped (cellctl
	 * record-audio ends its file then). */
	for (c = TAILQ_FIRST(&b->rpc->clients); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->stream == RPC_AUDIO && c->capture_boot == vm->boots &&
		    strcmp(c->vm_id, vm->id) == 0)
			rpc_free(c);
	}
}

int rpc_start(struct broker *b, int listen_fd, char *err, size_t errlen)
{
	struct rpc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->b = b;
	r->lfd = listen_fd;
	TAILQ_INIT(&r->clients);
	r->lev = event_new(b->base, listen_fd, EV_READ | EV_PERSIST, rpc_on_accept, r);
	if (!r->lev || event_add(r->lev, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the RPC socket");
		if (r->lev)
			event_free(r->lev);
		free(r);
		return -ENOMEM;
	}
	b->rpc = r;
	return 0;
}

void rpc_quiesce(struct broker *b)
{
	if (b->rpc)
		event_del(b->rpc->lev);
}

bool rpc_busy(struct broker *b)
{
	struct rpc_client *c;
	int n;

	if (!b->rpc)
		return false;
	TAILQ_FOREACH(c, &b->rpc->clients, link)
	{
		if (c->stream != RPC_NONE || c->dead)
			continue;
		if (c->waiting || (ioctl(c->fd, FIONREAD, &n) == 0 && n > 0))
			return true;
	}
	return false;
}

void rpc_stop(struct broker *b)
{
	struct rpc *r = b->rpc;
	struct rpc_client *c;

	if (!r)
		return;
	while ((c = TAILQ_FIRST(&r->clients)))
		rpc_free(c);
	event_free(r->lev);
	close(r->lfd);
	free(r);
	b->rpc = NULL;
}
