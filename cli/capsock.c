/* cellvm run's capture socket; see capsock.h. */
#include "cli/capsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/ipc.h"
#include "proto/vm_exit.h"

void capsock_init(struct capsock *cs)
{
	cs->listen_fd = -1;
	cs->next_id = 1;
	cs->opt = NULL;
	for (size_t i = 0; i < CAPSOCK_MAX; i++)
		cs->conns[i] = -1;
}

int capsock_open(struct capsock *cs, const char *path, const struct gpu_opt *opt)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	capsock_init(cs);
	cs->opt = opt;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("--capture-socket: path too long");
		return VM_EXIT_BAD_INPUT;
	}
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	cs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cs->listen_fd < 0 || fchmod(cs->listen_fd, 0600) < 0 ||
	    bind(cs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(cs->listen_fd, 8) < 0) {
		log_err("--capture-socket %s: %s", path, strerror(errno));
		capsock_close(cs);
		return VM_EXIT_BAD_INPUT;
	}
	return 0;
}

size_t capsock_poll_fill(struct capsock *cs, struct pollfd *pfd)
{
	pfd[0] = (struct pollfd){.fd = cs->listen_fd, .events = POLLIN};
	for (size_t i = 0; i < CAPSOCK_MAX; i++)
		pfd[1 + i] = (struct pollfd){.fd = cs->conns[i], .events = POLLIN};
	return 1 + CAPSOCK_MAX;
}

static void capsock_refuse(int fd, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "{\"error\": \"%s\"}\n", why);

	(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* A new reader: its eventfd to the device, then the ring and the eventfd
 * to the reader; the connection stays open as the subscription. */
static void capsock_accept(struct capsock *cs, struct device_proc *dev)
{
	int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int fds[2] = {-1, -1};
	size_t slot = CAPSOCK_MAX;
	char hello[256];
	size_t len;
	int r;

	if (fd < 0)
		return;
	for (size_t i = 0; i < CAPSOCK_MAX && slot == CAPSOCK_MAX; i++)
		if (cs->conns[i] < 0)
			slot = i;
	if (!dev || dev->ctl < 0) {
		capsock_refuse(fd, "the gpu device is gone");
		return;
	}
	if (slot == CAPSOCK_MAX) {
		capsock_refuse(fd, "too many capture readers");
		return;
	}
	/* Non-blocking: the device's write never waits on a reader. */
	fds[0] = gpu_opt_reader_fd(cs->opt);
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0) {
		log_err("capture reader: %s", strerror(fds[0] < 0 ? -fds[0] : errno));
		ipc_close_fds(fds, 2);
		capsock_refuse(fd, "out of resources");
		return;
	}
	r = gpu_opt_subscribe(dev->ctl, cs->next_id, fds[1]);
	if (r < 0) {
		log_err("capture reader: subscribing at the gpu device: %s", strerror(-r));
		ipc_close_fds(fds, 2);
		capsock_refuse(fd, "the gpu device is gone");
		return;
	}
	len = gpu_opt_reader_hello(cs->opt, hello, sizeof(hello));
	r = ipc_send(fd, hello, len, fds, 2);
	ipc_close_fds(fds, 2);
	if (r < 0) {
		(void)gpu_opt_unsubscribe(dev->ctl, cs->next_id);
		close(fd);
		return;
	}
	cs->conns[slot] = fd;
	cs->ids[slot] = cs->next_id++;
	log_debug("capture reader %llu subscribed", (unsigned long long)cs->ids[slot]);
}

void capsock_poll_ready(struct capsock *cs, const struct pollfd *pfd, struct device_proc *dev)
{
	char drop[256];

	for (size_t i = 0; i < CAPSOCK_MAX; i++) {
		ssize_t got;

		if (cs->conns[i] < 0 || pfd[1 + i].fd != cs->conns[i] || !pfd[1 + i].revents)
			continue;
		got = recv(cs->conns[i], drop, sizeof(drop), MSG_DONTWAIT);
		if (got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR)))
			continue; /* a client's bytes mean nothing */
		if (dev && dev->ctl >= 0)
			(void)gpu_opt_unsubscribe(dev->ctl, cs->ids[i]);
		close(cs->conns[i]);
		cs->conns[i] = -1;
	}
	if (pfd[0].fd >= 0 && pfd[0].revents)
		capsock_accept(cs, dev);
}

void capsock_close(struct capsock *cs)
{
	for (size_t i = 0; i < CAPSOCK_MAX; i++) {
		if (cs->conns[i] >= 0)
			close(cs->conns[i]);
		cs->conns[i] = -1;
	}
	if (cs->listen_fd >= 0) {
		close(cs->listen_fd);
		unlink(cs->path);
	}
	cs->listen_fd = -1;
}
