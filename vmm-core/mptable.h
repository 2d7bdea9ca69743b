/* Intel MP specification 1.4 table: how a guest without ACPI finds its CPUs,
 * the IOAPIC and the ISA interrupt routing. Runs in cellvm-core. */
#pragma once
#include <stdint.h>
#include "vmm-core/gmem.h"

#define MPTABLE_MAX_CPUS 64
#define IOAPIC_ADDR	 0xfec00000U
#define LAPIC_ADDR	 0xfee00000U

/* Write the floating pointer and configuration table at BOOT_EBDA_START for
 * ncpus CPUs (APIC ids 0..ncpus-1, CPU 0 the bootstrap processor).
 * Returns 0 or -EINVAL. */
int mptable_write(struct gmem *mem, uint32_t ncpus);
