/* Token-bucket rate limiter of cellvm-dev-net: one bucket for bytes and one
 * for packets, refilled from CLOCK_MONOTONIC timestamps the caller passes.
 * A packet may go while the packet bucket holds a whole token and the byte
 * bucket any; its size is taken after it went (the byte bucket may go into
 * debt by one frame), so the long-run rate is exact and no packet is ever
 * split or held back half-sent. Pure arithmetic,
 * no untrusted input, no allocation. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct net_bucket {
	uint64_t rate;	   /* tokens per second; 0: unlimited */
	__int128 nano;	   /* tokens * 1e9, may be negative (debt) */
	__int128 nano_max; /* burst * 1e9 */
	__int128 need;	   /* what a packet needs to go: 1 (bytes), 1e9 (packets) */
	uint64_t last_ns;  /* time of the last refill */
};

struct net_rate {
	struct net_bucket bytes, packets;
};

/* Set the rates (0 = unlimited) and bursts (0 = one second's worth); the
 * buckets start full at now_ns. */
void net_rate_init(struct net_rate *r, uint64_t rate_bytes, uint64_t burst_bytes,
		   uint64_t rate_packets, uint64_t burst_packets, uint64_t now_ns);
/* Whether anything is limited at all. */
bool net_rate_limited(const struct net_rate *r);
/* Refill to now_ns; true when a packet may go now. */
bool net_rate_allow(struct net_rate *r, uint64_t now_ns);
/* A packet of bytes went. */
void net_rate_consume(struct net_rate *r, uint64_t bytes);
/* After net_rate_allow() said no: nanoseconds until it will say yes (>= 1). */
uint64_t net_rate_wait_ns(const struct net_rate *r);
