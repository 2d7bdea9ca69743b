/* virtio-snd fixture of the device tests: the real cellvm-dev-snd started
 * by the launcher (sandboxed as in production) with an audio ring memfd,
 * subscriber eventfds and WAV files made here, the harness (vdriver.h) as
 * cellvm-core and as the guest's virtio-snd driver on real control, event,
 * tx and rx queues, and the ring mapped read-only as an audio reader maps
 * it. Runs in test processes only. The device is the untrusted party:
 * every wait is bounded. Functions returning int give >= 0 (a count, a
 * status code) or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "test/harness/vdriver.h"

#define VSND_TIMEOUT_MS 5000
#define VSND_MAX_EFDS	2
#define VSND_SLOT	(128 * 1024)			 /* one transfer's room in guest RAM */
#define VSND_SLOT_DATA	64				 /* a slot's PCM, after its 4-byte header */
#define VSND_SLOT_MAX	(VSND_SLOT - 2 * VSND_SLOT_DATA) /* the most PCM a slot holds */
#define VSND_SCRATCH	(64 * 1024)

struct vsnd_opts {
	uint32_t playback, capture; /* streams */
	uint32_t max_channels;	    /* 0: the device's default (2) */
	/* The ring: 0 periods: none. */
	uint32_t ring_periods, ring_period_bytes;
	uint32_t nefds; /* subscriber eventfds (non-blocking), 0..VSND_MAX_EFDS */
	int wav_sink;	/* a file for the WAV sink (the caller's), or -1 */
	int wav_source; /* a WAV file for the source (the caller's), or -1 */
	uint32_t qsize; /* entries per queue; 0: 64 */
};

struct vsnd {
	struct vdrv_mem mem;
	struct vcore core;
	struct vdrv_queue q[4]; /* control, event, tx, rx */
	uint32_t qsize;
	uint64_t cmd, resp; /* VSND_SCRATCH bytes each, in guest RAM */
	uint64_t slots[4];  /* tx and rx: qsize slots of VSND_SLOT each */
	int ring_fd, efd[VSND_MAX_EFDS];
	uint32_t nefds;
	size_t ring_size;
	const void *ring; /* read-only mapping; NULL without a ring */
	int stats_fd;
	const struct devproc_stats *stats;
	bool started;
};

/* Start the device, Attach, activate the four queues, map the ring. On
 * failure a message in err; everything made is undone. */
int vsnd_start(struct vsnd *t, const struct vsnd_opts *o, char *err, size_t errlen);
/* Fresh queues, Activate with VERSION_1 (after a reset too). */
int vsnd_activate(struct vsnd *t);
/* Close the link, reap the device, unmap and close everything; returns the
 * device's exit status. */
int vsnd_stop(struct vsnd *t);

void *vsnd_host(struct vsnd *t, uint64_t gpa, uint64_t len);
void vsnd_put32(uint8_t *p, uint32_t v);
uint32_t vsnd_le32(const uint8_t *p);
uint64_t vsnd_le64(const uint8_t *p);

/* Post a chain on queue qi and kick, without waiting. Returns the head. */
int vsnd_post(struct vsnd *t, uint32_t qi, const struct vdrv_buf *b, uint32_t n);
/* Wait (the interrupt eventfd, as a guest driver does) for queue qi's next
 * used entry: 1 with *id and *len, 0 on timeout, or -errno. */
int vsnd_wait_used(struct vsnd *t, uint32_t qi, int timeout_ms, uint32_t *id, uint32_t *len);

/* A control request (len bytes) with a response buffer of rlen bytes
 * (0xee first). Returns the response's status code (0 when fewer than 4
 * bytes came back), -errno, or -EPROTO when more than rlen were said to be
 * written; *ret_len the used length. */
int vsnd_ctrl(struct vsnd *t, const uint8_t *req, uint32_t len, uint32_t rlen, uint32_t *ret_len);
const uint8_t *vsnd_resp(struct vsnd *t);
/* JACK_INFO / PCM_INFO / CHMAP_INFO of count items of size bytes, into a
 * response of 4 + count * size bytes (or rlen when not 0). */
int vsnd_query(struct vsnd *t, uint32_t code, uint32_t start, uint32_t count, uint32_t size,
	       uint32_t rlen);
int vsnd_set_params(struct vsnd *t, uint32_t stream, uint32_t buffer_bytes, uint32_t period_bytes,
		    uint32_t channels, uint32_t format, uint32_t rate_idx);
/* PREPARE, START, STOP, RELEASE (or any code) of stream. */
int vsnd_pcm(struct vsnd *t, uint32_t code, uint32_t stream);

/* Transfer slot i of tx (qi 2) or rx (qi 3): header with stream, then
 * bytes of PCM (tx: copied from pcm; rx: device-writable, filled with 0xee
 * first), then the 8-byte status. Posted and kicked, not waited for.
 * Returns the head. */
int vsnd_xfer(struct vsnd *t, uint32_t qi, uint32_t slot, uint32_t stream, const void *pcm,
	      uint32_t bytes);
/* A slot's PCM and status (status code, latency_bytes). */
uint8_t *vsnd_slot_data(struct vsnd *t, uint32_t qi, uint32_t slot);
uint32_t vsnd_slot_status(struct vsnd *t, uint32_t qi, uint32_t slot, uint32_t *ret_latency);

/* The control channel's messages of an audio reader and pushed sound
 * (fds sent, not consumed). */
int vsnd_subscribe(struct vsnd *t, uint64_t id, int efd);
int vsnd_unsubscribe(struct vsnd *t, uint64_t id);
int vsnd_audio_source(struct vsnd *t, uint64_t id, int fd);

/* Alive, answering PCM_INFO of stream 0, no NeedsReset: 0, else -errno. */
int vsnd_serving(struct vsnd *t);
/* An eventfd's count, drained (0 when it had none). */
uint64_t vsnd_efd_take(int fd);
