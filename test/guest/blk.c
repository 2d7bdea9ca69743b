/* cellvm-check-blk: the test guest's virtio-blk check, run in guest user
 * space by /checks/blk. Writes a pattern over the first BYTES of DEVICE with
 * O_DIRECT, flushes, reads it all back with O_DIRECT and compares; prints
 * one CELLVM-DATA line with the CRC-32 of what it read, which the host
 * compares with the image file. With PAUSE=1 it stops after the first half,
 * says so, and waits for a line on stdin: the host restarts the device
 * process meanwhile. The pattern of sector s is 32 copies of the 16 bytes
 * (mix(SEED ^ s), s), little-endian; test/guest/guest_check.py makes the same.
 * Usage: cellvm-check-blk DEVICE BYTES SEED PAUSE   (exit 0: all matched) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest_util.h"

#define SECTOR 512u
#define CHUNK  (1u << 20)

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill_sector(uint8_t *p, uint64_t seed, uint64_t s)
{
	uint64_t pair[2] = {mix(seed ^ s), s}; /* x86: already little-endian */

	for (unsigned i = 0; i < SECTOR / sizeof(pair); i++)
		memcpy(p + i * sizeof(pair), pair, sizeof(pair));
}

static int write_range(int fd, uint8_t *buf, uint64_t seed, uint64_t from, uint64_t to)
{
	for (uint64_t off = from; off < to; off += CHUNK) {
		size_t n = to - off < CHUNK ? (size_t)(to - off) : CHUNK;
		for (size_t i = 0; i < n; i += SECTOR)
			fill_sector(buf + i, seed, (off + i) / SECTOR);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			printf("CELLVM-DATA blk error=write offset=%" PRIu64 " errno=%d\n", off,
			       errno);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t bytes, seed, size = 0, mismatches = 0;
	uint8_t *buf, want[SECTOR];
	uint32_t crc = 0;
	int fd, pause_mid;

	if (argc != 5) {
		fprintf(stderr, "usage: cellvm-check-blk DEVICE BYTES SEED PAUSE\n");
		return 2;
	}
	bytes = strtoull(argv[2], NULL, 0);
	seed = strtoull(argv[3], NULL, 0);
	pause_mid = atoi(argv[4]);
	if (bytes == 0 || bytes % (2 * CHUNK)) {
		fprintf(stderr, "cellvm-check-blk: BYTES must be a multiple of 2 MiB\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0 || size < bytes) {
		printf("CELLVM-DATA blk error=open device=%s size=%" PRIu64 " errno=%d\n", argv[1],
		       size, errno);
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, CHUNK))
		return 1;

	if (write_range(fd, buf, seed, 0, bytes / 2) < 0)
		return 1;
	if (pause_mid) {
		char line[64];
		/* One write, so the line reaches the console whole. */
		printf("CELLVM-CHECK-PAUSE blk first-half-written\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	if (write_range(fd, buf, seed, bytes / 2, bytes) < 0 || fsync(fd) < 0) {
		printf("CELLVM-DATA blk error=flush errno=%d\n", errno);
		return 1;
	}

	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n) {
			printf("CELLVM-DATA blk error=read offset=%" PRIu64 " errno=%d\n", off,
			       errno);
			return 1;
		}
		for (size_t i = 0; i < n; i += SECTOR) {
			fill_sector(want, seed, (off + i) / SECTOR);
			mismatches += memcmp(want, buf + i, SECTOR) != 0;
		}
		crc = guest_crc32(crc, buf, n);
	}
	printf("CELLVM-DATA blk bytes=%" PRIu64 " crc32=%08x mismatches=%" PRIu64 "\n", bytes, crc,
	       mismatches);
	close(fd);
	return mismatches ? 1 : 0;
}
