/* The launcher's reading of a running core; see launcher_fault.h. Runs in the
 * privileged process. What the core sends is untrusted: one table says what
 * a running core may send its watcher (DeviceFault alone, never with fds),
 * and the index it names is checked against the devices it was given. */
#include "launcher/launcher_fault.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto/dispatch.h"
#include "proto/ipc.h"
#include "proto/vm_channel.h"

/* The watcher reads a core only once it runs; the states are enum
 * launcher_core_pending (what the watcher asked and waits for). */
enum {
	FAULT_CORE_RUNNING = LAUNCHER_CORE_NONE,
	FAULT_CORE_PAUSING = LAUNCHER_CORE_PAUSING,
	FAULT_CORE_RESUMING = LAUNCHER_CORE_RESUMING,
	FAULT_CORE_POWER_BUTTON = LAUNCHER_CORE_POWER_BUTTON,
};
#define FAULT_ANY                                                                                  \
	(DISPATCH_STATE(FAULT_CORE_RUNNING) | DISPATCH_STATE(FAULT_CORE_PAUSING) |                 \
	 DISPATCH_STATE(FAULT_CORE_RESUMING) | DISPATCH_STATE(FAULT_CORE_POWER_BUTTON))

struct launcher_fault_ctx {
	size_t ndevs;
	struct launcher_fault *out;
};

static int launcher_fault_on_device_fault(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__DeviceFault *f = msg;
	struct launcher_fault_ctx *c = ctx;
	size_t n = 0;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(core): the index must name one of its devices; restarts
	 * only picks a process (supervise_fault); the detail is text to log. */
	if (f->index >= c->ndevs)
		return -EPROTO;
	c->out->msg = LAUNCHER_MSG_FAULT;
	c->out->index = f->index;
	c->out->restarts = f->restarts;
	c->out->reason = (int)f->reason;
	for (const char *p = f->detail ? f->detail : ""; *p && n < sizeof(c->out->detail) - 1; p++)
		c->out->detail[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	c->out->detail[n] = 0;
	return 0;
}

static void launcher_fault_text(char *out, size_t len, const char *in)
{
	size_t n = 0;

	for (const char *p = in ? in : ""; *p && n < len - 1; p++)
		out[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	out[n] = 0;
}

static int launcher_fault_on_paused(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__CorePaused *p = msg;
	struct launcher_fault_ctx *c = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(core): the clock is only reported; the error is text. */
	c->out->msg = LAUNCHER_MSG_PAUSED;
	c->out->guest_clock_ns = p->guest_clock_ns;
	c->out->failed = p->error && p->error[0];
	launcher_fault_text(c->out->detail, sizeof(c->out->detail), p->error);
	return 0;
}

static int launcher_fault_on_resumed(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__CoreResumed *r = msg;
	struct launcher_fault_ctx *c = ctx;

	(void)fds;
	(void)nfds;
	c->out->msg = LAUNCHER_MSG_RESUMED;
	c->out->guest_clock_ns = r->guest_clock_ns;
	return 0;
}

static int launcher_fault_on_power_button(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__CorePowerButton *pb = msg;
	struct launcher_fault_ctx *c = ctx;

	(void)fds;
	(void)nfds;
	/* UNTRUSTED(core): one bit, only reported (whether to wait for the guest). */
	c->out->msg = LAUNCHER_MSG_POWER_BUTTON;
	c->out->guest_listens = pb->guest_listens;
	return 0;
}

/* What a running core may send the launcher that watches it: DeviceFault,
 * any number of times, never with fds; CorePaused only while a Pause waits
 * for it, CoreResumed only while a Resume does, CorePowerButton only while a
 * PowerButton does (an answer nobody asked for breaks the protocol). Its
 * CoreStopped is not taken here: it is left for launcher_core_stopped
 * (launcher_core_table in launcher.c), which reads it once the core has
 * exited. CoreSetup and DeviceRestart go the other
 * way; CoreReady came before the watch. */
static const struct dispatch_entry launcher_fault_table[] = {
	[CELLVM__VM__VM_MESSAGE__MSG_DEVICE_FAULT] = {launcher_fault_on_device_fault, FAULT_ANY, 0},
	[CELLVM__VM__VM_MESSAGE__MSG_PAUSED] = {launcher_fault_on_paused,
						DISPATCH_STATE(FAULT_CORE_PAUSING), 0},
	[CELLVM__VM__VM_MESSAGE__MSG_RESUMED] = {launcher_fault_on_resumed,
						 DISPATCH_STATE(FAULT_CORE_RESUMING), 0},
	[CELLVM__VM__VM_MESSAGE__MSG_POWER_BUTTON_DONE] = {launcher_fault_on_power_button,
							   DISPATCH_STATE(FAULT_CORE_POWER_BUTTON),
							   0},
};

static const struct dispatch_channel launcher_fault_chan = {
	.envelope = &cellvm__vm__vm_message__descriptor,
	.max_len = VM_CHANNEL_MAX_MSG,
	.max_fds = IPC_MAX_FDS,
	.table = launcher_fault_table,
	.n = sizeof(launcher_fault_table) / sizeof(launcher_fault_table[0]),
};

/* Whether the next datagram is the core's CoreStopped (looked at, not taken:
 * its fds, if any, stay queued with it). */
static int launcher_fault_peek_stopped(int chan)
{
	uint8_t buf[VM_CHANNEL_MAX_MSG];
	Cellvm__Vm__VmMessage *m;
	ssize_t n;
	int stopped;

	n = recv(chan, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 1; /* EOF: the core is gone */
	/* UNTRUSTED(core): decoded only to see its case; dispatch_recv checks
	 * it in full when it is taken. */
	m = cellvm__vm__vm_message__unpack(NULL, (size_t)n, buf);
	if (!m)
		return 0;
	stopped = m->msg_case == CELLVM__VM__VM_MESSAGE__MSG_STOPPED;
	cellvm__vm__vm_message__free_unpacked(m, NULL);
	return stopped;
}

int launcher_core_recv(int chan, size_t ndevs, int pending, struct launcher_fault *ret)
{
	struct launcher_fault_ctx c = {.ndevs = ndevs, .out = ret};
	struct dispatch d;
	int r;

	*ret = (struct launcher_fault){0};
	r = launcher_fault_peek_stopped(chan);
	if (r != 0)
		return r > 0 ? 0 : r;
	assert(pending >= LAUNCHER_CORE_NONE && pending <= LAUNCHER_CORE_POWER_BUTTON);
	dispatch_init(&d, &launcher_fault_chan, (uint32_t)pending);
	/* UNTRUSTED(core): checked by launcher_fault_table. */
	r = dispatch_recv(chan, &d, &c);
	if (r == -ECONNRESET)
		return 0;
	return r < 0 ? r : 1;
}

int launcher_fault_recv(int chan, size_t ndevs, struct launcher_fault *ret)
{
	return launcher_core_recv(chan, ndevs, LAUNCHER_CORE_NONE, ret);
}

int launcher_fault_kill(const struct device_proc *p)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

	if (p->pid <= 0 || p->pidfd < 0)
		return 0;
	/* Exited already (it crashed, and the core saw its link close): its
	 * own status is the one to report. */
	if (poll(&pfd, 1, 0) > 0)
		return 0;
	if (syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 1;
}
