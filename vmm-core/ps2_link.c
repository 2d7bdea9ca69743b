/* Forwarding of the PS/2 ports to the input device process; see ps2_link.h.
 * Runs in cellvm-core's vCPU threads. The answers are untrusted: one per
 * access, checked by a dispatch table; anything else, or silence, ends the
 * forwarding without touching the VM. */
#include "vmm-core/ps2_link.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "device.pb-c.h"
#include "proto/channel.h"
#include "proto/ipc.h"
#include "vmm-core/link_call.h"

#define PS2_LINK_MAX_MSG 256
#define PS2_IRQ_KBD	 1
#define PS2_IRQ_AUX	 12

/* The core's side: an access is in flight, or none is. */
enum { PS2_IDLE, PS2_WAITING };

static int ps2_link_on_result(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Device__PortResult *r = msg;
	struct ps2_link *p = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(input device): a byte, and whether to reset. */
	if (r->value > 0xff)
		return -EPROTO;
	p->value = (uint8_t)r->value;
	p->reset = r->reset;
	p->answered = true;
	p->proto.state = PS2_IDLE;
	return 0;
}

/* What the input process may send: one PortResult per access, while one
 * waits for it; never fds. */
static const struct dispatch_entry ps2_link_table[] = {
	[CELLVM__DEVICE__PS2_MESSAGE__MSG_RESULT] = {ps2_link_on_result,
						     DISPATCH_STATE(PS2_WAITING), 0},
	/* Ps2Attach and PortAccess go the other way. */
};

static const struct dispatch_channel ps2_link_channel = {
	.envelope = &cellvm__device__ps2_message__descriptor,
	.max_len = PS2_LINK_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = ps2_link_table,
	.n = sizeof(ps2_link_table) / sizeof(ps2_link_table[0]),
};

void ps2_link_init(struct ps2_link *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->fd = p->irq_fd[0] = p->irq_fd[1] = -1;
	dispatch_init(&p->proto, &ps2_link_channel, PS2_IDLE);
}

bool ps2_link_present(const struct ps2_link *p)
{
	return p->fd >= 0;
}

int ps2_link_attach(struct ps2_link *p, int vm_fd, int link_fd)
{
	static const uint32_t gsi[2] = {PS2_IRQ_KBD, PS2_IRQ_AUX};
	Cellvm__Device__Ps2Message m = CELLVM__DEVICE__PS2_MESSAGE__INIT;
	Cellvm__Device__Ps2Attach a = CELLVM__DEVICE__PS2_ATTACH__INIT;
	int r;

	p->fd = link_fd;
	for (int i = 0; i < 2; i++) {
		struct kvm_irqfd irqfd = {0};

		p->irq_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->irq_fd[i] < 0)
			return -errno;
		irqfd.fd = (uint32_t)p->irq_fd[i];
		irqfd.gsi = gsi[i];
		if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
			return -errno;
	}
	m.msg_case = CELLVM__DEVICE__PS2_MESSAGE__MSG_ATTACH;
	m.attach = &a;
	r = channel_send(p->fd, &m.base, PS2_LINK_MAX_MSG, p->irq_fd, 2);
	return r < 0 ? r : 0;
}

static void ps2_link_fail(struct ps2_link *p, const char *why, int err)
{
	/* Once: the ports read as if there were no controller from now on. */
	log_err("PS/2 link to the input device: %s (%s); the ports go quiet", why,
		err ? dispatch_strerror(err) : "no answer");
	p->dead = true;
}

bool ps2_link_pio(struct ps2_link *p, uint16_t port, uint8_t *data, bool is_write)
{
	Cellvm__Device__Ps2Message m = CELLVM__DEVICE__PS2_MESSAGE__INIT;
	Cellvm__Device__PortAccess a = CELLVM__DEVICE__PORT_ACCESS__INIT;
	enum link_call_fail f;
	bool reset = false;
	int r;

	pthread_mutex_lock(&p->lock);
	if (p->dead || p->fd < 0) {
		if (!is_write)
			*data = 0xff;
		goto out;
	}
	a.port = port;
	a.write = is_write;
	a.value = is_write ? *data : 0;
	m.msg_case = CELLVM__DEVICE__PS2_MESSAGE__MSG_ACCESS;
	m.access = &a;
	f = link_call(p->fd, &m.base, PS2_LINK_MAX_MSG, &p->proto, PS2_WAITING, p, &p->answered,
		      PS2_LINK_TIMEOUT_MS, &r);
	if (f != LINK_CALL_OK) {
		ps2_link_fail(p, link_call_reason(f), r);
		goto quiet;
	}
	if (!is_write)
		*data = p->value;
	reset = p->reset;
	goto out;
quiet:
	if (!is_write)
		*data = 0xff;
out:
	pthread_mutex_unlock(&p->lock);
	return reset;
}

void ps2_link_destroy(struct ps2_link *p)
{
	if (p->fd >= 0)
		close(p->fd);
	for (int i = 0; i < 2; i++)
		if (p->irq_fd[i] >= 0)
			close(p->irq_fd[i]);
	p->fd = p->irq_fd[0] = p->irq_fd[1] = -1;
	pthread_mutex_destroy(&p->lock);
}
