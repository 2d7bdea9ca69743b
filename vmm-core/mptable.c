/* MP table writer; see mptable.h. Layout and checksums follow the MP spec 1.4. */
#include "vmm-core/mptable.h"
#include "vmm-core/e820.h"
#include "vmm-core/pci.h"

#include <errno.h>
#include <string.h>

struct mpf {
	char sig[4];
	uint32_t physptr;
	uint8_t length, spec_rev, checksum, feature[5];
} __attribute__((packed));

struct mpc_header {
	char sig[4];
	uint16_t length;
	uint8_t spec_rev, checksum;
	char oem[8], product[12];
	uint32_t oem_ptr;
	uint16_t oem_size, count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features, reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, id, ver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mpc_int {
	uint8_t type, irq_type;
	uint16_t flags;
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));

enum { MP_CPU, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define ISA_IRQS 16
/* Interrupt entry flags: polarity active high (01), trigger edge (01 << 2). */
#define MP_IRQ_EDGE_HIGH 0x5

static uint8_t mp_checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return (uint8_t)(0x100 - s);
}

int mptable_write(struct gmem *mem, uint32_t ncpus, uint32_t pci_slots)
{
	const uint32_t npci = (uint32_t)__builtin_popcount(pci_slots & ~1U);
	const size_t size = sizeof(struct mpf) + sizeof(struct mpc_header) +
			    ncpus * sizeof(struct mpc_cpu) + 2 * sizeof(struct mpc_bus) +
			    sizeof(struct mpc_ioapic) +
			    (ISA_IRQS + npci + 2) * sizeof(struct mpc_int);
	const uint8_t ioapic_id = (uint8_t)ncpus;
	uint8_t *base, *p;
	struct mpf *mpf;
	struct mpc_header *hdr;
	uint16_t count = 0;

	/* The floating pointer must be in the EBDA's first KiB; the table may run
	 * on into the rest of the reserved area below 1 MiB (over 40 CPUs it does). */
	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS || size > BOOT_HIMEM - BOOT_EBDA_START)
		return -EINVAL;
	base = gmem_ptr(mem, BOOT_EBDA_START, size);
	if (!base)
		return -EINVAL;
	memset(base, 0, size);
	mpf = (struct mpf *)base;
	hdr = (struct mpc_header *)(base + sizeof(*mpf));
	p = (uint8_t *)(hdr + 1);

	for (uint32_t i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {.type = MP_CPU,
				    .apic_id = (uint8_t)i,
				    .apic_ver = 0x14,
				    .flags = 1 | (i == 0 ? 2 : 0), /* enabled, BSP */
				    .signature = 0x600,
				    .features = 0x201}; /* FPU, APIC */
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
		count++;
	}
	{
		struct mpc_bus pci = {.type = MP_BUS,
				      .id = MPTABLE_BUS_PCI,
				      .name = {'P', 'C', 'I', ' ', ' ', ' '}};
		struct mpc_bus isa = {.type = MP_BUS,
				      .id = MPTABLE_BUS_ISA,
				      .name = {'I', 'S', 'A', ' ', ' ', ' '}};
		memcpy(p, &pci, sizeof(pci));
		p += sizeof(pci);
		memcpy(p, &isa, sizeof(isa));
		p += sizeof(isa);
		count += 2;
	}
	{
		struct mpc_ioapic io = {.type = MP_IOAPIC,
					.id = ioapic_id,
					.ver = 0x11,
					.flags = 1,
					.addr = IOAPIC_ADDR};
		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
		count++;
	}
	/* ISA IRQ n on IOAPIC pin n: KVM's default GSI routing. */
	for (uint8_t irq = 0; irq < ISA_IRQS; irq++) {
		struct mpc_int in = {.type = MP_INTSRC,
				     .irq_type = MP_INT,
				     .src_bus = MPTABLE_BUS_ISA,
				     .src_irq = irq,
				     .dst_apic = ioapic_id,
				     .dst_pin = irq};
		memcpy(p, &in, sizeof(in));
		p += sizeof(in);
		count++;
	}
	/* PCI INTA of each slot: source irq is slot << 2 | pin (0 = INTA). */
	for (uint32_t s = 1; s < PCI_MAX_SLOTS; s++) {
		struct mpc_int in = {.type = MP_INTSRC,
				     .irq_type = MP_INT,
				     .flags = MP_IRQ_EDGE_HIGH,
				     .src_bus = MPTABLE_BUS_PCI,
				     .src_irq = (uint8_t)(s << 2),
				     .dst_apic = ioapic_id,
				     .dst_pin = (uint8_t)PCI_INTX_PIN(s)};
		if (!(pci_slots & (1U << s)))
			continue;
		memcpy(p, &in, sizeof(in));
		p += sizeof(in);
		count++;
	}
	{
		struct mpc_int l0 = {
			.type = MP_LINTSRC, .irq_type = MP_EXTINT, .dst_apic = 0xff, .dst_pin = 0};
		struct mpc_int l1 = {
			.type = MP_LINTSRC, .irq_type = MP_NMI, .dst_apic = 0xff, .dst_pin = 1};
		memcpy(p, &l0, sizeof(l0));
		p += sizeof(l0);
		memcpy(p, &l1, sizeof(l1));
		p += sizeof(l1);
		count += 2;
	}

	memcpy(hdr->sig, "PCMP", 4);
	hdr->length = (uint16_t)(p - (uint8_t *)hdr);
	hdr->spec_rev = 4;
	memcpy(hdr->oem, "CELLVM  ", 8);
	memcpy(hdr->product, "CELLVM-CORE ", 12);
	hdr->count = count;
	hdr->lapic = LAPIC_ADDR;
	hdr->checksum = mp_checksum((uint8_t *)hdr, hdr->length);

	memcpy(mpf->sig, "_MP_", 4);
	mpf->physptr = (uint32_t)(BOOT_EBDA_START + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec_rev = 4;
	mpf->checksum = mp_checksum((uint8_t *)mpf, sizeof(*mpf));
	return 0;
}
