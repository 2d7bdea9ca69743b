/* cellvm-dev-gpu's device (virtio 1.2, 5.7: virtio-gpu, 2D only): the
 * devproc side of it — configuration, the control and cursor queues, the
 * capture ring it publishes to — around the command model in gpu_cmd.c.
 * Runs in the cellvm-dev-gpu process; main.c hands gpu_ops to
 * devproc_main(). Rings and commands are guest memory, untrusted. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/devlib/devproc.h"
#include "dev-procs/devlib/virtq.h"
#include "dev-procs/gpu/capture.h"
#include "dev-procs/gpu/gpu_cmd.h"
#include "dev-procs/gpu/present.h"

#define GPU_CTRLQ	    0
#define GPU_CURSORQ	    1
#define GPU_QUEUE_SIZE	    256
#define GPU_RING_SLOTS	    3 /* frame slots of the capture ring by default */
#define GPU_RING_MAX_SLOTS  64
#define GPU_MAX_SUBSCRIBERS 6			/* eventfds handed over with the ring */
#define GPU_MAX_READERS	    DEVPROC_MAX_READERS /* CaptureSubscribe'd eventfds live at once */
#define GPU_DEFAULT_WIDTH   1024
#define GPU_DEFAULT_HEIGHT  768

struct gpu {
	struct devproc *dp;
	struct gpu_model m;
	struct capture cap;
	bool have_ring;
	/* The ring's eventfds: the setup's first (id 0, the launcher's), then
	 * the subscribed readers' (their ids; ours to close). */
	struct devproc_readers readers; /* the ring's eventfds */
	struct virtq vq[2];
	bool live[2];
	bool active;
	struct virtq_chain chain; /* scratch for virtq_pop */
	/* Host presentation of one scanout on a DRM node (present.c), told
	 * of frames and the cursor through the model's hook. */
	struct present pres;
	bool presenting;
	uint32_t present_scanout;
	struct gpu_present_hook present_hook;
};

extern const struct devproc_ops gpu_ops;
