/* Streaming replies of the broker's REST API (console follow, the event
 * stream) as chunked HTTP, and what keeps floods of connections from locking
 * tenants out: peers classified at accept (SO_PEERCRED), connections per uid
 * counted over both APIs, an absolute deadline for each request, and the fd
 * guard. Runs in the broker's loop. A client that stops reading a stream is
 * dropped once REST_STREAM_MAX_OUT bytes wait for it (an audio stream's
 * loses periods instead: broker_api_audio.c): it never makes the broker
 * buffer without bound or wait. */
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "broker/broker_api.h"
#include "common/log.h"

static void stream_free(struct stream *s)
{
	if (s->kind == STREAM_AUDIO)
		rest_audio_free(s);
	TAILQ_REMOVE(&s->r->streams, s, link);
	s->r->nstreams--;
	free(s);
}

static void stream_on_close(struct stream *s)
{

	/* The client went away (EOF, error or timeout). evhttp has detached the
	 * unfinished request from the connection and leaves it to us: ending the
	 * reply without a connection frees it. */
	if (!evhttp_request_get_connection(s->req))
		evhttp_send_reply_end(s->req);
	stream_free(s);
}

void rest_stream_end(struct stream *s, bool drop)
{
	s->conn->stream = NULL;
	if (drop)
		evhttp_connection_free(s->evcon);
	else
		evhttp_send_reply_end(s->req);
	stream_free(s);
}

/* Send buf to the stream's client; false when the client was dropped. */
static bool stream_send(struct stream *s, struct evbuffer *buf)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);

	if (evbuffer_get_length(bufferevent_get_output(bev)) > REST_STREAM_MAX_OUT) {
		log_warn("api: dropping a %s stream client that does not read",
			 s->kind == STREAM_CONSOLE ? "console" : "event");
		rest_stream_end(s, true);
		return false;
	}
	evhttp_send_reply_chunk(s->req, buf);
	return true;
}

struct stream *rest_stream_start(struct rest_call *c, enum stream_kind kind, const char *type)
{
	struct stream *s;
	size_t mine = 0;

	TAILQ_FOREACH(s, &c->r->streams, link)
	mine += s->tenant == c->tenant;
	if (!c->conn) {
		broker_api_rest_reply_error(c->req, 500, "INTERNAL", "untracked connection");
		return NULL;
	}
	if (c->r->nstreams >= REST_MAX_STREAMS || mine >= REST_MAX_STREAMS_TENANT) {
		broker_api_rest_reply_error(c->req, 503, "VM_BUSY", "too many open streams");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		broker_api_rest_reply_error(c->req, 500, "INTERNAL", "out of memory");
		return NULL;
	}
	s->r = c->r;
	s->req = c->req;
	s->evcon = evhttp_request_get_connection(c->req);
	s->kind = kind;
	s->tenant = c->tenant;
	s->conn = c->conn;
	/* A stream may be quiet for long: no read timeout, a write timeout only. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(s->evcon), NULL,
				 &(struct timeval){.tv_sec = c->r->b->client_timeout});
	TAILQ_INSERT_TAIL(&c->r->streams, s, link);
	c->r->nstreams++;
	c->conn->stream = s;
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", type);
	evhttp_send_reply_start(c->req, 200, "OK");
	return s;
}

void rest_stream_console(struct rest_call *c, struct broker_vm *vm, bool follow)
{
	struct evbuffer *out = evbuffer_new();
	struct stream *s;
	uint64_t pos = 0;

	broker_console_read(vm, &pos, out);
	if (!follow) {
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type",
				  "text/plain; charset=utf-8");
		evhttp_send_reply(c->req, 200, "OK", out);
		evbuffer_free(out);
		return;
	}
	s = rest_stream_start(c, STREAM_CONSOLE, "text/plain; charset=utf-8");
	if (s) {
		snprintf(s->vm_id, sizeof(s->vm_id), "%s", vm->id);
		s->pos = pos;
		if (evbuffer_get_length(out))
			stream_send(s, out);
	}
	evbuffer_free(out);
}

void rest_stream_events(struct rest_call *c)
{
	struct evbuffer *out;
	struct stream *s = rest_stream_start(c, STREAM_EVENTS, "application/x-ndjson");

	if (!s)
		return;
	/* A first line at once, so a client knows it is subscribed. */
	out = evbuffer_new();
	evbuffer_add_printf(out, "{\"event\":\"subscribed\",\"seq\":%llu}\n",
			    (unsigned long long)c->r->b->event_seq);
	stream_send(s, out);
	evbuffer_free(out);
}

void rest_event(struct broker *b, const struct broker_vm *vm, const char *what, const char *detail)
{
	json_object *o = json_object_new_object();
	struct stream *s, *next;
	const char *text;

	json_object_object_add(o, "seq", json_object_new_int64((int64_t)++b->event_seq));
	json_object_object_add(o, "time", json_object_new_int64((int64_t)broker_now()));
	json_object_object_add(o, "vm_id", json_object_new_string(vm->id));
	json_object_object_add(o, "name", json_object_new_string(vm->def.name));
	json_object_object_add(o, "event", json_object_new_string(what));
	if (detail)
		json_object_object_add(o, "detail", json_object_new_string(detail));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	for (s = b->rest ? TAILQ_FIRST(&b->rest->streams) : NULL; s; s = next) {
		struct evbuffer *out;

		next = TAILQ_NEXT(s, link);
		if (s->kind != STREAM_EVENTS ||
		    (!s->tenant->admin && s->tenant != &b->tenants.t[vm->tenant]))
			continue;
		out = evbuffer_new();
		evbuffer_add_printf(out, "%s\n", text);
		stream_send(s, out);
		evbuffer_free(out);
	}
	json_object_put(o);
}

void rest_console_update(struct broker *b, const struct broker_vm *vm, bool vm_gone)
{
	struct stream *s, *next;

	for (s = b->rest ? TAILQ_FIRST(&b->rest->streams) : NULL; s; s = next) {
		struct evbuffer *out;

		next = TAILQ_NEXT(s, link);
		if (s->kind != STREAM_CONSOLE || strcmp(s->vm_id, vm->id) != 0)
			continue;
		out = evbuffer_new();
		broker_console_read(vm, &s->pos, out);
		if (!evbuffer_get_length(out) || stream_send(s, out)) {
			if (vm_gone)
				rest_stream_end(s, false);
		}
		evbuffer_free(out);
	}
}

/* ---- connections per uid (REST and RPC) ---- */

struct broker_uid_conns {
	uid_t uid;
	uint32_t n;
};

bool broker_conn_uid_take(struct broker *b, uid_t uid)
{
	struct broker_uid_conns *u, *grown;
	size_t i;

	/* The administrator can kill the broker anyway; its tools are not
	 * limited. */
	if (uid == 0)
		return true;
	for (i = 0; i < b->nuid_conns; i++) {
		u = &b->uid_conns[i];
		if (u->uid != uid)
			continue;
		if (u->n >= b->max_conns_per_uid)
			return false;
		u->n++;
		return true;
	}
	/* Only uids of tenants get here (others are never counted): few. */
	grown = realloc(b->uid_conns, (b->nuid_conns + 1) * sizeof(*grown));
	if (!grown)
		return false;
	b->uid_conns = grown;
	b->uid_conns[b->nuid_conns++] = (struct broker_uid_conns){.uid = uid, .n = 1};
	return true;
}

void broker_conn_uid_put(struct broker *b, uid_t uid)
{
	if (uid == 0)
		return;
	for (size_t i = 0; i < b->nuid_conns; i++) {
		if (b->uid_conns[i].uid != uid)
			continue;
		assert(b->uid_conns[i].n > 0);
		if (--b->uid_conns[i].n == 0)
			b->uid_conns[i] = b->uid_conns[--b->nuid_conns];
		return;
	}
	assert(!"a uid's connection put back that was never taken");
}

void broker_conn_uid_free(struct broker *b)
{
	free(b->uid_conns);
	b->uid_conns = NULL;
	b->nuid_conns = 0;
}

/* ---- REST connections: who, and by when ---- */

static void rest_conn_refused(struct rest *r, const char *why, uid_t uid)
{
	uint64_t now = broker_now();

	/* Refusals come in floods: one line a second, with a count. */
	r->nrefused++;
	if (r->refused_logged == now)
		return;
	log_warn("api: connection of uid %u refused: %s (%llu refused)", (unsigned)uid, why,
		 (unsigned long long)r->nrefused);
	r->refused_logged = now;
	r->nrefused = 0;
}

static void rest_conn_free(struct rest_conn *rc)
{
	if (rc->fd >= 0 && (size_t)rc->fd < rc->r->conns_len && rc->r->conns[rc->fd] == rc)
		rc->r->conns[rc->fd] = NULL;
	if (rc->counted)
		broker_conn_uid_put(rc->r->b, rc->uid);
	if (rc->no_tenant)
		rc->r->nno_tenant--;
	if (rc->check)
		event_free(rc->check);
	if (rc->deadline)
		event_free(rc->deadline);
	free(rc);
}

static void rest_conn_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct rest_conn *rc = arg;

	if (rc->stream)
		stream_on_close(rc->stream);
	rest_conn_free(rc);
}

static void rest_conn_arm(struct rest_conn *rc)
{
	evtimer_add(rc->deadline, &(struct timeval){.tv_sec = rc->r->b->client_timeout});
}

static void rest_conn_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rest_conn *rc = arg;

	/* evhttp's own timeout restarts with every byte: a client trickling its
	 * headers would keep the connection for ever. This one does not. */
	log_debug("api: dropping a client that did not send its request within %d s",
		  rc->r->b->client_timeout);
	evhttp_connection_free(rc->evcon); /* calls rest_conn_on_close */
}

static void rest_conn_on_check(evutil_socket_t unused, short what, void *arg)
{
	struct rest_conn *rc = arg;
	struct rest *r = rc->r;
	struct bufferevent *bev = rc->bev;
	bufferevent_event_cb eventcb = NULL;
	struct tenant *t;
	void *cbarg = NULL;
	int fd;

	/* evhttp made its connection over our bufferevent in the same call
	 * that accepted it, and is its callbacks' argument. A bufferevent
	 * without callbacks was freed again (our reference kept it). */
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	fd = bufferevent_getfd(bev);
	if (!eventcb || !cbarg || fd < 0 || evhttp_connection_get_bufferevent(cbarg) != bev) {
		event_free(rc->check);
		rc->check = NULL;
		rc->fd = -1;
		rest_conn_free(rc);
		bufferevent_decref(bev);
		return;
	}
	rc->evcon = cbarg;
	rc->fd = fd;
	t = broker_tenant_for_socket(&r->b->tenants, fd, &rc->uid);
	if (!t) {
		/* A peer without a tenant is answered 403 at its request and
		 * closed; its connections have places of their own, few, so they
		 * never take a tenant's. */
		if (r->nno_tenant >= REST_MAX_NO_TENANT) {
			rest_conn_refused(r, "no tenant, and too many such connections", rc->uid);
			goto refuse;
		}
		rc->no_tenant = true;
		r->nno_tenant++;
	} else if (!broker_conn_uid_take(r->b, rc->uid)) {
		rest_conn_refused(r, "too many connections of this uid", rc->uid);
		goto refuse;
	} else {
		rc->counted = true;
	}
	if ((size_t)fd >= r->conns_len) {
		rest_conn_refused(r, "fd beyond the table", rc->uid);
		goto refuse;
	}
	r->conns[fd] = rc;
	evhttp_connection_set_closecb(rc->evcon, rest_conn_on_close, rc);
	rest_conn_arm(rc);
	bufferevent_decref(bev);
	return;
refuse:
	evhttp_connection_free(rc->evcon);
	rc->fd = -1;
	rest_conn_free(rc);
	bufferevent_decref(bev);
}

struct bufferevent *rest_conn_new(struct rest *r)
{
	struct rest_conn *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rc->r = r;
	rc->fd = -1;
	rc->bev = bufferevent_socket_new(r->b->base, -1, BEV_OPT_CLOSE_ON_FREE);
	rc->check = event_new(r->b->base, -1, 0, rest_conn_on_check, rc);
	rc->deadline = evtimer_new(r->b->base, rest_conn_on_deadline, rc);
	if (!rc->bev || !rc->check || !rc->deadline) {
		if (rc->bev)
			bufferevent_free(rc->bev);
		rest_conn_free(rc);
		return NULL;
	}
	/* evhttp sets the accepted fd on the bufferevent once this returns, and
	 * reads nothing before the loop runs again. An event made active now
	 * runs in this pass of the loop, before any read of the connection:
	 * there the peer is looked at. Our reference keeps the bufferevent
	 * until then whatever evhttp does. */
	bufferevent_incref(rc->bev);
	event_active(rc->check, EV_TIMEOUT, 0);
	return rc->bev;
}

static void rest_conn_on_complete(struct evhttp_request *req, void *arg)
{
	struct rest_conn *rc = arg;

	/* The reply is out; the connection may carry another request, which
	 * gets a deadline of its own (if evhttp closes instead, our close
	 * callback runs next). */
	rest_conn_arm(rc);
}

struct rest_conn *rest_conn_request(struct rest *r, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct rest_conn *rc;
	int fd;

	if (!evcon)
		return NULL;
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd < 0 || (size_t)fd >= r->conns_len)
		return NULL;
	rc = r->conns[fd];
	if (!rc || rc->evcon != evcon)
		return NULL;
	evtimer_del(rc->deadline);
	evhttp_request_set_on_complete_cb(req, rest_conn_on_complete, rc);
	return rc;
}

/* ---- an upgrade's drain ---- */

void broker_api_rest_quiesce(struct broker *b)
{
	struct rest *r = b->rest;

	if (!r)
		return;
	evtimer_del(r->relisten); /* the guard must not enable it again */
	evconnlistener_disable(r->listener);
}

bool broker_api_rest_busy(struct broker *b)
{
	struct rest *r = b->rest;
	int n;

	if (!r)
		return false;
	for (size_t fd = 0; fd < r->conns_len; fd++) {
		struct rest_conn *rc = r->conns[fd];

		if (!rc || rc->stream)
			continue;
		/* Not awaiting a request: one is being handled. */
		if (!evtimer_pending(rc->deadline, NULL))
			return true;
		/* Awaiting one: part of it is here, or waits in the socket. */
		if (evbuffer_get_length(bufferevent_get_input(rc->bev)) > 0 ||
		    (ioctl(rc->fd, FIONREAD, &n) == 0 && n > 0))
			return true;
	}
	return false;
}

/* ---- the fd guard ---- */

static void rest_on_relisten(evutil_socket_t fd, short what, void *arg)
{
	struct rest *r = arg;

	if (fcntl(r->conn_fd_limit, F_GETFD) >= 0) {
		evtimer_add(r->relisten, &(struct timeval){.tv_usec = 100000});
		return;
	}
	evconnlistener_enable(r->listener);
}

void rest_guard_connections(struct rest *r)
{
	/* fds are handed out lowest first: while the fd numbered conn_fd_limit is
	 * open, the table is three quarters full. Stop accepting (new clients wait
	 * in the backlog) until idle connections time out or close, so that
	 * booting a VM always finds fds. */
	if (fcntl(r->conn_fd_limit, F_GETFD) < 0 || evtimer_pending(r->relisten, NULL))
		return;
	log_warn("api: too many connections: accepting paused");
	evconnlistener_disable(r->listener);
	evtimer_add(r->relisten, &(struct timeval){.tv_usec = 100000});
}

static void rest_on_reenable(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

void rest_on_listen_error(struct evconnlistener *l, void *arg)
{
	/* accept() failed (EMFILE, ENFILE, ENOMEM): pause instead of spinning. */
	log_warn("api: accept: %s: accepting paused", strerror(errno));
	evconnlistener_disable(l);
	event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, rest_on_reenable, l,
			&(struct timeval){.tv_usec = 200000});
}

int rest_streams_init(struct rest *r)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	r->conn_fd_limit = (int)(rl.rlim_cur > (1 << 20) ? (1 << 20) : rl.rlim_cur) / 4 * 3;
	r->conns_len = rl.rlim_cur > (1 << 20) ? (1 << 20) : rl.rlim_cur;
	r->conns = calloc(r->conns_len, sizeof(*r->conns));
	if (!r->conns)
		return -ENOMEM;
	r->relisten = evtimer_new(r->b->base, rest_on_relisten, r);
	return r->relisten ? 0 : -ENOMEM;
}

void rest_streams_free(struct rest *r)
{
	struct stream *s;

	while ((s = TAILQ_FIRST(&r->streams)))
		rest_stream_end(s, false);
	if (r->relisten)
		event_free(r->relisten);
}

void rest_conns_free(struct rest *r)
{
	/* evhttp_free has closed every connection (our close callbacks ran);
	 * what is left never got past its check. */
	free(r->conns);
	r->conns = NULL;
}
