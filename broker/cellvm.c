/* cellvm: the user's command line. `cellvm run` starts one VM's processes
 * through the launcher and relays its console to the terminal. Arguments are
 * user input: checked here, before anything starts. Exit status: as cellvm-core
 * (0 power-off, 1 VMM error, 2 bad input, 3 reboot, 4 guest panic). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/console.h"
#include "broker/launcher.h"
#include "common/log.h"
#include "common/parse.h"

#define RUN_MIN_MEMORY (16ULL << 20)
#define RUN_MAX_MEMORY (256ULL << 30)
#define RUN_MAX_CPUS   64
#define RUN_MAX_CMDLINE 2047

enum { EXIT_VMM_ERROR = 1, EXIT_BAD_INPUT = 2 };

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
		"Exit status: 0 power-off, 1 VMM error, 2 bad input, 3 reboot, 4 guest panic.\n"
		"On a terminal, Ctrl-A x ends the VM.\n",
		RUN_MAX_CPUS);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'}, {"initrd", required_argument, NULL, 'i'},
		{"cmdline", required_argument, NULL, 'c'}, {"cpus", required_argument, NULL, 'n'},
		{"memory", required_argument, NULL, 'm'},  {"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct core_config cfg = {.cmdline = "console=ttyS0", .cpus = 1, .memory = 256ULL << 20};
	struct core_proc p;
	char err[512];
	int o, r, status;

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
				return EXIT_BAD_INPUT;
			}
			break;
		case 'm':
			r = parse_size(optarg, &cfg.memory);
			if (r < 0 || cfg.memory < RUN_MIN_MEMORY || cfg.memory > RUN_MAX_MEMORY ||
			    (cfg.memory & 0xfff)) {
				log_err("--memory: '%s' is not a size from 16M to 256G in whole "
					"4K pages",
					optarg);
				return EXIT_BAD_INPUT;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_BAD_INPUT;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return EXIT_BAD_INPUT;
	}
	if (!cfg.kernel) {
		log_err("--kernel is required");
		usage(stderr);
		return EXIT_BAD_INPUT;
	}
	if (strlen(cfg.cmdline) > RUN_MAX_CMDLINE) {
		log_err("--cmdline: %zu bytes, the limit is %d", strlen(cfg.cmdline),
			RUN_MAX_CMDLINE);
		return EXIT_BAD_INPUT;
	}

	r = launcher_start_core(&cfg, &p, err, sizeof(err), &status);
	if (r < 0) {
		log_err("%s", err);
		if (status >= 0 && status < 128)
			return status;
		/* Opening the user's files failed: that is bad input. */
		return (r == -ENOENT || r == -EACCES || r == -EISDIR) ? EXIT_BAD_INPUT
								     : EXIT_VMM_ERROR;
	}
	status = console_relay(&p);
	launcher_close(&p);
	switch (status) {
	case 0: log_info("VM powered off"); break;
	case 3: log_info("VM rebooted"); break;
	case 4: log_info("guest kernel panicked"); break;
	default:
		if (status > 128)
			log_err("cellvm-core killed by signal %d", status - 128);
		status = EXIT_VMM_ERROR;
		break;
	case EXIT_VMM_ERROR: log_err("VM stopped on a VMM error"); break;
	}
	return status;
}

int main(int argc, char **argv)
{
	log_init("cellvm", getenv("CELLVM_DEBUG") ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_BAD_INPUT : 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	log_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_BAD_INPUT;
}
