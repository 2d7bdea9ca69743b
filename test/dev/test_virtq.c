/* In-process tests of dev-procs/devlib/virtq: the device-side split ring
 * walker driven by the harness's driver side over a real memfd. Covers the
 * ring checks at init, every chain rule of HOSTILE_INPUTS.md (Virtqueues),
 * the avail index rules, 16-bit wrap of both indexes, vring_need_event around
 * the wrap, kick suppression, and descriptors rewritten while being read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "test/harness/vdriver.h"

#define MiB (1ULL << 20)

static struct vdrv_mem M;
static struct vdrv_queue Q;
static struct virtq VQ;
static struct virtq_chain C;

static int setup(void **state)
{
	(void)state;
	return vdrv_mem_create(&M, 16 * MiB);
}

static int teardown(void **state)
{
	(void)state;
	vdrv_mem_destroy(&M);
	return 0;
}

/* A fresh driver queue of size n and the device's view of it. */
static void ring(uint32_t n, bool event_idx, bool indirect)
{
	M.next = VDRV_ALLOC_START;
	assert_int_equal(vdrv_queue_init(&Q, &M, 0, n), 0);
	assert_int_equal(virtq_init(&VQ, &M.mem, n, Q.desc, Q.avail, Q.used, event_idx, indirect),
			 0);
}

static void post(uint16_t head)
{
	vdrv_avail_add(&Q, head);
}

static void test_init_checks(void **state)
{
	struct virtq vq;
	const uint64_t d = 2 * MiB, a = 3 * MiB, u = 4 * MiB;

	(void)state;
	assert_int_equal(virtq_init(&vq, &M.mem, 0, d, a, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 3, d, a, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 48, d, a, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 65536, d, a, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 64, d + 8, a, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 64, d, a + 1, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 64, d, a, u + 2, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 64, 16 * MiB - 512, a, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 64, d, 16 * MiB - 6, u, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 64, d, a, UINT64_MAX - 3, false, false), -EINVAL);
	assert_int_equal(virtq_init(&vq, &M.mem, 1, d, a, u, false, false), 0);
	assert_int_equal(virtq_init(&vq, &M.mem, VIRTQ_MAX_SIZE, d, a + MiB, u + MiB, false, false),
			 0);
}

static void test_simple_chain(void **state)
{
	uint16_t head;

	(void)state;
	ring(8, false, false);
	assert_int_equal(virtq_pop(&VQ, &C), 0);
	head = vdrv_chain(&Q,
			  (struct vdrv_buf[]){{0x200000, 16, false},
					      {0x200100, 100, false},
					      {0x200200, 512, true},
					      {0x200400, 1, true}},
			  4);
	post(head);
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(C.head, head);
	assert_int_equal(C.nseg, 4);
	assert_int_equal(C.nread, 2);
	assert_int_equal(C.read_len, 116);
	assert_int_equal(C.write_len, 513);
	assert_int_equal(C.seg[2].gpa, 0x200200);
	assert_true(C.seg[2].write && !C.seg[1].write);
	assert_ptr_equal(C.seg[2].host, M.mem.host + 0x200200);
	assert_int_equal(virtq_pop(&VQ, &C), 0);
	virtq_push(&VQ, head, 513);
	uint32_t id, len;
	assert_int_equal(vdrv_used_next(&Q, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 513);
}

static void expect_broken(void)
{
	assert_int_equal(virtq_pop(&VQ, &C), -EINVAL);
	assert_true(VQ.broken);
	/* Sticky: nothing more is taken from a broken queue. */
	assert_int_equal(virtq_pop(&VQ, &C), -EINVAL);
	assert_false(virtq_enable_kicks(&VQ));
}

static void test_cycles(void **state)
{
	(void)state;
	ring(8, false, false);
	vdrv_desc_set(&Q, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_set(&Q, 1, 0x200100, 16, VIRTQ_DESC_F_NEXT, 0);
	post(0);
	expect_broken();

	ring(8, false, false);
	vdrv_desc_set(&Q, 3, 0x200000, 16, VIRTQ_DESC_F_NEXT, 3);
	post(3);
	expect_broken();

	/* Zero-length descriptors count: a ring of them is a cycle too. */
	ring(8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		vdrv_desc_set(&Q, i, 0, 0, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % 8));
	post(0);
	expect_broken();

	/* A chain exactly the queue size long is fine. */
	ring(8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		vdrv_desc_set(&Q, i, 0x200000 + i * 16, 16, i < 7 ? VIRTQ_DESC_F_NEXT : 0,
			      (uint16_t)(i + 1));
	post(0);
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(C.nseg, 8);
}

static void test_max_segs(void **state)
{
	const uint32_t n = 2048;

	(void)state;
	ring(n, false, false);
	for (uint32_t i = 0; i < VIRTQ_MAX_SEGS; i++)
		vdrv_desc_set(&Q, i, 0x800000, 1, i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
			      (uint16_t)(i + 1));
	post(0);
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(C.nseg, VIRTQ_MAX_SEGS);
	/* One more: refused, whatever the queue size. */
	vdrv_desc_set(&Q, VIRTQ_MAX_SEGS - 1, 0x800000, 1, VIRTQ_DESC_F_NEXT, VIRTQ_MAX_SEGS);
	vdrv_desc_set(&Q, VIRTQ_MAX_SEGS, 0x800000, 1, 0, 0);
	post(0);
	expect_broken();
}

static void test_index_range(void **state)
{
	(void)state;
	ring(8, false, false);
	post(8);
	expect_broken();
	ring(8, false, false);
	post(0xffff);
	expect_broken();
	ring(8, false, false);
	vdrv_desc_set(&Q, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 8);
	post(0);
	expect_broken();
}

static void test_avail_idx(void **state)
{
	(void)state;
	/* Ahead by more than the size. */
	ring(8, false, false);
	vdrv_avail_set_idx(&Q, 9);
	expect_broken();
	/* Exactly the size is fine. */
	ring(8, false, false);
	for (int i = 0; i < 8; i++) {
		vdrv_desc_set(&Q, i, 0x200000, 1, 0, 0);
		post((uint16_t)i);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(virtq_pop(&VQ, &C), 0);
	/* Back below what was consumed. */
	vdrv_avail_set_idx(&Q, 7);
	expect_broken();
	/* Back below what was seen, still ahead of what was consumed. */
	ring(8, false, false);
	for (int i = 0; i < 3; i++) {
		vdrv_desc_set(&Q, i, 0x200000, 1, 0, 0);
		post((uint16_t)i);
	}
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	vdrv_avail_set_idx(&Q, 2);
	expect_broken();
}

/* Both indexes wrap from 0xffff to 0. */
static void test_wrap(void **state)
{
	uint32_t id, len;

	(void)state;
	ring(8, true, false);
	VQ.last_avail = VQ.avail_seen = 0xfffe;
	VQ.used_idx = 0xfffe;
	Q.avail_idx = 0xfffe;
	Q.last_used = 0xfffe;
	vdrv_avail_set_idx(&Q, 0xfffe);
	for (int i = 0; i < 4; i++) {
		vdrv_desc_set(&Q, i, 0x200000 + i, 1, VIRTQ_DESC_F_WRITE, 0);
		post((uint16_t)i);
	}
	assert_int_equal(Q.avail_idx, 2);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(virtq_pop(&VQ, &C), 1);
		assert_int_equal(C.head, i);
		virtq_push(&VQ, C.head, (uint32_t)i + 10);
	}
	assert_int_equal(virtq_pop(&VQ, &C), 0);
	assert_int_equal(vdrv_used_idx(&Q), 2);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vdrv_used_next(&Q, &id, &len), 1);
		assert_int_equal(id, i);
		assert_int_equal(len, i + 10);
	}
	assert_false(virtq_enable_kicks(&VQ));
	assert_int_equal(vdrv_avail_event(&Q), 2);
}

/* vring_need_event(used_event, new, old) around the wrap. */
static bool notify_case(uint16_t old, uint16_t new, uint16_t event)
{
	ring(8, true, false);
	VQ.signalled_used = old;
	VQ.signalled_valid = true;
	VQ.used_idx = new;
	vdrv_set_used_event(&Q, event);
	return virtq_should_notify(&VQ);
}

static void test_need_event(void **state)
{
	(void)state;
	assert_true(notify_case(0, 1, 0));
	assert_false(notify_case(0, 1, 1));
	assert_true(notify_case(0xfff0, 0x0010, 0xffff));
	assert_true(notify_case(0xfff0, 0x0010, 0xfff0));
	assert_true(notify_case(0xfff0, 0x0010, 0x000f));
	assert_false(notify_case(0xfff0, 0x0010, 0x0010));
	assert_false(notify_case(0xfff0, 0x0010, 0xffef));
	assert_true(notify_case(0xffff, 0x0000, 0xffff));
	assert_false(notify_case(0xffff, 0x0000, 0x0000));
	/* Nothing pushed since the last interrupt: none. */
	assert_false(notify_case(5, 5, 4));
	/* First interrupt of a queue: always. */
	ring(8, true, false);
	VQ.used_idx = 1;
	vdrv_set_used_event(&Q, 100);
	assert_true(virtq_should_notify(&VQ));
	VQ.used_idx = 2;
	assert_false(virtq_should_notify(&VQ));
}

static void test_no_interrupt_flag(void **state)
{
	(void)state;
	ring(8, false, false);
	VQ.used_idx = 1;
	assert_true(virtq_should_notify(&VQ));
	VQ.used_idx = 2;
	vdrv_avail_set_flags(&Q, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_should_notify(&VQ));
	VQ.used_idx = 3;
	vdrv_avail_set_flags(&Q, 0);
	assert_true(virtq_should_notify(&VQ));
	assert_false(virtq_should_notify(&VQ));
}

static void test_enable_kicks(void **state)
{
	(void)state;
	ring(8, true, false);
	vdrv_desc_set(&Q, 0, 0x200000, 1, 0, 0);
	assert_false(virtq_enable_kicks(&VQ));
	assert_int_equal(vdrv_avail_event(&Q), 0);
	post(0);
	assert_true(virtq_enable_kicks(&VQ));
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_false(virtq_enable_kicks(&VQ));
	assert_int_equal(vdrv_avail_event(&Q), 1);
}

static void test_zero_length(void **state)
{
	(void)state;
	ring(8, false, false);
	vdrv_chain(&Q,
		   (struct vdrv_buf[]){
			   {0x200000, 16, false}, {0, 0, false}, {0, 0, true}, {0x200100, 1, true}},
		   4);
	post(0);
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(C.nseg, 2);
	assert_int_equal(C.nread, 1);
	/* A zero-length descriptor may even sit "outside RAM": nothing is
	 * accessed through it. A zero-length readable after a writable one
	 * carries nothing either. */
	ring(8, false, false);
	vdrv_chain(&Q, (struct vdrv_buf[]){{0x200100, 1, true}, {UINT64_MAX, 0, false}}, 2);
	post(0);
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(C.nseg, 1);
}

static void test_addresses(void **state)
{
	static const struct vdrv_buf bad[] = {
		{16 * MiB, 1, false},	       /* just past the end */
		{16 * MiB - 8, 16, false},     /* straddling the end */
		{UINT64_MAX - 8, 16, false},   /* addr + len overflows */
		{0x100000, UINT32_MAX, false}, /* 4 GiB long */
		{GMEM_MMIO_HOLE_START, 4, true},
		{0xfee00000, 4, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ring(8, false, false);
		vdrv_chain(&Q, &bad[i], 1);
		post(0);
		expect_broken();
	}
}

static void test_hole(void **state)
{
	struct vdrv_mem big;
	struct virtq vq;
	struct vdrv_queue q;

	(void)state;
	assert_int_equal(vdrv_mem_create(&big, GMEM_MMIO_HOLE_START + 16 * MiB), 0);
	assert_int_equal(vdrv_queue_init(&q, &big, 0, 8), 0);
	assert_int_equal(virtq_init(&vq, &big.mem, 8, q.desc, q.avail, q.used, false, false), 0);
	vdrv_chain(&q, (struct vdrv_buf[]){{GMEM_MMIO_HOLE_START - 8, 16, true}}, 1);
	vdrv_avail_add(&q, 0);
	assert_int_equal(virtq_pop(&vq, &C), -EINVAL);
	/* High RAM is RAM; its end is the end. */
	assert_int_equal(virtq_init(&vq, &big.mem, 8, q.desc, q.avail, q.used, false, false), 0);
	vdrv_chain(&q, (struct vdrv_buf[]){{GMEM_HIGH_START + 16 * MiB - 16, 16, true}}, 1);
	vdrv_avail_add(&q, 1);
	vq.last_avail = vq.avail_seen = 1;
	assert_int_equal(virtq_pop(&vq, &C), 1);
	assert_ptr_equal(C.seg[0].host, big.mem.host + GMEM_MMIO_HOLE_START + 16 * MiB - 16);
	vdrv_chain(&q, (struct vdrv_buf[]){{GMEM_HIGH_START + 16 * MiB - 8, 16, true}}, 1);
	vdrv_avail_add(&q, 2);
	assert_int_equal(virtq_pop(&vq, &C), -EINVAL);
	vdrv_mem_destroy(&big);
}

static void test_buffer_order(void **state)
{
	(void)state;
	ring(8, false, false);
	vdrv_chain(&Q, (struct vdrv_buf[]){{0x200000, 1, true}, {0x200100, 16, false}}, 2);
	post(0);
	expect_broken();
}

static uint64_t table_with(uint32_t n)
{
	uint64_t t = vdrv_alloc(&M, 64 * 16, 16);

	for (uint32_t i = 0; i < n; i++)
		vdrv_desc_write(&M, t, i, 0x200000 + i * 16, 16,
				(i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) | (i + 1 == n ? 2 : 0),
				(uint16_t)(i + 1));
	return t;
}

static void indirect_case(uint64_t table, uint32_t len, uint16_t flags, bool ok)
{
	vdrv_desc_set(&Q, 0, table, len, flags, 1);
	post(0);
	if (ok)
		assert_int_equal(virtq_pop(&VQ, &C), 1);
	else
		expect_broken();
}

static void test_indirect(void **state)
{
	uint64_t t;

	(void)state;
	ring(8, false, true);
	t = table_with(3);
	indirect_case(t, 48, VIRTQ_DESC_F_INDIRECT, true);
	assert_int_equal(C.nseg, 3);
	assert_int_equal(C.nread, 2);
	/* Not negotiated. */
	ring(8, false, false);
	indirect_case(table_with(3), 48, VIRTQ_DESC_F_INDIRECT, false);
	/* Length 0, not a multiple of 16, over the queue size. */
	ring(8, false, true);
	indirect_case(table_with(3), 0, VIRTQ_DESC_F_INDIRECT, false);
	ring(8, false, true);
	indirect_case(table_with(3), 40, VIRTQ_DESC_F_INDIRECT, false);
	ring(8, false, true);
	indirect_case(table_with(9), 9 * 16, VIRTQ_DESC_F_INDIRECT, false);
	ring(8, false, true);
	indirect_case(table_with(8), 8 * 16, VIRTQ_DESC_F_INDIRECT, true);
	/* With NEXT; outside RAM. */
	ring(8, false, true);
	indirect_case(table_with(3), 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, false);
	ring(8, false, true);
	indirect_case(16 * MiB - 32, 48, VIRTQ_DESC_F_INDIRECT, false);
	/* Nested. */
	ring(8, false, true);
	t = table_with(3);
	vdrv_desc_write(&M, t, 1, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	indirect_case(t, 48, VIRTQ_DESC_F_INDIRECT, false);
	/* A cycle inside; a next past the table's end. */
	ring(8, false, true);
	t = table_with(3);
	vdrv_desc_write(&M, t, 2, 0x200000, 16, VIRTQ_DESC_F_NEXT, 0);
	indirect_case(t, 48, VIRTQ_DESC_F_INDIRECT, false);
	ring(8, false, true);
	t = table_with(3);
	vdrv_desc_write(&M, t, 2, 0x200000, 16, VIRTQ_DESC_F_NEXT, 3);
	indirect_case(t, 48, VIRTQ_DESC_F_INDIRECT, false);
	/* A direct chain that ends in a table (allowed by the spec). */
	ring(8, false, true);
	t = table_with(2);
	vdrv_desc_set(&Q, 1, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_desc_set(&Q, 0, 0x300000, 16, VIRTQ_DESC_F_NEXT, 1);
	post(0);
	assert_int_equal(virtq_pop(&VQ, &C), 1);
	assert_int_equal(C.nseg, 3);
	assert_int_equal(C.seg[0].gpa, 0x300000);
}

/* A second thread flips a descriptor between a valid buffer and a hostile
 * one; every accepted chain must be one consistent, checked copy. */
static atomic_bool flip_stop;

static void *flip(void *arg)
{
	(void)arg;
	while (!atomic_load(&flip_stop)) {
		vdrv_desc_set(&Q, 1, 0x400000, 512, VIRTQ_DESC_F_WRITE, 0);
		vdrv_desc_set(&Q, 1, UINT64_MAX - 4, UINT32_MAX,
			      VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	}
	return NULL;
}

static void test_rewrite_race(void **state)
{
	uint32_t ok = 0, bad = 0;
	pthread_t th;

	(void)state;
	ring(8, false, false);
	vdrv_desc_set(&Q, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc_set(&Q, 1, 0x400000, 512, VIRTQ_DESC_F_WRITE, 0);
	atomic_store(&flip_stop, false);
	assert_int_equal(pthread_create(&th, NULL, flip, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		int r;

		post(0);
		r = virtq_pop(&VQ, &C);
		if (r == 1) {
			ok++;
			assert_int_equal(C.nseg, 2);
			assert_int_equal(C.seg[1].gpa, 0x400000);
			assert_int_equal(C.seg[1].len, 512);
			assert_ptr_equal(C.seg[1].host, M.mem.host + 0x400000);
			virtq_push(&VQ, 0, 0);
		} else {
			assert_int_equal(r, -EINVAL);
			bad++;
			/* Re-arm the device side over the same rings. */
			uint16_t idx = Q.avail_idx;
			assert_int_equal(
				virtq_init(&VQ, &M.mem, 8, Q.desc, Q.avail, Q.used, false, false),
				0);
			VQ.last_avail = VQ.avail_seen = idx;
		}
	}
	atomic_store(&flip_stop, true);
	pthread_join(th, NULL);
	assert_true(ok + bad == 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_checks),
		cmocka_unit_test(test_simple_chain),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_max_segs),
		cmocka_unit_test(test_index_range),
		cmocka_unit_test(test_avail_idx),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_need_event),
		cmocka_unit_test(test_no_interrupt_flag),
		cmocka_unit_test(test_enable_kicks),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_hole),
		cmocka_unit_test(test_buffer_order),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_rewrite_race),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
