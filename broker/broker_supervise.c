/* Supervision of a running VM's processes in cellvm-broker: pidfd events for
 * the core and each device process, and the core's channel. A guest reboot
 * boots the VM again (unless it loops); a device process that dies, or that
 * the core dropped while it lived (DeviceFault: a reset it did not finish, a
 * breach of the link protocol; it is killed first), is restarted with
 * back-off through the launcher thread and handed to the core, or given up
 * on after too many restarts in a row. Runs in the broker's loop; the
 * children's exit statuses are read here, and the core's messages through
 * the launcher's table (launcher_fault.c). */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "launcher/launcher_fault.h"
#include "launcher/supervise.h"
#include "proto/dispatch.h"
#include "proto/vm_exit.h"

/* A send to the core found its channel full (-EAGAIN; the broker's end is
 * non-blocking, see broker_supervise_watch): the core has left a whole
 * queue of our messages unread, which a core that runs its loop never
 * does. Kill it (its exit event stops the VM) rather than wait for it or
 * keep what it would not read. */
static void broker_supervise_core_full(struct broker_vm *vm, int r)
{
	char detail[128];

	if (r != -EAGAIN)
		return;
	snprintf(detail, sizeof(detail),
		 "the core leaves its channel unread (full): killed, the VM stops");
	log_err("vm %s: %s", vm->id, detail);
	broker_vm_event(vm->b, vm, "core-killed", detail);
	if (vm->core.pid > 0)
		kill(vm->core.pid, SIGKILL);
}

static void broker_supervise_on_core_exit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* Reaped without waiting; the devices are killed and reaped by their own
	 * pidfd events, then broker_supervise_core_ended. */
	broker_vm_on_core_exit(arg);
}

void broker_supervise_core_ended(struct broker_vm *vm, int status)
{
	uint64_t now = broker_now();
	char err[256];

	log_info("vm %s (tenant %s): %s", vm->id, broker_vm_tenant(vm)->name, vm->last_exit);
	if (status != VM_EXIT_REBOOT || vm->b->shutting_down) {
		broker_vm_set_state(vm, BROKER_VM_STOPPED, vm->last_exit);
		return;
	}
	/* The guest rebooted: boot it again, like a machine does, unless it loops. */
	if (now - vm->reboot_window_start > BROKER_REBOOT_WINDOW) {
		vm->reboot_window_start = now;
		vm->reboots_in_window = 0;
	}
	if (++vm->reboots_in_window > BROKER_REBOOT_LIMIT) {
		snprintf(vm->last_exit, sizeof(vm->last_exit),
			 "stopped: more than %d guest reboots in %d s", BROKER_REBOOT_LIMIT,
			 BROKER_REBOOT_WINDOW);
		broker_vm_set_state(vm, BROKER_VM_STOPPED, vm->last_exit);
		return;
	}
	vm->state = BROKER_VM_STOPPED;
	broker_vm_event(vm->b, vm, "rebooting", NULL);
	if (broker_vm_boot(vm, NULL, NULL, err, sizeof(err)) != API_OK) {
		log_warn("vm %s: boot after guest reboot failed: %s", vm->id, err);
		broker_vm_set_state(vm, BROKER_VM_STOPPED, err);
	}
}

/* Back-off timer: hand the restart to the launcher thread. */
static void broker_supervise_on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm_device *d = arg;
	struct broker_vm *vm = d->vm;
	struct timeval retry_tv = {.tv_sec = 1};
	struct broker_launch_job *j;

	(void)fd;
	(void)what;
	if (vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED)
		return;
	/* Paused (or pausing): a new device process would serve the queues
	 * while the VM holds still; it is started once the VM resumes. */
	if (vm->state == BROKER_VM_PAUSED || vm->pause_pending != LAUNCHER_CORE_NONE)
		goto later;
	j = calloc(1, sizeof(*j));
	if (!j)
		goto retry;
	*j = (struct broker_launch_job){.vm = vm,
					.restart_dev = (int)d->def_index,
					.boot = vm->boots,
					.prev = vm->state,
					.mem_fd = fcntl(vm->mem_fd, F_DUPFD_CLOEXEC, 3)};
	j->stats_fd[d->def_index] = vm->stats_fd[d->def_index];
	if (j->mem_fd < 0 || broker_launch_submit(vm->b, j) < 0) {
		if (j->mem_fd >= 0)
			close(j->mem_fd);
		free(j);
		goto retry;
	}
	supervise_restarting(&d->sup, supervise_now_ms());
	vm->dev_jobs++;
	return;
retry:
	log_warn("vm %s: device %zu: cannot start its restart now, trying again", vm->id,
		 d->def_index);
later:
	evtimer_add(d->restart_ev, &retry_tv);
}

/* The device process ended with status (or a restart of it failed: -1):
 * restart it with back-off (the core keeps the guest's view meanwhile, and
 * the new process takes over the queues), or give up after too many in a row
 * and let the core tell the guest. The policy is cellvm run's too
 * (launcher/supervise.c). */
static void broker_supervise_device_died(struct broker_vm_device *d, int status)
{
	struct broker_vm *vm = d->vm;
	uint64_t now = supervise_now_ms();
	int64_t delay_ms;
	char detail[128];

	if (d->type == LAUNCHER_DEV_INPUT || d->type == LAUNCHER_DEV_GPU ||
	    d->type == LAUNCHER_DEV_SND) {
		/* Not restarted (launcher_dev_restartable): the VM goes on
		 * without input (the API answers BACKEND_ERROR), without its
		 * display (screenshots and captures answer VM_BUSY) or without
		 * sound (the audio routes answer VM_BUSY: the ring and its
		 * readers were the process's). */
		supervise_give_up(&d->sup);
		snprintf(detail, sizeof(detail), "device %zu (%s) ended; it is not restarted",
			 d->def_index, d->kind);
		log_err("vm %s: %s", vm->id, detail);
		broker_vm_event(vm->b, vm, "device-failed", detail);
		return;
	}
	switch (supervise_died(&d->sup, status, now)) {
	case SUPERVISE_VM_ENDING:
		/* Its core link closed: the core's own exit event tears the VM down. */
		return;
	case SUPERVISE_GIVE_UP:
		snprintf(detail, sizeof(detail),
			 "device %zu (%s): %u restarts in a row, giving up (the guest sees "
			 "DEVICE_NEEDS_RESET)",
			 d->def_index, d->kind, d->sup.in_a_row);
		log_err("vm %s: %s", vm->id, detail);
		broker_supervise_core_full(
			vm, launcher_core_device_gone(&vm->core, (uint32_t)d->def_index));
		broker_vm_event(vm->b, vm, "device-failed", detail);
		return;
	case SUPERVISE_RESTART: break;
	}
	delay_ms = supervise_wait_ms(&d->sup, now);
	if (!d->restart_ev)
		d->restart_ev = evtimer_new(vm->b->base, broker_supervise_on_restart_timer, d);
	if (!d->restart_ev) {
		supervise_give_up(&d->sup);
		broker_supervise_core_full(
			vm, launcher_core_device_gone(&vm->core, (uint32_t)d->def_index));
		return;
	}
	{
		struct timeval tv = {.tv_sec = (time_t)(delay_ms / 1000),
				     .tv_usec = (suseconds_t)(delay_ms % 1000) * 1000};
		evtimer_add(d->restart_ev, &tv);
	}
}

static void broker_supervise_on_device_exit(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm_device *d = arg;
	char detail[96];

	(void)fd;
	(void)what;
	if (!broker_vm_reap_device(d))
		return; /* looked at again shortly */
	if (d->vm->state == BROKER_VM_STOPPING) {
		broker_vm_stop_check(d->vm);
		return;
	}
	if (d->last_status != 0) {
		snprintf(detail, sizeof(detail), "device %zu (%s) exited with status %d",
			 d->def_index, d->kind, d->last_status);
		log_warn("vm %s: %s", d->vm->id, detail);
		broker_vm_event(d->vm->b, d->vm, "device-exited", detail);
	}
	broker_supervise_device_died(d, d->last_status);
	broker_keeper_refresh(d->vm); /* the dead process's fds go, its restart counts stay */
}

/* In the loop: what the launcher thread made of a device restart. */
void broker_supervise_restart_finish(struct broker_launch_job *j)
{
	struct broker_vm *vm = j->vm;
	struct broker_vm_device *d = &vm->devs[j->restart_dev];
	char detail[96];
	int r = -1;

	vm->dev_jobs--;
	if (j->mem_fd >= 0)
		close(j->mem_fd);
	if ((vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) ||
	    vm->boots != j->boot) {
		/* The VM stopped or booted again meanwhile: not ours any more. */
		if (j->ndevs)
			(void)launcher_stop_device(&j->devs[0], SIGKILL);
		free(j);
		broker_vm_stop_check(vm); /* a stop may have waited for this job */
		return;
	}
	if (j->e == API_OK)
		r = launcher_core_device_restarted(&vm->core, (uint32_t)d->def_index, &j->devs[0]);
	if (r == -EAGAIN) {
		/* Not a failed restart: the core is killed, the VM stops. */
		(void)launcher_stop_device(&j->devs[0], SIGKILL);
		free(j);
		broker_supervise_core_full(vm, r);
		return;
	}
	if (r < 0) {
		log_warn("vm %s: device %zu: restart failed: %s", vm->id, d->def_index,
			 j->e == API_OK ? "the core did not take it" : j->err);
		if (j->ndevs)
			(void)launcher_stop_device(&j->devs[0], SIGKILL);
		free(j);
		broker_supervise_device_died(d, -1);
		return;
	}
	d->proc = j->devs[0];
	d->running = true;
	/* A new process, a new stderr pipe (a dup for the keeper). */
	if (d->proc.log > 0)
		d->log_keep = fcntl(d->proc.log, F_DUPFD_CLOEXEC, 3);
	if (broker_childlog_watch_dev(d) < 0)
		log_warn("vm %s: device %zu: cannot read its stderr", vm->id, d->def_index);
	supervise_restarted(&d->sup);
	free(j);
	if (vm->state == BROKER_VM_PAUSED && d->proc.pid > 0)
		kill(d->proc.pid, SIGSTOP);
	d->ev = event_new(vm->b->base, d->proc.pidfd, EV_READ, broker_supervise_on_device_exit, d);
	if (!d->ev || event_add(d->ev, NULL) < 0) {
		log_err("vm %s: device %zu: cannot watch its new process", vm->id, d->def_index);
		return;
	}
	snprintf(detail, sizeof(detail), "device %zu (%s) restarted (%u so far)", d->def_index,
		 d->kind, d->sup.restarts);
	log_info("vm %s: %s", vm->id, detail);
	/* Its new pidfd, control channel and pipe to the keeper; its pid to
	 * the state file, for a next broker. */
	broker_keeper_refresh(vm);
	(void)broker_state_save(vm->b, vm);
	broker_vm_event(vm->b, vm, "device-restarted", detail);
}

/* The running core's channel is readable: the answer to a pending pause,
 * resume (broker_vm.c) or power button (broker_vm_shutdown.c); a device it
 * dropped while the process lives is killed (its pidfd event then restarts it
 * as after a crash); a core that breaks the protocol is killed (its exit
 * event stops the VM). */
static void broker_supervise_on_core_chan(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;
	struct broker_vm_device *d;
	struct launcher_fault f;
	int r;

	(void)fd;
	(void)what;
	/* UNTRUSTED(core): an answer is taken only while its request waits. */
	r = launcher_core_recv(vm->core.chan, vm->ndevs, vm->pause_pending, &f);
	if (r == -EAGAIN)
		return;
	if (r <= 0) {
		/* Ending (its CoreStopped waits for the teardown), or in breach. */
		if (r < 0) {
			log_err("vm %s: the core broke the protocol (%s): stopping the VM", vm->id,
				dispatch_strerror(r));
			kill(vm->core.pid, SIGKILL);
		}
		event_del(vm->chan_ev);
		return;
	}
	if (f.msg == LAUNCHER_MSG_PAUSED) {
		broker_vm_on_paused(vm, f.failed, f.detail);
		return;
	}
	if (f.msg == LAUNCHER_MSG_RESUMED) {
		broker_vm_on_resumed(vm);
		return;
	}
	if (f.msg == LAUNCHER_MSG_POWER_BUTTON) {
		broker_vm_on_power_button(vm, f.guest_listens);
		return;
	}
	d = &vm->devs[f.index];
	if (!d->running || !supervise_fault(&d->sup, f.restarts))
		return; /* about a process already gone or replaced */
	r = launcher_fault_kill(&d->proc);
	if (r > 0)
		log_warn("vm %s: device %zu (%s): the core dropped it (%s): its process is "
			 "killed and restarted",
			 vm->id, d->def_index, d->kind, f.detail);
	else if (r < 0)
		log_err("vm %s: device %zu: cannot kill the process the core dropped: %s", vm->id,
			d->def_index, strerror(-r));
}

int broker_supervise_watch(struct broker_vm *vm)
{
	/* The broker's end of the core's channel never blocks: a core that does
	 * not read it would otherwise hold the loop, and every tenant, in a
	 * send. A send that finds it full kills the core instead
	 * (broker_supervise_core_full). */
	int r = fd_set_nonblock(vm->core.chan, 1);

	if (r < 0)
		return r;
	vm->core_ev =
		event_new(vm->b->base, vm->core.pidfd, EV_READ, broker_supervise_on_core_exit, vm);
	if (!vm->core_ev || event_add(vm->core_ev, NULL) < 0)
		return -ENOMEM;
	vm->chan_ev = event_new(vm->b->base, vm->core.chan, EV_READ | EV_PERSIST,
				broker_supervise_on_core_chan, vm);
	if (!vm->chan_ev || event_add(vm->chan_ev, NULL) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < vm->ndevs; i++) {
		struct broker_vm_device *d = &vm->devs[i];

		/* An adopted VM's devices keep their restart counts; one whose
		 * process was gone when the earlier broker ended is restarted now
		 * (or stays given up on). */
		if (!vm->adopted)
			supervise_init(&d->sup, supervise_now_ms());
		if (vm->adopted && d->proc.pid <= 0) {
			d->running = false;
			if (!d->sup.gone)
				broker_supervise_device_died(d, -1);
			continue;
		}
		d->ev = event_new(vm->b->base, d->proc.pidfd, EV_READ,
				  broker_supervise_on_device_exit, d);
		if (!d->ev || event_add(d->ev, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}
