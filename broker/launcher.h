/* The launcher: starts a VM's processes with fork+exec, each with only its
 * channel inherited, and hands them their resources. Runs in the privileged
 * process (cellvm run today, cellvm-broker later). */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#define LAUNCHER_CHILD_CHANNEL_FD 3
#define LAUNCHER_READY_TIMEOUT_MS 10000

struct core_config {
	const char *kernel;  /* path, opened here and passed as an fd */
	const char *initrd;  /* optional */
	const char *cmdline; /* optional */
	uint32_t cpus;
	uint64_t memory;
	int debug;
};

struct core_proc {
	pid_t pid;
	int pidfd;   /* readable when the core exits */
	int chan;    /* our end of the vm.proto channel */
	int console; /* our end of the console stream */
};

/* Directory of the running executable, where the other cellvm binaries live
 * (override: CELLVM_LIBEXEC). Writes into buf; returns 0 or -errno. */
int launcher_bin_dir(char *buf, size_t len);

/* Open the resources, start cellvm-core and wait for its Ready. On failure
 * returns -errno with a message in err, and nothing is left running.
 * A core that rejected its input exits; its status is in *ret_status (>= 0)
 * when known, else -1. */
int launcher_start_core(const struct core_config *cfg, struct core_proc *ret, char *err,
			size_t errlen, int *ret_status);

/* Wait for the core to exit; returns its exit status (or 128+signal). */
int launcher_wait_core(struct core_proc *p);
void launcher_close(struct core_proc *p);
