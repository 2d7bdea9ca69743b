/* Unit tests for broker/broker_viewer_http.c, the viewer listener's request
 * parser: each route with its VM id and token; what is refused (other
 * methods, paths outside noVNC, "..", unknown types, ids that are not ids,
 * a websockify without an upgrade, header-looking text in the URL). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "broker/broker_viewer_http.h"

#define ID "4516b9d6-3b60-4889-a270-3c5a56dcaad6"

static struct viewer_request route(const char *head)
{
	struct viewer_request r;

	broker_viewer_route(head, &r);
	return r;
}

static void test_routes(void **state)
{
	struct viewer_request r;

	(void)state;
	r = route("GET /novnc/core/rfb.js HTTP/1.1\r\nHost: x");
	assert_int_equal(r.route, VIEWER_STATIC);
	assert_string_equal(r.path, "core/rfb.js");
	assert_string_equal(r.type, "text/javascript; charset=utf-8");
	r = route("GET /vm/" ID "/viewer?token=abc HTTP/1.1\r\nHost: x");
	assert_int_equal(r.route, VIEWER_PAGE);
	assert_string_equal(r.vm_id, ID);
	assert_string_equal(r.token, "abc");
	r = route("GET /vm/" ID "/websockify?x=1&token=T0k&y=2 HTTP/1.1\r\nHost: x\r\n"
		  "connection: Upgrade\r\nupgrade:  WebSocket \r\nOrigin: http://x");
	assert_int_equal(r.route, VIEWER_WEBSOCKET);
	assert_string_equal(r.token, "T0k");
	r = route("GET /vm/" ID "/websockify?token=T0k HTTP/1.1\r\nHost: x");
	assert_int_equal(r.route, VIEWER_NO_UPGRADE);
	/* "Upgrade: websocket" in the URL or in another header's value is none. */
	r = route("GET /vm/" ID "/websockify?token=Upgrade:%20websocket HTTP/1.1\r\n"
		  "X-Note: Upgrade: websocket");
	assert_int_equal(r.route, VIEWER_NO_UPGRADE);
	/* A token too long for its field is none. */
	r = route("GET /vm/" ID "/viewer?token="
		  "0123456789012345678901234567890123456789012345678901234567890123456789 "
		  "HTTP/1.1");
	assert_int_equal(r.route, VIEWER_PAGE);
	assert_string_equal(r.token, "");
}

static void test_refused(void **state)
{
	static const struct {
		const char *head;
		enum viewer_route want;
	} cases[] = {
		{"POST /vm/" ID "/viewer HTTP/1.1", VIEWER_BAD},
		{"GET /novnc/core/rfb.js", VIEWER_BAD},
		{"GET  HTTP/1.1", VIEWER_BAD},
		{"get /novnc/core/rfb.js HTTP/1.1", VIEWER_BAD},
		{"GET /novnc/../../etc/passwd HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /novnc/core/..%2f..%2fetc HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /novnc//etc/passwd.js HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /novnc/core/rfb HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /novnc/core/rfb.js?x=1 HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /novnc/ HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /etc/passwd HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm//viewer HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm/../viewer HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm/xyz/viewer HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm/" ID "0/viewer HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm/" ID "/viewers HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm/" ID "/viewer/x HTTP/1.1", VIEWER_NOT_FOUND},
		{"GET /vm/" ID " HTTP/1.1", VIEWER_NOT_FOUND},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct viewer_request r = route(cases[i].head);

		if (r.route != cases[i].want)
			fail_msg("%s: route %d, expected %d", cases[i].head, r.route,
				 cases[i].want);
		if (r.route == VIEWER_BAD || r.route == VIEWER_NOT_FOUND)
			assert_true(!r.vm_id[0] && !r.path[0] && !r.token[0]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
