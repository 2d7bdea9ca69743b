/* The input API's answers as both front ends give them (cellvm-broker's
 * REST and RPC, cellvm run's input socket): the error codes with their HTTP
 * statuses, the input device's InputStatus in those terms, and one JSON
 * shape for a result. Pure; the caller owns what it gets. */
#pragma once
#include <json-c/json.h>
#include <stdint.h>

#include "device.pb-c.h"
#include "launcher/input_opt.h"

enum input_api_err {
	INPUT_API_OK,
	INPUT_API_NOT_AVAILABLE, /* 400 BACKEND_NOT_AVAILABLE */
	INPUT_API_INVALID,	 /* 400 INVALID_INPUT_EVENT */
	INPUT_API_BACKEND_ERROR, /* 500 BACKEND_ERROR */
	INPUT_API_BUSY,		 /* 503 VM_BUSY */
};

const char *input_api_code(enum input_api_err e);
int input_api_status(enum input_api_err e);
/* What the input device's answer means for the caller (PENDING: busy). */
enum input_api_err input_api_err_of(Cellvm__Device__InputStatus s);

/* How an input command ended. reply: the device's answer when there is one
 * (it is only read). */
struct input_api_result {
	enum input_api_err e;
	const char *msg;
	int32_t event; /* the event at fault, or -1 */
	uint32_t delivered, total;
	const Cellvm__Device__InputReply *reply;
};

/* {"delivered", "total"}, with {"error", "code", "event"} on an error and,
 * from a reply, "active_backend" and, from a state reply, "backends",
 * "capabilities" (of the VM's input options opt) and "pending". */
json_object *input_api_result_json(const struct input_api_result *res, const struct input_opt *opt);
