/* PVH payload: asks the i8042 for a CPU reset (command 0xFE on port 0x64). */
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
msg:	.asciz "reboot: pulsing the i8042 reset line\n"
	.bss
	.balign 16
	.space 1024
stack_top:
PVH_NOTE(pvh_start)
