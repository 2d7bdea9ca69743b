/* The seccomp step of sandbox_enter(): builds the filter of a process kind
 * from policy_base.c and the kind's policy file with libseccomp and loads it.
 * Runs in the process being sandboxed, last, once nothing else is needed. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/policy.h"
#include "sandbox/sandbox_internal.h"

/* One kind a line. */
/* clang-format off */
static const struct sb_policy *const sandbox_kind_policy[SANDBOX_KIND_COUNT] = {
	[SANDBOX_CORE] = &policy_core,
	[SANDBOX_DEV_BLK] = &policy_blk,
	[SANDBOX_DEV_NET] = &policy_net,
	[SANDBOX_DEV_INPUT] = &policy_input,
	[SANDBOX_DEV_GPU] = &policy_gpu,
	[SANDBOX_DEV_SND] = &policy_snd,
	[SANDBOX_DISPLAY] = &policy_display,
};
/* clang-format on */

static int sandbox_seccomp_add(scmp_filter_ctx ctx, const struct sb_policy *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct sb_rule *rule = &p->rules[i];
		uint32_t action = rule->err ? SCMP_ACT_ERRNO((uint32_t)rule->err) : SCMP_ACT_ALLOW;
		struct scmp_arg_cmp c = {.arg = rule->arg};
		int r;

		switch (rule->cmp) {
		case SB_ANY: break;
		case SB_EQ:
			c.op = SCMP_CMP_EQ;
			c.datum_a = rule->val;
			break;
		case SB_MASKED:
			c.op = SCMP_CMP_MASKED_EQ;
			c.datum_a = rule->mask;
			c.datum_b = rule->val;
			break;
		case SB_SELF_PID:
			c.op = SCMP_CMP_EQ;
			c.datum_a = (scmp_datum_t)getpid();
			break;
		default: return -EINVAL;
		}
		r = seccomp_rule_add_array(ctx, action, rule->nr, rule->cmp == SB_ANY ? 0 : 1, &c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Test builds only: CELLVM_SECCOMP_LOG=1 logs what the policy would have
 * killed (kernel log / audit) and lets it run; see docs/sandbox.md. */
static uint32_t sandbox_seccomp_default(void)
{
#ifdef CELLVM_TEST_HOOKS
	const char *log = getenv("CELLVM_SECCOMP_LOG");

	if (log && strcmp(log, "1") == 0)
		return SCMP_ACT_LOG;
#endif
	return SCMP_ACT_KILL_PROCESS;
}

int sandbox_seccomp_load(enum sandbox_kind kind)
{
	scmp_filter_ctx ctx;
	int r;

	if ((unsigned)kind >= SANDBOX_KIND_COUNT)
		return -EINVAL;
	ctx = seccomp_init(sandbox_seccomp_default());
	if (!ctx)
		return -ENOMEM;
	/* Another architecture's system call numbers (int 0x80, x32) mean an
	 * exploit, not a mistake. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* The kernel's own errno when loading fails, not -ECANCELED. */
	if (r >= 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/* A binary tree rather than a list: KVM_RUN's ioctl is on the hot path. */
	if (r >= 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r >= 0)
		r = sandbox_seccomp_add(ctx, &policy_base);
	if (r >= 0)
		r = sandbox_seccomp_add(ctx, sandbox_kind_policy[kind]);
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}
