/* 16550A UART model for the guest console; see serial.h. Every register value
 * the guest writes is masked to the bits the hardware has. */
#include "vmm-core/serial.h"

#include <string.h>

#define UART_RBR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI	 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI	 0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static const char panic_marker[] = "Kernel panic - not syncing";

void serial_init(struct serial *s, serial_irq_fn irq, serial_out_fn out, void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->lcr = 0x03;
	s->mcr = 0x08;
	s->dll = 0x0c; /* 9600 baud */
	s->irq = irq;
	s->out = out;
	s->opaque = opaque;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & 1) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thr_ipending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

static void serial_update_irq(struct serial *s)
{
	int level = (serial_iir(s) & IIR_NONE) ? 0 : 1;

	if (level != s->irq_level) {
		s->irq_level = level;
		s->irq(s->opaque, level);
	}
}

static void serial_scan_line(struct serial *s, uint8_t c)
{
	if (c == '\n' || s->line_len == sizeof(s->line) - 1) {
		s->line[s->line_len] = 0;
		if (strstr(s->line, panic_marker))
			s->panic_seen = true;
		s->line_len = 0;
		return;
	}
	s->line[s->line_len++] = (char)c;
}

static void serial_tx(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < SERIAL_RX_CAP) {
			s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_CAP] = c;
			s->rx_len++;
		}
	} else {
		serial_scan_line(s, c);
		s->out(s->opaque, &c, 1);
	}
	/* Transmission is instantaneous: the holding register is empty again. */
	s->thr_ipending = true;
}

static uint8_t serial_msr(const struct serial *s)
{
	if (s->mcr & MCR_LOOP) {
		/* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
		return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) |
				 ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
	}
	return 0xb0; /* DCD, DSR, CTS */
}

void serial_pio(struct serial *s, uint16_t off, uint8_t *data, bool is_write)
{
	/* UNTRUSTED(guest): the register offset and the byte written; unknown
	 * offsets are ignored, each value is kept to the bits its register
	 * has, THR bytes go to the console as they are. */
	pthread_mutex_lock(&s->lock);
	if (is_write) {
		uint8_t v = *data;
		switch (off) {
		case UART_RBR:
			if (s->lcr & LCR_DLAB)
				s->dll = v;
			else
				serial_tx(s, v);
			break;
		case UART_IER:
			if (s->lcr & LCR_DLAB) {
				s->dlm = v;
			} else {
				if (!(s->ier & IER_THRI) && (v & IER_THRI))
					s->thr_ipending = true;
				s->ier = v & 0x0f;
			}
			break;
		case UART_IIR:
			s->fcr = v & 0xc9;
			if (v & 0x02) { /* clear RX FIFO */
				s->rx_len = 0;
				s->rx_head = 0;
			}
			break;
		case UART_LCR: s->lcr = v; break;
		case UART_MCR: s->mcr = v & 0x1f; break;
		case UART_SCR: s->scr = v; break;
		default: break; /* LSR and MSR are read-only */
		}
	} else {
		uint8_t v = 0xff;
		switch (off) {
		case UART_RBR:
			if (s->lcr & LCR_DLAB) {
				v = s->dll;
			} else if (s->rx_len) {
				v = s->rx[s->rx_head];
				s->rx_head = (s->rx_head + 1) % SERIAL_RX_CAP;
				s->rx_len--;
			} else {
				v = 0;
			}
			break;
		case UART_IER: v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier; break;
		case UART_IIR:
			v = serial_iir(s);
			/* Reading IIR acknowledges a THR-empty interrupt. */
			if ((v & 0x0f) == IIR_THRI)
				s->thr_ipending = false;
			break;
		case UART_LCR: v = s->lcr; break;
		case UART_MCR: v = s->mcr; break;
		case UART_LSR: v = LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0); break;
		case UART_MSR: v = serial_msr(s); break;
		case UART_SCR: v = s->scr; break;
		default: break;
		}
		*data = v;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	/* UNTRUSTED(client): console bytes, queued as they are; what does not
	 * fit in the receive queue is left to the caller. */
	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_len < SERIAL_RX_CAP) {
		s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_CAP] = buf[n++];
		s->rx_len++;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_input_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_RX_CAP - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

bool serial_panic_seen(struct serial *s)
{
	bool seen;

	pthread_mutex_lock(&s->lock);
	seen = s->panic_seen;
	pthread_mutex_unlock(&s->lock);
	return seen;
}
