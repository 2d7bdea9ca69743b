/* cellvm-keeper's state: the fds it holds for one running VM and the
 * keeper channel (proto/keeper.proto) that fills and empties them. Runs in
 * the keeper; what the broker connection sends is checked by the dispatch
 * table (a root peer's, still parsed strictly). docs/broker.md, "VMs outlive
 * the broker". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/dispatch.h"

#define KEEPER_MAX_FDS	253	    /* SCM_MAX_FD: what one process may be handed at once */
#define KEEPER_MAX_MSG	(64 * 1024) /* one datagram */
#define KEEPER_MAX_BLOB (60 * 1024)

/* The keeper's dispatch states. */
enum keeper_state {
	KEEPER_IDLE,	/* a set is held (or none yet): Hold or Release */
	KEEPER_FILLING, /* a Hold's fds are coming in FdChunks */
};

/* One set: the broker's blob and its fds. */
struct keeper_set {
	uint8_t *blob;
	size_t blob_len;
	int fds[KEEPER_MAX_FDS];
	size_t nfds;
	size_t total; /* while filling: how many fds the Hold announced */
};

struct keeper {
	struct keeper_set held;	   /* what a new broker gets */
	struct keeper_set pending; /* a Hold not complete yet */
	struct dispatch d;	   /* the broker connection's protocol */
	bool released;		   /* Release came: exit */
};

void keeper_init(struct keeper *k);
/* Close everything held and pending. */
void keeper_free(struct keeper *k);
/* A new broker connection: its protocol starts over, a Hold the old one
 * left unfinished is dropped (the set held before it stays). */
void keeper_new_conn(struct keeper *k);
/* Receive one message from the broker connection and apply it. Returns >= 0,
 * -ECONNRESET at EOF, or a refusal (dispatch_violation): drop the connection
 * then. */
int keeper_recv(struct keeper *k, int conn);
/* The same for one datagram already read (the fuzzer's entry): buf and its
 * fds (taken: closed on every path). */
int keeper_deliver(struct keeper *k, const uint8_t *buf, size_t len, int *fds, size_t nfds);
/* Send what is held to a new broker on conn: a Held and FdChunks. 0 or -errno. */
int keeper_send_held(const struct keeper *k, int conn);
/* Load the keeper's seccomp allowlist (keeper_seccomp.c): 0 or -errno. */
int keeper_seccomp_load(void);
