/* A minimal vhost-user front-end; see vhost_user.h. Runs in bench-blk and
 * talks to a back-end it started itself (qemu-storage-daemon). Messages are a
 * 12-byte header (request, flags, payload size) and a payload in host byte
 * order, fds in SCM_RIGHTS; the order of the set-up messages is QEMU's own
 * (vhost_user_backend_init, then vhost_dev_start). What the back-end sends
 * back is checked for request, flags and size before it is used. */
#include "bench/vhost_user.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define VU_GET_FEATURES		 1
#define VU_SET_FEATURES		 2
#define VU_SET_OWNER		 3
#define VU_SET_MEM_TABLE	 5
#define VU_SET_VRING_NUM	 8
#define VU_SET_VRING_ADDR	 9
#define VU_SET_VRING_BASE	 10
#define VU_SET_VRING_KICK	 12
#define VU_SET_VRING_CALL	 13
#define VU_GET_PROTOCOL_FEATURES 15
#define VU_SET_PROTOCOL_FEATURES 16
#define VU_SET_VRING_ENABLE	 18

#define VU_FLAG_VERSION	   0x1U /* protocol version 1 */
#define VU_FLAG_REPLY	   0x4U
#define VU_FLAG_NEED_REPLY 0x8U

#define VU_VIRTIO_F_VERSION_1 32
#define VU_TIMEOUT_S	      5 /* a back-end that does not answer in time is broken */

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region region[1];
};

struct vu_state {
	uint32_t index;
	uint32_t num;
};

struct vu_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

int vhost_user_connect(struct vhost_user *vu, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = VU_TIMEOUT_S};
	int r;

	*vu = (struct vhost_user){.sock = -1, .kick_fd = -1, .call_fd = -1};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	vu->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vu->sock < 0)
		return -errno;
	if (connect(vu->sock, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(vu->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(vu->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		close(vu->sock);
		vu->sock = -1;
		return r;
	}
	return 0;
}

static int vu_send(struct vhost_user *vu, uint32_t request, uint32_t flags, const void *payload,
		   uint32_t size, int fd)
{
	struct vu_hdr h = {.request = request, .flags = VU_FLAG_VERSION | flags, .size = size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl = {0};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(vu->sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A short write of a few dozen bytes on a unix socket: the peer is gone. */
	return (size_t)n == sizeof(h) + size ? 0 : -EPIPE;
}

static int vu_read_all(struct vhost_user *vu, void *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = recv(vu->sock, buf, len, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		buf = (char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

/* The reply to request: exactly size bytes of payload into ret. */
static int vu_reply(struct vhost_user *vu, uint32_t request, void *ret, uint32_t size)
{
	struct vu_hdr h;
	int r;

	r = vu_read_all(vu, &h, sizeof(h));
	if (r < 0)
		return r;
	if (h.request != request || !(h.flags & VU_FLAG_REPLY) || h.size != size)
		return -EPROTO;
	return vu_read_all(vu, ret, size);
}

static int vu_get_u64(struct vhost_user *vu, uint32_t request, uint64_t *ret)
{
	int r = vu_send(vu, request, 0, NULL, 0, -1);

	if (r < 0)
		return r;
	return vu_reply(vu, request, ret, sizeof(*ret));
}

/* A message without a reply of its own. With REPLY_ACK negotiated the
 * back-end confirms it, so a failure shows at the message that caused it. */
static int vu_set(struct vhost_user *vu, uint32_t request, const void *payload, uint32_t size,
		  int fd)
{
	const bool ack = vu->protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	uint64_t status;
	int r;

	r = vu_send(vu, request, ack ? VU_FLAG_NEED_REPLY : 0, payload, size, fd);
	if (r < 0 || !ack)
		return r;
	r = vu_reply(vu, request, &status, sizeof(status));
	if (r < 0)
		return r;
	return status == 0 ? 0 : -EIO;
}

static int vu_set_u64(struct vhost_user *vu, uint32_t request, uint64_t v)
{
	return vu_set(vu, request, &v, sizeof(v), -1);
}

static int vu_negotiate(struct vhost_user *vu, uint64_t want, char *err, size_t errlen)
{
	uint64_t pf;
	int r;

	r = vu_get_u64(vu, VU_GET_FEATURES, &vu->offered);
	if (r < 0) {
		snprintf(err, errlen, "GET_FEATURES: %s", strerror(-r));
		return r;
	}
	if (!(vu->offered & want & (1ULL << VU_VIRTIO_F_VERSION_1))) {
		snprintf(err, errlen, "back-end offers %#llx: no VIRTIO_F_VERSION_1",
			 (unsigned long long)vu->offered);
		return -ENOTSUP;
	}
	vu->acked = vu->offered & want;
	if (vu->offered & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)) {
		vu->acked |= 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
		r = vu_get_u64(vu, VU_GET_PROTOCOL_FEATURES, &pf);
		if (r < 0) {
			snprintf(err, errlen, "GET_PROTOCOL_FEATURES: %s", strerror(-r));
			return r;
		}
		/* Sent before protocol_features is set: this one is never acked. */
		pf &= 1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK;
		r = vu_set_u64(vu, VU_SET_PROTOCOL_FEATURES, pf);
		if (r < 0) {
			snprintf(err, errlen, "SET_PROTOCOL_FEATURES: %s", strerror(-r));
			return r;
		}
		vu->protocol_features = pf;
	}
	r = vu_set(vu, VU_SET_OWNER, NULL, 0, -1);
	if (r < 0) {
		snprintf(err, errlen, "SET_OWNER: %s", strerror(-r));
		return r;
	}
	r = vu_set_u64(vu, VU_SET_FEATURES, vu->acked);
	if (r < 0)
		snprintf(err, errlen, "SET_FEATURES: %s", strerror(-r));
	return r;
}

static int vu_setup_ring(struct vhost_user *vu, struct vdrv_mem *m, struct vdrv_queue *q, char *err,
			 size_t errlen)
{
	const struct vu_state num = {.index = q->index, .num = q->size};
	const struct vu_state base = {.index = q->index, .num = 0};
	const struct vu_state enable = {.index = q->index, .num = 1};
	const uint64_t index = q->index;
	/* The back-end translates ring addresses through the region's
	 * userspace_addr, descriptor addresses through its guest_phys_addr. */
	const struct vu_addr addr = {
		.index = q->index,
		.desc_user_addr = (uintptr_t)vdrv_host(m, q->desc, VIRTQ_DESC_BYTES(q->size)),
		.used_user_addr = (uintptr_t)vdrv_host(m, q->used, VIRTQ_USED_BYTES(q->size)),
		.avail_user_addr = (uintptr_t)vdrv_host(m, q->avail, VIRTQ_AVAIL_BYTES(q->size)),
	};
	const struct {
		const char *name;
		uint32_t request;
		const void *payload;
		uint32_t size;
		int fd;
	} steps[] = {
		{"SET_VRING_NUM", VU_SET_VRING_NUM, &num, sizeof(num), -1},
		{"SET_VRING_BASE", VU_SET_VRING_BASE, &base, sizeof(base), -1},
		{"SET_VRING_ADDR", VU_SET_VRING_ADDR, &addr, sizeof(addr), -1},
		{"SET_VRING_KICK", VU_SET_VRING_KICK, &index, sizeof(index), vu->kick_fd},
		{"SET_VRING_CALL", VU_SET_VRING_CALL, &index, sizeof(index), vu->call_fd},
		/* Rings start disabled once protocol features are negotiated. */
		{"SET_VRING_ENABLE", VU_SET_VRING_ENABLE, &enable, sizeof(enable), -1},
	};
	size_t n = sizeof(steps) / sizeof(steps[0]);
	int r;

	if (!(vu->acked & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
		n--;
	for (size_t i = 0; i < n; i++) {
		r = vu_set(vu, steps[i].request, steps[i].payload, steps[i].size, steps[i].fd);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", steps[i].name, strerror(-r));
			return r;
		}
	}
	return 0;
}

int vhost_user_start(struct vhost_user *vu, struct vdrv_mem *m, struct vdrv_queue *q, uint64_t want,
		     char *err, size_t errlen)
{
	struct vu_memory mem = {
		.nregions = 1,
		.region[0] = {.guest_phys_addr = 0,
			      .memory_size = m->mem.low_size,
			      .userspace_addr = (uintptr_t)m->mem.host,
			      .mmap_offset = 0},
	};
	int r;

	r = vu_negotiate(vu, want, err, errlen);
	if (r < 0)
		return r;
	r = vu_set(vu, VU_SET_MEM_TABLE, &mem, sizeof(mem), m->fd);
	if (r < 0) {
		snprintf(err, errlen, "SET_MEM_TABLE: %s", strerror(-r));
		return r;
	}
	vu->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vu->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vu->kick_fd < 0 || vu->call_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-r));
		return r;
	}
	r = vu_setup_ring(vu, m, q, err, errlen);
	if (r < 0)
		return r;
	q->kick_fd = vu->kick_fd;
	return 0;
}

uint64_t vhost_user_call_take(struct vhost_user *vu)
{
	uint64_t v = 0;

	if (vu->call_fd < 0 || read(vu->call_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

void vhost_user_close(struct vhost_user *vu)
{
	if (vu->sock >= 0)
		close(vu->sock);
	if (vu->kick_fd >= 0)
		close(vu->kick_fd);
	if (vu->call_fd >= 0)
		close(vu->call_fd);
	vu->sock = vu->kick_fd = vu->call_fd = -1;
}
