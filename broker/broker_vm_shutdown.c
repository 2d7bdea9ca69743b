/* A graceful shutdown of a VM (PUT /vm/{id}/shutdown, RPC VmShutdown): press
 * its ACPI power button (vm.proto PowerButton) and wait, without holding the
 * broker's loop, until the guest powers off (its core ends) or the deadline.
 * Runs in the broker's loop. The core's answer (CorePowerButton) is untrusted:
 * taken only while the button waits for it (launcher_fault.c's table), and
 * its one bit only decides whether to wait. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"
#include "launcher/launcher_fault.h"

/* How long the core may take to answer the button: as for a pause
 * (broker_vm.c); past this one it is stuck and killed. */
#define BROKER_BUTTON_TIMEOUT_S 30

struct broker_vm_shutdown_wait {
	broker_vm_shutdown_fn *done;
	void *arg;
	struct event *ev; /* the button's answer limit, then the deadline */
	uint64_t start_us;
	uint32_t timeout_s;
	bool guest_listens;
	bool waiting; /* the core answered: the guest has until the deadline */
};

static double broker_vm_shutdown_seconds(const struct broker_vm_shutdown_wait *w)
{
	return (double)(broker_now_us() - w->start_us) / 1e6;
}

/* Answer once, and forget the wait. */
static void broker_vm_shutdown_answer(struct broker_vm *vm, struct broker_vm_shutdown_result *res)
{
	struct broker_vm_shutdown_wait *w = vm->shutdown;

	vm->shutdown = NULL;
	if (vm->pause_pending == LAUNCHER_CORE_POWER_BUTTON)
		vm->pause_pending = LAUNCHER_CORE_NONE;
	res->guest_listens = w->guest_listens;
	res->seconds = broker_vm_shutdown_seconds(w);
	if (!res->state)
		res->state = broker_vm_state_name(vm->state);
	if (w->ev)
		event_free(w->ev);
	if (w->done)
		w->done(vm, res, w->arg);
	free(w);
}

static void broker_vm_shutdown_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;
	struct broker_vm_shutdown_wait *w = vm->shutdown;
	struct broker_vm_shutdown_result res = {.e = API_OK};
	char msg[128];

	(void)fd;
	(void)what;
	if (!w->waiting) {
		snprintf(msg, sizeof(msg),
			 "the core did not answer the power button in %d s: killed",
			 BROKER_BUTTON_TIMEOUT_S);
		log_err("vm %s: %s", vm->id, msg);
		broker_vm_event(vm->b, vm, "core-killed", msg);
		res.e = API_INTERNAL;
		res.err = msg;
		broker_vm_shutdown_answer(vm, &res);
		/* Its exit event stops the VM. */
		if (vm->core.pid > 0)
			kill(vm->core.pid, SIGKILL);
		return;
	}
	snprintf(msg, sizeof(msg), "the guest did not power off in %u s: it runs on",
		 (unsigned)w->timeout_s);
	log_info("vm %s: shutdown: %s", vm->id, msg);
	res.message = msg;
	broker_vm_shutdown_answer(vm, &res);
}

enum api_err broker_vm_shutdown(struct broker_vm *vm, uint32_t timeout_s,
				broker_vm_shutdown_fn *done, void *arg, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = BROKER_BUTTON_TIMEOUT_S};
	struct broker_vm_shutdown_wait *w;
	int r;

	if (vm->state == BROKER_VM_PAUSED) {
		/* A paused guest cannot act on the button: it would only wait
		 * out the deadline. */
		snprintf(err, errlen, "the VM is paused: resume it first (or power it off)");
		return API_VM_BUSY;
	}
	if (vm->state != BROKER_VM_RUNNING) {
		snprintf(err, errlen, "the VM is %s, not running", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	if (vm->shutdown) {
		snprintf(err, errlen, "a shutdown of the VM is in progress");
		return API_VM_BUSY;
	}
	if (vm->pause_pending != LAUNCHER_CORE_NONE) {
		snprintf(err, errlen, "the VM is %s",
			 vm->pause_pending == LAUNCHER_CORE_PAUSING ? "pausing" : "resuming");
		return API_VM_BUSY;
	}
	if (timeout_s > BROKER_SHUTDOWN_MAX_S) {
		snprintf(err, errlen, "timeout_s: 0 to %d", BROKER_SHUTDOWN_MAX_S);
		return API_INVALID_ARGUMENT;
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->ev = evtimer_new(vm->b->base, broker_vm_shutdown_on_timer, vm);
	if (!w || !w->ev) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return API_INTERNAL;
	}
	r = launcher_core_power_button(&vm->core);
	if (r < 0) {
		event_free(w->ev);
		free(w);
		snprintf(err, errlen, "cannot reach the core: %s", strerror(-r));
		return API_INTERNAL;
	}
	*w = (struct broker_vm_shutdown_wait){.done = done,
					      .arg = arg,
					      .ev = w->ev,
					      .start_us = broker_now_us(),
					      .timeout_s = timeout_s};
	vm->shutdown = w;
	vm->pause_pending = LAUNCHER_CORE_POWER_BUTTON;
	evtimer_add(w->ev, &tv);
	broker_vm_event(vm->b, vm, "power-button", NULL);
	return API_OK;
}

void broker_vm_on_power_button(struct broker_vm *vm, bool guest_listens)
{
	struct broker_vm_shutdown_wait *w = vm->shutdown;
	struct broker_vm_shutdown_result res = {.e = API_OK};
	struct timeval tv;

	vm->pause_pending = LAUNCHER_CORE_NONE;
	if (!w)
		return; /* its waiter was dropped (the broker exits) */
	w->guest_listens = guest_listens;
	if (!guest_listens) {
		/* No ACPI in this VM, or none in the guest: waiting would only
		 * wait out the deadline. */
		res.message = "the guest does not listen to the ACPI power button (no ACPI in "
			      "the VM or the guest): it runs on; power-off stops it";
		broker_vm_shutdown_answer(vm, &res);
		return;
	}
	if (w->timeout_s == 0) {
		res.message = "the power button is pressed; not waiting (timeout_s 0)";
		broker_vm_shutdown_answer(vm, &res);
		return;
	}
	w->waiting = true;
	tv = (struct timeval){.tv_sec = w->timeout_s};
	evtimer_del(w->ev);
	evtimer_add(w->ev, &tv);
}

void broker_vm_shutdown_ended(struct broker_vm *vm, bool rebooting)
{
	struct broker_vm_shutdown_result res = {.e = API_OK};

	if (!vm->shutdown)
		return;
	if (rebooting) {
		res.message = "the VM rebooted instead of powering off";
		res.state = "starting";
	} else {
		res.powered_off = true;
		res.message = "the VM powered off";
		res.state = "stopped";
		res.last_exit = vm->last_exit;
	}
	broker_vm_shutdown_answer(vm, &res);
}

void broker_vm_shutdown_abort(struct broker_vm *vm, const char *why)
{
	struct broker_vm_shutdown_result res = {.e = API_VM_BUSY, .err = why};

	if (!vm->shutdown)
		return;
	if (!why)
		vm->shutdown->done = NULL;
	broker_vm_shutdown_answer(vm, &res);
}
