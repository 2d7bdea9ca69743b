/* Tap backend; see net_io.h. Runs in cellvm-dev-net. The fds come from the
 * launcher (a peer): their kind is checked once here, before the sandbox.
 * What the tap returns is the host kernel's, not the guest's. */
#include "dev-procs/net/net_io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dev-procs/net/net_hdr.h"

int net_io_setup(int fd)
{
	struct ifreq ifr;
	int fl, sz = NET_HDR_LEN;

	/* UNTRUSTED(launcher): fd must be a tap with a vnet header and no
	 * packet information, whatever the launcher meant to send. */
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	if ((ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) !=
	    (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
		return -EINVAL;
	/* virtio 1.x always carries num_buffers: 12 bytes, not the legacy 10. */
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int net_io_set_offload(int fd, unsigned flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -errno : 0;
}

ssize_t net_io_read(int fd, const struct iovec *iov, int n)
{
	ssize_t r;

	do
		r = readv(fd, iov, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

ssize_t net_io_write(int fd, const struct iovec *iov, int n)
{
	ssize_t r;

	/* UNTRUSTED(guest): a frame and its vnet header, already held to the
	 * negotiated limits by net_tx_parse(); the kernel checks the header
	 * again. */
	do
		r = writev(fd, iov, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

bool net_io_gone(int err)
{
	return err == EIO || err == EBADFD || err == ENXIO || err == ENODEV || err == EBADF;
}

void net_io_iov_copy(const struct iovec *iov, uint32_t n, size_t off, void *buf, size_t len,
		     bool to_iov)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < n && len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, b, take);
		else
			memcpy(b, (uint8_t *)iov[i].iov_base + off, take);
		b += take;
		len -= take;
		off = 0;
	}
}
