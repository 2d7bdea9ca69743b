/* The broker's state directory: one JSON file per VM (vms/<id>.json) with its
 * definition, owner, last state and the pids (with start times and the boot
 * they belong to) of its running processes. Writes are atomic (temporary
 * file, fsync, rename, fsync of the directory) and done by a writer thread,
 * off the loop: the loop formats a VM's state and queues it. Runs in the
 * broker. The files
 * are ours, but are read as untrusted anyway (UNTRUSTED(state), where
 * broker_state_load reads them): a damaged file is skipped with a warning,
 * never trusted. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/log.h"

#define STATE_MAX_FILE (256 * 1024)

/* ---- the writer thread ----
 *
 * Two fsyncs per state change would stall the loop (and every tenant's API,
 * and systemd's watchdog) whenever the host's disk stalls writeback. The loop
 * only formats a VM's state and queues it; one thread writes. Per VM only the
 * newest pending content matters: a queued entry is replaced, never followed
 * by an older one, and a delete replaces a pending write (a late write never
 * brings a deleted VM back). One thread, one entry per VM in the queue: a
 * VM's writes reach the disk in the order the loop made them. */

struct broker_state_item {
	TAILQ_ENTRY(broker_state_item) link;
	char id[BROKER_ID_LEN + 1];
	char *text; /* NULL: remove the VM's file */
};

/* What the thread reports to the loop through the pipe (one atomic write). */
struct broker_state_err {
	char id[BROKER_ID_LEN + 1];
	bool remove;
	int err;
};

struct broker_state_writer {
	struct broker *b;
	int dirfd; /* b->state_dirfd: only used, never closed, by the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	TAILQ_HEAD(, broker_state_item) queue;
	size_t pending;
	bool busy, stop, done;
	int errs[2]; /* pipe of struct broker_state_err: thread -> loop */
	struct event *ev;
	int gate; /* CELLVM_TEST_STATE_GATE: a byte (or EOF) before each write */
};

static int broker_state_write_file(int dirfd, const char *id, const char *text)
{
	char tmp[BROKER_ID_LEN + 16], name[BROKER_ID_LEN + 8];
	int fd, r;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", id);
	snprintf(name, sizeof(name), "%s.json", id);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	/* Crash safety: the name only ever points at a fully synced file. */
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r == 0 && fsync(dirfd) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

static int broker_state_remove_file(int dirfd, const char *id)
{
	char name[BROKER_ID_LEN + 8];

	snprintf(name, sizeof(name), "%s.json", id);
	/* ENOENT: its first write was replaced by this delete before it ran. */
	if (unlinkat(dirfd, name, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync(dirfd) < 0 ? -errno : 0;
}

static void *broker_state_thread(void *arg)
{
	struct broker_state_writer *w = arg;
	struct broker_state_item *it;

#ifdef CELLVM_TEST_HOOKS
	{
		/* A test holds every write until it sends a byte or closes the
		 * FIFO: the loop must answer meanwhile. Opening waits for the
		 * test's end, in this thread only. */
		const char *gate = getenv("CELLVM_TEST_STATE_GATE");

		if (gate)
			w->gate = open(gate, O_RDONLY | O_CLOEXEC);
	}
#endif
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct broker_state_err e = {0};
		char c;
		int r;

		while (TAILQ_EMPTY(&w->queue) && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		it = TAILQ_FIRST(&w->queue);
		if (!it)
			break;
		TAILQ_REMOVE(&w->queue, it, link);
		w->pending--;
		w->busy = true;
		pthread_mutex_unlock(&w->lock);

		if (w->gate >= 0)
			(void)!read(w->gate, &c, 1);
		r = it->text ? broker_state_write_file(w->dirfd, it->id, it->text)
			     : broker_state_remove_file(w->dirfd, it->id);
		if (r < 0) {
			snprintf(e.id, sizeof(e.id), "%s", it->id);
			e.remove = !it->text;
			e.err = -r;
			/* Non-blocking: a loop that never reads costs reports, not writes. */
			(void)!write(w->errs[1], &e, sizeof(e));
		}
		free(it->text);
		free(it);

		pthread_mutex_lock(&w->lock);
		w->busy = false;
	}
	w->done = true;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
	if (w->gate >= 0)
		close(w->gate);
	return NULL;
}

static void broker_state_report(struct broker_state_writer *w, const struct broker_state_err *e)
{
	struct broker_vm *vm;
	char detail[160];

	snprintf(detail, sizeof(detail), "cannot %s the state file: %s",
		 e->remove ? "remove" : "write", strerror(e->err));
	log_err("state: vm %.36s: %s", e->id, detail);
	TAILQ_FOREACH(vm, &w->b->vms, link)
	{
		if (strcmp(vm->id, e->id) == 0) {
			rest_event(w->b, vm, "state_error", detail);
			rpc_event(w->b, vm, "state_error", detail);
			break;
		}
	}
}

/* In the loop: what the thread could not write. */
static void broker_state_on_err(evutil_socket_t fd, short what, void *arg)
{
	struct broker_state_writer *w = arg;
	struct broker_state_err e;

	(void)what;
	while (read(fd, &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		e.id[BROKER_ID_LEN] = 0;
		broker_state_report(w, &e);
	}
}

static int broker_state_writer_start(struct broker *b)
{
	struct broker_state_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->b = b;
	w->dirfd = b->state_dirfd;
	w->gate = -1;
	TAILQ_INIT(&w->queue);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	if (pipe2(w->errs, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		free(w);
		return r;
	}
	w->ev = event_new(b->base, w->errs[0], EV_READ | EV_PERSIST, broker_state_on_err, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = -pthread_create(&w->thread, NULL, broker_state_thread, w);
	if (r < 0)
		goto fail;
	b->state_writer = w;
	return 0;
fail:
	if (w->ev)
		event_free(w->ev);
	close(w->errs[0]);
	close(w->errs[1]);
	free(w);
	return r;
}

/* Queue text (NULL: a delete) as the VM's next state; it replaces one queued
 * before. Takes text. */
static int broker_state_enqueue(struct broker *b, const char *id, char *text)
{
	struct broker_state_writer *w = b->state_writer;
	struct broker_state_item *it;

	assert(w); /* broker_state_open started it */
	pthread_mutex_lock(&w->lock);
	TAILQ_FOREACH(it, &w->queue, link)
	{
		if (strcmp(it->id, id) == 0) {
			free(it->text);
			it->text = text;
			pthread_mutex_unlock(&w->lock);
			return 0;
		}
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		pthread_mutex_unlock(&w->lock);
		free(text);
		return -ENOMEM;
	}
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->text = text;
	TAILQ_INSERT_TAIL(&w->queue, it, link);
	w->pending++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void broker_state_close(struct broker *b, int timeout_s)
{
	struct broker_state_writer *w = b->state_writer;
	struct broker_state_err e;
	struct timespec until;
	size_t left;
	bool done;

	if (!w)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_s;
	pthread_mutex_lock(&w->lock);
	left = w->pending + w->busy;
	if (left)
		log_info("state: writing %zu pending state change(s) before exit (at most %d s)",
			 left, timeout_s);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	while (!w->done && pthread_cond_timedwait(&w->idle, &w->lock, &until) == 0)
		;
	done = w->done;
	left = w->pending + w->busy;
	pthread_mutex_unlock(&w->lock);
	/* The loop no longer runs: report what failed here. */
	while (read(w->errs[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		e.id[BROKER_ID_LEN] = 0;
		broker_state_report(w, &e);
	}
	event_free(w->ev);
	b->state_writer = NULL;
	if (!done) {
		/* The disk stalls: the process ends with the thread in a write;
		 * those VMs keep the state their files had (each file is whole). */
		log_err("state: %zu state change(s) not written after %d s: abandoned", left,
			timeout_s);
		return;
	}
	pthread_join(w->thread, NULL);
	close(w->errs[0]);
	close(w->errs[1]);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int broker_state_open(struct broker *b, const char *dir, char *err, size_t errlen)
{
	int fd;

	snprintf(b->state_dir, sizeof(b->state_dir), "%s", dir);
	/* The definitions hold image paths of every tenant: root only. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto fail;
	fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (mkdirat(fd, "vms", 0700) < 0 && errno != EEXIST) {
		close(fd);
		goto fail;
	}
	b->state_dirfd = openat(fd, "vms", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	close(fd);
	if (b->state_dirfd < 0)
		goto fail;
	errno = -broker_state_writer_start(b);
	if (errno) {
		snprintf(err, errlen, "state directory %s: cannot start its writer thread: %s", dir,
			 strerror(errno));
		return -errno;
	}
	return 0;
fail:
	snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
	return -errno;
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat),
 * to tell a pid we recorded from a later process that reuses it. 0 if gone. */
uint64_t broker_state_proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}

/* This boot of the host (/proc/sys/kernel/random/boot_id, 36 characters):
 * a pid and a start time in ticks since boot name a process only within one
 * boot. Empty when it cannot be read. */
void broker_state_boot_id(char out[BROKER_STATE_BOOT_ID_LEN + 1])
{
	ssize_t n = -1;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, out, BROKER_STATE_BOOT_ID_LEN);
		close(fd);
	}
	out[n == BROKER_STATE_BOOT_ID_LEN ? n : 0] = 0;
}

static void broker_state_add_proc(json_object *procs, pid_t pid, const char *boot_id)
{
	json_object *p;

	if (pid <= 0)
		return;
	p = json_object_new_object();
	json_object_object_add(p, "pid", json_object_new_int64(pid));
	json_object_object_add(p, "start",
			       json_object_new_int64((int64_t)broker_state_proc_start(pid)));
	if (*boot_id)
		json_object_object_add(p, "boot_id", json_object_new_string(boot_id));
	json_object_array_add(procs, p);
}

int broker_state_save(struct broker *b, const struct broker_vm *vm)
{
	json_object *o = json_object_new_object(), *procs = json_object_new_array();
	char *text;
	int r;

	json_object_object_add(o, "id", json_object_new_string(vm->id));
	json_object_object_add(o, "tenant", json_object_new_string(b->tenants.t[vm->tenant].name));
	json_object_object_add(o, "created_us", json_object_new_int64((int64_t)vm->created_us));
	json_object_object_add(o, "state", json_object_new_string(broker_vm_state_name(vm->state)));
	/* Its uid/gid of the pool: a restarted broker gives it no other VM. */
	json_object_object_add(o, "host_id", json_object_new_int64(vm->host_id));
	json_object_object_add(o, "definition", broker_vmdef_to_json(&vm->def));
	if (vm->state == BROKER_VM_RUNNING || vm->state == BROKER_VM_PAUSED) {
		char boot_id[BROKER_STATE_BOOT_ID_LEN + 1];

		broker_state_boot_id(boot_id);
		broker_state_add_proc(procs, vm->core.pid, boot_id);
		for (size_t i = 0; i < vm->ndevs; i++)
			broker_state_add_proc(procs, vm->devs[i].proc.pid, boot_id);
		/* Its VNC server: a VM not adopted leaves it to the leftovers' kill. */
		broker_state_add_proc(procs, vm->display.pid, boot_id);
		/* Its keeper: a next broker adopts the VM through it, or, when
		 * that fails, kills it with the rest (broker_adopt.c). */
		if (vm->keeper_pid > 0) {
			json_object *k = json_object_new_object();

			broker_state_add_proc(procs, vm->keeper_pid, boot_id);
			json_object_object_add(k, "pid", json_object_new_int64(vm->keeper_pid));
			json_object_object_add(k, "start",
					       json_object_new_int64((int64_t)vm->keeper_start));
			if (*boot_id)
				json_object_object_add(k, "boot_id",
						       json_object_new_string(boot_id));
			json_object_object_add(o, "keeper", k);
		}
	}
	json_object_object_add(o, "processes", procs);
	if (vm->restore)
		json_object_object_add(o, "restore", json_object_new_boolean(1));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	r = text ? broker_state_enqueue(b, vm->id, text) : -ENOMEM;
	if (r < 0)
		log_err("state: cannot save vm %s: %s", vm->id, strerror(-r));
	return r;
}

int broker_state_remove(struct broker *b, const struct broker_vm *vm)
{
	return broker_state_enqueue(b, vm->id, NULL);
}

/* Processes recorded by an earlier broker that were not adopted (no keeper,
 * or one that failed a check: broker_adopt.c): kill any that still run.
 * They are not our children, so init reaps them. A record of another boot of
 * the host (or of none: state files written before boot ids were recorded)
 * names no process of ours: after a reboot its pid and start time may well
 * match an unrelated process. */
void broker_state_kill_leftovers(json_object *procs, const char *id)
{
	size_t n =
		json_object_is_type(procs, json_type_array) ? json_object_array_length(procs) : 0;
	char boot_id[BROKER_STATE_BOOT_ID_LEN + 1];

	broker_state_boot_id(boot_id);
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(procs, i), *jpid, *jstart, *jboot;
		int64_t pid, start;
		int pidfd;

		if (!json_object_object_get_ex(p, "pid", &jpid) ||
		    !json_object_object_get_ex(p, "start", &jstart))
			continue;
		/* UNTRUSTED(state): any numbers; a pid in range whose start time
		 * matches the record's, recorded in this boot, is the one process
		 * killed. */
		pid = json_object_get_int64(jpid);
		start = json_object_get_int64(jstart);
		if (pid <= 1 || pid > 4194304 || start <= 0)
			continue;
		if (!*boot_id || !json_object_object_get_ex(p, "boot_id", &jboot) ||
		    !json_object_is_type(jboot, json_type_string) ||
		    strcmp(json_object_get_string(jboot), boot_id) != 0) {
			log_info("vm %s: process %lld was recorded in another boot of the host: "
				 "left alone",
				 id, (long long)pid);
			continue;
		}
		/* Open a pidfd first, then check the start time: the pidfd pins the
		 * process we checked, so the kill cannot hit a newcomer. */
		pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pidfd < 0)
			continue;
		if (broker_state_proc_start((pid_t)pid) == (uint64_t)start) {
			log_warn("vm %s: killing process %lld left by an earlier broker", id,
				 (long long)pid);
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		}
		close(pidfd);
	}
}

static int broker_state_load_one(struct broker *b, const char *fname)
{
	json_object *o = NULL, *jid, *jten, *jdef, *jstate, *jprocs, *jcreated, *jr;
	char buf[STATE_MAX_FILE + 1], err[256];
	struct broker_vmdef def;
	struct tenant *t;
	struct broker_vm *vm;
	bool def_ok;
	ssize_t n;
	int fd, r = -EINVAL;
	const char *id;

	/* UNTRUSTED(state): a crash, a full disk or a hand may have left anything
	 * here. The size is bounded, the id must be the file's name, the
	 * definition passes the checks a client's does (broker_vmdef_from_json,
	 * paths lexically), and recorded processes are only killed when their
	 * start time matches. */
	fd = openat(b->state_dirfd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || n > STATE_MAX_FILE)
		return -EINVAL;
	buf[n] = 0;
	o = json_tokener_parse(buf);
	if (!o || !json_object_object_get_ex(o, "id", &jid) ||
	    !json_object_object_get_ex(o, "tenant", &jten) ||
	    !json_object_object_get_ex(o, "definition", &jdef) ||
	    !json_object_object_get_ex(o, "state", &jstate))
		goto out;
	id = json_object_get_string(jid);
	if (strlen(id) != BROKER_ID_LEN || strncmp(fname, id, BROKER_ID_LEN) != 0)
		goto out;
	t = broker_tenant_by_name(&b->tenants, json_object_get_string(jten));
	def_ok = t && broker_vmdef_from_json(jdef, NULL, &def, err, sizeof(err)) == 0;
	/* Not loaded: nothing adopts its processes. */
	if (!def_ok && json_object_object_get_ex(o, "processes", &jprocs))
		broker_state_kill_leftovers(jprocs, id);
	if (!t) {
		log_warn("state: vm %s belongs to tenant '%s', not in the configuration: "
			 "kept on disk, not loaded",
			 id, json_object_get_string(jten));
		r = -ENOENT;
		goto out;
	}
	if (!def_ok) {
		log_warn("state: vm %s: %s", id, err);
		goto out;
	}
	vm = broker_vm_registry_add(b, id, (int)(t - b->tenants.t), &def,
				    json_object_object_get_ex(o, "created_us", &jcreated)
					    ? (uint64_t)json_object_get_int64(jcreated)
					    : 0);
	if (!vm) {
		broker_vmdef_free(&def);
		r = -ENOMEM;
		goto out;
	}
	{
		vm->restore =
			json_object_object_get_ex(o, "restore", &jr) && json_object_get_boolean(jr);
		/* UNTRUSTED(state): any number; broker_host_start keeps it only
		 * inside the pool and not another VM's. */
		if (json_object_object_get_ex(o, "host_id", &jr) &&
		    json_object_is_type(jr, json_type_int) && json_object_get_int64(jr) > 0 &&
		    json_object_get_int64(jr) <= UINT32_MAX)
			vm->host_id = (uint32_t)json_object_get_int64(jr);
	}
	if (strcmp(json_object_get_string(jstate), "created") != 0) {
		const char *was = json_object_get_string(jstate);
		vm->state = BROKER_VM_STOPPED;
		/* It ran, with a keeper: broker_adopt_all (after the host's ids
		 * and cgroups are taken) adopts it, or kills what is left. */
		if ((strcmp(was, "running") == 0 || strcmp(was, "paused") == 0) &&
		    json_object_object_get_ex(o, "keeper", &jr)) {
			vm->adopt_rec = json_object_get(o);
			r = 0;
			goto out;
		}
		if (json_object_object_get_ex(o, "processes", &jprocs))
			broker_state_kill_leftovers(jprocs, id);
		if (strcmp(was, "running") == 0 || strcmp(was, "paused") == 0)
			snprintf(vm->last_exit, sizeof(vm->last_exit),
				 "stopped: the broker restarted while the VM was %s", was);
		(void)broker_state_save(b, vm);
	}
	r = 0;
out:
	if (r == -EINVAL)
		log_warn("state: %s is damaged: skipped", fname);
	json_object_put(o);
	return r;
}

int broker_state_load(struct broker *b)
{
	DIR *d;
	struct dirent *e;
	int n = 0, fd = dup(b->state_dirfd);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	/* Temporary files of interrupted writes first (the rename never
	 * happened): loading queues writes whose temporaries must not be taken
	 * for leftovers. */
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' && len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0)
			unlinkat(b->state_dirfd, e->d_name, 0);
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		if (len != BROKER_ID_LEN + 5 || strcmp(e->d_name + BROKER_ID_LEN, ".json") != 0)
			continue;
		if (b->nvms >= BROKER_MAX_VMS)
			break;
		if (broker_state_load_one(b, e->d_name) == 0)
			n++;
	}
	closedir(d);
	return n;
}
