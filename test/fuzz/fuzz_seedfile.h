/* The seed generators' one file write (FUZZ_SEEDGEN builds of the fuzz
 * targets): DIR/NAME gets the n bytes at b, or the generator exits 1. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_seed_write(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}
