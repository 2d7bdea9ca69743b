/* cellvm run's audio input socket (--audio-input-socket PATH): sound for
 * the guest's capture streams (its microphone). Each connection is one
 * sound source: it is told one line of JSON, {"id": N} when its socket was
 * handed to the snd device as an AudioSource, or {"error": "..."} (then
 * closed); it then writes a WAV stream (a RIFF/WAVE header, then PCM until
 * it shuts down its writing side or closes; a data size of 0 or 0xffffffff
 * means to EOF), which the device converts to the capture stream's format
 * and plays into the guest's capture as it asks for it. A new connection
 * replaces the one before; at EOF the device goes back to the --snd
 * source=. Runs in cellvm run (root); the socket is 0600, and what a client
 * writes is read by the sandboxed device only. */
#pragma once
#include <poll.h>
#include <stdint.h>

#include "launcher/launcher.h"

struct audiosock {
	int listen_fd; /* -1: no socket */
	char path[108];
	uint64_t next_id;
};

/* No socket (what audiosock_open starts from). */
void audiosock_init(struct audiosock *as);
/* Listen on path (a stale socket there is removed first). Returns 0 or an
 * exit status with a message logged. */
int audiosock_open(struct audiosock *as, const char *path);
/* The listener, readable: hand a new connection to the snd device dev
 * (NULL when it is gone, or has no capture stream: the client is told). */
void audiosock_serve(struct audiosock *as, struct device_proc *dev);
void audiosock_close(struct audiosock *as);
