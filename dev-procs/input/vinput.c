/* virtio-input model of one function in cellvm-dev-input: the select/subsel
 * configuration table, injected records turned into evdev frames in a
 * bounded queue, and the two virtqueues. Records come over the control
 * channel (checked again here); rings and buffers are guest memory and
 * untrusted: a buffer of the wrong shape is counted and returned, ring abuse
 * asks for a reset. */
#include "dev-procs/input/vinput.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VINPUT_EVENTQ  0
#define VINPUT_STATUSQ 1

/* ---- identity and configuration ---- */

static const char *const vinput_names[] = {
	[VINPUT_KEYBOARD] = "keyboard",
	[VINPUT_MOUSE] = "mouse",
	[VINPUT_TABLET] = "tablet",
	[VINPUT_TOUCH] = "touchscreen",
};

/* Product ids: one per kind, so the guest's udev rules can tell them apart. */
static const uint16_t vinput_products[] = {
	[VINPUT_KEYBOARD] = 0x0001,
	[VINPUT_MOUSE] = 0x0002,
	[VINPUT_TABLET] = 0x0003,
	[VINPUT_TOUCH] = 0x0004,
};

static const uint16_t vinput_buttons[CELLVM_INPUT_BTN_COUNT] = {
	[CELLVM_INPUT_BTN_LEFT] = BTN_LEFT,	[CELLVM_INPUT_BTN_RIGHT] = BTN_RIGHT,
	[CELLVM_INPUT_BTN_MIDDLE] = BTN_MIDDLE, [CELLVM_INPUT_BTN_SIDE] = BTN_SIDE,
	[CELLVM_INPUT_BTN_EXTRA] = BTN_EXTRA,
};

/* The absolute axes of the touchscreen, in the order offered. */
static const uint16_t vinput_touch_axes[] = {
	ABS_X, ABS_Y, ABS_MT_SLOT, ABS_MT_POSITION_X, ABS_MT_POSITION_Y, ABS_MT_TRACKING_ID,
};

/* Keys a keyboard offers: every key code up to KEY_MAX except the button
 * ranges (mouse, joystick, gamepad, digitizer, d-pad, trigger-happy), which
 * would make the guest's udev take the keyboard for a pointer or a
 * joystick. */
static bool vinput_is_key(uint32_t code)
{
	if (code == KEY_RESERVED || code > KEY_MAX)
		return false;
	if (code >= BTN_MISC && code < KEY_OK)
		return false;
	if (code >= BTN_DPAD_UP && code <= BTN_DPAD_RIGHT)
		return false;
	return code < BTN_TRIGGER_HAPPY;
}

void vinput_init(struct vinput *v, enum vinput_kind kind, const struct vinput_identity *id)
{
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->pointer_slot = -1;
	if (id) {
		v->id = *id;
		v->id.name[sizeof(v->id.name) - 1] = '\0';
		v->id.serial[sizeof(v->id.serial) - 1] = '\0';
		return;
	}
	snprintf(v->id.name, sizeof(v->id.name), "cellvm virtio %s", vinput_names[kind]);
	snprintf(v->id.serial, sizeof(v->id.serial), "cellvm-%s", vinput_names[kind]);
	v->id.bustype = VINPUT_BUS_VIRTUAL;
	v->id.vendor = VINPUT_VENDOR;
	v->id.product = vinput_products[kind];
	v->id.version = 0x0001;
}

static void vinput_put_le(uint8_t *p, uint32_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static struct devproc_config_select *vinput_sel(struct devproc_info *info, uint8_t select,
						uint8_t subsel)
{
	struct devproc_config_select *s;

	if (info->nselects >= DEVPROC_MAX_SELECTS)
		return NULL;
	s = &info->selects[info->nselects++];
	memset(s, 0, sizeof(*s));
	s->select = select;
	s->subsel = subsel;
	return s;
}

static int vinput_sel_bytes(struct devproc_info *info, uint8_t select, uint8_t subsel,
			    const void *data, size_t len)
{
	struct devproc_config_select *s;

	if (len == 0)
		return 0; /* not listed: reads as size 0 */
	if (len > DEVPROC_SELECT_DATA_MAX)
		return -EINVAL;
	s = vinput_sel(info, select, subsel);
	if (!s)
		return -ENOSPC;
	memcpy(s->data, data, len);
	s->size = (uint8_t)len;
	return 0;
}

/* A bitmap entry holding the bits in codes[0..n): its size is up to the
 * byte of the highest bit, as the driver reads no more. */
static int vinput_sel_bits(struct devproc_info *info, uint8_t select, uint8_t subsel,
			   const uint16_t *codes, size_t n)
{
	uint8_t map[DEVPROC_SELECT_DATA_MAX] = {0};
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (codes[i] / 8 >= sizeof(map))
			return -EINVAL;
		map[codes[i] / 8] |= (uint8_t)(1U << (codes[i] % 8));
		if ((size_t)codes[i] / 8 + 1 > len)
			len = codes[i] / 8 + 1;
	}
	return vinput_sel_bytes(info, select, subsel, map, len);
}

static int vinput_sel_abs(struct devproc_info *info, uint16_t axis, int32_t min, int32_t max)
{
	uint8_t a[VIRTIO_INPUT_ABSINFO_LEN] = {0};

	vinput_put_le(a, (uint32_t)min, 4);
	vinput_put_le(a + 4, (uint32_t)max, 4);
	return vinput_sel_bytes(info, VIRTIO_INPUT_CFG_ABS_INFO, (uint8_t)axis, a, sizeof(a));
}

static int vinput_info_keyboard(struct devproc_info *info)
{
	static const uint16_t leds[] = {LED_NUML, LED_CAPSL, LED_SCROLLL};
	uint16_t keys[KEY_MAX + 1];
	size_t n = 0;
	int r;

	for (uint32_t c = 1; c <= KEY_MAX; c++)
		if (vinput_is_key(c))
			keys[n++] = (uint16_t)c;
	r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, keys, n);
	if (r < 0)
		return r;
	r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_LED, leds, 3);
	if (r < 0)
		return r;
	/* The driver only asks whether EV_REP has a size: the guest's input
	 * core then repeats held keys itself. */
	return vinput_sel_bytes(info, VIRTIO_INPUT_CFG_EV_BITS, EV_REP, (uint8_t[]){0}, 1);
}

static int vinput_info_pointer(struct devproc_info *info, bool absolute)
{
	static const uint16_t rel[] = {REL_X, REL_Y, REL_HWHEEL, REL_WHEEL};
	static const uint16_t wheels[] = {REL_HWHEEL, REL_WHEEL};
	static const uint16_t abs[] = {ABS_X, ABS_Y};
	int r;

	r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, vinput_buttons,
			    CELLVM_INPUT_BTN_COUNT);
	if (r < 0)
		return r;
	if (!absolute)
		return vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_REL, rel, 4);
	r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_REL, wheels, 2);
	if (r < 0)
		return r;
	r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, abs, 2);
	for (size_t i = 0; i < 2 && r == 0; i++)
		r = vinput_sel_abs(info, abs[i], 0, CELLVM_INPUT_ABS_MAX);
	return r;
}

static int vinput_info_touch(struct devproc_info *info)
{
	static const uint16_t props[] = {INPUT_PROP_DIRECT};
	static const uint16_t keys[] = {BTN_TOUCH};
	int r;

	r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_PROP_BITS, 0, props, 1);
	if (r == 0)
		r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, keys, 1);
	if (r == 0)
		r = vinput_sel_bits(info, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, vinput_touch_axes,
				    sizeof(vinput_touch_axes) / sizeof(vinput_touch_axes[0]));
	for (size_t i = 0; i < sizeof(vinput_touch_axes) / sizeof(vinput_touch_axes[0]) && r == 0;
	     i++) {
		uint16_t a = vinput_touch_axes[i];

		if (a == ABS_MT_SLOT)
			r = vinput_sel_abs(info, a, 0, CELLVM_INPUT_TOUCH_SLOTS - 1);
		else if (a == ABS_MT_TRACKING_ID)
			r = vinput_sel_abs(info, a, 0, 65535);
		else
			r = vinput_sel_abs(info, a, 0, CELLVM_INPUT_ABS_MAX);
	}
	return r;
}

int vinput_info(const struct vinput *v, struct devproc_info *info)
{
	uint8_t ids[VIRTIO_INPUT_DEVIDS_LEN];
	int r;

	info->device_id = VIRTIO_ID_INPUT;
	info->features = 1ULL << VIRTIO_F_VERSION_1;
	info->num_queues = 2;
	info->queue_max_size = VINPUT_QUEUE_SIZE;
	/* The core serves the window from the table; the bytes here are what
	 * an unselected window (select 0) reads. */
	memset(info->config, 0, VIRTIO_INPUT_CONFIG_LEN);
	info->config_len = VIRTIO_INPUT_CONFIG_LEN;
	info->nselects = 0;
	vinput_put_le(ids, v->id.bustype, 2);
	vinput_put_le(ids + 2, v->id.vendor, 2);
	vinput_put_le(ids + 4, v->id.product, 2);
	vinput_put_le(ids + 6, v->id.version, 2);
	r = vinput_sel_bytes(info, VIRTIO_INPUT_CFG_ID_NAME, 0, v->id.name,
			     strnlen(v->id.name, sizeof(v->id.name) - 1));
	if (r == 0)
		r = vinput_sel_bytes(info, VIRTIO_INPUT_CFG_ID_SERIAL, 0, v->id.serial,
				     strnlen(v->id.serial, sizeof(v->id.serial) - 1));
	if (r == 0)
		r = vinput_sel_bytes(info, VIRTIO_INPUT_CFG_ID_DEVIDS, 0, ids, sizeof(ids));
	if (r < 0)
		return r;
	switch (v->kind) {
	case VINPUT_KEYBOARD: return vinput_info_keyboard(info);
	case VINPUT_MOUSE: return vinput_info_pointer(info, false);
	case VINPUT_TABLET: return vinput_info_pointer(info, true);
	case VINPUT_TOUCH: return vinput_info_touch(info);
	}
	return -EINVAL;
}

/* ---- injected records to frames ---- */

struct vinput_frame {
	struct vinput_event ev[VINPUT_FRAME_MAX];
	uint32_t n;
};

static void vinput_frame_add(struct vinput_frame *f, uint16_t type, uint16_t code, int32_t value)
{
	/* Room for the SYN_REPORT is always left: the frames are built here. */
	if (f->n >= VINPUT_FRAME_MAX - 1)
		abort();
	f->ev[f->n++] = (struct vinput_event){.type = type, .code = code, .value = value};
}

/* Queue the frame and its SYN_REPORT whole, or nothing. */
static int vinput_frame_commit(struct vinput *v, struct vinput_frame *f)
{
	f->ev[f->n++] = (struct vinput_event){.type = EV_SYN, .code = SYN_REPORT, .value = 0};
	if (v->posted - v->consumed + f->n > VINPUT_QUEUE_EVENTS)
		return -ENOSPC;
	for (uint32_t i = 0; i < f->n; i++)
		v->ev[(v->posted + i) % VINPUT_QUEUE_EVENTS] = f->ev[i];
	v->posted += f->n;
	return 0;
}

static bool vinput_in(int32_t x, int32_t min, int32_t max)
{
	return x >= min && x <= max;
}

static int vinput_post_key(struct vinput *v, const struct cellvm_input_event *ev,
			   struct vinput_frame *f)
{
	if (v->kind != VINPUT_KEYBOARD || !vinput_is_key(ev->code))
		return -EINVAL;
	vinput_frame_add(f, EV_KEY, ev->code, ev->kind == CELLVM_INPUT_KEY_DOWN);
	return vinput_frame_commit(v, f);
}

static int vinput_post_pointer(struct vinput *v, const struct cellvm_input_event *ev,
			       struct vinput_frame *f)
{
	const int32_t rel = CELLVM_INPUT_REL_MAX, wheel = CELLVM_INPUT_WHEEL_MAX;

	if (v->kind != VINPUT_MOUSE && v->kind != VINPUT_TABLET)
		return -EINVAL;
	switch (ev->kind) {
	case CELLVM_INPUT_REL_MOVE:
		if (v->kind != VINPUT_MOUSE || !vinput_in(ev->a, -rel, rel) ||
		    !vinput_in(ev->b, -rel, rel))
			return -EINVAL;
		if (ev->a)
			vinput_frame_add(f, EV_REL, REL_X, ev->a);
		if (ev->b)
			vinput_frame_add(f, EV_REL, REL_Y, ev->b);
		break;
	case CELLVM_INPUT_ABS_MOVE:
		if (v->kind != VINPUT_TABLET || !vinput_in(ev->a, 0, CELLVM_INPUT_ABS_MAX) ||
		    !vinput_in(ev->b, 0, CELLVM_INPUT_ABS_MAX))
			return -EINVAL;
		vinput_frame_add(f, EV_ABS, ABS_X, ev->a);
		vinput_frame_add(f, EV_ABS, ABS_Y, ev->b);
		break;
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP:
		if (ev->code >= CELLVM_INPUT_BTN_COUNT)
			return -EINVAL;
		vinput_frame_add(f, EV_KEY, vinput_buttons[ev->code],
				 ev->kind == CELLVM_INPUT_BTN_DOWN);
		break;
	case CELLVM_INPUT_WHEEL:
		/* Both + away from the user / to the right, as Linux has them. */
		if (!vinput_in(ev->a, -wheel, wheel) || !vinput_in(ev->b, -wheel, wheel))
			return -EINVAL;
		if (ev->a)
			vinput_frame_add(f, EV_REL, REL_WHEEL, ev->a);
		if (ev->b)
			vinput_frame_add(f, EV_REL, REL_HWHEEL, ev->b);
		break;
	default: return -EINVAL;
	}
	return vinput_frame_commit(v, f);
}

static int vinput_oldest_contact(const struct vinput_contact *t)
{
	int p = -1;

	for (int i = 0; i < CELLVM_INPUT_TOUCH_SLOTS; i++)
		if (t[i].active && (p < 0 || t[i].since < t[p].since))
			p = i;
	return p;
}

/* Multi-touch protocol type B, with the single-touch pointer (BTN_TOUCH,
 * ABS_X/ABS_Y) following the oldest contact, as Linux's
 * input_mt_report_pointer_emulation() does. The state changes only when
 * the frame is queued. */
static int vinput_post_touch(struct vinput *v, const struct cellvm_input_event *ev,
			     struct vinput_frame *f)
{
	struct vinput_contact t[CELLVM_INPUT_TOUCH_SLOTS];
	const uint16_t slot = ev->code;
	bool any_before, any_after;
	int p, r;

	if (v->kind != VINPUT_TOUCH || slot >= CELLVM_INPUT_TOUCH_SLOTS)
		return -EINVAL;
	if (ev->kind != CELLVM_INPUT_TOUCH_UP && (!vinput_in(ev->a, 0, CELLVM_INPUT_ABS_MAX) ||
						  !vinput_in(ev->b, 0, CELLVM_INPUT_ABS_MAX)))
		return -EINVAL;
	if (ev->kind != CELLVM_INPUT_TOUCH_DOWN && !v->touch[slot].active)
		return -EINVAL;
	memcpy(t, v->touch, sizeof(t));
	any_before = vinput_oldest_contact(t) >= 0;
	vinput_frame_add(f, EV_ABS, ABS_MT_SLOT, slot);
	switch (ev->kind) {
	case CELLVM_INPUT_TOUCH_DOWN:
		/* Down on a slot already down: a new contact replaces it (a new
		 * tracking id ends the old one). */
		t[slot] = (struct vinput_contact){.active = true,
						  .tracking_id = v->next_tracking_id,
						  .x = ev->a,
						  .y = ev->b,
						  .since = v->touch_seq};
		vinput_frame_add(f, EV_ABS, ABS_MT_TRACKING_ID, v->next_tracking_id);
		vinput_frame_add(f, EV_ABS, ABS_MT_POSITION_X, ev->a);
		vinput_frame_add(f, EV_ABS, ABS_MT_POSITION_Y, ev->b);
		break;
	case CELLVM_INPUT_TOUCH_MOVE:
		t[slot].x = ev->a;
		t[slot].y = ev->b;
		vinput_frame_add(f, EV_ABS, ABS_MT_POSITION_X, ev->a);
		vinput_frame_add(f, EV_ABS, ABS_MT_POSITION_Y, ev->b);
		break;
	case CELLVM_INPUT_TOUCH_UP:
		t[slot].active = false;
		vinput_frame_add(f, EV_ABS, ABS_MT_TRACKING_ID, -1);
		break;
	default: return -EINVAL;
	}
	p = vinput_oldest_contact(t);
	any_after = p >= 0;
	if (any_before != any_after)
		vinput_frame_add(f, EV_KEY, BTN_TOUCH, any_after);
	if (p >= 0 && (p != v->pointer_slot || (p == slot && ev->kind != CELLVM_INPUT_TOUCH_UP))) {
		vinput_frame_add(f, EV_ABS, ABS_X, t[p].x);
		vinput_frame_add(f, EV_ABS, ABS_Y, t[p].y);
	}
	r = vinput_frame_commit(v, f);
	if (r < 0)
		return r;
	memcpy(v->touch, t, sizeof(t));
	v->pointer_slot = p;
	if (ev->kind == CELLVM_INPUT_TOUCH_DOWN) {
		v->next_tracking_id++; /* 0..65535, then around */
		v->touch_seq++;
	}
	return 0;
}

int vinput_post(struct vinput *v, const struct cellvm_input_event *ev)
{
	struct vinput_frame f = {.n = 0};

	/* UNTRUSTED(control channel): kind, code and coordinates are checked
	 * here again, against what this kind of device offers. */
	switch (ev->kind) {
	case CELLVM_INPUT_KEY_DOWN:
	case CELLVM_INPUT_KEY_UP: return vinput_post_key(v, ev, &f);
	case CELLVM_INPUT_REL_MOVE:
	case CELLVM_INPUT_ABS_MOVE:
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP:
	case CELLVM_INPUT_WHEEL: return vinput_post_pointer(v, ev, &f);
	case CELLVM_INPUT_TOUCH_DOWN:
	case CELLVM_INPUT_TOUCH_MOVE:
	case CELLVM_INPUT_TOUCH_UP: return vinput_post_touch(v, ev, &f);
	default: return -EINVAL;
	}
}

/* ---- the rings ---- */

/* Write e into the chain just popped from the eventq: the driver posts one
 * 8-byte device-writable buffer per event. */
static bool vinput_write_event(struct vinput *v, const struct vinput_event *e)
{
	const struct virtq_chain *c = &v->chain;
	uint8_t b[VIRTIO_INPUT_EVENT_LEN];
	uint32_t off = 0;

	/* UNTRUSTED(guest): the chain's shape; virtq_pop checked its ranges. */
	if (c->nread != 0 || c->write_len < sizeof(b))
		return false;
	vinput_put_le(b, e->type, 2);
	vinput_put_le(b + 2, e->code, 2);
	vinput_put_le(b + 4, (uint32_t)e->value, 4);
	for (uint32_t i = 0; i < c->nseg && off < sizeof(b); i++) {
		uint32_t n = c->seg[i].len < sizeof(b) - off ? c->seg[i].len : sizeof(b) - off;

		memcpy(c->seg[i].host, b + off, n);
		off += n;
	}
	return true;
}

/* One round used up the queue's size in pops: come back through the kick
 * eventfd, so a guest that keeps posting cannot hold the loop. */
static void vinput_rekick(const struct devproc_queue *dq)
{
	uint64_t one = 1;

	if (dq->kick_fd >= 0)
		(void)!write(dq->kick_fd, &one, sizeof(one));
}

void vinput_flush(struct vinput *v, struct devproc *dp)
{
	struct devproc_queue *dq = &dp->queues[VINPUT_EVENTQ];
	uint32_t budget;
	bool pushed = false;
	int r;

	if (!v->active || !v->evq_live || dp->needs_reset)
		return;
	budget = v->evq.size;
	while (v->consumed != v->posted) {
		if (budget-- == 0) {
			vinput_rekick(dq);
			break;
		}
		r = virtq_pop(&v->evq, &v->chain);
		if (r < 0) {
			devproc_needs_reset(dp, "invalid descriptor chain or available index "
						"(event queue)");
			return;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(&v->evq))
				break;
			continue;
		}
		v->bound = true;
		pushed = true;
		if (!vinput_write_event(v, &v->ev[v->consumed % VINPUT_QUEUE_EVENTS])) {
			v->count.bad_event_bufs++;
			virtq_push(&v->evq, v->chain.head, 0);
			continue;
		}
		virtq_push(&v->evq, v->chain.head, VIRTIO_INPUT_EVENT_LEN);
		v->consumed++;
		v->count.delivered++;
	}
	/* Nothing to send: whether the driver has posted buffers at all. */
	if (!v->bound && virtq_enable_kicks(&v->evq))
		v->bound = true;
	if (pushed && virtq_should_notify(&v->evq))
		devproc_notify(dp, dq);
}

/* Take the status event in v->chain (driver-written, 8 bytes). */
static void vinput_status_one(struct vinput *v)
{
	const struct virtq_chain *c = &v->chain;
	uint8_t b[VIRTIO_INPUT_EVENT_LEN];
	uint32_t off = 0;
	uint16_t type, code;
	uint32_t value;

	/* UNTRUSTED(guest): the buffer's shape and the event in it. */
	if (c->nread != c->nseg || c->read_len != sizeof(b)) {
		v->count.bad_status++;
		return;
	}
	for (uint32_t i = 0; i < c->nseg; i++) {
		memcpy(b + off, c->seg[i].host, c->seg[i].len);
		off += c->seg[i].len;
	}
	type = (uint16_t)(b[0] | b[1] << 8);
	code = (uint16_t)(b[2] | b[3] << 8);
	value = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	if (v->kind == VINPUT_KEYBOARD && type == EV_LED && code <= LED_SCROLLL) {
		if (value)
			v->leds |= (uint8_t)(1U << code);
		else
			v->leds &= (uint8_t) ~(1U << code);
		v->count.leds++;
		return;
	}
	/* EV_REP settings, sounds, LEDs not offered: nothing to do. */
	v->count.status_ignored++;
}

static void vinput_status(struct vinput *v, struct devproc *dp)
{
	struct devproc_queue *dq = &dp->queues[VINPUT_STATUSQ];
	uint32_t budget = v->stq.size;
	bool pushed = false;
	int r;

	if (!v->stq_live)
		return;
	for (;;) {
		if (budget-- == 0) {
			vinput_rekick(dq);
			break;
		}
		r = virtq_pop(&v->stq, &v->chain);
		if (r < 0) {
			devproc_needs_reset(dp, "invalid descriptor chain or available index "
						"(status queue)");
			return;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(&v->stq))
				break;
			continue;
		}
		vinput_status_one(v);
		virtq_push(&v->stq, v->chain.head, 0);
		pushed = true;
	}
	if (pushed && virtq_should_notify(&v->stq))
		devproc_notify(dp, dq);
}

void vinput_kick(struct devproc *dp, struct devproc_queue *q, struct vinput *v)
{
	if (!v->active || dp->needs_reset)
		return;
	if (q->index == VINPUT_EVENTQ)
		vinput_flush(v, dp);
	else if (q->index == VINPUT_STATUSQ)
		vinput_status(v, dp);
}

static int vinput_queue_init(struct devproc *dp, uint32_t i, struct virtq *vq, bool *live)
{
	struct devproc_queue *dq = &dp->queues[i];
	int r;

	*live = false;
	if (!dq->enabled)
		return 0;
	/* UNTRUSTED(guest): the ring size and addresses, relayed by the core;
	 * virtq_init checks them against guest RAM. */
	if (dq->size > VINPUT_QUEUE_SIZE)
		return -EINVAL;
	r = virtq_init(vq, &dp->mem, dq->size, dq->desc, dq->avail, dq->used, false, false);
	if (r < 0)
		return r;
	if (!dp->resume)
		virtq_track(vq, dq->inflight);
	*live = true;
	return 0;
}

int vinput_activate(struct vinput *v, struct devproc *dp)
{
	int r;

	vinput_reset(v);
	/* Legacy (pre-1.0) drivers are not served. */
	if (!(dp->features & (1ULL << VIRTIO_F_VERSION_1)) || dp->num_queues < 2)
		return -EINVAL;
	r = vinput_queue_init(dp, VINPUT_EVENTQ, &v->evq, &v->evq_live);
	if (r == 0)
		r = vinput_queue_init(dp, VINPUT_STATUSQ, &v->stq, &v->stq_live);
	if (r < 0) {
		v->evq_live = v->stq_live = false;
		return r;
	}
	v->active = true;
	return 0;
}

int vinput_resume(struct vinput *v, struct devproc *dp)
{
	static const struct vinput_event syn = {.type = EV_SYN, .code = SYN_REPORT};
	uint16_t heads[VINPUT_QUEUE_SIZE];
	int n;

	for (uint32_t i = 0; i < 2; i++) {
		struct virtq *vq = i == VINPUT_EVENTQ ? &v->evq : &v->stq;
		struct devproc_queue *dq = &dp->queues[i];

		if (!(i == VINPUT_EVENTQ ? v->evq_live : v->stq_live) || !dq->inflight)
			continue;
		n = virtq_resume(vq, dq->inflight, heads, vq->size);
		for (int k = 0; k < n; k++) {
			uint32_t len = 0;

			if (virtq_chain_at(vq, heads[k], &v->chain) < 0) {
				n = -EINVAL;
				break;
			}
			/* What the predecessor wrote there, if anything, is
			 * unknown: an empty frame is harmless. */
			if (i == VINPUT_EVENTQ && vinput_write_event(v, &syn))
				len = VIRTIO_INPUT_EVENT_LEN;
			virtq_push(vq, heads[k], len);
		}
		if (n < 0) {
			vinput_reset(v);
			return -EINVAL;
		}
		if (n > 0 && virtq_should_notify(vq))
			devproc_notify(dp, dq);
	}
	return 0;
}

void vinput_reset(struct vinput *v)
{
	v->active = v->bound = false;
	v->evq_live = v->stq_live = false;
}

uint64_t vinput_posted(const struct vinput *v)
{
	return v->posted;
}

uint64_t vinput_consumed(const struct vinput *v)
{
	return v->consumed;
}

bool vinput_bound(const struct vinput *v)
{
	return v->active && v->bound;
}

uint8_t vinput_leds(const struct vinput *v)
{
	return v->leds;
}

void vinput_stats(const struct vinput *v, struct devproc_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->requests = v->count.delivered + v->count.leds + v->count.status_ignored;
	out->bytes_out = v->count.delivered * VIRTIO_INPUT_EVENT_LEN;
	out->bytes_in = (v->count.leds + v->count.status_ignored) * VIRTIO_INPUT_EVENT_LEN;
	out->errors = v->count.bad_event_bufs + v->count.bad_status;
}
