/* e820 map builder; see e820.h. */
#include "vmm-core/e820.h"
#include "vmm-core/pci.h"

#include <errno.h>
#include <string.h>

int e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
	uint32_t i;

	if (size == 0 || addr + size < addr)
		return -EINVAL;
	if (map->n >= E820_MAX)
		return -ENOSPC;
	for (i = 0; i < map->n; i++) {
		const struct e820_entry *e = &map->e[i];
		if (addr < e->addr + e->size && e->addr < addr + size)
			return -EINVAL;
		if (addr < e->addr)
			break;
	}
	memmove(&map->e[i + 1], &map->e[i], (map->n - i) * sizeof(map->e[0]));
	map->e[i] = (struct e820_entry){.addr = addr, .size = size, .type = type};
	map->n++;
	return 0;
}

int e820_build(struct e820_map *map, const struct gmem *m)
{
	int r;

	memset(map, 0, sizeof(*map));
	r = e820_add(map, 0, BOOT_EBDA_START, E820_RAM);
	if (r < 0)
		return r;
	/* EBDA (MP table) and the legacy VGA/BIOS area up to 1 MiB. */
	r = e820_add(map, BOOT_EBDA_START, BOOT_HIMEM - BOOT_EBDA_START, E820_RESERVED);
	if (r < 0)
		return r;
	r = e820_add(map, BOOT_HIMEM, m->low_size - BOOT_HIMEM, E820_RAM);
	if (r < 0)
		return r;
	/* The PCI ECAM window: Linux takes it from the host bridge only when
	 * the e820 map reserves it. */
	r = e820_add(map, PCI_ECAM_BASE, PCI_ECAM_SIZE, E820_RESERVED);
	if (r < 0)
		return r;
	if (m->size > m->low_size)
		r = e820_add(map, GMEM_HIGH_START, m->size - m->low_size, E820_RAM);
	return r;
}
