/* ELF loader: vmlinux and the tests' tiny payloads, 32- or 64-bit, with a PVH
 * entry note or a 64-bit entry. The image is untrusted user input: offsets,
 * sizes and addresses are checked with overflow-safe arithmetic before any copy. */
#include "vmm-core/boot.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#define ELF_MAX_PHDRS		 64
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct seg {
	uint64_t offset, filesz, memsz, paddr, vaddr;
	uint32_t type;
};

static int elf_read_phdrs(const uint8_t *img, size_t len, int is64, struct seg *segs, size_t *ret_n)
{
	uint64_t phoff, entsz, n;

	if (is64) {
		Elf64_Ehdr eh;
		memcpy(&eh, img, sizeof(eh));
		phoff = eh.e_phoff;
		entsz = eh.e_phentsize;
		n = eh.e_phnum;
		if (entsz != sizeof(Elf64_Phdr))
			return -EINVAL;
	} else {
		Elf32_Ehdr eh;
		memcpy(&eh, img, sizeof(eh));
		phoff = eh.e_phoff;
		entsz = eh.e_phentsize;
		n = eh.e_phnum;
		if (entsz != sizeof(Elf32_Phdr))
			return -EINVAL;
	}
	/* UNTRUSTED(image): the table must lie inside the file. */
	if (n == 0 || n > ELF_MAX_PHDRS || phoff > len || n * entsz > len - phoff)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *p = img + phoff + i * entsz;
		if (is64) {
			Elf64_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			segs[i] = (struct seg){ph.p_offset, ph.p_filesz, ph.p_memsz,
					       ph.p_paddr,  ph.p_vaddr,	 ph.p_type};
		} else {
			Elf32_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			segs[i] = (struct seg){ph.p_offset, ph.p_filesz, ph.p_memsz,
					       ph.p_paddr,  ph.p_vaddr,	 ph.p_type};
		}
	}
	*ret_n = (size_t)n;
	return 0;
}

/* Find the PVH entry in one PT_NOTE segment. Returns 1 found, 0 absent, -EINVAL. */
static int elf_find_pvh(const uint8_t *img, size_t len, const struct seg *s, uint64_t *ret)
{
	uint64_t off = s->offset, end;

	if (s->offset > len || s->filesz > len - s->offset)
		return -EINVAL;
	end = s->offset + s->filesz;
	while (end - off >= 12) {
		uint32_t namesz, descsz, type;
		uint64_t name_off, desc_off, next;

		memcpy(&namesz, img + off, 4);
		memcpy(&descsz, img + off + 4, 4);
		memcpy(&type, img + off + 8, 4);
		name_off = off + 12;
		desc_off = name_off + (((uint64_t)namesz + 3) & ~3ULL);
		next = desc_off + (((uint64_t)descsz + 3) & ~3ULL);
		if (desc_off > end || next > end || (uint64_t)descsz > end - desc_off)
			return -EINVAL;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(img + name_off, "Xen", 4) == 0) {
			uint32_t e32;
			uint64_t e64;
			if (descsz == 4) {
				memcpy(&e32, img + desc_off, 4);
				*ret = e32;
			} else if (descsz == 8) {
				memcpy(&e64, img + desc_off, 8);
				*ret = e64;
			} else {
				return -EINVAL;
			}
			return 1;
		}
		off = next;
	}
	return 0;
}

static int elf_check_segments(const struct seg *segs, size_t n, size_t len, struct gmem *mem,
			      uint64_t *ret_end)
{
	uint64_t end = 0;
	size_t nload = 0;

	for (size_t i = 0; i < n; i++) {
		const struct seg *s = &segs[i];
		if (s->type != PT_LOAD)
			continue;
		/* Before the memsz == 0 skip: elf_entry_phys() trusts filesz. */
		if (s->filesz > s->memsz)
			return -EINVAL;
		if (s->memsz == 0)
			continue;
		nload++;
		if (s->offset > len || s->filesz > len - s->offset)
			return -EINVAL;
		if (s->paddr + s->memsz < s->paddr)
			return -EINVAL;
		/* Below 1 MiB lie the core's own boot tables. */
		if (s->paddr < BOOT_HIMEM)
			return -EINVAL;
		if (!gmem_range_ok(mem, s->paddr, s->memsz))
			return -E2BIG;
		for (size_t j = 0; j < i; j++) {
			const struct seg *t = &segs[j];
			if (t->type != PT_LOAD || t->memsz == 0)
				continue;
			if (s->paddr < t->paddr + t->memsz && t->paddr < s->paddr + s->memsz)
				return -EINVAL;
		}
		if (s->paddr + s->memsz > end)
			end = s->paddr + s->memsz;
	}
	if (nload == 0)
		return -EINVAL;
	*ret_end = end;
	return 0;
}

/* Entry must be file-backed code in some PT_LOAD; by_vaddr maps e_entry. */
static int elf_entry_phys(const struct seg *segs, size_t n, uint64_t entry, int by_vaddr,
			  uint64_t *ret)
{
	for (size_t i = 0; i < n; i++) {
		const struct seg *s = &segs[i];
		uint64_t base = by_vaddr ? s->vaddr : s->paddr;
		if (s->type != PT_LOAD || s->filesz == 0)
			continue;
		if (entry >= base && entry - base < s->filesz) {
			*ret = s->paddr + (entry - base);
			return 0;
		}
	}
	return -EINVAL;
}

int loader_elf_load(const uint8_t *img, size_t len, struct gmem *mem, struct boot_plan *ret)
{
	return loader_elf_load_pref(img, len, mem, BOOT_PREFER_PVH, ret);
}

int loader_elf_load_pref(const uint8_t *img, size_t len, struct gmem *mem, enum boot_prefer pref,
			 struct boot_plan *ret)
{
	struct seg segs[ELF_MAX_PHDRS];
	uint64_t e_entry, pvh = 0, end;
	size_t n = 0;
	int is64, r, have_pvh = 0;

	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (img[EI_DATA] != ELFDATA2LSB || img[EI_VERSION] != EV_CURRENT)
		return -ENOEXEC;
	if (img[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;
		if (len < sizeof(eh))
			return -ENOEXEC;
		memcpy(&eh, img, sizeof(eh));
		if (eh.e_machine != EM_X86_64)
			return -ENOEXEC;
		is64 = 1;
		e_entry = eh.e_entry;
	} else if (img[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;
		if (len < sizeof(eh))
			return -ENOEXEC;
		memcpy(&eh, img, sizeof(eh));
		if (eh.e_machine != EM_386)
			return -ENOEXEC;
		is64 = 0;
		e_entry = eh.e_entry;
	} else {
		return -ENOEXEC;
	}
	r = elf_read_phdrs(img, len, is64, segs, &n);
	if (r < 0)
		return r;
	r = elf_check_segments(segs, n, len, mem, &end);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !have_pvh; i++) {
		if (segs[i].type != PT_NOTE)
			continue;
		r = elf_find_pvh(img, len, &segs[i], &pvh);
		if (r < 0)
			return r;
		have_pvh = r;
	}

	memset(ret, 0, sizeof(*ret));
	if (have_pvh && !(pref == BOOT_PREFER_64BIT && is64)) {
		ret->protocol = BOOT_PVH;
		/* The PVH entry is a physical address. */
		r = elf_entry_phys(segs, n, pvh, 0, &ret->entry);
	} else if (is64) {
		ret->protocol = BOOT_ELF64;
		r = elf_entry_phys(segs, n, e_entry, 1, &ret->entry);
	} else {
		r = -ENOEXEC; /* a 32-bit ELF without a PVH note has no entry we support */
	}
	if (r < 0)
		return r;

	/* Every check passed: copy. */
	for (size_t i = 0; i < n; i++) {
		const struct seg *s = &segs[i];
		uint8_t *dst;
		if (s->type != PT_LOAD || s->memsz == 0)
			continue;
		dst = gmem_ptr(mem, s->paddr, s->memsz);
		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	ret->kernel_end = end;
	ret->cmdline_max = BOOT_CMDLINE_MAX;
	/* Linux's default initrd_addr_max for the 64-bit entry; PVH has none. */
	ret->initrd_max = ret->protocol == BOOT_PVH ? mem->low_size : 0x38000000ULL;
	return 0;
}
