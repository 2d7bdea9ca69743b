/* bench-input: the latency of one injected key through the real
 * cellvm-dev-input, from the InputCommand sent on the control channel to the
 * guest seeing it (virtio: the interrupt and the used ring entries; ps2: the
 * IRQ 1 eventfd and the byte read from port 0x60 through a PortAccess; usb:
 * the interrupt IN transfer completed with the report, its Transfer Event
 * read after the interrupt) and to the InputReply; p50/p99 per backend, and
 * events per second in batches of 100 key presses. The harness
 * (test/harness/vin.h, vxhci.h for usb) plays core, drivers and launcher in
 * this process. Prints, as its reference, the round trip of one
 * empty SOCK_SEQPACKET message between two processes: the floor of any
 * request and reply. Reports; asserts no timing. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "device.pb-c.h"
#include "test/harness/vin.h"
#include "test/harness/vxhci.h"

#define BATCH_KEYS 100

static double pct_us(uint64_t *v, size_t n, unsigned pct)
{
	return (double)bench_pct(v, n, pct) / 1000.0;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-input: %s: %s\n", what, strerror(r < 0 ? -r : EPROTO));
	exit(1);
}

/* ---- the reference: an empty datagram there and back ---- */

static void reference(uint32_t iters, uint64_t *t)
{
	int sp[2];
	pid_t pid;
	char b;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		die("socketpair", -errno);
	pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		close(sp[0]);
		/* Echo until the parent's end closes (the send then fails). */
		for (;;)
			if (recv(sp[1], &b, 1, 0) < 0 || send(sp[1], &b, 0, MSG_NOSIGNAL) < 0)
				_exit(0);
	}
	close(sp[1]);
	for (uint32_t i = 0; i < iters; i++) {
		uint64_t t0 = bench_now_ns();

		if (send(sp[0], &b, 0, 0) < 0 || recv(sp[0], &b, 1, 0) < 0)
			die("reference round trip", -errno);
		t[i] = bench_now_ns() - t0;
	}
	close(sp[0]);
	waitpid(pid, NULL, 0);
}

/* ---- one key ---- */

static struct cellvm_input_event press(uint32_t i, uint8_t backend)
{
	return (struct cellvm_input_event){
		.kind = i % 2 ? CELLVM_INPUT_KEY_UP : CELLVM_INPUT_KEY_DOWN,
		.backend = backend,
		.code = KEY_A,
	};
}

static void wait_ok(struct vin *t, int64_t id)
{
	struct inctl_reply r;
	int e = inctl_reply(&t->ctl, &r, VIN_TIMEOUT_MS);

	if (e < 0)
		die("reply", e);
	if (r.id != (uint64_t)id || r.status != CELLVM__DEVICE__INPUT_STATUS__INPUT_OK)
		die("reply not OK", -EPROTO);
}

static void virtio_one(struct vin *t, uint32_t i, uint64_t *seen, uint64_t *done)
{
	struct cellvm_input_event ev = press(i, CELLVM_INPUT_BACKEND_VIRTIO);
	struct vin_event e;
	uint64_t t0 = bench_now_ns();
	int64_t id = inctl_inject(&t->ctl, 0, &ev, 1);

	if (id < 0)
		die("inject", (int)id);
	/* The guest is interrupted, and finds the key and SYN_REPORT used. */
	if (!vin_irq_wait(t, VIN_KBD, VIN_TIMEOUT_MS))
		die("virtio interrupt", -ETIMEDOUT);
	if ((uint16_t)(vdrv_used_idx(&t->eq[VIN_KBD]) - t->eq[VIN_KBD].last_used) < 2)
		die("virtio frame", -EPROTO);
	*seen = bench_now_ns() - t0;
	wait_ok(t, id);
	*done = bench_now_ns() - t0;
	while (vin_event_next(t, VIN_KBD, &e) == 1)
		;
	if (vin_evbufs(t, VIN_KBD, 2) < 0)
		die("eventq buffers", -EIO);
}

static void ps2_one(struct vin *t, uint32_t i, uint64_t *seen, uint64_t *done)
{
	struct cellvm_input_event ev = press(i, CELLVM_INPUT_BACKEND_PS2);
	struct pollfd pfd = {.fd = t->irq[0], .events = POLLIN};
	uint64_t t0 = bench_now_ns();
	int64_t id = inctl_inject(&t->ctl, 0, &ev, 1);
	int r;

	if (id < 0)
		die("inject", (int)id);
	/* IRQ 1, then the guest's inb(0x60). */
	if (poll(&pfd, 1, VIN_TIMEOUT_MS) != 1)
		die("IRQ 1", -ETIMEDOUT);
	(void)vin_ps2_irq_take(t, 1);
	r = vin_ps2_io(t, 0x60, false, 0);
	if (r != (i % 2 ? 0x9e : 0x1e))
		die("scan code", r < 0 ? r : -EPROTO);
	*seen = bench_now_ns() - t0;
	wait_ok(t, id);
	*done = bench_now_ns() - t0;
}

/* The usb keyboard's slot and report buffer (vx_device_up). */
struct usb_kbd {
	struct vxhci x;
	uint32_t slot;
	uint64_t buf;
};

static void usb_ok(struct usb_kbd *u, int64_t id)
{
	struct inctl_reply r;
	int e = inctl_reply(&u->x.ctl, &r, VIN_TIMEOUT_MS);

	if (e < 0)
		die("reply", e);
	if (r.id != (uint64_t)id || r.status != CELLVM__DEVICE__INPUT_STATUS__INPUT_OK)
		die("reply not OK", -EPROTO);
}

static void usb_one(struct usb_kbd *u, uint32_t i, uint64_t *seen, uint64_t *done)
{
	struct cellvm_input_event ev = press(i, CELLVM_INPUT_BACKEND_USB);
	/* As usbhid does: a TD waits on the endpoint before the key comes. */
	uint64_t trb = vx_intr_td(&u->x, u->slot, u->buf, 8);
	uint64_t t0 = bench_now_ns();
	int64_t id = vx_inject(&u->x, &ev, 1);
	int n;

	if (id < 0)
		die("inject", (int)id);
	n = vx_intr_wait(&u->x, u->slot, trb, 8, VIN_TIMEOUT_MS);
	if (n != 8)
		die("usb report", n < 0 ? n : -EPROTO);
	*seen = bench_now_ns() - t0;
	usb_ok(u, id);
	*done = bench_now_ns() - t0;
}

static double usb_rate(struct usb_kbd *u, uint32_t batches)
{
	struct cellvm_input_event ev[2 * BATCH_KEYS];
	uint64_t t0;

	for (uint32_t i = 0; i < 2 * BATCH_KEYS; i++)
		ev[i] = press(i, CELLVM_INPUT_BACKEND_USB);
	t0 = bench_now_ns();
	for (uint32_t k = 0; k < batches; k++) {
		int64_t id = vx_inject(&u->x, ev, 2 * BATCH_KEYS);

		if (id < 0)
			die("inject", (int)id);
		/* One TD per report, each queued as the last completes. */
		for (uint32_t i = 0; i < 2 * BATCH_KEYS; i++) {
			uint64_t trb = vx_intr_td(&u->x, u->slot, u->buf, 8);

			if (vx_intr_wait(&u->x, u->slot, trb, 8, VIN_TIMEOUT_MS) != 8)
				die("usb batch", -EPROTO);
		}
		usb_ok(u, id);
	}
	return (double)batches * 2 * BATCH_KEYS / ((double)(bench_now_ns() - t0) / 1e9);
}

static void usb_bench(uint32_t iters, uint32_t batches, uint64_t *seen, uint64_t *done)
{
	static struct usb_kbd u;
	Cellvm__Device__UsbHidConfig *const ids[3] = {NULL, NULL, NULL};
	double ev_s;
	int r;

	r = vx_start(&u.x, ids);
	if (r == 0)
		r = vx_reset(&u.x);
	if (r == 0)
		r = vx_run(&u.x);
	if (r == 0)
		r = vx_device_up(&u.x, 1);
	if (r <= 0)
		die("starting cellvm-dev-input with the usb backend", r < 0 ? r : -EPROTO);
	u.slot = (uint32_t)r;
	u.buf = VX_SLOT_MEM + (uint64_t)u.slot * VX_SLOT_SIZE + VX_BUF;
	for (uint32_t i = 0; i < iters; i++)
		usb_one(&u, i, &seen[i], &done[i]);
	ev_s = usb_rate(&u, batches);
	printf("%-8s %14.1f %14.1f %14.1f %14.1f %12.0f\n", "usb", pct_us(seen, iters, 50),
	       pct_us(seen, iters, 99), pct_us(done, iters, 50), pct_us(done, iters, 99), ev_s);
	r = vx_stop(&u.x);
	if (r != 0)
		fprintf(stderr, "bench-input: usb device exit status %d\n", r);
}

/* ---- batches ---- */

static void virtio_batch(struct vin *t, const struct cellvm_input_event *ev, uint32_t n)
{
	int64_t id = inctl_inject(&t->ctl, 0, ev, n);
	struct pollfd pfd[2] = {{.fd = t->fn[VIN_KBD].irq_fd, .events = POLLIN},
				{.fd = t->fn[0].proc.ctl, .events = POLLIN}};
	struct vin_event e;

	if (id < 0)
		die("inject", (int)id);
	/* The driver takes what is used and posts the buffers again. */
	for (;;) {
		uint32_t got = 0;

		if (poll(pfd, 2, VIN_TIMEOUT_MS) <= 0)
			die("batch", -ETIMEDOUT);
		if (pfd[1].revents)
			break;
		(void)vcore_irq_take(&t->fn[VIN_KBD]);
		while (vin_event_next(t, VIN_KBD, &e) == 1)
			got++;
		if (got && vin_evbufs(t, VIN_KBD, got) < 0)
			die("eventq buffers", -EIO);
	}
	wait_ok(t, id);
	while (vin_event_next(t, VIN_KBD, &e) == 1)
		if (vin_evbufs(t, VIN_KBD, 1) < 0)
			die("eventq buffers", -EIO);
}

static void ps2_batch(struct vin *t, const struct cellvm_input_event *ev, uint32_t n)
{
	int64_t id = inctl_inject(&t->ctl, 0, ev, n);
	struct pollfd pfd[2] = {{.fd = t->irq[0], .events = POLLIN},
				{.fd = t->fn[0].proc.ctl, .events = POLLIN}};

	if (id < 0)
		die("inject", (int)id);
	/* An interrupt per byte: read while the status says one is there. */
	for (;;) {
		if (poll(pfd, 2, VIN_TIMEOUT_MS) <= 0)
			die("batch", -ETIMEDOUT);
		if (pfd[1].revents)
			break;
		(void)vin_ps2_irq_take(t, 1);
		while (vin_ps2_obf(t) == 1)
			(void)vin_ps2_io(t, 0x60, false, 0);
	}
	wait_ok(t, id);
}

static double rate(struct vin *t, bool virtio, uint32_t batches)
{
	struct cellvm_input_event ev[2 * BATCH_KEYS];
	uint8_t b = virtio ? CELLVM_INPUT_BACKEND_VIRTIO : CELLVM_INPUT_BACKEND_PS2;
	uint64_t t0;

	for (uint32_t i = 0; i < 2 * BATCH_KEYS; i++)
		ev[i] = press(i, b);
	t0 = bench_now_ns();
	for (uint32_t k = 0; k < batches; k++) {
		if (virtio)
			virtio_batch(t, ev, 2 * BATCH_KEYS);
		else
			ps2_batch(t, ev, 2 * BATCH_KEYS);
	}
	return (double)batches * 2 * BATCH_KEYS / ((double)(bench_now_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
	uint32_t iters = 2000, batches = 50;
	uint64_t *seen, *done;
	struct vin t;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
			iters = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
			batches = (uint32_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: %s [--iters N] [--batches N]\n", argv[0]);
			return 2;
		}
	}
	if (iters < 2)
		iters = 2;
	inctl_require();
	seen = calloc(iters, sizeof(*seen));
	done = calloc(iters, sizeof(*done));
	if (!seen || !done)
		die("calloc", -ENOMEM);
	r = vin_start(&t, &(struct vin_opts){.default_backend = CELLVM_INPUT_BACKEND_PS2});
	if (r == 0)
		r = vin_activate(&t, VIN_KBD);
	if (r == 0)
		r = vin_ps2_driver_init(&t);
	if (r == 0)
		r = vin_evbufs(&t, VIN_KBD, VIN_EQ_SIZE - 8);
	if (r < 0)
		die("starting cellvm-dev-input", r);

	printf("bench-input: %u single keys per backend (p50/p99), %u batches of %u key "
	       "presses; the harness as core, guest drivers and launcher\n",
	       iters, batches, BATCH_KEYS);
	printf("%-8s %14s %14s %14s %14s %12s\n", "backend", "guest p50 us", "guest p99 us",
	       "reply p50 us", "reply p99 us", "events/s");
	for (int v = 0; v < 2; v++) {
		double ev_s;

		for (uint32_t i = 0; i < iters; i++) {
			if (v)
				virtio_one(&t, i, &seen[i], &done[i]);
			else
				ps2_one(&t, i, &seen[i], &done[i]);
		}
		ev_s = rate(&t, v, batches);
		printf("%-8s %14.1f %14.1f %14.1f %14.1f %12.0f\n", v ? "virtio" : "ps2",
		       pct_us(seen, iters, 50), pct_us(seen, iters, 99), pct_us(done, iters, 50),
		       pct_us(done, iters, 99), ev_s);
	}
	r = vin_stop(&t);
	if (r != 0)
		fprintf(stderr, "bench-input: device exit status %d\n", r);
	usb_bench(iters, batches, seen, done);
	reference(iters, seen);
	printf("reference: empty SOCK_SEQPACKET round trip between two processes: p50 %.1f us, "
	       "p99 %.1f us\n",
	       pct_us(seen, iters, 50), pct_us(seen, iters, 99));
	free(seen);
	free(done);
	return r == 0 ? 0 : 1;
}
