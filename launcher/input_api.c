/* The input API's answers; see input_api.h. Runs in cellvm-broker and
 * cellvm run. UNTRUSTED(device): a reply's detail strings are passed on as
 * the device's own words. */
#include "launcher/input_api.h"

#include "proto/input_event.h"

/* The input device's queue (dev-procs/input/input.h, INPUT_MAX_PENDING). */
#define INPUT_API_QUEUE_EVENTS 4096

const char *input_api_code(enum input_api_err e)
{
	static const char *const codes[] = {
		[INPUT_API_OK] = "OK",
		[INPUT_API_NOT_AVAILABLE] = "BACKEND_NOT_AVAILABLE",
		[INPUT_API_INVALID] = "INVALID_INPUT_EVENT",
		[INPUT_API_BACKEND_ERROR] = "BACKEND_ERROR",
		[INPUT_API_BUSY] = "VM_BUSY",
	};
	return codes[e];
}

int input_api_status(enum input_api_err e)
{
	static const int status[] = {
		[INPUT_API_OK] = 200,	   [INPUT_API_NOT_AVAILABLE] = 400,
		[INPUT_API_INVALID] = 400, [INPUT_API_BACKEND_ERROR] = 500,
		[INPUT_API_BUSY] = 503,
	};
	return status[e];
}

enum input_api_err input_api_err_of(Cellvm__Device__InputStatus s)
{
	switch (s) {
	case CELLVM__DEVICE__INPUT_STATUS__INPUT_OK: return INPUT_API_OK;
	case CELLVM__DEVICE__INPUT_STATUS__INPUT_NOT_AVAILABLE: return INPUT_API_NOT_AVAILABLE;
	case CELLVM__DEVICE__INPUT_STATUS__INPUT_INVALID: return INPUT_API_INVALID;
	case CELLVM__DEVICE__INPUT_STATUS__INPUT_PENDING:
	case CELLVM__DEVICE__INPUT_STATUS__INPUT_BUSY: return INPUT_API_BUSY;
	default: return INPUT_API_BACKEND_ERROR;
	}
}

static json_object *input_api_backends_json(const Cellvm__Device__InputReply *r)
{
	json_object *bs = json_object_new_array();

	for (size_t i = 0; i < r->n_backends; i++) {
		json_object *b = json_object_new_object();
		const char *name = input_opt_backend_name(r->backends[i]->backend);

		json_object_object_add(b, "backend",
				       json_object_new_string(name ? name : "unknown"));
		json_object_object_add(b, "bound", json_object_new_boolean(r->backends[i]->bound));
		json_object_object_add(b, "detail", json_object_new_string(r->backends[i]->detail));
		json_object_object_add(b, "leds", json_object_new_int64(r->backends[i]->leds));
		json_object_array_add(bs, b);
	}
	return bs;
}

json_object *input_api_result_json(const struct input_api_result *res, const struct input_opt *opt)
{
	json_object *o = json_object_new_object();
	const Cellvm__Device__InputReply *r = res->reply;
	const char *active;

	if (res->e != INPUT_API_OK) {
		json_object_object_add(o, "error",
				       json_object_new_string(res->msg ? res->msg : "failed"));
		json_object_object_add(o, "code", json_object_new_string(input_api_code(res->e)));
		if (res->event >= 0)
			json_object_object_add(o, "event", json_object_new_int(res->event));
	}
	json_object_object_add(o, "delivered", json_object_new_int64(res->delivered));
	json_object_object_add(o, "total", json_object_new_int64(res->total));
	if (!r)
		return o;
	active = input_opt_backend_name(r->active_backend);
	json_object_object_add(o, "active_backend", active ? json_object_new_string(active) : NULL);
	if (r->n_backends) {
		json_object *caps = json_object_new_object();
		bool virtio = opt && opt->virtio;

		json_object_object_add(o, "backends", input_api_backends_json(r));
		json_object_object_add(caps, "absolute_pointer",
				       json_object_new_boolean(virtio || (opt && opt->usb)));
		json_object_object_add(caps, "multi_touch_slots",
				       json_object_new_int(virtio ? CELLVM_INPUT_TOUCH_SLOTS : 0));
		json_object_object_add(caps, "max_events_per_request",
				       json_object_new_int(CELLVM_INPUT_MAX_EVENTS));
		json_object_object_add(caps, "queue_events",
				       json_object_new_int(INPUT_API_QUEUE_EVENTS));
		json_object_object_add(o, "capabilities", caps);
		json_object_object_add(o, "pending", json_object_new_int64(r->pending));
	}
	return o;
}
