/* The virtio-snd model of cellvm-dev-snd (virtio 1.2, 5.14): its jacks,
 * streams and channel maps, the control queue's requests (snd_ctl.c), and
 * the PCM transfers with their real-time pacing (snd_pcm.c). Pure: no fds,
 * no clock (the caller passes CLOCK_MONOTONIC nanoseconds), so the device
 * tests' fuzzers drive it in-process; what it plays and what it captures go
 * through struct snd_hooks. Runs in the snd process; every chain it is
 * handed is UNTRUSTED(guest): requests are copied out once and checked
 * before anything is touched, and a bad request costs only its status. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pcm.h"
#include "dev-procs/devlib/virtq.h"

#define VIRTIO_ID_SOUND 25

#define SND_CTRLQ      0
#define SND_EVENTQ     1
#define SND_TXQ	       2
#define SND_RXQ	       3
#define SND_NQUEUES    4
#define SND_QUEUE_SIZE 256

#define SND_MAX_STREAMS	     8 /* 4 per direction */
#define SND_MAX_DIR_STREAMS  4
#define SND_MAX_BUFFER_BYTES (4u << 20) /* the most a stream's buffer may be */
#define SND_CONFIG_LEN	     12		/* jacks, streams, chmaps */
#define SND_QUERY_MAX_SIZE   1024	/* the largest item size a query may ask for */

/* virtio_snd.h's request and status codes. */
enum {
	SND_R_JACK_INFO = 1,
	SND_R_JACK_REMAP = 2,
	SND_R_PCM_INFO = 0x0100,
	SND_R_PCM_SET_PARAMS = 0x0101,
	SND_R_PCM_PREPARE = 0x0102,
	SND_R_PCM_RELEASE = 0x0103,
	SND_R_PCM_START = 0x0104,
	SND_R_PCM_STOP = 0x0105,
	SND_R_CHMAP_INFO = 0x0200,
	SND_S_OK = 0x8000,
	SND_S_BAD_MSG = 0x8001,
	SND_S_NOT_SUPP = 0x8002,
	SND_S_IO_ERR = 0x8003,
};

#define SND_D_OUTPUT 0
#define SND_D_INPUT  1

/* The sizes of the structs on the wire. */
#define SND_JACK_INFO_LEN  24
#define SND_PCM_INFO_LEN   32
#define SND_CHMAP_INFO_LEN 24
#define SND_SET_PARAMS_LEN 24
#define SND_STATUS_LEN	   8 /* virtio_snd_pcm_status */
#define SND_XFER_LEN	   4 /* virtio_snd_pcm_xfer */

/* What is offered: S16, S24, S32, FLOAT; 8000..192000 Hz (the spec's rate
 * bits 1..12). */
#define SND_FORMATS                                                                                \
	((1ULL << CELLVM_AUDIO_S16) | (1ULL << CELLVM_AUDIO_S24) | (1ULL << CELLVM_AUDIO_S32) |    \
	 (1ULL << CELLVM_AUDIO_FLOAT))
#define SND_RATE_FIRST 1  /* VIRTIO_SND_PCM_RATE_8000 */
#define SND_RATE_LAST  12 /* VIRTIO_SND_PCM_RATE_192000 */

/* The stream states of 5.14.6.6.1. */
enum snd_state {
	SND_ST_INIT,	 /* no parameters yet */
	SND_ST_PARAMS,	 /* SET_PARAMS */
	SND_ST_PREPARED, /* PREPARE: buffers are taken and held */
	SND_ST_RUNNING,	 /* START: buffers are played / filled in real time */
	SND_ST_STOPPED,	 /* STOP: held, the time line paused */
	SND_ST_RELEASED, /* RELEASE: every buffer given back */
};

/* A transfer the device holds: tx PCM copied out when it was taken, rx
 * the host views of the guest's writable data. */
struct snd_wseg {
	uint8_t *host;
	uint32_t len;
};

struct snd_buf {
	uint16_t head;
	uint32_t bytes;	     /* PCM bytes */
	uint8_t *pcm;	     /* tx: a copy (malloc'd), made when it starts to play */
	struct snd_wseg *ws; /* the data's segments in guest RAM (malloc'd) */
	uint32_t nws;
	uint8_t *status; /* the 8-byte virtio_snd_pcm_status in guest RAM */
	uint64_t end_ns; /* once started: when its last frame has played */
	bool started;
};

struct snd_stream {
	uint32_t id;
	uint8_t dir; /* SND_D_OUTPUT, SND_D_INPUT */
	enum snd_state state;
	struct pcm_spec spec;
	uint32_t buffer_bytes, period_bytes, frame_bytes;
	/* Held transfers, in order: a ring of SND_QUEUE_SIZE (a queue's
	 * heads can be held only once each). */
	struct snd_buf held[SND_QUEUE_SIZE];
	uint32_t first, nheld;
	uint64_t held_bytes;
	/* The time line while running. */
	uint64_t next_ns;  /* where the next buffer starts */
	uint64_t stop_ns;  /* when STOP paused it */
	uint64_t position; /* frames since START */
	bool discont;	   /* the next period is the first after START */
	bool underrun;	   /* the guest let it run dry: the next buffer starts when it comes */
};

struct snd_model;

/* What the model does to the world; any may be NULL. */
struct snd_hooks {
	void *ctx;
	/* A held chain goes back to the guest on queue (SND_TXQ/SND_RXQ)
	 * with used bytes written (its status already in place). */
	void (*complete)(void *ctx, uint32_t queue, uint16_t head, uint32_t used);
	/* Playback: a buffer starts playing at ts_ns. */
	void (*play)(void *ctx, const struct snd_stream *s, const uint8_t *pcm, uint32_t bytes,
		     uint64_t ts_ns, uint64_t position, bool discont);
	/* Capture: fill out (bytes, whole frames of s->spec, at most 16 KiB
	 * a call) with what the source has. */
	void (*capture)(void *ctx, const struct snd_stream *s, uint8_t *out, uint32_t bytes);
	/* A stream stopped, was released or reset (the WAV sink's sizes). */
	void (*stopped)(void *ctx, const struct snd_stream *s);
};

struct snd_counts {
	uint64_t ctrl, xfers, bytes_in, bytes_out, errors;
};

struct snd_model {
	const struct gmem *mem;
	uint32_t playback, capture, nstreams, max_channels;
	uint32_t njacks, nchmaps;
	struct snd_stream streams[SND_MAX_STREAMS];
	struct snd_hooks hooks;
	struct snd_counts count;
	uint32_t queue_size; /* the bound of held buffers per stream */
};

/* playback + capture streams (each 0..4, at least one), channels 1..8
 * offered. Returns 0 or -EINVAL. */
int snd_model_init(struct snd_model *m, const struct gmem *mem, uint32_t playback, uint32_t capture,
		   uint32_t max_channels, const struct snd_hooks *hooks);
/* The configuration space (SND_CONFIG_LEN bytes). */
void snd_model_config(const struct snd_model *m, uint8_t *config);
/* The driver reset the device: every held buffer dropped (not completed:
 * guest memory is not touched again), every stream back to INIT. */
void snd_model_reset(struct snd_model *m);
/* Free what the model holds (snd_model_reset without the stopped hooks). */
void snd_model_destroy(struct snd_model *m);

/* snd_ctl.c: one control request; returns the used length (the response
 * written into the chain's writable part, cut to what it holds). */
uint32_t snd_ctl_request(struct snd_model *m, const struct virtq_chain *c, uint64_t now_ns);

/* snd_pcm.c: one chain of the tx (SND_TXQ) or rx (SND_RXQ) queue. Either
 * the model holds it (returns true) or answers it at once (its status
 * written: returns false with *ret_used). */
bool snd_pcm_xfer(struct snd_model *m, uint32_t queue, const struct virtq_chain *c, uint64_t now_ns,
		  uint32_t *ret_used);
/* Play and capture what is due at now_ns (completing through the hooks);
 * returns when to call again (CLOCK_MONOTONIC ns), 0 when nothing runs. */
uint64_t snd_pcm_run(struct snd_model *m, uint64_t now_ns);
/* For the control requests: START's, STOP's, RELEASE's work on the held
 * buffers (RELEASE and SET_PARAMS give every held one back). */
void snd_pcm_start(struct snd_model *m, struct snd_stream *s, uint64_t now_ns);
void snd_pcm_stop(struct snd_model *m, struct snd_stream *s, uint64_t now_ns);
void snd_pcm_flush(struct snd_model *m, struct snd_stream *s, uint32_t status);
/* Nanoseconds that bytes of s's parameters last. */
uint64_t snd_pcm_duration_ns(const struct snd_stream *s, uint64_t bytes);
/* The virtio rate index's frames per second (0: not one we offer). */
uint32_t snd_rate_hz(uint32_t idx);
