/* Input fixture of the device tests and bench/input: the real cellvm-dev-input
 * started by the launcher with the PS/2 port link and the four virtio-input
 * functions, the harness (vdriver.h) as the core on every link and as the
 * guest's drivers (i8042 through PortAccess, virtio-input over real rings),
 * and the launcher's side of the control channel (InputCommand, InputReply).
 * Runs in test and benchmark processes only. The device is the untrusted
 * party: every wait is bounded. Functions returning int give >= 0 or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/input_event.h"
#include "test/harness/inctl.h"
#include "test/harness/vdriver.h"

#define VIN_NFN	       4
#define VIN_TIMEOUT_MS 5000
#define VIN_EQ_SIZE    64 /* eventq entries */
#define VIN_SQ_SIZE    8  /* statusq entries */

enum vin_fn { VIN_KBD, VIN_MOUSE, VIN_TABLET, VIN_TOUCH };

struct vin_opts {
	uint32_t max_pending;	  /* InputConfig.max_pending (0: the device's default) */
	uint32_t default_backend; /* enum cellvm_input_backend (0: the device chooses) */
};

/* One evdev event as the eventq carries it. */
struct vin_event {
	uint16_t type, code;
	int32_t value;
};

struct vin {
	struct vdrv_mem mem;
	struct vcore fn[VIN_NFN]; /* fn[0] owns the process; the others only a link */
	struct vdrv_queue eq[VIN_NFN], sq[VIN_NFN];
	uint64_t evbuf[VIN_NFN][VIN_EQ_SIZE]; /* eventq buffer of each head */
	int ps2;			      /* the core's end of the PS/2 port link */
	int irq[2];			      /* IRQ 1, IRQ 12 eventfds (ours) */
	struct inctl ctl;		      /* the control channel (fn[0]'s) */
	bool started;
};

/* Start the device (has_ps2, keyboard, mouse, tablet, touch), Attach every
 * function (DeviceInfo in fn[f]); nothing activated, no Ps2Attach yet. */
int vin_start(struct vin *t, const struct vin_opts *o);
/* Fresh eventq and statusq for function f, Activate (VERSION_1). */
int vin_activate(struct vin *t, uint32_t f);
/* Post n 8-byte device-writable eventq buffers on f and kick. */
int vin_evbufs(struct vin *t, uint32_t f, uint32_t n);
/* The next used eventq entry of f: 1 with the event, 0 when none is there. */
int vin_event_next(struct vin *t, uint32_t f, struct vin_event *ret);
/* Wait up to timeout_ms for an interrupt of f (its irq eventfd): 1 or 0. */
int vin_irq_wait(struct vin *t, uint32_t f, int timeout_ms);
/* The next event of f within timeout_ms (waiting on the used ring): 1 or 0. */
int vin_event_wait(struct vin *t, uint32_t f, struct vin_event *ret, int timeout_ms);

/* ---- the PS/2 link ---- */

/* Send Ps2Attach with fds (default: our two IRQ eventfds). */
int vin_ps2_attach_fds(struct vin *t, const int *fds, size_t nfds);
int vin_ps2_attach(struct vin *t);
/* Send one PortAccess; unless raw, wait for its PortResult (value). */
int vin_ps2_send(struct vin *t, uint32_t port, bool write, uint32_t value);
int vin_ps2_io(struct vin *t, uint32_t port, bool write, uint32_t value);
/* The i8042 driver's start: self-test (0xAA -> 0x55), keyboard scanning on
 * (0xF4 -> ACK), the IRQ eventfd drained. */
int vin_ps2_driver_init(struct vin *t);
/* IRQ line's interrupts since the last call (0 if none). */
uint64_t vin_ps2_irq_take(struct vin *t, int line);
/* Wait up to timeout_ms for IRQ 1, then read one byte from port 0x60 (the
 * status says a byte is there). Returns the byte, or -ETIMEDOUT. */
int vin_ps2_read_key(struct vin *t, int timeout_ms);
/* Port 0x64's output-buffer-full bit. */
int vin_ps2_obf(struct vin *t);

/* The control channel: inctl.h on t->ctl. */

/* Close every link and reap the device; returns its exit status. */
int vin_stop(struct vin *t);
