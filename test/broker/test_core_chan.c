/* Unit test of what the broker relies on to never block on a core's channel
 * (broker_supervise.c): with the broker's end non-blocking, sends to a core
 * that never reads come back -EAGAIN once its queue is full, instead of
 * holding the caller. Runs on a socketpair; no KVM, no broker process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fdutil.h"
#include "launcher/launcher.h"

/* The peer (the core's end) never reads: the sends fill its queue and the
 * next one is refused at once. A blocking end would hang here (the ctest
 * timeout then fails it). */
static void test_full_channel_refuses(void **state)
{
	struct core_proc core = {.pid = -1, .pidfd = -1, .console = -1};
	int sv[2];
	int r = 0, sent = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	core.chan = sv[0];
	assert_int_equal(fd_set_nonblock(core.chan, 1), 0);
	for (int i = 0; i < 100000; i++) {
		r = launcher_core_device_gone(&core, 0);
		if (r < 0)
			break;
		sent++;
	}
	assert_int_equal(r, -EAGAIN);
	assert_true(sent > 0);
	/* Once the core reads one, the channel takes one again. */
	{
		char buf[256];
		assert_true(read(sv[1], buf, sizeof(buf)) > 0);
	}
	assert_int_equal(launcher_core_device_gone(&core, 0), 0);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_channel_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
