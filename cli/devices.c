/* cellvm run's devices; see devices.h. The options are user input, checked
 * here as they come in (disk_opt.c and net_opt.c parse them); the devices'
 * exit statuses and counters are their word, only logged. */
#include "cli/devices.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "launcher/launcher_fault.h"
#include "launcher/net_tap.h"
#include "proto/devshm.h"
#include "proto/dispatch.h"
#include "proto/ipc.h"
#include "proto/vm_exit.h"

/* Tap queues one device process can take (one backend fd each). */
#define DEVICES_MAX_NET_QUEUES                                                                     \
	(NET_OPT_MAX_QUEUES < LAUNCHER_MAX_BACKENDS ? NET_OPT_MAX_QUEUES : LAUNCHER_MAX_BACKENDS)

int devices_add_disk(struct devices *ds, const char *arg)
{
	char err[512];
	int r;

	if (ds->ndisks == DISK_MAX || ds->ndisks + ds->nnets == LAUNCHER_MAX_DISKS_NICS) {
		log_err("--disk: at most %d disks, %d disks and NICs in all", DISK_MAX,
			LAUNCHER_MAX_DISKS_NICS);
		return VM_EXIT_BAD_INPUT;
	}
	r = disk_opt_parse(arg, &ds->disks[ds->ndisks], err, sizeof(err));
	if (r < 0) {
		log_err("--disk: %s", err);
		return VM_EXIT_BAD_INPUT;
	}
	ds->ndisks++;
	return 0;
}

int devices_add_net(struct devices *ds, const char *arg)
{
	struct net_opt *n = &ds->nets[ds->nnets];
	char err[512];
	int r;

	if (ds->ndisks + ds->nnets == LAUNCHER_MAX_DISKS_NICS) {
		log_err("--net: at most %d disks and NICs in all", LAUNCHER_MAX_DISKS_NICS);
		return VM_EXIT_BAD_INPUT;
	}
	r = net_opt_parse(arg, n, err, sizeof(err));
	if (r < 0) {
		log_err("--net: %s", err);
		return VM_EXIT_BAD_INPUT;
	}
	if (n->queues > DEVICES_MAX_NET_QUEUES) {
		log_err("--net: queues=%u, but a NIC takes at most %d queue pairs in this build",
			n->queues, DEVICES_MAX_NET_QUEUES);
		return VM_EXIT_BAD_INPUT;
	}
	for (size_t i = 0; i < ds->nnets; i++)
		if (strcmp(ds->nets[i].tap, n->tap) == 0) {
			log_err("--net: tap=%s is given to two NICs", n->tap);
			return VM_EXIT_BAD_INPUT;
		}
	ds->nnets++;
	return 0;
}

int devices_add_input(struct devices *ds, const char *arg)
{
	char err[256];
	int r;

	if (ds->has_input) {
		log_err("--input: given twice");
		return VM_EXIT_BAD_INPUT;
	}
	if (ds->ndisks + ds->nnets + ds->has_gpu + ds->has_snd + 1 > LAUNCHER_MAX_DEVICES) {
		log_err("--input: no room for another device");
		return VM_EXIT_BAD_INPUT;
	}
	r = input_opt_parse(arg, &ds->input, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return VM_EXIT_BAD_INPUT;
	}
	ds->has_input = true;
	return 0;
}

int devices_add_gpu(struct devices *ds, const char *arg)
{
	char err[256];
	int r;

	if (ds->has_gpu) {
		log_err("--gpu: given twice");
		return VM_EXIT_BAD_INPUT;
	}
	if (ds->ndisks + ds->nnets + ds->has_input + ds->has_snd + 1 > LAUNCHER_MAX_DEVICES) {
		log_err("--gpu: no room for another device");
		return VM_EXIT_BAD_INPUT;
	}
	r = gpu_opt_parse(arg, &ds->gpu, err, sizeof(err));
	if (r < 0) {
		log_err("--gpu: %s", err);
		return VM_EXIT_BAD_INPUT;
	}
	ds->has_gpu = true;
	return 0;
}

int devices_add_snd(struct devices *ds, const char *arg)
{
	char err[512];
	int r;

	if (ds->has_snd) {
		log_err("--snd: given twice");
		return VM_EXIT_BAD_INPUT;
	}
	if (ds->ndisks + ds->nnets + ds->has_gpu + ds->has_input + 1 > LAUNCHER_MAX_DEVICES) {
		log_err("--snd: no room for another device");
		return VM_EXIT_BAD_INPUT;
	}
	r = snd_opt_parse(arg, &ds->snd, err, sizeof(err));
	if (r < 0) {
		log_err("--snd: %s", err);
		return VM_EXIT_BAD_INPUT;
	}
	ds->has_snd = true;
	return 0;
}

int devices_add_usb_device(struct devices *ds, const char *arg)
{
	char err[256];
	int r;

	if (!ds->has_usb_device)
		input_opt_init(&ds->usb);
	r = input_opt_parse_usb(arg, &ds->usb, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return VM_EXIT_BAD_INPUT;
	}
	ds->has_usb_device = true;
	return 0;
}

int devices_check_usb(struct devices *ds)
{
	if (!ds->has_usb_device)
		return 0;
	if (!ds->has_input || !ds->input.usb) {
		log_err("--usb-device needs --input with usb (e.g. --input ps2,usb)");
		return VM_EXIT_BAD_INPUT;
	}
	memcpy(ds->input.usb_ids, ds->usb.usb_ids, sizeof(ds->input.usb_ids));
	return 0;
}

struct device_proc *devices_gpu(struct devices *ds)
{
	size_t i = ds->ndisks + ds->nnets;

	if (!ds->has_gpu || i >= ds->n || ds->procs[i].pid <= 0)
		return NULL;
	return &ds->procs[i];
}

struct device_proc *devices_snd(struct devices *ds)
{
	size_t i = ds->ndisks + ds->nnets + ds->has_gpu;

	if (!ds->has_snd || i >= ds->n || ds->procs[i].pid <= 0)
		return NULL;
	return &ds->procs[i];
}

struct device_proc *devices_input(struct devices *ds)
{
	size_t i = ds->ndisks + ds->nnets + ds->has_gpu + ds->has_snd;

	if (!ds->has_input || i >= ds->n || ds->procs[i].pid <= 0)
		return NULL;
	return &ds->procs[i];
}

/* Open device i's image or tap (kept open for the VM's life, so a restarted
 * device gets the same ones) and make its counters page. Returns 0 or an exit
 * status. */
static int devices_open(struct devices *ds, size_t i)
{
	bool is_disk = i < ds->ndisks;
	bool is_gpu = ds->has_gpu && i == ds->ndisks + ds->nnets;
	bool is_snd = ds->has_snd && i == ds->ndisks + ds->nnets + ds->has_gpu;
	bool is_input = ds->has_input && i == ds->ndisks + ds->nnets + ds->has_gpu + ds->has_snd;
	bool is_net = !is_disk && !is_gpu && !is_snd && !is_input;
	struct launcher_dev *d = &ds->dev[i];
	struct net_opt *n = is_net ? &ds->nets[i - ds->ndisks] : NULL;
	char err[512], mac[18];
	enum vm_exit e;
	int r;

	if (is_disk)
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_BLK, .disk = &ds->disks[i]};
	else if (is_input)
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_INPUT, .input = &ds->input};
	else if (is_gpu)
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_GPU, .gpu = &ds->gpu};
	else if (is_snd)
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_SND, .snd = &ds->snd};
	else
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_NET, .net = n};
	if (!is_disk && !is_net)
		snprintf(ds->names[i], sizeof(ds->names[i]), "%s", launcher_dev_name(d));
	else
		snprintf(ds->names[i], sizeof(ds->names[i]), "%s %zu", is_disk ? "disk" : "net",
			 is_disk ? i : i - ds->ndisks);
	d->debug = ds->cfg->debug;
#ifdef CELLVM_TEST_HOOKS
	/* Test builds: the device's first process is to misbehave. */
	if (getenv("CELLVM_TEST_DEVICE_FLAGS"))
		d->test_flags = (uint32_t)strtoul(getenv("CELLVM_TEST_DEVICE_FLAGS"), NULL, 0);
#endif
	r = launcher_stats_create(&ds->stats[i]);
	if (r < 0) {
		log_err("device counters: %s", strerror(-r));
		return VM_EXIT_ERROR;
	}
	d->stats_fd = r;
	r = launcher_dev_open(d, err, sizeof(err), &e);
	if (r < 0) {
		log_err("%s: %s",
			is_disk	 ? "--disk"
			: is_gpu ? "--gpu"
			: is_snd ? "--snd"
				 : "--net",
			err);
		return e;
	}
	if (n) {
		net_opt_format_mac(n->mac, mac, sizeof(mac));
		log_info("net %zu: tap %s (%s), MAC %s%s, %u queue pair%s", i - ds->ndisks, n->tap,
			 n->created ? "created" : "existing", mac, n->mac_given ? "" : " (random)",
			 n->queues, n->queues > 1 ? "s" : "");
	}
	return 0;
}

/* Log device i's counters, then close its page and its image or tap. */
static void devices_close(struct devices *ds, size_t i)
{
	if (ds->stats[i]) {
		struct devproc_stats c = {0};
		launcher_stats_read(ds->stats[i], &c);
		if (ds->dev[i].kind == LAUNCHER_DEV_SND)
			/* bytes_in: what the guest played; bytes_out: what it
			 * recorded (as a disk's are written and read). */
			log_info("snd: %llu requests, %llu bytes played, %llu recorded, %llu "
				 "refused",
				 (unsigned long long)c.requests, (unsigned long long)c.bytes_in,
				 (unsigned long long)c.bytes_out, (unsigned long long)c.errors);
		else if (ds->dev[i].kind == LAUNCHER_DEV_GPU)
			log_info("gpu: %llu commands, %llu frames, %llu refused",
				 (unsigned long long)c.requests, (unsigned long long)c.bytes_out,
				 (unsigned long long)c.errors);
		else if (ds->dev[i].kind == LAUNCHER_DEV_INPUT)
			log_info("input: %llu events injected, %llu delivered, %llu refused",
				 (unsigned long long)c.bytes_in, (unsigned long long)c.requests,
				 (unsigned long long)c.errors);
		else if (i < ds->ndisks)
			log_info("disk %zu: %llu requests, %llu bytes read, %llu written, %llu "
				 "failed",
				 i, (unsigned long long)c.requests, (unsigned long long)c.bytes_out,
				 (unsigned long long)c.bytes_in, (unsigned long long)c.errors);
		else
			log_info("net %zu: %llu frames, %llu bytes received, %llu sent, %llu "
				 "dropped",
				 i - ds->ndisks, (unsigned long long)c.requests,
				 (unsigned long long)c.bytes_out, (unsigned long long)c.bytes_in,
				 (unsigned long long)c.errors);
	}
	launcher_stats_close(ds->dev[i].stats_fd, ds->stats[i]);
	ds->dev[i].stats_fd = -1;
	ds->stats[i] = NULL;
	launcher_dev_close(&ds->dev[i]);
}

int devices_start(struct devices *ds, const struct core_config *cfg)
{
	size_t total = ds->ndisks + ds->nnets + ds->has_gpu + ds->has_snd + ds->has_input;
	char err[512];
	int r;

	ds->cfg = cfg;
	for (ds->n = 0; ds->n < total; ds->n++) {
		size_t i = ds->n;

		r = devices_open(ds, i);
		if (r)
			return r;
		r = launcher_dev_start(&ds->dev[i], cfg->mem_fd, cfg->memory, &ds->procs[i], err,
				       sizeof(err));
		if (r < 0) {
			log_err("%s: %s", ds->names[i], err);
			devices_close(ds, i);
			return VM_EXIT_ERROR;
		}
	}
	return 0;
}

int devices_core_config(struct devices *ds, struct core_config *cfg, const char **kinds,
			const char **transports)
{
	int n = launcher_dev_core_entries(ds->dev, ds->procs, ds->n, ds->core_entries, kinds,
					  transports, LAUNCHER_MAX_DEVICES);

	if (n < 0) {
		log_err("too many devices for the core (%d at most)", LAUNCHER_MAX_DEVICES);
		return VM_EXIT_BAD_INPUT;
	}
	cfg->devices = ds->core_entries;
	cfg->device_kinds = kinds;
	cfg->device_transports = transports;
	cfg->ndevices = (size_t)n;
	return 0;
}

void devices_supervise(struct devices *ds, struct core_proc *core)
{
	uint64_t now = supervise_now_ms();

	ds->core = core;
	/* The core holds the links now; the devices end when it does. */
	for (size_t i = 0; i < ds->n; i++) {
		close(ds->procs[i].link);
		ds->procs[i].link = -1;
		ipc_close_fds(ds->procs[i].more_links, ds->procs[i].nmore);
		supervise_init(&ds->sup[i], now);
	}
	if (ds->has_input)
		input_opt_close(&ds->input); /* the PS/2 and xHCI ends are the processes' now */
}

size_t devices_poll_fill(struct devices *ds, struct pollfd *pfd, int *timeout_ms)
{
	uint64_t now = supervise_now_ms();
	size_t k;

	for (size_t i = 0; i < ds->n; i++) {
		int64_t wait = supervise_wait_ms(&ds->sup[i], now);

		pfd[i] = (struct pollfd){.fd = ds->procs[i].pidfd, .events = POLLIN};
		if (wait >= 0 && (*timeout_ms < 0 || wait < *timeout_ms))
			*timeout_ms = (int)wait;
	}
	pfd[ds->n] = (struct pollfd){.fd = ds->core && !ds->core_ending ? ds->core->chan : -1,
				     .events = POLLIN};
	pfd[ds->n + 1] = (struct pollfd){.fd = ds->inject.listen_fd, .events = POLLIN};
	pfd[ds->n + 2] = (struct pollfd){.fd = ds->audio_in.listen_fd, .events = POLLIN};
	k = ds->n + 3;
	k += capsock_poll_fill(&ds->capsock, pfd + k);
	k += capsock_poll_fill(&ds->audsock, pfd + k);
	return k;
}

/* The core's channel is readable: a device it dropped while the process
 * lives is killed (then reaped and restarted as after a crash); a core that
 * breaks the protocol is killed, which ends the VM. */
static void devices_on_core_chan(struct devices *ds)
{
	struct launcher_fault f;
	int r = launcher_core_recv(ds->core->chan, ds->n, ds->core_pending, &f);

	if (r == 0) {
		ds->core_ending = true;
		return;
	}
	if (r == -EAGAIN)
		return;
	if (r < 0) {
		log_err("cellvm-core broke the protocol (%s): stopping the VM",
			dispatch_strerror(r));
		ds->core_ending = true;
		kill(ds->core->pid, SIGKILL);
		return;
	}
	if (f.msg == LAUNCHER_MSG_POWER_BUTTON) {
		ds->core_pending = LAUNCHER_CORE_NONE;
		if (f.guest_listens) {
			log_info("the guest listens to the ACPI power button: waiting for it to "
				 "power off (another SIGTERM ends the VM at once)");
			return;
		}
		log_info("the guest does not listen to the ACPI power button (no ACPI driver): "
			 "ending the VM");
		kill(ds->core->pid, SIGKILL);
		return;
	}
	if (ds->procs[f.index].pid <= 0 || !supervise_fault(&ds->sup[f.index], f.restarts))
		return; /* about a process already gone or replaced */
	r = launcher_fault_kill(&ds->procs[f.index]);
	if (r > 0)
		log_warn("%s: the core dropped the device (%s): its process is killed and "
			 "restarted",
			 ds->names[f.index], f.detail);
	else if (r < 0)
		log_err("%s: cannot kill the device process the core dropped: %s",
			ds->names[f.index], strerror(-r));
}

/* Device i's process ended (or a restart of it failed): reap it and do what
 * the policy says. */
static void devices_died(struct devices *ds, size_t i)
{
	struct supervise_dev *d = &ds->sup[i];
	uint64_t now = supervise_now_ms();
	int st = launcher_stop_device(&ds->procs[i], SIGKILL);

	if (!launcher_dev_restartable(&ds->dev[i])) {
		if (!ds->core_ending)
			log_err("%s: device process ended (status %d); it is not restarted, the "
				"VM goes on without it",
				ds->names[i], st);
		d->gone = true;
		return;
	}
	switch (supervise_died(d, st, now)) {
	case SUPERVISE_VM_ENDING: break;
	case SUPERVISE_GIVE_UP:
		log_err("%s: device process ended (status %d) after %u restarts in a row: "
			"giving up, the guest is told the device needs a reset",
			ds->names[i], st, d->in_a_row);
		(void)launcher_core_device_gone(ds->core, (uint32_t)i);
		break;
	case SUPERVISE_RESTART:
		log_warn("%s: device process ended (status %d): restarting in %lld ms",
			 ds->names[i], st, (long long)supervise_wait_ms(d, now));
		break;
	}
}

static void devices_restart(struct devices *ds, size_t i)
{
	struct launcher_dev *dev = &ds->dev[i];
	char err[512];
	int r;

	supervise_restarting(&ds->sup[i], supervise_now_ms());
	/* A test that made the first process misbehave wants the next to work. */
	dev->test_flags = 0;
	r = launcher_dev_start(dev, ds->cfg->mem_fd, ds->cfg->memory, &ds->procs[i], err,
			       sizeof(err));
	if (r < 0)
		log_err("%s", err);
	else
		r = launcher_core_device_restarted(ds->core, (uint32_t)i, &ds->procs[i]);
	if (r < 0) {
		/* Counted as a crash: back off and try again, up to the limit. */
		log_err("%s: restart failed: %s", ds->names[i], strerror(-r));
		if (ds->procs[i].pid > 0)
			(void)launcher_stop_device(&ds->procs[i], SIGKILL);
		devices_died(ds, i);
		return;
	}
	supervise_restarted(&ds->sup[i]);
	log_info("%s: device process restarted (%u so far)", ds->names[i], ds->sup[i].restarts);
}

void devices_poll_ready(struct devices *ds, const struct pollfd *pfd)
{
	uint64_t now;

	if (pfd[ds->n].fd >= 0 && pfd[ds->n].revents)
		devices_on_core_chan(ds);
	if (pfd[ds->n + 1].fd >= 0 && pfd[ds->n + 1].revents)
		inject_serve(&ds->inject, devices_input(ds));
	if (pfd[ds->n + 2].fd >= 0 && pfd[ds->n + 2].revents)
		audiosock_serve(&ds->audio_in, ds->snd.capture ? devices_snd(ds) : NULL);
	capsock_poll_ready(&ds->capsock, pfd + ds->n + 3, devices_gpu(ds));
	capsock_poll_ready(&ds->audsock, pfd + ds->n + 4 + CAPSOCK_MAX, devices_snd(ds));
	now = supervise_now_ms();
	for (size_t i = 0; i < ds->n; i++) {
		if (ds->sup[i].gone)
			continue;
		if (pfd[i].fd >= 0 && pfd[i].revents)
			devices_died(ds, i);
		else if (supervise_wait_ms(&ds->sup[i], now) == 0)
			devices_restart(ds, i);
	}
}

void devices_stop(struct devices *ds)
{
	for (size_t i = 0; i < ds->n; i++) {
		/* Each device gets a second to notice the core is gone, then SIGKILL
		 * (a device is PID 1 of its namespace: SIGTERM would not reach it). */
		int st = launcher_stop_device(&ds->procs[i], SIGKILL);
		if (st > 0 && st != 128 + SIGKILL)
			log_warn("%s: device process ended with status %d", ds->names[i], st);
		devices_close(ds, i);
	}
	ds->n = 0;
}
