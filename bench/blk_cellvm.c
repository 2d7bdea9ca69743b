/* The cellvm side of bench-blk: cellvm-dev-blk started by the launcher as
 * in production (sandboxed; found next to bench-blk or through
 * CELLVM_LIBEXEC), with the test harness playing cellvm-core on its link.
 * Runs in the benchmark process; the device is a peer (vcore checks what it
 * sends). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk.h"
#include "dev-procs/blk/blk.h"
#include "device.pb-c.h"

int blk_cellvm_start(struct bench_dev *d, const char *path, bool direct)
{
	Cellvm__Device__BlkConfig bc = CELLVM__DEVICE__BLK_CONFIG__INIT;
	struct device_config cfg = {.kind = "blk", .nbackend = 1};
	struct vdrv_queue *qs[1] = {&d->q};
	char err[256];
	int fd, r;

	r = blk_gen_mem_init(d);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "guest RAM: %s", strerror(-r));
		return r;
	}
	/* The launcher's contract: direct=on comes with an O_DIRECT fd. */
	fd = open(path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0) {
		r = -errno;
		snprintf(d->note, sizeof(d->note), "open %s: %s", path, strerror(-r));
		return r;
	}
	bc.num_queues = 1;
	bc.queue_size = BENCH_QUEUE_SIZE;
	bc.direct = direct;
	cfg.backend_fds[0] = fd;
	cfg.blk = &bc;
	r = vcore_start(&d->core, &cfg, &d->mem, err, sizeof(err));
	close(fd);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "device start: %s", err);
		return r;
	}
	d->core_started = true;
	r = vcore_attach(&d->core, 1);
	if (r == 0 && d->core.device_id != VIRTIO_ID_BLOCK)
		r = -EPROTO;
	if (r == 0)
		r = vcore_activate(&d->core, d->core.features & (1ULL << VIRTIO_F_VERSION_1), qs,
				   1);
	if (r < 0) {
		snprintf(d->note, sizeof(d->note), "attach/activate: %s", strerror(-r));
		return r;
	}
	d->irq_fd = d->core.irq_fd;
	d->up = true;
	return 0;
}
