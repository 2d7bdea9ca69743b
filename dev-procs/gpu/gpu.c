/* virtio-gpu device of cellvm-dev-gpu; see gpu.h. Runs behind the devproc
 * frame. The launcher's setup (a peer) is checked here; chains come from
 * guest-written rings (virtq checks them) and their contents go to gpu_cmd,
 * which checks every field. Commands complete synchronously: each chain is
 * answered before the next is taken. Ring abuse ends in NEEDS_RESET; a bad
 * command only in its error response. */
#include "dev-procs/gpu/gpu.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static void gpu_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- queues ---- */

/* One chain of the control or cursor queue: answered at once. */
static bool gpu_serve(void *ctx, uint32_t qi, const struct virtq_chain *c, uint32_t *used)
{
	struct gpu *g = ctx;

	*used = qi == GPU_CTRLQ ? gpu_cmd_ctrl(&g->m, c) : gpu_cmd_cursor(&g->m, c);
	return true;
}

/* Answer every chain of queue qi (devproc_queue_serve), interrupt once. */
static void gpu_queue_run(struct gpu *g, uint32_t qi)
{
	struct devproc_queue *dq = &g->dp->queues[qi];

	if (devproc_queue_serve(g->dp, dq, &g->vq[qi], &g->chain, gpu_serve, g) &&
	    virtq_should_notify(&g->vq[qi]))
		devproc_notify(g->dp, dq);
}

static void gpu_kick(struct devproc *dp, struct devproc_queue *dq)
{
	struct gpu *g = dp->priv;

	if (!g->active || dq->index > GPU_CURSORQ || !g->live[dq->index])
		return;
	gpu_queue_run(g, dq->index);
}

static int gpu_activate(struct devproc *dp)
{
	struct gpu *g = dp->priv;
	int r = devproc_queues_init(dp, g->vq, g->live, 2, GPU_QUEUE_SIZE);

	if (r < 0)
		return r;
	g->active = true;
	return 0;
}

static void gpu_reset(struct devproc *dp)
{
	struct gpu *g = dp->priv;

	/* Synchronous: nothing is in flight. The resources go with the
	 * driver's state; the ring keeps the last frame it was given. */
	g->active = false;
	g->live[0] = g->live[1] = false;
	gpu_model_reset(&g->m);
}

static void gpu_stats(struct devproc *dp, struct devproc_stats *out)
{
	const struct gpu *g = dp->priv;

	memset(out, 0, sizeof(*out));
	out->requests = g->m.count.ctrl_cmds + g->m.count.cursor_cmds;
	out->bytes_in = g->m.count.bytes_in;
	out->bytes_out = g->m.count.frames;
	out->errors = g->m.count.errors;
}

/* ---- host presentation (present.c) ---- */

static void gpu_present_frame(void *ctx, uint32_t scanout, const struct gpu_frame *f)
{
	struct gpu *g = ctx;

	if (scanout == g->present_scanout)
		present_frame(&g->pres, f);
}

static void gpu_present_cursor(void *ctx, const struct gpu_cursor *c, const uint32_t *argb)
{
	struct gpu *g = ctx;

	/* A pointer on another scanout is not on this display. */
	present_cursor(&g->pres, argb, c->hot_x, c->hot_y, c->x, c->y,
		       c->visible && c->scanout == g->present_scanout);
}

/* The node is readable: a flip completed; show the newest frame when one
 * was dropped while it was pending. */
static void gpu_present_event(struct devproc *dp, void *arg)
{
	struct gpu *g = arg;
	struct gpu_frame f;

	if (present_event(&g->pres) && gpu_model_frame(&g->m, g->present_scanout, &f))
		present_frame(&g->pres, &f);
	if (!g->pres.on)
		(void)devproc_unwatch(dp, g->pres.fd);
}

/* Take the launcher's node fd for scanout s (UNTRUSTED(launcher): present_open
 * checks that it is a DRM device). */
static int gpu_present_setup(struct gpu *g, int fd, uint32_t s)
{
	char err[160];
	int r;

	r = present_open(&g->pres, fd, err, sizeof(err));
	if (r < 0) {
		log_err("host presentation: %s", err);
		return r;
	}
	log_info("host presentation: scanout %u on CRTC %u at %ux%u%s", s, g->pres.crtc_id,
		 g->pres.width, g->pres.height, g->pres.have_cursor ? ", with a cursor plane" : "");
	g->presenting = true;
	g->present_scanout = s;
	g->present_hook = (struct gpu_present_hook){gpu_present_frame, gpu_present_cursor, g};
	return 0;
}

static int gpu_sandboxed(struct devproc *dp)
{
	struct gpu *g = dp->priv;

	if (!g->presenting)
		return 0;
	return devproc_watch(dp, g->pres.fd, gpu_present_event, g);
}

/* ---- setup ---- */

static void gpu_fill_info(const struct gpu *g, struct devproc_info *info)
{
	info->device_id = VIRTIO_ID_GPU;
	/* EDID only: not VIRGL (no 3D), and not RESOURCE_BLOB, which Linux
	 * would use for its dumb buffers instead of 2D resources. */
	info->features = 1ULL << 32 /* VIRTIO_F_VERSION_1 */ | 1ULL << VIRTIO_GPU_F_EDID |
			 1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	memset(info->config, 0, GPU_CONFIG_LEN);
	gpu_put_le32(info->config + 8, g->m.nscanouts); /* events_read, events_clear: 0 */
	info->config_len = GPU_CONFIG_LEN;		/* num_capsets: 0 */
	info->num_queues = 2;
	info->queue_max_size = GPU_QUEUE_SIZE;
}

static int gpu_setup(struct devproc *dp, const Cellvm__Device__DeviceSetup *setup, int *backend_fds,
		     size_t nbackend, struct devproc_info *info)
{
	const Cellvm__Device__GpuConfig *cfg = setup->gpu;
	uint32_t modes[GPU_MAX_SCANOUTS][2] = {{GPU_DEFAULT_WIDTH, GPU_DEFAULT_HEIGHT}};
	uint32_t n = 1, slots = GPU_RING_SLOTS, mw = 0, mh = 0;
	uint64_t budget = GPU_MAX_HOST_BYTES;
	struct gpu *g = dp->priv;
	size_t pidx = cfg ? cfg->present_fd_index : 0;
	int r;

	/* UNTRUSTED(launcher): a peer, checked: 1..4 scanouts of sane modes,
	 * the ring, at most GPU_MAX_SUBSCRIBERS eventfds, and a DRM node at
	 * present_fd_index (1 or later: [0] is the ring) when it is not 0. */
	if (dp->index != 0 || nbackend > 1 + GPU_MAX_SUBSCRIBERS + (pidx != 0) ||
	    (pidx && pidx >= nbackend))
		return -EINVAL;
	g->dp = dp;
	if (cfg && cfg->n_scanouts) {
		if (cfg->n_scanouts > GPU_MAX_SCANOUTS)
			return -EINVAL;
		n = (uint32_t)cfg->n_scanouts;
		for (uint32_t i = 0; i < n; i++) {
			const Cellvm__Device__GpuScanout *s = cfg->scanouts[i];

			if (s->width < GPU_MIN_MODE || s->width > GPU_MAX_MODE ||
			    s->height < GPU_MIN_MODE || s->height > GPU_MAX_MODE)
				return -EINVAL;
			modes[i][0] = s->width;
			modes[i][1] = s->height;
		}
	}
	if (cfg && cfg->max_host_bytes)
		budget = cfg->max_host_bytes;
	if (cfg && cfg->ring_slots)
		slots = cfg->ring_slots;
	for (uint32_t i = 0; i < n; i++) {
		mw = modes[i][0] > mw ? modes[i][0] : mw;
		mh = modes[i][1] > mh ? modes[i][1] : mh;
	}
	if (cfg && cfg->ring_max_width)
		mw = cfg->ring_max_width;
	if (cfg && cfg->ring_max_height)
		mh = cfg->ring_max_height;
	if (slots > GPU_RING_MAX_SLOTS || mw > GPU_RES_MAX_DIM || mh > GPU_RES_MAX_DIM)
		return -EINVAL;
	if (pidx && cfg->present_scanout >= n)
		return -EINVAL;
	if (nbackend) {
		/* [0] the ring memfd, [1..] the subscribers' eventfds but the
		 * DRM node at pidx. */
		for (size_t i = 1; i < nbackend; i++)
			if (i != pidx)
				(void)devproc_readers_setup(&g->readers, backend_fds[i]);
		r = capture_init(&g->cap, backend_fds[0], slots, mw, mh, g->readers.fds,
				 g->readers.n);
		if (r < 0)
			return r;
		g->have_ring = true;
	}
	if (pidx) {
		r = gpu_present_setup(g, backend_fds[pidx], cfg->present_scanout);
		if (r < 0)
			return r;
	}
	gpu_model_init(&g->m, &dp->mem, budget, (const uint32_t(*)[2])modes, n,
		       g->have_ring ? &g->cap : NULL);
	if (g->presenting)
		g->m.present = &g->present_hook;
	gpu_fill_info(g, info);
	return 0;
}

/* ---- capture readers (CaptureSubscribe) ---- */

static int gpu_subscribe(struct devproc *dp, uint64_t id, int efd)
{
	struct gpu *g = dp->priv;

	devproc_readers_add(&g->readers, id, efd, g->have_ring, "capture reader");
	g->cap.nefds = g->readers.n;
	return 0;
}

static int gpu_unsubscribe(struct devproc *dp, uint64_t id)
{
	struct gpu *g = dp->priv;

	devproc_readers_remove(&g->readers, id, "capture reader");
	g->cap.nefds = g->readers.n;
	return 0;
}

const struct devproc_ops gpu_ops = {
	.kind = "gpu",
	.setup = gpu_setup,
	.sandboxed = gpu_sandboxed,
	.activate = gpu_activate,
	.stats = gpu_stats,
	.kick = gpu_kick,
	.reset = gpu_reset,
	.subscribe = gpu_subscribe,
	.unsubscribe = gpu_unsubscribe,
};
