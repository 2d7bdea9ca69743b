/* Host presentation in cellvm-dev-gpu: one scanout shown on a DRM/KMS device
 * of the host (the launcher opened the node and handed it over as a backend
 * fd) through libdrm: two dumb buffers flipped in turn on the first
 * connected connector's CRTC at its preferred mode, and the cursor on the
 * CRTC's cursor plane where there is one. Never waits for a vblank: a frame
 * that comes while a flip is pending is dropped, and the newest is shown
 * when the flip completes. A failure (lost DRM master, the node gone) is
 * logged once and ends the presentation; the guest never notices. The
 * frames are the model's (already checked); the node's answers are the
 * kernel's. Owns the buffers and mappings, not the fd. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xf86drmMode.h>

#include "dev-procs/gpu/gpu_cmd.h"

#define PRESENT_DRM_MAJOR 226 /* DRM character devices (card*, renderD*) */

struct present_buf {
	uint32_t handle, fb_id, pitch;
	uint64_t size;
	uint8_t *map; /* MAP_SHARED of the dumb buffer, or NULL */
};

struct present {
	int fd;	 /* the DRM node (the device's backend fd); -1: none */
	bool on; /* presenting: false before present_open and after a failure */
	uint32_t crtc_id, conn_id;
	drmModeModeInfo mode;	/* the connector's preferred mode */
	uint32_t width, height; /* the mode's */
	struct present_buf buf[2];
	uint32_t front;	   /* the buffer shown, or being flipped to */
	bool flip_pending; /* a page flip was queued; its event has not come */
	bool stale;	   /* a frame was dropped while the flip was pending */
	bool use_setcrtc;  /* no page flips on this device: SetCrtc, synchronous */
	/* The cursor plane's buffer (cursor_w x cursor_h, the device's cursor
	 * size, at least 64x64), and what the guest last asked for. */
	bool have_cursor, cursor_dirty, cursor_image, cursor_shown;
	struct present_buf cursor;
	uint32_t cursor_w, cursor_h;
	uint32_t hot_x, hot_y;
	int32_t cur_x, cur_y;
	bool cur_visible;
	uint64_t frames, drops; /* shown; dropped because a flip was pending */
};

/* Take the DRM node fd (not owned) for the presentation: check that it is a
 * DRM device (major 226: else -ENODEV), pick the first connected connector,
 * its preferred mode and a CRTC, make two dumb buffers and framebuffers of
 * that mode (XRGB8888) and the cursor's, map them, and set the mode showing
 * a black frame. Before the sandbox (its ioctls and mmap are not allowed
 * after). Returns 0 or -errno with a message in err; everything made is
 * undone on failure. */
int present_open(struct present *p, int fd, char *err, size_t errlen);
/* Show frame f: its top-left part that fits the mode (no scaling), black
 * elsewhere. While a flip is pending the frame is dropped and p->stale
 * set. */
void present_frame(struct present *p, const struct gpu_frame *f);
/* The cursor: a new 64x64 ARGB8888 image (NULL: keep the current one), its
 * hotspot, the pointer's position in the scanout, visibility. Applied at
 * once, or after the pending flip. */
void present_cursor(struct present *p, const uint32_t *argb, uint32_t hot_x, uint32_t hot_y,
		    int32_t x, int32_t y, bool visible);
/* The node is readable: take its events (flip completions). Returns true
 * when a frame was dropped meanwhile: the caller presents the newest. */
bool present_event(struct present *p);
/* Unmap and destroy the buffers (the fd stays the caller's). */
void present_close(struct present *p);
