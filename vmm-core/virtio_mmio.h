/* virtio-mmio transport (virtio 1.2 section 4.2, version 2 register layout) in
 * cellvm-core for a device that lives in its own process. The shared virtio
 * state is struct vdev (virtio_dev.h); this file decodes the registers and
 * owns the KVM ioeventfds on QueueNotify (one per queue, by datamatch) and
 * the irqfd. The guest reads and acknowledges InterruptStatus through MMIO
 * exits served from the page the device shares. Register accesses are guest
 * input. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm-core/virtio_dev.h"

#define VMMIO_BASE	 0xd0000000ULL
#define VMMIO_SIZE	 0x1000ULL
#define VMMIO_MAX_DEVS	 8
#define VMMIO_MAX_QUEUES VDEV_MAX_QUEUES

struct vmmio_dev {
	struct vdev v;
	uint64_t base;
	uint32_t gsi;
};

/* Attach to a started device over link_fd: create and register the kick
 * ioeventfds and the irqfd, the shared page, send Attach, wait for DeviceInfo.
 * Takes ownership of link_fd. Returns 0 or -errno. */
int vmmio_attach(struct vmmio_dev *d, int vm_fd, int link_fd, uint64_t base, uint32_t gsi);

/* After a successful attach: drop the kick eventfds beyond the device's
 * queue count. */
int vmmio_attach_finish(struct vmmio_dev *d, int vm_fd);

/* A guest access to [base, base + VMMIO_SIZE). */
void vmmio_access(struct vmmio_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* The main thread calls this when the link is readable (vdev_on_link). */
int vmmio_on_link(struct vmmio_dev *d);

/* "virtio_mmio.device=4K@0x...:N" for the kernel command line. */
int vmmio_cmdline(const struct vmmio_dev *d, char *buf, size_t len);

void vmmio_destroy(struct vmmio_dev *d);
