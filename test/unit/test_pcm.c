/* Unit tests for common/pcm.c: WAV headers written and parsed back in every
 * format, hostile headers refused with the right error, and conversion
 * checked by what it does to a sine: its frequency, level and length
 * survive a change of rate, format and channels. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/pcm.h"

static const uint32_t formats[] = {CELLVM_AUDIO_S16, CELLVM_AUDIO_S24, CELLVM_AUDIO_S32,
				   CELLVM_AUDIO_FLOAT};

static void test_header_roundtrip(void **state)
{
	(void)state;
	for (size_t f = 0; f < 4; f++) {
		for (uint32_t ch = 1; ch <= 8; ch += 3) {
			const struct pcm_spec s = {formats[f], 44100, ch};
			struct pcm_spec got;
			uint8_t h[WAV_HEADER_MAX_BYTES];
			uint64_t data;
			size_t n = wav_header(h, &s, 4000), hl;

			assert_true(n == WAV_HEADER_BYTES || n == WAV_HEADER_MAX_BYTES);
			assert_int_equal(wav_parse(h, n, &got, &data, &hl, NULL, 0), 0);
			assert_memory_equal(&got, &s, sizeof(s));
			assert_int_equal(data, 4000);
			assert_int_equal(hl, n);
			/* Every shorter prefix asks for more bytes. */
			for (size_t k = 0; k < n; k++)
				assert_int_equal(wav_parse(h, k, &got, &data, &hl, NULL, 0),
						 -EAGAIN);
			/* A stream's size reads as "to EOF". */
			n = wav_header(h, &s, WAV_SIZE_STREAMING);
			assert_int_equal(wav_parse(h, n, &got, &data, &hl, NULL, 0), 0);
			assert_true(data == UINT64_MAX);
		}
	}
	/* Nothing is written for a spec we do not carry. */
	uint8_t h[WAV_HEADER_MAX_BYTES];
	const struct pcm_spec bad[] = {{3, 44100, 2}, {5, 4000, 2}, {5, 48000, 0}, {5, 48000, 9}};

	for (size_t i = 0; i < 4; i++)
		assert_int_equal(wav_header(h, &bad[i], 0), 0);
}

/* A 16-bit stereo 48 kHz header with a LIST chunk (odd length: padded)
 * before the data, as many tools write. */
static size_t build(uint8_t *b, uint16_t tag, uint16_t ch, uint32_t rate, uint16_t bits,
		    uint16_t align, uint32_t byte_rate)
{
	size_t o = 0;

#define P32(v)                                                                                     \
	do {                                                                                       \
		uint32_t v_ = (v);                                                                 \
		memcpy(b + o, &v_, 4);                                                             \
		o += 4;                                                                            \
	} while (0)
#define P16(v)                                                                                     \
	do {                                                                                       \
		uint16_t v_ = (v);                                                                 \
		memcpy(b + o, &v_, 2);                                                             \
		o += 2;                                                                            \
	} while (0)
	memcpy(b, "RIFF", 4);
	o = 4;
	P32(0);
	memcpy(b + o, "WAVELIST", 8);
	o += 8;
	P32(3);
	memcpy(b + o, "abc\0", 4);
	o += 4;
	memcpy(b + o, "fmt ", 4);
	o += 4;
	P32(16);
	P16(tag);
	P16(ch);
	P32(rate);
	P32(byte_rate);
	P16(align);
	P16(bits);
	memcpy(b + o, "data", 4);
	o += 4;
	P32(100);
	return o;
}

static void test_parse_hostile(void **state)
{
	uint8_t b[8192];
	struct pcm_spec s;
	uint64_t data;
	size_t n, hl;
	char err[128];

	(void)state;
	n = build(b, 1, 2, 48000, 16, 4, 192000);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), 0);
	assert_int_equal(s.format, CELLVM_AUDIO_S16);
	assert_int_equal(hl, n);
	/* Not RIFF/WAVE. */
	memcpy(b, "RIFX", 4);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -EBADMSG);
	/* Formats we do not read. */
	n = build(b, 1, 2, 48000, 8, 2, 96000);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -ENOTSUP);
	n = build(b, 1, 2, 48000, 24, 6, 288000);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -ENOTSUP);
	n = build(b, 1, 9, 48000, 16, 18, 48000 * 18);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -ENOTSUP);
	n = build(b, 1, 2, 400000, 16, 4, 1600000);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -ENOTSUP);
	n = build(b, 2, 2, 48000, 16, 4, 192000); /* ADPCM */
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -ENOTSUP);
	/* Block align or byte rate that lie. */
	n = build(b, 1, 2, 48000, 16, 8, 384000);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -EBADMSG);
	n = build(b, 1, 2, 48000, 16, 4, 1);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -EBADMSG);
	/* A chunk whose size runs past 4 KiB, or to 4 GiB: refused, not read. */
	n = build(b, 1, 2, 48000, 16, 4, 192000);
	memset(b + 16, 0xff, 4);
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -EBADMSG);
	n = build(b, 1, 2, 48000, 16, 4, 192000);
	b[16] = 0xf0;
	b[17] = 0x0f; /* LIST of 4080 bytes: the data chunk would start past 4 KiB */
	memset(b + n, 0, sizeof(b) - n);
	assert_int_equal(wav_parse(b, sizeof(b), &s, &data, &hl, err, sizeof(err)), -EBADMSG);
	/* A data chunk before fmt. */
	memcpy(b, "RIFF\0\0\0\0WAVEdata\0\0\0\0", 20);
	assert_int_equal(wav_parse(b, 20, &s, &data, &hl, err, sizeof(err)), -EBADMSG);
	/* A fmt chunk too short. */
	n = build(b, 1, 2, 48000, 16, 4, 192000);
	b[28] = 8;
	assert_int_equal(wav_parse(b, n, &s, &data, &hl, err, sizeof(err)), -EBADMSG);
}

/* The frequency of the strongest of candidates in x (n samples at rate),
 * by Goertzel. */
static double peak(const float *x, size_t n, double rate, double *level)
{
	double best = 0, bestp = -1;

	for (double f = 100; f <= 4000; f += 5) {
		const double w = 2 * M_PI * f / rate, k = 2 * cos(w);
		double s1 = 0, s2 = 0;

		for (size_t i = 0; i < n; i++) {
			const double s0 = x[i] + k * s1 - s2;

			s2 = s1;
			s1 = s0;
		}
		const double p = s1 * s1 + s2 * s2 - k * s1 * s2;

		if (p > bestp) {
			bestp = p;
			best = f;
		}
	}
	*level = 2 * sqrt(bestp) / (double)n;
	return best;
}

/* The test's own reading of one sample, apart from pcm.c's. */
static float decode(uint32_t format, const uint8_t *p)
{
	int16_t s16;
	int32_t s32;
	float f;

	switch (format) {
	case CELLVM_AUDIO_S16: memcpy(&s16, p, 2); return s16 / 32768.0f;
	case CELLVM_AUDIO_S24:
		memcpy(&s32, p, 4);
		assert_true(s32 >= -8388608 && s32 <= 8388607);
		return (float)s32 / 8388608.0f;
	case CELLVM_AUDIO_S32: memcpy(&s32, p, 4); return (float)(s32 / 2147483648.0);
	default: memcpy(&f, p, 4); return f;
	}
}

static void test_convert_sine(void **state)
{
	const struct pcm_spec in = {CELLVM_AUDIO_S16, 44100, 1};
	const size_t nin = 44100; /* one second */

	(void)state;
	int16_t *src = malloc(nin * 2);

	for (size_t i = 0; i < nin; i++)
		src[i] = (int16_t)lrint(16000 * sin(2 * M_PI * 1000 * (double)i / 44100));
	for (size_t f = 0; f < 4; f++) {
		const struct pcm_spec out = {formats[f], 48000, 2};
		const uint32_t ofb = pcm_frame_bytes(&out), sb = ofb / 2;
		struct pcm_conv c;
		uint8_t *dst = calloc(60000, ofb);
		size_t used = 0, made = 0, u;

		assert_int_equal(pcm_conv_init(&c, &in, &out), 0);
		/* In odd-sized pieces, into odd-sized room: the phase carries. */
		while (used < nin * 2) {
			size_t piece = nin * 2 - used < 777 ? nin * 2 - used : 777;

			made += pcm_conv_run(&c, (uint8_t *)src + used, piece, &u, dst + made,
					     999 * ofb);
			assert_true(u > 0 || piece < 2);
			used += u;
		}
		/* One second in is one second out, within a frame or two. */
		assert_true(made / ofb >= 47998 && made / ofb <= 48001);
		float *l = malloc(48000 * sizeof(float)), *r = malloc(48000 * sizeof(float));
		const size_t n = made / ofb;

		for (size_t i = 0; i < n; i++) {
			l[i] = decode(formats[f], dst + i * ofb);
			r[i] = decode(formats[f], dst + i * ofb + sb);
		}
		double lv, rv;

		assert_true(fabs(peak(l, n, 48000, &lv) - 1000) <= 5);
		assert_true(fabs(peak(r, n, 48000, &rv) - 1000) <= 5);
		/* 16000 / 32768 of full scale, both channels. */
		assert_true(fabs(lv - 0.488) < 0.02 && fabs(rv - 0.488) < 0.02);
		free(l);
		free(r);
		free(dst);
	}
	free(src);
}

static void test_convert_identity_and_mix(void **state)
{
	const struct pcm_spec s = {CELLVM_AUDIO_S16, 48000, 2}, mono = {CELLVM_AUDIO_S16, 48000, 1};
	int16_t in[8] = {100, 300, -200, -400, 32767, 32767, -32768, -32768}, out[8];
	struct pcm_conv c;
	size_t u;

	(void)state;
	/* The same spec passes bytes through, no delay, no change. */
	assert_int_equal(pcm_conv_init(&c, &s, &s), 0);
	assert_int_equal(pcm_conv_run(&c, in, sizeof(in) - 1, &u, out, sizeof(out)), 12);
	assert_int_equal(u, 12);
	assert_memory_equal(in, out, 12);
	/* Stereo to mono averages; full scale stays full scale. */
	assert_int_equal(pcm_conv_init(&c, &s, &mono), 0);
	size_t n = pcm_conv_run(&c, in, sizeof(in), &u, out, sizeof(out));

	assert_true(n >= 2 * 2);
	assert_int_equal(out[0], 200);
	assert_int_equal(out[1], -300);
	/* Bad specs are refused. */
	const struct pcm_spec bad = {CELLVM_AUDIO_S16, 48000, 0};

	assert_int_equal(pcm_conv_init(&c, &bad, &s), -EINVAL);
	/* Float input that is not finite or out of range is clamped. */
	const struct pcm_spec fin = {CELLVM_AUDIO_FLOAT, 48000, 1};
	float fx[4] = {NAN, INFINITY, 5.0f, -5.0f};
	int16_t o16[4];

	assert_int_equal(pcm_conv_init(&c, &fin, &mono), 0);
	n = pcm_conv_run(&c, fx, sizeof(fx), &u, o16, sizeof(o16));
	assert_true(n >= 4);
	assert_int_equal(o16[0], 0);
	assert_int_equal(o16[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_convert_sine),
		cmocka_unit_test(test_convert_identity_and_mix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
