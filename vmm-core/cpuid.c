/* Guest CPUID for cellvm-core: KVM's supported set, with the hypervisor bit and
 * a topology (one socket, n cores, one thread each) that matches the MP table. */
#include "vmm-core/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_MAX_ENTRIES 256

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **ret)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static uint32_t cpuid_bits_for(uint32_t n)
{
	uint32_t b = 0;

	while ((1U << b) < n)
		b++;
	return b;
}

static void cpuid_fix(struct kvm_cpuid_entry2 *e, uint32_t index, uint32_t n)
{
	uint32_t shift = cpuid_bits_for(n);

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffff) | (index << 24) | ((n > 1 ? n : 1) << 16);
		if (n > 1)
			e->edx |= 1U << 28; /* HTT: more than one logical CPU per package */
		e->ecx |= 1U << 31;	    /* running under a hypervisor */
		break;
	case 4: /* Intel: cores per package; caches private to one core */
		e->eax = (e->eax & 0x3fff) | ((n - 1) << 26);
		break;
	case 0xb:
		e->edx = index;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1U << 8) | 0; /* SMT level, one thread */
		} else if (e->index == 1) {
			e->eax = shift;
			e->ebx = n;
			e->ecx = (2U << 8) | 1; /* core level */
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000008: /* AMD: number of cores and APIC-id bits for them */
		e->ecx = (e->ecx & ~0xf0ffU) | (shift << 12) | (n - 1);
		break;
	case 0x8000001e: /* AMD topology extension: one thread per core */
		e->eax = index;
		e->ebx = index & 0xff;
		e->ecx = 0;
		break;
	default: break;
	}
}

int cpuid_setup_vcpu(int vcpu_fd, const struct kvm_cpuid2 *supported, uint32_t index, uint32_t n)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int r = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, supported, sz);
	for (uint32_t i = 0; i < c->nent; i++)
		cpuid_fix(&c->entries[i], index, n);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		r = -errno;
	free(c);
	return r;
}
