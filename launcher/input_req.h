/* The inject-input API request (JSON from a client of the broker, or from
 * cellvm run's socket) turned into the packed records of proto/input_event.h:
 * keys by code or name, text through a layout, modifiers, mouse and touch.
 * Pure parsing, no I/O; the caller owns *out and logs. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "proto/input_event.h"

struct json_object;

#define INPUT_REQ_MAX_BODY    65536 /* bytes of JSON input_req_parse_bytes takes */
#define INPUT_REQ_JSON_DEPTH  8	    /* nesting the request needs is 4 */
#define INPUT_REQ_MAX_ENTRIES 900   /* entries of "events" */
#define INPUT_REQ_MAX_TEXT    256   /* characters of one "text" */

struct input_req {
	uint8_t backend; /* the request's "backend", 0 when absent */
	size_t n;	 /* records in ev[] */
	struct cellvm_input_event ev[CELLVM_INPUT_MAX_EVENTS];
	/* The request's event (its index in "events") each record came from:
	 * the device names a record, the client is told the event. */
	uint16_t src[CELLVM_INPUT_MAX_EVENTS];
};

/* The request's event index of record i (as the device names it), or -1. */
int input_req_event_of(const struct input_req *req, int record);

/* UNTRUSTED(client): body. Parses a request (already parsed by json-c) into
 * *out. Returns 0, or -EINVAL with err filled with a message that names the
 * event index and the field ("events[3].scancode: 1000 is outside 1..767")
 * and *ret_event set to that index, or -1 for a problem outside "events". */
int input_req_parse(const struct json_object *body, struct input_req *out, char *err, size_t errlen,
		    int *ret_event);

/* UNTRUSTED(client): buf. The same from raw bytes: one JSON value of at most
 * INPUT_REQ_MAX_BODY bytes nested at most INPUT_REQ_JSON_DEPTH deep, only
 * white space after it; -ENOMEM if json-c cannot allocate. */
int input_req_parse_bytes(const char *buf, size_t len, struct input_req *out, char *err,
			  size_t errlen, int *ret_event);
