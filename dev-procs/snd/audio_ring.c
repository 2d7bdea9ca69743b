/* The audio capture ring's writer; see audio_ring.h. Runs in cellvm-dev-snd
 * (and in the ring's unit test and the fuzzers). Its inputs were checked by
 * the snd model; the ring itself is never read back. */
#include "dev-procs/snd/audio_ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t audio_ring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void audio_ring_store64(uint64_t *p, uint64_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, mo);
}

int audio_ring_init(struct audio_ring *r, int memfd, uint32_t nperiods, uint32_t period_bytes,
		    uint32_t nstreams, const int *efds, size_t nefds)
{
	struct cellvm_audio_header *h;
	uint64_t bytes, slot;
	struct stat st;
	void *map;

	memset(r, 0, sizeof(*r));
	if (nperiods < 2 || nperiods > CELLVM_AUDIO_MAX_PERIODS || period_bytes < 1 ||
	    period_bytes > CELLVM_AUDIO_MAX_PERIOD_BYTES)
		return -EINVAL;
	bytes = cellvm_audio_ring_bytes(nperiods, period_bytes);
	slot = ((uint64_t)period_bytes + CELLVM_AUDIO_DATA_OFFSET + 63) & ~63ULL;
	if (fstat(memfd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < bytes || bytes > SIZE_MAX)
		return -EINVAL;
	map = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED)
		return -errno;

	/* A ring reused after a restart may have readers: they see the magic
	 * go away, then a new ring (created_ns differs). The old slots' seqs
	 * go to 0 so no old period passes as new. */
	h = map;
	atomic_store_explicit((_Atomic uint32_t *)&h->magic, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memset((uint8_t *)map + sizeof(h->magic), 0, CELLVM_AUDIO_HEADER_SIZE - sizeof(h->magic));
	for (uint32_t i = 0; i < nperiods; i++)
		memset((uint8_t *)map + CELLVM_AUDIO_HEADER_SIZE + (uint64_t)i * slot, 0,
		       sizeof(struct cellvm_audio_period));
	h->version = CELLVM_AUDIO_VERSION;
	h->header_size = CELLVM_AUDIO_HEADER_SIZE;
	h->nperiods = nperiods;
	h->slot_size = slot;
	h->slots_offset = CELLVM_AUDIO_HEADER_SIZE;
	h->period_bytes = period_bytes;
	h->nstreams = nstreams;
	h->created_ns = audio_ring_now_ns();
	atomic_store_explicit((_Atomic uint32_t *)&h->magic, CELLVM_AUDIO_MAGIC,
			      memory_order_release);

	r->hdr = h;
	r->size = (size_t)bytes;
	r->efds = efds;
	r->nefds = nefds;
	r->slot_size = slot;
	r->slots_offset = CELLVM_AUDIO_HEADER_SIZE;
	r->nperiods = nperiods;
	r->period_bytes = period_bytes;
	return 0;
}

/* One period into the next slot, under its seqlock. */
static void audio_ring_put(struct audio_ring *r, const struct cellvm_audio_period *meta,
			   const uint8_t *pcm)
{
	uint64_t serial = ++r->serial;
	struct cellvm_audio_period *p =
		(struct cellvm_audio_period *)((uint8_t *)r->hdr + r->slots_offset +
					       (serial % r->nperiods) * r->slot_size);

	audio_ring_store64(&p->seq, 2 * serial - 1, memory_order_relaxed);
	/* Readers that see the new contents see the odd seq first. */
	atomic_thread_fence(memory_order_release);
	p->serial = serial;
	p->timestamp_ns = meta->timestamp_ns;
	p->position = meta->position;
	p->stream = meta->stream;
	p->format = meta->format;
	p->rate = meta->rate;
	p->channels = meta->channels;
	p->bytes = meta->bytes;
	p->flags = meta->flags;
	p->reserved[0] = p->reserved[1] = 0;
	memcpy((uint8_t *)p + CELLVM_AUDIO_DATA_OFFSET, pcm, meta->bytes);
	audio_ring_store64(&p->seq, 2 * serial, memory_order_release);
	audio_ring_store64(&r->hdr->period_serial, serial, memory_order_release);
}

int audio_ring_publish(struct audio_ring *r, uint32_t stream, uint32_t format, uint32_t rate,
		       uint32_t channels, const uint8_t *pcm, size_t bytes, uint64_t timestamp_ns,
		       uint64_t position, uint32_t flags)
{
	uint32_t sb = cellvm_audio_sample_bytes(format), fb, chunk;
	struct cellvm_audio_period meta = {.stream = stream,
					   .format = format,
					   .rate = rate,
					   .channels = channels,
					   .flags = flags};
	uint64_t frames_done = 0, one = 1;
	int n = 0;

	if (!r->hdr || sb == 0 || channels < 1 || channels > CELLVM_AUDIO_MAX_CHANNELS ||
	    rate < CELLVM_AUDIO_MIN_RATE || rate > CELLVM_AUDIO_MAX_RATE)
		return -EINVAL;
	fb = sb * channels;
	chunk = r->period_bytes / fb * fb;
	if (bytes % fb || chunk == 0)
		return -EINVAL;
	while (bytes) {
		uint32_t b = bytes < chunk ? (uint32_t)bytes : chunk;

		/* A period's timestamp is when its own first frame played. */
		meta.timestamp_ns = timestamp_ns + frames_done * 1000000000u / rate;
		meta.position = position + frames_done;
		meta.bytes = b;
		audio_ring_put(r, &meta, pcm);
		meta.flags = 0;
		pcm += b;
		bytes -= b;
		frames_done += b / fb;
		n++;
	}
	if (n > 1)
		r->periods_split++;
	/* Never block: a reader that has not drained its eventfd in 2^64 - 2
	 * wakeups gets EAGAIN here and still finds the latest period. */
	for (size_t i = 0; i < r->nefds && n; i++)
		(void)!write(r->efds[i], &one, sizeof(one));
	return n;
}

void audio_ring_destroy(struct audio_ring *r)
{
	if (r->hdr)
		munmap(r->hdr, r->size);
	memset(r, 0, sizeof(*r));
}
