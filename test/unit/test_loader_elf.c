/* Unit tests for vmm-core/loader_elf: valid PVH and 64-bit images, and images
 * whose headers lie. Every failure must leave guest RAM exactly as it was:
 * never a guest started half-loaded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <string.h>
#include "test/unit/testguest.h"
#include "test/unit/testimg.h"
#include "vmm-core/boot.h"

#define GUEST_SIZE GMEM_MIN_SIZE
#define IMG_CAP	   0x10000

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

static size_t build(const struct timg_elf_spec *s)
{
	size_t len = timg_elf_build(s, img, sizeof(img));

	assert_int_equal(len, s->len);
	return len;
}

static int load(struct test_guest *g, const struct timg_elf_spec *s, struct boot_plan *plan)
{
	size_t len = build(s);

	return loader_elf_load(img, len, &g->mem, plan);
}

/* The image must be refused with err, and RAM must be untouched. */
static void expect_fail(void **state, const struct timg_elf_spec *s, int err)
{
	struct test_guest *g = *state;
	struct boot_plan plan;

	assert_int_equal(load(g, s, &plan), err);
	assert_true(test_guest_unchanged(g));
}

static struct timg_seg *load_seg(struct timg_elf_spec *s)
{
	int i = timg_elf_find(s, PT_LOAD);

	assert_true(i >= 0);
	return &s->seg[i];
}

/* Move the loadable segment (and with it the entry points) to paddr. */
static void move_load(struct timg_elf_spec *s, uint64_t paddr)
{
	struct timg_seg *l = load_seg(s);

	l->paddr = paddr;
	l->vaddr = s->is64 ? TIMG_ELF_VADDR - TIMG_ELF_PADDR + paddr : paddr;
	s->entry = l->vaddr + TIMG_ELF_ENTRY;
	s->note.desc = paddr + TIMG_ELF_ENTRY;
}

/* RAM outside [start, end) is as the snapshot has it. */
static void assert_unchanged_outside(const struct test_guest *g, uint64_t start, uint64_t end)
{
	assert_true(test_guest_same(g, 0, start));
	assert_true(test_guest_same(g, end, g->size - end));
}

/* The default segment landed at paddr: file bytes copied, bss zeroed. */
static void assert_loaded(const struct test_guest *g, uint64_t paddr)
{
	const uint8_t *p = g->ram + paddr;

	for (uint64_t i = 0; i < TIMG_ELF_FILESZ; i++)
		if (p[i] != timg_byte(TIMG_ELF_LOAD_OFF + i))
			fail_msg("byte %#llx of the segment not copied", (unsigned long long)i);
	for (uint64_t i = TIMG_ELF_FILESZ; i < TIMG_ELF_MEMSZ; i++)
		if (p[i] != 0)
			fail_msg("bss byte %#llx not zeroed", (unsigned long long)i);
	assert_unchanged_outside(g, paddr, paddr + TIMG_ELF_MEMSZ);
}

static void test_pvh32(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;

	timg_elf_default(&s, false, true);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	assert_int_equal(plan.entry, TIMG_ELF_PADDR + TIMG_ELF_ENTRY);
	assert_int_equal(plan.kernel_end, TIMG_ELF_PADDR + TIMG_ELF_MEMSZ);
	assert_int_equal(plan.cmdline_max, BOOT_CMDLINE_MAX);
	assert_int_equal(plan.initrd_max, g->mem.low_size);
	assert_int_equal(plan.setup_hdr_len, 0);
	assert_int_equal(plan.initrd_size, 0);
	assert_loaded(g, TIMG_ELF_PADDR);
	assert_string_equal(boot_protocol_name(plan.protocol), "pvh");
}

static void test_pvh32_elsewhere(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	const uint64_t at = GUEST_SIZE - TIMG_ELF_MEMSZ; /* the last bytes of RAM */

	timg_elf_default(&s, false, true);
	move_load(&s, at);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.entry, at + TIMG_ELF_ENTRY);
	assert_int_equal(plan.kernel_end, GUEST_SIZE);
	assert_loaded(g, at);
}

static void test_pvh_desc8(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;

	timg_elf_default(&s, false, true);
	s.note.descsz = 8;
	s.seg[timg_elf_find(&s, PT_NOTE)].filesz = 24;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	assert_int_equal(plan.entry, TIMG_ELF_PADDR + TIMG_ELF_ENTRY);
}

static void test_pvh64(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;

	/* A 64-bit vmlinux with the note is booted the PVH way, at a physical entry. */
	timg_elf_default(&s, true, true);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	assert_int_equal(plan.entry, TIMG_ELF_PADDR + TIMG_ELF_ENTRY);
	assert_loaded(g, TIMG_ELF_PADDR);
}

static void test_elf64(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;

	timg_elf_default(&s, true, false);
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_ELF64);
	/* e_entry is virtual: translated through the segment that holds it. */
	assert_int_equal(s.entry, TIMG_ELF_VADDR + TIMG_ELF_ENTRY);
	assert_int_equal(plan.entry, TIMG_ELF_PADDR + TIMG_ELF_ENTRY);
	assert_int_equal(plan.kernel_end, TIMG_ELF_PADDR + TIMG_ELF_MEMSZ);
	assert_int_equal(plan.cmdline_max, BOOT_CMDLINE_MAX);
	assert_int_equal(plan.initrd_max, 0x38000000ULL);
	assert_loaded(g, TIMG_ELF_PADDR);
	assert_string_equal(boot_protocol_name(plan.protocol), "elf64");
}

static void test_elf64_two_segments(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	const uint64_t data = TIMG_ELF_PADDR + TIMG_ELF_MEMSZ; /* right after the first */

	timg_elf_default(&s, true, false);
	s.seg[s.nseg++] = (struct timg_seg){.type = PT_LOAD,
					    .offset = 0x500,
					    .filesz = 0x100,
					    .memsz = 0x1000,
					    .paddr = data,
					    .vaddr = TIMG_ELF_VADDR + TIMG_ELF_MEMSZ};
	/* Entry in the second segment, and segments that are not PT_LOAD skipped. */
	s.entry = TIMG_ELF_VADDR + TIMG_ELF_MEMSZ + 0x20;
	s.seg[s.nseg++] = (struct timg_seg){.type = PT_GNU_STACK};
	s.seg[s.nseg++] = (struct timg_seg){.type = PT_LOAD, .paddr = 0x1000}; /* empty */
	s.phnum = (uint16_t)s.nseg;
	assert_int_equal(load(g, &s, &plan), 0);
	assert_int_equal(plan.entry, data + 0x20);
	assert_int_equal(plan.kernel_end, data + 0x1000);
	assert_int_equal(g->ram[data], timg_byte(0x500));
	assert_int_equal(g->ram[data + 0xff], timg_byte(0x5ff));
	assert_int_equal(g->ram[data + 0x100], 0);
	assert_int_equal(g->ram[data + 0xfff], 0);
	assert_unchanged_outside(g, TIMG_ELF_PADDR, data + 0x1000);
}

static void test_elf32_no_note(void **state)
{
	struct timg_elf_spec s;

	timg_elf_default(&s, false, false);
	expect_fail(state, &s, -ENOEXEC);
}

static void test_not_elf(void **state)
{
	struct test_guest *g = *state;
	struct boot_plan plan;
	static const uint8_t junk[] = "MZ\x90\0 this is not an ELF file at all, not even close";

	assert_int_equal(loader_elf_load(junk, sizeof(junk), &g->mem, &plan), -ENOEXEC);
	assert_int_equal(loader_elf_load(junk, 0, &g->mem, &plan), -ENOEXEC);
	assert_int_equal(loader_elf_load((const uint8_t *)"\x7f"
							  "ELF",
					 4, &g->mem, &plan),
			 -ENOEXEC);
	assert_true(test_guest_unchanged(g));
}

/* Header identity fields that make the file something we do not load. */
static void test_ident(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	static const struct {
		size_t off;
		uint8_t v;
	} bad[] = {
		{EI_MAG0, 0x7e},	{EI_MAG3, 'f'}, {EI_CLASS, ELFCLASSNONE}, {EI_CLASS, 3},
		{EI_DATA, ELFDATA2MSB}, {EI_DATA, 0},	{EI_VERSION, EV_NONE},	  {EI_VERSION, 2},
	};

	for (int is64 = 0; is64 < 2; is64++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			size_t len;
			timg_elf_default(&s, is64, true);
			len = build(&s);
			img[bad[i].off] = bad[i].v;
			assert_int_equal(loader_elf_load(img, len, &g->mem, &plan), -ENOEXEC);
		}
		/* The class says 64 but the machine is i386, and the other way round. */
		timg_elf_default(&s, is64, true);
		s.machine = is64 ? EM_386 : EM_X86_64;
		assert_int_equal(load(g, &s, &plan), -ENOEXEC);
		timg_elf_default(&s, is64, true);
		s.machine = EM_AARCH64;
		assert_int_equal(load(g, &s, &plan), -ENOEXEC);
	}
	assert_true(test_guest_unchanged(g));
}

static void test_truncated_header(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	size_t len;

	for (int is64 = 0; is64 < 2; is64++) {
		size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
		timg_elf_default(&s, is64, true);
		len = build(&s);
		for (size_t cut = 0; cut < ehsize; cut++)
			assert_int_equal(loader_elf_load(img, cut, &g->mem, &plan), -ENOEXEC);
		/* A whole header and nothing else: the phdr table is past EOF. */
		assert_int_equal(loader_elf_load(img, ehsize, &g->mem, &plan), -EINVAL);
		/* Cut in the middle of the phdr table, of the note, of the segment. */
		assert_int_equal(loader_elf_load(img, TIMG_ELF_PHOFF + 8, &g->mem, &plan), -EINVAL);
		assert_int_equal(loader_elf_load(img, TIMG_ELF_NOTE_OFF + 8, &g->mem, &plan),
				 -EINVAL);
		assert_int_equal(loader_elf_load(img, len - 1, &g->mem, &plan), -EINVAL);
	}
	assert_true(test_guest_unchanged(g));
}

static void test_phoff(void **state)
{
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		timg_elf_default(&s, is64, true);
		s.phoff = s.len; /* exactly at EOF */
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		s.phoff = s.len - 8; /* table straddles EOF */
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		s.phoff = is64 ? UINT64_MAX : UINT32_MAX;
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		s.phoff = is64 ? UINT64_MAX - 0x10 : UINT32_MAX - 0x10;
		expect_fail(state, &s, -EINVAL);
	}
}

static void test_phnum(void **state)
{
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		timg_elf_default(&s, is64, true);
		s.phnum = 0;
		expect_fail(state, &s, -EINVAL);
		/* More entries than the file holds. */
		timg_elf_default(&s, is64, true);
		s.phnum = 64;
		s.phoff = s.len - 2 * s.phentsize;
		expect_fail(state, &s, -EINVAL);
		/* More than the loader takes, although the file is long enough. */
		timg_elf_default(&s, is64, true);
		s.phnum = 65;
		s.phoff = 0x1000;
		s.len = 0x1000 + 65 * s.phentsize;
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		s.phnum = 0xffff; /* PN_XNUM */
		expect_fail(state, &s, -EINVAL);
	}
}

static void test_phentsize(void **state)
{
	static const uint16_t bad[] = {0, 1, 31, 33, 55, 57, 64, 0xffff};
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			timg_elf_default(&s, is64, true);
			s.phentsize = bad[i];
			expect_fail(state, &s, -EINVAL);
		}
		/* The other class's size. */
		timg_elf_default(&s, is64, true);
		s.phentsize = is64 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
		expect_fail(state, &s, -EINVAL);
	}
}

static void test_segment_file_range(void **state)
{
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		timg_elf_default(&s, is64, true);
		load_seg(&s)->filesz += 1; /* one byte past EOF */
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		load_seg(&s)->offset = s.len + 1;
		load_seg(&s)->filesz = 0;
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		load_seg(&s)->offset = is64 ? UINT64_MAX : UINT32_MAX;
		expect_fail(state, &s, -EINVAL);
		/* offset + filesz wraps around to a small number */
		timg_elf_default(&s, is64, true);
		load_seg(&s)->offset = is64 ? UINT64_MAX - 0xff : UINT32_MAX - 0xff;
		load_seg(&s)->filesz = 0x200;
		load_seg(&s)->memsz = 0x2000;
		expect_fail(state, &s, -EINVAL);
	}
}

static void test_filesz_over_memsz(void **state)
{
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		timg_elf_default(&s, is64, true);
		load_seg(&s)->memsz = TIMG_ELF_FILESZ - 1;
		expect_fail(state, &s, -EINVAL);
	}
}

/* A PT_LOAD with memsz 0 loads nothing, so it cannot hold the entry; nor may
 * it carry file bytes it claims to load (filesz > memsz). */
static void test_entry_in_empty_segment(void **state)
{
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		timg_elf_default(&s, is64, true);
		s.seg[s.nseg++] = (struct timg_seg){.type = PT_LOAD,
						    .offset = TIMG_ELF_LOAD_OFF,
						    .filesz = 0x100,
						    .memsz = 0,
						    .paddr = 0x1000, /* the core's boot tables */
						    .vaddr = 0x1000};
		s.phnum = (uint16_t)s.nseg;
		s.note.desc = 0x1010;
		expect_fail(state, &s, -EINVAL);
	}
	/* The same through e_entry of a 64-bit image. */
	timg_elf_default(&s, true, false);
	s.seg[s.nseg++] = (struct timg_seg){.type = PT_LOAD,
					    .offset = TIMG_ELF_LOAD_OFF,
					    .filesz = 0x100,
					    .memsz = 0,
					    .paddr = 0x1000,
					    .vaddr = 0xffffffff80001000ULL};
	s.phnum = (uint16_t)s.nseg;
	s.entry = 0xffffffff80001010ULL;
	expect_fail(state, &s, -EINVAL);
}

static void test_paddr_overflow(void **state)
{
	struct timg_elf_spec s;

	timg_elf_default(&s, true, false);
	move_load(&s, UINT64_MAX - 0xfff); /* + memsz 0x2000 wraps */
	expect_fail(state, &s, -EINVAL);
	timg_elf_default(&s, true, false);
	move_load(&s, UINT64_MAX - TIMG_ELF_MEMSZ + 1); /* ends exactly at 2^64 */
	expect_fail(state, &s, -EINVAL);
}

static void test_paddr_low(void **state)
{
	static const uint64_t bad[] = {0,
				       0x1000,
				       BOOT_PVH_INFO_ADDR,
				       BOOT_CMDLINE_ADDR,
				       BOOT_EBDA_START,
				       BOOT_HIMEM - TIMG_ELF_MEMSZ,
				       BOOT_HIMEM - 1};
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			timg_elf_default(&s, is64, true);
			move_load(&s, bad[i]);
			expect_fail(state, &s, -EINVAL);
		}
	}
}

static void test_beyond_ram(void **state)
{
	struct timg_elf_spec s;

	for (int is64 = 0; is64 < 2; is64++) {
		/* Last page of RAM plus one more. */
		timg_elf_default(&s, is64, true);
		move_load(&s, GUEST_SIZE - 0x1000);
		expect_fail(state, &s, -E2BIG);
		timg_elf_default(&s, is64, true);
		move_load(&s, GUEST_SIZE);
		expect_fail(state, &s, -E2BIG);
		/* The MMIO hole, and a bss that reaches it. */
		timg_elf_default(&s, is64, true);
		move_load(&s, GMEM_MMIO_HOLE_START);
		expect_fail(state, &s, -E2BIG);
		timg_elf_default(&s, is64, true);
		load_seg(&s)->memsz = 0x80000000ULL;
		expect_fail(state, &s, -E2BIG);
	}
	/* Above 4 GiB, where this guest has no RAM. */
	timg_elf_default(&s, true, false);
	move_load(&s, GMEM_HIGH_START);
	expect_fail(state, &s, -E2BIG);
}

static void test_overlap(void **state)
{
	struct timg_elf_spec s;
	static const uint64_t at[] = {TIMG_ELF_PADDR, TIMG_ELF_PADDR + TIMG_ELF_MEMSZ - 1,
				      TIMG_ELF_PADDR - 0x800, TIMG_ELF_PADDR + 0x100};

	for (int is64 = 0; is64 < 2; is64++) {
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			uint64_t paddr = at[i] < BOOT_HIMEM ? BOOT_HIMEM + 0x4000 : at[i];
			timg_elf_default(&s, is64, true);
			/* A second PT_LOAD overlapping the first, or the first overlapping it. */
			s.seg[s.nseg++] = (struct timg_seg){.type = PT_LOAD,
							    .offset = TIMG_ELF_LOAD_OFF,
							    .filesz = 0x100,
							    .memsz = 0x1000,
							    .paddr = paddr,
							    .vaddr = paddr};
			if (at[i] < BOOT_HIMEM)
				move_load(&s, paddr + 0x800);
			s.phnum = (uint16_t)s.nseg;
			expect_fail(state, &s, -EINVAL);
		}
	}
}

static void test_entry_outside(void **state)
{
	struct timg_elf_spec s;

	/* PVH: the entry is physical and must be in the file part of a segment. */
	static const uint64_t pvh[] = {0, TIMG_ELF_PADDR - 1, TIMG_ELF_PADDR + TIMG_ELF_FILESZ,
				       TIMG_ELF_PADDR + TIMG_ELF_MEMSZ - 1, 0xffffffff};
	for (size_t i = 0; i < sizeof(pvh) / sizeof(pvh[0]); i++) {
		timg_elf_default(&s, false, true);
		s.note.desc = pvh[i];
		expect_fail(state, &s, -EINVAL);
	}
	/* ELF64: e_entry is virtual; the physical address of the code is not it. */
	static const uint64_t e64[] = {TIMG_ELF_PADDR + TIMG_ELF_ENTRY, TIMG_ELF_VADDR - 1,
				       TIMG_ELF_VADDR + TIMG_ELF_FILESZ, 0, UINT64_MAX};
	for (size_t i = 0; i < sizeof(e64) / sizeof(e64[0]); i++) {
		timg_elf_default(&s, true, false);
		s.entry = e64[i];
		expect_fail(state, &s, -EINVAL);
	}
}

static void test_note_bounds(void **state)
{
	struct timg_elf_spec s;
	static const uint32_t bad_namesz[] = {17, 100, 0xfffffffc, UINT32_MAX};
	static const uint32_t bad_descsz[] = {5, 9, 100, 0xfffffffc, UINT32_MAX};

	for (int is64 = 0; is64 < 2; is64++) {
		for (size_t i = 0; i < sizeof(bad_namesz) / sizeof(bad_namesz[0]); i++) {
			timg_elf_default(&s, is64, true);
			s.note.namesz = bad_namesz[i];
			expect_fail(state, &s, -EINVAL);
		}
		for (size_t i = 0; i < sizeof(bad_descsz) / sizeof(bad_descsz[0]); i++) {
			timg_elf_default(&s, is64, true);
			s.note.descsz = bad_descsz[i];
			expect_fail(state, &s, -EINVAL);
		}
		/* The note segment itself past EOF. */
		timg_elf_default(&s, is64, true);
		s.seg[timg_elf_find(&s, PT_NOTE)].filesz = s.len;
		expect_fail(state, &s, -EINVAL);
		timg_elf_default(&s, is64, true);
		s.seg[timg_elf_find(&s, PT_NOTE)].offset = is64 ? UINT64_MAX - 4 : UINT32_MAX - 4;
		expect_fail(state, &s, -EINVAL);
	}
}

static void test_note_desc_size(void **state)
{
	static const uint32_t bad[] = {0, 2, 3, 6, 12, 16};
	struct timg_elf_spec s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		timg_elf_default(&s, false, true);
		s.note.descsz = bad[i];
		s.seg[timg_elf_find(&s, PT_NOTE)].filesz = 16 + ((bad[i] + 3) & ~3U);
		expect_fail(state, &s, -EINVAL);
	}
}

/* Notes that are not the PVH entry are skipped, also when they come first. */
static void test_note_other(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	size_t len;
	uint8_t *n = img + TIMG_ELF_NOTE_OFF;
	const uint32_t gnu[3] = {4, 16, NT_GNU_BUILD_ID};
	const uint32_t xen[3] = {4, 4, 18};
	const uint32_t entry = TIMG_ELF_PADDR + TIMG_ELF_ENTRY + 4;

	/* Wrong name or wrong type: no PVH entry, and a 32-bit ELF has no other. */
	timg_elf_default(&s, false, true);
	memcpy(s.note.name, "Xem", 4);
	expect_fail(state, &s, -ENOEXEC);
	timg_elf_default(&s, false, true);
	s.note.type = 17;
	expect_fail(state, &s, -ENOEXEC);
	timg_elf_default(&s, false, true);
	s.note.namesz = 3; /* "Xen" without its NUL */
	expect_fail(state, &s, -ENOEXEC);

	/* A build-id note (12 + 4 + 16 bytes), then the Xen note. */
	timg_elf_default(&s, false, true);
	s.seg[timg_elf_find(&s, PT_NOTE)].filesz = 32 + 20;
	len = build(&s);
	memcpy(n, gnu, sizeof(gnu));
	memcpy(n + 12, "GNU", 4);
	memset(n + 16, 0xab, 16);
	memcpy(n + 32, xen, sizeof(xen));
	memcpy(n + 44, "Xen", 4);
	memcpy(n + 48, &entry, 4);
	assert_int_equal(loader_elf_load(img, len, &g->mem, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	assert_int_equal(plan.entry, entry);
}

static void test_note_empty_segment(void **state)
{
	struct timg_elf_spec s;

	/* A PT_NOTE with nothing in it, or less than a note header: no entry. */
	timg_elf_default(&s, false, true);
	s.seg[timg_elf_find(&s, PT_NOTE)].filesz = 0;
	expect_fail(state, &s, -ENOEXEC);
	timg_elf_default(&s, false, true);
	s.seg[timg_elf_find(&s, PT_NOTE)].filesz = 11;
	expect_fail(state, &s, -ENOEXEC);
}

static void test_no_load_segment(void **state)
{
	struct timg_elf_spec s;

	timg_elf_default(&s, false, true);
	load_seg(&s)->type = PT_NULL;
	expect_fail(state, &s, -EINVAL);
	timg_elf_default(&s, true, false);
	load_seg(&s)->memsz = 0;
	load_seg(&s)->filesz = 0;
	expect_fail(state, &s, -EINVAL);
}

static void test_dispatch(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	size_t len;

	timg_elf_default(&s, false, true);
	len = build(&s);
	assert_int_equal(loader_load(img, len, &g->mem, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	/* A lying ELF is reported as such, not handed to the bzImage loader. */
	test_guest_snapshot(g);
	timg_elf_default(&s, false, true);
	s.phentsize = 7;
	len = build(&s);
	assert_int_equal(loader_load(img, len, &g->mem, &plan), -EINVAL);
	assert_true(test_guest_unchanged(g));
	/* An ELF we cannot enter is -ENOEXEC from both loaders. */
	timg_elf_default(&s, false, false);
	len = build(&s);
	assert_int_equal(loader_load(img, len, &g->mem, &plan), -ENOEXEC);
	assert_true(test_guest_unchanged(g));
}

/* An image with both entries: the caller may ask for the 64-bit one. */
static void test_prefer_64bit(void **state)
{
	struct test_guest *g = *state;
	struct timg_elf_spec s;
	struct boot_plan plan;
	size_t len;

	timg_elf_default(&s, true, true);
	len = build(&s);
	assert_int_equal(loader_elf_load_pref(img, len, &g->mem, BOOT_PREFER_64BIT, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_ELF64);
	assert_int_equal(plan.entry, TIMG_ELF_PADDR + TIMG_ELF_ENTRY);
	assert_int_equal(loader_load_pref(img, len, &g->mem, BOOT_PREFER_64BIT, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_ELF64);
	assert_int_equal(loader_load_pref(img, len, &g->mem, BOOT_PREFER_PVH, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	/* A 32-bit image has no 64-bit entry: PVH whatever the preference. */
	timg_elf_default(&s, false, true);
	len = build(&s);
	assert_int_equal(loader_load_pref(img, len, &g->mem, BOOT_PREFER_64BIT, &plan), 0);
	assert_int_equal(plan.protocol, BOOT_PVH);
	/* The preference does not excuse a bad e_entry when it is the one used. */
	test_guest_snapshot(g);
	timg_elf_default(&s, true, true);
	s.entry = TIMG_ELF_PADDR + TIMG_ELF_ENTRY;
	len = build(&s);
	assert_int_equal(loader_load_pref(img, len, &g->mem, BOOT_PREFER_64BIT, &plan), -EINVAL);
	assert_true(test_guest_unchanged(g));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_pvh32),
		T(test_pvh32_elsewhere),
		T(test_pvh_desc8),
		T(test_pvh64),
		T(test_elf64),
		T(test_elf64_two_segments),
		T(test_elf32_no_note),
		T(test_not_elf),
		T(test_ident),
		T(test_truncated_header),
		T(test_phoff),
		T(test_phnum),
		T(test_phentsize),
		T(test_segment_file_range),
		T(test_filesz_over_memsz),
		T(test_entry_in_empty_segment),
		T(test_paddr_overflow),
		T(test_paddr_low),
		T(test_beyond_ram),
		T(test_overlap),
		T(test_entry_outside),
		T(test_note_bounds),
		T(test_note_desc_size),
		T(test_note_other),
		T(test_note_empty_segment),
		T(test_no_load_segment),
		T(test_dispatch),
		T(test_prefer_64bit),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
