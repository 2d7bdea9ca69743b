/* Guest RAM for unit tests: a plain buffer behind a struct gmem, filled with a
 * pattern, and a snapshot to prove that a failed load wrote nothing. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "common/gmem.h"

struct test_guest {
	struct gmem mem;
	uint8_t *ram;  /* size bytes; owned */
	uint8_t *snap; /* copy taken by test_guest_snapshot(); owned */
	uint64_t size;
};

/* Allocate size bytes of RAM (a gmem_init-valid size) filled with a pattern,
 * and snapshot it. Aborts on allocation failure: a test cannot go on without it. */
void test_guest_init(struct test_guest *g, uint64_t size);
void test_guest_free(struct test_guest *g);
/* Back to the state test_guest_init() left, without new allocations. */
void test_guest_reset(struct test_guest *g);

/* Remember the current contents (after a test changed RAM on purpose)... */
void test_guest_snapshot(struct test_guest *g);
/* ...and tell whether RAM still holds exactly them, ... */
bool test_guest_unchanged(const struct test_guest *g);
/* ...or the part [gpa, gpa + len) does (memcmp: cmocka's byte loop is slow). */
bool test_guest_same(const struct test_guest *g, uint64_t gpa, uint64_t len);
