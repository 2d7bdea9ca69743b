/* Streaming replies of the broker's REST API (console follow, the event
 * stream) as chunked HTTP, and the guard that keeps floods of connections from
 * exhausting the broker's fds. Runs in the broker's loop. A client that stops
 * reading a stream is dropped once REST_STREAM_MAX_OUT bytes wait for it: it
 * never makes the broker buffer without bound or wait. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "broker/broker_api.h"
#include "common/log.h"

static void stream_free(struct stream *s)
{
	TAILQ_REMOVE(&s->r->streams, s, link);
	s->r->nstreams--;
	free(s);
}

static void stream_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;

	/* The client went away (EOF, error or timeout). evhttp has detached the
	 * unfinished request from the connection and leaves it to us: ending the
	 * reply without a connection frees it. */
	if (!evhttp_request_get_connection(s->req))
		evhttp_send_reply_end(s->req);
	stream_free(s);
}

/* End a stream: cleanly (the reply's last chunk), or by dropping the client. */
static void stream_end(struct stream *s, bool drop)
{
	evhttp_connection_set_closecb(s->evcon, NULL, NULL);
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
		stream_end(s, true);
		return false;
	}
	evhttp_send_reply_chunk(s->req, buf);
	return true;
}

static struct stream *stream_start(struct rest_call *c, enum stream_kind kind, const char *type)
{
	struct stream *s;
	size_t mine = 0;

	TAILQ_FOREACH(s, &c->r->streams, link)
	mine += s->tenant == c->tenant;
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
	/* A stream may be quiet for long: no read timeout, a write timeout only. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(s->evcon), NULL,
				 &(struct timeval){.tv_sec = c->r->b->client_timeout});
	TAILQ_INSERT_TAIL(&c->r->streams, s, link);
	c->r->nstreams++;
	evhttp_connection_set_closecb(s->evcon, stream_on_close, s);
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
	s = stream_start(c, STREAM_CONSOLE, "text/plain; charset=utf-8");
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
	struct stream *s = stream_start(c, STREAM_EVENTS, "application/x-ndjson");

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
				stream_end(s, false);
		}
		evbuffer_free(out);
	}
}

/* ---- connection limits ---- */

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
	r->relisten = evtimer_new(r->b->base, rest_on_relisten, r);
	return r->relisten ? 0 : -ENOMEM;
}

void rest_streams_free(struct rest *r)
{
	struct stream *s;

	while ((s = TAILQ_FIRST(&r->streams)))
		stream_end(s, false);
	if (r->relisten)
		event_free(r->relisten);
}
