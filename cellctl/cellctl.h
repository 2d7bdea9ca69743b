/* cellctl's commands, shared between cellctl.c (the connection, the
 * replies, every other command) and cellctl_audio.c (record-audio,
 * play-audio). */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.pb-c.h"

#define CELLCTL_MAX_MSG (64 * 1024)

enum { EXIT_ERR = 1, EXIT_USAGE = 2 };

struct cellctl {
	int fd;
	bool json;
	bool input; /* an input command: its errors say how far it got */
};

/* One Response, with the fds that came with it (up to max in ret_fds, the
 * caller's to close; any beyond are closed), or NULL with a message. */
Cellvm__Api__Response *cellctl_recv_fds(struct cellctl *c, int *ret_fds, size_t max,
					size_t *ret_nfds);
/* Print one reply (an error on stderr, or as JSON); returns the exit status. */
int cellctl_print(struct cellctl *c, const Cellvm__Api__Response *m);
/* Print o (taken) as one line of JSON. */
void cellctl_print_json(json_object *o);

/* record-audio VM -o FILE.wav [--seconds N] [--stream S];
 * play-audio VM FILE.wav (cellctl_audio.c). */
int cellctl_record_audio(struct cellctl *c, int argc, char **argv);
int cellctl_play_audio(struct cellctl *c, int argc, char **argv);
