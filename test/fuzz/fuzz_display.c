/* libFuzzer target for what cellvm-display parses itself (libvncserver
 * parses the RFB stream): (a) its control channel's receive path, one
 * DisplayMessage datagram with no fd, the ring memfd, ring and eventfd, or a
 * stream socket, in either state, through dispatch_recv, display_ctl_chan's
 * table and the real handlers (UNTRUSTED(parent, checked)); (b) a client's
 * key and pointer events through display_input.c into input records
 * (UNTRUSTED(client)). Checks besides the sanitizers: a refused message
 * leaves the display as it was; an accepted setup is within its limits;
 * every record is within proto/input_event.h's limits, and a client that
 * goes releases exactly what it held.
 * Input: byte 0: bit 7 (b) or (a); for (a) bit 0 the state (serving), bits
 * 1-2 the fds; then the datagram. For (b) byte 1 bit 0 absolute, then
 * 9-byte events: kind (even: key, odd: pointer), then key: down, keysym
 * (4 bytes); pointer: mask, x, y (2 bytes each), w, h (1 byte each, x 16).
 * Built with -DFUZZ_SEEDGEN it writes seeds: the messages the launcher
 * sends (display_proc.c's shapes) and typed text. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "display.pb-c.h"
#include "test/fuzz/fuzz_check.h"

#ifndef FUZZ_SEEDGEN
#include "common/log.h"
#include "dev-procs/gpu/capture.h"
#include "display/display.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct display dp;
static int peer = -1, ring_fd = -1, efd = -1;
static size_t ring_size;

static void fuzz_once(void)
{
	static struct capture cap;
	int sv[2], err = 0;

	if (peer >= 0)
		return;
	log_init("fuzz_display", LOG_ERR);
	ring_size = capture_ring_bytes(2, 64, 64);
	ring_fd = memfd_create("ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(ring_fd >= 0 && efd >= 0);
	CHECK(ftruncate(ring_fd, (off_t)ring_size) == 0);
	CHECK(fcntl(ring_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	CHECK(capture_init(&cap, ring_fd, 2, 64, 64, NULL, 0) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	dp = (struct display){.ctl = sv[0], .ring_fd = -1, .efd = -1, .max_clients = 4};
	peer = sv[1];
	CHECK(display_fb_screen(&dp) == 0);
	display_vnc_configure(&dp);
	rfbInitServer(dp.screen);
	dp.pump = display_pump_start(1 << 20, &err);
	CHECK(dp.pump != NULL);
}

static void fuzz_ctl(uint8_t sel, const uint8_t *msg, size_t len)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct display before = dp;
	uint32_t state = sel & 1 ? DISPLAY_ST_SERVING : DISPLAY_ST_INIT;
	int fds[2], stream[2] = {-1, -1}, nfds = 0, r;
	char drain[DISPLAY_MAX_MSG];

	switch ((sel >> 1) & 3) {
	case 1: fds[nfds++] = ring_fd; break;
	case 2:
		fds[nfds++] = ring_fd;
		fds[nfds++] = efd;
		break;
	case 3:
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream) == 0);
		fds[nfds++] = stream[1];
		break;
	}
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(peer, &mh, 0) < 0) {
		/* Too long for one datagram, or empty: nothing to receive. */
		if (stream[0] >= 0) {
			close(stream[0]);
			close(stream[1]);
		}
		return;
	}
	/* The viewer is gone at once: a client the display takes dies in its
	 * handshake, and the next iteration starts with the same display. */
	if (stream[0] >= 0) {
		close(stream[0]);
		close(stream[1]);
	}
	dispatch_init(&dp.d, &display_ctl_chan, state);
	r = dispatch_recv(dp.ctl, &dp.d, &dp);
	if (r < 0 && dp.d.last_case == CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_SETUP) {
		/* A refused setup took nothing. */
		CHECK(dp.ring == before.ring && dp.ring_fd == before.ring_fd &&
		      dp.efd == before.efd);
	}
	if (dp.ring) {
		/* An accepted setup: within its limits, then undone. */
		CHECK(r >= 0 && state == DISPLAY_ST_INIT);
		CHECK(dp.d.state == DISPLAY_ST_SERVING);
		CHECK(dp.ring_size == ring_size);
		CHECK(dp.max_clients >= 1 && dp.max_clients <= DISPLAY_MAX_CLIENTS);
		CHECK(dp.wait_ms >= 1 && dp.wait_ms <= DISPLAY_MAX_WAIT_MS);
		CHECK(strlen(dp.name) >= 1 && strlen(dp.name) <= DISPLAY_NAME_MAX);
		munmap((void *)dp.ring, dp.ring_size);
		close(dp.ring_fd);
		close(dp.efd);
		dp.ring = NULL;
		dp.ring_fd = dp.efd = -1;
	}
	while (recv(peer, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		; /* DisplayStatus answers */
	rfbProcessEvents(dp.screen, 0);
	CHECK(dp.nclients <= DISPLAY_MAX_CLIENTS);
}

static void check_event(const struct cellvm_input_event *e)
{
	CHECK(e->backend == 0 && e->delay_ms == 0 && e->reserved == 0);
	switch (e->kind) {
	case CELLVM_INPUT_KEY_DOWN:
	case CELLVM_INPUT_KEY_UP:
		CHECK(e->code >= 1 && e->code <= CELLVM_INPUT_KEY_MAX && e->a == 0 && e->b == 0);
		break;
	case CELLVM_INPUT_ABS_MOVE:
		CHECK(e->code == 0 && e->a >= 0 && e->a <= CELLVM_INPUT_ABS_MAX && e->b >= 0 &&
		      e->b <= CELLVM_INPUT_ABS_MAX);
		break;
	case CELLVM_INPUT_REL_MOVE:
		CHECK(e->code == 0 && e->a >= -CELLVM_INPUT_REL_MAX &&
		      e->a <= CELLVM_INPUT_REL_MAX && e->b >= -CELLVM_INPUT_REL_MAX &&
		      e->b <= CELLVM_INPUT_REL_MAX && (e->a || e->b));
		break;
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP:
		CHECK(e->code == CELLVM_INPUT_BTN_LEFT || e->code == CELLVM_INPUT_BTN_MIDDLE ||
		      e->code == CELLVM_INPUT_BTN_RIGHT);
		break;
	case CELLVM_INPUT_WHEEL:
		CHECK(e->code == 0 && e->a >= -1 && e->a <= 1 && e->b >= -1 && e->b <= 1 &&
		      (e->a || e->b));
		break;
	default: CHECK(!"a kind the mapping never makes");
	}
}

static void fuzz_input(bool absolute, const uint8_t *d, size_t len)
{
	struct display_input in = {.absolute = absolute};
	struct cellvm_input_event ev[DISPLAY_INPUT_MAX_EVENTS];
	int held = 0; /* keys and buttons down, counted from the records */
	size_t n;

	for (; len >= 9; d += 9, len -= 9) {
		if (!(d[0] & 1)) {
			uint32_t sym = (uint32_t)d[2] | (uint32_t)d[3] << 8 | (uint32_t)d[4] << 16 |
				       (uint32_t)d[5] << 24;
			n = display_input_key(&in, d[1] & 1, sym, ev);
			CHECK(n <= 1);
		} else {
			int32_t x = d[2] | d[3] << 8, y = d[4] | d[5] << 8;
			n = display_input_pointer(&in, d[1] & 0x7f, x, y, (uint32_t)d[6] * 16,
						  (uint32_t)d[7] * 16, ev);
			CHECK(n <= DISPLAY_INPUT_MAX_EVENTS);
		}
		for (size_t i = 0; i < n; i++) {
			check_event(&ev[i]);
			held += ev[i].kind == CELLVM_INPUT_KEY_DOWN ||
				ev[i].kind == CELLVM_INPUT_BTN_DOWN;
			held -= ev[i].kind == CELLVM_INPUT_KEY_UP ||
				ev[i].kind == CELLVM_INPUT_BTN_UP;
		}
	}
	/* A key pressed twice (autorepeat) counts twice above: compare the
	 * release count with the state instead. */
	n = display_input_release_all(&in, ev, DISPLAY_INPUT_MAX_EVENTS);
	while (n > 0) {
		for (size_t i = 0; i < n; i++) {
			check_event(&ev[i]);
			CHECK(ev[i].kind == CELLVM_INPUT_KEY_UP ||
			      ev[i].kind == CELLVM_INPUT_BTN_UP);
		}
		n = display_input_release_all(&in, ev, DISPLAY_INPUT_MAX_EVENTS);
	}
	CHECK(in.buttons == 0);
	for (size_t i = 0; i < DISPLAY_INPUT_KEY_WORDS; i++)
		CHECK(in.keys[i] == 0);
	(void)held;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] & 0x80) {
		fuzz_input(data[1] & 1, data + 2, size - 2);
		return 0;
	}
	fuzz_once();
	fuzz_ctl(data[0], data + 1, size - 1);
	return 0;
}

#else /* FUZZ_SEEDGEN */
#include "dev-procs/gpu/capture.h"

static int seed_write(const char *dir, const char *name, uint8_t sel,
		      Cellvm__Display__DisplayMessage *m)
{
	uint8_t buf[4096];
	char path[512];
	size_t len;
	FILE *f;

	buf[0] = sel;
	len = 1 + protobuf_c_message_pack(&m->base, buf + 1);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len)
		return -1;
	return fclose(f);
}

int main(int argc, char **argv)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplaySetup s = CELLVM__DISPLAY__DISPLAY_SETUP__INIT;
	Cellvm__Display__DisplayClient c = CELLVM__DISPLAY__DISPLAY_CLIENT__INIT;
	Cellvm__Display__DisplayQuery q = CELLVM__DISPLAY__DISPLAY_QUERY__INIT;
	/* "Hi!" typed with shift, a click and a wheel step. */
	static const uint8_t typed[] = {
		0x80, 1,  0,  1, 0xe1, 0xff, 0,	  0, 0,	 0,  0,	 0,  1,	   'H',	 0, 0,
		0,    0,  0,  0, 0,    'H',  0,	  0, 0,	 0,  0,	 0,  1,	   'i',	 0, 0,
		0,    0,  0,  0, 1,    '!',  0,	  0, 0,	 0,  0,	 0,  0xe1, 0xff, 0, 0,
		0,    0,  1,  1, 100,  0,    50,  0, 64, 48, 0,	 1,  0,	   100,	 0, 50,
		0,    64, 48, 0, 1,    8,    100, 0, 50, 0,  64, 48, 0};
	char path[512];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* What launcher_start_display sends (the test ring is 2 slots of 64x64). */
	s.ring_size = capture_ring_bytes(2, 64, 64);
	s.name = (char *)"cellvm";
	s.max_clients = 4;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_SETUP;
	m.setup = &s;
	m.nfds = 2;
	if (seed_write(argv[1], "setup", 2 << 1, &m) < 0)
		return 1;
	c.id = 7;
	c.mode = CELLVM__DISPLAY__CLIENT_MODE__CLIENT_RESUMED;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_CLIENT;
	m.client = &c;
	m.nfds = 1;
	if (seed_write(argv[1], "client", 1 | 3 << 1, &m) < 0)
		return 1;
	q.id = 9;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_QUERY;
	m.query = &q;
	m.nfds = 0;
	if (seed_write(argv[1], "query", 1, &m) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/typed", argv[1]);
	f = fopen(path, "wb");
	if (!f || fwrite(typed, 1, sizeof(typed), f) != sizeof(typed) || fclose(f) != 0)
		return 1;
	return 0;
}
#endif
