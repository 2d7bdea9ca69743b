/* Datagram framing for every cellvm channel: one protobuf-c message per
 * SOCK_SEQPACKET datagram, fds only as SCM_RIGHTS. Runs in every process.
 * Received bytes and fds are untrusted (peer process). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define IPC_MAX_FDS 64

/* Send one datagram carrying buf and nfds fds. Returns 0 or -errno. */
int ipc_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* Receive one datagram into buf (capacity cap). Fds arrive close-on-exec in
 * ret_fds (caller owns and closes them, also on error paths after return).
 * Returns the datagram length, -ECONNRESET on orderly EOF, -EMSGSIZE when the
 * datagram or its fds were truncated (any fds received are closed), or -errno. */
int ipc_recv(int sock, void *buf, size_t cap, int *ret_fds, size_t max_fds, size_t *ret_nfds);

/* Close n fds and set them to -1. */
void ipc_close_fds(int *fds, size_t n);
