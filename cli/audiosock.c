/* cellvm run's audio input socket; see audiosock.h. The client's bytes are
 * never read here: the connection itself goes to the snd device, which
 * checks the WAV header (an untrusted stream) in its sandbox. */
#include "cli/audiosock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/capsock.h"
#include "common/log.h"
#include "launcher/snd_opt.h"

void audiosock_init(struct audiosock *as)
{
	as->listen_fd = -1;
	as->path[0] = '\0';
	as->next_id = 1;
}

int audiosock_open(struct audiosock *as, const char *path)
{
	int fd;

	audiosock_init(as);
	fd = capsock_listen(path, "--audio-input-socket");
	if (fd < 0)
		return -fd;
	snprintf(as->path, sizeof(as->path), "%s", path);
	as->listen_fd = fd;
	return 0;
}

/* One line to the client; it is not waited for (a client that does not
 * read it loses it, as a line never matters to the sound). */
static void audiosock_say(int fd, const char *line)
{
	(void)!send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void audiosock_serve(struct audiosock *as, struct device_proc *dev)
{
	/* Blocking, as the device gets it: it polls before it reads. */
	int fd = accept4(as->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	char line[64];
	int r;

	if (fd < 0)
		return;
	if (!dev || dev->ctl < 0) {
		audiosock_say(fd, "{\"error\": \"the VM has no running snd device with a "
				  "capture stream\"}\n");
		close(fd);
		return;
	}
	r = snd_opt_audio_source(dev->ctl, as->next_id, fd);
	if (r < 0) {
		log_err("--audio-input-socket: handing the stream to the snd device: %s",
			strerror(-r));
		audiosock_say(fd, "{\"error\": \"the snd device is gone\"}\n");
		close(fd);
		return;
	}
	/* The device only reads the stream: the answer goes the other way,
	 * and nothing else ever does. */
	snprintf(line, sizeof(line), "{\"id\": %llu}\n", (unsigned long long)as->next_id);
	audiosock_say(fd, line);
	(void)shutdown(fd, SHUT_WR);
	log_debug("audio source %llu handed to the snd device", (unsigned long long)as->next_id);
	as->next_id++;
	close(fd);
}

void audiosock_close(struct audiosock *as)
{
	if (as->listen_fd >= 0) {
		close(as->listen_fd);
		unlink(as->path);
	}
	as->listen_fd = -1;
}
