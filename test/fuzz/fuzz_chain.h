/* For the fuzzers of guest request parsers (blk requests, net headers): a
 * descriptor chain as virtq_pop() hands it over, built from fuzz input.
 * desc holds 3 bytes per segment: length (little-endian 16 bits, taken
 * modulo max_len + 1; empty segments are skipped as virtq_pop skips them)
 * and a flags byte (bit 0: device-writable). Segments lie one after the
 * other in ram (wrapping to its start), which is cleared and then filled
 * with mem; readable segments come first, as virtq_pop requires. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dev-procs/devlib/virtq.h"

static inline void fuzz_chain_build(struct virtq_chain *chain, uint8_t *ram, size_t ramlen,
				    uint32_t max_len, const uint8_t *desc, uint32_t n,
				    const uint8_t *mem, size_t memlen)
{
	static struct virtq_seg tmp[VIRTQ_MAX_SEGS];
	uint32_t off = 0, nt = 0;

	memset(ram, 0, ramlen);
	memcpy(ram, mem, memlen < ramlen ? memlen : ramlen);
	for (uint32_t i = 0; i < n && i < VIRTQ_MAX_SEGS; i++) {
		uint32_t len = (uint32_t)(desc[3 * i] | desc[3 * i + 1] << 8) % (max_len + 1);

		if (len == 0 || len > ramlen)
			continue;
		if (off + len > ramlen)
			off = 0;
		tmp[nt++] = (struct virtq_seg){
			.gpa = off, .len = len, .write = desc[3 * i + 2] & 1, .host = ram + off};
		off += len;
	}
	chain->head = 0;
	chain->nseg = chain->nread = 0;
	chain->read_len = chain->write_len = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < nt; i++) {
			if (tmp[i].write != (pass == 1))
				continue;
			chain->seg[chain->nseg++] = tmp[i];
			if (tmp[i].write) {
				chain->write_len += tmp[i].len;
			} else {
				chain->read_len += tmp[i].len;
				chain->nread++;
			}
		}
	}
}

/* Whether [p, p+len) lies inside one segment of c that is device-writable
 * (write) or readable (!write): where a parser's iovecs must point. */
static inline bool fuzz_chain_in_seg(const struct virtq_chain *c, const uint8_t *p, size_t len,
				     bool write)
{
	for (uint32_t i = 0; i < c->nseg; i++) {
		const struct virtq_seg *s = &c->seg[i];

		if (s->write == write && p >= s->host && p + len <= s->host + s->len)
			return true;
	}
	return false;
}

#ifdef FUZZ_SEEDGEN
/* Seed corpora in the same layout: flags byte, segment count, the segments'
 * 3-byte descriptions, then their contents (the memory). */
struct seed {
	uint8_t b[8192];
	size_t n;
	uint8_t mem[8192];
	size_t memlen;
};

static inline void seed_begin(struct seed *s, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->b[0] = flags;
	s->n = 2;
}

static inline void seed_seg(struct seed *s, const void *content, uint16_t len, bool write)
{
	s->b[1]++;
	s->b[s->n++] = (uint8_t)len;
	s->b[s->n++] = (uint8_t)(len >> 8);
	s->b[s->n++] = write;
	if (content)
		memcpy(s->mem + s->memlen, content, len);
	s->memlen += len;
}

static inline int seed_write(const char *dir, const char *name, struct seed *s)
{
	char path[4096];
	FILE *f;

	memcpy(s->b + s->n, s->mem, s->memlen);
	s->n += s->memlen;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}
#endif
