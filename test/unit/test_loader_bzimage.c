/* Unit tests for vmm-core/loader_bzimage: a fake bzImage built in memory, then
 * one header field at a time made to lie. A refused image writes nothing. */
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
#define IMG_CAP	   0x40000

static uint8_t img[IMG_CAP];

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

static size_t build(const struct timg_bz_spec *s)
{
	size_t len = timg_bz_build(s, img, sizeof(img));

	assert_true(len > 0);
	return len;
}

static int load(struct test_guest *g, const struct timg_bz_spec *s, struct boot_plan *plan)
{
	return loader_bzimage_load(img, build(s), &g->mem, plan);
}

static void expect_fail(void **state, const struct timg_bz_spec *s, int err)
{
	struct test_guest *g = *state;
	struct boot_plan plan;

	assert_int_equal(load(g, s, &plan), err);
	assert_true(test_guest_unchanged(g));
}

static void expect_ok(void **state, const struct timg_bz_spec *s)
{
	struct test_guest *g = *state;
	struct boot_plan plan;

	assert_int_equal(load(g, s, &plan), 0);
	test_guest_snapshot(g); /* the next expect_fail() compares with this */
}

static void assert_pm_copied(const struct test_guest *g, const struct timg_bz_spec *s)
{
	size_t setup_size = timg_bz_setup_size(s);

	assert_memory_equal(g->ram + BOOT_HIMEM, img + setup_size, s->pm_size);
	/* Nothing else: the loader writes no boot data, that is bootinfo's job. */
	assert_true(test_guest_same(g, 0, BOOT_HIMEM));
	assert_true(
		test_guest_same(g, BOOT_HIMEM + s->pm_size, GUEST_SIZE - BOOT_HIMEM - s->pm_size));
}

static void test_valid(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;

	timg_bz_default(&s);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_BZIMAGE);
	assert_int_equal(plan.entry, 0x100200);
	assert_int_equal(plan.cmdline_max, BOOT_CMDLINE_MAX);
	assert_int_equal(plan.initrd_max, 0x80000000ULL);
	assert_int_equal(plan.initrd_size, 0);
	/* The whole 2.15 header, as the jump at 0x200 says. */
	assert_int_equal(plan.setup_hdr_len, sizeof(struct setup_header));
	assert_memory_equal(plan.setup_hdr, img + 0x1f1, plan.setup_hdr_len);
	assert_pm_copied(g, &s);
	assert_string_equal(boot_protocol_name(plan.protocol), "bzimage");
}

/* The kernel decompresses at max(load address, pref_address) and needs
 * init_size from there (arch/x86/boot/compressed/head_64.S); nothing may be
 * put in that range, so kernel_end must cover it. */
static void test_kernel_end(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;

	timg_bz_default(&s);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.kernel_end, s.pref_address + s.init_size);

	timg_bz_default(&s);
	s.relocatable = 0;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.kernel_end, s.pref_address + s.init_size);

	/* pref_address at or below 1 MiB: from the load address. */
	timg_bz_default(&s);
	s.pref_address = BOOT_HIMEM;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.kernel_end, BOOT_HIMEM + s.init_size);
	timg_bz_default(&s);
	s.pref_address = 0;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.kernel_end, BOOT_HIMEM + s.init_size);

	/* init_size smaller than the file: the file is what is in RAM. */
	timg_bz_default(&s);
	s.pref_address = BOOT_HIMEM;
	s.init_size = 0x100;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.kernel_end, BOOT_HIMEM + s.pm_size);
}

static void test_above_4g_initrd(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;

	timg_bz_default(&s);
	s.xloadflags |= XLF_CAN_BE_LOADED_ABOVE_4G;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.initrd_max, g->mem.low_size);
	timg_bz_default(&s);
	s.initrd_addr_max = 0xffffffff;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.initrd_max, 0x100000000ULL);
}

static void test_setup_sects_zero(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;

	/* 0 means 4, for very old kernels. */
	timg_bz_default(&s);
	s.setup_sects = 0;
	assert_int_equal(timg_bz_setup_size(&s), 5 * 512);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_pm_copied(g, &s);
	timg_bz_default(&s);
	s.setup_sects = 1;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_memory_equal(g->ram + BOOT_HIMEM, img + 1024, s.pm_size);
}

static void test_header_length(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;
	static const struct {
		uint8_t jump;
		size_t len;
	} c[] = {
		/* A 2.12 header ends at 0x264; shorter than cmdline_size or longer
		 * than we know: take the whole structure. */
		{0x62, 0x73},
		{0x6a, sizeof(struct setup_header)},
		{0x3a, 0x4b},
		{0x39, sizeof(struct setup_header)},
		{0x00, sizeof(struct setup_header)},
		{0x6b, sizeof(struct setup_header)},
		{0xff, sizeof(struct setup_header)},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		timg_bz_default(&s);
		s.jump = c[i].jump;
		memset(&plan, 0xcc, sizeof(plan));
		assert_int_equal(load(g, &s, &plan), 0);
		assert_int_equal(plan.setup_hdr_len, c[i].len);
		assert_true(plan.setup_hdr_len <= sizeof(plan.setup_hdr));
		assert_memory_equal(plan.setup_hdr, img + 0x1f1, plan.setup_hdr_len);
	}
}

static void test_cmdline_size(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;
	static const struct {
		uint32_t size, max;
	} c[] = {
		{1, 2},
		{255, 256},
		{2046, 2047},
		{2047, BOOT_CMDLINE_MAX},
		{2048, BOOT_CMDLINE_MAX},
		{0x7fffffff, BOOT_CMDLINE_MAX},
		/* + 1 must not wrap to a limit of 0 */
		{0xffffffff, BOOT_CMDLINE_MAX},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		timg_bz_default(&s);
		s.cmdline_size = c[i].size;
		assert_int_equal(load(g, &s, &plan), 0);
		assert_int_equal(plan.cmdline_max, c[i].max);
	}
	test_guest_snapshot(g);
	timg_bz_default(&s);
	s.cmdline_size = 0;
	expect_fail(state, &s, -EINVAL);
}

static void test_magic(void **state)
{
	struct timg_bz_spec s;

	timg_bz_default(&s);
	s.header = 0x54726448; /* "HdrT" */
	expect_fail(state, &s, -ENOEXEC);
	timg_bz_default(&s);
	s.header = 0;
	expect_fail(state, &s, -ENOEXEC);
	timg_bz_default(&s);
	s.boot_flag = 0x55AA;
	expect_fail(state, &s, -ENOEXEC);
	timg_bz_default(&s);
	s.boot_flag = 0;
	expect_fail(state, &s, -ENOEXEC);
}

static void test_old_version(void **state)
{
	static const uint16_t old[] = {0, 0x0100, 0x0200, 0x0206, 0x020a, 0x020b};
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;

	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		timg_bz_default(&s);
		s.version = old[i];
		expect_fail(state, &s, -ENOEXEC);
	}
	timg_bz_default(&s);
	s.version = 0x020c;
	assert_int_equal(load(g, &s, &plan), 0);
	timg_bz_default(&s);
	s.version = 0xffff;
	assert_int_equal(load(g, &s, &plan), 0);
}

static void test_flags(void **state)
{
	struct timg_bz_spec s;

	timg_bz_default(&s);
	s.loadflags = 0;
	expect_fail(state, &s, -ENOEXEC);
	timg_bz_default(&s);
	s.loadflags = (uint8_t)~LOADED_HIGH;
	expect_fail(state, &s, -ENOEXEC);
	timg_bz_default(&s);
	s.xloadflags = 0;
	expect_fail(state, &s, -ENOEXEC);
	timg_bz_default(&s);
	s.xloadflags = (uint16_t)~XLF_KERNEL_64;
	expect_fail(state, &s, -ENOEXEC);
}

static void test_setup_past_eof(void **state)
{
	struct timg_bz_spec s;

	timg_bz_default(&s);
	s.setup_sects = 255; /* 128 KiB of setup in a 6 KiB file */
	s.len = 5 * 512 + TIMG_BZ_PM_SIZE;
	expect_fail(state, &s, -EINVAL);
	/* Setup ends exactly at EOF: no kernel at all. */
	timg_bz_default(&s);
	s.len = timg_bz_setup_size(&s);
	expect_fail(state, &s, -EINVAL);
	/* A protected-mode part too short to hold the 64-bit entry at 0x200. */
	timg_bz_default(&s);
	s.pm_size = 0x200;
	s.syssize = 0;
	expect_fail(state, &s, -EINVAL);
	timg_bz_default(&s);
	s.pm_size = 0x201;
	s.syssize = 0;
	expect_ok(state, &s);
}

static void test_syssize(void **state)
{
	struct timg_bz_spec s;

	/* syssize is in 16-byte units and may round up, by less than one unit. */
	timg_bz_default(&s);
	s.syssize = TIMG_BZ_PM_SIZE / 16 + 1;
	expect_ok(state, &s);
	timg_bz_default(&s);
	s.syssize = TIMG_BZ_PM_SIZE / 16 + 2;
	expect_fail(state, &s, -EINVAL);
	timg_bz_default(&s);
	s.syssize = 0xffffffff;
	expect_fail(state, &s, -EINVAL);
}

static void test_too_big(void **state)
{
	struct timg_bz_spec s;

	timg_bz_default(&s);
	s.init_size = GUEST_SIZE;
	expect_fail(state, &s, -E2BIG);
	timg_bz_default(&s);
	s.init_size = 0xffffffff;
	expect_fail(state, &s, -E2BIG);
	/* Fits from 1 MiB, not from pref_address where it will run. */
	timg_bz_default(&s);
	s.init_size = GUEST_SIZE - 2 * MiB;
	expect_fail(state, &s, -E2BIG);
	timg_bz_default(&s);
	s.relocatable = 0;
	s.pref_address = GUEST_SIZE;
	expect_fail(state, &s, -E2BIG);
	/* pref_address - 1 MiB + init_size must not wrap around to something small. */
	timg_bz_default(&s);
	s.relocatable = 0;
	s.pref_address = UINT64_MAX - 0xfffff;
	expect_fail(state, &s, -E2BIG);
	timg_bz_default(&s);
	s.pref_address = UINT64_MAX;
	expect_fail(state, &s, -E2BIG);
}

static void test_truncated(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;
	size_t len;

	timg_bz_default(&s);
	len = build(&s);
	/* Cut before the end of the setup header: not a bzImage at all. */
	for (size_t cut = 0; cut < 0x1f1 + sizeof(struct setup_header); cut++)
		if (loader_bzimage_load(img, cut, &g->mem, &plan) != -ENOEXEC)
			fail_msg("image cut at %#zx not refused as -ENOEXEC", cut);
	/* Cut in the setup sectors or the entry page. */
	for (size_t cut = 0x1f1 + sizeof(struct setup_header); cut < len; cut += 0x40) {
		int r = loader_bzimage_load(img, cut, &g->mem, &plan);
		if (cut <= timg_bz_setup_size(&s) + 0x200)
			assert_int_equal(r, -EINVAL);
		else if (cut < len - 16)
			assert_int_equal(r, -EINVAL); /* syssize says more */
	}
	assert_true(test_guest_unchanged(g));
}

static void test_dispatch(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct boot_plan plan;
	uint8_t *zeros = calloc(1, 0x1000);

	assert_non_null(zeros);
	timg_bz_default(&s);
	assert_int_equal(loader_load(img, build(&s), &g->mem, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_BZIMAGE);
	assert_int_equal(plan.entry, 0x100200);
	test_guest_snapshot(g);
	timg_bz_default(&s);
	s.cmdline_size = 0;
	assert_int_equal(loader_load(img, build(&s), &g->mem, &plan), -EINVAL);
	assert_int_equal(loader_load(zeros, 0x1000, &g->mem, &plan), -ENOEXEC);
	assert_int_equal(loader_load(zeros, 0, &g->mem, &plan), -ENOEXEC);
	assert_true(test_guest_unchanged(g));
	free(zeros);
}

/* For a firmware (fw_cfg): setup and protected-mode parts split where the
 * header says, the setup's copy patched as QEMU does, nothing in RAM. */
static uint8_t fw_setup[BOOT_FW_SETUP_CAP];

static void test_fw_cfg_split(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct fw_cfg_kernel k;
	struct setup_header h;
	size_t len, ss;

	timg_bz_default(&s);
	len = build(&s);
	ss = timg_bz_setup_size(&s);
	assert_int_equal(loader_bzimage_fw_cfg(img, len, 3 * 4096 + 5, g->mem.low_size,
					       "console=ttyS0", fw_setup, sizeof(fw_setup), &k),
			 0);
	assert_ptr_equal(k.setup, fw_setup);
	assert_int_equal(k.setup_size, ss);
	assert_ptr_equal(k.kernel, img + ss);
	assert_int_equal(k.kernel_size, len - ss);
	assert_int_equal(k.kernel_addr, 0x100000);
	assert_int_equal(k.setup_addr, 0x10000);
	assert_int_equal(k.cmdline_addr, 0x20000);
	assert_string_equal(k.cmdline, "console=ttyS0");
	assert_int_equal(k.initrd_size, 3 * 4096 + 5);
	/* Page-aligned, as high as allowed under the firmware's reserve. */
	assert_int_equal(k.initrd_addr & 0xfff, 0);
	assert_true(k.initrd_addr + k.initrd_size <= g->mem.low_size - 0x28000);
	assert_true(k.initrd_addr + 0x1000 + k.initrd_size > g->mem.low_size - 0x28000);
	/* The code around the header is the image's; the header is patched. */
	assert_memory_equal(fw_setup, img, 0x1f1);
	assert_memory_equal(fw_setup + 0x1f1 + sizeof(h), img + 0x1f1 + sizeof(h),
			    ss - 0x1f1 - sizeof(h));
	memcpy(&h, fw_setup + 0x1f1, sizeof(h));
	assert_int_equal(h.type_of_loader, 0xb0);
	assert_true(h.loadflags & CAN_USE_HEAP);
	assert_int_equal(h.heap_end_ptr, 0xfe00);
	assert_int_equal(h.cmd_line_ptr, 0x20000);
	assert_int_equal(h.ramdisk_image, k.initrd_addr);
	assert_int_equal(h.ramdisk_size, k.initrd_size);
	assert_true(test_guest_unchanged(g));
	/* No initrd: none in the header either. */
	assert_int_equal(loader_bzimage_fw_cfg(img, len, 0, g->mem.low_size, "", fw_setup,
					       sizeof(fw_setup), &k),
			 0);
	assert_int_equal(k.initrd_size, 0);
	memcpy(&h, fw_setup + 0x1f1, sizeof(h));
	assert_int_equal(h.ramdisk_image, 0);
}

/* What a firmware's kernel may not be: each refused with its reason. */
static void test_fw_cfg_refused(void **state)
{
	struct test_guest *g = *state;
	struct timg_bz_spec s;
	struct fw_cfg_kernel k;
	char longcl[300];
	size_t len;

#define FW(l, initrd, cl)                                                                          \
	loader_bzimage_fw_cfg(img, l, initrd, g->mem.low_size, cl, fw_setup, sizeof(fw_setup), &k)
	timg_bz_default(&s);
	s.header = 0x12345678;
	assert_int_equal(FW(build(&s), 0, ""), -ENOEXEC);
	timg_bz_default(&s);
	s.version = 0x0202;
	assert_int_equal(FW(build(&s), 0, ""), -ENOEXEC);
	timg_bz_default(&s);
	s.loadflags = 0;
	assert_int_equal(FW(build(&s), 0, ""), -ENOEXEC);
	/* The setup sectors past the file's end, or nothing after them. */
	timg_bz_default(&s);
	len = build(&s);
	assert_int_equal(FW(timg_bz_setup_size(&s), 0, ""), -EINVAL);
	assert_int_equal(FW(timg_bz_setup_size(&s) + 0x200, 0, ""), -EINVAL);
	assert_int_equal(FW(0x200, 0, ""), -ENOEXEC);
	/* A command line over the kernel's own limit. */
	memset(longcl, 'x', sizeof(longcl) - 1);
	longcl[sizeof(longcl) - 1] = 0;
	timg_bz_default(&s);
	s.cmdline_size = 255;
	len = build(&s);
	assert_int_equal(FW(len, 0, longcl), -EMSGSIZE);
	longcl[255] = 0;
	assert_int_equal(FW(len, 0, longcl), 0);
	/* An initrd that cannot fit under initrd_addr_max, or under low RAM. */
	timg_bz_default(&s);
	s.initrd_addr_max = 0x200000;
	len = build(&s);
	assert_int_equal(FW(len, 0x200000, ""), -E2BIG);
	timg_bz_default(&s);
	s.initrd_addr_max = 0x1000;
	len = build(&s);
	assert_int_equal(FW(len, 0, ""), -E2BIG);
	timg_bz_default(&s);
	len = build(&s);
	assert_int_equal(FW(len, g->mem.low_size, ""), -E2BIG);
	assert_int_equal(
		loader_bzimage_fw_cfg(img, len, 0, 0x100000, "", fw_setup, sizeof(fw_setup), &k),
		-E2BIG);
	/* A setup buffer too small for the setup sectors. */
	assert_int_equal(loader_bzimage_fw_cfg(img, len, 0, g->mem.low_size, "", fw_setup, 512, &k),
			 -EINVAL);
#undef FW
	assert_true(test_guest_unchanged(g));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_valid),		 T(test_kernel_end),
		T(test_above_4g_initrd), T(test_setup_sects_zero),
		T(test_header_length),	 T(test_cmdline_size),
		T(test_magic),		 T(test_old_version),
		T(test_flags),		 T(test_setup_past_eof),
		T(test_syssize),	 T(test_too_big),
		T(test_truncated),	 T(test_dispatch),
		T(test_fw_cfg_split),	 T(test_fw_cfg_refused),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
