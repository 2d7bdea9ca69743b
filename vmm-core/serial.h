/* 8250/16550A UART on COM1 (ports 0x3f8-0x3ff, IRQ 4): the guest console.
 * Register accesses come from the guest (untrusted); output goes to the console
 * stream, input arrives from it. Runs in cellvm-core (vCPU and main threads). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ	 4
#define SERIAL_RX_CAP	 4096

struct serial;
/* Sets the interrupt line level; called with the serial lock held. */
typedef void (*serial_irq_fn)(void *opaque, int level);
/* Consumes guest output; called with the serial lock held. */
typedef void (*serial_out_fn)(void *opaque, const uint8_t *buf, size_t len);

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_ipending;
	int irq_level;
	uint8_t rx[SERIAL_RX_CAP];
	uint32_t rx_head, rx_len;
	/* panic detection on the console's line stream */
	char line[256];
	uint32_t line_len;
	bool panic_seen;
	serial_irq_fn irq;
	serial_out_fn out;
	void *opaque;
};

void serial_init(struct serial *s, serial_irq_fn irq, serial_out_fn out, void *opaque);
void serial_destroy(struct serial *s);
/* Port I/O at offset 0..7 from the base; size is always one byte here. */
void serial_pio(struct serial *s, uint16_t off, uint8_t *data, bool is_write);
/* Queue host input for the guest; returns how many bytes were taken. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* Room left in the input queue. */
size_t serial_input_room(struct serial *s);
bool serial_panic_seen(struct serial *s);
