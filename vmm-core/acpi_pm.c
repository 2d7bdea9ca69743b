/* ACPI PM block, reset register and SCI; see acpi_pm.h. Register layout as
 * the FADT built by acpi.c declares it (ACPI 6.5 section 4.8). Accesses are
 * taken byte by byte, so any size at any offset means the same thing as the
 * same bytes written one at a time: SLP_TYP and SLP_EN share the high byte
 * of PM1_CNT, so a byte write of it is a whole sleep request.
 *
 * Sleep states: only S5 (SLP_TYP 0, as \_S5 says) does anything; SLP_EN
 * with another SLP_TYP is ignored (the DSDT declares no other state). The
 * PM timer's overflow (TMR_STS) is never set: no timer thread runs for it,
 * and Linux does not enable that event. */
#include "vmm-core/acpi_pm.h"
#include "vmm-core/acpi.h"

#include <string.h>
#include <time.h>

void acpi_pm_init(struct acpi_pm *pm, bool acpi, void (*set_sci)(void *opaque, int level),
		  void *opaque)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	pm->acpi = acpi;
	pm->set_sci = set_sci;
	pm->opaque = opaque;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

/* SCI_EN is always on: the SCI is the status bits the guest enabled. Lock
 * held. */
static void acpi_pm_update_sci(struct acpi_pm *pm)
{
	int level = pm->acpi && (pm->sts & pm->en & (ACPI_PM1_PWRBTN_STS | ACPI_PM1_TMR_STS));

	if (level != pm->sci_level) {
		pm->sci_level = level;
		if (pm->set_sci)
			pm->set_sci(pm->opaque, level);
	}
}

static uint32_t acpi_pm_timer(void)
{
	struct timespec ts;
	unsigned __int128 ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (unsigned __int128)ts.tv_sec * 1000000000U + (uint64_t)ts.tv_nsec;
	return (uint32_t)(ns * ACPI_PM_TIMER_HZ / 1000000000U);
}

/* One byte at port p of the ACPI block; false when p has no register. */
static bool acpi_pm_read_byte(struct acpi_pm *pm, uint16_t p, uint32_t tmr, uint8_t *v)
{
	switch (p) {
	case ACPI_PM_BASE:
	case ACPI_PM_BASE + 1: *v = (uint8_t)(pm->sts >> (8 * (p - ACPI_PM_BASE))); return true;
	case ACPI_PM_BASE + 2:
	case ACPI_PM_BASE + 3: *v = (uint8_t)(pm->en >> (8 * (p - ACPI_PM_BASE - 2))); return true;
	case ACPI_PM1_CNT: *v = ACPI_PM1_SCI_EN; return true;
	case ACPI_PM1_CNT + 1: *v = (uint8_t)(pm->slp_typ << 2); return true;
	case ACPI_PM_TMR:
	case ACPI_PM_TMR + 1:
	case ACPI_PM_TMR + 2:
	case ACPI_PM_TMR + 3: *v = (uint8_t)(tmr >> (8 * (p - ACPI_PM_TMR))); return true;
	}
	return false;
}

static enum acpi_pm_action acpi_pm_write_byte(struct acpi_pm *pm, uint16_t p, uint8_t v)
{
	const uint16_t sts_mask = ACPI_PM1_TMR_STS | ACPI_PM1_PWRBTN_STS | ACPI_PM1_WAK_STS;
	/* Every enable bit of PM1_EN is kept (ACPICA reads back what it
	 * enables: the global lock's GBL_EN at start, RTC_EN for an alarm),
	 * though only the power button's status is ever set. */
	const uint16_t en_mask = ACPI_PM1_TMR_EN | ACPI_PM1_GBL_EN | ACPI_PM1_PWRBTN_EN |
				 ACPI_PM1_SLPBTN_EN | ACPI_PM1_RTC_EN;

	switch (p) {
	case ACPI_PM_BASE:
	case ACPI_PM_BASE + 1:
		/* Write 1 to clear. */
		pm->sts &= (uint16_t) ~((v << (8 * (p - ACPI_PM_BASE))) & sts_mask);
		break;
	case ACPI_PM_BASE + 2:
	case ACPI_PM_BASE + 3: {
		unsigned sh = 8 * (p - ACPI_PM_BASE - 2);
		pm->en = (uint16_t)((pm->en & ~(0xffU << sh)) | ((unsigned)v << sh));
		pm->en &= en_mask;
		break;
	}
	case ACPI_PM1_CNT + 1:
		/* SLP_TYP (bits 10-12) and SLP_EN (bit 13) in one byte. */
		pm->slp_typ = (uint16_t)((v >> 2) & 7);
		if ((v << 8) & ACPI_PM1_SLP_EN && pm->slp_typ == ACPI_S5_SLP_TYP)
			return ACPI_PM_POWER_OFF;
		break;
	default: break; /* SCI_EN and the timer are read-only */
	}
	return ACPI_PM_NONE;
}

/* CoreSetup.no_acpi: the power-off port as before ACPI. */
static bool acpi_pm_legacy(uint16_t port, uint8_t *data, uint32_t size, bool is_write,
			   enum acpi_pm_action *ret_action)
{
	uint16_t v = 0;

	if (!((port == ACPI_PM1_CNT && size == 2) || (port == ACPI_PM1_CNT + 1 && size == 1)))
		return false;
	if (!is_write) {
		memset(data, 0, size);
		return true;
	}
	v = size == 2 ? (uint16_t)(data[0] | data[1] << 8) : (uint16_t)(data[0] << 8);
	if (v & ACPI_PM1_SLP_EN)
		*ret_action = ACPI_PM_POWER_OFF;
	return true;
}

bool acpi_pm_pio(struct acpi_pm *pm, uint16_t port, uint8_t *data, uint32_t size, bool is_write,
		 enum acpi_pm_action *ret_action)
{
	uint32_t tmr;

	/* UNTRUSTED(guest): any port, size 1, 2 or 4 (KVM gives no other). */
	*ret_action = ACPI_PM_NONE;
	if (size == 0 || size > 4)
		return false;
	if (!pm->acpi)
		return acpi_pm_legacy(port, data, size, is_write, ret_action);
	if (port == ACPI_RESET_PORT && size == 1) {
		/* Bit 2 (reset) with bit 1 (hard); bit 3 (full) may come too. */
		if (is_write && (data[0] == 0x06 || data[0] == 0x0e))
			*ret_action = ACPI_PM_RESET;
		else if (!is_write)
			data[0] = 0;
		return true;
	}
	if (port + size <= ACPI_PM_BASE || port >= ACPI_PM_BASE + ACPI_PM_LEN)
		return false;
	tmr = is_write ? 0 : acpi_pm_timer();
	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < size; i++) {
		uint16_t p = (uint16_t)(port + i);
		if (!is_write) {
			if (!acpi_pm_read_byte(pm, p, tmr, &data[i]))
				data[i] = 0xff;
		} else {
			enum acpi_pm_action a = acpi_pm_write_byte(pm, p, data[i]);
			if (a != ACPI_PM_NONE)
				*ret_action = a;
		}
	}
	if (is_write)
		acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return true;
}

bool acpi_pm_power_button(struct acpi_pm *pm)
{
	bool listens;

	if (!pm->acpi)
		return false;
	pthread_mutex_lock(&pm->lock);
	pm->sts |= ACPI_PM1_PWRBTN_STS;
	acpi_pm_update_sci(pm);
	listens = pm->en & ACPI_PM1_PWRBTN_EN;
	pthread_mutex_unlock(&pm->lock);
	return listens;
}
