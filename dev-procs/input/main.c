/* cellvm-dev-input: a VM's input devices (PS/2 and virtio-input) in one
 * sandboxed process, started by the launcher; input.c is the model. */
#include "dev-procs/devlib/devproc.h"
#include "dev-procs/input/input.h"

int main(void)
{
	return devproc_main(&input_ops, NULL);
}
