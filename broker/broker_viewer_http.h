/* The viewer listener's HTTP requests (broker_viewer.c), parsed apart from
 * the sockets so that a fuzzer drives the parser alone. What a request head
 * asks for: noVNC's files, the viewer page, a WebSocket to a VM's VNC
 * server. UNTRUSTED(network peer): the head, bounded by the caller. Pure:
 * no I/O, no allocation. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define VIEWER_ID_MAX	 36 /* a VM id: a UUID's text */
#define VIEWER_TOKEN_MAX 63
#define VIEWER_PATH_MAX	 255

enum viewer_route {
	VIEWER_BAD,	   /* not a GET request line: 400 */
	VIEWER_NOT_FOUND,  /* nothing here, or a path that is not allowed: 404 */
	VIEWER_STATIC,	   /* GET /novnc/FILE: path is FILE, checked, type known */
	VIEWER_PAGE,	   /* GET /vm/ID/viewer */
	VIEWER_WEBSOCKET,  /* GET /vm/ID/websockify with an Upgrade: websocket */
	VIEWER_NO_UPGRADE, /* GET /vm/ID/websockify without one: 400 */
};

struct viewer_request {
	enum viewer_route route;
	char vm_id[VIEWER_ID_MAX + 1];	  /* PAGE, WEBSOCKET: 1..36 of [0-9a-f-] */
	char token[VIEWER_TOKEN_MAX + 1]; /* the query's token=, "" when absent or too long */
	char path[VIEWER_PATH_MAX + 1];	  /* STATIC: of [A-Za-z0-9._/-], no "..", not absolute */
	const char *type;		  /* STATIC: its Content-Type */
};

/* Parse head (the request line and headers, NUL-terminated, without the
 * blank line) into *r. */
void broker_viewer_route(const char *head, struct viewer_request *r);
