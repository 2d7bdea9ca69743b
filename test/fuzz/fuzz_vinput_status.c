/* libFuzzer target for dev-procs/input/vinput's queues: the input is
 * untrusted guest RAM (the status queue's rings and driver-written status
 * buffers, an event queue beside it) plus the ring parameters. Layout: byte 0
 * queue size as log2 (mod 7: 1..64), byte 1 the device kind (mod 4), bytes
 * 2-3 the starting avail and used index of both queues (little-endian, to
 * reach the 16-bit wrap), byte 4 the kicks of each queue (low nibble status,
 * high nibble event), byte 5 key presses queued before the event kicks; the
 * rest is copied to guest RAM at 0 (status queue: descriptors at 0, avail at
 * 0x1000, used at 0x2000; event queue: 0x3000, 0x3400, 0x3800; buffers
 * anywhere). Checks besides the sanitizers: every status buffer taken is
 * returned, empty, and counted once; no kick takes more than the ring
 * holds; LEDs only on a keyboard; every event buffer taken is returned,
 * holding one event or counted as bad; the host-side queue stays bounded. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dev-procs/input/vinput.h"
#include "test/fuzz/fuzz_check.h"

#define RAM_SIZE  GMEM_MIN_SIZE
#define HDR_BYTES 6
#define SQ_DESC	  0x0
#define SQ_AVAIL  0x1000
#define SQ_USED	  0x2000
#define EQ_DESC	  0x3000
#define EQ_AVAIL  0x3400
#define EQ_USED	  0x3800
#define IMAGE_MAX 0x10000 /* bytes of RAM an input can set */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct gmem mem;
static struct devproc dp;
static struct vinput v;
static uint64_t notified;

/* The frame's calls, without a core: the device's answers are checked
 * through the rings and the model's counters. */
void devproc_notify(struct devproc *d, const struct devproc_queue *q)
{
	(void)d;
	(void)q;
	notified++;
}

void devproc_needs_reset(struct devproc *d, const char *reason)
{
	CHECK(reason != NULL);
	d->needs_reset = true;
}

static uint16_t used_idx(uint64_t used)
{
	return (uint16_t)(ram[used + 2] | ram[used + 3] << 8);
}

static void fuzz_status_kick(void)
{
	const struct vinput_counts before = v.count;
	const uint8_t leds = v.leds;
	uint16_t used = v.stq.used_idx, taken = v.stq.last_avail;
	uint64_t n;

	vinput_kick(&dp, &dp.queues[1], &v);
	n = (uint16_t)(v.stq.used_idx - used);
	CHECK((uint16_t)(v.stq.last_avail - taken) == n); /* all taken, all returned */
	CHECK(n <= v.stq.size);
	if (n)
		CHECK(used_idx(SQ_USED) == v.stq.used_idx);
	for (uint16_t i = used; i != v.stq.used_idx; i++)
		CHECK(ram[SQ_USED + 4 + 8 * (i % v.stq.size) + 4] == 0); /* len 0 */
	CHECK(v.count.leds + v.count.status_ignored + v.count.bad_status -
		      (before.leds + before.status_ignored + before.bad_status) ==
	      n);
	CHECK(v.count.delivered == before.delivered);
	CHECK(v.leds <= 7);
	if (v.kind != VINPUT_KEYBOARD)
		CHECK(v.leds == 0 && v.count.leds == 0);
	if (v.count.leds == before.leds)
		CHECK(v.leds == leds);
}

static void fuzz_event_kick(void)
{
	const uint64_t consumed = v.consumed, bad = v.count.bad_event_bufs;
	uint16_t used = v.evq.used_idx, taken = v.evq.last_avail;
	uint64_t n;

	vinput_kick(&dp, &dp.queues[0], &v);
	n = (uint16_t)(v.evq.used_idx - used);
	CHECK((uint16_t)(v.evq.last_avail - taken) == n);
	CHECK(n <= v.evq.size);
	CHECK(v.consumed - consumed + v.count.bad_event_bufs - bad == n);
	CHECK(v.consumed <= v.posted);
	CHECK(v.posted - v.consumed <= VINPUT_QUEUE_EVENTS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct devproc_queue base = {.kick_fd = -1, .irq_fd = -1, .enabled = true};
	uint32_t qsize;
	uint16_t start;

	if (size < HDR_BYTES)
		return 0;
	if (!ram) {
		ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		if (ram == MAP_FAILED || gmem_init(&mem, ram, RAM_SIZE) < 0)
			abort();
	}
	/* Event buffers may lie anywhere in RAM: every run starts from zeroes
	 * (only the pages touched cost anything). */
	if (madvise(ram, RAM_SIZE, MADV_DONTNEED) < 0)
		abort();
	memcpy(ram, data + HDR_BYTES, size - HDR_BYTES < IMAGE_MAX ? size - HDR_BYTES : IMAGE_MAX);

	qsize = 1U << (data[0] % 7);
	start = (uint16_t)(data[2] | data[3] << 8);
	memset(&dp, 0, sizeof(dp));
	dp.mem = mem;
	dp.irq_fd = dp.link_fd = dp.ctl_fd = -1;
	dp.features = 1ULL << VIRTIO_F_VERSION_1;
	dp.num_queues = 2;
	dp.queues[0] = base;
	dp.queues[0].size = qsize;
	dp.queues[0].desc = EQ_DESC;
	dp.queues[0].avail = EQ_AVAIL;
	dp.queues[0].used = EQ_USED;
	dp.queues[1] = base;
	dp.queues[1].index = 1;
	dp.queues[1].size = qsize;
	dp.queues[1].desc = SQ_DESC;
	dp.queues[1].avail = SQ_AVAIL;
	dp.queues[1].used = SQ_USED;
	vinput_init(&v, (enum vinput_kind)(data[1] % 4), NULL);
	CHECK(vinput_activate(&v, &dp) == 0);
	v.stq.last_avail = v.stq.avail_seen = v.stq.used_idx = v.stq.signalled_used = start;
	v.evq.last_avail = v.evq.avail_seen = v.evq.used_idx = v.evq.signalled_used = start;

	for (uint32_t k = 0; k < (data[4] & 15u) && !dp.needs_reset; k++)
		fuzz_status_kick();
	for (uint32_t i = 0; i < data[5]; i++) {
		struct cellvm_input_event ev = {
			.kind = i % 2 ? CELLVM_INPUT_KEY_UP : CELLVM_INPUT_KEY_DOWN,
			.code = (uint16_t)(KEY_1 + i / 2 % 10),
		};
		int r = vinput_post(&v, &ev);

		CHECK(r == (v.kind == VINPUT_KEYBOARD ? 0 : -EINVAL));
	}
	for (uint32_t k = 0; k < (data[4] >> 4u) && !dp.needs_reset; k++)
		fuzz_event_kick();
	vinput_reset(&v);
	CHECK(!vinput_bound(&v));
	return 0;
}
