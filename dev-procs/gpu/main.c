/* cellvm-dev-gpu: one virtio-gpu device (2D), started by the launcher with
 * its control channel on fd 3. Everything but the device (gpu.c and the
 * command model behind it) is the shared devproc frame: setup, sandbox, the
 * core link and the event loop. */
#include "dev-procs/gpu/gpu.h"

int main(void)
{
	static struct gpu gpu;

	return devproc_main(&gpu_ops, &gpu);
}
