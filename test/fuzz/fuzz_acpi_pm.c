/* libFuzzer target: input bytes are a guest's accesses to the ACPI PM block
 * and reset register (vmm-core/acpi_pm.c; untrusted), and power button
 * presses. The first byte picks the mode (bit 0: no_acpi); then 6 bytes per
 * step: op (bits 0-1: size 1, 2, 4 or 8; bit 2: write; bit 3: press the power
 * button instead), port (0x5fc + byte % 20, or 0xcf9 for 0xff), 4 bytes of
 * value. Checks besides the sanitizers: the SCI line always equals
 * (PM1_STS & PM1_EN) of the SCI events, the callback saw every change, only
 * the defined bits are ever set, SCI_EN reads 1, and a power-off or reset is
 * reported exactly for the bytes that ask for it.
 *
 * Built with -DFUZZ_SEEDGEN, it writes the seed corpus instead (ACPICA's
 * start, the power button, S5): fuzz_acpi_pm_seedgen DIR. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/fuzz/fuzz_check.h"
#include "test/fuzz/fuzz_seedfile.h"
#include "vmm-core/acpi.h"
#include "vmm-core/acpi_pm.h"

#define FZ_STEP 6

#ifndef FUZZ_SEEDGEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_sci {
	int level, changes;
};

static void fz_set_sci(void *opaque, int level)
{
	struct fz_sci *s = opaque;

	CHECK(level != s->level); /* only changes are reported */
	s->level = level;
	s->changes++;
}

/* What a write of these bytes must ask for. */
static enum acpi_pm_action fz_expect(bool acpi, uint16_t port, const uint8_t *d, uint32_t size)
{
	enum acpi_pm_action a = ACPI_PM_NONE;

	if (!acpi) {
		if (port == ACPI_PM1_CNT && size == 2 && (d[1] & 0x20))
			a = ACPI_PM_POWER_OFF;
		if (port == ACPI_PM1_CNT + 1 && size == 1 && (d[0] & 0x20))
			a = ACPI_PM_POWER_OFF;
		return a;
	}
	if (port == ACPI_RESET_PORT)
		return size == 1 && (d[0] == 0x06 || d[0] == 0x0e) ? ACPI_PM_RESET : ACPI_PM_NONE;
	for (uint32_t i = 0; i < size; i++)
		if (port + i == ACPI_PM1_CNT + 1 && (d[i] & 0x20) && ((d[i] >> 2) & 7) == 0)
			a = ACPI_PM_POWER_OFF;
	return a;
}

static bool fz_claimed(bool acpi, uint16_t port, uint32_t size)
{
	if (size > 4)
		return false;
	if (!acpi)
		return (port == ACPI_PM1_CNT && size == 2) ||
		       (port == ACPI_PM1_CNT + 1 && size == 1);
	if (port == ACPI_RESET_PORT && size == 1)
		return true;
	return port + size > ACPI_PM_BASE && port < ACPI_PM_BASE + ACPI_PM_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_sci sci = {0};
	struct acpi_pm pm;
	bool acpi;

	if (size < 1)
		return 0;
	acpi = !(data[0] & 1);
	acpi_pm_init(&pm, acpi, fz_set_sci, &sci);
	for (size_t i = 1; i + FZ_STEP <= size; i += FZ_STEP) {
		const uint8_t *s = data + i;
		uint32_t n = 1U << (s[0] & 3);
		bool is_write = s[0] & 4, claimed;
		uint16_t port = s[1] == 0xff ? ACPI_RESET_PORT : (uint16_t)(0x5fc + s[1] % 20);
		uint8_t d[8] = {0};
		enum acpi_pm_action a, want;

		if (s[0] & 8) {
			bool listens = acpi_pm_power_button(&pm);
			CHECK(listens == (acpi && (pm.en & ACPI_PM1_PWRBTN_EN)));
		} else {
			memcpy(d, s + 2, 4);
			want = is_write ? fz_expect(acpi, port, d, n) : ACPI_PM_NONE;
			claimed = acpi_pm_pio(&pm, port, d, n, is_write, &a);
			CHECK(claimed == fz_claimed(acpi, port, n));
			if (claimed)
				CHECK(a == want);
			else
				CHECK(a == ACPI_PM_NONE);
			/* SCI_EN reads 1 wherever the read covers 0x604. */
			if (acpi && claimed && !is_write && port <= ACPI_PM1_CNT &&
			    port + n > ACPI_PM1_CNT && port != ACPI_RESET_PORT)
				CHECK(d[ACPI_PM1_CNT - port] & 1);
		}
		CHECK((pm.sts & ~(ACPI_PM1_PWRBTN_STS)) == 0);
		CHECK((pm.en & ~0x0721U) == 0);
		CHECK(pm.slp_typ <= 7);
		CHECK(pm.sci_level == (acpi && (pm.sts & pm.en & ACPI_PM1_PWRBTN_STS)));
		CHECK(sci.level == pm.sci_level);
	}
	acpi_pm_destroy(&pm);
	return 0;
}

#else /* FUZZ_SEEDGEN */

struct seq {
	uint8_t b[1024];
	size_t n;
};

static void step(struct seq *s, uint8_t op, uint16_t port, uint32_t v)
{
	if (s->n + FZ_STEP > sizeof(s->b)) {
		fprintf(stderr, "seed too long\n");
		exit(1);
	}
	s->b[s->n++] = op;
	s->b[s->n++] = port == ACPI_RESET_PORT ? 0xff : (uint8_t)(port - 0x5fc);
	for (int i = 0; i < 4; i++)
		s->b[s->n++] = (uint8_t)(v >> (8 * i));
}

/* op: size code 0/1/2 = 1/2/4 bytes, | 4 for a write */
static void wr16(struct seq *s, uint16_t port, uint32_t v)
{
	step(s, 1 | 4, port, v);
}

static void rd16(struct seq *s, uint16_t port)
{
	step(s, 1, port, 0);
}

static void emit(const char *dir, const char *name, struct seq *s)
{
	fuzz_seed_write(dir, name, s->b, s->n);
	s->n = 0;
}

int main(int argc, char **argv)
{
	static struct seq s;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* ACPICA's start: SCI_EN, clear and disable every event, enable the
	 * global lock and the power button, read the PM timer. */
	s.b[s.n++] = 0;
	rd16(&s, ACPI_PM1_CNT);
	wr16(&s, ACPI_PM_BASE + 2, 0);
	wr16(&s, ACPI_PM_BASE, 0xffff);
	wr16(&s, ACPI_PM_BASE + 2, ACPI_PM1_GBL_EN);
	rd16(&s, ACPI_PM_BASE + 2);
	wr16(&s, ACPI_PM_BASE + 2, ACPI_PM1_GBL_EN | ACPI_PM1_PWRBTN_EN);
	step(&s, 2, ACPI_PM_TMR, 0);
	step(&s, 2, ACPI_PM_TMR, 0);
	emit(argv[1], "acpica_start", &s);

	/* A press, the SCI handler's read and clear, then S5 as Linux writes
	 * it (SLP_TYP, then SLP_TYP | SLP_EN). */
	s.b[s.n++] = 0;
	wr16(&s, ACPI_PM_BASE + 2, ACPI_PM1_PWRBTN_EN);
	step(&s, 8, ACPI_PM_BASE, 0);
	rd16(&s, ACPI_PM_BASE);
	rd16(&s, ACPI_PM_BASE + 2);
	wr16(&s, ACPI_PM_BASE, ACPI_PM1_PWRBTN_STS);
	wr16(&s, ACPI_PM1_CNT, 1);
	wr16(&s, ACPI_PM1_CNT, 1 | ACPI_PM1_SLP_EN);
	emit(argv[1], "power_button_s5", &s);

	/* The reset register, and the old power-off byte without ACPI. */
	s.b[s.n++] = 0;
	step(&s, 4, ACPI_RESET_PORT, 0x02);
	step(&s, 4, ACPI_RESET_PORT, 0x06);
	emit(argv[1], "reset", &s);
	s.b[s.n++] = 1;
	rd16(&s, ACPI_PM1_CNT);
	step(&s, 4, ACPI_PM1_CNT + 1, 0x20);
	wr16(&s, ACPI_PM1_CNT, ACPI_PM1_SLP_EN);
	emit(argv[1], "no_acpi_poweroff", &s);
	return 0;
}

#endif /* FUZZ_SEEDGEN */
