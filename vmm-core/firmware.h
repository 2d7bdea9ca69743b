/* Booting a firmware image (SeaBIOS, OVMF) instead of a kernel: see
 * firmware.c. The tables and the boot order reach the firmware through
 * fw_cfg (fw_cfg.c); the disk is the firmware's to find. */
#pragma once
#include <stdint.h>

struct vm;

/* Sizes a ROM may have: 64 KiB to 16 MiB, whole pages (it ends at 4 GiB,
 * well above the IOAPIC and LAPIC pages at 0xfec00000 and 0xfee00000). */
#define FIRMWARE_MIN_SIZE (64ULL << 10)
#define FIRMWARE_MAX_SIZE (16ULL << 20)

/* 0 when a file of size bytes can be a ROM, else -EINVAL. */
int firmware_check_size(uint64_t size);

/* Before the sandbox, after vm_create: map the image in fd read-only at the
 * top of 4 GiB (a KVM read-only slot) and copy its last 128 KiB to
 * 0xe0000. Sets vm->firmware: the boot vCPU is left at the reset vector.
 * Returns 0, -EFBIG (not a size a ROM can have), -EOPNOTSUPP (no
 * read-only memory in this KVM) or another -errno. vm_destroy unmaps it. */
int firmware_map(struct vm *vm, int fd);
