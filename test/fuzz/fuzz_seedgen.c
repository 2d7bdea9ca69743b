/* Writes the seed corpora of the fuzz targets (test/fuzz/corpus/<target>/):
 * small valid kernel images from the unit tests' builders, port-access
 * sequences the way Linux drives the UART and the i8042, inject-input
 * requests, and virtio-input queues in guest RAM. With --check, it only
 * compares them with what is on disk, so stale seeds fail a test. */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "test/unit/testguest.h"
#include "test/unit/testimg.h"
#include "vmm-core/boot.h"

struct seq {
	uint8_t b[8192];
	size_t n;
};

struct seedgen {
	const char *dir;
	bool check;
	int failed;
	struct test_guest guest; /* every loader seed must load */
};

static void seq_add(struct seq *s, const void *p, size_t n)
{
	if (n > sizeof(s->b) - s->n) {
		fprintf(stderr, "seed too long\n");
		exit(1);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void seq_byte2(struct seq *s, uint8_t a, uint8_t b)
{
	const uint8_t v[2] = {a, b};

	seq_add(s, v, 2);
}

static void seedgen_emit(struct seedgen *g, const char *target, const char *name,
			 const uint8_t *buf, size_t len)
{
	char path[4096];
	uint8_t *old;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g->dir, target);
	if (!g->check && mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", g->dir, target, name);
	if (!g->check) {
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			perror(path);
			exit(1);
		}
		return;
	}
	old = malloc(len + 1);
	f = fopen(path, "rb");
	if (!old || !f || fread(old, 1, len + 1, f) != len || memcmp(old, buf, len) != 0) {
		fprintf(stderr, "%s: missing or stale; regenerate with fuzz_seedgen\n", path);
		g->failed = 1;
	}
	if (f)
		fclose(f);
	free(old);
}

static void seedgen_image(struct seedgen *g, const char *name, const uint8_t *img, size_t len,
			  enum boot_protocol want)
{
	struct boot_plan plan;

	if (len == 0 || loader_load(img, len, &g->guest.mem, &plan) < 0 || plan.protocol != want) {
		fprintf(stderr, "seed %s does not load as it should\n", name);
		exit(1);
	}
	seedgen_emit(g, "loader", name, img, len);
}

static void seedgen_loader(struct seedgen *g)
{
	static uint8_t img[0x4000];
	struct timg_elf_spec e;
	struct timg_bz_spec b;

	timg_elf_default(&e, false, true);
	seedgen_image(g, "pvh32.elf", img, timg_elf_build(&e, img, sizeof(img)), BOOT_PVH);
	timg_elf_default(&e, false, true);
	e.note.descsz = 8;
	e.seg[timg_elf_find(&e, PT_NOTE)].filesz = 24;
	seedgen_image(g, "pvh32_desc8.elf", img, timg_elf_build(&e, img, sizeof(img)), BOOT_PVH);
	timg_elf_default(&e, true, true);
	seedgen_image(g, "pvh64.elf", img, timg_elf_build(&e, img, sizeof(img)), BOOT_PVH);
	timg_elf_default(&e, true, false);
	seedgen_image(g, "elf64.elf", img, timg_elf_build(&e, img, sizeof(img)), BOOT_ELF64);
	timg_elf_default(&e, true, false);
	e.seg[e.nseg++] = (struct timg_seg){.type = PT_LOAD,
					    .offset = 0x500,
					    .filesz = 0x100,
					    .memsz = 0x1000,
					    .paddr = TIMG_ELF_PADDR + TIMG_ELF_MEMSZ,
					    .vaddr = TIMG_ELF_VADDR + TIMG_ELF_MEMSZ};
	e.phnum = (uint16_t)e.nseg;
	seedgen_image(g, "elf64_two_segments.elf", img, timg_elf_build(&e, img, sizeof(img)),
		      BOOT_ELF64);

	timg_bz_default(&b);
	seedgen_image(g, "bzimage.bin", img, timg_bz_build(&b, img, sizeof(img)), BOOT_BZIMAGE);
	/* The smallest shape the loader takes: one setup sector, entry page + 1. */
	timg_bz_default(&b);
	b.setup_sects = 1;
	b.pm_size = 0x240;
	b.syssize = 0;
	b.pref_address = 0x100000;
	b.init_size = 0x10000;
	b.cmdline_size = 255;
	b.xloadflags |= 2; /* XLF_CAN_BE_LOADED_ABOVE_4G: initrd anywhere in RAM */
	seedgen_image(g, "bzimage_small.bin", img, timg_bz_build(&b, img, sizeof(img)),
		      BOOT_BZIMAGE);
}

/* fuzz_vinput_status: the status and event queues of a virtio-input
 * function the way Linux's virtio_input fills them (8-byte driver-written
 * status buffers, 8-byte device-writable event buffers), and hostile ones.
 * The layout is fuzz_vinput_status.c's: a 6-byte header, then guest RAM. */
#define VIN_HDR	  6
#define VIN_SQ	  0x0000 /* descriptors; avail at +0x1000, used at +0x2000 */
#define VIN_EQ	  0x3000 /* descriptors; avail at +0x400, used at +0x800 */
#define VIN_SBUF  0x2800
#define VIN_EBUF  0x3c00
#define VIN_IMAGE 0x4000

struct vin_seed {
	uint8_t b[VIN_HDR + VIN_IMAGE];
};

static void vin_put(struct vin_seed *s, uint32_t off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		s->b[VIN_HDR + off + i] = (uint8_t)(v >> (8 * i));
}

static void vin_desc(struct vin_seed *s, uint32_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	vin_put(s, table + 16U * i, addr, 8);
	vin_put(s, table + 16U * i + 8, len, 4);
	vin_put(s, table + 16U * i + 12, flags, 2);
	vin_put(s, table + 16U * i + 14, next, 2);
}

/* Heads 0..n-1 made available from index start on. */
static void vin_avail(struct vin_seed *s, uint32_t avail, uint32_t qsize, uint16_t start,
		      uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		vin_put(s, avail + 4 + 2 * ((uint16_t)(start + i) % qsize), i, 2);
	vin_put(s, avail + 2, (uint16_t)(start + n), 2);
}

static void vin_status_event(struct vin_seed *s, uint16_t i, uint16_t type, uint16_t code,
			     uint32_t value)
{
	vin_put(s, VIN_SBUF + 8U * i, type, 2);
	vin_put(s, VIN_SBUF + 8U * i + 2, code, 2);
	vin_put(s, VIN_SBUF + 8U * i + 4, value, 4);
	vin_desc(s, VIN_SQ, i, VIN_SBUF + 8U * i, 8, 0, 0);
}

static void vin_event_bufs(struct vin_seed *s, uint32_t qsize, uint16_t start, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		vin_desc(s, VIN_EQ, i, VIN_EBUF + 8U * i, 8, 2 /* WRITE */, 0);
	vin_avail(s, VIN_EQ + 0x400, qsize, start, n);
}

static void seedgen_vinput_status(struct seedgen *g)
{
	static struct vin_seed s;

	/* A keyboard: num, caps and scroll lock set, four keys to deliver. */
	memset(&s, 0, sizeof(s));
	s.b[0] = 3; /* queues of 8 */
	s.b[4] = 0x11;
	s.b[5] = 4;
	vin_status_event(&s, 0, 0x11 /* EV_LED */, 0, 1);
	vin_status_event(&s, 1, 0x11, 1, 1);
	vin_status_event(&s, 2, 0x11, 2, 0);
	vin_avail(&s, VIN_SQ + 0x1000, 8, 0, 3);
	vin_event_bufs(&s, 8, 0, 8);
	seedgen_emit(g, "vinput_status", "linux_leds", s.b, sizeof(s.b));

	/* Status buffers of the wrong shape, events nobody acts on, one event
	 * split over two descriptors, then a next outside the table. */
	memset(&s, 0, sizeof(s));
	s.b[0] = 4; /* queues of 16 */
	s.b[4] = 0x12;
	s.b[5] = 2;
	vin_status_event(&s, 0, 0x11, 1, 1);
	vin_desc(&s, VIN_SQ, 0, VIN_SBUF, 8, 2 /* WRITE */, 0);
	vin_status_event(&s, 1, 0x11, 1, 1);
	vin_desc(&s, VIN_SQ, 1, VIN_SBUF + 8, 4, 0, 0);
	vin_status_event(&s, 2, 0x14 /* EV_REP */, 0, 250);
	vin_status_event(&s, 3, 0x11, 4 /* LED_KANA */, 1);
	vin_status_event(&s, 4, 0x11, 1, 1);
	vin_desc(&s, VIN_SQ, 4, VIN_SBUF + 32, 3, 1 /* NEXT */, 5);
	vin_desc(&s, VIN_SQ, 5, VIN_SBUF + 35, 5, 0, 0);
	vin_desc(&s, VIN_SQ, 6, VIN_SBUF, 8, 1 /* NEXT */, 200);
	/* heads 0, 1, 2, 3, 4, 6 */
	vin_put(&s, VIN_SQ + 0x1000 + 4, 0, 2);
	vin_put(&s, VIN_SQ + 0x1000 + 6, 1, 2);
	vin_put(&s, VIN_SQ + 0x1000 + 8, 2, 2);
	vin_put(&s, VIN_SQ + 0x1000 + 10, 3, 2);
	vin_put(&s, VIN_SQ + 0x1000 + 12, 4, 2);
	vin_put(&s, VIN_SQ + 0x1000 + 14, 6, 2);
	vin_put(&s, VIN_SQ + 0x1000 + 2, 6, 2);
	vin_event_bufs(&s, 16, 0, 3);
	vin_desc(&s, VIN_EQ, 1, VIN_EBUF + 8, 8, 0 /* readable */, 0);
	seedgen_emit(g, "vinput_status", "hostile", s.b, sizeof(s.b));

	/* Indexes about to wrap, a queue of 4 and more events than buffers. */
	memset(&s, 0, sizeof(s));
	s.b[0] = 2;
	s.b[2] = 0xfe;
	s.b[3] = 0xff;
	s.b[4] = 0x21;
	s.b[5] = 6;
	vin_status_event(&s, 0, 0x11, 1, 1);
	vin_status_event(&s, 1, 0x11, 1, 0);
	vin_status_event(&s, 2, 0x11, 0, 1);
	vin_avail(&s, VIN_SQ + 0x1000, 4, 0xfffe, 3);
	vin_event_bufs(&s, 4, 0xfffe, 4);
	seedgen_emit(g, "vinput_status", "wrap", s.b, sizeof(s.b));
}

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };

static void uart_w(struct seq *s, uint8_t off, uint8_t v)
{
	seq_byte2(s, 0x08 | off, v);
}

static void uart_r(struct seq *s, uint8_t off)
{
	seq_byte2(s, off, 0);
}

static void uart_puts(struct seq *s, const char *str)
{
	while (*str)
		uart_w(s, RBR, (uint8_t)*str++);
}

static void uart_input(struct seq *s, const char *str)
{
	uint8_t op = (uint8_t)(0xe0 | (strlen(str) - 1));

	seq_add(s, &op, 1);
	seq_add(s, str, strlen(str));
}

static void seedgen_serial(struct seedgen *g)
{
	struct seq s = {0};

	/* serial8250 autoconfig: scratch, IER, loopback, FIFO, then baud rate. */
	uart_w(&s, SCR, 0xa5);
	uart_r(&s, SCR);
	uart_w(&s, SCR, 0x5a);
	uart_r(&s, SCR);
	uart_r(&s, IER);
	uart_w(&s, IER, 0);
	uart_w(&s, IER, 0x0f);
	uart_r(&s, IER);
	uart_w(&s, IER, 0);
	uart_w(&s, MCR, 0x1a);
	uart_r(&s, MSR);
	uart_w(&s, MCR, 0x0b);
	uart_w(&s, IIR, 0x01);
	uart_r(&s, IIR);
	uart_w(&s, IIR, 0x07);
	uart_w(&s, LCR, 0x83);
	uart_w(&s, RBR, 0x01);
	uart_w(&s, IER, 0x00);
	uart_w(&s, LCR, 0x03);
	uart_r(&s, LSR);
	uart_puts(&s, "Linux\r\n");
	seedgen_emit(g, "serial", "linux_probe", s.b, s.n);

	/* Interrupt-driven: THRE raised and acknowledged, then received data. */
	s.n = 0;
	uart_w(&s, IER, 0x02);
	uart_r(&s, IIR);
	uart_w(&s, RBR, 'x');
	uart_r(&s, IIR);
	uart_input(&s, "root\n");
	uart_w(&s, IER, 0x03);
	uart_r(&s, IIR);
	for (int i = 0; i < 5; i++) {
		uart_r(&s, LSR);
		uart_r(&s, RBR);
	}
	uart_r(&s, IIR);
	uart_r(&s, IIR);
	seedgen_emit(g, "serial", "irq", s.b, s.n);

	/* Loopback data and a flooded queue that the guest never drains. */
	s.n = 0;
	uart_w(&s, MCR, 0x1b);
	uart_puts(&s, "loop");
	seq_byte2(&s, 0xff, 0xff);
	uart_w(&s, IIR, 0x03);
	uart_r(&s, RBR);
	uart_w(&s, MCR, 0x0b);
	seedgen_emit(g, "serial", "loopback_flood", s.b, s.n);

	s.n = 0;
	uart_puts(&s, "[    1.000000] Kernel panic - not syncing: Attempted to kill init!\n");
	seedgen_emit(g, "serial", "panic", s.b, s.n);
}

#define KBD_STATUS(s)	seq_byte2(s, 1, 0)
#define KBD_READ(s)	seq_byte2(s, 0, 0)
#define KBD_CMD(s, c)	seq_byte2(s, 3, c)
#define KBD_WRITE(s, d) seq_byte2(s, 2, d)

/* The input process's PS/2 model (fuzz_ps2.c): ports as above, plus host
 * injection ops: 0x40 | down << 1 | code >> 8, code; 0x80 | shift, x y z w
 * buttons; 0xC0 drains the output buffer. */
static void ps2_key(struct seq *s, uint16_t code, bool down)
{
	seq_byte2(s, (uint8_t)(0x40 | (down ? 2 : 0) | (code >> 8)), (uint8_t)code);
}

static void ps2_mouse(struct seq *s, uint8_t shift, int8_t x, int8_t y, int8_t z, int8_t w,
		      uint8_t buttons)
{
	const uint8_t op[] = {
		(uint8_t)(0x80 | shift), (uint8_t)x, (uint8_t)y, (uint8_t)z, (uint8_t)w, buttons};

	seq_add(s, op, sizeof(op));
}

static void ps2_drain(struct seq *s)
{
	const uint8_t op = 0xc0;

	seq_add(s, &op, 1);
}

static void ps2_aux(struct seq *s, uint8_t b)
{
	KBD_CMD(s, 0xd4);
	KBD_WRITE(s, b);
	KBD_STATUS(s);
	KBD_READ(s);
}

static void ps2_kbd(struct seq *s, uint8_t b)
{
	KBD_WRITE(s, b);
	KBD_STATUS(s);
	KBD_READ(s);
}

static void seedgen_ps2(struct seedgen *g)
{
	static const uint8_t knock[] = {200, 100, 80, 200, 200, 80};
	struct seq s = {0};

	/* i8042 probe, port tests, AUX loopback, then atkbd and psmouse. */
	KBD_STATUS(&s);
	KBD_READ(&s);
	KBD_CMD(&s, 0xaa);
	KBD_READ(&s);
	KBD_CMD(&s, 0x20);
	KBD_READ(&s);
	KBD_CMD(&s, 0x60);
	KBD_WRITE(&s, 0x47);
	KBD_CMD(&s, 0xab);
	KBD_READ(&s);
	KBD_CMD(&s, 0xa8);
	KBD_CMD(&s, 0xd3);
	KBD_WRITE(&s, 0x5a);
	KBD_STATUS(&s);
	KBD_READ(&s);
	KBD_CMD(&s, 0xa9);
	KBD_READ(&s);
	ps2_kbd(&s, 0xf2);
	KBD_READ(&s);
	KBD_READ(&s);
	ps2_kbd(&s, 0xf5);
	ps2_kbd(&s, 0xed);
	ps2_kbd(&s, 0x02);
	ps2_kbd(&s, 0xf3);
	ps2_kbd(&s, 0x00);
	ps2_kbd(&s, 0xf4);
	ps2_aux(&s, 0xff);
	KBD_READ(&s);
	KBD_READ(&s);
	ps2_aux(&s, 0xf2);
	KBD_READ(&s);
	for (size_t i = 0; i < sizeof(knock); i++) {
		ps2_aux(&s, 0xf3);
		ps2_aux(&s, knock[i]);
	}
	ps2_aux(&s, 0xf2);
	KBD_READ(&s);
	ps2_aux(&s, 0xe8);
	ps2_aux(&s, 0x03);
	ps2_aux(&s, 0xe9);
	ps2_drain(&s);
	ps2_aux(&s, 0xf4);
	seedgen_emit(g, "ps2", "linux_probe", s.b, s.n);

	/* Keys in translated set 2, raw set 2, set 1 and set 3. */
	s.n = 0;
	KBD_CMD(&s, 0x60);
	KBD_WRITE(&s, 0x47);
	ps2_key(&s, 30, true); /* KEY_A */
	ps2_key(&s, 30, false);
	ps2_key(&s, 97, true); /* KEY_RIGHTCTRL */
	ps2_key(&s, 97, false);
	ps2_key(&s, 119, true); /* KEY_PAUSE */
	ps2_key(&s, 99, true);	/* KEY_SYSRQ */
	ps2_key(&s, 99, false);
	ps2_key(&s, 122, true); /* KEY_HANGEUL */
	ps2_drain(&s);
	KBD_CMD(&s, 0x60);
	KBD_WRITE(&s, 0x07);
	ps2_key(&s, 65, true); /* KEY_F7 */
	ps2_drain(&s);
	for (uint8_t set = 0; set <= 3; set++) {
		ps2_kbd(&s, 0xf0);
		ps2_kbd(&s, set);
		ps2_key(&s, 29, true);	/* KEY_LEFTCTRL */
		ps2_key(&s, 113, true); /* KEY_MUTE */
		ps2_key(&s, 113, false);
		ps2_drain(&s);
	}
	seedgen_emit(g, "ps2", "keys", s.b, s.n);

	/* Mouse: Explorer knock, wheel, buttons 4/5, a long motion, remote mode. */
	s.n = 0;
	KBD_CMD(&s, 0x60);
	KBD_WRITE(&s, 0x47);
	ps2_aux(&s, 0xf4);
	for (size_t i = 0; i < sizeof(knock); i++) {
		ps2_aux(&s, 0xf3);
		ps2_aux(&s, knock[i]);
	}
	ps2_mouse(&s, 0, 10, -5, 0, 0, 0x01);
	ps2_mouse(&s, 0, 0, 0, 1, 0, 0x18);
	ps2_mouse(&s, 0, 0, 0, 0, -2, 0x00);
	ps2_mouse(&s, 4, 100, -100, 0, 0, 0x02);
	ps2_drain(&s);
	ps2_aux(&s, 0xf0);
	ps2_mouse(&s, 0, 3, 3, 0, 0, 0x04);
	ps2_aux(&s, 0xeb);
	ps2_drain(&s);
	ps2_aux(&s, 0xea);
	ps2_aux(&s, 0xee);
	ps2_aux(&s, 0x55);
	ps2_aux(&s, 0xec);
	seedgen_emit(g, "ps2", "mouse", s.b, s.n);

	/* A guest that never reads: both queues fill up, then drain. */
	s.n = 0;
	KBD_CMD(&s, 0x60);
	KBD_WRITE(&s, 0x47);
	ps2_aux(&s, 0xf4);
	for (int i = 0; i < 24; i++) {
		ps2_key(&s, (uint16_t)(16 + i), true);
		ps2_mouse(&s, 8, 1, 1, 0, 0, (uint8_t)i);
	}
	ps2_drain(&s);
	seedgen_emit(g, "ps2", "flood", s.b, s.n);

	s.n = 0;
	KBD_CMD(&s, 0xd1);
	KBD_WRITE(&s, 0xfe);
	KBD_CMD(&s, 0xfe);
	seedgen_emit(g, "ps2", "reset", s.b, s.n);
}

static void seedgen_i8042(struct seedgen *g)
{
	struct seq s = {0};

	/* i8042_controller_check, selftest, CTR read-modify-write, port tests. */
	KBD_STATUS(&s);
	KBD_READ(&s);
	KBD_CMD(&s, 0xaa);
	KBD_STATUS(&s);
	KBD_READ(&s);
	KBD_CMD(&s, 0x20);
	KBD_STATUS(&s);
	KBD_READ(&s);
	KBD_CMD(&s, 0x60);
	KBD_WRITE(&s, 0x65);
	KBD_CMD(&s, 0xab);
	KBD_READ(&s);
	KBD_CMD(&s, 0xa9);
	KBD_READ(&s);
	KBD_CMD(&s, 0xd4); /* to the aux port, which is not there */
	KBD_WRITE(&s, 0xf4);
	seedgen_emit(g, "i8042", "linux_probe", s.b, s.n);

	s.n = 0;
	KBD_CMD(&s, 0xfe);
	seedgen_emit(g, "i8042", "reset_pulse", s.b, s.n);

	s.n = 0;
	KBD_CMD(&s, 0xd0);
	KBD_READ(&s);
	KBD_CMD(&s, 0xd1);
	KBD_WRITE(&s, 0xfe);
	seedgen_emit(g, "i8042", "reset_output_port", s.b, s.n);
}

/* Inject-input requests (launcher/input_req.c): every type and action, text
 * through each layout, and a few that are refused. */
static void seedgen_input_req(struct seedgen *g)
{
	static const struct {
		const char *name, *json;
	} seeds[] = {
		{"keyboard",
		 "{\"events\":[{\"type\":\"keyboard\",\"action\":\"press\",\"scancode\":30,"
		 "\"modifiers\":[\"shift\",\"ctrl\",\"alt\",\"meta\",\"altgr\"]},"
		 "{\"type\":\"keyboard\",\"action\":\"release\",\"scancode\":30,"
		 "\"modifiers\":[\"shift\"],\"delay_ms\":20},{\"type\":\"keyboard\","
		 "\"action\":\"type\",\"key\":\"KEY_ENTER\",\"backend\":\"ps2\"}]}"},
		{"text_us", "{\"backend\":\"virtio\",\"layout\":\"us\",\"events\":[{\"type\":"
			    "\"keyboard\",\"action\":\"type\",\"text\":\"Hello, World!\\n\\t~\","
			    "\"delay_ms\":5}]}"},
		{"text_de", "{\"layout\":\"de\",\"events\":[{\"type\":\"keyboard\",\"action\":"
			    "\"type\",\"text\":\"@zy^`~\\u00df\\u00e4\\u20ac\"}]}"},
		{"text_fr",
		 "{\"layout\":\"fr\",\"events\":[{\"type\":\"keyboard\",\"action\":"
		 "\"type\",\"text\":\"\\u00e9\\u00e8\\u00e0\\u00e7\\u00f9 1234 azqwm,;:!\"}]}"},
		{"mouse",
		 "{\"events\":[{\"type\":\"mouse\",\"action\":\"move\",\"dx\":10,\"dy\":-5},"
		 "{\"type\":\"mouse\",\"action\":\"move_absolute\",\"x\":16384,\"y\":32767},"
		 "{\"type\":\"mouse\",\"action\":\"button_press\",\"button\":\"left\"},"
		 "{\"type\":\"mouse\",\"action\":\"button_release\",\"button\":\"extra\"},"
		 "{\"type\":\"mouse\",\"action\":\"wheel\",\"delta\":-3,\"horizontal\":1,"
		 "\"backend\":\"usb\"}]}"},
		{"touch",
		 "{\"events\":[{\"type\":\"touch\",\"action\":\"down\",\"slot\":0,\"x\":100,"
		 "\"y\":200},{\"type\":\"touch\",\"action\":\"move\",\"slot\":9,\"x\":0,"
		 "\"y\":0,\"delay_ms\":10000},{\"type\":\"touch\",\"action\":\"up\"}]}"},
		{"refused", "{\"events\":[{\"type\":\"keyboard\",\"action\":\"press\",\"scancode\":"
			    "1000,\"key\":\"KEY_NOPE\",\"text\":\"\\u00ff\"},{\"type\":\"mouse\","
			    "\"action\":\"wheel\",\"delta\":1.5}],\"speed\":1}"},
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		seedgen_emit(g, "input_req", seeds[i].name, (const uint8_t *)seeds[i].json,
			     strlen(seeds[i].json));
}

int main(int argc, char **argv)
{
	struct seedgen g = {0};

	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		g.check = true;
		g.dir = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		g.dir = argv[1];
	} else {
		fprintf(stderr, "usage: %s [--check] CORPUS_DIR\n", argv[0]);
		return 2;
	}
	test_guest_init(&g.guest, 64ULL << 20);
	seedgen_vinput_status(&g);
	seedgen_loader(&g);
	seedgen_serial(&g);
	seedgen_ps2(&g);
	seedgen_i8042(&g);
	seedgen_input_req(&g);
	test_guest_free(&g.guest);
	return g.failed;
}
