/* MC146818 RTC and CMOS RAM at ports 0x70 (index) and 0x71 (data): the
 * guest's wall clock and the memory-size bytes SeaBIOS and OVMF read, set
 * as QEMU's pc_cmos_init sets them. Runs in cellvm-core (vCPU threads, one
 * mutex); the port accesses are untrusted (guest).
 *
 * - Index: bit 7 (NMI disable on real hardware) is ignored; 128 bytes.
 *   Reads of port 0x70 return 0xff, as QEMU.
 * - Time and date (0x00, 0x02, 0x04, 0x06-0x09, century 0x32) are the host's
 *   CLOCK_REALTIME in UTC plus an offset the guest may set, made at each
 *   read, in BCD or binary (register B bit 2) and 24- or 12-hour form (bit
 *   1; 12-hour: bit 7 of the hour is PM). The guest sets the clock by
 *   writing the registers: with SET (B bit 7) on, the clock is frozen and
 *   the registers are plain bytes, taken as the new time when SET goes
 *   off; with SET off, each write takes effect at once. A time that does not
 *   decode (month 13, minute 60, a bad BCD digit...) is dropped and the
 *   clock keeps its offset.
 * - Register A: the divider and rate bits are stored; UIP (bit 7) always
 *   reads 0: the registers are made at each read, never mid-update, so a
 *   guest's wait for UIP to clear ends at once.
 * - Register B: stored as written (the interrupt enables too, though no
 *   interrupt is ever raised). Register C: UF (bit 4) when the second has
 *   changed since C was last read, cleared by the read; no other flag.
 *   Register D: 0x80 (valid RAM and time), read-only.
 * - No RTC interrupt (IRQ 8): no periodic, alarm or update-ended interrupts.
 *   SeaBIOS and OVMF do not need it, Linux uses the PIT, HPET or LAPIC.
 * - The rest (0x0e-0x7f, the alarm registers too) is plain RAM the guest
 *   may rewrite; the memory bytes are set at init. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/gmem.h"

#define CMOS_PORT_INDEX 0x70
#define CMOS_PORT_DATA	0x71

#define CMOS_SECONDS	0x00
#define CMOS_MINUTES	0x02
#define CMOS_HOURS	0x04
#define CMOS_WEEKDAY	0x06
#define CMOS_DAY	0x07
#define CMOS_MONTH	0x08
#define CMOS_YEAR	0x09
#define CMOS_REG_A	0x0a
#define CMOS_REG_B	0x0b
#define CMOS_REG_C	0x0c
#define CMOS_REG_D	0x0d
#define CMOS_EQUIPMENT	0x14
#define CMOS_BASE_LO	0x15 /* base memory in KiB (640) */
#define CMOS_EXT_LO	0x17 /* memory 1 MiB-65 MiB in KiB, also at 0x30 */
#define CMOS_CHECKSUM	0x2e /* sum of 0x10-0x2d, big-endian */
#define CMOS_EXT2_LO	0x30
#define CMOS_CENTURY	0x32
#define CMOS_MEM16M_LO	0x34 /* memory 16 MiB-4 GiB in 64 KiB units */
#define CMOS_BOOTFLAG1	0x38
#define CMOS_BOOTFLAG2	0x3d
#define CMOS_MEM4G_LO	0x5b /* memory above 4 GiB in 64 KiB units, 3 bytes */
#define CMOS_NCPUS_LESS 0x5f /* number of CPUs - 1 */

#define CMOS_B_SET    0x80
#define CMOS_B_BINARY 0x04
#define CMOS_B_24H    0x02
#define CMOS_C_UF     0x10

struct cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset;	    /* guest clock minus host UTC, seconds */
	int64_t c_read_sec; /* guest second at the last read of C */
};

/* Set up for guest RAM layout mem (only its sizes are read) and ncpus vCPUs. */
void cmos_init(struct cmos *c, const struct gmem *mem, uint32_t ncpus);
void cmos_destroy(struct cmos *c);
/* A one-byte access to port 0x70 or 0x71. Returns false for other ports. */
bool cmos_pio(struct cmos *c, uint16_t port, uint8_t *data, bool is_write);
