/* cellvm-dev-snd's backends: where playback goes (the audio capture ring,
 * a WAV file, nowhere) and where capture comes from (silence, a WAV file
 * played in a loop, or a WAV stream pushed through AudioSource). Runs in
 * the snd process, after the model has checked the guest's requests. The
 * WAV source and a pushed stream are UNTRUSTED(user): parsed by wav_parse,
 * converted by pcm_conv, never trusted for a size. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pcm.h"
#include "dev-procs/snd/audio_ring.h"
#include "dev-procs/snd/snd_ctl.h"

#define SND_SINK_RING	   1u
#define SND_SINK_WAV	   2u
#define SND_SOURCE_SILENCE 0u
#define SND_SOURCE_WAV	   1u
#define SND_STAGE	   4096 /* input bytes a converter reads ahead */

/* A converter fed from a byte source, a stage at a time. */
struct snd_pull {
	struct pcm_conv conv;
	bool init;
	uint8_t stage[SND_STAGE];
	size_t have, off;
};

struct snd_io {
	/* The ring sink. */
	struct audio_ring ring;
	bool have_ring;
	uint64_t ring_errors;
	/* The WAV sink: playback stream 0, in the parameters of its first
	 * period (later ones converted to them). */
	int wav_fd; /* -1: none */
	bool wav_failed, wav_started, wav_rewrite;
	struct pcm_spec wav_spec;
	size_t wav_hdr_len;
	uint64_t wav_bytes;
	struct pcm_conv wav_conv;
	bool wav_conv_init;
	/* The configured capture source. */
	uint32_t source;
	int src_fd; /* the WAV source, -1: none */
	struct pcm_spec src_spec;
	uint64_t src_start, src_end; /* its PCM: whole frames */
	uint64_t src_pos[SND_MAX_STREAMS];
	struct snd_pull src_pull[SND_MAX_STREAMS];
	/* A pushed WAV stream (AudioSource), while it lasts. */
	int push_fd; /* -1: none */
	uint64_t push_id;
	uint8_t push_hdr[WAV_PARSE_MAX_BYTES];
	size_t push_hdr_len;
	bool push_parsed;
	struct pcm_spec push_spec;
	uint64_t push_left; /* PCM bytes still to read; UINT64_MAX: to EOF */
	struct snd_pull push_pull;
	uint64_t push_bytes; /* read so far (the log line at its end) */
};

/* Nothing: no ring, no WAV sink, silence. */
void snd_io_init(struct snd_io *io);
/* The ring sink over memfd (setup, before the sandbox). */
int snd_io_ring(struct snd_io *io, int memfd, uint32_t nperiods, uint32_t period_bytes,
		uint32_t nstreams, const int *efds, size_t nefds);
/* The WAV sink: fd a regular file opened for writing (checked). */
int snd_io_wav_sink(struct snd_io *io, int fd);
/* The WAV source: fd a regular file (its header read and checked here,
 * before the sandbox). Returns 0, or -EINVAL/-EBADMSG/-ENOTSUP. */
int snd_io_wav_source(struct snd_io *io, int fd);
/* AudioSource: fd (taken: closed when it ends or is replaced) carries a
 * WAV stream for the capture streams. */
void snd_io_push(struct snd_io *io, uint64_t id, int fd);

/* The model's hooks (struct snd_hooks with ctx = io). */
void snd_io_play(void *ctx, const struct snd_stream *s, const uint8_t *pcm, uint32_t bytes,
		 uint64_t ts_ns, uint64_t position, bool discont);
void snd_io_capture(void *ctx, const struct snd_stream *s, uint8_t *out, uint32_t bytes);
void snd_io_stopped(void *ctx, const struct snd_stream *s);

/* Fill dst (bytes, whole frames of out) from p, reading input of spec in
 * through rd; returns the bytes filled (less when the source ran dry). */
size_t snd_pull_run(struct snd_pull *p, const struct pcm_spec *in, const struct pcm_spec *out,
		    uint8_t *dst, size_t bytes, long (*rd)(void *arg, uint8_t *buf, size_t len),
		    void *arg);

void snd_io_close(struct snd_io *io);
