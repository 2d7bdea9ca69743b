/* bzImage loader (Linux x86 boot protocol, 64-bit entry). The image is
 * untrusted user input: the setup header is copied out and checked before the
 * protected-mode kernel is copied to 1 MiB. */
#include "vmm-core/boot.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define BZ_HDR_OFF   0x1f1
#define BZ_MAGIC     0x53726448 /* "HdrS" */
#define BZ_MIN_PROTO 0x020c	/* xloadflags (64-bit entry) appeared in 2.12 */

/* The setup header of img, copied out (the file's bytes, unchecked but for
 * its magic), and the length of the setup sectors it gives (0 means 4).
 * Returns 0 or -ENOEXEC (no bzImage header). */
static int bz_header(const uint8_t *img, size_t len, struct setup_header *h, uint64_t *setup_size)
{
	if (len < BZ_HDR_OFF + sizeof(*h))
		return -ENOEXEC;
	memcpy(h, img + BZ_HDR_OFF, sizeof(*h));
	if (h->header != BZ_MAGIC || h->boot_flag != 0xAA55)
		return -ENOEXEC;
	*setup_size = ((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	return 0;
}

int loader_bzimage_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret)
{
	struct setup_header h;
	uint64_t setup_size, pm_size, load = BOOT_HIMEM, need;
	size_t hdr_len;

	if (bz_header(img, len, &h, &setup_size) < 0)
		return -ENOEXEC;
	/* UNTRUSTED(image): every field below comes from the file. */
	if (h.version < BZ_MIN_PROTO || !(h.loadflags & LOADED_HIGH) ||
	    !(h.xloadflags & XLF_KERNEL_64))
		return -ENOEXEC;
	/* The header's own length: the jump at 0x200 skips over it. */
	hdr_len = 0x202 + (size_t)img[0x201] - BZ_HDR_OFF;
	if (hdr_len < offsetof(struct setup_header, cmdline_size) + 4 || hdr_len > sizeof(h))
		hdr_len = sizeof(h);
	if (setup_size >= len)
		return -EINVAL;
	pm_size = len - setup_size;
	if (pm_size <= 0x200)
		return -EINVAL;
	if (h.syssize && (uint64_t)h.syssize * 16 > pm_size + 16)
		return -EINVAL;
	/* The kernel decompresses itself up to init_size past its runtime
	 * start: pref_address when not relocatable, and when relocatable still
	 * never below it (compressed/head_64.S clamps to LOAD_PHYSICAL_ADDR).
	 * That much RAM must exist. */
	need = h.init_size;
	if (h.pref_address > load) {
		if (h.pref_address - load > GMEM_MAX_SIZE)
			return -E2BIG;
		need += h.pref_address - load;
	}
	if (need < pm_size)
		need = pm_size;
	if (!gmem_range_ok(mem, load, pm_size) || !gmem_range_ok(mem, load, need))
		return -E2BIG;
	if (h.cmdline_size == 0)
		return -EINVAL;

	memset(ret, 0, sizeof(*ret));
	ret->protocol = BOOT_BZIMAGE;
	ret->entry = load + 0x200;
	ret->kernel_end = load + need;
	/* cmdline_size excludes the NUL; compared first so that + 1 cannot wrap. */
	ret->cmdline_max =
		h.cmdline_size < BOOT_CMDLINE_MAX ? h.cmdline_size + 1 : BOOT_CMDLINE_MAX;
	ret->initrd_max = (uint64_t)h.initrd_addr_max + 1;
	if (h.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)
		ret->initrd_max = mem->low_size;
	memcpy(ret->setup_hdr, &h, hdr_len);
	ret->setup_hdr_len = hdr_len;
	memcpy(gmem_ptr(mem, load, pm_size), img + setup_size, pm_size);
	return 0;
}

int loader_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret)
{
	return loader_load_pref(img, len, mem, BOOT_PREFER_PVH, ret);
}

int loader_load_pref(const uint8_t *img, size_t len, struct gmem *mem, enum boot_prefer pref,
		     struct boot_plan *ret)
{
	int r = loader_elf_load_pref(img, len, mem, pref, ret);

	if (r != -ENOEXEC)
		return r;
	return loader_bzimage_load(img, len, mem, ret);
}

/* Where QEMU's x86_load_linux puts the parts for a firmware's loader (its
 * "real_addr", "cmdline_addr" and "prot_addr" for protocol 2.02 and later);
 * OVMF's EFI path ignores them, a legacy loader follows them. */
#define BZ_FW_SETUP_ADDR   0x10000U
#define BZ_FW_CMDLINE_ADDR 0x20000U
#define BZ_FW_KERNEL_ADDR  0x100000U
/* Kept free under the end of low RAM for the firmware's ACPI tables (QEMU
 * keeps its acpi_data_size there). */
#define BZ_FW_LOW_RESERVE 0x28000U
#define BZ_FW_MIN_PROTO	  0x0203 /* initrd_addr_max */

int loader_bzimage_fw_cfg(const uint8_t *img, size_t len, uint64_t initrd_len, uint64_t low_size,
			  const char *cmdline, uint8_t *setup, size_t setup_cap,
			  struct fw_cfg_kernel *ret)
{
	struct setup_header h;
	uint64_t setup_size, initrd_max, cl = strlen(cmdline) + 1;

	if (bz_header(img, len, &h, &setup_size) < 0)
		return -ENOEXEC;
	/* UNTRUSTED(image): every field below comes from the file. */
	if (h.version < BZ_FW_MIN_PROTO || !(h.loadflags & LOADED_HIGH))
		return -ENOEXEC;
	if (setup_size >= len || setup_size > setup_cap || len - setup_size <= 0x200 ||
	    len - setup_size > UINT32_MAX)
		return -EINVAL;
	/* The command line must fit the kernel's limit (2.06 has it; before,
	 * 255 bytes) and the gap before the setup's heap ends. */
	if (cl > (h.version >= 0x0206 ? (uint64_t)h.cmdline_size + 1 : 256) ||
	    cl > BOOT_CMDLINE_MAX)
		return -EMSGSIZE;
	/* The initrd goes as high as the kernel takes it, under the firmware's
	 * reserve at the end of low RAM, page-aligned (QEMU's rule). */
	initrd_max = h.initrd_addr_max;
	if (low_size < BZ_FW_LOW_RESERVE + BZ_FW_KERNEL_ADDR)
		return -E2BIG;
	if (initrd_max > low_size - BZ_FW_LOW_RESERVE - 1)
		initrd_max = low_size - BZ_FW_LOW_RESERVE - 1;
	if (initrd_max < BZ_FW_KERNEL_ADDR + (len - setup_size) ||
	    initrd_len > initrd_max - BZ_FW_KERNEL_ADDR - (len - setup_size) ||
	    ((initrd_max - initrd_len) & ~0xfffULL) < BZ_FW_KERNEL_ADDR + (len - setup_size))
		return -E2BIG;

	memcpy(setup, img, setup_size);
	memset(ret, 0, sizeof(*ret));
	ret->setup = setup;
	ret->setup_size = (uint32_t)setup_size;
	ret->setup_addr = BZ_FW_SETUP_ADDR;
	ret->kernel = img + setup_size;
	ret->kernel_size = (uint32_t)(len - setup_size);
	ret->kernel_addr = BZ_FW_KERNEL_ADDR;
	ret->cmdline = cmdline;
	ret->cmdline_addr = BZ_FW_CMDLINE_ADDR;
	if (initrd_len) {
		ret->initrd_size = (uint32_t)initrd_len;
		ret->initrd_addr = (uint32_t)((initrd_max - initrd_len) & ~0xfffULL);
	}
	/* The setup header as a boot loader leaves it (QEMU's patch of the same
	 * fields): loader id "undefined" (0xb0 with the version nibble 0), the
	 * heap up to the command line, where the command line and initrd are. */
	h.type_of_loader = 0xb0;
	h.loadflags |= CAN_USE_HEAP;
	h.heap_end_ptr = (uint16_t)(BZ_FW_CMDLINE_ADDR - BZ_FW_SETUP_ADDR - 0x200);
	h.cmd_line_ptr = BZ_FW_CMDLINE_ADDR;
	h.ramdisk_image = ret->initrd_addr;
	h.ramdisk_size = ret->initrd_size;
	memcpy(setup + BZ_HDR_OFF, &h, sizeof(h)); /* setup_size >= 2560 */
	return 0;
}
