/* A minimal vhost-user front-end for one split virtqueue: enough of the
 * protocol (docs/interop/vhost-user.rst in QEMU) to hand a back-end such as
 * qemu-storage-daemon the harness's guest RAM (a memfd), one ring and its kick
 * and call eventfds, so that the request generator of bench-blk drives it
 * exactly as it drives cellvm-dev-blk. Runs in bench-blk. The back-end's
 * replies are untrusted only in the sense that they are checked for type and
 * size; functions return 0 or -errno, with a message in err where they take one. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "test/harness/vdriver.h"

#define VHOST_USER_F_PROTOCOL_FEATURES	30
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

struct vhost_user {
	int sock;
	uint64_t offered;	    /* GET_FEATURES */
	uint64_t acked;		    /* SET_FEATURES */
	uint64_t protocol_features; /* negotiated: REPLY_ACK if offered */
	int kick_fd;		    /* eventfd: we write, the back-end reads */
	int call_fd;		    /* eventfd: the back-end's "interrupt" */
};

/* Connect to the back-end's unix socket at path (no retries: the caller
 * waits for the socket to appear). */
int vhost_user_connect(struct vhost_user *vu, const char *path);

/* Negotiate features (want & offered; VIRTIO_F_VERSION_1 must be in both,
 * VHOST_USER_F_PROTOCOL_FEATURES is added when offered), then give the
 * back-end guest RAM m (one region: low RAM at guest-physical 0) and queue q
 * (index, size and rings from q, ring addresses as our own addresses), start
 * and enable it. On success q->kick_fd is vu->kick_fd, which vu keeps. */
int vhost_user_start(struct vhost_user *vu, struct vdrv_mem *m, struct vdrv_queue *q, uint64_t want,
		     char *err, size_t errlen);

/* Interrupts (call eventfd signals) since the last call, 0 if none. */
uint64_t vhost_user_call_take(struct vhost_user *vu);

/* Close the connection and the eventfds. */
void vhost_user_close(struct vhost_user *vu);
