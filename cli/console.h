/* Console relay for cellvm run: guest serial output to stdout, terminal input
 * to the guest, until the core exits. Runs in the launcher process. */
#pragma once
#include "launcher/launcher.h"

struct devices;

/* Relay until the core exits; returns the core's exit status. With ds,
 * the same loop supervises the VM's device processes (cli/devices.c). */
int console_relay(struct core_proc *p, struct devices *ds);
