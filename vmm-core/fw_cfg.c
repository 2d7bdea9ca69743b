/* QEMU-compatible fw_cfg device model; see fw_cfg.h. Item data are the
 * device's own copies; guest RAM is reached only through gmem_ptr. */
#include "vmm-core/fw_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_le(uint8_t *p, uint64_t v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int item_set(struct fw_cfg_item *it, const void *data, uint32_t len)
{
	uint8_t *copy = NULL;

	if (len) {
		if (!data)
			return -EINVAL;
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	free(it->data);
	it->data = copy;
	it->len = len;
	return 0;
}

/* FILE_DIR from the file table; called with the lock held. */
static int fw_cfg_build_dir(struct fw_cfg *fw)
{
	uint32_t len = 4 + fw->nfiles * FW_CFG_DIR_ENTRY;
	uint8_t *dir = calloc(1, len);
	int r;

	if (!dir)
		return -ENOMEM;
	put_be32(dir, fw->nfiles);
	for (uint32_t i = 0; i < fw->nfiles; i++) {
		uint8_t *e = dir + 4 + i * FW_CFG_DIR_ENTRY;
		uint16_t sel = (uint16_t)(FW_CFG_FILE_FIRST + i);

		put_be32(e, fw->files[i].item.len);
		e[4] = (uint8_t)(sel >> 8);
		e[5] = (uint8_t)sel;
		memcpy(e + 8, fw->files[i].name, sizeof(fw->files[i].name));
	}
	r = item_set(&fw->std[FW_CFG_FILE_DIR], dir, len);
	free(dir);
	return r;
}

int fw_cfg_init(struct fw_cfg *fw, const struct gmem *mem, uint16_t ncpus, bool nographic)
{
	static const uint8_t sig[4] = {'Q', 'E', 'M', 'U'};
	int r;

	memset(fw, 0, sizeof(*fw));
	pthread_mutex_init(&fw->lock, NULL);
	fw->mem = mem;
	if (!mem || ncpus == 0)
		return -EINVAL;
	r = fw_cfg_add_bytes(fw, FW_CFG_SIGNATURE, sig, sizeof(sig));
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_ID, FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA);
	if (r >= 0)
		r = fw_cfg_add_u16(fw, FW_CFG_NB_CPUS, ncpus);
	if (r >= 0)
		r = fw_cfg_add_u16(fw, FW_CFG_MAX_CPUS, ncpus);
	if (r >= 0)
		r = fw_cfg_add_u64(fw, FW_CFG_RAM_SIZE, mem->size);
	if (r >= 0)
		r = fw_cfg_add_u16(fw, FW_CFG_NOGRAPHIC, nographic ? 1 : 0);
	if (r >= 0)
		r = fw_cfg_add_u16(fw, FW_CFG_BOOT_MENU, 0);
	if (r >= 0) {
		pthread_mutex_lock(&fw->lock);
		r = fw_cfg_build_dir(fw);
		pthread_mutex_unlock(&fw->lock);
	}
	return r;
}

void fw_cfg_destroy(struct fw_cfg *fw)
{
	for (uint32_t i = 0; i < FW_CFG_FILE_FIRST; i++) {
		free(fw->std[i].data);
		free(fw->arch[i].data);
	}
	for (uint32_t i = 0; i < fw->nfiles; i++)
		free(fw->files[i].item.data);
	memset(fw->std, 0, sizeof(fw->std));
	memset(fw->arch, 0, sizeof(fw->arch));
	fw->nfiles = 0;
	pthread_mutex_destroy(&fw->lock);
}

int fw_cfg_add_bytes(struct fw_cfg *fw, uint16_t key, const void *data, uint32_t len)
{
	uint16_t idx = key & FW_CFG_ENTRY_MASK;
	struct fw_cfg_item *it;
	int r;

	if ((key & FW_CFG_WRITE_CHANNEL) || idx >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR)
		return -EINVAL;
	it = (key & FW_CFG_ARCH_LOCAL) ? &fw->arch[idx] : &fw->std[idx];
	pthread_mutex_lock(&fw->lock);
	r = item_set(it, data, len);
	pthread_mutex_unlock(&fw->lock);
	return r;
}

int fw_cfg_add_u16(struct fw_cfg *fw, uint16_t key, uint16_t v)
{
	uint8_t b[2];

	put_le(b, v, sizeof(b));
	return fw_cfg_add_bytes(fw, key, b, sizeof(b));
}

int fw_cfg_add_u32(struct fw_cfg *fw, uint16_t key, uint32_t v)
{
	uint8_t b[4];

	put_le(b, v, sizeof(b));
	return fw_cfg_add_bytes(fw, key, b, sizeof(b));
}

int fw_cfg_add_u64(struct fw_cfg *fw, uint16_t key, uint64_t v)
{
	uint8_t b[8];

	put_le(b, v, sizeof(b));
	return fw_cfg_add_bytes(fw, key, b, sizeof(b));
}

int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len)
{
	struct fw_cfg_file f = {0};
	size_t nlen = name ? strnlen(name, FW_CFG_MAX_FILE_PATH) : 0;
	uint32_t i;
	int r;

	if (nlen == 0 || nlen >= FW_CFG_MAX_FILE_PATH)
		return -EINVAL;
	memcpy(f.name, name, nlen);
	r = item_set(&f.item, data, len);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fw->lock);
	r = fw->nfiles >= FW_CFG_MAX_FILES ? -ENOSPC : 0;
	for (i = 0; r == 0 && i < fw->nfiles; i++) {
		int c = strcmp(f.name, fw->files[i].name);
		if (c == 0)
			r = -EEXIST;
		if (c <= 0)
			break;
	}
	if (r == 0) {
		memmove(&fw->files[i + 1], &fw->files[i], (fw->nfiles - i) * sizeof(f));
		fw->files[i] = f;
		fw->nfiles++;
		r = fw_cfg_build_dir(fw);
		if (r < 0) {
			memmove(&fw->files[i], &fw->files[i + 1], (fw->nfiles - i - 1) * sizeof(f));
			fw->nfiles--;
		}
	}
	pthread_mutex_unlock(&fw->lock);
	if (r < 0)
		free(f.item.data);
	return r;
}

int fw_cfg_file_select(struct fw_cfg *fw, const char *name)
{
	int r = -ENOENT;

	pthread_mutex_lock(&fw->lock);
	for (uint32_t i = 0; i < fw->nfiles; i++) {
		if (strncmp(fw->files[i].name, name, FW_CFG_MAX_FILE_PATH) == 0) {
			r = (int)(FW_CFG_FILE_FIRST + i);
			break;
		}
	}
	pthread_mutex_unlock(&fw->lock);
	return r;
}

int fw_cfg_set_kernel(struct fw_cfg *fw, const struct fw_cfg_kernel *k)
{
	size_t cl = k->cmdline ? strlen(k->cmdline) + 1 : 0;
	int r;

	if (cl > UINT32_MAX || (k->kernel_size && !k->kernel) || (k->setup_size && !k->setup) ||
	    (k->initrd_size && !k->initrd))
		return -EINVAL;
	r = fw_cfg_add_u32(fw, FW_CFG_KERNEL_ADDR, k->kernel_addr);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_KERNEL_SIZE, k->kernel_size);
	if (r >= 0)
		r = fw_cfg_add_bytes(fw, FW_CFG_KERNEL_DATA, k->kernel, k->kernel_size);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_SETUP_ADDR, k->setup_addr);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_SETUP_SIZE, k->setup_size);
	if (r >= 0)
		r = fw_cfg_add_bytes(fw, FW_CFG_SETUP_DATA, k->setup, k->setup_size);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_INITRD_ADDR, k->initrd_addr);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_INITRD_SIZE, k->initrd_size);
	if (r >= 0)
		r = fw_cfg_add_bytes(fw, FW_CFG_INITRD_DATA, k->initrd, k->initrd_size);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_CMDLINE_ADDR, k->cmdline_addr);
	if (r >= 0)
		r = fw_cfg_add_u32(fw, FW_CFG_CMDLINE_SIZE, (uint32_t)cl);
	if (r >= 0)
		r = fw_cfg_add_bytes(fw, FW_CFG_CMDLINE_DATA, k->cmdline, (uint32_t)cl);
	return r;
}

int fw_cfg_add_e820(struct fw_cfg *fw, const struct e820_map *map)
{
	uint8_t buf[E820_MAX * FW_CFG_E820_ENTRY];

	if (map->n > E820_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < map->n; i++) {
		uint8_t *e = buf + i * FW_CFG_E820_ENTRY;

		put_le(e, map->e[i].addr, 8);
		put_le(e + 8, map->e[i].size, 8);
		put_le(e + 16, map->e[i].type, 4);
	}
	return fw_cfg_add_file(fw, "etc/e820", buf, map->n * FW_CFG_E820_ENTRY);
}

int fw_cfg_add_bootorder(struct fw_cfg *fw, const char *const *paths, uint32_t n)
{
	size_t len = 1;
	char *buf, *p;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		len += strlen(paths[i]) + 1;
		if (len > UINT32_MAX)
			return -EINVAL;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	p = buf;
	for (uint32_t i = 0; i < n; i++) {
		size_t l = strlen(paths[i]);

		memcpy(p, paths[i], l);
		p[l] = '\n';
		p += l + 1;
	}
	*p = 0;
	r = fw_cfg_add_file(fw, "bootorder", buf, (uint32_t)len);
	free(buf);
	return r;
}

int fw_cfg_bootpath_virtio_blk(char *buf, size_t size, uint32_t slot)
{
	int n;

	if (slot == 0 || slot > 31)
		return -EINVAL;
	n = snprintf(buf, size, "/pci@i0cf8/scsi@%x/disk@0,0", slot);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

/* The selected item, or NULL for a selector that has none. */
static const struct fw_cfg_item *fw_cfg_cur(const struct fw_cfg *fw)
{
	uint16_t idx = fw->key & FW_CFG_ENTRY_MASK;

	if (fw->key & FW_CFG_ARCH_LOCAL)
		return idx < FW_CFG_FILE_FIRST ? &fw->arch[idx] : NULL;
	if (idx < FW_CFG_FILE_FIRST)
		return &fw->std[idx];
	if ((uint32_t)(idx - FW_CFG_FILE_FIRST) < fw->nfiles)
		return &fw->files[idx - FW_CFG_FILE_FIRST].item;
	return NULL;
}

/* Bytes of the selected item left from the offset. */
static uint32_t fw_cfg_left(const struct fw_cfg *fw)
{
	const struct fw_cfg_item *it = fw_cfg_cur(fw);

	return it && fw->off < it->len ? it->len - fw->off : 0;
}

static void fw_cfg_select(struct fw_cfg *fw, uint16_t key)
{
	fw->key = key;
	fw->off = 0;
}

static uint8_t fw_cfg_read_byte(struct fw_cfg *fw)
{
	if (!fw_cfg_left(fw))
		return 0;
	return fw_cfg_cur(fw)->data[fw->off++];
}

/* One transfer, from the descriptor's fields; returns the control word to
 * write back. */
static uint32_t fw_cfg_dma_run(struct fw_cfg *fw, uint32_t control, uint32_t length, uint64_t addr)
{
	uint32_t left, n;
	uint8_t *dst;

	if (control & FW_CFG_DMA_CTL_SELECT)
		fw_cfg_select(fw, (uint16_t)(control >> 16));
	left = fw_cfg_left(fw);
	n = length < left ? length : left;
	if (control & FW_CFG_DMA_CTL_READ) {
		/* UNTRUSTED(guest): address and length; the whole destination
		 * must be RAM, and the zero fill past the item is bounded. */
		if (length - n > FW_CFG_DMA_PAD_MAX)
			return FW_CFG_DMA_CTL_ERROR;
		dst = length ? gmem_ptr(fw->mem, addr, length) : NULL;
		if (length && !dst)
			return FW_CFG_DMA_CTL_ERROR;
		if (n)
			memcpy(dst, fw_cfg_cur(fw)->data + fw->off, n);
		if (length > n)
			memset(dst + n, 0, length - n);
		fw->off += n;
		return 0;
	}
	if (control & FW_CFG_DMA_CTL_WRITE)
		return FW_CFG_DMA_CTL_ERROR; /* no item is writable */
	if (control & FW_CFG_DMA_CTL_SKIP)
		fw->off += n;
	return 0;
}

static void fw_cfg_dma(struct fw_cfg *fw, uint64_t desc_gpa)
{
	uint8_t *desc = gmem_ptr(fw->mem, desc_gpa, 16);
	uint8_t d[16];
	uint32_t result;

	/* UNTRUSTED(guest): the descriptor, read once (another vCPU may be
	 * changing it); outside RAM there is nowhere to put a result. */
	if (!desc)
		return;
	memcpy(d, desc, sizeof(d));
	result = fw_cfg_dma_run(fw, get_be32(d), get_be32(d + 4),
				(uint64_t)get_be32(d + 8) << 32 | get_be32(d + 12));
	put_be32(desc, result);
}

static void fw_cfg_dma_pio(struct fw_cfg *fw, uint16_t off, uint8_t *data, uint32_t size,
			   bool is_write)
{
	uint64_t v = 0;

	if (!is_write) {
		for (uint32_t i = 0; i < size; i++)
			data[i] = off + i < 8
					  ? (uint8_t)(FW_CFG_DMA_SIGNATURE >> (56 - 8 * (off + i)))
					  : 0xff;
		return;
	}
	/* The register is big-endian: the first byte is the most significant. */
	for (uint32_t i = 0; i < size; i++)
		v = v << 8 | data[i];
	if (size == 4 && off == 0) {
		fw->dma_addr = v << 32;
	} else if (size == 4 && off == 4) {
		fw->dma_addr |= v;
		fw_cfg_dma(fw, fw->dma_addr);
		fw->dma_addr = 0;
	} else if (size == 8 && off == 0) {
		fw_cfg_dma(fw, v);
		fw->dma_addr = 0;
	}
}

bool fw_cfg_pio(struct fw_cfg *fw, uint16_t port, uint8_t *data, uint32_t size, bool is_write)
{
	/* UNTRUSTED(guest): port, size and value; what the spec and QEMU do
	 * not define is ignored (writes) or reads as documented in fw_cfg.h. */
	if (port != FW_CFG_PORT_SEL && port != FW_CFG_PORT_DATA &&
	    (port < FW_CFG_PORT_DMA || port >= FW_CFG_PORT_DMA + 8))
		return false;
	if (size == 0 || size > 8)
		return true;
	pthread_mutex_lock(&fw->lock);
	if (port >= FW_CFG_PORT_DMA) {
		fw_cfg_dma_pio(fw, (uint16_t)(port - FW_CFG_PORT_DMA), data, size, is_write);
	} else if (is_write) {
		if (port == FW_CFG_PORT_SEL && size == 2)
			fw_cfg_select(fw, (uint16_t)(data[0] | data[1] << 8));
	} else if (port == FW_CFG_PORT_SEL) {
		memset(data, 0, size);
		data[0] = fw_cfg_read_byte(fw);
	} else {
		for (uint32_t i = 0; i < size; i++)
			data[i] = fw_cfg_read_byte(fw);
	}
	pthread_mutex_unlock(&fw->lock);
	return true;
}
