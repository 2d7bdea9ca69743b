/* Hostile viewers of cellvm-display: each loses only its own connection
 * while a well-behaved libvncclient client keeps getting every new frame,
 * and the control channel keeps answering. Malformed messages, a huge
 * ClientCutText, FramebufferUpdateRequests outside the framebuffer, a
 * message left half-sent, a reader that never reads, one client too many. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "displaytest.h"

#define MAX_CLIENTS 4

static struct dt T;
static rfbClient *good;
static uint32_t seed = 100;

static int setup(void **state)
{
	int r = dt_start(&T, false, MAX_CLIENTS);

	(void)state;
	if (r == 77)
		exit(77);
	if (r < 0)
		return r;
	dt_publish(&T, DT_MAX_W, DT_MAX_H, seed, NULL, 0);
	good = dt_client(&T, 1, false);
	return good && dt_client_sees(&T, good, DT_WAIT_MS) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dt_client_free(good);
	dt_stop(&T);
	return 0;
}

/* The good client still follows a new frame, and the display answers. */
static void still_serving(void)
{
	struct capture_rect r = {seed % 500, seed % 300, 200, 100};
	struct display_msg st;

	dt_publish(&T, DT_MAX_W, DT_MAX_H, ++seed, &r, 1);
	assert_true(dt_client_sees(&T, good, DT_WAIT_MS));
	assert_true(dt_status(&T, &st));
}

/* The display closed fd: reads end in EOF (or a reset) within the deadline,
 * whatever it had sent before. */
static bool dropped(int fd)
{
	char buf[65536];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, DT_WAIT_MS) != 1)
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
	}
}

static int evil_client(void)
{
	int fd = dt_connect(&T, 66, false, false);

	assert_true(fd >= 0);
	assert_true(dt_raw_handshake(fd));
	return fd;
}

static void test_unknown_message(void **state)
{
	int fd = evil_client();

	(void)state;
	assert_true(dt_write(fd, "\xee\x01\x02\x03", 4));
	assert_true(dropped(fd));
	close(fd);
	still_serving();
}

static void test_garbage_handshake(void **state)
{
	int fd = dt_connect(&T, 67, false, false);
	uint8_t v[12];

	(void)state;
	assert_true(fd >= 0);
	assert_true(dt_read(fd, v, 12, DT_WAIT_MS));
	assert_true(dt_write(fd, "XYZ 999.999\n", 12));
	assert_true(dropped(fd));
	close(fd);
	still_serving();
}

static void test_huge_cut_text(void **state)
{
	/* ClientCutText: type 6, 3 bytes padding, length 2 GiB. */
	static const uint8_t msg[8] = {6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
	int fd = evil_client();

	(void)state;
	assert_true(dt_write(fd, msg, sizeof(msg)));
	assert_true(dropped(fd));
	close(fd);
	still_serving();
}

static void test_absurd_update_request(void **state)
{
	/* FramebufferUpdateRequest far outside the framebuffer, and one that
	 * wraps: the connection may stay, nothing else may suffer. */
	static const uint8_t req1[10] = {3, 0, 0xff, 0xf0, 0xff, 0xf0, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t req2[10] = {3, 1, 0x03, 0xff, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff};
	int fd = evil_client();

	(void)state;
	assert_true(dt_write(fd, req1, sizeof(req1)));
	assert_true(dt_write(fd, req2, sizeof(req2)));
	still_serving();
	close(fd);
	still_serving();
}

static void test_half_message(void **state)
{
	/* Three bytes of a ten-byte message, then nothing: libvncserver waits
	 * client_wait_ms (300 here) for the rest, then drops it. */
	int fd = evil_client();

	(void)state;
	assert_true(dt_write(fd, "\x03\x00\x00", 3));
	assert_true(dropped(fd));
	close(fd);
	still_serving();
}

static void test_never_reads(void **state)
{
	/* SetEncodings raw only, then full-frame requests, never reading: 3 MiB
	 * each, far past the pump's bound for this client. */
	static const uint8_t enc[8] = {2, 0, 0, 1, 0, 0, 0, 0};
	uint8_t req[10] = {
		3, 0, 0, 0, 0, 0, DT_MAX_W >> 8, DT_MAX_W & 0xff, DT_MAX_H >> 8, DT_MAX_H & 0xff};
	struct display_msg st;
	int fd = evil_client();
	bool gone = false;

	(void)state;
	assert_true(dt_write(fd, enc, sizeof(enc)));
	/* Until the display drops it (the write fails) or 40 requests. */
	for (int i = 0; i < 40 && dt_write(fd, req, sizeof(req)); i++) {
		/* Others are served meanwhile, every time. */
		still_serving();
	}
	/* The display dropped it: the status counts only the good client. */
	for (int i = 0; i < 50 && !gone; i++) {
		assert_true(dt_status(&T, &st));
		gone = st.clients == 1;
		if (!gone)
			still_serving(); /* a new frame, a new chance to notice */
	}
	assert_true(gone);
	close(fd);
	still_serving();
}

static void test_too_many(void **state)
{
	int fds[MAX_CLIENTS + 1];
	struct display_msg st0, st;
	uint8_t v[12];

	(void)state;
	/* Start from the good client alone (the earlier cases' viewers are
	 * gone once the display has seen their EOF). */
	for (int i = 0; i < 50; i++) {
		assert_true(dt_status(&T, &st0));
		if (st0.clients == 1)
			break;
		still_serving();
	}
	assert_int_equal(st0.clients, 1);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		fds[i] = dt_connect(&T, 80 + i, true, false);
		assert_true(fds[i] >= 0);
	}
	/* The good client plus MAX_CLIENTS - 1 got in; the last one did not. */
	assert_true(dropped(fds[MAX_CLIENTS - 1]));
	for (int i = 0; i < MAX_CLIENTS - 1; i++)
		assert_true(dt_read(fds[i], v, 12, DT_WAIT_MS));
	assert_true(dt_status(&T, &st));
	assert_int_equal(st.clients, MAX_CLIENTS);
	assert_int_equal(st.clients_refused, st0.clients_refused + 1);
	for (int i = 0; i < MAX_CLIENTS; i++)
		close(fds[i]);
	still_serving();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_message),
		cmocka_unit_test(test_garbage_handshake),
		cmocka_unit_test(test_huge_cut_text),
		cmocka_unit_test(test_absurd_update_request),
		cmocka_unit_test(test_half_message),
		cmocka_unit_test(test_never_reads),
		cmocka_unit_test(test_too_many),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
