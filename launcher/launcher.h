/* The launcher: starts a VM's processes with fork+exec, each with only its
 * channel inherited, and hands them their resources. The library of both
 * privileged processes, cellvm run (cli/) and cellvm-broker (broker/): they
 * start VMs through it, bring devices up and restart them through
 * launcher_dev.h, and follow the restart policy of supervise.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/vm_exit.h"

#define LAUNCHER_CHILD_CHANNEL_FD  3
#define LAUNCHER_READY_TIMEOUT_MS  10000 /* the default of launcher_ready_timeout_ms() */
#define LAUNCHER_READY_TIMEOUT_MIN 1000
#define LAUNCHER_READY_TIMEOUT_MAX 600000

/* How long a started process (core, device, display) has to report Ready
 * before its start fails and it is killed. Set once, before any start (the
 * broker's process_ready_timeout_ms, from its configuration); clamped to
 * [LAUNCHER_READY_TIMEOUT_MIN, LAUNCHER_READY_TIMEOUT_MAX]. */
void launcher_set_ready_timeout_ms(int ms);
int launcher_ready_timeout_ms(void);

struct device_proc;

/* Where a VM's sandboxed processes run on the host, the same for its core and
 * every device process: the ids root of their user namespace maps to, and
 * the cgroup they start in. NULL where a config takes one: 65534 (nobody, as
 * cellvm run has it) and the launcher's own cgroup. */
struct launcher_jail {
	uid_t uid; /* one id of the broker's pool per VM (docs/sandbox.md) */
	gid_t gid;
	int cgroup_fd; /* >= 0: an O_DIRECTORY fd of the VM's cgroup (not taken) */
	/* Each process gets its own stderr, a pipe whose read end (non-blocking)
	 * comes back in core_proc.log / device_proc.log; false: the launcher's
	 * own stderr, inherited (cellvm run). docs/broker.md, "Child logs". */
	bool log_pipe;
	/* No PR_SET_PDEATHSIG: the process outlives the one that started it.
	 * The broker's VMs survive a broker restart (a keeper holds their fds,
	 * docs/broker.md "VMs outlive the broker"); cellvm run's do not. */
	bool outlive_parent;
};

struct core_config {
	int mem_fd; /* guest RAM from launcher_create_memory() */
	/* The kernel and the (optional) initrd, open for reading: the core gets
	 * a dup of each (not consumed). The front end opened them once where it
	 * checked them; the broker never hands a name to the launcher. */
	int kernel_fd, initrd_fd; /* > 0: given */
	/* Without kernel_fd (initrd_fd): a path of the caller's own user, opened
	 * here by name (tests that start a core directly). */
	const char *kernel;
	const char *initrd;
	const char *cmdline; /* optional */
	/* kernel_fd (kernel) is a firmware image (SeaBIOS, OVMF), not a kernel:
	 * CoreSetup.has_firmware. No initrd then, and the cmdline is not sent,
	 * unless the firmware is to boot a kernel of its own: */
	bool has_firmware;
	/* With has_firmware: a bzImage the firmware boots (fw_cfg; CoreSetup.
	 * has_fw_kernel), with the initrd and cmdline above. Same rules as
	 * kernel_fd/kernel. */
	int fw_kernel_fd;
	const char *fw_kernel;
	bool no_acpi; /* CoreSetup.no_acpi: no ACPI tables, no power button */
	uint32_t cpus;
	uint64_t memory;
	int debug;
	const struct device_proc *devices; /* started, Ready; their links go to the core */
	const char *const *device_kinds;
	const char *const *device_transports; /* "pci" or "mmio" each; NULL: all mmio */
	size_t ndevices;
	uint32_t test_flags; /* CoreSetup.test_flags (test builds only) */
	/* The caller restarts device processes that die (and tells the core
	 * with launcher_core_device_restarted/_gone): the core keeps the
	 * guest's view of a dead device until then. */
	bool restart_devices;
	const struct launcher_jail *jail; /* NULL: 65534, the launcher's cgroup */
};

struct core_proc {
	pid_t pid;
	int pidfd;   /* readable when the core exits */
	int chan;    /* our end of the vm.proto channel */
	int console; /* our end of the console stream */
	int log;     /* > 0: its stderr pipe (jail->log_pipe); the caller may take it */
};

/* Directory of the running executable, where the other cellvm binaries live
 * (override: CELLVM_LIBEXEC). Writes into buf; returns 0 or -errno. */
int launcher_bin_dir(char *buf, size_t len);

/* Start bin_dir/name (a cellvm binary) with child_chan as its fd 3 (the
 * child gets a copy; the caller keeps and closes its own), in the sandbox's
 * namespaces with jail's ids and cgroup (NULL: 65534, our own cgroup, our
 * stderr); its stderr pipe's read end in *ret_log when jail asks for one.
 * For processes that are not devices (display_proc.c). 0, or -errno with a
 * message in err. */
int launcher_spawn(const char *name, int child_chan, const struct launcher_jail *jail,
		   pid_t *ret_pid, int *ret_pidfd, int *ret_log, char *err, size_t errlen);
/* Wait until chan (a started process's channel) is readable or the process
 * (pidfd) exits, at most launcher_ready_timeout_ms(): 0, -ETIMEDOUT,
 * -ECHILD (it exited first) or -errno, each with a message naming who. */
int launcher_wait_chan(int chan, int pidfd, const char *who, char *err, size_t errlen);

/* Guest RAM: a memfd of size bytes sealed against shrinking and growing.
 * Returns the fd or -errno. */
int launcher_create_memory(uint64_t size);

/* Open the resources, start cellvm-core and wait for its Ready. On failure
 * returns -errno with a message in err, and nothing is left running.
 * A core that rejected its input exits; its status is in *ret_status (>= 0)
 * when known, else -1. */
int launcher_start_core(const struct core_config *cfg, struct core_proc *ret, char *err,
			size_t errlen, int *ret_status);

#define LAUNCHER_MAX_BACKENDS	8
#define LAUNCHER_MAX_DEVICES	14 /* the core's entries: a device with more links has more */
#define LAUNCHER_MAX_DISKS_NICS 8  /* disks and NICs of one VM, as users see the limit */
#define LAUNCHER_MAX_LINKS	5  /* links of one device process (input: 4 virtio functions) */

struct device_config {
	const char *kind;			/* "blk": runs cellvm-dev-blk */
	int backend_fds[LAUNCHER_MAX_BACKENDS]; /* e.g. the disk image; not consumed */
	size_t nbackend;
	const void *blk;   /* const Cellvm__Device__BlkConfig *, for kind "blk" */
	const void *net;   /* const Cellvm__Device__NetConfig *, for kind "net" */
	const void *input; /* const Cellvm__Device__InputConfig *, for kind "input" */
	const void *gpu;   /* const Cellvm__Device__GpuConfig *, for kind "gpu" */
	const void *snd;   /* const Cellvm__Device__SndConfig *, for kind "snd" */
	/* Links to the core: 1 + extra_links, or none with no_link (each a
	 * virtio function; the input device's virtio-input devices). */
	uint32_t extra_links;
	bool no_link;
	uint32_t test_flags; /* DEVPROC_TEST_* (test builds only) */
	int debug;
	int stats_fd;			  /* > 0: the counters memfd from launcher_stats_create() */
	const struct launcher_jail *jail; /* NULL: 65534, the launcher's cgroup */
};

struct device_proc {
	pid_t pid;
	int pidfd;
	int ctl;  /* our end of the control channel */
	int link; /* the core's end of the core<->device link: hand it to the core */
	/* The core's ends of its further links (device_config.extra_links). */
	int more_links[LAUNCHER_MAX_LINKS - 1];
	uint32_t nmore;
	int log; /* > 0: its stderr pipe (jail->log_pipe); the caller may take it */
};

/* Start cellvm-dev-KIND with guest RAM mem_fd (size mem_size, low_size below
 * the hole), hand it its DeviceSetup and wait for DeviceReady (sent once the
 * device is sandboxed). On failure returns -errno with a message in err, and
 * nothing is left running. */
int launcher_start_device(const struct device_config *cfg, int mem_fd, uint64_t mem_size,
			  uint64_t low_size, struct device_proc *ret, char *err, size_t errlen);
struct devproc_stats;
/* A device's counters page (launcher_stats.c): a 4 KiB memfd (returned) to pass as
 * device_config.stats_fd to each process of that device in turn, and a
 * read-only mapping of it in *ret. Returns the fd or -errno. */
int launcher_stats_create(const struct devproc_stats **ret);
/* A consistent copy of the counters (the device writes them). */
void launcher_stats_read(const struct devproc_stats *page, struct devproc_stats *out);
void launcher_stats_close(int fd, const struct devproc_stats *page);

/* A capture reader comes (id, not 0, unique among the live ones; its
 * eventfd efd sent, not consumed) or goes, on a device's control channel
 * ctl: CaptureSubscribe / CaptureUnsubscribe, which the gpu device takes
 * for its frame ring and the snd device for its audio ring. Unanswered:
 * the device refuses (and logs) a repeated id or more than 16 readers.
 * Returns 0 or -errno. */
int launcher_reader_subscribe(int ctl, uint64_t id, int efd);
int launcher_reader_unsubscribe(int ctl, uint64_t id);

/* Kill (if still running) and reap a device; closes its fds (log too, unless
 * taken: set to -1). Returns its
 * exit status (128+signal when killed), or -1. */
int launcher_stop_device(struct device_proc *p, int sig);

/* Device index (its place in core_config.devices) died and dev is its
 * replacement, started and Ready: hand the core dev's link (dev->link is
 * closed here). Returns 0 or -errno. */
int launcher_core_device_restarted(struct core_proc *core, uint32_t index, struct device_proc *dev);
/* Device index will not come back: the core tells the guest it needs a
 * reset. Returns 0 or -errno. */
int launcher_core_device_gone(struct core_proc *core, uint32_t index);

/* After Ready, once the core has exited: read the CoreStopped it left on its
 * channel (the only message a core sends after Ready) and copy its detail
 * (the core's text: untrusted) into detail. Does not wait. Returns 1 when
 * there was one, 0 when the core left nothing, or -errno when what it left
 * breaks the protocol. */
int launcher_core_stopped(struct core_proc *p, char *detail, size_t len);
/* Wait for the core to exit; returns its exit status (or 128+signal). */
int launcher_wait_core(struct core_proc *p);
void launcher_close(struct core_proc *p);

/* ---- how a process ended (launcher_exit.c) ---- */

/* A wait status as one number: the exit status, 128+N when signal N ended
 * the process, or -1 (not an end). */
int launcher_exit_status(int wstatus);
/* What a core's exit status (launcher_wait_core) means: the core's own
 * (enum vm_exit), or VM_EXIT_ERROR for anything else (a failed exec, a kill,
 * -1); the signal that killed it in *ret_signal, or 0. */
enum vm_exit launcher_exit_decode(int status, int *ret_signal);
/* The same in a few words, for logs and the broker's last_exit: vm_exit_name()
 * of it, or "killed by signal N". Writes into buf, returns buf. */
const char *launcher_exit_text(int status, char *buf, size_t len);
/* Whose fault a failed launcher_start_core (its return r and *ret_status)
 * is, as launcher_dev_open says it for a device: the core's own status when
 * it refused its input (VM_EXIT_BAD_INPUT for the kernel, initrd or command
 * line), VM_EXIT_BAD_INPUT when a file the user named cannot be opened, else
 * VM_EXIT_ERROR. */
enum vm_exit launcher_exit_start_failed(int r, int status);

/* ---- a cooperative pause (vm.proto Pause / Resume) ---- */

/* Ask the running core to hold its vCPUs and save the guest clock
 * (answered by CorePaused, read by launcher_fault_recv when a pause is
 * pending), or to put the clock back and run them again (CoreResumed).
 * Never blocks on a non-blocking channel: -EAGAIN when it is full. Returns 0
 * or -errno. */
int launcher_core_pause(struct core_proc *core);
int launcher_core_resume(struct core_proc *core);

/* Press the guest's ACPI power button (vm.proto PowerButton): answered at
 * once by CorePowerButton (read by launcher_core_recv while
 * LAUNCHER_CORE_POWER_BUTTON is pending), which says whether the guest
 * listens; a guest that acts on it powers off (CoreStopped). Never blocks on
 * a non-blocking channel. Returns 0 or -errno. */
int launcher_core_power_button(struct core_proc *core);
