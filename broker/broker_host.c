/* What each VM takes from the host, in cellvm-broker: a uid and gid of its
 * own from the configured pool (root of its processes' user namespaces maps
 * to it; taken at create, recorded in the state file, given back at delete),
 * and a cgroup of its own under the broker's delegated cgroup v2 subtree
 * (memory.max, pids.max, cpu.weight; its core and devices are cloned into
 * it). Runs in the broker's loop; reads the operator's configuration and
 * /etc (trusted), and the kernel's cgroup files. See docs/broker.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/parse.h"
#include "launcher/cgroup.h"

#define HOST_CGROUP_LEAF "broker" /* where the broker itself moves */
/* The unit whose cgroup holds the VMs' under systemd, and where its holder
 * moves (packaging/systemd/cellvm-vms.service). */
#define HOST_CGROUP_VMS_UNIT "cellvm-vms.service"
#define HOST_CGROUP_HOLDER   "holder"

/* ---- the uid pool ---- */

static bool broker_host_in_pool(const struct broker_host_config *c, uint64_t id)
{
	return id >= c->id_start && id < (uint64_t)c->id_start + c->id_count;
}

/* Whether [start, start+count) meets the pool. */
static bool broker_host_meets(const struct broker_host_config *c, uint64_t start, uint64_t count)
{
	return start < (uint64_t)c->id_start + c->id_count && c->id_start < start + count;
}

/* One file of /etc: "name:x:ID:..." (passwd, group: field 3, one id) or
 * "name:START:COUNT" (subuid, subgid). */
static int broker_host_pool_file(const struct broker_host_config *c, const char *etc,
				 const char *file, bool ranges, char *err, size_t errlen)
{
	char path[PATH_MAX], line[1024];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", etc, file);
	f = fopen(path, "re");
	if (!f)
		return 0; /* no such database: nothing to meet */
	while (fgets(line, sizeof(line), f)) {
		char *name = strtok(line, ":"), *a = strtok(NULL, ":"), *b = strtok(NULL, ":\n");
		unsigned long long start, count = 1;

		if (!name || !a || (!ranges && !b))
			continue;
		start = strtoull(ranges ? a : b, NULL, 10);
		if (ranges)
			count = b ? strtoull(b, NULL, 10) : 0;
		if (count && broker_host_meets(c, start, count)) {
			if (ranges)
				snprintf(err, errlen,
					 "uid_pool %" PRIu32 " %" PRIu32
					 " overlaps %s's range %llu (%llu ids) in %s",
					 c->id_start, c->id_count, name, start, count, path);
			else
				snprintf(err, errlen,
					 "uid_pool %" PRIu32 " %" PRIu32
					 " overlaps %s's id %llu in %s",
					 c->id_start, c->id_count, name, start, path);
			r = -EEXIST;
			break;
		}
	}
	fclose(f);
	return r;
}

int broker_host_pool_check(const struct broker_host_config *c, const char *etc, char *err,
			   size_t errlen)
{
	static const struct {
		const char *file;
		bool ranges;
	} dbs[] = {{"passwd", false}, {"group", false}, {"subuid", true}, {"subgid", true}};
	int r;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		r = broker_host_pool_file(c, etc, dbs[i].file, dbs[i].ranges, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool broker_host_id_taken(struct broker *b, const struct broker_vm *self, uint32_t id)
{
	const struct broker_vm *vm;

	TAILQ_FOREACH(vm, &b->vms, link)
	if (vm != self && vm->host_id == id)
		return true;
	return false;
}

int broker_host_vm_ids(struct broker *b, struct broker_vm *vm, uint32_t want)
{
	const struct broker_host_config *c = &b->tenants.host;
	uint32_t next;

	if (want && broker_host_in_pool(c, want) && !broker_host_id_taken(b, vm, want)) {
		vm->host_id = want;
		return 0;
	}
	/* Next fit from where the last search ended: a deleted VM's id comes
	 * back only after the rest of the pool was handed out. */
	next = broker_host_in_pool(c, b->id_next) ? b->id_next : c->id_start;
	for (uint32_t i = 0; i < c->id_count; i++) {
		uint32_t id = c->id_start + (next - c->id_start + i) % c->id_count;

		if (!broker_host_id_taken(b, vm, id)) {
			vm->host_id = id;
			b->id_next = id + 1;
			return 0;
		}
	}
	vm->host_id = 0;
	return -ENOSPC;
}

/* ---- cgroups ---- */

/* The delegated subtree of HOST_CGROUP_VMS_UNIT beside our own cgroup (its
 * holder took it: cellvm-broker --cgroup-holder), if there is one. */
static int broker_host_cgroup_sibling(struct broker *b, const char *own)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(own, '/');
	int fd;

	if (!slash || slash == own ||
	    (size_t)snprintf(dir, sizeof(dir), "%.*s/" HOST_CGROUP_VMS_UNIT, (int)(slash - own),
			     own) >= sizeof(dir))
		return -ENOENT;
	if (!cgroup_is_delegated(dir))
		return -ENOENT;
	fd = cgroup_use(dir);
	if (fd < 0) {
		log_warn("cgroups: %s: %s", dir,
			 fd == -EOPNOTSUPP ? "memory and pids are not enabled for its children "
					     "(is its holder running?)"
					   : strerror(-fd));
		return fd;
	}
	b->cgroup_fd = fd;
	snprintf(b->cgroup_path, sizeof(b->cgroup_path), "%s", dir);
	log_info("cgroups: VMs under %s (held by " HOST_CGROUP_VMS_UNIT ")", dir);
	return 0;
}

static int broker_host_cgroup_start(struct broker *b, char *err, size_t errlen)
{
	const char *want = b->tenants.host.cgroup;
	char own[PATH_MAX];
	int r;

	b->cgroup_fd = -1;
	if (strcmp(want, "off") == 0) {
		snprintf(b->cgroup_off, sizeof(b->cgroup_off), "cgroup = off in the configuration");
		goto off;
	}
	if (strcmp(want, "auto") == 0) {
		r = cgroup_own_path(own, sizeof(own));
		if (r < 0) {
			snprintf(b->cgroup_off, sizeof(b->cgroup_off),
				 "no cgroup v2 hierarchy (%s)", strerror(-r));
			goto off;
		}
		/* The units as shipped: the VMs' subtree is cellvm-vms.service's,
		 * beside ours, taken and held by its own process, so that systemd
		 * can start this unit again while VMs run (it cannot put a new
		 * main process into a cgroup whose controllers are enabled for
		 * children). */
		if (broker_host_cgroup_sibling(b, own) == 0)
			return 0;
		/* Our own cgroup is ours to divide only when the service manager
		 * said so (systemd's Delegate=yes); a subtree of another unit is not. */
		if (!cgroup_is_delegated(own)) {
			snprintf(b->cgroup_off, sizeof(b->cgroup_off),
				 "no delegated cgroup v2 subtree (%s is not marked delegated: run "
				 "under systemd with Delegate=yes, or set cgroup = DIR)",
				 own);
			goto off;
		}
	} else {
		snprintf(own, sizeof(own), "%s", want);
	}
	r = cgroup_take(own, HOST_CGROUP_LEAF);
	if (r < 0) {
		/* Asked for by name: an error. Found by itself: said, and on. */
		snprintf(b->cgroup_off, sizeof(b->cgroup_off),
			 "cannot take the cgroup subtree %s: %s", own,
			 r == -EOPNOTSUPP ? "it offers no memory and pids controllers"
					  : strerror(-r));
		if (strcmp(want, "auto") != 0) {
			snprintf(err, errlen, "%s", b->cgroup_off);
			return r;
		}
		goto off;
	}
	b->cgroup_fd = r;
	snprintf(b->cgroup_path, sizeof(b->cgroup_path), "%s", own);
	log_info("cgroups: VMs under %s (the broker in %s/" HOST_CGROUP_LEAF ")", own, own);
	return 0;
off:
	log_warn("cgroups: %s: VMs run without a cgroup of their own (no memory, pids or "
		 "cpu limits)",
		 b->cgroup_off);
	return 0;
}

int broker_host_cgroup_hold(char *err, size_t errlen)
{
	char own[PATH_MAX];
	int r = cgroup_own_path(own, sizeof(own));

	if (r < 0) {
		snprintf(err, errlen, "no cgroup v2 hierarchy (%s)", strerror(-r));
		return r;
	}
	if (!cgroup_is_delegated(own)) {
		snprintf(err, errlen,
			 "%s is not a delegated cgroup (the holder runs as " HOST_CGROUP_VMS_UNIT
			 ", which has Delegate=yes)",
			 own);
		return -EPERM;
	}
	r = cgroup_take(own, HOST_CGROUP_HOLDER);
	if (r < 0) {
		snprintf(err, errlen, "cannot take %s: %s", own,
			 r == -EOPNOTSUPP ? "it offers no memory and pids controllers"
					  : strerror(-r));
		return r;
	}
	close(r);
	log_info("cgroups: %s held for the VMs (this process in %s/" HOST_CGROUP_HOLDER ")", own,
		 own);
	return 0;
}

int broker_host_start(struct broker *b, char *err, size_t errlen)
{
	const struct broker_host_config *c = &b->tenants.host;
	struct broker_vm *vm;
	int r;

	r = broker_host_pool_check(c, "/etc", err, errlen);
	if (r < 0)
		return r;
	/* Reloaded VMs keep their recorded ids where they can (a process an
	 * earlier broker left may still run as one), the others get new ones. */
	TAILQ_FOREACH(vm, &b->vms, link)
	{
		uint32_t was = vm->host_id;

		vm->host_id = 0;
		if (was && broker_host_in_pool(c, was) && !broker_host_id_taken(b, vm, was)) {
			vm->host_id = was;
			/* Next fit goes on after the highest id in use, as it would
			 * have in the earlier broker (mostly). */
			if (was >= b->id_next)
				b->id_next = was + 1;
		}
	}
	TAILQ_FOREACH(vm, &b->vms, link)
	{
		if (vm->host_id)
			continue;
		if (broker_host_vm_ids(b, vm, 0) < 0) {
			snprintf(err, errlen, "uid_pool: too small for the %zu VMs defined",
				 b->nvms);
			return -ENOSPC;
		}
		(void)broker_state_save(b, vm);
	}
	return broker_host_cgroup_start(b, err, errlen);
}

/* pids.max of a VM: its core and vCPU threads, each device process and what
 * it may start (blk: io_uring's bounded workers, as its RLIMIT_NPROC), and
 * room for the sanitizer builds' helpers. */
static uint64_t broker_host_pids(const struct broker_vm *vm)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	uint64_t workers = cpus > 0 && cpus < 64 ? (uint64_t)cpus * 4 : 256;

	if (vm->b->tenants.host.pids_max)
		return vm->b->tenants.host.pids_max;
	return 16 + 1 + vm->def.cpus + vm->def.ndisks * (1 + workers) + vm->def.nnets;
}

int broker_host_vm_boot(struct broker_vm *vm, char *err, size_t errlen)
{
	struct broker *b = vm->b;
	char name[BROKER_ID_LEN + 4];
	int fd;

	/* log_pipe: no VM process writes into the broker's own log
	 * (broker_childlog.c); outlive_parent: a VM survives the broker, its
	 * keeper holds its fds meanwhile (broker_keeper.c). */
	vm->jail = (struct launcher_jail){.uid = vm->host_id,
					  .gid = vm->host_id,
					  .cgroup_fd = -1,
					  .log_pipe = true,
					  .outlive_parent = true};
	if (b->cgroup_fd <= 0)
		return 0;
	if (vm->cgroup_fd <= 0) {
		struct cgroup_limits l = {
			.memory_max = vm->def.memory + b->tenants.host.memory_overhead,
			.pids_max = broker_host_pids(vm),
			.cpu_weight = vm->def.cpu_weight ? vm->def.cpu_weight
							 : b->tenants.host.cpu_weight,
		};

		snprintf(name, sizeof(name), "vm-%s", vm->id);
		fd = cgroup_child_create(b->cgroup_fd, name, &l);
		if (fd < 0) {
			snprintf(err, errlen, "cannot make the VM's cgroup %s/%s: %s",
				 b->cgroup_path, name, strerror(-fd));
			return fd;
		}
		vm->cgroup_fd = fd;
	}
	vm->jail.cgroup_fd = vm->cgroup_fd;
	return 0;
}

void broker_host_vm_release(struct broker_vm *vm)
{
	char name[BROKER_ID_LEN + 4];
	int r;

	if (vm->cgroup_fd <= 0)
		return;
	close(vm->cgroup_fd);
	vm->cgroup_fd = 0;
	snprintf(name, sizeof(name), "vm-%s", vm->id);
	r = cgroup_child_remove(vm->b->cgroup_fd, name);
	if (r < 0)
		log_warn("vm %s: cannot remove its cgroup: %s", vm->id, strerror(-r));
}

static json_object *broker_host_limit(uint64_t v)
{
	return v == CGROUP_MAX ? json_object_new_string("max") : json_object_new_int64((int64_t)v);
}

json_object *broker_host_vm_json(const struct broker_vm *vm)
{
	json_object *o = json_object_new_object();
	struct cgroup_stats st;
	char path[PATH_MAX + BROKER_ID_LEN + 8];

	json_object_object_add(o, "host_uid", json_object_new_int64(vm->host_id));
	json_object_object_add(o, "host_gid", json_object_new_int64(vm->host_id));
	if (vm->b->cgroup_fd <= 0) {
		json_object_object_add(o, "cgroup", NULL);
		json_object_object_add(o, "cgroup_off", json_object_new_string(vm->b->cgroup_off));
		return o;
	}
	if (vm->cgroup_fd <= 0 || cgroup_read_stats(vm->cgroup_fd, &st) < 0) {
		/* Made at the first boot. */
		json_object_object_add(o, "cgroup", NULL);
		return o;
	}
	snprintf(path, sizeof(path), "%s/vm-%s", vm->b->cgroup_path, vm->id);
	json_object_object_add(o, "cgroup", json_object_new_string(path));
	json_object_object_add(o, "memory_current",
			       json_object_new_int64((int64_t)st.memory_current));
	json_object_object_add(o, "memory_max", broker_host_limit(st.memory_max));
	json_object_object_add(o, "pids_current", json_object_new_int64((int64_t)st.pids_current));
	json_object_object_add(o, "pids_max", broker_host_limit(st.pids_max));
	json_object_object_add(o, "cpu_usage_usec",
			       json_object_new_int64((int64_t)st.cpu_usage_usec));
	json_object_object_add(o, "oom_kills", json_object_new_int64((int64_t)st.oom_kills));
	json_object_object_add(o, "pids_refused", json_object_new_int64((int64_t)st.pids_limit));
	return o;
}
