/* The VM's GSI routing table; see irq_route.h. */
#include "vmm-core/irq_route.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define IRQ_ROUTE_ENTRIES (24 + 16 + IRQ_ROUTE_MAX_GSI)

enum { ROUTE_NONE, ROUTE_MSI, ROUTE_PIN };

int irq_routes_init(struct irq_routes *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = vm_fd;
	r->next_gsi = IRQ_ROUTE_FIRST_GSI;
	r->table = calloc(1, sizeof(*r->table) +
				     IRQ_ROUTE_ENTRIES * sizeof(struct kvm_irq_routing_entry));
	return r->table ? 0 : -ENOMEM;
}

void irq_routes_destroy(struct irq_routes *r)
{
	free(r->table);
	r->table = NULL;
	pthread_mutex_destroy(&r->lock);
}

int irq_routes_alloc(struct irq_routes *r, uint32_t n)
{
	int first = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (n <= IRQ_ROUTE_MAX_GSI - r->next_gsi) {
		first = (int)r->next_gsi;
		r->next_gsi += n;
	}
	pthread_mutex_unlock(&r->lock);
	return first;
}

void irq_routes_lock(struct irq_routes *r)
{
	pthread_mutex_lock(&r->lock);
}

void irq_routes_unlock(struct irq_routes *r)
{
	pthread_mutex_unlock(&r->lock);
}

void irq_routes_set_msi(struct irq_routes *r, uint32_t gsi, uint32_t addr_lo, uint32_t addr_hi,
			uint32_t data)
{
	if (gsi < IRQ_ROUTE_FIRST_GSI || gsi >= IRQ_ROUTE_MAX_GSI)
		return;
	r->kind[gsi] = ROUTE_MSI;
	r->msi_lo[gsi] = addr_lo;
	r->msi_hi[gsi] = addr_hi;
	r->msi_data[gsi] = data;
}

void irq_routes_set_pin(struct irq_routes *r, uint32_t gsi, uint32_t ioapic_pin)
{
	if (gsi < IRQ_ROUTE_FIRST_GSI || gsi >= IRQ_ROUTE_MAX_GSI || ioapic_pin >= 24)
		return;
	r->kind[gsi] = ROUTE_PIN;
	r->pin[gsi] = (uint8_t)ioapic_pin;
}

void irq_routes_clear(struct irq_routes *r, uint32_t gsi)
{
	if (gsi >= IRQ_ROUTE_FIRST_GSI && gsi < IRQ_ROUTE_MAX_GSI)
		r->kind[gsi] = ROUTE_NONE;
}

static void irq_routes_add_chip(struct kvm_irq_routing *t, uint32_t gsi, uint32_t chip,
				uint32_t pin)
{
	struct kvm_irq_routing_entry *e = &t->entries[t->nr++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

int irq_routes_commit(struct irq_routes *r)
{
	struct kvm_irq_routing *t = r->table;

	t->nr = 0;
	t->flags = 0;
	/* KVM's defaults with an in-kernel irqchip: GSIs 0-15 on the PICs and
	 * the IOAPIC, 16-23 on the IOAPIC only. */
	for (uint32_t i = 0; i < 24; i++) {
		if (i < 16)
			irq_routes_add_chip(t, i,
					    i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					    i % 8);
		irq_routes_add_chip(t, i, KVM_IRQCHIP_IOAPIC, i);
	}
	for (uint32_t g = IRQ_ROUTE_FIRST_GSI; g < r->next_gsi; g++) {
		struct kvm_irq_routing_entry *e;
		if (r->kind[g] == ROUTE_PIN) {
			irq_routes_add_chip(t, g, KVM_IRQCHIP_IOAPIC, r->pin[g]);
		} else if (r->kind[g] == ROUTE_MSI) {
			e = &t->entries[t->nr++];
			memset(e, 0, sizeof(*e));
			e->gsi = g;
			e->type = KVM_IRQ_ROUTING_MSI;
			e->u.msi.address_lo = r->msi_lo[g];
			e->u.msi.address_hi = r->msi_hi[g];
			e->u.msi.data = r->msi_data[g];
		}
	}
	return ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
}
