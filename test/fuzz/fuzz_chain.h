/* For the fuzzers of guest request parsers (blk requests, net headers): a
 * descriptor chain as virtq_pop() hands it over, built from fuzz input.
 * desc holds 3 bytes per segment: length (little-endian 16 bits, taken
 * modulo max_len + 1; empty segments are skipped as virtq_pop skips them)
 * and a flags byte (bit 0: device-writable). Segments lie one after the
 * other in ram (wrapping to its start), which is cleared and then filled
 * with mem; readable segments come first, as virtq_pop requires. */
#pragma once
#include <stdint.h>
#include <string.h>

#include "dev-procs/common/virtq.h"

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
