/* The shared-memory layouts of a VM's device channels: the transport page
 * the core shares with each device process, the in-flight records the core
 * keeps for a device's queues (crash recovery), and the counters page the
 * launcher shares with each device process, with the limits that size them.
 * A channel format like the .proto files: used by the core, the device
 * processes, the launcher and the broker. Each page is written by a less
 * trusted process than some of its readers, which treat it as untrusted. */
#pragma once
#include <stdint.h>

#define DEVPROC_MAX_QUEUES 24  /* virtio-net: 8 queue pairs + control, with room */
#define DEVPROC_CONFIG_MAX 256 /* device-specific configuration bytes */

/* Devices whose configuration space is a window chosen by the driver
 * (virtio-input: the driver writes select and subsel at offsets 0 and 1,
 * then reads size at 2 and the bytes from 8): the device hands the core every
 * (select, subsel) answer in DeviceInfo, and the core serves the window from
 * them without waking the device. A pair not listed reads as size 0. */
#define DEVPROC_MAX_SELECTS	32
#define DEVPROC_SELECT_DATA_MAX 128
struct devproc_config_select {
	uint8_t select, subsel;
	uint8_t size; /* 0..DEVPROC_SELECT_DATA_MAX */
	uint8_t data[DEVPROC_SELECT_DATA_MAX];
};

/* The transport page shared with the core (a 4 KiB memfd). The device sets
 * bits in isr before it signals the interrupt; the core serves the guest's
 * InterruptStatus reads from it and clears bits on InterruptACK. */
struct devproc_shared {
	uint32_t isr; /* atomic; bit 0 used buffer, bit 1 configuration change */
	uint32_t reserved[1023];
};
#define DEVPROC_ISR_QUEUE  1U
#define DEVPROC_ISR_CONFIG 2U

/* The largest queue virtio allows (a power of two); the in-flight record has
 * a bit per head. */
#define VIRTQ_MAX_SIZE 32768

/* Crash-recovery record of one queue, kept by the core in a memfd shared
 * with the device process and handed to its successor when a crashed device
 * is restarted: which heads were taken from the avail ring and not yet
 * returned, and how far the device got. Written by the device (so a
 * successor treats it as untrusted input like the rings themselves). The
 * memfd holds DEVPROC_MAX_QUEUES of them. */
#define VIRTQ_INFLIGHT_WORDS (VIRTQ_MAX_SIZE / 64)
struct virtq_inflight {
	uint16_t last_avail; /* next avail entry to take */
	uint16_t used_idx;   /* used->idx this record is in step with */
	uint32_t started;    /* 1 once this activation's queue ran; 0 after a reset */
	uint64_t bits[VIRTQ_INFLIGHT_WORDS];
};

/* Counters the device publishes for the host's API, in a memfd the launcher
 * created and reads (the device's view is the only writable one). A seqlock:
 * seq is odd while the device writes. Counts go on from what a crashed
 * predecessor left. */
struct devproc_stats {
	uint32_t seq;
	uint32_t reserved;
	uint64_t requests;  /* blk: requests completed; net: frames moved either way */
	uint64_t bytes_in;  /* guest to backend: blk bytes written, net bytes sent */
	uint64_t bytes_out; /* backend to guest: blk bytes read, net bytes received */
	uint64_t errors;    /* blk: requests failed; net: frames dropped */
};
#define DEVPROC_STATS_SIZE 4096
