/* A VM's sound in the broker: the snd device's audio ring, mapped read-only
 * for the REST WAV streams (broker_api_audio.c); audio readers subscribed
 * at the snd device (each gets the ring read-only and an eventfd of its
 * own); sound for the guest's capture streams handed to the device as a
 * pipe (AudioSource). Runs in the broker's loop. UNTRUSTED(snd process):
 * the ring's contents, read only through proto/audio_ring.h's checked
 * readers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "proto/audio_ring.h"
#include "proto/ipc.h"

/* The running snd device, or NULL. */
static struct broker_vm_device *broker_audio_dev(struct broker_vm *vm)
{
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].type == LAUNCHER_DEV_SND)
			return vm->devs[i].running && vm->devs[i].proc.ctl >= 0 ? &vm->devs[i]
										: NULL;
	return NULL;
}

int broker_audio_install(struct broker_vm *vm)
{
	struct cellvm_audio_geometry g;
	struct broker_vm_device *d = broker_audio_dev(vm);
	void *map;

	vm->audio_ring = NULL;
	vm->naudio = 0;
	memset(vm->audio_ids, 0, sizeof(vm->audio_ids));
	/* A device that stops reading its control channel (it runs
	 * guest-driven code) must not stall the loop: a full channel is
	 * -EAGAIN, answered VM_BUSY. Only this file writes to it. */
	if (d) {
		int r = fd_set_nonblock(d->proc.ctl, 1);

		if (r < 0)
			return r;
	}
	if (vm->snd.ring_fd < 0)
		return 0;
	map = mmap(NULL, vm->snd.ring_size, PROT_READ, MAP_SHARED, vm->snd.ring_fd, 0);
	if (map == MAP_FAILED) {
		log_err("vm %s: mapping the audio ring: %s", vm->id, strerror(errno));
		return -errno;
	}
	/* Made and sealed by snd_opt_open in this process: a bad header is a
	 * bug of ours, not the device's. */
	if (cellvm_audio_geometry_get(map, vm->snd.ring_size, &g) < 0)
		log_warn("vm %s: the audio ring's header is not written yet", vm->id);
	vm->audio_ring = map;
	return 0;
}

void broker_audio_teardown(struct broker_vm *vm)
{
	/* The REST streams read the broker's mapping: they end first. */
	rest_audio_vm_gone(vm->b, vm);
	rpc_audio_vm_gone(vm->b, vm);
	if (vm->audio_ring)
		munmap((void *)vm->audio_ring, vm->snd.ring_size);
	vm->audio_ring = NULL;
	snd_opt_close(&vm->snd);
	vm->naudio = 0;
}

enum api_err broker_audio_ready(struct broker_vm *vm, bool want_ring, char *err, size_t errlen)
{
	if (!vm->def.has_snd) {
		snprintf(err, errlen, "the VM has no sound card (its definition's snd)");
		return API_NOT_SUPPORTED;
	}
	if (want_ring && !(vm->def.snd_opt.sinks & SND_OPT_SINK_RING)) {
		snprintf(err, errlen, "the VM's sound goes nowhere (its snd's sink is null)");
		return API_NOT_SUPPORTED;
	}
	if (want_ring && vm->def.snd_opt.playback == 0) {
		snprintf(err, errlen, "the VM's sound card has no playback stream");
		return API_NOT_SUPPORTED;
	}
	if (!want_ring && vm->def.snd_opt.capture == 0) {
		snprintf(err, errlen, "the VM's sound card has no capture stream");
		return API_NOT_SUPPORTED;
	}
	if (vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) {
		snprintf(err, errlen, "the VM is %s", broker_vm_state_name(vm->state));
		return API_VM_BUSY;
	}
	if ((want_ring && !vm->audio_ring) || !broker_audio_dev(vm)) {
		snprintf(err, errlen, "the VM's snd device is gone");
		return API_VM_BUSY;
	}
	return API_OK;
}

enum api_err broker_audio_subscribe(struct broker_vm *vm, uint64_t *ret_id, int fds[2], char *hello,
				    size_t hello_len, char *err, size_t errlen)
{
	enum api_err e = broker_audio_ready(vm, true, err, errlen);
	int r;

	fds[0] = fds[1] = -1;
	if (e != API_OK)
		return e;
	if (vm->naudio >= SND_OPT_MAX_READERS) {
		snprintf(err, errlen, "the VM has %d audio readers already", SND_OPT_MAX_READERS);
		return API_QUOTA_EXCEEDED;
	}
	fds[0] = snd_opt_reader_fd(&vm->snd);
	/* Non-blocking: the device's write never waits on a reader. */
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0) {
		snprintf(err, errlen, "audio reader: %s", strerror(fds[0] < 0 ? -fds[0] : errno));
		ipc_close_fds(fds, 2);
		return API_INTERNAL;
	}
	r = launcher_reader_subscribe(broker_audio_dev(vm)->proc.ctl, ++vm->audio_next_id, fds[1]);
	if (r < 0) {
		snprintf(err, errlen, "subscribing at the snd device: %s", strerror(-r));
		ipc_close_fds(fds, 2);
		return API_VM_BUSY;
	}
	vm->naudio++;
	*ret_id = vm->audio_next_id;
	broker_adopt_reader(vm, vm->audio_ids, SND_OPT_MAX_READERS, 0, *ret_id);
	if (hello)
		snd_opt_reader_hello(&vm->snd, hello, hello_len);
	return API_OK;
}

void broker_audio_unsubscribe(struct broker_vm *vm, uint32_t boot, uint64_t id)
{
	struct broker_vm_device *d;

	/* A reader of an earlier boot: that device and its count are gone. */
	if (boot != vm->boots || !vm->audio_ring)
		return;
	if (vm->naudio)
		vm->naudio--;
	broker_adopt_reader(vm, vm->audio_ids, SND_OPT_MAX_READERS, id, 0);
	d = broker_audio_dev(vm);
	if (d)
		(void)launcher_reader_unsubscribe(d->proc.ctl, id);
}

enum api_err broker_audio_source(struct broker_vm *vm, int *ret_fd, char *err, size_t errlen)
{
	enum api_err e = broker_audio_ready(vm, false, err, errlen);
	int p[2], r;

	*ret_fd = -1;
	if (e != API_OK)
		return e;
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return API_INTERNAL;
	}
	r = snd_opt_audio_source(broker_audio_dev(vm)->proc.ctl, ++vm->audio_next_id, p[0]);
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		snprintf(err, errlen, "handing the sound to the snd device: %s", strerror(-r));
		return API_VM_BUSY;
	}
	*ret_fd = p[1];
	return API_OK;
}
