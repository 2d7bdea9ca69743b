/* Helpers of the cellvm-display tests; see displaytest.h. */
#include "displaytest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t dt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t dt_pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	uint32_t v = x * 2654435761u ^ y * 40503u ^ seed * 2246822519u;

	return (v ^ (v >> 13)) & 0xffffff;
}

static void dt_quiet(const char *fmt, ...)
{
	(void)fmt;
}

int dt_start(struct dt *t, bool relative, uint32_t max_clients)
{
	return dt_start_size(t, relative, max_clients, DT_MAX_W, DT_MAX_H);
}

int dt_start_size(struct dt *t, bool relative, uint32_t max_clients, uint32_t max_w, uint32_t max_h)
{
	struct display_config cfg = {0};
	char err[256];
	int r;

	memset(t, 0, sizeof(*t));
	if (!getenv("DT_DEBUG"))
		rfbClientLog = rfbClientErr = dt_quiet;
	t->ring_size = capture_ring_bytes(4, max_w, max_h);
	t->memfd = memfd_create("capture", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->memfd < 0 || t->efd < 0 || ftruncate(t->memfd, (off_t)t->ring_size) < 0 ||
	    fcntl(t->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		fprintf(stderr, "ring: %s\n", strerror(errno));
		return -1;
	}
	r = capture_init(&t->cap, t->memfd, 4, max_w, max_h, &t->efd, 1);
	if (r < 0) {
		fprintf(stderr, "capture_init: %s\n", strerror(-r));
		return -1;
	}
	t->pixels = calloc((size_t)max_w * max_h, 4);
	cfg.ring_fd = t->memfd;
	cfg.ring_size = t->ring_size;
	cfg.efd = t->efd;
	cfg.relative = relative;
	cfg.name = "dt";
	cfg.max_clients = max_clients;
	cfg.client_wait_ms = 300;
	cfg.debug = getenv("DT_DEBUG") != NULL;
	r = launcher_start_display(&cfg, &t->dp, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "launcher_start_display: %s\n", err);
		/* No user namespaces here: the sandbox cannot be built. */
		if (r == -EPERM || r == -EACCES)
			return 77;
		return -1;
	}
	return 0;
}

void dt_stop(struct dt *t)
{
	launcher_stop_display(&t->dp, SIGKILL);
	capture_destroy(&t->cap);
	close(t->memfd);
	close(t->efd);
	free(t->pixels);
}

void dt_publish(struct dt *t, uint32_t w, uint32_t h, uint32_t seed,
		const struct capture_rect *rects, size_t nrects)
{
	if (w != t->w || h != t->h)
		nrects = 0;
	t->w = w;
	t->h = h;
	t->seed = seed;
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			bool in = nrects == 0;

			for (size_t i = 0; i < nrects && !in; i++)
				in = x >= rects[i].x && x < rects[i].x + rects[i].w &&
				     y >= rects[i].y && y < rects[i].y + rects[i].h;
			if (in)
				t->pixels[(size_t)y * w + x] = dt_pattern(x, y, seed);
		}
	}
	capture_publish(&t->cap, 0, DRM_FORMAT_XRGB8888, w, h, w * 4, (const uint8_t *)t->pixels,
			rects, nrects);
}

int dt_connect(struct dt *t, uint64_t id, bool view_only, bool resumed)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (launcher_display_client(&t->dp, sv[1], id, view_only, resumed) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	return sv[0];
}

static char *dt_no_password(rfbClient *c)
{
	(void)c;
	return NULL;
}

bool dt_client_init(rfbClient *c, int fd)
{
	c->sock = fd;
	if (!InitialiseRFBConnection(c))
		return false;
	c->width = c->si.framebufferWidth;
	c->height = c->si.framebufferHeight;
	if (!c->MallocFrameBuffer(c))
		return false;
	if (!SetFormatAndEncodings(c))
		return false;
	/* What libvncclient's own rfbInitConnection does: later incremental
	 * requests cover the whole framebuffer. */
	c->updateRect.x = c->updateRect.y = 0;
	c->updateRect.w = c->width;
	c->updateRect.h = c->height;
	return SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, FALSE);
}

rfbClient *dt_client_new(const char *encodings)
{
	rfbClient *c = rfbGetClient(8, 3, 4);

	if (!c)
		return NULL;
	c->format.redShift = 16;
	c->format.greenShift = 8;
	c->format.blueShift = 0;
	c->appData.encodingsString = encodings ? encodings : "zrle hextile copyrect raw";
	c->appData.enableJPEG = FALSE;
	c->appData.useRemoteCursor = TRUE;
	c->GetPassword = dt_no_password;
	return c;
}

rfbClient *dt_client(struct dt *t, uint64_t id, bool view_only)
{
	rfbClient *c;
	int fd = dt_connect(t, id, view_only, false);

	if (fd < 0)
		return NULL;
	c = dt_client_new(NULL);
	if (!c || !dt_client_init(c, fd)) {
		if (c)
			dt_client_free(c);
		else
			close(fd);
		return NULL;
	}
	return c;
}

void dt_client_free(rfbClient *c)
{
	free(c->frameBuffer);
	c->frameBuffer = NULL;
	/* Not freed by rfbClientCleanup in 0.9.14. */
	free(c->rcSource);
	free(c->rcMask);
	c->rcSource = c->rcMask = NULL;
	rfbClientCleanup(c);
}

bool dt_client_wait(rfbClient *c, int timeout_ms, bool (*done)(rfbClient *c, void *arg), void *arg)
{
	int64_t end = dt_now_ms() + timeout_ms;

	while (!done(c, arg)) {
		int64_t left = end - dt_now_ms();
		int r;

		if (left <= 0)
			return false;
		r = WaitForMessage(c, (unsigned)(left > 100 ? 100 : left) * 1000);
		if (r < 0)
			return false;
		if (r > 0 && !HandleRFBServerMessage(c))
			return false;
	}
	return true;
}

static bool dt_fb_equal(rfbClient *c, void *arg)
{
	struct dt *t = arg;
	const uint32_t *fb = (const uint32_t *)c->frameBuffer;

	if ((uint32_t)c->width != t->w || (uint32_t)c->height != t->h || !fb)
		return false;
	for (size_t i = 0; i < (size_t)t->w * t->h; i++)
		if ((fb[i] & 0xffffff) != t->pixels[i])
			return false;
	return true;
}

bool dt_client_sees(struct dt *t, rfbClient *c, int timeout_ms)
{
	const uint32_t *fb;
	size_t bad = 0, first = 0;

	if (dt_client_wait(c, timeout_ms, dt_fb_equal, t))
		return true;
	/* Say how it differs. */
	fb = (const uint32_t *)c->frameBuffer;
	if ((uint32_t)c->width == t->w && (uint32_t)c->height == t->h && fb) {
		for (size_t i = 0; i < (size_t)t->w * t->h; i++)
			if ((fb[i] & 0xffffff) != t->pixels[i] && bad++ == 0)
				first = i;
	}
	fprintf(stderr,
		"client %dx%d, frame %ux%u: %zu pixels differ, the first at (%zu, %zu): %#x, want "
		"%#x\n",
		c->width, c->height, t->w, t->h, bad, first % (t->w ? t->w : 1),
		first / (t->w ? t->w : 1), fb ? fb[first] : 0, t->pixels[first]);
	return false;
}

static bool dt_wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = ev};

	return poll(&p, 1, timeout_ms) > 0;
}

size_t dt_input(struct dt *t, struct cellvm_input_event *ev, size_t max, int timeout_ms)
{
	int64_t end = dt_now_ms() + timeout_ms;
	struct display_msg m;

	for (;;) {
		int64_t left = end - dt_now_ms();
		int r;

		if (left <= 0 || !dt_wait_fd(t->dp.ctl, POLLIN, (int)left))
			return 0;
		r = launcher_display_recv(&t->dp, &m);
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return 0;
		if (m.kind != DISPLAY_MSG_INPUT)
			continue;
		if (m.nevents > max)
			m.nevents = max;
		memcpy(ev, m.events, m.nevents * sizeof(*ev));
		return m.nevents;
	}
}

bool dt_status(struct dt *t, struct display_msg *ret)
{
	int64_t end = dt_now_ms() + DT_WAIT_MS;
	static uint64_t qid;
	uint64_t id = ++qid;

	if (launcher_display_query(&t->dp, id) < 0)
		return false;
	for (;;) {
		int64_t left = end - dt_now_ms();
		int r;

		if (left <= 0 || !dt_wait_fd(t->dp.ctl, POLLIN, (int)left))
			return false;
		r = launcher_display_recv(&t->dp, ret);
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return false;
		if (ret->kind == DISPLAY_MSG_STATUS && ret->id == id)
			return true;
	}
}

bool dt_read(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t end = dt_now_ms() + timeout_ms;
	size_t got = 0;

	while (got < len) {
		int64_t left = end - dt_now_ms();
		ssize_t n;

		if (left <= 0 || !dt_wait_fd(fd, POLLIN, (int)left))
			return false;
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return false;
		}
		got += (size_t)n;
	}
	return true;
}

bool dt_write(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

bool dt_raw_handshake(int fd)
{
	uint8_t v[12], n, types[255], result[4], init[24], name[256];
	uint32_t nlen;

	if (!dt_read(fd, v, 12, DT_WAIT_MS) || memcmp(v, "RFB 003.", 8) != 0)
		return false;
	if (!dt_write(fd, "RFB 003.008\n", 12) || !dt_read(fd, &n, 1, DT_WAIT_MS) || n == 0 ||
	    !dt_read(fd, types, n, DT_WAIT_MS) || types[0] != 1)
		return false;
	if (!dt_write(fd, "\x01", 1) || !dt_read(fd, result, 4, DT_WAIT_MS) ||
	    memcmp(result, "\0\0\0\0", 4) != 0)
		return false;
	if (!dt_write(fd, "\x01", 1) || !dt_read(fd, init, 24, DT_WAIT_MS))
		return false;
	nlen = (uint32_t)init[20] << 24 | (uint32_t)init[21] << 16 | (uint32_t)init[22] << 8 |
	       init[23];
	return nlen < sizeof(name) && dt_read(fd, name, nlen, DT_WAIT_MS);
}

bool dt_settled(struct dt *t, uint64_t before)
{
	struct display_msg st;

	for (int i = 0; i < 1000; i++) {
		if (!dt_status(t, &st))
			return false;
		if (st.frames_seen > before)
			return true;
		/* Not yet: wait for the display's next message or a short while
		 * on its channel (nothing else arrives there meanwhile). */
		struct pollfd p = {.fd = t->dp.ctl, .events = POLLIN};
		poll(&p, 1, 10);
	}
	return false;
}
