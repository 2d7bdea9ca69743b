/* Unit tests for vmm-core/e820: the map is what the guest believes about its
 * RAM, so order, overlap and the reserved low area must be exact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include "vmm-core/e820.h"
#include "vmm-core/pci.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static void assert_entry(const struct e820_map *map, uint32_t i, uint64_t addr, uint64_t size,
			 uint32_t type)
{
	assert_true(i < map->n);
	assert_int_equal(map->e[i].addr, addr);
	assert_int_equal(map->e[i].size, size);
	assert_int_equal(map->e[i].type, type);
}

static void assert_sorted(const struct e820_map *map)
{
	for (uint32_t i = 1; i < map->n; i++)
		assert_true(map->e[i - 1].addr + map->e[i - 1].size <= map->e[i].addr);
}

static void test_add_orders(void **state)
{
	struct e820_map map;

	memset(&map, 0, sizeof(map));
	assert_int_equal(e820_add(&map, 0x300000, 0x1000, E820_RAM), 0);
	assert_int_equal(e820_add(&map, 0x100000, 0x1000, E820_RESERVED), 0);
	assert_int_equal(e820_add(&map, 0x500000, 0x1000, E820_RAM), 0);
	assert_int_equal(e820_add(&map, 0x200000, 0x1000, E820_RAM), 0);
	assert_int_equal(e820_add(&map, 0, 0x1000, E820_RAM), 0);
	assert_int_equal(map.n, 5);
	assert_entry(&map, 0, 0, 0x1000, E820_RAM);
	assert_entry(&map, 1, 0x100000, 0x1000, E820_RESERVED);
	assert_entry(&map, 2, 0x200000, 0x1000, E820_RAM);
	assert_entry(&map, 3, 0x300000, 0x1000, E820_RAM);
	assert_entry(&map, 4, 0x500000, 0x1000, E820_RAM);
	assert_sorted(&map);
}

static void test_add_adjacent(void **state)
{
	struct e820_map map;

	memset(&map, 0, sizeof(map));
	assert_int_equal(e820_add(&map, 0x2000, 0x1000, E820_RAM), 0);
	/* Touching is not overlapping, on either side. */
	assert_int_equal(e820_add(&map, 0x1000, 0x1000, E820_RAM), 0);
	assert_int_equal(e820_add(&map, 0x3000, 0x1000, E820_RESERVED), 0);
	assert_int_equal(map.n, 3);
	assert_sorted(&map);
}

static void test_add_overlap(void **state)
{
	struct e820_map map, before;

	memset(&map, 0, sizeof(map));
	assert_int_equal(e820_add(&map, 0x10000, 0x10000, E820_RAM), 0);
	assert_int_equal(e820_add(&map, 0x40000, 0x10000, E820_RAM), 0);
	before = map;
	assert_int_equal(e820_add(&map, 0x10000, 0x10000, E820_RAM), -EINVAL); /* same */
	assert_int_equal(e820_add(&map, 0xf000, 0x1001, E820_RAM), -EINVAL);   /* head */
	assert_int_equal(e820_add(&map, 0x1ffff, 0x10, E820_RAM), -EINVAL);    /* tail */
	assert_int_equal(e820_add(&map, 0x18000, 0x10, E820_RAM), -EINVAL);    /* inside */
	assert_int_equal(e820_add(&map, 0, 0x100000, E820_RAM), -EINVAL);      /* both */
	assert_int_equal(e820_add(&map, 0x30000, 0x10001, E820_RAM), -EINVAL); /* second */
	assert_int_equal(e820_add(&map, 0x4ffff, 1, E820_RESERVED), -EINVAL);
	assert_memory_equal(&map, &before, sizeof(map));
}

static void test_add_empty_and_wrap(void **state)
{
	struct e820_map map, before;

	memset(&map, 0, sizeof(map));
	assert_int_equal(e820_add(&map, 0x1000, 0x1000, E820_RAM), 0);
	before = map;
	assert_int_equal(e820_add(&map, 0x5000, 0, E820_RAM), -EINVAL);
	assert_int_equal(e820_add(&map, UINT64_MAX, 2, E820_RAM), -EINVAL);
	assert_int_equal(e820_add(&map, 0x10000, UINT64_MAX, E820_RAM), -EINVAL);
	/* A wrapped range would look like [0x10000, 0x800) and pass an overlap test. */
	assert_int_equal(e820_add(&map, UINT64_MAX - 0xfff, 0x1800, E820_RAM), -EINVAL);
	/* Nor can a range end exactly at 2^64: its end is not representable. */
	assert_int_equal(e820_add(&map, UINT64_MAX - 0xfff, 0x1000, E820_RESERVED), -EINVAL);
	assert_memory_equal(&map, &before, sizeof(map));
}

static void test_add_full(void **state)
{
	struct e820_map map, before;

	memset(&map, 0, sizeof(map));
	/* Fill from the top down so every insertion shifts the whole array. */
	for (uint32_t i = 0; i < E820_MAX; i++)
		assert_int_equal(e820_add(&map, (E820_MAX - i) * 0x10000ULL, 0x1000, E820_RAM), 0);
	assert_int_equal(map.n, E820_MAX);
	assert_sorted(&map);
	before = map;
	assert_int_equal(e820_add(&map, 0, 0x1000, E820_RAM), -ENOSPC);
	assert_int_equal(e820_add(&map, 0x1000000, 0x1000, E820_RAM), -ENOSPC);
	assert_memory_equal(&map, &before, sizeof(map));
}

static void build(struct e820_map *map, uint64_t size)
{
	struct gmem m;

	/* e820_build only reads the layout: no RAM behind it. */
	assert_int_equal(gmem_init(&m, (uint8_t *)map, size), 0);
	memset(map, 0xee, sizeof(*map));
	assert_int_equal(e820_build(map, &m), 0);
	assert_sorted(map);
}

static void assert_low_area(const struct e820_map *map)
{
	assert_entry(map, 0, 0, BOOT_EBDA_START, E820_RAM);
	assert_entry(map, 1, BOOT_EBDA_START, BOOT_HIMEM - BOOT_EBDA_START, E820_RESERVED);
}

static void assert_ecam(const struct e820_map *map, uint32_t i)
{
	assert_entry(map, i, PCI_ECAM_BASE, PCI_ECAM_SIZE, E820_RESERVED);
}

static void test_build_64m(void **state)
{
	struct e820_map map;

	build(&map, 64 * MiB);
	assert_int_equal(map.n, 4);
	assert_low_area(&map);
	assert_entry(&map, 2, BOOT_HIMEM, 64 * MiB - BOOT_HIMEM, E820_RAM);
	assert_ecam(&map, 3);
}

static void test_build_min(void **state)
{
	struct e820_map map;

	build(&map, GMEM_MIN_SIZE);
	assert_int_equal(map.n, 4);
	assert_low_area(&map);
	assert_entry(&map, 2, BOOT_HIMEM, GMEM_MIN_SIZE - BOOT_HIMEM, E820_RAM);
	assert_ecam(&map, 3);
}

/* RAM that ends exactly at the hole: no high entry. */
static void test_build_hole(void **state)
{
	struct e820_map map;

	build(&map, GMEM_MMIO_HOLE_START);
	assert_int_equal(map.n, 4);
	assert_low_area(&map);
	assert_entry(&map, 2, BOOT_HIMEM, GMEM_MMIO_HOLE_START - BOOT_HIMEM, E820_RAM);
	assert_ecam(&map, 3);
}

static void test_build_4g(void **state)
{
	struct e820_map map;

	build(&map, 4 * GiB);
	assert_int_equal(map.n, 5);
	assert_low_area(&map);
	assert_entry(&map, 2, BOOT_HIMEM, GMEM_MMIO_HOLE_START - BOOT_HIMEM, E820_RAM);
	assert_ecam(&map, 3);
	assert_entry(&map, 4, GMEM_HIGH_START, 4 * GiB - GMEM_MMIO_HOLE_START, E820_RAM);
}

static void test_build_max(void **state)
{
	struct e820_map map;
	uint64_t ram = 0;

	build(&map, GMEM_MAX_SIZE);
	assert_int_equal(map.n, 5);
	assert_ecam(&map, 3);
	assert_entry(&map, 4, GMEM_HIGH_START, GMEM_MAX_SIZE - GMEM_MMIO_HOLE_START, E820_RAM);
	/* All RAM is described, minus what the low reserved area takes. */
	for (uint32_t i = 0; i < map.n; i++)
		if (map.e[i].type == E820_RAM)
			ram += map.e[i].size;
	assert_int_equal(ram, GMEM_MAX_SIZE - (BOOT_HIMEM - BOOT_EBDA_START));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_orders),  cmocka_unit_test(test_add_adjacent),
		cmocka_unit_test(test_add_overlap), cmocka_unit_test(test_add_empty_and_wrap),
		cmocka_unit_test(test_add_full),    cmocka_unit_test(test_build_64m),
		cmocka_unit_test(test_build_min),   cmocka_unit_test(test_build_hole),
		cmocka_unit_test(test_build_4g),    cmocka_unit_test(test_build_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
