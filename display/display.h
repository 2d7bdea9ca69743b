/* cellvm-display, the per-VM sandboxed VNC server: the one context struct
 * of the process and the functions its files share. main.c (fds, setup,
 * sandbox, loop), display_ctl.c (the control channel from the privileged
 * parent), display_fb.c (the capture ring into the framebuffer and the
 * cursor), display_vnc.c (the rfbScreen and its clients), display_input.c
 * (keysyms and pointer events into input records; pure), display_pump.c
 * (the thread between each client's socket and libvncserver). Clients and
 * the ring are untrusted; the parent is trusted but checked. */
#pragma once
#include <rfb/rfb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "display.pb-c.h"
#include "display/display_input.h"
#include "proto/capture_ring.h"
#include "proto/dispatch.h"

#define DISPLAY_CHANNEL_FD	3
#define DISPLAY_MAX_MSG		16384
#define DISPLAY_MAX_CLIENTS	32
#define DISPLAY_DEFAULT_CLIENTS 4
#define DISPLAY_DEFAULT_WAIT_MS 500
#define DISPLAY_MAX_WAIT_MS	10000
#define DISPLAY_NAME_MAX	63

/* The control channel's states, as the display sees them. */
enum display_state { DISPLAY_ST_INIT, DISPLAY_ST_SERVING };

struct display_pump;

struct display {
	int ctl; /* the control channel (fd 3) */
	struct dispatch d;
	bool debug;

	/* DisplaySetup */
	int ring_fd, efd;
	const uint8_t *ring; /* read-only mapping, ring_size bytes */
	size_t ring_size;
	uint32_t scanout;
	bool absolute;
	uint32_t max_clients;
	uint32_t wait_ms;
	char name[DISPLAY_NAME_MAX + 1];

	/* The server */
	rfbScreenInfoPtr screen;
	uint8_t *fb; /* the screen's framebuffer (ours), fb_w x fb_h x 4 */
	uint32_t fb_w, fb_h;
	bool have_frame;
	uint8_t *frame; /* one frame copied out of the ring */
	size_t frame_len;
	uint64_t last_serial; /* the newest ring serial looked at */
	uint64_t ring_created_ns;
	uint64_t cursor_serial;
	/* The shape now shown (a move alone does not resend it). */
	bool cursor_shown;
	uint32_t cursor_hot_x, cursor_hot_y;
	uint32_t cursor_image[CELLVM_CAPTURE_CURSOR_SIZE * CELLVM_CAPTURE_CURSOR_SIZE];
	struct display_pump *pump;
	uint32_t nclients;

	/* Counters for DisplayStatus */
	uint64_t frames_sent, clients_total, clients_refused, frames_seen;
};

/* display_ctl.c */
extern const struct dispatch_channel display_ctl_chan;
/* Send events[0..n) to the parent as DisplayInput. 0 or -errno. */
int display_ctl_send_input(struct display *dp, const struct cellvm_input_event *ev, size_t n);
int display_ctl_send_ready(struct display *dp);

/* display_fb.c: take whatever is new in the ring (frames of our scanout,
 * the cursor) into the screen. 0, or -errno for a ring that is not one. */
int display_fb_update(struct display *dp);
/* The screen with its first framebuffer (a blank one until a frame comes). */
int display_fb_screen(struct display *dp);
void display_fb_free(struct display *dp);

/* display_vnc.c */
void display_vnc_configure(struct display *dp);
/* Serve fd (taken) as a client in mode. 0, or -errno (fd closed). */
int display_vnc_add_client(struct display *dp, int fd, uint64_t id, bool view_only, bool resumed);
/* The clients' sockets (libvncserver's ends) for the loop's poll: up to max
 * into fds; returns the count. *ret_buffered: a client has input that
 * libvncserver holds already (poll at once). */
size_t display_vnc_fds(struct display *dp, int *fds, size_t max, bool *ret_buffered);

/* display_pump.c: one thread between every client's socket and the socket
 * libvncserver serves. */
struct display_pump *display_pump_start(size_t queue_max, int *ret_err);
/* Pump between real (taken) and inner (taken); discard_handshake: drop what
 * libvncserver writes up to its security type list (RESUMED). 0 or -errno
 * (both fds closed). */
int display_pump_add(struct display_pump *p, int real, int inner, bool discard_handshake);
uint64_t display_pump_bytes(const struct display_pump *p);
