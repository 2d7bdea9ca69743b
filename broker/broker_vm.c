/* The VM registry of cellvm-broker: VM lifecycle (create, boot, pause, resume,
 * power-off, reboot, delete), the processes of each running VM started through
 * the launcher and supervised by pidfd events, quota accounting and the serial
 * console log. Runs in the broker's single loop, so every check-and-change here
 * is atomic with respect to other clients. Messages from the core are
 * untrusted (only its CoreStopped detail is read, as text). */
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "launcher/supervise.h"
#include "common/fdutil.h"
#include "common/gmem.h"
#include "common/log.h"
#include "proto/ipc.h"
#include "proto/vm_channel.h"
#include "proto/vm_exit.h"

static void vm_on_core_exit(evutil_socket_t fd, short what, void *arg);
static void vm_on_console(evutil_socket_t fd, short what, void *arg);
static void vm_on_device_exit(evutil_socket_t fd, short what, void *arg);

/* Tell both APIs' subscribers (the REST call numbers the event). */
static void vm_event(struct broker *b, const struct vm *vm, const char *what, const char *detail)
{
	rest_event(b, vm, what, detail);
	rpc_event(b, vm, what, detail);
}

static void vm_console_notify(struct broker *b, const struct vm *vm, bool vm_gone)
{
	rest_console_update(b, vm, vm_gone);
	rpc_console_update(b, vm, vm_gone);
}

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[] = {"created", "running", "paused", "stopped", "starting"};
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

static struct tenant *vm_tenant(const struct vm *vm)
{
	return &vm->b->tenants.t[vm->tenant];
}

static bool vm_visible(const struct vm *vm, const struct tenant *caller)
{
	return caller->admin || vm_tenant(vm) == caller;
}

struct vm *vm_lookup(struct broker *b, const struct tenant *caller, const char *id)
{
	struct vm *vm;

	/* Another tenant's VM is looked up like a missing one: same path, same answer. */
	TAILQ_FOREACH(vm, &b->vms, link)
	if (strcmp(vm->id, id) == 0)
		return vm_visible(vm, caller) ? vm : NULL;
	return NULL;
}

struct vm *vm_default(struct broker *b, const struct tenant *caller)
{
	struct vm *vm;

	/* The list is in creation order: the first visible VM is the default. */
	TAILQ_FOREACH(vm, &b->vms, link)
	if (vm_visible(vm, caller))
		return vm;
	return NULL;
}

static void vm_make_id(char *out)
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

struct vm *vm_registry_add(struct broker *b, const char *id, int tenant, struct vm_def *def,
			   uint64_t created_us)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct tenant *t = &b->tenants.t[tenant];

	if (!vm)
		return NULL;
	vm->cons = malloc(BROKER_CONSOLE_LOG);
	if (!vm->cons) {
		free(vm);
		return NULL;
	}
	vm->b = b;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	vm->tenant = tenant;
	vm->def = *def; /* takes def->extra */
	vm->state = VM_STATE_CREATED;
	vm->created_us = created_us;
	vm->mem_fd = -1;
	vm->core = (struct core_proc){.pid = -1, .pidfd = -1, .chan = -1, .console = -1};
	if (!vm->def.name[0])
		snprintf(vm->def.name, sizeof(vm->def.name), "vm-%.8s", vm->id);
	{
		/* Creation order (reloaded files come in directory order): the
		 * default VM is the first created. */
		struct vm *after;
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

enum api_err vm_create(struct broker *b, int tenant, struct vm_def *def, struct vm **ret, char *err,
		       size_t errlen)
{
	struct tenant *t = &b->tenants.t[tenant];
	char id[BROKER_ID_LEN + 1];
	struct vm *vm;
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
	vm_make_id(id);
	vm = vm_registry_add(b, id, tenant, def, broker_now_us());
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return API_INTERNAL;
	}
	r = state_save(b, vm);
	if (r < 0) {
		snprintf(err, errlen, "cannot save the definition: %s", strerror(-r));
		vm_delete(vm, NULL, 0);
		return API_INTERNAL;
	}
	*ret = vm;
	vm_event(b, vm, "created", NULL);
	return API_OK;
}

/* ---- processes ---- */

static void vm_set_state(struct vm *vm, enum vm_state s, const char *detail)
{
	vm->state = s;
	if (!vm->b->shutting_down)
		(void)state_save(vm->b, vm);
	vm_event(vm->b, vm, vm_state_name(s), detail);
}

/* Move what the guest wrote into the log, at most rounds reads of 4 KiB: a
 * guest that writes without pause must not keep the loop here (the event
 * fires again for the rest). rounds 0: until the socket is empty. */
static void vm_console_drain(struct vm *vm, unsigned rounds)
{
	uint8_t buf[4096];
	ssize_t n;

	if (vm->core.console < 0)
		return;
	/* UNTRUSTED(guest): bytes, stored and relayed as they are. */
	while ((n = recv(vm->core.console, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n;) {
			size_t off = vm->cons_total % BROKER_CONSOLE_LOG;
			size_t room = BROKER_CONSOLE_LOG - off, k = (size_t)(n - i);
			if (k > room)
				k = room;
			memcpy(vm->cons + off, buf + i, k);
			vm->cons_total += k;
			i += (ssize_t)k;
		}
		vm_console_notify(vm->b, vm, false);
		if (rounds && !--rounds)
			break;
	}
}

static void vm_on_console(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	vm_console_drain(vm, 16);
}

/* Why the core stopped, from its CoreStopped (if it sent one) and its status;
 * returns the status. */
static int vm_read_stopped(struct vm *vm, int status)
{
	struct pollfd p = {.fd = vm->core.chan, .events = POLLIN};
	Cellvm__Vm__VmMessage *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	const char *what;

	what = vm_exit_name(status);
	if (!what)
		what = status > 128 ? "killed" : "VMM error";
	snprintf(vm->last_exit, sizeof(vm->last_exit), "%s (status %d)", what, status);
	if (vm->core.chan < 0 || poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return status;
	/* UNTRUSTED(core): only the detail text is used, and only as text. */
	if (vm_channel_recv(vm->core.chan, &m, fds, IPC_MAX_FDS, &nfds) < 0)
		return status;
	ipc_close_fds(fds, nfds);
	if (m->msg_case == CELLVM__VM__VM_MESSAGE__MSG_STOPPED && m->stopped->detail &&
	    m->stopped->detail[0]) {
		char clean[100];
		size_t i;
		for (i = 0; i < sizeof(clean) - 1 && m->stopped->detail[i]; i++) {
			char c = m->stopped->detail[i];
			clean[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
		}
		clean[i] = 0;
		snprintf(vm->last_exit, sizeof(vm->last_exit), "%s (status %d): %s", what, status,
			 clean);
	}
	cellvm__vm__vm_message__free_unpacked(m, NULL);
	return status;
}

/* Tear down a VM whose core has exited (or was killed): reap everything.
 * Returns the core's exit status (enum vm_exit, or 128+signal). */
static int vm_teardown(struct vm *vm)
{
	int status;

	vm_console_drain(vm, 0); /* the core is gone: what is left is finite */
	status = vm_read_stopped(vm, launcher_wait_core(&vm->core));
	if (vm->core_ev)
		event_free(vm->core_ev);
	if (vm->cons_ev)
		event_free(vm->cons_ev);
	vm->core_ev = vm->cons_ev = NULL;
	launcher_close(&vm->core);
	for (size_t i = 0; i < vm->ndevs; i++) {
		struct vm_device *d = &vm->devs[i];
		if (d->ev)
			event_free(d->ev);
		d->ev = NULL;
		if (d->restart_ev)
			event_free(d->restart_ev);
		d->restart_ev = NULL;
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
	launch_taps_close(vm);
	return status;
}

static void vm_kill_processes(struct vm *vm)
{
	if (vm->core.pid > 0)
		kill(vm->core.pid, SIGKILL);
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].proc.pid > 0)
			kill(vm->devs[i].proc.pid, SIGKILL);
}

static void vm_on_core_exit(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	uint64_t now = broker_now();
	char err[256];
	int status;

	status = vm_teardown(vm);
	log_info("vm %s (tenant %s): %s", vm->id, vm_tenant(vm)->name, vm->last_exit);
	if (status != VM_EXIT_REBOOT || vm->b->shutting_down) {
		vm_set_state(vm, VM_STATE_STOPPED, vm->last_exit);
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
		vm_set_state(vm, VM_STATE_STOPPED, vm->last_exit);
		return;
	}
	vm->state = VM_STATE_STOPPED;
	vm_event(vm->b, vm, "rebooting", NULL);
	if (vm_boot(vm, NULL, NULL, err, sizeof(err)) != API_OK) {
		log_warn("vm %s: boot after guest reboot failed: %s", vm->id, err);
		vm_set_state(vm, VM_STATE_STOPPED, err);
	}
}

static void vm_on_device_exit(evutil_socket_t fd, short what, void *arg);

/* Back-off timer: hand the restart to the launcher thread. */
static void vm_on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm_device *d = arg;
	struct vm *vm = d->vm;
	struct launch_job *j;

	(void)fd;
	(void)what;
	if (vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		goto retry;
	*j = (struct launch_job){.vm = vm,
				 .restart_dev = (int)d->def_index,
				 .boot = vm->boots,
				 .prev = vm->state,
				 .mem_fd = fcntl(vm->mem_fd, F_DUPFD_CLOEXEC, 3)};
	j->stats_fd[d->def_index] = vm->stats_fd[d->def_index];
	if (j->mem_fd < 0 || launch_submit(vm->b, j) < 0) {
		if (j->mem_fd >= 0)
			close(j->mem_fd);
		free(j);
		goto retry;
	}
	vm->dev_jobs++;
	return;
retry:
	log_warn("vm %s: device %zu: cannot start its restart now, trying again", vm->id,
		 d->def_index);
	{
		struct timeval tv = {.tv_sec = 1};
		evtimer_add(d->restart_ev, &tv);
	}
}

/* The device process died: restart it with back-off (the core keeps the
 * guest's view meanwhile, and the new process takes over the queues), or
 * give up after too many in a row and let the core tell the guest. */
static void vm_device_died(struct vm_device *d)
{
	struct vm *vm = d->vm;
	int64_t delay_ms;
	char detail[128];

	/* The same policy as cellvm run's (supervise.c). */
	delay_ms = supervise_next_restart(&d->in_a_row, (broker_now() - d->started) * 1000);
	if (delay_ms < 0) {
		d->gone = true;
		snprintf(detail, sizeof(detail),
			 "device %zu (%s): %u restarts in a row, giving up (the guest sees "
			 "DEVICE_NEEDS_RESET)",
			 d->def_index, d->kind, d->in_a_row);
		log_err("vm %s: %s", vm->id, detail);
		(void)launcher_core_device_gone(&vm->core, (uint32_t)d->def_index);
		vm_event(vm->b, vm, "device-failed", detail);
		return;
	}
	if (!d->restart_ev)
		d->restart_ev = evtimer_new(vm->b->base, vm_on_restart_timer, d);
	if (!d->restart_ev) {
		d->gone = true;
		(void)launcher_core_device_gone(&vm->core, (uint32_t)d->def_index);
		return;
	}
	{
		struct timeval tv = {.tv_sec = (time_t)(delay_ms / 1000),
				     .tv_usec = (suseconds_t)(delay_ms % 1000) * 1000};
		evtimer_add(d->restart_ev, &tv);
	}
}

static void vm_on_device_exit(evutil_socket_t fd, short what, void *arg)
{
	struct vm_device *d = arg;
	char detail[96];

	(void)fd;
	(void)what;
	event_free(d->ev);
	d->ev = NULL;
	d->last_status = launcher_stop_device(&d->proc, SIGKILL);
	d->running = false;
	/* Status 0: its core link closed, the VM is ending; the core's own
	 * exit event tears the VM down. */
	if (d->last_status == 0)
		return;
	snprintf(detail, sizeof(detail), "device %zu (%s) exited with status %d", d->def_index,
		 d->kind, d->last_status);
	log_warn("vm %s: %s", d->vm->id, detail);
	vm_event(d->vm->b, d->vm, "device-exited", detail);
	vm_device_died(d);
}

/* In the loop: what the launcher thread made of a device restart. */
static void vm_restart_finish(struct launch_job *j)
{
	struct vm *vm = j->vm;
	struct vm_device *d = &vm->devs[j->restart_dev];
	char detail[96];
	int r = -1;

	vm->dev_jobs--;
	if (j->mem_fd >= 0)
		close(j->mem_fd);
	if ((vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED) ||
	    vm->boots != j->boot) {
		/* The VM stopped or booted again meanwhile: not ours any more. */
		if (j->ndevs)
			(void)launcher_stop_device(&j->devs[0], SIGKILL);
		free(j);
		return;
	}
	d->in_a_row++;
	d->started = broker_now();
	if (j->e == API_OK)
		r = launcher_core_device_restarted(&vm->core, (uint32_t)d->def_index, &j->devs[0]);
	if (r < 0) {
		log_warn("vm %s: device %zu: restart failed: %s", vm->id, d->def_index,
			 j->e == API_OK ? "the core did not take it" : j->err);
		if (j->ndevs)
			(void)launcher_stop_device(&j->devs[0], SIGKILL);
		free(j);
		vm_device_died(d);
		return;
	}
	d->proc = j->devs[0];
	d->running = true;
	d->restarts++;
	free(j);
	if (vm->state == VM_STATE_PAUSED && d->proc.pid > 0)
		kill(d->proc.pid, SIGSTOP);
	d->ev = event_new(vm->b->base, d->proc.pidfd, EV_READ, vm_on_device_exit, d);
	if (!d->ev || event_add(d->ev, NULL) < 0) {
		log_err("vm %s: device %zu: cannot watch its new process", vm->id, d->def_index);
		return;
	}
	snprintf(detail, sizeof(detail), "device %zu (%s) restarted (%u so far)", d->def_index,
		 d->kind, d->restarts);
	log_info("vm %s: %s", vm->id, detail);
	vm_event(vm->b, vm, "device-restarted", detail);
}

enum api_err vm_boot(struct vm *vm, vm_boot_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct launch_job *j;

	if (vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED ||
	    vm->state == VM_STATE_STARTING) {
		snprintf(err, errlen, "the VM is %s", vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	if (vm->b->shutting_down) {
		snprintf(err, errlen, "the broker is shutting down");
		return API_VM_BUSY;
	}
	if (vmdef_check_paths(&vm->def, vm_tenant(vm), err, errlen) < 0)
		return API_INVALID_ARGUMENT;
	j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return API_INTERNAL;
	}
	*j = (struct launch_job){
		.vm = vm, .restart_dev = -1, .prev = vm->state, .done = done, .arg = arg};
	for (size_t i = 0; i < vm->def.ndisks + vm->def.nnets && i < LAUNCHER_MAX_DEVICES; i++) {
		if (vm->stats_fd[i] <= 0) {
			int fd = launcher_stats_create(&vm->stats[i]);
			/* Without a page the device runs all the same, uncounted. */
			vm->stats_fd[i] = fd > 0 ? fd : 0;
		}
		j->stats_fd[i] = vm->stats_fd[i];
	}
	if (launch_submit(vm->b, j) < 0) {
		free(j);
		snprintf(err, errlen, "cannot hand the boot to the launcher thread");
		return API_INTERNAL;
	}
	/* Until vm_boot_finish: the definition is read by the launcher thread,
	 * so nothing may change or free this VM (every operation is VM_BUSY). */
	vm->state = VM_STATE_STARTING;
	vm_event(vm->b, vm, "starting", NULL);
	return API_OK;
}

/* Install what the launcher thread started: events on its pidfds and console. */
static enum api_err vm_boot_install(struct vm *vm, struct launch_job *j)
{
	vm->mem_fd = j->mem_fd;
	vm->core = j->core;
	vm->ndevs = j->ndevs;
	for (size_t i = 0; i < j->ndevs; i++)
		vm->devs[i] = (struct vm_device){.vm = vm,
						 .kind = i < vm->def.ndisks ? "blk" : "net",
						 .def_index = i,
						 .proc = j->devs[i],
						 .running = true,
						 .started = broker_now()};
	(void)fd_set_nonblock(vm->core.console, 1);
	vm->core_ev = event_new(vm->b->base, vm->core.pidfd, EV_READ, vm_on_core_exit, vm);
	vm->cons_ev =
		event_new(vm->b->base, vm->core.console, EV_READ | EV_PERSIST, vm_on_console, vm);
	if (!vm->core_ev || !vm->cons_ev || event_add(vm->core_ev, NULL) < 0 ||
	    event_add(vm->cons_ev, NULL) < 0)
		goto fail;
	for (size_t i = 0; i < vm->ndevs; i++) {
		struct vm_device *d = &vm->devs[i];
		d->ev = event_new(vm->b->base, d->proc.pidfd, EV_READ, vm_on_device_exit, d);
		if (!d->ev || event_add(d->ev, NULL) < 0)
			goto fail;
	}
	return API_OK;
fail:
	snprintf(j->err, sizeof(j->err), "cannot watch the VM's processes");
	vm_kill_processes(vm);
	vm_teardown(vm);
	return API_INTERNAL;
}

void vm_boot_finish(struct launch_job *j)
{
	struct vm *vm = j->vm;

	if (j->restart_dev >= 0) {
		vm_restart_finish(j);
		return;
	}

	vm->state = j->prev;
	if (j->e == API_OK)
		j->e = vm_boot_install(vm, j);
	if (j->e == API_OK) {
		vm->boots++;
		vm->last_exit[0] = 0;
		vm_set_state(vm, VM_STATE_RUNNING, NULL);
	} else {
		vm_event(vm->b, vm, "boot-failed", j->err);
	}
	if (j->done)
		j->done(vm, j->e, j->err, j->arg);
	free(j);
}

/* Signal every process of the VM (pause and resume). */
static void vm_signal_all(struct vm *vm, int sig)
{
	/* SIGSTOP and SIGCONT reach a pid namespace's init from outside it. */
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].proc.pid > 0)
			kill(vm->devs[i].proc.pid, sig);
	if (vm->core.pid > 0)
		kill(vm->core.pid, sig);
}

enum api_err vm_pause(struct vm *vm, char *err, size_t errlen)
{
	siginfo_t si;

	if (vm->state != VM_STATE_RUNNING) {
		snprintf(err, errlen, "the VM is %s, not running", vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	vm_signal_all(vm, SIGSTOP);
	/* Answer once the core is really stopped (or gone); WNOWAIT leaves an
	 * exit for the pidfd event to reap. */
	while (waitid(P_PID, (id_t)vm->core.pid, &si, WSTOPPED | WEXITED | WNOWAIT) < 0 &&
	       errno == EINTR)
		;
	vm_set_state(vm, VM_STATE_PAUSED, NULL);
	return API_OK;
}

enum api_err vm_resume(struct vm *vm, char *err, size_t errlen)
{
	if (vm->state != VM_STATE_PAUSED) {
		snprintf(err, errlen, "the VM is %s, not paused", vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	vm_signal_all(vm, SIGCONT);
	vm_set_state(vm, VM_STATE_RUNNING, NULL);
	return API_OK;
}

enum api_err vm_power_off(struct vm *vm, char *err, size_t errlen)
{
	if (vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED) {
		snprintf(err, errlen, "the VM is %s", vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	/* A hard power-off: the guest gets no say (no ACPI yet). */
	vm_kill_processes(vm);
	vm_teardown(vm);
	snprintf(vm->last_exit, sizeof(vm->last_exit), "powered off by the API");
	vm_set_state(vm, VM_STATE_STOPPED, vm->last_exit);
	return API_OK;
}

enum api_err vm_reboot(struct vm *vm, vm_boot_done_fn *done, void *arg, char *err, size_t errlen)
{
	enum api_err e = vm_power_off(vm, err, errlen);

	if (e != API_OK)
		return e;
	return vm_boot(vm, done, arg, err, errlen);
}

static void vm_stats_close(struct vm *vm)
{
	for (size_t i = 0; i < LAUNCHER_MAX_DEVICES; i++) {
		launcher_stats_close(vm->stats_fd[i], vm->stats[i]);
		vm->stats_fd[i] = 0;
		vm->stats[i] = NULL;
	}
}

enum api_err vm_delete(struct vm *vm, char *err, size_t errlen)
{
	struct broker *b = vm->b;
	struct tenant *t = vm_tenant(vm);

	if (vm->state == VM_STATE_STARTING) {
		snprintf(err, errlen, "the VM is starting");
		return API_VM_BUSY;
	}
	if (vm->dev_jobs) {
		snprintf(err, errlen, "a device of the VM is restarting");
		return API_VM_BUSY;
	}
	if (vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED) {
		vm_kill_processes(vm);
		vm_teardown(vm);
	}
	(void)state_remove(b, vm);
	vm_event(b, vm, "deleted", NULL);
	vm_console_notify(b, vm, true);
	TAILQ_REMOVE(&b->vms, vm, link);
	b->nvms--;
	t->used_vms--;
	t->used_cpus -= vm->def.cpus;
	t->used_memory -= vm->def.memory;
	vmdef_free(&vm->def);
	vm_stats_close(vm);
	free(vm->cons);
	free(vm);
	return API_OK;
}

enum api_err vm_console_input(struct vm *vm, const void *buf, size_t len, char *err, size_t errlen)
{
	ssize_t n;

	if (vm->state != VM_STATE_RUNNING || vm->core.console < 0) {
		snprintf(err, errlen, "the VM is not running");
		return API_VM_BUSY;
	}
	n = send(vm->core.console, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		snprintf(err, errlen, "the guest is not reading its console");
		return API_VM_BUSY;
	}
	return API_OK;
}

void vm_registry_restore(struct broker *b)
{
	struct vm *vm;
	char err[512];

	TAILQ_FOREACH(vm, &b->vms, link)
	{
		enum api_err e;

		if (!vm->restore)
			continue;
		vm->restore = false;
		e = vm_boot(vm, NULL, NULL, err, sizeof(err));
		log_info("vm %s (tenant %s): booting again, as it ran when the broker stopped: %s",
			 vm->id, vm_tenant(vm)->name, e == API_OK ? "started" : err);
		if (e != API_OK)
			(void)state_save(b, vm);
	}
}

void vm_console_read(const struct vm *vm, uint64_t *pos, struct evbuffer *out)
{
	uint64_t start =
		vm->cons_total > BROKER_CONSOLE_LOG ? vm->cons_total - BROKER_CONSOLE_LOG : 0;

	if (*pos < start)
		*pos = start;
	while (*pos < vm->cons_total) {
		size_t off = *pos % BROKER_CONSOLE_LOG;
		size_t k = BROKER_CONSOLE_LOG - off;
		if (k > vm->cons_total - *pos)
			k = (size_t)(vm->cons_total - *pos);
		evbuffer_add(out, vm->cons + off, k);
		*pos += k;
	}
}

void vm_registry_free(struct broker *b, bool restore)
{
	struct vm *vm;

	while ((vm = TAILQ_FIRST(&b->vms))) {
		/* launch_stop finished every boot before this. */
		assert(vm->state != VM_STATE_STARTING);
		if (vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED) {
			vm_kill_processes(vm);
			vm_teardown(vm);
			vm->state = VM_STATE_STOPPED;
			vm->restore = restore;
			snprintf(vm->last_exit, sizeof(vm->last_exit),
				 "stopped: the broker shut down");
			(void)state_save(b, vm);
		}
		TAILQ_REMOVE(&b->vms, vm, link);
		vmdef_free(&vm->def);
		vm_stats_close(vm);
		free(vm->cons);
		free(vm);
	}
	b->nvms = 0;
}
