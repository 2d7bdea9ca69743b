/* The devices of the VM that `cellvm run` runs: their --disk, --net, --input
 * and --usb-device options (user input, checked as they are added), their
 * open backends and counters pages, their processes, and their supervision
 * from the console relay's poll loop (the policy is launcher/supervise.c's).
 * Runs in the launcher process. */
#pragma once
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/audiosock.h"
#include "cli/capsock.h"
#include "cli/inject.h"
#include "launcher/disk_opt.h"
#include "launcher/launcher.h"
#include "launcher/launcher_dev.h"
#include "launcher/net_opt.h"
#include "launcher/supervise.h"

struct devproc_stats;

/* pollfd entries devices_poll_fill may fill: a pidfd per device, the
 * core's channel, the input socket, the capture and audio sockets and their
 * readers, the audio input socket. */
#define DEVICES_POLL_MAX (LAUNCHER_MAX_DEVICES + 5 + 2 * CAPSOCK_MAX)

struct devices {
	struct disk_opt disks[DISK_MAX];
	size_t ndisks;
	struct net_opt nets[LAUNCHER_MAX_DEVICES];
	size_t nnets;
	struct input_opt input; /* --input: one input device, after the others */
	bool has_input;
	/* --usb-device: parsed as it comes (before or after --input) into
	 * usb_ids only, then moved into input by devices_check_usb. */
	struct input_opt usb;
	bool has_usb_device;
	struct inject inject; /* --input-socket (listen_fd -1: none) */
	struct gpu_opt gpu;   /* --gpu: the display, after the NICs */
	bool has_gpu;
	struct capsock capsock; /* --capture-socket (listen_fd -1: none) */
	struct snd_opt snd;	/* --snd: the sound card, after the gpu */
	bool has_snd;
	struct capsock audsock;	   /* --audio-socket (listen_fd -1: none) */
	struct audiosock audio_in; /* --audio-input-socket (listen_fd -1: none) */
	/* Disks, then NICs (their order on the bus), then the gpu, the sound
	 * card and the input device, from here on. Each
	 * device's counters page (dev[i].stats_fd) is kept across its restarts. */
	struct launcher_dev dev[LAUNCHER_MAX_DEVICES];
	const struct devproc_stats *stats[LAUNCHER_MAX_DEVICES];
	struct device_proc procs[LAUNCHER_MAX_DEVICES];
	struct supervise_dev sup[LAUNCHER_MAX_DEVICES];
	char names[LAUNCHER_MAX_DEVICES][16]; /* "disk 0", "net 1": for logs */
	size_t n;			      /* started */
	/* what a restart needs: the VM's guest RAM and its core */
	const struct core_config *cfg;
	struct core_proc *core;
	/* what the core is told: each device's links (launcher_dev_core_entries) */
	struct device_proc core_entries[LAUNCHER_MAX_DEVICES];
	bool core_ending; /* its channel closed or holds its CoreStopped: not watched */
	/* enum launcher_core_pending: LAUNCHER_CORE_POWER_BUTTON from a
	 * SIGTERM's PowerButton until the core's CorePowerButton */
	int core_pending;
};

/* Parse one --disk, --net, --input, --usb-device, --gpu or --snd into ds;
 * return 0 or an exit status (a message is logged). */
int devices_add_disk(struct devices *ds, const char *arg);
int devices_add_net(struct devices *ds, const char *arg);
int devices_add_input(struct devices *ds, const char *arg);
int devices_add_usb_device(struct devices *ds, const char *arg);
int devices_add_gpu(struct devices *ds, const char *arg);
int devices_add_snd(struct devices *ds, const char *arg);
/* After every option: --usb-device needs --input with usb; moves the USB
 * identities into the input options. Returns 0 or an exit status. */
int devices_check_usb(struct devices *ds);
/* The input device's process (its control channel takes InputCommands), or
 * NULL when the VM has none or it is gone. */
struct device_proc *devices_input(struct devices *ds);
/* The gpu device's process, or NULL (none, or gone). */
struct device_proc *devices_gpu(struct devices *ds);
/* The snd device's process, or NULL (none, or gone). */
struct device_proc *devices_snd(struct devices *ds);

/* Open each device's backend and start its process over cfg's guest RAM
 * (cfg->debug too). Returns 0, or an exit status with a message logged; the
 * devices started so far are left for devices_stop. */
int devices_start(struct devices *ds, const struct core_config *cfg);
/* What the core is to be told about them: cfg->devices, kinds, transports
 * (LAUNCHER_MAX_DEVICES each). Returns 0 or an exit status. */
int devices_core_config(struct devices *ds, struct core_config *cfg, const char **kinds,
			const char **transports);
/* The core has the devices' links: close ours and supervise the processes,
 * handing restarted ones to core, and watch core's channel for the devices
 * it drops while their processes live (DeviceFault: killed and restarted). */
void devices_supervise(struct devices *ds, struct core_proc *core);

/* Before poll: the pidfds and the core's channel to watch (pfd[0..n), n at
 * most DEVICES_POLL_MAX) and the time to the next restart (lowers
 * *timeout_ms). Returns the number of pfd entries. */
size_t devices_poll_fill(struct devices *ds, struct pollfd *pfd, int *timeout_ms);
/* After poll: take the core's DeviceFaults (killing the process meant), reap
 * dead devices, run due restarts. */
void devices_poll_ready(struct devices *ds, const struct pollfd *pfd);

/* Stop every device process, log its counters and close its backend. */
void devices_stop(struct devices *ds);
