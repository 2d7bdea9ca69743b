/* cellvm-display as production starts it (launcher_start_display: sandboxed,
 * fd 3), with the test as the gpu (frames and the cursor written into a ring
 * by the real writer), as the parent (connections handed over, RESUMED's
 * VNC authentication) and as viewers: libvncclient, whose framebuffer must
 * equal the published frame pixel for pixel, gvnccapture's PNG, and a
 * WebSocket upgrade. Input typed by the clients comes out as DisplayInput. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/input-event-codes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <rfb/keysym.h>
#include <signal.h>
#include <spawn.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "display.pb-c.h"
#include "displaytest.h"
#include "proto/channel.h"

extern char **environ;
/* libvncserver's DES of the VNC authentication (vncauth.c). */
void rfbEncryptBytes(unsigned char *bytes, char *passwd);

static struct dt T;

static int setup(void **state)
{
	int r = dt_start(&T, false, 8);

	(void)state;
	if (r == 77)
		exit(77);
	return r;
}

static int teardown(void **state)
{
	(void)state;
	dt_stop(&T);
	return 0;
}

static void test_frames(void **state)
{
	struct capture_rect rects[2] = {{10, 20, 100, 50}, {300, 300, 64, 64}};
	struct display_msg st;
	rfbClient *c;

	(void)state;
	dt_publish(&T, 800, 600, 1, NULL, 0);
	c = dt_client(&T, 1, false);
	assert_non_null(c);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	/* Partial damage: only the rectangles change. */
	dt_publish(&T, 800, 600, 2, rects, 2);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	/* A resize. */
	dt_publish(&T, 1024, 768, 3, NULL, 0);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	assert_int_equal(c->width, 1024);
	/* Missed frames (several published before the display reads):
	 * whatever it sends, the client ends up with the newest. */
	for (uint32_t s = 4; s < 10; s++) {
		struct capture_rect one = {s * 10, s * 10, 5, 5};
		dt_publish(&T, 1024, 768, s, &one, 1);
	}
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	/* The same picture as XBGR8888 (red in the low byte): converted. */
	{
		size_t n = (size_t)T.w * T.h;
		uint32_t *bgr = malloc(n * 4);

		assert_non_null(bgr);
		for (size_t i = 0; i < n; i++) {
			uint32_t p = dt_pattern((uint32_t)(i % T.w), (uint32_t)(i / T.w), 77);
			T.pixels[i] = p;
			bgr[i] = (p >> 16 & 0xff) | (p & 0xff00) | (p & 0xff) << 16 | 0xff000000u;
		}
		assert_true(capture_publish(&T.cap, 0, DRM_FORMAT_XBGR8888, T.w, T.h, T.w * 4,
					    (const uint8_t *)bgr, NULL, 0) > 0);
		free(bgr);
		assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	}
	/* A frame of another scanout is not shown. */
	assert_true(capture_publish(&T.cap, 1, DRM_FORMAT_XRGB8888, 64, 64, 64 * 4,
				    (const uint8_t *)T.pixels, NULL, 0) > 0);
	dt_publish(&T, T.w, T.h, 78, NULL, 0);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	assert_int_equal(c->width, 1024);
	assert_true(dt_status(&T, &st));
	assert_int_equal(st.clients, 1);
	assert_true(st.frames_sent >= 3);
	assert_true(st.bytes_sent > 1024 * 768);
	dt_client_free(c);
}

struct cursor_seen {
	int n, xhot, yhot, w, h;
	bool image_ok;
};
static struct cursor_seen cursor_seen;
static uint32_t cursor_img[64 * 64];

static void got_cursor(rfbClient *c, int xhot, int yhot, int w, int h, int bpp)
{
	const uint32_t *src = (const uint32_t *)c->rcSource;

	cursor_seen.n++;
	cursor_seen.xhot = xhot;
	cursor_seen.yhot = yhot;
	cursor_seen.w = w;
	cursor_seen.h = h;
	cursor_seen.image_ok = bpp == 4 && w == 64 && h == 64;
	for (int i = 0; cursor_seen.image_ok && i < 64 * 64; i++) {
		bool opaque = (cursor_img[i] >> 24) >= 128;
		bool mask = c->rcMask[i] != 0;

		if (mask != opaque || (opaque && (src[i] & 0xffffff) != (cursor_img[i] & 0xffffff)))
			cursor_seen.image_ok = false;
	}
	/* libvncclient 0.9.14 allocates a new rcMask per shape without
	 * freeing the last one; it is ours to drop once looked at. */
	free(c->rcMask);
	c->rcMask = NULL;
}

static int cursor_pos_x = -1, cursor_pos_y = -1;

static rfbBool got_cursor_pos(rfbClient *c, int x, int y)
{
	(void)c;
	cursor_pos_x = x;
	cursor_pos_y = y;
	return TRUE;
}

static bool cursor_at(rfbClient *c, void *arg)
{
	const int *xy = arg;

	(void)c;
	return cursor_pos_x == xy[0] && cursor_pos_y == xy[1];
}

static bool cursor_arrived(rfbClient *c, void *arg)
{
	(void)c;
	return cursor_seen.n >= *(int *)arg && cursor_seen.image_ok;
}

static void test_cursor(void **state)
{
	rfbClient *c;
	int want = 1;

	(void)state;
	for (int i = 0; i < 64 * 64; i++)
		cursor_img[i] = (i % 64 < 32 ? 0xff000000u : 0x00000000u) | dt_pattern(i, 7, 9);
	dt_publish(&T, 640, 480, 11, NULL, 0);
	c = dt_client(&T, 2, false);
	assert_non_null(c);
	c->GotCursorShape = got_cursor;
	c->HandleCursorPos = got_cursor_pos;
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	capture_cursor(&T.cap, cursor_img, 5, 7, 100, 120, 0, true);
	if (!dt_client_wait(c, DT_WAIT_MS, cursor_arrived, &want))
		fail_msg("cursor: %d shapes, the last %dx%d hot %d,%d, image %s", cursor_seen.n,
			 cursor_seen.w, cursor_seen.h, cursor_seen.xhot, cursor_seen.yhot,
			 cursor_seen.image_ok ? "ok" : "differs");
	assert_int_equal(cursor_seen.xhot, 5);
	assert_int_equal(cursor_seen.yhot, 7);
	/* A move alone: the position goes out, the shape does not. */
	{
		int xy[2] = {300, 200}, shapes = cursor_seen.n;

		capture_cursor(&T.cap, NULL, 5, 7, 300, 200, 0, true);
		assert_true(dt_client_wait(c, DT_WAIT_MS, cursor_at, xy));
		assert_int_equal(cursor_seen.n, shapes);
		/* A new image: the shape again. */
		cursor_img[0] ^= 0xff00ff;
		want = shapes + 1;
		capture_cursor(&T.cap, cursor_img, 5, 7, 300, 200, 0, true);
		assert_true(dt_client_wait(c, DT_WAIT_MS, cursor_arrived, &want));
	}
	/* The frame underneath is untouched (the client draws the cursor). */
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	dt_client_free(c);
}

static void expect_event(const struct cellvm_input_event *e, uint8_t kind, uint16_t code, int32_t a,
			 int32_t b)
{
	assert_int_equal(e->kind, kind);
	assert_int_equal(e->code, code);
	assert_int_equal(e->a, a);
	assert_int_equal(e->b, b);
}

static void test_input(void **state)
{
	struct cellvm_input_event ev[16];
	rfbClient *c, *v;
	size_t n;

	(void)state;
	dt_publish(&T, 801, 601, 12, NULL, 0);
	v = dt_client(&T, 3, true);
	c = dt_client(&T, 4, false);
	assert_non_null(v);
	assert_non_null(c);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	/* A view-only client's key goes nowhere: the next record is c's. */
	assert_true(SendKeyEvent(v, XK_q, TRUE));
	assert_true(SendKeyEvent(c, XK_a, TRUE));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 1);
	expect_event(&ev[0], CELLVM_INPUT_KEY_DOWN, KEY_A, 0, 0);
	assert_true(SendKeyEvent(c, XK_a, FALSE));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 1);
	expect_event(&ev[0], CELLVM_INPUT_KEY_UP, KEY_A, 0, 0);
	/* Shift as the client sends it, and '!' is the 1 key. */
	assert_true(SendKeyEvent(c, XK_Shift_L, TRUE));
	assert_true(SendKeyEvent(c, XK_exclam, TRUE));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	expect_event(&ev[0], CELLVM_INPUT_KEY_DOWN, KEY_LEFTSHIFT, 0, 0);
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	expect_event(&ev[0], CELLVM_INPUT_KEY_DOWN, KEY_1, 0, 0);
	assert_true(SendKeyEvent(c, XK_Return, TRUE));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	expect_event(&ev[0], CELLVM_INPUT_KEY_DOWN, KEY_ENTER, 0, 0);
	/* Absolute pointer: 0..32767 over the frame, then the left button. */
	assert_true(SendPointerEvent(c, 400, 300, 0));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 1);
	expect_event(&ev[0], CELLVM_INPUT_ABS_MOVE, 0, 400 * 32767 / 800, 300 * 32767 / 600);
	assert_true(SendPointerEvent(c, 800, 600, rfbButton1Mask));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 2);
	expect_event(&ev[0], CELLVM_INPUT_ABS_MOVE, 0, 32767, 32767);
	expect_event(&ev[1], CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_LEFT, 0, 0);
	assert_true(SendPointerEvent(c, 800, 600, rfbButton3Mask));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 2);
	expect_event(&ev[0], CELLVM_INPUT_BTN_UP, CELLVM_INPUT_BTN_LEFT, 0, 0);
	expect_event(&ev[1], CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_RIGHT, 0, 0);
	/* Wheel: button 4 is one detent up, 5 one down. */
	assert_true(SendPointerEvent(c, 800, 600, rfbButton3Mask | rfbButton4Mask));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 1);
	expect_event(&ev[0], CELLVM_INPUT_WHEEL, 0, 1, 0);
	assert_true(SendPointerEvent(c, 800, 600, rfbButton3Mask | rfbButton5Mask));
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	expect_event(&ev[0], CELLVM_INPUT_WHEEL, 0, -1, 0);
	/* A client that goes releases what it held: shift, 1, enter, right. */
	dt_client_free(c);
	n = dt_input(&T, ev, 16, DT_WAIT_MS);
	assert_int_equal(n, 4);
	expect_event(&ev[0], CELLVM_INPUT_BTN_UP, CELLVM_INPUT_BTN_RIGHT, 0, 0);
	expect_event(&ev[1], CELLVM_INPUT_KEY_UP, KEY_1, 0, 0);
	expect_event(&ev[2], CELLVM_INPUT_KEY_UP, KEY_ENTER, 0, 0);
	expect_event(&ev[3], CELLVM_INPUT_KEY_UP, KEY_LEFTSHIFT, 0, 0);
	dt_client_free(v);
}

static void test_relative(void **state)
{
	struct cellvm_input_event ev[8];
	struct dt rel;
	rfbClient *c;

	(void)state;
	assert_int_equal(dt_start(&rel, true, 2), 0);
	dt_publish(&rel, 640, 480, 41, NULL, 0);
	c = dt_client(&rel, 1, false);
	assert_non_null(c);
	assert_true(dt_client_sees(&rel, c, DT_WAIT_MS));
	/* The first position only sets where the pointer is. */
	assert_true(SendPointerEvent(c, 100, 100, rfbButton2Mask));
	assert_int_equal(dt_input(&rel, ev, 8, DT_WAIT_MS), 1);
	expect_event(&ev[0], CELLVM_INPUT_BTN_DOWN, CELLVM_INPUT_BTN_MIDDLE, 0, 0);
	assert_true(SendPointerEvent(c, 130, 90, rfbButton2Mask));
	assert_int_equal(dt_input(&rel, ev, 8, DT_WAIT_MS), 1);
	expect_event(&ev[0], CELLVM_INPUT_REL_MOVE, 0, 30, -10);
	assert_true(SendPointerEvent(c, 0, 479, 0));
	assert_int_equal(dt_input(&rel, ev, 8, DT_WAIT_MS), 2);
	expect_event(&ev[0], CELLVM_INPUT_REL_MOVE, 0, -130, 389);
	expect_event(&ev[1], CELLVM_INPUT_BTN_UP, CELLVM_INPUT_BTN_MIDDLE, 0, 0);
	dt_client_free(c);
	dt_stop(&rel);
}

/* The display is sandboxed when it says Ready: its title says which layers
 * (root reads /proc/PID/cmdline of a non-dumpable process). */
static void test_sandboxed(void **state)
{
	char path[64], title[512] = {0};
	ssize_t n;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)T.dp.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, title, sizeof(title) - 1);
	close(fd);
	assert_true(n > 0);
	if (!strstr(title, "seccomp") || !strstr(title, "namespaces"))
		fail_msg("title: %s", title);
}

/* ---- RESUMED: the test is the parent that ran VNC authentication ---- */

#define TOKEN "tok-3141"

static char *give_token(rfbClient *c)
{
	(void)c;
	return strdup(TOKEN);
}

struct parent_side {
	int fd;	     /* the parent's end of the viewer's connection */
	bool passed; /* the viewer's response matched */
};

/* The parent's half of RFB 3.8 with VNC authentication: version, the one
 * security type (2), the challenge, the response checked; then the
 * connection goes to the display, which sends the SecurityResult. */
static void *parent_handshake(void *arg)
{
	struct parent_side *ps = arg;
	unsigned char challenge[16], expect[16], resp[16];
	uint8_t v[12], choice;

	if (!dt_write(ps->fd, "RFB 003.008\n", 12) || !dt_read(ps->fd, v, 12, DT_WAIT_MS) ||
	    !dt_write(ps->fd, "\x01\x02", 2) || !dt_read(ps->fd, &choice, 1, DT_WAIT_MS) ||
	    choice != 2)
		return NULL;
	for (int i = 0; i < 16; i++)
		challenge[i] = (unsigned char)(i * 37 + 11);
	memcpy(expect, challenge, 16);
	rfbEncryptBytes(expect, (char *)TOKEN);
	if (!dt_write(ps->fd, challenge, 16) || !dt_read(ps->fd, resp, 16, DT_WAIT_MS))
		return NULL;
	ps->passed = memcmp(resp, expect, 16) == 0;
	if (ps->passed && launcher_display_client(&T.dp, ps->fd, 5, false, true) < 0)
		ps->passed = false;
	return NULL;
}

static void test_resumed(void **state)
{
	struct parent_side ps = {0};
	struct cellvm_input_event ev[4];
	pthread_t th;
	rfbClient *c;
	int sv[2];

	(void)state;
	dt_publish(&T, 640, 480, 21, NULL, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ps.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, parent_handshake, &ps), 0);
	c = rfbGetClient(8, 3, 4);
	assert_non_null(c);
	c->format.redShift = 16;
	c->format.greenShift = 8;
	c->format.blueShift = 0;
	c->appData.encodingsString = "zrle raw";
	c->appData.useRemoteCursor = TRUE; /* else the server draws it in */
	c->GetPassword = give_token;
	/* libvncclient runs its side of the whole handshake, VNC auth included. */
	assert_true(dt_client_init(c, sv[0]));
	pthread_join(th, NULL);
	close(sv[1]);
	assert_true(ps.passed);
	assert_string_equal(c->desktopName, "dt");
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	dt_publish(&T, 640, 480, 22, NULL, 0);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	assert_true(SendKeyEvent(c, XK_z, TRUE));
	assert_int_equal(dt_input(&T, ev, 4, DT_WAIT_MS), 1);
	expect_event(&ev[0], CELLVM_INPUT_KEY_DOWN, KEY_Z, 0, 0);
	dt_client_free(c);
	assert_int_equal(dt_input(&T, ev, 4, DT_WAIT_MS), 1); /* z released */
}

/* ---- gvnccapture, a real VNC client of its own, over loopback TCP ---- */

static int listen_display_port(int *ret_display)
{
	for (int d = 40; d < 100; d++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)(5900 + d)),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0)
			return -1;
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 1) == 0) {
			*ret_display = d;
			return s;
		}
		close(s);
	}
	return -1;
}

static void test_gvnccapture(void **state)
{
	char target[64], png[64] = "/tmp/dt-capture-XXXXXX";
	char *argv[] = {(char *)"gvnccapture", (char *)"-q", target, png, NULL};
	struct pollfd pfd;
	spng_ctx *ctx;
	size_t size, len;
	uint8_t *img;
	int ls, d = -1, conn, pfd_fd, status, tmp;
	pid_t pid;
	FILE *f;

	(void)state;
	struct display_msg st;

	if (access("/usr/bin/gvnccapture", X_OK) != 0)
		skip();
	/* gvnccapture takes no cursor updates: the server would draw the
	 * cursor into its frame. Hidden, and taken in, before it connects. */
	assert_true(dt_status(&T, &st));
	capture_cursor(&T.cap, NULL, 0, 0, 0, 0, 0, false);
	dt_publish(&T, 320, 200, 31, NULL, 0);
	assert_true(dt_settled(&T, st.frames_seen));
	ls = listen_display_port(&d);
	assert_true(ls >= 0);
	tmp = mkstemp(png);
	assert_true(tmp >= 0);
	close(tmp);
	strcat(png, ".png");
	snprintf(target, sizeof(target), "127.0.0.1:%d", d);
	assert_int_equal(posix_spawn(&pid, "/usr/bin/gvnccapture", NULL, NULL, argv, environ), 0);
	pfd = (struct pollfd){.fd = ls, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, DT_WAIT_MS), 1);
	conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	assert_int_equal(launcher_display_client(&T.dp, conn, 6, true, false), 0);
	close(conn);
	close(ls);
	pfd_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(pfd_fd >= 0);
	pfd = (struct pollfd){.fd = pfd_fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 30000), 1);
	close(pfd_fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	f = fopen(png, "rb");
	assert_non_null(f);
	ctx = spng_ctx_new(0);
	spng_set_png_file(ctx, f);
	assert_int_equal(spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &size), 0);
	img = malloc(size);
	assert_int_equal(spng_decode_image(ctx, img, size, SPNG_FMT_RGBA8, 0), 0);
	len = (size_t)T.w * T.h * 4;
	assert_int_equal(size, len);
	for (size_t i = 0; i < (size_t)T.w * T.h; i++) {
		uint32_t p = T.pixels[i];
		uint32_t got =
			(uint32_t)img[4 * i] << 16 | (uint32_t)img[4 * i + 1] << 8 | img[4 * i + 2];
		if (got != p)
			fail_msg("PNG pixel (%zu, %zu): %#x, want %#x", i % T.w, i / T.w, got, p);
	}
	free(img);
	img = NULL;
	spng_ctx_free(ctx);
	fclose(f);
	unlink(png);
	png[strlen(png) - 4] = 0;
	unlink(png);
}

/* ---- noVNC's way in: an HTTP upgrade on a FRESH connection ---- */

static void test_websocket(void **state)
{
	static const char req[] = "GET /websockify HTTP/1.1\r\n"
				  "Host: localhost\r\n"
				  "Upgrade: websocket\r\n"
				  "Connection: Upgrade\r\n"
				  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				  "Sec-WebSocket-Version: 13\r\n"
				  "Sec-WebSocket-Protocol: binary\r\n"
				  "Origin: http://localhost\r\n\r\n";
	char resp[1024] = {0};
	uint8_t hdr[2], ver[12];
	size_t got = 0;
	int fd;

	(void)state;
	fd = dt_connect(&T, 7, true, false);
	assert_true(fd >= 0);
	assert_true(dt_write(fd, req, sizeof(req) - 1));
	/* The response ends with an empty line. */
	while (got < sizeof(resp) - 1 && !strstr(resp, "\r\n\r\n")) {
		assert_true(dt_read(fd, resp + got, 1, DT_WAIT_MS));
		got++;
	}
	assert_non_null(strstr(resp, " 101 "));
	if (!strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
		fail_msg("response: %s", resp);
	/* Then the server's ProtocolVersion in a binary frame. */
	assert_true(dt_read(fd, hdr, 2, DT_WAIT_MS));
	assert_int_equal(hdr[0] & 0x0f, 2);
	assert_int_equal(hdr[1] & 0x7f, 12);
	assert_true(dt_read(fd, ver, 12, DT_WAIT_MS));
	assert_memory_equal(ver, "RFB 003.008\n", 12);
	close(fd);
}

/* ---- the parent breaking the protocol ends the display with an error ---- */

static int spawn_raw(pid_t *pid, int *pidfd, int *ctl)
{
	char err[256];
	int sv[2], log = -1, r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = launcher_spawn("cellvm-display", sv[1], NULL, pid, pidfd, &log, err, sizeof(err));
	close(sv[1]);
	*ctl = sv[0];
	return r;
}

static int wait_exit(pid_t pid, int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int st;

	if (poll(&p, 1, DT_WAIT_MS) != 1)
		kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(pidfd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_parent_violation(void **state)
{
	Cellvm__Display__DisplayMessage m = CELLVM__DISPLAY__DISPLAY_MESSAGE__INIT;
	Cellvm__Display__DisplayClient cl = CELLVM__DISPLAY__DISPLAY_CLIENT__INIT;
	Cellvm__Display__DisplaySetup s = CELLVM__DISPLAY__DISPLAY_SETUP__INIT;
	int pidfd = -1, ctl = -1, sv[2];
	pid_t pid;

	(void)state;
	/* A client before the setup. */
	assert_int_equal(spawn_raw(&pid, &pidfd, &ctl), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_CLIENT;
	m.client = &cl;
	assert_int_equal(channel_send(ctl, &m.base, 16384, &sv[0], 1), 0);
	assert_int_equal(wait_exit(pid, pidfd), 1);
	close(ctl);
	/* A setup with one fd where it needs two. */
	assert_int_equal(spawn_raw(&pid, &pidfd, &ctl), 0);
	s.ring_size = T.ring_size;
	m.msg_case = CELLVM__DISPLAY__DISPLAY_MESSAGE__MSG_SETUP;
	m.setup = &s;
	assert_int_equal(channel_send(ctl, &m.base, 16384, &T.memfd, 1), 0);
	assert_int_equal(wait_exit(pid, pidfd), 1);
	close(ctl);
	/* A setup whose ring size is not the memfd's. */
	assert_int_equal(spawn_raw(&pid, &pidfd, &ctl), 0);
	s.ring_size = T.ring_size + 4096;
	{
		int fds[2] = {T.memfd, T.efd};
		assert_int_equal(channel_send(ctl, &m.base, 16384, fds, 2), 0);
	}
	assert_int_equal(wait_exit(pid, pidfd), 1);
	close(ctl);
	close(sv[0]);
	close(sv[1]);
}

static unsigned long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = 0;
	/* Fields 14 and 15 (utime, stime), counted after the ")" of comm. */
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
	return ut + st;
}

/* With viewers connected and nothing happening, the display waits: a
 * second of it costs (almost) no CPU time. */
static void test_idle(void **state)
{
	struct pollfd p = {.fd = T.dp.ctl, .events = POLLIN};
	rfbClient *c = dt_client(&T, 8, false);
	unsigned long before;

	(void)state;
	assert_non_null(c);
	assert_true(dt_client_sees(&T, c, DT_WAIT_MS));
	before = cpu_ticks(T.dp.pid);
	/* A second with nothing to do: no message may come meanwhile. */
	assert_int_equal(poll(&p, 1, 1000), 0);
	assert_true(cpu_ticks(T.dp.pid) - before <= 5);
	dt_client_free(c);
}

/* Closing the control channel ends the display, by itself, with 0. */
static void test_stop(void **state)
{
	(void)state;
	assert_int_equal(launcher_stop_display(&T.dp, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_input),
		cmocka_unit_test(test_resumed),
		cmocka_unit_test(test_gvnccapture),
		cmocka_unit_test(test_websocket),
		cmocka_unit_test(test_parent_violation),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_sandboxed),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_stop),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
