/* Unit tests for vmm-core/acpi and aml: every table is built, placed in a
 * test guest's RAM and parsed back the way an OS does (RSDP checksums, XSDT
 * entries, each table's signature, length and checksum, the FADT's fields,
 * the MADT's entries, the MCFG); the "etc/table-loader" script is checked
 * entry by entry and run by an interpreter of this file's own, which must
 * give the same bytes as acpi_place; and ACPICA's disassembler (iasl -d,
 * the acpica-tools package scripts/install-deps.sh installs) must read every
 * table and the DSDT's AML without complaint, and iasl compile the result
 * back. A missing iasl fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/unit/testguest.h"
#include "vmm-core/acpi.h"
#include "vmm-core/aml.h"
#include "vmm-core/mptable.h"
#include "vmm-core/pci.h"
#include "vmm-core/virtio_mmio.h"

#define GUEST_SIZE GMEM_MIN_SIZE

static struct test_guest guest;
static struct acpi_tables tables;

static int group_setup(void **state)
{
	(void)state;
	test_guest_init(&guest, GUEST_SIZE);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	test_guest_free(&guest);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	test_guest_reset(&guest);
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void machine(struct acpi_machine *m, uint32_t ncpus, uint32_t nmmio)
{
	static const uint32_t gsis[] = {5, 6, 7, 10, 11, 14, 15, 3};

	memset(m, 0, sizeof(*m));
	m->ncpus = ncpus;
	m->nmmio = nmmio;
	for (uint32_t i = 0; i < nmmio; i++)
		m->mmio[i] =
			(struct acpi_mmio_dev){VMMIO_BASE + i * VMMIO_SIZE, VMMIO_SIZE, gsis[i]};
}

/* A table in guest RAM at gpa: signature, length within bounds, checksum. */
static const uint8_t *table_at(uint64_t gpa, const char *sig)
{
	const uint8_t *h = gmem_ptr(&guest.mem, gpa, 36);
	uint32_t len;

	assert_non_null(h);
	assert_memory_equal(h, sig, 4);
	len = get32(h + 4);
	assert_true(len >= 36 && len < ACPI_BLOB_MAX);
	assert_non_null(gmem_ptr(&guest.mem, gpa, len));
	assert_int_equal(sum(h, len), 0);
	return h;
}

static void check_fadt(const uint8_t *f, uint64_t dsdt, uint64_t *ret_facs)
{
	assert_int_equal(get32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(get32(f + 40), dsdt);
	assert_int_equal(get64(f + 140), dsdt);
	*ret_facs = get32(f + 36);
	assert_int_equal(get64(f + 132), 0); /* the 32-bit FIRMWARE_CTRL only */
	assert_int_equal(get16(f + 46), 9);  /* SCI_INT */
	assert_int_equal(get32(f + 48), 0);  /* SMI_CMD: always in ACPI mode */
	assert_int_equal(get32(f + 56), 0x600);
	assert_int_equal(get32(f + 64), 0x604);
	assert_int_equal(get32(f + 76), 0x608);
	assert_int_equal(get32(f + 80), 0); /* no GPE blocks */
	assert_int_equal(get32(f + 84), 0);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 4);
	assert_int_equal(f[92], 0);
	assert_int_equal(f[108], 0x32);	     /* CENTURY: cmos.c's register */
	assert_int_equal(get16(f + 109), 3); /* LEGACY_DEVICES | 8042 */
	/* WBINVD, PROC_C1, SLP_BUTTON, TMR_VAL_EXT, RESET_REG_SUP; not
	 * PWR_BUTTON (the fixed-feature power button is there). */
	assert_int_equal(get32(f + 112), 0x525);
	/* RESET_REG: system I/O 0xcf9, 8 bits, value 6 */
	assert_int_equal(f[116], 1);
	assert_int_equal(f[117], 8);
	assert_int_equal(get64(f + 120), 0xcf9);
	assert_int_equal(f[128], 6);
	/* The X_ blocks say the same as the 32-bit ones. */
	assert_int_equal(f[148], 1);
	assert_int_equal(f[149], 32);
	assert_int_equal(get64(f + 152), 0x600);
	assert_int_equal(get64(f + 164), 0);
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(get64(f + 176), 0x604);
	assert_int_equal(f[208], 1);
	assert_int_equal(f[209], 32);
	assert_int_equal(get64(f + 212), 0x608);
	assert_int_equal(get64(f + 224), 0); /* X_GPE0_BLK */
}

static void check_madt(const uint8_t *h, uint32_t ncpus)
{
	uint32_t len = get32(h + 4), cpus = 0, ioapics = 0, isos = 0, nmis = 0;
	uint8_t seen[ACPI_MAX_CPUS] = {0};

	assert_int_equal(get32(h + 36), LAPIC_ADDR);
	assert_int_equal(get32(h + 40), 1);
	for (uint32_t at = 44; at < len;) {
		const uint8_t *e = h + at;

		assert_true(at + 2 <= len && e[1] >= 2 && at + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], e[3]);
			assert_true(e[3] < ncpus && !seen[e[3]]);
			seen[e[3]] = 1;
			assert_int_equal(get32(e + 4), 1);
			cpus++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ncpus); /* the MP table's IOAPIC id */
			assert_int_equal(get32(e + 4), IOAPIC_ADDR);
			assert_int_equal(get32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			/* The SCI, level-triggered, active high; nothing else
			 * (IRQ 0 is GSI 0, as in the MP table). */
			assert_int_equal(e[3], 9);
			assert_int_equal(get32(e + 4), 9);
			assert_int_equal(get16(e + 8), 0x000d);
			isos++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1); /* LINT1 */
			nmis++;
			break;
		default: fail_msg("MADT entry type %u", e[0]);
		}
		at += e[1];
	}
	assert_int_equal(cpus, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
	assert_int_equal(nmis, 1);
}

/* Parse everything from the RSDP, as an OS does. */
static void check_placed(uint64_t rsdp_addr, uint64_t tables_addr, uint32_t ncpus)
{
	const uint8_t *r = gmem_ptr(&guest.mem, rsdp_addr, 36);
	const uint8_t *x, *f = NULL, *madt = NULL, *mcfg = NULL;
	uint64_t dsdt, facs;

	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(get32(r + 16), 0); /* no RSDT */
	assert_int_equal(get32(r + 20), 36);
	assert_int_equal(get64(r + 24), tables_addr + tables.off_xsdt);
	x = table_at(get64(r + 24), "XSDT");
	assert_int_equal(get32(x + 4), 36 + 3 * 8);
	for (int i = 0; i < 3; i++) {
		uint64_t a = get64(x + 36 + 8 * i);
		const uint8_t *t = gmem_ptr(&guest.mem, a, 4);

		assert_non_null(t);
		if (memcmp(t, "FACP", 4) == 0)
			f = table_at(a, "FACP");
		else if (memcmp(t, "APIC", 4) == 0)
			madt = table_at(a, "APIC");
		else if (memcmp(t, "MCFG", 4) == 0)
			mcfg = table_at(a, "MCFG");
		else
			fail_msg("XSDT entry %d: %.4s", i, (const char *)t);
	}
	assert_non_null(f);
	assert_non_null(madt);
	assert_non_null(mcfg);
	assert_ptr_equal(f, gmem_ptr(&guest.mem, tables_addr + tables.off_fadt, 1));
	dsdt = tables_addr + tables.off_dsdt;
	check_fadt(f, dsdt, &facs);
	(void)table_at(dsdt, "DSDT");
	assert_int_equal(gmem_ptr(&guest.mem, dsdt, 1) == NULL, 0);
	assert_int_equal(((const uint8_t *)gmem_ptr(&guest.mem, dsdt, 9))[8], 2);
	assert_int_equal(facs % 64, 0);
	assert_memory_equal(gmem_ptr(&guest.mem, facs, 4), "FACS", 4);
	assert_int_equal(get32(gmem_ptr(&guest.mem, facs + 4, 4)), 64);
	check_madt(madt, ncpus);
	assert_int_equal(get32(mcfg + 4), 60);
	assert_int_equal(get64(mcfg + 44), PCI_ECAM_BASE);
	assert_int_equal(get16(mcfg + 52), 0);
	assert_int_equal(mcfg[54], 0);
	assert_int_equal(mcfg[55], 255);
}

static void test_place_and_parse(void **state)
{
	static const uint32_t cpus[] = {1, 2, 4, 63, 64};
	struct acpi_machine m;

	(void)state;
	for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
		for (uint32_t n = 0; n <= ACPI_MAX_MMIO; n += 4) {
			test_guest_reset(&guest);
			machine(&m, cpus[i], n);
			assert_int_equal(acpi_build(&m, &tables), 0);
			/* In the blob, every checksum is left to the loader. */
			assert_int_equal(tables.rsdp[8], 0);
			assert_int_equal(tables.rsdp[32], 0);
			assert_int_equal(tables.blob[tables.off_dsdt + 9], 0);
			assert_int_equal(
				acpi_place(&guest.mem, &tables, ACPI_RSDP_ADDR, ACPI_TABLES_ADDR),
				0);
			check_placed(ACPI_RSDP_ADDR, ACPI_TABLES_ADDR, cpus[i]);
			/* The tables stay in the reserved area, clear of the RSDP
			 * and of the MP table. */
			assert_true(ACPI_TABLES_ADDR + tables.blob_len <= ACPI_RSDP_ADDR);
		}
	}
}

static void test_bad_machine(void **state)
{
	struct acpi_machine m;

	(void)state;
	machine(&m, 0, 0);
	assert_int_equal(acpi_build(&m, &tables), -EINVAL);
	machine(&m, ACPI_MAX_CPUS + 1, 0);
	assert_int_equal(acpi_build(&m, &tables), -EINVAL);
	machine(&m, 1, 1);
	m.nmmio = ACPI_MAX_MMIO + 1;
	assert_int_equal(acpi_build(&m, &tables), -EINVAL);
	machine(&m, 1, 1);
	m.mmio[0].gsi = 24;
	assert_int_equal(acpi_build(&m, &tables), -EINVAL);
	/* Placing where there is no RAM. */
	machine(&m, 1, 0);
	assert_int_equal(acpi_build(&m, &tables), 0);
	assert_int_equal(acpi_place(&guest.mem, &tables, GUEST_SIZE, ACPI_TABLES_ADDR), -EINVAL);
	assert_int_equal(acpi_place(&guest.mem, &tables, ACPI_RSDP_ADDR, GUEST_SIZE - 16), -EINVAL);
}

/* The loader script, read as SeaBIOS's romfile_loader_* and OVMF's
 * QemuFwCfgAcpi read it. */
struct fw_file {
	const char *name;
	const uint8_t *data;
	uint32_t len;
	uint64_t addr; /* where "firmware" put it */
};

static struct fw_file *fw_find(struct fw_file *f, const uint8_t *name)
{
	/* Names are NUL-terminated inside their 56 bytes. */
	assert_non_null(memchr(name, 0, ACPI_LOADER_FILESZ));
	for (int i = 0; i < 2; i++)
		if (strcmp((const char *)name, f[i].name) == 0)
			return &f[i];
	fail_msg("loader names an unknown file %s", (const char *)name);
	return NULL;
}

static void firmware_run(uint64_t rsdp_addr, uint64_t tables_addr)
{
	struct fw_file f[2] = {
		{ACPI_FILE_RSDP, tables.rsdp, ACPI_RSDP_LEN, rsdp_addr},
		{ACPI_FILE_TABLES, tables.blob, tables.blob_len, tables_addr},
	};
	uint32_t allocs = 0, ptrs = 0, csums = 0;

	assert_int_equal(tables.loader_len % 128, 0);
	for (uint32_t at = 0; at < tables.loader_len; at += 128) {
		const uint8_t *e = tables.loader + at;
		struct fw_file *a, *b;
		uint8_t *p;

		switch (get32(e)) {
		case 1: /* ALLOCATE: file, align, zone */
			assert_true(ptrs == 0 && csums == 0);
			a = fw_find(f, e + 4);
			if (a == &f[0]) {
				assert_int_equal(get32(e + 60), 16);
				assert_int_equal(e[64], 2); /* FSEG */
			} else {
				assert_int_equal(get32(e + 60), 64);
				assert_int_equal(e[64], 1); /* HIGH */
			}
			assert_int_equal(a->addr % get32(e + 60), 0);
			/* The firmware copies the file into its allocation. */
			p = gmem_ptr(&guest.mem, a->addr, a->len);
			memcpy(p, a->data, a->len);
			for (int i = 65; i < 128; i++)
				assert_int_equal(e[i], 0);
			allocs++;
			break;
		case 2: { /* ADD_POINTER: dest, src, offset, size */
			uint32_t off = get32(e + 116);
			uint8_t size = e[120];
			uint64_t v = 0;

			assert_int_equal(allocs, 2);
			a = fw_find(f, e + 4);
			b = fw_find(f, e + 60);
			assert_true(size == 4 || size == 8);
			assert_true(off + size <= a->len);
			p = gmem_ptr(&guest.mem, a->addr + off, size);
			memcpy(&v, p, size);
			/* An offset into src before the patch. */
			assert_true(v < b->len);
			v += b->addr;
			memcpy(p, &v, size);
			ptrs++;
			break;
		}
		case 3: { /* ADD_CHECKSUM: file, offset, start, length */
			uint32_t off = get32(e + 60), start = get32(e + 64), len = get32(e + 68);

			a = fw_find(f, e + 4);
			assert_true(start + len <= a->len && off >= start && off < start + len);
			p = gmem_ptr(&guest.mem, a->addr, a->len);
			/* QEMU leaves the checksum byte 0 in the file. */
			assert_int_equal(a->data[off], 0);
			p[off] = (uint8_t)(p[off] - sum(p + start, len));
			csums++;
			break;
		}
		default: fail_msg("loader command %u", get32(e));
		}
	}
	assert_int_equal(allocs, 2);
	/* FACS, DSDT, X_DSDT, three XSDT entries, the RSDP's XSDT */
	assert_int_equal(ptrs, 7);
	/* five tables, the RSDP's two */
	assert_int_equal(csums, 7);
}

static void test_loader_script(void **state)
{
	struct acpi_machine m;
	uint8_t *placed;
	const uint64_t rsdp = 0xf5a40, tbl = 0xfe0000; /* as a firmware might choose */

	(void)state;
	machine(&m, 4, 3);
	assert_int_equal(acpi_build(&m, &tables), 0);
	/* Each table's checksum command covers exactly that table. */
	firmware_run(rsdp, tbl);
	check_placed(rsdp, tbl, 4);
	placed = malloc(tables.blob_len + ACPI_RSDP_LEN);
	assert_non_null(placed);
	memcpy(placed, gmem_ptr(&guest.mem, tbl, tables.blob_len), tables.blob_len);
	memcpy(placed + tables.blob_len, gmem_ptr(&guest.mem, rsdp, ACPI_RSDP_LEN), ACPI_RSDP_LEN);
	test_guest_reset(&guest);
	assert_int_equal(acpi_place(&guest.mem, &tables, rsdp, tbl), 0);
	assert_memory_equal(placed, gmem_ptr(&guest.mem, tbl, tables.blob_len), tables.blob_len);
	assert_memory_equal(placed + tables.blob_len, gmem_ptr(&guest.mem, rsdp, ACPI_RSDP_LEN),
			    ACPI_RSDP_LEN);
	free(placed);
	/* A misaligned allocation is refused. */
	assert_int_equal(acpi_place(&guest.mem, &tables, rsdp + 4, tbl), -EINVAL);
	assert_int_equal(acpi_place(&guest.mem, &tables, rsdp, tbl + 32), -EINVAL);
}

static int run(const char *cmd)
{
	int r = system(cmd);

	return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* grep's status for pattern in file: 0 found, 1 not. */
static int grep(const char *pattern, const char *file)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "grep -E -q -- '%s' '%s'", pattern, file);
	return run(cmd);
}

static void test_iasl(void **state)
{
	static const char *const names[] = {"facp", "apic", "mcfg", "xsdt", "dsdt"};
	char dir[] = "/tmp/test_acpi.XXXXXX";
	char path[256], cmd[1024];
	struct acpi_machine m;
	const uint8_t *x;

	(void)state;
	/* acpica-tools is a test package: without it, fail. */
	assert_int_equal(run("iasl -v >/dev/null 2>&1"), 0);
	machine(&m, 8, ACPI_MAX_MMIO);
	m.ps2_mouse = true;
	assert_int_equal(acpi_build(&m, &tables), 0);
	assert_int_equal(acpi_place(&guest.mem, &tables, ACPI_RSDP_ADDR, ACPI_TABLES_ADDR), 0);
	assert_non_null(mkdtemp(dir));
	x = gmem_ptr(&guest.mem, ACPI_TABLES_ADDR + tables.off_xsdt, 60);
	for (size_t i = 0; i < 5; i++) {
		uint64_t a = i < 3    ? get64(x + 36 + 8 * i)
			     : i == 3 ? ACPI_TABLES_ADDR + tables.off_xsdt
				      : ACPI_TABLES_ADDR + tables.off_dsdt;
		const uint8_t *t = gmem_ptr(&guest.mem, a, 8);

		snprintf(path, sizeof(path), "%s/%.4s.dat", dir, (const char *)t);
		write_file(path, t, get32(t + 4));
	}
	/* (The RSDP is no table iasl -d reads: check_placed parsed it.)
	 * Disassemble each table: no error, no warning, no bad checksum. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for t in *.dat; do iasl -d $t >$t.log 2>&1 || exit 1; done; "
		 "cat *.log *.dsl > all.txt",
		 dir);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/all.txt", dir);
	if (grep("[Ee]rror[^s]|Warning|Incorrect|Invalid|\\*\\*\\*\\*", path) == 0) {
		snprintf(cmd, sizeof(cmd), "cat %s >&2", path);
		(void)run(cmd);
		fail_msg("iasl -d complained (above)");
	}
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%.4s.dsl", dir, names[i]);
		for (char *c = path + strlen(dir) + 1; *c && *c != '.'; c++)
			*c = (char)(*c - 'a' + 'A');
		assert_int_equal(access(path, R_OK), 0);
	}
	/* The DSDT names what the machine has. */
	snprintf(path, sizeof(path), "%s/DSDT.dsl", dir);
	assert_int_equal(grep("PNP0A03", path), 0);
	assert_int_equal(grep("PNP0C0F", path), 0);
	assert_int_equal(grep("\\\\_SB.LK16,", path), 0);
	assert_int_equal(grep("PNP0501", path), 0);
	assert_int_equal(grep("PNP0303", path), 0);
	assert_int_equal(grep("PNP0F13", path), 0);
	assert_int_equal(grep("PNP0B00", path), 0);
	/* Both BAR windows of the host bridge. */
	assert_int_equal(grep("0xC0000000, +// Range Minimum", path), 0);
	assert_int_equal(grep("0xF0000000, +// Range Minimum", path), 0);
	assert_int_equal(grep("0xFEBFFFFF, +// Range Maximum", path), 0);
	assert_int_equal(grep("LNRO0005", path), 0);
	assert_int_equal(grep("Name \\(\\\\_S5, Package", path), 0);
	assert_int_equal(grep("Interrupt \\(ResourceConsumer, Edge, ActiveHigh, Exclusive", path),
			 0);
	/* Without a PS/2 mouse, no PNP0F13: Linux then leaves the minimal
	 * i8042's AUX port alone. */
	{
		const uint8_t *d;
		uint32_t len;
		static const uint8_t pnp0f13[] = {0x0c, 0x41, 0xd0, 0x0f, 0x13};

		m.ps2_mouse = false;
		assert_int_equal(acpi_build(&m, &tables), 0);
		d = tables.blob + tables.off_dsdt;
		len = get32(d + 4);
		assert_null(memmem(d, len, pnp0f13, sizeof(pnp0f13)));
		m.ps2_mouse = true;
		assert_int_equal(acpi_build(&m, &tables), 0);
		d = tables.blob + tables.off_dsdt;
		len = get32(d + 4);
		assert_non_null(memmem(d, len, pnp0f13, sizeof(pnp0f13)));
	}
	/* ...and compiles back without errors. */
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -p recompiled DSDT.dsl > compile.log 2>&1", dir);
	if (run(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/compile.log >&2", dir);
		(void)run(cmd);
		fail_msg("iasl could not compile the disassembled DSDT");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(run(cmd), 0);
}

/* AML encodings against the bytes iasl produces for the same source. */
static void test_aml_encodings(void **state)
{
	uint8_t buf[8192];
	struct aml_buf b;
	aml_open_t s;

	(void)state;
	aml_init(&b, buf, sizeof(buf));
	aml_eisaid(&b, "PNP0A03");
	assert_int_equal(b.len, 5);
	assert_memory_equal(buf, "\x0c\x41\xd0\x0a\x03", 5);
	aml_init(&b, buf, sizeof(buf));
	aml_name(&b, "\\_SB.PCI0");
	assert_int_equal(b.len, 10);
	assert_memory_equal(buf, "\x5c\x2e_SB_PCI0", 10);
	aml_init(&b, buf, sizeof(buf));
	aml_int(&b, 0x12345);
	assert_memory_equal(buf, "\x0c\x45\x23\x01\x00", 5);
	/* PkgLength: one byte up to 63, two bytes past it. */
	aml_init(&b, buf, sizeof(buf));
	s = aml_scope(&b, "ABCD");
	aml_close(&b, s);
	assert_memory_equal(buf,
			    "\x10\x05"
			    "ABCD",
			    6);
	aml_init(&b, buf, sizeof(buf));
	s = aml_scope(&b, "ABCD");
	for (int i = 0; i < 100; i++)
		aml_name_int(&b, "XYZW", 0);
	aml_close(&b, s);
	/* body: 4 + 600 bytes, + 2 for the PkgLength = 606 = 0x25e */
	assert_int_equal(b.len, 1 + 2 + 604);
	assert_int_equal(buf[1], 0x40 | 0xe);
	assert_int_equal(buf[2], 0x25);
	/* An overflow is sticky, never written past the end. */
	aml_init(&b, buf, 3);
	aml_string(&b, "LNRO0005");
	assert_int_equal(b.err, -ENOSPC);
	assert_true(b.len <= 3);
	aml_byte(&b, 0);
	assert_int_equal(b.err, -ENOSPC);
	assert_true(b.len <= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_place_and_parse, setup),
		cmocka_unit_test_setup(test_bad_machine, setup),
		cmocka_unit_test_setup(test_loader_script, setup),
		cmocka_unit_test_setup(test_iasl, setup),
		cmocka_unit_test(test_aml_encodings),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
