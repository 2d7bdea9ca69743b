/* VMs outlive the broker: what a running VM's next broker needs (the
 * handover: an AdoptState blob and the fds it indexes, which the VM's keeper
 * holds), adoption of the VMs an earlier broker left running, and letting go
 * of them at exit (--on-exit keep). Runs in the broker, at start (before the
 * APIs serve) and at exit. Everything an earlier broker left is untrusted
 * until checked: the state file's record, the keeper's socket and peer, the
 * blob (parsed strictly, its vm id the file's) and each fd (a pidfd names the
 * pid the blob says, a memfd has its size). docs/broker.md, "VMs outlive the
 * broker". */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "keeper.pb-c.h"
#include "proto/channel.h"
#include "proto/devshm.h"
#include "proto/ipc.h"

#define ADOPT_MAX_FDS 253

/* ---- the handover: what a next broker needs ---- */

static int32_t handover_add(struct broker_handover *h, int fd, bool *full)
{
	if (fd < 0)
		return -1;
	if (h->nfds >= ADOPT_MAX_FDS) {
		*full = true;
		return -1;
	}
	h->fds[h->nfds] = fd;
	return (int32_t)h->nfds++;
}

static void handover_proc(Cellvm__Keeper__AdoptProc *p, struct broker_handover *h, pid_t pid,
			  int pidfd, int ctl, int log, bool *full)
{
	cellvm__keeper__adopt_proc__init(p);
	p->pid = pid > 0 ? pid : -1;
	p->pidfd = pid > 0 ? handover_add(h, pidfd, full) : -1;
	p->ctl = pid > 0 ? handover_add(h, ctl, full) : -1;
	p->log = pid > 0 && log > 0 ? handover_add(h, log, full) : -1;
}

int broker_handover_collect(const struct broker_vm *vm, struct broker_handover *h)
{
	Cellvm__Keeper__AdoptState st = CELLVM__KEEPER__ADOPT_STATE__INIT;
	Cellvm__Keeper__AdoptProc core, display, dprocs[LAUNCHER_MAX_DEVICES];
	uint64_t capture[GPU_OPT_MAX_READERS], audio[SND_OPT_MAX_READERS];
	Cellvm__Keeper__AdoptDevice devs[LAUNCHER_MAX_DEVICES], *pdevs[LAUNCHER_MAX_DEVICES];
	Cellvm__Keeper__AdoptTap taps[BROKER_NET_MAX], *ptaps[BROKER_NET_MAX];
	int32_t tapfds[BROKER_NET_MAX][NET_OPT_MAX_QUEUES], stats[LAUNCHER_MAX_DEVICES];
	int32_t disks[DISK_MAX];
	bool full = false;
	size_t len;

	memset(h, 0, sizeof(*h));
	st.vm_id = (char *)vm->id;
	st.boots = vm->boots;
	st.mem_fd = handover_add(h, vm->mem_fd, &full);
	handover_proc(&core, h, vm->core.pid, vm->core.pidfd, vm->core.chan, vm->core_log_keep,
		      &full);
	st.core = &core;
	st.console = handover_add(h, vm->core.console, &full);
	st.console_log = handover_add(h, vm->cons_fd, &full);
	for (size_t i = 0; i < vm->ndevs; i++) {
		const struct broker_vm_device *d = &vm->devs[i];

		cellvm__keeper__adopt_device__init(&devs[i]);
		devs[i].def_index = (uint32_t)d->def_index;
		devs[i].kind = (uint32_t)d->type;
		handover_proc(&dprocs[i], h, d->running ? d->proc.pid : -1, d->proc.pidfd,
			      d->proc.ctl, d->log_keep, &full);
		devs[i].proc = &dprocs[i];
		devs[i].running = d->running;
		devs[i].last_status = d->last_status;
		devs[i].in_a_row = d->sup.in_a_row;
		devs[i].restarts = d->sup.restarts;
		devs[i].started_ms = d->sup.started_ms;
		devs[i].gone = d->sup.gone;
		pdevs[i] = &devs[i];
		stats[i] = vm->stats_fd[i] > 0 ? handover_add(h, vm->stats_fd[i], &full) : -1;
	}
	st.devices = pdevs;
	st.n_devices = vm->ndevs;
	st.stats_fds = stats;
	st.n_stats_fds = vm->ndevs;
	for (size_t k = 0; k < vm->ntaps; k++) {
		cellvm__keeper__adopt_tap__init(&taps[k]);
		taps[k].name = (char *)vm->taps[k].tap;
		for (size_t q = 0; q < vm->taps[k].nfds && q < NET_OPT_MAX_QUEUES; q++)
			tapfds[k][q] = handover_add(h, vm->taps[k].fds[q], &full);
		taps[k].fds = tapfds[k];
		taps[k].n_fds = vm->taps[k].nfds < NET_OPT_MAX_QUEUES ? vm->taps[k].nfds
								      : NET_OPT_MAX_QUEUES;
		taps[k].created = vm->taps[k].created;
		ptaps[k] = &taps[k];
	}
	st.taps = ptaps;
	st.n_taps = vm->ntaps;
	/* The definition's kept files: a device restart gets dups of them. */
	st.kernel_fd = handover_add(h, vm->def.kernel_fd, &full);
	st.initrd_fd = handover_add(h, vm->def.initrd_fd, &full);
	for (size_t i = 0; i < vm->def.ndisks; i++)
		disks[i] = handover_add(h, vm->def.disks[i].image_fd, &full);
	st.disk_fds = disks;
	st.n_disk_fds = vm->def.ndisks;
	st.input_next_id = vm->input_next_id;
	st.capture_next_id = vm->capture_next_id;
	st.audio_next_id = vm->audio_next_id;
	st.reboots_in_window = vm->reboots_in_window;
	st.reboot_window_start = vm->reboot_window_start;
	st.gpu_ring = handover_add(h, vm->gpu.ring_fd, &full);
	st.gpu_present = handover_add(h, vm->gpu.present_fd, &full);
	handover_proc(&display, h, vm->display.pid, vm->display.pidfd, vm->display.ctl,
		      vm->display_log_keep, &full);
	st.display = &display;
	st.snd_ring = handover_add(h, vm->snd.ring_fd, &full);
	st.snd_sink = handover_add(h, vm->snd.sink_fd, &full);
	st.snd_source = handover_add(h, vm->snd.source_fd, &full);
	for (size_t i = 0; i < GPU_OPT_MAX_READERS; i++)
		if (vm->capture_ids[i])
			capture[st.n_capture_readers++] = vm->capture_ids[i];
	st.capture_readers = capture;
	for (size_t i = 0; i < SND_OPT_MAX_READERS; i++)
		if (vm->audio_ids[i])
			audio[st.n_audio_readers++] = vm->audio_ids[i];
	st.audio_readers = audio;
	if (full)
		return -E2BIG;
	len = cellvm__keeper__adopt_state__get_packed_size(&st);
	h->blob = malloc(len ? len : 1);
	if (!h->blob)
		return -ENOMEM;
	h->blob_len = cellvm__keeper__adopt_state__pack(&st, h->blob);
	return 0;
}

void broker_handover_free(struct broker_handover *h)
{
	free(h->blob);
	h->blob = NULL;
	h->nfds = 0;
}

/* ---- adoption ---- */

/* The fds a keeper sent, each taken at most once. */
struct adopt_fds {
	int fds[ADOPT_MAX_FDS];
	size_t n;
};

/* UNTRUSTED(keeper): an index of the blob; the fd, taken (-1: none, or
 * out of range, or taken already). */
static int adopt_take(struct adopt_fds *f, int32_t idx)
{
	int fd;

	if (idx < 0 || (size_t)idx >= f->n)
		return -1;
	fd = f->fds[idx];
	f->fds[idx] = -1;
	return fd;
}

/* Whether pidfd names pid (/proc/self/fdinfo's "Pid:") and it still runs. */
static bool adopt_pidfd_is(int pidfd, pid_t pid)
{
	char path[64], buf[1024], *p;
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	ssize_t n;
	int fd;

	if (pidfd < 0 || pid <= 1)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strstr(buf, "\nPid:");
	if (!p || strtol(p + 5, NULL, 10) != pid)
		return false;
	return poll(&pf, 1, 0) == 0; /* readable: it has exited */
}

/* A counters page from the keeper: a memfd of its size, mapped read-only. */
static int adopt_stats(struct broker_vm *vm, size_t i, int fd)
{
	struct stat st;
	void *p;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != DEVPROC_STATS_SIZE) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, DEVPROC_STATS_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	launcher_stats_close(vm->stats_fd[i], vm->stats[i]);
	vm->stats_fd[i] = fd;
	vm->stats[i] = p;
	return 0;
}

/* A kept file of the definition: the held one where the definition (loaded
 * from the state directory) has none open yet. */
static void adopt_kept(int *slot, int fd)
{
	if (fd < 0)
		return;
	if (*slot < 0)
		*slot = fd;
	else
		close(fd);
}

/* The blob against the definition and the fds: 0, or -errno with why. */
static int adopt_check(const struct broker_vm *vm, const Cellvm__Keeper__AdoptState *st,
		       const struct adopt_fds *f, char *why, size_t whylen)
{
	const struct broker_vmdef *def = &vm->def;
	size_t ndevs = broker_vmdef_ndevs(def);

	/* UNTRUSTED(keeper): every count and index is checked here. */
	if (!st->vm_id || strcmp(st->vm_id, vm->id) != 0 || !st->core) {
		snprintf(why, whylen, "its keeper's record names another VM");
		return -EINVAL;
	}
	if (st->n_devices != ndevs || ndevs > LAUNCHER_MAX_DEVICES || st->n_taps != def->nnets ||
	    st->n_stats_fds != ndevs || st->n_disk_fds != def->ndisks) {
		snprintf(why, whylen, "its keeper's record does not fit the VM's definition");
		return -EINVAL;
	}
	for (size_t i = 0; i < ndevs; i++) {
		const Cellvm__Keeper__AdoptDevice *d = st->devices[i];

		if (!d->proc || d->def_index != i ||
		    d->kind != (uint32_t)broker_vmdef_dev_kind(def, i)) {
			snprintf(why, whylen, "device %zu of its keeper's record does not fit", i);
			return -EINVAL;
		}
	}
	for (size_t k = 0; k < def->nnets; k++)
		if (!st->taps[k]->name || strcmp(st->taps[k]->name, def->nets[k].tap) != 0 ||
		    st->taps[k]->n_fds != def->nets[k].opt.queues ||
		    st->taps[k]->n_fds > NET_OPT_MAX_QUEUES) {
			snprintf(why, whylen, "NIC %zu of its keeper's record does not fit", k);
			return -EINVAL;
		}
	/* The processes: each pidfd names the pid the record says. */
	{
		int pidfd = st->core->pidfd >= 0 && (size_t)st->core->pidfd < f->n
				    ? f->fds[st->core->pidfd]
				    : -1;

		if (!adopt_pidfd_is(pidfd, st->core->pid)) {
			snprintf(why, whylen, "its core (pid %d) is gone or not the one recorded",
				 st->core->pid);
			return -ESRCH;
		}
	}
	for (size_t i = 0; i < ndevs; i++) {
		const Cellvm__Keeper__AdoptProc *p = st->devices[i]->proc;
		int pidfd = p->pidfd >= 0 && (size_t)p->pidfd < f->n ? f->fds[p->pidfd] : -1;

		/* A device that died since may be restarted: only a pidfd that
		 * names another process fails the adoption. */
		if (p->pid > 0 && pidfd < 0) {
			snprintf(why, whylen, "device %zu has no pidfd", i);
			return -EINVAL;
		}
		if (p->pid > 0 && !adopt_pidfd_is(pidfd, p->pid)) {
			struct pollfd pf = {.fd = pidfd, .events = POLLIN};

			if (poll(&pf, 1, 0) != 1) {
				snprintf(why, whylen, "device %zu's pidfd is not pid %d", i,
					 p->pid);
				return -EINVAL;
			}
		}
	}
	if (st->mem_fd < 0 || st->core->ctl < 0 || st->console < 0 || st->console_log < 0) {
		snprintf(why, whylen, "its keeper's record lacks the VM's channels");
		return -EINVAL;
	}
	return 0;
}

/* Checked (adopt_check): install the processes and the VM's fds. */
static void adopt_install_procs(struct broker_vm *vm, const Cellvm__Keeper__AdoptState *st,
				struct adopt_fds *f)
{
	size_t ndevs = broker_vmdef_ndevs(&vm->def);

	vm->mem_fd = adopt_take(f, st->mem_fd);
	vm->core = (struct core_proc){.pid = st->core->pid,
				      .pidfd = adopt_take(f, st->core->pidfd),
				      .chan = adopt_take(f, st->core->ctl),
				      .console = adopt_take(f, st->console),
				      .log = adopt_take(f, st->core->log)};
	if (vm->core.log == 0)
		vm->core.log = -1;
	vm->ndevs = ndevs;
	for (size_t i = 0; i < ndevs; i++) {
		const Cellvm__Keeper__AdoptDevice *a = st->devices[i];
		struct broker_vm_device *d = &vm->devs[i];
		enum launcher_dev_kind type = (enum launcher_dev_kind)a->kind;

		*d = (struct broker_vm_device){.vm = vm,
					       .type = type,
					       .kind = broker_vm_dev_kind_name(type),
					       .def_index = i,
					       .last_status = a->last_status};
		d->proc = (struct device_proc){
			.pid = -1, .pidfd = -1, .ctl = -1, .link = -1, .log = -1};
		if (a->proc->pid > 0) {
			d->proc.pid = a->proc->pid;
			d->proc.pidfd = adopt_take(f, a->proc->pidfd);
			d->proc.ctl = adopt_take(f, a->proc->ctl);
			d->proc.log = adopt_take(f, a->proc->log);
			d->running = true;
		}
		d->sup.in_a_row = a->in_a_row;
		d->sup.restarts = a->restarts;
		d->sup.started_ms = a->started_ms;
		d->sup.gone = a->gone;
		if (adopt_stats(vm, i, adopt_take(f, st->stats_fds[i])) < 0)
			log_warn("vm %s: device %zu: its counters page is not one: counted anew",
				 vm->id, i);
	}
}

/* Checked: the taps, the definition's kept files, the counts and ids. */
static void adopt_install_rest(struct broker_vm *vm, const Cellvm__Keeper__AdoptState *st,
			       struct adopt_fds *f)
{
	const struct broker_vmdef *def = &vm->def;

	for (size_t k = 0; k < def->nnets; k++) {
		struct net_opt *n = &vm->taps[k];

		*n = def->nets[k].opt;
		for (size_t q = 0; q < NET_OPT_MAX_QUEUES; q++)
			n->fds[q] =
				q < st->taps[k]->n_fds ? adopt_take(f, st->taps[k]->fds[q]) : -1;
		n->nfds = st->taps[k]->n_fds;
		n->created = st->taps[k]->created;
		/* As net_tap_open_opt fills it: what a restarted net device gets. */
		cellvm__device__net_config__init(&n->net);
		n->net.mac.data = n->mac;
		n->net.mac.len = NET_OPT_ETH_ALEN;
		n->net.mtu = n->mtu;
		n->net.queue_pairs = n->queues;
		n->net.rate_bytes = n->rate_bytes;
		n->net.burst_bytes = n->burst_bytes;
		n->net.rate_packets = n->rate_packets;
		n->net.burst_packets = n->burst_packets;
	}
	vm->ntaps = def->nnets;
	adopt_kept(&vm->def.kernel_fd, adopt_take(f, st->kernel_fd));
	adopt_kept(&vm->def.initrd_fd, adopt_take(f, st->initrd_fd));
	for (size_t i = 0; i < def->ndisks; i++)
		adopt_kept(&vm->def.disks[i].image_fd, adopt_take(f, st->disk_fds[i]));
	vm->boots = st->boots;
	/* The readers' connections died with the earlier broker: new ids
	 * go on above theirs (a device unsubscribes a dead reader's eventfd
	 * when its signal fails). */
	vm->input_next_id = st->input_next_id;
	vm->capture_next_id = st->capture_next_id;
	vm->audio_next_id = st->audio_next_id;
	vm->reboots_in_window = st->reboots_in_window;
	vm->reboot_window_start = st->reboot_window_start;
}

/* A ring memfd from the keeper: sealed against shrinking and growing (as
 * gpu_opt_open and snd_opt_open made it), its size; 0: not one. */
static size_t adopt_ring_size(int fd)
{
	struct stat st;
	int seals;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return 0;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return 0;
	return (size_t)st.st_size;
}

/* Checked: the gpu's and the snd's rings and files, the VNC server. A ring
 * that is not one leaves the VM without screenshots or sound readers, not
 * unadopted. */
static void adopt_install_media(struct broker_vm *vm, const Cellvm__Keeper__AdoptState *st,
				struct adopt_fds *f)
{
	const Cellvm__Keeper__AdoptProc *p = st->display;

	if (vm->def.has_gpu) {
		vm->gpu = vm->def.gpu_opt;
		vm->gpu.ring_fd = adopt_take(f, st->gpu_ring);
		vm->gpu.present_fd = adopt_take(f, st->gpu_present);
		vm->gpu.ring_size = adopt_ring_size(vm->gpu.ring_fd);
		if (vm->gpu.ring_fd >= 0 && !vm->gpu.ring_size) {
			log_warn("vm %s: its capture ring is not one: no screenshots", vm->id);
			close(vm->gpu.ring_fd);
			vm->gpu.ring_fd = -1;
		}
	}
	if (vm->def.has_gpu && p && p->pid > 0) {
		vm->display = (struct display_proc){.pid = p->pid,
						    .pidfd = adopt_take(f, p->pidfd),
						    .ctl = adopt_take(f, p->ctl),
						    .log = adopt_take(f, p->log)};
		if (vm->display.log == 0)
			vm->display.log = -1;
		if (vm->display.ctl < 0 || !adopt_pidfd_is(vm->display.pidfd, p->pid)) {
			int fds[3] = {vm->display.pidfd, vm->display.ctl, vm->display.log};

			/* Ended since (it is never restarted) or not the one recorded. */
			log_warn("vm %s: its VNC server (pid %d) is gone: no viewers", vm->id,
				 p->pid);
			ipc_close_fds(fds, 3);
			vm->display =
				(struct display_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
		} else {
			launcher_display_adopt(&vm->display);
		}
	}
	if (vm->def.has_snd) {
		vm->snd = vm->def.snd_opt;
		vm->snd.ring_fd = adopt_take(f, st->snd_ring);
		vm->snd.sink_fd = adopt_take(f, st->snd_sink);
		vm->snd.source_fd = adopt_take(f, st->snd_source);
		vm->snd.ring_size = adopt_ring_size(vm->snd.ring_fd);
		if (vm->snd.ring_fd >= 0 && !vm->snd.ring_size) {
			log_warn("vm %s: its audio ring is not one: no sound readers", vm->id);
			close(vm->snd.ring_fd);
			vm->snd.ring_fd = -1;
		}
	}
}

/* Installed: the readers the earlier broker's connections held are
 * unsubscribed at their devices (their ids stay below the new ones). */
static void adopt_readers(struct broker_vm *vm, const Cellvm__Keeper__AdoptState *st)
{
	for (size_t i = 0; i < vm->ndevs; i++) {
		const struct broker_vm_device *d = &vm->devs[i];
		const uint64_t *ids = NULL;
		uint64_t *next = NULL;
		size_t n = 0;

		if (!d->running || d->proc.ctl < 0)
			continue;
		if (d->type == LAUNCHER_DEV_GPU) {
			ids = st->capture_readers;
			n = st->n_capture_readers;
			next = &vm->capture_next_id;
		} else if (d->type == LAUNCHER_DEV_SND) {
			ids = st->audio_readers;
			n = st->n_audio_readers;
			next = &vm->audio_next_id;
		}
		for (size_t k = 0; k < n; k++) {
			/* UNTRUSTED(keeper): an id the device does not know is ignored there. */
			if (ids[k] == 0 || ids[k] == BROKER_DISPLAY_READER_ID)
				continue;
			if (launcher_reader_unsubscribe(d->proc.ctl, ids[k]) < 0)
				log_warn("vm %s: cannot unsubscribe reader %" PRIu64
					 " of the earlier broker",
					 vm->id, ids[k]);
			if (ids[k] > *next && ids[k] < BROKER_DISPLAY_READER_ID)
				*next = ids[k];
		}
	}
}

void broker_adopt_reader(struct broker_vm *vm, uint64_t *ids, size_t n, uint64_t gone, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == gone) {
			ids[i] = id;
			break;
		}
	broker_keeper_refresh(vm);
}

/* Check, then install (nothing refuses the VM once its console ring maps). */
static int adopt_install(struct broker_vm *vm, const Cellvm__Keeper__AdoptState *st,
			 struct adopt_fds *f, char *why, size_t whylen)
{
	int r = adopt_check(vm, st, f, why, whylen);

	if (r < 0)
		return r;
	r = broker_console_ring_open(vm, adopt_take(f, st->console_log));
	if (r < 0) {
		snprintf(why, whylen, "its console ring is not one: %s", strerror(-r));
		return r;
	}
	adopt_install_procs(vm, st, f);
	adopt_install_rest(vm, st, f);
	adopt_install_media(vm, st, f);
	return 0;
}

/* The VM's cgroup as the earlier broker made it (its processes are in it)
 * and the jail its restarted devices get. */
static void adopt_jail(struct broker_vm *vm)
{
	char name[BROKER_ID_LEN + 4];

	vm->jail = (struct launcher_jail){.uid = vm->host_id,
					  .gid = vm->host_id,
					  .cgroup_fd = -1,
					  .log_pipe = true,
					  .outlive_parent = true};
	if (vm->b->cgroup_fd <= 0)
		return;
	snprintf(name, sizeof(name), "vm-%s", vm->id);
	vm->cgroup_fd = openat(vm->b->cgroup_fd, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (vm->cgroup_fd <= 0)
		vm->cgroup_fd = 0; /* its next boot makes one */
	else
		vm->jail.cgroup_fd = vm->cgroup_fd;
}

/* UNTRUSTED(state): the record of the keeper in the state file. */
static int adopt_record(json_object *rec, pid_t *ret_pid, uint64_t *ret_start, char *why,
			size_t whylen)
{
	char boot_id[BROKER_STATE_BOOT_ID_LEN + 1];
	json_object *k, *jpid, *jstart, *jboot;
	int64_t pid, start;

	if (!json_object_object_get_ex(rec, "keeper", &k) ||
	    !json_object_object_get_ex(k, "pid", &jpid) ||
	    !json_object_object_get_ex(k, "start", &jstart) ||
	    !json_object_is_type(jpid, json_type_int) ||
	    !json_object_is_type(jstart, json_type_int)) {
		snprintf(why, whylen, "no keeper recorded");
		return -ENOENT;
	}
	pid = json_object_get_int64(jpid);
	start = json_object_get_int64(jstart);
	if (pid <= 1 || pid > 4194304 || start <= 0) {
		snprintf(why, whylen, "its keeper's record is not valid");
		return -EINVAL;
	}
	broker_state_boot_id(boot_id);
	if (!*boot_id || !json_object_object_get_ex(k, "boot_id", &jboot) ||
	    !json_object_is_type(jboot, json_type_string) ||
	    strcmp(json_object_get_string(jboot), boot_id) != 0) {
		snprintf(why, whylen, "its keeper was recorded in another boot of the host");
		return -ESTALE;
	}
	*ret_pid = (pid_t)pid;
	*ret_start = (uint64_t)start;
	return 0;
}

int broker_adopt_vm(struct broker_vm *vm, json_object *rec, char *why, size_t whylen)
{
	Cellvm__Keeper__AdoptState *st = NULL;
	struct adopt_fds f = {.n = 0};
	json_object *jstate, *jhost;
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	uint64_t start;
	int pidfd = -1, conn = -1, r;
	bool paused;
	pid_t pid;

	r = adopt_record(rec, &pid, &start, why, whylen);
	if (r < 0)
		return r;
	paused = json_object_object_get_ex(rec, "state", &jstate) &&
		 strcmp(json_object_get_string(jstate), "paused") == 0;
	if (json_object_object_get_ex(rec, "host_id", &jhost) &&
	    json_object_get_int64(jhost) != (int64_t)vm->host_id) {
		snprintf(why, whylen, "its uid of the pool went to another VM");
		return -EBUSY;
	}
	/* A pidfd first, then the start time: the pidfd pins the process checked. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || broker_state_proc_start(pid) != start) {
		snprintf(why, whylen, "its keeper (pid %d) is gone or another process", (int)pid);
		r = -ESRCH;
		goto out;
	}
	r = broker_keeper_connect(vm->b, vm->id, pid, &conn, why, whylen);
	if (r < 0)
		goto out;
	r = broker_keeper_recv_held(conn, &blob, &blob_len, f.fds, &f.n, why, whylen);
	if (r < 0)
		goto out;
	st = cellvm__keeper__adopt_state__unpack(NULL, blob_len, blob);
	if (!st) {
		snprintf(why, whylen, "its keeper's record does not decode");
		r = -EPROTO;
		goto out;
	}
	adopt_jail(vm);
	r = adopt_install(vm, st, &f, why, whylen);
	if (r < 0)
		goto out;
	vm->adopted = true;
	vm->state = paused ? BROKER_VM_PAUSED : BROKER_VM_RUNNING;
	vm->keeper_pid = pid;
	vm->keeper_start = start;
	vm->keeper_pidfd = pidfd;
	vm->keeper_conn = conn;
	pidfd = conn = -1;
	(void)fcntl(vm->keeper_conn, F_SETFL, O_NONBLOCK);
	if (broker_console_watch(vm) < 0 || broker_supervise_watch(vm) < 0 ||
	    broker_input_watch(vm) < 0 || broker_display_install(vm) < 0 ||
	    broker_audio_install(vm) < 0)
		log_err("vm %s: adopted, but cannot watch all its processes", vm->id);
	adopt_readers(vm, st);
	broker_keeper_refresh(vm);
	r = 0;
out:
	if (st)
		cellvm__keeper__adopt_state__free_unpacked(st, NULL);
	free(blob);
	ipc_close_fds(f.fds, f.n); /* what the record did not name */
	if (r < 0 && conn >= 0) {
		/* A keeper we verified but cannot adopt from: it lets go (the
		 * leftover kill ends the VM's processes). */
		Cellvm__Keeper__KeeperIn in = CELLVM__KEEPER__KEEPER_IN__INIT;
		Cellvm__Keeper__Release rel = CELLVM__KEEPER__RELEASE__INIT;

		in.msg_case = CELLVM__KEEPER__KEEPER_IN__MSG_RELEASE;
		in.release = &rel;
		(void)channel_send(conn, &in.base, 4096, NULL, 0);
	}
	if (conn >= 0)
		close(conn);
	if (pidfd >= 0)
		close(pidfd);
	return r;
}

int broker_adopt_all(struct broker *b)
{
	struct broker_vm *vm;
	struct timespec t0, t1;
	int n = 0, tried = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	TAILQ_FOREACH(vm, &b->vms, link)
	{
		json_object *rec = vm->adopt_rec, *procs, *jstate;
		char why[256];

		if (!rec)
			continue;
		vm->adopt_rec = NULL;
		tried++;
		if (broker_adopt_vm(vm, rec, why, sizeof(why)) == 0) {
			n++;
			log_info("vm %s (tenant %s): adopted, %s, from keeper %d", vm->id,
				 broker_vm_tenant(vm)->name, broker_vm_state_name(vm->state),
				 (int)vm->keeper_pid);
			(void)broker_state_save(b, vm);
			broker_vm_event(b, vm, "adopted", broker_vm_state_name(vm->state));
		} else {
			log_warn("vm %s: not adopted: %s", vm->id, why);
			/* The earlier broker's processes, verified one by one. */
			if (json_object_object_get_ex(rec, "processes", &procs))
				broker_state_kill_leftovers(procs, vm->id);
			vm->state = BROKER_VM_STOPPED;
			snprintf(vm->last_exit, sizeof(vm->last_exit),
				 "stopped: the broker restarted while the VM was %s (not adopted)",
				 json_object_object_get_ex(rec, "state", &jstate)
					 ? json_object_get_string(jstate)
					 : "running");
			(void)broker_state_save(b, vm);
		}
		json_object_put(rec);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (tried)
		log_info("adopted %d of %d running VMs in %" PRId64 " us", n, tried,
			 (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
				 (t1.tv_nsec - t0.tv_nsec) / 1000);
	return n;
}

/* The VNC server's events and our fds of it, the rings' mappings and fds:
 * the server runs on, the keeper holds its dups. */
static void adopt_leave_media(struct broker_vm *vm)
{
	int fds[3] = {vm->display.pidfd, vm->display.ctl, vm->display.log};

	if (vm->display_ev)
		event_free(vm->display_ev);
	if (vm->display_pid_ev)
		event_free(vm->display_pid_ev);
	vm->display_ev = vm->display_pid_ev = NULL;
	ipc_close_fds(fds, 3);
	if (vm->display_log_keep > 0)
		close(vm->display_log_keep);
	vm->display_log_keep = 0;
	vm->display = (struct display_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
	if (vm->ring)
		munmap((void *)vm->ring, vm->gpu.ring_size);
	vm->ring = NULL;
	gpu_opt_close(&vm->gpu);
	broker_audio_teardown(vm); /* its streams end; the device keeps playing */
}

/* Let go of a running VM without ending it: events and our fds go, the
 * keeper keeps its dups. */
static void adopt_leave(struct broker_vm *vm)
{
	broker_keeper_refresh(vm);
	broker_console_drain(vm, 0);
	if (vm->reap_ev)
		event_free(vm->reap_ev);
	if (vm->core_ev)
		event_free(vm->core_ev);
	if (vm->cons_ev)
		event_free(vm->cons_ev);
	if (vm->chan_ev)
		event_free(vm->chan_ev);
	if (vm->keeper_ev)
		event_free(vm->keeper_ev);
	vm->reap_ev = vm->core_ev = vm->cons_ev = vm->chan_ev = vm->keeper_ev = NULL;
	broker_input_teardown(vm);
	adopt_leave_media(vm);
	launcher_close(&vm->core);
	vm->core.pid = -1;
	for (size_t i = 0; i < vm->ndevs; i++) {
		struct broker_vm_device *d = &vm->devs[i];
		int fds[3] = {d->proc.pidfd, d->proc.ctl, d->proc.link};

		if (d->ev)
			event_free(d->ev);
		if (d->restart_ev)
			event_free(d->restart_ev);
		d->ev = d->restart_ev = NULL;
		ipc_close_fds(fds, 3);
		ipc_close_fds(d->proc.more_links, d->proc.nmore);
		if (d->proc.log > 0)
			close(d->proc.log);
		if (d->log_keep > 0)
			close(d->log_keep);
		d->log_keep = 0;
		d->proc = (struct device_proc){
			.pid = -1, .pidfd = -1, .ctl = -1, .link = -1, .log = -1};
		d->running = false;
	}
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	vm->mem_fd = -1;
	if (vm->core_log_keep > 0)
		close(vm->core_log_keep);
	vm->core_log_keep = -1;
	broker_launch_taps_close(vm); /* a tap we made stays: the keeper holds it */
	if (vm->keeper_conn >= 0)
		close(vm->keeper_conn); /* no Release: the keeper waits for the next broker */
	if (vm->keeper_pidfd >= 0)
		close(vm->keeper_pidfd);
	vm->keeper_conn = vm->keeper_pidfd = -1;
	/* Its cgroup holds its processes: not removed at exit. */
	if (vm->cgroup_fd > 0)
		close(vm->cgroup_fd);
	vm->cgroup_fd = 0;
	/* Gone from this broker only: its state file still says it runs. */
	vm->state = BROKER_VM_STOPPED;
}

void broker_adopt_leave_all(struct broker *b)
{
	struct broker_vm *vm;
	size_t n = 0;

	TAILQ_FOREACH(vm, &b->vms, link)
	{
		if ((vm->state != BROKER_VM_RUNNING && vm->state != BROKER_VM_PAUSED) ||
		    vm->keeper_conn < 0)
			continue;
		adopt_leave(vm);
		n++;
	}
	if (n)
		log_info("--on-exit keep: %zu VM(s) left running with their keepers", n);
}
