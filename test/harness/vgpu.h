/* virtio-gpu fixture of the device tests and bench/capture: the real
 * cellvm-dev-gpu started by the launcher (sandboxed as in production) with
 * a capture ring memfd and subscriber eventfds made here, the harness
 * (vdriver.h) as cellvm-core and as the guest's virtio-gpu driver on real
 * control and cursor queues, and the ring mapped read-only as a capture
 * client maps it. Runs in test and benchmark processes only. The device is
 * the untrusted party: every wait is bounded. Functions returning int give
 * >= 0 (a count, or a response type) or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "test/harness/vdriver.h"

#define VGPU_TIMEOUT_MS	 5000
#define VGPU_MAX_EFDS	 2
#define VGPU_MAX_SCANOUT 4
#define VGPU_SCRATCH	 (64 * 1024) /* command and response buffers in guest RAM */

struct vgpu_opts {
	uint64_t mem_size; /* guest RAM; 0: 64 MiB */
	uint64_t budget;   /* GpuConfig.max_host_bytes; 0: the device's default */
	/* Scanouts; nscanouts 0: two, 1024x768 and 800x600. */
	uint32_t nscanouts;
	uint32_t width[VGPU_MAX_SCANOUT], height[VGPU_MAX_SCANOUT];
	/* The ring: 0 slots: no ring at all; max 0: the widest / tallest
	 * scanout. */
	uint32_t ring_slots, ring_max_width, ring_max_height;
	uint32_t nefds; /* subscriber eventfds (non-blocking), 0..VGPU_MAX_EFDS */
	uint32_t qsize; /* entries per queue; 0: 64 */
};

struct vgpu {
	struct vdrv_mem mem;
	struct vcore core;
	struct vdrv_queue cq, uq; /* controlq, cursorq */
	uint32_t qsize;
	uint64_t cmd, resp; /* VGPU_SCRATCH bytes each, in guest RAM */
	int ring_fd, efd[VGPU_MAX_EFDS];
	uint32_t nefds;
	size_t ring_size;
	const void *ring; /* read-only mapping; NULL without a ring */
	int stats_fd;
	const struct devproc_stats *stats;
	bool started;
};

/* Start the device, Attach, activate both queues (vgpu_activate), map the
 * ring. On failure a message in err; everything made is undone. */
int vgpu_start(struct vgpu *t, const struct vgpu_opts *o, char *err, size_t errlen);
/* The device from cfg as the caller made it (its GpuConfig and backend
 * fds, the caller's; t zeroed with its fds -1, t->qsize set): guest RAM of
 * mem_size (0: the default), the counters page, the process, Attach,
 * activate, the scratch buffers. vgpu_start's second half; a test that
 * hands the device other backends (a DRM node) calls it itself. On failure
 * a message in err; vgpu_stop undoes what was made. */
struct device_config;
int vgpu_launch(struct vgpu *t, struct device_config *cfg, uint64_t mem_size, char *err,
		size_t errlen);
/* Fresh controlq and cursorq, Activate with VERSION_1 and EDID (after a
 * reset too). */
int vgpu_activate(struct vgpu *t);
/* Close the link, reap the device, unmap and close everything; returns the
 * device's exit status. */
int vgpu_stop(struct vgpu *t);

/* Host pointer into guest RAM (aborts outside RAM: a test bug). */
void *vgpu_host(struct vgpu *t, uint64_t gpa, uint64_t len);

/* Post a chain on q and kick; then wait (the interrupt eventfd, as a guest
 * driver does) for its used entry. Returns the used length, -ETIMEDOUT, or
 * -EPROTO when another head came back. */
int vgpu_post(struct vgpu *t, struct vdrv_queue *q, const struct vdrv_buf *b, uint32_t n);
/* A control command: cmd (len bytes, copied to guest RAM) and, when extra,
 * a second readable buffer; a response buffer of rlen bytes (filled with
 * 0xee first). Returns the response's type (0 when it has none), -errno,
 * or -EPROTO when more than rlen bytes were said to be written; *ret_len
 * the used length. */
int vgpu_ctrl2(struct vgpu *t, const uint8_t *cmd, uint32_t len, const uint8_t *extra,
	       uint32_t elen, uint32_t rlen, uint32_t *ret_len);
/* A control command with a header-sized response; -EPROTO unless exactly
 * the header came back. */
int vgpu_ctrl(struct vgpu *t, const uint8_t *cmd, uint32_t len);
/* The last response buffer. */
const uint8_t *vgpu_resp(struct vgpu *t);

/* Little-endian fields and the 24-byte control header (type, rest 0). */
void vgpu_put32(uint8_t *p, uint32_t v);
void vgpu_put64(uint8_t *p, uint64_t v);
uint32_t vgpu_le32(const uint8_t *p);
uint64_t vgpu_le64(const uint8_t *p);
void vgpu_hdr(uint8_t *p, uint32_t type);

/* The commands; each returns the response type or -errno. */
int vgpu_create(struct vgpu *t, uint32_t id, uint32_t fmt, uint32_t w, uint32_t h);
int vgpu_unref(struct vgpu *t, uint32_t id);
int vgpu_detach(struct vgpu *t, uint32_t id);
/* Attach with nr_entries claimed and n entries sent, in a buffer of their
 * own after the command (as Linux sends them). */
int vgpu_attach_raw(struct vgpu *t, uint32_t id, uint32_t nr, const uint64_t *addr,
		    const uint32_t *len, uint32_t n);
int vgpu_attach(struct vgpu *t, uint32_t id, const uint64_t *addr, const uint32_t *len, uint32_t n);
int vgpu_transfer(struct vgpu *t, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
		  uint64_t off);
int vgpu_set_scanout(struct vgpu *t, uint32_t s, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
		     uint32_t h);
int vgpu_flush(struct vgpu *t, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h);
/* A cursorq command (UPDATE_CURSOR, MOVE_CURSOR or anything else): returns
 * the used length (0: there is no response), or -errno. */
int vgpu_cursor(struct vgpu *t, uint32_t type, uint32_t s, int32_t x, int32_t y, uint32_t id,
		uint32_t hx, uint32_t hy);
/* Alive, answering GET_DISPLAY_INFO in full, no NeedsReset: 0, else -errno. */
int vgpu_serving(struct vgpu *t);

/* The guest's backing: total bytes scattered over n pieces of guest RAM
 * with gaps between them (in addr/len); and written as one linear buffer. */
void vgpu_backing(struct vgpu *t, uint32_t total, uint32_t n, uint64_t *addr, uint32_t *len);
void vgpu_backing_write(struct vgpu *t, const uint64_t *addr, const uint32_t *len, uint32_t n,
			const uint8_t *src, uint32_t total);
/* An eventfd's count, drained (0 when it had none). */
uint64_t vgpu_efd_take(int fd);
