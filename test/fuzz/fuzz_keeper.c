/* libFuzzer target: the keeper channel's receiver (keeper/keeper.c), a
 * sequence of datagrams as a broker connection would send them, each with
 * real fds: the held and pending sets stay within their bounds, a
 * refused message leaves the held set as it was, and no fd outlives
 * keeper_free. Input layout: records of [length (2 bytes, little-endian),
 * fd count (1 byte, modulo 8)] and that many bytes of datagram. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "keeper/keeper.h"
#include "test/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int base = -1;
	struct keeper k;
	int lowest;

	if (base < 0)
		base = open("/dev/null", O_RDONLY | O_CLOEXEC);
	lowest = fcntl(base, F_DUPFD_CLOEXEC, 0);
	close(lowest);
	keeper_init(&k);
	keeper_new_conn(&k);
	while (size >= 3) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8, nfds = data[2] % 8;
		size_t held = k.held.nfds;
		int fds[8];
		int r;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		for (size_t i = 0; i < nfds; i++)
			fds[i] = fcntl(base, F_DUPFD_CLOEXEC, 0);
		r = keeper_deliver(&k, data, len, fds, nfds);
		data += len;
		size -= len;
		CHECK(k.held.nfds <= KEEPER_MAX_FDS && k.pending.nfds <= k.pending.total);
		CHECK(k.pending.total <= KEEPER_MAX_FDS);
		CHECK(k.d.state == KEEPER_IDLE || k.d.state == KEEPER_FILLING);
		if (r < 0) {
			/* Refused: the held set is the one before. */
			CHECK(k.held.nfds == held && k.pending.nfds == 0);
			keeper_new_conn(&k); /* the keeper drops such a connection */
		}
		if (k.released)
			break;
	}
	keeper_free(&k);
	/* Every fd handed in is closed now: the lowest free number is back. */
	{
		int probe = fcntl(base, F_DUPFD_CLOEXEC, 0);

		CHECK(probe == lowest);
		close(probe);
	}
	return 0;
}
