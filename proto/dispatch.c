/* Dispatch tables; see dispatch.h. */
#include "proto/dispatch.h"
#include "proto/ipc.h"

#include <errno.h>

int dispatch_run(struct dispatch *d, uint32_t msg_case, void *ctx, const void *msg, int *fds,
		 size_t nfds)
{
	const struct dispatch_entry *e;

	if (msg_case >= d->n || msg_case >= 64)
		goto violation;
	e = &d->table[msg_case];
	if (!e->handler || !(e->states & DISPATCH_STATE(d->state)))
		goto violation;
	if ((e->flags & DISPATCH_ONCE) && (d->seen & (1ULL << msg_case)))
		goto violation;
	if (!(e->flags & DISPATCH_FDS) && nfds)
		goto violation;
	d->seen |= 1ULL << msg_case;
	return e->handler(ctx, msg, fds, nfds);
violation:
	ipc_close_fds(fds, nfds);
	return -EPROTO;
}
