/* PVH payload: interrupt-driven 8250 console, both ways. Programs the 8259
 * PIC (IRQ 4 -> vector 0x24), sends a banner one byte per THR-empty interrupt,
 * then echoes every received byte from the RX interrupt until it sees 'q', and
 * powers off. Expected output: "irq: banner" then the echoed input and
 * "irq: rx=N tx=M". */
#include "payload.inc"
#define VEC_BASE 0x20
#define UART_IER (COM1 + 1)
#define UART_IIR (COM1 + 2)
#define UART_MCR (COM1 + 4)
	.code32
	.text
	.globl pvh_start
pvh_start:
	mov $stack_top, %esp
	/* IDT: every vector to a handler that prints '?', vector 0x24 to the UART */
	mov $idt, %edi
	mov $256, %ecx
1:	mov $unexpected, %eax
	call set_gate
	add $8, %edi
	loop 1b
	mov $(idt + 8 * (VEC_BASE + 4)), %edi
	mov $uart_isr, %eax
	call set_gate
	lidt idt_desc
	/* 8259 PIC: base vector 0x20/0x28, only IRQ 4 unmasked */
	mov $0x11, %al
	out %al, $0x20
	out %al, $0xa0
	mov $VEC_BASE, %al
	out %al, $0x21
	mov $(VEC_BASE + 8), %al
	out %al, $0xa1
	mov $4, %al
	out %al, $0x21
	mov $2, %al
	out %al, $0xa1
	mov $1, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xef, %al
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1
	/* UART: OUT2 (interrupt enable on a PC), RX and THR-empty interrupts */
	mov $UART_MCR, %dx
	mov $0x0b, %al
	out %al, %dx
	movl $banner, txptr
	mov $UART_IER, %dx
	mov $0x03, %al
	out %al, %dx
	sti
2:	hlt
	cmpl $0, done
	je 2b
	cli
	mov $msg_rx, %esi
	call puts
	mov rxcount, %eax
	call puthex
	mov $msg_tx, %esi
	call puts
	mov txcount, %eax
	call puthex
	mov $msg_nl, %esi
	call puts
	jmp poweroff

/* set_gate: 32-bit interrupt gate at %edi for handler %eax, selector 0x20 */
set_gate:
	mov %ax, (%edi)
	movw $0x20, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	ret

uart_isr:
	pusha
1:	mov $UART_IIR, %dx
	in %dx, %al
	test $1, %al
	jnz 9f
	and $0x0e, %al
	cmp $0x04, %al
	je 3f
	cmp $0x02, %al
	jne 1b
	/* THR empty: next banner byte, or stop asking */
	mov txptr, %esi
	movb (%esi), %al
	test %al, %al
	jz 2f
	mov $COM1, %dx
	out %al, %dx
	incl txptr
	incl txcount
	jmp 1b
2:	mov $UART_IER, %dx
	mov $0x01, %al
	out %al, %dx
	jmp 1b
3:	/* received byte: echo it */
	mov $COM1, %dx
	in %dx, %al
	out %al, %dx
	incl rxcount
	cmp $'q', %al
	jne 1b
	movl $1, done
	jmp 1b
9:	mov $0x20, %al
	out %al, $0x20
	popa
	/* Return without IRET: KVM's instruction emulator (all the guest's CPL 0
	 * code on the nested-KVM test machines) handles IRET in real mode only.
	 * The saved flags go back with IF clear, then STI's one-instruction
	 * shadow covers the jump. */
	popl ret_eip
	addl $4, %esp
	andl $~0x200, (%esp)
	popfl
	sti
	jmp *ret_eip

unexpected:
	mov $COM1, %dx
	mov $'?', %al
	out %al, %dx
	jmp poweroff

	.section .rodata
banner:  .asciz "irq: banner sent by THR-empty interrupts\n"
msg_rx:  .asciz "\nirq: rx="
msg_tx:  .asciz " tx="
msg_nl:  .asciz "\n"
	.balign 8
idt_desc: .word 256 * 8 - 1
	.long idt
	.data
	.balign 4
txptr:   .long 0
txcount: .long 0
rxcount: .long 0
done:    .long 0
ret_eip: .long 0
	.bss
	.balign 16
idt:	.space 256 * 8
	.space 4096
stack_top:
PVH_NOTE(pvh_start)
