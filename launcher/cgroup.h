/* cgroup v2 for the privileged front ends (the broker): find the process's
 * own cgroup, take a delegated subtree (the process moves into a leaf of its
 * own, the controllers are enabled for the children), make a VM's cgroup with
 * its limits, read its figures, remove it. Paths are absolute paths on the
 * cgroup2 mount; fds are O_DIRECTORY fds of cgroup directories, owned by the
 * caller. Nothing here logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGROUP_MAX UINT64_MAX /* "max": no limit */

/* What a VM's cgroup gets. */
struct cgroup_limits {
	uint64_t memory_max; /* bytes; also memory.swap.max 0 where swap is accounted */
	uint64_t pids_max;   /* tasks (threads and io_uring workers count) */
	uint32_t cpu_weight; /* 1-10000, 100 is the kernel's default; 0: leave it */
};

/* A cgroup's figures; CGROUP_MAX for a limit of "max". */
struct cgroup_stats {
	uint64_t memory_current, memory_max;
	uint64_t pids_current, pids_max;
	uint64_t cpu_usage_usec;
	uint64_t oom_kills;  /* memory.events oom_kill */
	uint64_t pids_limit; /* pids.events max: forks refused by pids.max */
};

/* The calling process's cgroup as a path below the cgroup2 mount (found in
 * /proc/self/mountinfo, the cgroup in /proc/self/cgroup). -ENOENT without a
 * cgroup2 mount (a v1-only host) or when the cgroup lies outside it. */
int cgroup_own_path(char *buf, size_t len);

/* Whether the service manager delegated dir to its process: systemd marks a
 * unit's cgroup under Delegate=yes with the xattr trusted.delegate (or
 * user.delegate) "1". */
bool cgroup_is_delegated(const char *dir);

/* Take the subtree dir: make dir/leaf, move this process (every thread) into
 * it (cgroup v2 lets a cgroup with enabled controllers hold no process of its
 * own), and enable the memory, pids and (when available) cpu controllers for
 * dir's children. Returns an O_DIRECTORY fd of dir, or -errno: -EOPNOTSUPP
 * when dir does not offer memory and pids. */
int cgroup_take(const char *dir, const char *leaf);
/* Use dir, a subtree another process took (cgroup_take) and holds, without
 * moving in: its children get memory and pids (and cpu where offered).
 * Returns an O_DIRECTORY fd of dir, or -errno (-EOPNOTSUPP: memory or pids
 * is not enabled for its children). */
int cgroup_use(const char *dir);

/* Make the cgroup parent_fd/name (an empty leftover of that name is removed
 * first; one with processes in it is -EBUSY) and set its limits. Returns an
 * O_DIRECTORY fd of it, or -errno (nothing is left behind). */
int cgroup_child_create(int parent_fd, const char *name, const struct cgroup_limits *l);

/* Remove parent_fd/name (its processes must be gone: -EBUSY otherwise;
 * -ENOENT when there is none). */
int cgroup_child_remove(int parent_fd, const char *name);

/* Read the figures of the cgroup fd; a file a controller does not offer
 * leaves its figure 0. Returns 0 or -errno. */
int cgroup_read_stats(int fd, struct cgroup_stats *out);
