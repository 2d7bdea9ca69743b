/* libFuzzer target for the frame capture ring's reader helpers
 * (proto/capture_ring.h): the input is the whole ring as a hostile gpu
 * process could leave it, mapped as given (a buffer of exactly that size,
 * so ASan sees any read past the mapping). Whatever the helpers accept must
 * keep the header's promises.
 * Built with -DFUZZ_SEEDGEN it writes seed inputs: rings the real writer
 * (dev-procs/gpu/capture.c) produced. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/capture_ring.h"
#include "test/fuzz/fuzz_check.h"

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_frame(const void *map, size_t size, uint64_t want, void *out, size_t out_len)
{
	struct cellvm_capture_geometry g;
	struct cellvm_capture_slot meta;
	int r = cellvm_capture_read_frame(map, size, want, &meta, out, out_len);

	CHECK(r <= 1);
	if (r != 1)
		return;
	CHECK(cellvm_capture_geometry_get(map, size, &g) == 0);
	CHECK(want == 0 || meta.serial == want);
	CHECK(meta.width >= 1 && meta.width <= g.max_width);
	CHECK(meta.height >= 1 && meta.height <= g.max_height);
	CHECK(meta.stride >= meta.width * 4u);
	CHECK((uint64_t)meta.stride * meta.height <= out_len);
	CHECK(meta.ndamage >= 1 && meta.ndamage <= CELLVM_CAPTURE_MAX_DAMAGE);
	for (uint32_t i = 0; i < meta.ndamage; i++) {
		CHECK((uint64_t)meta.damage[i].x + meta.damage[i].w <= meta.width);
		CHECK((uint64_t)meta.damage[i].y + meta.damage[i].h <= meta.height);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cellvm_capture_cursor cur;
	uint8_t *map, *out;
	int64_t latest;
	int r;

	/* malloc keeps the 8-byte alignment a page-aligned mapping has. */
	map = malloc(size ? size : 1);
	out = malloc(size ? size : 1);
	if (!map || !out)
		abort();
	memcpy(map, data, size);

	r = cellvm_capture_check(map, size);
	CHECK(r == 0 || r == -EPROTO || r == -EBADMSG || r == -EINVAL);
	latest = cellvm_capture_latest(map, size);
	CHECK((latest < 0) == (r < 0));
	/* Any frame that fits the mapping fits a buffer of its size. */
	fuzz_frame(map, size, 0, out, size);
	fuzz_frame(map, size, 1, out, size);
	if (latest > 1)
		fuzz_frame(map, size, (uint64_t)latest - 1, out, size);
	fuzz_frame(map, size, 0, out, size / 3);
	r = cellvm_capture_read_cursor(map, size, &cur);
	CHECK(r <= 1);
	if (r == 1)
		CHECK(cur.width == CELLVM_CAPTURE_CURSOR_SIZE && cur.hot_x < cur.width &&
		      cur.hot_y < cur.height && cur.visible <= 1);
	free(out);
	free(map);
	return 0;
}

#else /* FUZZ_SEEDGEN */
#include <sys/mman.h>
#include <unistd.h>

#include "dev-procs/gpu/capture.h"

static int seed_ring(const char *dir, const char *name, uint32_t nslots, uint32_t w, uint32_t h,
		     uint32_t nframes)
{
	static uint32_t px[16 * 16], img[CELLVM_CAPTURE_CURSOR_SIZE * CELLVM_CAPTURE_CURSOR_SIZE];
	struct capture_rect dmg[2] = {{0, 0, 1, 1}, {1, 1, w - 1, h - 1}};
	size_t bytes = capture_ring_bytes(nslots, w, h);
	char path[4096];
	struct capture c;
	FILE *f;
	int fd = memfd_create("seed", MFD_CLOEXEC), r;

	if (fd < 0 || bytes == 0 || w > 16 || h > 16 || ftruncate(fd, (off_t)bytes) < 0)
		return -1;
	r = capture_init(&c, fd, nslots, w, h, NULL, 0);
	if (r < 0)
		return r;
	for (uint32_t s = 1; s <= nframes; s++) {
		for (size_t i = 0; i < sizeof(px) / sizeof(px[0]); i++)
			px[i] = s * 0x01010101u + (uint32_t)i;
		if (capture_publish(&c, 0, DRM_FORMAT_XRGB8888, w, h, w * 4, (const uint8_t *)px,
				    dmg, s % 3) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(img) / sizeof(img[0]); i++)
		img[i] = 0xff000000u | (uint32_t)i;
	capture_cursor(&c, img, 1, 2, 3, 4, 0, true);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(c.hdr, 1, bytes, f) != bytes || fclose(f) != 0)
		return -1;
	capture_destroy(&c);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if (seed_ring(argv[1], "ring-1x4x4", 1, 4, 4, 1) < 0 ||
	    seed_ring(argv[1], "ring-2x8x8", 2, 8, 8, 3) < 0 ||
	    seed_ring(argv[1], "ring-3x16x2", 3, 16, 2, 5) < 0) {
		fprintf(stderr, "fuzz_capture_reader_seedgen: cannot write the seeds\n");
		return 1;
	}
	return 0;
}
#endif
