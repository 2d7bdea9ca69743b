/* A disk's options: --disk of cellvm run, and each disk of a cellvm-broker VM
 * definition (broker_vmdef.c turns it into this same string):
 * "path=IMG[,readonly=on][,serial=S][,direct=on][,queues=N][,transport=pci|mmio]".
 * User input, parsed and checked here in the launcher. The image is opened
 * once by the front end (cellvm run by name, disk_opt_open_image; the broker
 * beneath the tenant's directory) with the access the disk is allowed
 * (read-only disks get an O_RDONLY fd) and locked; each start of the device
 * gets that file reopened through the fd (disk_opt_open), never the name. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "device.pb-c.h"

#define DISK_MAX	8
#define DISK_SERIAL_MAX 20 /* virtio-blk GET_ID */
#define DISK_MAX_QUEUES 8

struct disk_opt {
	char path[PATH_MAX];
	char serial[DISK_SERIAL_MAX + 1];
	bool readonly, direct;
	unsigned queues;
	const char *transport; /* "pci", "mmio" (static strings), or NULL: the default */
	int image_fd;	       /* the image, open and locked (the front end's); -1: not yet */
	int fd;		       /* a dup of image_fd for one start of the device (disk_opt_open) */
	Cellvm__Device__BlkConfig blk; /* points into this struct */
};

/* Parse s into *ret (image_fd and fd -1). Returns 0 or -EINVAL with a message in err. */
int disk_opt_parse(const char *s, struct disk_opt *ret, char *err, size_t errlen);
/* The open flags of the disk's image: O_RDONLY or O_RDWR, O_CLOEXEC,
 * O_NONBLOCK (a FIFO must not hang the opener), O_NOCTTY. */
int disk_opt_image_flags(const struct disk_opt *d);
/* Check an image fd opened with disk_opt_image_flags (or handed in): a
 * regular file or a block device, open for reading, and for writing too
 * unless readonly; clears O_NONBLOCK (io_uring would not wait on it
 * otherwise). Returns 0 or -errno with a message (what names the image). */
int disk_opt_check_image(int fd, bool readonly, const char *what, char *err, size_t errlen);
/* Take the image's OFD lock: shared (F_RDLCK) when readonly, else exclusive
 * (F_WRLCK), over the whole file, without waiting. Held while the open file
 * description lives (the fd, its dups, the device processes' copies).
 * Returns 0, -EBUSY when another holder conflicts (a message naming what),
 * or -errno. */
int disk_opt_lock_image(int fd, bool readonly, const char *what, char *err, size_t errlen);
/* cellvm run: open the user's own d->path by name, check it and lock it into
 * d->image_fd. Returns 0 or -errno with a message. */
int disk_opt_open_image(struct disk_opt *d, char *err, size_t errlen);
void disk_opt_close_image(struct disk_opt *d);
/* One start of the device: d->fd, d->image_fd's file reopened through
 * /proc/self/fd with the same access (its own open file, so the lock stays
 * the front end's; O_DIRECT when direct). Returns 0 or -errno with a message. */
int disk_opt_open(struct disk_opt *d, char *err, size_t errlen);
void disk_opt_close(struct disk_opt *d);
