/* virtio-mmio transport in the core, driven the way Linux's virtio_mmio driver
 * drives it, against a scripted device on a real link socket and a real KVM VM
 * (for the ioeventfds and the irqfd). Hostile register sequences must leave
 * the transport consistent. Skips (77) without /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"
#include "test/unit/fakedev.h"
#include "vmm-core/virtio_mmio.h"

#define R_MAGIC	     0x000
#define R_VERSION    0x004
#define R_DEVICE_ID  0x008
#define R_DEV_FEAT   0x010
#define R_DEV_SEL    0x014
#define R_DRV_FEAT   0x020
#define R_DRV_SEL    0x024
#define R_QSEL	     0x030
#define R_QNUM_MAX   0x034
#define R_QNUM	     0x038
#define R_QREADY     0x044
#define R_ISR	     0x060
#define R_ACK	     0x064
#define R_STATUS     0x070
#define R_QDESC_LO   0x080
#define R_QAVAIL_LO  0x090
#define R_QUSED_LO   0x0a0
#define R_CONFIG_GEN 0x0fc
#define R_CONFIG     0x100

static int kvm_fd = -1, vm_fd = -1;

struct ctx {
	struct vmmio_dev d;
	struct fakedev f;
};

static uint32_t rd(struct ctx *c, uint64_t off)
{
	uint32_t v;
	vmmio_access(&c->d, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(struct ctx *c, uint64_t off, uint32_t v)
{
	vmmio_access(&c->d, off, (uint8_t *)&v, 4, true);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int link;

	fakedev_start(&c->f, &c->d.v, &link);
	assert_int_equal(vmmio_attach(&c->d, vm_fd, link, VMMIO_BASE, 5), 0);
	c->d.v.report = fakedev_report;
	vmmio_attach_finish(&c->d, vm_fd);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)c->d.v.irq_fd, .gsi = 5, .flags = KVM_IRQFD_FLAG_DEASSIGN};

	fakedev_stop(&c->f);
	ioctl(vm_fd, KVM_IRQFD, &irqfd);
	for (uint32_t i = 0; i < c->d.v.num_queues; i++) {
		struct kvm_ioeventfd io = {.addr = VMMIO_BASE + 0x50,
					   .len = 4,
					   .datamatch = i,
					   .fd = c->d.v.q[i].kick_fd,
					   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
						    KVM_IOEVENTFD_FLAG_DEASSIGN};
		ioctl(vm_fd, KVM_IOEVENTFD, &io);
	}
	vmmio_destroy(&c->d);
	free(c);
	return 0;
}

/* The driver's usual bring-up up to FEATURES_OK with the given features. */
static void negotiate(struct ctx *c, uint64_t features)
{
	wr(c, R_STATUS, 0);
	wr(c, R_STATUS, 1);
	wr(c, R_STATUS, 1 | 2);
	wr(c, R_DRV_SEL, 0);
	wr(c, R_DRV_FEAT, (uint32_t)features);
	wr(c, R_DRV_SEL, 1);
	wr(c, R_DRV_FEAT, (uint32_t)(features >> 32));
	wr(c, R_STATUS, 1 | 2 | 8);
}

static void setup_queue(struct ctx *c, uint32_t q, uint32_t num, uint64_t desc)
{
	wr(c, R_QSEL, q);
	wr(c, R_QNUM, num);
	wr(c, R_QDESC_LO, (uint32_t)desc);
	wr(c, R_QAVAIL_LO, (uint32_t)desc + 0x1000);
	wr(c, R_QUSED_LO, (uint32_t)desc + 0x2000);
	wr(c, R_QREADY, 1);
}

static void test_identity(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(rd(c, R_MAGIC), 0x74726976);
	assert_int_equal(rd(c, R_VERSION), 2);
	assert_int_equal(rd(c, R_DEVICE_ID), 2);
	assert_int_equal(c->f.nfds, 3 + VMMIO_MAX_QUEUES); /* + crash-recovery records */
	assert_int_equal(c->d.v.num_queues, 2);
	/* the kicks beyond the device's two queues were dropped */
	assert_true(c->d.v.q[2].kick_fd < 0);
	wr(c, R_DEV_SEL, 1);
	assert_int_equal(rd(c, R_DEV_FEAT), 1);
	wr(c, R_DEV_SEL, 0);
	assert_int_equal(rd(c, R_DEV_FEAT), (1U << 9) | (1U << 6));
	wr(c, R_DEV_SEL, 7);
	assert_int_equal(rd(c, R_DEV_FEAT), 0);
}

static void test_bringup_and_activate(void **state)
{
	struct ctx *c = *state;

	negotiate(c, (1ULL << 32) | (1ULL << 9));
	assert_int_equal(rd(c, R_STATUS), 1 | 2 | 8);
	wr(c, R_QSEL, 0);
	assert_int_equal(rd(c, R_QNUM_MAX), 256);
	setup_queue(c, 0, 128, 0x100000);
	assert_int_equal(rd(c, R_QREADY), 1);
	wr(c, R_STATUS, 1 | 2 | 8 | 4);
	assert_int_equal(rd(c, R_STATUS), 1 | 2 | 8 | 4);
	pthread_mutex_lock(&c->f.lock);
	assert_true(fakedev_wait_activates(&c->f, 1));
	assert_int_equal(c->f.act_features, (1ULL << 32) | (1ULL << 9));
	assert_int_equal(c->f.act_nq, 1);
	assert_int_equal(c->f.act_size[0], 128);
	assert_int_equal(c->f.act_desc[0], 0x100000);
	pthread_mutex_unlock(&c->f.lock);
	/* Exactly one: a reset is answered only after the device has read
	 * everything sent before it, a second Activate included. */
	wr(c, R_STATUS, 0);
	assert_int_equal(rd(c, R_STATUS), 0);
	pthread_mutex_lock(&c->f.lock);
	assert_int_equal(c->f.activates, 1);
	pthread_mutex_unlock(&c->f.lock);
}

static void test_features_not_offered(void **state)
{
	struct ctx *c = *state;

	/* bit 10 was not offered: FEATURES_OK must not stick */
	negotiate(c, (1ULL << 32) | (1ULL << 10));
	assert_int_equal(rd(c, R_STATUS) & 8, 0);
	/* a legacy driver (no VERSION_1) neither */
	negotiate(c, 1ULL << 9);
	assert_int_equal(rd(c, R_STATUS) & 8, 0);
	/* and DRIVER_OK without FEATURES_OK is refused */
	wr(c, R_STATUS, 1 | 2 | 4);
	assert_int_equal(rd(c, R_STATUS) & 4, 0);
}

static void test_queue_rules(void **state)
{
	struct ctx *c = *state;

	/* before FEATURES_OK: ignored */
	wr(c, R_STATUS, 0);
	wr(c, R_STATUS, 3);
	wr(c, R_QSEL, 0);
	wr(c, R_QNUM, 64);
	assert_int_equal(c->d.v.q[0].num, 0);
	negotiate(c, 1ULL << 32);
	/* size 0, not a power of two, over the maximum: refused */
	wr(c, R_QSEL, 0);
	wr(c, R_QNUM, 0);
	wr(c, R_QNUM, 100);
	wr(c, R_QNUM, 512);
	assert_int_equal(c->d.v.q[0].num, 0);
	wr(c, R_QREADY, 1);
	assert_int_equal(rd(c, R_QREADY), 0); /* no size, no ready */
	/* a queue that does not exist */
	wr(c, R_QSEL, 5);
	assert_int_equal(rd(c, R_QNUM_MAX), 0);
	wr(c, R_QNUM, 64);
	setup_queue(c, 0, 64, 0x200000);
	wr(c, R_STATUS, 1 | 2 | 8 | 4);
	/* after DRIVER_OK the queue is frozen (CVE-2026-5747's class) */
	wr(c, R_QSEL, 0);
	wr(c, R_QDESC_LO, 0xdead000);
	wr(c, R_QNUM, 32);
	wr(c, R_QREADY, 0);
	assert_int_equal(c->d.v.q[0].desc, 0x200000);
	assert_int_equal(c->d.v.q[0].num, 64);
	assert_true(c->d.v.q[0].ready);
	/* features cannot change after FEATURES_OK either */
	wr(c, R_DRV_SEL, 0);
	wr(c, R_DRV_FEAT, 0xffffffff);
	assert_int_equal(c->d.v.driver_features, 1ULL << 32);
}

static void test_status_backwards_and_reset(void **state)
{
	struct ctx *c = *state;
	int resets;

	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, 0x300000);
	wr(c, R_STATUS, 1 | 2 | 8 | 4);
	wr(c, R_STATUS, 1 | 2); /* backwards: ignored */
	assert_int_equal(rd(c, R_STATUS), 1 | 2 | 8 | 4);
	pthread_mutex_lock(&c->f.lock);
	resets = c->f.resets;
	pthread_mutex_unlock(&c->f.lock);
	wr(c, R_STATUS, 0); /* returns only after ResetDone */
	assert_int_equal(rd(c, R_STATUS), 0);
	pthread_mutex_lock(&c->f.lock);
	assert_int_equal(c->f.resets, resets + 1);
	pthread_mutex_unlock(&c->f.lock);
	assert_false(c->d.v.q[0].ready);
	assert_int_equal(c->d.v.q[0].desc, 0);
	assert_false(c->d.v.dead);
}

static void test_config_and_odd_accesses(void **state)
{
	struct ctx *c = *state;
	uint8_t b[8];
	uint64_t v = 0;

	vmmio_access(&c->d, R_CONFIG + 2, b, 2, false);
	assert_int_equal(b[0], 3);
	assert_int_equal(b[1], 4);
	/* straddling the end of config: the rest reads as zero */
	vmmio_access(&c->d, R_CONFIG + 6, b, 4, false);
	assert_int_equal(b[0], 7);
	assert_int_equal(b[1], 8);
	assert_int_equal(b[2], 0);
	vmmio_access(&c->d, R_CONFIG + 0xe00, (uint8_t *)&v, 8, false);
	assert_int_equal(v, 0);
	/* config writes are ignored */
	b[0] = 0x55;
	vmmio_access(&c->d, R_CONFIG, b, 1, true);
	assert_int_equal(c->d.v.config[0], 1);
	/* registers are 32-bit only */
	vmmio_access(&c->d, R_MAGIC, b, 2, false);
	assert_int_equal(b[0], 0xff);
	vmmio_access(&c->d, R_STATUS + 1, b, 4, false);
	assert_int_equal(b[0], 0xff);
	b[0] = 1;
	vmmio_access(&c->d, R_STATUS, b, 1, true);
	assert_int_equal(rd(c, R_STATUS), 0);
	/* writes to read-only registers */
	wr(c, R_MAGIC, 0);
	assert_int_equal(rd(c, R_MAGIC), 0x74726976);
}

static void test_needs_reset_and_isr(void **state)
{
	struct ctx *c = *state;
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__NeedsReset nr = CELLVM__DEVICE__NEEDS_RESET__INIT;
	uint32_t gen;

	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, 0x300000);
	wr(c, R_STATUS, 1 | 2 | 8 | 4);
	gen = rd(c, R_CONFIG_GEN);
	/* the device sets a used-buffer interrupt */
	__atomic_fetch_or(&c->d.v.shared->isr, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(rd(c, R_ISR), 1);
	wr(c, R_ACK, 1);
	assert_int_equal(rd(c, R_ISR), 0);
	/* the device gives up on the guest's input */
	nr.reason = (char *)"test";
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_NEEDS_RESET;
	m.needs_reset = &nr;
	assert_int_equal(fakedev_send(c->f.sock, &m), 0);
	assert_int_equal(vmmio_on_link(&c->d), 0);
	assert_int_equal(rd(c, R_STATUS) & 64, 64);
	assert_int_equal(rd(c, R_ISR) & 2, 2);
	assert_int_not_equal(rd(c, R_CONFIG_GEN), gen);
	wr(c, R_STATUS, 0);
	assert_int_equal(rd(c, R_STATUS), 0);
	assert_int_equal(rd(c, R_ISR), 0);
}

static void test_device_breaks_protocol(void **state)
{
	struct ctx *c = *state;
	uint8_t junk[16];

	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, 0x300000);
	wr(c, R_STATUS, 1 | 2 | 8 | 4);
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(ipc_send(c->f.sock, junk, sizeof(junk), NULL, 0), 0);
	assert_true(vmmio_on_link(&c->d) < 0);
	assert_true(c->d.v.dead);
	/* the guest learns through NEEDS_RESET; a reset then does not hang */
	assert_int_equal(rd(c, R_STATUS) & 64, 64);
	wr(c, R_STATUS, 0);
	assert_int_equal(rd(c, R_STATUS), 0);
}

/* The driver is running when the device sends m, which the link's table
 * refuses: the core drops the device (dead, NEEDS_RESET and a configuration
 * interrupt) and the transport stays healthy. */
static void expect_link_violation(struct ctx *c, Cellvm__Device__LinkMessage *m)
{
	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, 0x300000);
	wr(c, R_STATUS, 1 | 2 | 8 | 4);
	assert_false(c->d.v.dead);
	assert_int_equal(fakedev_send(c->f.sock, m), 0);
	assert_true(vmmio_on_link(&c->d) < 0);
	assert_true(c->d.v.dead);
	assert_int_equal(rd(c, R_STATUS) & 64, 64);
	assert_int_equal(rd(c, R_ISR) & 2, 2);
	wr(c, R_STATUS, 0);
	assert_int_equal(rd(c, R_STATUS), 0);
	assert_int_equal(rd(c, R_MAGIC), 0x74726976);
}

/* ResetDone with no Reset of the core's waiting for it. */
static void test_link_reset_done_unasked(void **state)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ResetDone done = CELLVM__DEVICE__RESET_DONE__INIT;

	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE;
	m.reset_done = &done;
	expect_link_violation(*state, &m);
}

/* A second DeviceInfo (it answers Attach, once). */
static void test_link_info_again(void **state)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__DeviceInfo info = CELLVM__DEVICE__DEVICE_INFO__INIT;

	info.device_id = FAKEDEV_DEVICE_ID;
	info.features = FAKEDEV_FEATURES;
	info.num_queues = FAKEDEV_NQ;
	info.queue_max_size = FAKEDEV_QUEUE_MAX;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO;
	m.info = &info;
	expect_link_violation(*state, &m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bringup_and_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_not_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_backwards_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_and_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_reset_and_isr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_breaks_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_reset_done_unasked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_info_again, setup, teardown),
	};

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return 77;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0 || ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
