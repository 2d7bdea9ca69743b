/* libFuzzer target for dev-procs/blk/blk_req: arbitrary descriptor chains
 * (the shape virtq_pop hands over: non-empty segments, readable first) over
 * untrusted guest bytes. Layout: byte 0 device flags (bit 0 read-only, bit 1
 * DISCARD and bit 2 WRITE_ZEROES negotiated, bits 3-4 pick the capacity),
 * byte 1 segment count (mod 33), then 3 bytes per segment (le16 length mod
 * 4097, flags bit 0 device-writable), the rest is the guest memory the
 * segments cover, laid out one after another. Checks besides the
 * sanitizers: a request is refused exactly when it has no status byte; the
 * status byte is the chain's last byte; data stays inside the capacity, the
 * advertised limits and buffers of the right direction; a read-only disk
 * never gets a write. Built with -DFUZZ_SEEDGEN it writes seed inputs. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev-procs/blk/blk_req.h"
#include "test/fuzz/fuzz_chain.h"
#include "test/fuzz/fuzz_check.h"

#define MAX_SEGS 32
#define RAM_SIZE 0x20000

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t capacities[4] = {0, 1, 2048, UINT64_MAX / 512};
static uint8_t ram[RAM_SIZE];
static struct virtq_chain chain;
static struct blk_req req;

static void fuzz_check_iov(const struct blk_limits *lim, const struct blk_req *r, bool write,
			   uint32_t max_piece)
{
	uint64_t sum = 0;

	CHECK(r->niov <= BLK_SEG_MAX && r->niov <= lim->seg_max + BLK_ID_BYTES);
	for (uint32_t i = 0; i < r->niov; i++) {
		CHECK(r->iov[i].iov_len > 0 && r->iov[i].iov_len <= max_piece);
		CHECK(fuzz_chain_in_seg(&chain, r->iov[i].iov_base, r->iov[i].iov_len, write));
		/* Data never covers the status byte. */
		CHECK(!(r->status_byte >= (uint8_t *)r->iov[i].iov_base &&
			r->status_byte < (uint8_t *)r->iov[i].iov_base + r->iov[i].iov_len));
		sum += r->iov[i].iov_len;
	}
	CHECK(sum == r->len);
}

static void fuzz_check(const struct blk_limits *lim, const struct blk_req *r)
{
	const struct virtq_seg *last = &chain.seg[chain.nseg - 1];

	CHECK(last->write && r->status_byte == last->host + last->len - 1);
	switch (r->op) {
	case BLK_OP_NONE:
		CHECK(r->status == VIRTIO_BLK_S_IOERR || r->status == VIRTIO_BLK_S_UNSUPP);
		break;
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		CHECK(r->op == BLK_OP_READ || !lim->readonly);
		CHECK(r->len % BLK_SECTOR_SIZE == 0 && r->offset % BLK_SECTOR_SIZE == 0);
		CHECK(r->offset / BLK_SECTOR_SIZE <= lim->capacity);
		CHECK(r->len / BLK_SECTOR_SIZE <= lim->capacity - r->offset / BLK_SECTOR_SIZE);
		CHECK(r->niov <= lim->seg_max);
		fuzz_check_iov(lim, r, r->op == BLK_OP_READ,
			       lim->size_max_negotiated ? lim->size_max : lim->piece_max);
		break;
	case BLK_OP_GET_ID:
		CHECK(r->len <= BLK_ID_BYTES);
		fuzz_check_iov(lim, r, true, BLK_ID_BYTES);
		CHECK(blk_req_get_id(r, "fuzz-serial-0123456") == r->len);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		CHECK(!lim->readonly);
		CHECK(r->op == BLK_OP_DISCARD ? lim->discard : lim->write_zeroes);
		CHECK(r->nrange <= lim->dwz_seg_max);
		for (uint32_t i = 0; i < r->nrange; i++) {
			const struct blk_range *g = &r->range[i];

			CHECK(g->len > 0 && g->off % BLK_SECTOR_SIZE == 0 &&
			      g->len % BLK_SECTOR_SIZE == 0);
			CHECK(g->len / BLK_SECTOR_SIZE <= lim->dwz_sect_max);
			CHECK(g->off / BLK_SECTOR_SIZE <= lim->capacity &&
			      g->len / BLK_SECTOR_SIZE <= lim->capacity - g->off / BLK_SECTOR_SIZE);
			CHECK(!(r->op == BLK_OP_DISCARD && g->unmap));
		}
		break;
	case BLK_OP_FLUSH: break;
	default: CHECK(!"unknown op");
	}
	CHECK(blk_req_finish(r, VIRTIO_BLK_S_OK, 0) == 1);
}

/* Build the chain: segments in input order, readable ones first. */
static void fuzz_build(const uint8_t *desc, uint32_t n, const uint8_t *mem, size_t memlen)
{
	fuzz_chain_build(&chain, ram, sizeof(ram), 4096, desc, n, mem, memlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_limits lim;
	uint32_t n;
	int r;

	if (size < 2)
		return 0;
	n = data[1] % (MAX_SEGS + 1);
	if (size < 2 + 3 * (size_t)n)
		return 0;
	lim = (struct blk_limits){
		.capacity = capacities[(data[0] >> 3) & 3],
		.seg_max = 8,
		.size_max = 4096,
		.piece_max = 8192,
		.dwz_seg_max = 4,
		.dwz_sect_max = 1024,
		.readonly = data[0] & 1,
		.discard = data[0] & 2,
		.write_zeroes = data[0] & 4,
		.size_max_negotiated = data[0] & 0x20,
	};
	fuzz_build(data + 2, n, data + 2 + 3 * n, size - 2 - 3 * n);
	r = blk_req_parse(&lim, &chain, &req);
	if (chain.write_len == 0) {
		CHECK(r == -EINVAL);
		return 0;
	}
	CHECK(r == 0);
	fuzz_check(&lim, &req);
	return 0;
}

#else /* FUZZ_SEEDGEN */

static void seed_hdr(struct seed *s, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = {0};
	uint32_t t = htole32(type);
	uint64_t se = htole64(sector);

	memcpy(h, &t, 4);
	memcpy(h + 8, &se, 8);
	seed_seg(s, h, 16, false);
}

int main(int argc, char **argv)
{
	static struct seed s;
	uint8_t dwz[32] = {0};
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	seed_begin(&s, 2 << 3);
	seed_hdr(&s, VIRTIO_BLK_T_IN, 3);
	seed_seg(&s, NULL, 1024, true);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "in", &s);

	seed_begin(&s, 2 << 3);
	seed_hdr(&s, VIRTIO_BLK_T_OUT, 2047);
	seed_seg(&s, NULL, 512, false);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "out_last_sector", &s);

	seed_begin(&s, 2 << 3);
	seed_hdr(&s, VIRTIO_BLK_T_GET_ID, 0);
	seed_seg(&s, NULL, 21, true);
	r |= seed_write(argv[1], "get_id", &s);

	seed_begin(&s, 2 << 3 | 6);
	dwz[0] = 8; /* sector 8 */
	dwz[8] = 8; /* 8 sectors */
	dwz[16] = 32;
	dwz[24] = 4;
	dwz[28] = 1; /* unmap */
	seed_hdr(&s, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seed_seg(&s, dwz, 32, false);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "write_zeroes", &s);

	seed_begin(&s, 2 << 3 | 7);
	seed_hdr(&s, VIRTIO_BLK_T_FLUSH, 0);
	seed_seg(&s, NULL, 1, true);
	r |= seed_write(argv[1], "flush_readonly", &s);
	return r;
}
#endif
