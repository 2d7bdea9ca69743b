/* Kernel images built in memory for the loader tests and the fuzz seed
 * generator: ELF32/ELF64 with an optional Xen PVH note, and a fake bzImage.
 * A spec starts valid (timg_*_default) and a test bends one field to lie. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMG_MAX_SEGS 8

/* Default ELF layout: header at 0, phdrs at 0x40, note at 0x200, the loadable
 * bytes at 0x400 (0x300 of file, 0x2000 in memory) loaded at 1 MiB. */
#define TIMG_ELF_PHOFF	  0x40
#define TIMG_ELF_NOTE_OFF 0x200
#define TIMG_ELF_LOAD_OFF 0x400
#define TIMG_ELF_FILESZ	  0x300
#define TIMG_ELF_MEMSZ	  0x2000
#define TIMG_ELF_PADDR	  0x100000ULL
#define TIMG_ELF_VADDR	  0xffffffff81000000ULL /* ELF64: vaddr = paddr + this - 1 MiB */
#define TIMG_ELF_ENTRY	  0x10ULL		/* entry offset into the segment */
#define TIMG_ELF_LEN	  (TIMG_ELF_LOAD_OFF + TIMG_ELF_FILESZ)

struct timg_seg {
	uint32_t type;
	uint64_t offset, filesz, memsz, paddr, vaddr;
};

/* The Xen PVH entry note written at the start of the first PT_NOTE segment. */
struct timg_note {
	bool present;
	uint32_t namesz, descsz, type;
	char name[8];
	uint64_t desc; /* low descsz bytes are written (at most 8) */
};

struct timg_elf_spec {
	bool is64;
	uint16_t machine;   /* EM_X86_64 / EM_386 */
	uint64_t entry;	    /* e_entry */
	uint64_t phoff;	    /* e_phoff */
	uint16_t phnum;	    /* e_phnum as written, may differ from nseg */
	uint16_t phentsize; /* e_phentsize as written */
	uint32_t nseg;	    /* program headers actually written at phoff */
	struct timg_seg seg[TIMG_MAX_SEGS];
	struct timg_note note;
	size_t len; /* file length: may cut the image short */
};

/* A valid image: 32-bit with a PVH note (pvh), or 64-bit with or without one.
 * seg[0] is the PT_NOTE when pvh, and the PT_LOAD is last. */
void timg_elf_default(struct timg_elf_spec *s, bool is64, bool pvh);

/* Write the image described by s into buf (cap bytes, zeroed first).
 * Returns its length (s->len), or 0 when cap is too small. Bytes of a PT_LOAD
 * that lie in the file are timg_byte(file offset). */
size_t timg_elf_build(const struct timg_elf_spec *s, uint8_t *buf, size_t cap);

/* Index of the first segment of the given type, or -1. */
int timg_elf_find(const struct timg_elf_spec *s, uint32_t type);

/* The pattern byte at a file offset, so copies can be checked. */
static inline uint8_t timg_byte(uint64_t off)
{
	return (uint8_t)(off * 31 + 7);
}

/* Default bzImage: 4 setup sectors, 0x1000 bytes of protected-mode kernel. */
#define TIMG_BZ_PM_SIZE 0x1000

struct timg_bz_spec {
	uint32_t header;     /* "HdrS" */
	uint16_t boot_flag;  /* 0xAA55 */
	uint8_t setup_sects; /* 0 means 4 to the loader */
	uint8_t jump;	     /* byte at 0x201: header length past 0x202 */
	uint16_t version;    /* 0x020f */
	uint8_t loadflags;   /* LOADED_HIGH */
	uint16_t xloadflags; /* XLF_KERNEL_64 */
	uint8_t relocatable; /* relocatable_kernel */
	uint32_t syssize;    /* 16-byte units of the pm kernel, 0 unknown */
	uint32_t init_size;  /* RAM needed from the runtime start */
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	uint64_t pref_address;
	size_t pm_size; /* bytes after the setup sectors */
	size_t len;	/* file length; 0 means (setup_sects + 1) * 512 + pm_size */
};

void timg_bz_default(struct timg_bz_spec *s);

/* File offset of the protected-mode kernel for this spec. */
size_t timg_bz_setup_size(const struct timg_bz_spec *s);

/* Write the bzImage into buf; returns its length or 0 when cap is too small.
 * Every byte past the setup header is timg_byte(file offset). */
size_t timg_bz_build(const struct timg_bz_spec *s, uint8_t *buf, size_t cap);
