/* seccomp policy tables: one file per process kind (policy_core.c,
 * policy_blk.c) composed with policy_base.c, after crosvm's per-device
 * policies. Every rule carries its reason beside it. Used only by
 * sandbox_seccomp.c, in the process being sandboxed. */
#pragma once
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

enum sb_cmp {
	SB_ANY,	     /* any arguments */
	SB_EQ,	     /* args[arg] == val */
	SB_MASKED,   /* (args[arg] & mask) == val */
	SB_SELF_PID, /* args[arg] == getpid() at load time */
};

struct sb_rule {
	int nr;	     /* SCMP_SYS(name) */
	uint8_t cmp; /* enum sb_cmp */
	uint8_t arg; /* which argument cmp looks at */
	int err;     /* 0: allow; else fail with this errno */
	scmp_datum_t mask;
	scmp_datum_t val;
};

struct sb_policy {
	const char *name;
	const struct sb_rule *rules;
	size_t n;
};

/* Several rules for one system call add up (any may match); do not mix an
 * SB_ALLOW with argument rules for the same call. */
#define SB_ALLOW(name)                                                                             \
	{                                                                                          \
		.nr = SCMP_SYS(name), .cmp = SB_ANY                                                \
	}
#define SB_ALLOW_ARG(name, i, v)                                                                   \
	{                                                                                          \
		.nr = SCMP_SYS(name), .cmp = SB_EQ, .arg = (i), .val = (v)                         \
	}
#define SB_ALLOW_MASKED(name, i, m, v)                                                             \
	{                                                                                          \
		.nr = SCMP_SYS(name), .cmp = SB_MASKED, .arg = (i), .mask = (m), .val = (v)        \
	}
#define SB_ALLOW_SELF(name, i)                                                                     \
	{                                                                                          \
		.nr = SCMP_SYS(name), .cmp = SB_SELF_PID, .arg = (i)                               \
	}
/* Not allowed, but failing softly: for calls libc probes and can do without. */
#define SB_ERRNO(name, e)                                                                          \
	{                                                                                          \
		.nr = SCMP_SYS(name), .cmp = SB_ANY, .err = (e)                                    \
	}

#define SB_POLICY(var, label, table)                                                               \
	const struct sb_policy var = {label, table, sizeof(table) / sizeof((table)[0])}

extern const struct sb_policy policy_base;    /* every kind; sanitizer extras included */
extern const struct sb_policy policy_core;    /* SANDBOX_CORE */
extern const struct sb_policy policy_blk;     /* SANDBOX_DEV_BLK */
extern const struct sb_policy policy_net;     /* SANDBOX_DEV_NET */
extern const struct sb_policy policy_input;   /* SANDBOX_DEV_INPUT */
extern const struct sb_policy policy_gpu;     /* SANDBOX_DEV_GPU */
extern const struct sb_policy policy_snd;     /* SANDBOX_DEV_SND */
extern const struct sb_policy policy_display; /* SANDBOX_DISPLAY */
