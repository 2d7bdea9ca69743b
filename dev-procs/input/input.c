/* The input device's model; see input.h. Runs in cellvm-dev-input, one
 * epoll loop: the guest's PS/2 port accesses (forwarded by the core), the
 * virtio-input queues' kicks, the control channel's InputCommands and the
 * delay timer all end in input_pump(), which moves the queue along. */
#include "dev-procs/input/input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define INPUT_PS2_MAX_MSG  256
#define INPUT_XHCI_MAX_MSG 128

static struct input input_ctx;

static uint64_t input_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct input_item *input_at(struct input *in, uint32_t i)
{
	return &in->q[(in->qhead + i) % in->qcap];
}

/* ---- replies on the control channel ---- */

/* Send r (the backends' states when it has them). */
static void input_reply_send(struct input *in, Cellvm__Device__InputReply *r)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;

	r->active_backend = in->active;
	r->pending = in->qlen;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_INPUT_REPLY;
	m.input_reply = r;
	if (devproc_send_ctl(in->dp, &m) < 0)
		devproc_quit(in->dp, 0); /* the launcher is gone */
}

static void input_reply(struct input *in, uint64_t id, Cellvm__Device__InputStatus status,
			uint32_t delivered, uint32_t total, const char *error, int32_t error_event)
{
	Cellvm__Device__InputReply r = CELLVM__DEVICE__INPUT_REPLY__INIT;

	r.id = id;
	r.status = status;
	r.delivered = delivered;
	r.total = total;
	r.error = (char *)(error ? error : "");
	r.error_event = error_event;
	input_reply_send(in, &r);
}

static void input_reply_state(struct input *in, uint64_t id)
{
	Cellvm__Device__InputReply r = CELLVM__DEVICE__INPUT_REPLY__INIT;
	Cellvm__Device__InputBackendState st[3], *pst[3];
	char detail[3][96];
	size_t n = 0;

	if (in->has_ps2) {
		cellvm__device__input_backend_state__init(&st[n]);
		st[n].backend = CELLVM_INPUT_BACKEND_PS2;
		st[n].bound = ps2_kbd_active(&in->ps2) || ps2_mouse_active(&in->ps2);
		snprintf(detail[n], sizeof(detail[n]), "keyboard %s, mouse %s (id %u)",
			 ps2_kbd_active(&in->ps2) ? "scanning" : "off",
			 ps2_mouse_active(&in->ps2) ? "reporting" : "off", ps2_mouse_id(&in->ps2));
		st[n].detail = detail[n];
		st[n].leds = ps2_kbd_leds(&in->ps2);
		pst[n] = &st[n];
		n++;
	}
	if (in->has_usb) {
		static const char *const ukinds[USB_HID_KINDS] = {"keyboard", "mouse", "tablet"};
		size_t used = 0;
		bool any = false;

		cellvm__device__input_backend_state__init(&st[n]);
		st[n].backend = CELLVM_INPUT_BACKEND_USB;
		detail[n][0] = 0;
		for (int k = 0; k < USB_HID_KINDS; k++) {
			bool b = in->usb_present[k] && usb_hid_configured(&in->usb[k]);

			any |= b;
			if (in->usb_present[k] && used < sizeof(detail[n]))
				used += (size_t)snprintf(detail[n] + used, sizeof(detail[n]) - used,
							 "%s%s %s", used ? ", " : "", ukinds[k],
							 b ? "configured" : "not configured");
		}
		st[n].bound = any;
		st[n].detail = detail[n];
		if (in->usb_present[USB_HID_KEYBOARD])
			st[n].leds = in->usb[USB_HID_KEYBOARD].leds;
		pst[n] = &st[n];
		n++;
	}
	if (in->nfn) {
		static const char *const kinds[4] = {"keyboard", "mouse", "tablet", "touch"};
		size_t used = 0;
		bool any = false;

		cellvm__device__input_backend_state__init(&st[n]);
		st[n].backend = CELLVM_INPUT_BACKEND_VIRTIO;
		detail[n][0] = 0;
		for (int k = 0; k < 4; k++) {
			int f = in->fn_of_kind[k];
			bool b = f >= 0 && vinput_bound(&in->vin[f]);

			any |= b;
			if (f >= 0 && used < sizeof(detail[n]))
				used += (size_t)snprintf(detail[n] + used, sizeof(detail[n]) - used,
							 "%s%s %s", used ? ", " : "", kinds[k],
							 b ? "bound" : "unbound");
		}
		st[n].bound = any;
		st[n].detail = detail[n];
		if (in->fn_of_kind[VINPUT_KEYBOARD] >= 0)
			st[n].leds = vinput_leds(&in->vin[in->fn_of_kind[VINPUT_KEYBOARD]]);
		pst[n] = &st[n];
		n++;
	}
	r.id = id;
	r.status = CELLVM__DEVICE__INPUT_STATUS__INPUT_OK;
	r.error = (char *)"";
	r.error_event = -1;
	r.n_backends = n;
	r.backends = pst;
	input_reply_send(in, &r);
}

/* ---- the queue ---- */

static bool input_consumed(const struct input *in, const struct input_item *it)
{
	switch (it->sink) {
	case INPUT_SINK_PS2_KBD: return ps2_kbd_consumed(&in->ps2) >= it->mark;
	case INPUT_SINK_PS2_MOUSE: return ps2_mouse_consumed(&in->ps2) >= it->mark;
	case INPUT_SINK_USB + USB_HID_KEYBOARD:
	case INPUT_SINK_USB + USB_HID_MOUSE:
	case INPUT_SINK_USB + USB_HID_TABLET:
		return usb_hid_consumed(&in->usb[it->sink - INPUT_SINK_USB]) >= it->mark;
	default: return vinput_consumed(&in->vin[it->sink - INPUT_SINK_VIRTIO]) >= it->mark;
	}
}

/* The head item reached the guest (or was skipped): count it, answer its
 * request when it was the last. */
static void input_retire(struct input *in)
{
	struct input_item *it = input_at(in, 0);

	if (it->req != UINT32_MAX) {
		struct input_request *r = &in->req[it->req];

		if (++r->delivered == r->total) {
			input_reply(in, r->id, CELLVM__DEVICE__INPUT_STATUS__INPUT_OK, r->delivered,
				    r->total, NULL, -1);
			r->id = 0;
		}
	}
	in->delivered_total++;
	in->qhead = (in->qhead + 1) % in->qcap;
	in->qlen--;
	in->nposted--;
}

/* Hand one item to its backend. 0: posted (it->mark set); -ENOSPC or
 * -EAGAIN: not now; -EINVAL: the backend cannot send it (skipped). */
static int input_post(struct input *in, struct input_item *it)
{
	const struct cellvm_input_event *e = &it->ev;
	int r;

	switch (it->sink) {
	case INPUT_SINK_PS2_KBD:
		r = ps2_kbd_key(&in->ps2, e->code, e->kind == CELLVM_INPUT_KEY_DOWN);
		it->mark = ps2_kbd_queued(&in->ps2);
		return r;
	case INPUT_SINK_PS2_MOUSE:
		if (e->kind == CELLVM_INPUT_REL_MOVE)
			r = ps2_mouse_event(&in->ps2, e->a, e->b, 0, 0, it->ps2_buttons);
		else if (e->kind == CELLVM_INPUT_WHEEL)
			r = ps2_mouse_event(&in->ps2, 0, 0, e->a, e->b, it->ps2_buttons);
		else
			r = ps2_mouse_event(&in->ps2, 0, 0, 0, 0, it->ps2_buttons);
		it->mark = ps2_mouse_queued(&in->ps2);
		return r;
	case INPUT_SINK_USB + USB_HID_KEYBOARD:
	case INPUT_SINK_USB + USB_HID_MOUSE:
	case INPUT_SINK_USB + USB_HID_TABLET: {
		struct usb_hid *h = &in->usb[it->sink - INPUT_SINK_USB];

		r = usb_hid_post(h, e);
		it->mark = usb_hid_queued(h);
		if (r == 0)
			xhci_dev_ready(&in->xhci, h); /* a TD may be waiting for it */
		return r;
	}
	default: {
		uint32_t f = it->sink - INPUT_SINK_VIRTIO;

		r = vinput_post(&in->vin[f], e);
		if (r == 0) {
			it->mark = vinput_posted(&in->vin[f]);
			vinput_flush(&in->vin[f], devproc_function(in->dp, f));
		}
		return r;
	}
	}
}

static void input_arm(struct input *in, uint64_t at)
{
	struct itimerspec its = {0};

	in->not_before = at;
	its.it_value.tv_sec = (time_t)(at / 1000000000ULL);
	its.it_value.tv_nsec = (long)(at % 1000000000ULL);
	(void)timerfd_settime(in->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Move the queue along: retire what the guest consumed, post what may go.
 * Items go out in order; one goes to another sink than the items in flight
 * only once those were consumed, so the guest sees the order injected. */
static void input_pump(struct input *in)
{
	bool progress = true;

	while (progress) {
		progress = false;
		while (in->nposted && input_consumed(in, input_at(in, 0))) {
			input_retire(in);
			progress = true;
		}
		while (in->nposted < in->qlen) {
			struct input_item *it = input_at(in, in->nposted);
			int r;

			if (in->nposted && input_at(in, 0)->sink != it->sink)
				break;
			if (it->ev.delay_ms) {
				uint64_t now = input_now_ns();

				if (in->nposted)
					break; /* the delay runs from the last event's delivery */
				if (!in->not_before) {
					input_arm(in, now + (uint64_t)it->ev.delay_ms * 1000000ULL);
					break;
				}
				if (now < in->not_before)
					break;
			}
			r = input_post(in, it);
			if (r == -ENOSPC || r == -EAGAIN)
				break;
			in->not_before = 0;
			it->posted = true;
			in->nposted++;
			progress = true;
			if (r < 0) {
				/* Checked when it came in; only a scan-code set
				 * without the key gets here. It counts as done. */
				log_warn("injected event %u/%u: the backend cannot send it",
					 it->ev.kind, it->ev.code);
				it->mark = 0;
			}
		}
	}
}

/* ---- checking what comes in ---- */

static bool input_backend_present(const struct input *in, uint32_t b)
{
	return (b == CELLVM_INPUT_BACKEND_PS2 && in->has_ps2) ||
	       (b == CELLVM_INPUT_BACKEND_VIRTIO && in->nfn > 0) ||
	       (b == CELLVM_INPUT_BACKEND_USB && in->has_usb);
}

/* UNTRUSTED(launcher): one record. Returns NULL when it is well formed,
 * else what is wrong with it. */
static const char *input_check_event(const struct cellvm_input_event *e)
{
	if (e->kind < 1 || e->kind > CELLVM_INPUT_KIND_MAX)
		return "unknown kind";
	if (e->backend > CELLVM_INPUT_BACKEND_MAX || e->reserved ||
	    e->delay_ms > CELLVM_INPUT_DELAY_MAX)
		return "bad backend, delay or reserved field";
	switch (e->kind) {
	case CELLVM_INPUT_KEY_DOWN:
	case CELLVM_INPUT_KEY_UP:
		return e->code >= 1 && e->code <= CELLVM_INPUT_KEY_MAX ? NULL
								       : "key code out of range";
	case CELLVM_INPUT_REL_MOVE:
		return e->a >= -CELLVM_INPUT_REL_MAX && e->a <= CELLVM_INPUT_REL_MAX &&
				       e->b >= -CELLVM_INPUT_REL_MAX && e->b <= CELLVM_INPUT_REL_MAX
			       ? NULL
			       : "motion out of range";
	case CELLVM_INPUT_ABS_MOVE:
		return e->a >= 0 && e->a <= CELLVM_INPUT_ABS_MAX && e->b >= 0 &&
				       e->b <= CELLVM_INPUT_ABS_MAX
			       ? NULL
			       : "position out of range";
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP: return e->code < CELLVM_INPUT_BTN_COUNT ? NULL : "unknown button";
	case CELLVM_INPUT_WHEEL:
		return e->a >= -CELLVM_INPUT_WHEEL_MAX && e->a <= CELLVM_INPUT_WHEEL_MAX &&
				       e->b >= -CELLVM_INPUT_WHEEL_MAX &&
				       e->b <= CELLVM_INPUT_WHEEL_MAX
			       ? NULL
			       : "wheel out of range";
	default: /* touch */
		if (e->code >= CELLVM_INPUT_TOUCH_SLOTS)
			return "touch slot out of range";
		if (e->kind != CELLVM_INPUT_TOUCH_UP && (e->a < 0 || e->a > CELLVM_INPUT_ABS_MAX ||
							 e->b < 0 || e->b > CELLVM_INPUT_ABS_MAX))
			return "position out of range";
		return NULL;
	}
}

/* The sink of a checked record on backend b, or -1 when b has none for it. */
static int input_sink_for(struct input *in, uint32_t b, const struct cellvm_input_event *e,
			  bool *abs_mode)
{
	int f;

	if (b == CELLVM_INPUT_BACKEND_USB) {
		int k;

		switch (e->kind) {
		case CELLVM_INPUT_KEY_DOWN:
		case CELLVM_INPUT_KEY_UP: k = USB_HID_KEYBOARD; break;
		case CELLVM_INPUT_REL_MOVE:
			*abs_mode = false;
			k = USB_HID_MOUSE;
			break;
		case CELLVM_INPUT_ABS_MOVE:
			*abs_mode = true;
			k = USB_HID_TABLET;
			break;
		case CELLVM_INPUT_BTN_DOWN:
		case CELLVM_INPUT_BTN_UP:
		case CELLVM_INPUT_WHEEL: k = *abs_mode ? USB_HID_TABLET : USB_HID_MOUSE; break;
		default: return -1; /* no touchscreen */
		}
		return in->usb_present[k] ? INPUT_SINK_USB + k : -1;
	}
	if (b == CELLVM_INPUT_BACKEND_PS2) {
		switch (e->kind) {
		case CELLVM_INPUT_KEY_DOWN:
		case CELLVM_INPUT_KEY_UP: return INPUT_SINK_PS2_KBD;
		case CELLVM_INPUT_REL_MOVE:
		case CELLVM_INPUT_BTN_DOWN:
		case CELLVM_INPUT_BTN_UP:
		case CELLVM_INPUT_WHEEL: return INPUT_SINK_PS2_MOUSE;
		default: return -1; /* no absolute pointer, no touch */
		}
	}
	switch (e->kind) {
	case CELLVM_INPUT_KEY_DOWN:
	case CELLVM_INPUT_KEY_UP: f = in->fn_of_kind[VINPUT_KEYBOARD]; break;
	case CELLVM_INPUT_REL_MOVE:
		*abs_mode = false;
		f = in->fn_of_kind[VINPUT_MOUSE];
		break;
	case CELLVM_INPUT_ABS_MOVE:
		*abs_mode = true;
		f = in->fn_of_kind[VINPUT_TABLET];
		break;
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP:
	case CELLVM_INPUT_WHEEL:
		f = in->fn_of_kind[*abs_mode ? VINPUT_TABLET : VINPUT_MOUSE];
		break;
	default: f = in->fn_of_kind[VINPUT_TOUCH]; break;
	}
	return f < 0 ? -1 : INPUT_SINK_VIRTIO + f;
}

/* What b holds down after e. */
static void input_track(struct input_held *h, const struct cellvm_input_event *e)
{
	switch (e->kind) {
	case CELLVM_INPUT_KEY_DOWN: h->keys[e->code / 64] |= 1ULL << (e->code % 64); break;
	case CELLVM_INPUT_KEY_UP: h->keys[e->code / 64] &= ~(1ULL << (e->code % 64)); break;
	case CELLVM_INPUT_BTN_DOWN: h->buttons |= (uint8_t)(1U << e->code); break;
	case CELLVM_INPUT_BTN_UP: h->buttons &= (uint8_t) ~(1U << e->code); break;
	case CELLVM_INPUT_TOUCH_DOWN: h->touches |= (uint16_t)(1U << e->code); break;
	case CELLVM_INPUT_TOUCH_UP: h->touches &= (uint16_t) ~(1U << e->code); break;
	default: break;
	}
}

/* Append a checked record (room was made sure of). */
static void input_push(struct input *in, const struct cellvm_input_event *e, uint8_t backend,
		       int sink, uint32_t req)
{
	struct input_item *it = input_at(in, in->qlen);

	*it = (struct input_item){.ev = *e, .backend = backend, .sink = (uint8_t)sink, .req = req};
	if (sink == INPUT_SINK_PS2_MOUSE) {
		if (e->kind == CELLVM_INPUT_BTN_DOWN)
			in->ps2_buttons |= (uint8_t)(1U << e->code);
		else if (e->kind == CELLVM_INPUT_BTN_UP)
			in->ps2_buttons &= (uint8_t) ~(1U << e->code);
		it->ps2_buttons = in->ps2_buttons;
	}
	input_track(&in->held[backend], e);
	in->qlen++;
	in->injected++;
}

/* Check record i of a request (backend b resolved): NULL when its backend
 * can take it, with its sink in *ret_sink; else why not, and the status. */
static const char *input_route(struct input *in, uint32_t b, const struct cellvm_input_event *e,
			       bool *abs_mode, int *ret_sink,
			       Cellvm__Device__InputStatus *ret_status)
{
	const char *bad = input_check_event(e);

	*ret_status = CELLVM__DEVICE__INPUT_STATUS__INPUT_INVALID;
	if (bad)
		return bad;
	if (!input_backend_present(in, b)) {
		*ret_status = CELLVM__DEVICE__INPUT_STATUS__INPUT_NOT_AVAILABLE;
		return b == CELLVM_INPUT_BACKEND_PS2 ? "backend ps2 is not available in this VM"
		       : b == CELLVM_INPUT_BACKEND_VIRTIO
			       ? "backend virtio is not available in this VM"
			       : "backend usb is not available in this VM";
	}
	/* A key the keyboard has no scan code for (in the set the guest
	 * chose) is refused, never dropped later. */
	if (b == CELLVM_INPUT_BACKEND_PS2 &&
	    (e->kind == CELLVM_INPUT_KEY_DOWN || e->kind == CELLVM_INPUT_KEY_UP) &&
	    !ps2_kbd_has_key(&in->ps2, e->code))
		return "the PS/2 keyboard has no scan code for this key";
	if (b == CELLVM_INPUT_BACKEND_USB &&
	    (e->kind == CELLVM_INPUT_KEY_DOWN || e->kind == CELLVM_INPUT_KEY_UP) &&
	    !usb_hid_has_key(e->code))
		return "the USB keyboard has no usage for this key";
	*ret_sink = input_sink_for(in, b, e, abs_mode);
	if (*ret_sink < 0)
		return b == CELLVM_INPUT_BACKEND_PS2
			       ? "ps2 has no absolute pointer and no touchscreen"
		       : b == CELLVM_INPUT_BACKEND_USB
			       ? "no USB device takes this event (usb has no "
				 "touchscreen)"
			       : "no virtio-input device takes this event";
	return NULL;
}

static void input_on_inject(struct input *in, uint64_t id, const Cellvm__Device__InputInject *inj)
{
	const size_t n = inj->events.len / sizeof(struct cellvm_input_event);
	static uint8_t backend[CELLVM_INPUT_MAX_EVENTS], sink[CELLVM_INPUT_MAX_EVENTS];
	bool abs_mode = in->virtio_abs;
	uint32_t slot = UINT32_MAX;

	/* UNTRUSTED(launcher): whole records, each checked (and routed) before
	 * any is queued: a request goes in whole or not at all. */
	if (inj->events.len % sizeof(struct cellvm_input_event) || n > CELLVM_INPUT_MAX_EVENTS ||
	    inj->backend > CELLVM_INPUT_BACKEND_MAX) {
		input_reply(in, id, CELLVM__DEVICE__INPUT_STATUS__INPUT_INVALID, 0, 0,
			    "malformed inject", -1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		Cellvm__Device__InputStatus status;
		struct cellvm_input_event e;
		const char *bad;
		int sk = -1;

		memcpy(&e, inj->events.data + i * sizeof(e), sizeof(e));
		backend[i] = (uint8_t)(e.backend      ? e.backend
				       : inj->backend ? inj->backend
						      : in->active);
		bad = input_route(in, backend[i], &e, &abs_mode, &sk, &status);
		if (bad) {
			input_reply(in, id, status, 0, (uint32_t)n, bad, (int32_t)i);
			return;
		}
		sink[i] = (uint8_t)sk;
	}
	/* Releases on a switch may go past qmax (into the reserve): none then. */
	if (in->qlen > in->qmax || n > in->qmax - in->qlen) {
		input_reply(in, id, CELLVM__DEVICE__INPUT_STATUS__INPUT_BUSY, 0, (uint32_t)n,
			    "the input queue is full", -1);
		in->refused++;
		return;
	}
	if (n == 0) {
		input_reply(in, id, CELLVM__DEVICE__INPUT_STATUS__INPUT_OK, 0, 0, NULL, -1);
		return;
	}
	for (uint32_t s = 0; s < INPUT_MAX_REQUESTS && slot == UINT32_MAX; s++)
		if (!in->req[s].id)
			slot = s;
	if (slot == UINT32_MAX) {
		input_reply(in, id, CELLVM__DEVICE__INPUT_STATUS__INPUT_BUSY, 0, (uint32_t)n,
			    "too many requests in flight", -1);
		in->refused++;
		return;
	}
	in->req[slot] = (struct input_request){.id = id, .total = (uint32_t)n};
	for (size_t i = 0; i < n; i++) {
		struct cellvm_input_event e;

		memcpy(&e, inj->events.data + i * sizeof(e), sizeof(e));
		input_push(in, &e, backend[i], sink[i], slot);
	}
	in->virtio_abs = abs_mode;
	input_pump(in);
}

/* One release of what backend b holds, behind what is queued. */
static void input_push_release(struct input *in, uint32_t b, uint8_t kind, uint32_t code,
			       bool *abs_mode)
{
	struct cellvm_input_event e = {.kind = kind, .code = (uint16_t)code};

	/* The reserve holds every release there can be (input.h). */
	if (in->qlen < in->qcap)
		input_push(in, &e, (uint8_t)b, input_sink_for(in, b, &e, abs_mode), UINT32_MAX);
}

/* Release on backend b whatever it holds down, behind what is queued. */
static void input_release_held(struct input *in, uint32_t b)
{
	struct input_held h = in->held[b];
	bool abs_mode = in->virtio_abs;

	for (uint32_t c = 1; c <= CELLVM_INPUT_KEY_MAX; c++)
		if (h.keys[c / 64] & (1ULL << (c % 64)))
			input_push_release(in, b, CELLVM_INPUT_KEY_UP, c, &abs_mode);
	for (uint32_t btn = 0; btn < CELLVM_INPUT_BTN_COUNT; btn++)
		if (h.buttons & (1U << btn))
			input_push_release(in, b, CELLVM_INPUT_BTN_UP, btn, &abs_mode);
	for (uint32_t t = 0; t < CELLVM_INPUT_TOUCH_SLOTS; t++)
		if (h.touches & (1U << t))
			input_push_release(in, b, CELLVM_INPUT_TOUCH_UP, t, &abs_mode);
	input_pump(in);
}

static int input_command(struct devproc *dp, const Cellvm__Device__InputCommand *cmd)
{
	struct input *in = &input_ctx;

	(void)dp;
	/* UNTRUSTED(launcher): an id, then one command. */
	if (cmd->id == 0)
		return -EPROTO;
	switch (cmd->cmd_case) {
	case CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT:
		input_on_inject(in, cmd->id, cmd->inject);
		break;
	case CELLVM__DEVICE__INPUT_COMMAND__CMD_SWITCH_BACKEND: {
		uint32_t b = cmd->switch_backend->backend;

		if (!input_backend_present(in, b)) {
			input_reply(in, cmd->id, CELLVM__DEVICE__INPUT_STATUS__INPUT_NOT_AVAILABLE,
				    0, 0, "that backend is not available in this VM", -1);
			break;
		}
		if (b != in->active) {
			uint32_t old = in->active;

			in->active = (uint8_t)b;
			input_release_held(in, old);
			log_info("active input backend: %s", b == CELLVM_INPUT_BACKEND_PS2 ? "ps2"
							     : b == CELLVM_INPUT_BACKEND_USB
								     ? "usb"
								     : "virtio");
		}
		input_reply(in, cmd->id, CELLVM__DEVICE__INPUT_STATUS__INPUT_OK, 0, 0, NULL, -1);
		break;
	}
	case CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY:
		if (cmd->query->progress_of == 0) {
			input_reply_state(in, cmd->id);
			break;
		}
		for (uint32_t s = 0; s < INPUT_MAX_REQUESTS; s++) {
			if (in->req[s].id == cmd->query->progress_of) {
				input_reply(in, cmd->id,
					    CELLVM__DEVICE__INPUT_STATUS__INPUT_PENDING,
					    in->req[s].delivered, in->req[s].total, NULL, -1);
				return 0;
			}
		}
		input_reply(in, cmd->id, CELLVM__DEVICE__INPUT_STATUS__INPUT_OK, 0, 0,
			    "no such request pending", -1);
		break;
	default: return -EPROTO;
	}
	return 0;
}

/* ---- the PS/2 port link ---- */

enum { PS2L_INIT, PS2L_RUNNING };

static void input_ps2_irq(void *opaque, int line)
{
	struct input *in = opaque;
	uint64_t one = 1;
	int fd = in->ps2_irq[line == 1 ? 0 : 1];

	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));
}

static int input_on_ps2_attach(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct input *in = ctx;

	(void)msg;
	/* UNTRUSTED(core): two eventfds, IRQ 1 and IRQ 12. */
	if (nfds != 2)
		return -EPROTO;
	in->ps2_irq[0] = fds[0];
	in->ps2_irq[1] = fds[1];
	fds[0] = fds[1] = -1;
	in->ps2_proto.state = PS2L_RUNNING;
	return 0;
}

static int input_on_port(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__PortAccess *a = msg;
	struct input *in = ctx;
	Cellvm__Device__Ps2Message m = CELLVM__DEVICE__PS2_MESSAGE__INIT;
	Cellvm__Device__PortResult res = CELLVM__DEVICE__PORT_RESULT__INIT;
	int r;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(core, guest): the port is the core's, the byte the guest's. */
	if ((a->port != 0x60 && a->port != 0x64) || a->value > 0xff)
		return -EPROTO;
	if (a->write)
		res.reset = ps2_port_write(&in->ps2, (uint16_t)a->port, (uint8_t)a->value);
	else
		res.value = ps2_port_read(&in->ps2, (uint16_t)a->port);
	m.msg_case = CELLVM__DEVICE__PS2_MESSAGE__MSG_RESULT;
	m.result = &res;
	r = channel_send(in->ps2_link, &m.base, INPUT_PS2_MAX_MSG, NULL, 0);
	if (r < 0)
		return r;
	/* A byte read may have made room, or finished an event. */
	input_pump(in);
	return 0;
}

/* What the core may send on the PS/2 link: Ps2Attach once and first, with
 * its two eventfds; then port accesses, never with fds. */
static const struct dispatch_entry input_ps2_table[] = {
	[CELLVM__DEVICE__PS2_MESSAGE__MSG_ATTACH] = {input_on_ps2_attach, DISPATCH_STATE(PS2L_INIT),
						     DISPATCH_ONCE | DISPATCH_NEEDS_FDS},
	[CELLVM__DEVICE__PS2_MESSAGE__MSG_ACCESS] = {input_on_port, DISPATCH_STATE(PS2L_RUNNING),
						     0},
	/* PortResult goes the other way. */
};

static const struct dispatch_channel input_ps2_channel = {
	.envelope = &cellvm__device__ps2_message__descriptor,
	.max_len = INPUT_PS2_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = input_ps2_table,
	.n = sizeof(input_ps2_table) / sizeof(input_ps2_table[0]),
};

static void input_on_ps2_link(struct devproc *dp, void *arg)
{
	struct input *in = arg;
	int r = dispatch_recv(in->ps2_link, &in->ps2_proto, in);

	if (r == -ECONNRESET) {
		devproc_quit(dp, 0); /* the core is gone */
		return;
	}
	if (r < 0) {
		log_err("PS/2 link: protocol violation (%s)", dispatch_strerror(r));
		devproc_quit(dp, 1);
	}
}

/* ---- the xHCI link ---- */

enum { XHCIL_INIT, XHCIL_RUNNING };

static void input_xhci_irq(void *opaque)
{
	struct input *in = opaque;
	uint64_t one = 1;

	if (in->xhci_irq >= 0)
		(void)!write(in->xhci_irq, &one, sizeof(one));
}

static int input_on_xhci_attach(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct input *in = ctx;

	(void)msg;
	/* UNTRUSTED(core): one eventfd, the controller's interrupt. */
	if (nfds != 1)
		return -EPROTO;
	in->xhci_irq = fds[0];
	fds[0] = -1;
	in->xhci_proto.state = XHCIL_RUNNING;
	return 0;
}

static int input_on_mmio(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__MmioAccess *a = msg;
	struct input *in = ctx;
	Cellvm__Device__XhciMessage m = CELLVM__DEVICE__XHCI_MESSAGE__INIT;
	Cellvm__Device__MmioResult res = CELLVM__DEVICE__MMIO_RESULT__INIT;
	int r;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(core, guest): the offset is the core's (below the MSI-X
	 * table), size and value the guest's. */
	if (a->offset >= XHCI_REGS_END ||
	    (a->size != 1 && a->size != 2 && a->size != 4 && a->size != 8))
		return -EPROTO;
	if (a->write)
		xhci_write(&in->xhci, a->offset, a->size, a->value);
	else
		res.value = xhci_read(&in->xhci, a->offset, a->size);
	m.msg_case = CELLVM__DEVICE__XHCI_MESSAGE__MSG_RESULT;
	m.result = &res;
	r = channel_send(in->xhci_link, &m.base, INPUT_XHCI_MAX_MSG, NULL, 0);
	if (r < 0)
		return r;
	/* A transfer may have fetched a report. */
	input_pump(in);
	return 0;
}

/* What the core may send on the xHCI link: XhciAttach once and first, with
 * its eventfd; then register accesses, never with fds. */
static const struct dispatch_entry input_xhci_table[] = {
	[CELLVM__DEVICE__XHCI_MESSAGE__MSG_ATTACH] = {input_on_xhci_attach,
						      DISPATCH_STATE(XHCIL_INIT),
						      DISPATCH_ONCE | DISPATCH_NEEDS_FDS},
	[CELLVM__DEVICE__XHCI_MESSAGE__MSG_ACCESS] = {input_on_mmio, DISPATCH_STATE(XHCIL_RUNNING),
						      0},
	/* MmioResult goes the other way. */
};

static const struct dispatch_channel input_xhci_channel = {
	.envelope = &cellvm__device__xhci_message__descriptor,
	.max_len = INPUT_XHCI_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = input_xhci_table,
	.n = sizeof(input_xhci_table) / sizeof(input_xhci_table[0]),
};

static void input_on_xhci_link(struct devproc *dp, void *arg)
{
	struct input *in = arg;
	int r = dispatch_recv(in->xhci_link, &in->xhci_proto, in);

	if (r == -ECONNRESET) {
		devproc_quit(dp, 0); /* the core is gone */
		return;
	}
	if (r < 0) {
		log_err("xHCI link: protocol violation (%s)", dispatch_strerror(r));
		devproc_quit(dp, 1);
	}
}

/* UNTRUSTED(launcher): the USB devices' identities. */
static int input_setup_usb(struct input *in, const Cellvm__Device__InputConfig *c)
{
	if (c->n_usb > USB_HID_KINDS || (c->has_usb && c->n_usb == 0))
		return -EINVAL;
	for (size_t i = 0; i < c->n_usb; i++) {
		const Cellvm__Device__UsbHidConfig *u = c->usb[i];
		struct usb_hid_identity id = {0};

		if (u->kind >= USB_HID_KINDS || in->usb_present[u->kind] || u->vendor > 0xffff ||
		    u->product > 0xffff || u->release > 0xffff || u->interval_ms > 255 ||
		    strlen(u->manufacturer) > USB_HID_STRING_MAX ||
		    strlen(u->product_name) > USB_HID_STRING_MAX ||
		    strlen(u->serial) > USB_HID_STRING_MAX)
			return -EINVAL;
		id.vendor = (uint16_t)u->vendor;
		id.product = (uint16_t)u->product;
		id.release = (uint16_t)u->release;
		id.interval_ms = (uint8_t)u->interval_ms;
		snprintf(id.manufacturer, sizeof(id.manufacturer), "%s", u->manufacturer);
		snprintf(id.product_name, sizeof(id.product_name), "%s", u->product_name);
		snprintf(id.serial, sizeof(id.serial), "%s", u->serial);
		usb_hid_init(&in->usb[u->kind], (enum usb_hid_kind)u->kind, &id);
		in->usb_present[u->kind] = true;
	}
	/* Root ports 1-3: keyboard, mouse, tablet. */
	for (uint32_t k = 0; k < USB_HID_KINDS; k++)
		if (in->usb_present[k] && xhci_attach(&in->xhci, k + 1, &in->usb[k]) < 0)
			return -EINVAL;
	return 0;
}

static void input_on_timer(struct devproc *dp, void *arg)
{
	struct input *in = arg;
	uint64_t n;

	(void)dp;
	(void)!read(in->timer_fd, &n, sizeof(n));
	input_pump(in);
}

/* ---- the frame's ops ---- */

static int input_setup(struct devproc *dp, const Cellvm__Device__DeviceSetup *setup,
		       int *backend_fds, size_t nbackend, struct devproc_info *info)
{
	struct input *in = &input_ctx;
	const Cellvm__Device__InputConfig *c = setup->input;
	uint32_t nfn = dp->host->nfunctions;

	/* UNTRUSTED(launcher): the configuration against the links it sent. */
	if (!c || c->n_virtio != nfn || nfn > INPUT_NFN)
		return -EINVAL;
	if (dp->index == 0) {
		memset(in, 0, sizeof(*in));
		in->dp = dp;
		in->ps2_link = in->timer_fd = in->xhci_link = in->xhci_irq = -1;
		in->ps2_irq[0] = in->ps2_irq[1] = -1;
		for (int k = 0; k < 4; k++)
			in->fn_of_kind[k] = -1;
		if (nbackend != (c->has_ps2 ? 1U : 0U) + (c->has_usb ? 1U : 0U))
			return -EINVAL;
		in->has_ps2 = c->has_ps2;
		in->has_usb = c->has_usb;
		/* The frame keeps the links open. */
		if (in->has_ps2)
			in->ps2_link = backend_fds[0];
		if (in->has_usb)
			in->xhci_link = backend_fds[nbackend - 1];
		dispatch_init(&in->xhci_proto, &input_xhci_channel, XHCIL_INIT);
		xhci_init(&in->xhci, &dp->mem, input_xhci_irq, in);
		if (input_setup_usb(in, c) < 0)
			return -EINVAL;
		ps2_init(&in->ps2, input_ps2_irq, in);
		dispatch_init(&in->ps2_proto, &input_ps2_channel, PS2L_INIT);
		in->nfn = nfn;
		in->qmax = c->max_pending && c->max_pending < INPUT_MAX_PENDING ? c->max_pending
										: INPUT_MAX_PENDING;
		in->qcap = in->qmax + INPUT_RELEASE_RESERVE;
		in->q = calloc(in->qcap, sizeof(*in->q));
		if (!in->q)
			return -ENOMEM;
		in->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (in->timer_fd < 0)
			return -errno;
		in->active = (uint8_t)c->default_backend;
		if (!input_backend_present(in, in->active))
			in->active = in->has_ps2 ? CELLVM_INPUT_BACKEND_PS2
				     : in->nfn	 ? CELLVM_INPUT_BACKEND_VIRTIO
						 : CELLVM_INPUT_BACKEND_USB;
		if (!in->has_ps2 && !nfn && !in->has_usb)
			return -EINVAL;
	}
	if (dp->index < nfn) {
		const Cellvm__Device__VirtioInputConfig *v = c->virtio[dp->index];
		struct vinput_identity id = {0};

		if (v->kind > VINPUT_TOUCH || in->fn_of_kind[v->kind] >= 0 ||
		    strlen(v->name) >= sizeof(id.name) || strlen(v->serial) >= sizeof(id.serial) ||
		    v->vendor > 0xffff || v->product > 0xffff || v->version > 0xffff)
			return -EINVAL;
		in->fn_of_kind[v->kind] = (int)dp->index;
		vinput_init(&in->vin[dp->index], (enum vinput_kind)v->kind, NULL);
		if (v->name[0])
			snprintf(in->vin[dp->index].id.name, sizeof(in->vin[dp->index].id.name),
				 "%s", v->name);
		if (v->serial[0])
			snprintf(in->vin[dp->index].id.serial, sizeof(in->vin[dp->index].id.serial),
				 "%s", v->serial);
		if (v->vendor)
			in->vin[dp->index].id.vendor = (uint16_t)v->vendor;
		if (v->product)
			in->vin[dp->index].id.product = (uint16_t)v->product;
		if (v->version)
			in->vin[dp->index].id.version = (uint16_t)v->version;
		return vinput_info(&in->vin[dp->index], info);
	}
	return 0;
}

static int input_sandboxed(struct devproc *dp)
{
	struct input *in = &input_ctx;
	int r;

	if (in->ps2_link >= 0) {
		r = devproc_watch(dp, in->ps2_link, input_on_ps2_link, in);
		if (r < 0)
			return r;
	}
	if (in->xhci_link >= 0) {
		r = devproc_watch(dp, in->xhci_link, input_on_xhci_link, in);
		if (r < 0)
			return r;
	}
	return devproc_watch(dp, in->timer_fd, input_on_timer, in);
}

static size_t input_keep_fds(struct devproc *dp, int *fds, size_t max)
{
	struct input *in = &input_ctx;
	size_t n = 0;

	(void)dp;
	if (in->timer_fd >= 0 && n < max)
		fds[n++] = in->timer_fd;
	return n;
}

static int input_activate(struct devproc *dp)
{
	return vinput_activate(&input_ctx.vin[dp->index], dp);
}

static int input_resume(struct devproc *dp)
{
	return vinput_resume(&input_ctx.vin[dp->index], dp);
}

static void input_kick(struct devproc *dp, struct devproc_queue *q)
{
	vinput_kick(dp, q, &input_ctx.vin[dp->index]);
	input_pump(&input_ctx);
}

static void input_reset(struct devproc *dp)
{
	vinput_reset(&input_ctx.vin[dp->index]);
}

static void input_stats(struct devproc *dp, struct devproc_stats *out)
{
	struct input *in = &input_ctx;

	(void)dp;
	for (uint32_t f = 0; f < in->nfn; f++) {
		struct devproc_stats s = {0};

		vinput_stats(&in->vin[f], &s);
		out->errors += s.errors;
	}
	out->errors += in->xhci.guest_errors;
	out->requests = in->delivered_total;
	out->bytes_in = in->injected;
	out->errors += in->refused;
}

const struct devproc_ops input_ops = {
	.kind = "input",
	.setup = input_setup,
	.sandboxed = input_sandboxed,
	.activate = input_activate,
	.resume = input_resume,
	.kick = input_kick,
	.reset = input_reset,
	.stats = input_stats,
	.keep_fds = input_keep_fds,
	.command = input_command,
};
