/* Helpers every C benchmark of bench/ shares: the clock and percentiles.
 * Header-only (static inline): each benchmark is one executable. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The pct-th percentile (0..100, nearest rank below) of n samples (n >= 1),
 * sorting v in place. */
static inline uint64_t bench_pct(uint64_t *v, size_t n, unsigned pct)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	return v[(n - 1) * pct / 100];
}
