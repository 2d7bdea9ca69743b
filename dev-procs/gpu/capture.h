/* The frame capture ring's writer in cellvm-dev-gpu: each flushed scanout
 * and each cursor change go into the ring laid out in proto/capture_ring.h,
 * a memfd the launcher made and handed over with the device's setup, and
 * every subscriber eventfd the launcher handed over is written once per new
 * frame (or cursor change). The writer never waits for a reader: a slow
 * reader misses frames and sees that it did (serials). Runs in the gpu
 * process; owns nothing but the mapping (the fds are the caller's). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/capture_ring.h"

struct capture_rect {
	uint32_t x, y, w, h;
};

struct capture {
	struct cellvm_capture_header *hdr; /* the mapping, NULL when there is no ring */
	size_t size;
	const int *efds; /* subscriber eventfds (the caller's) */
	size_t nefds;
	uint64_t frame_serial, cursor_serial;
	/* The geometry as capture_init wrote it: the writer never reads it
	 * back from the ring, which a reader holding a writable fd could
	 * change. */
	uint64_t slot_size, slots_offset;
	uint32_t nslots, pixels_offset, max_width, max_height, cursor_offset;
};

/* Map the ring memfd (its size must hold the header, nslots slots of
 * max_width x max_height 32-bit pixels and the cursor) and initialise its
 * header. Returns 0 or -errno (-EINVAL: too small, or bad geometry). */
int capture_init(struct capture *c, int memfd, uint32_t nslots, uint32_t max_width,
		 uint32_t max_height, const int *efds, size_t nefds);
/* The bytes a ring of this geometry needs (the launcher sizes the memfd). */
size_t capture_ring_bytes(uint32_t nslots, uint32_t max_width, uint32_t max_height);

/* Publish one frame of scanout: width x height pixels of fourcc (a DRM
 * fourcc, 32 bits per pixel) from pixels with stride bytes per row, with
 * the damaged rectangles (at most CELLVM_CAPTURE_MAX_DAMAGE; more, or none,
 * mean the whole frame). The whole frame is copied (readers get complete
 * frames); damage tells what changed since the previous one. Returns the
 * frame's serial (>= 1) or -EINVAL (larger than the ring's geometry). */
int64_t capture_publish(struct capture *c, uint32_t scanout, uint32_t fourcc, uint32_t width,
			uint32_t height, uint32_t stride, const uint8_t *pixels,
			const struct capture_rect *damage, size_t ndamage);

/* The cursor: its image (CELLVM_CAPTURE_CURSOR_SIZE square, ARGB8888;
 * NULL keeps the current one), hotspot, position, visibility. Returns the
 * cursor's serial. */
uint64_t capture_cursor(struct capture *c, const uint32_t *image, uint32_t hot_x, uint32_t hot_y,
			int32_t x, int32_t y, uint32_t scanout, bool visible);

void capture_destroy(struct capture *c);
