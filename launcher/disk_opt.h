/* A disk's options: --disk of cellvm run, and each disk of a cellvm-broker VM
 * definition (broker_vmdef.c turns it into this same string):
 * "path=IMG[,readonly=on][,serial=S][,direct=on][,queues=N][,transport=pci|mmio]".
 * User input, parsed and checked here in the launcher; the image is opened
 * here too, with the access the disk is allowed (read-only disks get an
 * O_RDONLY fd). */
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
	int fd;
	Cellvm__Device__BlkConfig blk; /* points into this struct */
};

/* Parse s into *ret. Returns 0 or -EINVAL with a message in err. */
int disk_opt_parse(const char *s, struct disk_opt *ret, char *err, size_t errlen);
/* Open the image as the options allow. Returns 0 or -errno with a message. */
int disk_opt_open(struct disk_opt *d, char *err, size_t errlen);
void disk_opt_close(struct disk_opt *d);
