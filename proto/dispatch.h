/* Dispatch tables: which message is allowed in which state, and how often
 * (after OpenSSH's privsep monitor). Used by every channel's receiver. A
 * message outside its states, repeated when one-shot, or carrying fds it must
 * not (or lacking those it must) is a protocol violation. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPATCH_ONCE (1U << 0) /* at most once per peer */
#define DISPATCH_FDS  (1U << 1) /* fds allowed (and required: nfds > 0) */

struct dispatch_entry {
	int (*handler)(void *ctx, const void *msg, int *fds, size_t nfds);
	uint32_t states; /* bit mask of states in which the message is allowed */
	uint32_t flags;
};

struct dispatch {
	const struct dispatch_entry *table;
	size_t n;	/* entries, indexed by the envelope's oneof case */
	uint32_t state; /* current state number (bit index into .states) */
	uint64_t seen;	/* one bit per case already received */
};

/* Check msg_case against the table and run its handler. The handler owns the
 * fds on success; on a violation they are closed here. Returns the handler's
 * result, or -EPROTO for a violation. */
int dispatch_run(struct dispatch *d, uint32_t msg_case, void *ctx, const void *msg, int *fds,
		 size_t nfds);

#define DISPATCH_STATE(s) (1U << (s))
