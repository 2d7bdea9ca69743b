/* Bringing up a VM's devices, one way for cellvm run and cellvm-broker, for a
 * device's first start and for its restarts: each kind (blk, net) opens its
 * backend (the disk image, the tap), says whose fault a failure to open it is,
 * and hands its process what it needs. Runs in the privileged process; the
 * options were checked where they came in (disk_opt.c, net_opt.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "launcher/disk_opt.h"
#include "launcher/gpu_opt.h"
#include "launcher/input_opt.h"
#include "launcher/launcher.h"
#include "launcher/net_opt.h"
#include "launcher/snd_opt.h"
#include "proto/vm_exit.h"

/* The transport of a device whose options name none. */
#define LAUNCHER_DEV_DEFAULT_TRANSPORT "pci"

/* A new kind (input, gpu, snd) gets a value here, its options in struct
 * launcher_dev and a row in launcher_dev.c. */
enum launcher_dev_kind {
	LAUNCHER_DEV_BLK, /* cellvm-dev-blk on a disk image */
	LAUNCHER_DEV_NET, /* cellvm-dev-net on a tap */
	/* cellvm-dev-input: every input backend of the VM in one process; at
	 * most one per VM, and last among its devices (launcher_dev_core_entries) */
	LAUNCHER_DEV_INPUT,
	/* cellvm-dev-gpu: the display, with its capture ring; at most one per
	 * VM, after the disks and NICs (before the input device) */
	LAUNCHER_DEV_GPU,
	/* cellvm-dev-snd: the sound card, with its audio capture ring; at most
	 * one per VM, after the gpu (before the input device) */
	LAUNCHER_DEV_SND,
};

/* One device of a VM. Its options, and the backend they hold open, are the
 * caller's: the same options serve every start of the device. */
struct launcher_dev {
	enum launcher_dev_kind kind;
	union {
		struct disk_opt *disk;	 /* LAUNCHER_DEV_BLK */
		struct net_opt *net;	 /* LAUNCHER_DEV_NET */
		struct input_opt *input; /* LAUNCHER_DEV_INPUT */
		struct gpu_opt *gpu;	 /* LAUNCHER_DEV_GPU */
		struct snd_opt *snd;	 /* LAUNCHER_DEV_SND */
	};
	int stats_fd; /* > 0: its counters page (launcher_stats_create) */
	int debug;
	uint32_t test_flags;		  /* DEVPROC_TEST_* (test builds only) */
	const struct launcher_jail *jail; /* the VM's ids and cgroup; NULL: 65534 */
};

/* "blk", "net": the kind as the core and the device processes name it. */
const char *launcher_dev_name(const struct launcher_dev *d);
/* The transport its options name, else LAUNCHER_DEV_DEFAULT_TRANSPORT. */
const char *launcher_dev_transport(const struct launcher_dev *d);

/* Open the device's backend into its options: the disk image, or the NIC's
 * tap (created when missing, a random MAC picked when none was given). On
 * failure returns -errno with a message in err, and *ret_exit says whose
 * fault it is: VM_EXIT_BAD_INPUT (what the user named cannot be had: a
 * missing image, a tap in use or no tap at all) or VM_EXIT_ERROR (the host's:
 * no tun driver, no privilege, out of fds). */
int launcher_dev_open(struct launcher_dev *d, char *err, size_t errlen, enum vm_exit *ret_exit);
/* Start the device's process over its open backend and guest RAM mem_fd
 * (mem_size bytes) and wait for it to be Ready (launcher_start_device). On
 * failure returns -errno with a message in err: the host's fault
 * (VM_EXIT_ERROR), and nothing is left running. */
int launcher_dev_start(const struct launcher_dev *d, int mem_fd, uint64_t mem_size,
		       struct device_proc *ret, char *err, size_t errlen);
/* Close the backend (idempotent). */
void launcher_dev_close(struct launcher_dev *d);

/* Whether the launcher restarts the device's process when it dies (the
 * input device is not restarted yet: its PS/2 state and links would need a
 * takeover of their own; nor the gpu device: the guest's resources live in
 * its memory, and a new process would have none of them; nor the snd
 * device: each stream's state (its parameters, started or not) and the
 * guest's buffers it holds until played live in its memory, and a new
 * process could neither finish nor return them). */
bool launcher_dev_restartable(const struct launcher_dev *d);

/* The core's device entries for n started devices (devs[i] ran as procs[i]):
 * each virtio link in device order, then the input device's PS/2 port link
 * ("isa") last, so an entry's index is its virtio device's in the core and,
 * the input device being last, devs[i]'s index is i for every other device.
 * Writes up to max entries (their links are the procs' fds, not dup'd) and
 * their kinds and transports; returns the count, or -E2BIG. */
int launcher_dev_core_entries(const struct launcher_dev *devs, const struct device_proc *procs,
			      size_t n, struct device_proc *out, const char **kinds,
			      const char **transports, size_t max);
