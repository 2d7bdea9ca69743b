/* Console relay for cellvm run: guest serial output to stdout, terminal input
 * to the guest, until the core exits. Runs in the launcher process. */
#pragma once
#include "broker/launcher.h"

/* Relay until the core exits; returns the core's exit status. */
int console_relay(struct core_proc *p);
