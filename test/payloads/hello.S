/* PVH payload: checks the start_info it was given, echoes the command line on
 * COM1 and powers the VM off. Expected output: "pvh: hello" ... "pvh: ok". */
#include "payload.inc"
	.code32
	.text
	.globl pvh_start
pvh_start:
	mov %ebx, %edi
	mov $stack_top, %esp
	mov $msg_hello, %esi
	call puts
	cmpl $PVH_MAGIC, (%edi)
	jne bad
	mov $msg_cmdline, %esi
	call puts
	mov 16+8(%edi), %esi          /* cmdline_paddr (low half) */
	test %esi, %esi
	jz 1f
	call puts
1:	mov $msg_memmap, %esi
	call puts
	mov 48(%edi), %eax             /* memmap_entries */
	call puthex
	mov $msg_ok, %esi
	call puts
	jmp poweroff
bad:
	mov $msg_bad, %esi
	call puts
	jmp poweroff

	.section .rodata
msg_hello:   .asciz "pvh: hello\n"
msg_cmdline: .asciz "pvh: cmdline="
msg_memmap:  .asciz "\npvh: memmap entries="
msg_ok:      .asciz "\npvh: ok\n"
msg_bad:     .asciz "pvh: bad start_info magic\n"
	.bss
	.balign 16
	.space 4096
stack_top:
PVH_NOTE(pvh_start)
