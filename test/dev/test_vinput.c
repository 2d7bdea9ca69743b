/* In-process tests of dev-procs/input/vinput: the virtio-input model driven
 * over real split rings in a guest-RAM memfd, the test playing Linux's
 * virtio_input driver (8-byte device-writable eventq buffers, 8-byte
 * driver-written status buffers). Covers each kind's configuration table,
 * every record kind's frame as it reaches the used ring, multi-touch slots
 * and tracking ids, frames spanning kicks, the bounded queue (-ENOSPC, then
 * delivery), LEDs, hostile status and event buffers, ring abuse, resets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev-procs/input/vinput.h"
#include "test/harness/vdriver.h"

#define MiB (1ULL << 20)

static struct vdrv_mem M;
static struct vdrv_queue EQ, SQ;
static struct devproc DP;
static struct vinput V;
static uint64_t bufgpa[VIRTQ_MAX_SIZE]; /* eventq buffer of each head */

/* The frame's two calls the model makes, done here as devproc.c does them
 * minus the link to the core, which these tests do not have. */
void devproc_notify(struct devproc *dp, const struct devproc_queue *q)
{
	uint64_t one = 1;

	(void)dp;
	assert_int_equal(write(q->irq_fd, &one, sizeof(one)), sizeof(one));
}

void devproc_needs_reset(struct devproc *dp, const char *reason)
{
	assert_non_null(reason);
	dp->needs_reset = true;
}

static int setup(void **state)
{
	(void)state;
	return vdrv_mem_create(&M, 16 * MiB);
}

static int teardown(void **state)
{
	(void)state;
	vdrv_mem_destroy(&M);
	return 0;
}

static void close_fds(void)
{
	for (uint32_t i = 0; i < 2; i++) {
		if (DP.queues[i].kick_fd > 0)
			close(DP.queues[i].kick_fd);
		if (DP.queues[i].irq_fd > 0)
			close(DP.queues[i].irq_fd);
		DP.queues[i].kick_fd = DP.queues[i].irq_fd = -1;
	}
}

/* Fresh rings (eventq of esize entries, statusq of 8) and DRIVER_OK. */
static void rings(uint32_t esize)
{
	struct vdrv_queue *q[2] = {&EQ, &SQ};

	close_fds();
	assert_int_equal(vdrv_queue_init(&EQ, &M, 0, esize), 0);
	assert_int_equal(vdrv_queue_init(&SQ, &M, 1, 8), 0);
	DP.features = 1ULL << VIRTIO_F_VERSION_1;
	DP.num_queues = 2;
	DP.needs_reset = false;
	for (uint32_t i = 0; i < 2; i++) {
		DP.queues[i] = (struct devproc_queue){
			.index = i,
			.size = q[i]->size,
			.desc = q[i]->desc,
			.avail = q[i]->avail,
			.used = q[i]->used,
			.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
			.irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
			.enabled = true,
		};
		assert_true(DP.queues[i].kick_fd >= 0 && DP.queues[i].irq_fd >= 0);
		q[i]->kick_fd = DP.queues[i].kick_fd;
	}
	assert_int_equal(vinput_activate(&V, &DP), 0);
}

static void dev(enum vinput_kind kind, uint32_t esize)
{
	close_fds();
	M.next = VDRV_ALLOC_START;
	memset(&DP, 0, sizeof(DP));
	DP.mem = M.mem;
	DP.irq_fd = DP.link_fd = DP.ctl_fd = DP.epfd = DP.mem_fd = -1;
	DP.queues[0].kick_fd = DP.queues[1].kick_fd = -1;
	DP.queues[0].irq_fd = DP.queues[1].irq_fd = -1;
	vinput_init(&V, kind, NULL);
	rings(esize);
}

static uint64_t irqs(uint32_t q)
{
	uint64_t n = 0;

	if (read(DP.queues[q].irq_fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* Post n eventq buffers as virtinput_queue_evtbuf() does, and kick. */
static void evbufs(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = vdrv_alloc(&M, 8, 8);
		struct vdrv_buf b = {.gpa = gpa, .len = 8, .write = true};
		uint16_t head = vdrv_chain(&EQ, &b, 1);

		bufgpa[head] = gpa;
		memset(vdrv_host(&M, gpa, 8), 0xee, 8);
		vdrv_avail_add(&EQ, head);
	}
	vinput_kick(&DP, &DP.queues[0], &V);
}

static void expect(uint16_t type, uint16_t code, int32_t value)
{
	uint32_t id, len;
	uint8_t e[8];

	assert_int_equal(vdrv_used_next(&EQ, &id, &len), 1);
	assert_int_equal(len, 8);
	memcpy(e, vdrv_host(&M, bufgpa[id], 8), 8);
	assert_int_equal(e[0] | e[1] << 8, type);
	assert_int_equal(e[2] | e[3] << 8, code);
	assert_int_equal((int32_t)((uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 |
				   (uint32_t)e[7] << 24),
			 value);
}

static void expect_syn(void)
{
	expect(EV_SYN, SYN_REPORT, 0);
}

static void expect_none(void)
{
	uint32_t id, len;

	assert_int_equal(vdrv_used_next(&EQ, &id, &len), 0);
}

static int post(uint8_t kind, uint16_t code, int32_t a, int32_t b)
{
	struct cellvm_input_event ev = {.kind = kind, .code = code, .a = a, .b = b};

	return vinput_post(&V, &ev);
}

/* ---- the configuration table ---- */

static struct devproc_info I;

static const struct devproc_config_select *sel(uint8_t select, uint8_t subsel)
{
	for (size_t i = 0; i < I.nselects; i++)
		if (I.selects[i].select == select && I.selects[i].subsel == subsel)
			return &I.selects[i];
	return NULL;
}

static bool bit(uint8_t select, uint8_t subsel, uint32_t b)
{
	const struct devproc_config_select *s = sel(select, subsel);

	return s && b / 8 < s->size && (s->data[b / 8] & (1U << (b % 8)));
}

static void info(enum vinput_kind kind)
{
	memset(&I, 0x5a, sizeof(I));
	vinput_init(&V, kind, NULL);
	assert_int_equal(vinput_info(&V, &I), 0);
	assert_int_equal(I.device_id, 18);
	assert_int_equal(I.features, 1ULL << VIRTIO_F_VERSION_1);
	assert_int_equal(I.num_queues, 2);
	assert_int_equal(I.config_len, 136);
	assert_true(I.queue_max_size >= 8 && I.queue_max_size <= 256);
	assert_true(I.nselects <= DEVPROC_MAX_SELECTS);
	for (size_t i = 0; i < I.nselects; i++) {
		assert_true(I.selects[i].size > 0 && I.selects[i].size <= DEVPROC_SELECT_DATA_MAX);
		for (size_t k = 0; k < i; k++)
			assert_false(I.selects[k].select == I.selects[i].select &&
				     I.selects[k].subsel == I.selects[i].subsel);
	}
}

static void expect_str(uint8_t select, const char *want)
{
	const struct devproc_config_select *s = sel(select, 0);

	assert_non_null(s);
	assert_int_equal(s->size, strlen(want));
	assert_memory_equal(s->data, want, strlen(want));
}

static void expect_devids(uint16_t product)
{
	const struct devproc_config_select *s = sel(VIRTIO_INPUT_CFG_ID_DEVIDS, 0);

	assert_non_null(s);
	assert_int_equal(s->size, 8);
	assert_int_equal(s->data[0] | s->data[1] << 8, 0x06); /* BUS_VIRTUAL */
	assert_int_equal(s->data[2] | s->data[3] << 8, 0x0627);
	assert_int_equal(s->data[4] | s->data[5] << 8, product);
}

static void expect_absinfo(uint8_t axis, int32_t min, int32_t max)
{
	const struct devproc_config_select *s = sel(VIRTIO_INPUT_CFG_ABS_INFO, axis);
	int32_t v[5];

	assert_non_null(s);
	assert_int_equal(s->size, 20);
	for (int i = 0; i < 5; i++) {
		uint32_t le;

		memcpy(&le, s->data + 4 * i, 4);
		v[i] = (int32_t)le32toh(le);
	}
	assert_int_equal(v[0], min);
	assert_int_equal(v[1], max);
	assert_int_equal(v[2], 0);
	assert_int_equal(v[3], 0);
}

static void test_config_keyboard(void **state)
{
	static const uint16_t keys[] = {KEY_ESC, KEY_A,	      KEY_ENTER,  KEY_LEFTSHIFT,
					KEY_F12, KEY_F24,     KEY_MUTE,	  KEY_POWER,
					KEY_OK,	 KEY_MICMUTE, KEY_MACRO1, KEY_KBD_LCD_MENU5};
	static const uint16_t not_keys[] = {
		0,	   BTN_LEFT,	BTN_TOUCH,	   BTN_TRIGGER,
		BTN_SOUTH, BTN_DPAD_UP, BTN_TRIGGER_HAPPY, BTN_TRIGGER_HAPPY40};

	(void)state;
	info(VINPUT_KEYBOARD);
	expect_str(VIRTIO_INPUT_CFG_ID_NAME, "cellvm virtio keyboard");
	expect_str(VIRTIO_INPUT_CFG_ID_SERIAL, "cellvm-keyboard");
	expect_devids(1);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, keys[i]));
	for (size_t i = 0; i < sizeof(not_keys) / sizeof(not_keys[0]); i++)
		assert_false(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, not_keys[i]));
	assert_true(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY)->size <= (KEY_MAX + 1) / 8);
	assert_int_equal(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_LED)->size, 1);
	assert_int_equal(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_LED)->data[0], 0x07);
	assert_non_null(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_REP));
	assert_null(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_REL));
	assert_null(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS));
	assert_null(sel(VIRTIO_INPUT_CFG_PROP_BITS, 0));
}

static void test_config_pointers(void **state)
{
	static const uint16_t btns[] = {BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA};

	(void)state;
	info(VINPUT_MOUSE);
	expect_str(VIRTIO_INPUT_CFG_ID_NAME, "cellvm virtio mouse");
	expect_devids(2);
	for (size_t i = 0; i < 5; i++)
		assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, btns[i]));
	assert_false(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, BTN_TOUCH));
	assert_false(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, KEY_A));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_REL, REL_X));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_REL, REL_Y));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_REL, REL_WHEEL));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_REL, REL_HWHEEL));
	assert_null(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS));
	assert_null(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_LED));
	assert_null(sel(VIRTIO_INPUT_CFG_PROP_BITS, 0));

	/* The tablet: an absolute mouse (no INPUT_PROP_DIRECT: not a
	 * touchscreen to the guest's udev and libinput). */
	info(VINPUT_TABLET);
	expect_str(VIRTIO_INPUT_CFG_ID_NAME, "cellvm virtio tablet");
	expect_devids(3);
	for (size_t i = 0; i < 5; i++)
		assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, btns[i]));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, ABS_X));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, ABS_Y));
	assert_false(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, ABS_MT_SLOT));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_REL, REL_WHEEL));
	assert_false(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_REL, REL_X));
	expect_absinfo(ABS_X, 0, 32767);
	expect_absinfo(ABS_Y, 0, 32767);
	assert_null(sel(VIRTIO_INPUT_CFG_PROP_BITS, 0));
}

static void test_config_touch(void **state)
{
	static const uint16_t axes[] = {ABS_X,
					ABS_Y,
					ABS_MT_SLOT,
					ABS_MT_TRACKING_ID,
					ABS_MT_POSITION_X,
					ABS_MT_POSITION_Y};
	struct vinput_identity id = {.name = "panel", .bustype = 3, .vendor = 1, .product = 2};

	(void)state;
	info(VINPUT_TOUCH);
	expect_str(VIRTIO_INPUT_CFG_ID_NAME, "cellvm virtio touchscreen");
	expect_devids(4);
	assert_true(bit(VIRTIO_INPUT_CFG_PROP_BITS, 0, INPUT_PROP_DIRECT));
	assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, BTN_TOUCH));
	assert_false(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, BTN_LEFT));
	for (size_t i = 0; i < 6; i++)
		assert_true(bit(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, axes[i]));
	expect_absinfo(ABS_X, 0, 32767);
	expect_absinfo(ABS_Y, 0, 32767);
	expect_absinfo(ABS_MT_POSITION_X, 0, 32767);
	expect_absinfo(ABS_MT_POSITION_Y, 0, 32767);
	expect_absinfo(ABS_MT_SLOT, 0, 9);
	expect_absinfo(ABS_MT_TRACKING_ID, 0, 65535);
	assert_null(sel(VIRTIO_INPUT_CFG_EV_BITS, EV_REL));

	/* A given identity; an empty serial is not listed. */
	vinput_init(&V, VINPUT_TOUCH, &id);
	assert_int_equal(vinput_info(&V, &I), 0);
	expect_str(VIRTIO_INPUT_CFG_ID_NAME, "panel");
	assert_null(sel(VIRTIO_INPUT_CFG_ID_SERIAL, 0));
	assert_int_equal(sel(VIRTIO_INPUT_CFG_ID_DEVIDS, 0)->data[0], 3);
	/* A name filling the whole field is cut to 63 bytes. */
	memset(id.name, 'n', sizeof(id.name));
	vinput_init(&V, VINPUT_TOUCH, &id);
	assert_int_equal(vinput_info(&V, &I), 0);
	assert_int_equal(sel(VIRTIO_INPUT_CFG_ID_NAME, 0)->size, 63);
}

/* ---- events ---- */

static void test_keyboard(void **state)
{
	(void)state;
	dev(VINPUT_KEYBOARD, 16);
	assert_false(vinput_bound(&V));
	evbufs(8);
	assert_true(vinput_bound(&V));
	assert_int_equal(irqs(0), 0); /* nothing written yet */
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_A, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_KEY_UP, KEY_A, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_MICMUTE, 0, 0), 0);
	assert_int_equal(vinput_posted(&V), 6);
	assert_int_equal(vinput_consumed(&V), 0);
	vinput_flush(&V, &DP);
	assert_true(irqs(0) >= 1);
	expect(EV_KEY, KEY_A, 1);
	expect_syn();
	expect(EV_KEY, KEY_A, 0);
	expect_syn();
	expect(EV_KEY, KEY_MICMUTE, 1);
	expect_syn();
	expect_none();
	assert_int_equal(vinput_consumed(&V), 6);

	/* Not a keyboard's: buttons, pointer motion, key 0, buttons as keys,
	 * codes past KEY_MAX, unknown kinds. Nothing is queued. */
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, 0, 0, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 0, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, 0, 0, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, BTN_LEFT, 0, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_MAX + 1, 0, 0), -EINVAL);
	assert_int_equal(post(0, KEY_A, 0, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_KIND_MAX + 1, KEY_A, 0, 0), -EINVAL);
	assert_int_equal(vinput_posted(&V), 6);
}

static void test_mouse(void **state)
{
	(void)state;
	dev(VINPUT_MOUSE, 64);
	evbufs(64);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 5, -3), 0);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 0, 7), 0);
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_LEFT, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_BTN_UP, CELLVM_INPUT_BTN_LEFT, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_EXTRA, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_WHEEL, 0, 1, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_WHEEL, 0, -2, 3), 0);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, -32767, 32767), 0);
	vinput_flush(&V, &DP);
	expect(EV_REL, REL_X, 5);
	expect(EV_REL, REL_Y, -3);
	expect_syn();
	expect(EV_REL, REL_Y, 7);
	expect_syn();
	expect(EV_KEY, BTN_LEFT, 1);
	expect_syn();
	expect(EV_KEY, BTN_LEFT, 0);
	expect_syn();
	expect(EV_KEY, BTN_EXTRA, 1);
	expect_syn();
	expect(EV_REL, REL_WHEEL, 1); /* away from the user */
	expect_syn();
	expect(EV_REL, REL_WHEEL, -2);
	expect(EV_REL, REL_HWHEEL, 3);
	expect_syn();
	expect(EV_REL, REL_X, -32767);
	expect(EV_REL, REL_Y, 32767);
	expect_syn();
	expect_none();

	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 32768, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 0, INT32_MIN), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_WHEEL, 0, 128, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_COUNT, 0, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_ABS_MOVE, 0, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_A, 0, 0), -EINVAL);
	assert_int_equal(vinput_posted(&V), vinput_consumed(&V));
}

static void test_tablet(void **state)
{
	(void)state;
	dev(VINPUT_TABLET, 64);
	evbufs(64);
	assert_int_equal(post(CELLVM_INPUT_ABS_MOVE, 0, 100, 32767), 0);
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_RIGHT, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_WHEEL, 0, -1, 0), 0);
	vinput_flush(&V, &DP);
	expect(EV_ABS, ABS_X, 100);
	expect(EV_ABS, ABS_Y, 32767);
	expect_syn();
	expect(EV_KEY, BTN_RIGHT, 1);
	expect_syn();
	expect(EV_REL, REL_WHEEL, -1);
	expect_syn();
	expect_none();
	assert_int_equal(post(CELLVM_INPUT_ABS_MOVE, 0, -1, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_ABS_MOVE, 0, 0, 32768), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 0, 1, 1), -EINVAL);
}

static void test_touch(void **state)
{
	(void)state;
	dev(VINPUT_TOUCH, 64);
	evbufs(64);
	/* First finger: a contact and the emulated pointer. */
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 0, 100, 200), 0);
	/* Second finger: a contact only (the pointer follows the oldest). */
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 3, 300, 400), 0);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_MOVE, 3, 310, 410), 0);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_MOVE, 0, 110, 210), 0);
	/* The first lifts: the pointer goes to the second. */
	assert_int_equal(post(CELLVM_INPUT_TOUCH_UP, 0, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_UP, 3, 0, 0), 0);
	/* A new touch gets a fresh tracking id. */
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 9, 0, 32767), 0);
	vinput_flush(&V, &DP);

	expect(EV_ABS, ABS_MT_SLOT, 0);
	expect(EV_ABS, ABS_MT_TRACKING_ID, 0);
	expect(EV_ABS, ABS_MT_POSITION_X, 100);
	expect(EV_ABS, ABS_MT_POSITION_Y, 200);
	expect(EV_KEY, BTN_TOUCH, 1);
	expect(EV_ABS, ABS_X, 100);
	expect(EV_ABS, ABS_Y, 200);
	expect_syn();

	expect(EV_ABS, ABS_MT_SLOT, 3);
	expect(EV_ABS, ABS_MT_TRACKING_ID, 1);
	expect(EV_ABS, ABS_MT_POSITION_X, 300);
	expect(EV_ABS, ABS_MT_POSITION_Y, 400);
	expect_syn();

	expect(EV_ABS, ABS_MT_SLOT, 3);
	expect(EV_ABS, ABS_MT_POSITION_X, 310);
	expect(EV_ABS, ABS_MT_POSITION_Y, 410);
	expect_syn();

	expect(EV_ABS, ABS_MT_SLOT, 0);
	expect(EV_ABS, ABS_MT_POSITION_X, 110);
	expect(EV_ABS, ABS_MT_POSITION_Y, 210);
	expect(EV_ABS, ABS_X, 110);
	expect(EV_ABS, ABS_Y, 210);
	expect_syn();

	expect(EV_ABS, ABS_MT_SLOT, 0);
	expect(EV_ABS, ABS_MT_TRACKING_ID, -1);
	expect(EV_ABS, ABS_X, 310);
	expect(EV_ABS, ABS_Y, 410);
	expect_syn();

	expect(EV_ABS, ABS_MT_SLOT, 3);
	expect(EV_ABS, ABS_MT_TRACKING_ID, -1);
	expect(EV_KEY, BTN_TOUCH, 0);
	expect_syn();

	expect(EV_ABS, ABS_MT_SLOT, 9);
	expect(EV_ABS, ABS_MT_TRACKING_ID, 2);
	expect(EV_ABS, ABS_MT_POSITION_X, 0);
	expect(EV_ABS, ABS_MT_POSITION_Y, 32767);
	expect(EV_KEY, BTN_TOUCH, 1);
	expect(EV_ABS, ABS_X, 0);
	expect(EV_ABS, ABS_Y, 32767);
	expect_syn();
	expect_none();

	/* Slots that are not down, slots past 9, coordinates out of range,
	 * pointer records: refused, nothing queued. */
	assert_int_equal(post(CELLVM_INPUT_TOUCH_MOVE, 0, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_UP, 0, 0, 0), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 10, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 1, 32768, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_TOUCH_MOVE, 9, 1, -1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_ABS_MOVE, 0, 1, 1), -EINVAL);
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, 0, 0, 0), -EINVAL);
	assert_int_equal(vinput_posted(&V), vinput_consumed(&V));

	/* Down again on a slot that is down: a new contact replaces it. */
	assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, 9, 5, 6), 0);
	vinput_flush(&V, &DP);
	expect(EV_ABS, ABS_MT_SLOT, 9);
	expect(EV_ABS, ABS_MT_TRACKING_ID, 3);
	expect(EV_ABS, ABS_MT_POSITION_X, 5);
	expect(EV_ABS, ABS_MT_POSITION_Y, 6);
	expect(EV_ABS, ABS_X, 5);
	expect(EV_ABS, ABS_Y, 6);
	expect_syn();
	expect_none();
}

/* Ten fingers at once, and tracking ids wrapping at 65535. */
static void test_touch_ten(void **state)
{
	(void)state;
	dev(VINPUT_TOUCH, 64);
	V.next_tracking_id = 65530;
	for (uint16_t s = 0; s < 10; s++)
		assert_int_equal(post(CELLVM_INPUT_TOUCH_DOWN, s, s, s), 0);
	evbufs(64);
	for (uint16_t s = 0; s < 10; s++) {
		expect(EV_ABS, ABS_MT_SLOT, s);
		expect(EV_ABS, ABS_MT_TRACKING_ID, (uint16_t)(65530 + s));
		expect(EV_ABS, ABS_MT_POSITION_X, s);
		expect(EV_ABS, ABS_MT_POSITION_Y, s);
		if (s == 0) {
			expect(EV_KEY, BTN_TOUCH, 1);
			expect(EV_ABS, ABS_X, 0);
			expect(EV_ABS, ABS_Y, 0);
		}
		expect_syn();
	}
	expect_none();
}

/* The driver posts few buffers: frames go out a piece at a time, in order. */
static void test_span_kicks(void **state)
{
	(void)state;
	dev(VINPUT_KEYBOARD, 4);
	for (uint16_t k = KEY_1; k <= KEY_5; k++)
		assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, k, 0, 0), 0);
	assert_int_equal(vinput_posted(&V), 10);
	vinput_flush(&V, &DP); /* no buffers: nothing moves */
	assert_int_equal(vinput_consumed(&V), 0);
	assert_false(vinput_bound(&V));
	evbufs(3);
	assert_true(vinput_bound(&V));
	assert_int_equal(vinput_consumed(&V), 3);
	expect(EV_KEY, KEY_1, 1);
	expect_syn();
	expect(EV_KEY, KEY_2, 1);
	expect_none();
	assert_int_equal(post(CELLVM_INPUT_KEY_UP, KEY_1, 0, 0), 0);
	evbufs(1);
	expect_syn();
	expect_none();
	evbufs(4);
	expect(EV_KEY, KEY_3, 1);
	expect_syn();
	expect(EV_KEY, KEY_4, 1);
	expect_syn();
	evbufs(4);
	expect(EV_KEY, KEY_5, 1);
	expect_syn();
	expect(EV_KEY, KEY_1, 0);
	expect_syn();
	expect_none();
	assert_int_equal(vinput_consumed(&V), 12);
	assert_int_equal(vinput_posted(&V), 12);
}

/* A driver that posts nothing: the queue fills, posts are refused whole,
 * nothing grows; buffers then drain it in order. */
static void test_full(void **state)
{
	uint32_t frames = 0;
	int r;

	(void)state;
	dev(VINPUT_MOUSE, 64);
	while ((r = post(CELLVM_INPUT_REL_MOVE, 0, (int32_t)frames % 1000 + 1, 1)) == 0)
		frames++;
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(frames, VINPUT_QUEUE_EVENTS / 3);
	assert_int_equal(vinput_posted(&V), frames * 3);
	/* One slot is left: a frame of SYN alone fits, a button does not. */
	assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, 0, 0, 0), -ENOSPC);
	assert_int_equal(vinput_posted(&V), frames * 3);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_REL_MOVE, 0, 0, 0), -ENOSPC);
	assert_int_equal(vinput_posted(&V), VINPUT_QUEUE_EVENTS);

	for (uint32_t i = 0; i < frames; i++) {
		if (i % 21 == 0)
			evbufs(63);
		expect(EV_REL, REL_X, (int32_t)i % 1000 + 1);
		expect(EV_REL, REL_Y, 1);
		expect_syn();
		/* Room again as soon as events went out. */
		if (i == 0)
			assert_int_equal(post(CELLVM_INPUT_BTN_DOWN, 0, 0, 0), 0);
	}
	expect_syn();
	expect(EV_KEY, BTN_LEFT, 1);
	expect_syn();
	expect_none();
	assert_int_equal(vinput_consumed(&V), vinput_posted(&V));
}

/* ---- the status queue ---- */

/* Post one status event as virtinput_send_status() does; returns the head. */
static uint16_t status(uint16_t type, uint16_t code, uint32_t value)
{
	uint64_t gpa = vdrv_alloc(&M, 8, 8);
	uint8_t *p = vdrv_host(&M, gpa, 8);
	struct vdrv_buf b = {.gpa = gpa, .len = 8, .write = false};
	uint16_t head;

	p[0] = (uint8_t)type;
	p[1] = (uint8_t)(type >> 8);
	p[2] = (uint8_t)code;
	p[3] = (uint8_t)(code >> 8);
	for (int i = 0; i < 4; i++)
		p[4 + i] = (uint8_t)(value >> (8 * i));
	head = vdrv_chain(&SQ, &b, 1);
	vdrv_avail_add(&SQ, head);
	return head;
}

static void status_returned(uint32_t n)
{
	uint32_t id, len;

	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(vdrv_used_next(&SQ, &id, &len), 1);
		assert_int_equal(len, 0);
	}
	assert_int_equal(vdrv_used_next(&SQ, &id, &len), 0);
}

static void test_status_leds(void **state)
{
	(void)state;
	dev(VINPUT_KEYBOARD, 8);
	assert_int_equal(vinput_leds(&V), 0);
	status(EV_LED, LED_NUML, 1);
	status(EV_LED, LED_CAPSL, 1);
	vinput_kick(&DP, &DP.queues[1], &V);
	assert_int_equal(vinput_leds(&V), 3);
	assert_true(irqs(1) >= 1);
	status_returned(2);
	status(EV_LED, LED_CAPSL, 0);
	status(EV_LED, LED_SCROLLL, 7);
	vinput_kick(&DP, &DP.queues[1], &V);
	assert_int_equal(vinput_leds(&V), 5);
	status_returned(2);
	assert_int_equal(V.count.leds, 4);
}

static void test_status_hostile(void **state)
{
	uint64_t gpa;
	struct vdrv_buf b[2];
	uint16_t head;

	(void)state;
	dev(VINPUT_KEYBOARD, 8);
	/* Device-writable, short, long: returned, counted, nothing taken. */
	gpa = vdrv_alloc(&M, 64, 8);
	memset(vdrv_host(&M, gpa, 64), 0, 64);
	b[0] = (struct vdrv_buf){.gpa = gpa, .len = 8, .write = true};
	vdrv_avail_add(&SQ, vdrv_chain(&SQ, b, 1));
	b[0] = (struct vdrv_buf){.gpa = gpa, .len = 4, .write = false};
	vdrv_avail_add(&SQ, vdrv_chain(&SQ, b, 1));
	b[0] = (struct vdrv_buf){.gpa = gpa, .len = 16, .write = false};
	vdrv_avail_add(&SQ, vdrv_chain(&SQ, b, 1));
	/* 8 readable bytes then a writable one. */
	b[0] = (struct vdrv_buf){.gpa = gpa, .len = 8, .write = false};
	b[1] = (struct vdrv_buf){.gpa = gpa + 8, .len = 8, .write = true};
	vdrv_avail_add(&SQ, vdrv_chain(&SQ, b, 2));
	vinput_kick(&DP, &DP.queues[1], &V);
	status_returned(4);
	assert_int_equal(V.count.bad_status, 4);
	assert_false(DP.needs_reset);

	/* Well formed but nothing to act on: EV_REP, an LED the device does not
	 * offer, an unknown type. */
	status(EV_REP, REP_DELAY, 250);
	status(EV_LED, LED_KANA, 1);
	status(0xffff, 0xffff, 0xffffffff);
	/* One event split over two descriptors is still one event. */
	{
		uint8_t *p = vdrv_host(&M, gpa + 32, 8);

		memcpy(p, (uint8_t[]){EV_LED, 0, LED_CAPSL, 0, 1, 0, 0, 0}, 8);
		b[0] = (struct vdrv_buf){.gpa = gpa + 32, .len = 3, .write = false};
		b[1] = (struct vdrv_buf){.gpa = gpa + 35, .len = 5, .write = false};
		vdrv_avail_add(&SQ, vdrv_chain(&SQ, b, 2));
	}
	vinput_kick(&DP, &DP.queues[1], &V);
	status_returned(4);
	assert_int_equal(V.count.status_ignored, 3);
	assert_int_equal(vinput_leds(&V), 2);
	assert_false(DP.needs_reset);

	/* A mouse has no LEDs. */
	dev(VINPUT_MOUSE, 8);
	status(EV_LED, LED_NUML, 1);
	vinput_kick(&DP, &DP.queues[1], &V);
	status_returned(1);
	assert_int_equal(vinput_leds(&V), 0);

	/* Ring abuse: a chain whose next leaves the table. */
	dev(VINPUT_KEYBOARD, 8);
	head = status(EV_LED, LED_NUML, 1);
	vdrv_desc_set(&SQ, head, gpa, 8, VIRTQ_DESC_F_NEXT, 200);
	vinput_kick(&DP, &DP.queues[1], &V);
	assert_true(DP.needs_reset);
	assert_int_equal(vinput_leds(&V), 0);
	/* Stopped: nothing more is taken until the reset. */
	status(EV_LED, LED_NUML, 1);
	vinput_kick(&DP, &DP.queues[1], &V);
	assert_int_equal(vinput_leds(&V), 0);

	/* An avail index jumping past the ring's size on the eventq. */
	dev(VINPUT_KEYBOARD, 8);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_A, 0, 0), 0);
	vdrv_avail_set_idx(&EQ, 9);
	vinput_flush(&V, &DP);
	assert_true(DP.needs_reset);
	assert_int_equal(vinput_consumed(&V), 0);
}

/* Event buffers the driver got wrong: returned empty; the event waits for a
 * good one. */
static void test_bad_event_buffers(void **state)
{
	uint64_t gpa;
	struct vdrv_buf b[2];

	(void)state;
	dev(VINPUT_KEYBOARD, 8);
	gpa = vdrv_alloc(&M, 64, 8);
	b[0] = (struct vdrv_buf){.gpa = gpa, .len = 8, .write = false};
	vdrv_avail_add(&EQ, vdrv_chain(&EQ, b, 1));
	b[0] = (struct vdrv_buf){.gpa = gpa, .len = 7, .write = true};
	vdrv_avail_add(&EQ, vdrv_chain(&EQ, b, 1));
	/* Split 4 + 4: an event still fits. */
	b[0] = (struct vdrv_buf){.gpa = gpa + 16, .len = 4, .write = true};
	b[1] = (struct vdrv_buf){.gpa = gpa + 40, .len = 4, .write = true};
	vdrv_avail_add(&EQ, vdrv_chain(&EQ, b, 2));
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_B, 0, 0), 0);
	vinput_kick(&DP, &DP.queues[0], &V);
	assert_false(DP.needs_reset);
	{
		uint32_t id, len;
		const uint8_t *p;

		assert_int_equal(vdrv_used_next(&EQ, &id, &len), 1);
		assert_int_equal(len, 0);
		assert_int_equal(vdrv_used_next(&EQ, &id, &len), 1);
		assert_int_equal(len, 0);
		assert_int_equal(vdrv_used_next(&EQ, &id, &len), 1);
		assert_int_equal(len, 8);
		p = vdrv_host(&M, gpa + 16, 4);
		assert_int_equal(p[0] | p[1] << 8, EV_KEY);
		assert_int_equal(p[2] | p[3] << 8, KEY_B);
		p = vdrv_host(&M, gpa + 40, 4);
		assert_int_equal(p[0], 1);
	}
	assert_int_equal(V.count.bad_event_bufs, 2);
	assert_int_equal(vinput_consumed(&V), 1);
	evbufs(1);
	expect_syn();
	expect_none();
}

/* A driver reset forgets the rings, not the events. */
static void test_reset_keeps_events(void **state)
{
	(void)state;
	dev(VINPUT_KEYBOARD, 8);
	evbufs(1);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_Z, 0, 0), 0);
	assert_int_equal(post(CELLVM_INPUT_KEY_UP, KEY_Z, 0, 0), 0);
	vinput_flush(&V, &DP);
	expect(EV_KEY, KEY_Z, 1);
	assert_true(vinput_bound(&V));
	vinput_reset(&V);
	assert_false(vinput_bound(&V));
	/* Not active: a post queues, a kick touches nothing. */
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_Y, 0, 0), 0);
	vinput_flush(&V, &DP);
	vinput_kick(&DP, &DP.queues[0], &V);
	assert_int_equal(vinput_consumed(&V), 1);
	rings(8);
	assert_false(vinput_bound(&V));
	evbufs(8);
	assert_true(vinput_bound(&V));
	expect_syn();
	expect(EV_KEY, KEY_Z, 0);
	expect_syn();
	expect(EV_KEY, KEY_Y, 1);
	expect_syn();
	expect_none();
	assert_int_equal(vinput_consumed(&V), vinput_posted(&V));
}

static void test_activate_checks(void **state)
{
	(void)state;
	dev(VINPUT_KEYBOARD, 8);
	vinput_reset(&V);
	DP.features = 0;
	assert_int_equal(vinput_activate(&V, &DP), -EINVAL);
	DP.features = 1ULL << VIRTIO_F_VERSION_1;
	DP.queues[0].size = 128; /* more than offered */
	assert_int_equal(vinput_activate(&V, &DP), -EINVAL);
	DP.queues[0].size = 8;
	DP.queues[1].desc = M.size; /* outside RAM */
	assert_int_equal(vinput_activate(&V, &DP), -EINVAL);
	assert_false(V.active);
	DP.queues[1].desc = SQ.desc;
	assert_int_equal(vinput_activate(&V, &DP), 0);
}

/* A crashed predecessor left an eventq buffer taken and not returned: the
 * successor returns it holding an empty frame, never stale bytes. */
static void test_resume(void **state)
{
	static struct virtq_inflight rec[2];
	struct devproc_stats st;
	uint32_t id, len;

	(void)state;
	dev(VINPUT_KEYBOARD, 8);
	memset(rec, 0, sizeof(rec));
	DP.queues[0].inflight = &rec[0];
	DP.queues[1].inflight = &rec[1];
	assert_int_equal(vinput_activate(&V, &DP), 0);
	evbufs(2);
	/* What a crash between pop and push leaves. */
	assert_int_equal(virtq_pop(&V.evq, &V.chain), 1);
	assert_true(rec[0].bits[0] != 0);
	vinput_init(&V, VINPUT_KEYBOARD, NULL);
	DP.resume = true;
	assert_int_equal(vinput_activate(&V, &DP), 0);
	assert_int_equal(vinput_resume(&V, &DP), 0);
	DP.resume = false;
	assert_int_equal(rec[0].bits[0], 0);
	assert_int_equal(vdrv_used_next(&EQ, &id, &len), 1);
	assert_int_equal(len, 8);
	assert_memory_equal(vdrv_host(&M, bufgpa[id], 8), (uint8_t[8]){0}, 8);
	assert_int_equal(post(CELLVM_INPUT_KEY_DOWN, KEY_Q, 0, 0), 0);
	vinput_flush(&V, &DP);
	expect(EV_KEY, KEY_Q, 1);
	expect_none();
	vinput_stats(&V, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.errors, 0);

	/* A record that does not add up. */
	rec[0].last_avail = 100;
	rec[0].bits[0] = 1;
	vinput_init(&V, VINPUT_KEYBOARD, NULL);
	DP.resume = true;
	assert_int_equal(vinput_activate(&V, &DP), 0);
	assert_int_equal(vinput_resume(&V, &DP), -EINVAL);
	assert_false(V.active);
	DP.resume = false;
	DP.queues[0].inflight = DP.queues[1].inflight = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_keyboard),
		cmocka_unit_test(test_config_pointers),
		cmocka_unit_test(test_config_touch),
		cmocka_unit_test(test_keyboard),
		cmocka_unit_test(test_mouse),
		cmocka_unit_test(test_tablet),
		cmocka_unit_test(test_touch),
		cmocka_unit_test(test_touch_ten),
		cmocka_unit_test(test_span_kicks),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_status_leds),
		cmocka_unit_test(test_status_hostile),
		cmocka_unit_test(test_bad_event_buffers),
		cmocka_unit_test(test_reset_keeps_events),
		cmocka_unit_test(test_activate_checks),
		cmocka_unit_test(test_resume),
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);

	close_fds();
	return r;
}
