/* Helpers of the cellvm-display tests: a capture ring written by the real
 * writer (the test plays the gpu), the real sandboxed cellvm-display started
 * by launcher_start_display, connections handed to it, libvncclient clients
 * driven on their socket, a raw RFB client for the hostile cases. Waits are
 * on fds with deadlines, never sleeps. */
#pragma once
#include <rfb/rfbclient.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev-procs/gpu/capture.h"
#include "launcher/display_proc.h"

#define DT_MAX_W   1024
#define DT_MAX_H   768
#define DT_WAIT_MS 10000

struct dt {
	struct capture cap;
	int memfd, efd;
	size_t ring_size;
	struct display_proc dp;
	uint32_t *pixels; /* the last frame published, XRGB8888, w x h */
	uint32_t w, h;
	uint32_t seed;
};

/* Ring and display (absolute pointer unless relative). 0, or 77 to skip
 * (no user namespaces for the sandbox). */
int dt_start(struct dt *t, bool relative, uint32_t max_clients);
/* The same with a ring of max_w x max_h frames (dt_start: DT_MAX_W x
 * DT_MAX_H). */
int dt_start_size(struct dt *t, bool relative, uint32_t max_clients, uint32_t max_w,
		  uint32_t max_h);
void dt_stop(struct dt *t);

/* Publish a w x h frame: the pattern for seed, all of it changed (ndamage
 * 0) or only rects (then the rest keeps the previous frame's pixels). */
void dt_publish(struct dt *t, uint32_t w, uint32_t h, uint32_t seed,
		const struct capture_rect *rects, size_t nrects);
/* Wait until the display took a frame after `before` (its frames_seen). */
bool dt_settled(struct dt *t, uint64_t before);
uint32_t dt_pattern(uint32_t x, uint32_t y, uint32_t seed);

/* A libvncclient client set up as dt_client's, not yet connected: encodings
 * (NULL: lossless ones) as given. */
rfbClient *dt_client_new(const char *encodings);
/* A libvncclient client on a socketpair whose other end goes to the display
 * (FRESH). The client's format is XRGB (0x00RRGGBB). */
rfbClient *dt_client(struct dt *t, uint64_t id, bool view_only);
/* Its framebuffer equals t->pixels (w x h) within the deadline: pumps its
 * messages meanwhile. */
bool dt_client_sees(struct dt *t, rfbClient *c, int timeout_ms);
/* Pump its messages for up to ms or until done(c) says so. */
bool dt_client_wait(rfbClient *c, int timeout_ms, bool (*done)(rfbClient *c, void *arg), void *arg);
void dt_client_free(rfbClient *c);
/* Set up a client on fd (connected to a display) the way rfbInitClient
 * would, without connecting anywhere: handshake, format, first request. */
bool dt_client_init(rfbClient *c, int fd);

/* The next DisplayInput's records (skipping nothing else). */
size_t dt_input(struct dt *t, struct cellvm_input_event *ev, size_t max, int timeout_ms);
/* A DisplayStatus. */
bool dt_status(struct dt *t, struct display_msg *ret);

/* Raw RFB client side: blocking with a deadline. */
bool dt_read(int fd, void *buf, size_t len, int timeout_ms);
bool dt_write(int fd, const void *buf, size_t len);
/* Run the RFB handshake as a None client up to and including ServerInit
 * on fd (the display's FRESH connection). */
bool dt_raw_handshake(int fd);
/* Hand the display a socketpair end; the other end comes back. */
int dt_connect(struct dt *t, uint64_t id, bool view_only, bool resumed);
