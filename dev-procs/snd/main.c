/* cellvm-dev-snd: one virtio-snd device, started by the launcher with its
 * control channel on fd 3. Everything but the device (snd.c, the model and
 * backends behind it) is the shared devproc frame: setup, sandbox, the core
 * link and the event loop. */
#include "dev-procs/snd/snd.h"

int main(void)
{
	static struct snd snd;

	return devproc_main(&snd_ops, &snd);
}
