/* libFuzzer target: input bytes are a guest's port accesses to the 16550A
 * (untrusted) mixed with host console input. Encoding, one op at a time:
 *   0xF0 | n         host input of (n + 1) * 512 filler bytes (overfills the queue)
 *   0xE0 | n         host input of the next n + 1 input bytes
 *   otherwise op, v  bit 3 write, bits 0-2 register offset, v the value written
 * Checks besides the sanitizers: the IRQ line always matches the registers,
 * the queue stays bounded, every THR byte reaches the console exactly once. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test/fuzz/fuzz_check.h"
#include "vmm-core/serial.h"

struct fuzz_sink {
	int level;
	size_t out_count;
	uint8_t last_out;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_irq(void *opaque, int level)
{
	struct fuzz_sink *k = opaque;

	CHECK(level == 0 || level == 1);
	CHECK(level != k->level); /* edges only */
	k->level = level;
}

static void fuzz_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct fuzz_sink *k = opaque;

	CHECK(len == 1);
	k->out_count += len;
	k->last_out = buf[0];
}

static int fuzz_expected_level(const struct serial *s)
{
	return ((s->ier & 0x01) && s->rx_len) || ((s->ier & 0x02) && s->thr_ipending);
}

static void fuzz_input(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t room = serial_input_room(s), took;

	CHECK(room <= SERIAL_RX_CAP);
	took = serial_input(s, buf, n);
	CHECK(took == (n < room ? n : room));
	CHECK(serial_input_room(s) == room - took);
}

static void fuzz_pio(struct serial *s, struct fuzz_sink *k, uint8_t op, uint8_t v)
{
	uint16_t off = op & 7;
	bool is_write = op & 8;
	bool dlab = s->lcr & 0x80, loop = s->mcr & 0x10;
	uint32_t rx_len = s->rx_len;
	size_t out_before = k->out_count;
	const uint8_t written = v;

	serial_pio(s, off, &v, is_write);
	if (is_write && off == 0 && !dlab && !loop) {
		CHECK(k->out_count == out_before + 1);
		CHECK(k->last_out == written);
	} else {
		CHECK(k->out_count == out_before);
	}
	if (!is_write && off == 5) {
		CHECK((v & 0x60) == 0x60);	   /* transmitter always empty */
		CHECK(!!(v & 1) == (rx_len != 0)); /* data ready iff queued */
	}
	if (!is_write && off == 0 && !dlab && rx_len)
		CHECK(s->rx_len == rx_len - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t filler[16 * 512];
	struct fuzz_sink k = {0};
	struct serial s;
	size_t i = 0;

	serial_init(&s, fuzz_irq, fuzz_out, &k);
	while (i < size) {
		uint8_t op = data[i++];
		if ((op & 0xf0) == 0xf0) {
			size_t n = ((size_t)(op & 0x0f) + 1) * 512;
			memset(filler, op, n);
			fuzz_input(&s, filler, n);
		} else if ((op & 0xf0) == 0xe0) {
			size_t n = (size_t)(op & 0x0f) + 1;
			if (n > size - i)
				n = size - i;
			fuzz_input(&s, data + i, n);
			i += n;
		} else {
			uint8_t v = i < size ? data[i++] : 0;
			fuzz_pio(&s, &k, op, v);
		}
		CHECK(k.level == fuzz_expected_level(&s));
		CHECK(s.rx_len <= SERIAL_RX_CAP && s.rx_head < SERIAL_RX_CAP);
		CHECK(s.line_len < sizeof(s.line));
	}
	serial_destroy(&s);
	return 0;
}
