/* libFuzzer target: input bytes are a guest's accesses to the fw_cfg device
 * (untrusted) over a small guest RAM (16 KiB low, 8 KiB above 4 GiB) whose
 * bytes also come from the input, so DMA descriptors are fuzzed too.
 * Encoding, one op at a time:
 *   op & 7 == 0  select: 2 bytes, the selector (a 16-bit write to 0x510)
 *   op & 7 == 1  (op >> 3) + 1 one-byte reads of the data port
 *   op & 7 == 2  DMA: 1 byte w picks the descriptor's place (RAM, across the
 *                end of low RAM, high RAM, the hole, past the end), then 16
 *                bytes of descriptor written there when it is RAM; started by
 *                two 32-bit writes, or one 64-bit write if op & 8
 *   op & 7 == 3  RAM: 2 bytes offset, 1 byte n, n bytes into guest RAM
 *   op & 7 == 4  port access: p, port 0x50c + (p & 0x1f), size 1 << ((op >> 3)
 *                & 3), a write if op & 0x20 (8 value bytes follow)
 *   op & 7 == 5  a 32-bit write of 4 bytes to the DMA register's half op & 8
 *   op & 7 == 6  DMA with a built descriptor: flags, 2 bytes selector, 4
 *                bytes length, 1 byte picking the destination (as for w)
 *   op & 7 == 7  nothing (a byte to skip)
 * Checks besides the sanitizers, against a model of the selector, offset and
 * DMA address register: every byte read is the item's or 0 past its end; a
 * transfer writes only its destination and its control word, and the
 * destination holds exactly the item's bytes and zeros; the control word
 * is 0 or ERROR, ERROR exactly when the model says; ports that are not
 * fw_cfg's are not claimed.
 *
 * Built with -DFUZZ_SEEDGEN, it writes the seed corpus instead:
 * fuzz_fw_cfg_seedgen DIR. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/fuzz/fuzz_check.h"
#include "test/fuzz/fuzz_seedfile.h"
#include "vmm-core/fw_cfg.h"

#define FZ_LOW	(16U << 10)
#define FZ_HIGH (8U << 10)

#ifndef FUZZ_SEEDGEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where op 2's descriptor and op 6's destination go, by w & 7. */
static uint64_t fz_place(uint8_t w, uint32_t len)
{
	uint64_t k = (uint64_t)(w >> 3) * 64;

	switch (w & 7) {
	case 0:
	case 1:
	case 2: return k;
	case 3: return FZ_LOW - len / 2 - 1; /* across the end of low RAM */
	case 4: return GMEM_HIGH_START + k % FZ_HIGH;
	case 5: return GMEM_HIGH_START + FZ_HIGH - len / 2 - 1;
	case 6: return GMEM_MMIO_HOLE_START + k;
	default: return ~0ULL - k; /* wraps */
	}
}

struct fz {
	uint8_t ram[FZ_LOW + FZ_HIGH], before[FZ_LOW + FZ_HIGH];
	struct gmem mem;
	struct fw_cfg fw;
	uint16_t key; /* the model */
	uint32_t off;
	uint64_t dma_addr;
};

static const struct fw_cfg_item *fz_item(const struct fz *z)
{
	uint16_t idx = z->key & FW_CFG_ENTRY_MASK;

	if (z->key & FW_CFG_ARCH_LOCAL)
		return idx < FW_CFG_FILE_FIRST ? &z->fw.arch[idx] : NULL;
	if (idx < FW_CFG_FILE_FIRST)
		return &z->fw.std[idx];
	if ((uint32_t)(idx - FW_CFG_FILE_FIRST) < z->fw.nfiles)
		return &z->fw.files[idx - FW_CFG_FILE_FIRST].item;
	return NULL;
}

static uint32_t fz_left(const struct fz *z)
{
	const struct fw_cfg_item *it = fz_item(z);

	return it && z->off < it->len ? it->len - z->off : 0;
}

static uint8_t fz_next(struct fz *z)
{
	if (!fz_left(z))
		return 0;
	return fz_item(z)->data[z->off++];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* Index into ram[] of a guest range, or -1. */
static int64_t fz_index(const struct fz *z, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(&z->mem, gpa, len);

	return p ? p - z->ram : -1;
}

/* What a transfer from the descriptor at desc does, by the model; then
 * check the device did exactly that. Called just before the device runs. */
struct fz_expect {
	int64_t desc, dst; /* ram[] indices, -1: none */
	uint32_t len, n, result;
	uint32_t off_from; /* item offset of the copied bytes */
	const struct fw_cfg_item *it;
};

static struct fz_expect fz_model_dma(struct fz *z, uint64_t desc_gpa)
{
	struct fz_expect e = {.desc = fz_index(z, desc_gpa, 16), .dst = -1};
	uint32_t control, left;
	uint64_t addr;
	const uint8_t *d;

	if (e.desc < 0)
		return e;
	d = z->ram + e.desc;
	control = be32(d);
	e.len = be32(d + 4);
	addr = (uint64_t)be32(d + 8) << 32 | be32(d + 12);
	if (control & FW_CFG_DMA_CTL_SELECT) {
		z->key = (uint16_t)(control >> 16);
		z->off = 0;
	}
	left = fz_left(z);
	e.n = e.len < left ? e.len : left;
	e.it = fz_item(z);
	e.off_from = z->off;
	if (control & FW_CFG_DMA_CTL_READ) {
		if (e.len - e.n > FW_CFG_DMA_PAD_MAX) {
			e.result = FW_CFG_DMA_CTL_ERROR;
		} else if (e.len) {
			e.dst = fz_index(z, addr, e.len);
			e.result = e.dst < 0 ? FW_CFG_DMA_CTL_ERROR : 0;
		}
		if (e.result == 0)
			z->off += e.n;
	} else if (control & FW_CFG_DMA_CTL_WRITE) {
		e.result = FW_CFG_DMA_CTL_ERROR;
	} else if (control & FW_CFG_DMA_CTL_SKIP) {
		z->off += e.n;
	}
	return e;
}

static void fz_check_dma(struct fz *z, const struct fz_expect *e)
{
	/* What RAM should hold: as before, with the destination written;
	 * the control word is checked on its own. */
	if (e->dst >= 0) {
		if (e->n)
			memcpy(z->before + e->dst, e->it->data + e->off_from, e->n);
		memset(z->before + e->dst + e->n, 0, e->len - e->n);
	}
	if (e->desc >= 0) {
		CHECK(be32(z->ram + e->desc) == e->result);
		memcpy(z->before + e->desc, z->ram + e->desc, 4);
	}
	CHECK(memcmp(z->before, z->ram, sizeof(z->ram)) == 0);
}

/* A write to the DMA register at offset off (size bytes, big-endian). */
static void fz_dma_reg(struct fz *z, uint16_t off, const uint8_t *v, uint32_t size)
{
	uint8_t b[8];
	uint64_t x = 0;
	bool go = false;
	uint64_t desc = 0;
	struct fz_expect e = {.desc = -1, .dst = -1};

	for (uint32_t i = 0; i < size; i++)
		x = x << 8 | v[i];
	if (size == 4 && off == 0) {
		z->dma_addr = x << 32;
	} else if (size == 4 && off == 4) {
		desc = z->dma_addr | x;
		go = true;
	} else if (size == 8 && off == 0) {
		desc = x;
		go = true;
	}
	if (go) {
		memcpy(z->before, z->ram, sizeof(z->ram));
		e = fz_model_dma(z, desc);
		z->dma_addr = 0;
	}
	memcpy(b, v, size);
	CHECK(fw_cfg_pio(&z->fw, (uint16_t)(FW_CFG_PORT_DMA + off), b, size, true));
	if (go)
		fz_check_dma(z, &e);
}

static void fz_port(struct fz *z, uint16_t port, uint32_t size, bool is_write, const uint8_t *v)
{
	uint8_t b[8] = {0};
	bool ours = port == FW_CFG_PORT_SEL || port == FW_CFG_PORT_DATA ||
		    (port >= FW_CFG_PORT_DMA && port < FW_CFG_PORT_DMA + 8);

	if (!ours) {
		CHECK(!fw_cfg_pio(&z->fw, port, b, size, is_write));
		return;
	}
	if (is_write && port >= FW_CFG_PORT_DMA) {
		fz_dma_reg(z, (uint16_t)(port - FW_CFG_PORT_DMA), v, size);
		return;
	}
	if (is_write) {
		memcpy(b, v, size);
		CHECK(fw_cfg_pio(&z->fw, port, b, size, true));
		if (port == FW_CFG_PORT_SEL && size == 2) {
			z->key = (uint16_t)(v[0] | v[1] << 8);
			z->off = 0;
		}
		return;
	}
	CHECK(fw_cfg_pio(&z->fw, port, b, size, false));
	if (port >= FW_CFG_PORT_DMA) {
		for (uint32_t i = 0; i < size; i++) {
			uint32_t k = port - FW_CFG_PORT_DMA + i;
			CHECK(b[i] == (k < 8 ? (uint8_t) "QEMU CFG"[k] : 0xff));
		}
	} else if (port == FW_CFG_PORT_SEL) {
		CHECK(b[0] == fz_next(z));
		for (uint32_t i = 1; i < size; i++)
			CHECK(b[i] == 0);
	} else {
		for (uint32_t i = 0; i < size; i++)
			CHECK(b[i] == fz_next(z));
	}
}

static void fz_setup(struct fz *z)
{
	static uint8_t big[3000];
	static const char *const boot[] = {"/pci@i0cf8/scsi@1/disk@0,0",
					   "/pci@i0cf8/scsi@2/disk@0,0"};
	struct e820_map map = {0};
	struct fw_cfg_kernel k = {.kernel_addr = 0x100000,
				  .kernel = big,
				  .kernel_size = 700,
				  .setup = big + 700,
				  .setup_size = 512,
				  .cmdline = "console=ttyS0"};

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 1);
	memset(z->ram, 0, sizeof(z->ram));
	z->mem = (struct gmem){.host = z->ram, .size = FZ_LOW + FZ_HIGH, .low_size = FZ_LOW};
	CHECK(fw_cfg_init(&z->fw, &z->mem, 2, false) == 0);
	CHECK(e820_add(&map, 0, FZ_LOW, E820_RAM) == 0);
	CHECK(e820_add(&map, GMEM_HIGH_START, FZ_HIGH, E820_RAM) == 0);
	CHECK(fw_cfg_add_e820(&z->fw, &map) == 0);
	CHECK(fw_cfg_add_bootorder(&z->fw, boot, 2) == 0);
	CHECK(fw_cfg_add_file(&z->fw, "opt/big", big, sizeof(big)) == 0);
	CHECK(fw_cfg_add_file(&z->fw, "etc/empty", NULL, 0) == 0);
	CHECK(fw_cfg_set_kernel(&z->fw, &k) == 0);
	CHECK(fw_cfg_add_u32(&z->fw, FW_CFG_ARCH_LOCAL | 2, 1) == 0);
	z->key = 0;
	z->off = 0;
	z->dma_addr = 0;
}

static uint8_t take(const uint8_t *data, size_t size, size_t *i)
{
	return *i < size ? data[(*i)++] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z;
	size_t i = 0;

	fz_setup(&z);
	while (i < size) {
		uint8_t op = data[i++], v[16] = {0};

		switch (op & 7) {
		case 0:
			v[0] = take(data, size, &i);
			v[1] = take(data, size, &i);
			fz_port(&z, FW_CFG_PORT_SEL, 2, true, v);
			break;
		case 1:
			for (uint32_t k = 0; k <= (uint32_t)(op >> 3); k++)
				fz_port(&z, FW_CFG_PORT_DATA, 1, false, v);
			break;
		case 2: {
			uint64_t d = fz_place(take(data, size, &i), 16);
			int64_t at = fz_index(&z, d, 16);

			for (int k = 0; k < 16; k++)
				v[k] = take(data, size, &i);
			if (at >= 0)
				memcpy(z.ram + at, v, 16);
			put_be(v, d, 8);
			if (op & 8) {
				fz_port(&z, FW_CFG_PORT_DMA, 8, true, v);
			} else {
				fz_port(&z, FW_CFG_PORT_DMA, 4, true, v);
				fz_port(&z, FW_CFG_PORT_DMA + 4, 4, true, v + 4);
			}
			break;
		}
		case 3: {
			uint32_t at = take(data, size, &i);
			uint32_t n;

			at = (at | (uint32_t)take(data, size, &i) << 8) % sizeof(z.ram);
			n = take(data, size, &i);
			for (uint32_t k = 0; k < n && at + k < sizeof(z.ram); k++)
				z.ram[at + k] = take(data, size, &i);
			break;
		}
		case 4: {
			uint16_t port = (uint16_t)(0x50c + (take(data, size, &i) & 0x1f));
			uint32_t sz = 1U << ((op >> 3) & 3);
			bool w = op & 0x20;

			if (w)
				for (int k = 0; k < 8; k++)
					v[k] = take(data, size, &i);
			fz_port(&z, port, sz, w, v);
			break;
		}
		case 5:
			for (int k = 0; k < 4; k++)
				v[k] = take(data, size, &i);
			fz_port(&z, (uint16_t)(FW_CFG_PORT_DMA + ((op & 8) ? 4 : 0)), 4, true, v);
			break;
		case 6: {
			uint8_t flags = take(data, size, &i), w;
			uint32_t key = take(data, size, &i), len = 0, desc = 0x40 * ((op >> 3) & 7);

			key |= (uint32_t)take(data, size, &i) << 8;
			for (int k = 0; k < 4; k++)
				len = len << 8 | take(data, size, &i);
			w = take(data, size, &i);
			/* Mostly small lengths, so that reads succeed. */
			if (!(flags & 0x80))
				len &= 0xfff;
			put_be(z.ram + desc, key << 16 | (flags & 0x1f), 4);
			put_be(z.ram + desc + 4, len, 4);
			put_be(z.ram + desc + 8, fz_place(w, len), 8);
			put_be(v, desc, 4);
			fz_port(&z, FW_CFG_PORT_DMA + 4, 4, true, v);
			break;
		}
		default: break;
		}
		{
			const struct fw_cfg_item *it = fz_item(&z);

			CHECK(z.off == 0 || (it && z.off <= it->len));
			CHECK(z.fw.key == z.key && z.fw.off == z.off &&
			      z.fw.dma_addr == z.dma_addr);
		}
	}
	fw_cfg_destroy(&z.fw);
	return 0;
}

#else /* FUZZ_SEEDGEN */

struct seq {
	uint8_t b[4096];
	size_t n;
};

static void put(struct seq *s, uint64_t v, int nbytes, bool big_endian)
{
	if (s->n + (size_t)nbytes > sizeof(s->b)) {
		fprintf(stderr, "seed too long\n");
		exit(1);
	}
	for (int k = 0; k < nbytes; k++)
		s->b[s->n++] = (uint8_t)(v >> (8 * (big_endian ? nbytes - 1 - k : k)));
}

static void s_sel(struct seq *s, uint16_t key)
{
	put(s, 0, 1, false);
	put(s, key, 2, false);
}

static void s_read(struct seq *s, uint32_t n)
{
	while (n) {
		uint32_t k = n > 32 ? 32 : n;
		put(s, 1 | (k - 1) << 3, 1, false);
		n -= k;
	}
}

/* op 6: a built descriptor. */
static void s_dma(struct seq *s, uint8_t flags, uint16_t key, uint32_t len, uint8_t where)
{
	put(s, 6, 1, false);
	put(s, flags, 1, false);
	put(s, key, 2, false);
	put(s, len, 4, true);
	put(s, where, 1, false);
}

static void emit(const char *dir, const char *name, struct seq *s)
{
	fuzz_seed_write(dir, name, s->b, s->n);
	s->n = 0;
}

int main(int argc, char **argv)
{
	static struct seq s;
	const uint8_t rd = FW_CFG_DMA_CTL_READ | FW_CFG_DMA_CTL_SELECT;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* SeaBIOS's probe: signature and ID through the ports, then the
	 * directory and a file by DMA. */
	s_sel(&s, FW_CFG_SIGNATURE);
	s_read(&s, 4);
	s_sel(&s, FW_CFG_ID);
	s_read(&s, 4);
	s_sel(&s, FW_CFG_FILE_DIR);
	s_read(&s, 4 + 64 * 4);
	s_dma(&s, rd, FW_CFG_FILE_DIR, 4 + 64 * 4, 8);
	s_dma(&s, rd, FW_CFG_FILE_FIRST + 3, 3000, 0x20);
	emit(argv[1], "probe", &s);

	/* The kernel items as OVMF reads them: size, then data, skip. */
	s_dma(&s, rd, FW_CFG_KERNEL_SIZE, 4, 8);
	s_dma(&s, rd, FW_CFG_KERNEL_DATA, 700, 0x40);
	s_dma(&s, FW_CFG_DMA_CTL_SKIP | FW_CFG_DMA_CTL_SELECT, FW_CFG_SETUP_DATA, 100, 0);
	s_dma(&s, FW_CFG_DMA_CTL_READ, 0, 412, 0x48);
	s_dma(&s, rd, FW_CFG_CMDLINE_DATA, 14, 0x10);
	emit(argv[1], "kernel", &s);

	/* Hostile: destinations across the end of low RAM, high RAM, the
	 * hole, wrapping; huge lengths; writes; unknown selectors. */
	s_dma(&s, rd, FW_CFG_SIGNATURE, 64, 3);
	s_dma(&s, rd, FW_CFG_SIGNATURE, 64, 5);
	s_dma(&s, rd, FW_CFG_SIGNATURE, 64, 0x0c);
	s_dma(&s, rd, FW_CFG_SIGNATURE, 4, 6);
	s_dma(&s, rd, FW_CFG_SIGNATURE, 0x100, 7);
	s_dma(&s, 0x80 | rd, FW_CFG_SIGNATURE, 0xffffffff, 0);
	s_dma(&s, 0x80 | rd, 0x1234, 0xffffffff, 0);
	s_dma(&s, FW_CFG_DMA_CTL_WRITE | FW_CFG_DMA_CTL_SELECT, FW_CFG_SIGNATURE, 4, 0);
	s_dma(&s, rd, 0x3fff, 16, 0x10);
	s_dma(&s, 0x80 | FW_CFG_DMA_CTL_SKIP | FW_CFG_DMA_CTL_SELECT, FW_CFG_NB_CPUS, 0xfffffff0,
	      0);
	emit(argv[1], "hostile", &s);

	/* A raw descriptor in high RAM by a 64-bit write, one straddling the
	 * end of low RAM, and the high half alone. */
	put(&s, 2 | 8, 1, false);
	put(&s, 4, 1, false);
	put(&s, (uint32_t)FW_CFG_SIGNATURE << 16 | rd, 4, true);
	put(&s, 4, 4, true);
	put(&s, 0x100, 8, true);
	put(&s, 2, 1, false);
	put(&s, 3, 1, false);
	put(&s, (uint32_t)FW_CFG_SIGNATURE << 16 | rd, 4, true);
	put(&s, 4, 4, true);
	put(&s, 0x100, 8, true);
	put(&s, 5, 1, false);
	put(&s, 1, 4, true);
	put(&s, 5 | 8, 1, false);
	put(&s, 0x40, 4, true);
	emit(argv[1], "raw", &s);

	/* Every port, every size, read and write. */
	for (uint32_t p = 0; p < 0x20; p++) {
		for (uint32_t sz = 0; sz < 4; sz++) {
			put(&s, 4 | sz << 3, 1, false);
			put(&s, p, 1, false);
			put(&s, 4 | sz << 3 | 0x20, 1, false);
			put(&s, p, 1, false);
			put(&s, 0x0100000000000000ULL, 8, true);
		}
	}
	emit(argv[1], "ports", &s);
	return 0;
}

#endif /* FUZZ_SEEDGEN */
