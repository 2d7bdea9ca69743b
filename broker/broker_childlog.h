/* The pure parts of broker_childlog.c, apart so a unit test reaches them: a
 * line of a VM process's stderr gathered (cut at CHILDLOG_LINE bytes) and
 * escaped, and the token bucket that limits the lines, on a time the caller
 * gives. No fds, no memory of their own: the caller owns the structs. */
#ifndef CELLVM_BROKER_CHILDLOG_H
#define CELLVM_BROKER_CHILDLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHILDLOG_LINE  1024 /* bytes of one line kept; the rest cut and marked */
#define CHILDLOG_BURST 50   /* lines at once ... */
#define CHILDLOG_RATE  10   /* ... then lines a second, per process */
/* Room for a line escaped: each byte as \xNN at most, " [cut]", the NUL. */
#define CHILDLOG_OUT (CHILDLOG_LINE * 4 + sizeof(" [cut]"))

struct broker_childlog_line {
	char buf[CHILDLOG_LINE];
	size_t len;
	bool cut; /* bytes past CHILDLOG_LINE came and were left out */
};

struct broker_childlog_bucket {
	double tokens;
	uint64_t last_ns;
	uint64_t dropped; /* lines refused since the last report */
};

/* Takes bytes of buf into l up to and with the first newline (not kept).
 * Returns how many bytes it took; *ret_done says whether a newline ended
 * the line (then the caller emits l and resets it). */
size_t broker_childlog_line_feed(struct broker_childlog_line *l, const uint8_t *buf, size_t n,
				 bool *ret_done);
void broker_childlog_line_reset(struct broker_childlog_line *l);
/* l as one log-safe string in out (CHILDLOG_OUT bytes): printable ASCII
 * passes, a control character, a byte over 0x7e and the backslash come out
 * as \xNN, and " [cut]" follows a cut line. Returns the string's length. */
size_t broker_childlog_line_format(const struct broker_childlog_line *l, char *out, size_t outsz);

void broker_childlog_bucket_init(struct broker_childlog_bucket *k, uint64_t now_ns);
/* Refills k up to now_ns; true when a line may pass (its token taken), false
 * when it is counted as dropped. */
bool broker_childlog_bucket_take(struct broker_childlog_bucket *k, uint64_t now_ns);
/* Refills k up to now_ns; true when a token is there (not taken). */
bool broker_childlog_bucket_ready(struct broker_childlog_bucket *k, uint64_t now_ns);
/* Seconds until the next token (0 when one is there). */
double broker_childlog_bucket_wait_s(const struct broker_childlog_bucket *k);
/* The lines dropped since the last call (then zero). */
uint64_t broker_childlog_bucket_take_dropped(struct broker_childlog_bucket *k);

#endif
