/* libFuzzer target for launcher/input_req.c: arbitrary bytes as the body of
 * an inject-input request (UNTRUSTED(client)), through input_req_parse_bytes
 * as cellvm run's socket and the broker hand them over. Checks besides the
 * sanitizers: an accepted request is within every limit of
 * proto/input_event.h (what the input process checks again), and a refused
 * one has a clean message and a sane event index. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "launcher/input_req.h"
#include "test/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const struct cellvm_input_event *e)
{
	CHECK(e->backend <= CELLVM_INPUT_BACKEND_MAX);
	CHECK(e->delay_ms <= CELLVM_INPUT_DELAY_MAX);
	CHECK(e->reserved == 0);
	switch (e->kind) {
	case CELLVM_INPUT_KEY_DOWN:
	case CELLVM_INPUT_KEY_UP:
		CHECK(e->code >= 1 && e->code <= CELLVM_INPUT_KEY_MAX);
		CHECK(e->a == 0 && e->b == 0);
		break;
	case CELLVM_INPUT_REL_MOVE:
		CHECK(e->code == 0);
		CHECK(e->a >= -CELLVM_INPUT_REL_MAX && e->a <= CELLVM_INPUT_REL_MAX);
		CHECK(e->b >= -CELLVM_INPUT_REL_MAX && e->b <= CELLVM_INPUT_REL_MAX);
		break;
	case CELLVM_INPUT_ABS_MOVE:
		CHECK(e->code == 0);
		CHECK(e->a >= 0 && e->a <= CELLVM_INPUT_ABS_MAX);
		CHECK(e->b >= 0 && e->b <= CELLVM_INPUT_ABS_MAX);
		break;
	case CELLVM_INPUT_BTN_DOWN:
	case CELLVM_INPUT_BTN_UP:
		CHECK(e->code < CELLVM_INPUT_BTN_COUNT);
		CHECK(e->a == 0 && e->b == 0);
		break;
	case CELLVM_INPUT_WHEEL:
		CHECK(e->code == 0);
		CHECK(e->a >= -CELLVM_INPUT_WHEEL_MAX && e->a <= CELLVM_INPUT_WHEEL_MAX);
		CHECK(e->b >= -CELLVM_INPUT_WHEEL_MAX && e->b <= CELLVM_INPUT_WHEEL_MAX);
		CHECK(e->a != 0 || e->b != 0);
		break;
	case CELLVM_INPUT_TOUCH_DOWN:
	case CELLVM_INPUT_TOUCH_MOVE:
		CHECK(e->code < CELLVM_INPUT_TOUCH_SLOTS);
		CHECK(e->a >= 0 && e->a <= CELLVM_INPUT_ABS_MAX);
		CHECK(e->b >= 0 && e->b <= CELLVM_INPUT_ABS_MAX);
		break;
	case CELLVM_INPUT_TOUCH_UP:
		CHECK(e->code < CELLVM_INPUT_TOUCH_SLOTS);
		CHECK(e->a == 0 && e->b == 0);
		break;
	default: CHECK(!"unknown kind");
	}
}

/* No control bytes; multi-byte sequences are well formed (a lead byte, then
 * as many continuation bytes as it says). */
static void check_message(const char *s)
{
	CHECK(s[0] != 0);
	for (size_t i = 0; s[i]; i++) {
		uint8_t c = (uint8_t)s[i];
		size_t n = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 9;

		CHECK(c >= 0x20 && c != 0x7f);
		CHECK(n != 9 && c < 0xf8);
		for (size_t k = 1; k <= n; k++)
			CHECK(((uint8_t)s[i + k] & 0xc0) == 0x80);
		i += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct input_req req;
	char err[256];
	int ev = -2, r;

	memset(err, 0x55, sizeof(err));
	r = input_req_parse_bytes((const char *)data, size, &req, err, sizeof(err), &ev);
	if (r == 0) {
		CHECK(ev == -1);
		CHECK(req.n >= 1 && req.n <= CELLVM_INPUT_MAX_EVENTS);
		CHECK(req.backend <= CELLVM_INPUT_BACKEND_MAX);
		for (size_t i = 0; i < req.n; i++)
			check_record(&req.ev[i]);
		return 0;
	}
	CHECK(r == -EINVAL || r == -ENOMEM);
	CHECK(memchr(err, 0, sizeof(err)) != NULL);
	check_message(err);
	CHECK(ev >= -1 && ev < INPUT_REQ_MAX_ENTRIES);
	CHECK(req.n == 0 && req.backend == 0);
	return 0;
}
