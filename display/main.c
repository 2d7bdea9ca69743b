/* cellvm-display: the per-VM VNC server, started by the privileged parent
 * (broker or cellvm run) with its control channel on fd 3. Takes its
 * DisplaySetup (the capture ring and its eventfd), enters its sandbox, then
 * serves the connections handed to it in one poll loop: the control channel,
 * the ring's eventfd and libvncserver's client sockets (their bytes moved
 * by the pump thread). Everything after the setup is untrusted: clients,
 * and the ring a sandboxed gpu process writes. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "display/display.h"
#include "proto/ipc.h"
#ifdef CELLVM_HAVE_SANDBOX
#include "sandbox/sandbox.h"
#endif

/* A client's queue in the pump may hold about as much as the ring (a few
 * raw frames) before that client counts as one that does not read. */
static size_t display_queue_max(const struct display *dp)
{
	size_t q = dp->ring_size;

	if (q < 16u << 20)
		q = 16u << 20;
	if (q > 256u << 20)
		q = 256u << 20;
	return q;
}

/* libvncserver's hash for the WebSocket handshake (its rfbcrypto.h, not
 * installed). */
int hash_sha1(void *out, const void *in, const size_t in_len);

static int display_sandbox(struct display *dp)
{
#ifdef CELLVM_HAVE_SANDBOX
	int keep[] = {dp->ctl, dp->ring_fd, dp->efd};
	struct sandbox_opts opts = {.tasks = 2}; /* the loop and the pump */
	uint8_t digest[20];
	int r;

	/* libgcrypt sets itself up on first use, reading files (its FIPS
	 * switch, /dev/urandom): a WebSocket handshake inside the sandbox
	 * would be its first use. Once here instead. */
	if (hash_sha1(digest, "cellvm", 6) != 1)
		return -ENOTRECOVERABLE;
	r = sandbox_enter_opts(SANDBOX_DISPLAY, keep, 3, &opts);
	if (r < 0)
		return r;
	sandbox_log_layers(r, &opts);
#else
	(void)dp;
#endif
	return 0;
}

static int display_on_ctl(struct display *dp)
{
	/* UNTRUSTED(parent, checked): one message through the table. */
	int r = dispatch_recv(dp->ctl, &dp->d, dp);

	if (r == -ECONNRESET)
		return 1; /* the parent is gone: so are we */
	if (r == -EAGAIN || r == -EINTR)
		return 0;
	if (r < 0) {
		log_err("control channel: %s",
			dispatch_violation(r) ? dispatch_strerror(r) : strerror(-r));
		return r;
	}
	return 0;
}

static int display_loop(struct display *dp)
{
	struct pollfd pfd[2 + DISPLAY_MAX_CLIENTS];
	int fds[DISPLAY_MAX_CLIENTS];
	bool warned = false;

	for (;;) {
		bool buffered;
		size_t n = display_vnc_fds(dp, fds, DISPLAY_MAX_CLIENTS, &buffered);
		int r;

		pfd[0] = (struct pollfd){.fd = dp->ctl, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = dp->efd, .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			pfd[2 + i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		r = poll(pfd, 2 + n, buffered ? 0 : -1);
		if (r < 0) {
			if (errno != EINTR)
				return -errno;
			continue;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = display_on_ctl(dp);
			if (r != 0)
				return r > 0 ? 0 : r;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t v;

			if (read(dp->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -errno;
			/* UNTRUSTED(gpu process): a bad ring is its fault; we go on
			 * showing the last good frame. */
			r = display_fb_update(dp);
			if (r < 0 && !warned) {
				log_warn("capture ring: %s (said once)", strerror(-r));
				warned = true;
			}
		}
		/* Reads what clients sent, sends what they asked for. */
		rfbProcessEvents(dp->screen, 0);
	}
}

int main(void)
{
	static struct display dp = {.ctl = DISPLAY_CHANNEL_FD, .ring_fd = -1, .efd = -1};
	int r, err = 0;

	log_init("cellvm-display", LOG_INFO);
	dispatch_init(&dp.d, &display_ctl_chan, DISPLAY_ST_INIT);
	/* The first message must be DisplaySetup: the table refuses the rest. */
	r = dispatch_recv(dp.ctl, &dp.d, &dp);
	if (r < 0) {
		log_err("setup: %s", dispatch_violation(r) ? dispatch_strerror(r) : strerror(-r));
		return 1;
	}
	if (dp.debug)
		log_init("cellvm-display", LOG_DEBUG);
	r = display_fb_screen(&dp);
	if (r < 0) {
		log_err("cannot make the screen: %s", strerror(-r));
		return 1;
	}
	display_vnc_configure(&dp);
	r = display_sandbox(&dp);
	if (r < 0) {
		log_err("cannot enter the sandbox: %s", strerror(-r));
		return 1;
	}
	/* After the sandbox: had it tried to listen anywhere, seccomp would
	 * have ended us here. */
	rfbInitServer(dp.screen);
	dp.pump = display_pump_start(display_queue_max(&dp), &err);
	if (!dp.pump) {
		log_err("cannot start the pump: %s", strerror(-err));
		return 1;
	}
	r = display_fb_update(&dp);
	if (r < 0)
		log_warn("capture ring: %s", strerror(-r));
	r = display_ctl_send_ready(&dp);
	if (r < 0) {
		log_err("cannot send Ready: %s", strerror(-r));
		return 1;
	}
	r = display_loop(&dp);
	if (r < 0) {
		log_err("loop: %s", strerror(-r));
		return 1;
	}
	return 0;
}
