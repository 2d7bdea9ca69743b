/* libFuzzer target for common/pcm.c: arbitrary bytes as a WAV file or
 * stream (UNTRUSTED: a WAV source on the host, a tenant's POST
 * /vm/{id}/audio-input body, cellctl play-audio's file, all of which reach
 * the snd device's parser). What the parser accepts is then converted to
 * each format the device offers, into an output buffer with a redzone.
 * Checks besides the sanitizers: an accepted header names a valid spec, its
 * PCM starts inside what was read, a header we write for that spec parses
 * back to it, and conversion never writes a partial frame or past its room
 * and consumes only whole input frames. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pcm.h"
#include "test/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t formats[] = {CELLVM_AUDIO_S16, CELLVM_AUDIO_S24, CELLVM_AUDIO_S32,
					   CELLVM_AUDIO_FLOAT};
	struct pcm_spec s, back;
	uint8_t h[WAV_HEADER_MAX_BYTES], out[4096 + 64];
	uint64_t bytes, b2;
	size_t hl, hl2, n;
	char err[128];

	if (wav_parse(data, size, &s, &bytes, &hl, err, sizeof(err)) != 0)
		return 0;
	CHECK(pcm_spec_valid(&s));
	CHECK(hl <= size && hl <= WAV_PARSE_MAX_BYTES);
	n = wav_header(h, &s, 1000);
	CHECK(n == WAV_HEADER_BYTES || n == WAV_HEADER_MAX_BYTES);
	CHECK(wav_parse(h, n, &back, &b2, &hl2, NULL, 0) == 0);
	CHECK(!memcmp(&back, &s, sizeof(s)) && b2 == 1000 && hl2 == n);

	for (size_t f = 0; f < 4; f++) {
		/* The output's rate and channels from the input's last bytes:
		 * the fuzzer explores up- and down-sampling and mixing. */
		const uint8_t k = size ? data[size - 1] : 0;
		const struct pcm_spec o = {formats[f], k & 1 ? 8000 : 192000, 1 + (k >> 1) % 8};
		const uint32_t ofb = pcm_frame_bytes(&o);
		const size_t room = 4096 - 4096 % ofb;
		struct pcm_conv c;
		size_t used, made, left = size - hl;
		const uint8_t *p = data + hl;

		CHECK(pcm_conv_init(&c, &s, &o) == 0);
		memset(out + room, 0xa5, sizeof(out) - room);
		while (left) {
			made = pcm_conv_run(&c, p, left, &used, out, room);
			CHECK(made <= room && made % ofb == 0);
			CHECK(used <= left && used % pcm_frame_bytes(&s) == 0);
			for (size_t i = room; i < sizeof(out); i++)
				CHECK(out[i] == 0xa5);
			if (!made && !used)
				break;
			p += used;
			left -= used;
		}
	}
	return 0;
}
