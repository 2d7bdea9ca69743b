/* libFuzzer target for dev-procs/devlib/virtq: the input is untrusted guest
 * RAM (rings, descriptor tables, indirect tables) plus the ring parameters.
 * Layout: byte 0 queue size as log2 (mod 9: 1..256), byte 1 flags (bit 0
 * EVENT_IDX, bit 1 INDIRECT_DESC), bytes 2-3 the device's starting avail and
 * used index (little-endian, to reach the 16-bit wrap), byte 4 pop budget;
 * the rest is copied to guest RAM at 0 (descriptors at 0, avail ring at
 * 0x1000, used ring at 0x2000, buffers and tables anywhere). Checks besides
 * the sanitizers: every accepted chain is short enough, ordered, and made of
 * ranges that gmem_ptr accepts; never more heads than the ring holds.
 * Built with -DFUZZ_SEEDGEN it is instead a program writing seed inputs. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev-procs/devlib/virtq.h"
#include "test/fuzz/fuzz_check.h"

#define RAM_SIZE  GMEM_MIN_SIZE
#define HDR_BYTES 5
#define DESC_GPA  0x0
#define AVAIL_GPA 0x1000
#define USED_GPA  0x2000
#define IMAGE_MAX 0x10000 /* bytes of RAM an input can set */

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct gmem mem;
static struct virtq_chain chain;

static void fuzz_check_chain(const struct virtq *vq, const struct virtq_chain *c)
{
	uint64_t rl = 0, wl = 0;
	uint32_t max = vq->size < VIRTQ_MAX_SEGS ? vq->size : VIRTQ_MAX_SEGS;

	CHECK(c->head < vq->size);
	CHECK(c->nseg <= max && c->nread <= c->nseg);
	for (uint32_t i = 0; i < c->nseg; i++) {
		const struct virtq_seg *s = &c->seg[i];

		CHECK(s->len > 0);
		CHECK(s->host == gmem_ptr(&mem, s->gpa, s->len));
		CHECK(s->host >= ram && s->host + s->len <= ram + RAM_SIZE);
		CHECK(s->write == (i >= c->nread));
		if (s->write)
			wl += s->len;
		else
			rl += s->len;
	}
	CHECK(rl == c->read_len && wl == c->write_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t dirty;
	struct virtq vq;
	uint32_t qsize, popped = 0, budget;
	uint16_t start;

	if (size < HDR_BYTES)
		return 0;
	if (!ram) {
		ram = calloc(1, RAM_SIZE);
		if (!ram || gmem_init(&mem, ram, RAM_SIZE) < 0)
			abort();
	}
	memset(ram, 0, dirty);
	dirty = size - HDR_BYTES < IMAGE_MAX ? size - HDR_BYTES : IMAGE_MAX;
	memcpy(ram, data + HDR_BYTES, dirty);

	qsize = 1U << (data[0] % 9);
	start = (uint16_t)(data[2] | data[3] << 8);
	budget = data[4];
	CHECK(virtq_init(&vq, &mem, qsize, DESC_GPA, AVAIL_GPA, USED_GPA, data[1] & 1,
			 data[1] & 2) == 0);
	vq.last_avail = vq.avail_seen = vq.used_idx = vq.signalled_used = start;
	while (budget--) {
		int r = virtq_pop(&vq, &chain);

		if (r < 0) {
			CHECK(vq.broken);
			CHECK(virtq_pop(&vq, &chain) == -EINVAL);
			break;
		}
		if (r == 0) {
			if (!virtq_enable_kicks(&vq))
				break;
			continue;
		}
		fuzz_check_chain(&vq, &chain);
		/* RAM holds still during a run, so avail->idx does too: never
		 * more heads than the ring holds. */
		CHECK(++popped <= qsize);
		virtq_push(&vq, chain.head, (uint32_t)chain.write_len);
		(void)virtq_should_notify(&vq);
	}
	return 0;
}

#else /* FUZZ_SEEDGEN */

struct seed {
	uint8_t b[HDR_BYTES + 0x4000];
};

static void seed_desc(struct seed *s, uint32_t table, uint32_t i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	uint8_t *p = s->b + HDR_BYTES + table + i * 16;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void seed_avail(struct seed *s, uint32_t qsize, uint16_t idx, const uint16_t *heads,
		       uint32_t n, uint16_t start)
{
	uint8_t *a = s->b + HDR_BYTES + AVAIL_GPA;

	for (uint32_t i = 0; i < n; i++)
		memcpy(a + 4 + 2 * ((start + i) % qsize), &heads[i], 2);
	memcpy(a + 2, &idx, 2);
}

static int seed_write(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, sizeof(s->b), f) != sizeof(s->b) || fclose(f) != 0) {
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
	/* A blk request (header, data, status) on a queue of 8. */
	memset(&s, 0, sizeof(s));
	s.b[0] = 3;
	s.b[4] = 8;
	seed_desc(&s, DESC_GPA, 0, 0x3000, 16, VIRTQ_DESC_F_NEXT, 1);
	seed_desc(&s, DESC_GPA, 1, 0x3100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	seed_desc(&s, DESC_GPA, 2, 0x3300, 1, VIRTQ_DESC_F_WRITE, 0);
	seed_avail(&s, 8, 1, (uint16_t[]){0}, 1, 0);
	r |= seed_write(argv[1], "direct", &s);

	/* Indirect, EVENT_IDX, indexes about to wrap. */
	memset(&s, 0, sizeof(s));
	s.b[0] = 4;
	s.b[1] = 3;
	s.b[2] = 0xfe;
	s.b[3] = 0xff;
	s.b[4] = 8;
	seed_desc(&s, DESC_GPA, 0, 0x3800, 48, VIRTQ_DESC_F_INDIRECT, 0);
	seed_desc(&s, DESC_GPA, 1, 0x3000, 16, VIRTQ_DESC_F_NEXT, 2);
	seed_desc(&s, DESC_GPA, 2, 0x3300, 1, VIRTQ_DESC_F_WRITE, 0);
	seed_desc(&s, 0x3800, 0, 0x3000, 16, VIRTQ_DESC_F_NEXT, 1);
	seed_desc(&s, 0x3800, 1, 0x3100, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	seed_desc(&s, 0x3800, 2, 0x3300, 1, VIRTQ_DESC_F_WRITE, 0);
	seed_avail(&s, 16, 0x0001, (uint16_t[]){0, 1, 0}, 3, 0xfffe);
	r |= seed_write(argv[1], "indirect_wrap", &s);

	/* A cycle and an out-of-range next. */
	memset(&s, 0, sizeof(s));
	s.b[0] = 2;
	s.b[4] = 4;
	seed_desc(&s, DESC_GPA, 0, 0x3000, 16, VIRTQ_DESC_F_NEXT, 1);
	seed_desc(&s, DESC_GPA, 1, 0x3000, 16, VIRTQ_DESC_F_NEXT, 0);
	seed_desc(&s, DESC_GPA, 2, 0x3000, 16, VIRTQ_DESC_F_NEXT, 9);
	seed_avail(&s, 4, 2, (uint16_t[]){2, 0}, 2, 0);
	r |= seed_write(argv[1], "cycle", &s);
	return r;
}
#endif
