/* The PS/2 ports (0x60 data, 0x64 status and command) of a VM whose input
 * device process holds the i8042, its keyboard and its mouse: the core's
 * vCPU threads forward each guest access over the "isa" link and wait for
 * the answer; the input process raises IRQ 1 and 12 itself through the two
 * KVM irqfds the core hands it. The core keeps no i8042 state beyond the
 * reset line the answers carry. Runs in cellvm-core; the link's answers are
 * untrusted (the input process). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/dispatch.h"

/* How long a vCPU waits for the input process's answer to one access; one
 * that does not come in time ends the forwarding (the ports then read as
 * if nothing were there). */
#define PS2_LINK_TIMEOUT_MS 2000

struct ps2_link {
	pthread_mutex_t lock; /* one access at a time, from any vCPU */
	int fd;		      /* the link, or -1 */
	int irq_fd[2];	      /* eventfds of KVM irqfds on GSI 1 and 12 */
	bool dead;	      /* the input process failed: no more forwarding */
	bool answered;	      /* the result of the access in flight came */
	uint8_t value;
	bool reset;
	struct dispatch proto;
};

void ps2_link_init(struct ps2_link *p);
/* Take link_fd: make the IRQ 1/12 eventfds KVM irqfds on vm_fd and send
 * Ps2Attach with them. Returns 0 or -errno. */
int ps2_link_attach(struct ps2_link *p, int vm_fd, int link_fd);
bool ps2_link_present(const struct ps2_link *p);
/* One guest access of one byte. Returns true when the guest asked for a CPU
 * reset (the VM then reboots). Reads of a dead link give 0xff. */
bool ps2_link_pio(struct ps2_link *p, uint16_t port, uint8_t *data, bool is_write);
void ps2_link_destroy(struct ps2_link *p);
