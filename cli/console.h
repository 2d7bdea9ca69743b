/* Console relay for cellvm run: guest serial output to stdout, terminal input
 * to the guest, until the core exits. Runs in the launcher process. */
#pragma once
#include "launcher/launcher.h"

struct supervisor;

/* Relay until the core exits; returns the core's exit status. With sup,
 * the same loop supervises the VM's device processes. */
int console_relay(struct core_proc *p, struct supervisor *sup);
