/* libFuzzer target for broker/broker_viewer_http.c: arbitrary bytes as the
 * request head a network peer sends the broker's viewer listener
 * (UNTRUSTED(network peer)), NUL-terminated as broker_viewer.c hands it
 * over. Checks besides the sanitizers: what the parser lets through is what
 * the listener relies on: a static path beneath noVNC's directory (no "..",
 * not absolute, only its characters, a known type), a VM id of hex digits
 * and dashes, strings terminated within their fields. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_viewer_http.h"
#include "test/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct viewer_request r;
	char *head = malloc(size + 1);

	if (!head)
		return 0;
	memcpy(head, data, size);
	head[size] = '\0';
	broker_viewer_route(head, &r);
	CHECK(memchr(r.vm_id, '\0', sizeof(r.vm_id)));
	CHECK(memchr(r.token, '\0', sizeof(r.token)));
	CHECK(memchr(r.path, '\0', sizeof(r.path)));
	switch (r.route) {
	case VIEWER_STATIC:
		CHECK(r.type != NULL);
		CHECK(r.path[0] != '\0' && r.path[0] != '/');
		CHECK(!strstr(r.path, ".."));
		for (const char *p = r.path; *p; p++)
			CHECK(isalnum((unsigned char)*p) || strchr("._-/", *p));
		CHECK(strncmp(head, "GET /novnc/", 11) == 0);
		break;
	case VIEWER_PAGE:
	case VIEWER_WEBSOCKET:
	case VIEWER_NO_UPGRADE:
		CHECK(r.vm_id[0] != '\0');
		for (const char *p = r.vm_id; *p; p++)
			CHECK(isxdigit((unsigned char)*p) || *p == '-');
		CHECK(r.path[0] == '\0');
		break;
	case VIEWER_BAD:
	case VIEWER_NOT_FOUND:
		CHECK(r.vm_id[0] == '\0' && r.path[0] == '\0' && r.token[0] == '\0');
		break;
	default: CHECK(0);
	}
	free(head);
	return 0;
}
