/* Internals of the broker's REST layer, shared by broker_api_rest.c (routes)
 * and broker_api_stream.c (streaming replies and connection limits). */
#pragma once
#include <event2/http.h>
#include <sys/queue.h>

#include "broker/broker.h"

#define REST_MAX_BODY		(64 * 1024) /* request bodies; larger: 413 */
#define REST_MAX_HEADERS	(8 * 1024)  /* request line and headers; larger: 400/413 */
#define REST_STREAM_MAX_OUT	(1 << 20)   /* unread stream bytes before we drop the client */
#define REST_MAX_STREAMS	256
#define REST_MAX_STREAMS_TENANT 32 /* so that one tenant cannot take them all */

#define REST_MAX_NO_TENANT 16 /* open connections of peers without a tenant, all together */

enum stream_kind { STREAM_CONSOLE, STREAM_EVENTS, STREAM_AUDIO };

struct rest_audio;

/* One accepted connection, as the broker tracks it next to evhttp: who the
 * peer is (SO_PEERCRED at accept) and the deadline by which its next request
 * must have arrived whole. Indexed by fd in struct rest; freed when evhttp
 * closes the connection. */
struct rest_conn {
	struct rest *r;
	struct bufferevent *bev;
	struct evhttp_connection *evcon;
	struct event *check;	/* runs once right after accept, before any read */
	struct event *deadline; /* armed while a request is awaited */
	struct stream *stream;	/* the stream it carries, if any */
	int fd;
	uid_t uid;
	bool counted;	/* holds one of its uid's connections */
	bool no_tenant; /* holds one of the REST_MAX_NO_TENANT places */
};

struct stream {
	TAILQ_ENTRY(stream) link;
	struct rest *r;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	enum stream_kind kind;
	const struct tenant *tenant;
	char vm_id[BROKER_ID_LEN + 1];
	uint64_t pos; /* console: next byte to send */
	struct rest_conn *conn;
	struct rest_audio *audio; /* STREAM_AUDIO: its reader (broker_api_audio.c) */
};

struct rest {
	struct broker *b;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *relisten;
	int conn_fd_limit;	  /* listening pauses while this fd number is in use */
	struct rest_conn **conns; /* by fd, conns_len of them */
	size_t conns_len;
	size_t nno_tenant;
	uint64_t refused_logged; /* broker_now() of the last "refused" line */
	uint64_t nrefused;	 /* refused since that line */
	TAILQ_HEAD(, stream) streams;
	size_t nstreams;
};

/* One request being handled. */
struct rest_call {
	struct rest *r;
	struct evhttp_request *req;
	struct tenant *tenant;
	struct rest_conn *conn;
	uid_t uid;
	char vm_id[BROKER_ID_LEN + 1];
};

void broker_api_rest_reply_json(struct evhttp_request *req, int status, json_object *o);
/* One key of a route's query: a decimal in [min, max]. */
struct rest_query_key {
	const char *name;
	uint32_t min, max;
};
/* UNTRUSTED(client): req's query, keys[n] only, each at most once, each
 * value in its range, into v[i] (untouched when absent); *seen gets bit i
 * for each that came. Anything else is -EINVAL with "query: USAGE, each
 * once; 'KEY' is not" in err. */
int broker_api_rest_query(struct evhttp_request *req, const struct rest_query_key *keys, size_t n,
			  const char *usage, uint32_t *v, uint32_t *seen, char *err, size_t errlen);
void broker_api_rest_reply_error(struct evhttp_request *req, int status, const char *code,
				 const char *msg);

/* Start a streaming reply (200, chunked, Content-Type type) on the call's
 * connection: the stream, or NULL when it was answered with an error (too
 * many streams). */
struct stream *rest_stream_start(struct rest_call *c, enum stream_kind kind, const char *type);
/* End a stream: cleanly (the reply's last chunk), or by dropping the client.
 * Frees it. */
void rest_stream_end(struct stream *s, bool drop);
void rest_stream_console(struct rest_call *c, struct broker_vm *vm, bool follow);
/* GET /vm/{id}/audio and POST /vm/{id}/audio-input (broker_api_audio.c);
 * an audio stream's reader freed with its stream. */
void rest_audio_get(struct rest_call *c, struct broker_vm *vm);
void rest_audio_post(struct rest_call *c, struct broker_vm *vm);
void rest_audio_free(struct stream *s);
void rest_stream_events(struct rest_call *c);
void rest_guard_connections(struct rest *r);
/* The connection evhttp asks a bufferevent for (bevcb); NULL on failure. */
struct bufferevent *rest_conn_new(struct rest *r);
/* A request arrived whole on evcon: its deadline stops until the reply is
 * sent. The tracked connection, or NULL. */
struct rest_conn *rest_conn_request(struct rest *r, struct evhttp_request *req);
void rest_on_listen_error(struct evconnlistener *l, void *arg);
int rest_streams_init(struct rest *r);
void rest_streams_free(struct rest *r);
void rest_conns_free(struct rest *r);
