/* The rfbScreen and its clients: a screen that listens nowhere (it serves
 * only the connections the parent hands over), each client behind the pump
 * (display_pump.c), FRESH (libvncserver's own handshake with security type
 * None, WebSocket upgrade included) or RESUMED (the parent ran the version
 * exchange and VNC authentication: libvncserver gets a client that already
 * said "RFB 003.008" and chose None, and the pump drops what libvncserver
 * answers before its SecurityResult). Key and pointer events of clients that
 * may type become DisplayInput. Runs in cellvm-display.
 * UNTRUSTED(client): everything a client sends, parsed by libvncserver. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "display/display.h"

/* What a None client says before ClientInit: its version and its choice. */
static const char display_resume_hello[] = "RFB 003.008\n\x01";

struct display_client {
	struct display *dp;
	uint64_t id;
	bool view_only;
	struct display_input in;
};

static void display_vnc_send(struct display *dp, const struct cellvm_input_event *ev, size_t n)
{
	int r;

	if (n == 0)
		return;
	r = display_ctl_send_input(dp, ev, n);
	if (r < 0)
		log_warn("cannot send input to the parent: %s", strerror(-r));
}

static void display_vnc_on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct display_client *dc = cl->clientData;
	struct cellvm_input_event ev[1];

	/* UNTRUSTED(client): keysym; the table knows what it types, or drops it. */
	if (!dc || dc->view_only)
		return;
	display_vnc_send(dc->dp, ev, display_input_key(&dc->in, down, (uint32_t)keysym, ev));
}

static void display_vnc_on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct display_client *dc = cl->clientData;
	struct cellvm_input_event ev[DISPLAY_INPUT_MAX_EVENTS];

	/* UNTRUSTED(client): mask and position (libvncserver clips the
	 * position to the framebuffer). */
	if (!dc || dc->view_only)
		return;
	display_vnc_send(dc->dp, ev,
			 display_input_pointer(&dc->in, (uint32_t)mask & 0x7f, x, y, dc->dp->fb_w,
					       dc->dp->fb_h, ev));
}

static void display_vnc_on_gone(rfbClientPtr cl)
{
	struct display_client *dc = cl->clientData;
	struct cellvm_input_event ev[64];
	size_t n;

	if (!dc)
		return;
	/* Nothing stays pressed in the guest because a viewer went. */
	while ((n = display_input_release_all(&dc->in, ev, 64)) > 0)
		display_vnc_send(dc->dp, ev, n);
	log_debug("client %llu gone", (unsigned long long)dc->id);
	dc->dp->nclients--;
	cl->clientData = NULL;
	free(dc);
}

static void display_vnc_on_sent(rfbClientPtr cl, int result)
{
	struct display_client *dc = cl->clientData;

	if (dc && result)
		dc->dp->frames_sent++;
}

/* libvncserver's log and error lines alike: mostly what a client did wrong,
 * not worth a line unless debugging (a hostile client would fill the log). */
__attribute__((format(printf, 1, 2))) static void display_vnc_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[strcspn(buf, "\n")] = 0;
	log_debug("vnc: %s", buf);
}

void display_vnc_configure(struct display *dp)
{
	rfbScreenInfoPtr s = dp->screen;

	/* libvncserver's own log stamps lines with localtime(), which would
	 * open /etc/localtime inside the sandbox: ours instead. */
	rfbLog = display_vnc_log;
	rfbErr = display_vnc_log;
	/* It listens nowhere: no port, no automatic port, no HTTP server. */
	s->autoPort = FALSE;
	s->port = -1;
	s->ipv6port = -1;
	s->httpPort = -1;
	s->http6Port = -1;
	s->httpDir = NULL;
	s->httpEnableProxyConnect = FALSE;
	s->inetdSock = RFB_INVALID_SOCKET;
	s->listenSock = RFB_INVALID_SOCKET;
	s->listen6Sock = RFB_INVALID_SOCKET;
	s->udpPort = 0;
	s->desktopName = dp->name;
	/* Every viewer shares the screen: a client asking for exclusive
	 * access must not disconnect the others. */
	s->alwaysShared = TRUE;
	s->neverShared = FALSE;
	s->dontDisconnect = TRUE;
	/* Send as soon as there is something and a request: the pump takes
	 * the bytes without waiting. */
	s->deferUpdateTime = 0;
	/* How long one client's half-sent message may hold the loop before it
	 * is dropped (libvncserver reads a message whole). */
	s->maxClientWait = (int)dp->wait_ms;
	s->ignoreSIGPIPE = TRUE;
	s->permitFileTransfer = FALSE;
	s->kbdAddEvent = display_vnc_on_key;
	s->ptrAddEvent = display_vnc_on_pointer;
	s->displayFinishedHook = display_vnc_on_sent;
	s->setXCutText = NULL; /* the guest's clipboard is not shared */
	s->handleEventsEagerly = TRUE;
}
/* Every update lossless: a client's JPEG quality level (noVNC always sends
 * one) would make libvncserver's Tight encoder send photo-like rectangles
 * as JPEG, and a viewer, a recording or a screen-reading program would not
 * get the guest's pixels. Tight stays, with zlib. */
static void display_vnc_lossless(rfbClientPtr cl, rfbFramebufferUpdateRequestMsg *req)
{
	(void)req;
	cl->turboQualityLevel = -1;
	cl->tightQualityLevel = -1;
}

int display_vnc_add_client(struct display *dp, int fd, uint64_t id, bool view_only, bool resumed)
{
	struct display_client *dc;
	rfbClientPtr cl;
	int sv[2], r;

	if (dp->nclients >= dp->max_clients) {
		close(fd);
		return -EUSERS;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	/* RESUMED: libvncserver hears a None client's hello, which also ends
	 * its wait for a WebSocket upgrade at once ("RFB " is not one). */
	if (resumed && write(sv[1], display_resume_hello, sizeof(display_resume_hello) - 1) !=
			       (ssize_t)sizeof(display_resume_hello) - 1) {
		r = -errno;
		close(fd);
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	dc = calloc(1, sizeof(*dc));
	if (!dc) {
		close(fd);
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	r = display_pump_add(dp->pump, fd, sv[1], resumed);
	if (r < 0) {
		close(sv[0]);
		free(dc);
		return r;
	}
	/* libvncserver's end: it writes its version here and, for FRESH, waits
	 * a moment for a WebSocket upgrade (the pump forwards meanwhile). */
	cl = rfbNewClient(dp->screen, sv[0]);
	if (!cl) {
		free(dc);
		return -ECONNABORTED; /* it closed sv[0]; the pump sees EOF */
	}
	dc->dp = dp;
	dc->id = id;
	dc->view_only = view_only;
	dc->in.absolute = dp->absolute;
	cl->clientData = dc;
	cl->clientGoneHook = display_vnc_on_gone;
	cl->clientFramebufferUpdateRequestHook = display_vnc_lossless;
	cl->viewOnly = view_only;
	dp->nclients++;
	return 0;
}

size_t display_vnc_fds(struct display *dp, int *fds, size_t max, bool *ret_buffered)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(dp->screen);
	rfbClientPtr cl;
	size_t n = 0;

	*ret_buffered = false;
	while ((cl = rfbClientIteratorNext(it)) && n < max) {
		if (cl->sock == RFB_INVALID_SOCKET)
			continue;
		fds[n++] = cl->sock;
		/* A WebSocket frame can hold several messages: what libvncserver
		 * decoded but did not yet parse is not in the socket. */
		if (cl->wsctx && webSocketsHasDataInBuffer(cl))
			*ret_buffered = true;
	}
	rfbReleaseClientIterator(it);
	return n;
}
