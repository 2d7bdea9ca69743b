/* virtio-input device model (virtio 1.2, section 5.8) for one function of
 * cellvm-dev-input: a keyboard, a relative mouse, an absolute tablet or a
 * multi-touch screen. Turns injected records (proto/input_event.h, from the
 * control channel: checked again here) into evdev frames, queues them in a
 * bounded host-side buffer, and moves them into the driver's eventq buffers;
 * reads the driver's status queue (LEDs). Rings and buffers are guest
 * memory, untrusted: bad ones are counted and returned, ring abuse ends in
 * NEEDS_RESET. Does not log; owns no memory or fds (callers embed it). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/devlib/devproc.h"
#include "dev-procs/devlib/virtq.h"
#include "proto/input_event.h"

#define VIRTIO_ID_INPUT 18
#ifndef VIRTIO_F_VERSION_1
#define VIRTIO_F_VERSION_1 32
#endif

/* virtio_input_config.select */
#define VIRTIO_INPUT_CFG_UNSET	   0x00
#define VIRTIO_INPUT_CFG_ID_NAME   0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL 0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS 0x03
#define VIRTIO_INPUT_CFG_PROP_BITS 0x10
#define VIRTIO_INPUT_CFG_EV_BITS   0x11
#define VIRTIO_INPUT_CFG_ABS_INFO  0x12
#define VIRTIO_INPUT_CONFIG_LEN	   136 /* select, subsel, size, 5 reserved, 128 bytes */
#define VIRTIO_INPUT_ABSINFO_LEN   20  /* min, max, fuzz, flat, res: le32 each */
#define VIRTIO_INPUT_DEVIDS_LEN	   8   /* bustype, vendor, product, version: le16 each */
#define VIRTIO_INPUT_EVENT_LEN	   8   /* le16 type, le16 code, le32 value */

#define VINPUT_QUEUE_EVENTS 1024 /* host-side events waiting for eventq buffers */
#define VINPUT_FRAME_MAX    8	 /* the longest frame one record makes (a touch) */
#define VINPUT_QUEUE_SIZE   64	 /* queue_max_size offered */
#define VINPUT_BUS_VIRTUAL  0x06
#define VINPUT_VENDOR	    0x0627

enum vinput_kind { VINPUT_KEYBOARD, VINPUT_MOUSE, VINPUT_TABLET, VINPUT_TOUCH };

struct vinput_identity {
	char name[64];	 /* at most 63 bytes are offered */
	char serial[32]; /* empty: no ID_SERIAL */
	uint16_t bustype, vendor, product, version;
};

/* One evdev event as the eventq carries it (host byte order here). */
struct vinput_event {
	uint16_t type, code;
	int32_t value;
};

struct vinput_contact {
	bool active;
	uint16_t tracking_id;
	int32_t x, y;
	uint64_t since; /* order of the touch downs: the oldest is the pointer */
};

struct vinput_counts {
	uint64_t delivered;	 /* events written to eventq buffers */
	uint64_t bad_event_bufs; /* eventq buffers without 8 device-writable bytes */
	uint64_t leds;		 /* LED status events taken */
	uint64_t status_ignored; /* well-formed status events the device does not act on */
	uint64_t bad_status;	 /* status buffers of the wrong shape */
};

struct vinput {
	enum vinput_kind kind;
	struct vinput_identity id;
	/* bounded FIFO of events; head/posted/consumed count from 0 */
	struct vinput_event ev[VINPUT_QUEUE_EVENTS];
	uint64_t posted, consumed;
	/* touch */
	struct vinput_contact touch[CELLVM_INPUT_TOUCH_SLOTS];
	uint16_t next_tracking_id;
	uint64_t touch_seq;
	int pointer_slot; /* the contact ABS_X/ABS_Y follow, or -1 */
	uint8_t leds;
	/* the rings (valid while active) */
	bool active, bound;
	bool evq_live, stq_live; /* the queue was enabled and its ring accepted */
	struct virtq evq, stq;
	struct virtq_chain chain;
	struct vinput_counts count;
};

/* Set v up as a kind; id NULL gives the defaults ("cellvm virtio keyboard",
 * BUS_VIRTUAL, vendor 0x0627, a product per kind). */
void vinput_init(struct vinput *v, enum vinput_kind kind, const struct vinput_identity *id);

/* Fill *info for DeviceInfo: virtio id 18, VERSION_1, two queues, the
 * 136-byte configuration and its select/subsel table. Returns 0. */
int vinput_info(const struct vinput *v, struct devproc_info *info);

/* Queue one injected record as one evdev frame ending in SYN_REPORT.
 * Returns 0; -EINVAL when the record is not one this kind takes (or out of
 * range, or a touch move/up on a slot that is not down); -ENOSPC when the
 * host-side buffer (VINPUT_QUEUE_EVENTS) cannot take the whole frame: then
 * nothing is queued. Touches no guest memory. */
int vinput_post(struct vinput *v, const struct cellvm_input_event *ev);

/* Move queued events into the eventq's available buffers, in order, one per
 * buffer (a frame may span several kicks), and interrupt the driver. */
void vinput_flush(struct vinput *v, struct devproc *dp);

/* The kick op of this function: eventq flushes, statusq takes the driver's
 * status events (LEDs). */
void vinput_kick(struct devproc *dp, struct devproc_queue *q, struct vinput *v);

/* DRIVER_OK: set up both queues from dp->queues (eventq 0, statusq 1).
 * Returns 0, or -EINVAL for rings virtq_init refuses or a legacy driver
 * (the caller refuses the activation). With dp->resume, vinput_resume
 * follows. */
int vinput_activate(struct vinput *v, struct devproc *dp);

/* After vinput_activate with dp->resume: take both queues over from their
 * crash-recovery records. An event buffer left in flight is returned
 * holding SYN_REPORT (its content is unknown), a status buffer unread.
 * Returns 0 or -EINVAL (then reset). */
int vinput_resume(struct vinput *v, struct devproc *dp);

/* The driver reset the device: forget the rings; queued events stay and go
 * out after the next activation. */
void vinput_reset(struct vinput *v);

uint64_t vinput_posted(const struct vinput *v);	  /* events queued so far, SYN included */
uint64_t vinput_consumed(const struct vinput *v); /* events published in the used ring */
/* The driver is active and has made eventq buffers available at least once. */
bool vinput_bound(const struct vinput *v);
/* LED state the guest last set: bit 0 num, 1 caps, 2 scroll lock. */
uint8_t vinput_leds(const struct vinput *v);
/* Counters for the frame's stats op: requests = events delivered, errors =
 * bad buffers of either queue. */
void vinput_stats(const struct vinput *v, struct devproc_stats *out);
