/* The inject-input API request parser (see input_req.h): runs in the broker
 * and in cellvm run, on JSON a client sent. UNTRUSTED(client): every field;
 * strict (unknown fields are errors), every number range-checked, and the
 * expansion into records bounded by CELLVM_INPUT_MAX_EVENTS. */
#include <errno.h>
#include <json-c/json.h>
#include <linux/input-event-codes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "launcher/input_keys.h"
#include "launcher/input_req.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The fields an event may carry, as bits of a mask. */
enum req_field {
	F_TYPE,
	F_ACTION,
	F_SCANCODE,
	F_KEY,
	F_TEXT,
	F_MODIFIERS,
	F_DX,
	F_DY,
	F_X,
	F_Y,
	F_BUTTON,
	F_DELTA,
	F_HORIZONTAL,
	F_SLOT,
	F_DELAY,
	F_BACKEND,
	F_COUNT,
};

static const char *const field_names[F_COUNT] = {
	[F_TYPE] = "type",
	[F_ACTION] = "action",
	[F_SCANCODE] = "scancode",
	[F_KEY] = "key",
	[F_TEXT] = "text",
	[F_MODIFIERS] = "modifiers",
	[F_DX] = "dx",
	[F_DY] = "dy",
	[F_X] = "x",
	[F_Y] = "y",
	[F_BUTTON] = "button",
	[F_DELTA] = "delta",
	[F_HORIZONTAL] = "horizontal",
	[F_SLOT] = "slot",
	[F_DELAY] = "delay_ms",
	[F_BACKEND] = "backend",
};

#define B(f)	  (1u << (f))
#define F_COMMON  (B(F_TYPE) | B(F_ACTION) | B(F_DELAY) | B(F_BACKEND))
#define F_KEYS	  (B(F_SCANCODE) | B(F_KEY) | B(F_MODIFIERS))
#define HAS(c, f) (((c)->present & B(f)) != 0)

struct req_ctx;
struct req_action;
typedef int (*req_emit_fn)(struct req_ctx *c, const struct req_action *a);

/* One (type, action) pair: the fields it allows and requires, and how it
 * becomes records. */
struct req_action {
	const char *type;
	const char *action;
	uint32_t allowed;
	uint32_t required;
	req_emit_fn emit;
	uint8_t kind; /* the record; keyboard: KEY_DOWN press, KEY_UP release, 0 type */
};

struct req_ctx {
	struct input_req *out;
	char *err;
	size_t errlen;
	int *ret_event;
	int idx;			/* the event being parsed, -1 outside "events" */
	const char *layout;		/* "us" unless the request names one */
	struct json_object *f[F_COUNT]; /* the event's fields (NULL also for JSON null) */
	uint32_t present;		/* B(field) for each field given */
	uint8_t backend;		/* the event's "backend", 0 when absent */
	uint16_t delay;			/* the event's "delay_ms" */
};

static const char *const backend_names[] = {
	[CELLVM_INPUT_BACKEND_PS2] = "ps2",
	[CELLVM_INPUT_BACKEND_VIRTIO] = "virtio",
	[CELLVM_INPUT_BACKEND_USB] = "usb",
};

static const char *const button_names[CELLVM_INPUT_BTN_COUNT] = {
	[CELLVM_INPUT_BTN_LEFT] = "left",     [CELLVM_INPUT_BTN_RIGHT] = "right",
	[CELLVM_INPUT_BTN_MIDDLE] = "middle", [CELLVM_INPUT_BTN_SIDE] = "side",
	[CELLVM_INPUT_BTN_EXTRA] = "extra",
};

static const struct {
	const char *name;
	uint16_t code;
} modifiers[] = {
	{"shift", KEY_LEFTSHIFT}, {"ctrl", KEY_LEFTCTRL},  {"alt", KEY_LEFTALT},
	{"meta", KEY_LEFTMETA},	  {"altgr", KEY_RIGHTALT},
};

/* One code point of s[*pos..len), strictly: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static int utf8_next(const char *s, size_t len, size_t *pos, uint32_t *ret)
{
	const uint8_t *p = (const uint8_t *)s + *pos;
	size_t left = len - *pos, n;
	uint32_t cp, min;

	if (p[0] < 0x80) {
		n = 1, cp = p[0], min = 0;
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return -EILSEQ;
	}
	if (n > left)
		return -EILSEQ;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -EILSEQ;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -EILSEQ;
	*pos += n;
	*ret = cp;
	return 0;
}

/* Messages echo client strings (cut at a length) and go back to the client
 * and into logs: control bytes and broken UTF-8 become '?'. */
static void req_clean(char *s)
{
	size_t len = strlen(s), pos = 0;

	while (pos < len) {
		size_t start = pos;
		uint32_t cp;

		if (utf8_next(s, len, &pos, &cp) < 0) {
			s[start] = '?';
			pos = start + 1;
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			memset(s + start, '?', pos - start);
		}
	}
}

/* Fills err with "events[N].field: message" (or "field: message" outside
 * the events) and returns -EINVAL. field may be NULL. */
static int __attribute__((format(printf, 3, 4)))
req_fail(struct req_ctx *c, const char *field, const char *fmt, ...)
{
	size_t len = 0;
	va_list ap;
	int r;

	if (c->errlen == 0)
		goto out;
	c->err[0] = 0;
	if (c->idx >= 0)
		r = snprintf(c->err, c->errlen, "events[%d]%s%s: ", c->idx, field ? "." : "",
			     field ? field : "");
	else
		r = snprintf(c->err, c->errlen, "%s: ", field ? field : "request");
	if (r > 0)
		len = (size_t)r < c->errlen ? (size_t)r : c->errlen - 1;
	va_start(ap, fmt);
	vsnprintf(c->err + len, c->errlen - len, fmt, ap);
	va_end(ap);
	req_clean(c->err);
out:
	*c->ret_event = c->idx;
	return -EINVAL;
}

static const char *req_type_name(const struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a fraction";
	case json_type_int: return "an integer";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "?";
}

/* A JSON integer (not a string, a fraction or a boolean) in lo..hi. */
static int req_int(struct req_ctx *c, const char *field, struct json_object *o, int64_t lo,
		   int64_t hi, int64_t *ret)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int))
		return req_fail(c, field, "must be an integer, not %s", req_type_name(o));
	v = json_object_get_int64(o);
	if (v < lo || v > hi)
		return req_fail(c, field, "%lld is outside %lld..%lld", (long long)v, (long long)lo,
				(long long)hi);
	*ret = v;
	return 0;
}

static int req_string(struct req_ctx *c, const char *field, struct json_object *o, const char **ret)
{
	if (!json_object_is_type(o, json_type_string))
		return req_fail(c, field, "must be a string, not %s", req_type_name(o));
	*ret = json_object_get_string(o);
	/* A name with a NUL in it matches nothing. */
	if (strlen(*ret) != (size_t)json_object_get_string_len(o))
		return req_fail(c, field, "contains a NUL character");
	return 0;
}

static int req_backend(struct req_ctx *c, struct json_object *o, uint8_t *ret)
{
	const char *s;
	int r;

	r = req_string(c, "backend", o, &s);
	if (r < 0)
		return r;
	for (size_t i = 1; i < ARRAY_SIZE(backend_names); i++)
		if (strcmp(s, backend_names[i]) == 0) {
			*ret = (uint8_t)i;
			return 0;
		}
	return req_fail(c, "backend", "unknown backend \"%.32s\" (ps2, virtio, usb)", s);
}

static int req_push(struct req_ctx *c, uint8_t kind, uint16_t code, int32_t a, int32_t b,
		    uint16_t delay)
{
	struct input_req *out = c->out;

	if (out->n >= CELLVM_INPUT_MAX_EVENTS)
		return req_fail(c, NULL, "too many events: the request makes more than %d records",
				CELLVM_INPUT_MAX_EVENTS);
	out->src[out->n] = (uint16_t)(c->idx < 0 ? 0 : c->idx);
	out->ev[out->n++] = (struct cellvm_input_event){.kind = kind,
							.backend = c->backend,
							.code = code,
							.a = a,
							.b = b,
							.delay_ms = delay};
	return 0;
}

int input_req_event_of(const struct input_req *req, int record)
{
	return record >= 0 && (size_t)record < req->n ? req->src[record] : -1;
}

/* The delay goes on the first record of an event only. */
static uint16_t req_take_delay(struct req_ctx *c)
{
	uint16_t d = c->delay;

	c->delay = 0;
	return d;
}

static int req_modifiers(struct req_ctx *c, uint16_t *mods, size_t *ret_n)
{
	struct json_object *o = c->f[F_MODIFIERS];
	bool seen[ARRAY_SIZE(modifiers)] = {false};
	char field[32];
	size_t n, m;
	int r;

	*ret_n = 0;
	if (!HAS(c, F_MODIFIERS))
		return 0;
	if (!json_object_is_type(o, json_type_array))
		return req_fail(c, "modifiers", "must be an array of names, not %s",
				req_type_name(o));
	n = json_object_array_length(o);
	for (size_t i = 0; i < n; i++) {
		const char *s;

		snprintf(field, sizeof(field), "modifiers[%zu]", i);
		r = req_string(c, field, json_object_array_get_idx(o, i), &s);
		if (r < 0)
			return r;
		for (m = 0; m < ARRAY_SIZE(modifiers); m++)
			if (strcmp(s, modifiers[m].name) == 0)
				break;
		if (m == ARRAY_SIZE(modifiers))
			return req_fail(
				c, field,
				"unknown modifier \"%.32s\" (shift, ctrl, alt, meta, altgr)", s);
		if (seen[m])
			return req_fail(c, field, "\"%s\" is listed twice", modifiers[m].name);
		seen[m] = true;
		mods[(*ret_n)++] = modifiers[m].code;
	}
	return 0;
}

static int req_key_code(struct req_ctx *c, uint16_t *ret)
{
	const char *s;
	int64_t v;
	int r;

	if (HAS(c, F_SCANCODE)) {
		r = req_int(c, "scancode", c->f[F_SCANCODE], 1, CELLVM_INPUT_KEY_MAX, &v);
		if (r < 0)
			return r;
		*ret = (uint16_t)v;
		return 0;
	}
	r = req_string(c, "key", c->f[F_KEY], &s);
	if (r < 0)
		return r;
	r = input_keys_code(s);
	if (r < 0)
		return req_fail(c, "key", "unknown key \"%.40s\" (a Linux KEY_* name)", s);
	*ret = (uint16_t)r;
	return 0;
}

/* The layout's modifiers down, the key down and up, the modifiers up; a dead
 * key is followed by a space so that its own character comes out. */
static int req_text_char(struct req_ctx *c, uint16_t code, bool shift, bool altgr, bool dead,
			 uint16_t delay)
{
	uint16_t mods[2];
	size_t n = 0;
	int r;

	if (shift)
		mods[n++] = KEY_LEFTSHIFT;
	if (altgr)
		mods[n++] = KEY_RIGHTALT;
	for (size_t i = 0; i < n; i++) {
		r = req_push(c, CELLVM_INPUT_KEY_DOWN, mods[i], 0, 0, i == 0 ? delay : 0);
		if (r < 0)
			return r;
	}
	r = req_push(c, CELLVM_INPUT_KEY_DOWN, code, 0, 0, n == 0 ? delay : 0);
	if (r < 0)
		return r;
	r = req_push(c, CELLVM_INPUT_KEY_UP, code, 0, 0, 0);
	for (size_t i = n; i > 0 && r >= 0; i--)
		r = req_push(c, CELLVM_INPUT_KEY_UP, mods[i - 1], 0, 0, 0);
	if (r >= 0 && dead)
		r = req_push(c, CELLVM_INPUT_KEY_DOWN, KEY_SPACE, 0, 0, 0);
	if (r >= 0 && dead)
		r = req_push(c, CELLVM_INPUT_KEY_UP, KEY_SPACE, 0, 0, 0);
	return r;
}

static int req_text(struct req_ctx *c)
{
	struct json_object *o = c->f[F_TEXT];
	uint16_t delay = req_take_delay(c);
	size_t len, pos = 0, start;
	char field[32];
	const char *s;
	int r;

	if (!json_object_is_type(o, json_type_string))
		return req_fail(c, "text", "must be a string, not %s", req_type_name(o));
	s = json_object_get_string(o);
	len = (size_t)json_object_get_string_len(o);
	if (len == 0)
		return req_fail(c, "text", "must not be empty");
	for (int i = 0; pos < len; i++) {
		bool shift, altgr;
		uint16_t code;
		uint32_t cp;

		if (i == INPUT_REQ_MAX_TEXT)
			return req_fail(c, "text", "longer than %d characters", INPUT_REQ_MAX_TEXT);
		start = pos;
		if (utf8_next(s, len, &pos, &cp) < 0)
			return req_fail(c, "text", "invalid UTF-8 at byte %zu", start);
		r = input_keys_layout(c->layout, cp, &code, &shift, &altgr);
		if (r == -ERANGE) {
			snprintf(field, sizeof(field), "text[%d]", i);
			/* Control characters are named by number only. */
			if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
				return req_fail(c, field, "U+%04X is not typeable on layout \"%s\"",
						(unsigned)cp, c->layout);
			return req_fail(c, field,
					"'%.*s' (U+%04X) is not typeable on layout \"%s\"",
					(int)(pos - start), s + start, (unsigned)cp, c->layout);
		}
		if (r < 0)
			return req_fail(c, "text", "no layout \"%s\"", c->layout);
		r = req_text_char(c, code, shift, altgr, r == INPUT_KEYS_DEAD, delay);
		if (r < 0)
			return r;
	}
	return 0;
}

/* press: modifiers down in the order given, then the key; release: the key
 * up, then the modifiers in reverse; type: both. */
static int req_keyboard(struct req_ctx *c, const struct req_action *a)
{
	int given = HAS(c, F_SCANCODE) + HAS(c, F_KEY) + HAS(c, F_TEXT);
	uint16_t mods[ARRAY_SIZE(modifiers)], code;
	size_t n;
	int r;

	if (given == 0)
		return req_fail(c, NULL, "one of scancode, key or text is required");
	if (given > 1)
		return req_fail(c, HAS(c, F_TEXT) ? "text" : "key",
				"only one of scancode, key or text may be given");
	if (HAS(c, F_TEXT)) {
		if (HAS(c, F_MODIFIERS))
			return req_fail(c, "modifiers",
					"not allowed with text (the layout decides them)");
		return req_text(c);
	}
	r = req_key_code(c, &code);
	if (r < 0)
		return r;
	r = req_modifiers(c, mods, &n);
	if (r < 0)
		return r;
	if (a->kind != CELLVM_INPUT_KEY_UP) {
		for (size_t i = 0; i < n; i++) {
			r = req_push(c, CELLVM_INPUT_KEY_DOWN, mods[i], 0, 0, req_take_delay(c));
			if (r < 0)
				return r;
		}
		r = req_push(c, CELLVM_INPUT_KEY_DOWN, code, 0, 0, req_take_delay(c));
		if (r < 0)
			return r;
	}
	if (a->kind != CELLVM_INPUT_KEY_DOWN) {
		r = req_push(c, CELLVM_INPUT_KEY_UP, code, 0, 0, req_take_delay(c));
		for (size_t i = n; i > 0 && r >= 0; i--)
			r = req_push(c, CELLVM_INPUT_KEY_UP, mods[i - 1], 0, 0, 0);
	}
	return r;
}

static int req_move(struct req_ctx *c, const struct req_action *a)
{
	int64_t dx, dy;
	int r;

	r = req_int(c, "dx", c->f[F_DX], -CELLVM_INPUT_REL_MAX, CELLVM_INPUT_REL_MAX, &dx);
	if (r < 0)
		return r;
	r = req_int(c, "dy", c->f[F_DY], -CELLVM_INPUT_REL_MAX, CELLVM_INPUT_REL_MAX, &dy);
	if (r < 0)
		return r;
	return req_push(c, a->kind, 0, (int32_t)dx, (int32_t)dy, req_take_delay(c));
}

/* Absolute pointer moves and touches: x, y, and for touches the slot. */
static int req_xy(struct req_ctx *c, const struct req_action *a)
{
	int64_t x = 0, y = 0, slot = 0;
	int r = 0;

	if (HAS(c, F_SLOT))
		r = req_int(c, "slot", c->f[F_SLOT], 0, CELLVM_INPUT_TOUCH_SLOTS - 1, &slot);
	if (r >= 0 && a->kind != CELLVM_INPUT_TOUCH_UP)
		r = req_int(c, "x", c->f[F_X], 0, CELLVM_INPUT_ABS_MAX, &x);
	if (r >= 0 && a->kind != CELLVM_INPUT_TOUCH_UP)
		r = req_int(c, "y", c->f[F_Y], 0, CELLVM_INPUT_ABS_MAX, &y);
	if (r < 0)
		return r;
	return req_push(c, a->kind, (uint16_t)slot, (int32_t)x, (int32_t)y, req_take_delay(c));
}

static int req_button(struct req_ctx *c, const struct req_action *a)
{
	const char *s;
	int r;

	r = req_string(c, "button", c->f[F_BUTTON], &s);
	if (r < 0)
		return r;
	for (uint16_t i = 0; i < CELLVM_INPUT_BTN_COUNT; i++)
		if (strcmp(s, button_names[i]) == 0)
			return req_push(c, a->kind, i, 0, 0, req_take_delay(c));
	return req_fail(c, "button", "unknown button \"%.32s\" (left, right, middle, side, extra)",
			s);
}

static int req_wheel(struct req_ctx *c, const struct req_action *a)
{
	int64_t v = 0, h = 0;
	int r = 0;

	if (HAS(c, F_DELTA))
		r = req_int(c, "delta", c->f[F_DELTA], -CELLVM_INPUT_WHEEL_MAX,
			    CELLVM_INPUT_WHEEL_MAX, &v);
	if (r >= 0 && HAS(c, F_HORIZONTAL))
		r = req_int(c, "horizontal", c->f[F_HORIZONTAL], -CELLVM_INPUT_WHEEL_MAX,
			    CELLVM_INPUT_WHEEL_MAX, &h);
	if (r < 0)
		return r;
	if (v == 0 && h == 0)
		return req_fail(c, "delta", "delta and horizontal are both 0");
	return req_push(c, a->kind, 0, (int32_t)v, (int32_t)h, req_take_delay(c));
}

#define F_XY (B(F_X) | B(F_Y))

static const struct req_action actions[] = {
	{"keyboard", "press", F_COMMON | F_KEYS, 0, req_keyboard, CELLVM_INPUT_KEY_DOWN},
	{"keyboard", "release", F_COMMON | F_KEYS, 0, req_keyboard, CELLVM_INPUT_KEY_UP},
	{"keyboard", "type", F_COMMON | F_KEYS | B(F_TEXT), 0, req_keyboard, 0},
	{"mouse", "move", F_COMMON | B(F_DX) | B(F_DY), B(F_DX) | B(F_DY), req_move,
	 CELLVM_INPUT_REL_MOVE},
	{"mouse", "move_absolute", F_COMMON | F_XY, F_XY, req_xy, CELLVM_INPUT_ABS_MOVE},
	{"mouse", "button_press", F_COMMON | B(F_BUTTON), B(F_BUTTON), req_button,
	 CELLVM_INPUT_BTN_DOWN},
	{"mouse", "button_release", F_COMMON | B(F_BUTTON), B(F_BUTTON), req_button,
	 CELLVM_INPUT_BTN_UP},
	{"mouse", "wheel", F_COMMON | B(F_DELTA) | B(F_HORIZONTAL), 0, req_wheel,
	 CELLVM_INPUT_WHEEL},
	{"touch", "down", F_COMMON | B(F_SLOT) | F_XY, F_XY, req_xy, CELLVM_INPUT_TOUCH_DOWN},
	{"touch", "move", F_COMMON | B(F_SLOT) | F_XY, F_XY, req_xy, CELLVM_INPUT_TOUCH_MOVE},
	{"touch", "up", F_COMMON | B(F_SLOT), 0, req_xy, CELLVM_INPUT_TOUCH_UP},
};

static int req_find_action(struct req_ctx *c, const struct req_action **ret)
{
	const char *type, *action;
	char list[96] = "";
	bool type_known = false;
	int r;

	r = req_string(c, "type", c->f[F_TYPE], &type);
	if (r < 0)
		return r;
	r = req_string(c, "action", c->f[F_ACTION], &action);
	if (r < 0 && !HAS(c, F_ACTION))
		r = req_fail(c, "action", "required");
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (strcmp(actions[i].type, type) != 0)
			continue;
		type_known = true;
		if (r == 0 && strcmp(actions[i].action, action) == 0) {
			*ret = &actions[i];
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 list[0] ? ", " : "", actions[i].action);
	}
	if (!type_known)
		return req_fail(c, "type", "unknown type \"%.32s\" (keyboard, mouse, touch)", type);
	if (r < 0)
		return r;
	return req_fail(c, "action", "unknown action \"%.32s\" for type %s (%s)", action, type,
			list);
}

static int req_event(struct req_ctx *c, struct json_object *ev)
{
	const struct req_action *a;
	int64_t v;
	int r;

	memset(c->f, 0, sizeof(c->f));
	c->present = 0;
	c->backend = 0;
	c->delay = 0;
	if (!json_object_is_type(ev, json_type_object))
		return req_fail(c, NULL, "must be an object, not %s", req_type_name(ev));
	json_object_object_foreach(ev, key, val)
	{
		char field[48];
		size_t f;

		for (f = 0; f < F_COUNT; f++)
			if (strcmp(key, field_names[f]) == 0)
				break;
		if (f == F_COUNT) {
			snprintf(field, sizeof(field), "%.40s", key);
			return req_fail(c, field, "unknown field");
		}
		c->f[f] = val;
		c->present |= B(f);
	}
	if (!HAS(c, F_TYPE))
		return req_fail(c, "type", "required");
	r = req_find_action(c, &a);
	if (r < 0)
		return r;
	for (size_t f = 0; f < F_COUNT; f++) {
		if ((c->present & B(f)) && !(a->allowed & B(f)))
			return req_fail(c, field_names[f], "not allowed with %s action %s", a->type,
					a->action);
		if (!(c->present & B(f)) && (a->required & B(f)))
			return req_fail(c, field_names[f], "required with %s action %s", a->type,
					a->action);
	}
	if HAS (c, F_DELAY) {
		r = req_int(c, "delay_ms", c->f[F_DELAY], 0, CELLVM_INPUT_DELAY_MAX, &v);
		if (r < 0)
			return r;
		c->delay = (uint16_t)v;
	}
	if HAS (c, F_BACKEND) {
		r = req_backend(c, c->f[F_BACKEND], &c->backend);
		if (r < 0)
			return r;
	}
	return a->emit(c, a);
}

static int req_top(struct req_ctx *c, struct json_object *body)
{
	struct json_object *events = NULL;
	bool have_events = false;
	size_t n;
	int r;

	if (!json_object_is_type(body, json_type_object))
		return req_fail(c, NULL, "must be a JSON object, not %s", req_type_name(body));
	json_object_object_foreach(body, key, val)
	{
		char field[48];

		if (strcmp(key, "backend") == 0) {
			r = req_backend(c, val, &c->out->backend);
			if (r < 0)
				return r;
		} else if (strcmp(key, "layout") == 0) {
			r = req_string(c, "layout", val, &c->layout);
			if (r < 0)
				return r;
			if (!input_keys_layout_valid(c->layout))
				return req_fail(c, "layout",
						"unknown layout \"%.32s\" (us, de, fr)", c->layout);
		} else if (strcmp(key, "events") == 0) {
			events = val;
			have_events = true;
		} else {
			snprintf(field, sizeof(field), "%.40s", key);
			return req_fail(c, field, "unknown field");
		}
	}
	if (!have_events)
		return req_fail(c, "events", "required");
	if (!json_object_is_type(events, json_type_array))
		return req_fail(c, "events", "must be an array, not %s", req_type_name(events));
	n = json_object_array_length(events);
	if (n == 0)
		return req_fail(c, "events", "must not be empty");
	if (n > INPUT_REQ_MAX_ENTRIES)
		return req_fail(c, "events", "more than %d entries", INPUT_REQ_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		c->idx = (int)i;
		r = req_event(c, json_object_array_get_idx(events, i));
		if (r < 0)
			return r;
	}
	c->idx = -1;
	return 0;
}

int input_req_parse(const struct json_object *body, struct input_req *out, char *err, size_t errlen,
		    int *ret_event)
{
	int dummy;
	struct req_ctx c = {.out = out,
			    .err = err,
			    .errlen = errlen,
			    .ret_event = ret_event ? ret_event : &dummy,
			    .idx = -1,
			    .layout = "us"};
	int r;

	out->backend = 0;
	out->n = 0;
	if (errlen > 0)
		err[0] = 0;
	/* json-c's getters take const objects, its iteration macro does not. */
	r = req_top(&c, (struct json_object *)body);
	if (r < 0) {
		out->backend = 0;
		out->n = 0;
		return r;
	}
	*c.ret_event = -1;
	return 0;
}

int input_req_parse_bytes(const char *buf, size_t len, struct input_req *out, char *err,
			  size_t errlen, int *ret_event)
{
	int dummy;
	struct req_ctx c = {.out = out,
			    .err = err,
			    .errlen = errlen,
			    .ret_event = ret_event ? ret_event : &dummy,
			    .idx = -1};
	enum json_tokener_error je;
	struct json_tokener *tok;
	struct json_object *o;
	int r;

	out->backend = 0;
	out->n = 0;
	if (len == 0)
		return req_fail(&c, NULL, "empty");
	if (len > INPUT_REQ_MAX_BODY)
		return req_fail(&c, NULL, "larger than %d bytes", INPUT_REQ_MAX_BODY);
	if (memchr(buf, 0, len))
		return req_fail(&c, NULL, "contains a NUL byte");
	tok = json_tokener_new_ex(INPUT_REQ_JSON_DEPTH);
	if (!tok) {
		req_fail(&c, NULL, "out of memory");
		return -ENOMEM;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	je = json_tokener_get_error(tok);
	if (!o || je != json_tokener_success) {
		r = req_fail(&c, NULL, "malformed JSON: %s",
			     je == json_tokener_continue ? "truncated"
							 : json_tokener_error_desc(je));
		goto out;
	}
	/* Only white space may follow the value. */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", buf[i])) {
			r = req_fail(&c, NULL, "malformed JSON: data after the value");
			goto out;
		}
	r = input_req_parse(o, out, err, errlen, ret_event);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}
