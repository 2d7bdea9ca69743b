/* libFuzzer target: input bytes are a kernel image (untrusted user input) for
 * loader_load() into 64 MiB of guest RAM; a loaded image then gets an initrd
 * and its boot data. Besides the sanitizers, it checks the loaders' promises:
 * a refused image wrote no byte of RAM, and an accepted plan is consistent. */
#include <asm/bootparam.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "test/fuzz/fuzz_check.h"
#include "vmm-core/boot.h"

#define FUZZ_RAM  (64ULL << 20)
#define FUZZ_PAGE 4096ULL
#define CMDLINE	  "console=ttyS0 panic=-1 root=/dev/vda rw"

struct fuzz_ctx {
	uint8_t *ram; /* anonymous mapping: untouched pages are not resident */
	struct gmem mem;
	struct e820_map map;
	uint8_t initrd[3 * FUZZ_PAGE + 123];
	unsigned char resident[FUZZ_RAM / FUZZ_PAGE];
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_ctx *fuzz_ctx_get(void)
{
	static struct fuzz_ctx *c;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	CHECK(c);
	c->ram = mmap(NULL, FUZZ_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(c->ram != MAP_FAILED);
	CHECK(gmem_init(&c->mem, c->ram, FUZZ_RAM) == 0);
	CHECK(e820_build(&c->map, &c->mem) == 0);
	for (size_t i = 0; i < sizeof(c->initrd); i++)
		c->initrd[i] = (uint8_t)(i * 7 + 1);
	return c;
}

/* "Never a guest started half-loaded": no page of RAM was touched. */
static void fuzz_check_untouched(struct fuzz_ctx *c)
{
	CHECK(mincore(c->ram, FUZZ_RAM, c->resident) == 0);
	for (size_t i = 0; i < sizeof(c->resident); i++)
		if (c->resident[i] & 1) {
			fprintf(stderr, "failed load touched guest page %#zx\n",
				(size_t)(i * FUZZ_PAGE));
			abort();
		}
}

static void fuzz_check_plan(const struct fuzz_ctx *c, const struct boot_plan *p)
{
	CHECK(p->protocol == BOOT_PVH || p->protocol == BOOT_ELF64 || p->protocol == BOOT_BZIMAGE);
	CHECK(p->kernel_end > BOOT_HIMEM && p->kernel_end <= c->mem.size);
	if (p->protocol == BOOT_BZIMAGE) {
		CHECK(p->entry == BOOT_HIMEM + 0x200);
		CHECK(p->setup_hdr_len > 0 && p->setup_hdr_len <= sizeof(p->setup_hdr));
	} else {
		CHECK(p->entry >= BOOT_HIMEM && p->entry < p->kernel_end);
		CHECK(p->setup_hdr_len == 0);
	}
	CHECK(p->cmdline_max >= 1 && p->cmdline_max <= BOOT_CMDLINE_MAX);
	CHECK(p->initrd_size == 0 && p->initrd_addr == 0);
}

static void fuzz_boot(struct fuzz_ctx *c, struct boot_plan *p)
{
	uint64_t top = p->initrd_max < c->mem.low_size ? p->initrd_max : c->mem.low_size;
	int r;

	r = boot_place_initrd(&c->mem, p, c->initrd, sizeof(c->initrd));
	if (r == 0) {
		CHECK(p->initrd_size == sizeof(c->initrd));
		CHECK((p->initrd_addr & (FUZZ_PAGE - 1)) == 0);
		CHECK(p->initrd_addr >= p->kernel_end && p->initrd_addr >= BOOT_HIMEM);
		CHECK(p->initrd_addr + p->initrd_size <= top);
		CHECK(memcmp(c->ram + p->initrd_addr, c->initrd, sizeof(c->initrd)) == 0);
	} else {
		CHECK(r == -E2BIG);
		CHECK(p->initrd_size == 0);
	}

	/* As cellvm-core does when getrandom() works. */
	memset(p->rng_seed, 0x5e, sizeof(p->rng_seed));
	p->has_rng_seed = 1;
	r = boot_write_info(&c->mem, p, CMDLINE, &c->map);
	if (r < 0) {
		CHECK(r == -E2BIG && sizeof(CMDLINE) > p->cmdline_max);
		return;
	}
	CHECK(memcmp(c->ram + BOOT_CMDLINE_ADDR, CMDLINE, sizeof(CMDLINE)) == 0);
	if (p->protocol == BOOT_PVH) {
		uint32_t magic;
		memcpy(&magic, c->ram + BOOT_PVH_INFO_ADDR, 4);
		CHECK(magic == 0x336ec578);
	} else {
		const struct boot_params *bp = (const void *)(c->ram + BOOT_ZERO_PAGE_ADDR);
		CHECK(bp->hdr.type_of_loader == 0xff);
		CHECK(bp->hdr.cmd_line_ptr == BOOT_CMDLINE_ADDR);
		CHECK(bp->hdr.setup_data == BOOT_SETUP_DATA_ADDR);
	}
}

/* The same bytes as a kernel for a firmware (fw_cfg's kernel items): split
 * and patched in a buffer of ours, nothing written to guest RAM. */
static void fuzz_fw_cfg(const struct fuzz_ctx *c, const uint8_t *data, size_t size)
{
	static uint8_t setup[BOOT_FW_SETUP_CAP];
	struct fw_cfg_kernel k;
	int r;

	r = loader_bzimage_fw_cfg(data, size, sizeof(c->initrd), c->mem.low_size, CMDLINE, setup,
				  sizeof(setup), &k);
	if (r < 0) {
		CHECK(r == -ENOEXEC || r == -EINVAL || r == -EMSGSIZE || r == -E2BIG);
		return;
	}
	CHECK(r == 0);
	CHECK(k.setup == setup && k.setup_size % 512 == 0 && k.setup_size <= sizeof(setup));
	CHECK(k.kernel == data + k.setup_size && (size_t)k.setup_size + k.kernel_size == size);
	CHECK(memcmp(setup, data, 0x1f1) == 0);
	CHECK(k.initrd_size == sizeof(c->initrd) && (k.initrd_addr & (FUZZ_PAGE - 1)) == 0);
	CHECK(k.initrd_addr >= k.kernel_addr + k.kernel_size);
	CHECK((uint64_t)k.initrd_addr + k.initrd_size < c->mem.low_size);
	CHECK(strcmp(k.cmdline, CMDLINE) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx *c = fuzz_ctx_get();
	struct boot_plan plan;
	int r;

	fuzz_fw_cfg(c, data, size);
	memset(&plan, 0, sizeof(plan));
	r = loader_load(data, size, &c->mem, &plan);
	if (r < 0) {
		CHECK(r == -ENOEXEC || r == -EINVAL || r == -E2BIG);
		fuzz_check_untouched(c);
		return 0;
	}
	CHECK(r == 0);
	fuzz_check_plan(c, &plan);
	fuzz_boot(c, &plan);
	/* Fresh zero RAM for the next input: runs stay independent. */
	CHECK(madvise(c->ram, FUZZ_RAM, MADV_DONTNEED) == 0);
	return 0;
}
