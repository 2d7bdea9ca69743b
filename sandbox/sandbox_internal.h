/* Steps of sandbox_enter() shared between the library's files; not for use
 * outside sandbox/ and test/sandbox/. All run in the child being sandboxed
 * and return 0 (or a documented positive value) or -errno. */
#pragma once
#include <stdbool.h>

#include "sandbox/sandbox.h"

/* -EPERM unless in a user namespace of our own (not the host's). */
int sandbox_ns_check(void);

/* Become root of the user namespace (the mapped ids outside) and drop every
 * supplementary group. Idempotent. */
int sandbox_ns_become_root(void);

/* Mounts private, an empty read-only tmpfs as "/" (pivot_root), the old root
 * detached; cwd is "/". In sanitizer builds, runs LeakSanitizer's check
 * first, while /proc is still there (see sandbox_ns.c). */
int sandbox_ns_empty_root(void);

/* Landlock with every right of the running kernel's ABI handled and none
 * granted. *ret_abi: the ABI version in force, 0 when the kernel has no
 * Landlock (returns 0). Needs no_new_privs (or CAP_SYS_ADMIN). */
int sandbox_landlock_restrict(int *ret_abi);

/* The process title becomes "ARGV0 [sandbox: text]" (see sandbox.h). */
void sandbox_title_set(const char *text);

/* Build and load the seccomp filter of `kind` (policy_base + the kind's). */
int sandbox_seccomp_load(enum sandbox_kind kind);
