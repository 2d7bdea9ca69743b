/* virtio-mmio transport (virtio 1.2 section 4.2, version 2 register layout) in
 * cellvm-core for a device that lives in its own process. The core keeps the
 * transport registers; the device process gets the queues' kick eventfds (KVM
 * ioeventfds on QueueNotify), the interrupt eventfd (KVM irqfd) and a shared
 * page with the interrupt status, so I/O never passes through the core.
 * Register accesses are guest input; link messages are device input. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/common/devproc.h"

#define VMMIO_BASE	 0xd0000000ULL
#define VMMIO_SIZE	 0x1000ULL
#define VMMIO_MAX_DEVS	 8
#define VMMIO_MAX_QUEUES DEVPROC_MAX_QUEUES

struct vmmio_queue {
	uint32_t num;
	bool ready;
	uint64_t desc, avail, used;
	int kick_fd;
};

struct vmmio_dev {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t base;
	uint32_t gsi;
	int link_fd; /* core<->device link */
	int irq_fd;  /* KVM irqfd */
	struct devproc_shared *shared;
	/* from the device's DeviceInfo */
	uint32_t device_id;
	uint64_t device_features;
	uint8_t config[DEVPROC_CONFIG_MAX];
	uint32_t config_len;
	uint32_t num_queues, queue_max;
	/* transport registers */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t config_generation;
	struct vmmio_queue q[VMMIO_MAX_QUEUES];
	bool reset_done;     /* set by the main thread on ResetDone */
	bool dead;	     /* the device process is gone or broke the protocol */
	uint32_t log_budget; /* rate limit for guest-error log lines */
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

/* The main thread calls this when link_fd is readable. Returns 0, or -errno
 * when the device broke the protocol or went away (it is then dead). */
int vmmio_on_link(struct vmmio_dev *d);

/* "virtio_mmio.device=4K@0x...:N" for the kernel command line. */
int vmmio_cmdline(const struct vmmio_dev *d, char *buf, size_t len);

void vmmio_destroy(struct vmmio_dev *d);
