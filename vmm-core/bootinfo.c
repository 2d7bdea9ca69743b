/* Boot-time data the core writes into guest RAM before the first instruction:
 * command line, e820, boot_params (zero page) or PVH start_info, a GDT and
 * identity page tables for 64-bit entry. Inputs are the user's command line and
 * a boot_plan already checked by a loader. */
#include "vmm-core/boot.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <string.h>

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

#define PVH_MEMMAP_ADDR	 (BOOT_PVH_INFO_ADDR + 0x100)
#define PVH_MODLIST_ADDR (BOOT_PVH_INFO_ADDR + 0xf00)

const char *boot_protocol_name(enum boot_protocol p)
{
	switch (p) {
	case BOOT_PVH: return "pvh";
	case BOOT_ELF64: return "elf64";
	case BOOT_BZIMAGE: return "bzimage";
	}
	return "?";
}

int boot_place_initrd(struct gmem *mem, struct boot_plan *plan, const uint8_t *initrd, size_t len)
{
	uint64_t top = plan->initrd_max < mem->low_size ? plan->initrd_max : mem->low_size;
	uint64_t addr;

	if (len == 0)
		return 0;
	if (len > top)
		return -E2BIG;
	addr = (top - len) & ~0xfffULL;
	if (addr < plan->kernel_end || addr < BOOT_HIMEM)
		return -E2BIG;
	memcpy(gmem_ptr(mem, addr, len), initrd, len);
	plan->initrd_addr = addr;
	plan->initrd_size = len;
	return 0;
}

static void boot_write_gdt_and_paging(struct gmem *mem)
{
	static const uint64_t gdt[] = {
		0,
		0,
		0x00af9b000000ffffULL, /* 0x10: 64-bit code (__BOOT_CS) */
		0x00cf93000000ffffULL, /* 0x18: flat data (__BOOT_DS) */
		0x00cf9b000000ffffULL, /* 0x20: flat 32-bit code (PVH) */
		0x00008b0000000000ULL, /* 0x28: busy TSS, so TR is valid */
	};
	uint64_t *pml4 = gmem_ptr(mem, BOOT_PML4_ADDR, 0x1000);
	uint64_t *pdpt = gmem_ptr(mem, BOOT_PML4_ADDR + 0x1000, 0x1000);
	uint64_t *pd = gmem_ptr(mem, BOOT_PML4_ADDR + 0x2000, 0x4000);

	memcpy(gmem_ptr(mem, BOOT_GDT_ADDR, sizeof(gdt)), gdt, sizeof(gdt));
	/* Identity map the first 4 GiB with 2 MiB pages: RAM and the MMIO hole. */
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = (BOOT_PML4_ADDR + 0x1000) | 0x3;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PML4_ADDR + 0x2000 + i * 0x1000) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB */
}

static void boot_write_zero_page(struct gmem *mem, const struct boot_plan *plan,
				 const struct e820_map *map, size_t cmdlen)
{
	struct boot_params *bp = gmem_ptr(mem, BOOT_ZERO_PAGE_ADDR, sizeof(*bp));
	struct setup_header *h = &bp->hdr;

	memset(bp, 0, sizeof(*bp));
	if (plan->protocol == BOOT_BZIMAGE) {
		memcpy(h, plan->setup_hdr, plan->setup_hdr_len);
	} else {
		h->boot_flag = 0xAA55;
		h->header = 0x53726448;
		h->version = 0x020f;
		h->kernel_alignment = 0x1000000;
		h->cmdline_size = BOOT_CMDLINE_MAX - 1;
	}
	h->type_of_loader = 0xff;
	h->loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	h->heap_end_ptr = 0xfe00;
	h->vid_mode = 0xffff;
	h->cmd_line_ptr = cmdlen ? (uint32_t)BOOT_CMDLINE_ADDR : 0;
	h->ramdisk_image = (uint32_t)plan->initrd_addr;
	h->ramdisk_size = (uint32_t)plan->initrd_size;
	for (uint32_t i = 0; i < map->n && i < E820_MAX_ENTRIES_ZEROPAGE; i++) {
		bp->e820_table[i].addr = map->e[i].addr;
		bp->e820_table[i].size = map->e[i].size;
		bp->e820_table[i].type = map->e[i].type;
	}
	bp->e820_entries = (uint8_t)map->n;
	/* Read by Linux from boot protocol 2.14 on; older ones scan for it. */
	bp->acpi_rsdp_addr = plan->acpi_rsdp;
	/* Only our own setup_data chain: never whatever the image's header held. */
	h->setup_data = 0;
	if (plan->has_rng_seed) {
		struct setup_data *sd =
			gmem_ptr(mem, BOOT_SETUP_DATA_ADDR, sizeof(*sd) + BOOT_RNG_SEED_LEN);

		sd->next = 0;
		sd->type = SETUP_RNG_SEED;
		sd->len = BOOT_RNG_SEED_LEN;
		memcpy(sd->data, plan->rng_seed, BOOT_RNG_SEED_LEN);
		h->setup_data = BOOT_SETUP_DATA_ADDR;
	}
}

static void boot_write_pvh(struct gmem *mem, const struct boot_plan *plan,
			   const struct e820_map *map, size_t cmdlen)
{
	struct hvm_start_info *si = gmem_ptr(mem, BOOT_PVH_INFO_ADDR, sizeof(*si));
	struct hvm_memmap_entry *mm = gmem_ptr(mem, PVH_MEMMAP_ADDR, sizeof(*mm) * E820_MAX);
	struct hvm_modlist_entry *mod = gmem_ptr(mem, PVH_MODLIST_ADDR, sizeof(*mod));

	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = cmdlen ? BOOT_CMDLINE_ADDR : 0;
	si->rsdp_paddr = plan->acpi_rsdp;
	for (uint32_t i = 0; i < map->n; i++)
		mm[i] = (struct hvm_memmap_entry){map->e[i].addr, map->e[i].size, map->e[i].type,
						  0};
	si->memmap_paddr = PVH_MEMMAP_ADDR;
	si->memmap_entries = map->n;
	if (plan->initrd_size) {
		*mod = (struct hvm_modlist_entry){plan->initrd_addr, plan->initrd_size, 0, 0};
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST_ADDR;
	}
}

int boot_write_info(struct gmem *mem, struct boot_plan *plan, const char *cmdline,
		    const struct e820_map *map)
{
	size_t cmdlen = cmdline ? strlen(cmdline) : 0;

	_Static_assert(sizeof(struct boot_params) == 4096, "zero page");
	_Static_assert(PVH_MEMMAP_ADDR + 24 * E820_MAX <= PVH_MODLIST_ADDR, "pvh layout");
	if (cmdlen + 1 > plan->cmdline_max)
		return -E2BIG;
	memset(gmem_ptr(mem, BOOT_CMDLINE_ADDR, BOOT_CMDLINE_MAX), 0, BOOT_CMDLINE_MAX);
	if (cmdlen)
		memcpy(gmem_ptr(mem, BOOT_CMDLINE_ADDR, cmdlen), cmdline, cmdlen);
	boot_write_gdt_and_paging(mem);
	if (plan->protocol == BOOT_PVH)
		boot_write_pvh(mem, plan, map, cmdlen);
	else
		boot_write_zero_page(mem, plan, map, cmdlen);
	return 0;
}
