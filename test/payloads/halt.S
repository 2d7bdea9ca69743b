/* PVH payload: prints a line, then halts with interrupts off, as Linux's
 * "reboot: System halted" does on a machine it cannot power off. The VMM
 * must end the VM as halted (status 5), not run it forever. */
#include "payload.inc"
	.code32
	.text
	.globl pvh_start
pvh_start:
	mov $stack_top, %esp
	mov $msg, %esi
	call puts
	cli
1:	hlt
	jmp 1b
	.section .rodata
msg:	.asciz "halt: halting with interrupts off\n"
	.bss
	.balign 16
	.space 1024
stack_top:
PVH_NOTE(pvh_start)
