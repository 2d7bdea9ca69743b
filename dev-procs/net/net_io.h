/* cellvm-dev-net's backend: the tap queues the launcher opened (IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR, IFF_MULTI_QUEUE for several). Runs in the
 * cellvm-dev-net process; net_io_setup() before the sandbox, the rest inside
 * it (read, write and the one ioctl the policy allows, TUNSETOFFLOAD). The
 * fds are the device's; nothing here closes them. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Check fd is a tap with a vnet header and no packet info, make it
 * nonblocking and set its vnet header to the 12 bytes of virtio 1.x.
 * Returns 0 or -errno. */
int net_io_setup(int fd);
/* TUN_F_* offloads the guest can take in (GUEST_CSUM, GUEST_TSO4/6).
 * Returns 0 or -errno. */
int net_io_set_offload(int fd, unsigned flags);
/* One frame (vnet header first). Returns its full length, which is larger
 * than the iovecs when the frame did not fit (the kernel dropped the rest),
 * -EAGAIN when none is queued, or -errno. */
ssize_t net_io_read(int fd, const struct iovec *iov, int n);
/* One frame; returns the bytes written or -errno. */
ssize_t net_io_write(int fd, const struct iovec *iov, int n);
/* Whether an error from the tap means it is gone for good (interface
 * deleted or detached), not a passing condition. */
bool net_io_gone(int err);
/* Copy len bytes between buf and the bytes of iov[0..n) from offset off
 * (into the iovecs when to_iov); stops where the iovecs end. */
void net_io_iov_copy(const struct iovec *iov, uint32_t n, size_t off, void *buf, size_t len,
		     bool to_iov);
