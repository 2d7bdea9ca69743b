/* Intel MP specification 1.4 table: how a guest without ACPI finds its CPUs,
 * the IOAPIC and the ISA interrupt routing. Runs in cellvm-core. */
#pragma once
#include <stdint.h>
#include "common/gmem.h"

#define MPTABLE_MAX_CPUS 64
#define IOAPIC_ADDR	 0xfec00000U
#define LAPIC_ADDR	 0xfee00000U

/* MP bus ids: PCI bus 0 must have id 0 (Linux matches PCI interrupt entries
 * by bus number); the ISA bus comes next. */
#define MPTABLE_BUS_PCI 0
#define MPTABLE_BUS_ISA 1

/* Write the floating pointer and configuration table at BOOT_EBDA_START for
 * ncpus CPUs (APIC ids 0..ncpus-1, CPU 0 the bootstrap processor), the ISA
 * interrupts on IOAPIC pins 0-15 and INTA of each PCI slot set in pci_slots
 * (bit s: slot s) on pin PCI_INTX_PIN(s), edge-triggered, active high.
 * Returns 0 or -EINVAL. */
int mptable_write(struct gmem *mem, uint32_t ncpus, uint32_t pci_slots);
