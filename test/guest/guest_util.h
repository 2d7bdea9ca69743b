/* Helpers shared by the test guest's static programs (they run in the guest's
 * user space; nothing here runs on the host). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, as zlib.crc32), continued from crc (0 to start). */
static inline uint32_t guest_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	static uint32_t table[256];

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
