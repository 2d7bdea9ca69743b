/* The launcher's side of cellvm-dev-input's control channel, for the input
 * fixtures (vin.h: PS/2 and virtio-input; vxhci.h: the xHCI controller) and
 * bench/input: InputCommands out, InputReplies in, and the check that the
 * device can be started here. Runs in test and benchmark processes only;
 * the device is the untrusted party: every wait is bounded. Functions
 * returning int give >= 0 or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"
#include "proto/input_event.h"

#define INCTL_MAX_MSG 16384

struct inctl_backend {
	uint32_t backend;
	bool bound;
	uint32_t leds;
	char detail[128];
};

/* An InputReply, copied out of the message. */
struct inctl_reply {
	uint64_t id;
	uint32_t status; /* Cellvm__Device__InputStatus */
	uint32_t delivered, total, active_backend, pending;
	int32_t error_event;
	char error[160];
	uint32_t nbackends;
	struct inctl_backend backends[4];
};

/* One control channel: the launcher's end, the next command id. */
struct inctl {
	int fd;
	uint64_t next_id;
};

/* Exit 77 unless memfd and the device binary are usable here. */
void inctl_require(void);

/* Send an InputCommand; id 0 takes the next id. Returns the id used. */
int64_t inctl_cmd(struct inctl *c, uint64_t id, Cellvm__Device__InputCommand *cmd, const int *fds,
		  size_t nfds);
int64_t inctl_inject(struct inctl *c, uint32_t backend, const struct cellvm_input_event *ev,
		     size_t n);
int64_t inctl_switch(struct inctl *c, uint32_t backend);
int64_t inctl_query(struct inctl *c, uint64_t progress_of);
/* The next InputReply within timeout_ms: 0, -ETIMEDOUT, or -errno. */
int inctl_reply(struct inctl *c, struct inctl_reply *ret, int timeout_ms);
/* Whether a reply is ready to read now. */
bool inctl_reply_ready(struct inctl *c);
