/* The control queue of cellvm-dev-snd's model; see snd_ctl.h. A request is
 * copied out of the chain's readable part once into a local buffer, and
 * only that copy is read; the response is built locally (bounded by the
 * model's few items) and written into the writable part. Every request is
 * answered here, synchronously: Linux gives each one a second. */
#include "dev-procs/snd/snd_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SND_REQ_MAX  64 /* the longest request we read (SET_PARAMS: 24) */
#define SND_RESP_MAX (4 + SND_MAX_STREAMS * SND_QUERY_MAX_SIZE)

static uint32_t snd_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void snd_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void snd_put64(uint8_t *p, uint64_t v)
{
	snd_put32(p, (uint32_t)v);
	snd_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t snd_rate_hz(uint32_t idx)
{
	static const uint32_t hz[] = {5512,  8000,  11025, 16000, 22050,  32000,  44100,
				      48000, 64000, 88200, 96000, 176400, 192000, 384000};

	if (idx < SND_RATE_FIRST || idx > SND_RATE_LAST)
		return 0;
	return hz[idx];
}

int snd_model_init(struct snd_model *m, const struct gmem *mem, uint32_t playback, uint32_t capture,
		   uint32_t max_channels, const struct snd_hooks *hooks)
{
	memset(m, 0, sizeof(*m));
	if (playback > SND_MAX_DIR_STREAMS || capture > SND_MAX_DIR_STREAMS ||
	    playback + capture == 0 || max_channels < 1 || max_channels > CELLVM_AUDIO_MAX_CHANNELS)
		return -EINVAL;
	m->mem = mem;
	m->playback = playback;
	m->capture = capture;
	m->nstreams = playback + capture;
	m->max_channels = max_channels;
	/* One jack per direction that has streams, one channel map per stream. */
	m->njacks = (playback > 0) + (capture > 0);
	m->nchmaps = m->nstreams;
	m->queue_size = SND_QUEUE_SIZE;
	if (hooks)
		m->hooks = *hooks;
	for (uint32_t i = 0; i < m->nstreams; i++) {
		m->streams[i].id = i;
		m->streams[i].dir = i < playback ? SND_D_OUTPUT : SND_D_INPUT;
		m->streams[i].state = SND_ST_INIT;
	}
	return 0;
}

void snd_model_config(const struct snd_model *m, uint8_t *config)
{
	snd_put32(config, m->njacks);
	snd_put32(config + 4, m->nstreams);
	snd_put32(config + 8, m->nchmaps);
}

void snd_model_reset(struct snd_model *m)
{
	for (uint32_t i = 0; i < m->nstreams; i++) {
		struct snd_stream *s = &m->streams[i];
		bool had = s->state == SND_ST_RUNNING || s->state == SND_ST_STOPPED;

		/* Not completed: after a reset the rings are the driver's. */
		for (uint32_t k = 0; k < s->nheld; k++) {
			struct snd_buf *b = &s->held[(s->first + k) % SND_QUEUE_SIZE];

			free(b->pcm);
			free(b->ws);
		}
		s->first = s->nheld = 0;
		s->held_bytes = 0;
		s->state = SND_ST_INIT;
		if (had && m->hooks.stopped)
			m->hooks.stopped(m->hooks.ctx, s);
	}
}

void snd_model_destroy(struct snd_model *m)
{
	m->hooks.stopped = NULL;
	snd_model_reset(m);
}

/* ---- information queries ---- */

static void snd_ctl_jack_info(const struct snd_model *m, uint32_t id, uint8_t *p)
{
	/* The jack of each direction that has streams: outputs first. HDA
	 * pin default configuration: a rear 1/8" jack, line out (green) or
	 * line in (blue); pin capabilities: presence detect, out or in. */
	bool out = id == 0 && m->playback > 0;

	snd_put32(p, 0);     /* hda_fn_nid */
	snd_put32(p + 4, 0); /* features: no remapping */
	snd_put32(p + 8, out ? 0x01014010u : 0x01813030u);
	snd_put32(p + 12, out ? 0x14u : 0x24u);
	p[16] = 1; /* connected */
}

static void snd_ctl_pcm_info(const struct snd_model *m, uint32_t id, uint8_t *p)
{
	uint64_t rates = 0;

	for (uint32_t r = SND_RATE_FIRST; r <= SND_RATE_LAST; r++)
		rates |= 1ULL << r;
	snd_put32(p, 0);     /* hda_fn_nid */
	snd_put32(p + 4, 0); /* features: none of SHMEM, MSG_POLLING, EVT_* */
	snd_put64(p + 8, SND_FORMATS);
	snd_put64(p + 16, rates);
	p[24] = m->streams[id].dir;
	p[25] = 1;
	p[26] = (uint8_t)m->max_channels;
}

static void snd_ctl_chmap_info(const struct snd_model *m, uint32_t id, uint8_t *p)
{
	/* ALSA's order for 1..8 channels: mono, or FL FR RL RR FC LFE SL SR. */
	static const uint8_t pos[CELLVM_AUDIO_MAX_CHANNELS] = {3, 4, 5, 6, 7, 8, 9, 10};

	snd_put32(p, 0); /* hda_fn_nid */
	p[4] = m->streams[id].dir;
	p[5] = (uint8_t)m->max_channels;
	if (m->max_channels == 1)
		p[6] = 2; /* MONO */
	else
		memcpy(p + 6, pos, m->max_channels);
}

/* JACK_INFO, PCM_INFO, CHMAP_INFO: items [start_id, start_id + count) of
 * size bytes each (ours, zero-padded when the driver's is larger). */
static uint32_t snd_ctl_query(const struct snd_model *m, const uint8_t *req, uint32_t code,
			      const struct virtq_chain *c, uint8_t *resp)
{
	/* UNTRUSTED(guest): start_id, count, size; the item range in 64 bits
	 * (start_id + count wraps in 32: CVE-2026-3196), the response's room
	 * checked against count * size before anything is built. */
	uint64_t start = snd_le32(req + 4), count = snd_le32(req + 8), size = snd_le32(req + 12);
	uint32_t items, ours;
	void (*fill)(const struct snd_model *, uint32_t, uint8_t *);

	switch (code) {
	case SND_R_JACK_INFO:
		items = m->njacks, ours = SND_JACK_INFO_LEN, fill = snd_ctl_jack_info;
		break;
	case SND_R_PCM_INFO:
		items = m->nstreams, ours = SND_PCM_INFO_LEN, fill = snd_ctl_pcm_info;
		break;
	default: items = m->nchmaps, ours = SND_CHMAP_INFO_LEN, fill = snd_ctl_chmap_info; break;
	}
	if (start + count > items || size < ours || size > SND_QUERY_MAX_SIZE ||
	    c->write_len < 4 + count * size)
		return SND_S_BAD_MSG;
	memset(resp + 4, 0, count * size);
	for (uint64_t i = 0; i < count; i++) {
		uint32_t id = (uint32_t)(start + i);

		fill(m, id, resp + 4 + i * size);
	}
	return SND_S_OK;
}

/* ---- PCM control ---- */

static uint32_t snd_ctl_set_params(struct snd_model *m, struct snd_stream *s, const uint8_t *req)
{
	/* UNTRUSTED(guest): every field. */
	uint32_t buffer_bytes = snd_le32(req + 8), period_bytes = snd_le32(req + 12);
	uint32_t features = snd_le32(req + 16);
	struct pcm_spec spec = {
		.format = req[21], .rate = snd_rate_hz(req[22]), .channels = req[20]};
	uint32_t fb;

	if (s->state == SND_ST_RUNNING || s->state == SND_ST_STOPPED)
		return SND_S_BAD_MSG;
	if (features != 0 || req[21] > 63 || !(SND_FORMATS & (1ULL << req[21])) || spec.rate == 0 ||
	    spec.channels < 1 || spec.channels > m->max_channels)
		return SND_S_NOT_SUPP;
	fb = pcm_frame_bytes(&spec);
	if (fb == 0)
		return SND_S_NOT_SUPP;
	/* The memory a stream may hold is its buffer: bounded here. */
	if (period_bytes == 0 || period_bytes % fb || buffer_bytes < period_bytes ||
	    buffer_bytes % period_bytes || buffer_bytes > SND_MAX_BUFFER_BYTES)
		return SND_S_BAD_MSG;
	/* Buffers held under the old parameters are given back first. */
	snd_pcm_flush(m, s, SND_S_IO_ERR);
	s->spec = spec;
	s->frame_bytes = fb;
	s->buffer_bytes = buffer_bytes;
	s->period_bytes = period_bytes;
	s->state = SND_ST_PARAMS;
	return SND_S_OK;
}

/* The transitions of 5.14.6.6.1; anything else is BAD_MSG. */
static uint32_t snd_ctl_pcm(struct snd_model *m, uint32_t code, const uint8_t *req, uint64_t now_ns)
{
	uint32_t id = snd_le32(req + 4);
	struct snd_stream *s;

	/* UNTRUSTED(guest): the stream id. */
	if (id >= m->nstreams)
		return SND_S_BAD_MSG;
	s = &m->streams[id];
	switch (code) {
	case SND_R_PCM_SET_PARAMS: return snd_ctl_set_params(m, s, req);
	case SND_R_PCM_PREPARE:
		if (s->state != SND_ST_PARAMS && s->state != SND_ST_PREPARED &&
		    s->state != SND_ST_RELEASED)
			return SND_S_BAD_MSG;
		s->state = SND_ST_PREPARED;
		return SND_S_OK;
	case SND_R_PCM_START:
		if (s->state != SND_ST_PREPARED && s->state != SND_ST_STOPPED)
			return SND_S_BAD_MSG;
		snd_pcm_start(m, s, now_ns);
		return SND_S_OK;
	case SND_R_PCM_STOP:
		if (s->state != SND_ST_RUNNING)
			return SND_S_BAD_MSG;
		snd_pcm_stop(m, s, now_ns);
		return SND_S_OK;
	case SND_R_PCM_RELEASE:
		if (s->state != SND_ST_PREPARED && s->state != SND_ST_STOPPED)
			return SND_S_BAD_MSG;
		/* 5.14.6.6.5: every pending transfer completes first. */
		snd_pcm_flush(m, s, SND_S_OK);
		s->state = SND_ST_RELEASED;
		if (m->hooks.stopped)
			m->hooks.stopped(m->hooks.ctx, s);
		return SND_S_OK;
	default: return SND_S_NOT_SUPP;
	}
}

uint32_t snd_ctl_request(struct snd_model *m, const struct virtq_chain *c, uint64_t now_ns)
{
	static uint8_t resp[SND_RESP_MAX]; /* one request at a time: the loop's */
	uint8_t req[SND_REQ_MAX] = {0};
	uint32_t code, status, len = 4, need;

	m->count.ctrl++;
	/* UNTRUSTED(guest): the request's code decides how much of it we need. */
	if (!virtq_chain_read(c, 0, req, 4)) {
		status = SND_S_BAD_MSG;
		goto answer;
	}
	code = snd_le32(req);
	switch (code) {
	case SND_R_JACK_INFO:
	case SND_R_PCM_INFO:
	case SND_R_CHMAP_INFO: need = 16; break;
	case SND_R_PCM_SET_PARAMS: need = SND_SET_PARAMS_LEN; break;
	case SND_R_PCM_PREPARE:
	case SND_R_PCM_RELEASE:
	case SND_R_PCM_START:
	case SND_R_PCM_STOP: need = 8; break;
	case SND_R_JACK_REMAP: /* no jack offers VIRTIO_SND_JACK_F_REMAP */
	default: status = SND_S_NOT_SUPP; goto answer;
	}
	if (!virtq_chain_read(c, 0, req, need)) {
		status = SND_S_BAD_MSG;
		goto answer;
	}
	if (code == SND_R_JACK_INFO || code == SND_R_PCM_INFO || code == SND_R_CHMAP_INFO) {
		status = snd_ctl_query(m, req, code, c, resp);
		if (status == SND_S_OK)
			len = 4 + snd_le32(req + 8) * snd_le32(req + 12);
	} else {
		status = snd_ctl_pcm(m, code, req, now_ns);
	}
answer:
	if (status != SND_S_OK)
		m->count.errors++;
	snd_put32(resp, status);
	return virtq_chain_write(c, resp, len);
}
