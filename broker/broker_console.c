/* The serial console of each VM in cellvm-broker: a ring of the last
 * BROKER_CONSOLE_LOG bytes the guest wrote, relayed to the REST and RPC
 * followers, and client input to the guest. Runs in the broker's loop.
 * The bytes are the guest's: stored and relayed as they are, never parsed. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/broker.h"
#include "common/fdutil.h"

void broker_console_notify(struct broker *b, const struct broker_vm *vm, bool vm_gone)
{
	rest_console_update(b, vm, vm_gone);
	rpc_console_update(b, vm, vm_gone);
}

/* Move what the guest wrote into the log, at most rounds reads of 4 KiB: a
 * guest that writes without pause must not keep the loop here (the event
 * fires again for the rest). rounds 0: until the socket is empty. */
void broker_console_drain(struct broker_vm *vm, unsigned rounds)
{
	uint8_t buf[4096];
	ssize_t n;

	if (vm->core.console < 0)
		return;
	/* UNTRUSTED(guest): bytes, stored and relayed as they are. */
	while ((n = recv(vm->core.console, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n;) {
			size_t off = vm->cons_total % BROKER_CONSOLE_LOG;
			size_t room = BROKER_CONSOLE_LOG - off, k = (size_t)(n - i);
			if (k > room)
				k = room;
			memcpy(vm->cons + off, buf + i, k);
			vm->cons_total += k;
			i += (ssize_t)k;
		}
		broker_console_notify(vm->b, vm, false);
		if (rounds && !--rounds)
			break;
	}
}

static void broker_console_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct broker_vm *vm = arg;

	broker_console_drain(vm, 16);
}

int broker_console_watch(struct broker_vm *vm)
{
	/* The processes' stderr, alongside the guest's console. */
	if (broker_childlog_watch_vm(vm) < 0)
		return -ENOMEM;
	(void)fd_set_nonblock(vm->core.console, 1);
	vm->cons_ev = event_new(vm->b->base, vm->core.console, EV_READ | EV_PERSIST,
				broker_console_on_read, vm);
	if (!vm->cons_ev || event_add(vm->cons_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void broker_console_read(const struct broker_vm *vm, uint64_t *pos, struct evbuffer *out)
{
	uint64_t start =
		vm->cons_total > BROKER_CONSOLE_LOG ? vm->cons_total - BROKER_CONSOLE_LOG : 0;

	if (*pos < start)
		*pos = start;
	while (*pos < vm->cons_total) {
		size_t off = *pos % BROKER_CONSOLE_LOG;
		size_t k = BROKER_CONSOLE_LOG - off;
		if (k > vm->cons_total - *pos)
			k = (size_t)(vm->cons_total - *pos);
		evbuffer_add(out, vm->cons + off, k);
		*pos += k;
	}
}

enum api_err broker_console_input(struct broker_vm *vm, const void *buf, size_t len, char *err,
				  size_t errlen)
{
	ssize_t n;

	if (vm->state != BROKER_VM_RUNNING || vm->core.console < 0) {
		snprintf(err, errlen, "the VM is not running");
		return API_VM_BUSY;
	}
	n = send(vm->core.console, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		snprintf(err, errlen, "the guest is not reading its console");
		return API_VM_BUSY;
	}
	return API_OK;
}
