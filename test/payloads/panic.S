/* PVH payload: prints a kernel-style panic line, then resets through the
 * i8042 as Linux does with panic=N. The VMM must report a guest panic. */
#include "payload.inc"
	.code32
	.text
	.globl pvh_start
pvh_start:
	mov $stack_top, %esp
	mov $msg, %esi
	call puts
	mov $0xfe, %al
	out %al, $I8042_CMD
1:	hlt
	jmp 1b
	.section .rodata
msg:	.asciz "Kernel panic - not syncing: cellvm test payload\nRebooting in 1 seconds..\n"
	.bss
	.balign 16
	.space 1024
stack_top:
PVH_NOTE(pvh_start)
