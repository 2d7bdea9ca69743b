/* cellvm-dev-blk: one virtio-blk device, started by the launcher with its
 * control channel on fd 3. Everything but the device model (blk.c) is the
 * shared devproc frame: setup, sandbox, the core link and the event loop. */
#include "dev-procs/blk/blk.h"

int main(void)
{
	static struct blk blk;

	return devproc_main(&blk_ops, &blk);
}
