/* The REST/JSON API of cellvm-broker: libevent's evhttp on a unix socket, one
 * handler for every route, tenants from SO_PEERCRED. Runs in the broker's loop.
 * UNTRUSTED(client): the request line, headers, query and body; evhttp bounds
 * the headers and body, json-c parses the body with a depth limit, and
 * broker_vmdef.c checks what it means. Streams (console follow, events) live in
 * broker_api_stream.c, sound in broker_api_audio.c. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker_api.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/screenshot.h"

#define REST_JSON_DEPTH	    16
#define REST_MAX_CONSOLE_IN 4096

const char *api_err_code(enum api_err e)
{
	static const char *const codes[] = {
		[API_OK] = "OK",
		[API_VM_NOT_FOUND] = "VM_NOT_FOUND",
		[API_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
		[API_VM_BUSY] = "VM_BUSY",
		[API_QUOTA_EXCEEDED] = "QUOTA_EXCEEDED",
		[API_INTERNAL] = "INTERNAL",
		[API_NOT_SUPPORTED] = "NOT_SUPPORTED",
		[API_PERMISSION_DENIED] = "PERMISSION_DENIED",
	};
	return codes[e];
}

int api_err_status(enum api_err e)
{
	static const int status[] = {
		[API_OK] = 200,
		[API_VM_NOT_FOUND] = 404,
		[API_INVALID_ARGUMENT] = 400,
		[API_VM_BUSY] = 503,
		[API_QUOTA_EXCEEDED] = 403,
		[API_INTERNAL] = 500,
		[API_NOT_SUPPORTED] = 501,
		[API_PERMISSION_DENIED] = 403,
	};
	return status[e];
}

void broker_api_rest_reply_json(struct evhttp_request *req, int status, json_object *o)
{
	struct evbuffer *out = evbuffer_new();
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
	evbuffer_free(out);
	json_object_put(o);
}

void broker_api_rest_reply_error(struct evhttp_request *req, int status, const char *code,
				 const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "code", json_object_new_string(code));
	broker_api_rest_reply_json(req, status, o);
}

static void broker_api_rest_reply_api_err(struct evhttp_request *req, enum api_err e,
					  const char *msg)
{
	broker_api_rest_reply_error(req, api_err_status(e), api_err_code(e), msg);
}

/* The tenant of the peer on this request's connection. */
static struct tenant *broker_api_rest_peer(struct rest *r, struct evhttp_request *req,
					   uid_t *ret_uid)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	int fd;

	if (!evcon)
		return NULL;
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	return fd < 0 ? NULL : broker_tenant_for_socket(&r->b->tenants, fd, ret_uid);
}

/* UNTRUSTED(client): the body, at most the evhttp body limit. NULL with a
 * message when it is not one well-formed JSON value. */
static json_object *broker_api_rest_body_json(struct evhttp_request *req, char *err, size_t errlen)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct json_tokener *tok;
	json_object *o = NULL;
	char *buf;

	if (len == 0 || len > REST_MAX_BODY) {
		snprintf(err, errlen, "a JSON body is required");
		return NULL;
	}
	buf = malloc(len + 1);
	tok = json_tokener_new_ex(REST_JSON_DEPTH);
	if (!buf || !tok)
		goto out;
	evbuffer_copyout(in, buf, len);
	buf[len] = 0;
	if (strlen(buf) != len) {
		snprintf(err, errlen, "the body contains a NUL byte");
		goto out;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error je = json_tokener_get_error(tok);
		snprintf(err, errlen, "malformed JSON: %s",
			 je == json_tokener_continue ? "truncated" : json_tokener_error_desc(je));
		json_object_put(o);
		o = NULL;
		goto out;
	}
	/* Only white space may follow the value. */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", buf[i])) {
			snprintf(err, errlen, "malformed JSON: data after the value");
			json_object_put(o);
			o = NULL;
			break;
		}
out:
	if (tok)
		json_tokener_free(tok);
	free(buf);
	return o;
}

static void broker_api_rest_log(struct rest_call *c, const char *what, const struct broker_vm *vm,
				enum api_err e)
{
	/* Every mutating call, with who asked, on which VM, and how it ended. */
	log_info("api: tenant=%s uid=%u %s vm=%s -> %s", c->tenant->name, (unsigned)c->uid, what,
		 vm	       ? vm->id
		 : c->vm_id[0] ? c->vm_id
			       : "-",
		 api_err_code(e));
}

static void broker_api_rest_create(struct rest_call *c)
{
	char err[512];
	struct broker_vmdef def;
	struct broker_vm *vm = NULL;
	enum api_err e;
	json_object *body = broker_api_rest_body_json(c->req, err, sizeof(err)), *o;

	if (!body) {
		e = API_INVALID_ARGUMENT;
		goto fail;
	}
	if (broker_vmdef_from_json(body, c->tenant, &def, err, sizeof(err)) < 0) {
		json_object_put(body);
		e = API_INVALID_ARGUMENT;
		goto fail;
	}
	json_object_put(body);
	e = broker_vm_create(c->r->b, (int)(c->tenant - c->r->b->tenants.t), &def, &vm, err,
			     sizeof(err));
	if (e != API_OK) {
		broker_vmdef_free(&def);
		goto fail;
	}
	broker_api_rest_log(c, "create", vm, e);
	o = json_object_new_object();
	json_object_object_add(o, "vm_id", json_object_new_string(vm->id));
	broker_api_rest_reply_json(c->req, 200, o);
	return;
fail:
	broker_api_rest_log(c, "create", NULL, e);
	broker_api_rest_reply_api_err(c->req, e, err);
}

static void broker_api_rest_list(struct rest_call *c)
{
	json_object *a = json_object_new_array();
	struct broker_vm *vm;

	TAILQ_FOREACH(vm, &c->r->b->vms, link)
	{
		json_object *o;

		if (!c->tenant->admin && &c->r->b->tenants.t[vm->tenant] != c->tenant)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(vm->id));
		json_object_object_add(o, "name", json_object_new_string(vm->def.name));
		json_object_object_add(o, "state",
				       json_object_new_string(broker_vm_state_name(vm->state)));
		json_object_object_add(o, "input_backend",
				       vm->def.input[0] ? json_object_new_string(vm->def.input)
							: NULL);
		if (c->tenant->admin)
			json_object_object_add(
				o, "tenant",
				json_object_new_string(c->r->b->tenants.t[vm->tenant].name));
		json_object_array_add(a, o);
	}
	broker_api_rest_reply_json(c->req, 200, a);
}

/* A boot in flight: who asked, to log and answer when it is done. */
struct rest_boot {
	struct evhttp_request *req;
	const struct tenant *tenant;
	uid_t uid;
	char action[16];
};

static void broker_api_rest_on_booted(struct broker_vm *vm, enum api_err e, const char *err,
				      void *arg)
{
	struct rest_boot *rb = arg;

	/* The request is still ours: if its client left, evhttp detached it and
	 * answering frees it. */
	log_info("api: tenant=%s uid=%u %s vm=%s -> %s", rb->tenant->name, (unsigned)rb->uid,
		 rb->action, vm->id, api_err_code(e));
	if (e != API_OK)
		broker_api_rest_reply_api_err(rb->req, e, err);
	else if (strcmp(rb->action, "delete") == 0)
		broker_api_rest_reply_json(rb->req, 200, json_object_new_object());
	else
		broker_api_rest_reply_json(rb->req, 200, broker_vm_info_json(vm));
	free(rb);
}

static void broker_api_rest_vm_action(struct rest_call *c, struct broker_vm *vm, const char *action)
{
	static const struct {
		const char *name;
		enum api_err (*fn)(struct broker_vm *, broker_vm_boot_done_fn *, void *, char *,
				   size_t);
	} actions[] = {
		{"boot", broker_vm_boot},	    {"reboot", broker_vm_reboot},
		{"power-off", broker_vm_power_off}, {"pause", broker_vm_pause},
		{"resume", broker_vm_resume},
	};
	char err[512] = "";
	enum api_err e = API_INVALID_ARGUMENT;
	size_t a = 0;

	while (a < sizeof(actions) / sizeof(actions[0]) && strcmp(actions[a].name, action) != 0)
		a++;
	if (a < sizeof(actions) / sizeof(actions[0])) {
		/* Answered when the VM is up (or failed to come up), for
		 * power-off when its processes are gone, for pause and resume
		 * when the core has held or released its vCPUs: the loop serves
		 * everyone meanwhile. */
		struct rest_boot *rb = calloc(1, sizeof(*rb));
		if (!rb) {
			broker_api_rest_reply_api_err(c->req, API_INTERNAL, "out of memory");
			return;
		}
		*rb = (struct rest_boot){.req = c->req, .tenant = c->tenant, .uid = c->uid};
		snprintf(rb->action, sizeof(rb->action), "%s", action);
		e = actions[a].fn(vm, broker_api_rest_on_booted, rb, err, sizeof(err));
		if (e == API_OK)
			return;
		free(rb);
	}
	broker_api_rest_log(c, action, vm, e);
	if (e != API_OK) {
		broker_api_rest_reply_api_err(c->req, e, err);
		return;
	}
	broker_api_rest_reply_json(c->req, 200, broker_vm_info_json(vm));
}

/* A shutdown in flight: who asked, to log and answer. */
struct rest_shutdown {
	struct evhttp_request *req;
	const struct tenant *tenant;
	uid_t uid;
};

static void broker_api_rest_on_shutdown(struct broker_vm *vm,
					const struct broker_vm_shutdown_result *res, void *arg)
{
	struct rest_shutdown *rs = arg;
	json_object *o;

	log_info("api: tenant=%s uid=%u shutdown vm=%s -> %s%s", rs->tenant->name,
		 (unsigned)rs->uid, vm->id, api_err_code(res->e),
		 res->e != API_OK   ? ""
		 : res->powered_off ? " (powered off)"
				    : " (not powered off)");
	if (res->e != API_OK) {
		broker_api_rest_reply_api_err(rs->req, res->e, res->err);
		free(rs);
		return;
	}
	/* 200 either way, as virsh shutdown: the request was carried out;
	 * whether the guest went is powered_off. */
	o = json_object_new_object();
	json_object_object_add(o, "powered_off", json_object_new_boolean(res->powered_off));
	json_object_object_add(o, "guest_listens", json_object_new_boolean(res->guest_listens));
	json_object_object_add(o, "state", json_object_new_string(res->state));
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(o, "message", json_object_new_string(res->message));
	if (res->last_exit)
		json_object_object_add(o, "last_exit", json_object_new_string(res->last_exit));
	broker_api_rest_reply_json(rs->req, 200, o);
	free(rs);
}

/* UNTRUSTED(client): the optional body {"timeout_s": N}. Returns the
 * timeout, or -1 with a message. */
static int64_t broker_api_rest_shutdown_timeout(struct evhttp_request *req, char *err,
						size_t errlen)
{
	int64_t t = BROKER_SHUTDOWN_DEFAULT_S;
	json_object *body;

	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) == 0)
		return t;
	body = broker_api_rest_body_json(req, err, errlen);
	if (!body)
		return -1;
	if (!json_object_is_type(body, json_type_object)) {
		snprintf(err, errlen, "the body must be a JSON object: {\"timeout_s\": N}");
		t = -1;
		goto out;
	}
	json_object_object_foreach(body, key, val)
	{
		if (strcmp(key, "timeout_s") != 0) {
			snprintf(err, errlen, "unknown field '%.32s' (only timeout_s)", key);
			t = -1;
			goto out;
		}
		errno = 0;
		t = json_object_get_int64(val);
		if (!json_object_is_type(val, json_type_int) || errno || t < 0 ||
		    t > BROKER_SHUTDOWN_MAX_S) {
			snprintf(err, errlen, "timeout_s: an integer from 0 to %d (seconds)",
				 BROKER_SHUTDOWN_MAX_S);
			t = -1;
			goto out;
		}
	}
out:
	json_object_put(body);
	return t;
}

static void broker_api_rest_shutdown(struct rest_call *c, struct broker_vm *vm)
{
	struct rest_shutdown *rs;
	char err[256] = "";
	enum api_err e;
	int64_t t = broker_api_rest_shutdown_timeout(c->req, err, sizeof(err));

	if (t < 0) {
		broker_api_rest_log(c, "shutdown", vm, API_INVALID_ARGUMENT);
		broker_api_rest_reply_api_err(c->req, API_INVALID_ARGUMENT, err);
		return;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		broker_api_rest_reply_api_err(c->req, API_INTERNAL, "out of memory");
		return;
	}
	*rs = (struct rest_shutdown){.req = c->req, .tenant = c->tenant, .uid = c->uid};
	/* Answered once the guest powered off, the deadline passed, or the
	 * core said the guest does not listen: the loop serves everyone meanwhile. */
	e = broker_vm_shutdown(vm, (uint32_t)t, broker_api_rest_on_shutdown, rs, err, sizeof(err));
	if (e == API_OK)
		return;
	free(rs);
	broker_api_rest_log(c, "shutdown", vm, e);
	broker_api_rest_reply_api_err(c->req, e, err);
}

static void broker_api_rest_console_in(struct rest_call *c, struct broker_vm *vm)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	uint8_t buf[REST_MAX_CONSOLE_IN];
	char err[128];
	enum api_err e;

	if (len == 0 || len > sizeof(buf)) {
		broker_api_rest_reply_api_err(c->req, API_INVALID_ARGUMENT,
					      "console input: 1 to 4096 bytes of body");
		return;
	}
	evbuffer_copyout(in, buf, len);
	e = broker_console_input(vm, buf, len, err, sizeof(err));
	broker_api_rest_log(c, "console-input", vm, e);
	if (e != API_OK) {
		broker_api_rest_reply_api_err(c->req, e, err);
		return;
	}
	broker_api_rest_reply_json(c->req, 200, json_object_new_object());
}

/* An input command in flight: who asked, to log and answer. */
struct rest_input {
	struct evhttp_request *req;
	const struct tenant *tenant;
	uid_t uid;
	char action[24];
};

static void broker_api_rest_on_input(struct broker_vm *vm, const struct input_api_result *res,
				     void *arg)
{
	struct rest_input *ri = arg;

	log_info("api: tenant=%s uid=%u %s vm=%s -> %s (%u of %u)", ri->tenant->name,
		 (unsigned)ri->uid, ri->action, vm->id, input_api_code(res->e), res->delivered,
		 res->total);
	broker_api_rest_reply_json(ri->req, input_api_status(res->e),
				   input_api_result_json(res, &vm->def.input_opt));
	free(ri);
}

static void broker_api_rest_input_error(struct rest_call *c, const char *action,
					enum input_api_err e, const char *msg, int event)
{
	struct input_api_result res = {.e = e, .msg = msg, .event = event};

	log_info("api: tenant=%s uid=%u %s vm=%s -> %s", c->tenant->name, (unsigned)c->uid, action,
		 c->vm_id, input_api_code(e));
	broker_api_rest_reply_json(c->req, input_api_status(e), input_api_result_json(&res, NULL));
}

/* UNTRUSTED(client): ?timeout_ms=, 1..60000; 5000 when absent. -1: bad. */
static int broker_api_rest_input_timeout(struct evhttp_request *req)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv;
	const char *v;
	uint32_t ms = 5000;
	int r = 0;

	if (!q)
		return (int)ms;
	if (evhttp_parse_query_str(q, &kv) < 0)
		return -1;
	v = evhttp_find_header(&kv, "timeout_ms");
	if (v)
		r = parse_u32(v, 1, 60000, &ms);
	evhttp_clear_headers(&kv);
	return r < 0 ? -1 : (int)ms;
}

static void broker_api_rest_free_png(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

int broker_api_rest_query(struct evhttp_request *req, const struct rest_query_key *keys, size_t n,
			  const char *usage, uint32_t *v, uint32_t *seen, char *err, size_t errlen)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv;
	struct evkeyval *e;
	int r = 0;

	*seen = 0;
	if (!q)
		return 0;
	if (evhttp_parse_query_str(q, &kv) < 0) {
		snprintf(err, errlen, "the query does not parse");
		return -EINVAL;
	}
	TAILQ_FOREACH(e, &kv, next)
	{
		size_t k = 0;

		while (k < n && strcmp(e->key, keys[k].name) != 0)
			k++;
		if (k == n || (*seen & (1U << k)) ||
		    parse_u32(e->value, keys[k].min, keys[k].max, &v[k]) < 0) {
			snprintf(err, errlen, "query: %s, each once; '%.16s' is not", usage,
				 e->key);
			r = -EINVAL;
			break;
		}
		*seen |= 1U << k;
	}
	evhttp_clear_headers(&kv);
	return r;
}

/* GET screenshot's query: scanout=N (0..3), cursor=0|1 (composited; 1 by
 * default), x=, y=, w=, h= (a crop, all four or none). */
static int broker_api_rest_screenshot_query(struct evhttp_request *req, struct screenshot_opts *o,
					    char *err, size_t errlen)
{
	static const struct rest_query_key keys[] = {{"scanout", 0, 3}, {"cursor", 0, 1},
						     {"x", 0, 16383},	{"y", 0, 16383},
						     {"w", 0, 16383},	{"h", 0, 16383}};
	uint32_t v[6] = {0, 1, 0, 0, 0, 0}, seen;
	int r;

	*o = (struct screenshot_opts){.cursor = true};
	r = broker_api_rest_query(req, keys, 6, "scanout=0..3, cursor=0|1, x=, y=, w=, h= (pixels)",
				  v, &seen, err, errlen);
	if (r == 0 && (seen & 0x3c) && (seen & 0x3c) != 0x3c) {
		snprintf(err, errlen, "query: a crop is x, y, w and h together");
		r = -EINVAL;
	}
	if (r == 0 && (seen & 0x3c) && (v[4] == 0 || v[5] == 0)) {
		snprintf(err, errlen, "query: a crop of w=0 or h=0 is empty");
		r = -EINVAL;
	}
	o->scanout = v[0];
	o->cursor = v[1] != 0;
	o->crop = (struct screenshot_rect){v[2], v[3], v[4], v[5]};
	return r;
}

/* GET screenshot: the PNG bytes (image/png). */
static void broker_api_rest_screenshot(struct rest_call *c, struct broker_vm *vm)
{
	struct screenshot_opts o;
	struct evbuffer *out;
	uint8_t *png = NULL;
	size_t len = 0;
	char err[256];
	enum api_err e;

	if (broker_api_rest_screenshot_query(c->req, &o, err, sizeof(err)) < 0) {
		broker_api_rest_reply_api_err(c->req, API_INVALID_ARGUMENT, err);
		return;
	}
	e = broker_display_screenshot(vm, &o, &png, &len, err, sizeof(err));
	if (e != API_OK) {
		broker_api_rest_reply_api_err(c->req, e, err);
		return;
	}
	out = evbuffer_new();
	if (!out || evbuffer_add_reference(out, png, len, broker_api_rest_free_png, NULL) < 0) {
		free(png);
		if (out)
			evbuffer_free(out);
		broker_api_rest_reply_api_err(c->req, API_INTERNAL, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", "image/png");
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control", "no-store");
	evhttp_send_reply(c->req, 200, "OK", out);
	evbuffer_free(out);
}

/* POST console-token: {"view_only": bool, "ttl_s": 1..600} (both optional;
 * 60 s by default), UNTRUSTED(client), strict. */
static void broker_api_rest_console_token(struct rest_call *c, struct broker_vm *vm)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	json_object *body = NULL, *reply = NULL;
	bool view_only = false;
	uint32_t ttl = 60;
	char err[200] = "";
	enum api_err e = API_OK;

	if (len) {
		body = broker_api_rest_body_json(c->req, err, sizeof(err));
		if (!body || !json_object_is_type(body, json_type_object)) {
			e = API_INVALID_ARGUMENT;
			if (body)
				snprintf(err, sizeof(err), "console-token: a JSON object");
		}
	}
	if (e == API_OK && body) {
		json_object_object_foreach(body, key, val)
		{
			if (strcmp(key, "view_only") == 0 &&
			    json_object_is_type(val, json_type_boolean)) {
				view_only = json_object_get_boolean(val);
			} else if (strcmp(key, "ttl_s") == 0 &&
				   json_object_is_type(val, json_type_int) &&
				   json_object_get_int64(val) >= 1 &&
				   json_object_get_int64(val) <= 600) {
				ttl = (uint32_t)json_object_get_int64(val);
			} else {
				e = API_INVALID_ARGUMENT;
				snprintf(err, sizeof(err),
					 "console-token: view_only (a boolean) and ttl_s (1 to "
					 "600) only; '%.32s' is not",
					 key);
				break;
			}
		}
	}
	if (body)
		json_object_put(body);
	if (e == API_OK)
		e = broker_viewer_token(c->r->b, vm, view_only, ttl, &reply, err, sizeof(err));
	broker_api_rest_log(c, "console-token", vm, e);
	if (e != API_OK) {
		broker_api_rest_reply_api_err(c->req, e, err);
		return;
	}
	broker_api_rest_reply_json(c->req, 200, reply);
}

/* POST inject-input, GET input-info, PUT switch-input-backend: the
 * commands are built in broker_input.c (RPC's too). */
static void broker_api_rest_input(struct rest_call *c, struct broker_vm *vm, const char *sub)
{
	struct rest_input *ri;
	json_object *body = NULL, *v;
	enum input_api_err e;
	const char *backend = NULL;
	char err[512];
	int timeout = 5000, ev = -1;

	if (strcmp(sub, "inject-input") == 0) {
		timeout = broker_api_rest_input_timeout(c->req);
		body = broker_api_rest_body_json(c->req, err, sizeof(err));
		if (!body || timeout < 0) {
			json_object_put(body);
			broker_api_rest_input_error(c, sub, INPUT_API_INVALID,
						    body ? "timeout_ms: 1 to 60000" : err, -1);
			return;
		}
	} else if (strcmp(sub, "switch-input-backend") == 0) {
		body = broker_api_rest_body_json(c->req, err, sizeof(err));
		if (!body || !json_object_is_type(body, json_type_object) ||
		    json_object_object_length(body) != 1 ||
		    !json_object_object_get_ex(body, "backend", &v) ||
		    !json_object_is_type(v, json_type_string)) {
			json_object_put(body);
			broker_api_rest_input_error(c, sub, INPUT_API_INVALID,
						    "the body is {\"backend\": \"ps2\"|\"virtio\"}",
						    -1);
			return;
		}
		backend = json_object_get_string(v);
	}
	ri = calloc(1, sizeof(*ri));
	if (!ri) {
		json_object_put(body);
		broker_api_rest_input_error(c, sub, INPUT_API_BACKEND_ERROR, "out of memory", -1);
		return;
	}
	*ri = (struct rest_input){.req = c->req, .tenant = c->tenant, .uid = c->uid};
	snprintf(ri->action, sizeof(ri->action), "%s", sub);
	if (backend)
		e = broker_input_switch(vm, backend, broker_api_rest_on_input, ri, err,
					sizeof(err));
	else if (body)
		e = broker_input_inject_json(vm, body, timeout, broker_api_rest_on_input, ri, err,
					     sizeof(err), &ev);
	else
		e = broker_input_query(vm, broker_api_rest_on_input, ri, err, sizeof(err));
	json_object_put(body);
	if (e != INPUT_API_OK) {
		free(ri);
		broker_api_rest_input_error(c, sub, e, err, ev);
	}
}

static bool broker_api_rest_query_flag(struct evhttp_request *req, const char *key)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv;
	const char *v;
	bool on;

	if (!q || evhttp_parse_query_str(q, &kv) < 0)
		return false;
	v = evhttp_find_header(&kv, key);
	on = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
	evhttp_clear_headers(&kv);
	return on;
}

/* Routes on one VM: "" (info/delete), counters, console, and the actions. */
static void broker_api_rest_vm_route(struct rest_call *c, struct broker_vm *vm, const char *sub)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	char err[128];

	if (!*sub && m == EVHTTP_REQ_GET) {
		broker_api_rest_reply_json(c->req, 200, broker_vm_info_json(vm));
	} else if (!*sub && m == EVHTTP_REQ_DELETE) {
		struct rest_boot *rb = calloc(1, sizeof(*rb));
		bool pending = false;
		enum api_err e = API_INTERNAL;

		/* The VM is gone after: keep its id for the log. A running VM is
		 * answered for once its processes are gone. */
		snprintf(c->vm_id, sizeof(c->vm_id), "%s", vm->id);
		if (rb) {
			*rb = (struct rest_boot){.req = c->req, .tenant = c->tenant, .uid = c->uid};
			snprintf(rb->action, sizeof(rb->action), "delete");
			e = broker_vm_delete_async(vm, broker_api_rest_on_booted, rb, &pending, err,
						   sizeof(err));
		} else {
			snprintf(err, sizeof(err), "out of memory");
		}
		if (pending)
			return;
		free(rb);
		broker_api_rest_log(c, "delete", NULL, e);
		if (e != API_OK)
			broker_api_rest_reply_api_err(c->req, e, err);
		else
			broker_api_rest_reply_json(c->req, 200, json_object_new_object());
	} else if (strcmp(sub, "counters") == 0 && m == EVHTTP_REQ_GET) {
		broker_api_rest_reply_json(c->req, 200, broker_vm_info_counters_json(vm));
	} else if (strcmp(sub, "console") == 0 && m == EVHTTP_REQ_GET) {
		rest_stream_console(c, vm, broker_api_rest_query_flag(c->req, "follow"));
	} else if (strcmp(sub, "console") == 0 && m == EVHTTP_REQ_PUT) {
		broker_api_rest_console_in(c, vm);
	} else if (strcmp(sub, "screenshot") == 0 && m == EVHTTP_REQ_GET) {
		broker_api_rest_screenshot(c, vm);
	} else if (strcmp(sub, "audio") == 0 && m == EVHTTP_REQ_GET) {
		rest_audio_get(c, vm);
	} else if (strcmp(sub, "audio-input") == 0 && m == EVHTTP_REQ_POST) {
		rest_audio_post(c, vm);
	} else if (strcmp(sub, "console-token") == 0 && m == EVHTTP_REQ_POST) {
		broker_api_rest_console_token(c, vm);
	} else if ((strcmp(sub, "inject-input") == 0 && m == EVHTTP_REQ_POST) ||
		   (strcmp(sub, "input-info") == 0 && m == EVHTTP_REQ_GET) ||
		   (strcmp(sub, "switch-input-backend") == 0 && m == EVHTTP_REQ_PUT)) {
		broker_api_rest_input(c, vm, sub);
	} else if (m == EVHTTP_REQ_PUT &&
		   (strcmp(sub, "boot") == 0 || strcmp(sub, "pause") == 0 ||
		    strcmp(sub, "resume") == 0 || strcmp(sub, "reboot") == 0 ||
		    strcmp(sub, "power-off") == 0)) {
		broker_api_rest_vm_action(c, vm, sub);
	} else if (strcmp(sub, "shutdown") == 0 && m == EVHTTP_REQ_PUT) {
		broker_api_rest_shutdown(c, vm);
	} else {
		broker_api_rest_reply_error(c->req, 405, "METHOD_NOT_ALLOWED",
					    "no such operation on a VM, or not with this method");
	}
}

static void broker_api_rest_on_shutdown_sent(struct evhttp_request *req, void *arg)
{
	struct broker *b = arg;

	b->request_shutdown(b);
}

static void broker_api_rest_on_upgrade_sent(struct evhttp_request *req, void *arg)
{
	struct broker *b = arg;

	b->request_upgrade(b);
}

static void broker_api_rest_vmm(struct rest_call *c, const char *what)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	json_object *o;

	if (strcmp(what, "ping") == 0 && m == EVHTTP_REQ_GET) {
		o = json_object_new_object();
		json_object_object_add(o, "version", json_object_new_string(CELLVM_VERSION));
		json_object_object_add(o, "tenant", json_object_new_string(c->tenant->name));
		broker_api_rest_reply_json(c->req, 200, o);
	} else if (strcmp(what, "shutdown") == 0 && m == EVHTTP_REQ_PUT) {
		/* The host service is the operator's: only the administrator stops it. */
		if (!c->tenant->admin) {
			broker_api_rest_log(c, "vmm.shutdown", NULL, API_PERMISSION_DENIED);
			broker_api_rest_reply_api_err(
				c->req, API_PERMISSION_DENIED,
				"only the administrator can shut the broker down");
			return;
		}
		broker_api_rest_log(c, "vmm.shutdown", NULL, API_OK);
		evhttp_request_set_on_complete_cb(c->req, broker_api_rest_on_shutdown_sent,
						  c->r->b);
		broker_api_rest_reply_json(c->req, 200, json_object_new_object());
	} else if (strcmp(what, "upgrade") == 0 && m == EVHTTP_REQ_PUT) {
		if (!c->tenant->admin) {
			broker_api_rest_log(c, "vmm.upgrade", NULL, API_PERMISSION_DENIED);
			broker_api_rest_reply_api_err(
				c->req, API_PERMISSION_DENIED,
				"only the administrator can upgrade the broker");
			return;
		}
		broker_api_rest_log(c, "vmm.upgrade", NULL, API_OK);
		/* Once the answer is out: the caller knows it was taken. */
		evhttp_request_set_on_complete_cb(c->req, broker_api_rest_on_upgrade_sent, c->r->b);
		broker_api_rest_reply_json(c->req, 200, json_object_new_object());
	} else {
		broker_api_rest_reply_error(c->req, 405, "METHOD_NOT_ALLOWED", "no such operation");
	}
}

static bool broker_api_rest_id_ok(const char *id, size_t len)
{
	if (len != BROKER_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef-", id[i]))
			return false;
	return true;
}

static void broker_api_rest_dispatch(struct rest_call *c, const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	struct broker_vm *vm;

	if (strncmp(path, "/vmm.", 5) == 0) {
		broker_api_rest_vmm(c, path + 5);
	} else if (strcmp(path, "/vm.create") == 0) {
		if (m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PUT)
			broker_api_rest_reply_error(c->req, 405, "METHOD_NOT_ALLOWED",
						    "POST /vm.create");
		else
			broker_api_rest_create(c);
	} else if (strcmp(path, "/vm.list") == 0 && m == EVHTTP_REQ_GET) {
		broker_api_rest_list(c);
	} else if (strcmp(path, "/events") == 0 && m == EVHTTP_REQ_GET) {
		rest_stream_events(c);
	} else if (strncmp(path, "/vm.", 4) == 0) {
		/* Single-VM forms: /vm.info, /vm.boot, ... on the caller's default VM. */
		const char *sub = path + 4;
		vm = broker_vm_default(c->r->b, c->tenant);
		if (!vm) {
			broker_api_rest_reply_api_err(c->req, API_VM_NOT_FOUND,
						      "there is no VM yet");
			return;
		}
		snprintf(c->vm_id, sizeof(c->vm_id), "%s", vm->id);
		/* /vm.info is GET /vm/{id}, /vm.delete is DELETE /vm/{id}: nothing else. */
		if ((strcmp(sub, "info") == 0 && m != EVHTTP_REQ_GET) ||
		    (strcmp(sub, "delete") == 0 && m != EVHTTP_REQ_DELETE) || !*sub) {
			broker_api_rest_reply_error(c->req, 405, "METHOD_NOT_ALLOWED",
						    "GET /vm.info, DELETE /vm.delete");
			return;
		}
		if (strcmp(sub, "info") == 0 || strcmp(sub, "delete") == 0)
			sub = "";
		broker_api_rest_vm_route(c, vm, sub);
	} else if (strncmp(path, "/vm/", 4) == 0) {
		const char *id = path + 4, *slash = strchr(id, '/');
		size_t idlen = slash ? (size_t)(slash - id) : strlen(id);

		/* UNTRUSTED(client): the id; a malformed one is simply not found. */
		if (broker_api_rest_id_ok(id, idlen))
			memcpy(c->vm_id, id, idlen);
		vm = c->vm_id[0] ? broker_vm_lookup(c->r->b, c->tenant, c->vm_id) : NULL;
		if (!vm) {
			broker_api_rest_reply_api_err(c->req, API_VM_NOT_FOUND, "no such VM");
			return;
		}
		broker_api_rest_vm_route(c, vm, slash ? slash + 1 : "");
	} else {
		broker_api_rest_reply_error(c->req, 404, "ROUTE_NOT_FOUND", "no such route");
	}
}

static void broker_api_rest_on_request(struct evhttp_request *req, void *arg)
{
	struct rest_call c = {.r = arg, .req = req};
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	c.conn = rest_conn_request(c.r, req);
	c.tenant = broker_api_rest_peer(c.r, req, &c.uid);
	if (!c.tenant) {
		/* Answered, and the connection closed after the answer. */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		broker_api_rest_reply_api_err(req, API_PERMISSION_DENIED,
					      "this user has no tenant here");
		return;
	}
	if (c.r->b->shutting_down) {
		broker_api_rest_reply_api_err(req, API_VM_BUSY, "the broker is shutting down");
		return;
	}
	if (!path || !*path) {
		broker_api_rest_reply_error(req, 404, "ROUTE_NOT_FOUND", "no such route");
		return;
	}
	broker_api_rest_dispatch(&c, path);
}

/* evhttp asks us for each new connection's bufferevent: the moment to check
 * that the connection count stays below the limit, and to start tracking the
 * connection (its peer, its deadline: broker_api_stream.c). */
static struct bufferevent *broker_api_rest_on_connection(struct event_base *base, void *arg)
{
	struct rest *r = arg;

	rest_guard_connections(r);
	return rest_conn_new(r);
}

int broker_api_rest_start(struct broker *b, int listen_fd, char *err, size_t errlen)
{
	struct rest *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->b = b;
	b->rest = r;
	TAILQ_INIT(&r->streams);
	r->http = evhttp_new(b->base);
	if (!r->http)
		goto fail;
	evhttp_set_max_body_size(r->http, REST_MAX_BODY);
	evhttp_set_max_headers_size(r->http, REST_MAX_HEADERS);
	evhttp_set_timeout(r->http, b->client_timeout);
	evhttp_set_allowed_methods(r->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE);
	evhttp_set_default_content_type(r->http, "application/json");
	evhttp_set_gencb(r->http, broker_api_rest_on_request, r);
	evhttp_set_bevcb(r->http, broker_api_rest_on_connection, r);
	r->listener = evconnlistener_new(
		b->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (!r->listener)
		goto fail;
	evconnlistener_set_error_cb(r->listener, rest_on_listen_error);
	if (!evhttp_bind_listener(r->http, r->listener))
		goto fail;
	return rest_streams_init(r);
fail:
	snprintf(err, errlen, "cannot start the HTTP server");
	return -ENOMEM;
}

void broker_api_rest_stop(struct broker *b)
{
	struct rest *r = b->rest;

	if (!r)
		return;
	rest_streams_free(r);
	if (r->http)
		evhttp_free(r->http); /* frees the bound listener too */
	rest_conns_free(r);
	free(r);
	b->rest = NULL;
}
