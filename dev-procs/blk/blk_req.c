/* virtio-blk request parsing; see blk_req.h. Runs in cellvm-dev-blk. The
 * chain's layout is the guest's choice (virtio 1.x has no framing rules): the
 * header and data may share descriptors or be split anywhere, so bytes are
 * taken through a cursor over the segments. Every header and range field is
 * UNTRUSTED(guest), copied once into a private struct before it is checked. */
#include "dev-procs/blk/blk_req.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* A position in a run of segments (the readable ones, or the writable ones). */
struct blk_cursor {
	const struct virtq_seg *seg;
	uint32_t n;
	uint32_t i;   /* current segment */
	uint32_t off; /* bytes of it already consumed */
};

static void blk_cursor_init(struct blk_cursor *cur, const struct virtq_seg *seg, uint32_t n)
{
	*cur = (struct blk_cursor){.seg = seg, .n = n};
}

/* Copy len bytes out of guest RAM; returns false if the run is shorter. */
static bool blk_cursor_copy(struct blk_cursor *cur, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	while (len) {
		uint32_t take;

		if (cur->i >= cur->n)
			return false;
		take = cur->seg[cur->i].len - cur->off;
		if (take > len)
			take = len;
		memcpy(d, cur->seg[cur->i].host + cur->off, take);
		d += take;
		len -= take;
		cur->off += take;
		if (cur->off == cur->seg[cur->i].len) {
			cur->i++;
			cur->off = 0;
		}
	}
	/* A private copy: later uses must not turn into re-reads of guest RAM. */
	__asm__ volatile("" ::: "memory");
	return true;
}

/* Describe the next len bytes as iovecs (pieces of at most size_max bytes,
 * at most max of them): a longer segment is refused, or cut when split.
 * Returns 0 or -E2BIG. */
static int blk_cursor_iov(struct blk_cursor *cur, uint64_t len, uint32_t size_max, bool split,
			  struct iovec *iov, uint32_t max, uint32_t *ret_n)
{
	uint32_t n = 0;

	while (len) {
		uint32_t take;

		if (cur->i >= cur->n || n >= max)
			return -E2BIG;
		take = cur->seg[cur->i].len - cur->off;
		if (take > len)
			take = (uint32_t)len;
		if (take > size_max) {
			if (!split)
				return -E2BIG;
			take = size_max;
		}
		iov[n].iov_base = cur->seg[cur->i].host + cur->off;
		iov[n].iov_len = take;
		n++;
		len -= take;
		cur->off += take;
		if (cur->off == cur->seg[cur->i].len) {
			cur->i++;
			cur->off = 0;
		}
	}
	*ret_n = n;
	return 0;
}

static int blk_req_answer(struct blk_req *req, uint8_t status)
{
	req->op = BLK_OP_NONE;
	req->status = status;
	return 0;
}

/* Does [sector, sector + bytes) lie inside the disk? Checked math only. */
static bool blk_req_in_range(const struct blk_limits *lim, uint64_t sector, uint64_t bytes)
{
	return sector <= lim->capacity && bytes / BLK_SECTOR_SIZE <= lim->capacity - sector;
}

static int blk_req_parse_rw(const struct blk_limits *lim, struct blk_cursor *data, uint64_t len,
			    uint64_t sector, struct blk_req *req, uint8_t op)
{
	/* UNTRUSTED(guest): sector, and the length the chain's shape implies. */
	if (len % BLK_SECTOR_SIZE || !blk_req_in_range(lim, sector, len))
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	if (blk_cursor_iov(data, len, lim->size_max_negotiated ? lim->size_max : lim->piece_max,
			   !lim->size_max_negotiated, req->iov, lim->seg_max, &req->niov) < 0)
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	req->op = op;
	req->offset = sector * BLK_SECTOR_SIZE;
	req->len = len;
	return 0;
}

static int blk_req_parse_dwz(const struct blk_limits *lim, struct blk_cursor *data, uint64_t len,
			     struct blk_req *req, uint8_t op)
{
	const bool discard = op == BLK_OP_DISCARD;
	uint64_t n = len / BLK_DWZ_BYTES;

	if (len == 0 || len % BLK_DWZ_BYTES || n > lim->dwz_seg_max)
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	req->nrange = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct {
			uint64_t sector;
			uint32_t num_sectors;
			uint32_t flags;
		} r;
		uint64_t sector;
		uint32_t num, flags;

		if (!blk_cursor_copy(data, &r, sizeof(r)))
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		/* UNTRUSTED(guest): one range, now in our copy. */
		sector = le64toh(r.sector);
		num = le32toh(r.num_sectors);
		flags = le32toh(r.flags);
		if ((flags & ~VIRTIO_BLK_DWZ_F_UNMAP) ||
		    (discard && (flags & VIRTIO_BLK_DWZ_F_UNMAP)))
			return blk_req_answer(req, VIRTIO_BLK_S_UNSUPP);
		if (num > lim->dwz_sect_max ||
		    !blk_req_in_range(lim, sector, (uint64_t)num * BLK_SECTOR_SIZE))
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		if (num == 0)
			continue; /* nothing to do, and fallocate refuses len 0 */
		req->range[req->nrange++] = (struct blk_range){
			.off = sector * BLK_SECTOR_SIZE,
			.len = (uint64_t)num * BLK_SECTOR_SIZE,
			.unmap = flags & VIRTIO_BLK_DWZ_F_UNMAP,
		};
	}
	req->op = op;
	return 0;
}

int blk_req_parse(const struct blk_limits *lim, const struct virtq_chain *c, struct blk_req *req)
{
	const struct virtq_seg *last;
	struct blk_cursor rd, wr;
	uint64_t rdata, wdata, sector;
	struct {
		uint32_t type;
		uint32_t reserved;
		uint64_t sector;
	} hdr;
	uint32_t type;

	req->op = BLK_OP_NONE;
	req->niov = req->nrange = 0;
	req->len = req->offset = 0;
	/* The status byte: the last byte of the last device-writable segment.
	 * Without one there is nowhere to answer (virtq_pop put every
	 * writable segment after the readable ones). */
	if (c->nseg == 0 || c->write_len == 0 || !c->seg[c->nseg - 1].write)
		return -EINVAL;
	last = &c->seg[c->nseg - 1];
	req->status_byte = last->host + last->len - 1;
	blk_cursor_init(&rd, c->seg, c->nread);
	blk_cursor_init(&wr, c->seg + c->nread, c->nseg - c->nread);
	if (!blk_cursor_copy(&rd, &hdr, sizeof(hdr)))
		return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
	/* UNTRUSTED(guest): the header, now in our copy. */
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	rdata = c->read_len - BLK_HDR_BYTES;
	wdata = c->write_len - 1;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		/* Data must be device-writable; a readable data buffer is refused,
		 * never written. */
		if (rdata)
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		return blk_req_parse_rw(lim, &wr, wdata, sector, req, BLK_OP_READ);
	case VIRTIO_BLK_T_OUT:
		if (lim->readonly || wdata)
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		return blk_req_parse_rw(lim, &rd, rdata, sector, req, BLK_OP_WRITE);
	case VIRTIO_BLK_T_FLUSH: req->op = BLK_OP_FLUSH; return 0;
	case VIRTIO_BLK_T_GET_ID:
		if (rdata)
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		req->len = wdata < BLK_ID_BYTES ? wdata : BLK_ID_BYTES;
		if (blk_cursor_iov(&wr, req->len, BLK_ID_BYTES, false, req->iov, BLK_SEG_MAX,
				   &req->niov) < 0)
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		req->op = BLK_OP_GET_ID;
		return 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* A read-only disk refuses every write, offered or not. */
		if (lim->readonly)
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		if (type == VIRTIO_BLK_T_DISCARD ? !lim->discard : !lim->write_zeroes)
			return blk_req_answer(req, VIRTIO_BLK_S_UNSUPP);
		if (wdata)
			return blk_req_answer(req, VIRTIO_BLK_S_IOERR);
		return blk_req_parse_dwz(lim, &rd, rdata, req,
					 type == VIRTIO_BLK_T_DISCARD ? BLK_OP_DISCARD
								      : BLK_OP_WRITE_ZEROES);
	default: return blk_req_answer(req, VIRTIO_BLK_S_UNSUPP);
	}
}

uint32_t blk_req_get_id(const struct blk_req *req, const char serial[BLK_ID_BYTES])
{
	uint32_t done = 0;

	for (uint32_t i = 0; i < req->niov && done < BLK_ID_BYTES; i++) {
		size_t n = req->iov[i].iov_len;

		if (n > BLK_ID_BYTES - done)
			n = BLK_ID_BYTES - done;
		memcpy(req->iov[i].iov_base, serial + done, n);
		done += (uint32_t)n;
	}
	return done;
}

uint32_t blk_req_finish(const struct blk_req *req, uint8_t status, uint32_t data_written)
{
	__atomic_store_n(req->status_byte, status, __ATOMIC_RELAXED);
	return data_written + 1;
}
