/* PVH payload: triple fault (an exception with an empty IDT). The VMM must end
 * the VM as a reboot. */
#include "payload.inc"
	.code32
	.text
	.globl pvh_start
pvh_start:
	mov $stack_top, %esp
	mov $msg, %esi
	call puts
	lidt idt_empty
	ud2
1:	hlt
	jmp 1b
	.section .rodata
msg:	.asciz "triple: faulting\n"
	.balign 8
idt_empty: .word 0
	.long 0
	.bss
	.balign 16
	.space 1024
stack_top:
PVH_NOTE(pvh_start)
