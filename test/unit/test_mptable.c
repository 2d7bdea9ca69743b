/* Unit tests for vmm-core/mptable: the table is parsed the way Linux's
 * arch/x86/kernel/mpparse.c does (scan for "_MP_", check both checksums, walk
 * the entries by type) for every CPU count the core allows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include "test/unit/testguest.h"
#include "vmm-core/e820.h"
#include "vmm-core/mptable.h"
#include "vmm-core/pci.h"

#define GUEST_SIZE GMEM_MIN_SIZE

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
/* Entry sizes from the MP specification 1.4, table 4-3. */
static const size_t mp_entry_size[] = {20, 8, 8, 8, 8};

struct mp_parsed {
	uint32_t cpus, bsp, buses, ioapics, intsrc, lintsrc, pci_slots;
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint64_t end; /* guest-physical end of the configuration table */
	uint8_t cpu_ids[256];
};

static struct test_guest guest;

static int group_setup(void **state)
{
	test_guest_init(&guest, GUEST_SIZE);
	return 0;
}

static int group_teardown(void **state)
{
	test_guest_free(&guest);
	return 0;
}

/* Each test starts from freshly patterned RAM. */
static int setup(void **state)
{
	test_guest_reset(&guest);
	*state = &guest;
	return 0;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Find and check the floating pointer in the last KiB of base memory, then
 * the configuration table it points at. */
static void mp_parse(const struct test_guest *g, struct mp_parsed *ret)
{
	const uint8_t *mpf = NULL, *hdr, *p, *end;
	uint32_t physptr;
	uint16_t len, count;

	memset(ret, 0, sizeof(*ret));
	for (uint64_t a = 639 * 1024; a < 640 * 1024; a += 16)
		if (memcmp(g->ram + a, "_MP_", 4) == 0) {
			mpf = g->ram + a;
			break;
		}
	assert_non_null(mpf);
	assert_ptr_equal(mpf, g->ram + BOOT_EBDA_START);
	assert_int_equal(mpf[8], 1); /* length in paragraphs */
	assert_int_equal(mpf[9], 4); /* spec 1.4 */
	assert_int_equal(sum(mpf, 16), 0);
	assert_int_equal(mpf[11], 0); /* feature 1: a table follows, no default config */

	physptr = rd32(mpf + 4);
	assert_true(physptr >= BOOT_EBDA_START);
	hdr = g->ram + physptr;
	assert_memory_equal(hdr, "PCMP", 4);
	len = rd16(hdr + 4);
	count = rd16(hdr + 34);
	assert_int_equal(hdr[6], 4);
	assert_int_equal(sum(hdr, len), 0);
	assert_int_equal(rd32(hdr + 36), LAPIC_ADDR);
	assert_int_equal(rd16(hdr + 40), 0); /* no extended table */
	ret->end = physptr + len;
	/* It must stay in the area the e820 map reserves. */
	assert_true(ret->end <= BOOT_HIMEM);

	p = hdr + 44;
	end = hdr + len;
	for (uint16_t i = 0; i < count; i++) {
		assert_true(p < end);
		assert_true(*p < sizeof(mp_entry_size) / sizeof(mp_entry_size[0]));
		switch (*p) {
		case MP_PROCESSOR:
			assert_true(p[3] & 1); /* enabled */
			if (p[3] & 2)
				ret->bsp++;
			assert_true(p[3] & 2 ? ret->cpus == 0 : ret->cpus > 0);
			ret->cpu_ids[ret->cpus++] = p[1];
			break;
		case MP_BUS:
			if (p[1] == MPTABLE_BUS_PCI)
				assert_memory_equal(p + 2, "PCI   ", 6);
			else
				assert_memory_equal(p + 2, "ISA   ", 6);
			ret->buses++;
			break;
		case MP_IOAPIC:
			ret->ioapic_id = p[1];
			ret->ioapic_addr = rd32(p + 4);
			assert_true(p[3] & 1);
			ret->ioapics++;
			break;
		case MP_INTSRC:
			assert_int_equal(p[6], ret->ioapic_id);
			if (p[4] == MPTABLE_BUS_ISA) {
				assert_int_equal(p[5], p[7]); /* IRQ n on pin n */
				ret->intsrc++;
			} else {
				/* PCI: slot << 2 | INTA, edge/high, on the slot's pin */
				assert_int_equal(p[4], MPTABLE_BUS_PCI);
				assert_int_equal(p[5] & 3, 0);
				assert_int_equal(p[7], PCI_INTX_PIN(p[5] >> 2));
				assert_int_equal(rd16(p + 2), 0x5);
				ret->pci_slots |= 1U << (p[5] >> 2);
			}
			break;
		case MP_LINTSRC: ret->lintsrc++; break;
		}
		p += mp_entry_size[*p];
	}
	assert_ptr_equal(p, end);
}

static void check_ncpus(struct test_guest *g, uint32_t n)
{
	struct mp_parsed mp;

	assert_int_equal(mptable_write(&g->mem, n, 0x16), 0);
	mp_parse(g, &mp);
	assert_int_equal(mp.pci_slots, 0x16);
	assert_int_equal(mp.cpus, n);
	assert_int_equal(mp.bsp, 1);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(mp.cpu_ids[i], i);
	assert_int_equal(mp.buses, 2);
	assert_int_equal(mp.ioapics, 1);
	assert_int_equal(mp.ioapic_addr, IOAPIC_ADDR);
	/* The IOAPIC id must not collide with a CPU's APIC id. */
	assert_true(mp.ioapic_id >= n);
	assert_int_equal(mp.intsrc, 16);
	assert_int_equal(mp.lintsrc, 2);
	/* Only the table was written. */
	assert_true(test_guest_same(g, 0, BOOT_EBDA_START));
	assert_true(test_guest_same(g, mp.end, GUEST_SIZE - mp.end));
}

static void test_one_cpu(void **state)
{
	check_ncpus(*state, 1);
}

static void test_two_cpus(void **state)
{
	check_ncpus(*state, 2);
}

static void test_max_cpus(void **state)
{
	assert_int_equal(MPTABLE_MAX_CPUS, 64);
	check_ncpus(*state, MPTABLE_MAX_CPUS);
}

static void test_every_count(void **state)
{
	struct test_guest *g = *state;

	for (uint32_t n = 1; n <= MPTABLE_MAX_CPUS; n++) {
		test_guest_snapshot(g);
		check_ncpus(g, n);
	}
	/* A smaller table over a bigger one leaves a valid table. */
	test_guest_snapshot(g);
	check_ncpus(g, 3);
}

static void test_bad_counts(void **state)
{
	struct test_guest *g = *state;

	assert_int_equal(mptable_write(&g->mem, 0, 0), -EINVAL);
	assert_int_equal(mptable_write(&g->mem, MPTABLE_MAX_CPUS + 1, 0), -EINVAL);
	assert_int_equal(mptable_write(&g->mem, 255, 0), -EINVAL);
	assert_int_equal(mptable_write(&g->mem, UINT32_MAX, 0), -EINVAL);
	assert_true(test_guest_unchanged(g));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_one_cpu),     T(test_two_cpus),	 T(test_max_cpus),
		T(test_every_count), T(test_bad_counts),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
