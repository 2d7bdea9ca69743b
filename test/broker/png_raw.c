/* png_raw: decode a PNG (the broker's screenshots, gvnccapture's frames) for
 * the Python tests, which compare pixels: reads the PNG file named by argv[1]
 * and writes "WIDTH HEIGHT\n" and then the pixels as 8-bit RGB rows to
 * stdout. Uses libspng, an implementation apart from the encoder's use of it
 * only in that it decodes. Exit 0, or 1 with a message. */
#include <errno.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct spng_ihdr ihdr;
	spng_ctx *ctx;
	size_t len;
	uint8_t *out;
	FILE *f;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: png_raw FILE.png\n");
		return 1;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		fprintf(stderr, "png_raw: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ctx = spng_ctx_new(0);
	if (!ctx || spng_set_png_file(ctx, f) || spng_get_ihdr(ctx, &ihdr) ||
	    spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &len)) {
		fprintf(stderr, "png_raw: %s: not a PNG libspng reads\n", argv[1]);
		return 1;
	}
	out = malloc(len);
	if (!out)
		return 1;
	r = spng_decode_image(ctx, out, len, SPNG_FMT_RGB8, 0);
	if (r) {
		fprintf(stderr, "png_raw: %s: %s\n", argv[1], spng_strerror(r));
		return 1;
	}
	printf("%u %u\n", ihdr.width, ihdr.height);
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout))
		return 1;
	free(out);
	spng_ctx_free(ctx);
	fclose(f);
	return 0;
}
