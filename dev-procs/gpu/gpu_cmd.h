/* The virtio-gpu 2D command set (virtio 1.2, 5.7.6) as cellvm-dev-gpu
 * executes it: each control or cursor command is copied out of the guest's
 * chain, every length, count, id and rectangle checked before any memory is
 * touched, executed against the model (resources, scanouts, cursor, the
 * capture ring), and answered within the guest's response buffer. Runs in
 * the gpu process; everything in a chain is UNTRUSTED(guest). Pure: no
 * devproc, so tests and fuzzers drive it in-process over any guest RAM. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/gmem.h"
#include "dev-procs/devlib/virtq.h"
#include "dev-procs/gpu/capture.h"
#include "dev-procs/gpu/gpu_res.h"

#define VIRTIO_ID_GPU		 16
#define VIRTIO_GPU_F_VIRGL	 0
#define VIRTIO_GPU_F_EDID	 1
#define VIRTIO_GPU_F_BLOB	 3
#define VIRTIO_GPU_EVENT_DISPLAY 1
#define VIRTIO_GPU_MAX_SCANOUTS	 16 /* display info's table */

#define VIRTIO_GPU_CMD_GET_DISPLAY_INFO	       0x0100
#define VIRTIO_GPU_CMD_RESOURCE_CREATE_2D      0x0101
#define VIRTIO_GPU_CMD_RESOURCE_UNREF	       0x0102
#define VIRTIO_GPU_CMD_SET_SCANOUT	       0x0103
#define VIRTIO_GPU_CMD_RESOURCE_FLUSH	       0x0104
#define VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D     0x0105
#define VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING 0x0106
#define VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING 0x0107
#define VIRTIO_GPU_CMD_GET_CAPSET_INFO	       0x0108
#define VIRTIO_GPU_CMD_GET_CAPSET	       0x0109
#define VIRTIO_GPU_CMD_GET_EDID		       0x010a
#define VIRTIO_GPU_CMD_UPDATE_CURSOR	       0x0300
#define VIRTIO_GPU_CMD_MOVE_CURSOR	       0x0301

#define VIRTIO_GPU_RESP_OK_NODATA		0x1100
#define VIRTIO_GPU_RESP_OK_DISPLAY_INFO		0x1101
#define VIRTIO_GPU_RESP_OK_EDID			0x1104
#define VIRTIO_GPU_RESP_ERR_UNSPEC		0x1200
#define VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY	0x1201
#define VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID	0x1202
#define VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID 0x1203
#define VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID	0x1204
#define VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER	0x1205

#define VIRTIO_GPU_FLAG_FENCE 1

/* Wire sizes (little-endian structs of virtio 1.2, 5.7.6). */
#define GPU_HDR_LEN	     24 /* type, flags, fence_id, ctx_id, ring_idx, padding */
#define GPU_RECT_LEN	     16
#define GPU_MEM_ENTRY_LEN    16 /* addr, length, padding */
#define GPU_CURSOR_CMD_LEN   56 /* hdr, pos (scanout, x, y, pad), resource, hot_x, hot_y, pad */
#define GPU_DISPLAY_INFO_LEN (GPU_HDR_LEN + VIRTIO_GPU_MAX_SCANOUTS * 24)
#define GPU_EDID_LEN	     128
#define GPU_RESP_EDID_LEN    (GPU_HDR_LEN + 8 + 1024)
#define GPU_CONFIG_LEN	     16 /* events_read, events_clear, num_scanouts, num_capsets */

#define GPU_MAX_SCANOUTS 4
#define GPU_MIN_MODE	 64   /* a scanout's configured width or height */
#define GPU_MAX_MODE	 4095 /* what an EDID detailed timing can say */
#define GPU_CURSOR_DIM	 64

struct gpu_scanout {
	uint32_t width, height; /* the configured (preferred) mode */
	struct gpu_res *res;	/* what it shows (one reference), or NULL: disabled */
	struct gpu_rect r;	/* the part of res it shows */
};

struct gpu_cursor {
	uint32_t scanout;
	int32_t x, y;
	uint32_t hot_x, hot_y;
	bool visible;
};

/* One scanout's frame as the model holds it: width x height pixels of
 * fourcc (one of the ring's four) with stride bytes per row. The pixels are
 * the model's, valid until the next command. */
struct gpu_frame {
	uint32_t fourcc, width, height, stride;
	const uint8_t *pixels;
};

/* Host presentation (gpu.c, present.c), told what the capture ring is told:
 * each frame the model publishes (its scanout and frame) and each cursor
 * change (argb: the new 64x64 ARGB8888 image, or NULL when only the
 * position or visibility changed). Not part of the model's state: the
 * guest sees nothing of it. */
struct gpu_present_hook {
	void (*frame)(void *ctx, uint32_t scanout, const struct gpu_frame *f);
	void (*cursor)(void *ctx, const struct gpu_cursor *c, const uint32_t *argb);
	void *ctx;
};

/* What the model counted (the device's stats and the tests). */
struct gpu_counts {
	uint64_t ctrl_cmds, cursor_cmds;
	uint64_t errors;     /* commands answered with an error, cursor commands ignored */
	uint64_t frames;     /* frames published to the ring */
	uint64_t bytes_in;   /* bytes copied from guest backing (transfers) */
	uint64_t ring_drops; /* frames the ring refused (larger than its geometry) */
};

struct gpu_model {
	const struct gmem *mem;
	struct gpu_res_table res;
	struct gpu_scanout scanout[GPU_MAX_SCANOUTS];
	uint32_t nscanouts;
	struct gpu_cursor cursor;
	struct capture *cap;			/* the ring, or NULL: frames go nowhere */
	const struct gpu_present_hook *present; /* or NULL; set after gpu_model_init */
	struct gpu_counts count;
	uint32_t cursor_argb[GPU_CURSOR_DIM * GPU_CURSOR_DIM]; /* scratch */
};

/* modes[i] = {width, height} of scanout i, n in 1..GPU_MAX_SCANOUTS (checked
 * by the caller). */
void gpu_model_init(struct gpu_model *m, const struct gmem *mem, uint64_t max_bytes,
		    const uint32_t (*modes)[2], uint32_t n, struct capture *cap);
/* Device reset: every scanout disabled, every resource freed. */
void gpu_model_reset(struct gpu_model *m);
/* The frame scanout s shows now (the part of its resource it shows). False
 * when it is disabled or out of range. */
bool gpu_model_frame(const struct gpu_model *m, uint32_t s, struct gpu_frame *ret);

/* Execute the control command in c (its readable part) and write the
 * response into its writable part, never more than it holds. Returns the
 * bytes written (the used length). */
uint32_t gpu_cmd_ctrl(struct gpu_model *m, const struct virtq_chain *c);
/* A cursor-queue command: no response (the driver posts none). Returns 0. */
uint32_t gpu_cmd_cursor(struct gpu_model *m, const struct virtq_chain *c);

/* The 128-byte EDID of a display whose preferred mode is width x height
 * (GPU_MIN_MODE..GPU_MAX_MODE), checksummed; serial tells scanouts apart. */
void gpu_cmd_edid(uint8_t *edid, uint32_t width, uint32_t height, uint32_t serial);
