/* Restarting a crashed cellvm-dev-blk under a running driver: the harness
 * plays the core that keeps the crash-recovery records and the driver that
 * never resets. The new process must take over each queue where the old one
 * stopped: serve again what was taken and not completed, never complete a
 * request twice, and refuse a record that does not add up (NeedsReset, no
 * crash). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "test/dev/devtest.h"

static struct dt T;
static bool started;

static void start(void)
{
	struct dt_opts o = {.inflight = true, .stats = true, .queue_size = 16};

	assert_int_equal(dt_start(&T, &o), 0);
	started = true;
}

static int teardown(void **state)
{
	(void)state;
	if (started)
		(void)dt_stop(&T);
	started = false;
	return 0;
}

/* A write of one sector filled with fill, posted and kicked, not awaited. */
static uint16_t post_write(uint64_t sector, uint8_t fill, uint64_t *status)
{
	struct vdrv_buf b[3];

	*status = dt_status(&T);
	b[0] = (struct vdrv_buf){dt_hdr(&T, VIRTIO_BLK_T_OUT, sector), BLK_HDR_BYTES, false};
	b[1] = (struct vdrv_buf){dt_buf(&T, 512, fill), 512, false};
	b[2] = (struct vdrv_buf){*status, 1, true};
	return dt_post(&T, 0, b, 3, false);
}

static void assert_sector(uint64_t sector, uint8_t fill)
{
	uint8_t buf[512], want[512];

	memset(want, fill, sizeof(want));
	dt_image_read(&T, sector * 512, buf, sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
}

/* Kill -9 the device once it runs the queues (a request went through). */
static void crash(void)
{
	uint64_t data = dt_buf(&T, 512, 0);

	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, 1, data, 512, NULL), VIRTIO_BLK_S_OK);
	(void)launcher_stop_device(&T.core.proc, SIGKILL);
}

/* The device dies between requests: the next process carries on. */
static void test_restart_between_requests(void **state)
{
	struct devproc_stats c;
	uint64_t data;
	uint16_t used_before;

	(void)state;
	start();
	data = dt_buf(&T, 512, 0);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, 3, data, 512, NULL), VIRTIO_BLK_S_OK);
	c = dt_stats_wait(&T, 1);
	assert_int_equal(c.requests, 1);
	assert_int_equal(c.bytes_out, 512);
	used_before = vdrv_used_idx(&T.q[0]);
	assert_int_equal(dt_crash_restart(&T, true), 0);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, 5, data, 512, NULL), VIRTIO_BLK_S_OK);
	/* The counters go on from the old process's. */
	c = dt_stats_wait(&T, 2);
	assert_int_equal(c.requests, 2);
	assert_int_equal(c.bytes_out, 1024);
	assert_int_equal(c.bytes_in, 0);
	assert_int_equal(c.errors, 0);
	assert_int_equal(*(uint8_t *)dt_host(&T, data, 1), dt_pattern(5, 0));
	/* One more used entry, right after the old ones. */
	assert_int_equal((uint16_t)(vdrv_used_idx(&T.q[0]) - used_before), 1);
	assert_int_equal(T.core.needs_reset, 0);
}

/* Requests the old process took and never completed are served again. */
static void test_inflight_served_again(void **state)
{
	struct virtq_inflight *rec;
	uint64_t st[2];
	uint16_t h[2], used;
	uint32_t id, len, seen = 0;

	(void)state;
	start();
	crash();
	/* As if the old process had taken both and died before completing. */
	h[0] = post_write(7, 0xa1, &st[0]);
	h[1] = post_write(8, 0xa2, &st[1]);
	rec = &T.core.rec[0];
	used = vdrv_used_idx(&T.q[0]);
	rec->last_avail = (uint16_t)(used + 2);
	rec->bits[h[0] / 64] |= 1ULL << (h[0] % 64);
	rec->bits[h[1] / 64] |= 1ULL << (h[1] % 64);
	assert_int_equal(dt_crash_restart(&T, true), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
		assert_true(id == h[0] || id == h[1]);
		seen |= id == h[0] ? 1 : 2;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(*(uint8_t *)dt_host(&T, st[0], 1), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)dt_host(&T, st[1], 1), VIRTIO_BLK_S_OK);
	assert_sector(7, 0xa1);
	assert_sector(8, 0xa2);
	/* Nothing more: neither is completed twice. */
	assert_int_equal(dt_wait(&T, 0, &id, &len), 0);
	assert_int_equal(T.core.needs_reset, 0);
}

/* The old process published a completion but died before updating its
 * record: the head is still marked, yet must not be completed again. */
static void test_published_not_recorded(void **state)
{
	struct virtq_inflight *rec;
	struct vdrv_queue *q;
	uint8_t *used;
	uint64_t st[2];
	uint16_t h[2], idx;
	uint32_t id, len;

	(void)state;
	start();
	crash();
	h[0] = post_write(9, 0xb1, &st[0]);
	h[1] = post_write(10, 0xb2, &st[1]);
	rec = &T.core.rec[0];
	q = &T.q[0];
	idx = vdrv_used_idx(q);
	rec->last_avail = (uint16_t)(idx + 2);
	rec->used_idx = idx;
	rec->bits[h[0] / 64] |= 1ULL << (h[0] % 64);
	rec->bits[h[1] / 64] |= 1ULL << (h[1] % 64);
	/* h[0] completed and published by the old process. */
	used = dt_host(&T, q->used, VIRTQ_USED_BYTES(q->size));
	memcpy(used + 4 + 8 * (idx & (q->size - 1)), &(uint32_t){h[0]}, 4);
	memcpy(used + 8 + 8 * (idx & (q->size - 1)), &(uint32_t){0}, 4);
	idx++;
	memcpy(used + 2, &idx, 2);
	assert_int_equal(dt_crash_restart(&T, true), 0);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, h[0]); /* the one the old process published */
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, h[1]);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 0);
	assert_sector(10, 0xb2);
	assert_int_equal(T.core.needs_reset, 0);
}

/* The old process died after a reset (which clears the records) and before
 * it started the next activation's queues: the new one starts them afresh
 * on the new rings. */
static void test_never_started(void **state)
{
	uint64_t data;

	(void)state;
	start();
	crash();
	memset(T.core.rec, 0, sizeof(*T.core.rec) * DEVPROC_MAX_QUEUES);
	assert_int_equal(vdrv_queue_init(&T.q[0], &T.mem, 0, T.o.queue_size), 0);
	assert_int_equal(dt_crash_restart(&T, true), 0);
	data = dt_buf(&T, 512, 0);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, 2, data, 512, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)dt_host(&T, data, 1), dt_pattern(2, 0));
	assert_int_equal(T.core.needs_reset, 0);
}

/* Records that do not add up: NeedsReset, the process lives, and a reset
 * brings the device back. */
static void test_hostile_records(void **state)
{
	static const struct {
		uint16_t last_avail_delta, used_delta;
		uint32_t started;
		uint64_t bits0;
	} cases[] = {
		{40, 0, 1, 0},	       /* more taken than the ring holds */
		{0, 30, 1, 0},	       /* the record is ahead of the used ring */
		{1, 0, 1, 0xffffffff}, /* more heads marked than taken */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct virtq_inflight *rec;
		uint16_t used;

		start();
		crash();
		rec = &T.core.rec[0];
		used = vdrv_used_idx(&T.q[0]);
		rec->last_avail = (uint16_t)(used + cases[i].last_avail_delta);
		rec->used_idx = (uint16_t)(used + cases[i].used_delta);
		rec->started = cases[i].started;
		rec->bits[0] = cases[i].bits0;
		assert_int_equal(dt_crash_restart(&T, true), 0);
		assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
		assert_true(vcore_alive(&T.core));
		assert_int_equal(dt_recover(&T), 0);
		assert_true(dt_healthy(&T));
		assert_int_equal(dt_stop(&T), 0);
		started = false;
	}
}

/* A takeover that fails half-way: queue 0's requests are started again,
 * then queue 1's record does not add up. The device rolls back (drains what
 * it started, no queue live) and asks for a reset; the driver's reset is
 * served (not skipped as for a device never active), and after it nothing
 * of the old requests reaches the new rings: only the health check's read
 * completes. */
static void test_resume_fails_half_way(void **state)
{
	struct dt_opts o = {.inflight = true, .stats = true, .queue_size = 16, .num_queues = 2};
	struct virtq_inflight *rec;
	uint64_t st[2];
	uint16_t h[2], used;
	uint32_t id, len;

	(void)state;
	assert_int_equal(dt_start(&T, &o), 0);
	started = true;
	crash();
	h[0] = post_write(11, 0xc1, &st[0]);
	h[1] = post_write(12, 0xc2, &st[1]);
	rec = &T.core.rec[0];
	used = vdrv_used_idx(&T.q[0]);
	rec->last_avail = (uint16_t)(used + 2);
	rec->bits[h[0] / 64] |= 1ULL << (h[0] % 64);
	rec->bits[h[1] / 64] |= 1ULL << (h[1] % 64);
	rec = &T.core.rec[1];
	used = vdrv_used_idx(&T.q[1]);
	rec->last_avail = (uint16_t)(used + 40); /* more than the ring holds */
	rec->used_idx = used;
	rec->started = 1;
	assert_int_equal(dt_crash_restart(&T, true), 0);
	assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
	assert_true(vcore_alive(&T.core));
	assert_int_equal(dt_recover(&T), 0);
	assert_true(dt_healthy(&T));
	/* Nothing but the health check's read on the new ring. */
	assert_int_equal(dt_wait(&T, 0, &id, &len), 0);
	assert_true(dt_healthy(&T));
	assert_int_equal(dt_stop(&T), 0);
	started = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_restart_between_requests, teardown),
		cmocka_unit_test_teardown(test_inflight_served_again, teardown),
		cmocka_unit_test_teardown(test_published_not_recorded, teardown),
		cmocka_unit_test_teardown(test_never_started, teardown),
		cmocka_unit_test_teardown(test_hostile_records, teardown),
		cmocka_unit_test_teardown(test_resume_fails_half_way, teardown),
	};

	dt_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
