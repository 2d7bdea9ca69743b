/* virtio-snd device of cellvm-dev-snd; see snd.h. Runs behind the devproc
 * frame. The launcher's setup (a peer) is checked here; chains come from
 * guest-written rings (virtq checks them) and their contents go to the
 * model, which checks every field. Control requests are answered at once;
 * transfers are held and given back in real time, driven by one timerfd
 * armed for the earliest deadline of all streams. Ring abuse ends in
 * NEEDS_RESET; a bad request only in its status. */
#include "dev-procs/snd/snd.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static uint64_t snd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the clock ---- */

static void snd_arm(struct snd *g, uint64_t at_ns)
{
	struct itimerspec its = {0};

	if (at_ns == g->armed_ns)
		return;
	/* 0 disarms; an absolute deadline already past fires at once. */
	its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
	if (timerfd_settime(g->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("timerfd_settime: %s", strerror(errno));
	g->armed_ns = at_ns;
}

static void snd_notify(struct snd *g)
{
	for (uint32_t q = 0; q < SND_NQUEUES; q++) {
		if (g->pushed[q] && g->live[q] && virtq_should_notify(&g->vq[q]))
			devproc_notify(g->dp, &g->dp->queues[q]);
		g->pushed[q] = false;
	}
}

/* Play and capture what is due, give back what is done, rearm. */
static void snd_run(struct snd *g)
{
	if (!g->active || g->dp->needs_reset) {
		snd_arm(g, 0);
		return;
	}
	snd_arm(g, snd_pcm_run(&g->m, snd_now_ns()));
	snd_notify(g);
}

static void snd_on_timer(struct devproc *dp, void *arg)
{
	struct snd *g = arg;
	uint64_t n;

	(void)dp;
	(void)!read(g->timer_fd, &n, sizeof(n));
	g->armed_ns = 0;
	snd_run(g);
}

/* The model gives a held chain back. */
static void snd_complete(void *ctx, uint32_t queue, uint16_t head, uint32_t used)
{
	struct snd *g = ctx;

	if (queue >= SND_NQUEUES || !g->live[queue])
		return;
	virtq_push(&g->vq[queue], head, used);
	g->pushed[queue] = true;
}

static void snd_hook_play(void *ctx, const struct snd_stream *s, const uint8_t *pcm, uint32_t bytes,
			  uint64_t ts_ns, uint64_t position, bool discont)
{
	struct snd *g = ctx;

	snd_io_play(&g->io, s, pcm, bytes, ts_ns, position, discont);
}

static void snd_hook_capture(void *ctx, const struct snd_stream *s, uint8_t *out, uint32_t bytes)
{
	struct snd *g = ctx;

	snd_io_capture(&g->io, s, out, bytes);
}

static void snd_hook_stopped(void *ctx, const struct snd_stream *s)
{
	struct snd *g = ctx;

	snd_io_stopped(&g->io, s);
}

/* ---- queues ---- */

/* One chain: a control request is answered at once, a transfer held until
 * its time has come (or answered at once when it is refused). */
static bool snd_serve(void *ctx, uint32_t qi, const struct virtq_chain *c, uint32_t *used)
{
	struct snd *g = ctx;

	if (qi == SND_CTRLQ) {
		*used = snd_ctl_request(&g->m, c, snd_now_ns());
		return true;
	}
	return !snd_pcm_xfer(&g->m, qi, c, snd_now_ns(), used);
}

/* Take every chain of queue qi (devproc_queue_serve). */
static void snd_queue_run(struct snd *g, uint32_t qi)
{
	if (devproc_queue_serve(g->dp, &g->dp->queues[qi], &g->vq[qi], &g->chain, snd_serve, g))
		g->pushed[qi] = true;
}

static void snd_kick(struct devproc *dp, struct devproc_queue *dq)
{
	struct snd *g = dp->priv;

	/* The event queue's buffers stay with us: no jack or period events
	 * are ever sent (no jack changes; periods are the transfers). */
	if (!g->active || dq->index >= SND_NQUEUES || dq->index == SND_EVENTQ ||
	    !g->live[dq->index])
		return;
	snd_queue_run(g, dq->index);
	/* A request may have started, stopped or released a stream, a
	 * transfer may be the first of a running stream: the clock decides. */
	snd_run(g);
	snd_notify(g);
}

static int snd_activate(struct devproc *dp)
{
	struct snd *g = dp->priv;
	int r = devproc_queues_init(dp, g->vq, g->live, SND_NQUEUES, SND_QUEUE_SIZE);

	if (r < 0)
		return r;
	g->active = true;
	return 0;
}

static void snd_reset(struct devproc *dp)
{
	struct snd *g = dp->priv;

	/* Held chains are dropped, not completed: the rings are the driver's
	 * again. The WAV sink's header gets its sizes. */
	g->active = false;
	snd_model_reset(&g->m);
	memset(g->live, 0, sizeof(g->live));
	memset(g->pushed, 0, sizeof(g->pushed));
	snd_arm(g, 0);
}

static void snd_stats(struct devproc *dp, struct devproc_stats *out)
{
	const struct snd *g = dp->priv;

	memset(out, 0, sizeof(*out));
	out->requests = g->m.count.ctrl + g->m.count.xfers;
	out->bytes_in = g->m.count.bytes_in;
	out->bytes_out = g->m.count.bytes_out;
	out->errors = g->m.count.errors;
}

static size_t snd_keep_fds(struct devproc *dp, int *fds, size_t max)
{
	struct snd *g = dp->priv;

	if (max < 1)
		return 0;
	fds[0] = g->timer_fd;
	return 1;
}

static int snd_sandboxed(struct devproc *dp)
{
	struct snd *g = dp->priv;

	return devproc_watch(dp, g->timer_fd, snd_on_timer, g);
}

/* ---- setup ---- */

/* A WAV file's index: among the backends, not the ring's [0]. Without a
 * ring the launcher puts the first WAV file at [0]. */
static bool snd_index_ok(uint32_t idx, size_t nbackend, bool ring)
{
	return idx < nbackend && !(ring && idx == 0);
}

static int snd_setup(struct devproc *dp, const Cellvm__Device__DeviceSetup *setup, int *backend_fds,
		     size_t nbackend, struct devproc_info *info)
{
	const Cellvm__Device__SndConfig *cfg = setup->snd;
	uint32_t playback = cfg ? cfg->playback : 1, capture = cfg ? cfg->capture : 1;
	uint32_t periods = cfg && cfg->ring_periods ? cfg->ring_periods : SND_RING_PERIODS;
	uint32_t pbytes =
		cfg && cfg->ring_period_bytes ? cfg->ring_period_bytes : SND_RING_PERIOD_BYTES;
	uint32_t chans = cfg && cfg->max_channels ? cfg->max_channels : SND_DEFAULT_CHANNELS;
	uint32_t sinks = cfg ? cfg->sinks : 0, source = cfg ? cfg->source : 0;
	uint32_t sink_idx = cfg ? cfg->wav_sink_fd_index : 0;
	uint32_t src_idx = cfg ? cfg->wav_source_fd_index : 0;
	struct snd *g = dp->priv;
	bool ring, wav_sink, wav_src;
	struct snd_hooks hooks = {g, snd_complete, snd_hook_play, snd_hook_capture,
				  snd_hook_stopped};
	int r;

	/* UNTRUSTED(launcher): a peer, checked: stream counts, the ring's
	 * geometry, sinks and source, and each fd index among the backends. */
	if (dp->index != 0 || (sinks & ~(SND_SINK_RING | SND_SINK_WAV)) || source > SND_SOURCE_WAV)
		return -EINVAL;
	ring = sinks & SND_SINK_RING;
	wav_sink = sinks & SND_SINK_WAV;
	wav_src = source == SND_SOURCE_WAV;
	if ((ring && nbackend < 1) || (wav_sink && !snd_index_ok(sink_idx, nbackend, ring)) ||
	    (wav_src && !snd_index_ok(src_idx, nbackend, ring)) ||
	    (wav_sink && wav_src && sink_idx == src_idx))
		return -EINVAL;
	g->dp = dp;
	g->timer_fd = -1;
	snd_io_init(&g->io);
	r = snd_model_init(&g->m, &dp->mem, playback, capture, chans, &hooks);
	if (r < 0)
		return r;
	if (ring) {
		/* [0] the ring; the rest but the WAV files its readers. */
		for (size_t i = 1; i < nbackend; i++)
			if (!(wav_sink && i == sink_idx) && !(wav_src && i == src_idx))
				(void)devproc_readers_setup(&g->readers, backend_fds[i]);
		r = snd_io_ring(&g->io, backend_fds[0], periods, pbytes, playback, g->readers.fds,
				g->readers.n);
		if (r < 0)
			return r;
	}
	if (wav_sink) {
		r = snd_io_wav_sink(&g->io, backend_fds[sink_idx]);
		if (r < 0)
			return r;
	}
	if (wav_src) {
		r = snd_io_wav_source(&g->io, backend_fds[src_idx]);
		if (r < 0)
			return r;
	}
	/* Made here: the sandbox has timerfd_settime, not timerfd_create. */
	g->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (g->timer_fd < 0)
		return -errno;

	info->device_id = VIRTIO_ID_SOUND;
	info->features = 1ULL << 32 /* VIRTIO_F_VERSION_1 */ | 1ULL << VIRTIO_RING_F_EVENT_IDX |
			 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	snd_model_config(&g->m, info->config);
	info->config_len = SND_CONFIG_LEN;
	info->num_queues = SND_NQUEUES;
	info->queue_max_size = SND_QUEUE_SIZE;
	log_info("%u playback and %u capture streams, up to %u channels; sinks:%s%s%s; source: %s",
		 playback, capture, chans, sinks & SND_SINK_RING ? " ring" : "",
		 sinks & SND_SINK_WAV ? " wav" : "", sinks ? "" : " none",
		 source == SND_SOURCE_WAV ? "wav" : "silence");
	return 0;
}

/* ---- audio readers (CaptureSubscribe) and pushed sound ---- */

static int snd_subscribe(struct devproc *dp, uint64_t id, int efd)
{
	struct snd *g = dp->priv;

	devproc_readers_add(&g->readers, id, efd, g->io.have_ring, "audio reader");
	g->io.ring.nefds = g->readers.n;
	return 0;
}

static int snd_unsubscribe(struct devproc *dp, uint64_t id)
{
	struct snd *g = dp->priv;

	devproc_readers_remove(&g->readers, id, "audio reader");
	g->io.ring.nefds = g->readers.n;
	return 0;
}

static int snd_audio_source(struct devproc *dp, uint64_t id, int fd)
{
	struct snd *g = dp->priv;

	/* Nothing would ever read it: the pusher would wait on a full pipe. */
	if (g->m.capture == 0) {
		log_warn("pushed sound %llu refused: no capture stream", (unsigned long long)id);
		close(fd);
		return 0;
	}
	snd_io_push(&g->io, id, fd);
	return 0;
}

const struct devproc_ops snd_ops = {
	.kind = "snd",
	.setup = snd_setup,
	.sandboxed = snd_sandboxed,
	.activate = snd_activate,
	.stats = snd_stats,
	.kick = snd_kick,
	.reset = snd_reset,
	.keep_fds = snd_keep_fds,
	.subscribe = snd_subscribe,
	.unsubscribe = snd_unsubscribe,
	.audio_source = snd_audio_source,
};
