/* A VM's display in the broker: the gpu's capture ring, mapped read-only
 * for screenshots, and capture readers subscribed at the gpu device (each
 * gets the ring read-only and an eventfd of its own). Runs in the broker's
 * loop. UNTRUSTED(gpu process): the ring's contents, read only through the
 * checked readers (proto/capture_ring.h, common/screenshot.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/screenshot.h"
#include "proto/ipc.h"

int broker_display_install(struct broker_vm *vm)
{
	void *map;

	vm->ring = NULL;
	vm->ncapture = 0;
	if (vm->gpu.ring_fd < 0)
		return 0;
	map = mmap(NULL, vm->gpu.ring_size, PROT_READ, MAP_SHARED, vm->gpu.ring_fd, 0);
	if (map == MAP_FAILED) {
		log_err("vm %s: mapping the capture ring: %s", vm->id, strerror(errno));
		return -errno;
	}
	vm->ring = map;
	return 0;
}

void broker_display_teardown(struct broker_vm *vm)
{
	if (vm->ring)
		munmap((void *)vm->ring, vm->gpu.ring_size);
	vm->ring = NULL;
	gpu_opt_close(&vm->gpu);
	vm->ncapture = 0;
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
	if (vm->ncapture >= GPU_OPT_MAX_READERS) {
		snprintf(err, errlen, "the VM has %d capture readers already", GPU_OPT_MAX_READERS);
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
	r = gpu_opt_subscribe(d->proc.ctl, ++vm->capture_next_id, fds[1]);
	if (r < 0) {
		snprintf(err, errlen, "subscribing at the gpu device: %s", strerror(-r));
		ipc_close_fds(fds, 2);
		return API_VM_BUSY;
	}
	vm->ncapture++;
	*ret_id = vm->capture_next_id;
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
	d = broker_display_dev(vm);
	if (d)
		(void)gpu_opt_unsubscribe(d->proc.ctl, id);
}
