/* Shared definitions for the tests' tiny guest payloads (GNU as, included by
 * the .S files). Each payload talks to the VMM only through ports. */
#define COM1			 0x3f8
#define PM1A_CNT		 0x604 /* cellvm power-off: write SLP_EN (bit 13) */
#define PM1_SLP_EN		 0x2000
#define I8042_CMD		 0x64
#define PVH_MAGIC		 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* PVH entry note: the physical 32-bit entry point. */
#define PVH_NOTE(entry)                                                                            \
	.pushsection.note.pvh, "a", @note;                                                         \
	.balign 4;                                                                                 \
	.long 4;                                                                                   \
	.long 4;                                                                                   \
	.long XEN_ELFNOTE_PHYS32_ENTRY;                                                            \
	.asciz "Xen";                                                                              \
	.long entry;                                                                               \
	.popsection
