/* Starting a VM's processes off the broker's loop. Booting waits for each
 * device and the core to report Ready (milliseconds, at most the launcher's
 * timeout each); worker threads do those waits through the launcher so the
 * loop keeps serving every other client. Boots run on up to
 * boot_concurrency threads at once, handed out by the loop from one FIFO
 * queue per tenant, round robin, at most boot_concurrency_per_tenant of one
 * tenant in flight; device restarts have a thread of their own, which a
 * boot never occupies. A worker only calls the launcher on the job it is
 * given and reads the VM's definition, which does not change while the VM is
 * "starting"; the queues and every registry change stay in the loop
 * (broker_vm.c finishes the job there). The threads live as long as the
 * broker: the launcher's children get PR_SET_PDEATHSIG, which fires when the
 * thread that forked them ends. */
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "launcher/launcher_dev.h"
#include "launcher/net_tap.h"
#include "proto/ipc.h"

TAILQ_HEAD(broker_launch_jobs, broker_launch_job);

/* Jobs handed to threads, which take them in order: the boot lane (one
 * thread per boot slot) or the restart lane (one thread). */
struct broker_launch_lane {
	struct broker_launch_worker *w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct broker_launch_jobs jobs; /* handed over, not taken yet */
	bool closing;			/* the threads end once jobs is empty */
	pthread_t threads[BROKER_BOOT_CONCURRENCY_MAX];
	size_t nthreads;
};

struct broker_launch_worker {
	struct broker *b;
	struct broker_launch_lane boots, restarts;
	int done[2]; /* a pipe of job pointers, from the threads back to the loop */
	struct event *ev;
	atomic_bool cancel;
	size_t pending; /* submitted, not finished */
	/* The loop's alone: boots not handed out yet, per tenant in the order
	 * asked; boots in flight, in all and per tenant; the limits; the tenant
	 * asked first at the next hand-out (round robin). */
	struct broker_launch_jobs queued[BROKER_TENANT_MAX];
	uint32_t in_flight, tenant_in_flight[BROKER_TENANT_MAX];
	uint32_t limit, per_tenant;
	size_t next;
};

/* Copy a NIC's options and open taps; the copy's NetConfig points into itself. */
static void broker_launch_net_copy(struct net_opt *dst, const struct net_opt *src)
{
	*dst = *src;
	dst->net.mac.data = dst->mac;
}

/* A failed start in API terms, as the launcher reads it (launcher_dev_open,
 * launcher_exit_start_failed): what the client named cannot be had, or the
 * host failed. */
static enum api_err broker_launch_err(enum vm_exit e)
{
	return e == VM_EXIT_BAD_INPUT ? API_INVALID_ARGUMENT : API_INTERNAL;
}

/* Device i of the job's VM (disks first, then NICs: index = position; the
 * input device last) as the launcher brings it up: a disk over *disk, a copy
 * of its definition's options; a NIC over its tap in j->nets (a boot's in
 * order, a restart's one NIC in nets[0]); the input device over j->input. */
static struct launcher_dev broker_launch_dev(struct broker_launch_job *j, size_t i,
					     struct disk_opt *disk)
{
	const struct broker_vmdef *def = &j->vm->def;
	struct launcher_dev dev = {.kind = broker_vmdef_dev_kind(def, i),
				   .stats_fd = j->stats_fd[i],
				   .jail = &j->vm->jail};

	switch (dev.kind) {
	case LAUNCHER_DEV_BLK:
		*disk = def->disks[i];
		disk->image_fd = j->disk_fds[i]; /* the job's dup: each start dups it again */
		disk->fd = -1;
		dev.disk = disk;
		break;
	case LAUNCHER_DEV_NET: dev.net = &j->nets[j->restart_dev >= 0 ? 0 : i - def->ndisks]; break;
	case LAUNCHER_DEV_GPU: dev.gpu = &j->gpu; break;
	case LAUNCHER_DEV_SND: dev.snd = &j->snd; break;
	case LAUNCHER_DEV_INPUT: dev.input = &j->input; break;
	}
	return dev;
}

/* Start device i into *ret. A disk's image is a dup of the VM's kept one, for
 * this start only; a NIC's tap is open already. */
static enum api_err broker_launch_device(struct broker_launch_job *j, size_t i,
					 struct device_proc *ret)
{
	struct disk_opt disk;
	struct launcher_dev dev = broker_launch_dev(j, i, &disk);
	uint64_t memory = j->vm->def.memory;
	enum vm_exit e;
	int r;

	if (dev.kind != LAUNCHER_DEV_NET) {
		r = launcher_dev_open(&dev, j->err, sizeof(j->err), &e);
		if (r < 0)
			return broker_launch_err(e);
	}
	r = launcher_dev_start(&dev, j->mem_fd, memory, ret, j->err, sizeof(j->err));
	if (dev.kind == LAUNCHER_DEV_BLK)
		launcher_dev_close(&dev);
	return r < 0 ? broker_launch_err(VM_EXIT_ERROR) : API_OK;
}

/* Open (or create) NIC k's tap into j->nets[k]. */
static enum api_err broker_launch_open_tap(struct broker_launch_job *j, size_t k)
{
	struct launcher_dev dev = {.kind = LAUNCHER_DEV_NET, .net = &j->nets[k]};
	char why[400];
	enum vm_exit e;
	int r;

	broker_launch_net_copy(dev.net, &j->vm->def.nets[k].opt);
	r = launcher_dev_open(&dev, why, sizeof(why), &e);
	if (r < 0) {
		snprintf(j->err, sizeof(j->err), "nets[%zu]: %s", k, why);
		return broker_launch_err(e);
	}
	j->nnets = k + 1;
	return API_OK;
}

static enum api_err broker_launch_devices(struct broker_launch_job *j)
{
	const struct broker_vmdef *def = &j->vm->def;
	enum api_err e;

	for (j->ndevs = 0; j->ndevs < broker_vmdef_ndevs(def); j->ndevs++) {
		enum launcher_dev_kind kind = broker_vmdef_dev_kind(def, j->ndevs);

		if (kind == LAUNCHER_DEV_NET) {
			e = broker_launch_open_tap(j, j->ndevs - def->ndisks);
			if (e != API_OK)
				return e;
		}
		e = broker_launch_device(j, j->ndevs, &j->devs[j->ndevs]);
		if (e != API_OK) {
			if (kind == LAUNCHER_DEV_INPUT || kind == LAUNCHER_DEV_GPU ||
			    kind == LAUNCHER_DEV_SND)
				snprintf(j->err + strlen(j->err), sizeof(j->err) - strlen(j->err),
					 " (%s)", broker_vm_dev_kind_name(kind));
			else if (kind == LAUNCHER_DEV_NET)
				snprintf(j->err + strlen(j->err), sizeof(j->err) - strlen(j->err),
					 " (nets[%zu])", j->ndevs - def->ndisks);
			return e;
		}
	}
	return API_OK;
}

static void broker_launch_nets_close(struct broker_launch_job *j)
{
	for (size_t k = 0; k < j->nnets; k++)
		net_tap_close_opt(&j->nets[k]);
	j->nnets = 0;
}

/* In the worker, once the VM runs: its VNC server (cellvm-display) when it
 * has a gpu, a capture reader of the ring (BROKER_DISPLAY_READER_ID). A
 * display that cannot start is logged; the VM runs without viewers. */
static void broker_launch_display(struct broker_launch_job *j)
{
	const struct broker_vmdef *def = &j->vm->def;
	const struct input_opt *in = &def->input_opt;
	struct display_config cfg;
	int efd, r = 0;
	size_t g;

	j->display = (struct display_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
	if (!def->has_gpu)
		return;
	for (g = 0; g < j->ndevs && broker_vmdef_dev_kind(def, g) != LAUNCHER_DEV_GPU; g++)
		;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g == j->ndevs || efd < 0)
		r = efd < 0 ? -errno : -ENODEV;
	if (r == 0)
		r = launcher_reader_subscribe(j->devs[g].ctl, BROKER_DISPLAY_READER_ID, efd);
	if (r < 0)
		snprintf(j->display_err, sizeof(j->display_err), "its capture reader: %s",
			 strerror(-r));
	cfg = (struct display_config){.ring_fd = j->gpu.ring_fd,
				      .ring_size = j->gpu.ring_size,
				      .efd = efd,
				      /* Absolute where a tablet can take it (virtio or USB), else a
				       * mouse: PS/2 alone has no absolute pointer. */
				      .relative = def->has_input && !in->virtio && !in->usb,
				      .name = def->name,
				      .jail = &j->vm->jail};
	if (r == 0)
		(void)launcher_start_display(&cfg, &j->display, j->display_err,
					     sizeof(j->display_err));
	if (efd >= 0)
		close(efd);
}

/* In the worker: start the job's processes (a boot: guest RAM, the devices,
 * the core; a restart: one device). On failure nothing is left running or
 * open. */
static void broker_launch_run(struct broker_launch_job *j)
{
	const struct broker_vmdef *def = &j->vm->def;
	const char *kinds[LAUNCHER_MAX_DEVICES], *transports[LAUNCHER_MAX_DEVICES];
	struct launcher_dev ldevs[LAUNCHER_MAX_DEVICES];
	struct device_proc entries[LAUNCHER_MAX_DEVICES];
	struct disk_opt disks[DISK_MAX];
	struct core_config cfg;
	int r, status, n;

	if (j->restart_dev >= 0) {
		/* One device again, over the running VM's memory. */
		j->ndevs = 0;
		j->e = broker_launch_device(j, (size_t)j->restart_dev, &j->devs[0]);
		if (j->e == API_OK)
			j->ndevs = 1;
		broker_launch_nets_close(j); /* the dups: the VM keeps its taps open */
		return;
	}
	j->ndevs = 0;
	j->core = (struct core_proc){.pid = -1, .pidfd = -1, .chan = -1, .console = -1};
	j->mem_fd = launcher_create_memory(def->memory);
	if (j->mem_fd < 0) {
		snprintf(j->err, sizeof(j->err), "guest memory: %s", strerror(-j->mem_fd));
		j->e = API_INTERNAL;
		return;
	}
	j->input = def->input_opt; /* no fds yet: the device's open makes its link */
	j->gpu = def->gpu_opt;	   /* no ring yet: the device's open makes it */
	j->snd = def->snd_opt;	   /* the same: its audio ring */
	j->e = broker_launch_devices(j);
	if (j->e != API_OK)
		goto fail;
	for (size_t i = 0; i < j->ndevs; i++)
		ldevs[i] = broker_launch_dev(j, i, &disks[i < DISK_MAX ? i : 0]);
	n = launcher_dev_core_entries(ldevs, j->devs, j->ndevs, entries, kinds, transports,
				      LAUNCHER_MAX_DEVICES);
	if (n < 0) {
		snprintf(j->err, sizeof(j->err), "too many devices for the core");
		j->e = API_INVALID_ARGUMENT;
		goto fail;
	}
	cfg = (struct core_config){.mem_fd = j->mem_fd,
				   .kernel_fd = j->kernel_fd,
				   .initrd_fd = j->initrd_fd,
				   .cmdline = def->cmdline,
				   .has_firmware = def->firmware,
				   .no_acpi = def->no_acpi,
				   .cpus = def->cpus,
				   .memory = def->memory,
				   .devices = entries,
				   .device_kinds = kinds,
				   .device_transports = transports,
				   .ndevices = (size_t)n,
				   .restart_devices = true,
				   .jail = &j->vm->jail};
	r = launcher_start_core(&cfg, &j->core, j->err, sizeof(j->err), &status);
	if (r < 0) {
		j->e = broker_launch_err(launcher_exit_start_failed(r, status));
		goto fail;
	}
	/* The core holds the links now; the devices end when it does. */
	for (size_t i = 0; i < j->ndevs; i++) {
		close(j->devs[i].link);
		j->devs[i].link = -1;
		ipc_close_fds(j->devs[i].more_links, j->devs[i].nmore);
	}
	input_opt_close(&j->input);
	broker_launch_display(j);
	j->e = API_OK;
	return;
fail:
	for (size_t i = 0; i < j->ndevs; i++)
		launcher_stop_device(&j->devs[i], SIGKILL);
	input_opt_close(&j->input);
	gpu_opt_close(&j->gpu);
	snd_opt_close(&j->snd);
	j->ndevs = 0;
	broker_launch_nets_close(j);
	close(j->mem_fd);
	j->mem_fd = -1;
}

/* The job's dups of the VM's files (broker_launch_files_dup). */
static void broker_launch_files_close(struct broker_launch_job *j)
{
	int *fds[] = {&j->kernel_fd, &j->initrd_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	for (size_t i = 0; i < DISK_MAX; i++) {
		if (j->disk_fds[i] >= 0)
			close(j->disk_fds[i]);
		j->disk_fds[i] = -1;
	}
}

/* In the loop: dups of the files the VM's definition keeps (opened and
 * checked once, broker_vmdef.c), so the worker never opens a name and never
 * uses an fd the loop may close. A restart needs only its disk. */
static int broker_launch_files_dup(struct broker_launch_job *j)
{
	const struct broker_vmdef *def = &j->vm->def;
	int r;

	j->kernel_fd = j->initrd_fd = -1;
	for (size_t i = 0; i < DISK_MAX; i++)
		j->disk_fds[i] = -1;
	if (j->restart_dev < 0) {
		if (def->kernel_fd < 0 || (def->initrd[0] && def->initrd_fd < 0))
			return -EBADF; /* broker_vmdef_check_paths opens them first */
		j->kernel_fd = fcntl(def->kernel_fd, F_DUPFD_CLOEXEC, 3);
		if (j->kernel_fd < 0)
			goto fail;
		if (def->initrd_fd >= 0) {
			j->initrd_fd = fcntl(def->initrd_fd, F_DUPFD_CLOEXEC, 3);
			if (j->initrd_fd < 0)
				goto fail;
		}
	}
	for (size_t i = 0; i < def->ndisks; i++) {
		if (j->restart_dev >= 0 && (size_t)j->restart_dev != i)
			continue;
		if (def->disks[i].image_fd < 0) {
			broker_launch_files_close(j);
			return -EBADF;
		}
		j->disk_fds[i] = fcntl(def->disks[i].image_fd, F_DUPFD_CLOEXEC, 3);
		if (j->disk_fds[i] < 0)
			goto fail;
	}
	return 0;
fail:
	r = -errno;
	broker_launch_files_close(j);
	return r;
}

/* A job the broker's end refused before it started: nothing was opened but
 * the files (broker_launch_files_close) and a restart's dups. */
static void broker_launch_cancel(struct broker_launch_job *j)
{
	j->e = API_VM_BUSY;
	snprintf(j->err, sizeof(j->err), "the broker is shutting down");
	if (j->restart_dev >= 0 && j->mem_fd >= 0)
		close(j->mem_fd); /* the job's own dup */
	j->mem_fd = -1;
	j->ndevs = 0;
	broker_launch_nets_close(j); /* a restart's dups */
}

static void *broker_launch_work(void *arg)
{
	struct broker_launch_lane *l = arg;
	struct broker_launch_worker *w = l->w;
	struct broker_launch_job *j;

	for (;;) {
		pthread_mutex_lock(&l->lock);
		while (TAILQ_EMPTY(&l->jobs) && !l->closing)
			pthread_cond_wait(&l->cond, &l->lock);
		j = TAILQ_FIRST(&l->jobs);
		if (j)
			TAILQ_REMOVE(&l->jobs, j, link);
		pthread_mutex_unlock(&l->lock);
		if (!j)
			return NULL; /* closing, and nothing left */
		if (atomic_load(&w->cancel))
			broker_launch_cancel(j);
		else
			broker_launch_run(j);
		broker_launch_files_close(j);
		/* A pointer fits in PIPE_BUF: the write is atomic. */
		if (write(w->done[1], &j, sizeof(j)) != (ssize_t)sizeof(j))
			abort(); /* the loop's end of the pipe is open until we are joined */
	}
}

/* In the loop: hand j to one of the lane's threads. */
static void broker_launch_lane_put(struct broker_launch_lane *l, struct broker_launch_job *j)
{
	pthread_mutex_lock(&l->lock);
	TAILQ_INSERT_TAIL(&l->jobs, j, link);
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static int broker_launch_lane_start(struct broker_launch_worker *w, struct broker_launch_lane *l,
				    size_t nthreads)
{
	int r;

	assert(nthreads <= BROKER_BOOT_CONCURRENCY_MAX);
	TAILQ_INIT(&l->jobs);
	r = pthread_mutex_init(&l->lock, NULL);
	if (r != 0)
		return -r;
	r = pthread_cond_init(&l->cond, NULL);
	if (r != 0) {
		pthread_mutex_destroy(&l->lock);
		return -r;
	}
	l->w = w; /* from here broker_launch_lane_stop undoes it */
	for (l->nthreads = 0; l->nthreads < nthreads; l->nthreads++) {
		r = pthread_create(&l->threads[l->nthreads], NULL, broker_launch_work, l);
		if (r != 0)
			return -r; /* the caller stops the lane: its threads so far end */
	}
	return 0;
}

/* The lane's threads finish what was handed to them and end; joined. */
static void broker_launch_lane_stop(struct broker_launch_lane *l)
{
	if (!l->w)
		return;
	pthread_mutex_lock(&l->lock);
	l->closing = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; i < l->nthreads; i++)
		pthread_join(l->threads[i], NULL);
	assert(TAILQ_EMPTY(&l->jobs));
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	l->w = NULL;
}

/* In the loop: hand out queued boots while a slot is free, the tenants
 * asked round robin from w->next, each up to its share of the slots. */
static void broker_launch_dispatch(struct broker_launch_worker *w)
{
	struct broker_launch_job *j;
	size_t t, k;

	while (w->in_flight < w->limit && !atomic_load(&w->cancel)) {
		for (k = 0; k < BROKER_TENANT_MAX; k++) {
			t = (w->next + k) % BROKER_TENANT_MAX;
			if (!TAILQ_EMPTY(&w->queued[t]) && w->tenant_in_flight[t] < w->per_tenant)
				break;
		}
		if (k == BROKER_TENANT_MAX)
			return;
		j = TAILQ_FIRST(&w->queued[t]);
		TAILQ_REMOVE(&w->queued[t], j, link);
		j->slot_tenant = (int)t;
		w->in_flight++;
		w->tenant_in_flight[t]++;
		w->next = (t + 1) % BROKER_TENANT_MAX;
		broker_launch_lane_put(&w->boots, j);
	}
}

/* In the loop: a booted VM keeps its taps (broker_launch_taps_close in its
 * teardown closes them, also when broker_vm_boot_finish cannot install it). */
static void broker_launch_finish(struct broker_launch_job *j)
{
	struct broker_vm *vm = j->vm;

	if (j->restart_dev < 0 && j->e == API_OK) {
		assert(vm->ntaps == 0);
		for (size_t k = 0; k < j->nnets; k++)
			broker_launch_net_copy(&vm->taps[k], &j->nets[k]);
		vm->ntaps = j->nnets;
		j->nnets = 0;
		/* The ring too: the VM's until its teardown (broker_display.c). */
		vm->gpu = j->gpu;
		j->gpu.ring_fd = -1;
		vm->snd = j->snd;
		j->snd.ring_fd = j->snd.sink_fd = j->snd.source_fd = -1;
		vm->display = j->display;
		if (vm->def.has_gpu && j->display.pid < 0)
			log_warn("vm %s: its VNC server did not start (%s): no viewers", vm->id,
				 j->display_err);
	}
	broker_vm_boot_finish(j);
}

/* In the loop: a job came back; its boot slot is free again. */
static void broker_launch_done(struct broker_launch_worker *w, struct broker_launch_job *j)
{
	w->pending--;
	if (j->slot_tenant >= 0) {
		assert(w->in_flight > 0 && w->tenant_in_flight[j->slot_tenant] > 0);
		w->in_flight--;
		w->tenant_in_flight[j->slot_tenant]--;
		j->slot_tenant = -1;
	}
	broker_launch_finish(j);
}

static void broker_launch_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct broker_launch_worker *w = arg;
	struct broker_launch_job *j;

	(void)fd;
	(void)what;
	while (read(w->done[0], &j, sizeof(j)) == (ssize_t)sizeof(j))
		broker_launch_done(w, j);
	broker_launch_dispatch(w);
}

static void broker_launch_free(struct broker_launch_worker *w)
{
	/* Jobs handed out are done once the lanes are joined. */
	broker_launch_lane_stop(&w->boots);
	broker_launch_lane_stop(&w->restarts);
	if (w->ev)
		event_free(w->ev);
	for (int i = 0; i < 2; i++)
		if (w->done[i] >= 0)
			close(w->done[i]);
	free(w);
}

int broker_launch_start(struct broker *b)
{
	const struct broker_host_config *c = &b->tenants.host;
	struct broker_launch_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->b = b;
	w->done[0] = w->done[1] = -1;
	launcher_set_ready_timeout_ms((int)c->ready_timeout_ms); /* before the lanes' threads */
	w->limit = c->boot_concurrency ? c->boot_concurrency : 1;
	/* By default one slot stays for the other tenants. */
	w->per_tenant = c->boot_concurrency_per_tenant ? c->boot_concurrency_per_tenant
						       : (w->limit > 1 ? w->limit - 1 : 1);
	if (w->per_tenant > w->limit)
		w->per_tenant = w->limit;
	for (size_t t = 0; t < BROKER_TENANT_MAX; t++)
		TAILQ_INIT(&w->queued[t]);
	if (pipe2(w->done, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	w->ev = event_new(b->base, w->done[0], EV_READ | EV_PERSIST, broker_launch_on_done, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = broker_launch_lane_start(w, &w->boots, w->limit);
	if (r == 0)
		r = broker_launch_lane_start(w, &w->restarts, 1);
	if (r < 0)
		goto fail;
	b->launcher = w;
	return 0;
fail:
	broker_launch_free(w);
	return r;
}

/* Whether another VM holds (running, paused) or is opening (starting) the
 * tap called name. A multi-queue tap takes more queues from anyone who asks:
 * without this, a second VM would get part of the first one's traffic. */
static bool broker_launch_tap_taken(struct broker *b, const struct broker_vm *self,
				    const char *name)
{
	const struct broker_vm *vm;

	TAILQ_FOREACH(vm, &b->vms, link)
	{
		if (vm == self)
			continue;
		for (size_t k = 0; k < vm->ntaps; k++)
			if (strcmp(vm->taps[k].tap, name) == 0)
				return true;
		/* The launcher thread only reads a starting VM's definition. */
		for (size_t k = 0; vm->state == BROKER_VM_STARTING && k < vm->def.nnets; k++)
			if (strcmp(vm->def.nets[k].tap, name) == 0)
				return true;
	}
	return false;
}

/* Dups of a running NIC's tap fds for a restart of its device (the VM may
 * close its own while the thread works). */
static int broker_launch_dup_taps(struct broker_launch_job *j)
{
	const struct broker_vm *vm = j->vm;
	size_t k = (size_t)j->restart_dev - vm->def.ndisks;
	struct net_opt *n = &j->nets[0];

	if (k >= vm->ntaps)
		return -ENODEV;
	broker_launch_net_copy(n, &vm->taps[k]);
	for (size_t q = 0; q < n->nfds; q++) {
		n->fds[q] = fcntl(vm->taps[k].fds[q], F_DUPFD_CLOEXEC, 3);
		if (n->fds[q] < 0) {
			int r = -errno;
			n->nfds = q;
			net_tap_close_opt(n);
			return r;
		}
	}
	j->nnets = 1;
	return 0;
}

int broker_launch_submit(struct broker *b, struct broker_launch_job *j)
{
	struct broker_launch_worker *w = b->launcher;
	const struct broker_vmdef *def = &j->vm->def;
	int r;

	if (!w || atomic_load(&w->cancel))
		return -ESHUTDOWN;
	j->nnets = 0;
	j->slot_tenant = -1;
	r = broker_launch_files_dup(j);
	if (r < 0)
		return r;
	if (j->restart_dev >= 0 && (size_t)j->restart_dev >= def->ndisks) {
		r = broker_launch_dup_taps(j);
		if (r < 0) {
			broker_launch_files_close(j);
			return r;
		}
	}
	for (size_t k = 0; j->restart_dev < 0 && k < def->nnets; k++)
		if (broker_launch_tap_taken(b, j->vm, def->nets[k].tap)) {
			/* Answered like a failed boot, through the done pipe. */
			j->e = API_INVALID_ARGUMENT;
			snprintf(j->err, sizeof(j->err),
				 "nets[%zu]: tap %s is in use by another VM", k, def->nets[k].tap);
			j->mem_fd = -1;
			broker_launch_files_close(j);
			if (write(w->done[1], &j, sizeof(j)) != (ssize_t)sizeof(j))
				return -errno;
			w->pending++;
			return 0;
		}
	w->pending++;
	if (j->restart_dev >= 0) {
		broker_launch_lane_put(&w->restarts, j); /* never behind a boot */
		return 0;
	}
	assert(j->vm->tenant >= 0 && j->vm->tenant < BROKER_TENANT_MAX);
	TAILQ_INSERT_TAIL(&w->queued[j->vm->tenant], j, link);
	broker_launch_dispatch(w);
	return 0;
}

void broker_launch_taps_close(struct broker_vm *vm)
{
	for (size_t k = 0; k < vm->ntaps; k++)
		net_tap_close_opt(&vm->taps[k]);
	vm->ntaps = 0;
}

void broker_launch_stop(struct broker *b)
{
	struct broker_launch_worker *w = b->launcher;
	struct broker_launch_job *j;

	/* Stops in flight are answered too while the APIs stand (the
	 * registry's end reaps their processes). */
	broker_vm_stops_answer(b);
	if (!w)
		return;
	/* Boots not handed out are refused here, restarts not taken by their
	 * thread there; the ones running finish. */
	atomic_store(&w->cancel, true);
	for (size_t t = 0; t < BROKER_TENANT_MAX; t++)
		while ((j = TAILQ_FIRST(&w->queued[t])) != NULL) {
			TAILQ_REMOVE(&w->queued[t], j, link);
			broker_launch_cancel(j);
			broker_launch_files_close(j);
			broker_launch_done(w, j);
		}
	broker_launch_lane_stop(&w->boots);
	broker_launch_lane_stop(&w->restarts);
	/* Finish what came back in the loop's context (this is the loop thread). */
	while (w->pending && read(w->done[0], &j, sizeof(j)) == (ssize_t)sizeof(j))
		broker_launch_done(w, j);
	assert(w->pending == 0);
	broker_launch_free(w);
	b->launcher = NULL;
}
