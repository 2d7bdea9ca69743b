/* Hostile-driver tests of the virtqueue rules (HOSTILE_INPUTS.md, section
 * Virtqueues) against the real cellvm-dev-blk: descriptor cycles, indexes out
 * of range, avail index jumps, addresses outside RAM or across the hole,
 * length overflow, zero-length descriptors, every indirect rule, buffer
 * order, bad rings at activation, kicks for absent queues, descriptors
 * rewritten during processing, heads reused while in flight. The device must
 * answer NeedsReset (or IOERR), never crash, never write outside the buffers
 * it was given, and serve again after a reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "test/dev/devtest.h"

#define MiB (1ULL << 20)

static struct dt T;

static void start(const struct dt_opts *o)
{
	assert_int_equal(dt_start(&T, o), 0);
}

static int teardown(void **state)
{
	(void)state;
	return dt_teardown(&T);
}

/* The device refused the ring and still works after a reset. */
static void assert_recovers(void)
{
	assert_true(vcore_alive(&T.core));
	assert_int_equal(dt_recover(&T), 0);
	assert_true(dt_healthy(&T));
}

/* Publish head (written by hand) on queue 0, kick, expect NeedsReset and no
 * used entry, then recover. */
static void expect_refused(uint16_t head)
{
	struct vdrv_queue *q = &T.q[0];
	uint16_t used = vdrv_used_idx(q);

	vdrv_avail_add(q, head);
	vdrv_kick(q);
	assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
	assert_int_equal(vdrv_used_idx(q), used);
	assert_recovers();
}

static void expect_refused_chain(const struct vdrv_buf *b, uint32_t n, bool indirect)
{
	assert_true(dt_expect_reset(&T, 0, b, n, indirect));
	assert_recovers();
}

static void test_next_cycle(void **state)
{
	struct vdrv_queue *q;
	uint64_t data;

	(void)state;
	start(&(struct dt_opts){0});
	q = &T.q[0];
	data = dt_buf(&T, 512, 0);
	/* 0 -> 1 -> 0 -> ... */
	vdrv_desc_set(q, 0, dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_set(q, 1, data, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	expect_refused(0);
	/* A descriptor pointing at itself. */
	q = &T.q[0];
	vdrv_desc_set(q, 5, dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, VIRTQ_DESC_F_NEXT, 5);
	expect_refused(5);
	/* Zero-length descriptors in a cycle: no spin either. */
	q = &T.q[0];
	vdrv_desc_set(q, 0, 0, 0, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_set(q, 1, 0, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	expect_refused(0);
}

static void test_index_out_of_range(void **state)
{
	struct vdrv_queue *q;

	(void)state;
	start(&(struct dt_opts){.queue_size = 64});
	/* Heads of exactly the size and of 0xffff. */
	expect_refused(64);
	expect_refused(0xffff);
	/* A next field past the table. */
	q = &T.q[0];
	vdrv_desc_set(q, 0, dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, VIRTQ_DESC_F_NEXT, 64);
	expect_refused(0);
}

static void test_avail_idx_jumps(void **state)
{
	struct vdrv_queue *q;

	(void)state;
	start(&(struct dt_opts){.queue_size = 64});
	/* Ahead by more than the ring holds. */
	q = &T.q[0];
	vdrv_avail_set_idx(q, 65);
	vdrv_kick(q);
	assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
	assert_recovers();
	/* Back by one after a request was served. */
	q = &T.q[0];
	vdrv_avail_set_idx(q, (uint16_t)(q->avail_idx - 1));
	vdrv_kick(q);
	assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
	assert_recovers();
}

static void test_addr_outside_ram(void **state)
{
	const uint64_t size = 64 * MiB;

	(void)state;
	start(&(struct dt_opts){.mem_size = size});
	/* Just past the end, straddling the end, overflowing, 4 GiB long. */
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {size, 512, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {size - 256, 512, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {UINT64_MAX - 100, 512, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {1 * MiB, UINT32_MAX, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	/* The header itself outside RAM. */
	expect_refused_chain(
		(struct vdrv_buf[]){{size + 4096, 16, false}, {dt_status(&T), 1, true}}, 2, false);
}

/* Guest RAM over the 32-bit hole: ranges that span it or point into it (the
 * MMIO of LAPIC/IOAPIC) are refused; RAM above 4 GiB works. */
static void test_hole_and_high_ram(void **state)
{
	const uint64_t size = GMEM_MMIO_HOLE_START + 64 * MiB, high = GMEM_HIGH_START;
	uint64_t st, hash;
	uint32_t id, len;
	uint16_t head;

	(void)state;
	start(&(struct dt_opts){.mem_size = size});
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {GMEM_MMIO_HOLE_START - 256, 512, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {0xfee00000, 4, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {high + 64 * MiB - 256, 512, true},
						 {dt_status(&T), 1, true}},
			     3, false);
	/* DMA into RAM above 4 GiB. */
	memset(dt_host(&T, high + 4096, 1024), 0, 1024);
	st = dt_status(&T);
	head = dt_post(&T, 0,
		       (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 5), 16, false},
					   {high + 4096, 512, true},
					   {st, 1, true}},
		       3, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_OK);
	for (uint32_t i = 0; i < 512; i++)
		assert_int_equal(((uint8_t *)dt_host(&T, high + 4096, 512))[i], dt_pattern(5, i));
	assert_int_equal(((uint8_t *)dt_host(&T, high + 4096 + 512, 1))[0], 0);
	/* Lengths summing past 2^32 (two 2 GiB buffers of real RAM): checked
	 * math, an I/O error, nothing written. */
	hash = dt_image_hash(&T);
	st = dt_status(&T);
	head = dt_post(&T, 0,
		       (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_OUT, 0), 16, false},
					   {0, 0x80000000U, false},
					   {0, 0x80000000U, false},
					   {st, 1, true}},
		       4, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_IOERR);
	assert_true(dt_image_hash(&T) == hash);
	assert_true(dt_healthy(&T));
}

static void test_zero_length(void **state)
{
	uint64_t data, st;
	uint32_t id, len;
	uint16_t head;

	(void)state;
	start(&(struct dt_opts){0});
	/* Zero-length descriptors between the real ones: served. */
	data = dt_buf(&T, 512, 0);
	st = dt_status(&T);
	head = dt_post(&T, 0,
		       (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 4), 16, false},
					   {0, 0, false},
					   {data, 512, true},
					   {0, 0, true},
					   {st, 1, true}},
		       5, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 513);
	/* Nothing but zero-length descriptors: no status byte. */
	expect_refused_chain((struct vdrv_buf[]){{0, 0, false}, {0, 0, true}, {0, 0, true}}, 3,
			     false);
}

static void test_indirect_rules(void **state)
{
	struct vdrv_queue *q;
	uint64_t table, hdr;

	(void)state;
	start(&(struct dt_opts){.queue_size = 64});
	q = &T.q[0];
	hdr = dt_hdr(&T, VIRTIO_BLK_T_GET_ID, 0);
	table = vdrv_alloc(&T.mem, 128 * 16, 16);
	vdrv_desc_write(&T.mem, table, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_write(&T.mem, table, 1, dt_status(&T), 1, VIRTQ_DESC_F_WRITE, 0);
	/* Table length 0, not a multiple of 16, longer than the queue. */
	vdrv_desc_set(q, 0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
	vdrv_desc_set(&T.q[0], 0, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
	vdrv_desc_set(&T.q[0], 0, table, 65 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
	/* INDIRECT together with NEXT. */
	vdrv_desc_set(&T.q[0], 0, table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_set(&T.q[0], 1, dt_status(&T), 1, VIRTQ_DESC_F_WRITE, 0);
	expect_refused(0);
	/* A table outside RAM. */
	vdrv_desc_set(&T.q[0], 0, T.mem.size - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
	/* An indirect descriptor inside the table. */
	vdrv_desc_write(&T.mem, table, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_desc_set(&T.q[0], 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
	/* A cycle inside the table, and a next past its end. */
	vdrv_desc_write(&T.mem, table, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_write(&T.mem, table, 1, hdr, 16, VIRTQ_DESC_F_NEXT, 0);
	vdrv_desc_set(&T.q[0], 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
	vdrv_desc_write(&T.mem, table, 1, hdr, 16, VIRTQ_DESC_F_NEXT, 2);
	vdrv_desc_set(&T.q[0], 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_refused(0);
}

static void test_indirect_not_negotiated(void **state)
{
	(void)state;
	start(&(struct dt_opts){.drop = 1ULL << VIRTIO_RING_F_INDIRECT_DESC});
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_GET_ID, 0), 16, false},
						 {dt_status(&T), 1, true}},
			     2, true);
}

static void test_buffer_order(void **state)
{
	uint64_t data, st, hash;
	uint32_t id, len;

	(void)state;
	start(&(struct dt_opts){0});
	/* Writable before readable. */
	expect_refused_chain((struct vdrv_buf[]){{dt_status(&T), 1, true},
						 {dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false}},
			     2, false);
	/* No status byte at all; a read-only "status byte". */
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_FLUSH, 0), 16, false}}, 1,
			     false);
	expect_refused_chain((struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
						 {dt_buf(&T, 512, 0), 512, false},
						 {dt_status(&T), 1, false}},
			     3, false);
	/* IN into a device-readable buffer: refused, never written. */
	data = dt_buf(&T, 512, 0x5a);
	st = dt_status(&T);
	dt_post(&T, 0,
		(struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
				    {data, 512, false},
				    {st, 1, true}},
		3, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_IOERR);
	for (uint32_t i = 0; i < 512; i++)
		assert_int_equal(((uint8_t *)dt_host(&T, data, 512))[i], 0x5a);
	/* OUT from a device-writable buffer: refused, the disk unchanged. */
	hash = dt_image_hash(&T);
	st = dt_status(&T);
	dt_post(&T, 0,
		(struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_OUT, 0), 16, false},
				    {data, 512, true},
				    {st, 1, true}},
		3, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_IOERR);
	assert_true(dt_image_hash(&T) == hash);
	assert_true(dt_healthy(&T));
}

/* Activation with rings the device cannot use: NeedsReset, then a reset and
 * a proper activation work. */
static void activate_bad(uint32_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	uint32_t index = 0;
	uint64_t addr[1][3] = {{desc, avail, used}};

	assert_int_equal(vcore_activate_raw(&T.core, T.negotiated, &index, &size,
					    (const uint64_t(*)[3])addr, 1),
			 0);
	assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
	assert_recovers();
	/* Back to "attached, not active" for the next case. */
	assert_int_equal(vcore_reset(&T.core, DT_TIMEOUT_MS), 0);
}

static void test_bad_rings(void **state)
{
	const uint64_t base = 8 * MiB;

	(void)state;
	start(&(struct dt_opts){.queue_size = 64, .no_activate = true});
	activate_bad(48, base, base + 0x1000, base + 0x2000);	     /* not a power of 2 */
	activate_bad(64, base + 8, base + 0x1000, base + 0x2000);    /* desc misaligned */
	activate_bad(64, base, base + 0x1001, base + 0x2000);	     /* avail misaligned */
	activate_bad(64, base, base + 0x1000, base + 0x2002);	     /* used misaligned */
	activate_bad(64, T.mem.size - 512, base, base + 0x2000);     /* desc past RAM */
	activate_bad(64, base, base + 0x1000, GMEM_MMIO_HOLE_START); /* used in the hole */
}

/* Queue sizes the core must have refused (0, over the maximum) and a second
 * Activate while active are core protocol violations: the device exits with
 * status 1, it does not crash. */
static void expect_exit_after_activate(uint32_t size)
{
	const uint64_t base = 8 * MiB;
	uint32_t index = 0;
	uint64_t addr[1][3] = {{base, base + 0x1000, base + 0x3000}};

	assert_int_equal(vcore_activate_raw(&T.core, T.negotiated, &index, &size,
					    (const uint64_t(*)[3])addr, 1),
			 0);
	assert_int_equal(vcore_wait_exit(&T.core, DT_TIMEOUT_MS), 1);
	dt_stop(&T);
}

static void test_core_violations(void **state)
{
	(void)state;
	start(&(struct dt_opts){.queue_size = 64, .no_activate = true});
	expect_exit_after_activate(0);
	start(&(struct dt_opts){.queue_size = 64, .no_activate = true});
	expect_exit_after_activate(128);
	start(&(struct dt_opts){.queue_size = 64});
	expect_exit_after_activate(64);
}

/* Queue 1 exists but was never enabled: its kicks are ignored. */
static void test_kick_absent_queue(void **state)
{
	struct vdrv_queue *qs[1];
	uint64_t one = 1;

	(void)state;
	start(&(struct dt_opts){.num_queues = 2, .no_activate = true});
	assert_int_equal(vdrv_queue_init(&T.q[0], &T.mem, 0, 64), 0);
	qs[0] = &T.q[0];
	assert_int_equal(vcore_activate(&T.core, T.negotiated, qs, 1), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(T.core.kick_fd[1], &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_true(dt_healthy(&T));
	assert_int_equal(T.core.needs_reset, 0);
}

/* The same head published twice while its first request is in flight. */
static void test_head_reused_in_flight(void **state)
{
	struct vdrv_queue *q;
	uint16_t head;

	(void)state;
	start(&(struct dt_opts){0});
	q = &T.q[0];
	head = vdrv_chain(q,
			  (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 0), 16, false},
					      {dt_buf(&T, 4096, 0), 4096, true},
					      {dt_status(&T), 1, true}},
			  3);
	vdrv_avail_add(q, head);
	vdrv_avail_add(q, head);
	vdrv_kick(q);
	assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
	assert_recovers();
}

/* A second thread rewrites the data descriptor between a valid buffer and a
 * hostile one (outside RAM, 4 GiB long, looping) while requests flow. Each
 * request is answered from one consistent copy or refused; the device
 * survives and writes only into the valid buffer. */
struct flipper {
	struct vdrv_mem *mem;
	_Atomic uint64_t table; /* the descriptor table in use */
	uint64_t data;
	atomic_bool stop;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;

	while (!atomic_load(&f->stop)) {
		uint64_t table = atomic_load(&f->table);

		vdrv_desc_write(f->mem, table, 1, f->data, 512,
				VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
		vdrv_desc_write(f->mem, table, 1, UINT64_MAX - 8, UINT32_MAX,
				VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	}
	return NULL;
}

static void test_descriptor_rewrite_race(void **state)
{
	struct flipper f = {.mem = &T.mem};
	uint32_t answered = 0, refused = 0;
	uint64_t canary, st, hdr;
	pthread_t th;

	(void)state;
	start(&(struct dt_opts){0});
	f.data = dt_buf(&T, 512, 0);
	canary = dt_buf(&T, 4096, 0x6b);
	hdr = dt_hdr(&T, VIRTIO_BLK_T_IN, 2);
	st = dt_status(&T);
	atomic_store(&f.table, T.q[0].desc);
	assert_int_equal(pthread_create(&th, NULL, flip, &f), 0);
	for (int i = 0; i < 300; i++) {
		struct vdrv_queue *q = &T.q[0];
		uint32_t id, len;

		vdrv_desc_set(q, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
		vdrv_desc_set(q, 2, st, 1, VIRTQ_DESC_F_WRITE, 0);
		vdrv_avail_add(q, 0);
		vdrv_kick(q);
		for (int spin = 0; spin < 5000; spin++) {
			if (vdrv_used_idx(q) != q->last_used || T.core.needs_reset ||
			    vcore_recv(&T.core, 1) >= 0)
				break;
		}
		if (vdrv_used_next(q, &id, &len)) {
			answered++;
			assert_int_equal(id, 0);
			continue;
		}
		assert_true(vcore_wait_needs_reset(&T.core, DT_TIMEOUT_MS));
		refused++;
		/* Fresh rings; the flipper follows to the new table. */
		assert_int_equal(dt_recover(&T), 0);
		atomic_store(&f.table, T.q[0].desc);
	}
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	fprintf(stderr, "race: %u answered, %u refused\n", answered, refused);
	for (uint32_t i = 0; i < 4096; i++)
		assert_int_equal(((uint8_t *)dt_host(&T, canary, 4096))[i], 0x6b);
	if (T.core.needs_reset)
		assert_int_equal(dt_recover(&T), 0);
	assert_true(dt_healthy(&T));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_next_cycle, teardown),
		cmocka_unit_test_teardown(test_index_out_of_range, teardown),
		cmocka_unit_test_teardown(test_avail_idx_jumps, teardown),
		cmocka_unit_test_teardown(test_addr_outside_ram, teardown),
		cmocka_unit_test_teardown(test_hole_and_high_ram, teardown),
		cmocka_unit_test_teardown(test_zero_length, teardown),
		cmocka_unit_test_teardown(test_indirect_rules, teardown),
		cmocka_unit_test_teardown(test_indirect_not_negotiated, teardown),
		cmocka_unit_test_teardown(test_buffer_order, teardown),
		cmocka_unit_test_teardown(test_bad_rings, teardown),
		cmocka_unit_test_teardown(test_core_violations, teardown),
		cmocka_unit_test_teardown(test_kick_absent_queue, teardown),
		cmocka_unit_test_teardown(test_head_reused_in_flight, teardown),
		cmocka_unit_test_teardown(test_descriptor_rewrite_race, teardown),
	};

	dt_require();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
