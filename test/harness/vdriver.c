/* The guest-driver half of the test harness; see vdriver.h. Runs in test
 * processes: guest RAM is a memfd shared with the device under test, and the
 * rings in it are written the way a virtio 1.2 driver writes them (entry,
 * release fence, index). Hostile tests use the raw setters instead. */
#include "test/harness/vdriver.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void vdrv_die(const char *what)
{
	fprintf(stderr, "vdriver: %s\n", what);
	abort();
}

int vdrv_mem_create(struct vdrv_mem *m, uint64_t size)
{
	void *p;
	int r;

	*m = (struct vdrv_mem){.fd = -1, .size = size, .next = VDRV_ALLOC_START};
	m->fd = launcher_create_memory(size);
	if (m->fd < 0)
		return m->fd;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		close(m->fd);
		m->fd = -1;
		return r;
	}
	r = gmem_init(&m->mem, p, size);
	if (r < 0) {
		munmap(p, size);
		close(m->fd);
		m->fd = -1;
	}
	return r;
}

void vdrv_mem_destroy(struct vdrv_mem *m)
{
	if (m->mem.host)
		munmap(m->mem.host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	*m = (struct vdrv_mem){.fd = -1};
}

uint64_t vdrv_alloc(struct vdrv_mem *m, uint64_t len, uint64_t align)
{
	uint64_t gpa = (m->next + align - 1) & ~(align - 1);

	if (gpa + len > m->mem.low_size || gpa + len < gpa)
		vdrv_die("guest RAM exhausted");
	m->next = gpa + len;
	memset(vdrv_host(m, gpa, len), 0, len);
	return gpa;
}

void *vdrv_host(struct vdrv_mem *m, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(&m->mem, gpa, len ? len : 1);

	if (!p)
		vdrv_die("address outside guest RAM");
	return p;
}

static void vdrv_store16(struct vdrv_mem *m, uint64_t gpa, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)vdrv_host(m, gpa, 2), htole16(v), order);
}

static uint16_t vdrv_load16(struct vdrv_mem *m, uint64_t gpa, int order)
{
	return le16toh(__atomic_load_n((uint16_t *)vdrv_host(m, gpa, 2), order));
}

int vdrv_queue_init(struct vdrv_queue *q, struct vdrv_mem *m, uint32_t index, uint32_t size)
{
	if (size == 0 || size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	*q = (struct vdrv_queue){.m = m, .index = index, .size = size, .kick_fd = -1};
	q->desc = vdrv_alloc(m, VIRTQ_DESC_BYTES(size), 4096);
	q->avail = vdrv_alloc(m, VIRTQ_AVAIL_BYTES(size), 4096);
	q->used = vdrv_alloc(m, VIRTQ_USED_BYTES(size), 4096);
	return 0;
}

void vdrv_desc_write(struct vdrv_mem *m, uint64_t table, uint32_t idx, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	memcpy(vdrv_host(m, table + (uint64_t)idx * sizeof(d), sizeof(d)), &d, sizeof(d));
}

void vdrv_desc_set(struct vdrv_queue *q, uint32_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next)
{
	vdrv_desc_write(q->m, q->desc, idx % q->size, addr, len, flags, next);
}

uint16_t vdrv_chain(struct vdrv_queue *q, const struct vdrv_buf *b, uint32_t n)
{
	uint16_t head = q->next_desc % q->size;

	if (n == 0 || n > q->size)
		vdrv_die("chain length");
	for (uint32_t i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % q->size);
		uint16_t next = (uint16_t)((head + i + 1) % q->size);
		uint16_t flags =
			(b[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		vdrv_desc_set(q, idx, b[i].gpa, b[i].len, flags, i + 1 < n ? next : 0);
	}
	q->next_desc = (uint16_t)((head + n) % q->size);
	return head;
}

uint16_t vdrv_chain_indirect(struct vdrv_queue *q, const struct vdrv_buf *b, uint32_t n)
{
	uint64_t table = vdrv_alloc(q->m, (uint64_t)n * sizeof(struct virtq_desc), 16);
	uint16_t head = q->next_desc % q->size;

	for (uint32_t i = 0; i < n; i++) {
		uint16_t flags =
			(b[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		vdrv_desc_write(q->m, table, i, b[i].gpa, b[i].len, flags,
				(uint16_t)(i + 1 < n ? i + 1 : 0));
	}
	vdrv_desc_set(q, head, table, n * (uint32_t)sizeof(struct virtq_desc),
		      VIRTQ_DESC_F_INDIRECT, 0);
	q->next_desc = (uint16_t)((head + 1) % q->size);
	return head;
}

void vdrv_avail_set_entry(struct vdrv_queue *q, uint16_t slot, uint16_t head)
{
	vdrv_store16(q->m, q->avail + 4 + 2 * (uint64_t)(slot % q->size), head, __ATOMIC_RELAXED);
}

void vdrv_avail_set_idx(struct vdrv_queue *q, uint16_t idx)
{
	/* Release: the entries and descriptors before the index. */
	vdrv_store16(q->m, q->avail + 2, idx, __ATOMIC_RELEASE);
	q->avail_idx = idx;
}

void vdrv_avail_add(struct vdrv_queue *q, uint16_t head)
{
	vdrv_avail_set_entry(q, q->avail_idx, head);
	vdrv_avail_set_idx(q, (uint16_t)(q->avail_idx + 1));
}

void vdrv_avail_set_flags(struct vdrv_queue *q, uint16_t flags)
{
	vdrv_store16(q->m, q->avail, flags, __ATOMIC_RELEASE);
}

void vdrv_set_used_event(struct vdrv_queue *q, uint16_t v)
{
	vdrv_store16(q->m, q->avail + 4 + 2 * (uint64_t)q->size, v, __ATOMIC_RELEASE);
}

uint16_t vdrv_avail_event(struct vdrv_queue *q)
{
	return vdrv_load16(q->m, q->used + 4 + 8 * (uint64_t)q->size, __ATOMIC_ACQUIRE);
}

uint16_t vdrv_used_idx(struct vdrv_queue *q)
{
	return vdrv_load16(q->m, q->used + 2, __ATOMIC_ACQUIRE);
}

int vdrv_kick(struct vdrv_queue *q)
{
	uint64_t one = 1;

	/* The driver's writes must be visible before the notification. */
	atomic_thread_fence(memory_order_seq_cst);
	if (write(q->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int vdrv_used_next(struct vdrv_queue *q, uint32_t *ret_id, uint32_t *ret_len)
{
	const uint8_t *e;

	if (vdrv_used_idx(q) == q->last_used)
		return 0;
	e = vdrv_host(q->m, q->used + 4 + 8 * (uint64_t)(q->last_used % q->size), 8);
	*ret_id = le32toh(__atomic_load_n((const uint32_t *)(const void *)e, __ATOMIC_RELAXED));
	*ret_len =
		le32toh(__atomic_load_n((const uint32_t *)(const void *)(e + 4), __ATOMIC_RELAXED));
	q->last_used++;
	return 1;
}

int vdrv_wait_used(struct vdrv_queue *q, int timeout_ms)
{
	struct timespec start, now, nap = {.tv_nsec = 200 * 1000};

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (vdrv_used_idx(q) != q->last_used)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    timeout_ms)
			return 0;
		nanosleep(&nap, NULL);
	}
}
