/* Device tests for cellvm-dev-snd: the real process started by the launcher
 * (sandboxed as in production), the harness (test/harness/vsnd.h) as
 * cellvm-core and as the guest's virtio-snd driver on real control, event,
 * tx and rx queues, as the audio ring's readers and as the parent pushing
 * sound. Covers the information queries, parameters, the stream state
 * machine, playback into the ring and the WAV sink paced in real time,
 * capture from a WAV file and from pushed sound, readers that are slow or
 * many, and every hostile case the spec leaves to the device (each answered
 * with the spec's status, the process serving afterwards). Host tier: no
 * KVM. Timing: only lower bounds are asserted; every wait is on an eventfd
 * or a used ring with a timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/pcm.h"
#include "dev-procs/snd/snd_ctl.h"
#include "device.pb-c.h"
#include "proto/audio_ring.h"
#include "proto/channel.h"
#include "test/harness/vsnd.h"

#define ST_TIMEOUT_MS VSND_TIMEOUT_MS
#define RATE_48000    7 /* VIRTIO_SND_PCM_RATE_48000 */
#define RATE_8000     1
#define PERIOD_MS     10
#define PB_PERIOD     1920 /* 10 ms of S16 stereo at 48 kHz */

static struct vsnd T;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void st_start(const struct vsnd_opts *o)
{
	char err[256];
	int r = vsnd_start(&T, o, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "device start: %s\n", err);
	assert_int_equal(r, 0);
}

/* One playback and one capture stream, a ring of 64 periods of 64 KiB and
 * two eventfds. */
static struct vsnd_opts st_default(void)
{
	return (struct vsnd_opts){.playback = 1,
				  .capture = 1,
				  .ring_periods = 64,
				  .ring_period_bytes = 64 << 10,
				  .nefds = 2,
				  .wav_sink = -1,
				  .wav_source = -1};
}

static int teardown(void **state)
{
	int status;

	(void)state;
	if (!T.started)
		return 0;
	status = vsnd_stop(&T);
	if (status != 0) {
		fprintf(stderr, "device exit status %d\n", status);
		return -1;
	}
	return 0;
}

/* Wait for the next used entry of qi: its head and length. */
static void st_used(uint32_t qi, uint32_t *id, uint32_t *len)
{
	int r = vsnd_wait_used(&T, qi, ST_TIMEOUT_MS, id, len);

	assert_int_equal(r, 1);
}

static void st_prepare(uint32_t stream, uint32_t buffer, uint32_t period, uint32_t ch, uint32_t fmt,
		       uint32_t rate)
{
	assert_int_equal(vsnd_set_params(&T, stream, buffer, period, ch, fmt, rate), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, stream), SND_S_OK);
}

static void st_pattern(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static int st_tmpfile(void)
{
	int fd = memfd_create("snd-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* ---- information ---- */

static void test_info(void **state)
{
	struct vsnd_opts o = st_default();
	const uint8_t *r;

	(void)state;
	o.playback = 2;
	o.capture = 1;
	o.max_channels = 6;
	st_start(&o);
	assert_int_equal(T.core.device_id, VIRTIO_ID_SOUND);
	assert_int_equal(T.core.config_len, SND_CONFIG_LEN);
	assert_int_equal(vsnd_le32(T.core.config), 2);	   /* jacks */
	assert_int_equal(vsnd_le32(T.core.config + 4), 3); /* streams */
	assert_int_equal(vsnd_le32(T.core.config + 8), 3); /* chmaps */

	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0, 3, SND_PCM_INFO_LEN, 0), SND_S_OK);
	r = vsnd_resp(&T) + 4;
	for (int i = 0; i < 3; i++, r += SND_PCM_INFO_LEN) {
		assert_int_equal(vsnd_le32(r + 4), 0); /* features */
		assert_true(vsnd_le64(r + 8) == SND_FORMATS);
		assert_true(vsnd_le64(r + 16) == 0x1ffeULL); /* 8000 .. 192000 */
		assert_int_equal(r[24], i < 2 ? SND_D_OUTPUT : SND_D_INPUT);
		assert_int_equal(r[25], 1);
		assert_int_equal(r[26], 6);
	}
	/* A larger item size: ours, zero-padded. */
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 2, 1, 64, 0), SND_S_OK);
	r = vsnd_resp(&T) + 4;
	assert_int_equal(r[24], SND_D_INPUT);
	for (int i = SND_PCM_INFO_LEN; i < 64; i++)
		assert_int_equal(r[i], 0);

	assert_int_equal(vsnd_query(&T, SND_R_JACK_INFO, 0, 2, SND_JACK_INFO_LEN, 0), SND_S_OK);
	r = vsnd_resp(&T) + 4;
	assert_int_equal(r[16], 1);				/* connected */
	assert_int_equal(vsnd_le32(r + 4), 0);			/* no remapping */
	assert_int_equal(vsnd_le32(r + 8) >> 20 & 0xf, 0);	/* line out */
	assert_int_equal(vsnd_le32(r + 24 + 8) >> 20 & 0xf, 8); /* line in */

	assert_int_equal(vsnd_query(&T, SND_R_CHMAP_INFO, 0, 3, SND_CHMAP_INFO_LEN, 0), SND_S_OK);
	r = vsnd_resp(&T) + 4;
	assert_int_equal(r[4], SND_D_OUTPUT);
	assert_int_equal(r[5], 6);
	assert_int_equal(r[6], 3); /* FL */
	assert_int_equal(r[7], 4); /* FR */
	assert_int_equal(r[2 * SND_CHMAP_INFO_LEN + 4], SND_D_INPUT);

	/* No jack can be remapped; unknown codes are not supported. */
	{
		uint8_t q[16] = {0};

		vsnd_put32(q, SND_R_JACK_REMAP);
		assert_int_equal(vsnd_ctrl(&T, q, sizeof(q), 4, NULL), SND_S_NOT_SUPP);
		vsnd_put32(q, 0x0300);
		assert_int_equal(vsnd_ctrl(&T, q, sizeof(q), 4, NULL), SND_S_NOT_SUPP);
	}
	assert_int_equal(vsnd_serving(&T), 0);
}

/* ---- parameters and the state machine ---- */

static void test_params(void **state)
{
	(void)state;
	st_start(
		&(struct vsnd_opts){.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = -1});
	/* Every format, rate and channel count offered is taken. */
	for (uint32_t f = 0; f < 64; f++) {
		int want = (SND_FORMATS >> f & 1) ? SND_S_OK : SND_S_NOT_SUPP;

		if (f < 24)
			assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 2, f, RATE_48000), want);
	}
	for (uint32_t r = 0; r < 16; r++)
		assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 2, CELLVM_AUDIO_S16, r),
				 r >= 1 && r <= 12 ? SND_S_OK : SND_S_NOT_SUPP);
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 0, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_NOT_SUPP);
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 3, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_NOT_SUPP);
	assert_int_equal(vsnd_set_params(&T, 1, 3840, 960, 1, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_OK);
	/* Features nobody offered. */
	{
		uint8_t q[24] = {0};

		vsnd_put32(q, SND_R_PCM_SET_PARAMS);
		vsnd_put32(q + 8, 3840);
		vsnd_put32(q + 12, 960);
		vsnd_put32(q + 16, 1u << 2);
		q[20] = 2, q[21] = CELLVM_AUDIO_S16, q[22] = RATE_48000;
		assert_int_equal(vsnd_ctrl(&T, q, sizeof(q), 4, NULL), SND_S_NOT_SUPP);
	}
	/* Sizes: a period of whole frames, a buffer of whole periods, at most
	 * 4 MiB. */
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 0, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 962, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_set_params(&T, 0, 3841, 960, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_set_params(&T, 0, 480, 960, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(
		vsnd_set_params(&T, 0, 8u << 20, 1u << 20, 2, CELLVM_AUDIO_S16, RATE_48000),
		SND_S_BAD_MSG);
	assert_int_equal(vsnd_set_params(&T, 0, 0xfffffc00u, 1024, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(
		vsnd_set_params(&T, 0, 4u << 20, 1u << 20, 2, CELLVM_AUDIO_S16, RATE_48000),
		SND_S_OK);
	/* Stream ids out of range. */
	assert_int_equal(vsnd_set_params(&T, 2, 3840, 960, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0xffffffffu), SND_S_BAD_MSG);
	assert_int_equal(vsnd_serving(&T), 0);
}

static void test_states(void **state)
{
	(void)state;
	st_start(
		&(struct vsnd_opts){.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = -1});
	/* Nothing before SET_PARAMS but SET_PARAMS. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_OK);
	/* Not prepared: no START, no RELEASE. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	/* Running: parameters, PREPARE, RELEASE and START are refused. */
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 2, CELLVM_AUDIO_S16, RATE_48000),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_BAD_MSG);
	/* Released: prepared again, or new parameters. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	assert_int_equal(vsnd_set_params(&T, 0, 3840, 960, 1, CELLVM_AUDIO_FLOAT, RATE_8000),
			 SND_S_OK);
	/* The other stream is untouched by all of this. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 1), SND_S_BAD_MSG);
	assert_int_equal(vsnd_serving(&T), 0);
}

/* ---- playback ---- */

/* Play n periods of data (PB_PERIOD bytes each, S16 stereo 48 kHz) on
 * stream 0, four in flight, from a START taken at *t_start; each
 * completion checked; after_each(k) called after period k came back.
 * Returns when the last came back (CLOCK_MONOTONIC ns). */
static uint64_t st_play(uint8_t (*data)[PB_PERIOD], uint32_t n, uint64_t *t_start,
			void (*after_each)(uint32_t k))
{
	uint32_t heads[64], id, len, lat;

	assert_true(n <= 64);
	for (uint32_t k = 0; k < 4 && k < n; k++)
		heads[k] = (uint32_t)vsnd_xfer(&T, SND_TXQ, k % 8, 0, data[k], PB_PERIOD);
	*t_start = now_ns();
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	for (uint32_t k = 0; k < n; k++) {
		st_used(SND_TXQ, &id, &len);
		assert_int_equal(id, heads[k]);
		assert_int_equal(len, 8);
		assert_int_equal(vsnd_slot_status(&T, SND_TXQ, k % 8, &lat), SND_S_OK);
		assert_true(lat <= 3 * PB_PERIOD);
		if (k + 4 < n)
			heads[k + 4] = (uint32_t)vsnd_xfer(&T, SND_TXQ, (k + 4) % 8, 0, data[k + 4],
							   PB_PERIOD);
		if (after_each)
			after_each(k);
	}
	return now_ns();
}

static void test_playback(void **state)
{
	enum { N = 20 };
	static uint8_t data[N][PB_PERIOD], got[N * PB_PERIOD], file[44 + N * PB_PERIOD + 64];
	struct vsnd_opts o = st_default();
	struct cellvm_audio_period meta;
	uint64_t t0, t1, latest, ts1 = 0, pos = 0, data_bytes;
	struct pcm_spec spec;
	size_t off = 0, hdr_len;
	ssize_t n;
	int wav = st_tmpfile();

	(void)state;
	o.ring_period_bytes = 1024; /* each period of the guest's: two of the ring's */
	o.wav_sink = wav;
	st_start(&o);
	for (uint32_t k = 0; k < N; k++)
		st_pattern(data[k], PB_PERIOD, k + 1);
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	t1 = st_play(data, N, &t0, NULL);
	/* Paced: N periods of 10 ms take at least (N - 1) * 10 ms. */
	assert_true(t1 - t0 >= (uint64_t)(N - 1) * PERIOD_MS * 1000000u);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);

	/* The ring: every byte, in order, cut into periods of 1024 bytes (256
	 * frames) and 896, each with its place on the time line. */
	latest = cellvm_audio_latest(T.ring, T.ring_size);
	assert_int_equal(latest, 2 * N);
	for (uint64_t s = 1; s <= latest; s++) {
		long r = cellvm_audio_read(T.ring, T.ring_size, s, &meta, got + off,
					   sizeof(got) - off);

		assert_int_equal(r, s % 2 ? 1024 : 896);
		assert_int_equal(meta.stream, 0);
		assert_int_equal(meta.format, CELLVM_AUDIO_S16);
		assert_int_equal(meta.rate, 48000);
		assert_int_equal(meta.channels, 2);
		assert_int_equal(meta.flags, s == 1 ? CELLVM_AUDIO_DISCONT : 0);
		assert_int_equal(meta.position, pos);
		if (s == 1)
			ts1 = meta.timestamp_ns;
		assert_true(meta.timestamp_ns == ts1 + pos * 1000000000u / 48000);
		assert_true(ts1 >= t0);
		pos += (uint64_t)r / 4;
		off += (size_t)r;
	}
	assert_memory_equal(got, data, sizeof(got));
	/* Every subscriber eventfd: once per played buffer. */
	assert_int_equal(vsnd_efd_take(T.efd[0]), N);
	assert_int_equal(vsnd_efd_take(T.efd[1]), N);

	/* The WAV sink: the same bytes, its header's sizes written at STOP. */
	n = pread(wav, file, sizeof(file), 0);
	assert_true(n > 44);
	assert_int_equal(wav_parse(file, (size_t)n, &spec, &data_bytes, &hdr_len, NULL, 0), 0);
	assert_int_equal(spec.format, CELLVM_AUDIO_S16);
	assert_int_equal(spec.rate, 48000);
	assert_int_equal(spec.channels, 2);
	assert_int_equal(data_bytes, N * PB_PERIOD);
	assert_int_equal((size_t)n, hdr_len + N * PB_PERIOD);
	assert_memory_equal(file + hdr_len, data, N * PB_PERIOD);
	assert_int_equal(vsnd_serving(&T), 0);
	close(wav);
}

/* A tx buffer's PCM is read when it starts to play, not when it is posted:
 * Linux 6.1's driver posts a period's buffer again as soon as it has
 * played and the application refills it after. Here the third buffer is
 * rewritten in guest RAM after it was posted, before START: the ring
 * carries what it held when it played. */
static void test_play_reads_late(void **state)
{
	static uint8_t data[4][PB_PERIOD], got[PB_PERIOD];
	struct vsnd_opts o = st_default();
	struct cellvm_audio_period meta;
	uint32_t id, len, bad;

	(void)state;
	st_start(&o);
	for (uint32_t k = 0; k < 4; k++)
		st_pattern(data[k], PB_PERIOD, k + 1);
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	for (uint32_t k = 0; k < 4; k++)
		vsnd_xfer(&T, SND_TXQ, k, 0, data[k], PB_PERIOD);
	/* A transfer for no stream, answered at once: the device has taken
	 * the four before it (it serves the ring in order). */
	bad = (uint32_t)vsnd_xfer(&T, SND_TXQ, 4, 99, data[0], PB_PERIOD);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, bad);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 4, NULL), SND_S_BAD_MSG);
	st_pattern(data[2], PB_PERIOD, 77);
	memcpy(vsnd_slot_data(&T, SND_TXQ, 2), data[2], PB_PERIOD);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	for (uint32_t k = 0; k < 4; k++)
		st_used(SND_TXQ, &id, &len);
	assert_int_equal(cellvm_audio_latest(T.ring, T.ring_size), 4);
	for (uint64_t s = 1; s <= 4; s++) {
		assert_int_equal(cellvm_audio_read(T.ring, T.ring_size, s, &meta, got, sizeof(got)),
				 PB_PERIOD);
		assert_memory_equal(got, data[s - 1], PB_PERIOD);
	}
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
}

/* A buffer playing when STOP came goes on after START: nothing is lost or
 * repeated, and the next START begins a new time line (DISCONT, position
 * 0). RELEASE gives back what was held at once. */
static void test_stop_release(void **state)
{
	static uint8_t data[6][PB_PERIOD];
	struct cellvm_audio_period meta;
	uint8_t buf[PB_PERIOD];
	uint32_t id, len, heads[6];
	uint64_t t0;

	(void)state;
	st_start(&(struct vsnd_opts){.playback = 1,
				     .capture = 1,
				     .ring_periods = 16,
				     .ring_period_bytes = 4096,
				     .wav_sink = -1,
				     .wav_source = -1});
	for (uint32_t k = 0; k < 6; k++)
		st_pattern(data[k], PB_PERIOD, 40 + k);
	st_prepare(0, 8 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	/* Held while prepared (Linux prefills before START). */
	for (uint32_t k = 0; k < 3; k++)
		heads[k] = (uint32_t)vsnd_xfer(&T, SND_TXQ, k, 0, data[k], PB_PERIOD);
	t0 = now_ns();
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, heads[0]);
	assert_true(now_ns() - t0 >= PERIOD_MS * 1000000u);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, heads[1]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	/* Each period is published once, when it starts: period 1 right after
	 * period 0 ended (before the STOP), period 2 after period 1 ended,
	 * the first of the second START (DISCONT, position 0). */
	assert_int_equal(cellvm_audio_latest(T.ring, T.ring_size), 3);
	assert_int_equal(cellvm_audio_read(T.ring, T.ring_size, 2, &meta, buf, sizeof(buf)),
			 PB_PERIOD);
	assert_memory_equal(buf, data[1], PB_PERIOD);
	assert_int_equal(meta.flags, 0);
	assert_int_equal(meta.position, 480);
	assert_int_equal(cellvm_audio_read(T.ring, T.ring_size, 3, &meta, buf, sizeof(buf)),
			 PB_PERIOD);
	assert_memory_equal(buf, data[2], PB_PERIOD);
	assert_int_equal(meta.flags, CELLVM_AUDIO_DISCONT);
	assert_int_equal(meta.position, 0);
	/* RELEASE: period 2 (and one more posted now) come back at once. */
	heads[3] = (uint32_t)vsnd_xfer(&T, SND_TXQ, 3, 0, data[3], PB_PERIOD);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, heads[2]);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 2, NULL), SND_S_OK);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, heads[3]);
	/* Released: a transfer is refused at once. */
	heads[4] = (uint32_t)vsnd_xfer(&T, SND_TXQ, 4, 0, data[4], PB_PERIOD);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, heads[4]);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 4, NULL), SND_S_IO_ERR);
	assert_int_equal(vsnd_serving(&T), 0);
}

/* ---- capture ---- */

/* A WAV file (memfd) of spec with data. */
static int st_wav_file(const struct pcm_spec *spec, const uint8_t *data, uint32_t bytes)
{
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	size_t n = wav_header(hdr, spec, bytes);
	int fd = st_tmpfile();

	assert_true(n > 0);
	assert_int_equal(write(fd, hdr, n), (ssize_t)n);
	assert_int_equal(write(fd, data, bytes), (ssize_t)bytes);
	return fd;
}

/* Capture n periods of period bytes on stream id, four buffers in flight,
 * into out; returns the time from START to the last one. */
static uint64_t st_capture(uint32_t id, uint32_t period, uint32_t n, uint8_t *out)
{
	uint32_t heads[4], h, len;
	uint64_t t0;

	for (uint32_t k = 0; k < 4; k++)
		heads[k] = (uint32_t)vsnd_xfer(&T, SND_RXQ, k, id, NULL, period);
	t0 = now_ns();
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, id), SND_S_OK);
	for (uint32_t k = 0; k < n; k++) {
		st_used(SND_RXQ, &h, &len);
		assert_int_equal(h, heads[k % 4]);
		assert_int_equal(len, period + 8);
		assert_int_equal(vsnd_slot_status(&T, SND_RXQ, k % 4, NULL), SND_S_OK);
		memcpy(out + (size_t)k * period, vsnd_slot_data(&T, SND_RXQ, k % 4), period);
		if (k + 4 < n)
			heads[k % 4] = (uint32_t)vsnd_xfer(&T, SND_RXQ, k % 4, id, NULL, period);
	}
	return now_ns() - t0;
}

/* The WAV source, looped, in the stream's own parameters: every byte as
 * the file has it, in real time. */
static void test_capture_wav(void **state)
{
	enum { FRAMES = 1000, N = 30, PERIOD = 160 };
	const struct pcm_spec spec = {CELLVM_AUDIO_S16, 8000, 1};
	static uint8_t pcm[FRAMES * 2], got[N * PERIOD];
	uint64_t took;
	int src;

	(void)state;
	for (uint32_t i = 0; i < FRAMES; i++) {
		int16_t v = (int16_t)(i * 37 - 12000);

		pcm[2 * i] = (uint8_t)v;
		pcm[2 * i + 1] = (uint8_t)((uint16_t)v >> 8);
	}
	src = st_wav_file(&spec, pcm, sizeof(pcm));
	st_start(&(struct vsnd_opts){
		.playback = 0, .capture = 1, .wav_sink = -1, .wav_source = src});
	st_prepare(0, 4 * PERIOD, PERIOD, 1, CELLVM_AUDIO_S16, RATE_8000);
	took = st_capture(0, PERIOD, N, got);
	assert_true(took >= (uint64_t)(N - 1) * PERIOD_MS * 1000000u);
	for (uint32_t i = 0; i < sizeof(got); i++)
		if (got[i] != pcm[i % sizeof(pcm)])
			fail_msg("captured byte %u is %#x, the file's %#x", i, got[i],
				 pcm[i % sizeof(pcm)]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	assert_int_equal(vsnd_serving(&T), 0);
	close(src);
}

/* The WAV source in other parameters (22050 Hz mono, as a user's file may
 * be) converted to the stream's (48 kHz stereo): every period on time, and
 * sound in it, never silence. */
static void test_capture_convert(void **state)
{
	enum { FRAMES = 11025, N = 50 };
	const struct pcm_spec spec = {CELLVM_AUDIO_S16, 22050, 1};
	static uint8_t pcm[FRAMES * 2], got[N * PB_PERIOD];
	uint64_t took, quiet = 0;
	int src;

	(void)state;
	for (uint32_t i = 0; i < FRAMES; i++) {
		int16_t v = (int16_t)((i * 300 * 2 / 22050) % 2 ? 12000 : -12000);

		pcm[2 * i] = (uint8_t)v;
		pcm[2 * i + 1] = (uint8_t)((uint16_t)v >> 8);
	}
	src = st_wav_file(&spec, pcm, sizeof(pcm));
	st_start(&(struct vsnd_opts){
		.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = src});
	st_prepare(1, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	took = st_capture(1, PB_PERIOD, N, got);
	assert_true(took >= (uint64_t)(N - 1) * PERIOD_MS * 1000000u);
	for (uint32_t i = 0; i < sizeof(got); i += 4) {
		int16_t l = (int16_t)(got[i] | got[i + 1] << 8),
			r = (int16_t)(got[i + 2] | got[i + 3] << 8);

		assert_int_equal(l, r);
		quiet += l > -1000 && l < 1000;
	}
	assert_true(quiet < sizeof(got) / 4 / 10);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 1), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 1), SND_S_OK);
	assert_int_equal(vsnd_serving(&T), 0);
	close(src);
}

static const uint8_t *st_find(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(hay + i, needle, k))
			return hay + i;
	return NULL;
}

/* Pushed sound (AudioSource): its bytes arrive in the guest's buffers, in
 * order and whole; silence while the pipe is empty; back to the WAV source
 * at its end. A second push in another format is converted. */
static void test_capture_push(void **state)
{
	enum { N = 24, PUSH = 4 * PB_PERIOD };
	const struct pcm_spec spec = {CELLVM_AUDIO_S16, 48000, 2};
	const struct pcm_spec fspec = {CELLVM_AUDIO_FLOAT, 48000, 1};
	static uint8_t file_pcm[960], push[PUSH], got[N * PB_PERIOD], fl[4 * 960];
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	const uint8_t *at;
	size_t hn;
	int src, p[2];
	float q = 0.25f;

	(void)state;
	memset(file_pcm, 0x11, sizeof(file_pcm));
	st_pattern(push, PUSH, 9);
	push[0] = 0x5a;
	src = st_wav_file(&spec, file_pcm, sizeof(file_pcm));
	st_start(&(struct vsnd_opts){
		.playback = 0, .capture = 1, .wav_sink = -1, .wav_source = src});
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	hn = wav_header(hdr, &spec, WAV_SIZE_STREAMING);
	assert_int_equal(write(p[1], hdr, hn), (ssize_t)hn);
	assert_int_equal(write(p[1], push, PUSH), PUSH);
	assert_int_equal(vsnd_audio_source(&T, 7, p[0]), 0);
	close(p[0]);
	(void)st_capture(0, PB_PERIOD, N, got);
	/* The push, whole, somewhere after the file's bytes (the push and
	 * START race on two channels), then silence: the pipe is open. */
	at = st_find(got, sizeof(got), push, 64);
	assert_non_null(at);
	assert_true((size_t)(at - got) + PUSH + PB_PERIOD <= sizeof(got));
	assert_memory_equal(at, push, PUSH);
	for (size_t i = 0; i < (size_t)(at - got); i++)
		assert_int_equal(got[i], 0x11);
	for (const uint8_t *z = at + PUSH; z < got + sizeof(got); z++)
		assert_int_equal(*z, 0);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);

	/* Its end: back to the WAV source. */
	close(p[1]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	(void)st_capture(0, PB_PERIOD, 4, got);
	assert_int_equal(got[4 * PB_PERIOD - 1], 0x11);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);

	/* Float mono at 0.25: S16 stereo 8192 in both channels. */
	for (size_t i = 0; i < sizeof(fl); i += 4)
		memcpy(fl + i, &q, 4);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	hn = wav_header(hdr, &fspec, sizeof(fl));
	assert_int_equal(write(p[1], hdr, hn), (ssize_t)hn);
	assert_int_equal(write(p[1], fl, sizeof(fl)), (ssize_t)sizeof(fl));
	assert_int_equal(vsnd_audio_source(&T, 8, p[0]), 0);
	close(p[0]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	(void)st_capture(0, PB_PERIOD, 8, got);
	{
		const uint8_t want[8] = {0x00, 0x20, 0x00, 0x20, 0x00, 0x20, 0x00, 0x20};

		assert_non_null(st_find(got, 8 * PB_PERIOD, want, sizeof(want)));
	}
	close(p[1]);
	assert_int_equal(vsnd_serving(&T), 0);
	close(src);
}

/* ---- readers ---- */

enum { RD_N = 40, RD_PERIODS = 16 };
static uint8_t rd_data[RD_N][PB_PERIOD];
static int rd_fast_efd;
static uint64_t rd_fast_next = 1, rd_fast_read;

/* The fast reader, after each period the guest got back: every period
 * published since it last looked, checked. */
static void rd_fast(uint32_t k)
{
	static uint8_t buf[PB_PERIOD];
	struct cellvm_audio_period meta;
	uint64_t latest = cellvm_audio_latest(T.ring, T.ring_size);

	(void)k;
	(void)vsnd_efd_take(rd_fast_efd);
	for (; rd_fast_next <= latest; rd_fast_next++) {
		long r = cellvm_audio_read(T.ring, T.ring_size, rd_fast_next, &meta, buf,
					   sizeof(buf));

		assert_int_equal(r, PB_PERIOD);
		assert_memory_equal(buf, rd_data[rd_fast_next - 1], PB_PERIOD);
		rd_fast_read++;
	}
}

/* Two readers that keep up and one that does not look until the end: the
 * guest's periods come back all the same, the slow one finds the periods
 * it missed gone (serials skip) and the rest intact. More readers than
 * the device keeps, or an id twice, are refused without harm. */
static void test_readers(void **state)
{
	static uint8_t buf[PB_PERIOD];
	struct vsnd_opts o = st_default();
	struct cellvm_audio_period meta;
	uint64_t t0, t1, latest, oldest, lost = 0, ok = 0;
	int efd[3], extra[15];

	(void)state;
	o.ring_periods = RD_PERIODS;
	st_start(&o);
	for (int i = 0; i < 3; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(efd[i] >= 0);
		assert_int_equal(vsnd_subscribe(&T, (uint64_t)i + 1, efd[i]), 0);
	}
	/* Refusals: id 1 again (extra[0]); 13 more fill the 16 places, the
	 * 17th (extra[14]) is one too many. */
	for (int i = 0; i < 15; i++) {
		extra[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(extra[i] >= 0);
		assert_int_equal(vsnd_subscribe(&T, i == 0 ? 1 : 100 + (uint64_t)i, extra[i]), 0);
	}
	assert_int_equal(vsnd_unsubscribe(&T, 424242), 0);
	for (uint32_t k = 0; k < RD_N; k++)
		st_pattern(rd_data[k], PB_PERIOD, 200 + k);
	rd_fast_efd = efd[0];
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	t1 = st_play(rd_data, RD_N, &t0, rd_fast);
	assert_true(t1 - t0 >= (uint64_t)(RD_N - 1) * PERIOD_MS * 1000000u);
	rd_fast(0);
	assert_int_equal(rd_fast_read, RD_N);

	/* The second reader keeps up too, reading at the end of the ring. */
	latest = cellvm_audio_latest(T.ring, T.ring_size);
	assert_int_equal(latest, RD_N);
	oldest = cellvm_audio_oldest(latest, RD_PERIODS);
	for (uint64_t s = oldest; s <= latest; s++) {
		assert_int_equal(cellvm_audio_read(T.ring, T.ring_size, s, &meta, buf, sizeof(buf)),
				 PB_PERIOD);
		assert_memory_equal(buf, rd_data[s - 1], PB_PERIOD);
	}
	/* The slow one: what it missed is gone, the rest is whole. */
	for (uint64_t s = 1; s <= latest; s++) {
		long r = cellvm_audio_read(T.ring, T.ring_size, s, &meta, buf, sizeof(buf));

		if (r == -ENOENT) {
			lost++;
			continue;
		}
		assert_int_equal(r, PB_PERIOD);
		assert_memory_equal(buf, rd_data[s - 1], PB_PERIOD);
		ok++;
	}
	assert_true(lost >= RD_N - RD_PERIODS);
	assert_true(ok >= RD_PERIODS - 2);
	/* Each subscriber was woken per period it was there for; the refused
	 * ones never. */
	assert_true(vsnd_efd_take(efd[1]) >= 1);
	assert_true(vsnd_efd_take(efd[2]) >= 1);
	assert_int_equal(vsnd_efd_take(extra[0]), 0);
	assert_int_equal(vsnd_efd_take(extra[14]), 0);
	for (int i = 1; i < 14; i++)
		assert_true(vsnd_efd_take(extra[i]) >= 1);
	/* Reader 2 goes: not woken again. */
	assert_int_equal(vsnd_unsubscribe(&T, 2), 0);
	assert_int_equal(vsnd_serving(&T), 0);
	for (int i = 0; i < 3; i++)
		close(efd[i]);
	for (int i = 0; i < 15; i++)
		close(extra[i]);
}

/* ---- hostile ---- */

/* Queries: item ranges that wrap or run past the items, sizes too small
 * or huge, responses too small for count * size, requests cut short. */
static void test_hostile_queries(void **state)
{
	uint8_t q[16];
	uint32_t used;

	(void)state;
	st_start(
		&(struct vsnd_opts){.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = -1});
	/* CVE-2026-3196: start_id + count wraps in 32 bits. */
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0xffffffffu, 2, SND_PCM_INFO_LEN, 64),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 1, 0xffffffffu, SND_PCM_INFO_LEN, 64),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 2, 1, SND_PCM_INFO_LEN, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0, 3, SND_PCM_INFO_LEN, 0), SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_JACK_INFO, 2, 1, SND_JACK_INFO_LEN, 0),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_CHMAP_INFO, 1, 2, SND_CHMAP_INFO_LEN, 0),
			 SND_S_BAD_MSG);
	/* Sizes: smaller than ours, or absurd (count * size overflows 32 bits). */
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0, 1, SND_PCM_INFO_LEN - 1, 0),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0, 2, 0x80000000u, 64), SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0, 1, 0, 64), SND_S_BAD_MSG);
	/* A response buffer one byte short of count * size. */
	assert_int_equal(vsnd_query(&T, SND_R_PCM_INFO, 0, 2, SND_PCM_INFO_LEN,
				    4 + 2 * SND_PCM_INFO_LEN - 1),
			 SND_S_BAD_MSG);
	assert_int_equal(vsnd_query(&T, SND_R_JACK_INFO, 0, 2, SND_JACK_INFO_LEN, 4),
			 SND_S_BAD_MSG);
	/* Requests cut short: the header alone, less than the header. */
	vsnd_put32(q, SND_R_PCM_INFO);
	assert_int_equal(vsnd_ctrl(&T, q, 4, 64, &used), SND_S_BAD_MSG);
	assert_int_equal(used, 4);
	assert_int_equal(vsnd_ctrl(&T, q, 2, 64, &used), SND_S_BAD_MSG);
	vsnd_put32(q, SND_R_PCM_SET_PARAMS);
	vsnd_put32(q + 4, 0);
	assert_int_equal(vsnd_ctrl(&T, q, 16, 4, NULL), SND_S_BAD_MSG);
	/* No request at all, no room for a status: nothing written. */
	assert_int_equal(vsnd_ctrl(&T, q, 0, 64, &used), SND_S_BAD_MSG);
	vsnd_put32(q, SND_R_PCM_PREPARE);
	assert_int_equal(vsnd_ctrl(&T, q, 8, 2, &used), 0);
	assert_int_equal(used, 2);
	assert_int_equal(vsnd_ctrl(&T, q, 8, 0, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(vsnd_serving(&T), 0);
}

/* Post a raw transfer on qi; wait for it; its used length. */
static uint32_t st_raw(uint32_t qi, const struct vdrv_buf *b, uint32_t n)
{
	uint32_t id, len;
	int head = vsnd_post(&T, qi, b, n);

	assert_true(head >= 0);
	st_used(qi, &id, &len);
	assert_int_equal(id, (uint32_t)head);
	return len;
}

/* Transfers: on streams not prepared, of the other direction, out of
 * range; data not whole frames, larger than the buffer, past what the
 * buffer still holds; capture buffers whose data is smaller or larger
 * than a period (CVE-2024-7730, CVE-2026-3195); chains with no room for a
 * status. */
static void test_hostile_xfers(void **state)
{
	static uint8_t pcm[VSND_SLOT_MAX];
	uint64_t a = 0;
	uint8_t *h;
	uint32_t id, len, heads[8];
	int stat;

	(void)state;
	st_start(
		&(struct vsnd_opts){.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = -1});
	a = vdrv_alloc(&T.mem, 4096, 4096);
	h = vsnd_host(&T, a, 4096);

	/* Not prepared: IO_ERR at once. */
	vsnd_xfer(&T, SND_TXQ, 0, 0, pcm, PB_PERIOD);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(len, 8);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 0, NULL), SND_S_IO_ERR);
	vsnd_xfer(&T, SND_RXQ, 0, 1, NULL, PB_PERIOD);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(len, 8);
	assert_int_equal(vsnd_slot_status(&T, SND_RXQ, 0, NULL), SND_S_IO_ERR);

	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	st_prepare(1, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	/* The wrong direction, a stream out of range. */
	vsnd_xfer(&T, SND_TXQ, 0, 1, pcm, PB_PERIOD);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 0, NULL), SND_S_BAD_MSG);
	vsnd_xfer(&T, SND_RXQ, 0, 0, NULL, PB_PERIOD);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(vsnd_slot_status(&T, SND_RXQ, 0, NULL), SND_S_BAD_MSG);
	vsnd_xfer(&T, SND_TXQ, 0, 0xffffffffu, pcm, PB_PERIOD);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 0, NULL), SND_S_BAD_MSG);
	/* Not whole frames; empty. */
	vsnd_xfer(&T, SND_TXQ, 0, 0, pcm, PB_PERIOD - 2);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 0, NULL), SND_S_BAD_MSG);
	vsnd_xfer(&T, SND_RXQ, 0, 1, NULL, 6);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(len, 8);
	assert_int_equal(vsnd_slot_status(&T, SND_RXQ, 0, NULL), SND_S_BAD_MSG);
	/* Larger than the whole buffer: tx and rx (the rx data untouched). */
	vsnd_xfer(&T, SND_TXQ, 0, 0, pcm, 5 * PB_PERIOD);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 0, NULL), SND_S_IO_ERR);
	vsnd_xfer(&T, SND_RXQ, 0, 1, NULL, 5 * PB_PERIOD);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(len, 8);
	assert_int_equal(vsnd_slot_status(&T, SND_RXQ, 0, NULL), SND_S_IO_ERR);
	assert_int_equal(vsnd_slot_data(&T, SND_RXQ, 0)[0], 0xee);
	/* Capture buffers smaller and larger than a period (but within the
	 * buffer) are filled to their own size, no more. */
	heads[0] = (uint32_t)vsnd_xfer(&T, SND_RXQ, 1, 1, NULL, 4);
	heads[1] = (uint32_t)vsnd_xfer(&T, SND_RXQ, 2, 1, NULL, 2 * PB_PERIOD);
	vsnd_slot_data(&T, SND_RXQ, 2)[2 * PB_PERIOD] = 0xab; /* a canary past its data */
	/* The buffer's room: 4 + 2 periods held, another 2 periods is past it. */
	heads[2] = (uint32_t)vsnd_xfer(&T, SND_RXQ, 3, 1, NULL, 2 * PB_PERIOD);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(id, heads[2]);
	assert_int_equal(vsnd_slot_status(&T, SND_RXQ, 3, NULL), SND_S_IO_ERR);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 1), SND_S_OK);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(id, heads[0]);
	assert_int_equal(len, 4 + 8);
	st_used(SND_RXQ, &id, &len);
	assert_int_equal(id, heads[1]);
	assert_int_equal(len, 2 * PB_PERIOD + 8);
	assert_int_equal(vsnd_slot_data(&T, SND_RXQ, 2)[2 * PB_PERIOD], 0xab);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 1), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 1), SND_S_OK);

	/* Chains with no status to write: nothing written, used 0. */
	vsnd_put32(h, 0);
	assert_int_equal(st_raw(SND_TXQ, (struct vdrv_buf[]){{a, 4 + 64, false}}, 1), 0);
	assert_int_equal(
		st_raw(SND_TXQ,
		       (struct vdrv_buf[]){{a, 4, false}, {a + 64, 64, false}, {a + 1024, 4, true}},
		       3),
		0);
	/* A header cut short: BAD_MSG into the status. */
	assert_int_equal(
		st_raw(SND_TXQ, (struct vdrv_buf[]){{a, 2, false}, {a + 1024, 8, true}}, 2), 8);
	assert_int_equal(vsnd_le32(h + 1024), SND_S_BAD_MSG);
	/* A capture chain with a status and no data: BAD_MSG. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 1), SND_S_OK);
	vsnd_put32(h, 1);
	stat = (int)st_raw(SND_RXQ, (struct vdrv_buf[]){{a, 4, false}, {a + 2048, 8, true}}, 2);
	assert_int_equal(stat, 8);
	assert_int_equal(vsnd_le32(h + 2048), SND_S_BAD_MSG); /* no data: nothing to capture */

	/* Held: as many as the queue has entries, never more; all come back
	 * at RELEASE. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	for (uint32_t k = 0; k < 4; k++)
		heads[k] = (uint32_t)vsnd_xfer(&T, SND_TXQ, k, 0, pcm, PB_PERIOD);
	heads[4] = (uint32_t)vsnd_xfer(&T, SND_TXQ, 4, 0, pcm, 4);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, heads[4]);
	assert_int_equal(vsnd_slot_status(&T, SND_TXQ, 4, NULL), SND_S_IO_ERR);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	for (uint32_t k = 0; k < 4; k++) {
		st_used(SND_TXQ, &id, &len);
		assert_int_equal(id, heads[k]);
		assert_int_equal(vsnd_slot_status(&T, SND_TXQ, k, NULL), SND_S_OK);
	}
	assert_int_equal(vsnd_serving(&T), 0);
}

/* Ring abuse: NEEDS_RESET, and a reset brings the device back; the held
 * transfers of the old rings are dropped, not completed. */
static void test_hostile_ring(void **state)
{
	static uint8_t pcm[PB_PERIOD];

	(void)state;
	st_start(
		&(struct vsnd_opts){.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = -1});
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	vsnd_xfer(&T, SND_TXQ, 0, 0, pcm, PB_PERIOD);
	vsnd_xfer(&T, SND_TXQ, 1, 0, pcm, PB_PERIOD);
	/* The avail index jumps past the ring's size. */
	vdrv_avail_set_idx(&T.q[SND_TXQ], (uint16_t)(T.q[SND_TXQ].avail_idx + T.qsize + 5));
	assert_int_equal(vdrv_kick(&T.q[SND_TXQ]), 0);
	assert_true(vcore_wait_needs_reset(&T.core, ST_TIMEOUT_MS));
	assert_int_equal(vcore_reset(&T.core, ST_TIMEOUT_MS), 0);
	T.core.needs_reset = 0;
	assert_int_equal(vsnd_activate(&T), 0);
	assert_int_equal(vsnd_serving(&T), 0);
	/* The stream starts over from its parameters. */
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_BAD_MSG);
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	assert_int_equal(vsnd_serving(&T), 0);
}

/* Pushed sound that is not a WAV: logged, the configured source goes on;
 * a header cut short and then EOF; the device never waits on a pipe
 * nobody writes. */
static void test_hostile_push(void **state)
{
	static uint8_t got[8 * PB_PERIOD], file_pcm[960];
	int src, p[2];

	(void)state;
	memset(file_pcm, 0x11, sizeof(file_pcm));
	src = st_wav_file(&(struct pcm_spec){CELLVM_AUDIO_S16, 48000, 2}, file_pcm,
			  sizeof(file_pcm));
	st_start(&(struct vsnd_opts){
		.playback = 0, .capture = 1, .wav_sink = -1, .wav_source = src});
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	/* Garbage. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	memset(got, 0x77, 256);
	assert_int_equal(write(p[1], got, 256), 256);
	assert_int_equal(vsnd_audio_source(&T, 1, p[0]), 0);
	close(p[0]);
	(void)st_capture(0, PB_PERIOD, 8, got);
	assert_int_equal(got[8 * PB_PERIOD - 1], 0x11);
	close(p[1]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	/* A pipe nobody writes, never closed: silence, the guest goes on. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "RIFF", 4), 4);
	assert_int_equal(vsnd_audio_source(&T, 2, p[0]), 0);
	close(p[0]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	(void)st_capture(0, PB_PERIOD, 8, got);
	assert_int_equal(got[8 * PB_PERIOD - 1], 0);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	/* Then EOF with the header still short: back to the file. */
	close(p[1]);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_PREPARE, 0), SND_S_OK);
	(void)st_capture(0, PB_PERIOD, 4, got);
	assert_int_equal(got[4 * PB_PERIOD - 1], 0x11);
	assert_int_equal(vsnd_serving(&T), 0);
	close(src);
}

/* The launcher's side is a peer too: pushed sound with id 0, or with no
 * fd, breaks the protocol and the device exits with status 1. */
static void test_hostile_control(void **state)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__AudioSource a = CELLVM__DEVICE__AUDIO_SOURCE__INIT;
	int p[2];

	(void)state;
	for (int round = 0; round < 2; round++) {
		st_start(&(struct vsnd_opts){
			.playback = 1, .capture = 1, .wav_sink = -1, .wav_source = -1});
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		if (round == 0) {
			assert_int_equal(vsnd_audio_source(&T, 0, p[0]), 0);
		} else {
			a.id = 5;
			m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_AUDIO_SOURCE;
			m.audio_source = &a;
			assert_int_equal(channel_send(T.core.proc.ctl, &m.base, 16384, NULL, 0), 0);
		}
		assert_int_equal(vcore_wait_exit(&T.core, ST_TIMEOUT_MS), 1);
		(void)vsnd_stop(&T);
		close(p[0]);
		close(p[1]);
	}
}

/* The WAV sink keeps the parameters of its first period: playback in
 * other ones afterwards is converted to them (mono S16 spread to both
 * channels), and the header's sizes count it all. */
static void test_wav_sink_convert(void **state)
{
	static uint8_t data[4][PB_PERIOD], file[44 + 4 * PB_PERIOD + 64], mono[PB_PERIOD / 2];
	struct vsnd_opts o = st_default();
	uint64_t t0, data_bytes;
	struct pcm_spec spec;
	size_t hdr_len;
	uint32_t id, len, head;
	ssize_t n;
	int wav = st_tmpfile();

	(void)state;
	o.wav_sink = wav;
	st_start(&o);
	for (uint32_t k = 0; k < 4; k++)
		st_pattern(data[k], PB_PERIOD, 60 + k);
	st_prepare(0, 4 * PB_PERIOD, PB_PERIOD, 2, CELLVM_AUDIO_S16, RATE_48000);
	(void)st_play(data, 2, &t0, NULL);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_RELEASE, 0), SND_S_OK);
	/* One period of mono: 480 frames of 2 bytes. */
	st_prepare(0, 4 * sizeof(mono), sizeof(mono), 1, CELLVM_AUDIO_S16, RATE_48000);
	for (uint32_t i = 0; i < sizeof(mono) / 2; i++) {
		mono[2 * i] = (uint8_t)i;
		mono[2 * i + 1] = (uint8_t)(i >> 1);
	}
	head = (uint32_t)vsnd_xfer(&T, SND_TXQ, 0, 0, mono, sizeof(mono));
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_START, 0), SND_S_OK);
	st_used(SND_TXQ, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(vsnd_pcm(&T, SND_R_PCM_STOP, 0), SND_S_OK);

	n = pread(wav, file, sizeof(file), 0);
	assert_int_equal(wav_parse(file, (size_t)n, &spec, &data_bytes, &hdr_len, NULL, 0), 0);
	assert_int_equal(spec.channels, 2);
	/* The converter holds the last frame back until more comes (it
	 * interpolates between two). */
	assert_true(data_bytes == 3 * PB_PERIOD || data_bytes == 3 * PB_PERIOD - 4);
	assert_int_equal((size_t)n, hdr_len + data_bytes);
	assert_memory_equal(file + hdr_len, data, 2 * PB_PERIOD);
	for (uint32_t i = 0; i < (data_bytes - 2 * PB_PERIOD) / 4; i++) {
		const uint8_t *f = file + hdr_len + 2 * PB_PERIOD + 4 * i;

		assert_memory_equal(f, mono + 2 * i, 2);
		assert_memory_equal(f + 2, mono + 2 * i, 2);
	}
	assert_int_equal(vsnd_serving(&T), 0);
	close(wav);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_info, teardown),
		cmocka_unit_test_teardown(test_params, teardown),
		cmocka_unit_test_teardown(test_states, teardown),
		cmocka_unit_test_teardown(test_playback, teardown),
		cmocka_unit_test_teardown(test_play_reads_late, teardown),
		cmocka_unit_test_teardown(test_stop_release, teardown),
		cmocka_unit_test_teardown(test_capture_wav, teardown),
		cmocka_unit_test_teardown(test_capture_convert, teardown),
		cmocka_unit_test_teardown(test_capture_push, teardown),
		cmocka_unit_test_teardown(test_readers, teardown),
		cmocka_unit_test_teardown(test_hostile_queries, teardown),
		cmocka_unit_test_teardown(test_hostile_xfers, teardown),
		cmocka_unit_test_teardown(test_hostile_ring, teardown),
		cmocka_unit_test_teardown(test_hostile_push, teardown),
		cmocka_unit_test_teardown(test_hostile_control, teardown),
		cmocka_unit_test_teardown(test_wav_sink_convert, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
