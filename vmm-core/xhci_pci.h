/* The xHCI controller's PCI function in cellvm-core, for a VM whose input
 * device process models the controller (dev-procs/input/xhci.c): the
 * configuration space, BAR 0 (64 KiB) and MSI-X live here; every access to
 * the controller's registers (BAR 0 below XHCI_PCI_MSIX_OFF) is forwarded
 * over the "xhci" link and the vCPU waits for the answer, as for the PS/2
 * ports (ps2_link.h). The controller's one interrupt is an eventfd the input
 * process writes: a KVM irqfd routed to MSI-X vector 0, or to the slot's
 * INTx pin while MSI-X is off. Runs in cellvm-core's vCPU threads; the
 * link's answers are untrusted (the input process). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/dispatch.h"
#include "vmm-core/irq_route.h"
#include "vmm-core/pci.h"

#define XHCI_PCI_BAR_SIZE 0x10000
#define XHCI_PCI_MSIX_OFF 0x3000 /* the table: one vector */
#define XHCI_PCI_PBA_OFF  0x3800
/* How long a vCPU waits for one answer; silence ends the forwarding (the
 * registers then read as all ones, as a controller that fell off the bus). */
#define XHCI_PCI_TIMEOUT_MS 2000

struct xhci_pci {
	struct pci_func f;
	pthread_mutex_t lock; /* one access at a time; the MSI-X state */
	int vm_fd;
	struct irq_routes *routes;
	uint32_t gsi;
	int fd;	    /* the link, or -1 */
	int irq_fd; /* the controller's interrupt eventfd */
	bool irqfd_on;
	uint32_t msix[4]; /* addr_lo, addr_hi, data, ctrl (bit 0: masked) */
	uint8_t msix_cap;
	bool dead; /* the input process failed: no more forwarding */
	bool answered;
	uint64_t value;
	struct dispatch proto;
};

bool xhci_pci_present(const struct xhci_pci *x);
/* Take link_fd: make the interrupt eventfd, reserve its GSI, send
 * XhciAttach, build the function. Add x->f to the bus afterwards, then call
 * xhci_pci_start. Returns 0 or -errno. */
int xhci_pci_attach(struct xhci_pci *x, int vm_fd, struct irq_routes *routes, int link_fd);
int xhci_pci_start(struct xhci_pci *x);
void xhci_pci_init(struct xhci_pci *x);
void xhci_pci_destroy(struct xhci_pci *x);
