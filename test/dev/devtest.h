/* Shared fixture of the device tests: a disk image in a temporary folder, a
 * real cellvm-dev-blk started by the launcher over a guest-RAM memfd, the
 * harness playing core and driver, and virtio-blk request builders. Runs in
 * test processes only. Tests skip (exit 77) when io_uring or memfd is not
 * available here; they never pass without running. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/blk/blk.h"
#include "test/harness/vdriver.h"

#define DT_MAX_QUEUES	4
#define DT_TIMEOUT_MS	5000
#define DT_IMAGE_SECT	2048		       /* 1 MiB image unless a test asks otherwise */
#define DT_SERIAL	"cellvm-test-serial01" /* exactly 20 bytes */
#define DT_FEATURES_ALL UINT64_MAX	       /* "everything offered" */

struct dt_opts {
	bool readonly;
	uint32_t num_queues; /* 0: 1 */
	uint32_t queue_size; /* 0: 64 */
	uint64_t sectors;    /* 0: DT_IMAGE_SECT */
	uint64_t mem_size;   /* 0: 64 MiB */
	uint64_t features;   /* 0: everything offered; else these & offered */
	uint64_t drop;	     /* features not to negotiate */
	const char *serial;  /* NULL: DT_SERIAL */
	bool no_activate;    /* stop after Attach */
	bool direct;	     /* the device's image fd is O_DIRECT (reads hit the disk) */
	const char *dir;     /* where the image lives; NULL: /tmp */
	bool inflight;	     /* hand the device crash-recovery records */
	bool stats;	     /* hand the device a counters page */
};

struct dt {
	struct dt_opts o;
	char dir[256];
	char path[288];
	int image_fd; /* our own read-write view of the image */
	struct vdrv_mem mem;
	struct vcore core;
	struct vdrv_queue q[DT_MAX_QUEUES];
	uint32_t nq;
	uint64_t negotiated;
	int stats_fd; /* with o.stats: the counters page, kept across restarts */
	const struct devproc_stats *stats;
	bool started; /* dt_start succeeded, dt_stop has not run since */
};

/* Exit 77 unless io_uring, memfd and the device binary are usable here. */
void dt_require(void);

/* Create the image (sector s holds the byte pattern dt_pattern(s, i)),
 * start the device, attach, set up the queues and activate. Returns 0 or
 * -errno (with a message on stderr). */
int dt_start(struct dt *t, const struct dt_opts *o);
/* Crash the device (SIGKILL), start another over the same image and RAM,
 * attach it with the same records and, with resume, have it take over the
 * queues as they are. Returns 0 or -errno. */
int dt_crash_restart(struct dt *t, bool resume);
/* Wait up to DT_TIMEOUT_MS for the published request count to reach n;
 * returns the counters then (or as they are on timeout). */
struct devproc_stats dt_stats_wait(struct dt *t, uint64_t requests);
/* Stop the device and remove the image; returns the device's exit status. */
int dt_stop(struct dt *t);
/* The cmocka teardown of the tests that run one device at a time: stop the
 * device if it was started and not stopped yet; -1 (the test fails) unless
 * it exited with status 0, as a device does when its link closes. */
int dt_teardown(struct dt *t);
/* After a NeedsReset: reset, fresh rings, activate again. Returns 0 or -errno. */
int dt_recover(struct dt *t);
/* The device's process is still there and a read on queue 0 succeeds. */
bool dt_healthy(struct dt *t);

uint8_t dt_pattern(uint64_t sector, uint32_t i);
/* FNV-1a over the whole image file, and its size. */
uint64_t dt_image_hash(struct dt *t);
uint64_t dt_image_size(struct dt *t);
/* pread from the image file. */
void dt_image_read(struct dt *t, uint64_t off, void *buf, uint64_t len);

/* Guest-RAM builders. */
uint64_t dt_hdr(struct dt *t, uint32_t type, uint64_t sector);
uint64_t dt_status(struct dt *t); /* one byte preset to 0xee */
uint64_t dt_buf(struct dt *t, uint64_t len, uint8_t fill);
uint64_t dt_dwz(struct dt *t, uint32_t n, const uint64_t *sector, const uint32_t *num,
		const uint32_t *flags);
void *dt_host(struct dt *t, uint64_t gpa, uint64_t len);

/* Publish a chain (direct or indirect) on queue qi and kick; returns the head. */
uint16_t dt_post(struct dt *t, uint32_t qi, const struct vdrv_buf *b, uint32_t n, bool indirect);
/* Wait for the next used element of queue qi: 1, or 0 on timeout. */
int dt_wait(struct dt *t, uint32_t qi, uint32_t *ret_id, uint32_t *ret_len);
/* One request: header, optional data (device-writable for IN/GET_ID),
 * status. Returns the status byte, or -1 on timeout; *ret_len the used len. */
int dt_request(struct dt *t, uint32_t qi, uint32_t type, uint64_t sector, uint64_t data,
	       uint32_t len, uint32_t *ret_len);
/* Post a chain and expect the device to refuse it with NeedsReset (and no
 * used entry). Returns true if it did. */
bool dt_expect_reset(struct dt *t, uint32_t qi, const struct vdrv_buf *b, uint32_t n,
		     bool indirect);
