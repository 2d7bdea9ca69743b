/* A minimal bzImage (Linux x86 boot protocol 2.15): one setup sector holding
 * the header, then a protected-mode part whose 64-bit entry (offset 0x200)
 * prints, checks boot_params in RSI and powers off. objcopy makes it flat. */
#include "payload.inc"
	.code16
	.text
	.globl _start
_start:
	.org 0x1f1
	.byte 1                 /* setup_sects */
	.word 0                 /* root_flags */
	.long 0                 /* syssize (filled as 0: unknown) */
	.word 0, 0xffff, 0      /* ram_size, vid_mode, root_dev */
	.word 0xaa55            /* boot_flag */
	.byte 0xeb, hdr_end - 0x202  /* jump over the header */
	.ascii "HdrS"
	.word 0x020f            /* version */
	.long 0                 /* realmode_swtch */
	.word 0, 0              /* start_sys_seg, kernel_version */
	.byte 0                 /* type_of_loader */
	.byte 0x01              /* loadflags: LOADED_HIGH */
	.word 0                 /* setup_move_size */
	.long 0x100000          /* code32_start */
	.long 0, 0, 0           /* ramdisk_image, ramdisk_size, bootsect_kludge */
	.word 0                 /* heap_end_ptr */
	.byte 0, 0              /* ext_loader_ver, ext_loader_type */
	.long 0                 /* cmd_line_ptr */
	.long 0x7fffffff        /* initrd_addr_max */
	.long 0x200000          /* kernel_alignment */
	.byte 0, 0              /* relocatable_kernel, min_alignment */
	.word 0x0001            /* xloadflags: XLF_KERNEL_64 */
	.long 2047              /* cmdline_size */
	.long 0                 /* hardware_subarch */
	.quad 0                 /* hardware_subarch_data */
	.long 0, 0              /* payload_offset, payload_length */
	.quad 0                 /* setup_data */
	.quad 0x100000          /* pref_address */
	.long 0x10000           /* init_size */
	.long 0, 0              /* handover_offset, kernel_info_offset */
hdr_end:
	.org 1024               /* (setup_sects + 1) * 512: protected-mode part */
pm_start:
	.org 1024 + 0x200
	.code64
entry64:
	mov %rsi, %rbx
	lea msg_hello(%rip), %rsi
	call puts64
	/* the loader copied our header: check magic and that a cmdline is there */
	cmpl $0x53726448, 0x202(%rbx)
	jne 1f
	cmpb $0xff, 0x210(%rbx)         /* type_of_loader */
	jne 1f
	mov 0x228(%rbx), %esi            /* cmd_line_ptr */
	test %esi, %esi
	jz 1f
	push %rsi
	lea msg_cmd(%rip), %rsi
	call puts64
	pop %rsi
	call puts64
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
msg_hello: .asciz "bzimage: hello from the 64-bit entry\n"
msg_cmd:   .asciz "bzimage: cmdline="
msg_ok:    .asciz "\nbzimage: ok\n"
msg_bad:   .asciz "bzimage: bad boot_params\n"
	.balign 512
