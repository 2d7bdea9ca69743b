/* Starting a VM's processes off the broker's loop. Booting waits for each
 * device and the core to report Ready (milliseconds, at most the launcher's
 * timeout each); one worker thread does those waits through the launcher so
 * the loop keeps serving every other client. The worker only calls the
 * launcher on the job it is given and reads the VM's definition, which does
 * not change while the VM is "starting"; every registry change stays in the
 * loop (broker_vm.c finishes the job there). The thread lives as long as the
 * broker: the launcher's children get PR_SET_PDEATHSIG, which fires when the
 * thread that forked them ends. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/gmem.h"

struct launcher_worker {
	struct broker *b;
	pthread_t thread;
	int jobs[2], done[2]; /* pipes of job pointers: to the worker, back to the loop */
	struct event *ev;
	atomic_bool cancel;
	size_t pending;
};

/* Start disk i's device process into *ret. */
static enum api_err launch_device(struct launch_job *j, size_t i, struct device_proc *ret)
{
	const struct vm_def *def = &j->vm->def;
	uint64_t low = def->memory < GMEM_MMIO_HOLE_START ? def->memory : GMEM_MMIO_HOLE_START;
	struct disk_opt disk = def->disks[i];
	struct device_config dc = {.kind = "blk"};
	int r;

	r = disk_opt_open(&disk, j->err, sizeof(j->err));
	if (r < 0)
		return r == -ENOENT || r == -EACCES || r == -EINVAL ? API_INVALID_ARGUMENT
								    : API_INTERNAL;
	dc.backend_fds[0] = disk.fd;
	dc.nbackend = 1;
	dc.blk = &disk.blk;
	r = launcher_start_device(&dc, j->mem_fd, def->memory, low, ret, j->err, sizeof(j->err));
	disk_opt_close(&disk);
	return r < 0 ? API_INTERNAL : API_OK;
}

static enum api_err launch_devices(struct launch_job *j)
{
	enum api_err e;

	for (j->ndevs = 0; j->ndevs < j->vm->def.ndisks; j->ndevs++) {
		e = launch_device(j, j->ndevs, &j->devs[j->ndevs]);
		if (e != API_OK)
			return e;
	}
	return API_OK;
}

/* In the worker: everything vm_boot used to do between the checks and the
 * events. On failure nothing is left running or open. */
static void launch_run(struct launch_job *j)
{
	const struct vm_def *def = &j->vm->def;
	const char *kinds[DISK_MAX], *transports[DISK_MAX];
	struct core_config cfg;
	int r, status;

	if (j->restart_dev >= 0) {
		/* One device again, over the running VM's memory. */
		j->ndevs = 0;
		j->e = launch_device(j, (size_t)j->restart_dev, &j->devs[0]);
		if (j->e == API_OK)
			j->ndevs = 1;
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
	j->e = launch_devices(j);
	if (j->e != API_OK)
		goto fail;
	for (size_t i = 0; i < j->ndevs; i++) {
		kinds[i] = "blk";
		transports[i] = def->disks[i].transport ? def->disks[i].transport : "pci";
	}
	cfg = (struct core_config){.mem_fd = j->mem_fd,
				   .kernel = def->kernel,
				   .initrd = def->initrd[0] ? def->initrd : NULL,
				   .cmdline = def->cmdline,
				   .cpus = def->cpus,
				   .memory = def->memory,
				   .devices = j->devs,
				   .device_kinds = kinds,
				   .device_transports = transports,
				   .ndevices = j->ndevs,
				   .restart_devices = true};
	r = launcher_start_core(&cfg, &j->core, j->err, sizeof(j->err), &status);
	if (r < 0) {
		/* 2: the core refused the kernel, initrd or command line. */
		j->e = status == 2 || r == -ENOENT || r == -EACCES || r == -EISDIR
			       ? API_INVALID_ARGUMENT
			       : API_INTERNAL;
		goto fail;
	}
	/* The core holds the links now; the devices end when it does. */
	for (size_t i = 0; i < j->ndevs; i++) {
		close(j->devs[i].link);
		j->devs[i].link = -1;
	}
	j->e = API_OK;
	return;
fail:
	for (size_t i = 0; i < j->ndevs; i++)
		launcher_stop_device(&j->devs[i], SIGKILL);
	j->ndevs = 0;
	close(j->mem_fd);
	j->mem_fd = -1;
}

static void *launch_worker(void *arg)
{
	struct launcher_worker *w = arg;
	struct launch_job *j;

	while (read(w->jobs[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		if (atomic_load(&w->cancel)) {
			j->e = API_VM_BUSY;
			snprintf(j->err, sizeof(j->err), "the broker is shutting down");
			if (j->restart_dev >= 0 && j->mem_fd >= 0)
				close(j->mem_fd); /* the job's own dup */
			j->mem_fd = -1;
			j->ndevs = 0;
		} else {
			launch_run(j);
		}
		/* A pointer fits in PIPE_BUF: the write is atomic. */
		if (write(w->done[1], &j, sizeof(j)) != (ssize_t)sizeof(j))
			abort(); /* the loop's end of the pipe is open until we are joined */
	}
	return NULL;
}

static void launch_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct launcher_worker *w = arg;
	struct launch_job *j;

	while (read(w->done[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		w->pending--;
		vm_boot_finish(j);
	}
}

int launch_start(struct broker *b)
{
	struct launcher_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->b = b;
	w->jobs[0] = w->jobs[1] = w->done[0] = w->done[1] = -1;
	if (pipe2(w->jobs, O_CLOEXEC) < 0 || pipe2(w->done, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	w->ev = event_new(b->base, w->done[0], EV_READ | EV_PERSIST, launch_on_done, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = -pthread_create(&w->thread, NULL, launch_worker, w);
	if (r < 0)
		goto fail;
	b->launcher = w;
	return 0;
fail:
	if (w->ev)
		event_free(w->ev);
	for (int i = 0; i < 2; i++) {
		if (w->jobs[i] >= 0)
			close(w->jobs[i]);
		if (w->done[i] >= 0)
			close(w->done[i]);
	}
	free(w);
	return r;
}

int launch_submit(struct broker *b, struct launch_job *j)
{
	struct launcher_worker *w = b->launcher;

	if (!w)
		return -ESHUTDOWN;
	if (write(w->jobs[1], &j, sizeof(j)) != (ssize_t)sizeof(j))
		return -errno;
	w->pending++;
	return 0;
}

void launch_stop(struct broker *b)
{
	struct launcher_worker *w = b->launcher;
	struct launch_job *j;

	if (!w)
		return;
	/* Jobs not started yet are cancelled; the one running finishes. */
	atomic_store(&w->cancel, true);
	close(w->jobs[1]);
	pthread_join(w->thread, NULL);
	/* Finish what came back in the loop's context (this is the loop thread). */
	(void)fd_set_nonblock(w->done[0], 1);
	while (w->pending && read(w->done[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		w->pending--;
		vm_boot_finish(j);
	}
	event_free(w->ev);
	close(w->jobs[0]);
	close(w->done[0]);
	close(w->done[1]);
	free(w);
	b->launcher = NULL;
}
