/* libFuzzer target for cellvm-dev-gpu's command model (dev-procs/gpu:
 * gpu_cmd.c, gpu_res.c) with the real capture ring writer behind it: a
 * sequence of control and cursor commands, in-process, over a fake guest
 * RAM of 16 MiB, with a budget of 4 MiB and two scanouts. Layout, repeated
 * until the input ends: byte 0 (bit 0: cursor queue; bits 1-7: where the
 * command splits into two readable segments, in 8-byte steps), le16 command
 * length (mod 4097), le16 response buffer length (mod 1101), then the
 * command's bytes. Backing entries the commands name point anywhere in the
 * fake RAM (or outside). Checks besides the sanitizers: a response never
 * exceeds its buffer, the budget is never exceeded, and after the device's
 * reset every byte and resource is given back. Built with -DFUZZ_SEEDGEN it
 * writes seed inputs: the device test's hostile cases. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev-procs/gpu/gpu_cmd.h"
#include "test/fuzz/fuzz_check.h"

#define RAM_SIZE  GMEM_MIN_SIZE
#define CMD_AT	  0x1000
#define RESP_AT	  0x4000
#define MAX_CMD	  4096
#define MAX_RESP  1100
#define BUDGET	  (4u << 20)
#define RING_W	  128
#define RING_H	  128
#define RING_SLOT 2

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct gmem mem;
static struct capture cap;
static struct gpu_model model;
static struct virtq_chain chain;

static void fuzz_init(void)
{
	int fd;

	ram = calloc(1, RAM_SIZE);
	CHECK(ram && gmem_init(&mem, ram, RAM_SIZE) == 0);
	fd = memfd_create("fuzz-ring", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)capture_ring_bytes(RING_SLOT, RING_W, RING_H)) == 0);
	CHECK(capture_init(&cap, fd, RING_SLOT, RING_W, RING_H, NULL, 0) == 0);
	close(fd); /* the mapping stays */
}

static uint32_t fuzz_one(const uint8_t *cmd, uint32_t len, uint32_t split, uint32_t rlen,
			 bool cursor)
{
	uint32_t n = 0, used;

	memcpy(ram + CMD_AT, cmd, len);
	memset(ram + RESP_AT, 0xee, MAX_RESP + 1);
	chain = (struct virtq_chain){0};
	if (split && split < len) {
		chain.seg[n++] = (struct virtq_seg){CMD_AT, split, false, ram + CMD_AT};
		chain.seg[n++] = (struct virtq_seg){CMD_AT + split, len - split, false,
						    ram + CMD_AT + split};
	} else if (len) {
		chain.seg[n++] = (struct virtq_seg){CMD_AT, len, false, ram + CMD_AT};
	}
	chain.nread = n;
	chain.read_len = len;
	if (rlen)
		chain.seg[n++] = (struct virtq_seg){RESP_AT, rlen, true, ram + RESP_AT};
	chain.nseg = n;
	chain.write_len = rlen;
	used = cursor ? gpu_cmd_cursor(&model, &chain) : gpu_cmd_ctrl(&model, &chain);
	CHECK(used <= rlen);
	CHECK(ram[RESP_AT + rlen] == 0xee); /* nothing past the buffer */
	CHECK(cursor ? used == 0 : used == (rlen < GPU_HDR_LEN ? rlen : used));
	CHECK(model.res.bytes <= model.res.max_bytes);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t modes[2][2] = {{64, 64}, {1024, 768}};
	size_t off = 0;

	if (!ram)
		fuzz_init();
	gpu_model_init(&model, &mem, BUDGET, modes, 2, &cap);
	while (size - off >= 5) {
		const uint8_t *h = data + off;
		uint32_t len = (uint32_t)(h[1] | h[2] << 8) % (MAX_CMD + 1);
		uint32_t rlen = (uint32_t)(h[3] | h[4] << 8) % (MAX_RESP + 1);

		off += 5;
		if (len > size - off)
			len = (uint32_t)(size - off);
		fuzz_one(data + off, len, (uint32_t)(h[0] >> 1) * 8, rlen, h[0] & 1);
		off += len;
	}
	gpu_model_reset(&model);
	/* Nothing the guest made outlives the reset. */
	CHECK(model.res.bytes == 0 && model.res.count == 0);
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

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* One command: its bytes are type, then the 32-bit words after the 24-byte
 * header (fence flags and ids zero). */
static void seed_cmd(struct seed *s, bool cursor, uint32_t rlen, uint32_t type, uint32_t n,
		     const uint32_t *w)
{
	uint8_t *h = s->b + s->n;
	uint32_t len = GPU_HDR_LEN + 4 * n;

	h[0] = cursor;
	h[1] = (uint8_t)len;
	h[2] = (uint8_t)(len >> 8);
	h[3] = (uint8_t)rlen;
	h[4] = (uint8_t)(rlen >> 8);
	memset(h + 5, 0, len);
	put32(h + 5, type);
	for (uint32_t i = 0; i < n; i++)
		put32(h + 5 + GPU_HDR_LEN + 4 * i, w[i]);
	s->n += 5 + len;
}

#define CMD(s, type, ...)                                                                          \
	seed_cmd(s, false, GPU_HDR_LEN, type, sizeof((uint32_t[]){__VA_ARGS__}) / 4,               \
		 (uint32_t[]){__VA_ARGS__})
#define CUR(s, type, ...)                                                                          \
	seed_cmd(s, true, 0, type, sizeof((uint32_t[]){__VA_ARGS__}) / 4, (uint32_t[]){__VA_ARGS__})

/* ATTACH_BACKING of id with n entries (addr, len) claimed as nr. */
static void seed_attach(struct seed *s, uint32_t id, uint32_t nr, const uint64_t *addr,
			const uint32_t *len, uint32_t n)
{
	uint8_t *h = s->b + s->n;
	uint32_t l = GPU_HDR_LEN + 8 + 16 * n;

	seed_cmd(s, false, GPU_HDR_LEN, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 2,
		 (uint32_t[]){id, nr});
	h[1] = (uint8_t)l;
	h[2] = (uint8_t)(l >> 8);
	for (uint32_t i = 0; i < n; i++) {
		memset(s->b + s->n + 16 * i, 0, 16);
		put64(s->b + s->n + 16 * i, addr[i]);
		put32(s->b + s->n + 16 * i + 8, len[i]);
	}
	s->n += 16 * n;
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

/* The good path: create, attach over two pieces, transfer, show, flush. */
static void seed_frame(struct seed *s, uint32_t id, uint32_t format)
{
	CMD(s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, id, format, 64, 64);
	seed_attach(s, id, 2, (uint64_t[]){0x10000, 0x20000}, (uint32_t[]){8192, 8192}, 2);
	CMD(s, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 64, 64, 0, 0, id, 0);
	CMD(s, VIRTIO_GPU_CMD_SET_SCANOUT, 0, 0, 64, 64, 0, id);
	CMD(s, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 8, 8, 16, 16, id, 0);
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
	seed_cmd(&s, false, GPU_DISPLAY_INFO_LEN, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0, NULL);
	seed_cmd(&s, false, GPU_RESP_EDID_LEN, VIRTIO_GPU_CMD_GET_EDID, 2, (uint32_t[]){1, 0});
	seed_cmd(&s, false, GPU_RESP_EDID_LEN, VIRTIO_GPU_CMD_GET_EDID, 2, (uint32_t[]){7, 0});
	r |= seed_write(argv[1], "info_edid", &s);

	s.n = 0;
	seed_frame(&s, 1, 2);
	seed_frame(&s, 2, 121);
	CMD(&s, VIRTIO_GPU_CMD_SET_SCANOUT, 0, 0, 32, 32, 1, 2);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 1, 0);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_UNREF, 1, 0);
	r |= seed_write(argv[1], "frame", &s);

	/* Unref of what the scanouts show, then the id again. */
	s.n = 0;
	seed_frame(&s, 1, 1);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_UNREF, 1, 0);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, 2, 4, 4);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 0, 0, 4, 4, 1, 0);
	CMD(&s, VIRTIO_GPU_CMD_SET_SCANOUT, 0, 0, 0, 0, 0, 0);
	r |= seed_write(argv[1], "unref_shown", &s);

	/* Ids, scanouts, sizes, rectangles, capsets, unknown commands. */
	s.n = 0;
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0, 2, 8, 8);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, 2, 0x40000001, 4);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, 2, 16384, 16384);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, 5, 8, 8);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, 2, 64, 64);
	CMD(&s, VIRTIO_GPU_CMD_SET_SCANOUT, 0, 0, 8, 8, 99, 1);
	CMD(&s, VIRTIO_GPU_CMD_SET_SCANOUT, UINT32_MAX, 0, 2, 64, 0, 1);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 0, 0xfffffff0, 1, 0x20, 1, 0);
	CMD(&s, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 1, 1, UINT32_MAX, UINT32_MAX, 1, 0);
	CMD(&s, VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0, 0);
	CMD(&s, VIRTIO_GPU_CMD_GET_CAPSET, 1, UINT32_MAX);
	CMD(&s, 0x0200, 0, 0, 0, 0);
	CMD(&s, 0x010c, 0, 0, 0, 0);
	r |= seed_write(argv[1], "hostile_ids_sizes", &s);

	/* Backing entries: too many, past the request, outside RAM, wrapping,
	 * zero-length, short, twice. */
	s.n = 0;
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, 2, 64, 64);
	seed_attach(&s, 1, UINT32_MAX, (uint64_t[]){0x10000}, (uint32_t[]){16384}, 1);
	seed_attach(&s, 1, 3, (uint64_t[]){0x10000, 0x20000}, (uint32_t[]){8192, 8192}, 2);
	seed_attach(&s, 1, 2, (uint64_t[]){0x10000, RAM_SIZE - 4096}, (uint32_t[]){8192, 8192}, 2);
	seed_attach(&s, 1, 2, (uint64_t[]){0x10000, UINT64_MAX - 4095}, (uint32_t[]){8192, 8192},
		    2);
	seed_attach(&s, 1, 2, (uint64_t[]){0x10000, 0x20000}, (uint32_t[]){8192, 0}, 2);
	seed_attach(&s, 1, 2, (uint64_t[]){0x10000, 0x20000}, (uint32_t[]){8192, 8188}, 2);
	seed_attach(&s, 1, 1, (uint64_t[]){0x10000}, (uint32_t[]){16384}, 1);
	seed_attach(&s, 1, 1, (uint64_t[]){0x10000}, (uint32_t[]){16384}, 1);
	CMD(&s, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 64, 64, 4, 0, 1, 0);
	r |= seed_write(argv[1], "hostile_backing", &s);

	/* The cursor: a good one, a wrong size, moves, hidden. */
	s.n = 0;
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 3, 1, 64, 64);
	seed_attach(&s, 3, 1, (uint64_t[]){0x10000}, (uint32_t[]){16384}, 1);
	CMD(&s, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 0, 0, 64, 64, 0, 0, 3, 0);
	CUR(&s, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 100, 50, 0, 3, 5, 7, 0);
	CUR(&s, VIRTIO_GPU_CMD_MOVE_CURSOR, 1, (uint32_t)-3, 700, 0, 0, 0, 0, 0);
	CMD(&s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 4, 1, 32, 64);
	CUR(&s, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 0, 4, 0, 0, 0);
	CUR(&s, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 0, 3, 64, 0, 0);
	CUR(&s, VIRTIO_GPU_CMD_UPDATE_CURSOR, 9, 1, 1, 0, 3, 0, 0, 0);
	CUR(&s, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 0, 0, 0, 0, 0);
	r |= seed_write(argv[1], "cursor", &s);
	return r;
}
#endif
