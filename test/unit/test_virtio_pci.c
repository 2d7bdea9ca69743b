/* virtio-pci transport in the core (with pci.c and irq_route.c), driven the
 * way Linux's virtio_pci_modern driver drives it, through ECAM and BAR 0 MMIO
 * on a bus, against a scripted device on a real link socket and a real KVM
 * VM with an in-kernel irqchip (ioeventfds, irqfds, GSI routes). Hostile
 * register sequences must leave the process alive and the state unchanged.
 * Skips (77) without /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"
#include "test/unit/fakedev.h"
#include "vmm-core/virtio_pci.h"

#define MSI_ADDR	 0xfee00000U
#define NQ		 FAKEDEV_NQ
#define DEV_FEATURES	 FAKEDEV_FEATURES
#define ST_ACK		 VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_DRIVER	 VIRTIO_CONFIG_S_DRIVER
#define ST_DRIVER_OK	 VIRTIO_CONFIG_S_DRIVER_OK
#define ST_FEATURES_OK	 VIRTIO_CONFIG_S_FEATURES_OK
#define ST_NEEDS_RESET	 VIRTIO_CONFIG_S_NEEDS_RESET
#define ST_UP_TO_FEAT_OK (ST_ACK | ST_DRIVER | ST_FEATURES_OK)

static int kvm_fd = -1;

struct ctx {
	int vm_fd;
	struct irq_routes routes;
	struct pci_bus bus;
	struct vpci_dev d;
	struct fakedev f;
	int slot;
	uint64_t bar0;
	/* what the driver found walking the capabilities */
	uint32_t common, notify, isr, device, notify_mult, device_len, notify_len;
	uint8_t msix_cap, cfg_cap;
};

/* ---- guest-side accessors ---- */

static uint64_t ecam(const struct ctx *c, uint32_t off)
{
	return PCI_ECAM_BASE + ((uint64_t)c->slot << 15) + off;
}

static uint32_t cfg_rd(struct ctx *c, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	assert_true(pci_mmio(&c->bus, ecam(c, off), (uint8_t *)&v, len, false));
	return v;
}

static void cfg_wr(struct ctx *c, uint32_t off, uint32_t len, uint32_t v)
{
	assert_true(pci_mmio(&c->bus, ecam(c, off), (uint8_t *)&v, len, true));
}

static uint64_t bar_rd(struct ctx *c, uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	assert_true(pci_mmio(&c->bus, c->bar0 + off, (uint8_t *)&v, len, false));
	return v;
}

static void bar_wr(struct ctx *c, uint64_t off, uint32_t len, uint64_t v)
{
	assert_true(pci_mmio(&c->bus, c->bar0 + off, (uint8_t *)&v, len, true));
}

static uint64_t cc_rd(struct ctx *c, uint32_t field, uint32_t len)
{
	return bar_rd(c, c->common + field, len);
}

static void cc_wr(struct ctx *c, uint32_t field, uint32_t len, uint64_t v)
{
	bar_wr(c, c->common + field, len, v);
}

static bool fd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

static uint64_t fd_drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* drivers/virtio/virtio_pci_modern_dev.c vp_modern_probe(): walk the list. */
static void find_caps(struct ctx *c)
{
	uint32_t ptr = cfg_rd(c, PCI_CAP_PTR, 1), n = 0;

	assert_int_equal(cfg_rd(c, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	while (ptr) {
		const uint32_t id = cfg_rd(c, ptr, 1);
		assert_true(ptr >= 0x40 && ptr <= 0xfc && !(ptr & 3));
		assert_true(n++ < 16);
		if (id == PCI_CAP_ID_MSIX) {
			c->msix_cap = (uint8_t)ptr;
		} else if (id == PCI_CAP_ID_VNDR) {
			const uint32_t type = cfg_rd(c, ptr + VIRTIO_PCI_CAP_CFG_TYPE, 1);
			const uint32_t bar = cfg_rd(c, ptr + VIRTIO_PCI_CAP_BAR, 1);
			const uint32_t off = cfg_rd(c, ptr + VIRTIO_PCI_CAP_OFFSET, 4);
			const uint32_t len = cfg_rd(c, ptr + VIRTIO_PCI_CAP_LENGTH, 4);
			assert_int_equal(bar, 0);
			switch (type) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				c->common = off;
				assert_true(len >= 0x38);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				c->notify = off;
				c->notify_len = len;
				assert_true(cfg_rd(c, ptr + 2, 1) >= 20);
				c->notify_mult = cfg_rd(c, ptr + 16, 4);
				break;
			case VIRTIO_PCI_CAP_ISR_CFG: c->isr = off; break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				c->device = off;
				c->device_len = len;
				break;
			case VIRTIO_PCI_CAP_PCI_CFG: c->cfg_cap = (uint8_t)ptr; break;
			default: fail_msg("unknown virtio cap type %u", type);
			}
			assert_true(type == VIRTIO_PCI_CAP_PCI_CFG ||
				    (uint64_t)off + len <= VPCI_BAR_SIZE);
		}
		assert_true(cfg_rd(c, ptr + 1, 1) == 0 || cfg_rd(c, ptr + 1, 1) > ptr);
		ptr = cfg_rd(c, ptr + 1, 1);
	}
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int link;

	assert_non_null(c);
	c->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	assert_true(c->vm_fd >= 0);
	assert_int_equal(ioctl(c->vm_fd, KVM_CREATE_IRQCHIP, 0), 0);
	assert_int_equal(irq_routes_init(&c->routes, c->vm_fd), 0);
	pci_bus_init(&c->bus);
	fakedev_start(&c->f, &c->d.v, &link);
	assert_int_equal(vpci_attach(&c->d, c->vm_fd, &c->routes, link), 0);
	c->d.v.report = fakedev_report;
	c->slot = pci_bus_add(&c->bus, &c->d.f);
	assert_int_equal(c->slot, 1);
	assert_int_equal(vpci_start(&c->d), 0);
	c->bar0 = cfg_rd(c, PCI_BAR0, 4) & ~0xfU;
	find_caps(c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	fakedev_stop(&c->f);
	vpci_destroy(&c->d);
	irq_routes_destroy(&c->routes);
	pci_bus_destroy(&c->bus);
	close(c->vm_fd); /* KVM drops the irqfds and ioeventfds with the VM */
	free(c);
	return 0;
}

/* pci_enable_device(): memory decoding on. */
static void enable_memory(struct ctx *c)
{
	cfg_wr(c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(c->d.bar_addr, c->bar0);
}

/* virtio core up to FEATURES_OK with the given features. */
static void negotiate(struct ctx *c, uint64_t features)
{
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRIVER);
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cc_wr(c, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK);
}

/* vp_modern setup_vq(): select, size, vector (read back), the three
 * addresses as two 32-bit halves each, enable. */
static void setup_queue(struct ctx *c, uint16_t q, uint16_t num, uint16_t vec, uint64_t desc)
{
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, num);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, vec);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), vec);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)desc);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_DESCHI, 4, desc >> 32);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)(desc + 0x1000));
	cc_wr(c, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (desc + 0x1000) >> 32);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)(desc + 0x2000));
	cc_wr(c, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (desc + 0x2000) >> 32);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_NOFF, 2), q);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
}

static void msix_entry(struct ctx *c, uint32_t v, uint32_t data, bool masked)
{
	const uint64_t e = VPCI_MSIX_OFF + 16ULL * v;

	bar_wr(c, e + 0, 4, MSI_ADDR);
	bar_wr(c, e + 4, 4, 0);
	bar_wr(c, e + 8, 4, data);
	bar_wr(c, e + 12, 4, masked ? 1 : 0);
}

/* pci_alloc_irq_vectors() with MSI-X: enable with the function masked,
 * program the table (entries masked), then lift the function mask. */
static void msix_enable(struct ctx *c)
{
	cfg_wr(c, c->msix_cap + 2, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint32_t v = 0; v < c->d.nvec; v++)
		msix_entry(c, v, 0x30 + v, true);
	cfg_wr(c, c->msix_cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
}

static uint64_t pba(struct ctx *c)
{
	return bar_rd(c, VPCI_PBA_OFF, 8);
}

/* Everything the guest can change, to show a hostile access changed nothing. */
struct snap {
	uint32_t status, dev_sel, drv_sel, queue_sel;
	uint64_t drv_features;
	struct {
		uint32_t num;
		bool ready;
		uint64_t desc, avail, used;
		uint16_t vec;
	} q[NQ];
	uint16_t config_vec;
	struct vpci_msix_entry msix[VPCI_MAX_VECTORS];
	bool irqfd_on[1 + NQ];
	uint8_t cfg[PCI_CFG_SIZE];
	uint64_t bar_addr;
};

static void take_snap(struct ctx *c, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->status = c->d.v.status;
	s->dev_sel = c->d.v.dev_features_sel;
	s->drv_sel = c->d.v.drv_features_sel;
	s->queue_sel = c->d.v.queue_sel;
	s->drv_features = c->d.v.driver_features;
	for (uint32_t i = 0; i < NQ; i++) {
		s->q[i].num = c->d.v.q[i].num;
		s->q[i].ready = c->d.v.q[i].ready;
		s->q[i].desc = c->d.v.q[i].desc;
		s->q[i].avail = c->d.v.q[i].avail;
		s->q[i].used = c->d.v.q[i].used;
		s->q[i].vec = c->d.v.q[i].msix_vector;
	}
	s->config_vec = c->d.config_msix_vector;
	memcpy(s->msix, c->d.msix, sizeof(s->msix));
	memcpy(s->irqfd_on, c->d.irqfd_on, sizeof(s->irqfd_on));
	memcpy(s->cfg, c->d.f.cfg, sizeof(s->cfg));
	s->bar_addr = c->d.bar_addr;
}

static void assert_unchanged(struct ctx *c, const struct snap *before)
{
	struct snap now;

	take_snap(c, &now);
	assert_int_equal(now.status, before->status);
	assert_int_equal(now.drv_features, before->drv_features);
	assert_int_equal(now.queue_sel, before->queue_sel);
	assert_memory_equal(now.q, before->q, sizeof(now.q));
	assert_int_equal(now.config_vec, before->config_vec);
	assert_memory_equal(now.msix, before->msix, sizeof(now.msix));
	assert_memory_equal(now.irqfd_on, before->irqfd_on, sizeof(now.irqfd_on));
	assert_memory_equal(now.cfg, before->cfg, sizeof(now.cfg));
	assert_int_equal(now.bar_addr, before->bar_addr);
	assert_false(c->d.v.dead);
}

/* Reset the device (vp_reset(): write 0, read until 0) and return how many
 * Activates it had seen by then. The write returns once the device has
 * answered the Reset, so after it has read everything sent to it before,
 * an Activate included: a count taken here is final for what came before. */
static int activates_after_reset(struct ctx *c)
{
	int n, resets;

	pthread_mutex_lock(&c->f.lock);
	resets = c->f.resets;
	pthread_mutex_unlock(&c->f.lock);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	pthread_mutex_lock(&c->f.lock);
	assert_int_equal(c->f.resets, resets + 1);
	n = c->f.activates;
	pthread_mutex_unlock(&c->f.lock);
	return n;
}

/* ---- tests ---- */

static void test_attach_and_identity(void **state)
{
	struct ctx *c = *state;

	/* Attach: config irq, shared page, a kick and an interrupt eventfd for
	 * every possible queue (the count comes only with DeviceInfo) */
	assert_int_equal(c->f.attach_nq, VDEV_MAX_QUEUES);
	assert_true(c->f.attach_queue_irqs);
	assert_int_equal(c->f.nfds, 3 + 2 * VDEV_MAX_QUEUES); /* + crash-recovery records */
	assert_non_null(c->f.shared);
	/* the eventfds beyond the device's queues were closed */
	assert_true(c->d.v.q[NQ].kick_fd < 0 && c->d.v.q[NQ].irq_fd < 0);
	assert_true(c->d.v.q[NQ - 1].kick_fd >= 0 && c->d.v.q[NQ - 1].irq_fd >= 0);

	assert_int_equal(cfg_rd(c, PCI_VENDOR_ID, 4), 0x1042U << 16 | 0x1af4);
	assert_int_equal(cfg_rd(c, 0x08, 4), 0x018000U << 8 | 1); /* rev 1: modern */
	assert_int_equal(cfg_rd(c, 0x2c, 4), 0x1100U << 16 | 0x1af4);
	assert_int_equal(cfg_rd(c, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_rd(c, PCI_INTERRUPT_LINE, 1), PCI_INTX_PIN(1));
	/* BAR0: 32 KiB memory, placed in the window */
	assert_true(c->bar0 >= PCI_MMIO32_BASE && c->bar0 < PCI_MMIO32_BASE + PCI_MMIO32_SIZE);
	cfg_wr(c, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(cfg_rd(c, PCI_BAR0, 4), (uint32_t) ~(VPCI_BAR_SIZE - 1));
	cfg_wr(c, PCI_BAR0, 4, (uint32_t)c->bar0);
	for (uint32_t i = 1; i < PCI_NUM_BARS; i++)
		assert_int_equal(cfg_rd(c, PCI_BAR0 + 4 * i, 4), 0);

	/* the capabilities, as the layout says */
	assert_int_equal(c->common, VPCI_COMMON_OFF);
	assert_int_equal(c->isr, VPCI_ISR_OFF);
	assert_int_equal(c->device, VPCI_DEVICE_OFF);
	assert_int_equal(c->device_len, sizeof(fakedev_config));
	assert_int_equal(c->notify, VPCI_NOTIFY_OFF);
	assert_int_equal(c->notify_mult, VPCI_NOTIFY_MULT);
	assert_int_equal(c->notify_len, NQ * VPCI_NOTIFY_MULT);
	assert_int_not_equal(c->msix_cap, 0);
	assert_int_not_equal(c->cfg_cap, 0);
	/* MSI-X: one vector per queue plus configuration, table and PBA in BAR 0 */
	assert_int_equal(cfg_rd(c, c->msix_cap + 2, 2), NQ); /* size - 1, off, unmasked */
	assert_int_equal(cfg_rd(c, c->msix_cap + 4, 4), VPCI_MSIX_OFF);
	assert_int_equal(cfg_rd(c, c->msix_cap + 8, 4), VPCI_PBA_OFF);
	/* the table size and BIR are read-only */
	cfg_wr(c, c->msix_cap + 2, 2, 0x07ff);
	cfg_wr(c, c->msix_cap + 4, 4, 0xffffffff);
	assert_int_equal(cfg_rd(c, c->msix_cap + 2, 2), NQ);
	assert_int_equal(cfg_rd(c, c->msix_cap + 4, 4), VPCI_MSIX_OFF);

	/* before memory decoding, nothing answers in BAR 0 */
	assert_int_equal(c->d.bar_addr, 0);
	assert_int_equal(bar_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
	enable_memory(c);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	cc_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_DF, 4), (uint32_t)DEV_FEATURES);
	cc_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_DF, 4), DEV_FEATURES >> 32);
	cc_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_DF, 4), 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_MSIX, 2), VDEV_NO_VECTOR);
	/* device configuration, any size */
	assert_int_equal(bar_rd(c, c->device, 4), 0x04030201);
	assert_int_equal(bar_rd(c, c->device + 6, 2), 0x0807);
	assert_int_equal(bar_rd(c, c->device, 8), 0x0807060504030201ULL);
	assert_int_equal(bar_rd(c, c->device + 7, 1), 8);
	assert_int_equal(bar_rd(c, c->device + 6, 4), 0x0807); /* zero beyond */
	assert_int_equal(bar_rd(c, c->device + 0xf0, 8), 0);
}

static void test_bringup_and_activate(void **state)
{
	struct ctx *c = *state;
	const uint64_t feats = (1ULL << 32) | (1ULL << 9);

	enable_memory(c);
	msix_enable(c);
	negotiate(c, feats);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), ST_UP_TO_FEAT_OK);
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_GF, 4), (uint32_t)feats);
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_GF, 4), 1);
	/* vp_modern_config_vector(): vector 0 for configuration changes */
	cc_wr(c, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_MSIX, 2), 0);
	/* a vector the table does not have reads back as NO_VECTOR */
	cc_wr(c, VIRTIO_PCI_COMMON_MSIX, 2, NQ + 1);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_MSIX, 2), VDEV_NO_VECTOR);
	cc_wr(c, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	setup_queue(c, 0, 128, 1, 0x100000);
	setup_queue(c, 1, 64, 2, 0x123400000ULL); /* above 4 GiB */
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0x7fff);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), VDEV_NO_VECTOR);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	/* 64-bit reads of what was written in halves */
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x123400000ULL);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_USEDHI, 4), 1);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	pthread_mutex_lock(&c->f.lock);
	assert_true(fakedev_wait_activates(&c->f, 1));
	assert_int_equal(c->f.activates, 1);
	assert_int_equal(c->f.act_features, feats);
	assert_int_equal(c->f.act_nq, 2);
	assert_int_equal(c->f.act_index[0], 0);
	assert_int_equal(c->f.act_size[0], 128);
	assert_int_equal(c->f.act_desc[0], 0x100000);
	assert_int_equal(c->f.act_avail[0], 0x101000);
	assert_int_equal(c->f.act_used[0], 0x102000);
	assert_int_equal(c->f.act_index[1], 1);
	assert_int_equal(c->f.act_size[1], 64);
	assert_int_equal(c->f.act_desc[1], 0x123400000ULL);
	assert_int_equal(c->f.act_avail[1], 0x123401000ULL);
	assert_int_equal(c->f.act_used[1], 0x123402000ULL);
	pthread_mutex_unlock(&c->f.lock);
	/* every vector set, unmasked: each source's irqfd is attached */
	for (uint32_t v = 0; v < c->d.nvec; v++)
		bar_wr(c, VPCI_MSIX_OFF + 16ULL * v + 12, 4, 0);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_true(c->d.irqfd_on[k]);
	assert_int_equal(pba(c), 0);
	/* exactly one Activate for one DRIVER_OK */
	assert_int_equal(activates_after_reset(c), 1);
}

static void test_notify(void **state)
{
	struct ctx *c = *state;
	struct kvm_ioeventfd io = {.addr = c->bar0 + VPCI_NOTIFY_OFF, .len = 2};
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	enable_memory(c);
	/* vp_notify(): iowrite16(queue index) at notify + off * multiplier */
	for (uint32_t q = 0; q < NQ; q++) {
		assert_false(fd_readable(fakedev_kick_fd(&c->f, q)));
		bar_wr(c, c->notify + q * c->notify_mult, 2, q);
		assert_int_equal(fd_drain(fakedev_kick_fd(&c->f, q)), 1);
		assert_false(fd_readable(fakedev_kick_fd(&c->f, q ^ 1)));
	}
	/* past the last queue: nothing, and other sizes still kick */
	bar_wr(c, c->notify + NQ * c->notify_mult, 2, NQ);
	bar_wr(c, c->notify + 0x100, 4, 0);
	for (uint32_t q = 0; q < NQ; q++)
		assert_false(fd_readable(fakedev_kick_fd(&c->f, q)));
	bar_wr(c, c->notify + 4, 1, 1);
	assert_int_equal(fd_drain(fakedev_kick_fd(&c->f, 1)), 1);
	assert_int_equal(bar_rd(c, c->notify, 4), 0);

	/* the ioeventfds follow the BAR: registered while it decodes (a second
	 * one at the same place collides), gone when it stops */
	io.fd = efd;
	assert_true(efd >= 0);
	errno = 0;
	assert_int_equal(ioctl(c->vm_fd, KVM_IOEVENTFD, &io), -1);
	assert_int_equal(errno, EEXIST);
	cfg_wr(c, PCI_COMMAND, 2, 0);
	assert_int_equal(c->d.bar_addr, 0);
	assert_int_equal(ioctl(c->vm_fd, KVM_IOEVENTFD, &io), 0);
	io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
	assert_int_equal(ioctl(c->vm_fd, KVM_IOEVENTFD, &io), 0);
	io.flags = 0;
	/* moved: they move along */
	cfg_wr(c, PCI_BAR0, 4, (uint32_t)(c->bar0 + 0x100000));
	cfg_wr(c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(c->d.bar_addr, c->bar0 + 0x100000);
	assert_int_equal(ioctl(c->vm_fd, KVM_IOEVENTFD, &io), 0); /* old place free */
	io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
	assert_int_equal(ioctl(c->vm_fd, KVM_IOEVENTFD, &io), 0);
	io.flags = 0;
	io.addr = c->bar0 + 0x100000 + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT;
	errno = 0;
	assert_int_equal(ioctl(c->vm_fd, KVM_IOEVENTFD, &io), -1);
	assert_int_equal(errno, EEXIST);
	close(efd);
}

static void test_msix_mask_and_pba(void **state)
{
	struct ctx *c = *state;
	const uint64_t one = 1;

	enable_memory(c);
	negotiate(c, 1ULL << 32);
	msix_enable(c);
	cc_wr(c, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	setup_queue(c, 0, 128, 1, 0x100000);
	setup_queue(c, 1, 128, 2, 0x200000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	/* table entries read back; only the mask bit of vector control sticks */
	assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16 + 0, 4), MSI_ADDR);
	assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16 + 8, 4), 0x31);
	assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16, 8), MSI_ADDR);
	bar_wr(c, VPCI_MSIX_OFF + 16 + 12, 4, 0xfffffffe);
	assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16 + 12, 4), 0);
	bar_wr(c, VPCI_MSIX_OFF + 16 + 12, 4, 0xffffffff);
	assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16 + 12, 4), 1);
	/* every entry masked: no irqfd attached, nothing pending */
	for (uint32_t k = 0; k <= NQ; k++)
		assert_false(c->d.irqfd_on[k]);
	assert_int_equal(pba(c), 0);

	/* the device signals queue 0 (vector 1) while masked: pending */
	assert_int_equal(write(fakedev_irq_fd(&c->f, 0), &one, sizeof(one)), sizeof(one));
	assert_int_equal(pba(c), 1U << 1);
	assert_int_equal(bar_rd(c, VPCI_PBA_OFF, 1), 2);
	assert_int_equal(bar_rd(c, VPCI_PBA_OFF + 4, 4), 0);
	/* PBA writes are ignored */
	bar_wr(c, VPCI_PBA_OFF, 8, 0);
	assert_int_equal(pba(c), 1U << 1);
	/* unmask: the irqfd is attached, KVM takes the interrupt, not pending */
	bar_wr(c, VPCI_MSIX_OFF + 16 + 12, 4, 0);
	assert_true(c->d.irqfd_on[1]);
	assert_int_equal(pba(c), 0);
	/* the next one goes straight to KVM: the eventfd is consumed */
	assert_int_equal(write(fakedev_irq_fd(&c->f, 0), &one, sizeof(one)), sizeof(one));
	assert_false(fd_readable(fakedev_irq_fd(&c->f, 0)));
	assert_int_equal(pba(c), 0);

	/* queue 1 (vector 2) and configuration (vector 0) pend separately */
	assert_int_equal(write(fakedev_irq_fd(&c->f, 1), &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(c->f.fds[0], &one, sizeof(one)), sizeof(one));
	assert_int_equal(pba(c), (1U << 2) | 1U);
	bar_wr(c, VPCI_MSIX_OFF + 0 + 12, 4, 0);
	bar_wr(c, VPCI_MSIX_OFF + 32 + 12, 4, 0);
	assert_int_equal(pba(c), 0);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_true(c->d.irqfd_on[k]);

	/* function mask: every vector masked at once, and pending again */
	cfg_wr(c, c->msix_cap + 2, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_false(c->d.irqfd_on[k]);
	assert_int_equal(write(fakedev_irq_fd(&c->f, 1), &one, sizeof(one)), sizeof(one));
	assert_int_equal(pba(c), 1U << 2);
	/* reprogramming an entry under the function mask leaves it masked */
	msix_entry(c, 2, 0x40, false);
	assert_false(c->d.irqfd_on[2]);
	assert_int_equal(pba(c), 1U << 2);
	cfg_wr(c, c->msix_cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_true(c->d.irqfd_on[k]);
	assert_int_equal(pba(c), 0);

	/* a queue moved to NO_VECTOR: its irqfd comes off */
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, VDEV_NO_VECTOR);
	assert_false(c->d.irqfd_on[1]);
	assert_int_equal(pba(c), 0);

	/* MSI-X off: every source back on the INTx pin; INTx disable
	 * detaches them */
	cfg_wr(c, c->msix_cap + 2, 2, 0);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_true(c->d.irqfd_on[k]);
	cfg_wr(c, PCI_COMMAND, 2,
	       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_false(c->d.irqfd_on[k]);
	cfg_wr(c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	for (uint32_t k = 0; k <= NQ; k++)
		assert_true(c->d.irqfd_on[k]);
}

static void test_reset(void **state)
{
	struct ctx *c = *state;
	int resets;

	enable_memory(c);
	msix_enable(c);
	negotiate(c, 1ULL << 32);
	cc_wr(c, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	setup_queue(c, 0, 128, 1, 0x100000);
	setup_queue(c, 1, 32, 2, 0x200000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	pthread_mutex_lock(&c->f.lock);
	resets = c->f.resets;
	pthread_mutex_unlock(&c->f.lock);
	/* vp_reset(): write 0, then poll until it reads 0 */
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	pthread_mutex_lock(&c->f.lock);
	assert_int_equal(c->f.resets, resets + 1);
	pthread_mutex_unlock(&c->f.lock);
	assert_false(c->d.v.dead);
	/* vectors back to NO_VECTOR, queues off, sizes at the maximum */
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_MSIX, 2), VDEV_NO_VECTOR);
	for (uint16_t q = 0; q < NQ; q++) {
		cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), VDEV_NO_VECTOR);
		assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
		assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
		assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
		assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_AVAILLO, 8), 0);
		assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_USEDLO, 8), 0);
	}
	for (uint32_t k = 0; k <= NQ; k++)
		assert_false(c->d.irqfd_on[k]);
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_GF, 4), 0);
	/* and the driver can come up again */
	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, 1, 0x300000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	pthread_mutex_lock(&c->f.lock);
	assert_true(fakedev_wait_activates(&c->f, 2));
	assert_int_equal(c->f.act_nq, 1);
	assert_int_equal(c->f.act_desc[0], 0x300000);
	pthread_mutex_unlock(&c->f.lock);
	assert_int_equal(activates_after_reset(c), 2);
}

static void test_isr_and_config_change(void **state)
{
	struct ctx *c = *state;
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ConfigUpdate cu = CELLVM__DEVICE__CONFIG_UPDATE__INIT;
	uint8_t newcfg[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	uint32_t gen;

	enable_memory(c);
	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, VDEV_NO_VECTOR, 0x100000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	/* ISR: read to clear (vp_interrupt() with INTx) */
	assert_int_equal(bar_rd(c, c->isr, 1), 0);
	__atomic_fetch_or(&c->f.shared->isr, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(bar_rd(c, c->isr, 1), 1);
	assert_int_equal(bar_rd(c, c->isr, 1), 0);
	/* the other bytes of the ISR area neither show nor clear it */
	__atomic_fetch_or(&c->f.shared->isr, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(bar_rd(c, c->isr + 1, 1), 0);
	assert_int_equal(bar_rd(c, c->isr + 2, 2), 0);
	bar_wr(c, c->isr, 1, 0xff); /* writes do nothing */
	assert_int_equal(bar_rd(c, c->isr, 4), 1);
	assert_int_equal(bar_rd(c, c->isr, 4), 0);

	/* a configuration change: new bytes, generation moves, ISR bit 1 and
	 * the config interrupt eventfd */
	gen = (uint32_t)cc_rd(c, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
	cu.config.data = newcfg;
	cu.config.len = sizeof(newcfg);
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_CONFIG_UPDATE;
	m.config_update = &cu;
	assert_int_equal(fakedev_send(c->f.sock, &m), 0);
	assert_int_equal(vpci_on_link(&c->d), 0);
	assert_int_not_equal(cc_rd(c, VIRTIO_PCI_COMMON_CFGGENERATION, 1), gen);
	assert_int_equal(bar_rd(c, c->device, 8), 0x0909090909090909ULL);
	assert_int_equal(bar_rd(c, c->isr, 1), 2);
	/* with INTx, the config irqfd is attached: KVM took the interrupt */
	assert_true(c->d.irqfd_on[0]);
	assert_false(fd_readable(c->f.fds[0]));
	/* device config writes are refused */
	bar_wr(c, c->device, 4, 0);
	assert_int_equal(bar_rd(c, c->device, 4), 0x09090909);
}

/* ---- hostile sequences ---- */

static void test_hostile_common_sizes(void **state)
{
	struct ctx *c = *state;
	struct snap s;

	enable_memory(c);
	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, VDEV_NO_VECTOR, 0x100000);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	take_snap(c, &s);
	/* wrong sizes and misaligned accesses: reads all ones, writes ignored */
	for (uint32_t off = 0; off < 0x38; off++) {
		for (uint32_t len = 1; len <= 8; len++) {
			uint64_t v = 0;
			const bool natural =
				(off < 0x10 && len == 4 && !(off & 3)) ||
				(off >= 0x10 && off < 0x14 && len == 2 && !(off & 1)) ||
				(off >= 0x14 && off < 0x16 && len == 1) ||
				(off >= 0x16 && off < 0x20 && len == 2 && !(off & 1)) ||
				(off >= 0x20 &&
				 ((len == 8 && !(off & 7)) || (len == 4 && !(off & 3))));
			if (natural)
				continue;
			assert_true(pci_mmio(&c->bus, c->bar0 + off, (uint8_t *)&v, len, false));
			assert_int_equal(v, len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1);
			v = ~0ULL;
			assert_true(pci_mmio(&c->bus, c->bar0 + off, (uint8_t *)&v, len, true));
			v = 0;
			assert_true(pci_mmio(&c->bus, c->bar0 + off, (uint8_t *)&v, len, true));
		}
	}
	assert_unchanged(c, &s);
	/* a word write to status (a byte register) does not reset the device */
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 4, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), ST_UP_TO_FEAT_OK);
	assert_unchanged(c, &s);
	/* past the common structure: zero, writes dropped */
	assert_int_equal(bar_rd(c, 0x38, 4), 0);
	bar_wr(c, 0x38, 4, 0xffffffff);
	bar_wr(c, 0x7ff8, 8, ~0ULL);
	assert_int_equal(bar_rd(c, 0x7ff8, 8), 0);
	assert_unchanged(c, &s);
}

static void test_hostile_sequences(void **state)
{
	struct ctx *c = *state;
	struct snap s;

	enable_memory(c);
	/* queue setup before FEATURES_OK: ignored */
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRIVER);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x100000);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(c->d.v.q[0].num, 0);
	assert_int_equal(c->d.v.q[0].desc, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* DRIVER_OK before FEATURES_OK: refused, nothing activated (an
	 * Activate would have reached the device before the Reset after it) */
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), ST_ACK | ST_DRIVER);
	assert_int_equal(activates_after_reset(c), 0);

	/* features not offered, or a legacy driver: FEATURES_OK does not stick */
	negotiate(c, (1ULL << 32) | (1ULL << 10));
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1) & ST_FEATURES_OK, 0);
	negotiate(c, 1ULL << 9);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1) & ST_FEATURES_OK, 0);
	/* feature words past 63 */
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 7);
	cc_wr(c, VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_GF, 4), 0);

	negotiate(c, 1ULL << 32);
	/* bad queue sizes, a queue that does not exist, enable with other than 1 */
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, 100);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, 512);
	assert_int_equal(c->d.v.q[0].num, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 2);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0xffff);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), VDEV_NO_VECTOR);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x1000);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, NQ);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* writes to read-only fields */
	take_snap(c, &s);
	cc_wr(c, VIRTIO_PCI_COMMON_DF, 4, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_NUMQ, 2, 24);
	cc_wr(c, VIRTIO_PCI_COMMON_CFGGENERATION, 1, 0x55);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_NOFF, 2, 7);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	cc_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_DF, 4), (uint32_t)DEV_FEATURES);
	assert_unchanged(c, &s);
	assert_int_equal(c->d.v.num_queues, NQ);

	setup_queue(c, 0, 64, VDEV_NO_VECTOR, 0x200000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	take_snap(c, &s);
	/* after DRIVER_OK the queues are frozen (CVE-2026-5747's class), and
	 * so are the features; status cannot go backwards */
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0xdead000);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0xdead);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	cc_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_ACK | ST_DRIVER);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0xff & ~ST_NEEDS_RESET);
	assert_unchanged(c, &s);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
}

static void test_hostile_msix(void **state)
{
	struct ctx *c = *state;
	struct snap s;

	enable_memory(c);
	msix_enable(c);
	take_snap(c, &s);
	/* past the table (nvec entries), bytes, words, misaligned, a qword
	 * on the data/control half */
	for (uint32_t len = 1; len <= 8; len++) {
		bar_wr(c, VPCI_MSIX_OFF + 16ULL * c->d.nvec, len, ~0ULL);
		bar_wr(c, VPCI_MSIX_OFF + 0xff0, len, ~0ULL);
		assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16ULL * c->d.nvec, len), 0);
	}
	for (uint32_t off = 0; off < 16 * c->d.nvec; off++) {
		for (uint32_t len = 1; len <= 8; len++) {
			uint64_t v;
			if ((len == 4 && !(off & 3)) || (len == 8 && !(off & 15)))
				continue;
			v = 0;
			assert_true(pci_mmio(&c->bus, c->bar0 + VPCI_MSIX_OFF + off, (uint8_t *)&v,
					     len, false));
			if (off + len <= 16ULL * c->d.nvec)
				assert_int_equal(v, len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1);
			v = 0;
			assert_true(pci_mmio(&c->bus, c->bar0 + VPCI_MSIX_OFF + off, (uint8_t *)&v,
					     len, true));
		}
	}
	assert_unchanged(c, &s);
	/* a qword on the address is fine */
	bar_wr(c, VPCI_MSIX_OFF + 16, 8, 0x1fee01000ULL);
	assert_int_equal(bar_rd(c, VPCI_MSIX_OFF + 16, 8), 0x1fee01000ULL);
	assert_int_equal(c->d.msix[1].addr_hi, 1);
	/* Message Control: only enable and function mask are the guest's */
	cfg_wr(c, c->msix_cap + 2, 2, 0xffff);
	assert_int_equal(cfg_rd(c, c->msix_cap + 2, 2),
			 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | NQ);
	cfg_wr(c, c->msix_cap, 4, 0);
	assert_int_equal(cfg_rd(c, c->msix_cap, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(cfg_rd(c, c->msix_cap + 2, 2), NQ);
	/* vectors the table does not have, for a queue that does not exist */
	negotiate(c, 1ULL << 32);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 9);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), VDEV_NO_VECTOR);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cc_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, (uint16_t)c->d.nvec);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), VDEV_NO_VECTOR);
	assert_false(c->d.v.dead);
}

static void test_cfg_window(void **state)
{
	struct ctx *c = *state;
	const uint32_t w = c->cfg_cap;
	struct snap s;

	/* VIRTIO_PCI_CAP_PCI_CFG works without memory decoding (that is what
	 * it is for): read the device features through it */
	assert_int_equal(c->d.bar_addr, 0);
	cfg_wr(c, w + 4, 1, 0);
	cfg_wr(c, w + 8, 4, VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_DF);
	cfg_wr(c, w + 12, 4, 4);
	assert_int_equal(cfg_rd(c, w + 16, 4), (uint32_t)DEV_FEATURES);
	/* and the device configuration, a byte */
	cfg_wr(c, w + 8, 4, VPCI_DEVICE_OFF + 2);
	cfg_wr(c, w + 12, 4, 1);
	assert_int_equal(cfg_rd(c, w + 16, 1), 3);
	/* a write: status ACKNOWLEDGE */
	cfg_wr(c, w + 8, 4, VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS);
	cfg_wr(c, w + 12, 4, 1);
	cfg_wr(c, w + 16, 1, ST_ACK);
	assert_int_equal(c->d.v.status, ST_ACK);

	take_snap(c, &s);
	/* bad bar, length, alignment, offset: nothing happens */
	static const struct {
		uint8_t bar;
		uint32_t off, len;
	} bad[] = {
		{1, VIRTIO_PCI_COMMON_STATUS, 1},
		{5, VIRTIO_PCI_COMMON_STATUS, 1},
		{0xff, VIRTIO_PCI_COMMON_STATUS, 1},
		{0, VIRTIO_PCI_COMMON_STATUS, 0},
		{0, VIRTIO_PCI_COMMON_STATUS, 3},
		{0, VIRTIO_PCI_COMMON_STATUS, 8},
		{0, VIRTIO_PCI_COMMON_STATUS, 0xffffffff},
		{0, VIRTIO_PCI_COMMON_STATUS + 1, 2},
		{0, VIRTIO_PCI_COMMON_GFSELECT + 2, 4},
		{0, VPCI_BAR_SIZE, 1},
		{0, VPCI_BAR_SIZE - 2, 4},
		{0, 0xfffffffc, 4},
		{0, 0xffffffff, 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg_wr(c, w + 4, 1, bad[i].bar);
		cfg_wr(c, w + 8, 4, bad[i].off);
		cfg_wr(c, w + 12, 4, bad[i].len);
		cfg_wr(c, w + 16, 4, 0);
		cfg_wr(c, w + 16, 4, 0xffffffff);
		(void)cfg_rd(c, w + 16, 4);
		(void)cfg_rd(c, w + 16, 1);
	}
	assert_int_equal(c->d.v.status, ST_ACK);
	/* the window registers themselves are the only config bytes changed */
	memcpy(s.cfg + w + 4, c->d.f.cfg + w + 4, 1);
	memcpy(s.cfg + w + 8, c->d.f.cfg + w + 8, 12);
	assert_unchanged(c, &s);
	/* a reset through the window (bus lock held while the device finishes
	 * it) completes and leaves nothing stuck */
	cfg_wr(c, w + 4, 1, 0);
	cfg_wr(c, w + 8, 4, VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS);
	cfg_wr(c, w + 12, 4, 1);
	cfg_wr(c, w + 16, 1, 0);
	assert_int_equal(c->d.v.status, 0);
	pthread_mutex_lock(&c->f.lock);
	assert_int_equal(c->f.resets, 1);
	pthread_mutex_unlock(&c->f.lock);
	assert_int_equal(cfg_rd(c, PCI_VENDOR_ID, 4), 0x1042U << 16 | 0x1af4);
	/* the capability header and its type, BAR-independent fields stay */
	cfg_wr(c, w, 4, 0);
	cfg_wr(c, w + 5, 1, 0xff);
	assert_int_equal(cfg_rd(c, w, 1), PCI_CAP_ID_VNDR);
	assert_int_equal(cfg_rd(c, w + 3, 1), 5);
	assert_int_equal(cfg_rd(c, w + 5, 1), 0);
	assert_false(c->d.v.dead);
}

/* Regression (vmm-core/virtio_pci.c, vpci_bar_access_locked, ISR branch): an
 * 8-byte read of the ISR copies 4 bytes and leaves data[4..7] as they were
 * (in cellvm-core: stale bytes of kvm_run->mmio.data). Every other register
 * fills the whole access. */
static void test_isr_qword_read(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	enable_memory(c);
	__atomic_fetch_or(&c->f.shared->isr, 1, __ATOMIC_SEQ_CST);
	assert_true(pci_mmio(&c->bus, c->bar0 + VPCI_ISR_OFF, (uint8_t *)&v, 8, false));
	assert_int_equal(v, 1);
}

/* Regression (vmm-core/virtio_pci.c, vpci_update_irqs): the "MSI-X enabled"
 * info line was written on every change of the enable bit,
 * so a guest toggling Message Control writes to the host log without bound
 * (STYLE.md: bad guest input gets a rate-limited log line). */
static void test_msix_toggle_log_flood(void **state)
{
	struct ctx *c = *state;
	char buf[65536];
	int saved = dup(STDERR_FILENO), mfd = memfd_create("stderr", MFD_CLOEXEC);
	ssize_t n;
	int lines = 0;

	assert_true(saved >= 0 && mfd >= 0);
	assert_int_equal(dup2(mfd, STDERR_FILENO), STDERR_FILENO);
	for (int i = 0; i < 500; i++) {
		cfg_wr(c, c->msix_cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
		cfg_wr(c, c->msix_cap + 2, 2, 0);
	}
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(mfd, buf, sizeof(buf), 0);
	close(mfd);
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	if (lines > 16)
		fail_msg("%d log lines from 1000 guest writes to Message Control", lines);
}

static void test_device_breaks_protocol(void **state)
{
	struct ctx *c = *state;
	uint8_t junk[16];

	enable_memory(c);
	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, VDEV_NO_VECTOR, 0x300000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(ipc_send(c->f.sock, junk, sizeof(junk), NULL, 0), 0);
	assert_true(vpci_on_link(&c->d) < 0);
	assert_true(c->d.v.dead);
	/* the guest learns through NEEDS_RESET and a configuration interrupt */
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	assert_int_equal(bar_rd(c, c->isr, 1) & 2, 2);
	/* the driver may not clear NEEDS_RESET by writing status */
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	/* a reset does not wait for a device that is gone */
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	/* and the registers still answer */
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	assert_int_equal(bar_rd(c, c->device, 4), 0x04030201);
}

/* ---- the device's link: its dispatch table's rules ---- */

/* The driver is running when the device sends m (with fd, when not -1),
 * which the link's table refuses: the core drops the device as a protocol
 * violator (dead; the guest sees NEEDS_RESET and a configuration interrupt)
 * and the transport stays healthy: a reset does not wait for the device,
 * the registers answer. */
static void expect_link_violation(struct ctx *c, Cellvm__Device__LinkMessage *m, int fd)
{
	enable_memory(c);
	negotiate(c, 1ULL << 32);
	setup_queue(c, 0, 64, VDEV_NO_VECTOR, 0x300000);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, ST_UP_TO_FEAT_OK | ST_DRIVER_OK);
	assert_false(c->d.v.dead);
	if (fd >= 0)
		assert_int_equal(fakedev_send_fd(c->f.sock, m, fd), 0);
	else
		assert_int_equal(fakedev_send(c->f.sock, m), 0);
	assert_true(vpci_on_link(&c->d) < 0);
	assert_true(c->d.v.dead);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	assert_int_equal(bar_rd(c, c->isr, 1) & 2, 2);
	cc_wr(c, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	assert_int_equal(bar_rd(c, c->device, 4), 0x04030201);
}

/* ResetDone is taken only while a Reset of the core's waits for it: one that
 * nobody asked for is a violation (it used to be taken at any time). */
static void test_link_reset_done_unasked(void **state)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ResetDone done = CELLVM__DEVICE__RESET_DONE__INIT;

	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE;
	m.reset_done = &done;
	expect_link_violation(*state, &m, -1);
}

/* DeviceInfo is the answer to Attach, once: a second one is a violation. */
static void test_link_info_again(void **state)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__DeviceInfo info = CELLVM__DEVICE__DEVICE_INFO__INIT;

	info.device_id = FAKEDEV_DEVICE_ID;
	info.features = FAKEDEV_FEATURES;
	info.config.data = (uint8_t *)fakedev_config;
	info.config.len = sizeof(fakedev_config);
	info.num_queues = NQ;
	info.queue_max_size = FAKEDEV_QUEUE_MAX;
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO;
	m.info = &info;
	expect_link_violation(*state, &m, -1);
}

/* The device never sends fds: a well-formed ConfigUpdate with one is a
 * violation. */
static void test_link_fds(void **state)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__ConfigUpdate cu = CELLVM__DEVICE__CONFIG_UPDATE__INIT;
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_true(fd >= 0);
	cu.config.data = (uint8_t *)fakedev_config;
	cu.config.len = sizeof(fakedev_config);
	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_CONFIG_UPDATE;
	m.config_update = &cu;
	expect_link_violation(*state, &m, fd);
	close(fd);
}

/* A message that goes the other way (the core's Reset) is a violation. */
static void test_link_wrong_direction(void **state)
{
	Cellvm__Device__LinkMessage m = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__Reset rs = CELLVM__DEVICE__RESET__INIT;

	m.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET;
	m.reset = &rs;
	expect_link_violation(*state, &m, -1);
}

/* Run fn with stderr captured; returns the number of lines written. */
static int count_log_lines(void (*fn)(struct ctx *c, void *arg), struct ctx *c, void *arg)
{
	static char buf[1 << 20];
	int saved = dup(STDERR_FILENO), mfd = memfd_create("stderr", MFD_CLOEXEC);
	ssize_t n;
	int lines = 0;

	assert_true(saved >= 0 && mfd >= 0);
	assert_int_equal(dup2(mfd, STDERR_FILENO), STDERR_FILENO);
	fn(c, arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(mfd, buf, sizeof(buf), 0);
	close(mfd);
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

static void toggle_second_decode(struct ctx *c, void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		assert_true(pci_mmio(&c->bus, PCI_ECAM_BASE + (2 << 15) + PCI_COMMAND,
				     (uint8_t *)&(uint16_t){PCI_COMMAND_MEMORY}, 2, true));
		assert_true(pci_mmio(&c->bus, PCI_ECAM_BASE + (2 << 15) + PCI_COMMAND,
				     (uint8_t *)&(uint16_t){0}, 2, true));
	}
}

/* Regression (vmm-core/virtio_pci.c, vpci_ioeventfds): two virtio-pci
 * functions whose BARs the guest puts on top of each other: every time the
 * second one starts decoding, KVM_IOEVENTFD fails with EEXIST; that used to
 * be logged without a rate limit: the guest wrote the host log at will. */
static void test_overlapping_bars(void **state)
{
	struct ctx *c = *state;
	struct vpci_dev *d2 = calloc(1, sizeof(*d2));
	struct fakedev *f2 = calloc(1, sizeof(*f2));
	uint32_t bar = (uint32_t)c->bar0;
	int link, lines;

	assert_non_null(d2);
	assert_non_null(f2);
	fakedev_start(f2, &d2->v, &link);
	assert_int_equal(vpci_attach(d2, c->vm_fd, &c->routes, link), 0);
	d2->v.report = fakedev_report;
	assert_int_equal(pci_bus_add(&c->bus, &d2->f), 2);
	assert_int_equal(vpci_start(d2), 0);
	enable_memory(c);
	assert_true(
		pci_mmio(&c->bus, PCI_ECAM_BASE + (2 << 15) + PCI_BAR0, (uint8_t *)&bar, 4, true));
	lines = count_log_lines(toggle_second_decode, c, NULL);
	/* the first function still answers at its BAR, and its notifies work */
	assert_int_equal(cc_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	bar_wr(c, c->notify, 2, 0);
	assert_int_equal(fd_drain(fakedev_kick_fd(&c->f, 0)), 1);
	assert_false(d2->v.dead);
	fakedev_stop(f2);
	vpci_destroy(d2);
	free(f2);
	free(d2);
	if (lines > 16)
		fail_msg("%d log lines from 200 guest writes to COMMAND", lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attach_and_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bringup_and_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_mask_and_pba, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isr_and_config_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_common_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_sequences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_breaks_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_reset_done_unasked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_info_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_wrong_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isr_qword_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_toggle_log_flood, setup, teardown),
	};
	int vm;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return 77;
	vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		return 77;
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		close(vm);
		return 77;
	}
	close(vm);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
