/* The virtio-snd fixture (vsnd.h): cellvm-dev-snd started by the launcher
 * with a ring memfd, subscriber eventfds and WAV files, the harness as core
 * and as the guest's virtio-snd driver. Runs in test processes; the device
 * is untrusted here: every wait is bounded and every used entry checked. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dev-procs/snd/snd_ctl.h"
#include "device.pb-c.h"
#include "proto/audio_ring.h"
#include "proto/channel.h"
#include "test/harness/vsnd.h"

#define VSND_MEM_SIZE (64ULL << 20)
#define VSND_QSIZE    64
#define VSND_MAX_MSG  16384

static uint64_t vsnd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int vsnd_activate(struct vsnd *t)
{
	struct vdrv_queue *qs[4] = {&t->q[0], &t->q[1], &t->q[2], &t->q[3]};
	int r = 0;

	for (uint32_t i = 0; i < 4 && r == 0; i++)
		r = vdrv_queue_init(&t->q[i], &t->mem, i, t->qsize);
	if (r == 0)
		r = vcore_activate(&t->core, 1ULL << 32, qs, 4);
	return r;
}

static int vsnd_ring_make(struct vsnd *t, const struct vsnd_opts *o)
{
	for (uint32_t i = 0; i < t->nefds; i++) {
		t->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->efd[i] < 0)
			return -errno;
	}
	if (o->ring_periods == 0)
		return 0;
	t->ring_size = cellvm_audio_ring_bytes(o->ring_periods, o->ring_period_bytes);
	t->ring_fd = memfd_create("vsnd-ring", MFD_CLOEXEC);
	if (t->ring_fd < 0)
		return -errno;
	if (ftruncate(t->ring_fd, (off_t)t->ring_size) < 0)
		return -errno;
	return 0;
}

static void vsnd_reset_fields(struct vsnd *t)
{
	memset(t, 0, sizeof(*t));
	t->ring_fd = t->stats_fd = -1;
	for (int i = 0; i < VSND_MAX_EFDS; i++)
		t->efd[i] = -1;
}

int vsnd_start(struct vsnd *t, const struct vsnd_opts *o, char *err, size_t errlen)
{
	Cellvm__Device__SndConfig sc = CELLVM__DEVICE__SND_CONFIG__INIT;
	struct device_config cfg = {.kind = "snd"};
	int r;

	vsnd_reset_fields(t);
	if (o->nefds > VSND_MAX_EFDS) {
		snprintf(err, errlen, "bad fixture options");
		return -EINVAL;
	}
	t->nefds = o->nefds;
	t->qsize = o->qsize ? o->qsize : VSND_QSIZE;
	sc.playback = o->playback;
	sc.capture = o->capture;
	sc.max_channels = o->max_channels;
	sc.ring_periods = o->ring_periods;
	sc.ring_period_bytes = o->ring_period_bytes;
	r = vsnd_ring_make(t, o);
	if (r < 0) {
		snprintf(err, errlen, "ring and eventfds: %s", strerror(-r));
		goto fail;
	}
	/* The launcher's order: the ring, the sink, the source, then (ours)
	 * the subscribers' eventfds. */
	if (t->ring_fd >= 0) {
		sc.sinks |= 1;
		cfg.backend_fds[cfg.nbackend++] = t->ring_fd;
	}
	if (o->wav_sink >= 0) {
		sc.sinks |= 2;
		sc.wav_sink_fd_index = (uint32_t)cfg.nbackend;
		cfg.backend_fds[cfg.nbackend++] = o->wav_sink;
	}
	if (o->wav_source >= 0) {
		sc.source = 1;
		sc.wav_source_fd_index = (uint32_t)cfg.nbackend;
		cfg.backend_fds[cfg.nbackend++] = o->wav_source;
	}
	for (uint32_t i = 0; t->ring_fd >= 0 && i < t->nefds; i++)
		cfg.backend_fds[cfg.nbackend++] = t->efd[i];
	cfg.snd = &sc;

	r = vdrv_mem_create(&t->mem, VSND_MEM_SIZE);
	if (r < 0) {
		snprintf(err, errlen, "guest RAM: %s", strerror(-r));
		goto fail;
	}
	r = launcher_stats_create(&t->stats);
	if (r < 0) {
		snprintf(err, errlen, "counters page: %s", strerror(-r));
		goto fail;
	}
	t->stats_fd = r;
	cfg.stats_fd = t->stats_fd;
	r = vcore_start(&t->core, &cfg, &t->mem, err, errlen);
	if (r < 0)
		goto fail;
	t->started = true;
	r = vcore_attach(&t->core, 4);
	if (r == 0)
		r = vsnd_activate(t);
	if (r < 0) {
		snprintf(err, errlen, "attach and activate: %s", strerror(-r));
		goto fail;
	}
	t->cmd = vdrv_alloc(&t->mem, VSND_SCRATCH, 4096);
	t->resp = vdrv_alloc(&t->mem, VSND_SCRATCH, 4096);
	t->slots[2] = vdrv_alloc(&t->mem, (uint64_t)VSND_SLOT * t->qsize, 4096);
	t->slots[3] = vdrv_alloc(&t->mem, (uint64_t)VSND_SLOT * t->qsize, 4096);
	if (t->ring_fd >= 0) {
		void *m = mmap(NULL, t->ring_size, PROT_READ, MAP_SHARED, t->ring_fd, 0);

		if (m == MAP_FAILED) {
			r = -errno;
			snprintf(err, errlen, "ring mapping: %s", strerror(-r));
			goto fail;
		}
		t->ring = m;
	}
	return 0;

fail:
	(void)vsnd_stop(t);
	return r;
}

int vsnd_stop(struct vsnd *t)
{
	int status = 0;

	if (t->started)
		status = vcore_stop(&t->core);
	if (t->ring)
		munmap((void *)t->ring, t->ring_size);
	if (t->ring_fd >= 0)
		close(t->ring_fd);
	for (int i = 0; i < VSND_MAX_EFDS; i++)
		if (t->efd[i] >= 0)
			close(t->efd[i]);
	if (t->stats_fd >= 0)
		launcher_stats_close(t->stats_fd, t->stats);
	if (t->mem.size)
		vdrv_mem_destroy(&t->mem);
	vsnd_reset_fields(t);
	return status;
}

void *vsnd_host(struct vsnd *t, uint64_t gpa, uint64_t len)
{
	return vdrv_host(&t->mem, gpa, len);
}

void vsnd_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t vsnd_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t vsnd_le64(const uint8_t *p)
{
	return vsnd_le32(p) | (uint64_t)vsnd_le32(p + 4) << 32;
}

int vsnd_post(struct vsnd *t, uint32_t qi, const struct vdrv_buf *b, uint32_t n)
{
	struct vdrv_queue *q = &t->q[qi];
	uint16_t head = vdrv_chain(q, b, n);
	int r;

	vdrv_avail_add(q, head);
	r = vdrv_kick(q);
	return r < 0 ? r : head;
}

int vsnd_wait_used(struct vsnd *t, uint32_t qi, int timeout_ms, uint32_t *id, uint32_t *len)
{
	uint64_t end = vsnd_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = {.fd = t->core.irq_fd, .events = POLLIN};
	struct vdrv_queue *q = &t->q[qi];

	/* The interrupt eventfd wakes us (the device notifies after it fills
	 * the used ring); the used ring decides. */
	for (;;) {
		uint64_t now;

		if (vdrv_used_next(q, id, len) == 1)
			return 1;
		now = vsnd_now_ms();
		if (now >= end)
			return 0;
		if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
			return -errno;
		(void)vcore_irq_take(&t->core);
	}
}

int vsnd_ctrl(struct vsnd *t, const uint8_t *req, uint32_t len, uint32_t rlen, uint32_t *ret_len)
{
	struct vdrv_buf b[2];
	uint32_t n = 0, id, used;
	int head, r;

	if (len > VSND_SCRATCH || rlen > VSND_SCRATCH)
		return -EINVAL;
	memcpy(vsnd_host(t, t->cmd, len ? len : 1), req, len);
	memset(vsnd_host(t, t->resp, VSND_SCRATCH), 0xee, VSND_SCRATCH);
	if (len)
		b[n++] = (struct vdrv_buf){t->cmd, len, false};
	if (rlen)
		b[n++] = (struct vdrv_buf){t->resp, rlen, true};
	head = vsnd_post(t, 0, b, n);
	if (head < 0)
		return head;
	r = vsnd_wait_used(t, 0, VSND_TIMEOUT_MS, &id, &used);
	if (r < 0)
		return r;
	if (r == 0)
		return -ETIMEDOUT;
	if (id != (uint32_t)head || used > rlen)
		return -EPROTO;
	if (ret_len)
		*ret_len = used;
	return used >= 4 ? (int)vsnd_le32(vsnd_resp(t)) : 0;
}

const uint8_t *vsnd_resp(struct vsnd *t)
{
	return vsnd_host(t, t->resp, VSND_SCRATCH);
}

int vsnd_query(struct vsnd *t, uint32_t code, uint32_t start, uint32_t count, uint32_t size,
	       uint32_t rlen)
{
	uint8_t r[16];

	vsnd_put32(r, code);
	vsnd_put32(r + 4, start);
	vsnd_put32(r + 8, count);
	vsnd_put32(r + 12, size);
	if (!rlen)
		rlen = 4 + count * size;
	return vsnd_ctrl(t, r, sizeof(r), rlen, NULL);
}

int vsnd_set_params(struct vsnd *t, uint32_t stream, uint32_t buffer_bytes, uint32_t period_bytes,
		    uint32_t channels, uint32_t format, uint32_t rate_idx)
{
	uint8_t r[24] = {0};

	vsnd_put32(r, SND_R_PCM_SET_PARAMS);
	vsnd_put32(r + 4, stream);
	vsnd_put32(r + 8, buffer_bytes);
	vsnd_put32(r + 12, period_bytes);
	r[20] = (uint8_t)channels;
	r[21] = (uint8_t)format;
	r[22] = (uint8_t)rate_idx;
	return vsnd_ctrl(t, r, sizeof(r), 4, NULL);
}

int vsnd_pcm(struct vsnd *t, uint32_t code, uint32_t stream)
{
	uint8_t r[8];

	vsnd_put32(r, code);
	vsnd_put32(r + 4, stream);
	return vsnd_ctrl(t, r, sizeof(r), 4, NULL);
}

static uint64_t vsnd_slot(struct vsnd *t, uint32_t qi, uint32_t slot)
{
	if ((qi != SND_TXQ && qi != SND_RXQ) || slot >= t->qsize)
		abort(); /* a test bug */
	return t->slots[qi] + (uint64_t)slot * VSND_SLOT;
}

int vsnd_xfer(struct vsnd *t, uint32_t qi, uint32_t slot, uint32_t stream, const void *pcm,
	      uint32_t bytes)
{
	uint64_t base = vsnd_slot(t, qi, slot), st = base + VSND_SLOT - VSND_SLOT_DATA;
	uint8_t *h = vsnd_host(t, base, VSND_SLOT);
	struct vdrv_buf b[3];

	if (bytes > VSND_SLOT_MAX)
		abort();
	vsnd_put32(h, stream);
	if (qi == SND_TXQ)
		memcpy(h + VSND_SLOT_DATA, pcm, bytes);
	else
		memset(h + VSND_SLOT_DATA, 0xee, bytes);
	memset(h + VSND_SLOT - VSND_SLOT_DATA, 0xee, 8);
	b[0] = (struct vdrv_buf){base, 4, false};
	b[1] = (struct vdrv_buf){base + VSND_SLOT_DATA, bytes, qi == SND_RXQ};
	b[2] = (struct vdrv_buf){st, 8, true};
	return vsnd_post(t, qi, b, 3);
}

uint8_t *vsnd_slot_data(struct vsnd *t, uint32_t qi, uint32_t slot)
{
	return (uint8_t *)vsnd_host(t, vsnd_slot(t, qi, slot), VSND_SLOT) + VSND_SLOT_DATA;
}

uint32_t vsnd_slot_status(struct vsnd *t, uint32_t qi, uint32_t slot, uint32_t *ret_latency)
{
	const uint8_t *s = (uint8_t *)vsnd_host(t, vsnd_slot(t, qi, slot), VSND_SLOT) + VSND_SLOT -
			   VSND_SLOT_DATA;

	if (ret_latency)
		*ret_latency = vsnd_le32(s + 4);
	return vsnd_le32(s);
}

static int vsnd_send_ctl(struct vsnd *t, Cellvm__Device__ControlMessage *m, const int *fds,
			 size_t nfds)
{
	return channel_send(t->core.proc.ctl, &m->base, VSND_MAX_MSG, fds, nfds);
}

int vsnd_subscribe(struct vsnd *t, uint64_t id, int efd)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__CaptureSubscribe s = CELLVM__DEVICE__CAPTURE_SUBSCRIBE__INIT;

	s.id = id;
	m.nfds = 1;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_SUBSCRIBE;
	m.subscribe = &s;
	return vsnd_send_ctl(t, &m, &efd, 1);
}

int vsnd_unsubscribe(struct vsnd *t, uint64_t id)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__CaptureUnsubscribe u = CELLVM__DEVICE__CAPTURE_UNSUBSCRIBE__INIT;

	u.id = id;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_UNSUBSCRIBE;
	m.unsubscribe = &u;
	return vsnd_send_ctl(t, &m, NULL, 0);
}

int vsnd_audio_source(struct vsnd *t, uint64_t id, int fd)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__AudioSource a = CELLVM__DEVICE__AUDIO_SOURCE__INIT;

	a.id = id;
	m.nfds = 1;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_AUDIO_SOURCE;
	m.audio_source = &a;
	return vsnd_send_ctl(t, &m, &fd, 1);
}

int vsnd_serving(struct vsnd *t)
{
	int st;

	if (!vcore_alive(&t->core))
		return -ESRCH;
	st = vsnd_query(t, SND_R_PCM_INFO, 0, 1, SND_PCM_INFO_LEN, 0);
	if (st < 0)
		return st;
	if (st != SND_S_OK || t->core.needs_reset)
		return -EPROTO;
	return 0;
}

uint64_t vsnd_efd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}
