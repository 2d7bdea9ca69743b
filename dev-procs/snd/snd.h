/* cellvm-dev-snd's device (virtio 1.2, 5.14: virtio-snd): the devproc side
 * of it — configuration, the four queues, the real-time clock (a timerfd)
 * that paces the streams, the audio ring's readers, pushed sound — around
 * the model in snd_ctl.c/snd_pcm.c and the backends in snd_io.c. Runs in
 * the cellvm-dev-snd process; main.c hands snd_ops to devproc_main().
 * Rings and requests are guest memory, untrusted. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dev-procs/devlib/devproc.h"
#include "dev-procs/devlib/virtq.h"
#include "dev-procs/snd/snd_ctl.h"
#include "dev-procs/snd/snd_io.h"

#define SND_RING_PERIODS      256		   /* SndConfig.ring_periods 0 */
#define SND_RING_PERIOD_BYTES (64u << 10)	   /* SndConfig.ring_period_bytes 0 */
#define SND_MAX_SUBSCRIBERS   DEVPROC_MAX_BACKENDS /* eventfds handed over with the ring */
#define SND_MAX_READERS	      DEVPROC_MAX_READERS  /* CaptureSubscribe'd eventfds live at once */
#define SND_DEFAULT_CHANNELS  2

struct snd {
	struct devproc *dp;
	struct snd_model m;
	struct snd_io io;
	struct devproc_readers readers; /* the ring's eventfds */
	struct virtq vq[SND_NQUEUES];
	bool live[SND_NQUEUES];
	bool pushed[SND_NQUEUES];
	bool active;
	int timer_fd;
	uint64_t armed_ns;	  /* the timer's deadline, 0: disarmed */
	struct virtq_chain chain; /* scratch for virtq_pop */
};

extern const struct devproc_ops snd_ops;
