/* Small fd helpers shared by all processes: full reads/writes, cleanup attributes. */
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

/* Write all of buf, retrying on EINTR/short writes. Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);
/* Read exactly len bytes at offset off. Returns 0, -EIO on short file, or -errno. */
int fd_pread_all(int fd, void *buf, size_t len, off_t off);
/* Make fd non-blocking (or blocking). Returns 0 or -errno. */
int fd_set_nonblock(int fd, int on);

static inline void fd_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(fd_closep)))
