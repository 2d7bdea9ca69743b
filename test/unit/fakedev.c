/* The scripted device process of the virtio transport tests: see fakedev.h.
 * Runs as a thread of the test; what the core sends it is trusted (the
 * tests check it). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/channel.h"
#include "test/unit/fakedev.h"

#define LINK_MAX 16384

const uint8_t fakedev_config[8] = {1, 2, 3, 4, 5, 6, 7, 8};

int fakedev_send(int sock, Cellvm__Device__LinkMessage *m)
{
	return channel_send(sock, &m->base, LINK_MAX, NULL, 0);
}

int fakedev_send_fd(int sock, Cellvm__Device__LinkMessage *m, int fd)
{
	return channel_send(sock, &m->base, LINK_MAX, &fd, 1);
}

void fakedev_report(const struct vdev *d, enum vdev_report what, const char *detail, uint64_t off,
		    int err)
{
	fprintf(stderr, "%s: report %d: %s (0x%llx, %d)\n", d->name, (int)what,
		detail ? detail : "-", (unsigned long long)off, err);
}

static void fakedev_on_attach(struct fakedev *f, const Cellvm__Device__Attach *a, int *fds,
			      size_t nfds)
{
	Cellvm__Device__LinkMessage out = CELLVM__DEVICE__LINK_MESSAGE__INIT;
	Cellvm__Device__DeviceInfo info = CELLVM__DEVICE__DEVICE_INFO__INIT;

	f->attach_nq = a->num_queues;
	f->attach_queue_irqs = a->queue_irqs;
	memcpy(f->fds, fds, nfds * sizeof(int));
	f->nfds = nfds;
	if (nfds >= 2) {
		void *p = mmap(NULL, sizeof(*f->shared), PROT_READ | PROT_WRITE, MAP_SHARED, fds[1],
			       0);
		f->shared = p == MAP_FAILED ? NULL : p;
	}
	info.device_id = FAKEDEV_DEVICE_ID;
	info.features = FAKEDEV_FEATURES;
	info.config.data = (uint8_t *)fakedev_config;
	info.config.len = sizeof(fakedev_config);
	info.num_queues = FAKEDEV_NQ;
	info.queue_max_size = FAKEDEV_QUEUE_MAX;
	out.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_INFO;
	out.info = &info;
	fakedev_send(f->sock, &out);
}

static void fakedev_on_activate(struct fakedev *f, const Cellvm__Device__Activate *a)
{
	f->activates++;
	f->act_features = a->features;
	f->act_nq = a->n_queues;
	for (size_t i = 0; i < a->n_queues && i < FAKEDEV_NQ; i++) {
		f->act_index[i] = a->queues[i]->index;
		f->act_size[i] = a->queues[i]->size;
		f->act_desc[i] = a->queues[i]->desc;
		f->act_avail[i] = a->queues[i]->avail;
		f->act_used[i] = a->queues[i]->used;
	}
	pthread_cond_broadcast(&f->changed);
}

static void *fakedev_thread(void *arg)
{
	struct fakedev *f = arg;

	for (;;) {
		Cellvm__Device__LinkMessage *m = NULL, out = CELLVM__DEVICE__LINK_MESSAGE__INIT;
		int fds[IPC_MAX_FDS];
		size_t nfds = 0;
		uint32_t c;

		if (channel_recv(f->sock, &cellvm__device__link_message__descriptor, LINK_MAX,
				 (ProtobufCMessage **)&m, &c, fds, IPC_MAX_FDS, &nfds) < 0)
			break;
		pthread_mutex_lock(&f->lock);
		if (c == CELLVM__DEVICE__LINK_MESSAGE__MSG_ATTACH && f->nfds == 0) {
			fakedev_on_attach(f, m->attach, fds, nfds);
		} else if (c == CELLVM__DEVICE__LINK_MESSAGE__MSG_ACTIVATE) {
			ipc_close_fds(fds, nfds);
			fakedev_on_activate(f, m->activate);
		} else if (c == CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET) {
			Cellvm__Device__ResetDone done = CELLVM__DEVICE__RESET_DONE__INIT;
			ipc_close_fds(fds, nfds);
			f->resets++;
			out.msg_case = CELLVM__DEVICE__LINK_MESSAGE__MSG_RESET_DONE;
			out.reset_done = &done;
			fakedev_send(f->sock, &out);
			pthread_mutex_unlock(&f->lock);
			/* Play the core's main loop too: deliver ResetDone. */
			vdev_on_link(f->core);
			pthread_mutex_lock(&f->lock);
		} else {
			ipc_close_fds(fds, nfds);
		}
		pthread_mutex_unlock(&f->lock);
		protobuf_c_message_free_unpacked(&m->base, NULL);
	}
	return NULL;
}

void fakedev_start(struct fakedev *f, struct vdev *core, int *ret_link)
{
	pthread_condattr_t ca;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[1];
	f->core = core;
	pthread_mutex_init(&f->lock, NULL);
	/* CLOCK_MONOTONIC: fakedev_wait_activates() measures its 5 s with it. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->changed, &ca);
	pthread_condattr_destroy(&ca);
	assert_int_equal(pthread_create(&f->thread, NULL, fakedev_thread, f), 0);
	*ret_link = sv[0];
}

void fakedev_stop(struct fakedev *f)
{
	shutdown(f->sock, SHUT_RDWR);
	shutdown(f->core->link_fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->sock);
	if (f->shared)
		munmap(f->shared, sizeof(*f->shared));
	ipc_close_fds(f->fds, f->nfds);
	pthread_cond_destroy(&f->changed);
	pthread_mutex_destroy(&f->lock);
}

bool fakedev_wait_activates(struct fakedev *f, int n)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 5;
	while (f->activates < n)
		if (pthread_cond_timedwait(&f->changed, &f->lock, &end) == ETIMEDOUT)
			return f->activates >= n;
	return true;
}

int fakedev_kick_fd(const struct fakedev *f, uint32_t q)
{
	return f->fds[2 + q];
}

int fakedev_irq_fd(const struct fakedev *f, uint32_t q)
{
	return f->fds[2 + f->attach_nq + q];
}
