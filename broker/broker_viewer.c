/* The broker's viewer listeners (docs/broker.md, "Display"): where VNC
 * viewers and browsers reach a VM's VNC server with a one-time console
 * token (POST /vm/{id}/console-token). Two TCP sockets, loopback by default:
 *   - the web listener (--viewer-listen): HTTP. GET /vm/ID/websockify?token=T
 *     with a WebSocket upgrade (noVNC) is handed, unread, to the VM's
 *     cellvm-display, which answers the upgrade itself (FRESH);
 *     GET /vm/ID/viewer?token=T is the viewer page; GET /novnc/FILE a file
 *     of noVNC; anything else 404;
 *   - the VNC listener (--vnc-listen): RFB. The broker runs the version
 *     exchange and VNC authentication with a fresh challenge, finds the
 *     token whose password answers it, and hands the connection on from
 *     there (RESUMED).
 * (One port for both, told apart by who speaks first, fails: browsers open
 * connections before they have a request to send.) A token is spent by the
 * connection it admits. Runs in the broker's loop; sockets non-blocking,
 * each connection with a deadline. UNTRUSTED(network peer): every byte; the
 * request head is bounded (VIEWER_MAX_HEAD) and parsed by
 * broker_viewer_http.c, files are opened beneath the noVNC directory with no
 * symlink followed, failed authentications are counted and slowed. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <rfb/rfbproto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker_viewer_http.h"
#include "common/log.h"

#define VIEWER_DEADLINE_S    10	  /* a connection's whole admission */
#define VIEWER_MAX_HEAD	     8192 /* request line and headers */
#define VIEWER_MAX_PENDING   64	  /* connections being admitted at once */
#define VIEWER_MAX_TOKENS    256  /* live tokens, all VMs */
#define VIEWER_MAX_TOKENS_VM 16	  /* live tokens of one VM */
#define VIEWER_MAX_FILE	     (2 << 20)
#define VIEWER_FAIL_PER_S    5 /* failed authentications a second before the rest wait */

struct viewer_token {
	bool live;
	char vm_id[BROKER_ID_LEN + 1];
	char token[BROKER_VIEWER_TOKEN_LEN + 1]; /* the URL's */
	char password[9];			 /* the VNC password: 8 characters */
	bool view_only;
	uint64_t expires_ms;
};

enum viewer_state { V_PEEK, V_RFB_VERSION, V_RFB_TYPE, V_RFB_RESPONSE };

struct viewer_conn {
	struct viewer *v;
	int fd;
	struct event *ev, *timer;
	enum viewer_state state;
	uint64_t started_ms;
	uint8_t in[32]; /* RFB replies */
	size_t nin;
	uint8_t challenge[16];
	int minor;	 /* the client's RFB 3.x */
	size_t head_len; /* an HTTP request head still unread (a WebSocket upgrade's) */
};

struct viewer {
	struct broker *b;
	struct evconnlistener *web, *vnc; /* NULL: that one is off */
	char listen[64];		  /* the web listener, "127.0.0.1:6080", as bound */
	char vnc_listen[64];		  /* the VNC listener's */
	int novnc_dir;			  /* O_PATH of the noVNC files, -1: none */
	struct viewer_token tokens[VIEWER_MAX_TOKENS];
	size_t pending;
	uint64_t fail_second, fails;
};

static uint64_t viewer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tokens ---- */

static void viewer_random_text(char *out, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t raw[64];

	/* 62 symbols: the modulo bias is under 2 % per symbol, negligible at
	 * these lengths (the URL token carries 130 bits). */
	if (getrandom(raw, n, 0) != (ssize_t)n)
		abort(); /* the kernel's generator does not fail for 64 bytes */
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[raw[i] % 62];
	out[n] = '\0';
}

static void viewer_tokens_expire(struct viewer *v)
{
	uint64_t now = viewer_now_ms();

	for (size_t i = 0; i < VIEWER_MAX_TOKENS; i++)
		if (v->tokens[i].live && v->tokens[i].expires_ms <= now)
			v->tokens[i].live = false;
}

enum api_err broker_viewer_token(struct broker *b, const struct broker_vm *vm, bool view_only,
				 uint32_t ttl_s, json_object **ret, char *err, size_t errlen)
{
	struct viewer *v = b->viewer;
	struct viewer_token *t = NULL;
	size_t of_vm = 0;
	char url[256];
	json_object *o;

	if (!v) {
		snprintf(err, errlen,
			 "the broker's viewer listeners are off (--viewer-listen, "
			 "--vnc-listen)");
		return API_NOT_SUPPORTED;
	}
	if (!vm->def.has_gpu) {
		snprintf(err, errlen, "the VM has no gpu (its definition's gpu)");
		return API_NOT_SUPPORTED;
	}
	viewer_tokens_expire(v);
	for (size_t i = 0; i < VIEWER_MAX_TOKENS; i++) {
		if (!v->tokens[i].live && !t)
			t = &v->tokens[i];
		of_vm += v->tokens[i].live && strcmp(v->tokens[i].vm_id, vm->id) == 0;
	}
	if (!t || of_vm >= VIEWER_MAX_TOKENS_VM) {
		snprintf(err, errlen, "%s unspent console tokens already",
			 t ? "this VM has its" : "the broker has too many");
		return API_QUOTA_EXCEEDED;
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->vm_id, sizeof(t->vm_id), "%s", vm->id);
	viewer_random_text(t->token, BROKER_VIEWER_TOKEN_LEN);
	viewer_random_text(t->password, 8);
	t->view_only = view_only;
	t->expires_ms = viewer_now_ms() + (uint64_t)ttl_s * 1000;
	t->live = true;
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(t->token));
	json_object_object_add(o, "password", json_object_new_string(t->password));
	json_object_object_add(o, "expires_in", json_object_new_int64(ttl_s));
	json_object_object_add(o, "view_only", json_object_new_boolean(view_only));
	if (v->web) {
		snprintf(url, sizeof(url), "http://%s/vm/%s/viewer?token=%s", v->listen, vm->id,
			 t->token);
		json_object_object_add(o, "viewer", json_object_new_string(url));
		snprintf(url, sizeof(url), "ws://%s/vm/%s/websockify?token=%s", v->listen, vm->id,
			 t->token);
		json_object_object_add(o, "websocket", json_object_new_string(url));
	}
	if (v->vnc)
		json_object_object_add(o, "vnc", json_object_new_string(v->vnc_listen));
	*ret = o;
	return API_OK;
}

/* Spend the token for vm_id whose URL token is token; NULL when there is
 * none (unknown, spent, expired, another VM's). Compared in constant time. */
static struct viewer_token *viewer_take_token(struct viewer *v, const char *vm_id,
					      const char *token)
{
	struct viewer_token *hit = NULL;

	viewer_tokens_expire(v);
	if (strlen(token) != BROKER_VIEWER_TOKEN_LEN)
		return NULL;
	for (size_t i = 0; i < VIEWER_MAX_TOKENS; i++) {
		struct viewer_token *t = &v->tokens[i];
		uint8_t diff = 0;

		if (!t->live)
			continue;
		for (size_t k = 0; k < BROKER_VIEWER_TOKEN_LEN; k++)
			diff |= (uint8_t)(t->token[k] ^ token[k]);
		if (!diff && strcmp(t->vm_id, vm_id) == 0)
			hit = t;
	}
	if (hit)
		hit->live = false;
	return hit;
}

/* Spend the token whose password answers challenge with response (VNC
 * authentication: DES of the challenge keyed by the password). */
static struct viewer_token *viewer_take_password(struct viewer *v, const uint8_t challenge[16],
						 const uint8_t response[16])
{
	viewer_tokens_expire(v);
	for (size_t i = 0; i < VIEWER_MAX_TOKENS; i++) {
		struct viewer_token *t = &v->tokens[i];
		uint8_t want[16];

		if (!t->live)
			continue;
		memcpy(want, challenge, 16);
		rfbEncryptBytes(want, t->password);
		if (memcmp(want, response, 16) == 0) {
			t->live = false;
			return t;
		}
	}
	return NULL;
}

void broker_viewer_vm_gone(struct broker *b, const char *vm_id)
{
	struct viewer *v = b->viewer;

	if (!v)
		return;
	for (size_t i = 0; i < VIEWER_MAX_TOKENS; i++)
		if (v->tokens[i].live && strcmp(v->tokens[i].vm_id, vm_id) == 0)
			v->tokens[i].live = false;
}

/* ---- connections ---- */

static void viewer_conn_free(struct viewer_conn *c, bool close_fd)
{
	event_free(c->ev);
	event_free(c->timer);
	if (close_fd && c->fd >= 0)
		close(c->fd);
	c->v->pending--;
	free(c);
}

/* Hand c to token t's VM (its fd stays ours: closed here after). */
static void viewer_admit(struct viewer_conn *c, const struct viewer_token *t, bool resumed)
{
	struct broker_vm *vm;
	char err[160];
	enum api_err e = API_VM_NOT_FOUND;

	/* The token names the VM; its tenant asked for it. */
	TAILQ_FOREACH(vm, &c->v->b->vms, link)
	if (strcmp(vm->id, t->vm_id) == 0)
		break;
	if (vm)
		e = broker_display_viewer(vm, c->fd, t->view_only, resumed, err, sizeof(err));
	log_info("viewer: %s connection to vm %s -> %s", resumed ? "VNC" : "WebSocket", t->vm_id,
		 api_err_code(e));
	viewer_conn_free(c, true);
}

/* A whole HTTP response, then the connection ends (once it is written). */
static void viewer_bev_done(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void viewer_bev_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void viewer_reply(struct viewer_conn *c, int status, const char *reason, const char *type,
			 const void *body, size_t len)
{
	struct event_base *base = c->v->b->base;
	struct bufferevent *bev;
	int fd = c->fd;

	/* A request left unread would make the close a reset, losing the
	 * answer: read it now (it was peeked whole). */
	if (c->head_len) {
		char sink[VIEWER_MAX_HEAD];

		(void)!recv(fd, sink, c->head_len, MSG_DONTWAIT);
		c->head_len = 0;
	}

	c->fd = -1;
	viewer_conn_free(c, false);
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	evbuffer_add_printf(bufferevent_get_output(bev),
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
			    "Connection: close\r\n\r\n",
			    status, reason, type, len);
	evbuffer_add(bufferevent_get_output(bev), body, len);
	bufferevent_setcb(bev, NULL, viewer_bev_done, viewer_bev_event, NULL);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_WRITE);
}

static void viewer_http_error(struct viewer_conn *c, int status, const char *reason)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	viewer_reply(c, status, reason, "text/plain; charset=utf-8", body, (size_t)n);
}

/* GET /novnc/FILE (checked by broker_viewer_route: no "..", known type):
 * beneath the noVNC directory, no symlink, a plain file of a bounded size. */
static void viewer_static(struct viewer_conn *c, const char *rel, const char *type)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS};
	struct stat st;
	char *buf;
	int fd;

	if (c->v->novnc_dir < 0) {
		viewer_http_error(c, 404, "Not Found");
		return;
	}
	fd = (int)syscall(SYS_openat2, c->v->novnc_dir, rel, &how, sizeof(how));
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > VIEWER_MAX_FILE) {
		if (fd >= 0)
			close(fd);
		viewer_http_error(c, 404, "Not Found");
		return;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		viewer_http_error(c, 500, "Internal Server Error");
		return;
	}
	close(fd);
	viewer_reply(c, 200, "OK", type, buf, (size_t)st.st_size);
	free(buf);
}

/* The viewer page: noVNC's RFB module on a canvas, connected to this VM's
 * websockify path with the page's own token. */
static void viewer_page(struct viewer_conn *c, const char *vm_id)
{
	char page[2048];
	int n = snprintf(
		page, sizeof(page),
		"<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
		"<title>cellvm %s</title>\n"
		"<style>html,body{margin:0;height:100%%;background:#202020}"
		"#screen{width:100%%;height:100%%}</style></head>\n"
		"<body><div id=\"screen\"></div>\n<script type=\"module\">\n"
		"import RFB from '/novnc/core/rfb.js';\n"
		"const q = new URLSearchParams(location.search);\n"
		"const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host "
		"+\n"
		"  '/vm/%s/websockify?token=' + encodeURIComponent(q.get('token') || '');\n"
		"const rfb = new RFB(document.getElementById('screen'), url);\n"
		"rfb.scaleViewport = false;\n"
		"window.cellvm = {rfb: rfb, state: 'connecting'};\n"
		"rfb.addEventListener('connect', () => { window.cellvm.state = 'connected'; });\n"
		"rfb.addEventListener('disconnect', (e) => {\n"
		"  window.cellvm.state = e.detail.clean ? 'closed' : 'failed'; });\n"
		"</script></body></html>\n",
		vm_id, vm_id);

	viewer_reply(c, 200, "OK", "text/html; charset=utf-8", page, (size_t)n);
}

/* A request head is in (peeked; read unless it is a WebSocket upgrade). */
static void viewer_http(struct viewer_conn *c, const struct viewer_request *r)
{
	struct viewer_token *t;

	switch (r->route) {
	case VIEWER_BAD: viewer_http_error(c, 400, "Bad Request"); return;
	case VIEWER_NOT_FOUND: viewer_http_error(c, 404, "Not Found"); return;
	case VIEWER_STATIC: viewer_static(c, r->path, r->type); return;
	case VIEWER_PAGE: viewer_page(c, r->vm_id); return;
	case VIEWER_NO_UPGRADE: viewer_http_error(c, 400, "Bad Request"); return;
	case VIEWER_WEBSOCKET: break;
	}
	t = r->token[0] ? viewer_take_token(c->v, r->vm_id, r->token) : NULL;
	if (!t) {
		log_info("viewer: WebSocket connection to vm %s refused: no such token", r->vm_id);
		viewer_http_error(c, 403, "Forbidden");
		return;
	}
	/* The request stays unread: cellvm-display answers the upgrade. */
	viewer_admit(c, t, false);
}

/* ---- RFB: the version exchange and VNC authentication ---- */

static int viewer_send(struct viewer_conn *c, const void *buf, size_t len)
{
	/* A few bytes into an empty socket buffer: all go, or the peer is gone. */
	return send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -EIO;
}

static void viewer_rfb_fail(struct viewer_conn *c, const char *why)
{
	static const char reason[] = "authentication failed";
	uint8_t out[8 + sizeof(reason)] = {0, 0, 0, 1};
	uint64_t now = viewer_now_ms() / 1000;

	if (c->v->fail_second != now) {
		c->v->fail_second = now;
		c->v->fails = 0;
	}
	c->v->fails++;
	log_info("viewer: VNC connection refused: %s", why);
	if (c->minor >= 8) {
		out[7] = sizeof(reason) - 1;
		memcpy(out + 8, reason, sizeof(reason) - 1);
		(void)viewer_send(c, out, 8 + sizeof(reason) - 1);
	} else {
		(void)viewer_send(c, out, 4);
	}
	viewer_conn_free(c, true);
}

/* Bytes of the client's reply to the current RFB step, want in all. */
static int viewer_rfb_read(struct viewer_conn *c, size_t want)
{
	ssize_t n = recv(c->fd, c->in + c->nin, want - c->nin, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -EIO;
	if (n > 0)
		c->nin += (size_t)n;
	return c->nin == want ? 1 : 0;
}

static void viewer_rfb_step(struct viewer_conn *c)
{
	struct viewer_token *t;
	uint8_t types[2] = {1, 2}; /* one type: VNC authentication */
	int r;

	switch (c->state) {
	case V_RFB_VERSION:
		r = viewer_rfb_read(c, 12);
		if (r <= 0)
			break;
		/* "RFB 003.00x\n": 3.3, 3.7 and 3.8 (3.889, Apple's, as 3.8). */
		if (memcmp(c->in, "RFB 003.", 8) != 0 || c->in[11] != '\n') {
			viewer_conn_free(c, true);
			return;
		}
		c->minor = atoi((const char *)c->in + 8) >= 8	? 8
			   : atoi((const char *)c->in + 8) == 7 ? 7
								: 3;
		c->nin = 0;
		if (getrandom(c->challenge, sizeof(c->challenge), 0) != sizeof(c->challenge)) {
			viewer_conn_free(c, true);
			return;
		}
		if (c->minor == 3) {
			/* 3.3: the server names the type, the challenge follows. */
			uint8_t m[20] = {0, 0, 0, 2};

			memcpy(m + 4, c->challenge, 16);
			r = viewer_send(c, m, sizeof(m));
			c->state = V_RFB_RESPONSE;
		} else {
			r = viewer_send(c, types, sizeof(types));
			c->state = V_RFB_TYPE;
		}
		if (r < 0)
			viewer_conn_free(c, true);
		return;
	case V_RFB_TYPE:
		r = viewer_rfb_read(c, 1);
		if (r <= 0)
			break;
		if (c->in[0] != 2) {
			viewer_rfb_fail(c, "the client chose another security type");
			return;
		}
		c->nin = 0;
		c->state = V_RFB_RESPONSE;
		if (viewer_send(c, c->challenge, 16) < 0)
			viewer_conn_free(c, true);
		return;
	case V_RFB_RESPONSE:
		r = viewer_rfb_read(c, 16);
		if (r <= 0)
			break;
		if (c->v->fails >= VIEWER_FAIL_PER_S &&
		    c->v->fail_second == viewer_now_ms() / 1000) {
			/* Guessing: every answer this second is refused. */
			viewer_rfb_fail(c, "too many failed authentications this second");
			return;
		}
		t = viewer_take_password(c->v, c->challenge, c->in);
		if (!t) {
			viewer_rfb_fail(c, "no token's password answers the challenge");
			return;
		}
		viewer_admit(c, t, true);
		return;
	default: return;
	}
	if (r < 0)
		viewer_conn_free(c, true);
}

/* ---- the first bytes ---- */

static void viewer_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct viewer_conn *c = arg;
	char head[VIEWER_MAX_HEAD + 1];
	struct viewer_request req;
	ssize_t n;

	(void)fd;
	(void)what;
	if (c->state != V_PEEK) {
		viewer_rfb_step(c);
		return;
	}
	n = recv(c->fd, head, VIEWER_MAX_HEAD, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		viewer_conn_free(c, true);
		return;
	}
	head[n] = '\0';
	if (strncmp(head, "GET ", (size_t)n < 4 ? (size_t)n : 4) != 0) {
		viewer_conn_free(c, true); /* neither HTTP nor an RFB client */
		return;
	}
	if (!strstr(head, "\r\n\r\n")) {
		if (n == VIEWER_MAX_HEAD)
			viewer_http_error(c, 431, "Request Header Fields Too Large");
		/* else: more to come; a client that stops here meets its deadline */
		return;
	}
	if (n < 4 || memchr(head, '\0', (size_t)n)) {
		viewer_http_error(c, 400, "Bad Request");
		return;
	}
	c->head_len = (size_t)(strstr(head, "\r\n\r\n") + 4 - head);
	*strstr(head, "\r\n\r\n") = '\0';
	broker_viewer_route(head, &req);
	/* The head is whole: read it, but for a WebSocket upgrade, whose
	 * request the VNC server reads (a refusal reads it: viewer_reply). */
	if (req.route != VIEWER_WEBSOCKET) {
		char sink[VIEWER_MAX_HEAD];

		if (recv(c->fd, sink, c->head_len, MSG_DONTWAIT) != (ssize_t)c->head_len) {
			viewer_conn_free(c, true);
			return;
		}
		c->head_len = 0;
	}
	viewer_http(c, &req);
}

static void viewer_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct viewer_conn *c = arg;

	(void)fd;
	(void)what;
	log_info("viewer: a %s connection was not admitted in %d s",
		 c->state == V_PEEK ? "web" : "VNC", VIEWER_DEADLINE_S);
	viewer_conn_free(c, true);
}

/* A new connection on either listener: a web one waits for its request, a
 * VNC one is greeted at once (an RFB client waits for the server). */
static void viewer_accept(struct viewer *v, evutil_socket_t fd, bool vnc)
{
	struct timeval deadline = {.tv_sec = VIEWER_DEADLINE_S};
	struct viewer_conn *c;

	if (v->pending >= VIEWER_MAX_PENDING) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->v = v;
	c->fd = fd;
	c->started_ms = viewer_now_ms();
	c->state = vnc ? V_RFB_VERSION : V_PEEK;
	c->ev = event_new(v->b->base, fd, EV_READ | EV_PERSIST, viewer_on_read, c);
	c->timer = evtimer_new(v->b->base, viewer_on_timer, c);
	v->pending++;
	if (!c->ev || !c->timer || event_add(c->ev, NULL) < 0 ||
	    evtimer_add(c->timer, &deadline) < 0 ||
	    (vnc && viewer_send(c, "RFB 003.008\n", 12) < 0))
		viewer_conn_free(c, true);
}

static void viewer_on_accept_web(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
				 int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	viewer_accept(arg, fd, false);
}

static void viewer_on_accept_vnc(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
				 int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	viewer_accept(arg, fd, true);
}

/* ---- start and stop ---- */

/* Bind addr ("ADDRESS:PORT", IPv4) for cb; the bound address in out. */
static struct evconnlistener *viewer_listen(struct viewer *v, const char *opt, const char *addr,
					    evconnlistener_cb cb, char *out, size_t outlen,
					    char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct evconnlistener *l;
	char host[32], buf[INET_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':');
	unsigned port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host) ||
	    sscanf(colon + 1, "%u", &port) != 1 || port > 65535) {
		snprintf(err, errlen, "%s: ADDRESS:PORT (IPv4), not '%s'", opt, addr);
		return NULL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "%s: '%s' is not an IPv4 address", opt, host);
		return NULL;
	}
	sa.sin_port = htons((uint16_t)port);
	l = evconnlistener_new_bind(v->b->base, cb, v,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
					    LEV_OPT_REUSEABLE,
				    64, (struct sockaddr *)&sa, sizeof(sa));
	if (!l) {
		snprintf(err, errlen, "%s %s: %s", opt, addr, strerror(errno));
		return NULL;
	}
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sa, &salen);
	snprintf(out, outlen, "%s:%u", inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof(buf)),
		 ntohs(sa.sin_port));
	return l;
}

int broker_viewer_start(struct broker *b, const char *web_addr, const char *vnc_addr,
			const char *novnc_dir, char *err, size_t errlen)
{
	struct viewer *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->b = b;
	v->novnc_dir = -1;
	if (web_addr)
		v->web = viewer_listen(v, "--viewer-listen", web_addr, viewer_on_accept_web,
				       v->listen, sizeof(v->listen), err, errlen);
	if (vnc_addr && (!web_addr || v->web))
		v->vnc = viewer_listen(v, "--vnc-listen", vnc_addr, viewer_on_accept_vnc,
				       v->vnc_listen, sizeof(v->vnc_listen), err, errlen);
	if ((web_addr && !v->web) || (vnc_addr && !v->vnc) || (!v->web && !v->vnc)) {
		if (v->web)
			evconnlistener_free(v->web);
		free(v);
		return -EADDRINUSE;
	}
	if (v->web) {
		v->novnc_dir = open(novnc_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (v->novnc_dir < 0)
			log_warn("viewer: no noVNC at %s (%s): the browser viewer's page will "
				 "not load",
				 novnc_dir, strerror(errno));
	}
	b->viewer = v;
	log_info("viewer: web viewers (noVNC) on %s, VNC clients on %s; each with a console "
		 "token",
		 v->web ? v->listen : "-", v->vnc ? v->vnc_listen : "-");
	return 0;
}

void broker_viewer_stop(struct broker *b)
{
	struct viewer *v = b->viewer;

	if (!v)
		return;
	if (v->web)
		evconnlistener_free(v->web);
	if (v->vnc)
		evconnlistener_free(v->vnc);
	if (v->novnc_dir >= 0)
		close(v->novnc_dir);
	/* Connections being admitted end with the loop (their events are freed
	 * with the base; their fds close at exit). */
	free(v);
	b->viewer = NULL;
}
