/* cellvm: the user's command line. `cellvm run` starts one VM's processes
 * through the launcher and relays its console to the terminal. Arguments are
 * user input: checked here, before anything starts. Exit status: as cellvm-core
 * (proto/vm_exit.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/console.h"
#include "cli/devices.h"
#include "common/log.h"
#include "common/parse.h"
#include "launcher/launcher.h"
#include "proto/vm_exit.h"

#define CELLVM_RUN_MIN_MEMORY  (16ULL << 20)
#define CELLVM_RUN_MAX_MEMORY  (256ULL << 30)
#define CELLVM_RUN_MAX_CPUS    64
#define CELLVM_RUN_MAX_CMDLINE 2047

static void cellvm_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm run --kernel PATH [--initrd PATH] [--cmdline STR]\n"
		"                  [--cpus N] [--memory SIZE] [--no-acpi] [--debug]\n"
		"       cellvm run --firmware PATH --disk ... [--cpus N] [--memory SIZE]\n"
		"       cellvm run --firmware PATH --kernel PATH [--initrd PATH] [--cmdline STR] "
		"...\n"
		"  --kernel PATH   ELF vmlinux (PVH or 64-bit entry) or bzImage\n"
		"  --initrd PATH   initial ramdisk\n"
		"  --cmdline STR   kernel command line (default \"console=ttyS0\")\n"
		"  --firmware PATH a firmware image (SeaBIOS bios.bin, OVMF.fd): the guest\n"
		"                  boots from its disks, or with --kernel (a bzImage; OVMF)\n"
		"                  the firmware boots that kernel, initrd and command line\n"
		"  --no-acpi       no ACPI tables and no ACPI power button in the VM\n"
		"  --cpus N        vCPUs, 1-%d (default 1)\n"
		"  --memory SIZE   guest RAM, 16M-256G, a multiple of 4K (default 256M)\n"
		"  --disk path=IMG[,readonly=on][,serial=S][,direct=on][,queues=N]\n"
		"         [,transport=pci|mmio]\n"
		"                  a virtio-blk disk (repeatable)\n"
		"  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N][,mtu=N][,rate=BYTES/S]\n"
		"        [,burst=BYTES][,pps=PACKETS/S][,pps-burst=PACKETS][,transport=pci|mmio]\n"
		"                  a virtio-net NIC on a tap, created when missing\n"
		"                  (repeatable; at most %d disks and NICs in all)\n"
		"                  transport=: pci (the default) or virtio-mmio\n"
		"  --input ps2,virtio,usb[,default=ps2|virtio|usb]\n"
		"                  input devices (any of the three): the i8042 with keyboard\n"
		"                  and mouse; virtio-input keyboard, mouse, tablet and\n"
		"                  touchscreen; an xHCI controller with a USB HID keyboard,\n"
		"                  mouse and tablet\n"
		"  --usb-device keyboard|mouse|tablet[,vendor=N][,product=N][,release=N]\n"
		"         [,manufacturer=S][,name=S][,serial=S][,interval=MS]\n"
		"                  a USB device's identity (needs --input with usb; once per\n"
		"                  kind): N 0-0xffff, decimal or 0x hex; S at most 63 bytes\n"
		"                  of printable ASCII; MS 1-255\n"
		"  --input-socket PATH\n"
		"                  a unix socket taking inject-input requests (docs/input.md)\n"
		"  --gpu WxH[,WxH...][,budget=SIZE][,slots=N]\n"
		"                  a virtio-gpu display with 1 to 4 scanouts of these modes,\n"
		"                  a budget of host memory for the guest's resources (16M..4G)\n"
		"                  and N frame slots in its capture ring (docs/gpu.md)\n"
		"  --capture-socket PATH\n"
		"                  a unix socket handing capture readers the ring and an\n"
		"                  eventfd (needs --gpu; docs/gpu.md)\n"
		"  --snd [playback=N][,capture=N][,periods=N][,channels=N]\n"
		"        [,sink=ring|null|wav:PATH][,source=silence|wav:PATH]\n"
		"                  a virtio-snd sound card (no value: the defaults): 0-4\n"
		"                  playback and capture streams (1 each), up to N channels\n"
		"                  per stream (1-8, 2), what is played goes to the audio\n"
		"                  ring of N periods (16-4096, 256) and/or a WAV file (sink=\n"
		"                  twice for both) or nowhere, what the guest records comes\n"
		"                  from silence or a WAV file, looped\n"
		"  --audio-socket PATH\n"
		"                  a unix socket handing audio readers the ring and an\n"
		"                  eventfd (needs --snd with the ring sink)\n"
		"  --audio-input-socket PATH\n"
		"                  a unix socket taking WAV streams for the guest's capture\n"
		"                  (needs --snd with a capture stream)\n"
		"Exit status: 0 power-off, 1 VMM error, 2 bad input, 3 reboot, 4 guest panic,\n"
		"5 guest halted (every vCPU halted with interrupts off).\n"
		"On a terminal, Ctrl-A x ends the VM.\n",
		CELLVM_RUN_MAX_CPUS, LAUNCHER_MAX_DISKS_NICS);
}

static int cellvm_run_vm(struct core_config *cfg, struct devices *ds);

/* Whose fault a failed open is: the user's (status 2), unless the host ran out. */
static int cellvm_open_status(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -ENOMEM ? VM_EXIT_ERROR : VM_EXIT_BAD_INPUT;
}

/* The user's own files, opened once by name before anything starts: the
 * launcher takes fds (the core and every device start get dups). Each disk's
 * image is locked as the broker locks its VMs' images (shared read-only,
 * exclusive read-write): an image another VM writes is refused. Returns 0 or
 * an exit status. */
static int cellvm_open_files(struct core_config *cfg, struct devices *ds)
{
	const char *what = cfg->kernel;
	char err[PATH_MAX + 128];
	int r;

	cfg->kernel_fd = cfg->initrd_fd = -1;
	for (size_t i = 0; i < ds->ndisks; i++)
		ds->disks[i].image_fd = -1;
	/* O_NONBLOCK: a FIFO must not hang us (the core refuses what is not a file). */
	cfg->kernel_fd = open(cfg->kernel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (cfg->kernel_fd >= 0 && cfg->initrd) {
		what = cfg->initrd;
		cfg->initrd_fd = open(cfg->initrd, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	}
	if (cfg->kernel_fd < 0 || (cfg->initrd && cfg->initrd_fd < 0)) {
		r = -errno;
		log_err("%s: %s", what, strerror(-r));
		return cellvm_open_status(r);
	}
	for (size_t i = 0; i < ds->ndisks; i++) {
		r = disk_opt_open_image(&ds->disks[i], err, sizeof(err));
		if (r < 0) {
			log_err("--disk: %s", err);
			return cellvm_open_status(r);
		}
	}
	return 0;
}

static void cellvm_close_files(struct core_config *cfg, struct devices *ds)
{
	if (cfg->kernel_fd >= 0)
		close(cfg->kernel_fd);
	if (cfg->initrd_fd >= 0)
		close(cfg->initrd_fd);
	cfg->kernel_fd = cfg->initrd_fd = -1;
	for (size_t i = 0; i < ds->ndisks; i++)
		disk_opt_close_image(&ds->disks[i]);
}

/* --audio-socket and --audio-input-socket: what they need of --snd, then
 * their listeners. Returns 0 or an exit status (nothing left open). */
static int cellvm_open_audio_sockets(struct devices *ds, const char *audio_socket,
				     const char *audio_input_socket)
{
	int r;

	if (audio_socket && (!ds->has_snd || !(ds->snd.sinks & SND_OPT_SINK_RING))) {
		log_err("--audio-socket needs --snd with the ring as a sink (the default)");
		return VM_EXIT_BAD_INPUT;
	}
	if (audio_input_socket && (!ds->has_snd || ds->snd.capture == 0)) {
		log_err("--audio-input-socket needs --snd with a capture stream");
		return VM_EXIT_BAD_INPUT;
	}
	if (audio_socket) {
		r = capsock_open(&ds->audsock, audio_socket, &capsock_snd, &ds->snd);
		if (r)
			return r;
	}
	if (audio_input_socket) {
		r = audiosock_open(&ds->audio_in, audio_input_socket);
		if (r) {
			capsock_close(&ds->audsock);
			return r;
		}
	}
	return 0;
}

static int cellvm_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},
		{"firmware", required_argument, NULL, 'F'},
		{"no-acpi", no_argument, NULL, 'a'},
		{"initrd", required_argument, NULL, 'i'},
		{"cmdline", required_argument, NULL, 'c'},
		{"cpus", required_argument, NULL, 'n'},
		{"memory", required_argument, NULL, 'm'},
		{"debug", no_argument, NULL, 'd'},
		{"disk", required_argument, NULL, 'D'},
		{"net", required_argument, NULL, 'N'},
		{"input", required_argument, NULL, 'I'},
		{"input-socket", required_argument, NULL, 'S'},
		{"usb-device", required_argument, NULL, 'U'},
		{"gpu", required_argument, NULL, 'G'},
		{"capture-socket", required_argument, NULL, 'C'},
		{"snd", optional_argument, NULL, 'A'},
		{"audio-socket", required_argument, NULL, 'R'},
		{"audio-input-socket", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct core_config cfg = {.cmdline = "console=ttyS0", .cpus = 1, .memory = 256ULL << 20};
	static struct devices ds;
	const char *input_socket = NULL, *capture_socket = NULL;
	const char *audio_socket = NULL, *audio_input_socket = NULL;
	const char *firmware = NULL;
	bool cmdline_given = false;
	int o, r;

	ds.inject.listen_fd = -1;
	capsock_init(&ds.capsock);
	capsock_init(&ds.audsock);
	audiosock_init(&ds.audio_in);

	optind = 1;
	while ((o = getopt_long(argc, argv, "k:i:c:n:m:dh", opts, NULL)) != -1) {
		switch (o) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'c':
			cfg.cmdline = optarg;
			cmdline_given = true;
			break;
		case 'F': firmware = optarg; break;
		case 'a': cfg.no_acpi = true; break;
		case 'd': cfg.debug = 1; break;
		case 'n':
			if (parse_u32(optarg, 1, CELLVM_RUN_MAX_CPUS, &cfg.cpus) < 0) {
				log_err("--cpus: '%s' is not a number from 1 to %d", optarg,
					CELLVM_RUN_MAX_CPUS);
				return VM_EXIT_BAD_INPUT;
			}
			break;
		case 'm':
			r = parse_size(optarg, &cfg.memory);
			if (r < 0 || cfg.memory < CELLVM_RUN_MIN_MEMORY ||
			    cfg.memory > CELLVM_RUN_MAX_MEMORY || (cfg.memory & 0xfff)) {
				log_err("--memory: '%s' is not a size from 16M to 256G in whole "
					"4K pages",
					optarg);
				return VM_EXIT_BAD_INPUT;
			}
			break;
		case 'D':
			r = devices_add_disk(&ds, optarg);
			if (r)
				return r;
			break;
		case 'N':
			r = devices_add_net(&ds, optarg);
			if (r)
				return r;
			break;
		case 'I':
			r = devices_add_input(&ds, optarg);
			if (r)
				return r;
			break;
		case 'U':
			r = devices_add_usb_device(&ds, optarg);
			if (r)
				return r;
			break;
		case 'G':
			r = devices_add_gpu(&ds, optarg);
			if (r)
				return r;
			break;
		case 'A':
			/* --snd alone, or --snd=OPTS; a next word that is not an
			 * option is its value too (--snd OPTS). */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			r = devices_add_snd(&ds, optarg ? optarg : "");
			if (r)
				return r;
			break;
		case 'S': input_socket = optarg; break;
		case 'C': capture_socket = optarg; break;
		case 'R': audio_socket = optarg; break;
		case 'W': audio_input_socket = optarg; break;
		case 'h': cellvm_usage(stdout); return 0;
		default: cellvm_usage(stderr); return VM_EXIT_BAD_INPUT;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return VM_EXIT_BAD_INPUT;
	}
	if (firmware && !cfg.kernel && (cfg.initrd || cmdline_given)) {
		log_err("--firmware boots from a disk: --initrd and --cmdline go with a "
			"--kernel for it to boot");
		return VM_EXIT_BAD_INPUT;
	}
	if (firmware) {
		/* The launcher hands it to the core where a kernel would go; a
		 * kernel given goes to the firmware (fw_cfg). */
		cfg.fw_kernel = cfg.kernel;
		cfg.kernel = firmware;
		cfg.has_firmware = true;
	}
	if (!cfg.kernel) {
		log_err("--kernel is required (or --firmware)");
		cellvm_usage(stderr);
		return VM_EXIT_BAD_INPUT;
	}
	if (strlen(cfg.cmdline) > CELLVM_RUN_MAX_CMDLINE) {
		log_err("--cmdline: %zu bytes, the limit is %d", strlen(cfg.cmdline),
			CELLVM_RUN_MAX_CMDLINE);
		return VM_EXIT_BAD_INPUT;
	}
	r = devices_check_usb(&ds);
	if (r)
		return r;
	if (input_socket && !ds.has_input) {
		log_err("--input-socket needs --input");
		return VM_EXIT_BAD_INPUT;
	}
	if (input_socket) {
		ds.inject.opt = &ds.input;
		r = inject_open(&ds.inject, input_socket);
		if (r)
			return r;
	}
	if (capture_socket && !ds.has_gpu) {
		log_err("--capture-socket needs --gpu");
		inject_close(&ds.inject);
		return VM_EXIT_BAD_INPUT;
	}
	if (capture_socket) {
		r = capsock_open(&ds.capsock, capture_socket, &capsock_gpu, &ds.gpu);
		if (r) {
			inject_close(&ds.inject);
			return r;
		}
	}
	r = cellvm_open_audio_sockets(&ds, audio_socket, audio_input_socket);
	if (r) {
		inject_close(&ds.inject);
		capsock_close(&ds.capsock);
		return r;
	}

	r = cellvm_open_files(&cfg, &ds);
	if (r == 0)
		r = cellvm_run_vm(&cfg, &ds);
	cellvm_close_files(&cfg, &ds);
	return r;
}

/* Say how the VM ended; returns the exit status of cellvm run for the
 * core's exit status. */
static int cellvm_run_exit(int status)
{
	char what[32];
	int sig;
	enum vm_exit e = launcher_exit_decode(status, &sig);

	switch (e) {
	case VM_EXIT_POWER_OFF: log_info("VM powered off"); break;
	case VM_EXIT_REBOOT: log_info("VM rebooted"); break;
	case VM_EXIT_PANIC: log_info("guest kernel panicked"); break;
	case VM_EXIT_HALT: log_info("guest halted: every vCPU stopped with interrupts off"); break;
	case VM_EXIT_ERROR:
		if (sig)
			log_err("cellvm-core %s", launcher_exit_text(status, what, sizeof(what)));
		else if (status == VM_EXIT_ERROR)
			log_err("VM stopped on a VMM error");
		break;
	default:
		/* Bad input is only said before Ready: not the guest's doing now. */
		e = VM_EXIT_ERROR;
		break;
	}
	return e;
}

/* Start the devices (disks, then NICs: their order on the bus; then the
 * gpu, the sound card and the input device), then the core; relay the console until the VM ends. */
static int cellvm_run_vm(struct core_config *cfg, struct devices *ds)
{
	const char *kinds[LAUNCHER_MAX_DEVICES], *transports[LAUNCHER_MAX_DEVICES];
	struct core_proc p;
	char err[512];
	int r, status;

#ifdef CELLVM_TEST_HOOKS
	/* Test builds: ask a child to try a forbidden syscall once sandboxed. */
	if (getenv("CELLVM_TEST_CORE_FLAGS"))
		cfg->test_flags = (uint32_t)strtoul(getenv("CELLVM_TEST_CORE_FLAGS"), NULL, 0);
#endif
	cfg->mem_fd = launcher_create_memory(cfg->memory);
	if (cfg->mem_fd < 0) {
		log_err("guest memory: %s", strerror(-cfg->mem_fd));
		return VM_EXIT_ERROR;
	}
	status = devices_start(ds, cfg);
	if (status)
		goto out;
	status = devices_core_config(ds, cfg, kinds, transports);
	if (status)
		goto out;
	cfg->restart_devices = true;
	r = launcher_start_core(cfg, &p, err, sizeof(err), &status);
	if (r < 0) {
		log_err("%s", err);
		status = launcher_exit_start_failed(r, status);
		goto out;
	}
	devices_supervise(ds, &p);
	status = console_relay(&p, ds);
	launcher_close(&p);
	status = cellvm_run_exit(status);
out:
	devices_stop(ds);
	inject_close(&ds->inject);
	capsock_close(&ds->capsock);
	capsock_close(&ds->audsock);
	audiosock_close(&ds->audio_in);
	close(cfg->mem_fd);
	return status;
}

int main(int argc, char **argv)
{
	log_init("cellvm", getenv("CELLVM_DEBUG") ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		cellvm_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? VM_EXIT_BAD_INPUT : 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cellvm_run(argc - 1, argv + 1);
	log_err("unknown command '%s'", argv[1]);
	cellvm_usage(stderr);
	return VM_EXIT_BAD_INPUT;
}
