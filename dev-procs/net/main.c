/* cellvm-dev-net: one virtio-net device on tap queues, started by the
 * launcher with its control channel on fd 3. Everything but the device model
 * (net.c, net_rx.c, net_tx.c) is the shared devproc frame: setup, sandbox, the core
 * link and the event loop. The counters are logged when it ends. */
#include "common/log.h"
#include "dev-procs/net/net.h"

int main(void)
{
	static struct net net;
	int status;

	status = devproc_main(&net_ops, &net);
	if (net.dp) {
		/* devproc_main's role string lived on its stack. */
		log_init("cellvm-dev-net", LOG_INFO);
		net_log_counters(&net);
	}
	return status;
}
