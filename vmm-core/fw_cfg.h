/* QEMU's firmware configuration device (fw_cfg) on the x86 I/O ports
 * 0x510-0x51b, so that SeaBIOS and OVMF find what they look for on QEMU:
 * the item interface (selector and data ports) and the DMA interface.
 * A pure device model: no KVM, no logging. Runs in cellvm-core; vCPU threads
 * call fw_cfg_pio, under one mutex. The port accesses and every field of a
 * DMA descriptor in guest RAM are untrusted (guest).
 *
 * Behaviour, following QEMU's hw/nvram/fw_cfg.c and docs/specs/fw_cfg.rst:
 * - selector: a 16-bit write to 0x510; bit 15 picks the arch-local items,
 *   bit 14 (the old write channel) is ignored; any write resets the offset.
 * - data: reads at 0x511 return the next bytes of the item (one per byte
 *   read: width 1, 2 or 4) and past its end 0 without advancing; a read at
 *   0x510 returns one data byte, as QEMU's combined port does. Writes to the
 *   data port are ignored (as QEMU since 2.4).
 * - DMA address (0x514-0x51b, big-endian): a 32-bit write at 0x514 sets the
 *   high half and clears the low one, a 32-bit write at 0x518 ORs the low
 *   half and starts the transfer, a 64-bit write at 0x514 does both (only
 *   possible through MMIO). Reads give "QEMU CFG". Other accesses are
 *   ignored.
 * - A transfer reads the 16-byte descriptor {control, length, address}
 *   (big-endian) once, then: SELECT (bit 3) selects control >> 16; READ
 *   (bit 1) copies length bytes of the item at the current offset to
 *   address, zero-filling past the item's end as QEMU does; else WRITE
 *   (bit 4) is refused with ERROR (no item is writable); else SKIP (bit 2)
 *   moves the offset by length, at most to the item's end; with none of
 *   them the transfer only selects. An unknown selector reads as an empty
 *   item: a READ gets zeros, a SKIP does nothing, as in QEMU. The device
 *   then writes control back: 0 on success, ERROR (bit 0) on failure.
 * - Where this model is stricter than QEMU (all ERROR, nothing written,
 *   offset unchanged): a destination range that is not wholly guest RAM (a
 *   range spanning the MMIO hole included), and a READ that would
 *   zero-fill more than FW_CFG_DMA_PAD_MAX bytes past the item's end, so a
 *   huge length costs no more than copying the item. A descriptor that is
 *   not wholly in guest RAM is ignored: there is nowhere to report to. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/gmem.h"
#include "vmm-core/e820.h"

#define FW_CFG_PORT_SEL	 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA	 0x514 /* 8 ports: 0x514-0x51b */

/* Selector keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE      0x00
#define FW_CFG_ID	      0x01
#define FW_CFG_UUID	      0x02
#define FW_CFG_RAM_SIZE	      0x03
#define FW_CFG_NOGRAPHIC      0x04
#define FW_CFG_NB_CPUS	      0x05
#define FW_CFG_MACHINE_ID     0x06
#define FW_CFG_KERNEL_ADDR    0x07
#define FW_CFG_KERNEL_SIZE    0x08
#define FW_CFG_KERNEL_CMDLINE 0x09
#define FW_CFG_INITRD_ADDR    0x0a
#define FW_CFG_INITRD_SIZE    0x0b
#define FW_CFG_BOOT_DEVICE    0x0c
#define FW_CFG_NUMA	      0x0d
#define FW_CFG_BOOT_MENU      0x0e
#define FW_CFG_MAX_CPUS	      0x0f
#define FW_CFG_KERNEL_ENTRY   0x10
#define FW_CFG_KERNEL_DATA    0x11
#define FW_CFG_INITRD_DATA    0x12
#define FW_CFG_CMDLINE_ADDR   0x13
#define FW_CFG_CMDLINE_SIZE   0x14
#define FW_CFG_CMDLINE_DATA   0x15
#define FW_CFG_SETUP_ADDR     0x16
#define FW_CFG_SETUP_SIZE     0x17
#define FW_CFG_SETUP_DATA     0x18
#define FW_CFG_FILE_DIR	      0x19
#define FW_CFG_FILE_FIRST     0x20
#define FW_CFG_WRITE_CHANNEL  0x4000
#define FW_CFG_ARCH_LOCAL     0x8000
#define FW_CFG_ENTRY_MASK     0x3fff

#define FW_CFG_ID_TRADITIONAL 0x01
#define FW_CFG_ID_DMA	      0x02

#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10

#define FW_CFG_DMA_SIGNATURE 0x51454d5520434647ULL /* "QEMU CFG" */
#define FW_CFG_DMA_PAD_MAX   (1U << 20)

#define FW_CFG_MAX_FILE_PATH 56 /* a file name with its NUL */
#define FW_CFG_MAX_FILES     64
#define FW_CFG_DIR_ENTRY     64 /* size BE32, select BE16, reserved, name[56] */
#define FW_CFG_E820_ENTRY    20 /* LE: u64 address, u64 length, u32 type */

struct fw_cfg_item {
	uint8_t *data; /* the device's own copy; NULL when empty */
	uint32_t len;
};

struct fw_cfg_file {
	char name[FW_CFG_MAX_FILE_PATH];
	struct fw_cfg_item item;
};

struct fw_cfg {
	pthread_mutex_t lock;
	const struct gmem *mem;
	struct fw_cfg_item std[FW_CFG_FILE_FIRST];  /* keys 0x00-0x1f */
	struct fw_cfg_item arch[FW_CFG_FILE_FIRST]; /* keys 0x8000-0x801f */
	struct fw_cfg_file files[FW_CFG_MAX_FILES]; /* sorted by name */
	uint32_t nfiles;
	uint16_t key; /* as the guest selected it */
	uint32_t off;
	uint64_t dma_addr;
};

/* What the direct kernel boot items hold (QEMU's x86_load_linux gives
 * the same: the bzImage split into its real-mode setup and protected-mode
 * parts, and where the firmware's loader is to put each). The caller
 * splits and patches the image; a NULL pointer with size 0 leaves that part
 * out. cmdline is NUL-terminated; CMDLINE_SIZE counts the NUL, as QEMU. */
struct fw_cfg_kernel {
	uint32_t kernel_addr, setup_addr, initrd_addr, cmdline_addr;
	const void *kernel, *setup, *initrd;
	uint32_t kernel_size, setup_size, initrd_size;
	const char *cmdline;
};

/* Set up the device over guest RAM mem (kept, not owned; DMA uses it) with
 * the items QEMU always has: SIGNATURE "QEMU", ID (traditional and DMA),
 * an empty FILE_DIR, NB_CPUS and MAX_CPUS = ncpus (16-bit LE), RAM_SIZE =
 * mem->size (64-bit LE), NOGRAPHIC and BOOT_MENU (16-bit LE, the menu off:
 * SeaBIOS then boots without waiting for a key). Returns 0 or -ENOMEM,
 * -EINVAL; fw_cfg_destroy is safe after a failure. */
int fw_cfg_init(struct fw_cfg *fw, const struct gmem *mem, uint16_t ncpus, bool nographic);
/* Frees every item. */
void fw_cfg_destroy(struct fw_cfg *fw);

/* Set item key (0x00-0x1f, or 0x8000-0x801f) to a copy of len bytes,
 * replacing what it held; len 0 empties it. FILE_DIR is the device's own.
 * Returns 0, -EINVAL or -ENOMEM. */
int fw_cfg_add_bytes(struct fw_cfg *fw, uint16_t key, const void *data, uint32_t len);
int fw_cfg_add_u16(struct fw_cfg *fw, uint16_t key, uint16_t v); /* little-endian */
int fw_cfg_add_u32(struct fw_cfg *fw, uint16_t key, uint32_t v);
int fw_cfg_add_u64(struct fw_cfg *fw, uint16_t key, uint64_t v);

/* Add a named file (a copy of len bytes). Files take the selectors from
 * FW_CFG_FILE_FIRST in name order (strcmp), as QEMU numbers them, so a
 * file's selector may change while files are added: look it up with
 * fw_cfg_file_select afterwards. Returns 0, -EINVAL (empty name or one of
 * FW_CFG_MAX_FILE_PATH bytes or more), -EEXIST, -ENOSPC or -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len);
/* The selector of file name, or -ENOENT. */
int fw_cfg_file_select(struct fw_cfg *fw, const char *name);

/* The KERNEL_*, SETUP_*, INITRD_* and CMDLINE_* items from k. Returns 0,
 * -EINVAL or -ENOMEM. */
int fw_cfg_set_kernel(struct fw_cfg *fw, const struct fw_cfg_kernel *k);

/* The file "etc/e820" from map: one FW_CFG_E820_ENTRY per entry, as QEMU
 * writes it and SeaBIOS (qemu_early_e820) and OVMF read it. Returns what
 * fw_cfg_add_file returns. */
int fw_cfg_add_e820(struct fw_cfg *fw, const struct e820_map *map);

/* The file "bootorder": the n OpenFirmware paths, each ended by '\n', and
 * a final NUL, as QEMU's get_boot_devices_list writes it. */
int fw_cfg_add_bootorder(struct fw_cfg *fw, const char *const *paths, uint32_t n);

/* The OpenFirmware path of a virtio-blk PCI disk in slot (1-31) of bus 0:
 * "/pci@i0cf8/scsi@<slot in hex>/disk@0,0", QEMU's form for virtio-blk-pci.
 * OVMF translates exactly that shape (QemuBootOrderLib.c, TranslatePciOfwNodes:
 * "scsi" then "disk" is a virtio-blk disk, PciRoot(0x0)/Pci(slot,0));
 * SeaBIOS matches it by the prefix its build_pci_path makes for the PCI
 * device, "/pci@i0cf8/", any node name, "@<slot>" (src/boot.c, bootprio_find_pci_device).
 * Returns the length written, or -EINVAL (slot) / -ENOSPC (size). */
int fw_cfg_bootpath_virtio_blk(char *buf, size_t size, uint32_t slot);

/* A guest access to port (size 1, 2, 4 or 8 bytes at data). Returns false
 * when the port is not fw_cfg's (the caller goes on looking). */
bool fw_cfg_pio(struct fw_cfg *fw, uint16_t port, uint8_t *data, uint32_t size, bool is_write);
