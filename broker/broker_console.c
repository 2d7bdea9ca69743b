/* The serial console of each VM in cellvm-broker: a ring of the last
 * BROKER_CONSOLE_LOG bytes the guest wrote, relayed to the REST and RPC
 * followers, and client input to the guest. Runs in the broker's loop.
 * The bytes are the guest's: stored and relayed as they are, never parsed.
 * The ring lives in a memfd that the VM's keeper holds too, so a next
 * broker goes on with it (an adopted ring is checked before it is used). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"

/* The ring's memfd: this header page, then the bytes. */
#define CONSOLE_RING_MAGIC 0x676e69726c6f6363ULL /* "ccolring" */
#define CONSOLE_RING_HDR   4096
#define CONSOLE_RING_SIZE  (CONSOLE_RING_HDR + BROKER_CONSOLE_LOG)

struct console_ring_hdr {
	uint64_t magic;
	uint64_t total; /* bytes the guest wrote so far (vm->cons_total) */
};

int broker_console_ring_open(struct broker_vm *vm, int map_fd)
{
	struct console_ring_hdr *h;
	struct stat st;
	void *p;
	int fd = map_fd;

	if (fd < 0) {
		fd = memfd_create("cellvm-console", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, CONSOLE_RING_SIZE) < 0) {
			close(fd);
			return -errno;
		}
	} else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != CONSOLE_RING_SIZE) {
		/* UNTRUSTED(state): an fd from the keeper, checked before use. */
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, CONSOLE_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	h = p;
	if (map_fd < 0) {
		h->magic = CONSOLE_RING_MAGIC;
		h->total = 0;
	} else if (h->magic != CONSOLE_RING_MAGIC) {
		munmap(p, CONSOLE_RING_SIZE);
		close(fd);
		return -EINVAL;
	}
	broker_console_ring_close(vm);
	vm->cons_fd = fd;
	vm->cons = (uint8_t *)p + CONSOLE_RING_HDR;
	vm->cons_total = h->total;
	return 0;
}

void broker_console_ring_close(struct broker_vm *vm)
{
	if (vm->cons)
		munmap(vm->cons - CONSOLE_RING_HDR, CONSOLE_RING_SIZE);
	vm->cons = NULL;
	if (vm->cons_fd > 0)
		close(vm->cons_fd);
	vm->cons_fd = -1;
}

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
		/* After the bytes: a next broker never counts bytes it lacks. */
		__atomic_store_n(&((struct console_ring_hdr *)(vm->cons - CONSOLE_RING_HDR))->total,
				 vm->cons_total, __ATOMIC_RELEASE);
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
	/* The processes' stderr, alongside the guest's console; the keeper
	 * gets dups (the readers take the fds). */
	if (vm->core.log > 0)
		vm->core_log_keep = fcntl(vm->core.log, F_DUPFD_CLOEXEC, 3);
	for (size_t i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].proc.log > 0)
			vm->devs[i].log_keep = fcntl(vm->devs[i].proc.log, F_DUPFD_CLOEXEC, 3);
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
