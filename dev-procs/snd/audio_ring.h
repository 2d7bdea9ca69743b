/* The audio capture ring's writer, in cellvm-dev-snd: every period the guest
 * plays goes into the memfd laid out in proto/audio_ring.h (the launcher
 * made it and handed it over with the setup), and every subscriber eventfd
 * is written once per published period. The writer never waits for a
 * reader and never reads the ring back: a reader holding a writable fd
 * still cannot steer it. Its inputs come from the snd model, which checked
 * the guest's requests. Owns the mapping, not the fds (the caller's). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/audio_ring.h"

struct audio_ring {
	struct cellvm_audio_header *hdr; /* the mapping; NULL when there is no ring */
	size_t size;
	const int *efds; /* subscriber eventfds (the caller's, non-blocking) */
	size_t nefds;
	uint64_t serial; /* the last published period's */
	/* The geometry as audio_ring_init wrote it. */
	uint64_t slot_size, slots_offset;
	uint32_t nperiods, period_bytes;
	uint64_t periods_split; /* publishes cut into more than one period */
};

/* Map memfd (at least cellvm_audio_ring_bytes(nperiods, period_bytes)) and
 * initialise its header for nstreams playback streams. Returns 0 or -errno
 * (-EINVAL: bad geometry, or a memfd too small). */
int audio_ring_init(struct audio_ring *r, int memfd, uint32_t nperiods, uint32_t period_bytes,
		    uint32_t nstreams, const int *efds, size_t nefds);

/* The PCM of one played buffer of stream: bytes (whole frames of
 * format/rate/channels) whose first frame played at timestamp_ns, position
 * frames after the stream's START. A buffer larger than the ring's
 * period_bytes is split into several periods (whole frames each, their
 * timestamps and positions advanced); flags (CELLVM_AUDIO_DISCONT) go on
 * the first only. The subscribers are woken once. Returns the number of
 * periods published, or -EINVAL (a format, rate or channel count the ring
 * cannot carry, or not whole frames). */
int audio_ring_publish(struct audio_ring *r, uint32_t stream, uint32_t format, uint32_t rate,
		       uint32_t channels, const uint8_t *pcm, size_t bytes, uint64_t timestamp_ns,
		       uint64_t position, uint32_t flags);

void audio_ring_destroy(struct audio_ring *r);
