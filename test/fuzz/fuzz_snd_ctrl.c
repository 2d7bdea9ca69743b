/* libFuzzer target for cellvm-dev-snd's model (dev-procs/snd: snd_ctl.c,
 * snd_pcm.c) with the real audio ring writer behind it: a sequence of
 * control requests, tx and rx transfers and clock ticks, in-process, over a
 * fake guest RAM, with two playback and two capture streams. Layout,
 * repeated until the input ends: byte 0 (bits 0-1: 0 control, 1 tx, 2 rx,
 * 3 the clock; bits 2-7: where the request splits into two readable
 * segments, in 4-byte steps), le16 request length (mod 4097), le16 writable
 * length (mod 4097; for the clock: milliseconds to advance), then the
 * request's bytes. Checks besides the sanitizers: no answer claims more
 * than its chain's writable part, nothing is written past it, no stream
 * holds more than its buffer or the queue's entries, and the driver's reset
 * gives back every held buffer (LeakSanitizer sees the rest). Built with
 * -DFUZZ_SEEDGEN it writes seed inputs: the device test's cases. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev-procs/snd/audio_ring.h"
#include "dev-procs/snd/snd_ctl.h"
#include "test/fuzz/fuzz_check.h"

#define RAM_SIZE     GMEM_MIN_SIZE
#define MAX_REQ	     4096
#define MAX_WRITE    4096
#define REGION	     0x3000 /* one op's room: readable, then writable, then a canary */
#define REGIONS	     64
#define REGIONS_AT   0x10000
#define RING_PERIODS 4
#define RING_BYTES   1024

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct gmem mem;
static struct audio_ring ring;
static struct snd_model model;
static struct virtq_chain chain;
static uint32_t write_len[REGIONS];
static bool held[REGIONS]; /* a head the model holds: the driver does not reuse it */

static void fuzz_complete(void *ctx, uint32_t queue, uint16_t head, uint32_t used)
{
	(void)ctx;
	CHECK(queue == SND_TXQ || queue == SND_RXQ);
	CHECK(head < REGIONS && held[head]);
	CHECK(used <= write_len[head]);
	held[head] = false;
}

static void fuzz_play(void *ctx, const struct snd_stream *s, const uint8_t *pcm, uint32_t bytes,
		      uint64_t ts_ns, uint64_t position, bool discont)
{
	(void)ctx;
	CHECK(s->dir == SND_D_OUTPUT && bytes && bytes % s->frame_bytes == 0);
	CHECK(audio_ring_publish(&ring, s->id, s->spec.format, s->spec.rate, s->spec.channels, pcm,
				 bytes, ts_ns, position, discont ? CELLVM_AUDIO_DISCONT : 0) >= 1);
}

static void fuzz_capture(void *ctx, const struct snd_stream *s, uint8_t *out, uint32_t bytes)
{
	(void)ctx;
	CHECK(s->dir == SND_D_INPUT && bytes % s->frame_bytes == 0 && bytes <= 16384);
	memset(out, 0x5a, bytes);
}

static void fuzz_init(void)
{
	int fd;

	ram = calloc(1, RAM_SIZE);
	CHECK(ram && gmem_init(&mem, ram, RAM_SIZE) == 0);
	fd = memfd_create("fuzz-audio-ring", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)cellvm_audio_ring_bytes(RING_PERIODS, RING_BYTES)) == 0);
	CHECK(audio_ring_init(&ring, fd, RING_PERIODS, RING_BYTES, 2, NULL, 0) == 0);
	close(fd); /* the mapping stays */
}

/* One chain in region r: len readable bytes (split in two at split),
 * wlen writable ones after them, a canary past those. */
static void fuzz_chain(uint32_t r, const uint8_t *req, uint32_t len, uint32_t split, uint32_t wlen)
{
	uint64_t base = REGIONS_AT + (uint64_t)r * REGION, w = base + MAX_REQ;
	uint32_t n = 0;

	memcpy(ram + base, req, len);
	memset(ram + w, 0xee, MAX_WRITE + 1);
	chain = (struct virtq_chain){.head = (uint16_t)r};
	if (split && split < len) {
		chain.seg[n++] = (struct virtq_seg){base, split, false, ram + base};
		chain.seg[n++] =
			(struct virtq_seg){base + split, len - split, false, ram + base + split};
	} else if (len) {
		chain.seg[n++] = (struct virtq_seg){base, len, false, ram + base};
	}
	chain.nread = n;
	chain.read_len = len;
	if (wlen)
		chain.seg[n++] = (struct virtq_seg){w, wlen, true, ram + w};
	chain.nseg = n;
	chain.write_len = wlen;
	write_len[r] = wlen;
}

static void fuzz_invariants(void)
{
	for (uint32_t i = 0; i < model.nstreams; i++) {
		const struct snd_stream *s = &model.streams[i];

		CHECK(s->nheld <= model.queue_size);
		CHECK(s->held_bytes <= SND_MAX_BUFFER_BYTES);
		CHECK(s->nheld == 0 || s->held_bytes <= s->buffer_bytes);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct snd_hooks hooks = {NULL, fuzz_complete, fuzz_play, fuzz_capture, NULL};
	uint64_t now = 1000000000ULL;
	uint32_t op = 0;
	size_t off = 0;

	if (!ram)
		fuzz_init();
	CHECK(snd_model_init(&model, &mem, 2, 2, 8, &hooks) == 0);
	while (size - off >= 5) {
		const uint8_t *h = data + off;
		uint32_t kind = h[0] & 3, split = (uint32_t)(h[0] >> 2) * 4;
		uint32_t len = (uint32_t)(h[1] | h[2] << 8) % (MAX_REQ + 1);
		uint32_t wlen = (uint32_t)(h[3] | h[4] << 8) % (MAX_WRITE + 1);
		uint32_t r = op++ % REGIONS, used = 0;

		off += 5;
		if (kind == 3) {
			/* The clock: what is due plays and completes. */
			now += (uint64_t)wlen * 1000000u;
			(void)snd_pcm_run(&model, now);
			fuzz_invariants();
			continue;
		}
		if (len > size - off)
			len = (uint32_t)(size - off);
		/* A head the model holds is not the driver's to post again. */
		if (held[r]) {
			off += len;
			continue;
		}
		fuzz_chain(r, data + off, len, split, wlen);
		off += len;
		if (kind == 0) {
			used = snd_ctl_request(&model, &chain, now);
		} else if (snd_pcm_xfer(&model, kind == 1 ? SND_TXQ : SND_RXQ, &chain, now,
					&used)) {
			held[r] = true;
			fuzz_invariants();
			continue;
		}
		CHECK(used <= wlen);
		CHECK(ram[REGIONS_AT + (uint64_t)r * REGION + MAX_REQ + wlen] == 0xee);
		fuzz_invariants();
	}
	snd_model_reset(&model);
	memset(held, 0, sizeof(held));
	for (uint32_t i = 0; i < model.nstreams; i++)
		CHECK(model.streams[i].nheld == 0 && model.streams[i].held_bytes == 0);
	return 0;
}

#else /* FUZZ_SEEDGEN */

struct seed {
	uint8_t b[16384];
	size_t n;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* One op: kind, writable length, the request's 32-bit words and then
 * extra bytes (PCM) of value fill. */
static void seed_op(struct seed *s, uint32_t kind, uint32_t wlen, uint32_t n, const uint32_t *w,
		    uint32_t extra)
{
	uint8_t *h = s->b + s->n;
	uint32_t len = 4 * n + extra;

	h[0] = (uint8_t)kind;
	h[1] = (uint8_t)len;
	h[2] = (uint8_t)(len >> 8);
	h[3] = (uint8_t)wlen;
	h[4] = (uint8_t)(wlen >> 8);
	for (uint32_t i = 0; i < n; i++)
		put32(h + 5 + 4 * i, w[i]);
	memset(h + 5 + 4 * n, 0x33, extra);
	s->n += 5 + len;
}

#define CTL(s, wlen, ...)                                                                          \
	seed_op(s, 0, wlen, sizeof((uint32_t[]){__VA_ARGS__}) / 4, (uint32_t[]){__VA_ARGS__}, 0)
#define TICK(s, ms) seed_op(s, 3, ms, 0, NULL, 0)

/* SET_PARAMS of stream: buffer, period, S16 stereo 48 kHz (as words). */
static void seed_params(struct seed *s, uint32_t stream, uint32_t buffer, uint32_t period)
{
	CTL(s, 4, SND_R_PCM_SET_PARAMS, stream, buffer, period, 0,
	    2u | CELLVM_AUDIO_S16 << 8 | 7u << 16);
}

static int seed_write(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct seed s;
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	s.n = 0;
	CTL(&s, 4 + 4 * SND_PCM_INFO_LEN, SND_R_PCM_INFO, 0, 4, SND_PCM_INFO_LEN);
	CTL(&s, 4 + 2 * SND_JACK_INFO_LEN, SND_R_JACK_INFO, 0, 2, SND_JACK_INFO_LEN);
	CTL(&s, 4 + 4 * SND_CHMAP_INFO_LEN, SND_R_CHMAP_INFO, 0, 4, SND_CHMAP_INFO_LEN);
	CTL(&s, 4, SND_R_JACK_REMAP, 0, 0, 0);
	r |= seed_write(argv[1], "info", &s);

	/* Playback: parameters, prefill, start, the clock, stop, release. */
	s.n = 0;
	seed_params(&s, 0, 4 * 192, 192);
	CTL(&s, 4, SND_R_PCM_PREPARE, 0);
	for (int i = 0; i < 3; i++)
		seed_op(&s, 1, 8, 1, (uint32_t[]){0}, 192);
	CTL(&s, 4, SND_R_PCM_START, 0);
	TICK(&s, 1);
	seed_op(&s, 1, 8, 1, (uint32_t[]){0}, 192);
	TICK(&s, 3);
	CTL(&s, 4, SND_R_PCM_STOP, 0);
	CTL(&s, 4, SND_R_PCM_START, 0);
	TICK(&s, 2);
	CTL(&s, 4, SND_R_PCM_STOP, 0);
	CTL(&s, 4, SND_R_PCM_RELEASE, 0);
	r |= seed_write(argv[1], "playback", &s);

	/* Capture: buffers of a period, smaller, larger, past the buffer. */
	s.n = 0;
	seed_params(&s, 2, 4 * 192, 192);
	CTL(&s, 4, SND_R_PCM_PREPARE, 2);
	seed_op(&s, 2, 192 + 8, 1, (uint32_t[]){2}, 0);
	seed_op(&s, 2, 4 + 8, 1, (uint32_t[]){2}, 0);
	seed_op(&s, 2, 2 * 192 + 8, 1, (uint32_t[]){2}, 0);
	seed_op(&s, 2, 4 * 192 + 8, 1, (uint32_t[]){2}, 0);
	seed_op(&s, 2, 6 + 8, 1, (uint32_t[]){2}, 0);
	seed_op(&s, 2, 4, 1, (uint32_t[]){2}, 0);
	CTL(&s, 4, SND_R_PCM_START, 2);
	TICK(&s, 2);
	TICK(&s, 10);
	r |= seed_write(argv[1], "capture", &s);

	/* Hostile: ranges that wrap, sizes, ids, states, directions. */
	s.n = 0;
	CTL(&s, 64, SND_R_PCM_INFO, 0xffffffffu, 2, SND_PCM_INFO_LEN);
	CTL(&s, 64, SND_R_PCM_INFO, 0, 2, 0x80000000u);
	CTL(&s, 36, SND_R_PCM_INFO, 0, 2, SND_PCM_INFO_LEN);
	CTL(&s, 64, SND_R_PCM_INFO, 0, 1, 4);
	CTL(&s, 4, SND_R_PCM_PREPARE, 0xffffffffu);
	CTL(&s, 4, SND_R_PCM_START, 1);
	CTL(&s, 4, SND_R_PCM_SET_PARAMS, 1, 8u << 20, 1u << 20, 0, 2u | 5u << 8 | 7u << 16);
	CTL(&s, 4, SND_R_PCM_SET_PARAMS, 1, 3841, 960, 0, 2u | 5u << 8 | 7u << 16);
	CTL(&s, 4, SND_R_PCM_SET_PARAMS, 1, 3840, 960, 4, 2u | 5u << 8 | 7u << 16);
	CTL(&s, 4, SND_R_PCM_SET_PARAMS, 1, 3840, 960, 0, 2u | 3u << 8 | 13u << 16);
	seed_op(&s, 1, 8, 1, (uint32_t[]){1}, 192);
	seed_op(&s, 1, 8, 1, (uint32_t[]){2}, 192);
	seed_op(&s, 1, 4, 1, (uint32_t[]){0}, 192);
	seed_op(&s, 2, 200, 1, (uint32_t[]){9}, 0);
	CTL(&s, 2, SND_R_PCM_INFO);
	r |= seed_write(argv[1], "hostile", &s);
	return r;
}
#endif
