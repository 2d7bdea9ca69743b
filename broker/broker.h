/* cellvm-broker: the shared context of the host service. One libevent loop,
 * one process, the only privileged one: the VM registry (broker_vm.c), the
 * supervision of VM processes (broker_supervise.c), console logs
 * (broker_console.c), VM definitions (broker_vmdef.c), their persistence
 * (broker_state.c), tenants and quotas (broker_tenant.c) and the REST and RPC
 * APIs (broker_api_*.c). VMs are started through the launcher library
 * (launcher/, as cellvm run starts them) by a launcher thread
 * (broker_launch.c). Everything a client sends is untrusted and is checked
 * where it enters (the API files); so is what the state directory holds. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "launcher/disk_opt.h"
#include "launcher/display_proc.h"
#include "launcher/input_api.h"
#include "launcher/input_opt.h"
#include "launcher/launcher.h"
#include "launcher/launcher_dev.h"
#include "launcher/net_opt.h"
#include "launcher/snd_opt.h"
#include "launcher/supervise.h"
#include "device.pb-c.h"
#include "proto/dispatch.h"

struct event;
struct event_base;
struct evbuffer;
struct rest;
struct rpc;
struct broker_launch_worker;
struct broker_launch_job;
struct broker_state_writer;

#define BROKER_DEFAULT_API_SOCKET "/run/cellvm/api.sock"
#define BROKER_DEFAULT_RPC_SOCKET "/run/cellvm/rpc.sock"
#define BROKER_DEFAULT_STATE_DIR  "/var/lib/cellvm"
#define BROKER_DEFAULT_CONFIG	  "/etc/cellvm/broker.conf"

#define BROKER_MAX_VMS	     1024
#define BROKER_NAME_MAX	     64
#define BROKER_TENANT_MAX    32
#define BROKER_TENANT_NAME   32
#define BROKER_TENANT_IDS    16 /* uid lines, and gid lines, of one tenant */
#define BROKER_NET_MAX	     8
#define BROKER_CONSOLE_LOG   (64 * 1024) /* serial output kept per VM */
#define BROKER_ID_LEN	     36		 /* UUID text */
#define BROKER_MIN_MEMORY    (16ULL << 20)
#define BROKER_MAX_MEMORY    (256ULL << 30)
#define BROKER_MAX_CPUS	     64
#define BROKER_MAX_CMDLINE   2047
#define BROKER_REBOOT_LIMIT  10 /* guest reboots per BROKER_REBOOT_WINDOW before we stop it */
#define BROKER_REBOOT_WINDOW 60

/* Error codes of the API (REST and RPC). */
enum api_err {
	API_OK = 0,
	API_VM_NOT_FOUND,      /* 404: missing, or another tenant's */
	API_INVALID_ARGUMENT,  /* 400 */
	API_VM_BUSY,	       /* 503: the VM's state does not allow this now */
	API_QUOTA_EXCEEDED,    /* 403 */
	API_INTERNAL,	       /* 500 */
	API_NOT_SUPPORTED,     /* 501 */
	API_PERMISSION_DENIED, /* 403: the peer maps to no tenant */
};
const char *api_err_code(enum api_err e);
int api_err_status(enum api_err e);

/* ---- tenants (broker_tenant.c) ---- */

struct tenant_quota {
	uint32_t max_vms;
	uint32_t max_cpus;   /* vCPUs over all the tenant's VMs */
	uint64_t max_memory; /* guest RAM bytes over all the tenant's VMs */
};

struct tenant {
	char name[BROKER_TENANT_NAME];
	bool admin; /* sees and drives every VM */
	struct tenant_quota quota;
	char image_dir[256]; /* non-empty: kernel/initrd/disk paths must lie below */
	char taps[256];	     /* tap names it may use ("NAME" or "PREFIX*", blank-separated) */
	/* Its uid and gid lines: whose access to a file the broker grants on
	 * its behalf (broker_vmdef.c checks an image's owner and mode bits). */
	uid_t uids[BROKER_TENANT_IDS];
	size_t nuids;
	gid_t gids[BROKER_TENANT_IDS];
	size_t ngids;
	/* usage, kept by broker_vm.c in the same loop iteration as the change */
	uint32_t used_vms, used_cpus;
	uint64_t used_memory;
};

struct tenant_map {
	uid_t uid;
	gid_t gid;
	bool by_gid;
	int tenant; /* index */
};

/* boot_concurrency's bound: a thread each (broker_launch.c). */
#define BROKER_BOOT_CONCURRENCY_MAX 64

/* What the configuration file says before its first [tenant] section: what
 * each VM takes from the host (broker_host.c). */
struct broker_host_config {
	uint32_t id_start, id_count; /* uid_pool: one uid (and the same gid) per VM */
	char cgroup[PATH_MAX];	     /* "auto", "off" or a cgroup v2 directory */
	uint64_t memory_overhead;    /* memory.max = guest RAM + this */
	uint32_t pids_max;	     /* 0: from the VM's vCPUs and devices */
	uint32_t cpu_weight;	     /* cpu.weight of every VM */
	/* Boots in flight at once, and of one tenant (broker_launch.c). */
	uint32_t boot_concurrency, boot_concurrency_per_tenant;
	/* How long a started process has to report Ready (the launcher's
	 * launcher_set_ready_timeout_ms, set at start). */
	uint32_t ready_timeout_ms;
};

struct tenants {
	struct broker_host_config host;
	struct tenant t[BROKER_TENANT_MAX];
	size_t n;
	struct tenant_map map[128];
	size_t nmap;
	int admin; /* index of the built-in "root" tenant */
};

/* Load FILE (missing file: only root, the administrator). Returns 0 or -errno
 * with a message in err. */
int broker_tenant_config_load(struct tenants *ts, const char *path, char *err, size_t errlen);
/* The tenant of a peer (uid, primary gid, supplementary groups), or NULL
 * when the peer has none (refused). */
struct tenant *broker_tenant_for_peer(struct tenants *ts, uid_t uid, gid_t gid, const gid_t *groups,
				      size_t ngroups);
/* The same for the peer of a connected unix socket (SO_PEERCRED and
 * SO_PEERGROUPS, as they were at connect); its uid in *ret_uid. */
struct tenant *broker_tenant_for_socket(struct tenants *ts, int fd, uid_t *ret_uid);
struct tenant *broker_tenant_by_name(struct tenants *ts, const char *name);
/* Whether t may put a NIC on the tap called name: the administrator any,
 * another tenant only those its taps list names. */
bool broker_tenant_tap_allowed(const struct tenant *t, const char *name);

/* ---- VM definitions (broker_vmdef.c) ---- */

/* A NIC: the --net option of cellvm run, parsed by the same code (net_opt.c). */
struct broker_vmdef_net {
	/* opt's tap, MAC (always set: a random one is picked at create) and
	 * queue pairs, spelled out for the RPC view of a definition */
	char tap[IFNAMSIZ];
	char mac[18];
	uint32_t queues;
	struct net_opt opt; /* its fds are unused: the taps open at boot (broker_launch.c) */
};

/* A path that names the Nth fd passed with an RPC create (1-based): "fd:N". */
#define BROKER_VMDEF_FD_PREFIX "fd:"

struct broker_vmdef {
	char name[BROKER_NAME_MAX];
	uint32_t cpus;
	uint64_t memory;
	char kernel[PATH_MAX]; /* with firmware: the firmware image's path */
	char initrd[PATH_MAX]; /* empty: none */
	/* kernel names a firmware image (REST "firmware"), checked and kept as
	 * a kernel is (the tenant's image_dir, or an fd it passed): the core
	 * boots it from the reset vector (CoreSetup.has_firmware). */
	bool firmware;
	bool no_acpi; /* REST "acpi": false (CoreSetup.no_acpi) */
	/* The files, opened once where they are checked (create, or the first
	 * boot after a reload of the state directory) and kept until the
	 * definition is freed; every boot and device restart gets dups, and
	 * nothing opens the names again. -1: not open yet. Each disk's image is
	 * disks[i].image_fd, with its OFD lock (shared read-only, exclusive
	 * read-write). */
	int kernel_fd, initrd_fd;
	char cmdline[BROKER_MAX_CMDLINE + 1];
	struct disk_opt disks[DISK_MAX];
	size_t ndisks;
	struct broker_vmdef_net nets[BROKER_NET_MAX]; /* devices after the disks, in this order */
	size_t nnets;
	char input[16];		    /* the default input backend: "ps2", "virtio" or "" */
	bool has_input;		    /* input_config: the VM has an input device */
	struct input_opt input_opt; /* its backends and identities (no fds here) */
	bool has_gpu;		    /* gpu: the VM has a display (after the NICs) */
	struct gpu_opt gpu_opt;	    /* its modes, budget and ring (no ring here) */
	bool has_snd;		    /* snd: the VM has a sound card (after the gpu) */
	struct snd_opt snd_opt;	    /* its streams and ring periods (no fds here) */
	/* its cgroup's cpu.weight (1..10000); 0: the broker's vm_cpu_weight */
	uint32_t cpu_weight;
};

/* UNTRUSTED(client): parse and check a definition; strict (unknown fields are
 * errors). tenant restricts paths and opens the files (kernel_fd, initrd_fd,
 * each disk's image_fd, locked): below its image_dir, beneath an fd of that
 * directory with no symlink followed, of the right kind, with the access the
 * tenant itself has (see docs/broker.md); NULL: lexical checks only, nothing
 * opened (reloading the state directory). Returns 0 or -EINVAL with a
 * message. On success *ret holds the open files: release them with
 * broker_vmdef_free. */
int broker_vmdef_from_json(json_object *o, const struct tenant *tenant, struct broker_vmdef *ret,
			   char *err, size_t errlen);
/* The same, for an RPC create that passed fds: a path "fd:N" names fds[N-1]
 * (checked for its kind and access mode, then dup'd: fds stay the caller's). */
int broker_vmdef_from_json_fds(json_object *o, const struct tenant *tenant, const int *fds,
			       size_t nfds, struct broker_vmdef *ret, char *err, size_t errlen);
/* A new JSON object (the caller puts it), as broker_vmdef_from_json accepts it. */
json_object *broker_vmdef_to_json(const struct broker_vmdef *d);
/* At boot: check the taps again, open the files of a definition that has
 * none open yet (reloaded from the state directory) as a create does, and
 * check the kept ones again (kind, owner and mode may have changed). */
int broker_vmdef_check_paths(struct broker_vmdef *d, const struct tenant *t, char *err,
			     size_t errlen);
/* Close the kept files (releasing their locks). */
void broker_vmdef_free(struct broker_vmdef *d);
/* The definition's devices: disks, then NICs, then the gpu, then the sound
 * card, then the input device (their order on the bus, and their index everywhere); how many, and
 * the kind of the ith. */
size_t broker_vmdef_ndevs(const struct broker_vmdef *d);
enum launcher_dev_kind broker_vmdef_dev_kind(const struct broker_vmdef *d, size_t i);

/* ---- the registry (broker_vm.c) ---- */

enum broker_vm_state {
	BROKER_VM_CREATED,
	BROKER_VM_RUNNING,
	BROKER_VM_PAUSED,
	BROKER_VM_STOPPED,
	BROKER_VM_STARTING, /* its processes are being started (broker_launch.c) */
	BROKER_VM_STOPPING, /* killed, its processes not all reaped yet (broker_vm.c) */
};
const char *broker_vm_state_name(enum broker_vm_state s);
/* A device kind's name, as the API shows it ("blk", "net", "gpu", "input"). */
const char *broker_vm_dev_kind_name(enum launcher_dev_kind type);

/* One device of a VM: its definition index, its process and its restarts
 * (a device process is restarted on its own, the core and the guest live on:
 * broker_supervise.c). */
struct broker_vm_device {
	struct broker_vm *vm;
	enum launcher_dev_kind type;
	const char *kind; /* its name: "blk", "net", "gpu", "input" */
	size_t def_index;
	struct device_proc proc;
	struct event *ev; /* pidfd */
	bool running;
	struct supervise_dev sup; /* restarts (launcher/supervise.c) */
	struct event *restart_ev; /* back-off timer of a pending restart */
	int last_status;
	int log_keep; /* a dup of its stderr pipe for the keeper (> 0), the reader has the fd */
};

struct broker;
struct broker_vm;
/* Called in the loop when a boot (or a stop, below) has finished, well or not. */
typedef void broker_vm_boot_done_fn(struct broker_vm *vm, enum api_err e, const char *err,
				    void *arg);

struct broker_vm {
	TAILQ_ENTRY(broker_vm) link;
	struct broker *b;
	char id[BROKER_ID_LEN + 1];
	int tenant; /* index into broker.tenants */
	struct broker_vmdef def;
	enum broker_vm_state state;
	uint64_t created_us; /* orders the registry: the default VM is the first */
	/* running processes */
	int mem_fd;
	struct core_proc core;
	struct event *core_ev, *cons_ev;
	struct event *chan_ev; /* the core's channel: its DeviceFaults (broker_supervise.c) */
	/* A pause or resume asked of the core and not answered yet (enum
	 * launcher_core_pending), who waits for it, and its time limit
	 * (broker_vm.c, docs/broker.md "VM lifecycle"). */
	int pause_pending;
	broker_vm_boot_done_fn *pause_done;
	void *pause_arg;
	struct event *pause_ev;
	/* A graceful shutdown (broker_vm_shutdown.c): pause_pending is
	 * LAUNCHER_CORE_POWER_BUTTON while the core's answer to the button is
	 * awaited; then shutdown_done waits for the core's end until the
	 * deadline (shutdown_ev, also the limit for the button's answer). */
	struct broker_vm_shutdown_wait *shutdown;
	struct broker_vm_device devs[LAUNCHER_MAX_DEVICES]; /* disks, then nets */
	size_t ndevs;
	/* The NICs' taps, opened at boot and kept while the VM runs, so a
	 * restarted net device gets the same tap (broker_launch.c). */
	struct net_opt taps[BROKER_NET_MAX];
	size_t ntaps;
	uint32_t dev_jobs; /* device restarts with the launcher thread: no delete */
	/* While stopping: what comes once its last process is reaped, who waits
	 * for it, the core's status, and a timer for a zombie a tracer holds. */
	int then; /* enum broker_vm_then (broker_vm.c) */
	broker_vm_boot_done_fn *then_done;
	void *then_arg;
	int core_status;
	struct event *reap_ev;
	/* Its host uid and gid from the pool (0: none yet), taken at create and
	 * kept in its state file until delete; its cgroup (> 0: open, made at
	 * its first boot, removed at delete); both as its processes get them
	 * (broker_host.c). */
	uint32_t host_id;
	int cgroup_fd;
	struct launcher_jail jail;
	/* Each device's counters page (launcher_stats_create), made at its first
	 * boot and kept until the VM is deleted: counts go on across device
	 * restarts and VM boots. */
	int stats_fd[LAUNCHER_MAX_DEVICES];
	const struct devproc_stats *stats[LAUNCHER_MAX_DEVICES];
	/* history */
	uint32_t boots, reboots_in_window;
	bool restore; /* boot again at the next start (a clean --on-exit restore) */
	uint64_t reboot_window_start;
	char last_exit[160];
	/* the input device's control channel (broker_input.c) */
	struct event *input_ev;
	TAILQ_HEAD(broker_input_calls, broker_input_call) input_calls;
	size_t ninput_calls;
	uint64_t input_next_id;
	struct dispatch input_proto;
	/* The gpu's capture ring while the VM runs (moved from its boot's job;
	 * ring_fd -1: none) and the broker's read-only mapping of it, for
	 * screenshots (broker_display.c); capture readers' ids. */
	struct gpu_opt gpu;
	const void *ring;
	uint64_t capture_next_id;
	uint32_t ncapture; /* readers subscribed (at most GPU_OPT_MAX_READERS - 1) */
	uint64_t capture_ids[GPU_OPT_MAX_READERS]; /* their ids (0: a free slot) */
	/* Its VNC server (cellvm-display; pid -1: none) and its channel's and
	 * pidfd's events; the viewers handed to it so far. */
	struct display_proc display;
	struct event *display_ev, *display_pid_ev;
	int display_log_keep; /* > 0: a dup of its stderr pipe, for a next broker */
	uint64_t display_clients;
	uint64_t display_dropped, display_dropped_logged; /* viewers' input dropped; when said */
	/* The snd's audio ring while the VM runs (moved from its boot's job;
	 * ring_fd -1: none), the broker's read-only mapping of it (REST's WAV
	 * streams read it), audio readers' ids (broker_audio.c). */
	struct snd_opt snd;
	const void *audio_ring;
	uint64_t audio_next_id;
	uint32_t naudio; /* readers subscribed (at most SND_OPT_MAX_READERS) */
	uint64_t audio_ids[SND_OPT_MAX_READERS]; /* their ids (0: a free slot) */
	/* serial output: a ring of the last BROKER_CONSOLE_LOG bytes, in a
	 * shared memfd (cons_fd) that its keeper holds: a next broker goes on
	 * with the same ring (broker_console.c) */
	uint8_t *cons;
	uint64_t cons_total;
	int cons_fd;
	/* Its keeper while it runs (broker_keeper.c; pid 0: none): holds a dup
	 * of every fd above, so the VM outlives the broker. core_log_keep: a
	 * dup of the core's stderr pipe (the reader has the fd). */
	pid_t keeper_pid;
	uint64_t keeper_start; /* its start time (ticks since boot) */
	int keeper_pidfd, keeper_conn;
	struct event *keeper_ev;
	bool keeper_ending; /* a stop killed it: the stop waits for its end */
	int core_log_keep;
	bool adopted; /* its processes are an earlier broker's: not our children */
	/* Loaded from its state file: what an earlier broker recorded of its
	 * running processes and keeper, for broker_adopt_all (then dropped). */
	json_object *adopt_rec;
};

TAILQ_HEAD(broker_vm_list, broker_vm);

/* A streaming reply (console follow, events), owned by the REST layer. */
struct stream;

struct broker {
	struct event_base *base;
	struct tenants tenants;
	char state_dir[PATH_MAX];
	int state_dirfd;
	struct broker_state_writer *state_writer; /* broker_state.c */
	struct broker_vm_list vms;
	size_t nvms;
	uint64_t event_seq;
	bool restore_on_exit; /* --on-exit restore: see docs/broker.md */
	bool keep_on_exit;    /* --on-exit keep: VMs outlive the broker (broker_adopt.c) */
	int keep_dirfd;	      /* STATE_DIR/keep (> 0 once open): keepers' sockets */
	bool shutting_down;
	struct rest *rest;
	struct rpc *rpc;
	struct viewer *viewer; /* the viewer listener (broker_viewer.c), or NULL: off */
	struct broker_launch_worker *launcher;
	int client_timeout; /* seconds a client may take to send a request */
	int idle_timeout;   /* seconds an RPC connection may sit idle */
	/* Open API connections per uid, REST and RPC together (uid 0 is not
	 * limited): broker_api_stream.c. */
	uint32_t max_conns_per_uid;
	struct broker_uid_conns *uid_conns;
	size_t nuid_conns;
	bool have_systemd;
	/* VMs' cgroups: an fd of the delegated subtree (> 0), its path, or why
	 * there is none; the next uid of the pool to try (broker_host.c). */
	int cgroup_fd;
	char cgroup_path[PATH_MAX];
	char cgroup_off[PATH_MAX + 256];
	uint32_t id_next;
	/* Stop serving: the administrator asked (PUT /vmm.shutdown, RPC
	 * Shutdown). Set by whoever runs the loop (broker_main.c), which ends it
	 * and powers the VMs off; the library never ends the loop itself. */
	void (*request_shutdown)(struct broker *b);
	/* Re-execute the installed broker in place (PUT /vmm.upgrade, RPC
	 * Upgrade): the loop ends as for a shutdown, but the VMs are kept for
	 * the new image to adopt and the API sockets go to it (broker_main.c,
	 * docs/broker.md "Upgrades"). upgrading: it was asked. */
	void (*request_upgrade)(struct broker *b);
	bool upgrading;
	uint64_t upgrade_us;		   /* broker_now_us() of the request: its drain's start */
	struct broker_childlog *childlogs; /* the VMs' processes' stderr (broker_childlog.c) */
};

/* Registry operations. Each returns API_OK or an error with a message in err.
 * tenant is the caller's; a VM it may not see is API_VM_NOT_FOUND. */
struct broker_vm *broker_vm_lookup(struct broker *b, const struct tenant *caller, const char *id);
struct broker_vm *broker_vm_default(struct broker *b, const struct tenant *caller);
enum api_err broker_vm_create(struct broker *b, int tenant, struct broker_vmdef *def,
			      struct broker_vm **ret, char *err, size_t errlen);
enum api_err broker_vm_delete(struct broker_vm *vm, char *err, size_t errlen);
/* Start booting: API_OK means the VM is "starting" and done(arg) will be
 * called (done may be NULL); any other answer is immediate, done is not called. */
enum api_err broker_vm_boot(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			    char *err, size_t errlen);
/* Power off, then boot; the same contract as broker_vm_boot. */
enum api_err broker_vm_reboot(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			      char *err, size_t errlen);
/* Pause and resume, in the core (a cooperative pause): API_OK means the core
 * was asked and done(arg) will be called once it answered (the VM is
 * "paused", or "running" again), failed or timed out; any other answer is
 * immediate, done is not called. */
enum api_err broker_vm_pause(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			     char *err, size_t errlen);
enum api_err broker_vm_resume(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
			      char *err, size_t errlen);
/* broker_supervise.c: the core answered a pending Pause (CorePaused: failed
 * when it could not hold its vCPUs) or Resume (CoreResumed). */
void broker_vm_on_paused(struct broker_vm *vm, bool failed, const char *detail);
void broker_vm_on_resumed(struct broker_vm *vm);
/* Power off and delete end the VM's processes without waiting for them:
 * API_OK means the VM is "stopping" and done(arg) will be called once its
 * last process is reaped (the VM is "stopped" then, or, for delete, freed
 * right after done returns); any other answer is immediate, done is not
 * called. */
enum api_err broker_vm_power_off(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
				 char *err, size_t errlen);
enum api_err broker_vm_delete_async(struct broker_vm *vm, broker_vm_boot_done_fn *done, void *arg,
				    bool *ret_pending, char *err, size_t errlen);

/* ---- a graceful shutdown (broker_vm_shutdown.c) ---- */

#define BROKER_SHUTDOWN_DEFAULT_S 60
#define BROKER_SHUTDOWN_MAX_S	  3600

/* How a shutdown ended: e API_OK with what happened, or an error (err). */
struct broker_vm_shutdown_result {
	enum api_err e;
	const char *err;
	bool powered_off;   /* the VM's core ended (it is stopped, or deleted) */
	bool guest_listens; /* CorePowerButton's word */
	const char *state;  /* the VM's state as the answer leaves */
	double seconds;	    /* from the request to the answer */
	const char *message;
	const char *last_exit; /* powered_off: how the core ended; else NULL */
};
typedef void broker_vm_shutdown_fn(struct broker_vm *vm,
				   const struct broker_vm_shutdown_result *res, void *arg);
/* Press the VM's ACPI power button and wait (the loop goes on) until its core
 * ends or timeout_s passes (0: answer once the core answered the button).
 * API_OK: done(arg) will be called once, with the result (a guest that does
 * not listen is answered as soon as the core says so). Any other answer is
 * immediate (a paused VM, one not running, a shutdown already waiting), done
 * is not called. */
enum api_err broker_vm_shutdown(struct broker_vm *vm, uint32_t timeout_s,
				broker_vm_shutdown_fn *done, void *arg, char *err, size_t errlen);
/* broker_supervise.c: the core answered the PowerButton. */
void broker_vm_on_power_button(struct broker_vm *vm, bool guest_listens);
/* broker_vm.c: the VM's core has ended and everything is reaped (rebooting:
 * a new core follows, the guest's reboot or the API's): answer a waiting
 * shutdown. */
void broker_vm_shutdown_ended(struct broker_vm *vm, bool rebooting);
/* Answer a waiting shutdown with an error (the broker exits: answer; NULL:
 * drop it unanswered, its client is gone) and free what it holds. */
void broker_vm_shutdown_abort(struct broker_vm *vm, const char *why);
/* New JSON objects (the caller puts them): what clients see of a VM
 * (broker_vm_info.c). */
json_object *broker_vm_info_json(const struct broker_vm *vm);
json_object *broker_vm_info_counters_json(const struct broker_vm *vm);
/* Power off every VM (broker exit) and free the registry; with restore, the
 * ones that ran are marked to be booted again at the next start. */
void broker_vm_registry_free(struct broker *b, bool restore);
/* At start: boot the VMs marked by a restoring shutdown. */
void broker_vm_registry_restore(struct broker *b);
/* Add a VM loaded from the state directory (not running). */
struct broker_vm *broker_vm_registry_add(struct broker *b, const char *id, int tenant,
					 struct broker_vmdef *def, uint64_t created_us);

/* For broker_supervise.c and broker_console.c: the VM's tenant; tell both
 * APIs' subscribers about vm; change its state (saved, and told); tear down a
 * VM whose core has exited or was killed, reaping everything (returns the
 * core's exit status: enum vm_exit, or 128+signal). */
struct tenant *broker_vm_tenant(const struct broker_vm *vm);
void broker_vm_event(struct broker *b, const struct broker_vm *vm, const char *what,
		     const char *detail);
void broker_vm_set_state(struct broker_vm *vm, enum broker_vm_state s, const char *detail);
int broker_vm_teardown(struct broker_vm *vm);
/* A pidfd of the VM fired (broker_supervise.c): reap without waiting; when the
 * core ended by itself the VM starts stopping; once nothing is left, the
 * stop finishes. */
void broker_vm_on_core_exit(struct broker_vm *vm);
/* Reap a device whose pidfd fired: 1 when done (its status in d->last_status,
 * its fds closed, its event freed), 0 when it is looked at again later. */
int broker_vm_reap_device(struct broker_vm_device *d);
/* Kill every process of a running VM and make it "stopping" (then: enum
 * broker_vm_then); done(arg) when the stop is finished. */
void broker_vm_stop_begin(struct broker_vm *vm, int then, broker_vm_boot_done_fn *done, void *arg);
/* Finish a stop whose processes are all reaped (and whose device restart
 * jobs are back); does nothing before. */
void broker_vm_stop_check(struct broker_vm *vm);
/* At exit, before the APIs close: answer whoever waits for a stop (power-off
 * and delete as done, since the exit finishes them; reboot as refused). */
void broker_vm_stops_answer(struct broker *b);
/* The core ended by itself and everything is reaped: stop, or boot again after
 * a guest reboot (broker_supervise.c). */
void broker_supervise_core_ended(struct broker_vm *vm, int status);

/* ---- supervision of a running VM's processes (broker_supervise.c) ---- */

/* Watch the core's and the devices' pidfds (events in vm). Returns 0 or
 * -ENOMEM; the caller tears the VM down then. */
int broker_supervise_watch(struct broker_vm *vm);
/* In the loop: install a device restart the launcher thread finished, or
 * try again later; frees the job. */
void broker_supervise_restart_finish(struct broker_launch_job *j);

/* ---- the VM processes' stderr (broker_childlog.c) ---- */

/* Take a process's stderr pipe (*log > 0; set to -1, closed here on failure)
 * and re-emit its lines through the broker's log, "vm=ID WHO: ..." (WHO:
 * core, blk0, net0), escaped, cut and rate-limited. The reader lives until
 * the pipe's EOF (every holder of the write end gone), apart from the VM.
 * Returns 0 or -ENOMEM. */
int broker_childlog_watch(struct broker *b, const char *vm_id, const char *who, int *log);
/* The core's and every device's pipe of a VM just booted; a device's new
 * process. Returns 0 or -ENOMEM. */
int broker_childlog_watch_vm(struct broker_vm *vm);
int broker_childlog_watch_dev(struct broker_vm_device *d);
/* At exit: read what is left in each pipe and free the readers. */
void broker_childlog_free_all(struct broker *b);

/* ---- the serial console (broker_console.c) ---- */

/* The VM's console ring: a shared memfd (cons_fd) mapped at cons; map_fd
 * >= 0: an existing ring (adoption), checked and taken, its byte count read
 * back. 0 or -errno. */
int broker_console_ring_open(struct broker_vm *vm, int map_fd);
void broker_console_ring_close(struct broker_vm *vm);
/* Watch the core's console stream (an event in vm). Returns 0 or -ENOMEM. */
int broker_console_watch(struct broker_vm *vm);
/* Move what the guest wrote into the log, at most rounds reads (0: until the
 * stream is empty), and tell the followers. */
void broker_console_drain(struct broker_vm *vm, unsigned rounds);
/* Tell both APIs' console followers about new bytes; vm_gone ends their streams. */
void broker_console_notify(struct broker *b, const struct broker_vm *vm, bool vm_gone);
/* Copy the console log from byte offset *pos (absolute) into out; advances *pos.
 * Bytes that fell out of the ring are skipped. */
void broker_console_read(const struct broker_vm *vm, uint64_t *pos, struct evbuffer *out);
enum api_err broker_console_input(struct broker_vm *vm, const void *buf, size_t len, char *err,
				  size_t errlen);

/* ---- starting processes off the loop (broker_launch.c) ---- */

/* One boot, handed to the launcher thread. vm and its definition are only
 * read there; the results are installed by broker_vm_boot_finish, in the loop. */
struct broker_launch_job {
	struct broker_vm *vm;
	/* broker_launch.c's: its place in a tenant's queue of boots or in a
	 * lane's list; the tenant whose boot slot it holds (-1: none). */
	TAILQ_ENTRY(broker_launch_job) link;
	int slot_tenant;
	/* -1: boot the VM; else restart this device (devs[0] gets the new
	 * process, over mem_fd, a dup the job owns; a NIC's tap fds are
	 * dups in nets[0], made by broker_launch_submit) */
	int restart_dev;
	uint32_t boot;		   /* vm->boots when a restart was asked for */
	enum broker_vm_state prev; /* the state to go back to when the boot fails */
	broker_vm_boot_done_fn *done;
	void *arg;
	/* results */
	enum api_err e;
	char err[512];
	int mem_fd;
	struct core_proc core;
	struct device_proc devs[LAUNCHER_MAX_DEVICES];
	size_t ndevs;
	struct net_opt nets[BROKER_NET_MAX]; /* a boot's open taps, moved to the VM */
	size_t nnets;
	/* The input device's options for this boot (its PS/2 link), a copy of
	 * the definition's; closed once the core and the device hold the link. */
	struct input_opt input;
	/* The gpu's options for this boot; its ring, made here, moves to the VM. */
	struct gpu_opt gpu;
	/* The same for the sound card's options and its audio ring. */
	struct snd_opt snd;
	/* Its VNC server (pid -1: none), and why it did not start. */
	struct display_proc display;
	char display_err[256];
	int stats_fd[LAUNCHER_MAX_DEVICES]; /* the VM's counters pages (the VM owns them) */
	/* Dups of the definition's kept files (kernel_fd, initrd_fd, each disk's
	 * image_fd), made by broker_launch_submit in the loop, closed by the
	 * worker when it is done with the job; -1: none. */
	int kernel_fd, initrd_fd, disk_fds[DISK_MAX];
};

int broker_launch_start(struct broker *b);
/* Queue a job (the caller keeps it until broker_vm_boot_finish). Returns 0 or
 * -errno. A boot whose taps another VM holds or is starting on is finished
 * with that error (broker_vm_boot_finish), not refused here. */
int broker_launch_submit(struct broker *b, struct broker_launch_job *j);
/* In the loop, when a VM's processes are gone: close the taps it kept. */
void broker_launch_taps_close(struct broker_vm *vm);
/* Cancel queued jobs, let the running ones finish, finish them all in the
 * caller (the loop thread), and end the workers. */
void broker_launch_stop(struct broker *b);
/* In the loop: install a finished job into its VM (or undo), tell the waiter,
 * free the job. */
void broker_vm_boot_finish(struct broker_launch_job *j);

/* ---- display (broker_display.c): docs/gpu.md, docs/display.md ---- */

/* The capture reader id of a VM's VNC server at its gpu device (the API's
 * readers count from 1). */
#define BROKER_DISPLAY_READER_ID (1ULL << 62)

struct screenshot_opts;

/* After a boot's install: map the gpu's capture ring read-only (no gpu: 0). */
int broker_display_install(struct broker_vm *vm);
/* In the teardown: stop the VNC server, unmap and close the ring. */
void broker_display_teardown(struct broker_vm *vm);
/* Hand an accepted, authenticated viewer connection (not taken) to the VM's
 * VNC server; resumed: broker_viewer.c ran the RFB handshake through its VNC
 * authentication. API_OK, or an error with a message (no gpu, not running,
 * no VNC server). */
enum api_err broker_display_viewer(struct broker_vm *vm, int fd, bool view_only, bool resumed,
				   char *err, size_t errlen);
/* A PNG of the VM's screen (common/screenshot.h): API_OK and *png (malloc'd),
 * or an error with a message: no gpu (NOT_SUPPORTED), not running or no
 * frame yet (VM_BUSY), a bad scanout or crop (INVALID_ARGUMENT). */
enum api_err broker_display_screenshot(struct broker_vm *vm, const struct screenshot_opts *o,
				       uint8_t **png, size_t *len, char *err, size_t errlen);
/* A new capture reader: the ring read-only and an eventfd of its own in
 * fds[0], fds[1] (the caller's to pass on and close), subscribed at the gpu
 * device as *ret_id; the hello line for it (gpu_opt_reader_hello) in hello.
 * API_OK, or an error with a message (no gpu, not running, too many
 * readers). */
enum api_err broker_display_subscribe(struct broker_vm *vm, uint64_t *ret_id, int fds[2],
				      char *hello, size_t hello_len, char *err, size_t errlen);
/* Reader id of boot `boot` (vm->boots when it subscribed) is gone. */
void broker_display_unsubscribe(struct broker_vm *vm, uint32_t boot, uint64_t id);

/* ---- sound (broker_audio.c): docs/snd.md ---- */

/* After a boot's install: map the snd's audio ring read-only (no snd, or
 * a null sink: 0). */
int broker_audio_install(struct broker_vm *vm);
/* In the teardown: end the REST audio streams of the VM and close its RPC
 * audio readers' connections, unmap and close the ring. */
void broker_audio_teardown(struct broker_vm *vm);
/* Whether the VM has sound to read now (a ring) or to send (a running snd
 * device, want_ring false): API_OK, or NOT_SUPPORTED (no snd, or no ring)
 * or VM_BUSY (not running) with a message. */
enum api_err broker_audio_ready(struct broker_vm *vm, bool want_ring, char *err, size_t errlen);
/* A new audio reader: the ring read-only and an eventfd of its own in
 * fds[0], fds[1] (the caller's to pass on and close; the eventfd is
 * non-blocking), subscribed at the snd device as *ret_id; the hello
 * line (snd_opt_reader_hello) in hello. API_OK, or an error with a message
 * (no snd, not running, SND_OPT_MAX_READERS readers already). */
enum api_err broker_audio_subscribe(struct broker_vm *vm, uint64_t *ret_id, int fds[2], char *hello,
				    size_t hello_len, char *err, size_t errlen);
/* Reader id of boot `boot` (vm->boots when it subscribed) is gone. */
void broker_audio_unsubscribe(struct broker_vm *vm, uint32_t boot, uint64_t id);
/* Sound for the guest's capture streams: a new pipe whose read end goes to
 * the snd device as an AudioSource (replacing the one before); its write
 * end (blocking: a writer in the loop sets O_NONBLOCK) in *ret_fd (the
 * caller's). API_OK, or an error with a
 * message (no snd, no capture stream, not running). */
enum api_err broker_audio_source(struct broker_vm *vm, int *ret_fd, char *err, size_t errlen);

/* ---- the viewer listener (broker_viewer.c): docs/display.md ---- */

#define BROKER_VIEWER_TOKEN_LEN 22		 /* the URL's token, [A-Za-z0-9] */
#define BROKER_VIEWER_DEFAULT	"127.0.0.1:6080" /* web viewers (noVNC's usual port) */
#define BROKER_VNC_DEFAULT	"127.0.0.1:5900" /* VNC clients */
#define BROKER_NOVNC_DIR	"/usr/share/novnc"

/* Listen for web viewers on web_addr and VNC clients on vnc_addr
 * ("ADDRESS:PORT", IPv4; port 0: any; NULL: that one off); noVNC's files
 * from novnc_dir. 0 or -errno with a message (then neither listens). */
int broker_viewer_start(struct broker *b, const char *web_addr, const char *vnc_addr,
			const char *novnc_dir, char *err, size_t errlen);
void broker_viewer_stop(struct broker *b);
/* A one-time console token for vm (ttl_s seconds): API_OK and *ret, the
 * answer's JSON (token, password, expires_in, view_only, viewer, websocket,
 * vnc), or
 * an error with a message (listener off, no gpu, too many tokens). */
enum api_err broker_viewer_token(struct broker *b, const struct broker_vm *vm, bool view_only,
				 uint32_t ttl_s, json_object **ret, char *err, size_t errlen);
/* The VM is deleted: its unspent tokens go. */
void broker_viewer_vm_gone(struct broker *b, const char *vm_id);

/* ---- input (broker_input.c): docs/input.md ---- */

struct broker_input_call;
typedef void broker_input_done_fn(struct broker_vm *vm, const struct input_api_result *res,
				  void *arg);

/* After a boot's install: watch the input device's control channel. */
int broker_input_watch(struct broker_vm *vm);
/* The VM's processes are gone: every call in flight ends with BACKEND_ERROR. */
void broker_input_teardown(struct broker_vm *vm);
/* The broker stops: every call in flight ends with BACKEND_ERROR now, while
 * the APIs that wait for them still stand. */
void broker_input_stop(struct broker *b);
/* Send cmd (its id is set here; total: the events of an inject, else 0) and
 * call done once the device answered, or at timeout_ms (an inject: VM_BUSY
 * with the count delivered). Returns INPUT_API_OK (done will be called)
 * or an error with a message in err (done will not). */
enum input_api_err broker_input_call(struct broker_vm *vm, Cellvm__Device__InputCommand *cmd,
				     uint32_t total, int timeout_ms, broker_input_done_fn *done,
				     void *arg, char *err, size_t errlen);
/* The API's requests as commands (REST and RPC build them here), each
 * answered as broker_input_call does. An inject from the request's JSON,
 * parsed (UNTRUSTED(client), input_req_parse) or as bytes
 * (input_req_parse_bytes): a bad one is INPUT_API_INVALID with the reason
 * in err and *ret_event the event at fault (else -1). A switch to backend
 * ("ps2", "virtio"; an unknown name is INPUT_API_NOT_AVAILABLE), a state
 * query: answered within 5 s. */
enum input_api_err broker_input_inject_json(struct broker_vm *vm, const json_object *body,
					    int timeout_ms, broker_input_done_fn *done, void *arg,
					    char *err, size_t errlen, int *ret_event);
enum input_api_err broker_input_inject(struct broker_vm *vm, const char *json, size_t len,
				       int timeout_ms, broker_input_done_fn *done, void *arg,
				       char *err, size_t errlen, int *ret_event);
enum input_api_err broker_input_switch(struct broker_vm *vm, const char *backend,
				       broker_input_done_fn *done, void *arg, char *err,
				       size_t errlen);
enum input_api_err broker_input_query(struct broker_vm *vm, broker_input_done_fn *done, void *arg,
				      char *err, size_t errlen);
/* ---- the state directory (broker_state.c) ---- */

/* Open (make) the directory and start its writer thread. */
int broker_state_open(struct broker *b, const char *dir, char *err, size_t errlen);
/* Queue vm's definition and process ids for the writer thread, which writes
 * them atomically; a newer save or a remove replaces a queued one. Returns 0
 * or -errno (nothing queued); a failed write is logged and sent as a
 * "state_error" event later, from the loop. */
int broker_state_save(struct broker *b, const struct broker_vm *vm);
/* Queue the removal of vm's file (after any write queued before it). */
int broker_state_remove(struct broker *b, const struct broker_vm *vm);
/* At exit, the loop ended: let the writer finish the queue, waiting at most
 * timeout_s (logged), and end it. */
#define BROKER_STATE_EXIT_WAIT 10
void broker_state_close(struct broker *b, int timeout_s);
/* Reload every definition; kill what is left of VMs that ran under an earlier
 * broker. Returns the number loaded or -errno. */
int broker_state_load(struct broker *b);

/* ---- what each VM takes from the host (broker_host.c) ---- */

void broker_host_config_defaults(struct broker_host_config *c);
/* A key of the configuration file's global part: 0, -ENOENT (not one of
 * these keys) or -EINVAL. */
int broker_host_config_set(struct broker_host_config *c, const char *key, const char *val);
/* -EEXIST with a message when the pool overlaps an id of ETC/passwd,
 * ETC/group, ETC/subuid or ETC/subgid. */
int broker_host_pool_check(const struct broker_host_config *c, const char *etc, char *err,
			   size_t errlen);
/* At start, after the state directory is loaded: check the pool, give every
 * loaded VM an id (its recorded one when it is free and in the pool), take
 * the cgroup subtree or say once why there is none. Returns 0 or -errno with
 * a message (then the broker does not start). */
int broker_host_start(struct broker *b, char *err, size_t errlen);
/* cellvm-broker --cgroup-holder, the process of cellvm-vms.service: take
 * our own delegated cgroup for the VMs (move into a leaf, enable the
 * controllers for the children); the broker then finds it beside its own
 * and divides it without moving in. 0, or -errno with a message. */
int broker_host_cgroup_hold(char *err, size_t errlen);
/* Give vm a uid/gid of the pool: want when it is in the pool and no other
 * VM has it, else the next free one. -ENOSPC: the pool is exhausted. */
int broker_host_vm_ids(struct broker *b, struct broker_vm *vm, uint32_t want);
/* Before a boot: make the VM's cgroup (once) and fill vm->jail. Returns 0
 * or -errno with a message. */
int broker_host_vm_boot(struct broker_vm *vm, char *err, size_t errlen);
/* At delete (its processes are reaped): remove its cgroup. */
void broker_host_vm_release(struct broker_vm *vm);
/* Its uid and cgroup figures, as info and counters show them (a new object). */
json_object *broker_host_vm_json(const struct broker_vm *vm);

/* The state directory's record of processes: start time of pid in clock
 * ticks since boot (0: gone), and this boot's id (empty: unknown). */
#define BROKER_STATE_BOOT_ID_LEN 36
uint64_t broker_state_proc_start(pid_t pid);
void broker_state_boot_id(char out[BROKER_STATE_BOOT_ID_LEN + 1]);
/* Kill the processes an earlier broker recorded (a state file's
 * "processes"), each only when its pid, start time and boot id match. */
void broker_state_kill_leftovers(json_object *procs, const char *id);

/* ---- VMs outlive the broker: keepers (broker_keeper.c) and adoption
 * (broker_adopt.c); docs/broker.md, "VMs outlive the broker" ---- */

/* The fds and record a next broker needs of a running VM: what is handed
 * over (to a keeper, or to any other holder such as a re-executed broker).
 * blob: a packed cellvm.keeper.AdoptState (malloc'd) whose fd fields index
 * fds; fds: the VM's own, not dups (the caller sends them, closes none). */
struct broker_handover {
	uint8_t *blob;
	size_t blob_len;
	int fds[253];
	size_t nfds;
};
/* Fill h from vm (running or paused). 0, -ENOMEM, or -E2BIG (more than 253
 * fds). Free with broker_handover_free. */
int broker_handover_collect(const struct broker_vm *vm, struct broker_handover *h);
void broker_handover_free(struct broker_handover *h);

/* After a boot: start the VM's keeper (cellvm-keeper) and hand it the VM's
 * fds. 0 or -errno (logged; the VM runs all the same, it does not survive
 * the broker then). */
int broker_keeper_start(struct broker_vm *vm);
/* The VM's set of fds changed (a device died or restarted, a state change):
 * send the keeper the whole set again (no keeper: nothing). */
void broker_keeper_refresh(struct broker_vm *vm);
/* The VM's processes are gone: the keeper closes its dups and exits. */
void broker_keeper_release(struct broker_vm *vm);
/* A stop begins: the keeper is told to let go and killed, and the stop
 * waits for its end (vm->keeper_ending; broker_vm_stop_check), so that
 * nothing of the VM (its dups of the taps, above all) outlives the stop's
 * answer. */
void broker_keeper_end(struct broker_vm *vm);
/* Connect to the keeper at STATE_DIR/keep/<id>.sock, checked: the socket
 * root's in root's 0700 directory, its peer pid want_pid and uid 0. The
 * connection in *ret_conn, or -errno with the reason in why. */
int broker_keeper_connect(struct broker *b, const char *id, pid_t want_pid, int *ret_conn,
			  char *why, size_t whylen);
/* Receive a keeper's Held set on conn (waits at most a few seconds):
 * blob (malloc'd) and fds (the caller's). 0 or -errno with why. */
int broker_keeper_recv_held(int conn, uint8_t **ret_blob, size_t *ret_len, int *fds,
			    size_t *ret_nfds, char *why, size_t whylen);

/* At start, after broker_host_start and whatever the reason of the restart
 * (a crash, SIGKILL, --on-exit keep, an upgrade): adopt every VM whose state
 * file records a running keeper; the others' leftover processes are killed
 * (only those verified). Returns how many were adopted. */
int broker_adopt_all(struct broker *b);
/* Adopt one VM from its state file's record: 0, or -errno with why (nothing
 * of it installed). */
int broker_adopt_vm(struct broker_vm *vm, json_object *rec, char *why, size_t whylen);
/* --on-exit keep: refresh every running VM's keeper and let go of the VMs
 * without ending them (their state files keep them running). */
void broker_adopt_leave_all(struct broker *b);
/* A capture or audio reader subscribed (id) or gone (gone) in ids[n], so
 * that a next broker unsubscribes what this one's connections leave. */
void broker_adopt_reader(struct broker_vm *vm, uint64_t *ids, size_t n, uint64_t gone, uint64_t id);

/* ---- events, console followers (broker_api_rest.c) ---- */

/* Tell event subscribers about vm (state change, device change). */
void rest_event(struct broker *b, const struct broker_vm *vm, const char *what, const char *detail);
/* New console bytes of vm for followers; vm_gone ends their streams. */
void rest_console_update(struct broker *b, const struct broker_vm *vm, bool vm_gone);
/* The VM's processes are gone: its REST audio streams end (broker_api_audio.c). */
void rest_audio_vm_gone(struct broker *b, const struct broker_vm *vm);
int broker_api_rest_start(struct broker *b, int listen_fd, char *err, size_t errlen);
void broker_api_rest_stop(struct broker *b);
/* An upgrade's drain (docs/broker.md, "Upgrades"): accept no more
 * connections (clients wait in the backlog for the new image); then, until
 * it returns false, some connection accepted before has a request being
 * handled or arriving (bytes of it read or readable). Streams and idle
 * connections do not hold the drain (broker_main.c gives the drain 100 ms at
 * least, for requests of connections accepted just before it). */
void broker_api_rest_quiesce(struct broker *b);
bool broker_api_rest_busy(struct broker *b);

/* ---- the protobuf RPC API (broker_api_rpc.c) ---- */

void rpc_event(struct broker *b, const struct broker_vm *vm, const char *what, const char *detail);
void rpc_console_update(struct broker *b, const struct broker_vm *vm, bool vm_gone);
/* The VM's processes are gone: its RPC audio readers' connections close. */
void rpc_audio_vm_gone(struct broker *b, const struct broker_vm *vm);
int rpc_start(struct broker *b, int listen_fd, char *err, size_t errlen);
void rpc_stop(struct broker *b);
/* The same for RPC connections: a request being answered (a boot's) or one
 * readable on its socket holds the drain. */
void rpc_quiesce(struct broker *b);
bool rpc_busy(struct broker *b);

/* One more API connection of uid (false: it has max_conns_per_uid already;
 * uid 0 always true), and one fewer (broker_api_stream.c). */
bool broker_conn_uid_take(struct broker *b, uid_t uid);
void broker_conn_uid_put(struct broker *b, uid_t uid);
void broker_conn_uid_free(struct broker *b);

uint64_t broker_now(void);
uint64_t broker_now_us(void);
