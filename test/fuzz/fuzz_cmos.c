/* libFuzzer target: input bytes are a guest's accesses to the MC146818 RTC
 * and CMOS (untrusted), ports 0x70 and 0x71. Encoding, one op at a time:
 *   op & 3 == 0  index write of the next byte (NMI bit and all)
 *   op & 3 == 1  data write of the next byte
 *   op & 3 == 2  (op >> 2) + 1 data reads
 *   op & 3 == 3  index write of op >> 2, then a data write of the next byte
 * Checks besides the sanitizers: with SET off the clock registers always
 * hold a valid time in the format register B asks for (BCD digits, hour
 * 0-23 or 1-12 with the PM bit, day within its month...); UIP never reads
 * set; D reads 0x80; C holds no flag but UF; port 0x70 reads 0xff; other
 * ports are not claimed.
 *
 * Built with -DFUZZ_SEEDGEN, it writes the seed corpus instead (Linux's
 * read and set of the clock, SeaBIOS's memory reads):
 * fuzz_cmos_seedgen DIR. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/fuzz/fuzz_check.h"
#include "test/fuzz/fuzz_seedfile.h"
#include "vmm-core/cmos.h"

#ifndef FUZZ_SEEDGEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_dec(uint8_t b, uint8_t v)
{
	if (b & CMOS_B_BINARY)
		return v;
	CHECK((v & 0x0f) <= 9 && (v >> 4) <= 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t fz_get(struct cmos *c, uint8_t i)
{
	uint8_t v = i;

	CHECK(cmos_pio(c, CMOS_PORT_INDEX, &v, true));
	CHECK(cmos_pio(c, CMOS_PORT_DATA, &v, false));
	return v;
}

/* The clock as the guest reads it is a valid time. */
static void fz_check_clock(struct cmos *c, uint8_t index)
{
	uint8_t b = c->ram[CMOS_REG_B], h;
	int mo, d, y, cy;
	static const int dm[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (b & CMOS_B_SET)
		return;
	CHECK(fz_dec(b, fz_get(c, CMOS_SECONDS)) <= 59);
	CHECK(fz_dec(b, fz_get(c, CMOS_MINUTES)) <= 59);
	h = fz_get(c, CMOS_HOURS);
	if (b & CMOS_B_24H) {
		CHECK(fz_dec(b, h) <= 23);
	} else {
		int h12 = fz_dec(b, h & 0x7f);
		CHECK(h12 >= 1 && h12 <= 12);
	}
	d = fz_dec(b, fz_get(c, CMOS_WEEKDAY));
	CHECK(d >= 1 && d <= 7);
	mo = fz_dec(b, fz_get(c, CMOS_MONTH));
	CHECK(mo >= 1 && mo <= 12);
	d = fz_dec(b, fz_get(c, CMOS_DAY));
	CHECK(d >= 1 && d <= dm[mo - 1]);
	y = fz_dec(b, fz_get(c, CMOS_YEAR));
	cy = fz_dec(b, fz_get(c, CMOS_CENTURY));
	CHECK(y <= 99 && cy <= 99);
	/* Put the guest's index back. */
	CHECK(cmos_pio(c, CMOS_PORT_INDEX, &index, true));
}

static void fz_read(struct cmos *c)
{
	uint8_t i = c->index, v = 0x5a;

	CHECK(cmos_pio(c, CMOS_PORT_DATA, &v, false));
	if (i == CMOS_REG_A)
		CHECK(!(v & 0x80));
	if (i == CMOS_REG_D)
		CHECK(v == 0x80);
	if (i == CMOS_REG_C)
		CHECK((v & ~CMOS_C_UF) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem mem = {.size = 5ULL << 30, .low_size = GMEM_MMIO_HOLE_START};
	struct cmos c;
	size_t i = 0;
	uint8_t v;

	cmos_init(&c, &mem, 4);
	while (i < size) {
		uint8_t op = data[i++];
		uint8_t x = i < size ? data[i] : 0;

		switch (op & 3) {
		case 0:
			i++;
			CHECK(cmos_pio(&c, CMOS_PORT_INDEX, &x, true));
			CHECK(c.index == (x & 0x7f));
			break;
		case 1:
			i++;
			CHECK(cmos_pio(&c, CMOS_PORT_DATA, &x, true));
			break;
		case 2:
			for (uint32_t k = 0; k <= (uint32_t)(op >> 2); k++)
				fz_read(&c);
			break;
		default:
			i++;
			v = (uint8_t)(op >> 2);
			CHECK(cmos_pio(&c, CMOS_PORT_INDEX, &v, true));
			CHECK(cmos_pio(&c, CMOS_PORT_DATA, &x, true));
			break;
		}
		fz_check_clock(&c, c.index);
	}
	v = 0;
	CHECK(cmos_pio(&c, CMOS_PORT_INDEX, &v, false) && v == 0xff);
	CHECK(!cmos_pio(&c, 0x72, &v, false) && !cmos_pio(&c, 0x6f, &v, true));
	cmos_destroy(&c);
	return 0;
}

#else /* FUZZ_SEEDGEN */

struct seq {
	uint8_t b[1024];
	size_t n;
};

static void put(struct seq *s, uint8_t v)
{
	if (s->n >= sizeof(s->b)) {
		fprintf(stderr, "seed too long\n");
		exit(1);
	}
	s->b[s->n++] = v;
}

static void s_set(struct seq *s, uint8_t reg, uint8_t v)
{
	put(s, (uint8_t)(3 | reg << 2));
	put(s, v);
}

static void s_get(struct seq *s, uint8_t reg)
{
	put(s, 0);
	put(s, reg);
	put(s, 2);
}

static void emit(const char *dir, const char *name, struct seq *s)
{
	fuzz_seed_write(dir, name, s->b, s->n);
	s->n = 0;
}

int main(int argc, char **argv)
{
	static struct seq s;
	static const uint8_t clock_regs[] = {0, 2, 4, 6, 7, 8, 9, 0x32};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* Linux's mc146818_get_time: A (UIP), the clock, B. */
	s_get(&s, CMOS_REG_A);
	for (size_t k = 0; k < sizeof(clock_regs); k++)
		s_get(&s, clock_regs[k]);
	s_get(&s, CMOS_REG_B);
	emit(argv[1], "read", &s);

	/* mc146818_set_time: SET, the registers, SET off; then 12-hour
	 * binary, and C, D. */
	s_set(&s, CMOS_REG_B, CMOS_B_SET | CMOS_B_24H);
	s_set(&s, CMOS_SECONDS, 0x59);
	s_set(&s, CMOS_MINUTES, 0x59);
	s_set(&s, CMOS_HOURS, 0x23);
	s_set(&s, CMOS_DAY, 0x31);
	s_set(&s, CMOS_MONTH, 0x12);
	s_set(&s, CMOS_YEAR, 0x99);
	s_set(&s, CMOS_CENTURY, 0x99);
	s_set(&s, CMOS_REG_B, CMOS_B_24H);
	s_set(&s, CMOS_REG_B, CMOS_B_BINARY);
	s_get(&s, CMOS_HOURS);
	s_get(&s, CMOS_REG_C);
	s_get(&s, CMOS_REG_D);
	emit(argv[1], "set", &s);

	/* SeaBIOS's memory and CPU reads, with the NMI bit set. */
	for (uint8_t r = 0x15; r <= 0x18; r++)
		s_get(&s, (uint8_t)(0x80 | r));
	s_get(&s, 0x34);
	s_get(&s, 0x35);
	s_get(&s, 0x5b);
	s_get(&s, 0x5c);
	s_get(&s, 0x5d);
	s_get(&s, 0x5f);
	emit(argv[1], "memory", &s);
	return 0;
}

#endif /* FUZZ_SEEDGEN */
