/* The KVM VM of cellvm-core: memory slots over the guest memfd, in-kernel
 * irqchip and PIT, the port-I/O map of the core's own devices, and stopping. */
#include "vmm-core/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "common/log.h"
#include "proto/vm_channel.h"
#include "vmm-core/acpi.h"

/* Below the firmware's ROM, which ends at 4 GiB (where QEMU puts them). */
#define KVM_TSS_ADDR	      0xfeffd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL

#define PORT_A20      0x92
#define PORT_DEBUGCON 0x402

static void vm_serial_irq(void *opaque, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level l = {.irq = SERIAL_COM1_IRQ, .level = (uint32_t)level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_warn("serial irq: %s", strerror(errno));
}

/* The ACPI SCI: a level line (IRQ 9, level-triggered in the MADT). */
static void vm_sci_irq(void *opaque, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level l = {.irq = ACPI_SCI_IRQ, .level = (uint32_t)level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_warn("ACPI SCI: %s", strerror(errno));
}

static void vm_serial_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct vm *vm = opaque;

	/* The launcher reads the console; if it is gone the VM is ending anyway. */
	(void)fd_write_all(vm->console_fd, buf, len);
}

static int vm_add_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {.slot = slot,
						.guest_phys_addr = gpa,
						.memory_size = size,
						.userspace_addr = (uint64_t)(uintptr_t)host};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

int vm_create(struct vm *vm, int kvm_fd, int mem_fd, uint64_t mem_size, uint32_t ncpus,
	      int console_fd)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	void *host;
	int r;

	memset(vm, 0, sizeof(*vm));
	for (uint32_t i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	vm->kvm_fd = kvm_fd;
	vm->mem_fd = mem_fd;
	vm->console_fd = console_fd;
	vm->vm_fd = -1;
	vm->stop_efd = -1;
	vm->pause_efd = -1;
	vm->ncpus = ncpus;
	atomic_store(&vm->exit_reason, VM_EXIT_RUNNING);
	pthread_mutex_init(&vm->i8042_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	i8042_init(&vm->i8042);
	ps2_link_init(&vm->ps2);
	xhci_pci_init(&vm->xhci);
	pci_bus_init(&vm->pci);
	serial_init(&vm->serial, vm_serial_irq, vm_serial_out, vm);
	acpi_pm_init(&vm->pm, true, vm_sci_irq, vm);

	if (ncpus == 0 || ncpus > VM_MAX_CPUS)
		return -EINVAL;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return -errno;
	vm->pause_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->pause_efd < 0)
		return -errno;
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -ENOTSUP;
	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	host = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem_fd, 0);
	if (host == MAP_FAILED)
		return -errno;
	r = gmem_init(&vm->mem, host, mem_size);
	if (r < 0) {
		munmap(host, mem_size);
		return r;
	}
	cmos_init(&vm->cmos, &vm->mem, ncpus);
	vm->has_cmos = true;
	/* The mapping is all the core needs of the memfd. */
	close(vm->mem_fd);
	vm->mem_fd = -1;
	/* Intel needs these two pages reserved in the MMIO hole; harmless elsewhere. */
	(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
	{
		uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
		(void)ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	r = irq_routes_init(&vm->routes, vm->vm_fd);
	if (r < 0)
		return r;
	/* The test kernel's timers stall without the in-kernel PIT. */
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;
	r = vm_add_slot(vm, 0, 0, vm->mem.low_size, vm->mem.host);
	if (r < 0)
		return r;
	if (vm->mem.size > vm->mem.low_size) {
		r = vm_add_slot(vm, 1, GMEM_HIGH_START, vm->mem.size - vm->mem.low_size,
				vm->mem.host + vm->mem.low_size);
		if (r < 0)
			return r;
	}
	return cpuid_get_supported(kvm_fd, &vm->cpuid);
}

int vm_setup_vcpus(struct vm *vm)
{
	for (uint32_t i = 0; i < vm->ncpus; i++) {
		int r = vcpu_init(vm, &vm->vcpus[i], i);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_start(struct vm *vm)
{
	for (uint32_t i = 0; i < vm->ncpus; i++) {
		int r = vcpu_start(&vm->vcpus[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_exit why, const char *detail)
{
	int expected = VM_EXIT_RUNNING;
	uint64_t one = 1;

	/* A reset right after "Kernel panic" on the console is the kernel's
	 * reboot-after-panic (panic=N): report the panic. */
	if (why == VM_EXIT_REBOOT && serial_panic_seen(&vm->serial))
		why = VM_EXIT_PANIC;

	if (!atomic_compare_exchange_strong(&vm->exit_reason, &expected, (int)why))
		return;
	snprintf(vm->exit_detail, sizeof(vm->exit_detail), "%s", detail ? detail : "");
	(void)!write(vm->stop_efd, &one, sizeof(one));
}

void vm_check_halted(struct vm *vm)
{
	bool dead = false, halted = true;

	for (uint32_t i = 0; i < vm->ncpus; i++) {
		enum vcpu_halt h = (enum vcpu_halt)atomic_load(&vm->vcpus[i].halt_state);
		dead |= h == VCPU_HALT_DEAD;
		halted &= h == VCPU_HALT_DEAD || h == VCPU_HALT_PARKED;
	}
	/* Two rounds: the probes of one round are not taken at one instant, and
	 * a vCPU still running during the round could have woken another. */
	vm->halt_rounds = dead && halted ? vm->halt_rounds + 1 : 0;
	if (vm->halt_rounds >= 2) {
		vm_request_stop(vm, VM_EXIT_HALT, "every vCPU halted with interrupts disabled");
		return;
	}
	for (uint32_t i = 0; i < vm->ncpus; i++) {
		atomic_store(&vm->vcpus[i].halt_state, VCPU_HALT_UNKNOWN);
		vcpu_probe(&vm->vcpus[i]);
	}
}

int vm_send_device_faults(struct vm *vm, int chan)
{
	static const struct {
		Cellvm__Vm__DeviceFaultReason reason;
		const char *detail;
	} why[] = {
		[VDEV_FAULT_RESET_TIMEOUT] = {CELLVM__VM__DEVICE_FAULT_REASON__FAULT_RESET_TIMEOUT,
					      "did not finish the guest's reset"},
		[VDEV_FAULT_PROTOCOL] = {CELLVM__VM__DEVICE_FAULT_REASON__FAULT_PROTOCOL,
					 "broke the link protocol"},
		[VDEV_FAULT_LINK_LOST] = {CELLVM__VM__DEVICE_FAULT_REASON__FAULT_LINK_LOST,
					  "link closed or failed"},
	};
	int ret = 0;

	for (uint32_t i = 0; i < vm->nvdevs; i++) {
		Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
		Cellvm__Vm__DeviceFault f = CELLVM__VM__DEVICE_FAULT__INIT;
		enum vdev_fault what = vdev_take_fault(vm->vdevs[i], &f.restarts);
		int r;

		if (what == VDEV_FAULT_NONE)
			continue;
		f.index = i;
		f.reason = why[what].reason;
		f.detail = (char *)why[what].detail;
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_DEVICE_FAULT;
		m.device_fault = &f;
		r = vm_channel_send(chan, &m, NULL, 0);
		if (r < 0 && ret == 0)
			ret = r;
		if (what != VDEV_FAULT_LINK_LOST || r < 0)
			log_warn("%s: device %s: %s the launcher to end its process",
				 vm->vdevs[i]->name, why[what].detail,
				 r < 0 ? "cannot ask" : "asking");
	}
	return ret;
}

void vm_stop_vcpus(struct vm *vm)
{
	vm_request_stop(vm, VM_EXIT_ERROR, "stopped by the VMM");
	/* Paused vCPUs wait in vcpu_park: wake them to see the stop. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (uint32_t i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (uint32_t i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* A vCPU may be waiting in KVM_RUN for a SIPI: kick until it leaves. */
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0)
				break;
			vcpu_kick(v);
		}
		v->started = false;
	}
}

void vm_destroy(struct vm *vm)
{
	for (uint32_t i = 0; i < VM_MAX_CPUS; i++)
		vcpu_destroy(&vm->vcpus[i]);
	for (uint32_t i = 0; i < vm->nmmio; i++)
		vmmio_destroy(&vm->mmio[i]);
	for (uint32_t i = 0; i < vm->npci; i++)
		vpci_destroy(&vm->pcidev[i]);
	irq_routes_destroy(&vm->routes);
	pci_bus_destroy(&vm->pci);
	free(vm->cpuid);
	free(vm->debug_unclaimed);
	if (vm->mem.host)
		munmap(vm->mem.host, vm->mem.size);
	if (vm->rom)
		munmap((void *)vm->rom, vm->rom_len);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->pause_efd >= 0)
		close(vm->pause_efd);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	serial_destroy(&vm->serial);
	if (vm->has_cmos)
		cmos_destroy(&vm->cmos);
	if (vm->has_fw_cfg)
		fw_cfg_destroy(&vm->fw_cfg);
	acpi_pm_destroy(&vm->pm);
	ps2_link_destroy(&vm->ps2);
	xhci_pci_destroy(&vm->xhci);
	pthread_mutex_destroy(&vm->i8042_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
}

void vm_mmio(struct vm *vm, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	/* UNTRUSTED(guest): any address and length up to 8 bytes. */
	if (len > 8)
		return;
	if (addr >= VMMIO_BASE && addr < VMMIO_BASE + VMMIO_MAX_DEVS * VMMIO_SIZE) {
		uint32_t i = (uint32_t)((addr - VMMIO_BASE) / VMMIO_SIZE);
		uint64_t off = (addr - VMMIO_BASE) % VMMIO_SIZE;
		if (i < vm->nmmio && off + len <= VMMIO_SIZE) {
			vmmio_access(&vm->mmio[i], off, data, len, is_write);
			return;
		}
	}
	if (pci_mmio(&vm->pci, addr, data, len, is_write))
		return;
	/* Nothing here: reads float high, writes are dropped. */
	if (!is_write)
		memset(data, 0xff, len);
}

/* A line of the firmware's debug console to the log (--debug only). */
static void vm_debugcon(struct vm *vm, uint8_t ch)
{
	if (ch != '\n' && vm->debugcon_len < sizeof(vm->debugcon) - 1) {
		if (ch != '\r')
			vm->debugcon[vm->debugcon_len++] =
				(char)(ch >= 0x20 && ch < 0x7f ? ch : '?');
		return;
	}
	vm->debugcon[vm->debugcon_len] = 0;
	log_debug("firmware: %s", vm->debugcon);
	vm->debugcon_len = 0;
}

void vm_pio(struct vm *vm, uint16_t port, uint8_t *data, uint32_t size, bool is_write)
{
	enum acpi_pm_action pm_action;

	/* UNTRUSTED(guest): any port, any size; unclaimed ports read as all ones. */
	if (port >= SERIAL_COM1_BASE && port < SERIAL_COM1_BASE + 8 && size == 1) {
		serial_pio(&vm->serial, (uint16_t)(port - SERIAL_COM1_BASE), data, is_write);
		return;
	}
	if ((port == I8042_DATA_PORT || port == I8042_CMD_PORT) && size == 1 &&
	    ps2_link_present(&vm->ps2)) {
		if (ps2_link_pio(&vm->ps2, port, data, is_write))
			vm_request_stop(vm, VM_EXIT_REBOOT, "i8042 reset");
		return;
	}
	if ((port == I8042_DATA_PORT || port == I8042_CMD_PORT) && size == 1) {
		bool reset;

		pthread_mutex_lock(&vm->i8042_lock);
		reset = i8042_pio(&vm->i8042, port, data, is_write);
		pthread_mutex_unlock(&vm->i8042_lock);
		if (reset)
			vm_request_stop(vm, VM_EXIT_REBOOT, "i8042 reset");
		return;
	}
	/* Before the PCI ports: the reset register 0xcf9 is a byte of them. */
	if (acpi_pm_pio(&vm->pm, port, data, size, is_write, &pm_action)) {
		if (pm_action == ACPI_PM_POWER_OFF)
			vm_request_stop(vm, VM_EXIT_POWER_OFF, "power-off port");
		else if (pm_action == ACPI_PM_RESET)
			vm_request_stop(vm, VM_EXIT_REBOOT, "ACPI reset");
		return;
	}
	if (pci_pio(&vm->pci, port, data, size, is_write))
		return;
	if ((port == CMOS_PORT_INDEX || port == CMOS_PORT_DATA) && size == 1 &&
	    cmos_pio(&vm->cmos, port, data, is_write))
		return;
	if (vm->has_fw_cfg && fw_cfg_pio(&vm->fw_cfg, port, data, size, is_write))
		return;
	if (port == PORT_A20 && size == 1) {
		/* System control port A: A20 is always on (bit 1); bit 0 written
		 * as 1 is a fast reset, as firmware and old kernels use it. */
		if (!is_write)
			data[0] = 0x02;
		else if (data[0] & 1)
			vm_request_stop(vm, VM_EXIT_REBOOT, "port 0x92 reset");
		return;
	}
	if (port == PORT_DEBUGCON && size == 1) {
		/* QEMU's debug console, where SeaBIOS and OVMF write their log:
		 * read as 0xe9 (present), written to the core's log with --debug. */
		if (!is_write)
			data[0] = 0xe9;
		else if (vm->debug_unclaimed)
			vm_debugcon(vm, data[0]);
		return;
	}
	if (!is_write)
		memset(data, 0xff, size);
	if (vm->debug_unclaimed) {
		/* Rate-limited: the first few accesses per port, then powers of two. */
		uint32_t n = ++vm->debug_unclaimed[port];
		if (n <= 4 || (n & (n - 1)) == 0)
			log_debug("unclaimed port 0x%x %s size %u (access #%u)", port,
				  is_write ? "write" : "read", size, n);
	}
}
