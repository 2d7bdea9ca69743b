/* io_uring tests of sandbox_uring_restrict() for test_sandbox.c: on a plain
 * ring, and inside a SANDBOX_DEV_BLK child with the ring made before or
 * after sandbox_enter(), and RLIMIT_FSIZE through the ring. Test code only. */
#pragma once
#include <stdint.h>

#include "test/sandbox/sbtest.h"

/* Unsandboxed: allowed opcodes on registered files work, the rest -EACCES. */
int sbtest_uring_plain(void);

/* A sandboxed blk child doing ring I/O; start() is test_sandbox.c's. */
int sbtest_uring_sandboxed(int (*start)(struct sbchild *c, enum sandbox_kind kind,
					sbtest_prep_fn prep));

/* In that child: I/O on the ring made before the sandbox ('u'), and a ring
 * made inside it ('U': the policy kills it). 0 or a negative code. */
int32_t sbtest_uring_child_io(void);
int32_t sbtest_uring_child_late(void);

/* A sandboxed blk child whose file may not grow (RLIMIT_FSIZE): a write and
 * an fallocate past the end fail with EFBIG through the ring ('F'). */
int sbtest_uring_fsize(int (*start)(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
				    const struct sandbox_opts *opts));
int32_t sbtest_uring_child_grow(void);
