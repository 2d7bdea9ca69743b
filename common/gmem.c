/* Guest RAM layout and bounds-checked translation; see gmem.h. */
#include "common/gmem.h"

#include <errno.h>

int gmem_init(struct gmem *m, uint8_t *host, uint64_t size)
{
	if (size < GMEM_MIN_SIZE || size > GMEM_MAX_SIZE || (size & 0xfff))
		return -EINVAL;
	m->host = host;
	m->size = size;
	m->low_size = size < GMEM_MMIO_HOLE_START ? size : GMEM_MMIO_HOLE_START;
	return 0;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t high = m->size - m->low_size;

	if (gpa + len < gpa)
		return NULL;
	if (gpa + len <= m->low_size)
		return m->host + gpa;
	if (gpa >= GMEM_HIGH_START && gpa - GMEM_HIGH_START <= high &&
	    len <= high - (gpa - GMEM_HIGH_START))
		return m->host + m->low_size + (gpa - GMEM_HIGH_START);
	return NULL;
}
