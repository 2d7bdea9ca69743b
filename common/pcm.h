/* PCM audio in the formats the snd device offers (proto/audio_ring.h's
 * enum cellvm_audio_format): WAV headers read and written, and conversion
 * between any two {format, rate, channels}. Used by cellvm-dev-snd (its WAV
 * sources and sink, the API's pushed sound), the broker (the WAV stream of
 * GET /vm/{id}/audio) and cellctl. Pure: no I/O, no allocation.
 *
 * UNTRUSTED: wav_parse reads bytes from a file or an API client; every
 * field is checked before it is used (fuzz_wav). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/audio_ring.h"

struct pcm_spec {
	uint32_t format;   /* enum cellvm_audio_format */
	uint32_t rate;	   /* CELLVM_AUDIO_MIN_RATE..CELLVM_AUDIO_MAX_RATE */
	uint32_t channels; /* 1..CELLVM_AUDIO_MAX_CHANNELS */
};

/* Whether s is one of ours: a known format, rate and channels in range. */
bool pcm_spec_valid(const struct pcm_spec *s);
/* Bytes per frame (sample bytes times channels); 0 for an invalid spec. */
uint32_t pcm_frame_bytes(const struct pcm_spec *s);

/* ---- WAV (RIFF/WAVE) ---- */

#define WAV_HEADER_BYTES     44 /* what wav_header writes (WAVE_FORMAT_EXTENSIBLE: 68) */
#define WAV_HEADER_MAX_BYTES 68
#define WAV_PARSE_MAX_BYTES  4096	 /* chunks before "data" beyond this: refused */
#define WAV_SIZE_STREAMING   0xffffffffu /* data size of a stream to EOF */

/* Parse a WAV header from the first len bytes of a file or stream: RIFF,
 * WAVE, a "fmt " chunk (PCM 16/32-bit integer, 24 bits in 32, IEEE float
 * 32-bit; WAVE_FORMAT_EXTENSIBLE with those subformats; 8..192 kHz, 1..8
 * channels), any other chunks skipped, up to the "data" chunk, within
 * WAV_PARSE_MAX_BYTES. On success fills *spec, *data_bytes (the data
 * chunk's size; UINT64_MAX for 0 or WAV_SIZE_STREAMING: to EOF) and
 * *header_len (where the PCM starts) and returns 0. Returns -EAGAIN when
 * the header is cut short (read more and call again), -EBADMSG for a
 * malformed header, -ENOTSUP for a well-formed one in a format not listed
 * above; err (may be NULL) then says why. */
int wav_parse(const uint8_t *buf, size_t len, struct pcm_spec *spec, uint64_t *data_bytes,
	      size_t *header_len, char *err, size_t errlen);
/* Write a canonical 44-byte WAV header (WAVE_FORMAT_PCM, or _IEEE_FLOAT for
 * CELLVM_AUDIO_FLOAT; S24 as 32-bit samples with 24 valid bits: the 68-byte
 * WAVE_FORMAT_EXTENSIBLE form) for data_bytes of PCM (WAV_SIZE_STREAMING:
 * unknown, a stream). Returns the header's length, 0 for an invalid spec. */
size_t wav_header(uint8_t out[WAV_HEADER_MAX_BYTES], const struct pcm_spec *s, uint32_t data_bytes);

/* ---- conversion ---- */

/* Converts a stream of in frames to out frames: samples to float and back
 * (clamped), channels to mono averaged, else output channel j from input
 * channel j % in.channels (mono spread to all, extra channels dropped), rate by linear
 * interpolation with the phase carried across calls (an identical spec passes bytes through
 * unchanged). Holds no pointers: copy it freely. */
struct pcm_conv {
	struct pcm_spec in, out;
	uint64_t step;	/* in.rate / out.rate in 32.32 fixed point */
	uint64_t phase; /* position between prev and cur, 32.32 */
	float prev[CELLVM_AUDIO_MAX_CHANNELS], cur[CELLVM_AUDIO_MAX_CHANNELS];
	uint32_t primed; /* frames loaded so far, up to 2 (prev and cur) */
};

/* Returns 0 or -EINVAL (a spec not valid). */
int pcm_conv_init(struct pcm_conv *c, const struct pcm_spec *in, const struct pcm_spec *out);
/* Convert from in (in_bytes; a partial frame at its end is left unused)
 * into out (out_cap bytes; whole frames only). Stops when either runs out.
 * Sets *in_used to the bytes consumed and returns the bytes written. */
size_t pcm_conv_run(struct pcm_conv *c, const void *in, size_t in_bytes, size_t *in_used, void *out,
		    size_t out_cap);
/* Silence of spec s into out (bytes, whole frames). */
void pcm_silence(const struct pcm_spec *s, void *out, size_t bytes);
