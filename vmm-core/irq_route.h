/* The VM's KVM GSI routing table. KVM_SET_GSI_ROUTING replaces the whole
 * table, so one owner keeps it: the default IOAPIC/PIC routes of GSIs 0-23
 * (as KVM sets them up with the in-kernel irqchip) plus the routes the
 * transports set, MSI messages for virtio-pci's MSI-X vectors or IOAPIC pins
 * for INTx. Thread-safe: vCPU threads change routes when the guest programs
 * MSI-X. */
#pragma once
#include <pthread.h>
#include <stdint.h>

#define IRQ_ROUTE_FIRST_GSI 24 /* after the IOAPIC's pins */
#define IRQ_ROUTE_MAX_GSI   1024

struct kvm_irq_routing;

struct irq_routes {
	pthread_mutex_t lock;
	int vm_fd;
	uint32_t next_gsi;
	/* Per GSI >= IRQ_ROUTE_FIRST_GSI: 0 none, 1 MSI, 2 IOAPIC pin. */
	uint8_t kind[IRQ_ROUTE_MAX_GSI];
	uint32_t msi_lo[IRQ_ROUTE_MAX_GSI], msi_hi[IRQ_ROUTE_MAX_GSI], msi_data[IRQ_ROUTE_MAX_GSI];
	uint8_t pin[IRQ_ROUTE_MAX_GSI];
	struct kvm_irq_routing *table; /* scratch for the ioctl */
};

int irq_routes_init(struct irq_routes *r, int vm_fd);
void irq_routes_destroy(struct irq_routes *r);
/* Reserve n consecutive GSIs; returns the first or -ENOSPC. */
int irq_routes_alloc(struct irq_routes *r, uint32_t n);

/* Change one GSI's route in the table (commit to make it take effect).
 * These and commit are called with the lock held (irq_routes_lock). */
void irq_routes_set_msi(struct irq_routes *r, uint32_t gsi, uint32_t addr_lo, uint32_t addr_hi,
			uint32_t data);
void irq_routes_set_pin(struct irq_routes *r, uint32_t gsi, uint32_t ioapic_pin);
void irq_routes_clear(struct irq_routes *r, uint32_t gsi);
/* Hand the table to KVM. Returns 0 or -errno. */
int irq_routes_commit(struct irq_routes *r);

void irq_routes_lock(struct irq_routes *r);
void irq_routes_unlock(struct irq_routes *r);
