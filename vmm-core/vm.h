/* One VM inside cellvm-core: the KVM VM and vCPUs, guest RAM, the legacy
 * devices the core models itself, and why the VM stopped. The single context
 * struct of the core process. */
#pragma once
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/gmem.h"
#include "proto/vm_exit.h"
#include "vmm-core/acpi_pm.h"
#include "vmm-core/boot.h"
#include "vmm-core/cmos.h"
#include "vmm-core/fw_cfg.h"
#include "vmm-core/i8042.h"
#include "vmm-core/ps2_link.h"
#include "vmm-core/xhci_pci.h"
#include "vmm-core/serial.h"
#include "vmm-core/irq_route.h"
#include "vmm-core/pci.h"
#include "vmm-core/virtio_mmio.h"
#include "vmm-core/virtio_pci.h"

#define VM_MAX_CPUS 64
#define VM_MAX_DEVS 12 /* virtio devices, either transport */

struct vm;

struct vcpu {
	struct vm *vm;
	uint32_t index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	atomic_bool sample_req; /* --debug: log RIP at the next kick */
	atomic_bool probe_req;	/* look at the halt state at the next kick */
	atomic_int halt_state;	/* enum vcpu_halt, as of the last probe */
};

/* What a probe of a vCPU found (vcpu_probe_halt). */
enum vcpu_halt {
	VCPU_HALT_UNKNOWN = 0, /* not probed yet */
	VCPU_HALT_ACTIVE,      /* running, or halted with a way to wake up */
	VCPU_HALT_DEAD,	       /* halted, interrupts off, no NMI pending */
	VCPU_HALT_PARKED,      /* an AP never started (waiting for INIT/SIPI) */
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int mem_fd;
	int console_fd; /* stream socket to the launcher: output and input */
	uint32_t ncpus;
	struct gmem mem;
	struct vcpu vcpus[VM_MAX_CPUS];
	struct kvm_cpuid2 *cpuid; /* KVM's supported set, fixed up per vCPU */
	struct boot_plan plan;
	struct serial serial;
	struct acpi_pm pm; /* PM1 registers, PM timer, reset register, SCI */
	pthread_mutex_t i8042_lock;
	struct i8042 i8042;	/* without an input device: the reset line only */
	struct ps2_link ps2;	/* with one: the ports are forwarded to it */
	struct xhci_pci xhci;	/* the input device's xHCI controller, when it has one */
	atomic_int exit_reason; /* enum vm_exit; first stop wins */
	char exit_detail[128];
	int stop_efd;		   /* written when exit_reason is set */
	uint32_t *debug_unclaimed; /* per-port access counts, --debug only */
	struct irq_routes routes;
	struct pci_bus pci;
	struct vmmio_dev mmio[VMMIO_MAX_DEVS];
	uint32_t nmmio;
	struct vpci_dev pcidev[VM_MAX_DEVS];
	uint32_t npci;
	struct vdev *vdevs[VM_MAX_DEVS]; /* every virtio device, in setup order */
	uint32_t nvdevs;
	uint32_t halt_rounds; /* consecutive probe rounds that found the VM halted */
	/* The cooperative pause (vm_pause.c). pause_req asks every vCPU thread
	 * to wait in vcpu_park at its next exit (the kick makes one); parked
	 * counts those waiting. The clock and TSCs are the main thread's, saved
	 * while every vCPU is out of KVM_RUN. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req;
	uint32_t parked;	 /* under pause_lock */
	int pause_efd;		 /* written by the vCPU that parks last: the main loop looks */
	bool paused;		 /* main thread: between vm_pause_poll's 1 and vm_resume */
	uint64_t pause_deadline; /* CLOCK_MONOTONIC ms: vm_pause_begin's limit */
	uint64_t paused_clock;
	/* Firmware boot (firmware.c): the ROM image mapped read-only at the top
	 * of 4 GiB; the vCPUs start at the reset vector. */
	bool firmware;
	const uint8_t *rom;
	size_t rom_len;
	char debugcon[160]; /* the firmware's debug console line so far (--debug) */
	size_t debugcon_len;
	struct fw_cfg fw_cfg; /* firmware only, set up inside the sandbox */
	bool has_fw_cfg;
	struct cmos cmos; /* the RTC and CMOS (0x70/0x71), every VM */
	bool has_cmos;
};

/* Create the KVM VM (irqchip, PIT, memory slots) over RAM mapped from mem_fd.
 * Takes ownership of kvm_fd and mem_fd. Returns 0 or -errno. */
int vm_create(struct vm *vm, int kvm_fd, int mem_fd, uint64_t mem_size, uint32_t ncpus,
	      int console_fd);
/* Create the vCPUs and set their boot state from vm->plan. */
int vm_setup_vcpus(struct vm *vm);
/* Start the vCPU threads. */
int vm_start(struct vm *vm);
/* Record why the VM stops (the first caller wins) and wake the main thread. */
void vm_request_stop(struct vm *vm, enum vm_exit why, const char *detail);
/* Once a second from the main loop: read the last probe of every vCPU and
 * ask for a new one; ends the VM with VM_EXIT_HALT when two rounds in a row
 * found every vCPU halted with interrupts off (or never started). */
void vm_check_halted(struct vm *vm);
/* Main thread, each turn of its loop: tell the launcher (DeviceFault on the
 * VM channel chan) about every restartable device the core dropped while its
 * process may live on (a reset it did not finish, a breach of the protocol),
 * so that the launcher kills and restarts it. Logs each. Returns 0 or the
 * first -errno of a send. */
int vm_send_device_faults(struct vm *vm, int chan);
/* vm_pause.c: ask every vCPU to leave KVM_RUN and wait (the kick), for at
 * most timeout_ms. Main thread only; its loop goes on meanwhile (a vCPU in
 * a device reset waits for it) and calls vm_pause_poll each turn. */
void vm_pause_begin(struct vm *vm, unsigned timeout_ms);
/* Returns 0 while some vCPU still runs (kicked again); 1 once all are held
 * and the guest clock (KVM_GET_CLOCK) and each vCPU's TSC are saved
 * (*ret_clock: the kvmclock); -ETIMEDOUT past the limit, or the -errno of
 * KVM_GET_CLOCK: the vCPUs run on. */
int vm_pause_poll(struct vm *vm, uint64_t *ret_clock);
/* Put the saved TSCs and clock back (the guest's time does not advance over
 * the pause), tell each vCPU's kvmclock it was stopped (KVM_KVMCLOCK_CTRL)
 * and let the vCPUs run. Returns 0 or the -errno of KVM_SET_CLOCK (they run
 * all the same). Main thread only, after vm_pause_poll returned 1. */
int vm_resume(struct vm *vm);
/* vCPU thread: wait while a pause is asked (returns at once otherwise). */
void vcpu_park(struct vcpu *v);

/* Kick and join every vCPU thread. */
void vm_stop_vcpus(struct vm *vm);
void vm_destroy(struct vm *vm);

/* MMIO from a vCPU exit (untrusted guest access). */
void vm_mmio(struct vm *vm, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

/* Port I/O from a vCPU exit (untrusted guest access). */
void vm_pio(struct vm *vm, uint16_t port, uint8_t *data, uint32_t size, bool is_write);

/* vcpu.c */
int vcpu_init(struct vm *vm, struct vcpu *v, uint32_t index);
/* The boot vCPU's registers for vm->plan (set again once the kernel is
 * parsed: cellvm-core parses it inside its sandbox, after vcpu_init). */
int vcpu_set_boot_regs(struct vcpu *v);
int vcpu_start(struct vcpu *v);
void vcpu_kick(struct vcpu *v);
/* Ask the vCPU thread to record its enum vcpu_halt in halt_state, and kick it. */
void vcpu_probe(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/* cpuid.c: KVM's supported CPUID fixed up for vCPU index of n. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **ret);
int cpuid_setup_vcpu(int vcpu_fd, const struct kvm_cpuid2 *supported, uint32_t index, uint32_t n);
