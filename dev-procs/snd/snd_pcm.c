/* PCM transfers of cellvm-dev-snd's model, paced in real time; see
 * snd_ctl.h. A tx chain's PCM is copied out when it is taken (the guest
 * cannot change what plays, and only the copy is read); an rx chain's data
 * segments are kept as checked host views and written at its period's end.
 * Every stream holds at most its buffer_bytes and SND_QUEUE_SIZE chains:
 * the memory a guest can make the device hold is bounded by its
 * parameters, themselves bounded by SND_MAX_BUFFER_BYTES.
 *
 * The time line of a running stream: START puts its origin at now; each
 * buffer starts where the one before ended (the guest's periods played back
 * to back, as a sound card's DMA does) and is given back when its last
 * frame has played (tx) or been captured (rx). A stream the guest lets run
 * dry picks up when the next buffer comes, not earlier. */
#include "dev-procs/snd/snd_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SND_CHUNK 16384 /* the capture hook's largest call */

static void snd_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t snd_pcm_duration_ns(const struct snd_stream *s, uint64_t bytes)
{
	if (!s->frame_bytes || !s->spec.rate)
		return 0;
	/* At most SND_MAX_BUFFER_BYTES frames times 10^9: fits 64 bits. */
	return bytes / s->frame_bytes * 1000000000ULL / s->spec.rate;
}

static struct snd_buf *snd_pcm_head(struct snd_stream *s)
{
	return s->nheld ? &s->held[s->first] : NULL;
}

/* Give b back with status (and, for rx with data, its bytes), and drop it
 * from the held ring (it must be the head). */
static void snd_pcm_finish(struct snd_model *m, struct snd_stream *s, uint32_t status,
			   uint32_t used)
{
	struct snd_buf *b = &s->held[s->first];
	uint8_t st[SND_STATUS_LEN];
	uint16_t head = b->head;

	s->held_bytes -= b->bytes;
	snd_put32(st, status);
	/* latency_bytes: what the device still holds ahead of the guest. */
	snd_put32(st + 4, s->dir == SND_D_OUTPUT ? (uint32_t)s->held_bytes : 0);
	memcpy(b->status, st, sizeof(st));
	free(b->pcm);
	free(b->ws);
	memset(b, 0, sizeof(*b));
	s->first = (s->first + 1) % SND_QUEUE_SIZE;
	s->nheld--;
	if (m->hooks.complete)
		m->hooks.complete(m->hooks.ctx, s->dir == SND_D_OUTPUT ? SND_TXQ : SND_RXQ, head,
				  used);
}

/* Write the capture's data (or silence) into rx buffer b. */
static void snd_pcm_fill(struct snd_model *m, struct snd_stream *s, struct snd_buf *b, bool silence)
{
	static uint8_t tmp[SND_CHUNK];
	uint32_t chunk = SND_CHUNK / s->frame_bytes * s->frame_bytes;
	uint32_t seg = 0, in_seg = 0, left = b->bytes;

	while (left) {
		uint32_t n = left < chunk ? left : chunk, off = 0;

		if (silence || !m->hooks.capture)
			memset(tmp, 0, n);
		else
			m->hooks.capture(m->hooks.ctx, s, tmp, n);
		while (off < n && seg < b->nws) {
			uint32_t k = b->ws[seg].len - in_seg;

			k = k < n - off ? k : n - off;
			memcpy(b->ws[seg].host + in_seg, tmp + off, k);
			off += k;
			in_seg += k;
			if (in_seg == b->ws[seg].len)
				seg++, in_seg = 0;
		}
		left -= n;
	}
	m->count.bytes_out += b->bytes;
}

void snd_pcm_flush(struct snd_model *m, struct snd_stream *s, uint32_t status)
{
	while (s->nheld) {
		struct snd_buf *b = snd_pcm_head(s);
		uint32_t used = SND_STATUS_LEN;

		/* A capture buffer given back OK holds silence, never old RAM. */
		if (s->dir == SND_D_INPUT && status == SND_S_OK) {
			snd_pcm_fill(m, s, b, true);
			used += b->bytes;
		}
		snd_pcm_finish(m, s, status, used);
	}
}

void snd_pcm_start(struct snd_model *m, struct snd_stream *s, uint64_t now_ns)
{
	struct snd_buf *b = snd_pcm_head(s);

	(void)m;
	/* A buffer that was playing when STOP came goes on where it was. */
	if (s->state == SND_ST_STOPPED && b && b->started && b->end_ns > s->stop_ns)
		b->end_ns = now_ns + (b->end_ns - s->stop_ns);
	else if (b && b->started)
		b->end_ns = now_ns;
	s->state = SND_ST_RUNNING;
	s->next_ns = b && b->started ? b->end_ns : now_ns;
	s->position = 0;
	s->discont = true;
	s->underrun = false;
}

void snd_pcm_stop(struct snd_model *m, struct snd_stream *s, uint64_t now_ns)
{
	s->state = SND_ST_STOPPED;
	s->stop_ns = now_ns;
	if (m->hooks.stopped)
		m->hooks.stopped(m->hooks.ctx, s);
}

/* Answer c at once with status into its status field. */
static uint32_t snd_pcm_answer(struct snd_model *m, uint8_t *status_host, uint32_t status)
{
	uint8_t st[SND_STATUS_LEN] = {0};

	if (status != SND_S_OK)
		m->count.errors++;
	snd_put32(st, status);
	memcpy(status_host, st, sizeof(st));
	return SND_STATUS_LEN;
}

/* Views in guest RAM of a buffer's bytes of data: from the segments
 * seg[0..nseg), past their first skip bytes (tx: the readable part past the
 * 8-byte header; rx: the writable part, bytes stopping short of the status). */
static int snd_pcm_views(const struct virtq_seg *seg, uint32_t nseg, uint32_t skip, uint32_t bytes,
			 struct snd_buf *b)
{
	uint32_t n = 0, left = bytes;

	b->ws = calloc(nseg, sizeof(*b->ws));
	if (!b->ws)
		return -ENOMEM;
	for (uint32_t i = 0; i < nseg && left; i++) {
		uint32_t off = seg[i].len < skip ? seg[i].len : skip;
		uint32_t k = seg[i].len - off < left ? seg[i].len - off : left;

		skip -= off;
		if (k)
			b->ws[n++] = (struct snd_wseg){seg[i].host + off, k};
		left -= k;
	}
	b->nws = n;
	return 0;
}

/* Copy tx buffer b's PCM out of guest RAM, when it starts to play. */
static void snd_pcm_gather(struct snd_model *m, struct snd_buf *b)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < b->nws; i++) {
		memcpy(b->pcm + off, b->ws[i].host, b->ws[i].len);
		off += b->ws[i].len;
	}
	m->count.bytes_in += off;
}

bool snd_pcm_xfer(struct snd_model *m, uint32_t queue, const struct virtq_chain *c, uint64_t now_ns,
		  uint32_t *ret_used)
{
	const struct virtq_seg *last = c->nseg > c->nread ? &c->seg[c->nseg - 1] : NULL;
	uint8_t *status, hdr[SND_XFER_LEN];
	struct snd_stream *s;
	struct snd_buf *b;
	uint64_t bytes;
	uint32_t id;

	(void)now_ns;
	m->count.xfers++;
	*ret_used = 0;
	/* UNTRUSTED(guest): the status must fit the last writable segment;
	 * without it there is nothing to answer with. */
	if (!last || last->len < SND_STATUS_LEN) {
		m->count.errors++;
		return false;
	}
	status = last->host + last->len - SND_STATUS_LEN;
	if (c->read_len < SND_XFER_LEN) {
		*ret_used = snd_pcm_answer(m, status, SND_S_BAD_MSG);
		return false;
	}
	(void)virtq_chain_read(c, 0, hdr, SND_XFER_LEN);
	id = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
	     (uint32_t)hdr[3] << 24;
	/* UNTRUSTED(guest): the stream id, its direction against the queue. */
	if (id >= m->nstreams ||
	    m->streams[id].dir != (queue == SND_TXQ ? SND_D_OUTPUT : SND_D_INPUT)) {
		*ret_used = snd_pcm_answer(m, status, SND_S_BAD_MSG);
		return false;
	}
	s = &m->streams[id];
	/* Linux posts playback after PREPARE, before START (it prefills), and
	 * capture just before START: those are held. A stream not prepared
	 * has nowhere to put them. */
	if (s->state != SND_ST_PREPARED && s->state != SND_ST_RUNNING &&
	    s->state != SND_ST_STOPPED) {
		*ret_used = snd_pcm_answer(m, status, SND_S_IO_ERR);
		return false;
	}
	/* UNTRUSTED(guest): the data's size: whole frames, within what the
	 * stream's buffer still has room for (CVE-2024-7730: rx data sized by
	 * the chain, never by the parameters). */
	bytes = queue == SND_TXQ ? c->read_len - SND_XFER_LEN : c->write_len - SND_STATUS_LEN;
	if (bytes == 0 || bytes % s->frame_bytes) {
		*ret_used = snd_pcm_answer(m, status, SND_S_BAD_MSG);
		return false;
	}
	if (bytes > s->buffer_bytes - s->held_bytes || s->nheld >= m->queue_size) {
		*ret_used = snd_pcm_answer(m, status, SND_S_IO_ERR);
		return false;
	}
	b = &s->held[(s->first + s->nheld) % SND_QUEUE_SIZE];
	memset(b, 0, sizeof(*b));
	if (queue == SND_TXQ) {
		b->pcm = malloc(bytes);
		if (!b->pcm) {
			*ret_used = snd_pcm_answer(m, status, SND_S_IO_ERR);
			return false;
		}
		/* Read when it starts to play, not now: Linux 6.1's driver
		 * posts a period's buffer again as soon as it has played,
		 * before the application has refilled it (what a sound
		 * card's DMA would read later). */
		if (snd_pcm_views(c->seg, c->nread, SND_XFER_LEN, (uint32_t)bytes, b) < 0) {
			free(b->pcm);
			b->pcm = NULL;
			*ret_used = snd_pcm_answer(m, status, SND_S_IO_ERR);
			return false;
		}
	} else if (snd_pcm_views(c->seg + c->nread, c->nseg - c->nread, 0, (uint32_t)bytes, b) <
		   0) {
		*ret_used = snd_pcm_answer(m, status, SND_S_IO_ERR);
		return false;
	}
	b->head = c->head;
	b->bytes = (uint32_t)bytes;
	b->status = status;
	s->nheld++;
	s->held_bytes += bytes;
	return true;
}

/* One running stream: start its head, complete what has played. Returns
 * its next deadline (0: none). */
static uint64_t snd_pcm_run_stream(struct snd_model *m, struct snd_stream *s, uint64_t now_ns)
{
	for (;;) {
		struct snd_buf *b = snd_pcm_head(s);
		uint64_t start;

		if (!b) {
			s->underrun = true;
			return 0;
		}
		if (!b->started) {
			start = s->underrun && now_ns > s->next_ns ? now_ns : s->next_ns;
			s->underrun = false;
			b->started = true;
			b->end_ns = start + snd_pcm_duration_ns(s, b->bytes);
			if (s->dir == SND_D_OUTPUT)
				snd_pcm_gather(m, b);
			if (s->dir == SND_D_OUTPUT && m->hooks.play)
				m->hooks.play(m->hooks.ctx, s, b->pcm, b->bytes, start, s->position,
					      s->discont);
			s->discont = false;
			s->position += b->bytes / s->frame_bytes;
			s->next_ns = b->end_ns;
		}
		if (b->end_ns > now_ns)
			return b->end_ns;
		if (s->dir == SND_D_INPUT) {
			snd_pcm_fill(m, s, b, false);
			snd_pcm_finish(m, s, SND_S_OK, SND_STATUS_LEN + b->bytes);
		} else {
			snd_pcm_finish(m, s, SND_S_OK, SND_STATUS_LEN);
		}
	}
}

uint64_t snd_pcm_run(struct snd_model *m, uint64_t now_ns)
{
	uint64_t next = 0;

	for (uint32_t i = 0; i < m->nstreams; i++) {
		struct snd_stream *s = &m->streams[i];
		uint64_t d;

		if (s->state != SND_ST_RUNNING)
			continue;
		d = snd_pcm_run_stream(m, s, now_ns);
		if (d && (!next || d < next))
			next = d;
	}
	return next;
}
