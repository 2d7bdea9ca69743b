/* libFuzzer target: input bytes are a guest's accesses to PCI bus 0
 * (untrusted) through pci_pio and pci_mmio: the host bridge, a scripted
 * function with capabilities and three BARs (slot 1) and a function without
 * hooks (slot 2). Encoding, one access at a time, op = kind | size << 2 |
 * write << 5:
 *   kind 0  port I/O: p; port 0xCF8 + (p & 7), size 1 << (size % 3); a write
 *           takes 4 value bytes
 *   kind 1  ECAM: 3 bytes a; offset a & 0xfff, devfn (a >> 12) & 0xff, bus
 *           (a >> 20) & 0xf; length size + 1; a write takes 8 value bytes
 *   kind 2  BAR window: sel, 2 offset bytes; sel & 7 < 6: the scripted
 *           function's BAR (sel & 7) as it reads now, 6: the window's base,
 *           7: two more bytes make a raw 32-bit address; length size + 1; a
 *           write takes 8 value bytes
 *   kind 3  type 1 cycle: reg, devfn; CONFIG_ADDRESS then the data port at
 *           0xCFC + (reg & 3), size 1 << (size % 3); a write takes 4 bytes
 * Checks besides the sanitizers: read-only bits never change and write-1-to-
 * clear bits only clear; a BAR decodes exactly when memory decoding is on
 * and it lies in the window, bar_mapped said so, and only decoded BARs see
 * accesses, at the right offset; absent functions read all ones; extended
 * space reads zero.
 *
 * Built with -DFUZZ_SEEDGEN, it writes the seed corpus instead (Linux's
 * probe, bus scan, BAR sizing, capability walk, hostile accesses):
 * fuzz_pci_seedgen [--check] DIR. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/fuzz/fuzz_check.h"
#include "vmm-core/pci.h"

enum { K_PIO, K_ECAM, K_BAR, K_TYPE1 };

#ifndef FUZZ_SEEDGEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bits nobody may change: neither writable nor write-1-to-clear. */
struct fz_ro {
	uint64_t mask[PCI_CFG_SIZE / 8], val[PCI_CFG_SIZE / 8];
};

struct fz {
	struct pci_bus b;
	struct pci_func f, g;	       /* scripted (slot 1), without hooks (slot 2) */
	uint64_t mapped[PCI_NUM_BARS]; /* what bar_mapped last said */
	uint64_t cur_addr;	       /* the MMIO access under way */
	uint32_t cur_len;
	bool in_mmio;
	uint32_t bar_hits;
	struct fz_ro ro_f, ro_g, ro_host;
};

static void fz_bar_access(struct pci_func *f, int bar, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	struct fz *z = f->priv;

	CHECK(z->in_mmio);
	CHECK(bar >= 0 && bar < PCI_NUM_BARS);
	CHECK(len == z->cur_len && len >= 1 && len <= 8);
	CHECK(f->bar_addr[bar] != 0);
	CHECK(off + len <= f->bar_size[bar]);
	CHECK(f->bar_addr[bar] + off == z->cur_addr);
	z->bar_hits++;
	if (!is_write)
		memset(data, bar, len);
}

/* The oracle's own statement of the two BAR windows (pci.h). */
static bool in_windows(uint64_t addr, uint64_t size)
{
	return (addr >= 0xc0000000ULL && addr + size <= 0xd0000000ULL) ||
	       (addr >= 0xf0000000ULL && addr + size <= 0xfec00000ULL);
}

static void fz_bar_mapped(struct pci_func *f, int bar, uint64_t addr)
{
	struct fz *z = f->priv;

	CHECK(bar >= 0 && bar < PCI_NUM_BARS && f->bar_size[bar]);
	CHECK(addr != z->mapped[bar]); /* changes only */
	CHECK(addr == 0 ||
	      (in_windows(addr, f->bar_size[bar]) && !(addr & (f->bar_size[bar] - 1))));
	z->mapped[bar] = addr;
}

static void fz_config_written(struct pci_func *f, uint32_t off, uint32_t len)
{
	(void)f;
	CHECK((len == 1 || len == 2 || len == 4) && !(off & (len - 1)));
	CHECK(off + len <= PCI_CFG_SIZE);
}

static void fz_config_read(struct pci_func *f, uint32_t off, uint32_t len)
{
	(void)f;
	CHECK((len == 1 || len == 2 || len == 4) && !(off & (len - 1)));
	CHECK(off + len <= PCI_CFG_SIZE);
}

static const struct pci_func_ops fz_ops = {
	.bar_access = fz_bar_access,
	.bar_mapped = fz_bar_mapped,
	.config_written = fz_config_written,
	.config_read = fz_config_read,
};

/* Snapshot of the read-only bits. */
static void fz_ro_snap(const struct pci_func *f, struct fz_ro *ro)
{
	for (uint32_t i = 0; i < PCI_CFG_SIZE / 8; i++) {
		uint64_t c, w, x;
		memcpy(&c, f->cfg + 8 * i, 8);
		memcpy(&w, f->wmask + 8 * i, 8);
		memcpy(&x, f->w1c + 8 * i, 8);
		ro->mask[i] = ~(w | x);
		ro->val[i] = c & ro->mask[i];
	}
}

static void fz_ro_check(const struct pci_func *f, const struct fz_ro *ro)
{
	uint64_t now[PCI_CFG_SIZE / 8];

	/* No comparison per word: the harness's own loops stay out of the
	 * coverage feedback (and fast). */
	memcpy(now, f->cfg, sizeof(now));
	for (uint32_t i = 0; i < PCI_CFG_SIZE / 8; i++)
		now[i] &= ro->mask[i];
	CHECK(memcmp(now, ro->val, sizeof(now)) == 0);
}

static void fz_init(struct fz *z)
{
	static const uint8_t vndr[14] = {16, 1, 0, 0, 0, 0, 0, 0, 0x38, 0, 0, 0, 0, 0};
	static const uint8_t msix[10] = {2, 0, 0, 0x40, 0, 0, 0, 0x50, 0, 0};
	static const uint8_t pm[6] = {3, 0, 0, 0, 0, 0};

	memset(z, 0, sizeof(*z));
	pci_bus_init(&z->b);
	pci_func_init(&z->f, 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x1100, &fz_ops, z);
	CHECK(pci_func_add_bar(&z->f, 0, 0x8000) == 0);
	CHECK(pci_func_add_bar(&z->f, 1, 0x1000) == 0);
	CHECK(pci_func_add_bar(&z->f, 4, 0x100000) == 0);
	CHECK(pci_func_add_cap(&z->f, 0x11, msix, 12) == 0x40);
	CHECK(pci_func_add_cap(&z->f, 0x09, vndr, 16) == 0x4c);
	CHECK(pci_func_add_cap(&z->f, 0x01, pm, 8) == 0x5c);
	/* error bits set, so clearing them is reachable */
	pci_put16(z->f.cfg + PCI_STATUS, pci_get16(z->f.cfg + PCI_STATUS) | 0xf900);
	CHECK(pci_bus_add(&z->b, &z->f) == 1);
	pci_func_init(&z->g, 0x8086, 0x100e, 0x020000, 3, 0, 0, NULL, NULL);
	CHECK(pci_func_add_bar(&z->g, 0, 0x1000) == 0);
	CHECK(pci_bus_add(&z->b, &z->g) == 2);
	fz_ro_snap(&z->f, &z->ro_f);
	fz_ro_snap(&z->g, &z->ro_g);
	fz_ro_snap(&z->b.host, &z->ro_host);
}

/* After every access: the bus and the functions are consistent. */
static void fz_check(struct fz *z, uint16_t old_status)
{
	const bool mem = pci_get16(z->f.cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY;
	const uint16_t status = pci_get16(z->f.cfg + PCI_STATUS);

	fz_ro_check(&z->f, &z->ro_f);
	fz_ro_check(&z->g, &z->ro_g);
	fz_ro_check(&z->b.host, &z->ro_host);
	/* error bits only clear */
	CHECK((status & 0xf900 & ~old_status) == 0);
	CHECK(pci_get32(z->b.host.cfg + 0x48) == (PCI_ECAM_BASE | 1));
	CHECK((z->b.config_address & ~0x80fffffcU) == 0);
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		const uint64_t size = z->f.bar_size[i];
		uint64_t want = pci_get32(z->f.cfg + PCI_BAR0 + 4 * i) & 0xfffffff0U;
		if (!size) {
			CHECK(want == 0 && z->f.bar_addr[i] == 0 && z->mapped[i] == 0);
			continue;
		}
		CHECK((want & (size - 1)) == 0);
		if (!mem || !in_windows(want, size))
			want = 0;
		CHECK(z->f.bar_addr[i] == want);
		CHECK(z->mapped[i] == want);
	}
	/* the hookless function never decodes: pci_bus_add placed it, only
	 * the guest's COMMAND write turns it on */
	if (!(pci_get16(z->g.cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY))
		CHECK(z->g.bar_addr[0] == 0);
}

static bool fz_present(uint32_t bus, uint32_t devfn)
{
	return bus == 0 && (devfn == 0 || devfn == 8 || devfn == 16);
}

static uint64_t fz_get(const uint8_t *data, size_t size, size_t *i, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t k = 0; k < n && *i < size; k++)
		v |= (uint64_t)data[(*i)++] << (8 * k);
	return v;
}

static void fz_pio(struct fz *z, uint16_t port, uint32_t len, bool is_write, uint32_t v)
{
	uint8_t buf[4];
	const uint32_t ca = z->b.config_address;

	memcpy(buf, &v, 4);
	CHECK(pci_pio(&z->b, port, buf, len, is_write));
	if (is_write)
		return;
	/* CONFIG_ADDRESS reads back as latched, from a dword access only */
	if (port == PCI_CONFIG_ADDRESS && len == 4)
		CHECK(memcmp(buf, &ca, 4) == 0);
	else if (port < PCI_CONFIG_DATA)
		CHECK(buf[0] == 0xff && buf[len - 1] == 0xff);
	/* data port: all ones without the enable bit, for an absent function,
	 * or across the end of the dword */
	if (port >= PCI_CONFIG_DATA && (!(ca & 0x80000000U) || (port - PCI_CONFIG_DATA) + len > 4 ||
					!fz_present((ca >> 16) & 0xff, (ca >> 8) & 0xff)))
		for (uint32_t k = 0; k < len; k++)
			CHECK(buf[k] == 0xff);
}

static void fz_ecam(struct fz *z, uint32_t a, uint32_t len, bool is_write, uint64_t v)
{
	const uint32_t off = a & 0xfff, devfn = (a >> 12) & 0xff, bus = (a >> 20) & 0xf;
	const uint64_t addr = PCI_ECAM_BASE + ((uint64_t)bus << 20 | (uint64_t)devfn << 12 | off);
	uint8_t buf[8];

	memcpy(buf, &v, 8);
	CHECK(pci_mmio(&z->b, addr, buf, len, is_write));
	if (is_write)
		return;
	if (!fz_present(bus, devfn) || (len != 1 && len != 2 && len != 4) || (off & (len - 1))) {
		for (uint32_t k = 0; k < len; k++)
			CHECK(buf[k] == 0xff);
	} else if (off >= PCI_CFG_SIZE) {
		for (uint32_t k = 0; k < len; k++)
			CHECK(buf[k] == 0);
	}
}

static void fz_bar(struct fz *z, uint64_t addr, uint32_t len, bool is_write, uint64_t v)
{
	uint8_t buf[8];
	const uint32_t hits = z->bar_hits;
	bool decoded = false;

	for (int i = 0; i < PCI_NUM_BARS; i++)
		if (z->f.bar_addr[i] && addr >= z->f.bar_addr[i] &&
		    addr + len <= z->f.bar_addr[i] + z->f.bar_size[i])
			decoded = true;
	memcpy(buf, &v, 8);
	z->in_mmio = true;
	z->cur_addr = addr;
	z->cur_len = len;
	if (!pci_mmio(&z->b, addr, buf, len, is_write)) {
		CHECK(!in_windows(addr, 1));
		CHECK(addr < PCI_ECAM_BASE || addr >= PCI_ECAM_BASE + PCI_ECAM_SIZE);
	}
	z->in_mmio = false;
	/* the scripted function's BARs are placed before the other's: a
	 * decoded access is its own unless the guest overlapped them */
	if (decoded)
		CHECK(z->bar_hits == hits + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z;
	size_t i = 0;

	fz_init(&z);
	while (i < size) {
		const uint8_t op = data[i++];
		const uint32_t sz = (op >> 2) & 7;
		const bool is_write = op & 0x20;
		const uint16_t old_status = pci_get16(z.f.cfg + PCI_STATUS);

		switch (op & 3) {
		case K_PIO: {
			const uint16_t port =
				(uint16_t)(PCI_CONFIG_ADDRESS + (fz_get(data, size, &i, 1) & 7));
			fz_pio(&z, port, 1U << (sz % 3), is_write,
			       is_write ? (uint32_t)fz_get(data, size, &i, 4) : 0);
			break;
		}
		case K_ECAM: {
			const uint32_t a = (uint32_t)fz_get(data, size, &i, 3);
			fz_ecam(&z, a, sz + 1, is_write, is_write ? fz_get(data, size, &i, 8) : 0);
			break;
		}
		case K_BAR: {
			const uint32_t sel = (uint32_t)fz_get(data, size, &i, 1) & 7;
			uint64_t addr = fz_get(data, size, &i, 2);
			if (sel < PCI_NUM_BARS)
				addr += pci_get32(z.f.cfg + PCI_BAR0 + 4 * sel) & 0xfffffff0U;
			else if (sel == 6)
				addr += PCI_MMIO32_BASE;
			else
				addr |= fz_get(data, size, &i, 2) << 16;
			fz_bar(&z, addr, sz + 1, is_write,
			       is_write ? fz_get(data, size, &i, 8) : 0);
			break;
		}
		case K_TYPE1: {
			const uint32_t reg = (uint32_t)fz_get(data, size, &i, 1);
			const uint32_t devfn = (uint32_t)fz_get(data, size, &i, 1);
			fz_pio(&z, PCI_CONFIG_ADDRESS, 4, true,
			       0x80000000U | devfn << 8 | (reg & 0xfc));
			fz_pio(&z, (uint16_t)(PCI_CONFIG_DATA + (reg & 3)), 1U << (sz % 3),
			       is_write, is_write ? (uint32_t)fz_get(data, size, &i, 4) : 0);
			break;
		}
		}
		fz_check(&z, old_status);
	}
	pci_bus_destroy(&z.b);
	return 0;
}

#else /* FUZZ_SEEDGEN */

#include <errno.h>
#include <sys/stat.h>

struct seq {
	uint8_t b[8192];
	size_t n;
};

static void seq_add(struct seq *s, uint64_t v, uint32_t n)
{
	if (n > sizeof(s->b) - s->n) {
		fprintf(stderr, "seed too long\n");
		exit(1);
	}
	for (uint32_t k = 0; k < n; k++)
		s->b[s->n++] = (uint8_t)(v >> (8 * k));
}

static uint32_t size_code(uint32_t len)
{
	return len == 4 ? 2 : len == 2 ? 1 : 0;
}

static void s_pio(struct seq *s, uint16_t port, uint32_t len, bool is_write, uint32_t v)
{
	seq_add(s, K_PIO | size_code(len) << 2 | (is_write ? 0x20U : 0U), 1);
	seq_add(s, (uint32_t)(port - PCI_CONFIG_ADDRESS), 1);
	if (is_write)
		seq_add(s, v, 4);
}

static void s_ecam(struct seq *s, uint32_t devfn, uint32_t off, uint32_t len, bool is_write,
		   uint64_t v)
{
	seq_add(s, K_ECAM | (len - 1) << 2 | (is_write ? 0x20U : 0U), 1);
	seq_add(s, devfn << 12 | off, 3);
	if (is_write)
		seq_add(s, v, 8);
}

static void s_ecam_bus(struct seq *s, uint32_t bus, uint32_t devfn, uint32_t off, uint32_t len)
{
	seq_add(s, K_ECAM | (len - 1) << 2, 1);
	seq_add(s, bus << 20 | devfn << 12 | off, 3);
}

static void s_bar(struct seq *s, uint32_t bar, uint32_t off, uint32_t len, bool is_write,
		  uint64_t v)
{
	seq_add(s, K_BAR | (len - 1) << 2 | (is_write ? 0x20U : 0U), 1);
	seq_add(s, bar, 1);
	seq_add(s, off, 2);
	if (is_write)
		seq_add(s, v, 8);
}

static void s_t1(struct seq *s, uint32_t devfn, uint32_t reg, uint32_t len, bool is_write,
		 uint32_t v)
{
	seq_add(s, K_TYPE1 | size_code(len) << 2 | (is_write ? 0x20U : 0U), 1);
	seq_add(s, reg, 1);
	seq_add(s, devfn, 1);
	if (is_write)
		seq_add(s, v, 4);
}

static int emit(const char *dir, bool check, const char *name, const struct seq *s)
{
	char path[4096];
	uint8_t *old;
	FILE *f;
	int bad = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!check) {
		f = fopen(path, "wb");
		if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
			perror(path);
			exit(1);
		}
		return 0;
	}
	old = malloc(s->n + 1);
	f = fopen(path, "rb");
	if (!old || !f || fread(old, 1, s->n + 1, f) != s->n || memcmp(old, s->b, s->n) != 0) {
		fprintf(stderr, "%s: missing or stale; regenerate with fuzz_pci_seedgen\n", path);
		bad = 1;
	}
	if (f)
		fclose(f);
	free(old);
	return bad;
}

int main(int argc, char **argv)
{
	static struct seq s;
	const char *dir;
	bool check = false;
	int bad = 0;

	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		check = true;
		dir = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		dir = argv[1];
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			perror(dir);
			return 1;
		}
	} else {
		fprintf(stderr, "usage: %s [--check] CORPUS_DIR\n", argv[0]);
		return 2;
	}

	/* arch/x86/pci/direct.c: type 1 check, sanity check, then the
	 * MMCONFIG probe of the 945 (PCIEXBAR) and the bus 0 scan by ECAM */
	s.n = 0;
	s_pio(&s, 0xcfb, 1, true, 0x01);
	s_pio(&s, 0xcf8, 4, false, 0);
	s_pio(&s, 0xcf8, 4, true, 0x80000000);
	s_pio(&s, 0xcf8, 4, false, 0);
	s_t1(&s, 0, 0x0a, 2, false, 0);
	s_t1(&s, 0, 0x00, 2, false, 0);
	s_pio(&s, 0xcf8, 4, true, 0);
	s_t1(&s, 0, 0x00, 4, false, 0);
	s_t1(&s, 0, 0x48, 4, false, 0);
	for (uint32_t dev = 0; dev < 32; dev++) {
		s_ecam(&s, dev << 3, 0x00, 4, false, 0);
		s_ecam(&s, dev << 3, 0x0e, 1, false, 0);
	}
	s_ecam(&s, 8, 0x08, 4, false, 0);
	s_ecam(&s, 8, 0x2c, 4, false, 0);
	s_ecam(&s, 8, 0x3c, 2, false, 0);
	s_ecam(&s, 9, 0x00, 4, false, 0);
	s_ecam_bus(&s, 1, 0, 0, 4);
	bad |= emit(dir, check, "linux_probe", &s);

	/* drivers/pci/probe.c: BAR sizing with decoding off, then enable */
	s.n = 0;
	s_ecam(&s, 8, PCI_COMMAND, 2, false, 0);
	s_ecam(&s, 8, PCI_COMMAND, 2, true, 0);
	for (uint32_t i = 0; i < PCI_NUM_BARS; i++) {
		const uint32_t off = PCI_BAR0 + 4 * i;
		const uint32_t addr = i == 0 ? 0xc0000000U : i == 1 ? 0xc0008000U : 0xc0100000U;
		s_ecam(&s, 8, off, 4, false, 0);
		s_ecam(&s, 8, off, 4, true, 0xffffffff);
		s_ecam(&s, 8, off, 4, false, 0);
		s_ecam(&s, 8, off, 4, true, i == 0 || i == 1 || i == 4 ? addr : 0);
	}
	s_ecam(&s, 8, PCI_COMMAND, 2, true, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	for (uint32_t len = 1; len <= 8; len++) {
		s_bar(&s, 0, 0x10, len, false, 0);
		s_bar(&s, 4, 0x100, len, true, 0x1122334455667788ULL);
	}
	s_bar(&s, 0, 0x7ffc, 8, false, 0); /* across the end */
	s_ecam(&s, 8, PCI_BAR0, 4, true, 0xc4000000);
	s_bar(&s, 0, 0x20, 4, false, 0);
	s_ecam(&s, 8, PCI_BAR0, 4, true, 0x10000000);
	s_ecam(&s, 16, PCI_COMMAND, 2, true, PCI_COMMAND_MEMORY);
	s_bar(&s, 6, 0, 4, false, 0);
	s_ecam(&s, 8, PCI_COMMAND, 2, true, 0);
	bad |= emit(dir, check, "bar_sizing", &s);

	/* drivers/pci/pci.c: the capability walk, through type 1 */
	s.n = 0;
	s_t1(&s, 8, PCI_STATUS, 2, false, 0);
	s_t1(&s, 8, PCI_CAP_PTR, 1, false, 0);
	for (uint32_t p = 0x40; p < 0x64; p += 4) {
		s_t1(&s, 8, p, 2, false, 0);
		s_t1(&s, 8, p, 4, false, 0);
	}
	s_t1(&s, 8, 0x42, 2, true, 0xc000); /* MSI-X enable, function mask */
	s_t1(&s, 8, PCI_STATUS, 2, true, 0x0100);
	s_t1(&s, 8, PCI_STATUS, 2, true, 0xffff);
	s_t1(&s, 8, PCI_INTERRUPT_LINE, 1, true, 0x0b);
	bad |= emit(dir, check, "cap_walk", &s);

	/* hostile: odd sizes, misaligned, extended space, enable bit clear,
	 * across the data port's dword, byte accesses to CONFIG_ADDRESS */
	s.n = 0;
	for (uint32_t len = 1; len <= 8; len++) {
		s_ecam(&s, 8, 0x01, len, false, 0);
		s_ecam(&s, 8, 0x03, len, true, ~0ULL);
	}
	s_ecam(&s, 8, 0x100, 4, false, 0);
	s_ecam(&s, 8, 0xffc, 4, true, ~0ULL);
	s_ecam(&s, 0, 0xfff, 1, false, 0);
	s_ecam(&s, 1, 0x00, 4, false, 0);
	s_pio(&s, 0xcf8, 4, true, 0x00000804);
	s_pio(&s, 0xcfc, 4, false, 0);
	s_pio(&s, 0xcfc, 2, true, 0xffff);
	s_pio(&s, 0xcf8, 4, true, 0x80000804);
	s_pio(&s, 0xcfe, 4, false, 0);
	s_pio(&s, 0xcff, 2, true, 0xffff);
	s_pio(&s, 0xcfd, 2, false, 0);
	s_pio(&s, 0xcf8, 1, true, 0x00);
	s_pio(&s, 0xcf9, 2, true, 0x00);
	s_pio(&s, 0xcfa, 4, true, 0x00);
	s_pio(&s, 0xcf8, 2, false, 0);
	s_pio(&s, 0xcf8, 4, true, 0xffffffff);
	s_pio(&s, 0xcfc, 4, false, 0);
	s_t1(&s, 0xff, 0xff, 1, true, 0xff);
	s_t1(&s, 0, 0x48, 4, true, 0);
	s_t1(&s, 0, PCI_COMMAND, 2, true, 0);
	bad |= emit(dir, check, "hostile", &s);
	return bad;
}

#endif /* FUZZ_SEEDGEN */
