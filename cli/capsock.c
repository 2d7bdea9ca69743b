/* cellvm run's capture sockets; see capsock.h. */
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

static int capsock_gpu_reader_fd(const void *opt)
{
	return gpu_opt_reader_fd(opt);
}

static size_t capsock_gpu_hello(const void *opt, char *buf, size_t len)
{
	return gpu_opt_reader_hello(opt, buf, len);
}

static int capsock_snd_reader_fd(const void *opt)
{
	return snd_opt_reader_fd(opt);
}

static size_t capsock_snd_hello(const void *opt, char *buf, size_t len)
{
	return snd_opt_reader_hello(opt, buf, len);
}

const struct capsock_kind capsock_gpu = {
	.option = "--capture-socket",
	.device = "gpu",
	.reader_fd = capsock_gpu_reader_fd,
	.hello = capsock_gpu_hello,
};

const struct capsock_kind capsock_snd = {
	.option = "--audio-socket",
	.device = "snd",
	.reader_fd = capsock_snd_reader_fd,
	.hello = capsock_snd_hello,
};

void capsock_init(struct capsock *cs)
{
	cs->listen_fd = -1;
	cs->next_id = 1;
	cs->kind = NULL;
	cs->opt = NULL;
	for (size_t i = 0; i < CAPSOCK_MAX; i++)
		cs->conns[i] = -1;
}

int capsock_listen(const char *path, const char *option)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: path too long", option);
		return -VM_EXIT_BAD_INPUT;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_err("%s %s: %s", option, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -VM_EXIT_BAD_INPUT;
	}
	if (chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		r = errno;
		log_err("%s %s: %s", option, path, strerror(r));
		close(fd);
		unlink(path);
		return -VM_EXIT_BAD_INPUT;
	}
	return fd;
}

int capsock_open(struct capsock *cs, const char *path, const struct capsock_kind *kind,
		 const void *opt)
{
	int fd;

	capsock_init(cs);
	cs->kind = kind;
	cs->opt = opt;
	fd = capsock_listen(path, kind->option);
	if (fd < 0)
		return -fd;
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	cs->listen_fd = fd;
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
		capsock_refuse(fd, cs->kind == &capsock_snd ? "the snd device is gone"
							    : "the gpu device is gone");
		return;
	}
	if (slot == CAPSOCK_MAX) {
		capsock_refuse(fd, "too many capture readers");
		return;
	}
	/* Non-blocking: the device's write never waits on a reader. */
	fds[0] = cs->kind->reader_fd(cs->opt);
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0) {
		log_err("%s reader: %s", cs->kind->device, strerror(fds[0] < 0 ? -fds[0] : errno));
		ipc_close_fds(fds, 2);
		capsock_refuse(fd, "out of resources");
		return;
	}
	r = launcher_reader_subscribe(dev->ctl, cs->next_id, fds[1]);
	if (r < 0) {
		log_err("%s reader: subscribing at the device: %s", cs->kind->device, strerror(-r));
		ipc_close_fds(fds, 2);
		capsock_refuse(fd, "the device is gone");
		return;
	}
	len = cs->kind->hello(cs->opt, hello, sizeof(hello));
	r = ipc_send(fd, hello, len, fds, 2);
	ipc_close_fds(fds, 2);
	if (r < 0) {
		(void)launcher_reader_unsubscribe(dev->ctl, cs->next_id);
		close(fd);
		return;
	}
	cs->conns[slot] = fd;
	cs->ids[slot] = cs->next_id++;
	log_debug("%s reader %llu subscribed", cs->kind->device, (unsigned long long)cs->ids[slot]);
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
			(void)launcher_reader_unsubscribe(dev->ctl, cs->ids[i]);
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
