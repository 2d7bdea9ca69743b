/* Test harness for sandbox/: plays both the launcher (sandbox_fork,
 * sandbox_map_ids) and the sandboxed child, which then obeys one-letter
 * commands on a pipe so that the parent can look at it from outside
 * (/proc/PID) or make it try things. Test code only. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

#define SBTEST_SKIP 77

#define sbtest_fail(...)                                                                           \
	do {                                                                                       \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		exit(1);                                                                           \
	} while (0)
#define sbtest_check(cond, ...)                                                                    \
	do {                                                                                       \
		if (!(cond))                                                                       \
			sbtest_fail(__VA_ARGS__);                                                  \
	} while (0)

struct sbchild {
	pid_t pid;
	int cmd;     /* parent's end: commands to the child */
	int rep;     /* parent's end: 4-byte replies */
	int keep[2]; /* the child's ends, the fds it keeps */
	int stray;   /* open in the child before the sandbox, not kept */
};

/* In the child, before sandbox_enter(): may open fds and append them to
 * keep[] (room for 8), returns 0 or -errno. */
typedef int (*sbtest_prep_fn)(int *keep, size_t *nkeep, void *arg);

/* In the child, after: command letters not handled by the harness. The
 * return value is sent back as the reply. */
typedef int32_t (*sbtest_cmd_fn)(char cmd, void *arg);

/* Exit 77 unless root and user namespaces are available. */
void sbtest_require_root(void);

/* Start a sandboxed child of `kind`. Returns sandbox_enter()'s result as the
 * child saw it; exits 77 when namespaces cannot be created here. */
int sbtest_start(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
		 sbtest_cmd_fn on_cmd, void *arg);

/* The threads a child may have by default (RLIMIT_NPROC): itself, a
 * vCPU-like thread, io_uring workers. */
#define SBTEST_TASKS 8

/* The same with limits of its own (opts->tasks 0: 1, as sandbox.h says). */
int sbtest_start_opts(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
		      sbtest_cmd_fn on_cmd, void *arg, const struct sandbox_opts *opts);

/* Send a command; *ret_reply gets the reply. -EPIPE when the child died. */
int sbtest_command(struct sbchild *c, char cmd, int32_t *ret_reply);

/* Send a command that should end the child; returns its wait status. */
int sbtest_finish(struct sbchild *c, char cmd);
