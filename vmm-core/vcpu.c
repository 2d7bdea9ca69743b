/* vCPU threads of cellvm-core: boot register state, MSRs, LAPIC LINT setup and
 * the KVM_RUN loop that turns exits into device accesses or a VM stop. Exit data
 * (ports, sizes, counts) come from guest behaviour and are bounds-checked. */
#include "vmm-core/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static const struct {
	uint32_t index;
	uint64_t value;
} boot_msrs[] = {
	{0x174, 0},		   /* IA32_SYSENTER_CS */
	{0x175, 0},		   /* IA32_SYSENTER_ESP */
	{0x176, 0},		   /* IA32_SYSENTER_EIP */
	{0xc0000081, 0},	   /* STAR */
	{0xc0000082, 0},	   /* LSTAR */
	{0xc0000083, 0},	   /* CSTAR */
	{0xc0000084, 0},	   /* SYSCALL_MASK */
	{0xc0000102, 0},	   /* KERNEL_GS_BASE */
	{0x10, 0},		   /* TSC */
	{0x1a0, 1},		   /* MISC_ENABLE: fast strings */
	{0x2ff, (1ULL << 11) | 6}, /* MTRRdefType: enabled, write-back */
};

static int vcpu_set_msrs(struct vcpu *v)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} m;

	/* One at a time: a host without one of these MSRs should not lose the rest. */
	for (size_t i = 0; i < sizeof(boot_msrs) / sizeof(boot_msrs[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = 1;
		m.e[0].index = boot_msrs[i].index;
		m.e[0].data = boot_msrs[i].value;
		if (ioctl(v->fd, KVM_SET_MSRS, &m) != 1)
			log_debug("vcpu%u: MSR 0x%x not settable", v->index, boot_msrs[i].index);
	}
	return 0;
}

static int vcpu_set_lint(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lvt0 = (uint32_t *)(void *)&l.regs[0x350];
	uint32_t *lvt1 = (uint32_t *)(void *)&l.regs[0x360];

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	/* LINT0 takes the PIC's ExtINT, LINT1 is NMI, as on a PC. */
	*lvt0 = (*lvt0 & ~0x700U) | (0x7U << 8);
	*lvt1 = (*lvt1 & ~0x700U) | (0x4U << 8);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, int l, int db)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = 0xffffffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .dpl = 0,
				  .db = (uint8_t)db,
				  .s = 1,
				  .l = (uint8_t)l,
				  .g = 1};
}

int vcpu_set_boot_regs(struct vcpu *v)
{
	const struct boot_plan *plan = &v->vm->plan;
	struct kvm_sregs sr;
	struct kvm_regs regs;
	struct kvm_fpu fpu;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	sr.gdt.base = BOOT_GDT_ADDR;
	sr.gdt.limit = 6 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	seg_flat(&sr.ds, 0x18, 3, 0, 1);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = 0x28, .type = 11, .present = 1};
	sr.ldt = (struct kvm_segment){.selector = 0, .type = 2, .present = 1, .limit = 0xffff};

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = plan->entry;
	if (plan->protocol == BOOT_PVH) {
		seg_flat(&sr.cs, 0x20, 11, 0, 1);
		sr.cr0 = 0x11; /* PE, ET; paging off */
		sr.cr4 = 0;
		sr.efer = 0;
		regs.rbx = BOOT_PVH_INFO_ADDR;
	} else {
		seg_flat(&sr.cs, 0x10, 11, 1, 0);
		sr.cr3 = BOOT_PML4_ADDR;
		sr.cr4 = 0x20;	     /* PAE */
		sr.cr0 = 0x80000011; /* PG, ET, PE */
		sr.efer = 0x500;     /* LME, LMA */
		regs.rsi = BOOT_ZERO_PAGE_ADDR;
		regs.rsp = BOOT_STACK_ADDR;
		regs.rbp = BOOT_STACK_ADDR;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int vcpu_init(struct vm *vm, struct vcpu *v, uint32_t index)
{
	int r, sz;

	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		return -errno;
	sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return sz < 0 ? -errno : -EINVAL;
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	r = cpuid_setup_vcpu(v->fd, vm->cpuid, index, vm->ncpus);
	if (r < 0)
		return r;
	r = vcpu_set_msrs(v);
	if (r < 0)
		return r;
	r = vcpu_set_lint(v);
	if (r < 0)
		return r;
	/* Application processors wait for INIT/SIPI from the in-kernel LAPIC;
	 * with firmware the boot one starts where KVM put it, at the reset
	 * vector (CS base 0xffff0000, IP 0xfff0). */
	if (index == 0 && !vm->firmware)
		return vcpu_set_boot_regs(v);
	return 0;
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t size = run->io.size, count = run->io.count;
	uint64_t off = run->io.data_offset;

	/* UNTRUSTED(guest): a string instruction's count and size bound the data. */
	if ((size != 1 && size != 2 && size != 4) || off > v->run_size ||
	    (uint64_t)size * count > v->run_size - off)
		return;
	for (uint32_t i = 0; i < count; i++)
		vm_pio(v->vm, run->io.port, (uint8_t *)run + off + (uint64_t)i * size, size,
		       run->io.direction == KVM_EXIT_IO_OUT);
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	vm_mmio(v->vm, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
}

static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char detail[128];

	switch (run->exit_reason) {
	case KVM_EXIT_IO: vcpu_handle_io(v); return true;
	case KVM_EXIT_MMIO: vcpu_handle_mmio(v); return true;
	case KVM_EXIT_INTR: return true;
	case KVM_EXIT_HLT: return true;
	case KVM_EXIT_SHUTDOWN: {
		struct kvm_regs regs = {0};
		struct kvm_sregs sregs = {0};

		(void)ioctl(v->fd, KVM_GET_REGS, &regs);
		(void)ioctl(v->fd, KVM_GET_SREGS, &sregs);
		snprintf(detail, sizeof(detail), "triple fault (vcpu%u at cs:rip 0x%llx:0x%llx)",
			 v->index, (unsigned long long)sregs.cs.base, (unsigned long long)regs.rip);
		vm_request_stop(v->vm, VM_EXIT_REBOOT, detail);
		return false;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_stop(v->vm, VM_EXIT_POWER_OFF, "system event: shutdown");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_stop(v->vm, VM_EXIT_REBOOT, "system event: reset");
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			vm_request_stop(v->vm, VM_EXIT_PANIC, "system event: crash");
			break;
		default: vm_request_stop(v->vm, VM_EXIT_ERROR, "unknown system event"); break;
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR: {
		struct kvm_regs regs = {0};

		(void)ioctl(v->fd, KVM_GET_REGS, &regs);
		snprintf(detail, sizeof(detail),
			 "vcpu%u: KVM internal error, suberror %u at rip 0x%llx", v->index,
			 run->internal.suberror, (unsigned long long)regs.rip);
		/* After a panic the test kernel runs into what the emulator cannot do. */
		vm_request_stop(v->vm,
				serial_panic_seen(&v->vm->serial) ? VM_EXIT_PANIC : VM_EXIT_ERROR,
				detail);
		return false;
	}
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(detail, sizeof(detail), "vcpu%u: entry failed, reason 0x%llx", v->index,
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vm_request_stop(v->vm, VM_EXIT_ERROR, detail);
		return false;
	default:
		snprintf(detail, sizeof(detail), "vcpu%u: unhandled exit %u", v->index,
			 run->exit_reason);
		vm_request_stop(v->vm, VM_EXIT_ERROR, detail);
		return false;
	}
}

/* --debug: translate a guest-virtual address through the 4-level page tables. */
static int vcpu_gva_to_gpa(struct vcpu *v, uint64_t cr3, uint64_t gva, uint64_t *ret)
{
	uint64_t table = cr3 & 0x000ffffffffff000ULL;

	for (int level = 3; level >= 0; level--) {
		uint64_t *e =
			gmem_ptr(&v->vm->mem, table + ((gva >> (12 + 9 * level)) & 0x1ff) * 8, 8);
		if (!e || !(*e & 1))
			return -EFAULT;
		if (level > 0 && level < 3 && (*e & 0x80)) {
			uint64_t size = 1ULL << (12 + 9 * level);
			*ret = (*e & 0x000ffffffffff000ULL & ~(size - 1)) | (gva & (size - 1));
			return 0;
		}
		table = *e & 0x000ffffffffff000ULL;
	}
	*ret = table | (gva & 0xfff);
	return 0;
}

static void vcpu_log_sample(struct vcpu *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sr;
	char line[512];
	int n;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return;
	n = snprintf(line, sizeof(line), "rip=0x%llx stack:", (unsigned long long)regs.rip);
	/* Kernel-text-looking words on the stack: a poor man's backtrace. */
	for (uint64_t i = 0; i < 256 && n < (int)sizeof(line) - 20; i++) {
		uint64_t gpa, *w;
		if (vcpu_gva_to_gpa(v, sr.cr3, regs.rsp + i * 8, &gpa) < 0)
			break;
		w = gmem_ptr(&v->vm->mem, gpa, 8);
		if (!w)
			break;
		if (*w >= 0xffffffff81000000ULL && *w < 0xffffffff82000000ULL)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %llx",
				      (unsigned long long)*w);
	}
	/* The code around rip and IF: a spin loop tells itself from a HLT. */
	{
		/* The linear address: CS's base counts outside long mode (a
		 * firmware's real-mode code). */
		uint64_t lin = sr.cs.base + regs.rip - 4, gpa = lin;
		const uint8_t *c = NULL;
		if (!(sr.cr0 & 0x80000000U) || vcpu_gva_to_gpa(v, sr.cr3, lin, &gpa) == 0)
			c = gmem_ptr(&v->vm->mem, gpa, 12);
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      " if=%d code:", (int)((regs.rflags >> 9) & 1));
		for (int i = 0; c && i < 12 && n < (int)sizeof(line) - 4; i++)
			n += snprintf(line + n, sizeof(line) - (size_t)n,
				      i == 4 ? " <%02x>" : " %02x", c[i]);
	}
	log_debug("vcpu%u: %s", v->index, line);
}

/* In the vCPU thread, out of KVM_RUN: can anything still wake this vCPU?
 * HLT with IF clear waits for an NMI, SMI or INIT, and nothing in cellvm
 * sends those to a halted vCPU; an AP the guest never started waits for
 * INIT/SIPI from another vCPU. */
static enum vcpu_halt vcpu_probe_halt(struct vcpu *v)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return VCPU_HALT_ACTIVE;
	if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED || mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return v->index == 0 ? VCPU_HALT_ACTIVE : VCPU_HALT_PARKED;
	if (mp.mp_state != KVM_MP_STATE_HALTED)
		return VCPU_HALT_ACTIVE;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || (regs.rflags & (1U << 9)))
		return VCPU_HALT_ACTIVE;
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ev.nmi.pending || ev.nmi.injected ||
	    ev.smi.pending)
		return VCPU_HALT_ACTIVE;
	return VCPU_HALT_DEAD;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		if (atomic_load(&v->vm->exit_reason) != VM_EXIT_RUNNING)
			break;
		/* A pause (vm_pause.c): wait here, out of KVM_RUN, until resumed. */
		vcpu_park(v);
		if (atomic_load(&v->vm->exit_reason) != VM_EXIT_RUNNING)
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				if (atomic_exchange(&v->sample_req, false))
					vcpu_log_sample(v);
				if (atomic_exchange(&v->probe_req, false))
					atomic_store(&v->halt_state, (int)vcpu_probe_halt(v));
				continue;
			}
			vm_request_stop(v->vm, VM_EXIT_ERROR, "KVM_RUN failed");
			log_err("vcpu%u: KVM_RUN: %s", v->index, strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_start(struct vcpu *v)
{
	static bool handler_set;
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};
	int r;

	if (!handler_set) {
		/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
		sigemptyset(&sa.sa_mask);
		if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
			return -errno;
		handler_set = true;
	}
	r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r)
		return -r;
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_probe(struct vcpu *v)
{
	atomic_store(&v->probe_req, true);
	vcpu_kick(v);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
