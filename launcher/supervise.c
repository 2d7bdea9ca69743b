/* Device supervision policy; see supervise.h. Runs in the privileged process
 * (cellvm run, cellvm-broker); only exit statuses and the clock come in. */
#include "launcher/supervise.h"

#include <time.h>

uint64_t supervise_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void supervise_init(struct supervise_dev *d, uint64_t now)
{
	*d = (struct supervise_dev){.started_ms = now};
}

enum supervise_verdict supervise_died(struct supervise_dev *d, int status, uint64_t now)
{
	uint64_t delay;

	d->restart_at = 0;
	if (status == 0 && !d->faulted) {
		/* A device ends cleanly only when its core link closes: the VM
		 * is ending, there is nothing to restart. */
		d->gone = true;
		return SUPERVISE_VM_ENDING;
	}
	if (now - d->started_ms >= SUPERVISE_STABLE_MS)
		d->in_a_row = 0;
	if (d->in_a_row >= SUPERVISE_MAX_RESTARTS) {
		d->gone = true;
		return SUPERVISE_GIVE_UP;
	}
	delay = (uint64_t)SUPERVISE_BACKOFF_MIN_MS << d->in_a_row;
	if (delay > SUPERVISE_BACKOFF_MAX_MS)
		delay = SUPERVISE_BACKOFF_MAX_MS;
	d->restart_at = now + delay;
	return SUPERVISE_RESTART;
}

bool supervise_fault(struct supervise_dev *d, uint32_t restarts)
{
	/* UNTRUSTED(core): restarts only picks which process is meant; a count
	 * that is not ours names none. */
	if (d->gone || d->restart_at || restarts != d->restarts)
		return false;
	d->faulted = true;
	return true;
}

int64_t supervise_wait_ms(const struct supervise_dev *d, uint64_t now)
{
	if (!d->restart_at || d->gone)
		return -1;
	return d->restart_at > now ? (int64_t)(d->restart_at - now) : 0;
}

void supervise_restarting(struct supervise_dev *d, uint64_t now)
{
	d->restart_at = 0;
	d->faulted = false;
	d->in_a_row++;
	d->started_ms = now;
}

void supervise_restarted(struct supervise_dev *d)
{
	d->restarts++;
}

void supervise_give_up(struct supervise_dev *d)
{
	d->restart_at = 0;
	d->gone = true;
}
