/* Firmware boot in cellvm-core: the image (SeaBIOS, OVMF) is mapped read-only
 * to end at 4 GiB, where the reset vector is, and its last 128 KiB are copied
 * to 0xe0000-0xfffff, the legacy BIOS area a PC decodes from the same ROM.
 * The core never parses the image: it checks the size and maps the bytes;
 * what they do is guest code, run by the vCPUs like any other. */
#include "vmm-core/firmware.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm-core/vm.h"

#define FW_ROM_SLOT  2		/* after low and high RAM */
#define FW_LOW_ALIAS 0xe0000ULL /* the ISA BIOS window, up to 1 MiB */
#define FW_LOW_LEN   0x20000ULL
#define FW_TOP	     0x100000000ULL

int firmware_check_size(uint64_t size)
{
	/* UNTRUSTED(user): any file. A ROM is whole pages (a KVM slot), at
	 * least the 64 KiB of the real-mode segment the reset vector is in,
	 * and must end at 4 GiB without reaching the IOAPIC and LAPIC. */
	if (size < FIRMWARE_MIN_SIZE || size > FIRMWARE_MAX_SIZE || (size & 0xfff))
		return -EINVAL;
	return 0;
}

int firmware_map(struct vm *vm, int fd)
{
	struct kvm_userspace_memory_region r = {0};
	struct stat st;
	uint8_t *low;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (firmware_check_size((uint64_t)st.st_size) < 0)
		return -EFBIG;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
		return -EOPNOTSUPP;
	/* A copy in anonymous memory, not a mapping of the file: a file
	 * truncated under a mapping would fault the core (SIGBUS), and a later
	 * change to it must not reach a running guest. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED)
		return -errno;
	vm->rom = p;
	vm->rom_len = (size_t)st.st_size;
	for (size_t got = 0; got < vm->rom_len;) {
		ssize_t n = pread(fd, (uint8_t *)p + got, vm->rom_len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EFBIG; /* shrank while read */
		got += (size_t)n;
	}
	if (mprotect(p, vm->rom_len, PROT_READ) < 0)
		return -errno;
	/* Guest writes to the ROM exit as MMIO and are dropped (vm_mmio). */
	r.slot = FW_ROM_SLOT;
	r.flags = KVM_MEM_READONLY;
	r.guest_phys_addr = FW_TOP - vm->rom_len;
	r.memory_size = vm->rom_len;
	r.userspace_addr = (uint64_t)(uintptr_t)vm->rom;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	/* The legacy window is RAM (as a BIOS's shadow RAM is after POST):
	 * SeaBIOS writes its data there without having to unlock it. */
	low = gmem_ptr(&vm->mem, FW_LOW_ALIAS, FW_LOW_LEN);
	if (!low)
		return -E2BIG;
	if (vm->rom_len >= FW_LOW_LEN)
		memcpy(low, vm->rom + vm->rom_len - FW_LOW_LEN, FW_LOW_LEN);
	else
		memcpy(low + FW_LOW_LEN - vm->rom_len, vm->rom, vm->rom_len);
	vm->firmware = true;
	return 0;
}
