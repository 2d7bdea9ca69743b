/* The transport-independent half of a virtio device in cellvm-core: the link
 * to the device process, what the device offered (DeviceInfo), and the
 * driver-facing state every transport shares (status, features, queue
 * setup, reset, NEEDS_RESET), checked against the virtio 1.2 rules. The
 * transports (virtio_mmio.c, virtio_pci.c) decode registers and own the KVM
 * ioeventfds and irqfds; they call in here with the device lock held.
 * Register values are guest input; link messages are device input, read
 * through one dispatch table (virtio_dev.c). This library does not log: it
 * returns errors, and reports what happens in the vCPU threads to its owner
 * (struct vdev.report), which decides what to log. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/devshm.h"
#include "proto/dispatch.h"

#define VDEV_MAX_QUEUES DEVPROC_MAX_QUEUES
#define VDEV_NO_VECTOR	0xffff

#define VDEV_ST_ACKNOWLEDGE 1U
#define VDEV_ST_DRIVER	    2U
#define VDEV_ST_DRIVER_OK   4U
#define VDEV_ST_FEATURES_OK 8U
#define VDEV_ST_NEEDS_RESET 64U
#define VDEV_ST_FAILED	    128U

#define VIRTIO_F_VERSION_1 32

/* Refused guest accesses reported per device, at most: a guest must not be
 * able to flood the host log. */
#define VDEV_GUEST_REPORTS 16

/* What the transport reports to its owner (struct vdev.report). */
enum vdev_report {
	VDEV_REPORT_GUEST_ERROR,   /* a guest access refused: detail, at register off */
	VDEV_REPORT_RESET_TIMEOUT, /* the device did not finish its reset: it is dead now */
	VDEV_REPORT_MSIX_ENABLED,  /* the driver enabled MSI-X (once per device) */
	VDEV_REPORT_HOST_ERROR,	   /* a KVM call failed: detail names it, err is -errno */
};

/* Why the core dropped a device whose process may live on: what it tells
 * the launcher (DeviceFault), which kills that process and restarts it. */
enum vdev_fault {
	VDEV_FAULT_NONE,	  /* nothing to tell */
	VDEV_FAULT_RESET_TIMEOUT, /* it did not finish a reset in time */
	VDEV_FAULT_PROTOCOL,	  /* it broke the link protocol (or was refused) */
	VDEV_FAULT_LINK_LOST,	  /* its link closed or failed */
};

struct vdev_queue {
	uint32_t num;
	bool ready;
	uint64_t desc, avail, used;
	uint16_t msix_vector; /* virtio-pci only */
	int kick_fd;	      /* KVM ioeventfd, owned by the transport */
	int irq_fd;	      /* per-queue interrupt (virtio-pci), or -1 */
};

struct vdev {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char name[40]; /* "virtio-mmio@0x...", "virtio-pci 00:02.0": for logs */
	int link_fd;   /* core<->device link */
	int irq_fd;    /* KVM irqfd: every interrupt (mmio), config changes (pci) */
	struct devproc_shared *shared;
	int shared_fd;	  /* the page's memfd, sent again to a restarted device */
	int inflight_fd;  /* crash-recovery records (struct virtq_inflight per queue) */
	bool queue_irqs;  /* Attach carries per-queue interrupt eventfds */
	bool restartable; /* the launcher restarts the process if it dies */
	bool activated;	  /* the current driver activation reached a device */
	/* from the device's DeviceInfo */
	uint32_t device_id;
	uint64_t device_features;
	uint8_t config[DEVPROC_CONFIG_MAX];
	uint32_t config_len;
	/* A configuration window the driver selects (virtio-input): the
	 * device's answers, and the select/subsel the driver wrote. */
	struct devproc_config_select *selects; /* nselects of them, or NULL */
	uint32_t nselects;
	uint8_t sel_select, sel_subsel;
	uint32_t num_queues, queue_max;
	/* driver-facing state */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t config_generation;
	struct vdev_queue q[VDEV_MAX_QUEUES];
	/* Resets sent to the device and answered by it (ResetDone); a vCPU
	 * waits until its own is answered. */
	uint32_t resets_sent, resets_done;
	bool dead; /* the device process is gone or broke the protocol */
	/* A restartable device dropped since the owner last looked: why
	 * (vdev_take_fault). restarts counts the successors the launcher sent
	 * (vdev_reattach calls), so the launcher can tell which process a
	 * fault is about. */
	enum vdev_fault fault;
	uint32_t restarts;
	struct dispatch link_proto; /* where the device is in the link protocol */
	uint32_t guest_reports;	    /* refused guest accesses left to report */
	/* Called (lock held) after a reset, so the transport can reset its own
	 * registers too; may be NULL. */
	void (*on_reset)(struct vdev *d);
	void *transport;
	/* Set by the owner after the transport's attach; called with the lock
	 * held, from any thread. NULL: nothing is reported. */
	void (*report)(const struct vdev *d, enum vdev_report what, const char *detail,
		       uint64_t off, int err);
};

/* Initialise d; every fd -1. */
void vdev_init(struct vdev *d, const char *name);

/* Attach to a started device over link_fd (ownership taken): create the
 * shared page and the irqfd eventfd, send Attach with the kick eventfds in
 * d->q[i].kick_fd (and d->q[i].irq_fd when queue_irqs) for nq queues, and
 * wait for DeviceInfo. The transport registers the eventfds with KVM. */
int vdev_attach(struct vdev *d, int link_fd, uint32_t nq, bool queue_irqs);

/* Report to the owner (when it set d->report). Lock held. */
void vdev_report(const struct vdev *d, enum vdev_report what, const char *detail, uint64_t off,
		 int err);

/* Report a refused guest access (VDEV_GUEST_REPORTS per device at most). */
void vdev_guest_error(struct vdev *d, const char *what, uint64_t off);

/* The driver wrote the status register (lock held). */
void vdev_write_status(struct vdev *d, uint32_t v);

/* Device feature word sel (0 or 1; 0 beyond). */
uint32_t vdev_device_features(const struct vdev *d, uint32_t sel);
/* The driver wrote driver feature word sel. */
void vdev_write_driver_features(struct vdev *d, uint32_t sel, uint32_t v, uint64_t off);

/* The selected queue when its setup may change now (between FEATURES_OK and
 * DRIVER_OK), else NULL after reporting why. */
struct vdev_queue *vdev_queue_for_write(struct vdev *d, uint64_t off);
/* Queue size write: a power of two up to the maximum. */
void vdev_set_queue_size(struct vdev *d, struct vdev_queue *q, uint32_t v, uint64_t off);

/* Read the device-specific configuration space: any offset and length. */
void vdev_config_read(const struct vdev *d, uint64_t off, uint8_t *data, uint32_t len);
/* The driver wrote the configuration space: only a device with a select
 * window takes it (select at 0, subsel at 1); anything else is refused. */
void vdev_config_write(struct vdev *d, uint64_t off, const uint8_t *data, uint32_t len);

/* Raise a configuration-change interrupt (ISR bit 1). */
void vdev_config_interrupt(struct vdev *d);

/* The launcher restarted the dead device's process: attach the new one over
 * link_fd (ownership taken) with the same eventfds, check that it is the
 * same device, and if the driver is running have it take over the queues
 * from the crash-recovery records. Returns 1 when it took the queues over, 0
 * when the driver was not running, or -errno (the device stays dead: -EBUSY
 * when it was not dead). Main thread. */
int vdev_reattach(struct vdev *d, int link_fd);

/* The fault the core has to tell the launcher about, once (VDEV_FAULT_NONE
 * when there is none), and the restarts it had seen then. Any thread. */
enum vdev_fault vdev_take_fault(struct vdev *d, uint32_t *ret_restarts);

/* The launcher gave up restarting the device: tell the driver it needs a
 * reset. */
void vdev_give_up(struct vdev *d);

/* The main thread calls this when link_fd is readable: one message, through
 * the link's dispatch table (DeviceInfo only while attaching, ResetDone only
 * while a reset is pending, NeedsReset and ConfigUpdate once attached, no
 * fds). Returns 0, or -errno when this call found the device gone or in
 * breach of the protocol: it is dead then (and, unless restartable, the
 * driver sees NEEDS_RESET); the caller reports it. */
int vdev_on_link(struct vdev *d);

/* Close the link, the shared page and every eventfd in d (the transport
 * created the kick and queue eventfds; KVM drops its references when the VM
 * goes away). */
void vdev_destroy(struct vdev *d);
