/* The devices' counters pages; see launcher.h. Runs in the privileged process
 * (cellvm run, cellvm-broker): it makes each page and reads it; only the device
 * process writes it, so what is read is the device's word. */
#include "launcher/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/devshm.h"

int launcher_stats_create(const struct devproc_stats **ret)
{
	void *p;
	int fd, r;

	fd = memfd_create("cellvm-dev-stats", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, DEVPROC_STATS_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	/* Read-only here: only the device writes its counters. */
	p = mmap(NULL, DEVPROC_STATS_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	*ret = p;
	return fd;
fail:
	r = -errno; /* before close() can change it */
	close(fd);
	return r;
}

void launcher_stats_read(const struct devproc_stats *page, struct devproc_stats *out)
{
	uint32_t seq;

	/* UNTRUSTED(device): the values are the device's word; a device stuck
	 * mid-write gets its last values read a few times, then whatever is
	 * there. */
	for (int tries = 0; tries < 100; tries++) {
		seq = __atomic_load_n(&page->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		out->requests = __atomic_load_n(&page->requests, __ATOMIC_RELAXED);
		out->bytes_in = __atomic_load_n(&page->bytes_in, __ATOMIC_RELAXED);
		out->bytes_out = __atomic_load_n(&page->bytes_out, __ATOMIC_RELAXED);
		out->errors = __atomic_load_n(&page->errors, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&page->seq, __ATOMIC_RELAXED) == seq)
			return;
	}
}

void launcher_stats_close(int fd, const struct devproc_stats *page)
{
	if (page)
		munmap((void *)page, DEVPROC_STATS_SIZE);
	if (fd > 0)
		close(fd);
}
