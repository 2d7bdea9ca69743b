/* Unit tests for vmm-core/serial: the UART driven the way Linux's 8250 driver
 * probes and uses it (drivers/tty/serial/8250/8250_port.c), then register
 * accesses with every offset and value, as a hostile guest would make them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "vmm-core/serial.h"

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };

struct sink {
	int level;     /* last level the device set */
	int irq_calls; /* how often it called */
	uint8_t out[8192];
	size_t out_len;
};

struct fixture {
	struct serial s;
	struct sink k;
};

static void sink_irq(void *opaque, int level)
{
	struct sink *k = opaque;

	/* The device only reports changes. */
	assert_int_not_equal(level, k->level);
	k->level = level;
	k->irq_calls++;
}

static void sink_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *k = opaque;

	assert_true(len <= sizeof(k->out) - k->out_len);
	memcpy(k->out + k->out_len, buf, len);
	k->out_len += len;
}

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	serial_init(&f.s, sink_irq, sink_out, &f.k);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_destroy(&f->s);
	return 0;
}

static uint8_t rd(struct fixture *f, uint16_t off)
{
	uint8_t v = 0x5a;

	serial_pio(&f->s, off, &v, false);
	return v;
}

static void wr(struct fixture *f, uint16_t off, uint8_t v)
{
	serial_pio(&f->s, off, &v, true);
}

static void puts_guest(struct fixture *f, const char *s)
{
	while (*s)
		wr(f, RBR, (uint8_t)*s++);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, IER), 0);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, MCR), 0x08);
	assert_int_equal(rd(f, LSR), 0x60); /* THRE | TEMT, no data */
	assert_int_equal(rd(f, MSR), 0xb0); /* DCD, DSR, CTS */
	assert_int_equal(rd(f, RBR), 0);
	assert_int_equal(f->k.level, 0);
	assert_int_equal(serial_input_room(&f->s), SERIAL_RX_CAP);
	assert_false(serial_panic_seen(&f->s));
}

static void test_scratch(void **state)
{
	struct fixture *f = *state;

	/* autoconfig's first question: is there a register at all? */
	for (int v = 0; v < 256; v++) {
		wr(f, SCR, (uint8_t)v);
		assert_int_equal(rd(f, SCR), v);
	}
}

static void test_ier_readback(void **state)
{
	struct fixture *f = *state;

	/* autoconfig writes 0x0f and expects exactly 0x0f back, 0 after 0. */
	wr(f, IER, 0x0f);
	assert_int_equal(rd(f, IER), 0x0f);
	wr(f, IER, 0);
	assert_int_equal(rd(f, IER), 0);
	wr(f, IER, 0xff);
	assert_int_equal(rd(f, IER), 0x0f);
	wr(f, IER, 0xf0);
	assert_int_equal(rd(f, IER), 0);
}

static void test_fifo(void **state)
{
	struct fixture *f = *state;

	/* 0xC0 in IIR after enabling the FIFO: a 16550A. */
	wr(f, IIR, 0x01);
	assert_int_equal(rd(f, IIR) & 0xc0, 0xc0);
	assert_int_equal(rd(f, IIR), 0xc1);
	wr(f, IIR, 0x07); /* enable, clear both FIFOs */
	assert_int_equal(rd(f, IIR) >> 6, 3);
	wr(f, IIR, 0xe7); /* with the 16750's 64-byte bit, which we do not have */
	assert_int_equal(rd(f, IIR), 0xc1);
	wr(f, IIR, 0);
	assert_int_equal(rd(f, IIR) & 0xc0, 0);
}

static void test_loopback_msr(void **state)
{
	struct fixture *f = *state;

	/* autoconfig: MCR = LOOP | RTS | OUT2, then MSR & 0xF0 must be DCD | CTS. */
	wr(f, MCR, 0x1a);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x90);
	wr(f, MCR, 0x1f);
	assert_int_equal(rd(f, MSR) & 0xf0, 0xf0);
	wr(f, MCR, 0x10);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x00);
	wr(f, MCR, 0x11); /* DTR -> DSR */
	assert_int_equal(rd(f, MSR) & 0xf0, 0x20);
	wr(f, MCR, 0x14); /* OUT1 -> RI */
	assert_int_equal(rd(f, MSR) & 0xf0, 0x40);
	wr(f, MCR, 0xff);
	assert_int_equal(rd(f, MCR), 0x1f);
	/* Out of loopback, the modem lines are steady. */
	wr(f, MCR, 0x0b);
	assert_int_equal(rd(f, MSR), 0xb0);
}

static void test_loopback_data(void **state)
{
	struct fixture *f = *state;

	wr(f, MCR, 0x1b);
	wr(f, RBR, 'Q');
	wr(f, RBR, 'R');
	/* Looped back, not sent. */
	assert_int_equal(f->k.out_len, 0);
	assert_int_equal(rd(f, LSR) & 0x01, 0x01);
	assert_int_equal(rd(f, RBR), 'Q');
	assert_int_equal(rd(f, RBR), 'R');
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	wr(f, MCR, 0x0b);
	wr(f, RBR, 'S');
	assert_int_equal(f->k.out_len, 1);
	assert_int_equal(f->k.out[0], 'S');
}

static void test_thr_out(void **state)
{
	struct fixture *f = *state;
	const char *msg = "Linux version 6.1\r\n";

	puts_guest(f, msg);
	assert_int_equal(f->k.out_len, strlen(msg));
	assert_memory_equal(f->k.out, msg, strlen(msg));
	/* Sending is instantaneous: the transmitter is always empty. */
	assert_int_equal(rd(f, LSR) & 0x60, 0x60);
	/* Without IER.THRI, no interrupt. */
	assert_int_equal(f->k.irq_calls, 0);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	/* Enabling THRI with an empty transmitter raises it at once. */
	wr(f, IER, 0x02);
	assert_int_equal(f->k.level, 1);
	assert_int_equal(rd(f, IIR), 0x02);
	/* The IIR read that reported it acknowledged it. */
	assert_int_equal(f->k.level, 0);
	assert_int_equal(rd(f, IIR), 0x01);
	/* Each character sent makes the transmitter empty again. */
	wr(f, RBR, 'x');
	assert_int_equal(f->k.level, 1);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(f->k.level, 0);
	/* Re-enabling while enabled is no new edge. */
	wr(f, IER, 0x02);
	assert_int_equal(f->k.level, 0);
	/* Masking drops the line; unmasking raises it again. */
	wr(f, RBR, 'y');
	assert_int_equal(f->k.level, 1);
	wr(f, IER, 0);
	assert_int_equal(f->k.level, 0);
	wr(f, IER, 0x02);
	assert_int_equal(f->k.level, 1);
	/* With the FIFO on, IIR carries its bits as well. */
	wr(f, IIR, 0x01);
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_int_equal(rd(f, IIR), 0xc1);
}

static void test_rx(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(serial_input(&f->s, (const uint8_t *)"ab", 2), 2);
	/* Data ready, but no interrupt until the guest asks for one. */
	assert_int_equal(rd(f, LSR), 0x61);
	assert_int_equal(f->k.level, 0);
	assert_int_equal(rd(f, IIR), 0x01);
	wr(f, IER, 0x01);
	assert_int_equal(f->k.level, 1);
	assert_int_equal(rd(f, IIR), 0x04);
	/* Reading IIR does not acknowledge received data; reading it does. */
	assert_int_equal(f->k.level, 1);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(f->k.level, 1);
	assert_int_equal(rd(f, RBR), 'b');
	assert_int_equal(f->k.level, 0);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, IIR), 0x01);
	/* Input arriving with RDI enabled raises the line directly. */
	assert_int_equal(serial_input(&f->s, (const uint8_t *)"c", 1), 1);
	assert_int_equal(f->k.level, 1);
	assert_int_equal(rd(f, RBR), 'c');
	/* Nothing queued: 0, and no underflow. */
	assert_int_equal(rd(f, RBR), 0);
	assert_int_equal(serial_input_room(&f->s), SERIAL_RX_CAP);
}

static void test_rx_priority(void **state)
{
	struct fixture *f = *state;

	/* Received data outranks THR empty; both pending, RDI shows first. */
	wr(f, IER, 0x03);
	assert_int_equal(serial_input(&f->s, (const uint8_t *)"z", 1), 1);
	assert_int_equal(rd(f, IIR), 0x04);
	assert_int_equal(rd(f, RBR), 'z');
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_int_equal(f->k.level, 0);
}

static void test_rx_bounded(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[SERIAL_RX_CAP * 2];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	/* The guest never reads: the queue takes what fits and says so. */
	assert_int_equal(serial_input(&f->s, buf, sizeof(buf)), SERIAL_RX_CAP);
	assert_int_equal(serial_input_room(&f->s), 0);
	assert_int_equal(serial_input(&f->s, buf, 1), 0);
	assert_int_equal(serial_input(&f->s, buf, 0), 0);
	/* Loopback into a full queue drops, too. */
	wr(f, MCR, 0x1b);
	wr(f, RBR, 0xee);
	wr(f, MCR, 0x0b);
	assert_int_equal(serial_input_room(&f->s), 0);
	/* Draining gives the bytes back in order, across the ring's wrap. */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(rd(f, RBR), buf[i]);
	assert_int_equal(serial_input(&f->s, buf + SERIAL_RX_CAP, 200), 100);
	for (size_t i = 100; i < SERIAL_RX_CAP + 100; i++)
		assert_int_equal(rd(f, RBR), buf[i]);
	assert_int_equal(rd(f, LSR) & 1, 0);
	assert_int_equal(serial_input_room(&f->s), SERIAL_RX_CAP);
}

static void test_fifo_clear(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(serial_input(&f->s, (const uint8_t *)"abc", 3), 3);
	wr(f, IIR, 0x03); /* enable and clear RX */
	assert_int_equal(rd(f, LSR) & 1, 0);
	assert_int_equal(serial_input_room(&f->s), SERIAL_RX_CAP);
	assert_int_equal(serial_input(&f->s, (const uint8_t *)"d", 1), 1);
	assert_int_equal(rd(f, RBR), 'd');
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x05);
	assert_int_equal(serial_input(&f->s, (const uint8_t *)"k", 1), 1);
	/* 115200 baud: divisor 1, as serial8250_do_set_termios writes it. */
	wr(f, LCR, 0x83);
	wr(f, RBR, 0x01);
	wr(f, IER, 0x00);
	assert_int_equal(rd(f, RBR), 0x01);
	assert_int_equal(rd(f, IER), 0x00);
	wr(f, RBR, 0x34);
	wr(f, IER, 0x12);
	assert_int_equal(rd(f, RBR), 0x34);
	assert_int_equal(rd(f, IER), 0x12);
	/* Divisor writes are not data and not interrupt enables. */
	assert_int_equal(f->k.out_len, 0);
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, IER), 0x05);
	assert_int_equal(rd(f, RBR), 'k');
	/* And back: the latch kept its value. */
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, RBR), 0x34);
	assert_int_equal(rd(f, IER), 0x12);
}

static void test_panic(void **state)
{
	struct fixture *f = *state;

	puts_guest(f, "[    0.000000] Linux version 6.1\n");
	puts_guest(f, "Kernel panic - not syncing");
	assert_false(serial_panic_seen(&f->s)); /* not until the line ends */
	puts_guest(f, ": x\n");
	assert_true(serial_panic_seen(&f->s));
}

static void test_panic_prefixed(void **state)
{
	struct fixture *f = *state;

	puts_guest(f,
		   "[    1.234567] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n");
	assert_true(serial_panic_seen(&f->s));
}

static void test_no_false_panic(void **state)
{
	struct fixture *f = *state;

	puts_guest(f, "Kernel panic - syncing\n");
	puts_guest(f, "Kernel\npanic - not syncing\n");
	puts_guest(f, "kernel panic - not syncing\n");
	/* Looped back, the text is never on the console. */
	wr(f, MCR, 0x1b);
	puts_guest(f, "Kernel panic - not syncing: loop\n");
	wr(f, MCR, 0x0b);
	assert_false(serial_panic_seen(&f->s));
}

static void test_long_lines(void **state)
{
	struct fixture *f = *state;
	char line[1000];

	/* Lines longer than the scanner's buffer: no overrun, output complete. */
	memset(line, 'a', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = 0;
	for (int i = 0; i < 5; i++)
		puts_guest(f, line);
	assert_int_equal(f->k.out_len, 5 * (sizeof(line) - 1));
	assert_false(serial_panic_seen(&f->s));
	puts_guest(f, "Kernel panic - not syncing: after long lines\n");
	assert_true(serial_panic_seen(&f->s));
}

/* IRQ level as the registers say it should be, read without side effects. */
static int expected_level(const struct serial *s)
{
	return ((s->ier & 0x01) && s->rx_len) || ((s->ier & 0x02) && s->thr_ipending);
}

static void test_hostile_sweep(void **state)
{
	struct fixture *f = *state;

	for (int off = 0; off < 8; off++) {
		for (int v = 0; v < 256; v++) {
			uint8_t d = (uint8_t)v;
			serial_pio(&f->s, (uint16_t)off, &d, true);
			assert_int_equal(f->k.level, expected_level(&f->s));
			for (int roff = 0; roff < 8; roff++) {
				d = 0;
				serial_pio(&f->s, (uint16_t)roff, &d, false);
				assert_int_equal(f->k.level, expected_level(&f->s));
			}
			if ((v & 0x1f) == 0)
				serial_input(&f->s, (const uint8_t *)"in", 2);
			assert_true(f->s.rx_len <= SERIAL_RX_CAP);
			assert_true(f->s.rx_head < SERIAL_RX_CAP);
			assert_true(f->s.line_len < sizeof(f->s.line));
		}
	}
	/* Offsets past the eight registers (a caller bug) read as 0xff, write nothing. */
	for (uint32_t off = 8; off <= 0xffff; off += 0x7f) {
		uint8_t d = 0;
		serial_pio(&f->s, (uint16_t)off, &d, false);
		assert_int_equal(d, 0xff);
		d = 0xff;
		serial_pio(&f->s, (uint16_t)off, &d, true);
	}
	f->k.out_len = 0; /* the sink is bounded; the device need not be */
}

static void test_hostile_random(void **state)
{
	struct fixture *f = *state;
	uint32_t x = 12345;

	for (int i = 0; i < 200000; i++) {
		uint8_t d;
		x = x * 1103515245 + 12345;
		d = (uint8_t)(x >> 16);
		serial_pio(&f->s, (uint16_t)((x >> 8) & 7), &d, (x >> 24) & 1);
		if ((x >> 28) == 0)
			serial_input(&f->s, (const uint8_t *)"0123456789", 10);
		if (f->k.out_len > sizeof(f->k.out) / 2)
			f->k.out_len = 0;
		assert_int_equal(f->k.level, expected_level(&f->s));
		assert_true(f->s.rx_len <= SERIAL_RX_CAP);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_state),	T(test_scratch),	T(test_ier_readback),
		T(test_fifo),		T(test_loopback_msr),	T(test_loopback_data),
		T(test_thr_out),	T(test_thre_interrupt), T(test_rx),
		T(test_rx_priority),	T(test_rx_bounded),	T(test_fifo_clear),
		T(test_dlab),		T(test_panic),		T(test_panic_prefixed),
		T(test_no_false_panic), T(test_long_lines),	T(test_hostile_sweep),
		T(test_hostile_random),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
