/* Device tests for cellvm-dev-blk, the well-behaved driver's view: the real
 * device process started by the launcher, the harness as core and guest
 * driver, results checked against the image file. Covers the configuration
 * space, IN/OUT in several layouts, FLUSH, DISCARD, WRITE_ZEROES, GET_ID,
 * read-only disks, several queues, EVENT_IDX on and off, indirect tables, a
 * full queue, the 16-bit index wrap, and reset with I/O in flight. Run with
 * "tmpfs", it checks WRITE_ZEROES on a tmpfs image instead (exit 77 when
 * /dev/shm is no writable tmpfs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "test/dev/devtest.h"

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

static uint64_t cfg_le(size_t off, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)T.core.config[off + i] << (8 * i);
	return v;
}

static bool has(uint64_t features, int bit)
{
	return features & (1ULL << bit);
}

/* Interrupts raised since the last take, read once the device has counted
 * n completed requests in all (the device needs opts.stats). The frame
 * publishes its counters after each round of events, and blk decides
 * whether to interrupt for what it completed in the round that completed
 * it: so the count read here is final for those n requests, a "none"
 * included. Fails the test when the device does not get that far. */
static uint64_t irqs_after(uint64_t n)
{
	assert_int_equal(dt_stats_wait(&T, n).requests, n);
	return vcore_irq_take(&T.core);
}

static void assert_pattern(const uint8_t *p, uint64_t sector, uint32_t nsect)
{
	for (uint32_t s = 0; s < nsect; s++)
		for (uint32_t i = 0; i < BLK_SECTOR_SIZE; i++)
			assert_int_equal(p[s * BLK_SECTOR_SIZE + i], dt_pattern(sector + s, i));
}

static void test_config_and_features(void **state)
{
	(void)state;
	start(&(struct dt_opts){.num_queues = 2, .queue_size = 64});
	assert_int_equal(T.core.device_id, VIRTIO_ID_BLOCK);
	assert_true(has(T.core.features, VIRTIO_F_VERSION_1));
	assert_true(has(T.core.features, VIRTIO_BLK_F_SIZE_MAX));
	assert_true(has(T.core.features, VIRTIO_BLK_F_SEG_MAX));
	assert_true(has(T.core.features, VIRTIO_BLK_F_BLK_SIZE));
	assert_true(has(T.core.features, VIRTIO_BLK_F_FLUSH));
	assert_true(has(T.core.features, VIRTIO_BLK_F_MQ));
	assert_true(has(T.core.features, VIRTIO_BLK_F_DISCARD));
	assert_true(has(T.core.features, VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(has(T.core.features, VIRTIO_RING_F_EVENT_IDX));
	assert_true(has(T.core.features, VIRTIO_RING_F_INDIRECT_DESC));
	assert_false(has(T.core.features, VIRTIO_BLK_F_RO));
	assert_int_equal(T.core.config_len, BLK_CONFIG_LEN);
	assert_int_equal(T.core.num_queues, 2);
	assert_int_equal(T.core.queue_max_size, 64);
	assert_int_equal(cfg_le(BLK_CFG_CAPACITY, 8), DT_IMAGE_SECT);
	assert_int_equal(cfg_le(BLK_CFG_SIZE_MAX, 4), BLK_SIZE_MAX);
	assert_int_equal(cfg_le(BLK_CFG_SEG_MAX, 4), 62);
	assert_int_equal(cfg_le(BLK_CFG_BLK_SIZE, 4), 512);
	assert_int_equal(cfg_le(BLK_CFG_NUM_QUEUES, 2), 2);
	assert_int_equal(cfg_le(BLK_CFG_MAX_DISCARD_SECT, 4), BLK_DWZ_SECT_MAX);
	assert_int_equal(cfg_le(BLK_CFG_MAX_DISCARD_SEG, 4), BLK_DWZ_SEG_MAX);
	assert_int_equal(cfg_le(BLK_CFG_DISCARD_ALIGN, 4), BLK_DISCARD_ALIGN);
	assert_int_equal(cfg_le(BLK_CFG_MAX_WZ_SECT, 4), BLK_DWZ_SECT_MAX);
	assert_int_equal(cfg_le(BLK_CFG_MAX_WZ_SEG, 4), BLK_DWZ_SEG_MAX);
	assert_int_equal(cfg_le(BLK_CFG_WZ_MAY_UNMAP, 1), 1);
}

static void test_read(void **state)
{
	uint64_t data;
	uint32_t len;
	uint8_t *p;

	(void)state;
	start(&(struct dt_opts){0});
	/* 3 sectors asked, a canary sector behind them. */
	data = dt_buf(&T, 4 * BLK_SECTOR_SIZE, 0x5a);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, 10, data, 3 * 512, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 3 * 512 + 1);
	p = dt_host(&T, data, 4 * 512);
	assert_pattern(p, 10, 3);
	for (uint32_t i = 3 * 512; i < 4 * 512; i++)
		assert_int_equal(p[i], 0x5a);
	/* The last sector of the disk. */
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, DT_IMAGE_SECT - 1, data, 512, &len),
			 VIRTIO_BLK_S_OK);
	assert_pattern(p, DT_IMAGE_SECT - 1, 1);
}

static void test_write(void **state)
{
	uint8_t buf[4 * 512];
	uint64_t data, size;
	uint32_t len;

	(void)state;
	start(&(struct dt_opts){0});
	size = dt_image_size(&T);
	data = dt_buf(&T, 2 * 512, 0xa5);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_OUT, 100, data, 2 * 512, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	dt_image_read(&T, 99 * 512, buf, sizeof(buf));
	assert_pattern(buf, 99, 1);
	for (uint32_t i = 512; i < 3 * 512; i++)
		assert_int_equal(buf[i], 0xa5);
	assert_pattern(buf + 3 * 512, 102, 1);
	assert_int_equal(dt_image_size(&T), size);
	/* And back through the device. */
	data = dt_buf(&T, 2 * 512, 0);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_IN, 100, data, 2 * 512, &len),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(dt_host(&T, data, 1024), buf + 512, 1024);
}

/* virtio 1.x has no framing rules: header and data may share descriptors and
 * data may be split anywhere. */
static void test_layouts(void **state)
{
	uint8_t buf[512];
	uint64_t one, st, a, b, c;
	uint32_t id, len;
	uint16_t head;

	(void)state;
	start(&(struct dt_opts){0});
	/* OUT: header and data in one readable descriptor. */
	one = vdrv_alloc(&T.mem, 16 + 512, 16);
	memcpy(dt_host(&T, one, 16), dt_host(&T, dt_hdr(&T, VIRTIO_BLK_T_OUT, 7), 16), 16);
	memset(dt_host(&T, one + 16, 512), 0x3c, 512);
	st = dt_status(&T);
	head = dt_post(&T, 0, (struct vdrv_buf[]){{one, 528, false}, {st, 1, true}}, 2, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_OK);
	dt_image_read(&T, 7 * 512, buf, 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(buf[i], 0x3c);

	/* IN: data split 100/312/100, the last piece sharing its descriptor
	 * with the status byte. */
	a = dt_buf(&T, 100, 0);
	b = dt_buf(&T, 312, 0);
	c = dt_buf(&T, 101, 0xee);
	head = dt_post(&T, 0,
		       (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 9), 16, false},
					   {a, 100, true},
					   {b, 312, true},
					   {c, 101, true}},
		       4, false);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 513);
	assert_int_equal(*(uint8_t *)dt_host(&T, c + 100, 1), VIRTIO_BLK_S_OK);
	memcpy(buf, dt_host(&T, a, 100), 100);
	memcpy(buf + 100, dt_host(&T, b, 312), 312);
	memcpy(buf + 412, dt_host(&T, c, 100), 100);
	assert_pattern(buf, 9, 1);
}

static void test_flush(void **state)
{
	uint32_t len;

	(void)state;
	start(&(struct dt_opts){0});
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
}

static void test_discard(void **state)
{
	uint64_t size, ranges, sector[] = {8};
	uint32_t num[] = {8}, flags[] = {0}, len;
	uint8_t buf[10 * 512];

	(void)state;
	start(&(struct dt_opts){0});
	size = dt_image_size(&T);
	ranges = dt_dwz(&T, 1, sector, num, flags);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_DISCARD, 0, ranges, 16, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(dt_image_size(&T), size);
	/* A punched hole reads back as zeroes; the neighbours are intact. */
	dt_image_read(&T, 7 * 512, buf, sizeof(buf));
	assert_pattern(buf, 7, 1);
	for (uint32_t i = 512; i < 9 * 512; i++)
		assert_int_equal(buf[i], 0);
	assert_pattern(buf + 9 * 512, 16, 1);
}

static void test_write_zeroes(void **state)
{
	uint64_t size, ranges, sector[] = {20, 30, 40};
	uint32_t num[] = {4, 2, 0}, flags[] = {0, VIRTIO_BLK_DWZ_F_UNMAP, 0}, len;
	uint8_t buf[32 * 512];

	(void)state;
	start(&(struct dt_opts){0});
	size = dt_image_size(&T);
	ranges = dt_dwz(&T, 3, sector, num, flags);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, ranges, 48, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(dt_image_size(&T), size);
	dt_image_read(&T, 19 * 512, buf, sizeof(buf));
	for (uint32_t s = 19; s < 19 + 32; s++) {
		bool zero = (s >= 20 && s < 24) || (s >= 30 && s < 32);
		for (uint32_t i = 0; i < 512; i++)
			assert_int_equal(buf[(s - 19) * 512 + i], zero ? 0 : dt_pattern(s, i));
	}
}

#define TMPFS_DIR "/dev/shm"

/* On tmpfs FALLOC_FL_ZERO_RANGE is refused: the device falls back to a hole,
 * also for a second request already submitted with ZERO_RANGE. */
static void test_write_zeroes_tmpfs(void **state)
{
	uint64_t st[2], sector[2][1] = {{64}, {128}};
	uint32_t num[] = {16}, flags[] = {0};
	uint8_t buf[16 * 512];

	(void)state;
	start(&(struct dt_opts){.dir = TMPFS_DIR});
	for (int k = 0; k < 2; k++) {
		st[k] = dt_status(&T);
		vdrv_avail_add(
			&T.q[0],
			vdrv_chain(&T.q[0],
				   (struct vdrv_buf[]){
					   {dt_hdr(&T, VIRTIO_BLK_T_WRITE_ZEROES, 0), 16, false},
					   {dt_dwz(&T, 1, sector[k], num, flags), 16, false},
					   {st[k], 1, true}},
				   3));
	}
	vdrv_kick(&T.q[0]);
	for (int k = 0; k < 2; k++) {
		uint32_t id, len;
		assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	}
	for (int k = 0; k < 2; k++) {
		assert_int_equal(*(uint8_t *)dt_host(&T, st[k], 1), VIRTIO_BLK_S_OK);
		dt_image_read(&T, sector[k][0] * 512, buf, sizeof(buf));
		for (uint32_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0);
	}
	assert_int_equal(dt_image_size(&T), DT_IMAGE_SECT * 512);
}

static void test_get_id(void **state)
{
	uint64_t data;
	uint32_t len;
	uint8_t *p;

	(void)state;
	start(&(struct dt_opts){0});
	data = dt_buf(&T, 20, 0x77);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, data, 20, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(dt_host(&T, data, 20), DT_SERIAL, 20);

	/* Short buffer: 8 bytes written, the byte after them untouched. */
	data = dt_buf(&T, 16, 0x77);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, data, 8, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 9);
	p = dt_host(&T, data, 16);
	assert_memory_equal(p, DT_SERIAL, 8);
	for (int i = 8; i < 16; i++)
		assert_int_equal(p[i], 0x77);

	/* Long buffer: exactly 20 bytes written. */
	data = dt_buf(&T, 64, 0x77);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, data, 64, &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	p = dt_host(&T, data, 64);
	assert_memory_equal(p, DT_SERIAL, 20);
	for (int i = 20; i < 64; i++)
		assert_int_equal(p[i], 0x77);
}

static void test_get_id_short_serial(void **state)
{
	static const uint8_t want[20] = "abc";
	uint64_t data;
	uint32_t len;

	(void)state;
	start(&(struct dt_opts){.serial = "abc"});
	data = dt_buf(&T, 20, 0x77);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, data, 20, &len),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(dt_host(&T, data, 20), want, 20); /* zero padded */
}

static void test_unsupported_types(void **state)
{
	static const uint32_t types[] = {VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE, 2,
					 99, UINT32_MAX};
	uint64_t hash;
	uint32_t len;

	(void)state;
	start(&(struct dt_opts){0});
	hash = dt_image_hash(&T);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(dt_request(&T, 0, types[i], 0, 0, 0, &len), VIRTIO_BLK_S_UNSUPP);
		assert_int_equal(len, 1);
	}
	assert_true(dt_image_hash(&T) == hash);
	assert_true(dt_healthy(&T));
}

static void test_readonly(void **state)
{
	uint64_t hash, size, data, ranges, sector[] = {0};
	uint32_t num[] = {8}, flags[] = {0}, len;

	(void)state;
	start(&(struct dt_opts){.readonly = true});
	assert_true(has(T.core.features, VIRTIO_BLK_F_RO));
	assert_false(has(T.core.features, VIRTIO_BLK_F_DISCARD));
	assert_false(has(T.core.features, VIRTIO_BLK_F_WRITE_ZEROES));
	hash = dt_image_hash(&T);
	size = dt_image_size(&T);
	data = dt_buf(&T, 4096, 0xa5);
	ranges = dt_dwz(&T, 1, sector, num, flags);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_OUT, 0, data, 4096, &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_DISCARD, 0, ranges, 16, &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, ranges, 16, &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &len), VIRTIO_BLK_S_OK);
	assert_true(dt_healthy(&T));
	assert_true(dt_image_hash(&T) == hash);
	assert_int_equal(dt_image_size(&T), size);
}

/* Requests on four queues at once share one backend ring. */
static void test_multiqueue(void **state)
{
	enum { NQ = 4, PER = 6 };
	uint64_t data[NQ][PER], st[NQ][PER];
	uint16_t head[NQ][PER];

	(void)state;
	start(&(struct dt_opts){.num_queues = NQ});
	for (uint32_t q = 0; q < NQ; q++) {
		for (uint32_t k = 0; k < PER; k++) {
			uint64_t sector = 16 * q + 2 * k;

			data[q][k] = dt_buf(&T, 1024, 0);
			st[q][k] = dt_status(&T);
			head[q][k] =
				vdrv_chain(&T.q[q],
					   (struct vdrv_buf[]){
						   {dt_hdr(&T, VIRTIO_BLK_T_IN, sector), 16, false},
						   {data[q][k], 1024, true},
						   {st[q][k], 1, true}},
					   3);
			vdrv_avail_add(&T.q[q], head[q][k]);
		}
	}
	for (uint32_t q = 0; q < NQ; q++)
		vdrv_kick(&T.q[q]);
	for (uint32_t q = 0; q < NQ; q++) {
		bool seen[PER] = {0};

		for (uint32_t k = 0; k < PER; k++) {
			uint32_t id, len, j;

			assert_int_equal(dt_wait(&T, q, &id, &len), 1);
			for (j = 0; j < PER && head[q][j] != id; j++)
				;
			assert_true(j < PER && !seen[j]);
			seen[j] = true;
			assert_int_equal(len, 1025);
			assert_int_equal(*(uint8_t *)dt_host(&T, st[q][j], 1), VIRTIO_BLK_S_OK);
			assert_pattern(dt_host(&T, data[q][j], 1024), 16 * q + 2 * j, 2);
		}
	}
	/* A write on queue 1 is seen by a read on queue 3. */
	{
		uint64_t w = dt_buf(&T, 512, 0x42), r = dt_buf(&T, 512, 0);
		assert_int_equal(dt_request(&T, 1, VIRTIO_BLK_T_OUT, 500, w, 512, NULL), 0);
		assert_int_equal(dt_request(&T, 3, VIRTIO_BLK_T_IN, 500, r, 512, NULL), 0);
		assert_memory_equal(dt_host(&T, r, 512), dt_host(&T, w, 512), 512);
	}
}

static void test_event_idx(void **state)
{
	struct vdrv_queue *q = &T.q[0];
	uint64_t id = 0;
	uint32_t len;

	(void)state;
	start(&(struct dt_opts){.stats = true});
	assert_true(has(T.negotiated, VIRTIO_RING_F_EVENT_IDX));
	id = dt_buf(&T, 20, 0);
	/* used_event 0: the first completion (used 0 -> 1) interrupts. */
	vcore_irq_take(&T.core);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(1), 1);
	/* The device asks for a kick at the next entry. */
	assert_int_equal(vdrv_avail_event(q), q->avail_idx);

	/* used_event = 2: no interrupt for used 1 -> 2, one for 2 -> 3. */
	vdrv_set_used_event(q, 2);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(2), 0);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(3), 1);
	/* used_event behind: never again until it moves. */
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(4), 0);
	vdrv_set_used_event(q, vdrv_used_idx(q));
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(5), 1);
	assert_int_equal(vdrv_avail_event(q), q->avail_idx);
}

static void test_no_event_idx(void **state)
{
	struct vdrv_queue *q = &T.q[0];
	uint64_t id;
	uint32_t len;

	(void)state;
	start(&(struct dt_opts){.drop = 1ULL << VIRTIO_RING_F_EVENT_IDX, .stats = true});
	assert_false(has(T.negotiated, VIRTIO_RING_F_EVENT_IDX));
	id = dt_buf(&T, 20, 0);
	vcore_irq_take(&T.core);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(1), 1);
	vdrv_avail_set_flags(q, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(2), 0);
	vdrv_avail_set_flags(q, 0);
	assert_int_equal(dt_request(&T, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), 0);
	assert_int_equal(irqs_after(3), 1);
	/* The ISR bit for the core's InterruptStatus read is set. */
	assert_true(__atomic_load_n(&T.core.shared->isr, __ATOMIC_ACQUIRE) & DEVPROC_ISR_QUEUE);
}

static void test_indirect(void **state)
{
	uint64_t w, r, st;
	uint32_t id, len;
	uint16_t head;

	(void)state;
	start(&(struct dt_opts){0});
	assert_true(has(T.negotiated, VIRTIO_RING_F_INDIRECT_DESC));
	w = dt_buf(&T, 1024, 0x61);
	st = dt_status(&T);
	head = dt_post(&T, 0,
		       (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_OUT, 200), 16, false},
					   {w, 512, false},
					   {w + 512, 512, false},
					   {st, 1, true}},
		       4, true);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_OK);

	r = dt_buf(&T, 1024, 0);
	st = dt_status(&T);
	head = dt_post(&T, 0,
		       (struct vdrv_buf[]){{dt_hdr(&T, VIRTIO_BLK_T_IN, 200), 16, false},
					   {r, 1024, true},
					   {st, 1, true}},
		       3, true);
	assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 1025);
	assert_int_equal(*(uint8_t *)dt_host(&T, st, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(dt_host(&T, r, 1024), dt_host(&T, w, 1024), 1024);
}

/* Every descriptor of the ring in use at once (indirect: one each). */
static void test_queue_full(void **state)
{
	enum { N = 64 };
	uint64_t data[N], st[N];
	bool seen[N] = {0};

	(void)state;
	start(&(struct dt_opts){.queue_size = N});
	for (uint32_t k = 0; k < N; k++) {
		data[k] = dt_buf(&T, 512, 0);
		st[k] = dt_status(&T);
		vdrv_avail_add(&T.q[0], vdrv_chain_indirect(
						&T.q[0],
						(struct vdrv_buf[]){
							{dt_hdr(&T, VIRTIO_BLK_T_IN, k), 16, false},
							{data[k], 512, true},
							{st[k], 1, true}},
						3));
	}
	vdrv_kick(&T.q[0]);
	for (uint32_t k = 0; k < N; k++) {
		uint32_t id, len;

		assert_int_equal(dt_wait(&T, 0, &id, &len), 1);
		assert_true(id < N && !seen[id]);
		seen[id] = true;
		assert_int_equal(*(uint8_t *)dt_host(&T, st[id], 1), VIRTIO_BLK_S_OK);
		assert_pattern(dt_host(&T, data[id], 512), id, 1);
	}
}

/* More than 65536 requests: avail and used indexes wrap; interrupts still
 * follow used_event around the wrap. */
static void test_index_wrap(void **state)
{
	enum { N = 64, BATCHES = 65536 / N + 4 };
	struct vdrv_queue *q = &T.q[0];
	uint64_t table[N], id[N], st[N], hdr;

	(void)state;
	start(&(struct dt_opts){.queue_size = N, .stats = true});
	hdr = dt_hdr(&T, VIRTIO_BLK_T_GET_ID, 0);
	for (uint32_t k = 0; k < N; k++) {
		id[k] = dt_buf(&T, 20, 0);
		st[k] = dt_status(&T);
		table[k] = vdrv_alloc(&T.mem, 3 * 16, 16);
		vdrv_desc_write(&T.mem, table[k], 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
		vdrv_desc_write(&T.mem, table[k], 1, id[k], 20,
				VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
		vdrv_desc_write(&T.mem, table[k], 2, st[k], 1, VIRTQ_DESC_F_WRITE, 0);
		vdrv_desc_set(q, k, table[k], 48, VIRTQ_DESC_F_INDIRECT, 0);
	}
	for (uint32_t b = 0; b < BATCHES; b++) {
		uint16_t old = vdrv_used_idx(q);
		/* Near the wrap: ask for the interrupt inside or outside this
		 * batch's range; elsewhere always inside (fast). */
		bool near = b >= 65536 / N - 3, want = !near || b % 2 == 0;
		uint16_t event =
			want ? (uint16_t)(old + (near ? N - 1 - b % 7 : 0)) : (uint16_t)(old - 3);

		/* No interrupt left over from the batch before. */
		assert_int_equal(vcore_irq_take(&T.core), 0);
		vdrv_set_used_event(q, event);
		for (uint32_t k = 0; k < N; k++) {
			*(uint8_t *)dt_host(&T, st[k], 1) = 0xee;
			vdrv_avail_add(q, (uint16_t)k);
		}
		vdrv_kick(q);
		for (uint32_t k = 0; k < N; k++) {
			uint32_t uid, len;

			assert_int_equal(dt_wait(&T, 0, &uid, &len), 1);
			assert_true(uid < N);
			assert_int_equal(len, 21);
		}
		for (uint32_t k = 0; k < N; k++)
			assert_int_equal(*(uint8_t *)dt_host(&T, st[k], 1), VIRTIO_BLK_S_OK);
		/* One interrupt when used_event lies in the batch's range,
		 * none when it does not, however the device split the batch. */
		assert_int_equal(irqs_after((uint64_t)(b + 1) * N), want ? 1 : 0);
	}
	assert_int_equal(vdrv_used_idx(q), (uint16_t)(BATCHES * N));
	assert_int_equal(vdrv_avail_event(q), (uint16_t)(BATCHES * N));
}

/* Reset with reads in flight: ResetDone comes, nothing is written into the
 * old rings afterwards, and the device serves a new driver. */
static void test_reset_inflight(void **state)
{
	enum { N = 32, LEN = 256 * 1024 };
	struct vdrv_queue *q = &T.q[0], old;
	uint16_t used;

	(void)state;
	/* O_DIRECT: the reads go to the disk and are still in flight when the
	 * Reset is handled (page-cache reads would complete at submission). */
	start(&(struct dt_opts){.queue_size = 128, .sectors = 16384, .direct = true});
	for (uint32_t k = 0; k < N; k++) {
		uint64_t data = vdrv_alloc(&T.mem, LEN, 4096);
		vdrv_avail_add(q,
			       vdrv_chain(q,
					  (struct vdrv_buf[]){
						  {dt_hdr(&T, VIRTIO_BLK_T_IN, k * 128), 16, false},
						  {data, LEN, true},
						  {dt_status(&T), 1, true}},
					  3));
	}
	vdrv_kick(q);
	assert_int_equal(vcore_reset(&T.core, DT_TIMEOUT_MS), 0);
	/* dt_recover() sets q up on fresh rings; the old ones stay in RAM. */
	old = *q;
	used = vdrv_used_idx(&old);
	assert_true(vcore_alive(&T.core));
	T.core.needs_reset = 0;
	assert_int_equal(dt_recover(&T), 0);
	assert_true(dt_healthy(&T));
	/* Afterwards means until the device is gone: once it has exited
	 * (cleanly, its link closed) nothing can write any more. */
	assert_int_equal(vcore_stop(&T.core), 0);
	assert_int_equal(vdrv_used_idx(&old), used);
	(void)dt_stop(&T); /* the image and RAM; the device's status was taken */
}

/* TMPFS_DIR is a tmpfs this process may write to. */
static bool tmpfs_usable(void)
{
	struct statfs sf;

	return statfs(TMPFS_DIR, &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
	       access(TMPFS_DIR, W_OK) == 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tmpfs_tests[] = {
		cmocka_unit_test_teardown(test_write_zeroes_tmpfs, teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_config_and_features, teardown),
		cmocka_unit_test_teardown(test_read, teardown),
		cmocka_unit_test_teardown(test_write, teardown),
		cmocka_unit_test_teardown(test_layouts, teardown),
		cmocka_unit_test_teardown(test_flush, teardown),
		cmocka_unit_test_teardown(test_discard, teardown),
		cmocka_unit_test_teardown(test_write_zeroes, teardown),
		cmocka_unit_test_teardown(test_get_id, teardown),
		cmocka_unit_test_teardown(test_get_id_short_serial, teardown),
		cmocka_unit_test_teardown(test_unsupported_types, teardown),
		cmocka_unit_test_teardown(test_readonly, teardown),
		cmocka_unit_test_teardown(test_multiqueue, teardown),
		cmocka_unit_test_teardown(test_event_idx, teardown),
		cmocka_unit_test_teardown(test_no_event_idx, teardown),
		cmocka_unit_test_teardown(test_indirect, teardown),
		cmocka_unit_test_teardown(test_queue_full, teardown),
		cmocka_unit_test_teardown(test_index_wrap, teardown),
		cmocka_unit_test_teardown(test_reset_inflight, teardown),
	};

	dt_require();
	if (argc > 1 && strcmp(argv[1], "tmpfs") == 0) {
		/* Decided before the group runs: cmocka's skip() would show as a pass. */
		if (!tmpfs_usable()) {
			fprintf(stderr, "SKIP: %s is not a writable tmpfs\n", TMPFS_DIR);
			return 77;
		}
		return cmocka_run_group_tests_name("test_dev_blk_tmpfs", tmpfs_tests, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
