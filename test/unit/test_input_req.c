/* Unit tests for launcher/input_req.c and launcher/input_keys.c: every
 * action of the inject-input API becomes the exact records, text goes
 * through the us, de and fr layouts, and every hostile request (unknown
 * names, wrong JSON types, values out of range, too much expansion, bad
 * UTF-8) gets its message and the index of the event at fault. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/input_keys.h"
#include "launcher/input_req.h"

static struct input_req req;

#define DN(k)                                                                                      \
	{                                                                                          \
		CELLVM_INPUT_KEY_DOWN, 0, k, 0, 0, 0, 0                                            \
	}
#define UP(k)                                                                                      \
	{                                                                                          \
		CELLVM_INPUT_KEY_UP, 0, k, 0, 0, 0, 0                                              \
	}
#define TAP(k)	DN(k), UP(k)
#define STAP(k) DN(KEY_LEFTSHIFT), DN(k), UP(k), UP(KEY_LEFTSHIFT)
#define ATAP(k) DN(KEY_RIGHTALT), DN(k), UP(k), UP(KEY_RIGHTALT)

static void parse_ok(const char *json)
{
	char err[256] = "";
	int ev = 99, r;

	r = input_req_parse_bytes(json, strlen(json), &req, err, sizeof(err), &ev);
	if (r != 0)
		fail_msg("%s: refused: %s", json, err);
	assert_int_equal(ev, -1);
}

static void expect_n(const char *json, const struct cellvm_input_event *want, size_t n)
{
	parse_ok(json);
	if (req.n != n)
		fail_msg("%s: %zu records, want %zu", json, req.n, n);
	for (size_t i = 0; i < n; i++) {
		const struct cellvm_input_event *g = &req.ev[i], *w = &want[i];

		if (g->kind != w->kind || g->backend != w->backend || g->code != w->code ||
		    g->a != w->a || g->b != w->b || g->delay_ms != w->delay_ms || g->reserved)
			fail_msg("%s: record %zu is {%u,%u,%u,%d,%d,%u}, want {%u,%u,%u,%d,%d,%u}",
				 json, i, g->kind, g->backend, g->code, g->a, g->b, g->delay_ms,
				 w->kind, w->backend, w->code, w->a, w->b, w->delay_ms);
	}
}

#define EXPECT(json, ...)                                                                          \
	do {                                                                                       \
		static const struct cellvm_input_event want_[] = {__VA_ARGS__};                    \
		expect_n(json, want_, sizeof(want_) / sizeof(want_[0]));                           \
	} while (0)

static void expect_err(const char *json, size_t len, int want_ev, const char *want)
{
	char err[256] = "";
	int ev = 99, r;

	r = input_req_parse_bytes(json, len, &req, err, sizeof(err), &ev);
	if (r != -EINVAL)
		fail_msg("%s: returned %d, want -EINVAL", json, r);
	if (strcmp(err, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", json, err, want);
	if (ev != want_ev)
		fail_msg("%s: event %d, want %d", json, ev, want_ev);
	assert_int_equal(req.n, 0);
}

#define ERR(json, ev, msg) expect_err(json, strlen(json), ev, msg)

/* ---- records ---- */

static void test_keyboard(void **state)
{
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"press\",\"scancode\":30}]}",
	       DN(KEY_A));
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"release\",\"scancode\":30}]}",
	       UP(KEY_A));
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"type\",\"key\":\"KEY_ENTER\"}]}",
	       DN(KEY_ENTER), UP(KEY_ENTER));
	/* Modifiers down in the order given, up in reverse. */
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"press\",\"scancode\":30,"
	       "\"modifiers\":[\"ctrl\",\"shift\"]}]}",
	       DN(KEY_LEFTCTRL), DN(KEY_LEFTSHIFT), DN(KEY_A));
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"release\",\"scancode\":30,"
	       "\"modifiers\":[\"ctrl\",\"shift\"]}]}",
	       UP(KEY_A), UP(KEY_LEFTSHIFT), UP(KEY_LEFTCTRL));
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"type\",\"key\":\"KEY_DELETE\","
	       "\"modifiers\":[\"altgr\",\"meta\",\"alt\",\"ctrl\",\"shift\"]}]}",
	       DN(KEY_RIGHTALT), DN(KEY_LEFTMETA), DN(KEY_LEFTALT), DN(KEY_LEFTCTRL),
	       DN(KEY_LEFTSHIFT), DN(KEY_DELETE), UP(KEY_DELETE), UP(KEY_LEFTSHIFT),
	       UP(KEY_LEFTCTRL), UP(KEY_LEFTALT), UP(KEY_LEFTMETA), UP(KEY_RIGHTALT));
	/* The delay goes before the first record of the event; the backend on all. */
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"type\",\"scancode\":767,"
	       "\"modifiers\":[\"shift\"],\"delay_ms\":250,\"backend\":\"virtio\"}]}",
	       {CELLVM_INPUT_KEY_DOWN, 2, KEY_LEFTSHIFT, 0, 0, 250, 0},
	       {CELLVM_INPUT_KEY_DOWN, 2, 767, 0, 0, 0, 0},
	       {CELLVM_INPUT_KEY_UP, 2, 767, 0, 0, 0, 0},
	       {CELLVM_INPUT_KEY_UP, 2, KEY_LEFTSHIFT, 0, 0, 0, 0});
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"release\",\"key\":\"KEY_"
	       "SCREENLOCK\","
	       "\"delay_ms\":10000}]}",
	       {CELLVM_INPUT_KEY_UP, 0, KEY_COFFEE, 0, 0, 10000, 0});
}

static void test_mouse(void **state)
{
	EXPECT("{\"events\":[{\"type\":\"mouse\",\"action\":\"move\",\"dx\":10,\"dy\":-5}]}",
	       {CELLVM_INPUT_REL_MOVE, 0, 0, 10, -5, 0, 0});
	EXPECT("{\"events\":[{\"type\":\"mouse\",\"action\":\"move\",\"dx\":-32767,\"dy\":32767,"
	       "\"delay_ms\":1}]}",
	       {CELLVM_INPUT_REL_MOVE, 0, 0, -32767, 32767, 1, 0});
	EXPECT("{\"events\":[{\"type\":\"mouse\",\"action\":\"move_absolute\",\"x\":16384,"
	       "\"y\":16384}]}",
	       {CELLVM_INPUT_ABS_MOVE, 0, 0, 16384, 16384, 0, 0});
	EXPECT("{\"events\":[{\"type\":\"mouse\",\"action\":\"move_absolute\",\"x\":0,"
	       "\"y\":32767}]}",
	       {CELLVM_INPUT_ABS_MOVE, 0, 0, 0, 32767, 0, 0});
	EXPECT("{\"events\":[{\"type\":\"mouse\",\"action\":\"button_press\",\"button\":\"left\"},"
	       "{\"type\":\"mouse\",\"action\":\"button_press\",\"button\":\"right\"},"
	       "{\"type\":\"mouse\",\"action\":\"button_press\",\"button\":\"middle\"},"
	       "{\"type\":\"mouse\",\"action\":\"button_release\",\"button\":\"side\"},"
	       "{\"type\":\"mouse\",\"action\":\"button_release\",\"button\":\"extra\"}]}",
	       {CELLVM_INPUT_BTN_DOWN, 0, CELLVM_INPUT_BTN_LEFT, 0, 0, 0, 0},
	       {CELLVM_INPUT_BTN_DOWN, 0, CELLVM_INPUT_BTN_RIGHT, 0, 0, 0, 0},
	       {CELLVM_INPUT_BTN_DOWN, 0, CELLVM_INPUT_BTN_MIDDLE, 0, 0, 0, 0},
	       {CELLVM_INPUT_BTN_UP, 0, CELLVM_INPUT_BTN_SIDE, 0, 0, 0, 0},
	       {CELLVM_INPUT_BTN_UP, 0, CELLVM_INPUT_BTN_EXTRA, 0, 0, 0, 0});
	EXPECT("{\"events\":[{\"type\":\"mouse\",\"action\":\"wheel\",\"delta\":-3,"
	       "\"horizontal\":0},{\"type\":\"mouse\",\"action\":\"wheel\",\"horizontal\":127},"
	       "{\"type\":\"mouse\",\"action\":\"wheel\",\"delta\":-127,\"horizontal\":-1}]}",
	       {CELLVM_INPUT_WHEEL, 0, 0, -3, 0, 0, 0}, {CELLVM_INPUT_WHEEL, 0, 0, 0, 127, 0, 0},
	       {CELLVM_INPUT_WHEEL, 0, 0, -127, -1, 0, 0});
}

static void test_touch(void **state)
{
	EXPECT("{\"events\":[{\"type\":\"touch\",\"action\":\"down\",\"slot\":0,\"x\":100,"
	       "\"y\":200},{\"type\":\"touch\",\"action\":\"move\",\"slot\":9,\"x\":32767,"
	       "\"y\":0,\"delay_ms\":16},{\"type\":\"touch\",\"action\":\"up\",\"slot\":9},"
	       "{\"type\":\"touch\",\"action\":\"down\",\"x\":1,\"y\":2},"
	       "{\"type\":\"touch\",\"action\":\"up\"}]}",
	       {CELLVM_INPUT_TOUCH_DOWN, 0, 0, 100, 200, 0, 0},
	       {CELLVM_INPUT_TOUCH_MOVE, 0, 9, 32767, 0, 16, 0},
	       {CELLVM_INPUT_TOUCH_UP, 0, 9, 0, 0, 0, 0},
	       {CELLVM_INPUT_TOUCH_DOWN, 0, 0, 1, 2, 0, 0},
	       {CELLVM_INPUT_TOUCH_UP, 0, 0, 0, 0, 0, 0});
}

static void test_backend(void **state)
{
	/* The request's backend is reported apart; records carry only overrides. */
	EXPECT("{\"backend\":\"ps2\",\"events\":[{\"type\":\"mouse\",\"action\":\"move\",\"dx\":1,"
	       "\"dy\":2},{\"type\":\"mouse\",\"action\":\"move\",\"dx\":3,\"dy\":4,"
	       "\"backend\":\"usb\"},{\"type\":\"mouse\",\"action\":\"move\",\"dx\":5,\"dy\":6,"
	       "\"backend\":\"ps2\"}]}",
	       {CELLVM_INPUT_REL_MOVE, 0, 0, 1, 2, 0, 0}, {CELLVM_INPUT_REL_MOVE, 3, 0, 3, 4, 0, 0},
	       {CELLVM_INPUT_REL_MOVE, 1, 0, 5, 6, 0, 0});
	assert_int_equal(req.backend, CELLVM_INPUT_BACKEND_PS2);
	parse_ok("{\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]}");
	assert_int_equal(req.backend, CELLVM_INPUT_BACKEND_ACTIVE);
	parse_ok("{\"backend\":\"virtio\",\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]}");
	assert_int_equal(req.backend, CELLVM_INPUT_BACKEND_VIRTIO);
	/* Each record knows its event: the device's refusal of record 2 is
	 * the client's event 1. */
	parse_ok("{\"events\":[{\"type\":\"keyboard\",\"action\":\"type\",\"key\":\"KEY_A\"},"
		 "{\"type\":\"touch\",\"action\":\"up\"}]}");
	assert_int_equal(req.n, 3);
	assert_int_equal(input_req_event_of(&req, 0), 0);
	assert_int_equal(input_req_event_of(&req, 1), 0);
	assert_int_equal(input_req_event_of(&req, 2), 1);
	assert_int_equal(input_req_event_of(&req, 3), -1);
	assert_int_equal(input_req_event_of(&req, -1), -1);
}

static void test_text_us(void **state)
{
	EXPECT("{\"events\":[{\"type\":\"keyboard\",\"action\":\"type\","
	       "\"text\":\"Hello, World!\"}]}",
	       STAP(KEY_H), TAP(KEY_E), TAP(KEY_L), TAP(KEY_L), TAP(KEY_O), TAP(KEY_COMMA),
	       TAP(KEY_SPACE), STAP(KEY_W), TAP(KEY_O), TAP(KEY_R), TAP(KEY_L), TAP(KEY_D),
	       STAP(KEY_1));
	/* The delay goes before each character; \n and \t are Enter and Tab. */
	EXPECT("{\"layout\":\"us\",\"events\":[{\"type\":\"keyboard\",\"action\":\"type\","
	       "\"text\":\"a\\n~\\t\",\"delay_ms\":7}]}",
	       {CELLVM_INPUT_KEY_DOWN, 0, KEY_A, 0, 0, 7, 0}, UP(KEY_A),
	       {CELLVM_INPUT_KEY_DOWN, 0, KEY_ENTER, 0, 0, 7, 0}, UP(KEY_ENTER),
	       {CELLVM_INPUT_KEY_DOWN, 0, KEY_LEFTSHIFT, 0, 0, 7, 0}, DN(KEY_GRAVE), UP(KEY_GRAVE),
	       UP(KEY_LEFTSHIFT), {CELLVM_INPUT_KEY_DOWN, 0, KEY_TAB, 0, 0, 7, 0}, UP(KEY_TAB));
}

static void test_text_de_fr(void **state)
{
	/* de: @ on AltGr+Q, z and y swapped, ^ a dead key followed by space. */
	EXPECT("{\"layout\":\"de\",\"events\":[{\"type\":\"keyboard\",\"action\":\"type\","
	       "\"text\":\"@zy^\\u20ac\\u00df\\u00c4\"}]}",
	       ATAP(KEY_Q), TAP(KEY_Y), TAP(KEY_Z), TAP(KEY_GRAVE), TAP(KEY_SPACE), ATAP(KEY_E),
	       TAP(KEY_MINUS), STAP(KEY_APOSTROPHE));
	/* fr: é and digits on the number row, a/q swapped, € and @ on AltGr. */
	EXPECT("{\"layout\":\"fr\",\"events\":[{\"type\":\"keyboard\",\"action\":\"type\","
	       "\"text\":\"\\u00e9 1a\\u20ac@m,\"}]}",
	       TAP(KEY_2), TAP(KEY_SPACE), STAP(KEY_1), TAP(KEY_Q), ATAP(KEY_E), ATAP(KEY_0),
	       TAP(KEY_SEMICOLON), TAP(KEY_M));
}

static void check_layout(const char *l, uint32_t cp, uint16_t code, bool shift, bool altgr, int ret)
{
	bool s = !shift, a = !altgr;
	uint16_t c = 0;
	int r;

	r = input_keys_layout(l, cp, &c, &s, &a);
	if (r != ret || c != code || s != shift || a != altgr)
		fail_msg("%s U+%04X: %d %s %s %s, want %d %s %s %s", l, (unsigned)cp, r,
			 input_keys_name(c), s ? "shift" : "-", a ? "altgr" : "-", ret,
			 input_keys_name(code), shift ? "shift" : "-", altgr ? "altgr" : "-");
}

static void test_layouts(void **state)
{
	static const char *const names[] = {"us", "de", "fr"};
	uint16_t code;
	bool s, a;

	check_layout("us", '@', KEY_2, true, false, 0);
	check_layout("us", '"', KEY_APOSTROPHE, true, false, 0);
	check_layout("de", '@', KEY_Q, false, true, 0);
	check_layout("de", 'z', KEY_Y, false, false, 0);
	check_layout("de", 'Y', KEY_Z, true, false, 0);
	check_layout("de", 0x20ac, KEY_E, false, true, 0);
	check_layout("de", 0xfc, KEY_LEFTBRACE, false, false, 0);
	check_layout("de", 0xd6, KEY_SEMICOLON, true, false, 0);
	check_layout("de", 0xa7, KEY_3, true, false, 0);
	check_layout("de", 0xb0, KEY_GRAVE, true, false, 0);
	check_layout("de", '^', KEY_GRAVE, false, false, INPUT_KEYS_DEAD);
	check_layout("de", '`', KEY_EQUAL, true, false, INPUT_KEYS_DEAD);
	check_layout("de", '~', KEY_RIGHTBRACE, false, true, INPUT_KEYS_DEAD);
	check_layout("de", '\\', KEY_MINUS, false, true, 0);
	check_layout("fr", 0xe9, KEY_2, false, false, 0);
	check_layout("fr", 0xe8, KEY_7, false, false, 0);
	check_layout("fr", 0xe0, KEY_0, false, false, 0);
	check_layout("fr", 0xe7, KEY_9, false, false, 0);
	check_layout("fr", 0xf9, KEY_APOSTROPHE, false, false, 0);
	check_layout("fr", '0', KEY_0, true, false, 0);
	check_layout("fr", '5', KEY_5, true, false, 0);
	check_layout("fr", 'q', KEY_A, false, false, 0);
	check_layout("fr", 'W', KEY_Z, true, false, 0);
	check_layout("fr", '^', KEY_9, false, true, 0);
	check_layout("fr", 0x20ac, KEY_E, false, true, 0);
	check_layout("fr", '\n', KEY_ENTER, false, false, 0);
	check_layout("de", '\t', KEY_TAB, false, false, 0);
	assert_int_equal(input_keys_layout("us", 0xe9, &code, &s, &a), -ERANGE);
	assert_int_equal(input_keys_layout("de", 0xea, &code, &s, &a), -ERANGE); /* ê */
	assert_int_equal(input_keys_layout("fr", '\r', &code, &s, &a), -ERANGE);
	assert_int_equal(input_keys_layout("uk", 'a', &code, &s, &a), -ENOENT);
	assert_false(input_keys_layout_valid("US"));

	/* Every printable ASCII character is typeable on every layout, and no
	 * two characters share a key and modifiers. */
	for (size_t l = 0; l < 3; l++) {
		static uint32_t seen[CELLVM_INPUT_KEY_MAX + 1][4];

		memset(seen, 0, sizeof(seen));
		for (uint32_t cp = 0; cp < 0x2100; cp++) {
			int r = input_keys_layout(names[l], cp, &code, &s, &a);

			if (cp >= 0x20 && cp < 0x7f && r < 0)
				fail_msg("%s: '%c' is not typeable", names[l], (char)cp);
			if (r < 0)
				continue;
			assert_true(code >= 1 && code <= CELLVM_INPUT_KEY_MAX);
			if (seen[code][s * 2 + a])
				fail_msg("%s: U+%04X and U+%04X on the same key", names[l],
					 (unsigned)seen[code][s * 2 + a] - 1, (unsigned)cp);
			seen[code][s * 2 + a] = cp + 1;
		}
	}
}

static void test_key_names(void **state)
{
	int named = 0;

	assert_int_equal(input_keys_code("KEY_ENTER"), 28);
	assert_int_equal(input_keys_code("KEY_ESC"), KEY_ESC);
	assert_int_equal(input_keys_code("KEY_MICMUTE"), KEY_MICMUTE);
	assert_int_equal(input_keys_code("KEY_OK"), KEY_OK);
	assert_int_equal(input_keys_code("KEY_MACRO30"), KEY_MACRO30);
	assert_int_equal(input_keys_code("KEY_KBD_LCD_MENU5"), KEY_KBD_LCD_MENU5);
	assert_int_equal(input_keys_code("KEY_PERFORMANCE"), 0x2bd);
	assert_int_equal(input_keys_code("KEY_SCREENLOCK"), KEY_COFFEE);
	assert_int_equal(input_keys_code("KEY_HANGUEL"), KEY_HANGEUL);
	assert_int_equal(input_keys_code("KEY_RESERVED"), -ENOENT);
	assert_int_equal(input_keys_code("KEY_MAX"), -ENOENT);
	assert_int_equal(input_keys_code("KEY_CNT"), -ENOENT);
	assert_int_equal(input_keys_code("BTN_LEFT"), -ENOENT);
	assert_int_equal(input_keys_code("key_enter"), -ENOENT);
	assert_int_equal(input_keys_code(""), -ENOENT);
	assert_string_equal(input_keys_name(28), "KEY_ENTER");
	assert_string_equal(input_keys_name(KEY_COFFEE), "KEY_COFFEE");
	assert_string_equal(input_keys_name(KEY_FULL_SCREEN), "KEY_FULL_SCREEN");
	assert_null(input_keys_name(0));
	assert_null(input_keys_name(84));
	assert_null(input_keys_name(BTN_LEFT));
	assert_null(input_keys_name(0x2ff));
	assert_null(input_keys_name(0x300));
	/* Names and codes agree both ways. */
	for (uint16_t c = 0; c <= CELLVM_INPUT_KEY_MAX; c++) {
		const char *n = input_keys_name(c);

		if (!n)
			continue;
		named++;
		if (input_keys_code(n) != c || strncmp(n, "KEY_", 4) != 0)
			fail_msg("%s: code %d, want %u", n, input_keys_code(n), c);
	}
	assert_true(named > 500);
}

/* ---- refusals ---- */

#define KB(rest)    "{\"events\":[{\"type\":\"keyboard\"," rest "}]}"
#define MOUSE(rest) "{\"events\":[{\"type\":\"mouse\"," rest "}]}"
#define TOUCH(rest) "{\"events\":[{\"type\":\"touch\"," rest "}]}"

static void test_errors_names(void **state)
{
	ERR("{\"events\":[{\"type\":\"joystick\",\"action\":\"press\"}]}", 0,
	    "events[0].type: unknown type \"joystick\" (keyboard, mouse, touch)");
	ERR(MOUSE("\"action\":\"click\""), 0,
	    "events[0].action: unknown action \"click\" for type mouse (move, move_absolute, "
	    "button_press, button_release, wheel)");
	ERR(KB("\"action\":\"tap\",\"scancode\":1"), 0,
	    "events[0].action: unknown action \"tap\" for type keyboard (press, release, type)");
	ERR(MOUSE("\"action\":\"move\",\"dx\":1,\"dy\":1,\"dz\":1"), 0,
	    "events[0].dz: unknown field");
	ERR("{\"events\":[{\"type\":\"touch\",\"action\":\"up\"}],\"speed\":1}", -1,
	    "speed: unknown field");
	ERR("{\"layout\":\"dvorak\",\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]}", -1,
	    "layout: unknown layout \"dvorak\" (us, de, fr)");
	ERR("{\"backend\":\"vnc\",\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]}", -1,
	    "backend: unknown backend \"vnc\" (ps2, virtio, usb)");
	ERR("{\"events\":[{\"type\":\"touch\",\"action\":\"up\"},{\"type\":\"touch\","
	    "\"action\":\"up\"},{\"type\":\"touch\",\"action\":\"up\",\"backend\":\"PS2\"}]}",
	    2, "events[2].backend: unknown backend \"PS2\" (ps2, virtio, usb)");
	ERR(MOUSE("\"action\":\"button_press\",\"button\":\"back\""), 0,
	    "events[0].button: unknown button \"back\" (left, right, middle, side, extra)");
	ERR(KB("\"action\":\"press\",\"scancode\":30,\"modifiers\":[\"shift\",\"hyper\"]"), 0,
	    "events[0].modifiers[1]: unknown modifier \"hyper\" (shift, ctrl, alt, meta, altgr)");
	ERR(KB("\"action\":\"press\",\"scancode\":30,\"modifiers\":[\"shift\",\"shift\"]"), 0,
	    "events[0].modifiers[1]: \"shift\" is listed twice");
	ERR(KB("\"action\":\"type\",\"key\":\"KEY_NOPE\""), 0,
	    "events[0].key: unknown key \"KEY_NOPE\" (a Linux KEY_* name)");
	/* Client strings in messages: no control characters, no cut UTF-8. */
	ERR("{\"a\\u0001\\u0085b\\n\":1,\"events\":[]}", -1, "a???b?: unknown field");
	ERR("{\"events\":[{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\u00e9\":1}]}", 0,
	    "events[0].xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx?: unknown field");
	ERR(KB("\"action\":\"type\",\"key\":\"BTN_LEFT\""), 0,
	    "events[0].key: unknown key \"BTN_LEFT\" (a Linux KEY_* name)");
}

static void test_errors_structure(void **state)
{
	ERR("[]", -1, "request: must be a JSON object, not an array");
	ERR("{}", -1, "events: required");
	ERR("{\"events\":{}}", -1, "events: must be an array, not an object");
	ERR("{\"events\":[]}", -1, "events: must not be empty");
	ERR("{\"events\":[{\"type\":\"touch\",\"action\":\"up\"},1]}", 1,
	    "events[1]: must be an object, not an integer");
	ERR("{\"events\":[{\"action\":\"up\"}]}", 0, "events[0].type: required");
	ERR("{\"events\":[{\"type\":\"touch\"}]}", 0, "events[0].action: required");
	ERR("{\"events\":[{\"type\":7,\"action\":\"up\"}]}", 0,
	    "events[0].type: must be a string, not an integer");
	ERR(KB("\"action\":\"press\""), 0, "events[0]: one of scancode, key or text is required");
	ERR(KB("\"action\":\"press\",\"scancode\":30,\"key\":\"KEY_A\""), 0,
	    "events[0].key: only one of scancode, key or text may be given");
	ERR(KB("\"action\":\"type\",\"key\":\"KEY_A\",\"text\":\"a\""), 0,
	    "events[0].text: only one of scancode, key or text may be given");
	ERR(KB("\"action\":\"press\",\"text\":\"a\""), 0,
	    "events[0].text: not allowed with keyboard action press");
	ERR(KB("\"action\":\"type\",\"text\":\"a\",\"modifiers\":[\"ctrl\"]"), 0,
	    "events[0].modifiers: not allowed with text (the layout decides them)");
	ERR(KB("\"action\":\"type\",\"text\":\"\""), 0, "events[0].text: must not be empty");
	ERR(KB("\"action\":\"press\",\"scancode\":30,\"modifiers\":\"shift\""), 0,
	    "events[0].modifiers: must be an array of names, not a string");
	ERR(KB("\"action\":\"press\",\"scancode\":30,\"modifiers\":[1]"), 0,
	    "events[0].modifiers[0]: must be a string, not an integer");
	ERR(MOUSE("\"action\":\"move\",\"dx\":1,\"dy\":1,\"button\":\"left\""), 0,
	    "events[0].button: not allowed with mouse action move");
	ERR(TOUCH("\"action\":\"up\",\"x\":1"), 0, "events[0].x: not allowed with touch action up");
	ERR(MOUSE("\"action\":\"move\",\"dx\":1"), 0,
	    "events[0].dy: required with mouse action move");
	ERR(MOUSE("\"action\":\"move_absolute\",\"x\":1"), 0,
	    "events[0].y: required with mouse action move_absolute");
	ERR(MOUSE("\"action\":\"button_release\""), 0,
	    "events[0].button: required with mouse action button_release");
	ERR(TOUCH("\"action\":\"down\",\"slot\":1,\"y\":1"), 0,
	    "events[0].x: required with touch action down");
	ERR(MOUSE("\"action\":\"wheel\""), 0, "events[0].delta: delta and horizontal are both 0");
	ERR(MOUSE("\"action\":\"wheel\",\"delta\":0,\"horizontal\":0"), 0,
	    "events[0].delta: delta and horizontal are both 0");
}

static void test_errors_values(void **state)
{
	ERR(KB("\"action\":\"press\",\"scancode\":1000"), 0,
	    "events[0].scancode: 1000 is outside 1..767");
	ERR(KB("\"action\":\"press\",\"scancode\":0"), 0,
	    "events[0].scancode: 0 is outside 1..767");
	ERR(KB("\"action\":\"press\",\"scancode\":-1"), 0,
	    "events[0].scancode: -1 is outside 1..767");
	ERR(KB("\"action\":\"press\",\"scancode\":18446744073709551615"), 0,
	    "events[0].scancode: 9223372036854775807 is outside 1..767");
	ERR(KB("\"action\":\"press\",\"scancode\":\"30\""), 0,
	    "events[0].scancode: must be an integer, not a string");
	ERR(KB("\"action\":\"press\",\"scancode\":30.0"), 0,
	    "events[0].scancode: must be an integer, not a fraction");
	ERR(KB("\"action\":\"press\",\"scancode\":true"), 0,
	    "events[0].scancode: must be an integer, not a boolean");
	ERR(KB("\"action\":\"press\",\"scancode\":null"), 0,
	    "events[0].scancode: must be an integer, not null");
	ERR(KB("\"action\":\"press\",\"key\":30"), 0,
	    "events[0].key: must be a string, not an integer");
	ERR(MOUSE("\"action\":\"move\",\"dx\":40000,\"dy\":0"), 0,
	    "events[0].dx: 40000 is outside -32767..32767");
	ERR(MOUSE("\"action\":\"move\",\"dx\":0,\"dy\":-32768"), 0,
	    "events[0].dy: -32768 is outside -32767..32767");
	ERR(MOUSE("\"action\":\"move_absolute\",\"x\":-1,\"y\":0"), 0,
	    "events[0].x: -1 is outside 0..32767");
	ERR(MOUSE("\"action\":\"move_absolute\",\"x\":0,\"y\":32768"), 0,
	    "events[0].y: 32768 is outside 0..32767");
	ERR(MOUSE("\"action\":\"move_absolute\",\"x\":1e3,\"y\":0"), 0,
	    "events[0].x: must be an integer, not a fraction");
	ERR(MOUSE("\"action\":\"wheel\",\"delta\":128"), 0,
	    "events[0].delta: 128 is outside -127..127");
	ERR(MOUSE("\"action\":\"wheel\",\"horizontal\":-128"), 0,
	    "events[0].horizontal: -128 is outside -127..127");
	ERR(MOUSE("\"action\":\"button_press\",\"button\":[\"left\"]"), 0,
	    "events[0].button: must be a string, not an array");
	ERR(TOUCH("\"action\":\"down\",\"slot\":10,\"x\":1,\"y\":1"), 0,
	    "events[0].slot: 10 is outside 0..9");
	ERR(TOUCH("\"action\":\"up\",\"slot\":-1"), 0, "events[0].slot: -1 is outside 0..9");
	ERR(TOUCH("\"action\":\"up\",\"delay_ms\":10001"), 0,
	    "events[0].delay_ms: 10001 is outside 0..10000");
	ERR(TOUCH("\"action\":\"up\",\"delay_ms\":-1"), 0,
	    "events[0].delay_ms: -1 is outside 0..10000");
	ERR(TOUCH("\"action\":\"up\",\"delay_ms\":\"5\""), 0,
	    "events[0].delay_ms: must be an integer, not a string");
}

static void test_errors_text(void **state)
{
	ERR("{\"events\":[{\"type\":\"touch\",\"action\":\"up\"},{\"type\":\"keyboard\","
	    "\"action\":\"type\",\"text\":\"ab\\u00e9\"}]}",
	    1, "events[1].text[2]: '\xc3\xa9' (U+00E9) is not typeable on layout \"us\"");
	ERR("{\"layout\":\"de\",\"events\":[{\"type\":\"keyboard\",\"action\":\"type\","
	    "\"text\":\"\\u00ea\"}]}",
	    0, "events[0].text[0]: '\xc3\xaa' (U+00EA) is not typeable on layout \"de\"");
	ERR(KB("\"action\":\"type\",\"text\":\"a\\u0001\""), 0,
	    "events[0].text[1]: U+0001 is not typeable on layout \"us\"");
	ERR(KB("\"action\":\"type\",\"text\":\"a\\u0000\""), 0,
	    "events[0].text[1]: U+0000 is not typeable on layout \"us\"");
	ERR(KB("\"action\":\"type\",\"text\":\"\xf0\x9f\x98\x80\""), 0,
	    "events[0].text[0]: '\xf0\x9f\x98\x80' (U+1F600) is not typeable on layout \"us\"");
	ERR(KB("\"action\":\"type\",\"text\":7"), 0,
	    "events[0].text: must be a string, not an integer");
	ERR(KB("\"action\":\"type\",\"key\":\"KEY_A\\u0000\""), 0,
	    "events[0].key: contains a NUL character");
}

/* Strings with bad UTF-8, put in a request by json-c's own API so that no
 * tokener decides about them first. */
static void test_errors_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		const char *msg;
	} cases[] = {
		{"a\xc3", 2, "events[0].text: invalid UTF-8 at byte 1"},	    /* truncated */
		{"\xc0\x80", 2, "events[0].text: invalid UTF-8 at byte 0"},	    /* overlong */
		{"ab\xe0\x80\xaf", 5, "events[0].text: invalid UTF-8 at byte 2"},   /* overlong */
		{"\xed\xa0\x80", 3, "events[0].text: invalid UTF-8 at byte 0"},	    /* surrogate */
		{"\xf4\x90\x80\x80", 4, "events[0].text: invalid UTF-8 at byte 0"}, /* > U+10FFFF */
		{"x\x80", 2, "events[0].text: invalid UTF-8 at byte 1"}, /* continuation */
		{"\xff", 1, "events[0].text: invalid UTF-8 at byte 0"},
		{"\xc3(", 2, "events[0].text: invalid UTF-8 at byte 0"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *body = json_object_new_object(), *evs = json_object_new_array();
		json_object *ev = json_object_new_object();
		char err[256];
		int idx = 99;

		json_object_object_add(ev, "type", json_object_new_string("keyboard"));
		json_object_object_add(ev, "action", json_object_new_string("type"));
		json_object_object_add(ev, "text",
				       json_object_new_string_len(cases[i].s, (int)cases[i].len));
		json_object_array_add(evs, ev);
		json_object_object_add(body, "events", evs);
		assert_int_equal(input_req_parse(body, &req, err, sizeof(err), &idx), -EINVAL);
		assert_string_equal(err, cases[i].msg);
		assert_int_equal(idx, 0);
		json_object_put(body);
	}
	/* And the same through the tokener, which passes the bytes on. */
	ERR(KB("\"action\":\"type\",\"text\":\"ok\xed\xa0\x80\""), 0,
	    "events[0].text: invalid UTF-8 at byte 2");
}

static char *events_json(size_t n, const char *ev)
{
	size_t cap = 64 + n * (strlen(ev) + 1);
	char *s = malloc(cap), *p = s;

	assert_non_null(s);
	p += sprintf(p, "{\"events\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", ev);
	sprintf(p, "]}");
	return s;
}

static void test_limits(void **state)
{
	static const char *const ev4 = "{\"type\":\"keyboard\",\"action\":\"type\",\"scancode\":30,"
				       "\"modifiers\":[\"shift\"]}";
	char *s, text[400], a257[258];

	/* 225 events of 4 records: exactly the limit. */
	s = events_json(225, ev4);
	parse_ok(s);
	assert_int_equal(req.n, CELLVM_INPUT_MAX_EVENTS);
	free(s);
	s = events_json(226, ev4);
	ERR(s, 225, "events[225]: too many events: the request makes more than 900 records");
	free(s);
	/* 900 one-record entries are fine; 901 entries are not. */
	s = events_json(900, "{\"type\":\"touch\",\"action\":\"up\"}");
	parse_ok(s);
	assert_int_equal(req.n, 900);
	free(s);
	s = events_json(901, "{\"type\":\"touch\",\"action\":\"up\"}");
	ERR(s, -1, "events: more than 900 entries");
	free(s);
	/* Text: 256 characters (512 records), not 257. */
	memset(a257, 'a', 257);
	a257[257] = 0;
	snprintf(text, sizeof(text), KB("\"action\":\"type\",\"text\":\"%.*s\""), 256, a257);
	parse_ok(text);
	assert_int_equal(req.n, 512);
	snprintf(text, sizeof(text), KB("\"action\":\"type\",\"text\":\"%s\""), a257);
	ERR(text, 0, "events[0].text: longer than 256 characters");
	s = events_json(2, "{\"type\":\"keyboard\",\"action\":\"type\",\"text\":\""
			   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
	ERR(s, 1, "events[1]: too many events: the request makes more than 900 records");
	free(s);
}

static void test_bytes(void **state)
{
	static const char one[] = "{\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]}";
	static char big[INPUT_REQ_MAX_BODY + 2];
	char err[8];
	int ev = 99;

	ERR("", -1, "request: empty");
	ERR("{\"events\":", -1, "request: malformed JSON: truncated");
	ERR("{\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]} x", -1,
	    "request: malformed JSON: data after the value");
	parse_ok("\n{\"events\":[{\"type\":\"touch\",\"action\":\"up\"}]}\r\n ");
	ERR("{\"events\":[{\"type\":\"touch\",\"action\":\"up\",\"x\":[[[[[[[1]]]]]]]}]}", -1,
	    "request: malformed JSON: nesting too deep");
	expect_err("{\"events\":[]}\0", 14, -1, "request: contains a NUL byte");
	/* Exactly the limit, white space included, and one byte more. */
	memset(big, ' ', sizeof(big));
	memcpy(big, one, strlen(one));
	assert_int_equal(
		input_req_parse_bytes(big, INPUT_REQ_MAX_BODY, &req, err, sizeof(err), &ev), 0);
	assert_int_equal(req.n, 1);
	expect_err(big, INPUT_REQ_MAX_BODY + 1, -1, "request: larger than 65536 bytes");
	/* A short buffer gets a cut message, never an overflow. */
	assert_int_equal(input_req_parse_bytes("[]", 2, &req, err, sizeof(err), &ev), -EINVAL);
	assert_string_equal(err, "request");
	assert_int_equal(input_req_parse_bytes("[]", 2, &req, err, 0, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyboard),      cmocka_unit_test(test_mouse),
		cmocka_unit_test(test_touch),	      cmocka_unit_test(test_backend),
		cmocka_unit_test(test_text_us),	      cmocka_unit_test(test_text_de_fr),
		cmocka_unit_test(test_layouts),	      cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_errors_names),  cmocka_unit_test(test_errors_structure),
		cmocka_unit_test(test_errors_values), cmocka_unit_test(test_errors_text),
		cmocka_unit_test(test_errors_utf8),   cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
