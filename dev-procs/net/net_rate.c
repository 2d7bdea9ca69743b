/* Token buckets; see net_rate.h. Runs in cellvm-dev-net, once for TX and once
 * for RX. Tokens are kept in nano-units (1e-9 token) in 128-bit integers, so
 * refills are exact for any rate and any elapsed time, without floats. */
#include "dev-procs/net/net_rate.h"

#define NET_NANO 1000000000ULL

static void net_bucket_init(struct net_bucket *b, uint64_t rate, uint64_t burst, uint64_t now,
			    __int128 need)
{
	b->rate = rate;
	b->need = need;
	b->nano_max = (__int128)(burst ? burst : rate) * NET_NANO;
	b->nano = b->nano_max;
	b->last_ns = now;
}

static void net_bucket_refill(struct net_bucket *b, uint64_t now)
{
	unsigned __int128 add, room;
	uint64_t dt;

	if (!b->rate)
		return;
	/* A clock that went back (it cannot, but) adds nothing. */
	dt = now > b->last_ns ? now - b->last_ns : 0;
	b->last_ns = now > b->last_ns ? now : b->last_ns;
	/* Unsigned: 2^64 ns times 2^64 tokens/s still fits. */
	add = (unsigned __int128)dt * b->rate;
	room = (unsigned __int128)(b->nano_max - b->nano);
	b->nano = add >= room ? b->nano_max : b->nano + (__int128)add;
}

static uint64_t net_bucket_wait(const struct net_bucket *b)
{
	__int128 need;

	if (!b->rate || b->nano >= b->need)
		return 0;
	/* (need - nano) nano-tokens come in at rate per nanosecond. */
	need = b->need - b->nano;
	return (uint64_t)((need + b->rate - 1) / b->rate);
}

void net_rate_init(struct net_rate *r, uint64_t rate_bytes, uint64_t burst_bytes,
		   uint64_t rate_packets, uint64_t burst_packets, uint64_t now_ns)
{
	/* A packet needs a whole packet token; bytes only a positive count,
	 * since the frame's size is known after it went. */
	net_bucket_init(&r->bytes, rate_bytes, burst_bytes, now_ns, 1);
	net_bucket_init(&r->packets, rate_packets, burst_packets, now_ns, NET_NANO);
}

bool net_rate_limited(const struct net_rate *r)
{
	return r->bytes.rate || r->packets.rate;
}

bool net_rate_allow(struct net_rate *r, uint64_t now_ns)
{
	net_bucket_refill(&r->bytes, now_ns);
	net_bucket_refill(&r->packets, now_ns);
	return (!r->bytes.rate || r->bytes.nano >= r->bytes.need) &&
	       (!r->packets.rate || r->packets.nano >= r->packets.need);
}

void net_rate_consume(struct net_rate *r, uint64_t bytes)
{
	if (r->bytes.rate)
		r->bytes.nano -= (__int128)bytes * NET_NANO;
	if (r->packets.rate)
		r->packets.nano -= NET_NANO;
}

uint64_t net_rate_wait_ns(const struct net_rate *r)
{
	uint64_t a = net_bucket_wait(&r->bytes), b = net_bucket_wait(&r->packets);
	uint64_t w = a > b ? a : b;

	return w ? w : 1;
}
