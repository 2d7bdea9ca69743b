/* PCI bus 0 in cellvm-core: a host bridge, configuration space through the
 * type 1 mechanism (ports 0xCF8/0xCFC) and an ECAM window, and up to 31
 * single-function devices with 32-bit memory BARs placed by the core (as
 * firmware would) in the PCI hole below 4 GiB.
 *
 * Without ACPI, Linux finds the ECAM window by probing the host bridge: ours
 * answers as an Intel 82945G MCH whose PCIEXBAR register (0x48) holds the
 * window, and the window is reserved in the e820 map. INTx of slot s is wired
 * to IOAPIC pin PCI_INTX_PIN(s) and described in the MP table.
 *
 * For a firmware (pci_bus_q35) the bus answers as QEMU's q35 machine does,
 * the chipset OVMF knows: a Q35 MCH (8086:29c0, PCIEXBAR at 0x60) and an
 * ICH9 LPC bridge at 00:1f.0 whose ACPI PM base (0x40) and enable (0x44)
 * read as already set to cellvm's fixed PM block at 0x600. The ECAM window
 * sits at 0xB0000000 either way, where OVMF's build expects it.
 *
 * Every configuration access is guest input: odd sizes, offsets past the
 * end, writes to read-only bits are ignored (reads of nothing give all
 * ones). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_ECAM_BASE	0xb0000000ULL /* 256 MiB: buses 0-255 (only 0 has devices) */
#define PCI_ECAM_SIZE	0x10000000ULL
#define PCI_MMIO32_BASE 0xc0000000ULL /* BARs; virtio-mmio starts at 0xd0000000 */
#define PCI_MMIO32_SIZE 0x10000000ULL
/* A second window the bridge forwards, up to the IOAPIC: firmware (SeaBIOS,
 * OVMF) places BARs itself, top down from there. */
#define PCI_MMIO32_HI_BASE 0xf0000000ULL
#define PCI_MMIO32_HI_SIZE 0x0ec00000ULL
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA	   0xcfc

#define PCI_MAX_SLOTS 32
#define PCI_LPC_SLOT  31  /* the ICH9 LPC bridge of pci_bus_q35 */
#define PCI_CFG_SIZE  256 /* the extended space (ECAM 256..4095) reads as zero */
#define PCI_NUM_BARS  6

/* IOAPIC pin of slot s's INTA (pins 16-23 are free of ISA interrupts). */
#define PCI_INTX_PIN(s) (16U + ((unsigned)(s)-1U) % 8U)

/* Whether [addr, addr + size) lies inside one of the windows the host
 * bridge forwards to BARs. */
static inline bool pci_window_contains(uint64_t addr, uint64_t size)
{
	return (addr >= PCI_MMIO32_BASE && size <= PCI_MMIO32_SIZE &&
		addr - PCI_MMIO32_BASE <= PCI_MMIO32_SIZE - size) ||
	       (addr >= PCI_MMIO32_HI_BASE && size <= PCI_MMIO32_HI_SIZE &&
		addr - PCI_MMIO32_HI_BASE <= PCI_MMIO32_HI_SIZE - size);
}

/* Standard header offsets used here. */
#define PCI_VENDOR_ID	   0x00
#define PCI_COMMAND	   0x04
#define PCI_STATUS	   0x06
#define PCI_BAR0	   0x10
#define PCI_CAP_PTR	   0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_COMMAND_MEMORY	 0x2
#define PCI_COMMAND_MASTER	 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST	 0x10

struct pci_func;

struct pci_func_ops {
	/* A guest access to [off, off + len) of a mapped BAR (len 1..8). */
	void (*bar_access)(struct pci_func *f, int bar, uint64_t off, uint8_t *data, uint32_t len,
			   bool is_write);
	/* BAR bar now decodes at addr (0: no longer decoded). May be NULL. */
	void (*bar_mapped)(struct pci_func *f, int bar, uint64_t addr);
	/* After a write to [off, off + len) of configuration space (already
	 * applied through the write masks). May be NULL. */
	void (*config_written)(struct pci_func *f, uint32_t off, uint32_t len);
	/* Before a read of [off, off + len): refresh dynamic fields. May be NULL. */
	void (*config_read)(struct pci_func *f, uint32_t off, uint32_t len);
};

struct pci_func {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may write */
	uint8_t w1c[PCI_CFG_SIZE];   /* bits a 1 clears (status) */
	uint64_t bar_size[PCI_NUM_BARS];
	uint64_t bar_addr[PCI_NUM_BARS]; /* where it decodes now, 0 when it does not */
	uint16_t cap_end;		 /* next free byte for a capability */
	uint8_t last_cap;		 /* offset of the last capability, 0 if none */
	uint8_t slot;
	const struct pci_func_ops *ops;
	void *priv;
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t config_address; /* 0xCF8 */
	struct pci_func host;	 /* 00:00.0 */
	struct pci_func *slot[PCI_MAX_SLOTS];
	struct pci_func lpc; /* 00:1f.0 after pci_bus_q35 */
	uint64_t mmio_next;  /* next free BAR address */
};

/* A function with these ids and class (class << 8 | prog-if, 24 bits). */
void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device, uint32_t class_code,
		   uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id,
		   const struct pci_func_ops *ops, void *priv);
/* A 32-bit non-prefetchable memory BAR of size bytes (a power of two, at
 * least 4 KiB). Returns 0 or -EINVAL. */
int pci_func_add_bar(struct pci_func *f, int bar, uint64_t size);
/* Append a capability (id, then len - 2 bytes of body) to the list;
 * returns its offset or -ENOSPC. */
int pci_func_add_cap(struct pci_func *f, uint8_t id, const void *body, uint8_t len);
/* An MSI-X capability of nvec vectors, table and PBA in BAR 0 at table_off
 * and pba_off; the enable and mask bits writable. Returns its offset or
 * -ENOSPC. */
int pci_func_add_msix(struct pci_func *f, uint16_t nvec, uint32_t table_off, uint32_t pba_off);

void pci_bus_init(struct pci_bus *b);
/* Answer as QEMU's q35 machine (see above): before any pci_bus_add. */
void pci_bus_q35(struct pci_bus *b);
void pci_bus_destroy(struct pci_bus *b);
/* Put f in the next free slot (1..31) and place its BARs. Returns the slot or
 * -ENOSPC. */
int pci_bus_add(struct pci_bus *b, struct pci_func *f);

/* Port I/O on 0xCF8..0xCFF: returns false when port is not ours. */
bool pci_pio(struct pci_bus *b, uint16_t port, uint8_t *data, uint32_t size, bool is_write);
/* MMIO: the ECAM window and the BARs. Returns false when addr is not ours. */
bool pci_mmio(struct pci_bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
/* One configuration access (bus 0, devfn, register off); reads of functions
 * that do not exist give all ones. Lock not held. */
void pci_config_access(struct pci_bus *b, uint32_t bus, uint32_t devfn, uint32_t off, uint8_t *data,
		       uint32_t len, bool is_write);

/* Little-endian helpers for config-space images. */
static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void pci_put32(uint8_t *p, uint32_t v)
{
	pci_put16(p, (uint16_t)v);
	pci_put16(p + 2, (uint16_t)(v >> 16));
}
static inline uint16_t pci_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t pci_get32(const uint8_t *p)
{
	return pci_get16(p) | (uint32_t)pci_get16(p + 2) << 16;
}
