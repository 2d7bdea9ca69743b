/* Number parsers for user and client input; see parse.h. */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int parse_digits(const char **sp, uint64_t *ret)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*sp = s;
	*ret = v;
	return 0;
}

int parse_size(const char *s, uint64_t *ret_bytes)
{
	uint64_t v, mult = 1;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_digits(&s, &v);
	if (r < 0)
		return r;
	switch (tolower((unsigned char)*s)) {
	case 'k':
		mult = 1ULL << 10;
		s++;
		break;
	case 'm':
		mult = 1ULL << 20;
		s++;
		break;
	case 'g':
		mult = 1ULL << 30;
		s++;
		break;
	case 't':
		mult = 1ULL << 40;
		s++;
		break;
	default: break;
	}
	if (mult > 1 && (strcasecmp(s, "ib") == 0 || strcasecmp(s, "b") == 0))
		s += strlen(s);
	else if (mult == 1 && strcasecmp(s, "b") == 0)
		s++;
	if (*s)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret_bytes = v * mult;
	return 0;
}

int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_digits(&s, &v);
	if (r < 0)
		return r;
	if (*s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}
