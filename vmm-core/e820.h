/* The e820 memory map handed to the guest (in boot_params and in the PVH
 * start_info). Built from the gmem layout; runs in cellvm-core. */
#pragma once
#include <stdint.h>
#include "common/gmem.h"

#define E820_RAM      1
#define E820_RESERVED 2

#define E820_MAX 32

/* Where the core keeps its boot-time tables below 1 MiB. */
#define BOOT_EBDA_START 0x9fc00ULL /* MP table lives here */
#define BOOT_BIOS_START 0xa0000ULL
#define BOOT_HIMEM	0x100000ULL

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct e820_map {
	uint32_t n;
	struct e820_entry e[E820_MAX];
};

/* Append one range, keeping entries sorted and non-overlapping.
 * Returns 0, -EINVAL (empty, overflowing or overlapping) or -ENOSPC. */
int e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type);

/* The map for a VM with layout m. Returns 0 or -errno. */
int e820_build(struct e820_map *map, const struct gmem *m);
