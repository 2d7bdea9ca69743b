/* What the broker tells clients about a VM: its information and counters as
 * JSON (the REST bodies; the RPC layer converts from them). Runs in the broker;
 * reads /proc of the VM's own processes (their status, and their process
 * titles, which carry each one's report of its sandbox layers: untrusted). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "proto/devshm.h"

static json_object *broker_vm_info_proc(pid_t pid)
{
	return pid > 0 ? json_object_new_int64(pid) : NULL;
}

static ssize_t broker_vm_info_read(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* The sandbox layers a VM process really has, or NULL when it is gone.
 * From /proc/PID/status, which root reads without ptrace rights: the seccomp
 * mode (2: filter), no_new_privs, and a pid namespace of its own (NSpid has
 * two ids). The rest — namespaces, Landlock's ABI, rlimits — is the
 * process's own report at the end of sandbox_enter_opts(), in its title
 * (/proc/PID/cmdline, "[sandbox: ...]"): what it got at start, not a proof. */
static json_object *broker_vm_info_sandbox(pid_t pid)
{
	char buf[4096], *p, *end;
	json_object *o;
	long v;
	ssize_t n;

	if (pid <= 0 || broker_vm_info_read(pid, "status", buf, sizeof(buf)) <= 0)
		return NULL;
	o = json_object_new_object();
	p = strstr(buf, "\nSeccomp:");
	v = p ? strtol(p + 9, NULL, 10) : -1;
	json_object_object_add(o, "seccomp", json_object_new_boolean(v == 2));
	p = strstr(buf, "\nNoNewPrivs:");
	v = p ? strtol(p + 12, NULL, 10) : -1;
	json_object_object_add(o, "no_new_privs", json_object_new_boolean(v == 1));
	p = strstr(buf, "\nNSpid:");
	if (p) {
		end = strchr(p + 1, '\n');
		if (end)
			*end = 0;
		v = 0;
		for (p += 7; *p; v++) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p)
				break;
			while (*p && *p != ' ' && *p != '\t')
				p++;
		}
		json_object_object_add(o, "pid_namespace", json_object_new_boolean(v > 1));
	}
	/* UNTRUSTED(device): the process's own words, bounded and parsed
	 * as text only. */
	n = broker_vm_info_read(pid, "cmdline", buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	p = n > 0 ? strstr(buf, "[sandbox: ") : NULL;
	end = p ? strchr(p, ']') : NULL;
	if (p && end) {
		*end = 0;
		p += 10;
		json_object_object_add(o, "reported", json_object_new_string(p));
		json_object_object_add(o, "namespaces",
				       json_object_new_boolean(strstr(p, "namespaces") != NULL));
		json_object_object_add(o, "rlimits",
				       json_object_new_boolean(strstr(p, "rlimits") != NULL));
		p = strstr(p, "landlock:");
		if (p && p[9] >= '0' && p[9] <= '9')
			json_object_object_add(o, "landlock_abi",
					       json_object_new_int64(strtol(p + 9, NULL, 10)));
		else
			json_object_object_add(o, "landlock_abi", json_object_new_int64(0));
	} else {
		/* No report: unknown, not absent. */
		json_object_object_add(o, "reported", NULL);
	}
	return o;
}

/* Device i of the definition (disks, then nets): its kind, and a NIC's tap
 * and MAC (the definition's: fixed at create). */
static void broker_vm_info_device(const struct broker_vm *vm, size_t i, json_object *d)
{
	const struct broker_vmdef_net *n;

	json_object_object_add(d, "index", json_object_new_int64((int64_t)i));
	json_object_object_add(d, "kind",
			       json_object_new_string(broker_vm_dev_kind_name(
				       broker_vmdef_dev_kind(&vm->def, i))));
	if (broker_vmdef_dev_kind(&vm->def, i) != LAUNCHER_DEV_NET)
		return;
	n = &vm->def.nets[i - vm->def.ndisks];
	json_object_object_add(d, "tap", json_object_new_string(n->tap));
	json_object_object_add(d, "mac", json_object_new_string(n->mac));
}

json_object *broker_vm_info_json(const struct broker_vm *vm)
{
	json_object *o = json_object_new_object(), *devs = json_object_new_array();
	const struct tenant *t = &vm->b->tenants.t[vm->tenant];

	json_object_object_add(o, "id", json_object_new_string(vm->id));
	json_object_object_add(o, "name", json_object_new_string(vm->def.name));
	json_object_object_add(o, "tenant", json_object_new_string(t->name));
	json_object_object_add(o, "state", json_object_new_string(broker_vm_state_name(vm->state)));
	json_object_object_add(o, "input_backend",
			       vm->def.input[0] ? json_object_new_string(vm->def.input) : NULL);
	json_object_object_add(o, "created_at",
			       json_object_new_int64((int64_t)(vm->created_us / 1000000)));
	json_object_object_add(o, "boots", json_object_new_int64(vm->boots));
	json_object_object_add(o, "last_exit",
			       vm->last_exit[0] ? json_object_new_string(vm->last_exit) : NULL);
	json_object_object_add(o, "core_pid", broker_vm_info_proc(vm->core.pid));
	json_object_object_add(o, "core_sandbox", broker_vm_info_sandbox(vm->core.pid));
	for (size_t i = 0; i < vm->ndevs; i++) {
		json_object *d = json_object_new_object();
		broker_vm_info_device(vm, vm->devs[i].def_index, d);
		json_object_object_add(d, "running", json_object_new_boolean(vm->devs[i].running));
		json_object_object_add(d, "pid", broker_vm_info_proc(vm->devs[i].proc.pid));
		json_object_object_add(
			d, "sandbox",
			broker_vm_info_sandbox(vm->devs[i].running ? vm->devs[i].proc.pid : -1));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	json_object_object_add(o, "host", broker_host_vm_json(vm));
	json_object_object_add(o, "config", broker_vmdef_to_json(&vm->def));
	return o;
}

/* Bytes the process read and wrote through the block layer (/proc/PID/io). */
static void broker_vm_info_host_io(pid_t pid, json_object *d)
{
	char path[64], buf[1024], *p;
	unsigned long long rd = 0, wr = 0;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	p = strstr(buf, "\nread_bytes: ");
	if (p)
		rd = strtoull(p + 13, NULL, 10);
	p = strstr(buf, "\nwrite_bytes: ");
	if (p)
		wr = strtoull(p + 14, NULL, 10);
	json_object_object_add(d, "host_read_bytes", json_object_new_int64((int64_t)rd));
	json_object_object_add(d, "host_write_bytes", json_object_new_int64((int64_t)wr));
}

json_object *broker_vm_info_counters_json(const struct broker_vm *vm)
{
	json_object *o = json_object_new_object(), *devs = json_object_new_array();

	json_object_object_add(o, "boots", json_object_new_int64(vm->boots));
	json_object_object_add(o, "console_bytes", json_object_new_int64((int64_t)vm->cons_total));
	for (size_t i = 0; i < broker_vmdef_ndevs(&vm->def); i++) {
		json_object *d = json_object_new_object();
		const struct broker_vm_device *dev = i < vm->ndevs ? &vm->devs[i] : NULL;

		broker_vm_info_device(vm, i, d);
		json_object_object_add(d, "state",
				       json_object_new_string(!dev	     ? "stopped"
							      : dev->running ? "running"
									     : "exited"));
		json_object_object_add(d, "restarts",
				       json_object_new_int64(dev ? dev->sup.restarts : 0));
		/* What the device processes published (every process of this
		 * device since the VM was created): null before its first boot. */
		if (i < LAUNCHER_MAX_DEVICES && vm->stats[i]) {
			struct devproc_stats c = {0};
			launcher_stats_read(vm->stats[i], &c);
			json_object_object_add(d, "requests",
					       json_object_new_int64((int64_t)c.requests));
			json_object_object_add(
				d, "bytes",
				json_object_new_int64((int64_t)(c.bytes_in + c.bytes_out)));
			json_object_object_add(d, "bytes_in",
					       json_object_new_int64((int64_t)c.bytes_in));
			json_object_object_add(d, "bytes_out",
					       json_object_new_int64((int64_t)c.bytes_out));
			json_object_object_add(d, "errors",
					       json_object_new_int64((int64_t)c.errors));
		} else {
			json_object_object_add(d, "requests", NULL);
			json_object_object_add(d, "bytes", NULL);
			json_object_object_add(d, "errors", NULL);
		}
		if (dev && dev->running && i < vm->def.ndisks)
			broker_vm_info_host_io(dev->proc.pid, d);
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	/* The VM's cgroup: memory, tasks and CPU time of all its processes. */
	json_object_object_add(o, "host", broker_host_vm_json(vm));
	return o;
}
