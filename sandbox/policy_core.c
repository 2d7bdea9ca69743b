/* seccomp rules of cellvm-core (SANDBOX_CORE), on top of policy_base.c. The
 * VM, its memory slots, the vCPUs and the device links are all set up before
 * the sandbox; what is left is parsing the kernel (mapped read-only) and
 * setting the boot vCPU's registers from it, running vCPU threads, the main loop, and the
 * interrupt and notify wiring virtio-pci changes when the guest programs
 * MSI-X or moves a BAR. A KVM ioctl goes here when code calls it after
 * sandbox_enter(). */
#include "sandbox/policy.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/prctl.h>
#include <sched.h>

/* The flags glibc's pthread_create() passes to clone(2), and nothing else:
 * no fork, no new namespaces. */
#define CORE_THREAD_FLAGS                                                                          \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
#define CORE_FLAGS_MASK 0xffffffffULL /* the kernel reads the low 32 bits only */

/* clang-format off */
static const struct sb_rule core_rules[] = {
	SB_ALLOW_ARG(ioctl, 1, KVM_RUN),		/* running the vCPUs */
	SB_ALLOW_ARG(ioctl, 1, KVM_IRQ_LINE),		/* legacy interrupts (UART, i8042) */
	SB_ALLOW_ARG(ioctl, 1, KVM_GET_REGS),		/* exit reports, --debug sampling */
	SB_ALLOW_ARG(ioctl, 1, KVM_GET_SREGS),		/* --debug sampling, boot registers */
	SB_ALLOW_ARG(ioctl, 1, KVM_SET_SREGS),		/* boot registers: the kernel is parsed */
	SB_ALLOW_ARG(ioctl, 1, KVM_SET_REGS),		/*   inside the sandbox, its entry */
	SB_ALLOW_ARG(ioctl, 1, KVM_SET_FPU),		/*   known only then (vcpu_set_boot_regs) */
	SB_ALLOW_ARG(ioctl, 1, KVM_GET_MP_STATE),	/* halt check: is a vCPU halted */
	SB_ALLOW_ARG(ioctl, 1, KVM_GET_VCPU_EVENTS),	/* halt check: an NMI pending */
	SB_ALLOW_ARG(ioctl, 1, KVM_GET_CLOCK),		/* pause: save the guest's kvmclock */
	SB_ALLOW_ARG(ioctl, 1, KVM_SET_CLOCK),		/* resume: put it back (vm_pause.c) */
	SB_ALLOW_ARG(ioctl, 1, KVM_KVMCLOCK_CTRL),	/* resume: no soft-lockup reports */
	SB_ALLOW_ARG(ioctl, 1, KVM_SET_GSI_ROUTING),	/* virtio-pci: MSI-X vectors are routes */
	SB_ALLOW_ARG(ioctl, 1, KVM_IRQFD),		/* virtio-pci: masking detaches an irqfd */
	SB_ALLOW_ARG(ioctl, 1, KVM_IOEVENTFD),		/* virtio-pci: a BAR move moves notifies */
	SB_ALLOW(poll),					/* the main loop, device replies */
	SB_ALLOW(ppoll),				/* same, where libc uses ppoll */
	SB_ALLOW_MASKED(clone, 0, CORE_FLAGS_MASK, CORE_THREAD_FLAGS),	/* threads, nothing else */
	SB_ERRNO(clone3, ENOSYS),			/* flags out of reach: glibc uses clone */
	SB_ALLOW(set_robust_list),			/* a new thread's robust futex list */
	SB_ALLOW(rseq),					/* a new thread registers its rseq area */
	SB_ALLOW_ARG(prctl, 0, PR_SET_NAME),		/* naming vCPU threads */
};
/* clang-format on */

SB_POLICY(policy_core, "core", core_rules);
