/* Parsers for numbers given on command lines and in API requests (untrusted:
 * user or client input). All are total: any string gets a value or -EINVAL/-ERANGE. */
#pragma once
#include <stdint.h>

/* "512M", "2G", "1048576", "64k": a byte count with an optional binary suffix
 * (K, M, G, T; case-insensitive; optional trailing "iB"/"B"). */
int parse_size(const char *s, uint64_t *ret_bytes);

/* A decimal unsigned integer in [min, max]. */
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret);
