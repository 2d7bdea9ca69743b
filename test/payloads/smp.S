/* PVH payload: the bootstrap CPU starts every application processor with
 * INIT-SIPI-SIPI through its LAPIC; each AP runs a real-mode trampoline that
 * counts itself in. The expected count is the first byte of the command line
 * ('1'..'9' CPUs in all). Prints "smp: N APs up" or "smp: timeout". */
#include "payload.inc"
#define LAPIC_ICR_LO 0xfee00300
#define TRAMPOLINE   0x10000    /* SIPI vector 0x10 */
#define AP_COUNT     (TRAMPOLINE + 0x100)
	.code32
	.text
	.globl pvh_start
pvh_start:
	mov %ebx, %edi
	mov $stack_top, %esp
	/* expected APs = cmdline[0] - '1' */
	mov 16+8(%edi), %esi
	movzbl (%esi), %ebp
	sub $'1', %ebp
	/* copy the trampoline below 1 MiB */
	mov $ap_tramp, %esi
	mov $TRAMPOLINE, %edi
	mov $(ap_tramp_end - ap_tramp), %ecx
	rep movsb
	movl $0, AP_COUNT
	/* INIT, then two STARTUPs, to all but self */
	movl $0x000c4500, LAPIC_ICR_LO
	movl $0x000c4610, LAPIC_ICR_LO
	movl $0x000c4610, LAPIC_ICR_LO
	mov $20000000, %ecx
1:	mov AP_COUNT, %eax
	cmp %ebp, %eax
	jae done
	pause
	loop 1b
	mov $msg_timeout, %esi
	call puts
	mov AP_COUNT, %eax
	call puthex
	jmp poweroff
done:
	/* report */
	mov $msg_up1, %esi
	call puts
	mov AP_COUNT, %eax
	call puthex
	mov $msg_up2, %esi
	call puts
	jmp poweroff

	.code16
ap_tramp:
	/* '+' first, then counted in: once the count is complete every AP's
	 * '+' is out, and none lands inside the BSP's report line. */
	mov $COM1, %dx
	mov $'+', %al
	out %al, %dx
	lock incl %cs:0x100
1:	cli
	hlt
	jmp 1b
ap_tramp_end:
	.code32

	.section .rodata
msg_timeout: .asciz "smp: timeout, APs up="
msg_up1:     .asciz "\nsmp: APs up="
msg_up2:     .asciz "\n"
	.bss
	.balign 16
	.space 4096
stack_top:
PVH_NOTE(pvh_start)
