/* Device tests for cellvm-dev-input as a whole: the real process started by
 * the launcher with the PS/2 port link and the four virtio-input functions,
 * the harness (test/harness/vin.h) as the core on every link, as the guest's
 * i8042 and virtio-input drivers, and as the launcher on the control channel.
 * Covers DeviceInfo of each function, injection on each backend and its
 * acknowledgement once the guest consumed it, order across devices, a guest
 * that does not read, the bounded queue, switching with a key held, the
 * state query, refused events, and hostile peers on the PS/2 link and the
 * control channel. Absence is shown by a later answer arriving first; every
 * wait is bounded. No KVM needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/input-event-codes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "test/harness/vin.h"

#define TMO CELLVM_INPUT_DELAY_MAX /* generous, as the device tests' bounds are */

#define ST_OK	     CELLVM__DEVICE__INPUT_STATUS__INPUT_OK
#define ST_PENDING   CELLVM__DEVICE__INPUT_STATUS__INPUT_PENDING
#define ST_NOT_AVAIL CELLVM__DEVICE__INPUT_STATUS__INPUT_NOT_AVAILABLE
#define ST_INVALID   CELLVM__DEVICE__INPUT_STATUS__INPUT_INVALID
#define ST_BUSY	     CELLVM__DEVICE__INPUT_STATUS__INPUT_BUSY

#define PS2 CELLVM_INPUT_BACKEND_PS2
#define VIO CELLVM_INPUT_BACKEND_VIRTIO

static struct vin T;

static struct cellvm_input_event key(uint16_t code, bool down, uint8_t backend)
{
	return (struct cellvm_input_event){
		.kind = down ? CELLVM_INPUT_KEY_DOWN : CELLVM_INPUT_KEY_UP,
		.backend = backend,
		.code = code,
	};
}

/* Started, every function active, the i8042 driver initialised, eventq
 * buffers posted on the keyboard. */
static void up(const struct vin_opts *o)
{
	assert_int_equal(vin_start(&T, o), 0);
	for (uint32_t f = 0; f < VIN_NFN; f++)
		assert_int_equal(vin_activate(&T, f), 0);
	assert_int_equal(vin_ps2_driver_init(&T), 0);
	assert_int_equal(vin_evbufs(&T, VIN_KBD, 32), 0);
}

static void up_default(void)
{
	up(&(struct vin_opts){.max_pending = 16, .default_backend = PS2});
}

static struct inctl_reply reply(void)
{
	struct inctl_reply r;

	assert_int_equal(inctl_reply(&T.ctl, &r, TMO), 0);
	return r;
}

/* The progress of id, asked after it: the answer to the query comes first
 * (nothing about id was answered before), PENDING with delivered. */
static void expect_pending(int64_t id, uint32_t delivered, uint32_t total)
{
	int64_t q = inctl_query(&T.ctl, (uint64_t)id);
	struct inctl_reply r;

	assert_true(q > 0);
	r = reply();
	assert_int_equal(r.id, q);
	assert_int_equal(r.status, ST_PENDING);
	assert_int_equal(r.delivered, delivered);
	assert_int_equal(r.total, total);
}

static void expect_ok(int64_t id, uint32_t n)
{
	struct inctl_reply r = reply();

	assert_int_equal(r.id, id);
	assert_int_equal(r.status, ST_OK);
	assert_int_equal(r.delivered, n);
	assert_int_equal(r.total, n);
}

static void expect_refused(int64_t id, uint32_t status, int32_t event)
{
	struct inctl_reply r = reply();

	assert_int_equal(r.id, id);
	assert_int_equal(r.status, status);
	assert_int_equal(r.delivered, 0);
	assert_int_equal(r.error_event, event);
	assert_true(r.error[0] != 0);
}

static void expect_event(uint32_t f, uint16_t type, uint16_t code, int32_t value)
{
	struct vin_event e;

	assert_int_equal(vin_event_wait(&T, f, &e, TMO), 1);
	assert_int_equal(e.type, type);
	assert_int_equal(e.code, code);
	assert_int_equal(e.value, value);
}

static void expect_key_frame(uint16_t code, int32_t value)
{
	expect_event(VIN_KBD, EV_KEY, code, value);
	expect_event(VIN_KBD, EV_SYN, SYN_REPORT, 0);
}

static int teardown(void **state)
{
	int status;

	(void)state;
	if (!T.started)
		return 0;
	status = vin_stop(&T);
	if (status != 0)
		fprintf(stderr, "device exit status %d\n", status);
	return status == 0 ? 0 : -1;
}

/* ---- DeviceInfo ---- */

static const struct devproc_config_select *sel(const struct vcore *c, uint8_t s, uint8_t sub)
{
	for (uint32_t i = 0; i < c->nselects; i++)
		if (c->selects[i].select == s && c->selects[i].subsel == sub)
			return &c->selects[i];
	return NULL;
}

static bool bit(const struct vcore *c, uint8_t s, uint8_t sub, uint32_t b)
{
	const struct devproc_config_select *e = sel(c, s, sub);

	return e && b / 8 < e->size && (e->data[b / 8] & (1U << (b % 8)));
}

static int32_t abs_max(const struct vcore *c, uint8_t axis)
{
	const struct devproc_config_select *e = sel(c, 0x12, axis);

	assert_non_null(e);
	assert_int_equal(e->size, 20);
	return (int32_t)((uint32_t)e->data[4] | (uint32_t)e->data[5] << 8 |
			 (uint32_t)e->data[6] << 16 | (uint32_t)e->data[7] << 24);
}

static void test_device_info(void **state)
{
	static const char *const names[VIN_NFN] = {"cellvm test keyboard", "cellvm test mouse",
						   "cellvm test tablet", "cellvm test touch"};

	(void)state;
	assert_int_equal(vin_start(&T, &(struct vin_opts){0}), 0);
	for (uint32_t f = 0; f < VIN_NFN; f++) {
		const struct vcore *c = &T.fn[f];
		const struct devproc_config_select *s;

		assert_int_equal(c->device_id, 18);
		assert_int_equal(c->num_queues, 2);
		assert_int_equal(c->config_len, 136);
		assert_true(c->features & (1ULL << 32));
		s = sel(c, 0x01, 0); /* ID_NAME */
		assert_non_null(s);
		assert_int_equal(s->size, strlen(names[f]));
		assert_memory_equal(s->data, names[f], s->size);
		s = sel(c, 0x03, 0); /* ID_DEVIDS: bustype virtual */
		assert_non_null(s);
		assert_int_equal(s->size, 8);
		assert_int_equal(s->data[0] | s->data[1] << 8, 0x06);
	}
	/* keyboard: keys, LEDs, repeat */
	assert_true(bit(&T.fn[VIN_KBD], 0x11, EV_KEY, KEY_A));
	assert_true(bit(&T.fn[VIN_KBD], 0x11, EV_KEY, KEY_LEFTSHIFT));
	assert_true(bit(&T.fn[VIN_KBD], 0x11, EV_LED, LED_CAPSL));
	assert_non_null(sel(&T.fn[VIN_KBD], 0x11, EV_REP));
	assert_null(sel(&T.fn[VIN_KBD], 0x11, EV_ABS));
	/* mouse: buttons, relative axes and wheels, no absolute axes */
	assert_true(bit(&T.fn[VIN_MOUSE], 0x11, EV_KEY, BTN_LEFT));
	assert_true(bit(&T.fn[VIN_MOUSE], 0x11, EV_KEY, BTN_EXTRA));
	assert_true(bit(&T.fn[VIN_MOUSE], 0x11, EV_REL, REL_X));
	assert_true(bit(&T.fn[VIN_MOUSE], 0x11, EV_REL, REL_Y));
	assert_true(bit(&T.fn[VIN_MOUSE], 0x11, EV_REL, REL_WHEEL));
	assert_null(sel(&T.fn[VIN_MOUSE], 0x11, EV_ABS));
	/* tablet: absolute X/Y over 0..32767, buttons */
	assert_true(bit(&T.fn[VIN_TABLET], 0x11, EV_ABS, ABS_X));
	assert_true(bit(&T.fn[VIN_TABLET], 0x11, EV_ABS, ABS_Y));
	assert_true(bit(&T.fn[VIN_TABLET], 0x11, EV_KEY, BTN_LEFT));
	assert_int_equal(abs_max(&T.fn[VIN_TABLET], ABS_X), CELLVM_INPUT_ABS_MAX);
	assert_int_equal(abs_max(&T.fn[VIN_TABLET], ABS_Y), CELLVM_INPUT_ABS_MAX);
	/* touch: a direct device with slots and tracking ids */
	assert_true(bit(&T.fn[VIN_TOUCH], 0x10, 0, INPUT_PROP_DIRECT));
	assert_true(bit(&T.fn[VIN_TOUCH], 0x11, EV_KEY, BTN_TOUCH));
	assert_true(bit(&T.fn[VIN_TOUCH], 0x11, EV_ABS, ABS_MT_SLOT));
	assert_true(bit(&T.fn[VIN_TOUCH], 0x11, EV_ABS, ABS_MT_POSITION_X));
	assert_true(bit(&T.fn[VIN_TOUCH], 0x11, EV_ABS, ABS_MT_TRACKING_ID));
	assert_int_equal(abs_max(&T.fn[VIN_TOUCH], ABS_MT_SLOT), CELLVM_INPUT_TOUCH_SLOTS - 1);
	assert_int_equal(abs_max(&T.fn[VIN_TOUCH], ABS_MT_POSITION_X), CELLVM_INPUT_ABS_MAX);
}

/* ---- injection ---- */

static void test_ps2_key(void **state)
{
	struct cellvm_input_event ev[2] = {key(KEY_A, true, 0), key(KEY_A, false, 0)};
	struct pollfd pfd;
	int64_t id;

	(void)state;
	up_default();
	id = inctl_inject(&T.ctl, PS2, ev, 2);
	assert_true(id > 0);
	/* IRQ 1 says a byte is there; the request is not answered yet. */
	pfd = (struct pollfd){.fd = T.irq[0], .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, TMO), 1);
	expect_pending(id, 0, 2);
	/* Set 2 translated to set 1: make 0x1e, break 0x9e. */
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0x1e);
	expect_pending(id, 1, 2);
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0x9e);
	expect_ok(id, 2);
	assert_int_equal(vin_ps2_obf(&T), 0);
	assert_false(inctl_reply_ready(&T.ctl));
}

static void test_virtio_key(void **state)
{
	struct cellvm_input_event ev[2] = {key(KEY_A, true, 0), key(KEY_A, false, 0)};
	int64_t id;

	(void)state;
	up_default();
	id = inctl_inject(&T.ctl, VIO, ev, 2);
	assert_true(id > 0);
	assert_int_equal(vin_irq_wait(&T, VIN_KBD, TMO), 1);
	expect_key_frame(KEY_A, 1);
	expect_key_frame(KEY_A, 0);
	expect_ok(id, 2);
	/* Nothing went to the PS/2 keyboard. */
	assert_int_equal(vin_ps2_obf(&T), 0);
}

/* A virtio keyboard without eventq buffers holds the events; the request is
 * answered once the driver posts some and they are used. */
static void test_virtio_no_buffers(void **state)
{
	struct cellvm_input_event ev[2] = {key(KEY_B, true, VIO), key(KEY_B, false, VIO)};
	struct vin_event e;
	int64_t id;

	(void)state;
	assert_int_equal(vin_start(&T, &(struct vin_opts){0}), 0);
	assert_int_equal(vin_activate(&T, VIN_KBD), 0);
	assert_int_equal(vin_ps2_driver_init(&T), 0);
	id = inctl_inject(&T.ctl, 0, ev, 2);
	assert_true(id > 0);
	expect_pending(id, 0, 2);
	assert_int_equal(vin_event_next(&T, VIN_KBD, &e), 0);
	assert_int_equal(vin_evbufs(&T, VIN_KBD, 4), 0);
	expect_key_frame(KEY_B, 1);
	expect_key_frame(KEY_B, 0);
	expect_ok(id, 2);
}

/* A PS/2 key then a virtio key: the virtio event is not posted before the
 * guest read the PS/2 bytes. */
static void test_order_across_devices(void **state)
{
	struct cellvm_input_event ev[2] = {key(KEY_A, true, PS2), key(KEY_B, true, VIO)};
	struct vin_event e;
	int64_t id;

	(void)state;
	up_default();
	id = inctl_inject(&T.ctl, 0, ev, 2);
	assert_true(id > 0);
	expect_pending(id, 0, 2);
	assert_int_equal(vin_event_next(&T, VIN_KBD, &e), 0);
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0x1e);
	expect_key_frame(KEY_B, 1);
	expect_ok(id, 2);
	/* Release both, the other way round. */
	ev[0] = key(KEY_B, false, VIO);
	ev[1] = key(KEY_A, false, PS2);
	id = inctl_inject(&T.ctl, 0, ev, 2);
	expect_key_frame(KEY_B, 0);
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0x9e);
	expect_ok(id, 2);
}

/* A guest that does not read: no answer, progress says how far it got; the
 * answer comes once it reads. */
static void test_guest_not_reading(void **state)
{
	struct cellvm_input_event ev[4] = {key(KEY_A, true, 0), key(KEY_A, false, 0),
					   key(KEY_B, true, 0), key(KEY_B, false, 0)};
	static const uint8_t bytes[4] = {0x1e, 0x9e, 0x30, 0xb0};
	int64_t id;

	(void)state;
	up_default();
	id = inctl_inject(&T.ctl, PS2, ev, 4);
	assert_true(id > 0);
	expect_pending(id, 0, 4);
	assert_int_equal(vin_ps2_read_key(&T, TMO), bytes[0]);
	expect_pending(id, 1, 4);
	expect_pending(id, 1, 4);
	for (int i = 1; i < 4; i++)
		assert_int_equal(vin_ps2_read_key(&T, TMO), bytes[i]);
	expect_ok(id, 4);
	/* A query for a request that is done. */
	id = inctl_query(&T.ctl, (uint64_t)id);
	assert_int_equal(reply().status, ST_OK);
}

/* max_pending 16: a request that does not fit is refused whole, and one
 * that fits goes through the PS/2 keyboard's 16-byte queue. */
static void test_queue_bound(void **state)
{
	struct cellvm_input_event ev[17];
	struct inctl_reply r;
	int64_t id, id2;

	(void)state;
	up_default();
	for (int i = 0; i < 17; i++)
		ev[i] = key(KEY_A, i % 2 == 0, 0);
	id = inctl_inject(&T.ctl, PS2, ev, 17);
	r = reply();
	assert_int_equal(r.id, id);
	assert_int_equal(r.status, ST_BUSY);
	assert_int_equal(r.delivered, 0);
	assert_int_equal(r.total, 17);
	assert_int_equal(r.pending, 0);
	assert_int_equal(vin_ps2_obf(&T), 0);
	/* 10 queued, 7 more do not fit beside them. */
	id = inctl_inject(&T.ctl, PS2, ev, 10);
	id2 = inctl_inject(&T.ctl, PS2, ev, 7);
	r = reply();
	assert_int_equal(r.id, id2);
	assert_int_equal(r.status, ST_BUSY);
	assert_int_equal(r.pending, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(vin_ps2_read_key(&T, TMO), i % 2 ? 0x9e : 0x1e);
	expect_ok(id, 10);
	/* 16 fit: 24 bytes through a 16-byte keyboard queue, in order. */
	id = inctl_inject(&T.ctl, PS2, ev, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(vin_ps2_read_key(&T, TMO), i % 2 ? 0x9e : 0x1e);
	expect_ok(id, 16);
}

static void test_switch_releases_held(void **state)
{
	struct cellvm_input_event ev[2] = {key(KEY_LEFTSHIFT, true, 0)};
	struct inctl_reply r;
	int64_t id;

	(void)state;
	up_default();
	id = inctl_inject(&T.ctl, 0, ev, 1); /* the active backend: ps2 */
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0x2a);
	expect_ok(id, 1);
	id = inctl_switch(&T.ctl, VIO);
	r = reply();
	assert_int_equal(r.id, id);
	assert_int_equal(r.status, ST_OK);
	assert_int_equal(r.active_backend, VIO);
	/* Shift released on the AT keyboard, nothing on the virtio one. */
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0xaa);
	ev[0] = key(KEY_A, true, 0);
	ev[1] = key(KEY_A, false, 0);
	id = inctl_inject(&T.ctl, 0, ev, 2);
	expect_key_frame(KEY_A, 1);
	expect_key_frame(KEY_A, 0);
	expect_ok(id, 2);
	assert_int_equal(vin_ps2_obf(&T), 0);
	/* Switching to what is active, or to a backend the VM lacks. */
	id = inctl_switch(&T.ctl, VIO);
	assert_int_equal(reply().status, ST_OK);
	id = inctl_switch(&T.ctl, CELLVM_INPUT_BACKEND_USB);
	r = reply();
	assert_int_equal(r.id, id);
	assert_int_equal(r.status, ST_NOT_AVAIL);
	assert_int_equal(r.active_backend, VIO);
}

static const struct inctl_backend *backend_of(const struct inctl_reply *r, uint32_t b)
{
	for (uint32_t i = 0; i < r->nbackends; i++)
		if (r->backends[i].backend == b)
			return &r->backends[i];
	return NULL;
}

/* Query 0: per backend whether the guest's driver bound it; events for a
 * keyboard with scanning off wait for it. */
static void test_query_state(void **state)
{
	struct cellvm_input_event ev[1] = {key(KEY_A, true, PS2)};
	struct inctl_reply r;
	int64_t id, id2;

	(void)state;
	assert_int_equal(vin_start(&T, &(struct vin_opts){.default_backend = VIO}), 0);
	for (uint32_t f = 0; f < VIN_NFN; f++)
		assert_int_equal(vin_activate(&T, f), 0);
	assert_int_equal(vin_ps2_driver_init(&T), 0);
	assert_int_equal(vin_ps2_io(&T, 0x60, true, 0xf5), 0); /* scanning off */
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0xfa);
	id = inctl_query(&T.ctl, 0);
	r = reply();
	assert_int_equal(r.id, id);
	assert_int_equal(r.status, ST_OK);
	assert_int_equal(r.active_backend, VIO);
	assert_int_equal(r.nbackends, 2);
	assert_false(backend_of(&r, PS2)->bound);
	assert_false(backend_of(&r, VIO)->bound);
	assert_non_null(strstr(backend_of(&r, PS2)->detail, "keyboard off"));
	assert_non_null(strstr(backend_of(&r, VIO)->detail, "keyboard unbound"));

	/* The PS/2 key waits for scanning; the virtio keyboard binds. */
	id = inctl_inject(&T.ctl, 0, ev, 1);
	expect_pending(id, 0, 1);
	assert_int_equal(vin_evbufs(&T, VIN_KBD, 4), 0);
	ev[0] = key(KEY_B, true, VIO);
	id2 = inctl_inject(&T.ctl, 0, ev, 1); /* behind the PS/2 key */
	assert_int_equal(vin_ps2_io(&T, 0x60, true, 0xf4), 0);
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0xfa);
	assert_int_equal(vin_ps2_read_key(&T, TMO), 0x1e);
	expect_ok(id, 1);
	expect_key_frame(KEY_B, 1);
	expect_ok(id2, 1);
	id = inctl_query(&T.ctl, 0);
	r = reply();
	assert_true(backend_of(&r, PS2)->bound);
	assert_true(backend_of(&r, VIO)->bound);
	assert_non_null(strstr(backend_of(&r, PS2)->detail, "keyboard scanning"));
	assert_non_null(strstr(backend_of(&r, VIO)->detail, "keyboard bound"));
	assert_non_null(strstr(backend_of(&r, VIO)->detail, "mouse unbound"));
	assert_int_equal(r.pending, 0);
}

static void test_refused_events(void **state)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputInject inj = CELLVM__DEVICE__INPUT_INJECT__INIT;
	struct cellvm_input_event ev[2];
	uint8_t odd[17] = {0};
	int64_t id;

	(void)state;
	up_default();
	/* An absolute move on ps2, named by its index. */
	ev[0] = key(KEY_A, true, 0);
	ev[1] = (struct cellvm_input_event){.kind = CELLVM_INPUT_ABS_MOVE, .a = 10, .b = 10};
	id = inctl_inject(&T.ctl, PS2, ev, 2);
	expect_refused(id, ST_INVALID, 1);
	/* A touch on ps2. */
	ev[1] = (struct cellvm_input_event){.kind = CELLVM_INPUT_TOUCH_DOWN, .a = 1, .b = 1};
	id = inctl_inject(&T.ctl, PS2, ev, 2);
	expect_refused(id, ST_INVALID, 1);
	/* Bad records. */
	ev[0] = (struct cellvm_input_event){.kind = 99, .code = KEY_A};
	id = inctl_inject(&T.ctl, VIO, ev, 1);
	expect_refused(id, ST_INVALID, 0);
	ev[0] = key(KEY_A, true, 0);
	ev[0].reserved = 1;
	id = inctl_inject(&T.ctl, VIO, ev, 1);
	expect_refused(id, ST_INVALID, 0);
	ev[0] = key(0, true, 0);
	id = inctl_inject(&T.ctl, VIO, ev, 1);
	expect_refused(id, ST_INVALID, 0);
	ev[0] = key(CELLVM_INPUT_KEY_MAX + 1, true, 0);
	id = inctl_inject(&T.ctl, VIO, ev, 1);
	expect_refused(id, ST_INVALID, 0);
	ev[0] = key(KEY_A, true, 0);
	ev[0].delay_ms = CELLVM_INPUT_DELAY_MAX + 1;
	id = inctl_inject(&T.ctl, VIO, ev, 1);
	expect_refused(id, ST_INVALID, 0);
	/* usb is not built: not available, naming the event. */
	ev[0] = key(KEY_A, true, 0);
	ev[1] = key(KEY_A, true, CELLVM_INPUT_BACKEND_USB);
	id = inctl_inject(&T.ctl, VIO, ev, 2);
	expect_refused(id, ST_NOT_AVAIL, 1);
	/* Bytes that are not whole records. */
	inj.backend = VIO;
	inj.events.data = odd;
	inj.events.len = sizeof(odd);
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT;
	cmd.inject = &inj;
	id = inctl_cmd(&T.ctl, 0, &cmd, NULL, 0);
	expect_refused(id, ST_INVALID, -1);
	/* Nothing of it reached the guest; the device goes on. */
	assert_int_equal(vin_ps2_obf(&T), 0);
	ev[0] = key(KEY_A, true, VIO);
	id = inctl_inject(&T.ctl, 0, ev, 1);
	expect_key_frame(KEY_A, 1);
	expect_ok(id, 1);
}

/* ---- hostile peers: the process exits with status 1 ---- */

static void expect_exit_1(void)
{
	assert_int_equal(vcore_wait_exit(&T.fn[0], TMO), 1);
	(void)vin_stop(&T);
}

static void hostile_up(void)
{
	assert_int_equal(vin_start(&T, &(struct vin_opts){0}), 0);
	assert_int_equal(vin_ps2_attach(&T), 0);
	/* The link works before the violation. */
	assert_int_equal(vin_ps2_io(&T, 0x64, false, 0) & 0x10, 0x10);
}

static void test_hostile_port(void **state)
{
	(void)state;
	hostile_up();
	assert_int_equal(vin_ps2_send(&T, 0x61, false, 0), 0);
	expect_exit_1();
}

static void test_hostile_value(void **state)
{
	(void)state;
	hostile_up();
	assert_int_equal(vin_ps2_send(&T, 0x60, true, 0x100), 0);
	expect_exit_1();
}

static void test_hostile_second_attach(void **state)
{
	(void)state;
	hostile_up();
	assert_int_equal(vin_ps2_attach(&T), 0);
	expect_exit_1();
}

static void test_hostile_access_before_attach(void **state)
{
	(void)state;
	assert_int_equal(vin_start(&T, &(struct vin_opts){0}), 0);
	assert_int_equal(vin_ps2_send(&T, 0x64, false, 0), 0);
	expect_exit_1();
}

static void test_hostile_attach_one_fd(void **state)
{
	(void)state;
	assert_int_equal(vin_start(&T, &(struct vin_opts){0}), 0);
	assert_int_equal(vin_ps2_attach_fds(&T, T.irq, 1), 0);
	expect_exit_1();
}

static void test_hostile_cmd_id0(void **state)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputQuery q = CELLVM__DEVICE__INPUT_QUERY__INIT;

	(void)state;
	hostile_up();
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
	cmd.query = &q;
	/* inctl_cmd takes 0 as "the next id": make that id 0. */
	T.ctl.next_id = 0;
	assert_int_equal(inctl_cmd(&T.ctl, 0, &cmd, NULL, 0), 0);
	expect_exit_1();
}

static void test_hostile_cmd_fds(void **state)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputQuery q = CELLVM__DEVICE__INPUT_QUERY__INIT;
	int fd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	hostile_up();
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_QUERY;
	cmd.query = &q;
	assert_true(inctl_cmd(&T.ctl, 0, &cmd, &fd, 1) > 0);
	close(fd);
	expect_exit_1();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_device_info, teardown),
		cmocka_unit_test_teardown(test_ps2_key, teardown),
		cmocka_unit_test_teardown(test_virtio_key, teardown),
		cmocka_unit_test_teardown(test_virtio_no_buffers, teardown),
		cmocka_unit_test_teardown(test_order_across_devices, teardown),
		cmocka_unit_test_teardown(test_guest_not_reading, teardown),
		cmocka_unit_test_teardown(test_queue_bound, teardown),
		cmocka_unit_test_teardown(test_switch_releases_held, teardown),
		cmocka_unit_test_teardown(test_query_state, teardown),
		cmocka_unit_test_teardown(test_refused_events, teardown),
		cmocka_unit_test_teardown(test_hostile_port, teardown),
		cmocka_unit_test_teardown(test_hostile_value, teardown),
		cmocka_unit_test_teardown(test_hostile_second_attach, teardown),
		cmocka_unit_test_teardown(test_hostile_access_before_attach, teardown),
		cmocka_unit_test_teardown(test_hostile_attach_one_fd, teardown),
		cmocka_unit_test_teardown(test_hostile_cmd_id0, teardown),
		cmocka_unit_test_teardown(test_hostile_cmd_fds, teardown),
	};

	inctl_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
