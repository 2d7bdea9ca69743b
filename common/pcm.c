/* WAV headers and PCM conversion; see pcm.h. */
#include "common/pcm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define WAV_FORMAT_PCM	      0x0001
#define WAV_FORMAT_IEEE_FLOAT 0x0003
#define WAV_FORMAT_EXTENSIBLE 0xfffe

bool pcm_spec_valid(const struct pcm_spec *s)
{
	return cellvm_audio_sample_bytes(s->format) != 0 && s->rate >= CELLVM_AUDIO_MIN_RATE &&
	       s->rate <= CELLVM_AUDIO_MAX_RATE && s->channels >= 1 &&
	       s->channels <= CELLVM_AUDIO_MAX_CHANNELS;
}

uint32_t pcm_frame_bytes(const struct pcm_spec *s)
{
	return pcm_spec_valid(s) ? cellvm_audio_sample_bytes(s->format) * s->channels : 0;
}

/* ---- WAV ---- */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int wav_fail(int r, char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	return r;
}

/* The "fmt " chunk's body (n bytes, all present) into *spec. */
static int wav_parse_fmt(const uint8_t *f, uint32_t n, struct pcm_spec *spec, char *err,
			 size_t errlen)
{
	uint16_t tag, channels, align, bits, valid = 0;
	uint32_t rate, byte_rate;

	if (n < 16)
		return wav_fail(-EBADMSG, err, errlen, "fmt chunk shorter than 16 bytes");
	tag = le16(f);
	channels = le16(f + 2);
	rate = le32(f + 4);
	byte_rate = le32(f + 8);
	align = le16(f + 12);
	bits = le16(f + 14);
	if (tag == WAV_FORMAT_EXTENSIBLE) {
		/* cbSize (22), valid bits, channel mask, then the sub-format
		 * GUID whose first two bytes are the format tag. */
		if (n < 40 || le16(f + 16) < 22)
			return wav_fail(-EBADMSG, err, errlen, "WAVE_FORMAT_EXTENSIBLE too short");
		valid = le16(f + 18);
		tag = le16(f + 24);
	}
	if (channels < 1 || channels > CELLVM_AUDIO_MAX_CHANNELS)
		return wav_fail(-ENOTSUP, err, errlen, "channels: 1 to 8");
	if (rate < CELLVM_AUDIO_MIN_RATE || rate > CELLVM_AUDIO_MAX_RATE)
		return wav_fail(-ENOTSUP, err, errlen, "rate: 8000 to 192000 Hz");
	if (tag == WAV_FORMAT_PCM && bits == 16 && (valid == 0 || valid == 16))
		spec->format = CELLVM_AUDIO_S16;
	else if (tag == WAV_FORMAT_PCM && bits == 32 && valid == 24)
		spec->format = CELLVM_AUDIO_S24;
	else if (tag == WAV_FORMAT_PCM && bits == 32 && (valid == 0 || valid == 32))
		spec->format = CELLVM_AUDIO_S32;
	else if (tag == WAV_FORMAT_IEEE_FLOAT && bits == 32)
		spec->format = CELLVM_AUDIO_FLOAT;
	else
		return wav_fail(-ENOTSUP, err, errlen,
				"sample format: 16 or 32-bit integer, 24 in 32, or 32-bit float");
	spec->rate = rate;
	spec->channels = channels;
	if (align != pcm_frame_bytes(spec) || byte_rate != rate * (uint32_t)align)
		return wav_fail(-EBADMSG, err, errlen, "block align or byte rate do not match");
	return 0;
}

int wav_parse(const uint8_t *buf, size_t len, struct pcm_spec *spec, uint64_t *data_bytes,
	      size_t *header_len, char *err, size_t errlen)
{
	bool have_fmt = false;
	size_t off = 12;

	/* UNTRUSTED(file or API client): every chunk size is checked against
	 * what was read and WAV_PARSE_MAX_BYTES before its body is touched. */
	if (len > WAV_PARSE_MAX_BYTES)
		len = WAV_PARSE_MAX_BYTES;
	if (len < 12)
		return len >= 4 && memcmp(buf, "RIFF", 4)
			       ? wav_fail(-EBADMSG, err, errlen, "not a RIFF file")
			       : wav_fail(-EAGAIN, err, errlen, "header cut short");
	if (memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4))
		return wav_fail(-EBADMSG, err, errlen, "not a RIFF/WAVE file");
	for (;;) {
		uint32_t n;

		if (off + 8 > len)
			return off + 8 > WAV_PARSE_MAX_BYTES
				       ? wav_fail(-EBADMSG, err, errlen, "no data chunk in 4 KiB")
				       : wav_fail(-EAGAIN, err, errlen, "header cut short");
		n = le32(buf + off + 4);
		if (!memcmp(buf + off, "data", 4)) {
			if (!have_fmt)
				return wav_fail(-EBADMSG, err, errlen, "data chunk before fmt");
			*data_bytes = n == 0 || n == WAV_SIZE_STREAMING ? UINT64_MAX : n;
			*header_len = off + 8;
			return 0;
		}
		if (!memcmp(buf + off, "fmt ", 4)) {
			int r;

			if (have_fmt)
				return wav_fail(-EBADMSG, err, errlen, "two fmt chunks");
			if (n > WAV_PARSE_MAX_BYTES)
				return wav_fail(-EBADMSG, err, errlen, "fmt chunk too long");
			if (off + 8 + n > len)
				return off + 8 + n > WAV_PARSE_MAX_BYTES
					       ? wav_fail(-EBADMSG, err, errlen,
							  "fmt chunk too long")
					       : wav_fail(-EAGAIN, err, errlen, "header cut short");
			r = wav_parse_fmt(buf + off + 8, n, spec, err, errlen);
			if (r < 0)
				return r;
			have_fmt = true;
		}
		/* Chunks are padded to an even size. */
		if (n > WAV_PARSE_MAX_BYTES - off - 8)
			return wav_fail(-EBADMSG, err, errlen, "no data chunk in 4 KiB");
		off += 8 + (size_t)n + (n & 1);
	}
}

size_t wav_header(uint8_t out[WAV_HEADER_MAX_BYTES], const struct pcm_spec *s, uint32_t data_bytes)
{
	const uint32_t fb = pcm_frame_bytes(s);
	const bool ext = s->format == CELLVM_AUDIO_S24;
	const uint32_t fmt_len = ext ? 40 : 16;
	const size_t hlen = 12 + 8 + fmt_len + 8;
	uint32_t riff;
	uint8_t *f;

	if (!fb)
		return 0;
	riff = data_bytes == WAV_SIZE_STREAMING || data_bytes > UINT32_MAX - (hlen - 8)
		       ? WAV_SIZE_STREAMING
		       : (uint32_t)(hlen - 8) + data_bytes;
	memset(out, 0, WAV_HEADER_MAX_BYTES);
	memcpy(out, "RIFF", 4);
	put32(out + 4, riff);
	memcpy(out + 8, "WAVEfmt ", 8);
	put32(out + 16, fmt_len);
	f = out + 20;
	put16(f, ext				   ? WAV_FORMAT_EXTENSIBLE
		 : s->format == CELLVM_AUDIO_FLOAT ? WAV_FORMAT_IEEE_FLOAT
						   : WAV_FORMAT_PCM);
	put16(f + 2, (uint16_t)s->channels);
	put32(f + 4, s->rate);
	put32(f + 8, s->rate * fb);
	put16(f + 12, (uint16_t)fb);
	put16(f + 14, (uint16_t)(cellvm_audio_sample_bytes(s->format) * 8));
	if (ext) {
		/* cbSize 22, 24 valid bits, no channel mask, and the PCM
		 * sub-format GUID 00000001-0000-0010-8000-00aa00389b71. */
		static const uint8_t pcm_guid[16] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
						     0x10, 0x00, 0x80, 0x00, 0x00, 0xaa,
						     0x00, 0x38, 0x9b, 0x71};

		put16(f + 16, 22);
		put16(f + 18, 24);
		memcpy(f + 24, pcm_guid, 16);
	}
	memcpy(out + 20 + fmt_len, "data", 4);
	put32(out + 24 + fmt_len, data_bytes);
	return hlen;
}

/* ---- conversion ---- */

int pcm_conv_init(struct pcm_conv *c, const struct pcm_spec *in, const struct pcm_spec *out)
{
	memset(c, 0, sizeof(*c));
	if (!pcm_spec_valid(in) || !pcm_spec_valid(out))
		return -EINVAL;
	c->in = *in;
	c->out = *out;
	c->step = ((uint64_t)in->rate << 32) / out->rate;
	return 0;
}

static float pcm_get(uint32_t format, const uint8_t *p)
{
	int32_t v;
	float f;

	switch (format) {
	case CELLVM_AUDIO_S16: return (float)(int16_t)le16(p) / 32768.0f;
	case CELLVM_AUDIO_S24:
		/* 24 bits in the low bytes: sign-extend from bit 23. */
		v = (int32_t)(le32(p) << 8) >> 8;
		return (float)v / 8388608.0f;
	case CELLVM_AUDIO_S32: return (float)((double)(int32_t)le32(p) / 2147483648.0);
	default:
		v = (int32_t)le32(p);
		memcpy(&f, &v, sizeof(f));
		return isfinite(f) ? f : 0.0f;
	}
}

static void pcm_put(uint32_t format, uint8_t *p, float x)
{
	double d;
	uint32_t u;

	if (x > 1.0f)
		x = 1.0f;
	if (x < -1.0f)
		x = -1.0f;
	switch (format) {
	case CELLVM_AUDIO_S16:
		d = lrint((double)x * 32768.0);
		put16(p, (uint16_t)(int16_t)(d > 32767 ? 32767 : d));
		break;
	case CELLVM_AUDIO_S24:
		d = lrint((double)x * 8388608.0);
		put32(p, (uint32_t)(int32_t)(d > 8388607 ? 8388607 : d));
		break;
	case CELLVM_AUDIO_S32:
		d = llrint((double)x * 2147483648.0);
		put32(p, (uint32_t)(int32_t)(d > 2147483647.0 ? 2147483647.0 : d));
		break;
	default:
		memcpy(&u, &x, sizeof(u));
		put32(p, u);
		break;
	}
}

/* One input frame into f[], in the output's channels. */
static void pcm_load(const struct pcm_conv *c, const uint8_t *p, float *f)
{
	const uint32_t sb = cellvm_audio_sample_bytes(c->in.format);
	float in[CELLVM_AUDIO_MAX_CHANNELS], sum = 0;

	for (uint32_t i = 0; i < c->in.channels; i++) {
		in[i] = pcm_get(c->in.format, p + i * sb);
		sum += in[i];
	}
	if (c->out.channels == 1) {
		f[0] = sum / (float)c->in.channels;
		return;
	}
	for (uint32_t j = 0; j < c->out.channels; j++)
		f[j] = in[j % c->in.channels];
}

size_t pcm_conv_run(struct pcm_conv *c, const void *in, size_t in_bytes, size_t *in_used, void *out,
		    size_t out_cap)
{
	const uint32_t ifb = pcm_frame_bytes(&c->in), ofb = pcm_frame_bytes(&c->out);
	const uint32_t osb = cellvm_audio_sample_bytes(c->out.format);
	const uint8_t *ip = in;
	uint8_t *op = out;
	size_t ni = ifb ? in_bytes / ifb : 0, no = ofb ? out_cap / ofb : 0, i = 0, o = 0;

	*in_used = 0;
	if (!ifb || !ofb)
		return 0;
	if (!memcmp(&c->in, &c->out, sizeof(c->in))) {
		/* The same spec: bytes through unchanged. */
		size_t n = ni < no ? ni : no;

		memcpy(out, in, n * ifb);
		*in_used = n * ifb;
		return n * ofb;
	}
	while (c->primed < 2 && i < ni) {
		memcpy(c->prev, c->cur, sizeof(c->prev));
		pcm_load(c, ip + i++ * ifb, c->cur);
		c->primed++;
	}
	while (c->primed == 2 && o < no) {
		if (c->phase >= (1ULL << 32)) {
			if (i == ni)
				break;
			memcpy(c->prev, c->cur, sizeof(c->prev));
			pcm_load(c, ip + i++ * ifb, c->cur);
			c->phase -= 1ULL << 32;
			continue;
		}
		const float t = (float)((double)c->phase / 4294967296.0);

		for (uint32_t j = 0; j < c->out.channels; j++)
			pcm_put(c->out.format, op + o * ofb + j * osb,
				c->prev[j] + (c->cur[j] - c->prev[j]) * t);
		o++;
		c->phase += c->step;
	}
	*in_used = i * ifb;
	return o * ofb;
}

void pcm_silence(const struct pcm_spec *s, void *out, size_t bytes)
{
	/* Zero is silence in every format here (signed integers, float). */
	(void)s;
	memset(out, 0, bytes);
}
