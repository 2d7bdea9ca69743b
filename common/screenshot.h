/* Screenshots from the frame capture ring: the latest frame of one scanout
 * (proto/capture_ring.h), optionally cropped and with the cursor drawn in,
 * encoded as an 8-bit RGB PNG (libspng). Runs in whichever process maps the
 * ring read-only (the broker, cellctl's helpers, tests); the ring's
 * contents come from the sandboxed gpu process and are untrusted: they are
 * read only through the checked readers of proto/capture_ring.h, which
 * copy the frame and the cursor out first, and only the copies are used. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct screenshot_rect {
	uint32_t x, y, w, h;
};

struct screenshot_opts {
	uint32_t scanout; /* 0..3 (the ring's frames carry their scanout) */
	/* Draw the cursor in when it is visible on this scanout: its 64x64
	 * ARGB8888 image with premultiplied alpha (what DRM assumes for a
	 * cursor plane without a blend-mode property, as virtio-gpu's), its
	 * hotspot at the pointer's position, clipped to the frame. */
	bool cursor;
	/* A part of the frame, in its pixels; w == 0: the whole frame. */
	struct screenshot_rect crop;
};

/* Encode the latest frame of o->scanout in the ring (map, size bytes: a
 * page-aligned mapping, readable, that stays mapped for the call) as a PNG
 * (RGB, 8 bits per channel; the frame's alpha is not kept: a scanout is
 * opaque). On success returns 0 and *ret_png, *ret_len: a malloc'd buffer
 * the caller frees. Else -errno, and a message in err (errlen bytes, may be
 * 0): -ENOENT no frame of that scanout in the ring (none yet, or pushed out
 * by other scanouts' frames), -ERANGE a crop not inside the frame (or
 * empty), -EPROTO a ring that fails the reader's checks (not a ring, other
 * version, bad geometry or frame), -EAGAIN the writer kept overwriting the
 * frame while it was copied, -EINVAL bad arguments, -ENOMEM, -EIO the
 * encoder failed. */
int screenshot_png(const void *map, size_t size, const struct screenshot_opts *o, uint8_t **ret_png,
		   size_t *ret_len, char *err, size_t errlen);
