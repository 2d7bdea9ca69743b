/* A VM's display in the broker: the gpu's capture ring, mapped read-only
 * for screenshots; capture readers subscribed at the gpu device (each gets
 * the ring read-only and an eventfd of its own); and its VNC server
 * (cellvm-display, started by the launcher thread at boot), which is handed
 * the viewers the broker authenticated and whose input is relayed to the
 * VM's input device. Runs in the broker's loop. UNTRUSTED(gpu process): the
 * ring's contents, read only through the checked readers
 * (proto/capture_ring.h, common/screenshot.c). UNTRUSTED(display process):
 * what it sends (launcher_display_recv checks it; the input device checks
 * every event again). */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/screenshot.h"
#include "proto/ipc.h"

/* ---- the VNC server ---- */

/* Stop it (at teardown, or when it broke its protocol); idempotent. */
static void broker_display_stop(struct broker_vm *vm)
{
	if (vm->display_ev)
		event_free(vm->display_ev);
	if (vm->display_pid_ev)
		event_free(vm->display_pid_ev);
	vm->display_ev = vm->display_pid_ev = NULL;
	if (vm->display_log_keep > 0)
		close(vm->display_log_keep);
	vm->display_log_keep = 0;
	if (vm->display.pid > 0 || vm->display.ctl >= 0)
		(void)launcher_stop_display(&vm->display, SIGKILL);
	vm->display.pid = -1;
}

/* A viewer's input that did not fit (a busy queue, a pointer the active
 * backend cannot take) is dropped, as a real keyboard's would be by a busy
 * machine; one line a minute says so. */
static void broker_display_input_dropped(struct broker_vm *vm, const char *code, const char *why)
{
	uint64_t now = broker_now();

	vm->display_dropped++;
	if (vm->display_dropped_logged + 60 > now && vm->display_dropped_logged)
		return;
	log_warn("vm %s: a viewer's input was dropped: %s (%s); %llu so far", vm->id, code,
		 why ? why : "-", (unsigned long long)vm->display_dropped);
	vm->display_dropped_logged = now;
}

static void broker_display_input_done(struct broker_vm *vm, const struct input_api_result *res,
				      void *arg)
{
	(void)arg;
	if (res->e != INPUT_API_OK)
		broker_display_input_dropped(vm, input_api_code(res->e), res->msg);
}

/* A viewer's key and pointer events, relayed to the input device as one
 * inject on the active backend. */
static void broker_display_relay(struct broker_vm *vm, const struct display_msg *m)
{
	Cellvm__Device__InputCommand cmd = CELLVM__DEVICE__INPUT_COMMAND__INIT;
	Cellvm__Device__InputInject inj = CELLVM__DEVICE__INPUT_INJECT__INIT;
	char err[160];
	enum input_api_err e;

	inj.backend = CELLVM_INPUT_BACKEND_ACTIVE;
	inj.events.data = (uint8_t *)m->events;
	inj.events.len = m->nevents * sizeof(m->events[0]);
	cmd.cmd_case = CELLVM__DEVICE__INPUT_COMMAND__CMD_INJECT;
	cmd.inject = &inj;
	e = broker_input_call(vm, &cmd, (uint32_t)m->nevents, 5000, broker_display_input_done, NULL,
			      err, sizeof(err));
	if (e != INPUT_API_OK)
		broker_display_input_dropped(vm, input_api_code(e), err);
	else
		log_debug("vm %s: a viewer's %zu input events relayed", vm->id, m->nevents);
}

static void broker_display_on_msg(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;
	struct display_msg *m = malloc(sizeof(*m));
	int r;

	(void)fd;
	(void)what;
	if (!m)
		return;
	/* UNTRUSTED(display): checked by launcher_display_recv's table. */
	while ((r = launcher_display_recv(&vm->display, m)) == 0)
		if (m->kind == DISPLAY_MSG_INPUT && m->nevents)
			broker_display_relay(vm, m);
	free(m);
	if (r == -EAGAIN || r == -EINTR)
		return;
	if (r != -ECONNRESET)
		log_err("vm %s: cellvm-display broke its protocol (%s): stopped, no viewers",
			vm->id, dispatch_strerror(r));
	else
		log_err("vm %s: cellvm-display ended: no viewers", vm->id);
	broker_display_stop(vm);
}

static void broker_display_on_exit(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;

	(void)fd;
	(void)what;
	/* Not restarted: a viewer that made it die gets no second server. */
	log_err("vm %s: cellvm-display ended: no viewers", vm->id);
	broker_display_stop(vm);
}

int broker_display_install(struct broker_vm *vm)
{
	void *map;

	vm->ring = NULL;
	vm->ncapture = 0;
	memset(vm->capture_ids, 0, sizeof(vm->capture_ids));
	vm->display_ev = vm->display_pid_ev = NULL;
	if (vm->gpu.ring_fd < 0)
		return 0;
	map = mmap(NULL, vm->gpu.ring_size, PROT_READ, MAP_SHARED, vm->gpu.ring_fd, 0);
	if (map == MAP_FAILED) {
		log_err("vm %s: mapping the capture ring: %s", vm->id, strerror(errno));
		return -errno;
	}
	vm->ring = map;
	if (vm->display.pid <= 0)
		return 0;
	/* Its keeper holds the pipe too: a next broker reads on. */
	if (vm->display.log > 0)
		vm->display_log_keep = fcntl(vm->display.log, F_DUPFD_CLOEXEC, 3);
	if (broker_childlog_watch(vm->b, vm->id, "display", &vm->display.log) < 0 ||
	    fd_set_nonblock(vm->display.ctl, 1) < 0)
		return -ENOMEM;
	vm->display_ev = event_new(vm->b->base, vm->display.ctl, EV_READ | EV_PERSIST,
				   broker_display_on_msg, vm);
	vm->display_pid_ev =
		event_new(vm->b->base, vm->display.pidfd, EV_READ, broker_display_on_exit, vm);
	if (!vm->display_ev || !vm->display_pid_ev || event_add(vm->display_ev, NULL) < 0 ||
	    event_add(vm->display_pid_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void broker_display_teardown(struct broker_vm *vm)
{
	broker_display_stop(vm);
	if (vm->ring)
		munmap((void *)vm->ring, vm->gpu.ring_size);
	vm->ring = NULL;
	gpu_opt_close(&vm->gpu);
	vm->ncapture = 0;
}

enum api_err broker_display_viewer(struct broker_vm *vm, int fd, bool view_only, bool resumed,
				   char *err, size_t errlen)
{
	int r;

	if (!vm->def.has_gpu) {
		snprintf(err, errlen, "the VM has no gpu (its definition's gpu)");
		return API_NOT_SUPPORTED;
	}
	if (vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) {
		snprintf(err, errlen, "the VM is %s", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	if (vm->display.pid <= 0 || vm->display.ctl < 0) {
		snprintf(err, errlen, "the VM's VNC server is not running");
		return API_VM_BUSY;
	}
	r = launcher_display_client(&vm->display, fd, ++vm->display_clients, view_only, resumed);
	if (r < 0) {
		snprintf(err, errlen, "handing the viewer over: %s", strerror(-r));
		return API_INTERNAL;
	}
	return API_OK;
}

/* The running gpu device, or NULL. */
static struct broker_vm_device *broker_display_dev(struct broker_vm *vm)
{
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].type == LAUNCHER_DEV_GPU)
			return vm->devs[i].running && vm->devs[i].proc.ctl >= 0 ? &vm->devs[i]
										: NULL;
	return NULL;
}

/* Whether the VM has a ring to read now; an error with a message if not. */
static enum api_err broker_display_ready(struct broker_vm *vm, char *err, size_t errlen)
{
	if (!vm->def.has_gpu) {
		snprintf(err, errlen, "the VM has no gpu (its definition's gpu)");
		return API_NOT_SUPPORTED;
	}
	if ((vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) || !vm->ring) {
		snprintf(err, errlen, "the VM is %s", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	return API_OK;
}

enum api_err broker_display_screenshot(struct broker_vm *vm, const struct screenshot_opts *o,
				       uint8_t **png, size_t *len, char *err, size_t errlen)
{
	enum api_err e = broker_display_ready(vm, err, errlen);
	int r;

	if (e != API_OK)
		return e;
	if (o->scanout >= vm->gpu.nscanouts) {
		snprintf(err, errlen, "scanout %u: the VM has %u", o->scanout, vm->gpu.nscanouts);
		return API_INVALID_ARGUMENT;
	}
	r = screenshot_png(vm->ring, vm->gpu.ring_size, o, png, len, err, errlen);
	switch (r) {
	case 0: return API_OK;
	case -ERANGE:
	case -EINVAL: return API_INVALID_ARGUMENT;
	case -ENOENT:
	case -EAGAIN: return API_VM_BUSY; /* nothing shown yet, or try again */
	case -EPROTO:
		/* The gpu process wrote a ring that breaks the layout. */
		log_warn("vm %s: screenshot: %s", vm->id, err);
		return API_INTERNAL;
	default: return API_INTERNAL;
	}
}

enum api_err broker_display_subscribe(struct broker_vm *vm, uint64_t *ret_id, int fds[2],
				      char *hello, size_t hello_len, char *err, size_t errlen)
{
	enum api_err e = broker_display_ready(vm, err, errlen);
	struct broker_vm_device *d;
	int r;

	fds[0] = fds[1] = -1;
	if (e != API_OK)
		return e;
	d = broker_display_dev(vm);
	if (!d) {
		snprintf(err, errlen, "the VM's gpu device is gone");
		return API_VM_BUSY;
	}
	/* One of the device's places is the VNC server's. */
	if (vm->ncapture >= GPU_OPT_MAX_READERS - 1) {
		snprintf(err, errlen, "the VM has %d capture readers already",
			 GPU_OPT_MAX_READERS - 1);
		return API_QUOTA_EXCEEDED;
	}
	fds[0] = gpu_opt_reader_fd(&vm->gpu);
	/* Non-blocking: the device's write never waits on a reader. */
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0) {
		snprintf(err, errlen, "capture reader: %s", strerror(fds[0] < 0 ? -fds[0] : errno));
		ipc_close_fds(fds, 2);
		return API_INTERNAL;
	}
	r = launcher_reader_subscribe(d->proc.ctl, ++vm->capture_next_id, fds[1]);
	if (r < 0) {
		snprintf(err, errlen, "subscribing at the gpu device: %s", strerror(-r));
		ipc_close_fds(fds, 2);
		return API_VM_BUSY;
	}
	vm->ncapture++;
	*ret_id = vm->capture_next_id;
	broker_adopt_reader(vm, vm->capture_ids, GPU_OPT_MAX_READERS, 0, *ret_id);
	gpu_opt_reader_hello(&vm->gpu, hello, hello_len);
	return API_OK;
}

void broker_display_unsubscribe(struct broker_vm *vm, uint32_t boot, uint64_t id)
{
	struct broker_vm_device *d;

	/* A reader of an earlier boot: that device and its count are gone. */
	if (boot != vm->boots || !vm->ring)
		return;
	if (vm->ncapture)
		vm->ncapture--;
	broker_adopt_reader(vm, vm->capture_ids, GPU_OPT_MAX_READERS, id, 0);
	d = broker_display_dev(vm);
	if (d)
		(void)launcher_reader_unsubscribe(d->proc.ctl, id);
}
