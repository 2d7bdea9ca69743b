/* The input fixture; see vin.h. Runs in test and benchmark processes: starts
 * the real cellvm-dev-input the way the launcher does for cellvm run, and
 * plays the core, the guest's drivers and the launcher's control channel.
 * What the device sends back is untrusted: decoded with bounds, every wait
 * with a deadline. */
#include "test/harness/vin.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define VIN_MAX_MSG   16384
#define VIN_VERSION_1 (1ULL << 32)
#define VIN_MEM_SIZE  (16ULL << 20)

static const char *const vin_names[VIN_NFN] = {"cellvm test keyboard", "cellvm test mouse",
					       "cellvm test tablet", "cellvm test touch"};

static void vin_link_core(struct vcore *c, int link)
{
	*c = (struct vcore){.irq_fd = -1, .shm_fd = -1, .inflight_fd = -1};
	for (uint32_t i = 0; i < DEVPROC_MAX_QUEUES; i++)
		c->kick_fd[i] = c->qirq_fd[i] = -1;
	c->proc = (struct device_proc){.pid = 0, .pidfd = -1, .ctl = -1, .link = link, .log = -1};
	for (uint32_t i = 0; i < LAUNCHER_MAX_LINKS - 1; i++)
		c->proc.more_links[i] = -1;
}

int vin_start(struct vin *t, const struct vin_opts *o)
{
	Cellvm__Device__InputConfig ic = CELLVM__DEVICE__INPUT_CONFIG__INIT;
	Cellvm__Device__VirtioInputConfig vc[VIN_NFN], *pvc[VIN_NFN];
	struct device_config cfg = {.kind = "input", .nbackend = 1, .extra_links = VIN_NFN - 1};
	int sp[2], r;
	char err[256];

	memset(t, 0, sizeof(*t));
	t->ps2 = t->irq[0] = t->irq[1] = -1;
	t->ctl = (struct inctl){.fd = -1, .next_id = 1};
	for (uint32_t f = 0; f < VIN_NFN; f++)
		vin_link_core(&t->fn[f], -1);
	r = vdrv_mem_create(&t->mem, VIN_MEM_SIZE);
	if (r < 0)
		return r;
	t->irq[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t->irq[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq[0] < 0 || t->irq[1] < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	for (uint32_t f = 0; f < VIN_NFN; f++) {
		cellvm__device__virtio_input_config__init(&vc[f]);
		vc[f].kind = f;
		vc[f].name = (char *)vin_names[f];
		vc[f].serial = (char *)"";
		pvc[f] = &vc[f];
	}
	ic.has_ps2 = true;
	ic.n_virtio = VIN_NFN;
	ic.virtio = pvc;
	ic.default_backend = o->default_backend;
	ic.max_pending = o->max_pending;
	cfg.backend_fds[0] = sp[1];
	cfg.input = &ic;
	r = vcore_start(&t->fn[0], &cfg, &t->mem, err, sizeof(err));
	close(sp[1]); /* the launcher hands over a copy */
	if (r < 0) {
		close(sp[0]);
		fprintf(stderr, "vin_start: %s\n", err);
		return r;
	}
	t->ps2 = sp[0];
	t->ctl.fd = t->fn[0].proc.ctl;
	t->started = true;
	if (t->fn[0].proc.nmore != VIN_NFN - 1)
		return -EPROTO;
	for (uint32_t f = 1; f < VIN_NFN; f++) {
		vin_link_core(&t->fn[f], t->fn[0].proc.more_links[f - 1]);
		t->fn[0].proc.more_links[f - 1] = -1; /* fn[f] owns it now */
	}
	for (uint32_t f = 0; f < VIN_NFN; f++) {
		r = vcore_attach(&t->fn[f], 2);
		if (r < 0)
			return r;
	}
	return 0;
}

int vin_activate(struct vin *t, uint32_t f)
{
	struct vdrv_queue *qs[2] = {&t->eq[f], &t->sq[f]};
	int r;

	r = vdrv_queue_init(&t->eq[f], &t->mem, 0, VIN_EQ_SIZE);
	if (r == 0)
		r = vdrv_queue_init(&t->sq[f], &t->mem, 1, VIN_SQ_SIZE);
	if (r < 0)
		return r;
	return vcore_activate(&t->fn[f], VIN_VERSION_1, qs, 2);
}

int vin_evbufs(struct vin *t, uint32_t f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = vdrv_alloc(&t->mem, 8, 8);
		struct vdrv_buf b = {.gpa = gpa, .len = 8, .write = true};
		uint16_t head = vdrv_chain(&t->eq[f], &b, 1);

		t->evbuf[f][head % VIN_EQ_SIZE] = gpa;
		vdrv_avail_add(&t->eq[f], head);
	}
	return vdrv_kick(&t->eq[f]);
}

int vin_event_next(struct vin *t, uint32_t f, struct vin_event *ret)
{
	uint32_t id, len;
	uint8_t e[8];

	if (vdrv_used_next(&t->eq[f], &id, &len) != 1)
		return 0;
	if (id >= VIN_EQ_SIZE || len != 8)
		return -EPROTO;
	memcpy(e, vdrv_host(&t->mem, t->evbuf[f][id], 8), 8);
	ret->type = (uint16_t)(e[0] | e[1] << 8);
	ret->code = (uint16_t)(e[2] | e[3] << 8);
	ret->value = (int32_t)((uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 |
			       (uint32_t)e[7] << 24);
	return 1;
}

int vin_irq_wait(struct vin *t, uint32_t f, int timeout_ms)
{
	struct pollfd pfd = {.fd = t->fn[f].irq_fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	return vcore_irq_take(&t->fn[f]) > 0;
}

int vin_event_wait(struct vin *t, uint32_t f, struct vin_event *ret, int timeout_ms)
{
	int r = vin_event_next(t, f, ret);

	if (r != 0)
		return r;
	if (!vdrv_wait_used(&t->eq[f], timeout_ms))
		return 0;
	return vin_event_next(t, f, ret);
}

/* ---- the PS/2 link ---- */

static int vin_ps2_msg(struct vin *t, Cellvm__Device__Ps2Message *m, const int *fds, size_t nfds)
{
	return channel_send(t->ps2, &m->base, VIN_MAX_MSG, fds, nfds);
}

int vin_ps2_attach_fds(struct vin *t, const int *fds, size_t nfds)
{
	Cellvm__Device__Ps2Message m = CELLVM__DEVICE__PS2_MESSAGE__INIT;
	Cellvm__Device__Ps2Attach a = CELLVM__DEVICE__PS2_ATTACH__INIT;

	m.msg_case = CELLVM__DEVICE__PS2_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	return vin_ps2_msg(t, &m, fds, nfds);
}

int vin_ps2_attach(struct vin *t)
{
	return vin_ps2_attach_fds(t, t->irq, 2);
}

int vin_ps2_send(struct vin *t, uint32_t port, bool write, uint32_t value)
{
	Cellvm__Device__Ps2Message m = CELLVM__DEVICE__PS2_MESSAGE__INIT;
	Cellvm__Device__PortAccess a = CELLVM__DEVICE__PORT_ACCESS__INIT;

	a.port = port;
	a.write = write;
	a.value = value;
	m.msg_case = CELLVM__DEVICE__PS2_MESSAGE__MSG_ACCESS;
	m.access = &a;
	return vin_ps2_msg(t, &m, NULL, 0);
}

int vin_ps2_io(struct vin *t, uint32_t port, bool write, uint32_t value)
{
	struct pollfd pfd = {.fd = t->ps2, .events = POLLIN};
	Cellvm__Device__Ps2Message *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t mc;
	int r;

	r = vin_ps2_send(t, port, write, value);
	if (r < 0)
		return r;
	r = poll(&pfd, 1, VIN_TIMEOUT_MS);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	r = channel_recv(t->ps2, &cellvm__device__ps2_message__descriptor, VIN_MAX_MSG,
			 (ProtobufCMessage **)&m, &mc, fds, IPC_MAX_FDS, &nfds);
	if (r < 0)
		return r;
	ipc_close_fds(fds, nfds);
	r = mc == CELLVM__DEVICE__PS2_MESSAGE__MSG_RESULT && nfds == 0 && m->result->value <= 0xff
		    ? (int)m->result->value
		    : -EPROTO;
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

uint64_t vin_ps2_irq_take(struct vin *t, int line)
{
	uint64_t v = 0;

	if (read(t->irq[line == 1 ? 0 : 1], &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

int vin_ps2_obf(struct vin *t)
{
	int r = vin_ps2_io(t, 0x64, false, 0);

	return r < 0 ? r : r & 1;
}

int vin_ps2_read_key(struct vin *t, int timeout_ms)
{
	struct pollfd pfd = {.fd = t->irq[0], .events = POLLIN};
	int r;

	/* A byte may already wait (its interrupt taken with an earlier one). */
	r = vin_ps2_obf(t);
	if (r < 0)
		return r;
	if (r == 0) {
		if (poll(&pfd, 1, timeout_ms) != 1)
			return -ETIMEDOUT;
		r = vin_ps2_obf(t);
		if (r <= 0)
			return r < 0 ? r : -EPROTO; /* an interrupt with nothing to read */
	}
	(void)vin_ps2_irq_take(t, 1);
	return vin_ps2_io(t, 0x60, false, 0);
}

int vin_ps2_driver_init(struct vin *t)
{
	int r;

	r = vin_ps2_attach(t);
	if (r < 0)
		return r;
	r = vin_ps2_io(t, 0x64, true, 0xaa); /* controller self-test */
	if (r < 0)
		return r;
	r = vin_ps2_read_key(t, VIN_TIMEOUT_MS);
	if (r != 0x55)
		return r < 0 ? r : -EPROTO;
	r = vin_ps2_io(t, 0x60, true, 0xf4); /* keyboard: enable scanning */
	if (r < 0)
		return r;
	r = vin_ps2_read_key(t, VIN_TIMEOUT_MS);
	if (r != 0xfa)
		return r < 0 ? r : -EPROTO;
	(void)vin_ps2_irq_take(t, 1);
	return 0;
}

int vin_stop(struct vin *t)
{
	int status = -1;

	if (t->ps2 >= 0)
		close(t->ps2);
	t->ps2 = -1;
	for (uint32_t f = VIN_NFN; f-- > 0;) {
		int s = vcore_stop(&t->fn[f]);

		if (f == 0)
			status = s;
	}
	for (int i = 0; i < 2; i++) {
		if (t->irq[i] >= 0)
			close(t->irq[i]);
		t->irq[i] = -1;
	}
	vdrv_mem_destroy(&t->mem);
	t->started = false;
	return status;
}
