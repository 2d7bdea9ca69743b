/* Unit tests for vmm-core/bootinfo: what the guest finds in RAM at its first
 * instruction (start_info or zero page, e820, command line, GDT, page tables),
 * and where the initrd goes. Plans come from the real loaders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <asm/bootparam.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "test/unit/testguest.h"
#include "test/unit/testimg.h"
#include "vmm-core/boot.h"

#define MiB	   (1ULL << 20)
#define GUEST_SIZE (64 * MiB)

#define HVM_START_MAGIC	 0x336ec578
#define PVH_MEMMAP_ADDR	 (BOOT_PVH_INFO_ADDR + 0x100)
#define PVH_MODLIST_ADDR (BOOT_PVH_INFO_ADDR + 0xf00)

/* The PVH ABI (xen/include/public/arch-x86/hvm/start_info.h), restated here
 * so the test does not share a mistake with the code under test. */
struct pvh_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct pvh_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

static uint8_t img[0x10000];

struct fixture {
	struct test_guest g;
	struct e820_map map;
};

static struct fixture fix;

static int group_setup(void **state)
{
	test_guest_init(&fix.g, GUEST_SIZE);
	return e820_build(&fix.map, &fix.g.mem) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	test_guest_free(&fix.g);
	return 0;
}

/* Each test starts from freshly patterned RAM. */
static int setup(void **state)
{
	test_guest_reset(&fix.g);
	*state = &fix;
	return 0;
}

/* Load a default image of the given protocol; RAM is snapshotted afterwards. */
static void plan_for(struct fixture *f, enum boot_protocol p, struct boot_plan *plan)
{
	size_t len;

	if (p == BOOT_BZIMAGE) {
		struct timg_bz_spec s;
		timg_bz_default(&s);
		len = timg_bz_build(&s, img, sizeof(img));
	} else {
		struct timg_elf_spec s;
		timg_elf_default(&s, p == BOOT_ELF64, p == BOOT_PVH);
		len = timg_elf_build(&s, img, sizeof(img));
	}
	assert_int_equal(loader_load(img, len, &f->g.mem, plan), 0);
	assert_int_equal(plan->protocol, p);
	test_guest_snapshot(&f->g);
}

static void *at(struct fixture *f, uint64_t gpa)
{
	return f->g.ram + gpa;
}

static void assert_region_unchanged(const struct fixture *f, uint64_t gpa, uint64_t len)
{
	assert_true(test_guest_same(&f->g, gpa, len));
}

static void assert_cmdline(struct fixture *f, const char *cmdline)
{
	const char *c = at(f, BOOT_CMDLINE_ADDR);
	size_t n = strlen(cmdline);

	assert_memory_equal(c, cmdline, n);
	/* NUL-terminated, and nothing of an older command line after it. */
	for (size_t i = n; i < BOOT_CMDLINE_MAX; i++)
		if (c[i] != 0)
			fail_msg("command line byte %zu is %#x", i, c[i]);
}

/* GDT and identity page tables are common to every protocol. */
static void assert_gdt_and_paging(struct fixture *f)
{
	const uint64_t *gdt = at(f, BOOT_GDT_ADDR);
	const uint64_t *pml4 = at(f, BOOT_PML4_ADDR);
	const uint64_t *pdpt = at(f, BOOT_PML4_ADDR + 0x1000);
	const uint64_t *pd = at(f, BOOT_PML4_ADDR + 0x2000);

	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[2], 0x00af9b000000ffffULL); /* 64-bit code */
	assert_int_equal(gdt[3], 0x00cf93000000ffffULL); /* flat data */
	assert_int_equal(gdt[4], 0x00cf9b000000ffffULL); /* flat 32-bit code */
	assert_int_equal(pml4[0], (BOOT_PML4_ADDR + 0x1000) | 3);
	for (int i = 1; i < 512; i++)
		assert_int_equal(pml4[i], 0);
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(pdpt[i], (BOOT_PML4_ADDR + 0x2000 + i * 0x1000) | 3);
	assert_int_equal(pdpt[4], 0);
	for (uint64_t i = 0; i < 2048; i++)
		if (pd[i] != ((i << 21) | 0x83))
			fail_msg("pd[%llu] = %#llx", (unsigned long long)i,
				 (unsigned long long)pd[i]);
}

/* The kernel and everything above the boot area keep their bytes. */
static void assert_kernel_untouched(struct fixture *f)
{
	assert_region_unchanged(f, BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX,
				GUEST_SIZE - BOOT_CMDLINE_ADDR - BOOT_CMDLINE_MAX);
}

static void test_pvh(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	const struct pvh_start_info *si = at(f, BOOT_PVH_INFO_ADDR);
	const struct pvh_memmap_entry *mm = at(f, PVH_MEMMAP_ADDR);

	plan_for(f, BOOT_PVH, &plan);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "console=ttyS0 panic=-1", &f->map), 0);
	assert_int_equal(si->magic, HVM_START_MAGIC);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->flags, 0);
	assert_int_equal(si->cmdline_paddr, BOOT_CMDLINE_ADDR);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_int_equal(si->memmap_paddr, PVH_MEMMAP_ADDR);
	assert_int_equal(si->memmap_entries, f->map.n);
	assert_int_equal(f->map.n, 4); /* low RAM, EBDA, RAM, PCI ECAM */
	for (uint32_t i = 0; i < f->map.n; i++) {
		assert_int_equal(mm[i].addr, f->map.e[i].addr);
		assert_int_equal(mm[i].size, f->map.e[i].size);
		assert_int_equal(mm[i].type, f->map.e[i].type);
		assert_int_equal(mm[i].reserved, 0);
	}
	assert_cmdline(f, "console=ttyS0 panic=-1");
	assert_gdt_and_paging(f);
	/* No zero page for PVH. */
	assert_region_unchanged(f, BOOT_ZERO_PAGE_ADDR, 0x1000);
	assert_kernel_untouched(f);
}

static void test_pvh_initrd(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	const struct pvh_start_info *si = at(f, BOOT_PVH_INFO_ADDR);
	const struct pvh_modlist_entry *mod = at(f, PVH_MODLIST_ADDR);
	static const uint8_t initrd[5000] = {1, 2, 3};

	plan_for(f, BOOT_PVH, &plan);
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, initrd, sizeof(initrd)), 0);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, NULL, &f->map), 0);
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->modlist_paddr, PVH_MODLIST_ADDR);
	assert_int_equal(mod->paddr, plan.initrd_addr);
	assert_int_equal(mod->size, sizeof(initrd));
	assert_int_equal(mod->cmdline_paddr, 0);
	assert_int_equal(si->cmdline_paddr, 0);
}

/* All E820_MAX entries fit below the module list. */
static void test_pvh_full_map(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	struct e820_map map;
	const struct pvh_memmap_entry *mm = at(f, PVH_MEMMAP_ADDR);
	const struct pvh_modlist_entry *mod = at(f, PVH_MODLIST_ADDR);
	static const uint8_t initrd[100] = {9};

	memset(&map, 0, sizeof(map));
	for (uint32_t i = 0; i < E820_MAX; i++)
		assert_int_equal(e820_add(&map, i * 0x10000ULL, 0x1000, E820_RAM + (i & 1)), 0);
	plan_for(f, BOOT_PVH, &plan);
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, initrd, sizeof(initrd)), 0);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "x", &map), 0);
	for (uint32_t i = 0; i < E820_MAX; i++) {
		assert_int_equal(mm[i].addr, i * 0x10000ULL);
		assert_int_equal(mm[i].type, E820_RAM + (i & 1));
	}
	assert_int_equal(mod->paddr, plan.initrd_addr);
	assert_int_equal(mod->size, sizeof(initrd));
}

static void assert_zero_page_common(struct fixture *f, const struct boot_plan *plan, bool cmdline)
{
	const struct boot_params *bp = at(f, BOOT_ZERO_PAGE_ADDR);

	assert_int_equal(bp->hdr.boot_flag, 0xAA55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	assert_true(bp->hdr.loadflags & CAN_USE_HEAP);
	assert_int_equal(bp->hdr.vid_mode, 0xffff);
	assert_int_equal(bp->hdr.cmd_line_ptr, cmdline ? BOOT_CMDLINE_ADDR : 0);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->hdr.ramdisk_image, plan->initrd_addr);
	assert_int_equal(bp->hdr.ramdisk_size, plan->initrd_size);
	assert_int_equal(bp->e820_entries, f->map.n);
	for (uint32_t i = 0; i < f->map.n; i++) {
		assert_int_equal(bp->e820_table[i].addr, f->map.e[i].addr);
		assert_int_equal(bp->e820_table[i].size, f->map.e[i].size);
		assert_int_equal(bp->e820_table[i].type, f->map.e[i].type);
	}
	assert_int_equal(bp->e820_table[f->map.n].size, 0);
	/* No start_info for the Linux protocol. */
	assert_region_unchanged(f, BOOT_PVH_INFO_ADDR, 0x1000);
	assert_gdt_and_paging(f);
	assert_kernel_untouched(f);
}

static void test_elf64(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	const struct boot_params *bp = at(f, BOOT_ZERO_PAGE_ADDR);

	plan_for(f, BOOT_ELF64, &plan);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "root=/dev/vda", &f->map), 0);
	assert_zero_page_common(f, &plan, true);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.cmdline_size, BOOT_CMDLINE_MAX - 1);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_cmdline(f, "root=/dev/vda");
}

static void test_elf64_initrd(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	static const uint8_t initrd[70000] = {0x42};

	plan_for(f, BOOT_ELF64, &plan);
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, initrd, sizeof(initrd)), 0);
	test_guest_snapshot(&f->g);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, NULL, &f->map), 0);
	assert_int_not_equal(plan.initrd_addr, 0);
	assert_zero_page_common(f, &plan, false);
}

static void test_bzimage(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	const struct boot_params *bp = at(f, BOOT_ZERO_PAGE_ADDR);
	struct timg_bz_spec s;

	timg_bz_default(&s);
	plan_for(f, BOOT_BZIMAGE, &plan);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "quiet", &f->map), 0);
	assert_zero_page_common(f, &plan, true);
	/* The kernel's own header fields travel into boot_params. */
	assert_int_equal(bp->hdr.setup_sects, s.setup_sects);
	assert_int_equal(bp->hdr.version, s.version);
	assert_int_equal(bp->hdr.init_size, s.init_size);
	assert_int_equal(bp->hdr.pref_address, s.pref_address);
	assert_int_equal(bp->hdr.cmdline_size, s.cmdline_size);
	assert_int_equal(bp->hdr.xloadflags, s.xloadflags);
	assert_int_equal(bp->hdr.heap_end_ptr, 0xfe00);
	assert_cmdline(f, "quiet");
}

static void test_cmdline_empty(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	const struct boot_params *bp = at(f, BOOT_ZERO_PAGE_ADDR);

	plan_for(f, BOOT_ELF64, &plan);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "", &f->map), 0);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0);
	assert_cmdline(f, "");
	/* A second boot_write_info with a shorter line leaves no tail behind. */
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "a b c d e f g", &f->map), 0);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "a", &f->map), 0);
	assert_cmdline(f, "a");
}

static char *repeat(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'x', n);
	s[n] = 0;
	return s;
}

static void test_cmdline_limit(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	char *max = repeat(BOOT_CMDLINE_MAX - 1), *over = repeat(BOOT_CMDLINE_MAX);
	char *huge = repeat(1 << 20);

	plan_for(f, BOOT_PVH, &plan);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, over, &f->map), -E2BIG);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, huge, &f->map), -E2BIG);
	assert_true(test_guest_unchanged(&f->g));
	assert_int_equal(boot_write_info(&f->g.mem, &plan, max, &f->map), 0);
	assert_cmdline(f, max);
	free(max);
	free(over);
	free(huge);
}

static void test_cmdline_kernel_limit(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	struct timg_bz_spec s;
	size_t len;

	/* A kernel that takes 15 characters. */
	timg_bz_default(&s);
	s.cmdline_size = 15;
	len = timg_bz_build(&s, img, sizeof(img));
	assert_int_equal(loader_load(img, len, &f->g.mem, &plan), 0);
	assert_int_equal(plan.cmdline_max, 16);
	test_guest_snapshot(&f->g);
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "0123456789abcdef", &f->map), -E2BIG);
	assert_true(test_guest_unchanged(&f->g));
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "0123456789abcde", &f->map), 0);
	assert_cmdline(f, "0123456789abcde");
}

static void test_initrd_placement(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	static const size_t sizes[] = {1, 4095, 4096, 4097, 1 << 20, (3 << 20) + 17};

	for (int p = BOOT_PVH; p <= BOOT_BZIMAGE; p++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint8_t *initrd = malloc(sizes[i]);
			uint64_t top;
			assert_non_null(initrd);
			for (size_t j = 0; j < sizes[i]; j++)
				initrd[j] = (uint8_t)(j * 13 + i);
			plan_for(f, (enum boot_protocol)p, &plan);
			top = plan.initrd_max < GUEST_SIZE ? plan.initrd_max : GUEST_SIZE;
			assert_int_equal(boot_place_initrd(&f->g.mem, &plan, initrd, sizes[i]), 0);
			assert_int_equal(plan.initrd_size, sizes[i]);
			assert_int_equal(plan.initrd_addr & 0xfff, 0);
			assert_true(plan.initrd_addr >= plan.kernel_end);
			assert_true(plan.initrd_addr + plan.initrd_size <= top);
			/* As high as it goes: less than a page left above. */
			assert_true(top - (plan.initrd_addr + plan.initrd_size) < 0x1000);
			assert_memory_equal(f->g.ram + plan.initrd_addr, initrd, sizes[i]);
			assert_region_unchanged(f, 0, plan.initrd_addr);
			free(initrd);
		}
	}
}

static void test_initrd_limits(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	uint8_t *big = calloc(1, GUEST_SIZE + 1);

	assert_non_null(big);
	plan_for(f, BOOT_PVH, &plan);
	/* Empty: nothing placed. */
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, 0), 0);
	assert_int_equal(plan.initrd_size, 0);
	/* Bigger than RAM, or than the room between the kernel and the top. */
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, GUEST_SIZE + 1), -E2BIG);
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, GUEST_SIZE), -E2BIG);
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, GUEST_SIZE - plan.kernel_end + 1),
			 -E2BIG);
	/* A low initrd_max: below the kernel, or below 1 MiB. */
	plan.initrd_max = plan.kernel_end + 0x800;
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, 0x1000), -E2BIG);
	plan.kernel_end = 0;
	plan.initrd_max = BOOT_HIMEM + 0x800;
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, 0x1000), -E2BIG);
	plan.initrd_max = 0;
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, 1), -E2BIG);
	assert_int_equal(plan.initrd_size, 0);
	assert_int_equal(plan.initrd_addr, 0);
	assert_true(test_guest_unchanged(&f->g));
	free(big);
}

static void test_initrd_exact_fit(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	uint8_t *big = calloc(1, GUEST_SIZE);
	uint64_t room;

	assert_non_null(big);
	plan_for(f, BOOT_PVH, &plan);
	room = (GUEST_SIZE - plan.kernel_end) & ~0xfffULL;
	assert_int_equal(boot_place_initrd(&f->g.mem, &plan, big, room), 0);
	assert_true(plan.initrd_addr >= plan.kernel_end);
	assert_int_equal(plan.initrd_addr + room, GUEST_SIZE);
	free(big);
}

/* Linux-protocol boots get the host's RNG seed as a setup_data entry. */
static void test_rng_seed(void **state)
{
	struct fixture *f = *state;
	struct boot_plan plan;
	const struct boot_params *bp = at(f, BOOT_ZERO_PAGE_ADDR);
	const struct setup_data *sd = at(f, BOOT_SETUP_DATA_ADDR);

	for (int p = BOOT_ELF64; p <= BOOT_BZIMAGE; p++) {
		plan_for(f, (enum boot_protocol)p, &plan);
		assert_int_equal(boot_write_info(&f->g.mem, &plan, "x", &f->map), 0);
		assert_int_equal(bp->hdr.setup_data, 0);
		assert_region_unchanged(f, BOOT_SETUP_DATA_ADDR, 16 + BOOT_RNG_SEED_LEN);

		plan_for(f, (enum boot_protocol)p, &plan);
		for (int i = 0; i < BOOT_RNG_SEED_LEN; i++)
			plan.rng_seed[i] = (uint8_t)(0x80 + i);
		plan.has_rng_seed = 1;
		assert_int_equal(boot_write_info(&f->g.mem, &plan, "x", &f->map), 0);
		assert_int_equal(bp->hdr.setup_data, BOOT_SETUP_DATA_ADDR);
		assert_int_equal(sd->next, 0);
		assert_int_equal(sd->type, SETUP_RNG_SEED);
		assert_int_equal(sd->len, BOOT_RNG_SEED_LEN);
		assert_memory_equal(sd->data, plan.rng_seed, BOOT_RNG_SEED_LEN);
		/* The chain sits below the GDT's neighbours, clear of other boot data. */
		assert_true(BOOT_SETUP_DATA_ADDR + 16 + BOOT_RNG_SEED_LEN <= BOOT_PVH_INFO_ADDR);
		assert_zero_page_common(f, &plan, true);
	}
	/* PVH has no setup_data: nothing is written for it. */
	plan_for(f, BOOT_PVH, &plan);
	plan.has_rng_seed = 1;
	assert_int_equal(boot_write_info(&f->g.mem, &plan, "x", &f->map), 0);
	assert_region_unchanged(f, BOOT_SETUP_DATA_ADDR, 16 + BOOT_RNG_SEED_LEN);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_pvh),
		T(test_pvh_initrd),
		T(test_pvh_full_map),
		T(test_elf64),
		T(test_elf64_initrd),
		T(test_bzimage),
		T(test_cmdline_empty),
		T(test_cmdline_limit),
		T(test_cmdline_kernel_limit),
		T(test_initrd_placement),
		T(test_initrd_limits),
		T(test_initrd_exact_fit),
		T(test_rng_seed),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
