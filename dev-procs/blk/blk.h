/* cellvm-dev-blk's device model (virtio 1.2, 5.2): features, configuration
 * space, queues and the requests in flight. Runs in the cellvm-dev-blk
 * process; main.c hands blk_ops to devproc_main(). Guest input reaches it
 * through virtq (chains) and blk_req (request contents). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/blk/blk_io.h"
#include "dev-procs/blk/blk_req.h"
#include "dev-procs/devlib/devproc.h"
#include "dev-procs/devlib/virtq.h"

#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_F_VERSION_1	  32

/* virtio_blk_config offsets (5.2.4); the device exposes the first
 * BLK_CONFIG_LEN bytes, through write_zeroes_may_unmap and its padding. */
#define BLK_CFG_CAPACITY	 0
#define BLK_CFG_SIZE_MAX	 8
#define BLK_CFG_SEG_MAX		 12
#define BLK_CFG_BLK_SIZE	 20
#define BLK_CFG_NUM_QUEUES	 34
#define BLK_CFG_MAX_DISCARD_SECT 36
#define BLK_CFG_MAX_DISCARD_SEG	 40
#define BLK_CFG_DISCARD_ALIGN	 44
#define BLK_CFG_MAX_WZ_SECT	 48
#define BLK_CFG_MAX_WZ_SEG	 52
#define BLK_CFG_WZ_MAY_UNMAP	 56
#define BLK_CONFIG_LEN		 60

#define BLK_QUEUE_SIZE_DEFAULT 256
#define BLK_QUEUE_SIZE_MAX     1024
#define BLK_DISCARD_ALIGN      8 /* sectors: 4 KiB, the usual file system block */

struct blk_queue {
	struct devproc_queue *dq;
	struct virtq vq;
	bool live;	/* activated */
	bool stalled;	/* stopped for lack of ring room: resume on completion */
	bool pushed;	/* used entries added since the last interrupt check */
	uint64_t *busy; /* one bit per head in flight (queue_size bits) */
};

/* One request in flight: a slot of a pool sized at setup (queues * queue
 * size); a head is in flight at most once per queue, so it never runs out. */
struct blk_slot {
	struct blk_req req;
	uint32_t next_free;
	uint16_t head;
	uint8_t queue;
	uint8_t pending; /* backend operations not yet completed */
	bool failed;
	bool in_use;
};

struct blk {
	struct devproc *dp;
	int image_fd;
	bool readonly;
	bool direct;
	char serial[BLK_ID_BYTES];
	uint32_t num_queues;
	uint32_t queue_size;
	struct blk_limits lim;
	struct blk_io io;
	bool active;
	bool no_zero_range;   /* the file system refused FALLOC_FL_ZERO_RANGE */
	bool flush_failed;    /* an fsync failed: every later FLUSH fails (sticky) */
	uint64_t image_size;  /* bytes: RLIMIT_FSIZE, the image cannot grow */
	bool test_fail_fsync; /* test builds: CELLVM_TEST_BLK_FAIL_FSYNC */
	struct blk_queue q[DEVPROC_MAX_QUEUES];
	struct blk_slot *slots;
	uint32_t nslots;
	uint32_t free_head;	    /* UINT32_MAX: none */
	struct virtq_chain chain;   /* scratch for virtq_pop */
	struct devproc_stats count; /* this process's counts (devproc publishes them) */
};

extern const struct devproc_ops blk_ops;
