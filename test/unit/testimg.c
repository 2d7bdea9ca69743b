/* In-memory kernel images for tests and fuzz seeds; see testimg.h. Nothing here
 * checks anything: the point is to write exactly what the spec says, lies included. */
#include "test/unit/testimg.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18

void timg_elf_default(struct timg_elf_spec *s, bool is64, bool pvh)
{
	uint32_t n = 0;

	memset(s, 0, sizeof(*s));
	s->is64 = is64;
	s->machine = is64 ? EM_X86_64 : EM_386;
	s->phoff = TIMG_ELF_PHOFF;
	s->phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (pvh) {
		s->seg[n++] = (struct timg_seg){
			.type = PT_NOTE, .offset = TIMG_ELF_NOTE_OFF, .filesz = 20, .memsz = 20};
		s->note = (struct timg_note){.present = true,
					     .namesz = 4,
					     .descsz = 4,
					     .type = XEN_ELFNOTE_PHYS32_ENTRY,
					     .name = "Xen",
					     .desc = TIMG_ELF_PADDR + TIMG_ELF_ENTRY};
	}
	s->seg[n++] = (struct timg_seg){.type = PT_LOAD,
					.offset = TIMG_ELF_LOAD_OFF,
					.filesz = TIMG_ELF_FILESZ,
					.memsz = TIMG_ELF_MEMSZ,
					.paddr = TIMG_ELF_PADDR,
					.vaddr = is64 ? TIMG_ELF_VADDR : TIMG_ELF_PADDR};
	s->nseg = n;
	s->phnum = (uint16_t)n;
	s->entry = (is64 ? TIMG_ELF_VADDR : TIMG_ELF_PADDR) + TIMG_ELF_ENTRY;
	s->len = TIMG_ELF_LEN;
}

int timg_elf_find(const struct timg_elf_spec *s, uint32_t type)
{
	for (uint32_t i = 0; i < s->nseg; i++)
		if (s->seg[i].type == type)
			return (int)i;
	return -1;
}

/* Copy n bytes to buf+off, clipped to the file: a lying spec may point anywhere. */
static void timg_put(uint8_t *buf, size_t len, uint64_t off, const void *src, size_t n)
{
	if (off >= len)
		return;
	if (n > len - off)
		n = (size_t)(len - off);
	memcpy(buf + off, src, n);
}

static void timg_elf_header(const struct timg_elf_spec *s, uint8_t *buf, size_t len)
{
	static const uint8_t ident[] = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3};

	if (s->is64) {
		Elf64_Ehdr eh = {.e_type = ET_EXEC,
				 .e_machine = s->machine,
				 .e_version = EV_CURRENT,
				 .e_entry = s->entry,
				 .e_phoff = s->phoff,
				 .e_ehsize = sizeof(eh),
				 .e_phentsize = s->phentsize,
				 .e_phnum = s->phnum};
		memcpy(eh.e_ident, ident, sizeof(ident));
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		timg_put(buf, len, 0, &eh, sizeof(eh));
	} else {
		Elf32_Ehdr eh = {.e_type = ET_EXEC,
				 .e_machine = s->machine,
				 .e_version = EV_CURRENT,
				 .e_entry = (Elf32_Addr)s->entry,
				 .e_phoff = (Elf32_Off)s->phoff,
				 .e_ehsize = sizeof(eh),
				 .e_phentsize = s->phentsize,
				 .e_phnum = s->phnum};
		memcpy(eh.e_ident, ident, sizeof(ident));
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		timg_put(buf, len, 0, &eh, sizeof(eh));
	}
}

static void timg_elf_phdr(const struct timg_elf_spec *s, uint32_t i, uint8_t *buf, size_t len)
{
	const struct timg_seg *g = &s->seg[i];

	if (s->is64) {
		Elf64_Phdr ph = {.p_type = g->type,
				 .p_flags = PF_R | PF_X,
				 .p_offset = g->offset,
				 .p_vaddr = g->vaddr,
				 .p_paddr = g->paddr,
				 .p_filesz = g->filesz,
				 .p_memsz = g->memsz,
				 .p_align = 16};
		timg_put(buf, len, s->phoff + i * sizeof(ph), &ph, sizeof(ph));
	} else {
		Elf32_Phdr ph = {.p_type = g->type,
				 .p_offset = (Elf32_Off)g->offset,
				 .p_vaddr = (Elf32_Addr)g->vaddr,
				 .p_paddr = (Elf32_Addr)g->paddr,
				 .p_filesz = (Elf32_Word)g->filesz,
				 .p_memsz = (Elf32_Word)g->memsz,
				 .p_flags = PF_R | PF_X,
				 .p_align = 16};
		timg_put(buf, len, s->phoff + i * sizeof(ph), &ph, sizeof(ph));
	}
}

static void timg_elf_note(const struct timg_elf_spec *s, uint8_t *buf, size_t len)
{
	const struct timg_note *n = &s->note;
	int i = timg_elf_find(s, PT_NOTE);
	uint32_t words[3] = {n->namesz, n->descsz, n->type};
	uint64_t off;

	if (!n->present || i < 0)
		return;
	off = s->seg[i].offset;
	timg_put(buf, len, off, words, sizeof(words));
	timg_put(buf, len, off + 12, n->name, 4);
	/* The descriptor follows the name padded to 4 bytes. */
	timg_put(buf, len, off + 12 + ((n->namesz + 3ULL) & ~3ULL), &n->desc,
		 n->descsz < 8 ? n->descsz : 8);
}

size_t timg_elf_build(const struct timg_elf_spec *s, uint8_t *buf, size_t cap)
{
	if (s->len > cap || s->nseg > TIMG_MAX_SEGS)
		return 0;
	memset(buf, 0, s->len);
	for (uint32_t i = 0; i < s->nseg; i++) {
		const struct timg_seg *g = &s->seg[i];
		if (g->type != PT_LOAD)
			continue;
		for (uint64_t o = g->offset; o - g->offset < g->filesz && o < s->len; o++)
			buf[o] = timg_byte(o);
	}
	timg_elf_header(s, buf, s->len);
	for (uint32_t i = 0; i < s->nseg; i++)
		timg_elf_phdr(s, i, buf, s->len);
	timg_elf_note(s, buf, s->len);
	return s->len;
}

void timg_bz_default(struct timg_bz_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->header = 0x53726448;
	s->boot_flag = 0xAA55;
	s->setup_sects = 4;
	/* The header of protocol 2.15 ends at 0x26c. */
	s->jump = (uint8_t)(0x1f1 + sizeof(struct setup_header) - 0x202);
	s->version = 0x020f;
	s->loadflags = LOADED_HIGH;
	s->xloadflags = XLF_KERNEL_64;
	s->relocatable = 1;
	s->syssize = (TIMG_BZ_PM_SIZE + 15) / 16;
	s->init_size = 0x200000;
	s->cmdline_size = 2047;
	s->initrd_addr_max = 0x7fffffff;
	s->pref_address = 0x1000000;
	s->pm_size = TIMG_BZ_PM_SIZE;
}

size_t timg_bz_setup_size(const struct timg_bz_spec *s)
{
	return ((size_t)(s->setup_sects ? s->setup_sects : 4) + 1) * 512;
}

size_t timg_bz_build(const struct timg_bz_spec *s, uint8_t *buf, size_t cap)
{
	size_t len = s->len ? s->len : timg_bz_setup_size(s) + s->pm_size;
	struct setup_header h;

	if (len > cap)
		return 0;
	for (size_t o = 0; o < len; o++)
		buf[o] = timg_byte(o);
	memset(&h, 0, sizeof(h));
	h.setup_sects = s->setup_sects;
	h.syssize = s->syssize;
	h.boot_flag = s->boot_flag;
	h.jump = (uint16_t)(0xeb | s->jump << 8);
	h.header = s->header;
	h.version = s->version;
	h.loadflags = s->loadflags;
	h.code32_start = 0x100000;
	h.initrd_addr_max = s->initrd_addr_max;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = s->relocatable;
	h.xloadflags = s->xloadflags;
	h.cmdline_size = s->cmdline_size;
	h.pref_address = s->pref_address;
	h.init_size = s->init_size;
	timg_put(buf, len, 0x1f1, &h, sizeof(h));
	return len;
}
