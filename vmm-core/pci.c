/* PCI bus 0 with a host bridge, type 1 and ECAM configuration access and
 * 32-bit memory BARs; see pci.h. */
#include "vmm-core/pci.h"
#include "vmm-core/acpi.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#define PCI_HEADER_TYPE 0x0e
#define PCI_CLASS_REV	0x08
#define PCI_SUBSYS_VID	0x2c
#define PCI_SUBSYS_ID	0x2e

/* The host bridge answers as an Intel 82945G memory controller hub, one of
 * the bridges Linux probes for an MMCONFIG (ECAM) window when there is no
 * ACPI MCFG table: PCIEXBAR at 0x48, bit 0 enable, bits 2:1 = 0 for 256
 * buses. */
#define HOST_VENDOR_INTEL     0x8086
#define HOST_DEVICE_82945G    0x2770
#define HOST_PCIEXBAR	      0x48
#define HOST_SUBSYS_VENDOR    0x1af4
#define HOST_SUBSYS_ID	      0x1100
#define PCI_CLASS_HOST_BRIDGE 0x060000

/* pci_bus_q35: QEMU's q35 chipset as OVMF looks for it. The MCH's PCIEXBAR
 * (0x60, bit 0 enable, bits 2:1 = 0 for 256 buses) and the LPC bridge's
 * PM registers read as set up already: OVMF then leaves them alone (and a
 * write could not move the window or the PM block anyway). */
#define HOST_DEVICE_Q35	     0x29c0
#define Q35_PCIEXBAR	     0x60
#define LPC_DEVICE_ICH9	     0x2918
#define PCI_CLASS_ISA_BRIDGE 0x060100
#define LPC_PMBASE	     0x40 /* bit 0 reads 1: an I/O range */
#define LPC_ACPI_CNTL	     0x44 /* bit 7 ACPI_EN; bits 2:0 = 0: the SCI is IRQ 9 */
_Static_assert(ACPI_SCI_IRQ == 9, "ACPI_CNTL's SCI_IRQ_SEL 0 means IRQ 9");
#define LPC_ACPI_EN    0x80
#define LPC_PIRQA_ROUT 0x60 /* PIRQ A-D routing, 0x68: E-H (ignored: ACPI's _PRT rules) */
#define LPC_PIRQE_ROUT 0x68
#define LPC_RCBA       0xf0 /* bits 31:14 base, bit 0 enable; nothing decodes there */

void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device, uint32_t class_code,
		   uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id,
		   const struct pci_func_ops *ops, void *priv)
{
	memset(f, 0, sizeof(*f));
	pci_put16(f->cfg + PCI_VENDOR_ID, vendor);
	pci_put16(f->cfg + PCI_VENDOR_ID + 2, device);
	pci_put32(f->cfg + PCI_CLASS_REV, class_code << 8 | revision);
	pci_put16(f->cfg + PCI_SUBSYS_VID, subsys_vendor);
	pci_put16(f->cfg + PCI_SUBSYS_ID, subsys_id);
	f->cfg[PCI_HEADER_TYPE] = 0;
	/* Command: memory space, bus master, INTx disable are the guest's. */
	pci_put16(f->wmask + PCI_COMMAND,
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	/* Status: the error bits are write-1-to-clear (none is ever set here). */
	pci_put16(f->w1c + PCI_STATUS, 0xf900);
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->cap_end = 0x40;
	f->ops = ops;
	f->priv = priv;
}

int pci_func_add_bar(struct pci_func *f, int bar, uint64_t size)
{
	if (bar < 0 || bar >= PCI_NUM_BARS || size < 4096 || size > PCI_MMIO32_SIZE ||
	    (size & (size - 1)))
		return -EINVAL;
	f->bar_size[bar] = size;
	/* 32-bit memory, not prefetchable: the low four bits read as zero. */
	pci_put32(f->wmask + PCI_BAR0 + 4 * bar, (uint32_t) ~(size - 1) & 0xfffffff0U);
	return 0;
}

int pci_func_add_cap(struct pci_func *f, uint8_t id, const void *body, uint8_t len)
{
	uint16_t off = f->cap_end;

	if (len < 2 || (unsigned)off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	f->cfg[off] = id;
	f->cfg[off + 1] = 0;
	memcpy(f->cfg + off + 2, (const uint8_t *)body, len - 2U);
	if (f->last_cap)
		f->cfg[f->last_cap + 1] = (uint8_t)off;
	else
		f->cfg[PCI_CAP_PTR] = (uint8_t)off;
	pci_put16(f->cfg + PCI_STATUS, pci_get16(f->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	f->last_cap = (uint8_t)off;
	f->cap_end = (uint16_t)((off + len + 3U) & ~3U);
	return off;
}

int pci_func_add_msix(struct pci_func *f, uint16_t nvec, uint32_t table_off, uint32_t pba_off)
{
	uint8_t msix[PCI_CAP_MSIX_SIZEOF] = {0}; /* from Message Control on */
	int r;

	pci_put16(msix, (uint16_t)(nvec - 1));
	pci_put32(msix + PCI_MSIX_TABLE - PCI_MSIX_FLAGS, table_off);
	pci_put32(msix + PCI_MSIX_PBA - PCI_MSIX_FLAGS, pba_off);
	r = pci_func_add_cap(f, PCI_CAP_ID_MSIX, msix, PCI_CAP_MSIX_SIZEOF);
	if (r < 0)
		return r;
	/* Message Control's high byte: enable and function mask. */
	f->wmask[r + PCI_MSIX_FLAGS + 1] = (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
	return r;
}

void pci_bus_init(struct pci_bus *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	/* Subsystem 1af4:1100 ("QEMU virtual machine"): SeaBIOS looks for it on
	 * 00:00.0 before it uses fw_cfg at all. */
	pci_func_init(&b->host, HOST_VENDOR_INTEL, HOST_DEVICE_82945G, PCI_CLASS_HOST_BRIDGE, 0,
		      HOST_SUBSYS_VENDOR, HOST_SUBSYS_ID, NULL, NULL);
	/* The bridge decodes memory and cannot be turned off. */
	pci_put16(b->host.cfg + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci_put16(b->host.wmask + PCI_COMMAND, 0);
	b->host.wmask[PCI_INTERRUPT_LINE] = 0;
	pci_put32(b->host.cfg + HOST_PCIEXBAR, (uint32_t)PCI_ECAM_BASE | 1U);
	b->mmio_next = PCI_MMIO32_BASE;
}

void pci_bus_q35(struct pci_bus *b)
{
	pci_put16(b->host.cfg + PCI_VENDOR_ID + 2, HOST_DEVICE_Q35);
	pci_put32(b->host.cfg + HOST_PCIEXBAR, 0);
	pci_put32(b->host.cfg + Q35_PCIEXBAR, (uint32_t)PCI_ECAM_BASE | 1U);

	pci_func_init(&b->lpc, HOST_VENDOR_INTEL, LPC_DEVICE_ICH9, PCI_CLASS_ISA_BRIDGE, 2,
		      HOST_SUBSYS_VENDOR, HOST_SUBSYS_ID, NULL, NULL);
	/* I/O decoding is on and stays on, as the PM block does. */
	pci_put16(b->lpc.cfg + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	pci_put16(b->lpc.wmask + PCI_COMMAND, 0);
	b->lpc.wmask[PCI_INTERRUPT_LINE] = 0;
	pci_put32(b->lpc.cfg + LPC_PMBASE, ACPI_PM_BASE | 1U);
	b->lpc.cfg[LPC_ACPI_CNTL] = LPC_ACPI_EN;
	for (int i = 0; i < 4; i++) {
		/* Bit 7: the PIRQ is not routed to an ISA IRQ (the reset value). */
		b->lpc.cfg[LPC_PIRQA_ROUT + i] = b->lpc.cfg[LPC_PIRQE_ROUT + i] = 0x80;
		b->lpc.wmask[LPC_PIRQA_ROUT + i] = b->lpc.wmask[LPC_PIRQE_ROUT + i] = 0x8f;
	}
	pci_put32(b->lpc.wmask + LPC_RCBA, 0xffffc001U);
	b->lpc.slot = PCI_LPC_SLOT;
	b->slot[PCI_LPC_SLOT] = &b->lpc;
}

void pci_bus_destroy(struct pci_bus *b)
{
	pthread_mutex_destroy(&b->lock);
}

int pci_bus_add(struct pci_bus *b, struct pci_func *f)
{
	int slot = -1;

	for (int s = 1; s < PCI_MAX_SLOTS; s++) {
		if (!b->slot[s]) {
			slot = s;
			break;
		}
	}
	if (slot < 0)
		return -ENOSPC;
	/* Place the BARs as firmware would: each aligned to its size; all of
	 * them or none. */
	uint64_t next = b->mmio_next, addr[PCI_NUM_BARS] = {0};
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t size = f->bar_size[i];
		if (!size)
			continue;
		addr[i] = (next + size - 1) & ~(size - 1);
		if (addr[i] + size > PCI_MMIO32_BASE + PCI_MMIO32_SIZE)
			return -ENOSPC;
		next = addr[i] + size;
	}
	for (int i = 0; i < PCI_NUM_BARS; i++)
		if (f->bar_size[i])
			pci_put32(f->cfg + PCI_BAR0 + 4 * i, (uint32_t)addr[i]);
	b->mmio_next = next;
	f->slot = (uint8_t)slot;
	f->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA */
	f->cfg[PCI_INTERRUPT_LINE] = (uint8_t)PCI_INTX_PIN(slot);
	b->slot[slot] = f;
	return slot;
}

/* Decode each BAR only while memory decoding is on and the BAR lies inside
 * the window the host bridge forwards; tell the function when that changes.
 * Bus lock held. */
static void pci_update_bars(struct pci_func *f)
{
	bool mem = pci_get16(f->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY;

	for (int i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t size = f->bar_size[i];
		uint64_t addr = pci_get32(f->cfg + PCI_BAR0 + 4 * i) & ~(size - 1) & 0xfffffff0U;
		if (!size)
			continue;
		if (!mem || !pci_window_contains(addr, size))
			addr = 0;
		if (addr == f->bar_addr[i])
			continue;
		f->bar_addr[i] = addr;
		if (f->ops && f->ops->bar_mapped)
			f->ops->bar_mapped(f, i, addr);
	}
}

static struct pci_func *pci_lookup(struct pci_bus *b, uint32_t bus, uint32_t devfn)
{
	if (bus != 0 || (devfn & 7) != 0 || (devfn >> 3) >= PCI_MAX_SLOTS)
		return NULL;
	return devfn == 0 ? &b->host : b->slot[devfn >> 3];
}

void pci_config_access(struct pci_bus *b, uint32_t bus, uint32_t devfn, uint32_t off, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct pci_func *f;

	/* UNTRUSTED(guest): bus, devfn, offset and size as the guest chose. */
	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1))) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	f = pci_lookup(b, bus, devfn);
	if (!f) {
		if (!is_write)
			memset(data, 0xff, len);
	} else if (off >= PCI_CFG_SIZE) {
		if (!is_write)
			memset(data, 0, len);
	} else if (!is_write) {
		if (f->ops && f->ops->config_read)
			f->ops->config_read(f, off, len);
		memcpy(data, f->cfg + off, len);
	} else {
		for (uint32_t i = 0; i < len; i++) {
			uint8_t *c = &f->cfg[off + i];
			*c = (uint8_t)((*c & ~f->wmask[off + i]) | (data[i] & f->wmask[off + i]));
			*c &= (uint8_t) ~(data[i] & f->w1c[off + i]);
		}
		if (off < PCI_BAR0 + 4 * PCI_NUM_BARS && off + len > PCI_COMMAND)
			pci_update_bars(f);
		if (f->ops && f->ops->config_written)
			f->ops->config_written(f, off, len);
	}
	pthread_mutex_unlock(&b->lock);
}

bool pci_pio(struct pci_bus *b, uint16_t port, uint8_t *data, uint32_t size, bool is_write)
{
	uint32_t ca;

	if (port >= PCI_CONFIG_ADDRESS && port < PCI_CONFIG_DATA) {
		/* CONFIG_ADDRESS latches only as a whole dword; the byte access
		 * at 0xCFB of Linux's type 1 probe is ignored. */
		if (port == PCI_CONFIG_ADDRESS && size == 4) {
			pthread_mutex_lock(&b->lock);
			if (is_write) {
				memcpy(&ca, data, 4);
				b->config_address = ca & 0x80fffffcU;
			} else {
				memcpy(data, &b->config_address, 4);
			}
			pthread_mutex_unlock(&b->lock);
		} else if (!is_write) {
			memset(data, 0xff, size);
		}
		return true;
	}
	if (port < PCI_CONFIG_DATA || port >= PCI_CONFIG_DATA + 4)
		return false;
	pthread_mutex_lock(&b->lock);
	ca = b->config_address;
	pthread_mutex_unlock(&b->lock);
	if (!(ca & 0x80000000U) || (port - PCI_CONFIG_DATA) + size > 4) {
		if (!is_write)
			memset(data, 0xff, size);
		return true;
	}
	pci_config_access(b, (ca >> 16) & 0xff, (ca >> 8) & 0xff,
			  (ca & 0xfc) + (uint32_t)(port - PCI_CONFIG_DATA), data, size, is_write);
	return true;
}

bool pci_mmio(struct pci_bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_func *hit = NULL;
	uint64_t off = 0;
	int bar = -1;

	if (addr >= PCI_ECAM_BASE && addr < PCI_ECAM_BASE + PCI_ECAM_SIZE) {
		uint64_t e = addr - PCI_ECAM_BASE;
		pci_config_access(b, (uint32_t)(e >> 20), (uint32_t)(e >> 12) & 0xff,
				  (uint32_t)e & 0xfff, data, len, is_write);
		return true;
	}
	if (!pci_window_contains(addr, 1))
		return false;
	pthread_mutex_lock(&b->lock);
	for (int s = 1; s < PCI_MAX_SLOTS && !hit; s++) {
		struct pci_func *f = b->slot[s];
		for (int i = 0; f && i < PCI_NUM_BARS; i++) {
			if (f->bar_addr[i] && addr >= f->bar_addr[i] &&
			    addr + len <= f->bar_addr[i] + f->bar_size[i]) {
				hit = f;
				bar = i;
				off = addr - f->bar_addr[i];
				break;
			}
		}
	}
	pthread_mutex_unlock(&b->lock);
	if (hit && hit->ops && hit->ops->bar_access) {
		hit->ops->bar_access(hit, bar, off, data, len, is_write);
		return true;
	}
	/* Inside the window but no BAR there: reads float high. */
	if (!is_write)
		memset(data, 0xff, len);
	return true;
}
