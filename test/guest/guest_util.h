/* Helpers shared by the test guest's static programs (they run in the guest's
 * user space; nothing here runs on the host). */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Print, as "CELLVM-KMSG <text>", the kernel's log records so far that hold
 * any of words (a NULL-ended list): the console is quiet ("quiet" on the
 * command line), the ring buffer has them. */
static inline void guest_print_kmsg(const char *const *words)
{
	char rec[1024];
	ssize_t got;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return;
	while ((got = read(fd, rec, sizeof(rec) - 1)) > 0 || (got < 0 && errno == EPIPE)) {
		const char *const *w = words;
		char *text;

		if (got <= 0)
			continue; /* overwritten records: go on */
		rec[got] = 0;
		text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		text[strcspn(text, "\n")] = 0;
		while (*w && !strstr(text, *w))
			w++;
		if (*w)
			printf("CELLVM-KMSG %s\n", text);
	}
	close(fd);
}

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
