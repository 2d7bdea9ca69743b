/* Loading a guest kernel into RAM and describing how to enter it. The kernel,
 * initrd and command line are user input: every header field is checked before
 * anything is copied, and a failed load leaves nothing to start.
 * Runs in cellvm-core (and in unit tests and fuzzers over a plain buffer). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/gmem.h"
#include "vmm-core/e820.h"
#include "vmm-core/fw_cfg.h"

/* Fixed guest-physical addresses of boot data (below the EBDA). */
#define BOOT_GDT_ADDR	     0x500ULL
#define BOOT_SETUP_DATA_ADDR 0x1000ULL /* setup_data chain (RNG seed) */
#define BOOT_RNG_SEED_LEN    32
#define BOOT_PVH_INFO_ADDR   0x6000ULL /* hvm_start_info, memmap, modlist */
#define BOOT_ZERO_PAGE_ADDR  0x7000ULL /* struct boot_params */
#define BOOT_PML4_ADDR	     0x9000ULL /* + PDPT at 0xa000, 4 PDs at 0xb000..0xefff */
#define BOOT_CMDLINE_ADDR    0x20000ULL
#define BOOT_CMDLINE_MAX     2048 /* x86 COMMAND_LINE_SIZE, with the NUL */
#define BOOT_STACK_ADDR	     0x8ff0ULL

enum boot_protocol {
	BOOT_PVH,    /* 32-bit protected mode, EBX = hvm_start_info */
	BOOT_ELF64,  /* 64-bit mode at the ELF entry, RSI = boot_params */
	BOOT_BZIMAGE /* 64-bit mode at the bzImage's 64-bit entry, RSI = boot_params */
};

struct boot_plan {
	enum boot_protocol protocol;
	uint64_t entry;	      /* guest-physical entry point */
	uint64_t kernel_end;  /* first byte past the loaded kernel (incl. bss/init) */
	uint32_t cmdline_max; /* the kernel's limit, with the NUL */
	uint64_t initrd_max;  /* highest address the initrd may end at (exclusive) */
	/* bzImage only: the setup header to copy into boot_params */
	uint8_t setup_hdr[0x80];
	size_t setup_hdr_len;
	/* host randomness for the guest's RNG (boot_params paths only: PVH
	 * has no setup_data) */
	uint8_t rng_seed[BOOT_RNG_SEED_LEN];
	int has_rng_seed;
	/* the ACPI RSDP's address for the boot_params and PVH paths (0: none) */
	uint64_t acpi_rsdp;
	/* filled by boot_place_initrd() */
	uint64_t initrd_addr, initrd_size;
};

const char *boot_protocol_name(enum boot_protocol p);

/* Load an ELF (32- or 64-bit) image. A PVH note (XEN_ELFNOTE_PHYS32_ENTRY)
 * selects BOOT_PVH; otherwise a 64-bit ELF is entered at e_entry in long mode.
 * Returns 0, -ENOEXEC (not ELF/unsupported), -EINVAL (lying header),
 * -E2BIG (does not fit in RAM). */
int loader_elf_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret);

/* Which entry to use when an ELF has both a PVH note and a 64-bit entry. */
enum boot_prefer { BOOT_PREFER_PVH, BOOT_PREFER_64BIT };
int loader_elf_load_pref(const uint8_t *img, size_t len, struct gmem *mem, enum boot_prefer pref,
			 struct boot_plan *ret);

/* Load a bzImage (boot protocol >= 2.12, 64-bit entry). Same returns. */
int loader_bzimage_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret);

/* A bzImage for a firmware to boot (fw_cfg's KERNEL_*, SETUP_*, INITRD_*
 * and CMDLINE_* items, as QEMU's -kernel with a firmware): the image split
 * into its real-mode setup, copied to setup (setup_cap bytes; 128 KiB + 512
 * holds any) and patched as a boot loader would (command line and initrd
 * addresses), and its protected-mode part, pointing into img. The initrd of
 * initrd_len bytes goes under the end of low RAM (low_size). Nothing is
 * written to guest RAM: the firmware's loader does that. Returns 0,
 * -ENOEXEC (not a bzImage of protocol 2.03 or later), -EINVAL (lying
 * header), -EMSGSIZE (command line over the kernel's limit), -E2BIG (the
 * initrd does not fit). */
#define BOOT_FW_SETUP_CAP (256U * 512 + 512)
int loader_bzimage_fw_cfg(const uint8_t *img, size_t len, uint64_t initrd_len, uint64_t low_size,
			  const char *cmdline, uint8_t *setup, size_t setup_cap,
			  struct fw_cfg_kernel *ret);

/* Pick the loader by magic. */
int loader_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret);
int loader_load_pref(const uint8_t *img, size_t len, struct gmem *mem, enum boot_prefer pref,
		     struct boot_plan *ret);

/* Copy the initrd as high as the kernel allows, above the kernel.
 * Returns 0 or -E2BIG when it does not fit. */
int boot_place_initrd(struct gmem *mem, struct boot_plan *plan, const uint8_t *initrd, size_t len);

/* Write command line, e820 map, boot_params or hvm_start_info, GDT and page
 * tables. cmdline may be NULL. Returns 0, -E2BIG (command line too long). */
int boot_write_info(struct gmem *mem, struct boot_plan *plan, const char *cmdline,
		    const struct e820_map *map);
