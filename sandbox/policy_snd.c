/* seccomp rules of cellvm-dev-snd (SANDBOX_DEV_SND), on top of
 * policy_base.c, which already holds most of what it calls after
 * sandbox_enter(): the epoll loop over its core link and its timerfd;
 * reads and writes of eventfds (its interrupts, the audio ring's
 * subscribers), of the timerfd, of a pushed sound stream and of the WAV
 * sink (appended with write); memory for held transfers (malloc, within
 * each stream's buffer); clock_gettime for the time line. Guest RAM and
 * the audio ring are mapped, the timerfd made and the WAV source's header
 * read before the sandbox. It opens nothing. */
#include <fcntl.h>

#include "sandbox/policy.h"

/* clang-format off */
static const struct sb_rule snd_rules[] = {
	SB_ALLOW(timerfd_settime),		/* pace the streams: the next period's deadline */
	SB_ALLOW(pread64),			/* capture: the WAV source, looped from its data */
	SB_ALLOW(pwrite64),			/* the WAV sink: its header's sizes when a stream stops */
	SB_ALLOW_ARG(fcntl, 1, F_GETFL),	/* a pushed sound stream: its flags, before... */
	SB_ALLOW_ARG(fcntl, 1, F_SETFL),	/* ...O_NONBLOCK, so the device never waits on it */
};
/* clang-format on */

SB_POLICY(policy_snd, "snd", snd_rules);
