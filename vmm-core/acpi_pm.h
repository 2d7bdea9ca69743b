/* The ACPI fixed hardware of cellvm-core: the PM1a event and control
 * registers and the PM timer at 0x600-0x60b, the reset register at 0xcf9,
 * the power button and the SCI (IRQ 9). Without ACPI (CoreSetup.no_acpi)
 * only the old power-off port remains: a 16-bit write with SLP_EN to 0x604,
 * or a byte with bit 5 to 0x605. Every access is guest input (any size, any
 * offset); vCPU threads and the main thread (power button) share it under
 * its lock. Runs in cellvm-core. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ACPI_PM1_TMR_STS    (1U << 0)
#define ACPI_PM1_PWRBTN_STS (1U << 8)
#define ACPI_PM1_WAK_STS    (1U << 15)
#define ACPI_PM1_TMR_EN	    (1U << 0)
#define ACPI_PM1_GBL_EN	    (1U << 5)
#define ACPI_PM1_PWRBTN_EN  (1U << 8)
#define ACPI_PM1_SLPBTN_EN  (1U << 9)
#define ACPI_PM1_RTC_EN	    (1U << 10)
#define ACPI_PM1_SCI_EN	    (1U << 0)
#define ACPI_PM1_SLP_TYP(v) (((v) >> 10) & 7U)
#define ACPI_PM1_SLP_EN	    (1U << 13)
#define ACPI_PM_TIMER_HZ    3579545ULL

/* What a guest access asks of the VM. */
enum acpi_pm_action {
	ACPI_PM_NONE,
	ACPI_PM_POWER_OFF, /* SLP_EN with SLP_TYP of S5 */
	ACPI_PM_RESET,	   /* 0x06 or 0x0e to the reset register */
};

struct acpi_pm {
	pthread_mutex_t lock;
	bool acpi; /* false: the power-off port only */
	uint16_t sts, en, slp_typ;
	int sci_level; /* as last set */
	/* Sets the SCI line (IRQ 9); called with the lock held. */
	void (*set_sci)(void *opaque, int level);
	void *opaque;
};

void acpi_pm_init(struct acpi_pm *pm, bool acpi, void (*set_sci)(void *opaque, int level),
		  void *opaque);
void acpi_pm_destroy(struct acpi_pm *pm);

/* A port access of size 1, 2 or 4 (vCPU thread). Returns false when no byte
 * of it is ours; else the access is done (reads of bytes with no register
 * give all ones, as unclaimed ports do) and *ret_action says what the VM
 * must do. */
bool acpi_pm_pio(struct acpi_pm *pm, uint16_t port, uint8_t *data, uint32_t size, bool is_write,
		 enum acpi_pm_action *ret_action);

/* Press the power button: sets PWRBTN_STS (and the SCI if the guest enabled
 * the event). Returns whether the guest listens (ACPI on, PWRBTN_EN set). */
bool acpi_pm_power_button(struct acpi_pm *pm);
