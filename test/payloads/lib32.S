/* 32-bit helpers for PVH payloads: serial output and power-off. */
#include "payload.inc"
	.code32
	.text
/* puts: print the NUL-terminated string at %esi. Clobbers eax, edx, esi. */
	.globl puts
puts:
	mov $COM1, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	ret

/* puthex: print %eax as 8 hex digits. Clobbers eax, ecx, edx, ebx. */
	.globl puthex
puthex:
	mov %eax, %ebx
	mov $8, %ecx
	mov $COM1, %dx
1:	rol $4, %ebx
	mov %bl, %al
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 2f
	add $7, %al
2:	out %al, %dx
	loop 1b
	ret

/* poweroff: ask the VMM to power off; hang if it does not. */
	.globl poweroff
poweroff:
	mov $PM1A_CNT, %dx
	mov $PM1_SLP_EN, %ax
	out %ax, %dx
	/* QEMU's isa-debug-exit, for the benchmark's reference run */
	mov $0xf4, %dx
	xor %eax, %eax
	out %al, %dx
1:	cli
	hlt
	jmp 1b
