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

int loader_bzimage_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret)
{
	struct setup_header h;
	uint64_t setup_size, pm_size, load = BOOT_HIMEM, need;
	size_t hdr_len;

	if (len < BZ_HDR_OFF + sizeof(h))
		return -ENOEXEC;
	memcpy(&h, img + BZ_HDR_OFF, sizeof(h));
	if (h.header != BZ_MAGIC || h.boot_flag != 0xAA55)
		return -ENOEXEC;
	/* UNTRUSTED(image): every field below comes from the file. */
	if (h.version < BZ_MIN_PROTO || !(h.loadflags & LOADED_HIGH) ||
	    !(h.xloadflags & XLF_KERNEL_64))
		return -ENOEXEC;
	/* The header's own length: the jump at 0x200 skips over it. */
	hdr_len = 0x202 + (size_t)img[0x201] - BZ_HDR_OFF;
	if (hdr_len < offsetof(struct setup_header, cmdline_size) + 4 || hdr_len > sizeof(h))
		hdr_len = sizeof(h);
	setup_size = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
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
