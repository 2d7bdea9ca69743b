/* A VM's display: --gpu of cellvm run and the gpu of a cellvm-broker VM
 * definition (broker_vmdef.c builds the same struct): the scanouts and
 * their modes, the budget of host memory the guest's resources may hold,
 * and the frame capture ring (proto/capture_ring.h) the device writes: a
 * memfd made and sealed here, kept for the VM's life, that readers get
 * read-only (gpu_opt_reader_fd) with an eventfd of their own
 * (CaptureSubscribe). User input, checked here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"

#define GPU_OPT_MAX_SCANOUTS 4
#define GPU_OPT_MIN_MODE     64
#define GPU_OPT_MAX_MODE     4095 /* virtio-gpu's EDID and Linux's limits */
#define GPU_OPT_MIN_BUDGET   (16ULL << 20)
#define GPU_OPT_MAX_BUDGET   (4ULL << 30)
#define GPU_OPT_MAX_SLOTS    64
#define GPU_OPT_MAX_READERS  16	 /* the device's GPU_MAX_READERS */
#define GPU_OPT_DRM_MAJOR    226 /* DRM character devices */
#define GPU_OPT_PRESENT_PATH 128 /* the longest present= path */
/* Where the DRM node goes among the device's backend fds: right after the
 * ring (GpuConfig.present_fd_index). */
#define GPU_OPT_PRESENT_INDEX 1

struct gpu_opt {
	uint32_t modes[GPU_OPT_MAX_SCANOUTS][2]; /* width, height */
	uint32_t nscanouts;			 /* 1..4 */
	uint64_t budget;			 /* bytes; 0: the device's default */
	uint32_t slots;				 /* frame slots of the ring; 0: default */
	/* Host presentation: the DRM/KMS node to show present_scanout on;
	 * "": none. */
	char present_path[GPU_OPT_PRESENT_PATH];
	uint32_t present_scanout;
	/* Filled by gpu_opt_open(). */
	int ring_fd;	  /* the ring memfd (read-write: the device's), -1: none */
	int present_fd;	  /* the DRM node, read-write, -1: none */
	size_t ring_size; /* its bytes */
	Cellvm__Device__GpuConfig cfg;
	Cellvm__Device__GpuScanout so[GPU_OPT_MAX_SCANOUTS];
	Cellvm__Device__GpuScanout *pso[GPU_OPT_MAX_SCANOUTS];
};

/* One scanout of 1024x768, the defaults otherwise; ring_fd -1. */
void gpu_opt_init(struct gpu_opt *o);
/* Parse "WxH[,WxH...][,budget=N[K|M|G]][,slots=N][,present=PATH[:S]]" (1
 * to 4 modes of 64 to 4095 pixels each way; budget 16M to 4G; slots 2 to
 * 64; present: an absolute path of a DRM/KMS device to show scanout S, 0 by
 * default, on) into *o. Returns 0 or -EINVAL with a message in err. */
int gpu_opt_parse(const char *s, struct gpu_opt *o, char *err, size_t errlen);
/* Check options a definition filled in (the same limits as the parser).
 * Returns 0 or -EINVAL with a message in err. */
int gpu_opt_check(const struct gpu_opt *o, char *err, size_t errlen);
/* Make the ring (a memfd of capture_ring_bytes() for the widest and tallest
 * mode, sealed against shrinking and growing, so a reader's mapping never
 * faults), open the present= node (O_RDWR: it must be a character device
 * of major 226, else -ENODEV) and make the device's configuration. Returns
 * 0 or -errno with a message in err; nothing is left open on failure. */
int gpu_opt_open(struct gpu_opt *o, char *err, size_t errlen);
/* A new read-only fd of the ring, for one reader (its own open file: it
 * cannot be made writable). Returns the fd or -errno. */
int gpu_opt_reader_fd(const struct gpu_opt *o);
void gpu_opt_close(struct gpu_opt *o);

/* Readers come and go with launcher_reader_subscribe/_unsubscribe
 * (launcher.h) on the gpu device's control channel. */
/* What a reader is told with its fds: one line of JSON, {"ring_bytes": N,
 * "scanouts": [[W, H], ...]}. Writes into buf; returns its length. */
size_t gpu_opt_reader_hello(const struct gpu_opt *o, char *buf, size_t len);
