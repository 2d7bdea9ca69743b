/* The cooperative pause of cellvm-core (vm.proto Pause / Resume). The main
 * thread asks every vCPU thread to stop at its next exit and kicks it out of
 * KVM_RUN (vcpu_kick: immediate_exit and a signal, as a stop does); each
 * waits in vcpu_park until resumed. Once all are out, the guest clock is
 * saved (KVM_GET_CLOCK: kvmclock). At resume it is put back, so the guest's
 * time does not advance over the pause (as QEMU's stop/cont does; the TSC
 * is left alone, as QEMU leaves it), and each vCPU's kvmclock is told it
 * was stopped by the host (KVM_KVMCLOCK_CTRL), so the guest's watchdogs do
 * not report a soft lockup. The devices are not this file's: the broker stops their
 * processes once the vCPUs are held (docs/broker.md). */
#include "vmm-core/vm.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static uint32_t vm_started_vcpus(const struct vm *vm)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < vm->ncpus; i++)
		n += vm->vcpus[i].started;
	return n;
}

void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!atomic_load(&vm->pause_req))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->pause_req)) {
		uint64_t one = 1;

		if (++vm->parked == vm_started_vcpus(vm))
			(void)!write(vm->pause_efd, &one, sizeof(one));
		/* A stop while paused (vm_stop_vcpus) wakes us too. */
		while (atomic_load(&vm->pause_req) &&
		       atomic_load(&vm->exit_reason) == VM_EXIT_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->parked--;
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

static void vm_release_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

static uint64_t vm_pause_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void vm_kick_all(struct vm *vm)
{
	for (uint32_t i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

void vm_pause_begin(struct vm *vm, unsigned timeout_ms)
{
	vm->pause_deadline = vm_pause_now_ms() + timeout_ms;
	atomic_store(&vm->pause_req, true);
	vm_kick_all(vm);
}

int vm_pause_poll(struct vm *vm, uint64_t *ret_clock)
{
	struct kvm_clock_data clock = {0};
	uint32_t parked;
	int r;

	pthread_mutex_lock(&vm->pause_lock);
	parked = vm->parked;
	pthread_mutex_unlock(&vm->pause_lock);
	if (parked < vm_started_vcpus(vm)) {
		if (vm_pause_now_ms() >= vm->pause_deadline) {
			vm_release_vcpus(vm);
			return -ETIMEDOUT;
		}
		/* Again: a kick that lands between a vCPU's check and its
		 * KVM_RUN is caught by immediate_exit, one waiting for a SIPI
		 * in the kernel leaves on the signal; a vCPU in a long exit
		 * (a device reset the main loop completes) parks after it. */
		vm_kick_all(vm);
		return 0;
	}
	/* Every vCPU is out of KVM_RUN: the VM's kvmclock holds still from
	 * here to the resume, as the guest will see it. */
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0) {
		r = -errno;
		vm_release_vcpus(vm);
		return r;
	}
	vm->paused_clock = clock.clock;
	vm->paused = true;
	*ret_clock = clock.clock;
	return 1;
}

int vm_resume(struct vm *vm)
{
	struct kvm_clock_data clock = {.clock = vm->paused_clock};
	int r = 0;

	/* Flags 0: the value as saved, not advanced by the time paused. */
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		r = -errno;
		log_warn("cannot put the guest clock back after the pause: %s", strerror(-r));
	}
	/* EINVAL: the guest has not enabled kvmclock on that vCPU (nothing to
	 * tell). */
	for (uint32_t i = 0; i < vm->ncpus; i++)
		if (ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0) < 0 && errno != EINVAL)
			log_debug("vcpu%u: KVM_KVMCLOCK_CTRL: %s", i, strerror(errno));
	vm->paused = false;
	vm->halt_rounds = 0;
	vm_release_vcpus(vm);
	return r;
}
