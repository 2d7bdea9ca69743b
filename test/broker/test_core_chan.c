/* Unit test of what the broker relies on to never block on a core's channel
 * (broker_supervise.c): with the broker's end non-blocking, sends to a core
 * that never reads come back -EAGAIN once its queue is full, instead of
 * holding the caller; and the core's answers to a pause or resume are taken
 * only while their request is pending (launcher_fault.c's table), the power
 * button's too. Runs on a
 * socketpair; no KVM, no broker process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fdutil.h"
#include "launcher/launcher.h"
#include "launcher/launcher_fault.h"
#include "proto/dispatch.h"
#include "proto/vm_channel.h"

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

/* The core's side: send CorePaused (with error, or not) or CoreResumed. */
static void send_answer(int sock, bool paused, const char *error)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CorePaused p = CELLVM__VM__CORE_PAUSED__INIT;
	Cellvm__Vm__CoreResumed r = CELLVM__VM__CORE_RESUMED__INIT;

	if (paused) {
		p.guest_clock_ns = 1234;
		p.error = (char *)error;
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_PAUSED;
		m.paused = &p;
	} else {
		r.guest_clock_ns = 1234;
		m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_RESUMED;
		m.resumed = &r;
	}
	assert_int_equal(vm_channel_send(sock, &m, NULL, 0), 0);
}

static void test_pause_answers(void **state)
{
	struct launcher_fault f;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* Asked: taken, with what it says. */
	send_answer(sv[1], true, "");
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_PAUSING, &f), 1);
	assert_int_equal(f.msg, LAUNCHER_MSG_PAUSED);
	assert_false(f.failed);
	assert_int_equal(f.guest_clock_ns, 1234);
	send_answer(sv[1], true, "a vCPU did not\nstop");
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_PAUSING, &f), 1);
	assert_true(f.failed);
	assert_string_equal(f.detail, "a vCPU did not?stop");
	send_answer(sv[1], false, NULL);
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_RESUMING, &f), 1);
	assert_int_equal(f.msg, LAUNCHER_MSG_RESUMED);
	/* Nobody asked, or asked the other: a breach of the protocol. */
	send_answer(sv[1], true, "");
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_NONE, &f), DISPATCH_E_STATE);
	send_answer(sv[1], false, NULL);
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_PAUSING, &f), DISPATCH_E_STATE);
	send_answer(sv[1], true, "");
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_RESUMING, &f),
			 DISPATCH_E_STATE);
	send_answer(sv[1], false, NULL);
	assert_int_equal(launcher_fault_recv(sv[0], 1, &f), DISPATCH_E_STATE);
	close(sv[0]);
	close(sv[1]);
}

/* The core's side: CorePowerButton. */
static void send_button(int sock, bool listens)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CorePowerButton pb = CELLVM__VM__CORE_POWER_BUTTON__INIT;

	pb.guest_listens = listens;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_POWER_BUTTON_DONE;
	m.power_button_done = &pb;
	assert_int_equal(vm_channel_send(sock, &m, NULL, 0), 0);
}

/* CorePowerButton is taken only while a PowerButton waits for it; the
 * launcher's PowerButton reaches the core as one. */
static void test_power_button(void **state)
{
	struct core_proc core = {.pid = -1, .pidfd = -1, .console = -1};
	Cellvm__Vm__VmMessage *m;
	struct launcher_fault f;
	uint8_t buf[256];
	ssize_t n;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	core.chan = sv[0];
	assert_int_equal(launcher_core_power_button(&core), 0);
	n = recv(sv[1], buf, sizeof(buf), 0);
	assert_true(n > 0);
	m = cellvm__vm__vm_message__unpack(NULL, (size_t)n, buf);
	assert_non_null(m);
	assert_int_equal(m->msg_case, CELLVM__VM__VM_MESSAGE__MSG_POWER_BUTTON);
	cellvm__vm__vm_message__free_unpacked(m, NULL);
	send_button(sv[1], true);
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_POWER_BUTTON, &f), 1);
	assert_int_equal(f.msg, LAUNCHER_MSG_POWER_BUTTON);
	assert_true(f.guest_listens);
	send_button(sv[1], false);
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_POWER_BUTTON, &f), 1);
	assert_false(f.guest_listens);
	/* Unasked, or while a pause or resume waits: a breach. */
	send_button(sv[1], true);
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_NONE, &f), DISPATCH_E_STATE);
	send_button(sv[1], true);
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_PAUSING, &f), DISPATCH_E_STATE);
	send_button(sv[1], true);
	assert_int_equal(launcher_fault_recv(sv[0], 1, &f), DISPATCH_E_STATE);
	/* A pause's answer while the button's is awaited: a breach too. */
	send_answer(sv[1], true, "");
	assert_int_equal(launcher_core_recv(sv[0], 1, LAUNCHER_CORE_POWER_BUTTON, &f),
			 DISPATCH_E_STATE);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_channel_refuses),
		cmocka_unit_test(test_pause_answers),
		cmocka_unit_test(test_power_button),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
