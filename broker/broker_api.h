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

enum stream_kind { STREAM_CONSOLE, STREAM_EVENTS };

struct stream {
	TAILQ_ENTRY(stream) link;
	struct rest *r;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	enum stream_kind kind;
	const struct tenant *tenant;
	char vm_id[BROKER_ID_LEN + 1];
	uint64_t pos; /* console: next byte to send */
};

struct rest {
	struct broker *b;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *relisten;
	int conn_fd_limit; /* listening pauses while this fd number is in use */
	TAILQ_HEAD(, stream) streams;
	size_t nstreams;
};

/* One request being handled. */
struct rest_call {
	struct rest *r;
	struct evhttp_request *req;
	struct tenant *tenant;
	uid_t uid;
	char vm_id[BROKER_ID_LEN + 1];
};

void broker_api_rest_reply_json(struct evhttp_request *req, int status, json_object *o);
void broker_api_rest_reply_error(struct evhttp_request *req, int status, const char *code,
				 const char *msg);

void rest_stream_console(struct rest_call *c, struct broker_vm *vm, bool follow);
void rest_stream_events(struct rest_call *c);
void rest_guard_connections(struct rest *r);
void rest_on_listen_error(struct evconnlistener *l, void *arg);
int rest_streams_init(struct rest *r);
void rest_streams_free(struct rest *r);
