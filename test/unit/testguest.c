/* Guest RAM helpers for unit tests; see testguest.h. */
#include "test/unit/testguest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_guest_init(struct test_guest *g, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	g->size = size;
	g->ram = malloc(size);
	g->snap = malloc(size);
	if (!g->ram || !g->snap || gmem_init(&g->mem, g->ram, size) < 0) {
		fprintf(stderr, "test_guest_init: cannot set up %llu bytes\n",
			(unsigned long long)size);
		abort();
	}
	test_guest_reset(g);
}

void test_guest_reset(struct test_guest *g)
{
	/* Not zero, and different per page: a loader's bss clearing and copies
	 * must be visible, and so must a copy to the wrong page. */
	for (uint64_t i = 0; i < g->size; i += 4096)
		memset(g->ram + i, (int)(0xa5 ^ (uint8_t)(i >> 12)), 4096);
	test_guest_snapshot(g);
}

void test_guest_free(struct test_guest *g)
{
	free(g->ram);
	free(g->snap);
	memset(g, 0, sizeof(*g));
}

void test_guest_snapshot(struct test_guest *g)
{
	memcpy(g->snap, g->ram, g->size);
}

bool test_guest_unchanged(const struct test_guest *g)
{
	return memcmp(g->snap, g->ram, g->size) == 0;
}

bool test_guest_same(const struct test_guest *g, uint64_t gpa, uint64_t len)
{
	if (gpa > g->size || len > g->size - gpa)
		return false;
	return memcmp(g->snap + gpa, g->ram + gpa, len) == 0;
}
