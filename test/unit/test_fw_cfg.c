/* Unit tests for vmm-core/fw_cfg: the device driven through its ports the way
 * SeaBIOS and OVMF use it (signature, ID, file directory, files by name, DMA
 * reads, skips and selects), then every hostile DMA descriptor we could
 * think of, over a small guest RAM with memory above 4 GiB. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmm-core/e820.h"
#include "vmm-core/fw_cfg.h"

#define LOW  (4ULL << 20) /* RAM at [0, 4 MiB) and [4 GiB, 4 GiB + 64 KiB) */
#define HIGH (64ULL << 10)
#define DESC 0x1000ULL
#define BUF  0x2000ULL

struct fixture {
	uint8_t *ram;
	struct gmem mem;
	struct fw_cfg fw;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = calloc(1, LOW + HIGH);
	assert_non_null(f->ram);
	f->mem = (struct gmem){.host = f->ram, .size = LOW + HIGH, .low_size = LOW};
	assert_int_equal(fw_cfg_init(&f->fw, &f->mem, 2, true), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fw_cfg_destroy(&f->fw);
	free(f->ram);
	free(f);
	return 0;
}

static void sel(struct fixture *f, uint16_t key)
{
	uint8_t b[2] = {(uint8_t)key, (uint8_t)(key >> 8)};

	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_SEL, b, 2, true));
}

static uint8_t rd8(struct fixture *f)
{
	uint8_t b = 0xaa;

	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DATA, &b, 1, false));
	return b;
}

static void rd(struct fixture *f, void *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)out)[i] = rd8(f);
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *gpa(struct fixture *f, uint64_t a)
{
	uint8_t *p = gmem_ptr(&f->mem, a, 1);

	assert_non_null(p);
	return p;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* A descriptor at desc_gpa (if it is RAM), then the two 32-bit writes. */
static void dma_at(struct fixture *f, uint64_t desc_gpa, uint32_t control, uint32_t len,
		   uint64_t addr)
{
	uint8_t *d = gmem_ptr(&f->mem, desc_gpa, 16);
	uint8_t hi[4], lo[4];

	if (d) {
		put_be(d, control, 4);
		put_be(d + 4, len, 4);
		put_be(d + 8, addr, 8);
	}
	put_be(hi, desc_gpa >> 32, 4);
	put_be(lo, desc_gpa, 4);
	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA, hi, 4, true));
	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA + 4, lo, 4, true));
}

/* A transfer with its descriptor at DESC; returns the control word after. */
static uint32_t dma(struct fixture *f, uint32_t control, uint32_t len, uint64_t addr)
{
	dma_at(f, DESC, control, len, addr);
	return be32(gpa(f, DESC));
}

static void test_signature(void **state)
{
	struct fixture *f = *state;
	char sig[5] = {0};
	uint8_t id[4], w[4];

	sel(f, FW_CFG_SIGNATURE);
	rd(f, sig, 4);
	assert_string_equal(sig, "QEMU");
	assert_int_equal(rd8(f), 0); /* past the end */
	assert_int_equal(rd8(f), 0);
	/* A new selector write starts over, even of the same item. */
	sel(f, FW_CFG_SIGNATURE);
	assert_int_equal(rd8(f), 'Q');
	assert_int_equal(rd8(f), 'E');
	sel(f, FW_CFG_SIGNATURE);
	assert_int_equal(rd8(f), 'Q');
	/* Bit 14 (the old write channel) selects the same item. */
	sel(f, FW_CFG_WRITE_CHANNEL | FW_CFG_SIGNATURE);
	assert_int_equal(rd8(f), 'Q');
	/* A wider data read takes that many bytes; a read at 0x510 one. */
	sel(f, FW_CFG_SIGNATURE);
	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DATA, w, 2, false));
	assert_memory_equal(w, "QE", 2);
	memset(w, 0xaa, 2);
	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_SEL, w, 2, false));
	assert_int_equal(w[0], 'M');
	assert_int_equal(w[1], 0);
	/* Data writes are ignored. */
	w[0] = 'X';
	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DATA, w, 1, true));
	sel(f, FW_CFG_SIGNATURE);
	assert_int_equal(rd8(f), 'Q');

	sel(f, FW_CFG_ID);
	rd(f, id, 4);
	assert_int_equal(le(id, 4), FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA);
	/* The DMA register reads "QEMU CFG", whatever the width. */
	for (uint16_t i = 0; i < 8; i++) {
		uint8_t b;
		assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA + i, &b, 1, false));
		assert_int_equal(b, (uint8_t) "QEMU CFG"[i]);
	}
	assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA + 4, w, 4, false));
	assert_memory_equal(w, " CFG", 4);
	/* Ports that are not fw_cfg's are left to the caller. */
	assert_false(fw_cfg_pio(&f->fw, 0x512, w, 1, false));
	assert_false(fw_cfg_pio(&f->fw, 0x513, w, 1, false));
	assert_false(fw_cfg_pio(&f->fw, 0x51c, w, 1, false));
	assert_false(fw_cfg_pio(&f->fw, 0x50f, w, 1, false));
}

static void test_machine_items(void **state)
{
	struct fixture *f = *state;
	uint8_t b[8];

	sel(f, FW_CFG_NB_CPUS);
	rd(f, b, 2);
	assert_int_equal(le(b, 2), 2);
	assert_int_equal(rd8(f), 0);
	sel(f, FW_CFG_MAX_CPUS);
	rd(f, b, 2);
	assert_int_equal(le(b, 2), 2);
	sel(f, FW_CFG_RAM_SIZE);
	rd(f, b, 8);
	assert_int_equal(le(b, 8), LOW + HIGH);
	sel(f, FW_CFG_NOGRAPHIC);
	rd(f, b, 2);
	assert_int_equal(le(b, 2), 1);
	sel(f, FW_CFG_BOOT_MENU);
	rd(f, b, 3);
	assert_int_equal(le(b, 3), 0);
	/* Empty and unknown items read as zeros. */
	for (uint32_t k = 0; k < 0x10000; k += 0x7f) {
		if ((k & FW_CFG_ENTRY_MASK) < FW_CFG_FILE_FIRST + 1)
			continue;
		sel(f, (uint16_t)k);
		assert_int_equal(rd8(f), 0);
	}
	sel(f, FW_CFG_UUID);
	assert_int_equal(rd8(f), 0);
	/* Arch-local items are a table of their own. */
	assert_int_equal(fw_cfg_add_u32(&f->fw, FW_CFG_ARCH_LOCAL | 2, 0x01020304), 0);
	sel(f, FW_CFG_ARCH_LOCAL | 2);
	rd(f, b, 4);
	assert_int_equal(le(b, 4), 0x01020304);
	sel(f, 2);
	assert_int_equal(rd8(f), 0);
	/* The caller cannot set what is not an item, nor FILE_DIR. */
	assert_int_equal(fw_cfg_add_u16(&f->fw, FW_CFG_FILE_DIR, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_u16(&f->fw, FW_CFG_FILE_FIRST, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_u16(&f->fw, FW_CFG_WRITE_CHANNEL | 4, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_bytes(&f->fw, 4, NULL, 3), -EINVAL);
	assert_int_equal(fw_cfg_add_bytes(&f->fw, 4, NULL, 0), 0);
	sel(f, FW_CFG_NOGRAPHIC);
	assert_int_equal(rd8(f), 0);
}

struct dirent {
	uint32_t size;
	uint16_t select;
	char name[57];
};

/* FILE_DIR read through the data port; returns the count. */
static uint32_t read_dir(struct fixture *f, struct dirent *out, uint32_t max)
{
	uint8_t b[64];
	uint32_t n;

	sel(f, FW_CFG_FILE_DIR);
	rd(f, b, 4);
	n = be32(b);
	assert_true(n <= max);
	for (uint32_t i = 0; i < n; i++) {
		rd(f, b, 64);
		out[i].size = be32(b);
		out[i].select = (uint16_t)(b[4] << 8 | b[5]);
		assert_int_equal(b[6] | b[7], 0);
		memcpy(out[i].name, b + 8, 56);
		out[i].name[56] = 0;
		assert_int_equal(b[63], 0); /* NUL-terminated */
	}
	assert_int_equal(rd8(f), 0);
	return n;
}

static void test_file_dir(void **state)
{
	struct fixture *f = *state;
	static const char *names[] = {"opt/z", "bootorder", "etc/e820", "etc/boot-fail-wait", "a"};
	struct dirent d[FW_CFG_MAX_FILES];
	char name[64], buf[80];

	assert_int_equal(read_dir(f, d, FW_CFG_MAX_FILES), 0);
	for (uint32_t i = 0; i < 5; i++) {
		snprintf(buf, sizeof(buf), "data of %s", names[i]);
		assert_int_equal(fw_cfg_add_file(&f->fw, names[i], buf, (uint32_t)strlen(buf)), 0);
	}
	assert_int_equal(read_dir(f, d, FW_CFG_MAX_FILES), 5);
	/* Sorted by name, selectors from 0x20 in that order. */
	assert_string_equal(d[0].name, "a");
	assert_string_equal(d[1].name, "bootorder");
	assert_string_equal(d[2].name, "etc/boot-fail-wait");
	assert_string_equal(d[3].name, "etc/e820");
	assert_string_equal(d[4].name, "opt/z");
	for (uint32_t i = 0; i < 5; i++) {
		char got[80] = {0};

		assert_int_equal(d[i].select, FW_CFG_FILE_FIRST + i);
		assert_int_equal(fw_cfg_file_select(&f->fw, d[i].name), d[i].select);
		snprintf(buf, sizeof(buf), "data of %s", d[i].name);
		assert_int_equal(d[i].size, strlen(buf));
		sel(f, d[i].select);
		rd(f, got, d[i].size);
		assert_string_equal(got, buf);
		assert_int_equal(rd8(f), 0);
	}
	assert_int_equal(fw_cfg_file_select(&f->fw, "nope"), -ENOENT);
	sel(f, FW_CFG_FILE_FIRST + 5);
	assert_int_equal(rd8(f), 0);

	/* Refusals: duplicate, empty, too long names; a full table. */
	assert_int_equal(fw_cfg_add_file(&f->fw, "a", "x", 1), -EEXIST);
	assert_int_equal(fw_cfg_add_file(&f->fw, "", "x", 1), -EINVAL);
	memset(name, 'n', sizeof(name));
	name[FW_CFG_MAX_FILE_PATH] = 0;
	assert_int_equal(fw_cfg_add_file(&f->fw, name, "x", 1), -EINVAL);
	name[FW_CFG_MAX_FILE_PATH - 1] = 0; /* 55 characters fit */
	assert_int_equal(fw_cfg_add_file(&f->fw, name, NULL, 0), 0);
	for (uint32_t i = 6; i < FW_CFG_MAX_FILES; i++) {
		snprintf(buf, sizeof(buf), "opt/f%02u", i);
		assert_int_equal(fw_cfg_add_file(&f->fw, buf, buf, 3), 0);
	}
	assert_int_equal(fw_cfg_add_file(&f->fw, "zz", "x", 1), -ENOSPC);
	assert_int_equal(read_dir(f, d, FW_CFG_MAX_FILES), FW_CFG_MAX_FILES);
	for (uint32_t i = 1; i < FW_CFG_MAX_FILES; i++)
		assert_true(strcmp(d[i - 1].name, d[i].name) < 0);
}

static void test_dma_read(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "0123456789abcdefghij";
	int s;

	assert_int_equal(fw_cfg_add_file(&f->fw, "opt/t", text, 20), 0);
	s = fw_cfg_file_select(&f->fw, "opt/t");
	assert_true(s >= FW_CFG_FILE_FIRST);

	/* Select and read 8, then read on from the offset. */
	assert_int_equal(
		dma(f, (uint32_t)s << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 8, BUF), 0);
	assert_memory_equal(gpa(f, BUF), "01234567", 8);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_READ, 4, BUF + 8), 0);
	assert_memory_equal(gpa(f, BUF), "0123456789ab", 12);
	/* Skip 4, then the port reads on from there. */
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_SKIP, 4, 0), 0);
	assert_int_equal(rd8(f), 'g');
	/* Past the end: the item's rest, then zeros. */
	memset(gpa(f, BUF), 0xee, 32);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_READ, 16, BUF), 0);
	assert_memory_equal(gpa(f, BUF), "hij\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(gpa(f, BUF)[16], 0xee);
	/* A skip stops at the end; a read there is all zeros. */
	assert_int_equal(dma(f, (uint32_t)s << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP,
			     0xffffffff, 0),
			 0);
	assert_int_equal(rd8(f), 0);
	/* Select alone, then the port reads from the start. */
	assert_int_equal(dma(f, (uint32_t)s << 16 | FW_CFG_DMA_CTL_SELECT, 5, BUF), 0);
	assert_int_equal(rd8(f), '0');
	/* A zero length, and a control word with ERROR already set. */
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_READ, 0, 0xfffffffff0ULL), 0);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_ERROR | FW_CFG_DMA_CTL_READ, 1, BUF), 0);
	assert_int_equal(gpa(f, BUF)[0], '1');
	/* The signature through DMA, into RAM above 4 GiB, with the
	 * descriptor there too, by one 64-bit write. */
	{
		uint64_t d = GMEM_HIGH_START + 0x100, dst = GMEM_HIGH_START + HIGH - 4;
		uint8_t *p = gpa(f, d), a[8];

		put_be(p,
		       (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT |
			       FW_CFG_DMA_CTL_READ,
		       4);
		put_be(p + 4, 4, 4);
		put_be(p + 8, dst, 8);
		put_be(a, d, 8);
		assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA, a, 8, true));
		assert_int_equal(be32(p), 0);
		assert_memory_equal(gpa(f, dst), "QEMU", 4);
	}
	/* Unknown selector: a read gets zeros, a skip does nothing. */
	memset(gpa(f, BUF), 0xee, 8);
	assert_int_equal(
		dma(f, 0x3fffU << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 8, BUF), 0);
	assert_memory_equal(gpa(f, BUF), "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_SKIP, 8, BUF), 0);
}

static void test_dma_hostile(void **state)
{
	struct fixture *f = *state;
	uint32_t sig_read =
		(uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
	uint8_t before[64];

	/* Descriptor outside RAM, in the hole, across the end of low RAM, and
	 * past the end of high RAM: nothing to do, nothing written. */
	memcpy(before, gpa(f, LOW - 64), 64);
	dma_at(f, 0x80000000ULL, sig_read, 4, BUF);
	dma_at(f, 0xfec00000ULL, sig_read, 4, BUF);
	dma_at(f, LOW - 8, sig_read, 4, BUF);
	dma_at(f, GMEM_HIGH_START + HIGH - 8, sig_read, 4, BUF);
	dma_at(f, 0xfffffffffffffff8ULL, sig_read, 4, BUF);
	assert_memory_equal(gpa(f, LOW - 64), before, 64);

	/* Destination outside RAM, spanning the hole, past high RAM, or
	 * wrapping around: ERROR, nothing copied, the offset unchanged. */
	memset(gpa(f, LOW - 4), 0xee, 4);
	assert_int_equal(dma(f, sig_read, 4, 0x80000000ULL), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(f, sig_read, 8, LOW - 4), FW_CFG_DMA_CTL_ERROR);
	assert_memory_equal(gpa(f, LOW - 4), "\xee\xee\xee\xee", 4);
	assert_int_equal(dma(f, sig_read, 8, GMEM_HIGH_START + HIGH - 4), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(f, sig_read, 0x100, 0xffffffffffffff80ULL), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(f, sig_read, 4, GMEM_HIGH_START - 2), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(rd8(f), 'Q');

	/* Huge lengths: refused at once (the zero fill would be too long),
	 * on a known item and on an unknown one. */
	assert_int_equal(dma(f, sig_read, 0xffffffff, 0), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(
		dma(f, 0x1234U << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 0xffffffff, 0),
		FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(f, sig_read, FW_CFG_DMA_PAD_MAX + 5, 0), FW_CFG_DMA_CTL_ERROR);
	/* The largest zero fill is done, one byte more is refused. */
	memset(gpa(f, 0x100000), 0xee, FW_CFG_DMA_PAD_MAX + 8);
	assert_int_equal(dma(f, sig_read, 5 + FW_CFG_DMA_PAD_MAX, 0x100000), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(gpa(f, 0x100000)[0], 0xee);
	assert_int_equal(dma(f, sig_read, 4 + FW_CFG_DMA_PAD_MAX, 0x100000), 0);
	assert_memory_equal(gpa(f, 0x100000), "QEMU\0\0\0", 7);
	assert_int_equal(gpa(f, 0x100000 + 3 + FW_CFG_DMA_PAD_MAX)[0], 0);
	assert_int_equal(gpa(f, 0x100000 + 4 + FW_CFG_DMA_PAD_MAX)[0], 0xee);

	/* Writes: refused with ERROR, the item unchanged; any item. */
	memcpy(gpa(f, BUF), "XXXX", 4);
	assert_int_equal(
		dma(f,
		    (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE,
		    4, BUF),
		FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(
		dma(f, 0x3fffU << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4, BUF),
		FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_WRITE | FW_CFG_DMA_CTL_SKIP, 0, BUF),
			 FW_CFG_DMA_CTL_ERROR);
	sel(f, FW_CFG_SIGNATURE);
	assert_int_equal(rd8(f), 'Q');

	/* The destination is the descriptor itself: the data land, then the
	 * control word is written over them. */
	dma_at(f, DESC, sig_read, 16, DESC);
	assert_int_equal(be32(gpa(f, DESC)), 0);

	/* Only the high half written: no transfer; the next low write
	 * starts from the high half as written. */
	{
		uint8_t hi[4] = {0, 0, 0, 1}, lo[4];

		put_be(gpa(f, DESC), sig_read, 4);
		assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA, hi, 4, true));
		assert_int_equal(be32(gpa(f, DESC)), sig_read);
		/* 16-bit and 8-bit writes do nothing. */
		assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA + 4, hi, 2, true));
		assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA + 7, hi, 1, true));
		put_be(lo, 0x100, 4);
		put_be(gpa(f, GMEM_HIGH_START + 0x100), sig_read, 4);
		put_be(gpa(f, GMEM_HIGH_START + 0x104), 4, 4);
		put_be(gpa(f, GMEM_HIGH_START + 0x108), BUF, 8);
		assert_true(fw_cfg_pio(&f->fw, FW_CFG_PORT_DMA + 4, lo, 4, true));
		assert_int_equal(be32(gpa(f, GMEM_HIGH_START + 0x100)), 0);
		assert_int_equal(be32(gpa(f, DESC)), sig_read);
		/* After a transfer the register is 0 again: a low write alone
		 * is a 32-bit address. */
		assert_int_equal(dma(f, sig_read, 4, BUF), 0);
	}
	/* Odd sizes on every port do not crash. */
	for (uint16_t p = FW_CFG_PORT_SEL; p < FW_CFG_PORT_DMA + 8; p++) {
		for (uint32_t sz = 0; sz <= 9; sz++) {
			uint8_t b[16] = {0};
			(void)fw_cfg_pio(&f->fw, p, b, sz, false);
			(void)fw_cfg_pio(&f->fw, p, b, sz, true);
		}
	}
}

static void test_e820_file(void **state)
{
	struct fixture *f = *state;
	struct gmem big = {.host = NULL, .size = 5ULL << 30, .low_size = GMEM_MMIO_HOLE_START};
	struct e820_map map;
	uint32_t len;
	int s;

	assert_int_equal(e820_build(&map, &big), 0);
	assert_int_equal(fw_cfg_add_e820(&f->fw, &map), 0);
	s = fw_cfg_file_select(&f->fw, "etc/e820");
	assert_true(s >= FW_CFG_FILE_FIRST);
	len = map.n * FW_CFG_E820_ENTRY;
	assert_int_equal(dma(f, (uint32_t)s << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
			     len + 4, BUF),
			 0);
	for (uint32_t i = 0; i < map.n; i++) {
		const uint8_t *e = gpa(f, BUF + i * FW_CFG_E820_ENTRY);

		assert_int_equal(le(e, 8), map.e[i].addr);
		assert_int_equal(le(e + 8, 8), map.e[i].size);
		assert_int_equal(le(e + 16, 4), map.e[i].type);
	}
	assert_int_equal(le(gpa(f, BUF + len), 4), 0);
	/* The last entry is the RAM above 4 GiB. */
	assert_int_equal(map.e[map.n - 1].addr, GMEM_HIGH_START);
	assert_int_equal(map.e[map.n - 1].size, (5ULL << 30) - GMEM_MMIO_HOLE_START);
}

static void test_bootorder(void **state)
{
	struct fixture *f = *state;
	char p1[64], p2[64], got[128] = {0};
	const char *paths[] = {p1, p2};
	int s;

	assert_int_equal(fw_cfg_bootpath_virtio_blk(p1, sizeof(p1), 4), 26);
	assert_string_equal(p1, "/pci@i0cf8/scsi@4/disk@0,0");
	assert_true(fw_cfg_bootpath_virtio_blk(p2, sizeof(p2), 0x1a) > 0);
	assert_string_equal(p2, "/pci@i0cf8/scsi@1a/disk@0,0");
	assert_int_equal(fw_cfg_bootpath_virtio_blk(got, sizeof(got), 0), -EINVAL);
	assert_int_equal(fw_cfg_bootpath_virtio_blk(got, sizeof(got), 32), -EINVAL);
	assert_int_equal(fw_cfg_bootpath_virtio_blk(got, 26, 4), -ENOSPC);

	assert_int_equal(fw_cfg_add_bootorder(&f->fw, paths, 2), 0);
	s = fw_cfg_file_select(&f->fw, "bootorder");
	assert_true(s >= FW_CFG_FILE_FIRST);
	sel(f, (uint16_t)s);
	rd(f, got, 56);
	assert_string_equal(got, "/pci@i0cf8/scsi@4/disk@0,0\n/pci@i0cf8/scsi@1a/disk@0,0\n");
	assert_int_equal(rd8(f), 0);
}

static void test_kernel(void **state)
{
	struct fixture *f = *state;
	uint8_t kernel[3000], setup[1024], b[8];
	struct fw_cfg_kernel k = {
		.kernel_addr = 0x100000,
		.setup_addr = 0x90000,
		.cmdline_addr = 0x20000,
		.kernel = kernel,
		.kernel_size = sizeof(kernel),
		.setup = setup,
		.setup_size = sizeof(setup),
		.cmdline = "console=ttyS0",
	};

	for (size_t i = 0; i < sizeof(kernel); i++)
		kernel[i] = (uint8_t)(i * 7);
	memset(setup, 0x55, sizeof(setup));
	assert_int_equal(fw_cfg_set_kernel(&f->fw, &k), 0);
	sel(f, FW_CFG_KERNEL_ADDR);
	rd(f, b, 4);
	assert_int_equal(le(b, 4), 0x100000);
	sel(f, FW_CFG_KERNEL_SIZE);
	rd(f, b, 4);
	assert_int_equal(le(b, 4), sizeof(kernel));
	sel(f, FW_CFG_SETUP_SIZE);
	rd(f, b, 4);
	assert_int_equal(le(b, 4), sizeof(setup));
	sel(f, FW_CFG_CMDLINE_SIZE);
	rd(f, b, 4);
	assert_int_equal(le(b, 4), 14); /* with the NUL */
	sel(f, FW_CFG_INITRD_SIZE);
	rd(f, b, 4);
	assert_int_equal(le(b, 4), 0);
	assert_int_equal(dma(f,
			     (uint32_t)FW_CFG_KERNEL_DATA << 16 | FW_CFG_DMA_CTL_SELECT |
				     FW_CFG_DMA_CTL_READ,
			     sizeof(kernel), BUF),
			 0);
	assert_memory_equal(gpa(f, BUF), kernel, sizeof(kernel));
	assert_int_equal(dma(f,
			     (uint32_t)FW_CFG_CMDLINE_DATA << 16 | FW_CFG_DMA_CTL_SELECT |
				     FW_CFG_DMA_CTL_READ,
			     14, BUF),
			 0);
	assert_string_equal((char *)gpa(f, BUF), "console=ttyS0");
	k.initrd_size = 5; /* without data */
	assert_int_equal(fw_cfg_set_kernel(&f->fw, &k), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_signature),   T(test_machine_items), T(test_file_dir),  T(test_dma_read),
		T(test_dma_hostile), T(test_e820_file),	    T(test_bootorder), T(test_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
