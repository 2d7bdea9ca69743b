/* virtio-blk requests (virtio 1.2, 5.2.6): turning a descriptor chain into a
 * checked request for the backend. Runs in cellvm-dev-blk (and in tests and
 * fuzzers in-process). The chain, its header and its data ranges are guest
 * data: every field is copied once and checked against the device's limits. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dev-procs/devlib/virtq.h"

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_DWZ_F_UNMAP 1U /* virtio_blk_discard_write_zeroes.flags */

#define BLK_SECTOR_SIZE 512U
#define BLK_HDR_BYTES	16U /* le32 type, le32 reserved, le64 sector */
#define BLK_DWZ_BYTES	16U /* le64 sector, le32 num_sectors, le32 flags */
#define BLK_ID_BYTES	20U
#define BLK_SEG_MAX	128U /* data segments of one request */
/* The size_max we offer: bytes of one data segment. SeaBIOS (1.16) takes
 * size_max * seg_max / 512 as its largest request in a 16-bit variable; at
 * 65536 that is 0 and it loops for ever on empty requests. Kept below. */
#define BLK_SIZE_MAX (128U << 10)
/* Without VIRTIO_BLK_F_SIZE_MAX negotiated, a longer segment is cut into
 * pieces of this many bytes (at most seg_max of them). */
#define BLK_PIECE_MAX (1U << 20)
_Static_assert((uint64_t)BLK_SEG_MAX *BLK_SIZE_MAX / 512 < 65536, "SeaBIOS's u16 request size");
#define BLK_DWZ_SEG_MAX	 16U	    /* ranges of one discard/write-zeroes */
#define BLK_DWZ_SECT_MAX (1U << 22) /* sectors of one range (2 GiB) */

enum blk_op {
	BLK_OP_NONE, /* answered at parse time: see status */
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_GET_ID,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

/* What the device promised (config space) and what was negotiated. */
struct blk_limits {
	uint64_t capacity;    /* 512-byte sectors */
	uint32_t seg_max;     /* <= BLK_SEG_MAX */
	uint32_t size_max;    /* <= BLK_SIZE_MAX */
	uint32_t piece_max;   /* <= BLK_PIECE_MAX: see size_max_negotiated */
	uint32_t dwz_seg_max; /* <= BLK_DWZ_SEG_MAX */
	uint32_t dwz_sect_max;
	bool readonly;
	bool discard;	   /* VIRTIO_BLK_F_DISCARD negotiated */
	bool write_zeroes; /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
	/* VIRTIO_BLK_F_SIZE_MAX negotiated: a longer segment is the driver's
	 * error (IOERR). Without it size_max does not bind the driver: a
	 * longer segment is cut into piece_max pieces (OVMF reads a file in one
	 * segment of many MiB), still at most seg_max pieces a request. */
	bool size_max_negotiated;
};

struct blk_range {
	uint64_t off, len; /* bytes, inside the capacity */
	bool unmap;
};

/* A parsed request. iov points into guest RAM (already bounds-checked by
 * virtq_pop); the status byte is the last device-writable byte of the chain. */
struct blk_req {
	uint8_t op;	/* enum blk_op */
	uint8_t status; /* BLK_OP_NONE: the answer to give */
	uint8_t *status_byte;
	uint64_t offset; /* bytes, READ/WRITE */
	uint64_t len;	 /* data bytes: READ/WRITE, or GET_ID bytes to write */
	uint32_t niov;
	uint32_t nrange;
	struct iovec iov[BLK_SEG_MAX];
	struct blk_range range[BLK_DWZ_SEG_MAX];
};

/* Parse chain c. Returns 0 with *ret filled (op, or BLK_OP_NONE with the
 * status to answer), or -EINVAL when the chain has no device-writable status
 * byte: the request cannot be answered and the driver needs a reset. */
int blk_req_parse(const struct blk_limits *lim, const struct virtq_chain *c, struct blk_req *ret);

/* GET_ID: write min(len, 20) bytes of the zero-padded serial into the
 * request's buffer. Returns the bytes written. */
uint32_t blk_req_get_id(const struct blk_req *req, const char serial[BLK_ID_BYTES]);

/* Write the status byte; returns the byte count for the used ring (data
 * written plus the status byte). */
uint32_t blk_req_finish(const struct blk_req *req, uint8_t status, uint32_t data_written);
