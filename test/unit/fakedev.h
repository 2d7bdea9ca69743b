/* The scripted device process the virtio transport tests (test_virtio_mmio,
 * test_virtio_pci) attach the core to: a thread on the device end of a real
 * link socket that answers the way a device process does, and records what
 * the core sent it. Test code only; it asserts with cmocka. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"
#include "proto/devshm.h"
#include "proto/ipc.h"
#include "vmm-core/virtio_dev.h"

#define FAKEDEV_NQ	  2 /* the fake device's queues */
#define FAKEDEV_FEATURES  ((1ULL << 32) | (1ULL << 9) | (1ULL << 6))
#define FAKEDEV_QUEUE_MAX 256
#define FAKEDEV_DEVICE_ID 2

/* The device's config space, as DeviceInfo offers it. */
extern const uint8_t fakedev_config[8];

/* Answers Attach with DeviceInfo and keeps the fds of the first Attach (to
 * kick and raise interrupts like a real device), answers Reset with
 * ResetDone and then plays the core's main loop (vdev_on_link on core),
 * records the last Activate (signalling changed when it does). Read
 * activates, resets and act_* under lock; the Attach fields are set before
 * the core's attach returns. */
struct fakedev {
	int sock; /* the device's end of the link */
	pthread_t thread;
	struct vdev *core;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int activates, resets;
	uint32_t attach_nq;
	bool attach_queue_irqs;
	int fds[IPC_MAX_FDS];
	size_t nfds;
	struct devproc_shared *shared; /* fds[1] mapped, NULL if that failed */
	uint64_t act_features;
	size_t act_nq;
	uint32_t act_index[FAKEDEV_NQ], act_size[FAKEDEV_NQ];
	uint64_t act_desc[FAKEDEV_NQ], act_avail[FAKEDEV_NQ], act_used[FAKEDEV_NQ];
};

/* Start the device thread for the transport whose link state is core; the
 * core's end of a new link socket in *ret_link (the caller attaches it). */
void fakedev_start(struct fakedev *f, struct vdev *core, int *ret_link);

/* Shut the link down (both ends), join the thread, close the device's fds
 * and unmap the shared page. The core's end stays open: it is the
 * transport's to close. */
void fakedev_stop(struct fakedev *f);

/* Send m on a link end; 0 or -errno. */
int fakedev_send(int sock, Cellvm__Device__LinkMessage *m);
/* The same with one fd (the envelope says so). */
int fakedev_send_fd(int sock, Cellvm__Device__LinkMessage *m, int fd);

/* The reporter the tests give the transport (struct vdev.report): one line
 * on stderr per report, as cellvm-core logs them, so that a test can count
 * the lines a guest makes the host write. */
void fakedev_report(const struct vdev *d, enum vdev_report what, const char *detail, uint64_t off,
		    int err);

/* Wait (under f->lock) up to 5 s for the device to have seen n Activates;
 * false on timeout. Activate has no answer, so this is how the driver's
 * side learns it arrived. */
bool fakedev_wait_activates(struct fakedev *f, int n);

/* The device's copies of the eventfds, in Attach's order: [0] config irq,
 * [1] shared page, [2 + i] kick i, [2 + nq + i] interrupt of queue i (with
 * queue_irqs), then the crash-recovery records. */
int fakedev_kick_fd(const struct fakedev *f, uint32_t q);
int fakedev_irq_fd(const struct fakedev *f, uint32_t q);
