/* The device restart policy (launcher/supervise.c) that cellvm run and
 * cellvm-broker share: back-off, its cap, the limit of restarts in a row and
 * giving up, the reset after a device stayed up, and the counting. Times are
 * passed in: nothing here sleeps or starts a process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "launcher/supervise.h"

#define T0 1000000 /* an arbitrary monotonic start */

/* One crash at now (status 137: SIGKILL), then the restart attempt when it
 * is due, which works. Returns the back-off the policy asked for, or -1 when
 * it gave up. */
static int64_t crash_and_restart(struct supervise_dev *d, uint64_t *now)
{
	int64_t wait;

	if (supervise_died(d, 137, *now) != SUPERVISE_RESTART)
		return -1;
	wait = supervise_wait_ms(d, *now);
	assert_true(wait > 0);
	/* Not due a moment early, due on time. */
	assert_int_equal(supervise_wait_ms(d, *now + (uint64_t)wait - 1), 1);
	*now += (uint64_t)wait;
	assert_int_equal(supervise_wait_ms(d, *now), 0);
	supervise_restarting(d, *now);
	assert_int_equal(supervise_wait_ms(d, *now), -1);
	supervise_restarted(d);
	return wait;
}

static void test_backoff_doubles_to_the_cap(void **state)
{
	static const int64_t expect[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
	struct supervise_dev d;
	uint64_t now = T0;

	(void)state;
	supervise_init(&d, now);
	assert_int_equal(supervise_wait_ms(&d, now), -1);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		now += 10; /* crashes right after each start */
		assert_int_equal(crash_and_restart(&d, &now), expect[i]);
		assert_int_equal(d.in_a_row, i + 1);
		assert_int_equal(d.restarts, i + 1);
	}
	assert_int_equal(SUPERVISE_MAX_RESTARTS, 8);
}

static void test_gives_up_after_the_limit(void **state)
{
	struct supervise_dev d;
	uint64_t now = T0;

	(void)state;
	supervise_init(&d, now);
	for (int i = 0; i < SUPERVISE_MAX_RESTARTS; i++)
		assert_true(crash_and_restart(&d, &now) > 0);
	assert_false(d.gone);
	assert_int_equal(supervise_died(&d, 137, now + 1), SUPERVISE_GIVE_UP);
	assert_true(d.gone);
	assert_int_equal(d.in_a_row, SUPERVISE_MAX_RESTARTS);
	assert_int_equal(d.restarts, SUPERVISE_MAX_RESTARTS);
	/* Nothing is pending for a device given up on. */
	assert_int_equal(supervise_wait_ms(&d, now + 100000), -1);
}

static void test_stable_device_counts_from_zero(void **state)
{
	struct supervise_dev d;
	uint64_t now = T0;

	(void)state;
	supervise_init(&d, now);
	for (int i = 0; i < 5; i++)
		crash_and_restart(&d, &now);
	assert_int_equal(d.in_a_row, 5);
	/* Up just short of the stable time: still in a row (100 << 5 = 3200). */
	now += SUPERVISE_STABLE_MS - 1;
	assert_int_equal(crash_and_restart(&d, &now), 3200);
	/* Up for the stable time: the next crash is the first again. */
	now += SUPERVISE_STABLE_MS;
	assert_int_equal(crash_and_restart(&d, &now), SUPERVISE_BACKOFF_MIN_MS);
	assert_int_equal(d.in_a_row, 1);
	assert_int_equal(d.restarts, 7);
	/* A device that stays up never runs out of restarts. */
	for (int i = 0; i < 3 * SUPERVISE_MAX_RESTARTS; i++) {
		now += SUPERVISE_STABLE_MS;
		assert_int_equal(crash_and_restart(&d, &now), SUPERVISE_BACKOFF_MIN_MS);
	}
	assert_false(d.gone);
}

static void test_failed_restart_counts_as_a_crash(void **state)
{
	struct supervise_dev d;
	uint64_t now = T0;

	(void)state;
	supervise_init(&d, now);
	assert_int_equal(supervise_died(&d, 128 + 31, now), SUPERVISE_RESTART);
	now += (uint64_t)supervise_wait_ms(&d, now);
	/* The attempt fails (status -1): the back-off goes on from there. */
	supervise_restarting(&d, now);
	assert_int_equal(supervise_died(&d, -1, now), SUPERVISE_RESTART);
	assert_int_equal(supervise_wait_ms(&d, now), 200);
	assert_int_equal(d.in_a_row, 1);
	assert_int_equal(d.restarts, 0); /* only restarts that worked count */
	/* Every attempt failing gives up after the limit, as crashes do. */
	for (uint32_t k = 2; k <= SUPERVISE_MAX_RESTARTS; k++) {
		now += (uint64_t)supervise_wait_ms(&d, now);
		supervise_restarting(&d, now);
		assert_int_equal(supervise_died(&d, -1, now), k < SUPERVISE_MAX_RESTARTS
								      ? SUPERVISE_RESTART
								      : SUPERVISE_GIVE_UP);
	}
	assert_true(d.gone);
	assert_int_equal(d.restarts, 0);
}

static void test_clean_exit_is_the_vm_ending(void **state)
{
	struct supervise_dev d;

	(void)state;
	supervise_init(&d, T0);
	assert_int_equal(supervise_died(&d, 0, T0 + 50), SUPERVISE_VM_ENDING);
	assert_true(d.gone);
	assert_int_equal(d.in_a_row, 0);
	assert_int_equal(supervise_wait_ms(&d, T0 + 100000), -1);
	/* A clean exit while a restart was pending cancels it too. */
	supervise_init(&d, T0);
	assert_int_equal(supervise_died(&d, 137, T0), SUPERVISE_RESTART);
	assert_int_equal(supervise_died(&d, 0, T0 + 1), SUPERVISE_VM_ENDING);
	assert_int_equal(supervise_wait_ms(&d, T0 + 100000), -1);
	/* So does giving up for want of a timer. */
	supervise_init(&d, T0);
	assert_int_equal(supervise_died(&d, 137, T0), SUPERVISE_RESTART);
	supervise_give_up(&d);
	assert_true(d.gone);
	assert_int_equal(supervise_wait_ms(&d, T0 + 100000), -1);
}

static void test_now_is_monotonic(void **state)
{
	uint64_t a = supervise_now_ms(), b = supervise_now_ms();

	(void)state;
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_to_the_cap),
		cmocka_unit_test(test_gives_up_after_the_limit),
		cmocka_unit_test(test_stable_device_counts_from_zero),
		cmocka_unit_test(test_failed_restart_counts_as_a_crash),
		cmocka_unit_test(test_clean_exit_is_the_vm_ending),
		cmocka_unit_test(test_now_is_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
