/* The VM registry of cellvm-broker: VM lifecycle (create, boot, pause, resume,
 * power-off, reboot, delete) and quota accounting. The running processes are
 * watched by broker_supervise.c, the serial console by broker_console.c. Runs
 * in the broker's single loop, so every check-and-change here is atomic with
 * respect to other clients. Messages from the core are untrusted (only its
 * CoreStopped detail is read, as text). */
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "launcher/launcher_fault.h"
#include "proto/dispatch.h"
#include "proto/vm_exit.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* waitid on a pidfd: Linux 5.4, glibc 2.36 */
#endif

/* What a stop leads to once its last process is reaped (broker_vm.then). */
enum broker_vm_then {
	BROKER_VM_THEN_EXIT,   /* the core ended by itself: broker_supervise_core_ended */
	BROKER_VM_THEN_STOP,   /* power-off */
	BROKER_VM_THEN_BOOT,   /* reboot: a new core */
	BROKER_VM_THEN_DELETE, /* delete */
};

static void broker_vm_pause_abort(struct broker_vm *vm, bool answer);

/* Tell both APIs' subscribers (the REST call numbers the event). */
void broker_vm_event(struct broker *b, const struct broker_vm *vm, const char *what,
		     const char *detail)
{
	rest_event(b, vm, what, detail);
	rpc_event(b, vm, what, detail);
}

const char *broker_vm_state_name(enum broker_vm_state s)
{
	static const char *const names[] = {"created", "running",  "paused",
					    "stopped", "starting", "stopping"};
	return names[s];
}

uint64_t broker_now(void)
{
	return (uint64_t)time(NULL);
}

uint64_t broker_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct tenant *broker_vm_tenant(const struct broker_vm *vm)
{
	return &vm->b->tenants.t[vm->tenant];
}

static bool broker_vm_visible(const struct broker_vm *vm, const struct tenant *caller)
{
	return caller->admin || broker_vm_tenant(vm) == caller;
}

struct broker_vm *broker_vm_lookup(struct broker *b, const struct tenant *caller, const char *id)
{
	struct broker_vm *vm;

	/* Another tenant's VM is looked up like a missing one: same path, same answer. */
	TAILQ_FOREACH(vm, &b->vms, link)
	if (strcmp(vm->id, id) == 0)
		return broker_vm_visible(vm, caller) ? vm : NULL;
	return NULL;
}

struct broker_vm *broker_vm_default(struct broker *b, const struct tenant *caller)
{
	struct broker_vm *vm;

	/* The list is in creation order: the first visible VM is the default. */
	TAILQ_FOREACH(vm, &b->vms, link)
	if (broker_vm_visible(vm, caller))
		return vm;
	return NULL;
}

static void broker_vm_make_id(char *out)
{
	uint8_t u[16];

	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		abort(); /* getrandom(16) cannot fail once the pool is ready */
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, BROKER_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
}

struct broker_vm *broker_vm_registry_add(struct broker *b, const char *id, int tenant,
					 struct broker_vmdef *def, uint64_t created_us)
{
	struct broker_vm *vm = calloc(1, sizeof(*vm));
	struct tenant *t = &b->tenants.t[tenant];

	if (!vm)
		return NULL;
	vm->cons_fd = -1;
	vm->keeper_pidfd = vm->keeper_conn = vm->core_log_keep = -1;
	if (broker_console_ring_open(vm, -1) < 0) {
		free(vm);
		return NULL;
	}
	vm->b = b;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	vm->tenant = tenant;
	vm->def = *def; /* takes def's open files */
	vm->state = BROKER_VM_CREATED;
	vm->created_us = created_us;
	vm->mem_fd = -1;
	/* Both: an adopted VM is torn down without a boot's gpu_opt ever set. */
	vm->gpu.ring_fd = vm->gpu.present_fd = -1;
	snd_opt_init(&vm->snd);
	vm->display = (struct display_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
	vm->core = (struct core_proc){.pid = -1, .pidfd = -1, .chan = -1, .console = -1};
	if (!vm->def.name[0])
		snprintf(vm->def.name, sizeof(vm->def.name), "vm-%.8s", vm->id);
	{
		/* Creation order (reloaded files come in directory order): the
		 * default VM is the first created. */
		struct broker_vm *after;
		TAILQ_FOREACH(after, &b->vms, link)
		if (after->created_us > created_us)
			break;
		if (after)
			TAILQ_INSERT_BEFORE(after, vm, link);
		else
			TAILQ_INSERT_TAIL(&b->vms, vm, link);
	}
	b->nvms++;
	t->used_vms++;
	t->used_cpus += vm->def.cpus;
	t->used_memory += vm->def.memory;
	return vm;
}

enum api_err broker_vm_create(struct broker *b, int tenant, struct broker_vmdef *def,
			      struct broker_vm **ret, char *err, size_t errlen)
{
	struct tenant *t = &b->tenants.t[tenant];
	char id[BROKER_ID_LEN + 1];
	struct broker_vm *vm;
	int r;

	/* Single-threaded loop: the check and the accounting below cannot interleave
	 * with another client's create. */
	if (b->nvms >= BROKER_MAX_VMS || t->used_vms + 1 > t->quota.max_vms ||
	    (uint64_t)t->used_cpus + def->cpus > t->quota.max_cpus ||
	    (t->quota.max_memory != UINT64_MAX &&
	     t->used_memory + def->memory > t->quota.max_memory)) {
		snprintf(err, errlen,
			 "quota of tenant %s: %u/%u VMs, %u/%u vCPUs, %llu/%llu bytes in use",
			 t->name, t->used_vms, t->quota.max_vms, t->used_cpus, t->quota.max_cpus,
			 (unsigned long long)t->used_memory,
			 (unsigned long long)t->quota.max_memory);
		return API_QUOTA_EXCEEDED;
	}
	broker_vm_make_id(id);
	vm = broker_vm_registry_add(b, id, tenant, def, broker_now_us());
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return API_INTERNAL;
	}
	if (broker_host_vm_ids(b, vm, 0) < 0) {
		snprintf(err, errlen, "every uid of the broker's uid_pool has a VM");
		broker_vm_delete(vm, NULL, 0);
		return API_QUOTA_EXCEEDED;
	}
	r = broker_state_save(b, vm);
	if (r < 0) {
		snprintf(err, errlen, "cannot save the definition: %s", strerror(-r));
		broker_vm_delete(vm, NULL, 0);
		return API_INTERNAL;
	}
	*ret = vm;
	broker_vm_event(b, vm, "created", NULL);
	return API_OK;
}

/* ---- processes ---- */

void broker_vm_set_state(struct broker_vm *vm, enum broker_vm_state s, const char *detail)
{
	vm->state = s;
	if (!vm->b->shutting_down)
		(void)broker_state_save(vm->b, vm);
	broker_vm_event(vm->b, vm, broker_vm_state_name(s), detail);
}

/* Why the core stopped, from its CoreStopped (if it sent one) and its status;
 * returns the status. */
static int broker_vm_read_stopped(struct broker_vm *vm, int status)
{
	char what[32], detail[100];
	int r;

	launcher_exit_text(status, what, sizeof(what));
	snprintf(vm->last_exit, sizeof(vm->last_exit), "%s (status %d)", what, status);
	/* An adopted core is not our child: init reaped it, its status is
	 * lost (its CoreStopped, below, may still say why). */
	if (status < 0 && vm->adopted)
		snprintf(vm->last_exit, sizeof(vm->last_exit), "exit status unknown (adopted)");
	/* UNTRUSTED(core): read by the launcher's table for the core channel
	 * (only CoreStopped may follow Ready); its detail is used as text. */
	r = launcher_core_stopped(&vm->core, detail, sizeof(detail));
	if (r < 0) {
		/* The core is gone already: what it said is dropped. */
		log_warn("vm %s: the core broke the protocol on its way out (%s)", vm->id,
			 dispatch_strerror(r));
		return status;
	}
	if (r > 0 && detail[0]) {
		for (size_t i = 0; detail[i]; i++)
			if (detail[i] < 0x20 || detail[i] >= 0x7f)
				detail[i] = '?';
		if (status < 0 && vm->adopted)
			snprintf(vm->last_exit, sizeof(vm->last_exit),
				 "exit status unknown (adopted): %s", detail);
		else
			snprintf(vm->last_exit, sizeof(vm->last_exit), "%s (status %d): %s", what,
				 status, detail);
	}
	return status;
}

/* Tear down a VM whose core has exited (or was killed): reap everything.
 * Returns the core's exit status (enum vm_exit, or 128+signal). Waits for
 * what is not reaped yet: only at shutdown and on a failed install; a stop
 * in the loop calls it once every pidfd has fired (broker_vm_stop_check). */
int broker_vm_teardown(struct broker_vm *vm)
{
	int status;

	/* Its keeper's dups go first: nothing of the VM outlives the teardown. */
	broker_keeper_release(vm);
	broker_console_drain(vm, 0); /* the core is gone: what is left is finite */
	status = broker_vm_read_stopped(vm, vm->core.pid > 0 ? launcher_wait_core(&vm->core)
							     : vm->core_status);
	if (vm->reap_ev)
		event_free(vm->reap_ev);
	vm->reap_ev = NULL;
	if (vm->core_ev)
		event_free(vm->core_ev);
	if (vm->cons_ev)
		event_free(vm->cons_ev);
	if (vm->chan_ev)
		event_free(vm->chan_ev);
	vm->core_ev = vm->cons_ev = vm->chan_ev = NULL;
	broker_vm_pause_abort(vm, false); /* answered by stop_begin or stops_answer */
	launcher_close(&vm->core);
	broker_input_teardown(vm);
	for (size_t i = 0; i < vm->ndevs; i++) {
		struct broker_vm_device *d = &vm->devs[i];
		if (d->ev)
			event_free(d->ev);
		d->ev = NULL;
		if (d->restart_ev)
			event_free(d->restart_ev);
		d->restart_ev = NULL;
		if (d->log_keep > 0)
			close(d->log_keep);
		d->log_keep = 0;
		/* A device may be stopped (paused VM): SIGKILL ends it either way. */
		if (d->proc.pid > 0)
			d->last_status = launcher_stop_device(&d->proc, SIGKILL);
		else
			launcher_stop_device(&d->proc, SIGKILL);
		d->running = false;
	}
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	vm->mem_fd = -1;
	if (vm->core_log_keep > 0)
		close(vm->core_log_keep);
	vm->core_log_keep = -1;
	vm->adopted = false;
	broker_launch_taps_close(vm);
	broker_display_teardown(vm);
	broker_audio_teardown(vm);
	return status;
}

/* Through the pidfds: an adopted process is not our child, so its pid may
 * be reused once init reaped it; its pidfd names it alone. */
static void broker_vm_kill(pid_t pid, int pidfd)
{
	if (pid <= 0)
		return;
	if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
		kill(pid, SIGKILL);
}

static void broker_vm_kill_processes(struct broker_vm *vm)
{
	broker_vm_kill(vm->core.pid, vm->core.pidfd);
	for (size_t i = 0; i < vm->ndevs; i++)
		broker_vm_kill(vm->devs[i].proc.pid, vm->devs[i].proc.pidfd);
	broker_vm_kill(vm->display.pid, vm->display.pidfd);
}

static void broker_vm_free_deleted(struct broker_vm *vm);

/* ---- stopping: the loop never waits for a process ----
 * A stop kills every process of the VM and returns; each pidfd event reaps
 * its process with WNOHANG, and the last one finishes the stop. A process
 * that takes its time to die (in uninterruptible sleep behind a disk flush,
 * or a zombie that a tracer holds) keeps only its own VM "stopping". */

static void broker_vm_on_reap_timer(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;

	(void)fd;
	(void)what;
	/* The pidfd events are one-shot: armed again, a readable one fires now. */
	if (vm->core.pid > 0 && vm->core_ev)
		event_add(vm->core_ev, NULL);
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].proc.pid > 0 && vm->devs[i].ev)
			event_add(vm->devs[i].ev, NULL);
}

/* A pidfd fired but its zombie cannot be reaped yet (a tracer holds it; the
 * pidfd stays readable): look again shortly rather than spin. */
static void broker_vm_reap_later(struct broker_vm *vm)
{
	struct timeval tv = {.tv_usec = 50 * 1000};

	if (!vm->reap_ev)
		vm->reap_ev = evtimer_new(vm->b->base, broker_vm_on_reap_timer, vm);
	if (vm->reap_ev)
		evtimer_add(vm->reap_ev, &tv);
}

/* Reap *pid through its pidfd without waiting. Returns 1 when it is reaped
 * (its status, 128+signal when killed, or -1 in *ret_status; *pid is -1),
 * 0 while it has not ended or cannot be reaped yet. */
static int broker_vm_reap(int pidfd, pid_t *pid, int *ret_status)
{
	siginfo_t si;

	*ret_status = -1;
	if (*pid <= 0)
		return 1;
	memset(&si, 0, sizeof(si));
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0) {
		if (errno == EINTR)
			continue;
		*pid = -1; /* ECHILD: nothing left to wait for */
		return 1;
	}
	if (si.si_pid == 0)
		return 0;
	*pid = -1;
	*ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	return 1;
}

void broker_vm_on_core_exit(struct broker_vm *vm)
{
	int status;

	if (!broker_vm_reap(vm->core.pidfd, &vm->core.pid, &status)) {
		broker_vm_reap_later(vm);
		return;
	}
	vm->core_status = status;
	if (vm->state != BROKER_VM_STOPPING)
		broker_vm_stop_begin(vm, BROKER_VM_THEN_EXIT, NULL, NULL);
	broker_vm_stop_check(vm);
}

int broker_vm_reap_device(struct broker_vm_device *d)
{
	int status;

	if (!broker_vm_reap(d->proc.pidfd, &d->proc.pid, &status)) {
		broker_vm_reap_later(d->vm);
		return 0;
	}
	if (d->ev)
		event_free(d->ev);
	d->ev = NULL;
	d->last_status = status;
	if (d->log_keep > 0)
		close(d->log_keep);
	d->log_keep = 0;
	launcher_stop_device(&d->proc, SIGKILL); /* reaped: closes its fds */
	d->running = false;
	return 1;
}

void broker_vm_stop_begin(struct broker_vm *vm, int then, broker_vm_boot_done_fn *done, void *arg)
{
	vm->then = then;
	vm->then_done = done;
	vm->then_arg = arg;
	/* Not saved: the state file keeps the pids, which a broker restarted
	 * meanwhile kills. */
	vm->state = BROKER_VM_STOPPING;
	broker_vm_event(vm->b, vm, "stopping", NULL);
	broker_vm_pause_abort(vm, true);
	if (vm->chan_ev)
		event_del(vm->chan_ev);
	for (size_t i = 0; i < vm->ndevs; i++) {
		if (vm->devs[i].restart_ev)
			event_del(vm->devs[i].restart_ev);
	}
	/* Our children, not reaped yet: their pids cannot have been reused. */
	broker_vm_kill_processes(vm);
	broker_keeper_end(vm);
}

void broker_vm_stop_check(struct broker_vm *vm)
{
	broker_vm_boot_done_fn *done = vm->then_done;
	void *arg = vm->then_arg;
	char err[512];
	enum api_err e;
	int status;

	if (vm->state != BROKER_VM_STOPPING || vm->core.pid > 0 || vm->dev_jobs ||
	    vm->keeper_ending)
		return;
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].proc.pid > 0)
			return;
	status = broker_vm_teardown(vm); /* waits for nothing now */
	vm->then_done = NULL;
	vm->then_arg = NULL;
	switch ((enum broker_vm_then)vm->then) {
	case BROKER_VM_THEN_EXIT:
		broker_vm_shutdown_ended(vm, status == VM_EXIT_REBOOT && !vm->b->shutting_down);
		broker_supervise_core_ended(vm, status);
		return;
	case BROKER_VM_THEN_STOP:
	case BROKER_VM_THEN_BOOT:
		snprintf(vm->last_exit, sizeof(vm->last_exit), "powered off by the API");
		broker_vm_shutdown_ended(vm, vm->then == BROKER_VM_THEN_BOOT);
		broker_vm_set_state(vm, BROKER_VM_STOPPED, vm->last_exit);
		if (vm->then == BROKER_VM_THEN_STOP) {
			if (done)
				done(vm, API_OK, "", arg);
			return;
		}
		e = broker_vm_boot(vm, done, arg, err, sizeof(err));
		if (e != API_OK && done)
			done(vm, e, err, arg);
		return;
	case BROKER_VM_THEN_DELETE:
		vm->state = BROKER_VM_STOPPED;
		broker_vm_shutdown_ended(vm, false);
		if (done)
			done(vm, API_OK, "", arg);
		broker_vm_free_deleted(vm);
		return;
	}
}

void broker_vm_stops_answer(struct broker *b)
{
	struct broker_vm *vm;

	TAILQ_FOREACH(vm, &b->vms, link)
	{
		broker_vm_boot_done_fn *done = vm->then_done;

		if (vm->pause_done)
			broker_vm_pause_abort(vm, true);
		broker_vm_shutdown_abort(vm, "the broker is shutting down");
		if (vm->state != BROKER_VM_STOPPING || !done)
			continue;
		vm->then_done = NULL;
		if (vm->then == BROKER_VM_THEN_BOOT)
			done(vm, API_VM_BUSY, "the broker is shutting down", vm->then_arg);
		else
			done(vm, API_OK, "", vm->then_arg);
		vm->then_arg = NULL;
	}
}

enum api_err broker_vm_boot(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			    char *err, size_t errlen)
{
	struct broker_launch_job *j;

	if (vm->state == BROKER_VM_RUNNING || vm->state == BROKER_VM_PAUSED ||
	    vm->state == BROKER_VM_STARTING || vm->state == BROKER_VM_STOPPING) {
		snprintf(err, errlen, "the VM is %s", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	if (vm->b->shutting_down) {
		snprintf(err, errlen, "the broker is shutting down");
		return API_VM_BUSY;
	}
	if (broker_vmdef_check_paths(&vm->def, broker_vm_tenant(vm), err, errlen) < 0)
		return API_INVALID_ARGUMENT;
	if (broker_host_vm_boot(vm, err, errlen) < 0)
		return API_INTERNAL;
	j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return API_INTERNAL;
	}
	*j = (struct broker_launch_job){
		.vm = vm, .restart_dev = -1, .prev = vm->state, .done = done, .arg = arg};
	for (size_t i = 0; i < broker_vmdef_ndevs(&vm->def) && i < LAUNCHER_MAX_DEVICES; i++) {
		if (vm->stats_fd[i] <= 0) {
			int fd = launcher_stats_create(&vm->stats[i]);
			/* Without a page the device runs all the same, uncounted. */
			vm->stats_fd[i] = fd > 0 ? fd : 0;
		}
		j->stats_fd[i] = vm->stats_fd[i];
	}
	if (broker_launch_submit(vm->b, j) < 0) {
		free(j);
		snprintf(err, errlen, "cannot hand the boot to the launcher thread");
		return API_INTERNAL;
	}
	/* Until broker_vm_boot_finish: the definition is read by the launcher thread,
	 * so nothing may change or free this VM (every operation is VM_BUSY). */
	vm->state = BROKER_VM_STARTING;
	broker_vm_event(vm->b, vm, "starting", NULL);
	return API_OK;
}

const char *broker_vm_dev_kind_name(enum launcher_dev_kind type)
{
	switch (type) {
	case LAUNCHER_DEV_BLK: return "blk";
	case LAUNCHER_DEV_NET: return "net";
	case LAUNCHER_DEV_GPU: return "gpu";
	case LAUNCHER_DEV_SND: return "snd";
	case LAUNCHER_DEV_INPUT: return "input";
	}
	return "?";
}

/* Install what the launcher thread started: events on its pidfds and console. */
static enum api_err broker_vm_boot_install(struct broker_vm *vm, struct broker_launch_job *j)
{
	vm->mem_fd = j->mem_fd;
	vm->core = j->core;
	vm->ndevs = j->ndevs;
	for (size_t i = 0; i < j->ndevs; i++) {
		enum launcher_dev_kind type = broker_vmdef_dev_kind(&vm->def, i);

		vm->devs[i] = (struct broker_vm_device){.vm = vm,
							.type = type,
							.kind = broker_vm_dev_kind_name(type),
							.def_index = i,
							.proc = j->devs[i],
							.running = true};
	}
	if (broker_console_watch(vm) < 0 || broker_supervise_watch(vm) < 0 ||
	    broker_input_watch(vm) < 0 || broker_display_install(vm) < 0 ||
	    broker_audio_install(vm) < 0)
		goto fail;
	return API_OK;
fail:
	snprintf(j->err, sizeof(j->err), "cannot watch the VM's processes");
	broker_vm_kill_processes(vm);
	broker_vm_teardown(vm);
	return API_INTERNAL;
}

void broker_vm_boot_finish(struct broker_launch_job *j)
{
	struct broker_vm *vm = j->vm;

	if (j->restart_dev >= 0) {
		broker_supervise_restart_finish(j);
		return;
	}

	vm->state = j->prev;
	if (j->e == API_OK)
		j->e = broker_vm_boot_install(vm, j);
	if (j->e == API_OK) {
		vm->boots++;
		vm->last_exit[0] = 0;
		/* Before the state is saved: its file records the keeper. */
		(void)broker_keeper_start(vm);
		broker_vm_set_state(vm, BROKER_VM_RUNNING, NULL);
	} else {
		broker_vm_event(vm->b, vm, "boot-failed", j->err);
	}
	if (j->done)
		j->done(vm, j->e, j->err, j->arg);
	free(j);
}

/* Signal every device process of the VM (pause and resume). */
static void broker_vm_signal_all(struct broker_vm *vm, int sig)
{
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].proc.pid > 0)
			kill(vm->devs[i].proc.pid, sig);
}

/* How long the core may take to answer a Pause or Resume. Its own limit for
 * holding the vCPUs is 5 s (vmm-core/main.c); past this one it is stuck. */
#define BROKER_PAUSE_TIMEOUT_S 30

/* Answer who waits for the pending pause or resume, once, and forget it. */
static void broker_vm_pause_answer(struct broker_vm *vm, enum api_err e, const char *err)
{
	broker_vm_boot_done_fn *done = vm->pause_done;
	void *arg = vm->pause_arg;

	vm->pause_pending = LAUNCHER_CORE_NONE;
	vm->pause_done = NULL;
	vm->pause_arg = NULL;
	if (vm->pause_ev)
		event_del(vm->pause_ev);
	if (done)
		done(vm, e, err, arg);
}

/* The VM stops, or the broker shuts down, with a pause or resume pending:
 * its waiter is answered (answer) or dropped, its timer freed. */
static void broker_vm_pause_abort(struct broker_vm *vm, bool answer)
{
	if (!answer) {
		vm->pause_done = NULL;
		vm->pause_arg = NULL;
	}
	if (vm->pause_pending != LAUNCHER_CORE_NONE || vm->pause_done)
		broker_vm_pause_answer(vm, API_VM_BUSY, "the VM stopped");
	if (vm->pause_ev)
		event_free(vm->pause_ev);
	vm->pause_ev = NULL;
}

static void broker_vm_on_pause_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;
	char detail[128];

	(void)fd;
	(void)what;
	snprintf(detail, sizeof(detail), "the core did not answer a %s in %d s: killed",
		 vm->pause_pending == LAUNCHER_CORE_PAUSING ? "pause" : "resume",
		 BROKER_PAUSE_TIMEOUT_S);
	log_err("vm %s: %s", vm->id, detail);
	broker_vm_event(vm->b, vm, "core-killed", detail);
	broker_vm_pause_answer(vm, API_INTERNAL, detail);
	/* Its exit event stops the VM. */
	if (vm->core.pid > 0)
		kill(vm->core.pid, SIGKILL);
}

/* Send the core a Pause or Resume and wait for its answer (not here: the
 * loop goes on, broker_supervise.c reads it). */
static enum api_err broker_vm_pause_ask(struct broker_vm *vm, int pending,
					broker_vm_boot_done_fn *done, void *arg, char *err,
					size_t errlen)
{
	struct timeval tv = {.tv_sec = BROKER_PAUSE_TIMEOUT_S};
	int r;

	if (!vm->pause_ev)
		vm->pause_ev = evtimer_new(vm->b->base, broker_vm_on_pause_timeout, vm);
	if (!vm->pause_ev) {
		snprintf(err, errlen, "out of memory");
		return API_INTERNAL;
	}
	r = pending == LAUNCHER_CORE_PAUSING ? launcher_core_pause(&vm->core)
					     : launcher_core_resume(&vm->core);
	if (r < 0) {
		snprintf(err, errlen, "cannot reach the core: %s", strerror(-r));
		return API_INTERNAL;
	}
	vm->pause_pending = pending;
	vm->pause_done = done;
	vm->pause_arg = arg;
	evtimer_add(vm->pause_ev, &tv);
	return API_OK;
}

enum api_err broker_vm_pause(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			     char *err, size_t errlen)
{
	if (vm->state != BROKER_VM_RUNNING || vm->pause_pending != LAUNCHER_CORE_NONE) {
		snprintf(err, errlen, "the VM is %s, not running",
			 vm->pause_pending == LAUNCHER_CORE_PAUSING
				 ? "pausing"
				 : broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	/* The core holds its vCPUs and saves the guest clock first; the
	 * devices are stopped once it has (broker_vm_on_paused). */
	return broker_vm_pause_ask(vm, LAUNCHER_CORE_PAUSING, done, arg, err, errlen);
}

void broker_vm_on_paused(struct broker_vm *vm, bool failed, const char *detail)
{
	char err[160];

	if (failed || vm->state != BROKER_VM_RUNNING) {
		snprintf(err, sizeof(err), "the core could not pause the VM: %s", detail);
		log_warn("vm %s: %s", vm->id, err);
		broker_vm_pause_answer(vm, API_INTERNAL, err);
		return;
	}
	/* No vCPU runs: stop the device processes, their queues as they are
	 * (nothing in the guest adds to them meanwhile). SIGSTOP rather than a
	 * message each device kind would handle: the processes' memory, rings
	 * and in-flight state stay exactly as they were, with no code in the
	 * devices. Paused once SIGSTOP is sent, not once each process has taken
	 * it: one in uninterruptible sleep (a disk flush) stops when it leaves
	 * it, finishing only what was in flight, and waiting for that here
	 * would stall every tenant (a pidfd does not tell stops). */
	broker_vm_signal_all(vm, SIGSTOP);
	broker_vm_set_state(vm, BROKER_VM_PAUSED, NULL);
	broker_vm_pause_answer(vm, API_OK, "");
}

enum api_err broker_vm_resume(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			      char *err, size_t errlen)
{
	enum api_err e;

	if (vm->state != BROKER_VM_PAUSED || vm->pause_pending != LAUNCHER_CORE_NONE) {
		snprintf(err, errlen, "the VM is %s, not paused",
			 vm->pause_pending == LAUNCHER_CORE_RESUMING
				 ? "resuming"
				 : broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	/* The devices first, so that the vCPUs find them serving. */
	broker_vm_signal_all(vm, SIGCONT);
	e = broker_vm_pause_ask(vm, LAUNCHER_CORE_RESUMING, done, arg, err, errlen);
	if (e != API_OK)
		broker_vm_signal_all(vm, SIGSTOP);
	return e;
}

void broker_vm_on_resumed(struct broker_vm *vm)
{
	broker_vm_set_state(vm, BROKER_VM_RUNNING, NULL);
	broker_vm_pause_answer(vm, API_OK, "");
}

enum api_err broker_vm_power_off(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
				 char *err, size_t errlen)
{
	if (vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) {
		snprintf(err, errlen, "the VM is %s", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	/* A hard power-off: the guest gets no say (no ACPI yet). */
	broker_vm_stop_begin(vm, BROKER_VM_THEN_STOP, done, arg);
	return API_OK;
}

enum api_err broker_vm_reboot(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			      char *err, size_t errlen)
{
	if (vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) {
		snprintf(err, errlen, "the VM is %s", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	if (vm->b->shutting_down) {
		snprintf(err, errlen, "the broker is shutting down");
		return API_VM_BUSY;
	}
	broker_vm_stop_begin(vm, BROKER_VM_THEN_BOOT, done, arg);
	return API_OK;
}

static void broker_vm_stats_close(struct broker_vm *vm)
{
	for (size_t i = 0; i < LAUNCHER_MAX_DEVICES; i++) {
		launcher_stats_close(vm->stats_fd[i], vm->stats[i]);
		vm->stats_fd[i] = 0;
		vm->stats[i] = NULL;
	}
}

/* Drop a VM without processes from the registry and free it. */
static void broker_vm_free_deleted(struct broker_vm *vm)
{
	struct broker *b = vm->b;
	struct tenant *t = broker_vm_tenant(vm);

	(void)broker_state_remove(b, vm);
	broker_viewer_vm_gone(b, vm->id);
	broker_vm_event(b, vm, "deleted", NULL);
	broker_console_notify(b, vm, true);
	TAILQ_REMOVE(&b->vms, vm, link);
	b->nvms--;
	t->used_vms--;
	t->used_cpus -= vm->def.cpus;
	t->used_memory -= vm->def.memory;
	broker_host_vm_release(vm);
	broker_vmdef_free(&vm->def);
	broker_vm_stats_close(vm);
	broker_console_ring_close(vm);
	free(vm);
}

enum api_err broker_vm_delete_async(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
				    bool *ret_pending, char *err, size_t errlen)
{
	*ret_pending = false;
	if (vm->state == BROKER_VM_STARTING) {
		snprintf(err, errlen, "the VM is starting");
		return API_VM_BUSY;
	}
	if (vm->dev_jobs) {
		snprintf(err, errlen, "a device of the VM is restarting");
		return API_VM_BUSY;
	}
	if (vm->state == BROKER_VM_STOPPING) {
		/* Someone waits for this stop already (power-off, reboot). */
		if (vm->then != BROKER_VM_THEN_EXIT) {
			snprintf(err, errlen, "the VM is stopping");
			return API_VM_BUSY;
		}
		vm->then = BROKER_VM_THEN_DELETE;
		vm->then_done = done;
		vm->then_arg = arg;
		*ret_pending = true;
		return API_OK;
	}
	if (vm->state == BROKER_VM_RUNNING || vm->state == BROKER_VM_PAUSED) {
		broker_vm_stop_begin(vm, BROKER_VM_THEN_DELETE, done, arg);
		*ret_pending = true;
		return API_OK;
	}
	broker_vm_free_deleted(vm);
	return API_OK;
}

enum api_err broker_vm_delete(struct broker_vm *vm, char *err, size_t errlen)
{
	bool pending;

	return broker_vm_delete_async(vm, NULL, NULL, &pending, err, errlen);
}

void broker_vm_registry_restore(struct broker *b)
{
	struct broker_vm *vm;
	char err[512];

	TAILQ_FOREACH(vm, &b->vms, link)
	{
		enum api_err e;

		if (!vm->restore)
			continue;
		vm->restore = false;
		e = broker_vm_boot(vm, NULL, NULL, err, sizeof(err));
		log_info("vm %s (tenant %s): booting again, as it ran when the broker stopped: %s",
			 vm->id, broker_vm_tenant(vm)->name, e == API_OK ? "started" : err);
		if (e != API_OK)
			(void)broker_state_save(b, vm);
	}
}

void broker_vm_registry_free(struct broker *b, bool restore)
{
	struct broker_vm *vm;

	while ((vm = TAILQ_FIRST(&b->vms))) {
		/* broker_launch_stop finished every boot before this. */
		assert(vm->state != BROKER_VM_STARTING);
		if (vm->state == BROKER_VM_STOPPING && vm->then == BROKER_VM_THEN_DELETE) {
			/* Deleted while its processes ended: delete it now. Its
			 * waiter (an API client) is gone with the API already. */
			broker_vm_kill_processes(vm);
			broker_vm_teardown(vm);
			vm->state = BROKER_VM_STOPPED;
			(void)broker_state_remove(b, vm);
		} else if (vm->state == BROKER_VM_RUNNING || vm->state == BROKER_VM_PAUSED ||
			   vm->state == BROKER_VM_STOPPING) {
			bool ran = vm->state != BROKER_VM_STOPPING;

			broker_vm_kill_processes(vm);
			broker_vm_teardown(vm);
			vm->state = BROKER_VM_STOPPED;
			vm->restore = restore && ran;
			snprintf(vm->last_exit, sizeof(vm->last_exit),
				 "stopped: the broker shut down");
			(void)broker_state_save(b, vm);
		}
		TAILQ_REMOVE(&b->vms, vm, link);
		broker_vm_shutdown_abort(vm, NULL);
		broker_host_vm_release(vm);
		broker_vmdef_free(&vm->def);
		broker_vm_stats_close(vm);
		broker_console_ring_close(vm);
		if (vm->adopt_rec)
			json_object_put(vm->adopt_rec);
		free(vm);
	}
	b->nvms = 0;
}
