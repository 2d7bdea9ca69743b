/* Unit tests for vmm-core/pci: bus 0 driven through pci_pio and pci_mmio the
 * way a guest drives it (Linux's type 1 probe and bus scan, BAR sizing, the
 * capability walk), then hostile configuration and BAR accesses. A scripted
 * test function records what reaches it. No KVM needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/gmem.h"
#include "vmm-core/pci.h"

#define PCI_REVISION	0x08
#define PCI_CLASS_PROG	0x09
#define PCI_CLASS_SUB	0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_SUBSYS_VID	0x2c
#define HOST_PCIEXBAR	0x48
#define Q35_PCIEXBAR	0x60
#define LPC_PMBASE	0x40
#define LPC_ACPI_CNTL	0x44
#define LPC_RCBA	0xf0
#define PCI_COMMAND_IO	0x1

#define TF_VENDOR 0x1234U
#define TF_DEVICE 0x5678U
#define TF_CLASS  0xff0000U

#define MAX_EVENTS 64

/* The scripted function: BARs answer reads with (offset + i) ^ bar and
 * record every access; bar_mapped calls are recorded in order. */
struct tfunc {
	struct pci_func f;
	uint32_t accesses;
	int last_bar;
	uint64_t last_off;
	uint32_t last_len;
	bool last_write;
	uint8_t last_data[8];
	uint32_t nmapped;
	struct {
		int bar;
		uint64_t addr;
	} mapped[MAX_EVENTS];
	uint32_t cfg_written, cfg_read;
};

static void tf_bar_access(struct pci_func *f, int bar, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	struct tfunc *t = f->priv;

	assert_true(len >= 1 && len <= 8);
	assert_true(off + len <= f->bar_size[bar]);
	t->accesses++;
	t->last_bar = bar;
	t->last_off = off;
	t->last_len = len;
	t->last_write = is_write;
	if (is_write) {
		memcpy(t->last_data, data, len);
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)((off + i) ^ (uint64_t)bar);
}

static void tf_bar_mapped(struct pci_func *f, int bar, uint64_t addr)
{
	struct tfunc *t = f->priv;

	assert_true(t->nmapped < MAX_EVENTS);
	t->mapped[t->nmapped].bar = bar;
	t->mapped[t->nmapped].addr = addr;
	t->nmapped++;
}

static void tf_config_written(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct tfunc *t = f->priv;

	assert_true(off < PCI_CFG_SIZE && off + len <= PCI_CFG_SIZE);
	t->cfg_written++;
}

static void tf_config_read(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct tfunc *t = f->priv;

	assert_true(off < PCI_CFG_SIZE && off + len <= PCI_CFG_SIZE);
	t->cfg_read++;
}

static const struct pci_func_ops tf_ops = {
	.bar_access = tf_bar_access,
	.bar_mapped = tf_bar_mapped,
	.config_written = tf_config_written,
	.config_read = tf_config_read,
};

static void tf_init(struct tfunc *t)
{
	memset(t, 0, sizeof(*t));
	pci_func_init(&t->f, TF_VENDOR, TF_DEVICE, TF_CLASS, 3, 0xabcd, 0xef01, &tf_ops, t);
}

/* ---- guest-side helpers ---- */

static uint32_t cf8(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t off)
{
	return 0x80000000U | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc);
}

static void outl(struct pci_bus *b, uint16_t port, uint32_t v)
{
	assert_true(pci_pio(b, port, (uint8_t *)&v, 4, true));
}

static void outw(struct pci_bus *b, uint16_t port, uint16_t v)
{
	assert_true(pci_pio(b, port, (uint8_t *)&v, 2, true));
}

static void outb(struct pci_bus *b, uint16_t port, uint8_t v)
{
	assert_true(pci_pio(b, port, &v, 1, true));
}

static uint32_t in(struct pci_bus *b, uint16_t port, uint32_t size)
{
	uint32_t v = 0x5a5a5a5a;

	assert_true(pci_pio(b, port, (uint8_t *)&v, size, false));
	if (size < 4)
		v &= (1U << (8 * size)) - 1;
	return v;
}

/* Type 1 configuration read/write of size bytes at off (any alignment). */
static uint32_t t1_read(struct pci_bus *b, uint32_t bus, uint32_t dev, uint32_t fn, uint32_t off,
			uint32_t size)
{
	outl(b, PCI_CONFIG_ADDRESS, cf8(bus, dev, fn, off));
	return in(b, (uint16_t)(PCI_CONFIG_DATA + (off & 3)), size);
}

static void t1_write(struct pci_bus *b, uint32_t bus, uint32_t dev, uint32_t fn, uint32_t off,
		     uint32_t size, uint32_t v)
{
	outl(b, PCI_CONFIG_ADDRESS, cf8(bus, dev, fn, off));
	assert_true(pci_pio(b, (uint16_t)(PCI_CONFIG_DATA + (off & 3)), (uint8_t *)&v, size, true));
}

static uint64_t ecam_addr(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t off)
{
	return PCI_ECAM_BASE + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | off);
}

static uint64_t ecam_read(struct pci_bus *b, uint32_t bus, uint32_t dev, uint32_t fn, uint32_t off,
			  uint32_t len)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	assert_true(pci_mmio(b, ecam_addr(bus, dev, fn, off), (uint8_t *)&v, len, false));
	if (len < 8)
		v &= (1ULL << (8 * len)) - 1;
	return v;
}

static void ecam_write(struct pci_bus *b, uint32_t bus, uint32_t dev, uint32_t fn, uint32_t off,
		       uint32_t len, uint64_t v)
{
	assert_true(pci_mmio(b, ecam_addr(bus, dev, fn, off), (uint8_t *)&v, len, true));
}

static uint64_t mmio_read(struct pci_bus *b, uint64_t addr, uint32_t len)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	assert_true(pci_mmio(b, addr, (uint8_t *)&v, len, false));
	if (len < 8)
		v &= (1ULL << (8 * len)) - 1;
	return v;
}

static void mmio_write(struct pci_bus *b, uint64_t addr, uint32_t len, uint64_t v)
{
	assert_true(pci_mmio(b, addr, (uint8_t *)&v, len, true));
}

/* ---- fixture ---- */

struct fixture {
	struct pci_bus b;
	struct tfunc t;
	int slot;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	pci_bus_init(&x->b);
	*state = x;
	return 0;
}

/* A bus with the test function in slot 1: BAR0 32 KiB, BAR2 4 KiB, BAR5
 * 1 MiB, and three capabilities. */
static int setup_func(void **state)
{
	static const uint8_t vndr[14] = {16, 1, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0};
	static const uint8_t msix[10] = {3, 0, 0, 0x40, 0, 0, 0, 0x50, 0, 0};
	static const uint8_t pm[6] = {3, 0, 0, 0, 0, 0};
	struct fixture *x;

	setup(state);
	x = *state;
	tf_init(&x->t);
	assert_int_equal(pci_func_add_bar(&x->t.f, 0, 0x8000), 0);
	assert_int_equal(pci_func_add_bar(&x->t.f, 2, 0x1000), 0);
	assert_int_equal(pci_func_add_bar(&x->t.f, 5, 0x100000), 0);
	assert_int_equal(pci_func_add_cap(&x->t.f, 0x09, vndr, 16), 0x40);
	assert_int_equal(pci_func_add_cap(&x->t.f, 0x11, msix, 12), 0x50);
	assert_int_equal(pci_func_add_cap(&x->t.f, 0x01, pm, 8), 0x5c);
	x->slot = pci_bus_add(&x->b, &x->t.f);
	assert_int_equal(x->slot, 1);
	return 0;
}

/* A bus as a firmware finds it: q35's MCH and ICH9 LPC bridge. */
static int setup_q35(void **state)
{
	setup(state);
	pci_bus_q35(&((struct fixture *)*state)->b);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	pci_bus_destroy(&x->b);
	free(x);
	return 0;
}

/* ---- Linux's probe and the host bridge ---- */

static void test_type1_probe(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	uint32_t tmp;

	/* arch/x86/pci/direct.c pci_check_type1() */
	outb(b, 0xcfb, 0x01);
	tmp = in(b, 0xcf8, 4);
	outl(b, 0xcf8, 0x80000000);
	assert_int_equal(in(b, 0xcf8, 4), 0x80000000);
	/* pci_sanity_check(): a host bridge on bus 0 */
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_CLASS_SUB, 2), 0x0600);
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_VENDOR_ID, 2), 0x8086);
	outl(b, 0xcf8, tmp);
	assert_int_equal(in(b, 0xcf8, 4), tmp);

	/* pci_check_type2() must fail: byte accesses to 0xCF8/0xCFA do not
	 * latch or read back as zero. */
	outb(b, 0xcfb, 0x00);
	outb(b, 0xcf8, 0x00);
	outb(b, 0xcfa, 0x00);
	assert_false(in(b, 0xcf8, 1) == 0 && in(b, 0xcfa, 1) == 0);

	/* the ports around ours belong to someone else */
	uint8_t v[4];
	assert_false(pci_pio(b, 0xcf7, v, 1, false));
	assert_false(pci_pio(b, 0xd00, v, 1, false));
	assert_false(pci_pio(b, 0x80, v, 1, false));
	for (uint16_t p = 0xcf8; p < 0xd00; p++)
		assert_true(pci_pio(b, p, v, 1, false));
}

static void test_host_bridge(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;

	assert_int_equal(t1_read(b, 0, 0, 0, PCI_VENDOR_ID, 4), 0x27708086);
	assert_int_equal(ecam_read(b, 0, 0, 0, PCI_VENDOR_ID, 4), 0x27708086);
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_REVISION, 4) >> 8, 0x060000);
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_HEADER_TYPE, 1), 0);
	/* arch/x86/pci/mmconfig-shared.c pci_mmcfg_intel_945(): enabled,
	 * 256 buses, base PCI_ECAM_BASE */
	assert_int_equal(t1_read(b, 0, 0, 0, HOST_PCIEXBAR, 4), (uint32_t)PCI_ECAM_BASE | 1);
	assert_int_equal(ecam_read(b, 0, 0, 0, HOST_PCIEXBAR, 4), (uint32_t)PCI_ECAM_BASE | 1);
	/* read-only: the window cannot be moved or turned off */
	t1_write(b, 0, 0, 0, HOST_PCIEXBAR, 4, 0);
	ecam_write(b, 0, 0, 0, HOST_PCIEXBAR, 1, 0);
	assert_int_equal(t1_read(b, 0, 0, 0, HOST_PCIEXBAR, 4), (uint32_t)PCI_ECAM_BASE | 1);
	/* memory decoding cannot be turned off; no interrupt line */
	t1_write(b, 0, 0, 0, PCI_COMMAND, 2, 0);
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_COMMAND, 2),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	t1_write(b, 0, 0, 0, PCI_INTERRUPT_LINE, 1, 0x0b);
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_INTERRUPT_LINE, 1), 0);
	/* no capabilities, no BARs */
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	for (uint32_t i = 0; i < PCI_NUM_BARS; i++) {
		t1_write(b, 0, 0, 0, PCI_BAR0 + 4 * i, 4, 0xffffffff);
		assert_int_equal(t1_read(b, 0, 0, 0, PCI_BAR0 + 4 * i, 4), 0);
	}
}

static void test_absent_functions(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;

	for (uint32_t dev = 0; dev < 32; dev++) {
		for (uint32_t fn = 0; fn < 8; fn++) {
			const bool present = dev == 0 && fn == 0;
			const uint32_t want = present ? 0x27708086 : 0xffffffff;
			assert_int_equal(t1_read(b, 0, dev, fn, 0, 4), want);
			assert_int_equal(ecam_read(b, 0, dev, fn, 0, 4), want);
			if (!present) {
				assert_int_equal(t1_read(b, 0, dev, fn, 0x3c, 2), 0xffff);
				assert_int_equal(ecam_read(b, 0, dev, fn, 0x100, 4), 0xffffffff);
			}
		}
	}
	/* buses 1..255 are empty, through both mechanisms */
	for (uint32_t bus = 1; bus < 256; bus++) {
		assert_int_equal(ecam_read(b, bus, 0, 0, 0, 4), 0xffffffff);
		assert_int_equal(ecam_read(b, bus, 31, 7, 0xffc, 4), 0xffffffff);
		assert_int_equal(t1_read(b, bus, 0, 0, 0, 4), 0xffffffff);
		/* writes there go nowhere */
		ecam_write(b, bus, 0, 0, PCI_COMMAND, 2, 0xffff);
	}
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_COMMAND, 2),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* ---- a function with BARs ---- */

static void test_func_identity(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;

	assert_int_equal(t1_read(b, 0, 1, 0, 0, 4), TF_DEVICE << 16 | TF_VENDOR);
	assert_int_equal(ecam_read(b, 0, 1, 0, 0, 4), TF_DEVICE << 16 | TF_VENDOR);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_REVISION, 4), TF_CLASS << 8 | 3);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_SUBSYS_VID, 4), 0xef01abcd);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_INTERRUPT_LINE, 1), PCI_INTX_PIN(1));
	/* functions 1-7 of a present device are absent (single function) */
	for (uint32_t fn = 1; fn < 8; fn++) {
		assert_int_equal(t1_read(b, 0, 1, fn, 0, 4), 0xffffffff);
		assert_int_equal(ecam_read(b, 0, 1, fn, 0, 4), 0xffffffff);
	}
	/* other slots stay empty */
	assert_int_equal(ecam_read(b, 0, 2, 0, 0, 4), 0xffffffff);
	/* the hooks see the reads, within config space */
	assert_true(x->t.cfg_read > 0);
}

static void test_bar_placement_and_sizing(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	static const uint64_t size[PCI_NUM_BARS] = {0x8000, 0, 0x1000, 0, 0, 0x100000};
	uint64_t end = 0;

	for (uint32_t i = 0; i < PCI_NUM_BARS; i++) {
		const uint32_t off = PCI_BAR0 + 4 * i;
		uint32_t bar = t1_read(b, 0, 1, 0, off, 4), sz;

		if (!size[i]) {
			assert_int_equal(bar, 0);
			t1_write(b, 0, 1, 0, off, 4, 0xffffffff);
			assert_int_equal(t1_read(b, 0, 1, 0, off, 4), 0);
			continue;
		}
		/* placed by the core: aligned, inside the window, not overlapping */
		assert_int_equal(bar & 0xf, 0); /* 32-bit memory, not prefetchable */
		assert_int_equal(bar & (size[i] - 1), 0);
		assert_true(bar >= PCI_MMIO32_BASE &&
			    bar + size[i] <= PCI_MMIO32_BASE + PCI_MMIO32_SIZE);
		assert_true(bar >= end);
		end = bar + size[i];
		/* drivers/pci/probe.c __pci_read_base(): decoding off, write all
		 * ones, read the size mask, restore */
		t1_write(b, 0, 1, 0, off, 4, 0xffffffff);
		sz = t1_read(b, 0, 1, 0, off, 4);
		assert_int_equal(sz, (uint32_t) ~(size[i] - 1));
		assert_int_equal(~(sz & ~0xfU) + 1, size[i]);
		t1_write(b, 0, 1, 0, off, 4, bar);
		assert_int_equal(t1_read(b, 0, 1, 0, off, 4), bar);
		/* the same through ECAM, and with a word access to the high half */
		ecam_write(b, 0, 1, 0, off, 4, 0xffffffff);
		assert_int_equal(ecam_read(b, 0, 1, 0, off, 4), (uint32_t) ~(size[i] - 1));
		ecam_write(b, 0, 1, 0, off, 4, bar);
		ecam_write(b, 0, 1, 0, off + 2, 2, 0xffff);
		assert_int_equal(ecam_read(b, 0, 1, 0, off + 2, 2),
				 (uint32_t) ~(size[i] - 1) >> 16);
		ecam_write(b, 0, 1, 0, off + 2, 2, bar >> 16);
		assert_int_equal(ecam_read(b, 0, 1, 0, off, 4), bar);
	}
	/* sizing with decoding off never maps anything */
	assert_int_equal(x->t.nmapped, 0);
}

static void test_bar_decode(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	const uint64_t bar0 = ecam_read(b, 0, 1, 0, PCI_BAR0, 4);
	const uint64_t bar2 = ecam_read(b, 0, 1, 0, PCI_BAR0 + 8, 4);
	const uint64_t bar5 = ecam_read(b, 0, 1, 0, PCI_BAR0 + 20, 4);
	uint64_t moved;

	/* decoding off: nothing reaches the function, reads float high */
	assert_int_equal(mmio_read(b, bar0 + 0x10, 4), 0xffffffff);
	mmio_write(b, bar0 + 0x10, 4, 0x11223344);
	assert_int_equal(x->t.accesses, 0);

	/* COMMAND.MEMORY on: each BAR is mapped at its address */
	ecam_write(b, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(x->t.nmapped, 3);
	assert_int_equal(x->t.mapped[0].bar, 0);
	assert_int_equal(x->t.mapped[0].addr, bar0);
	assert_int_equal(x->t.mapped[1].bar, 2);
	assert_int_equal(x->t.mapped[1].addr, bar2);
	assert_int_equal(x->t.mapped[2].bar, 5);
	assert_int_equal(x->t.mapped[2].addr, bar5);
	/* writing the same command again maps nothing twice */
	ecam_write(b, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(x->t.nmapped, 3);

	/* every size, at the right BAR and offset */
	for (uint32_t len = 1; len <= 8; len++) {
		uint64_t v = mmio_read(b, bar2 + 0x100, len);
		assert_int_equal(x->t.last_bar, 2);
		assert_int_equal(x->t.last_off, 0x100);
		assert_int_equal(x->t.last_len, len);
		assert_false(x->t.last_write);
		assert_int_equal(v & 0xff, (0x100 ^ 2) & 0xff);
	}
	mmio_write(b, bar5 + 0xffff8, 8, 0x0102030405060708ULL);
	assert_int_equal(x->t.last_bar, 5);
	assert_int_equal(x->t.last_off, 0xffff8);
	assert_int_equal(x->t.last_len, 8);
	assert_true(x->t.last_write);
	assert_int_equal(x->t.last_data[0], 0x08);
	assert_int_equal(x->t.last_data[7], 0x01);
	/* the last byte of a BAR and its first */
	mmio_read(b, bar0 + 0x7fff, 1);
	assert_int_equal(x->t.last_off, 0x7fff);
	mmio_read(b, bar0, 1);
	assert_int_equal(x->t.last_off, 0);

	/* an access straddling the end of a BAR is not the BAR's */
	const uint32_t before = x->t.accesses;
	assert_int_equal(mmio_read(b, bar0 + 0x7ffc, 8), ~0ULL);
	mmio_write(b, bar2 + 0xfff, 2, 0);
	assert_int_equal(x->t.accesses, before);
	/* holes in the window float high */
	assert_int_equal(mmio_read(b, PCI_MMIO32_BASE + PCI_MMIO32_SIZE - 8, 8), ~0ULL);

	/* the guest moves BAR0 while decoding: mapped at the new address */
	moved = PCI_MMIO32_BASE + 0x4000000;
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4, moved);
	assert_int_equal(x->t.nmapped, 4);
	assert_int_equal(x->t.mapped[3].bar, 0);
	assert_int_equal(x->t.mapped[3].addr, moved);
	mmio_read(b, moved + 0x20, 4);
	assert_int_equal(x->t.last_bar, 0);
	assert_int_equal(x->t.last_off, 0x20);
	if (bar0 != moved) {
		const uint32_t n = x->t.accesses;
		assert_int_equal(mmio_read(b, bar0 + 0x20, 4), 0xffffffff);
		assert_int_equal(x->t.accesses, n);
	}

	/* outside the window (below it, or the sizing value): not decoded */
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4, 0x10000000);
	assert_int_equal(x->t.nmapped, 5);
	assert_int_equal(x->t.mapped[4].addr, 0);
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(x->t.nmapped, 5);
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4, PCI_MMIO32_BASE + PCI_MMIO32_SIZE);
	assert_int_equal(x->t.nmapped, 5);
	{
		const uint32_t n = x->t.accesses;
		uint8_t v[4];
		/* 0x10000000 is not PCI's: pci_mmio does not claim it */
		assert_false(pci_mmio(b, 0x10000000, v, 4, false));
		assert_int_equal(x->t.accesses, n);
	}
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4, bar0);
	assert_int_equal(x->t.nmapped, 6);
	assert_int_equal(x->t.mapped[5].addr, bar0);

	/* memory decoding off: everything unmapped */
	ecam_write(b, 0, 1, 0, PCI_COMMAND, 2, 0);
	assert_int_equal(x->t.nmapped, 9);
	for (uint32_t i = 6; i < 9; i++)
		assert_int_equal(x->t.mapped[i].addr, 0);
	{
		const uint32_t n = x->t.accesses;
		assert_int_equal(mmio_read(b, bar0, 4), 0xffffffff);
		assert_int_equal(mmio_read(b, bar5, 8), ~0ULL);
		assert_int_equal(x->t.accesses, n);
	}
	/* the window ends where it says (the ECAM window, below, is checked
	 * on its own) */
	uint8_t v[8];
	assert_false(pci_window_contains(PCI_MMIO32_BASE - 1, 1));
	assert_true(pci_window_contains(PCI_MMIO32_BASE, 1));
	assert_false(pci_mmio(b, PCI_MMIO32_BASE + PCI_MMIO32_SIZE, v, 1, false));
	assert_true(pci_mmio(b, PCI_ECAM_BASE, v, 4, false));
	assert_true(pci_mmio(b, PCI_ECAM_BASE + PCI_ECAM_SIZE - 4, v, 4, false));
	assert_false(pci_mmio(b, PCI_ECAM_BASE - 4, v, 4, false));
	/* ECAM lies in the hole, clear of RAM and of both BAR windows */
	assert_true(PCI_ECAM_BASE >= GMEM_MMIO_HOLE_START);
	assert_true(PCI_ECAM_BASE + PCI_ECAM_SIZE <= PCI_MMIO32_BASE);
	assert_false(pci_window_contains(PCI_ECAM_BASE, PCI_ECAM_SIZE));
	/* the second window (firmware's BARs) starts at its base and stops at
	 * the IOAPIC */
	assert_false(pci_mmio(b, PCI_MMIO32_HI_BASE - 4, v, 4, false));
	assert_true(pci_mmio(b, PCI_MMIO32_HI_BASE, v, 4, false));
	assert_true(pci_mmio(b, PCI_MMIO32_HI_BASE + PCI_MMIO32_HI_SIZE - 1, v, 1, false));
	assert_false(pci_mmio(b, 0xfec00000ULL, v, 4, false));
	assert_false(pci_mmio(b, PCI_MMIO32_BASE + PCI_MMIO32_SIZE + 0x100000, v, 4, false));
	/* a BAR the guest moves into the second window decodes there */
	ecam_write(b, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4, 0xfeb00000U);
	assert_int_equal(x->t.f.bar_addr[0], 0xfeb00000U);
	ecam_write(b, 0, 1, 0, PCI_BAR0, 4,
		   (uint32_t)PCI_MMIO32_HI_BASE + (uint32_t)PCI_MMIO32_HI_SIZE);
	assert_int_equal(x->t.f.bar_addr[0], 0);
}

/* ---- q35: what OVMF looks for ---- */

static void test_q35_host_bridge(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	const uint32_t pciexbar = (uint32_t)PCI_ECAM_BASE | 1;

	/* OvmfPkg PlatformPei: the host bridge's device id picks the board */
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_VENDOR_ID, 4), 0x29c08086);
	assert_int_equal(ecam_read(b, 0, 0, 0, PCI_VENDOR_ID, 4), 0x29c08086);
	assert_int_equal(t1_read(b, 0, 0, 0, PCI_REVISION, 4) >> 8, 0x060000);
	/* PCIEXBAR moves to 0x60: enabled, 256 buses, at PCI_ECAM_BASE; the
	 * 945's 0x48 is plain zero */
	assert_int_equal(t1_read(b, 0, 0, 0, Q35_PCIEXBAR, 4), pciexbar);
	assert_int_equal(ecam_read(b, 0, 0, 0, Q35_PCIEXBAR, 4), pciexbar);
	assert_int_equal(t1_read(b, 0, 0, 0, HOST_PCIEXBAR, 4), 0);
	/* read-only: neither moved nor turned off, by any access size */
	t1_write(b, 0, 0, 0, Q35_PCIEXBAR, 4, 0xe0000001U);
	t1_write(b, 0, 0, 0, Q35_PCIEXBAR, 1, 0);
	ecam_write(b, 0, 0, 0, Q35_PCIEXBAR + 2, 2, 0);
	t1_write(b, 0, 0, 0, Q35_PCIEXBAR + 4, 4, 0xffffffffU);
	assert_int_equal(t1_read(b, 0, 0, 0, Q35_PCIEXBAR, 4), pciexbar);
	assert_int_equal(t1_read(b, 0, 0, 0, Q35_PCIEXBAR + 4, 4), 0);
	t1_write(b, 0, 0, 0, HOST_PCIEXBAR, 4, pciexbar);
	assert_int_equal(t1_read(b, 0, 0, 0, HOST_PCIEXBAR, 4), 0);
	/* the ECAM window still decodes where PCIEXBAR says */
	assert_int_equal(mmio_read(b, PCI_ECAM_BASE + Q35_PCIEXBAR, 4), pciexbar);
}

static void test_q35_lpc(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;

	/* 00:1f.0, by type 1, by ECAM and by the raw ECAM address */
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_VENDOR_ID, 4), 0x29188086);
	assert_int_equal(ecam_read(b, 0, PCI_LPC_SLOT, 0, PCI_VENDOR_ID, 4), 0x29188086);
	assert_int_equal(mmio_read(b, PCI_ECAM_BASE + (31U << 15), 4), 0x29188086);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_REVISION, 4), 0x060100U << 8 | 2);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_HEADER_TYPE, 1), 0);
	for (uint32_t fn = 1; fn < 8; fn++)
		assert_int_equal(ecam_read(b, 0, PCI_LPC_SLOT, fn, 0, 4), 0xffffffff);

	/* OVMF's PM setup: PMBASE 0x600 and I/O decoding, then ACPI_EN ORed
	 * into ACPI_CNTL; the block is fixed, whatever is written */
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_PMBASE, 4), 0x601);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 1), 0x80);
	t1_write(b, 0, PCI_LPC_SLOT, 0, LPC_PMBASE, 4, 0x0600);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_PMBASE, 4), 0x601);
	t1_write(b, 0, PCI_LPC_SLOT, 0, PCI_COMMAND, 2,
		 t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_COMMAND, 2) | PCI_COMMAND_IO);
	t1_write(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 1,
		 t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 1) | 0x80);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 1), 0x80);
	/* other values: another base, ACPI off, another SCI IRQ */
	t1_write(b, 0, PCI_LPC_SLOT, 0, LPC_PMBASE, 4, 0xb001);
	ecam_write(b, 0, PCI_LPC_SLOT, 0, LPC_PMBASE, 2, 0);
	t1_write(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 1, 0);
	ecam_write(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 4, 0x87);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_PMBASE, 4), 0x601);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_ACPI_CNTL, 4), 0x80);
	/* I/O and memory decoding stay on; no interrupt line */
	t1_write(b, 0, PCI_LPC_SLOT, 0, PCI_COMMAND, 2, 0);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	t1_write(b, 0, PCI_LPC_SLOT, 0, PCI_INTERRUPT_LINE, 1, 0x0b);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_INTERRUPT_LINE, 1), 0);

	/* PIRQ A-D (0x60) and E-H (0x68) routing: reset 0x80 (not routed),
	 * bits 7 and 3:0 writable; 0x64-0x67 are not PIRQ registers */
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, 0x60, 4), 0x80808080);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, 0x68, 4), 0x80808080);
	t1_write(b, 0, PCI_LPC_SLOT, 0, 0x60, 4, 0x0b0a0905);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, 0x60, 4), 0x0b0a0905);
	t1_write(b, 0, PCI_LPC_SLOT, 0, 0x64, 4, 0xffffffff);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, 0x64, 4), 0);
	ecam_write(b, 0, PCI_LPC_SLOT, 0, 0x68, 1, 0xff);
	ecam_write(b, 0, PCI_LPC_SLOT, 0, 0x6b, 1, 0x70);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, 0x68, 4), 0x0080808f);

	/* RCBA: bits 31:14 and enable writable, the rest reads zero */
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_RCBA, 4), 0);
	t1_write(b, 0, PCI_LPC_SLOT, 0, LPC_RCBA, 4, 0xffffffff);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_RCBA, 4), 0xffffc001);
	t1_write(b, 0, PCI_LPC_SLOT, 0, LPC_RCBA, 4, 0xfed1c0ffU);
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, LPC_RCBA, 4), 0xfed1c001);
	/* no BARs */
	assert_int_equal(t1_read(b, 0, PCI_LPC_SLOT, 0, PCI_BAR0, 4), 0);
}

/* Devices added after pci_bus_q35 take slots 1..30; slot 31 stays the LPC
 * bridge's. */
static void test_q35_table_full(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	struct tfunc *t = calloc(PCI_LPC_SLOT, sizeof(*t));

	assert_non_null(t);
	for (int i = 0; i < PCI_LPC_SLOT - 1; i++) {
		tf_init(&t[i]);
		assert_int_equal(pci_func_add_bar(&t[i].f, 0, 0x1000), 0);
		assert_int_equal(pci_bus_add(b, &t[i].f), i + 1);
	}
	tf_init(&t[PCI_LPC_SLOT - 1]);
	assert_int_equal(pci_bus_add(b, &t[PCI_LPC_SLOT - 1].f), -ENOSPC);
	for (uint32_t dev = 1; dev < PCI_LPC_SLOT; dev++)
		assert_int_equal(ecam_read(b, 0, dev, 0, 0, 4), TF_DEVICE << 16 | TF_VENDOR);
	assert_int_equal(ecam_read(b, 0, PCI_LPC_SLOT, 0, 0, 4), 0x29188086);
	assert_int_equal(mmio_read(b, PCI_ECAM_BASE + (31U << 15), 4), 0x29188086);
	free(t);
}

/* ---- configuration space rules ---- */

static void test_cap_walk(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	static const uint8_t want[] = {0x09, 0x11, 0x01};
	uint32_t n = 0, ptr;

	/* drivers/pci/pci.c __pci_find_next_cap_ttl(), through type 1 */
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST,
			 PCI_STATUS_CAP_LIST);
	ptr = t1_read(b, 0, 1, 0, PCI_CAP_PTR, 1);
	while (ptr) {
		uint32_t ent;
		assert_true(ptr >= 0x40 && ptr <= 0xfc);
		assert_int_equal(ptr & 3, 0);
		assert_true(n < sizeof(want));
		ent = t1_read(b, 0, 1, 0, ptr, 2);
		assert_int_equal(ent & 0xff, want[n]);
		/* a later one, or the end: the list cannot loop */
		assert_true((ent >> 8) == 0 || (ent >> 8) > ptr);
		ptr = ent >> 8;
		n++;
	}
	assert_int_equal(n, sizeof(want));
	/* bodies as given */
	assert_int_equal(ecam_read(b, 0, 1, 0, 0x52, 2), 3);
	assert_int_equal(ecam_read(b, 0, 1, 0, 0x54, 4), 0x4000);
	assert_int_equal(ecam_read(b, 0, 1, 0, 0x42, 1), 16);
}

static void test_write_masks(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	uint8_t before[PCI_CFG_SIZE], after[PCI_CFG_SIZE];

	for (uint32_t off = 0; off < PCI_CFG_SIZE; off += 4)
		pci_put32(before + off, (uint32_t)ecam_read(b, 0, 1, 0, off, 4));
	/* all ones everywhere, as dwords, then as bytes */
	for (uint32_t off = 0; off < PCI_CFG_SIZE; off += 4)
		t1_write(b, 0, 1, 0, off, 4, 0xffffffff);
	for (uint32_t off = 0; off < PCI_CFG_SIZE; off++)
		ecam_write(b, 0, 1, 0, off, 1, 0xff);
	for (uint32_t off = 0; off < PCI_CFG_SIZE; off += 4)
		pci_put32(after + off, (uint32_t)ecam_read(b, 0, 1, 0, off, 4));

	for (uint32_t off = 0; off < PCI_CFG_SIZE; off++) {
		switch (off) {
		case PCI_COMMAND: /* memory, bus master */
			assert_int_equal(after[off], 0x06);
			break;
		case PCI_COMMAND + 1: /* INTx disable */ assert_int_equal(after[off], 0x04); break;
		case PCI_INTERRUPT_LINE: assert_int_equal(after[off], 0xff); break;
		case PCI_BAR0:
		case PCI_BAR0 + 8:
		case PCI_BAR0 + 20:
		case PCI_BAR0 + 1: /* BAR0 is 32 KiB */
		case PCI_BAR0 + 2:
		case PCI_BAR0 + 3:
		case PCI_BAR0 + 9:
		case PCI_BAR0 + 10:
		case PCI_BAR0 + 11:
		case PCI_BAR0 + 21:
		case PCI_BAR0 + 22:
		case PCI_BAR0 + 23: break;
		default:
			/* ids, class, header type, status, cap pointer, caps,
			 * subsystem, pin, and everything unused */
			if (after[off] != before[off])
				fail_msg("config byte 0x%x changed: 0x%02x -> 0x%02x", off,
					 before[off], after[off]);
		}
	}
	assert_int_equal(pci_get32(after + PCI_BAR0), 0xffff8000);
	assert_int_equal(pci_get32(after + PCI_BAR0 + 8), 0xfffff000);
	assert_int_equal(pci_get32(after + PCI_BAR0 + 20), 0xfff00000);
	/* and zero clears the writable bits again */
	t1_write(b, 0, 1, 0, PCI_COMMAND, 2, 0);
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_COMMAND, 2), 0);
	/* the function was told about every write */
	assert_true(x->t.cfg_written >= PCI_CFG_SIZE / 4 + PCI_CFG_SIZE);
}

static void test_status_w1c(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;

	/* the function reports errors in status (as a device model would) */
	pci_put16(x->t.f.cfg + PCI_STATUS, 0xf900 | PCI_STATUS_CAP_LIST);
	/* a dword write of the command register with zeroes above clears nothing */
	t1_write(b, 0, 1, 0, PCI_COMMAND, 4, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_STATUS, 2), 0xf900 | PCI_STATUS_CAP_LIST);
	/* one bit at a time */
	t1_write(b, 0, 1, 0, PCI_STATUS, 2, 0x0100);
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_STATUS, 2), 0xf800 | PCI_STATUS_CAP_LIST);
	ecam_write(b, 0, 1, 0, PCI_STATUS + 1, 1, 0x80);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_STATUS, 2), 0x7800 | PCI_STATUS_CAP_LIST);
	/* all ones: every error bit clears, CAP_LIST is read-only */
	t1_write(b, 0, 1, 0, PCI_STATUS, 2, 0xffff);
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	/* writing ones to clear bits never sets any */
	t1_write(b, 0, 1, 0, PCI_STATUS, 2, 0xffff);
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	assert_int_equal(t1_read(b, 0, 1, 0, PCI_COMMAND, 2),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* ---- hostile accesses ---- */

static void test_hostile_sizes_and_offsets(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	uint8_t snap[PCI_CFG_SIZE];
	static const uint32_t bad_len[] = {0, 3, 5, 6, 7, 8, 16};

	memcpy(snap, x->t.f.cfg, sizeof(snap));
	/* sizes other than 1/2/4: reads all ones, writes ignored */
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		uint8_t v[24];
		const uint32_t len = bad_len[i];
		memset(v, 0x5a, sizeof(v));
		assert_true(pci_mmio(b, ecam_addr(0, 1, 0, PCI_COMMAND), v, len, false));
		for (uint32_t k = 0; k < len; k++)
			assert_int_equal(v[k], 0xff);
		assert_int_equal(v[len], 0x5a); /* nothing past len */
		memset(v, 0xff, sizeof(v));
		pci_mmio(b, ecam_addr(0, 1, 0, 0), v, len, true);
		pci_config_access(b, 0, 8, 0, v, len, true);
	}
	/* misaligned words and dwords */
	for (uint32_t off = 0; off < 0x100; off++) {
		if (off & 1) {
			assert_int_equal(ecam_read(b, 0, 1, 0, off, 2), 0xffff);
			ecam_write(b, 0, 1, 0, off, 2, 0xffff);
		}
		if (off & 3) {
			assert_int_equal(ecam_read(b, 0, 1, 0, off, 4), 0xffffffff);
			ecam_write(b, 0, 1, 0, off, 4, 0xffffffff);
		}
	}
	/* the extended space 0x100..0xfff reads as zero, writes go nowhere */
	for (uint32_t off = 0x100; off < 0x1000; off += 4) {
		assert_int_equal(ecam_read(b, 0, 1, 0, off, 4), 0);
		assert_int_equal(ecam_read(b, 0, 0, 0, off, 4), 0);
		ecam_write(b, 0, 1, 0, off, 4, 0xffffffff);
	}
	assert_int_equal(ecam_read(b, 0, 1, 0, 0xfff, 1), 0);
	assert_int_equal(ecam_read(b, 0, 1, 0, 0xffe, 2), 0);
	/* directly, with offsets no mechanism can produce */
	{
		uint32_t v = 0x5a5a5a5a;
		pci_config_access(b, 0, 8, 0x10000, (uint8_t *)&v, 4, false);
		assert_int_equal(v, 0);
		pci_config_access(b, 0, 8, 0xfffffffc, (uint8_t *)&v, 4, true);
		pci_config_access(b, 256, 8, 0, (uint8_t *)&v, 4, false);
		assert_int_equal(v, 0xffffffff);
		pci_config_access(b, 0, 0x1000, 0, (uint8_t *)&v, 4, false);
		assert_int_equal(v, 0xffffffff);
	}
	assert_memory_equal(snap, x->t.f.cfg, sizeof(snap));
	assert_int_equal(x->t.nmapped, 0);
}

static void test_hostile_type1(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	uint8_t snap[PCI_CFG_SIZE];

	memcpy(snap, x->t.f.cfg, sizeof(snap));
	/* the enable bit clear: no function answers, writes go nowhere */
	outl(b, 0xcf8, cf8(0, 1, 0, PCI_COMMAND) & 0x7fffffff);
	assert_int_equal(in(b, 0xcfc, 4), 0xffffffff);
	assert_int_equal(in(b, 0xcfc, 2), 0xffff);
	assert_int_equal(in(b, 0xcfd, 1), 0xff);
	outw(b, 0xcfc, 0xffff);
	outl(b, 0xcf8, cf8(0, 1, 0, PCI_VENDOR_ID) & 0x7fffffff);
	assert_int_equal(in(b, 0xcfc, 4), 0xffffffff);

	/* reserved and low bits of CONFIG_ADDRESS read back as zero */
	outl(b, 0xcf8, 0xffffffff);
	assert_int_equal(in(b, 0xcf8, 4), 0x80fffffc);
	outl(b, 0xcf8, cf8(0, 1, 0, 0) | 3);
	assert_int_equal(in(b, 0xcf8, 4), cf8(0, 1, 0, 0));
	assert_int_equal(in(b, 0xcfc, 4), TF_DEVICE << 16 | TF_VENDOR);

	/* byte and word accesses to 0xCF8-0xCFB neither latch nor read it */
	outb(b, 0xcf8, 0x08);
	outb(b, 0xcf9, 0x00);
	outw(b, 0xcf8, 0x0000);
	outw(b, 0xcfa, 0x0000);
	outb(b, 0xcfb, 0x00);
	assert_int_equal(in(b, 0xcf8, 4), cf8(0, 1, 0, 0));
	assert_int_equal(in(b, 0xcf8, 1), 0xff);
	assert_int_equal(in(b, 0xcf9, 1), 0xff);
	assert_int_equal(in(b, 0xcf8, 2), 0xffff);
	assert_int_equal(in(b, 0xcfa, 2), 0xffff);
	/* nor do dword accesses at the wrong port */
	{
		uint32_t v = 0;
		assert_true(pci_pio(b, 0xcf9, (uint8_t *)&v, 4, true));
		assert_true(pci_pio(b, 0xcfa, (uint8_t *)&v, 4, false));
		assert_int_equal(v, 0xffffffff);
		assert_int_equal(in(b, 0xcf8, 4), cf8(0, 1, 0, 0));
	}

	/* data port: bytes and words inside the dword */
	assert_int_equal(in(b, 0xcfc, 1), TF_VENDOR & 0xff);
	assert_int_equal(in(b, 0xcfd, 1), TF_VENDOR >> 8);
	assert_int_equal(in(b, 0xcfe, 2), TF_DEVICE);
	assert_int_equal(in(b, 0xcff, 1), TF_DEVICE >> 8);
	/* misaligned inside the dword: a word at 0xCFD */
	assert_int_equal(in(b, 0xcfd, 2), 0xffff);
	/* crossing the end of the dword */
	assert_int_equal(in(b, 0xcff, 2), 0xffff);
	assert_int_equal(in(b, 0xcfe, 4), 0xffffffff);
	assert_int_equal(in(b, 0xcfd, 4), 0xffffffff);
	outl(b, 0xcf8, cf8(0, 1, 0, PCI_COMMAND));
	{
		uint32_t v = 0xffffffff;
		assert_true(pci_pio(b, 0xcfd, (uint8_t *)&v, 4, true));
		assert_true(pci_pio(b, 0xcff, (uint8_t *)&v, 2, true));
		assert_true(pci_pio(b, 0xcfc, (uint8_t *)&v, 3, true));
		assert_true(pci_pio(b, 0xcfc, (uint8_t *)&v, 3, false));
		assert_int_equal(v & 0xffffff, 0xffffff);
	}
	assert_memory_equal(snap, x->t.f.cfg, sizeof(snap));
	assert_int_equal(x->t.nmapped, 0);
}

/* ---- building the bus ---- */

static void test_table_full(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	struct tfunc *t = calloc(PCI_MAX_SLOTS, sizeof(*t));

	assert_non_null(t);
	for (int i = 0; i < PCI_MAX_SLOTS - 1; i++) {
		tf_init(&t[i]);
		assert_int_equal(pci_func_add_bar(&t[i].f, 0, 0x1000), 0);
		assert_int_equal(pci_bus_add(b, &t[i].f), i + 1);
	}
	tf_init(&t[PCI_MAX_SLOTS - 1]);
	assert_int_equal(pci_bus_add(b, &t[PCI_MAX_SLOTS - 1].f), -ENOSPC);
	for (uint32_t dev = 1; dev < PCI_MAX_SLOTS; dev++) {
		assert_int_equal(ecam_read(b, 0, dev, 0, 0, 4), TF_DEVICE << 16 | TF_VENDOR);
		assert_int_equal(t1_read(b, 0, dev, 0, PCI_INTERRUPT_LINE, 1), PCI_INTX_PIN(dev));
		assert_true(PCI_INTX_PIN(dev) >= 16 && PCI_INTX_PIN(dev) <= 23);
	}
	/* every BAR distinct */
	for (uint32_t i = 1; i < PCI_MAX_SLOTS - 1; i++)
		assert_true(ecam_read(b, 0, i + 1, 0, PCI_BAR0, 4) >=
			    ecam_read(b, 0, i, 0, PCI_BAR0, 4) + 0x1000);
	free(t);
}

static void test_bar_window_exhausted(void **state)
{
	struct fixture *x = *state;
	struct pci_bus *b = &x->b;
	struct tfunc big, more, nobar;

	/* what pci_func_add_bar refuses */
	tf_init(&big);
	assert_int_equal(pci_func_add_bar(&big.f, -1, 0x1000), -EINVAL);
	assert_int_equal(pci_func_add_bar(&big.f, PCI_NUM_BARS, 0x1000), -EINVAL);
	assert_int_equal(pci_func_add_bar(&big.f, 0, 0), -EINVAL);
	assert_int_equal(pci_func_add_bar(&big.f, 0, 0x800), -EINVAL);
	assert_int_equal(pci_func_add_bar(&big.f, 0, 0x3000), -EINVAL);
	assert_int_equal(pci_func_add_bar(&big.f, 0, PCI_MMIO32_SIZE * 2), -EINVAL);
	assert_int_equal(big.f.bar_size[0], 0);
	/* a BAR the size of the whole window fits, exactly */
	assert_int_equal(pci_func_add_bar(&big.f, 0, PCI_MMIO32_SIZE), 0);
	assert_int_equal(pci_bus_add(b, &big.f), 1);
	assert_int_equal(ecam_read(b, 0, 1, 0, PCI_BAR0, 4), PCI_MMIO32_BASE);
	/* then nothing else with a BAR does */
	tf_init(&more);
	assert_int_equal(pci_func_add_bar(&more.f, 0, 0x1000), 0);
	assert_int_equal(pci_bus_add(b, &more.f), -ENOSPC);
	assert_int_equal(ecam_read(b, 0, 2, 0, 0, 4), 0xffffffff);
	/* the refused function took no slot */
	tf_init(&nobar);
	assert_int_equal(pci_bus_add(b, &nobar.f), 2);
	/* the whole window decodes to the big BAR */
	ecam_write(b, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	mmio_read(b, PCI_MMIO32_BASE + PCI_MMIO32_SIZE - 8, 8);
	assert_int_equal(big.last_off, PCI_MMIO32_SIZE - 8);
	assert_int_equal(big.last_len, 8);
}

/* Regression (vmm-core/pci.c, pci_func_add_cap): when a capability ends at
 * exactly 0x100, cap_end (a uint8_t) wraps to 0 and the next capability is
 * written over the header at offset 0. */
static void test_cap_space_full(void **state)
{
	uint8_t body[14] = {0};
	struct tfunc t;
	int r = 0;

	(void)state;
	tf_init(&t);
	/* twelve 16-byte capabilities fill 0x40..0xff */
	for (int i = 0; i < 12; i++)
		assert_int_equal(pci_func_add_cap(&t.f, 0x09, body, 16), 0x40 + 16 * i);
	r = pci_func_add_cap(&t.f, 0x05, body, 4);
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(pci_get16(t.f.cfg + PCI_VENDOR_ID), TF_VENDOR);
	assert_int_equal(t.f.cfg[0xf1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_type1_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_functions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_q35_host_bridge, setup_q35, teardown),
		cmocka_unit_test_setup_teardown(test_q35_lpc, setup_q35, teardown),
		cmocka_unit_test_setup_teardown(test_q35_table_full, setup_q35, teardown),
		cmocka_unit_test_setup_teardown(test_func_identity, setup_func, teardown),
		cmocka_unit_test_setup_teardown(test_bar_placement_and_sizing, setup_func,
						teardown),
		cmocka_unit_test_setup_teardown(test_bar_decode, setup_func, teardown),
		cmocka_unit_test_setup_teardown(test_cap_walk, setup_func, teardown),
		cmocka_unit_test_setup_teardown(test_write_masks, setup_func, teardown),
		cmocka_unit_test_setup_teardown(test_status_w1c, setup_func, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_sizes_and_offsets, setup_func,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_type1, setup_func, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_window_exhausted, setup, teardown),
		cmocka_unit_test(test_cap_space_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
