/* Guest-physical memory layout of a VM: RAM below the 32-bit MMIO hole and,
 * past 2.75 GiB of RAM, the rest above 4 GiB. Backed by one memfd mapping.
 * Runs in cellvm-core and in every device process (and in tests over a plain
 * buffer). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2.75 GiB: the PCI ECAM window (0xB0000000, where OVMF's build has it),
 * BARs, virtio-mmio, IOAPIC, LAPIC, a firmware's ROM. */
#define GMEM_MMIO_HOLE_START 0xB0000000ULL
#define GMEM_HIGH_START	     0x100000000ULL
#define GMEM_MIN_SIZE	     (16ULL << 20)
#define GMEM_MAX_SIZE	     (256ULL << 30)

struct gmem {
	uint8_t *host;	   /* mapping of the whole memfd, size bytes */
	uint64_t size;	   /* total RAM */
	uint64_t low_size; /* RAM at [0, low_size) */
			   /* RAM at [GMEM_HIGH_START, GMEM_HIGH_START + size - low_size) */
};

/* Fill in the layout for size bytes of RAM at host. Returns 0 or -EINVAL. */
int gmem_init(struct gmem *m, uint8_t *host, uint64_t size);

/* Host pointer for [gpa, gpa+len) when the range is RAM, else NULL.
 * Checked for overflow; a range never spans the hole. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

static inline bool gmem_range_ok(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(m, gpa, len) != NULL;
}
