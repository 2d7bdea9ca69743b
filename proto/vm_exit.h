/* How a VM ended: the exit status of cellvm-core and of `cellvm run`, and the
 * reason the broker records. Shared by the core, the launcher's programs and
 * the broker, so the numbers are decided in one place. */
#pragma once

enum vm_exit {
	VM_EXIT_POWER_OFF = 0,
	VM_EXIT_ERROR = 1,     /* the VMM failed */
	VM_EXIT_BAD_INPUT = 2, /* bad arguments, kernel, initrd or command line */
	VM_EXIT_REBOOT = 3,    /* the guest asked for a reset (i8042, triple fault) */
	VM_EXIT_PANIC = 4,     /* the guest kernel panicked */
	VM_EXIT_HALT = 5,      /* every vCPU halted with interrupts off: nothing can wake it */
	VM_EXIT_RUNNING = -1,
};

/* What a core exit status means, in a few words; NULL for a status the core
 * never exits with (a signal, a failed exec). */
static inline const char *vm_exit_name(int status)
{
	switch (status) {
	case VM_EXIT_POWER_OFF: return "power-off";
	case VM_EXIT_ERROR: return "VMM error";
	case VM_EXIT_BAD_INPUT: return "bad input";
	case VM_EXIT_REBOOT: return "reboot";
	case VM_EXIT_PANIC: return "guest panic";
	case VM_EXIT_HALT: return "guest halted";
	default: return NULL;
	}
}
