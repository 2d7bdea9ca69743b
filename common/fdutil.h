/* Small fd helpers shared by all processes: full reads/writes, cleanup attributes. */
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

/* Write all of buf, retrying on EINTR/short writes. Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);
/* Read exactly len bytes at offset off. Returns 0, -EIO on short file, or -errno. */
int fd_pread_all(int fd, void *buf, size_t len, off_t off);
/* Write the string s to the file at path (relative to dirfd, or AT_FDCWD) in
 * one write(2), for kernel control files (uid_map, cgroup files) that take a
 * value whole or not at all. Returns 0, -EIO on a short write, or -errno. */
int fd_write_file_at(int dirfd, const char *path, const char *s);
/* Read the small file at path (relative to dirfd, or AT_FDCWD) into buf, at
 * most len - 1 bytes in one read(2) (kernel files: /proc, cgroup), and end it
 * with a NUL. Returns the length read or -errno. */
ssize_t fd_read_file_at(int dirfd, const char *path, char *buf, size_t len);
/* Make fd non-blocking (or blocking). Returns 0 or -errno. */
int fd_set_nonblock(int fd, int on);
/* A memfd named name holding the len bytes of buf, sealed against every
 * change (a reader may map it without fearing a shrink). Returns the fd
 * (close-on-exec) or -errno. */
int fd_memfd_sealed(const char *name, const void *buf, size_t len);

static inline void fd_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(fd_closep)))
