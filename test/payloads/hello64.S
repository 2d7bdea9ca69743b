/* 64-bit ELF payload without a PVH note: entered in long mode with RSI at
 * boot_params. Checks the "HdrS" magic and the e820 count there, then powers off. */
#include "payload.inc"
	.code64
	.text
	.globl start64
start64:
	mov %rsi, %rbx
	lea msg_hello(%rip), %rsi
	call puts64
	cmpl $0x53726448, 0x202(%rbx)
	jne 1f
	cmpb $0, 0x1e8(%rbx)            /* e820_entries */
	je 1f
	lea msg_ok(%rip), %rsi
	call puts64
	jmp off
1:	lea msg_bad(%rip), %rsi
	call puts64
off:	mov $PM1A_CNT, %dx
	mov $PM1_SLP_EN, %ax
	out %ax, %dx
2:	cli
	hlt
	jmp 2b
puts64:
	mov $COM1, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	ret
msg_hello: .asciz "elf64: hello from long mode\n"
msg_ok:    .asciz "elf64: ok\n"
msg_bad:   .asciz "elf64: bad boot_params\n"
