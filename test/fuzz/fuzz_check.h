/* CHECK(cond) for the fuzz targets: a broken promise of the code under test
 * aborts, so libFuzzer keeps the input that broke it. Unlike assert(), it
 * stays on in every build and names the file, line and condition. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
