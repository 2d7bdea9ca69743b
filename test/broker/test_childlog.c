/* Unit test of how the broker re-emits a VM process's stderr
 * (broker_childlog.c): a forged line comes out escaped and on one log line,
 * a long one cut and marked, and a flood limited by the token bucket on a
 * time the test gives. No KVM, no broker process, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker_childlog.h"

/* Feeds buf as a process would write it; returns whether a newline ended
 * the line, and how many bytes that took in *ret_took. */
static bool feed_all(struct broker_childlog_line *l, const char *buf, size_t n, size_t *ret_took)
{
	bool done = false;

	*ret_took = broker_childlog_line_feed(l, (const uint8_t *)buf, n, &done);
	return done;
}

/* ESC[2K (erase the line), \r, a NUL, 0x7f, 0xff and a backslash: all
 * escaped, so the line cannot overwrite or forge what a terminal shows. The
 * newline in the middle ends the first line; what follows is the next. */
static void test_forged_line_escaped(void **state)
{
	static const char in[] = "ok \x1b[2Kbroker: audit\r\\ \0\x7f\xff"
				 "\nvm=x core: fake\n";
	struct broker_childlog_line l = {0};
	char out[CHILDLOG_OUT];
	size_t took, rest;

	(void)state;
	assert_true(feed_all(&l, in, sizeof(in) - 1, &took));
	broker_childlog_line_format(&l, out, sizeof(out));
	assert_string_equal(out, "ok \\x1b[2Kbroker: audit\\x0d\\x5c \\x00\\x7f\\xff");
	assert_null(strchr(out, '\n'));

	rest = sizeof(in) - 1 - took;
	broker_childlog_line_reset(&l);
	assert_true(feed_all(&l, in + took, rest, &took));
	assert_int_equal(took, rest);
	broker_childlog_line_format(&l, out, sizeof(out));
	assert_string_equal(out, "vm=x core: fake");
}

/* A line that comes in pieces is gathered until its newline. */
static void test_line_in_pieces(void **state)
{
	struct broker_childlog_line l = {0};
	char out[CHILDLOG_OUT];
	size_t took;

	(void)state;
	assert_false(feed_all(&l, "abc", 3, &took));
	assert_int_equal(took, 3);
	assert_true(feed_all(&l, "def\n", 4, &took));
	broker_childlog_line_format(&l, out, sizeof(out));
	assert_string_equal(out, "abcdef");
}

static void check_long_line(size_t n, bool cut)
{
	struct broker_childlog_line l = {0};
	char *in = malloc(n + 1), *out = malloc(CHILDLOG_OUT);
	size_t took, len;

	assert_non_null(in);
	assert_non_null(out);
	memset(in, 'a', n);
	in[n] = '\n';
	assert_true(feed_all(&l, in, n + 1, &took));
	assert_int_equal(took, n + 1);
	assert_int_equal(l.len, CHILDLOG_LINE < n ? CHILDLOG_LINE : n);
	assert_int_equal(l.cut, cut);
	len = broker_childlog_line_format(&l, out, CHILDLOG_OUT);
	if (cut) {
		assert_int_equal(len, CHILDLOG_LINE + strlen(" [cut]"));
		assert_string_equal(out + CHILDLOG_LINE, " [cut]");
	} else {
		assert_int_equal(len, n);
	}
	for (size_t i = 0; i < CHILDLOG_LINE && i < n; i++)
		assert_int_equal(out[i], 'a');
	free(in);
	free(out);
}

static void test_line_1024_kept(void **state)
{
	(void)state;
	check_long_line(1024, false);
}

static void test_line_1025_cut(void **state)
{
	(void)state;
	check_long_line(1025, true);
}

/* The worst line escaped fits: every byte as \xNN, and the mark. */
static void test_worst_line_fits(void **state)
{
	struct broker_childlog_line l = {.len = CHILDLOG_LINE, .cut = true};
	char out[CHILDLOG_OUT];

	(void)state;
	memset(l.buf, 0xff, sizeof(l.buf));
	assert_int_equal(broker_childlog_line_format(&l, out, sizeof(out)), sizeof(out) - 1);
}

/* 50 lines at once, the 51st dropped; 100 ms later (one token at 10 a
 * second) one more passes, and the drop is reported once. */
static void test_bucket(void **state)
{
	const uint64_t t0 = 1000000000000u;
	struct broker_childlog_bucket k;

	(void)state;
	broker_childlog_bucket_init(&k, t0);
	for (int i = 0; i < CHILDLOG_BURST; i++)
		assert_true(broker_childlog_bucket_take(&k, t0));
	assert_false(broker_childlog_bucket_take(&k, t0));
	assert_true(broker_childlog_bucket_wait_s(&k) > 0);
	assert_false(broker_childlog_bucket_take(&k, t0 + 50000000u));
	assert_true(broker_childlog_bucket_take(&k, t0 + 100000000u));
	assert_int_equal(broker_childlog_bucket_take_dropped(&k), 2);
	assert_int_equal(broker_childlog_bucket_take_dropped(&k), 0);
	assert_false(broker_childlog_bucket_take(&k, t0 + 100000000u));
	assert_int_equal(broker_childlog_bucket_take_dropped(&k), 1);
	/* A clock that seems to go back does not add tokens. */
	assert_false(broker_childlog_bucket_take(&k, t0));
	/* A long quiet time refills no more than the burst. */
	for (int i = 0; i < CHILDLOG_BURST; i++)
		assert_true(broker_childlog_bucket_take(&k, t0 + 3600000000000u));
	assert_false(broker_childlog_bucket_take(&k, t0 + 3600000000000u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_line_escaped), cmocka_unit_test(test_line_in_pieces),
		cmocka_unit_test(test_line_1024_kept),	    cmocka_unit_test(test_line_1025_cut),
		cmocka_unit_test(test_worst_line_fits),	    cmocka_unit_test(test_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
