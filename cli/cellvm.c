/* cellvm: the user's command line. `cellvm run` starts one VM's processes
 * through the launcher and relays its console to the terminal. Arguments are
 * user input: checked here, before anything starts. Exit status: as cellvm-core
 * (proto/vm_exit.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/console.h"
#include "common/log.h"
#include "common/parse.h"
#include "launcher/disk_opt.h"
#include "launcher/launcher.h"
#include "launcher/launcher_dev.h"
#include "launcher/net_opt.h"
#include "launcher/supervise.h"
#include "proto/devshm.h"
#include "proto/vm_exit.h"

#define RUN_MIN_MEMORY	(16ULL << 20)
#define RUN_MAX_MEMORY	(256ULL << 30)
#define RUN_MAX_CPUS	64
#define RUN_MAX_CMDLINE 2047
/* Tap queues one device process can take (one backend fd each). */
#define RUN_MAX_NET_QUEUES                                                                         \
	(NET_OPT_MAX_QUEUES < LAUNCHER_MAX_BACKENDS ? NET_OPT_MAX_QUEUES : LAUNCHER_MAX_BACKENDS)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm run --kernel PATH [--initrd PATH] [--cmdline STR]\n"
		"                  [--cpus N] [--memory SIZE] [--debug]\n"
		"  --kernel PATH   ELF vmlinux (PVH or 64-bit entry) or bzImage\n"
		"  --initrd PATH   initial ramdisk\n"
		"  --cmdline STR   kernel command line (default \"console=ttyS0\")\n"
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
		"Exit status: 0 power-off, 1 VMM error, 2 bad input, 3 reboot, 4 guest panic,\n"
		"5 guest halted (every vCPU halted with interrupts off).\n"
		"On a terminal, Ctrl-A x ends the VM.\n",
		RUN_MAX_CPUS, LAUNCHER_MAX_DEVICES);
}

/* The devices of the VM, as the options gave them. */
struct run_devices {
	struct disk_opt disks[DISK_MAX];
	size_t ndisks;
	struct net_opt nets[LAUNCHER_MAX_DEVICES];
	size_t nnets;
	/* disks, then NICs, as the launcher brings them up; each one's
	 * counters page (stats_fd) is kept across its restarts */
	struct launcher_dev dev[LAUNCHER_MAX_DEVICES];
	const struct devproc_stats *stats[LAUNCHER_MAX_DEVICES];
};

static int run_vm(struct core_config *cfg, struct run_devices *rd);

/* Parse one --net into rd; returns 0 or an exit status. */
static int run_add_net(struct run_devices *rd, const char *arg)
{
	struct net_opt *n = &rd->nets[rd->nnets];
	char err[512];
	int r;

	if (rd->ndisks + rd->nnets == LAUNCHER_MAX_DEVICES) {
		log_err("--net: at most %d disks and NICs in all", LAUNCHER_MAX_DEVICES);
		return VM_EXIT_BAD_INPUT;
	}
	r = net_opt_parse(arg, n, err, sizeof(err));
	if (r < 0) {
		log_err("--net: %s", err);
		return VM_EXIT_BAD_INPUT;
	}
	if (n->queues > RUN_MAX_NET_QUEUES) {
		log_err("--net: queues=%u, but a NIC takes at most %d queue pairs in this build",
			n->queues, RUN_MAX_NET_QUEUES);
		return VM_EXIT_BAD_INPUT;
	}
	for (size_t i = 0; i < rd->nnets; i++)
		if (strcmp(rd->nets[i].tap, n->tap) == 0) {
			log_err("--net: tap=%s is given to two NICs", n->tap);
			return VM_EXIT_BAD_INPUT;
		}
	rd->nnets++;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},  {"initrd", required_argument, NULL, 'i'},
		{"cmdline", required_argument, NULL, 'c'}, {"cpus", required_argument, NULL, 'n'},
		{"memory", required_argument, NULL, 'm'},  {"debug", no_argument, NULL, 'd'},
		{"disk", required_argument, NULL, 'D'},	   {"net", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	struct core_config cfg = {.cmdline = "console=ttyS0", .cpus = 1, .memory = 256ULL << 20};
	static struct run_devices rd;
	char err[512];
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "k:i:c:n:m:dh", opts, NULL)) != -1) {
		switch (o) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'c': cfg.cmdline = optarg; break;
		case 'd': cfg.debug = 1; break;
		case 'n':
			if (parse_u32(optarg, 1, RUN_MAX_CPUS, &cfg.cpus) < 0) {
				log_err("--cpus: '%s' is not a number from 1 to %d", optarg,
					RUN_MAX_CPUS);
				return VM_EXIT_BAD_INPUT;
			}
			break;
		case 'm':
			r = parse_size(optarg, &cfg.memory);
			if (r < 0 || cfg.memory < RUN_MIN_MEMORY || cfg.memory > RUN_MAX_MEMORY ||
			    (cfg.memory & 0xfff)) {
				log_err("--memory: '%s' is not a size from 16M to 256G in whole "
					"4K pages",
					optarg);
				return VM_EXIT_BAD_INPUT;
			}
			break;
		case 'D':
			if (rd.ndisks == DISK_MAX || rd.ndisks + rd.nnets == LAUNCHER_MAX_DEVICES) {
				log_err("--disk: at most %d disks, %d disks and NICs in all",
					DISK_MAX, LAUNCHER_MAX_DEVICES);
				return VM_EXIT_BAD_INPUT;
			}
			r = disk_opt_parse(optarg, &rd.disks[rd.ndisks], err, sizeof(err));
			if (r < 0) {
				log_err("--disk: %s", err);
				return VM_EXIT_BAD_INPUT;
			}
			rd.ndisks++;
			break;
		case 'N':
			r = run_add_net(&rd, optarg);
			if (r)
				return r;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return VM_EXIT_BAD_INPUT;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return VM_EXIT_BAD_INPUT;
	}
	if (!cfg.kernel) {
		log_err("--kernel is required");
		usage(stderr);
		return VM_EXIT_BAD_INPUT;
	}
	if (strlen(cfg.cmdline) > RUN_MAX_CMDLINE) {
		log_err("--cmdline: %zu bytes, the limit is %d", strlen(cfg.cmdline),
			RUN_MAX_CMDLINE);
		return VM_EXIT_BAD_INPUT;
	}

	return run_vm(&cfg, &rd);
}

/* Open a disk's image or a NIC's tap (kept open for the VM's life, so a
 * restarted device gets the same ones). Returns 0 or an exit status. */
static int run_open_device(struct run_devices *rd, size_t i)
{
	bool is_disk = i < rd->ndisks;
	struct launcher_dev *d = &rd->dev[i];
	struct net_opt *n = is_disk ? NULL : &rd->nets[i - rd->ndisks];
	char err[512], mac[18];
	enum vm_exit e;
	int r;

	if (is_disk)
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_BLK, .disk = &rd->disks[i]};
	else
		*d = (struct launcher_dev){.kind = LAUNCHER_DEV_NET, .net = n};
#ifdef CELLVM_TEST_HOOKS
	/* Test builds: the device's first process is to misbehave. */
	if (getenv("CELLVM_TEST_DEVICE_FLAGS"))
		d->test_flags = (uint32_t)strtoul(getenv("CELLVM_TEST_DEVICE_FLAGS"), NULL, 0);
#endif
	r = launcher_stats_create(&rd->stats[i]);
	if (r < 0) {
		log_err("device counters: %s", strerror(-r));
		return VM_EXIT_ERROR;
	}
	d->stats_fd = r;
	r = launcher_dev_open(d, err, sizeof(err), &e);
	if (r < 0) {
		log_err("%s: %s", is_disk ? "--disk" : "--net", err);
		return e;
	}
	if (!is_disk) {
		net_opt_format_mac(n->mac, mac, sizeof(mac));
		log_info("net %zu: tap %s (%s), MAC %s%s, %u queue pair%s", i - rd->ndisks, n->tap,
			 n->created ? "created" : "existing", mac, n->mac_given ? "" : " (random)",
			 n->queues, n->queues > 1 ? "s" : "");
	}
	return 0;
}

static void run_close_device(struct run_devices *rd, size_t i)
{
	if (rd->stats[i]) {
		struct devproc_stats c = {0};
		launcher_stats_read(rd->stats[i], &c);
		if (i < rd->ndisks)
			log_info("disk %zu: %llu requests, %llu bytes read, %llu written, %llu "
				 "failed",
				 i, (unsigned long long)c.requests, (unsigned long long)c.bytes_out,
				 (unsigned long long)c.bytes_in, (unsigned long long)c.errors);
		else
			log_info("net %zu: %llu frames, %llu bytes received, %llu sent, %llu "
				 "dropped",
				 i - rd->ndisks, (unsigned long long)c.requests,
				 (unsigned long long)c.bytes_out, (unsigned long long)c.bytes_in,
				 (unsigned long long)c.errors);
	}
	launcher_stats_close(rd->dev[i].stats_fd, rd->stats[i]);
	rd->dev[i].stats_fd = -1;
	rd->stats[i] = NULL;
	launcher_dev_close(&rd->dev[i]);
}

/* Start device i's process over its open image or tap. Returns 0 or -errno
 * with a message in err. */
static int run_launch_device(const struct core_config *cfg, struct run_devices *rd, size_t i,
			     struct device_proc *ret, char *err, size_t errlen)
{
	rd->dev[i].debug = cfg->debug;
	return launcher_dev_start(&rd->dev[i], cfg->mem_fd, cfg->memory, ret, err, errlen);
}

struct run_restart {
	const struct core_config *cfg;
	struct run_devices *rd;
};

/* supervise_start_fn: a restarted device runs without test flags (a test
 * that made the first one misbehave wants the next one to work). */
static int run_restart_device(void *arg, size_t i, struct device_proc *ret)
{
	struct run_restart *rr = arg;
	char err[512];
	int r;

	rr->rd->dev[i].test_flags = 0;
	r = run_launch_device(rr->cfg, rr->rd, i, ret, err, sizeof(err));
	if (r < 0)
		log_err("%s", err);
	return r;
}

/* Say how the VM ended; returns the exit status of cellvm run for the
 * core's exit status. */
static int run_exit(int status)
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

/* Start the devices (disks, then NICs: their order on the bus), then the
 * core; relay the console until the VM ends. */
static int run_vm(struct core_config *cfg, struct run_devices *rd)
{
	struct device_proc devs[LAUNCHER_MAX_DEVICES];
	const char *kinds[LAUNCHER_MAX_DEVICES], *transports[LAUNCHER_MAX_DEVICES];
	char names[LAUNCHER_MAX_DEVICES][16];
	const char *pnames[LAUNCHER_MAX_DEVICES];
	struct run_restart rr = {.cfg = cfg, .rd = rd};
	struct supervisor sup;
	struct core_proc p;
	char err[512];
	int r, status = VM_EXIT_ERROR;
	size_t ndev = 0, total = rd->ndisks + rd->nnets;

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
	for (; ndev < total; ndev++) {
		bool is_disk = ndev < rd->ndisks;

		r = run_open_device(rd, ndev);
		if (r) {
			status = r;
			goto out;
		}
		r = run_launch_device(cfg, rd, ndev, &devs[ndev], err, sizeof(err));
		if (r < 0) {
			log_err("%s %zu: %s", is_disk ? "disk" : "net",
				is_disk ? ndev : ndev - rd->ndisks, err);
			run_close_device(rd, ndev);
			status = VM_EXIT_ERROR;
			goto out;
		}
		kinds[ndev] = launcher_dev_name(&rd->dev[ndev]);
		transports[ndev] = launcher_dev_transport(&rd->dev[ndev]);
		snprintf(names[ndev], sizeof(names[ndev]), "%s %zu", is_disk ? "disk" : "net",
			 is_disk ? ndev : ndev - rd->ndisks);
		pnames[ndev] = names[ndev];
	}
	cfg->devices = devs;
	cfg->device_kinds = kinds;
	cfg->device_transports = transports;
	cfg->ndevices = ndev;
	cfg->restart_devices = true;
	r = launcher_start_core(cfg, &p, err, sizeof(err), &status);
	if (r < 0) {
		log_err("%s", err);
		status = launcher_exit_start_failed(r, status);
		goto out;
	}
	/* The core holds the links now; the devices end when it does. */
	for (size_t i = 0; i < ndev; i++) {
		close(devs[i].link);
		devs[i].link = -1;
	}
	supervise_init(&sup, &p, devs, pnames, ndev, run_restart_device, &rr);
	status = console_relay(&p, &sup);
	launcher_close(&p);
	status = run_exit(status);
out:
	for (size_t i = 0; i < ndev; i++) {
		/* Each device gets a second to notice the core is gone, then SIGKILL
		 * (a device is PID 1 of its namespace: SIGTERM would not reach it). */
		int st = launcher_stop_device(&devs[i], SIGKILL);
		if (st > 0 && st != 128 + SIGKILL)
			log_warn("%s %zu: device process ended with status %d",
				 i < rd->ndisks ? "disk" : "net",
				 i < rd->ndisks ? i : i - rd->ndisks, st);
		run_close_device(rd, i);
	}
	close(cfg->mem_fd);
	return status;
}

int main(int argc, char **argv)
{
	log_init("cellvm", getenv("CELLVM_DEBUG") ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? VM_EXIT_BAD_INPUT : 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	log_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return VM_EXIT_BAD_INPUT;
}
