/* cgroup v2 helpers; see cgroup.h. Runs in the privileged front end (the
 * broker). Reads the kernel's files only (/proc/self, the cgroup2 mount); no
 * input from a client or a guest reaches here but a VM's id as a name, which
 * the caller made. */
#include "launcher/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/fdutil.h"

/* Read the small file dirfd/name into buf (NUL-terminated). */
static int cgroup_read(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n = fd_read_file_at(dirfd, name, buf, len);

	return n < 0 ? (int)n : 0;
}

static int cgroup_write_u64(int dirfd, const char *name, uint64_t v)
{
	char val[32];

	if (v == CGROUP_MAX)
		snprintf(val, sizeof(val), "max");
	else
		snprintf(val, sizeof(val), "%" PRIu64, v);
	return fd_write_file_at(dirfd, name, val);
}

/* The cgroup2 mount: its mount point and the cgroup path it shows as "/"
 * (not "/" inside a container that mounted a subtree). */
static int cgroup_mount(char *point, size_t plen, char *root, size_t rlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mroot[PATH_MAX], mpoint[PATH_MAX];
		const char *sep = strstr(line, " - ");

		/* Fields: id parent dev root mountpoint options [tags] - fstype ... */
		if (!sep || strncmp(sep, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", mroot, mpoint) != 2)
			continue;
		/* Octal escapes (a blank in a path): not a mount we would pick. */
		if (strchr(mroot, '\\') || strchr(mpoint, '\\'))
			continue;
		if ((size_t)snprintf(point, plen, "%s", mpoint) >= plen ||
		    (size_t)snprintf(root, rlen, "%s", mroot) >= rlen) {
			r = -ENAMETOOLONG;
			break;
		}
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int cgroup_own_path(char *buf, size_t len)
{
	char point[PATH_MAX], root[PATH_MAX], line[PATH_MAX + 8], *path = NULL;
	size_t rl;
	FILE *f;
	int r = cgroup_mount(point, sizeof(point), root, sizeof(root));

	if (r < 0)
		return r;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	/* cgroup v2's line is "0::/path". */
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			path = line + 3;
			path[strcspn(path, "\n")] = 0;
			break;
		}
	fclose(f);
	if (!path || path[0] != '/')
		return -ENOENT;
	rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != 0))
		return -ENOENT;
	path += rl;
	if ((size_t)snprintf(buf, len, "%s%s", point, strcmp(path, "/") == 0 ? "" : path) >= len)
		return -ENAMETOOLONG;
	return 0;
}

bool cgroup_is_delegated(const char *dir)
{
	static const char *const names[] = {"trusted.delegate", "user.delegate"};
	char v[8];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ssize_t n = getxattr(dir, names[i], v, sizeof(v) - 1);
		if (n > 0) {
			v[n] = 0;
			if (strcmp(v, "1") == 0)
				return true;
		}
	}
	return false;
}

/* Whether the space-separated list has word. */
static bool cgroup_has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || !p[wl]))
			return true;
	return false;
}

int cgroup_take(const char *dir, const char *leaf)
{
	char avail[512], pid[32], want[64] = "";
	int fd, leaffd = -1, r;

	fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = cgroup_read(fd, "cgroup.controllers", avail, sizeof(avail));
	if (r < 0)
		goto fail;
	if (!cgroup_has_word(avail, "memory") || !cgroup_has_word(avail, "pids")) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (mkdirat(fd, leaf, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	leaffd = openat(fd, leaf, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (leaffd < 0) {
		r = -errno;
		goto fail;
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	r = fd_write_file_at(leaffd, "cgroup.procs", pid);
	if (r < 0)
		goto fail;
	snprintf(want, sizeof(want), "+memory +pids%s",
		 cgroup_has_word(avail, "cpu") ? " +cpu" : "");
	r = fd_write_file_at(fd, "cgroup.subtree_control", want);
	if (r < 0)
		goto fail;
	close(leaffd);
	return fd;
fail:
	if (leaffd >= 0)
		close(leaffd);
	close(fd);
	return r;
}

int cgroup_use(const char *dir)
{
	char on[512];
	int fd, r;

	fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = cgroup_read(fd, "cgroup.subtree_control", on, sizeof(on));
	if (r < 0) {
		close(fd);
		return r;
	}
	if (!cgroup_has_word(on, "memory") || !cgroup_has_word(on, "pids")) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

int cgroup_child_create(int parent_fd, const char *name, const struct cgroup_limits *l)
{
	int fd, r;

	if (mkdirat(parent_fd, name, 0755) < 0) {
		if (errno != EEXIST)
			return -errno;
		/* A leftover of an earlier broker: its processes were killed. */
		if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 ||
		    mkdirat(parent_fd, name, 0755) < 0)
			return -errno;
	}
	fd = openat(parent_fd, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	r = cgroup_write_u64(fd, "memory.max", l->memory_max);
	if (r < 0)
		goto fail;
	/* Guest RAM pushed to swap would be memory beyond memory.max. Without
	 * swap accounting the file is missing, and there is nothing to bound. */
	r = fd_write_file_at(fd, "memory.swap.max", "0");
	if (r < 0 && r != -ENOENT)
		goto fail;
	r = cgroup_write_u64(fd, "pids.max", l->pids_max);
	if (r < 0)
		goto fail;
	if (l->cpu_weight) {
		r = cgroup_write_u64(fd, "cpu.weight", l->cpu_weight);
		if (r < 0 && r != -ENOENT)
			goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlinkat(parent_fd, name, AT_REMOVEDIR);
	return r;
}

int cgroup_child_remove(int parent_fd, const char *name)
{
	return unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* A single number, or "max". */
static uint64_t cgroup_value(int fd, const char *name)
{
	char buf[64];

	if (cgroup_read(fd, name, buf, sizeof(buf)) < 0)
		return 0;
	if (strncmp(buf, "max", 3) == 0)
		return CGROUP_MAX;
	return strtoull(buf, NULL, 10);
}

/* "key N" from a flat-keyed file (cpu.stat, memory.events). */
static uint64_t cgroup_key(int fd, const char *name, const char *key)
{
	char buf[2048], *p;
	size_t kl = strlen(key);

	if (cgroup_read(fd, name, buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 10);
	return 0;
}

int cgroup_read_stats(int fd, struct cgroup_stats *out)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*out = (struct cgroup_stats){
		.memory_current = cgroup_value(fd, "memory.current"),
		.memory_max = cgroup_value(fd, "memory.max"),
		.pids_current = cgroup_value(fd, "pids.current"),
		.pids_max = cgroup_value(fd, "pids.max"),
		.cpu_usage_usec = cgroup_key(fd, "cpu.stat", "usage_usec"),
		.oom_kills = cgroup_key(fd, "memory.events", "oom_kill"),
		.pids_limit = cgroup_key(fd, "pids.events", "max"),
	};
	return 0;
}
