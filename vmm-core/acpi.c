/* ACPI table builder; see acpi.h. Layouts from ACPI 6.5 (chapter 5), the
 * MCFG from the PCI Firmware spec 3.x, the loader script from QEMU's
 * bios-linker-loader. Everything here must agree with mptable.c (the same
 * interrupt routing for guests without ACPI), pci.h and acpi_pm.c. */
#include "vmm-core/acpi.h"
#include "vmm-core/aml.h"
#include "vmm-core/cmos.h"
#include "vmm-core/mptable.h"
#include "vmm-core/pci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ACPI_HDR_LEN  36
#define ACPI_OEM_ID   "CELLVM"
#define ACPI_OEM_TBL  "CELLVMCO"
#define ACPI_CREATOR  "CLVM"
#define FACS_LEN      64
#define FADT_LEN      276 /* ACPI 6.x: up to the hypervisor vendor id */
#define FADT_REVISION 6

/* FADT offsets */
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT	   40
#define FADT_X_DSDT	   140

/* FADT flags */
#define FADT_WBINVD	   (1U << 0)
#define FADT_PROC_C1	   (1U << 2)
#define FADT_SLP_BUTTON	   (1U << 5) /* no sleep button */
#define FADT_TMR_VAL_EXT   (1U << 8) /* 32-bit PM timer */
#define FADT_RESET_REG_SUP (1U << 10)
/* IAPC_BOOT_ARCH */
#define FADT_LEGACY_DEVICES (1U << 0)
#define FADT_8042	    (1U << 1)

/* MADT interrupt source override flags: active high (01), level (11 << 2). */
#define MADT_LEVEL_HIGH 0x000d

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* The build state: the blob and the loader script grow together. */
struct acpi_ctx {
	struct acpi_tables *t;
	int err;
};

static uint32_t acpi_alloc(struct acpi_ctx *c, uint32_t len, uint32_t align)
{
	uint32_t off = (c->t->blob_len + align - 1) & ~(align - 1);

	if (c->err || off > ACPI_BLOB_MAX || len > ACPI_BLOB_MAX - off) {
		c->err = -ENOSPC;
		return 0;
	}
	memset(c->t->blob + c->t->blob_len, 0, off + len - c->t->blob_len);
	c->t->blob_len = off + len;
	return off;
}

static uint8_t *acpi_cmd(struct acpi_ctx *c, uint32_t command)
{
	uint8_t *e;

	if (c->err || c->t->loader_len + ACPI_LOADER_ENTRY > ACPI_LOADER_MAX) {
		c->err = -ENOSPC;
		return NULL;
	}
	e = c->t->loader + c->t->loader_len;
	memset(e, 0, ACPI_LOADER_ENTRY);
	put32(e, command);
	c->t->loader_len += ACPI_LOADER_ENTRY;
	return e;
}

static void acpi_cmd_alloc(struct acpi_ctx *c, const char *file, uint32_t align, uint8_t zone)
{
	uint8_t *e = acpi_cmd(c, ACPI_LOADER_ALLOCATE);

	if (!e)
		return;
	memcpy(e + 4, file, strlen(file));
	put32(e + 4 + ACPI_LOADER_FILESZ, align);
	e[8 + ACPI_LOADER_FILESZ] = zone;
}

/* The size-byte field at off in dest holds an offset into src: the loader
 * adds src's address. */
static void acpi_cmd_pointer(struct acpi_ctx *c, const char *dest, uint32_t off, uint8_t size,
			     const char *src)
{
	uint8_t *e = acpi_cmd(c, ACPI_LOADER_ADD_PTR);

	if (!e)
		return;
	memcpy(e + 4, dest, strlen(dest));
	memcpy(e + 4 + ACPI_LOADER_FILESZ, src, strlen(src));
	put32(e + 4 + 2 * ACPI_LOADER_FILESZ, off);
	e[8 + 2 * ACPI_LOADER_FILESZ] = size;
}

static void acpi_cmd_checksum(struct acpi_ctx *c, const char *file, uint32_t csum_off,
			      uint32_t start, uint32_t len)
{
	uint8_t *e = acpi_cmd(c, ACPI_LOADER_ADD_CSUM);

	if (!e)
		return;
	memcpy(e + 4, file, strlen(file));
	put32(e + 4 + ACPI_LOADER_FILESZ, csum_off);
	put32(e + 8 + ACPI_LOADER_FILESZ, start);
	put32(e + 12 + ACPI_LOADER_FILESZ, len);
}

/* A table header at off; checksum left 0. acpi_table_end sets the length
 * and adds the checksum command: after the table's own pointer commands,
 * since the loader sums the patched bytes. */
static uint8_t *acpi_table_begin(struct acpi_ctx *c, uint32_t off, const char *sig, uint8_t rev)
{
	uint8_t *h = c->t->blob + off;

	if (c->err)
		return NULL;
	memcpy(h, sig, 4);
	h[8] = rev;
	memcpy(h + 10, ACPI_OEM_ID, 6);
	memcpy(h + 16, ACPI_OEM_TBL, 8);
	put32(h + 24, 1);
	memcpy(h + 28, ACPI_CREATOR, 4);
	put32(h + 32, 1);
	return h;
}

static void acpi_table_end(struct acpi_ctx *c, uint32_t off, uint32_t len)
{
	if (c->err)
		return;
	put32(c->t->blob + off + 4, len);
	acpi_cmd_checksum(c, ACPI_FILE_TABLES, off + 9, off, len);
}

/* A Generic Address Structure in system I/O space. */
static void acpi_gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint64_t addr)
{
	p[0] = 1;
	p[1] = bits;
	p[2] = 0;
	p[3] = access;
	put64(p + 4, addr);
}

static void acpi_dsdt_pci(struct aml_buf *b)
{
	aml_open_t dev, res, prt;

	dev = aml_device(b, "PCI0");
	aml_byte(b, 0x08);
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0A03");
	aml_name_int(b, "_ADR", 0);
	aml_name_int(b, "_UID", 0);
	aml_name_int(b, "_BBN", 0);
	aml_name_int(b, "_SEG", 0);
	res = aml_name_resources(b, "_CRS");
	aml_res_word_bus(b, 0, 255);
	aml_res_io(b, PCI_CONFIG_ADDRESS, 1, 8);
	aml_res_word_io(b, 0, PCI_CONFIG_ADDRESS - 1);
	aml_res_word_io(b, 0xd00, 0xffff);
	aml_res_dword_mem(b, 0xa0000, 0xbffff, 1);
	aml_res_dword_mem(b, (uint32_t)PCI_MMIO32_BASE,
			  (uint32_t)(PCI_MMIO32_BASE + PCI_MMIO32_SIZE - 1), 0);
	/* Where a firmware places BARs (pci.h): the bridge forwards both. */
	aml_res_dword_mem(b, (uint32_t)PCI_MMIO32_HI_BASE,
			  (uint32_t)(PCI_MMIO32_HI_BASE + PCI_MMIO32_HI_SIZE - 1), 0);
	aml_close_resources(b, res);
	/* INTA of each slot through the link device of its IOAPIC pin (see
	 * acpi_dsdt_links). */
	aml_byte(b, 0x08);
	aml_name(b, "_PRT");
	prt = aml_package(b, PCI_MAX_SLOTS - 1);
	for (uint32_t s = 1; s < PCI_MAX_SLOTS; s++) {
		aml_open_t e = aml_package(b, 4);
		char link[16];

		snprintf(link, sizeof(link), "\\_SB.LK%02u", PCI_INTX_PIN(s));
		aml_int(b, (uint64_t)s << 16 | 0xffff);
		aml_int(b, 0); /* INTA */
		aml_name(b, link);
		aml_int(b, 0);
		aml_close(b, e);
	}
	aml_close(b, prt);
	aml_close(b, dev);
}

/* One PCI interrupt link device per IOAPIC pin that PCI INTx uses. A _PRT
 * entry naming a GSI directly means level-triggered, active low to the OS,
 * but our INTx are irqfd pulses (edge, active high, as the MP table says):
 * a level-triggered pin would wait for an EOI-time re-check that never
 * comes and lose interrupts. A link device's Extended Interrupt descriptor
 * can say edge and active high; it offers only its own GSI, and _SRS/_DIS
 * have nothing to change (the routing is fixed). */
static void acpi_dsdt_links(struct aml_buf *b)
{
	for (uint32_t pin = PCI_INTX_PIN(1); pin <= PCI_INTX_PIN(8); pin++) {
		char name[16];
		aml_open_t dev, res;

		snprintf(name, sizeof(name), "LK%02u", pin);
		dev = aml_device(b, name);
		aml_byte(b, 0x08);
		aml_name(b, "_HID");
		aml_eisaid(b, "PNP0C0F");
		aml_name_int(b, "_UID", pin);
		aml_method_return_int(b, "_STA", 0x0b); /* present, enabled, functioning */
		res = aml_name_resources(b, "_PRS");
		aml_res_interrupt(b, AML_IRQ_EDGE, pin);
		aml_close_resources(b, res);
		res = aml_name_resources(b, "_CRS");
		aml_res_interrupt(b, AML_IRQ_EDGE, pin);
		aml_close_resources(b, res);
		aml_method_empty(b, "_SRS", 1);
		aml_method_empty(b, "_DIS", 0);
		aml_close(b, dev);
	}
}

static void acpi_dsdt_isa(struct aml_buf *b, const struct acpi_machine *m)
{
	aml_open_t dev, res;

	dev = aml_device(b, "COM1");
	aml_byte(b, 0x08);
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0501");
	aml_name_int(b, "_UID", 1);
	res = aml_name_resources(b, "_CRS");
	aml_res_io(b, 0x3f8, 1, 8);
	aml_res_irq_noflags(b, 4);
	aml_close_resources(b, res);
	aml_close(b, dev);

	/* The CMOS/RTC every VM has (cmos.c); IRQ 8 as on any PC, though
	 * it never fires. */
	dev = aml_device(b, "RTC");
	aml_byte(b, 0x08);
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0B00");
	res = aml_name_resources(b, "_CRS");
	aml_res_io(b, CMOS_PORT_INDEX, 1, 2);
	aml_res_irq_noflags(b, 8);
	aml_close_resources(b, res);
	aml_close(b, dev);

	dev = aml_device(b, "KBD");
	aml_byte(b, 0x08);
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0303");
	res = aml_name_resources(b, "_CRS");
	aml_res_io(b, 0x60, 1, 1);
	aml_res_io(b, 0x64, 1, 1);
	aml_res_irq_noflags(b, 1);
	aml_close_resources(b, res);
	aml_close(b, dev);

	if (!m->ps2_mouse)
		return;
	dev = aml_device(b, "MOU");
	aml_byte(b, 0x08);
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0F13");
	res = aml_name_resources(b, "_CRS");
	aml_res_irq_noflags(b, 12);
	aml_close_resources(b, res);
	aml_close(b, dev);
}

static void acpi_dsdt_mmio(struct aml_buf *b, const struct acpi_machine *m)
{
	for (uint32_t i = 0; i < m->nmmio; i++) {
		const struct acpi_mmio_dev *d = &m->mmio[i];
		char name[16];
		aml_open_t dev, res;

		snprintf(name, sizeof(name), "VR%02u", i);
		dev = aml_device(b, name);
		aml_byte(b, 0x08);
		aml_name(b, "_HID");
		aml_string(b, "LNRO0005");
		aml_name_int(b, "_UID", i);
		res = aml_name_resources(b, "_CRS");
		aml_res_memory32_fixed(b, (uint32_t)d->base, (uint32_t)d->size);
		aml_res_interrupt(b, AML_IRQ_EDGE, d->gsi);
		aml_close_resources(b, res);
		aml_close(b, dev);
	}
}

static void acpi_dsdt_cpus(struct aml_buf *b, const struct acpi_machine *m)
{
	/* Processor devices whose _UID matches the MADT's processor UID. */
	for (uint32_t i = 0; i < m->ncpus; i++) {
		char name[16];
		aml_open_t dev;

		snprintf(name, sizeof(name), "C%03X", i);
		dev = aml_device(b, name);
		aml_byte(b, 0x08);
		aml_name(b, "_HID");
		aml_string(b, "ACPI0007");
		aml_name_int(b, "_UID", i);
		aml_close(b, dev);
	}
}

static uint32_t acpi_build_dsdt(struct acpi_ctx *c, const struct acpi_machine *m)
{
	uint32_t off = c->t->blob_len;
	struct aml_buf b;
	aml_open_t sb, s5;

	if (!acpi_alloc(c, ACPI_HDR_LEN, 1) && c->err)
		return 0;
	acpi_table_begin(c, off, "DSDT", 2); /* revision 2: 64-bit integers */
	aml_init(&b, c->t->blob + c->t->blob_len, ACPI_BLOB_MAX - c->t->blob_len);
	sb = aml_scope(&b, "\\_SB");
	acpi_dsdt_cpus(&b, m);
	acpi_dsdt_links(&b);
	acpi_dsdt_pci(&b);
	acpi_dsdt_isa(&b, m);
	acpi_dsdt_mmio(&b, m);
	aml_close(&b, sb);
	/* Soft off only: SLP_TYP of S5 is what acpi_pm.c powers off on. */
	aml_byte(&b, 0x08);
	aml_name(&b, "\\_S5");
	s5 = aml_package(&b, 4);
	for (int i = 0; i < 4; i++)
		aml_int(&b, ACPI_S5_SLP_TYP);
	aml_close(&b, s5);
	if (b.err) {
		c->err = b.err;
		return 0;
	}
	c->t->blob_len += (uint32_t)b.len;
	acpi_table_end(c, off, ACPI_HDR_LEN + (uint32_t)b.len);
	return off;
}

static uint32_t acpi_build_fadt(struct acpi_ctx *c, uint32_t facs, uint32_t dsdt)
{
	uint32_t off = acpi_alloc(c, FADT_LEN, 8);
	uint8_t *f = acpi_table_begin(c, off, "FACP", FADT_REVISION);

	if (!f)
		return 0;
	put32(f + FADT_FIRMWARE_CTRL, facs);
	put32(f + FADT_DSDT, dsdt);
	put16(f + 46, ACPI_SCI_IRQ);
	/* SMI_CMD 0: no SMM; ACPI is always on (SCI_EN reads 1). */
	put32(f + 56, ACPI_PM_BASE);
	put32(f + 64, ACPI_PM1_CNT);
	put32(f + 76, ACPI_PM_TMR);
	f[88] = 4;	       /* PM1_EVT_LEN: PM1_STS, PM1_EN */
	f[89] = 2;	       /* PM1_CNT_LEN */
	f[91] = 4;	       /* PM_TMR_LEN */
	put16(f + 96, 101);    /* P_LVL2_LAT > 100: no C2 */
	put16(f + 98, 1001);   /* P_LVL3_LAT > 1000: no C3 */
	f[108] = CMOS_CENTURY; /* the RTC's century register */
	put16(f + 109, FADT_LEGACY_DEVICES | FADT_8042);
	put32(f + 112,
	      FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
	acpi_gas_io(f + 116, 8, 1, ACPI_RESET_PORT);
	f[128] = ACPI_RESET_VALUE;
	f[131] = 0; /* FADT minor version */
	put64(f + FADT_X_DSDT, dsdt);
	acpi_gas_io(f + 148, 32, 2, ACPI_PM_BASE);
	acpi_gas_io(f + 172, 16, 2, ACPI_PM1_CNT);
	acpi_gas_io(f + 208, 32, 3, ACPI_PM_TMR);
	memcpy(f + 268, "CELLVM  ", 8); /* hypervisor vendor identity */
	acpi_cmd_pointer(c, ACPI_FILE_TABLES, off + FADT_FIRMWARE_CTRL, 4, ACPI_FILE_TABLES);
	acpi_cmd_pointer(c, ACPI_FILE_TABLES, off + FADT_DSDT, 4, ACPI_FILE_TABLES);
	acpi_cmd_pointer(c, ACPI_FILE_TABLES, off + FADT_X_DSDT, 8, ACPI_FILE_TABLES);
	acpi_table_end(c, off, FADT_LEN);
	return off;
}

static uint32_t acpi_build_madt(struct acpi_ctx *c, const struct acpi_machine *m)
{
	const uint32_t len = ACPI_HDR_LEN + 8 + 8 * m->ncpus + 12 + 10 + 6;
	uint32_t off = acpi_alloc(c, len, 8);
	uint8_t *h = acpi_table_begin(c, off, "APIC", 3);
	uint8_t *p;

	if (!h)
		return 0;
	put32(h + 36, LAPIC_ADDR);
	put32(h + 40, 1); /* PCAT_COMPAT: there are 8259s too */
	p = h + 44;
	for (uint32_t i = 0; i < m->ncpus; i++, p += 8) {
		p[0] = 0; /* processor local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i; /* processor UID */
		p[3] = (uint8_t)i; /* APIC id */
		put32(p + 4, 1);   /* enabled */
	}
	p[0] = 1; /* I/O APIC, id ncpus as in the MP table, GSIs from 0 */
	p[1] = 12;
	p[2] = (uint8_t)m->ncpus;
	put32(p + 4, IOAPIC_ADDR);
	put32(p + 8, 0);
	p += 12;
	/* ISA IRQ n is GSI n (KVM's default routing; the MP table says the
	 * same, IRQ 0 included): the one override is the SCI, level high. */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0; /* ISA */
	p[3] = ACPI_SCI_IRQ;
	put32(p + 4, ACPI_SCI_IRQ);
	put16(p + 8, MADT_LEVEL_HIGH);
	p += 10;
	p[0] = 4; /* local APIC NMI: every processor, LINT1 */
	p[1] = 6;
	p[2] = 0xff;
	put16(p + 3, 0);
	p[5] = 1;
	acpi_table_end(c, off, len);
	return off;
}

static uint32_t acpi_build_mcfg(struct acpi_ctx *c)
{
	const uint32_t len = ACPI_HDR_LEN + 8 + 16;
	uint32_t off = acpi_alloc(c, len, 8);
	uint8_t *h = acpi_table_begin(c, off, "MCFG", 1);

	if (!h)
		return 0;
	put64(h + 44, PCI_ECAM_BASE);
	put16(h + 52, 0); /* segment */
	h[54] = 0;	  /* buses 0-255 */
	h[55] = 255;
	acpi_table_end(c, off, len);
	return off;
}

static uint32_t acpi_build_xsdt(struct acpi_ctx *c, const uint32_t *tables, uint32_t n)
{
	const uint32_t len = ACPI_HDR_LEN + 8 * n;
	uint32_t off = acpi_alloc(c, len, 8);
	uint8_t *h = acpi_table_begin(c, off, "XSDT", 1);

	if (!h)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		put64(h + ACPI_HDR_LEN + 8 * i, tables[i]);
	for (uint32_t i = 0; i < n; i++)
		acpi_cmd_pointer(c, ACPI_FILE_TABLES, off + ACPI_HDR_LEN + 8 * i, 8,
				 ACPI_FILE_TABLES);
	acpi_table_end(c, off, len);
	return off;
}

static void acpi_build_rsdp(struct acpi_ctx *c, uint32_t xsdt)
{
	uint8_t *r = c->t->rsdp;

	memset(r, 0, ACPI_RSDP_LEN);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2; /* ACPI 2.0+: XSDT, no RSDT */
	put32(r + 20, ACPI_RSDP_LEN);
	put64(r + 24, xsdt);
	acpi_cmd_pointer(c, ACPI_FILE_RSDP, 24, 8, ACPI_FILE_TABLES);
	/* The first 20 bytes, then all 36 (which covers the first sum). */
	acpi_cmd_checksum(c, ACPI_FILE_RSDP, 8, 0, 20);
	acpi_cmd_checksum(c, ACPI_FILE_RSDP, 32, 0, ACPI_RSDP_LEN);
}

int acpi_build(const struct acpi_machine *m, struct acpi_tables *out)
{
	struct acpi_ctx c = {.t = out};
	uint32_t tables[3];

	if (m->ncpus == 0 || m->ncpus > ACPI_MAX_CPUS || m->nmmio > ACPI_MAX_MMIO)
		return -EINVAL;
	for (uint32_t i = 0; i < m->nmmio; i++)
		if (m->mmio[i].base > UINT32_MAX - m->mmio[i].size || m->mmio[i].gsi > 23)
			return -EINVAL;
	memset(out, 0, sizeof(*out));
	/* The pointers and checksums are loader commands: the allocations
	 * come first, then each table adds its own as it is written (the
	 * checksums of a table after its pointers). */
	acpi_cmd_alloc(&c, ACPI_FILE_RSDP, 16, ACPI_LOADER_ZONE_FSEG);
	acpi_cmd_alloc(&c, ACPI_FILE_TABLES, 64, ACPI_LOADER_ZONE_HIGH);
	out->off_facs = acpi_alloc(&c, FACS_LEN, 64);
	if (!c.err) {
		memcpy(out->blob + out->off_facs, "FACS", 4);
		put32(out->blob + out->off_facs + 4, FACS_LEN);
		out->blob[out->off_facs + 32] = 2; /* version */
	}
	out->off_dsdt = acpi_build_dsdt(&c, m);
	out->off_fadt = acpi_build_fadt(&c, out->off_facs, out->off_dsdt);
	out->off_madt = acpi_build_madt(&c, m);
	out->off_mcfg = acpi_build_mcfg(&c);
	tables[0] = out->off_fadt;
	tables[1] = out->off_madt;
	tables[2] = out->off_mcfg;
	out->off_xsdt = acpi_build_xsdt(&c, tables, 3);
	acpi_build_rsdp(&c, out->off_xsdt);
	return c.err;
}

/* The loader script, run as a firmware would. */
struct acpi_file {
	const char *name;
	uint8_t *p; /* in guest RAM */
	uint64_t addr;
	uint32_t len;
};

static struct acpi_file *acpi_find(struct acpi_file *f, const uint8_t *name)
{
	for (int i = 0; i < 2; i++)
		if (strncmp((const char *)name, f[i].name, ACPI_LOADER_FILESZ) == 0)
			return &f[i];
	return NULL;
}

static uint8_t acpi_sum(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int acpi_place(struct gmem *mem, const struct acpi_tables *t, uint64_t rsdp_addr,
	       uint64_t tables_addr)
{
	struct acpi_file f[2] = {
		{ACPI_FILE_RSDP, gmem_ptr(mem, rsdp_addr, ACPI_RSDP_LEN), rsdp_addr, ACPI_RSDP_LEN},
		{ACPI_FILE_TABLES, gmem_ptr(mem, tables_addr, t->blob_len), tables_addr,
		 t->blob_len},
	};

	if (!f[0].p || !f[1].p || tables_addr + t->blob_len > UINT32_MAX)
		return -EINVAL;
	memcpy(f[0].p, t->rsdp, ACPI_RSDP_LEN);
	memcpy(f[1].p, t->blob, t->blob_len);
	for (uint32_t at = 0; at + ACPI_LOADER_ENTRY <= t->loader_len; at += ACPI_LOADER_ENTRY) {
		const uint8_t *e = t->loader + at;
		struct acpi_file *a, *b;

		switch (get32(e)) {
		case ACPI_LOADER_ALLOCATE:
			/* Placed by the caller; the alignment must hold. */
			a = acpi_find(f, e + 4);
			if (!a || (a->addr & (get32(e + 4 + ACPI_LOADER_FILESZ) - 1)))
				return -EINVAL;
			break;
		case ACPI_LOADER_ADD_PTR: {
			uint32_t off = get32(e + 4 + 2 * ACPI_LOADER_FILESZ);
			uint8_t size = e[8 + 2 * ACPI_LOADER_FILESZ];
			uint64_t v = 0;

			a = acpi_find(f, e + 4);
			b = acpi_find(f, e + 4 + ACPI_LOADER_FILESZ);
			if (!a || !b || (size != 1 && size != 2 && size != 4 && size != 8) ||
			    off > a->len || size > a->len - off)
				return -EINVAL;
			for (unsigned i = 0; i < size; i++)
				v |= (uint64_t)a->p[off + i] << (8 * i);
			v += b->addr;
			for (unsigned i = 0; i < size; i++)
				a->p[off + i] = (uint8_t)(v >> (8 * i));
			break;
		}
		case ACPI_LOADER_ADD_CSUM: {
			uint32_t csum = get32(e + 4 + ACPI_LOADER_FILESZ);
			uint32_t start = get32(e + 8 + ACPI_LOADER_FILESZ);
			uint32_t len = get32(e + 12 + ACPI_LOADER_FILESZ);

			a = acpi_find(f, e + 4);
			if (!a || csum >= a->len || start > a->len || len > a->len - start)
				return -EINVAL;
			a->p[csum] = (uint8_t)(a->p[csum] - acpi_sum(a->p + start, len));
			break;
		}
		default: return -EINVAL;
		}
	}
	return 0;
}
