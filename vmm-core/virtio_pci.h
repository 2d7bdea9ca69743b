/* virtio-pci (virtio 1.2 section 4.1, modern only) in cellvm-core for a
 * device that lives in its own process. The shared virtio state is struct
 * vdev (virtio_dev.h); this file is the PCI function: vendor capabilities
 * (common, notify, ISR, device, PCI cfg access) in BAR 0, and MSI-X.
 *
 * BAR 0 (32 KiB): common config 0x0000, ISR 0x1000, device config 0x2000,
 * notify 0x3000 (4 bytes per queue), MSI-X table 0x4000, PBA 0x5000.
 *
 * Interrupts never pass through the core: each queue and the configuration
 * change have their own eventfd, a KVM irqfd on a GSI of their own, routed to
 * the MSI message of the vector the driver chose, or to the slot's IOAPIC pin
 * while MSI-X is off. A masked vector has its irqfd detached: the eventfd
 * keeps the interrupt pending (the PBA shows it) and KVM delivers it when
 * the irqfd is attached again at unmask. Queue notifies are KVM ioeventfds
 * on the notify area while the BAR decodes. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "vmm-core/irq_route.h"
#include "vmm-core/pci.h"
#include "vmm-core/virtio_dev.h"

#define VPCI_BAR_SIZE	 0x8000
#define VPCI_COMMON_OFF	 0x0000
#define VPCI_ISR_OFF	 0x1000
#define VPCI_DEVICE_OFF	 0x2000
#define VPCI_NOTIFY_OFF	 0x3000
#define VPCI_MSIX_OFF	 0x4000
#define VPCI_PBA_OFF	 0x5000
#define VPCI_NOTIFY_MULT 4
#define VPCI_MAX_VECTORS (VDEV_MAX_QUEUES + 1)

struct vpci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
};

struct vpci_dev {
	struct vdev v;
	struct pci_func f;
	int vm_fd;
	struct irq_routes *routes;
	uint32_t gsi_base; /* [0] configuration change, [1 + i] queue i */
	uint32_t nvec;	   /* MSI-X table size */
	uint16_t config_msix_vector;
	struct vpci_msix_entry msix[VPCI_MAX_VECTORS];
	bool irqfd_on[1 + VDEV_MAX_QUEUES];
	uint64_t bar_addr; /* where BAR 0 decodes, 0 when it does not */
	bool ioevent_any_len;
	bool msix_reported;	   /* "MSI-X enabled" was reported (once per device) */
	uint8_t msix_cap, cfg_cap; /* capability offsets */
};

/* Attach to a started device over link_fd (ownership taken): create the
 * kick and interrupt eventfds, reserve GSIs, send Attach, build the PCI
 * function from DeviceInfo. Add d->f to the bus afterwards. Returns 0 or
 * -errno. */
int vpci_attach(struct vpci_dev *d, int vm_fd, struct irq_routes *routes, int link_fd);

/* After pci_bus_add(): wire INTx and the firmware-placed BAR. */
int vpci_start(struct vpci_dev *d);

int vpci_on_link(struct vpci_dev *d);
void vpci_destroy(struct vpci_dev *d);
