/* Dispatch tables: which message a receiver takes in which state, how often,
 * and with or without fds (after OpenSSH's privsep monitor). Every receiver of
 * a peer's messages reads through dispatch_recv(): one datagram, decoded,
 * checked against the receiver's table, handed to the message's handler, its
 * unused fds closed and the decoded message freed. A message outside its
 * states, repeated when one-shot, or carrying fds it must not (or lacking
 * those it must) is a protocol violation. Runs in every process; what arrives
 * is untrusted (the peer). */
#pragma once
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPATCH_ONCE	   (1U << 0) /* at most once per peer */
#define DISPATCH_FDS	   (1U << 1) /* may carry fds (the handler checks how many) */
#define DISPATCH_NEEDS_FDS (1U << 2) /* must carry at least one fd (implies DISPATCH_FDS) */
/* The receiver keeps the decoded envelope after its handler succeeded: it is
 * left in dispatch.kept for the caller to free. Only with DISPATCH_ONCE. */
#define DISPATCH_KEEP (1U << 3)

#define DISPATCH_STATE(s) (1U << (s))

/* Refusals by the table (each a protocol violation). */
#define DISPATCH_E_UNEXPECTED (-ENOMSG)	  /* a message this receiver never takes */
#define DISPATCH_E_STATE      (-EPERM)	  /* not allowed in the receiver's state */
#define DISPATCH_E_REPEATED   (-EALREADY) /* a one-shot message, again */
#define DISPATCH_E_FDS	      (-EBADF)	  /* fds where none may be, or none where some must */

/* A handler gets the envelope's oneof member that was set. It takes an fd by
 * setting its slot in fds to -1; the fds it leaves are closed after it
 * returns. It returns >= 0, or -errno: a protocol violation (or a failure the
 * receiver treats as one). */
struct dispatch_entry {
	int (*handler)(void *ctx, const void *msg, int *fds, size_t nfds);
	uint32_t states; /* DISPATCH_STATE() bits: where the message is allowed */
	uint32_t flags;
};

/* One channel as one receiver sees it: the envelope, its bounds and the table
 * (indexed by the envelope's oneof case). Static and const. */
struct dispatch_channel {
	const ProtobufCMessageDescriptor *envelope;
	size_t max_len; /* a longer datagram is a violation */
	size_t max_fds; /* more fds in one datagram are a violation */
	const struct dispatch_entry *table;
	size_t n;
	/* Optional: a check of the whole envelope that every message passes
	 * after the table's rules and before its handler; its -errno refuses
	 * the message. */
	int (*check)(void *ctx, const ProtobufCMessage *envelope);
};

/* One peer's place in the protocol: owned by the receiver's context. */
struct dispatch {
	const struct dispatch_channel *ch;
	uint32_t state;		/* the receiver's state (a bit index into .states) */
	uint64_t seen;		/* one bit per case received (DISPATCH_ONCE) */
	uint32_t last_case;	/* the case of the last message decoded, for logs */
	ProtobufCMessage *kept; /* see DISPATCH_KEEP; the caller frees it */
};

/* Start a peer's protocol in state (nothing seen yet, nothing kept). */
void dispatch_init(struct dispatch *d, const struct dispatch_channel *ch, uint32_t state);

/* Check a message of case msg_case carrying nfds fds against the table; a
 * case it allows is recorded as seen. Returns 0 or a DISPATCH_E_* refusal. */
int dispatch_check(struct dispatch *d, uint32_t msg_case, size_t nfds);

/* Hand the decoded envelope m (oneof case msg_case, with nfds fds) to its
 * handler if the table and the channel's check allow it. Closes the fds the
 * handler did not take (all of them when refused) and frees m, unless kept.
 * Returns the handler's result, or a refusal. */
int dispatch_deliver(struct dispatch *d, void *ctx, ProtobufCMessage *m, uint32_t msg_case,
		     int *fds, size_t nfds);

/* Receive one datagram from sock and deliver it. Returns the handler's
 * result (>= 0); -ECONNRESET at EOF; -EPROTO or -EMSGSIZE for a datagram
 * that does not decode; a DISPATCH_E_* refusal; the handler's -errno; or
 * another -errno from recvmsg (-EAGAIN on a non-blocking socket). No fd is
 * left open on any failure. */
int dispatch_recv(int sock, struct dispatch *d, void *ctx);

/* Whether r (from dispatch_recv) means the peer broke the protocol (the
 * datagram did not decode or the table refused it), as opposed to the channel
 * closing or failing. A handler's own -errno is not classified here. */
bool dispatch_violation(int r);

/* r in words, for log lines: the refusals by what they mean. */
const char *dispatch_strerror(int r);
