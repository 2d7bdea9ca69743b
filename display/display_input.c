/* Keysyms and pointer events into cellvm input records; see
 * display_input.h. A US layout: a printable keysym names the key that types
 * it, shifted or not (the client sends its Shift as a key of its own), so
 * 'A' and 'a' are both KEY_A and '!' is KEY_1. Runs in cellvm-display.
 * UNTRUSTED(client): every keysym, mask and position. */
#include "display/display_input.h"

#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <string.h>

/* Printable ASCII (keysyms 0x20..0x7e are the characters). */
static const uint16_t display_ascii[0x7f - 0x20] = {
	[' ' - 0x20] = KEY_SPACE,     ['!' - 0x20] = KEY_1,	      ['"' - 0x20] = KEY_APOSTROPHE,
	['#' - 0x20] = KEY_3,	      ['$' - 0x20] = KEY_4,	      ['%' - 0x20] = KEY_5,
	['&' - 0x20] = KEY_7,	      ['\'' - 0x20] = KEY_APOSTROPHE, ['(' - 0x20] = KEY_9,
	[')' - 0x20] = KEY_0,	      ['*' - 0x20] = KEY_8,	      ['+' - 0x20] = KEY_EQUAL,
	[',' - 0x20] = KEY_COMMA,     ['-' - 0x20] = KEY_MINUS,	      ['.' - 0x20] = KEY_DOT,
	['/' - 0x20] = KEY_SLASH,     ['0' - 0x20] = KEY_0,	      ['1' - 0x20] = KEY_1,
	['2' - 0x20] = KEY_2,	      ['3' - 0x20] = KEY_3,	      ['4' - 0x20] = KEY_4,
	['5' - 0x20] = KEY_5,	      ['6' - 0x20] = KEY_6,	      ['7' - 0x20] = KEY_7,
	['8' - 0x20] = KEY_8,	      ['9' - 0x20] = KEY_9,	      [':' - 0x20] = KEY_SEMICOLON,
	[';' - 0x20] = KEY_SEMICOLON, ['<' - 0x20] = KEY_COMMA,	      ['=' - 0x20] = KEY_EQUAL,
	['>' - 0x20] = KEY_DOT,	      ['?' - 0x20] = KEY_SLASH,	      ['@' - 0x20] = KEY_2,
	['[' - 0x20] = KEY_LEFTBRACE, ['\\' - 0x20] = KEY_BACKSLASH,  [']' - 0x20] = KEY_RIGHTBRACE,
	['^' - 0x20] = KEY_6,	      ['_' - 0x20] = KEY_MINUS,	      ['`' - 0x20] = KEY_GRAVE,
	['{' - 0x20] = KEY_LEFTBRACE, ['|' - 0x20] = KEY_BACKSLASH,   ['}' - 0x20] = KEY_RIGHTBRACE,
	['~' - 0x20] = KEY_GRAVE,
};

static const uint16_t display_letters[26] = {
	KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I, KEY_J, KEY_K, KEY_L, KEY_M,
	KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R, KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z,
};

struct display_keysym {
	uint32_t keysym;
	uint16_t code;
};

/* Everything that is not printable ASCII. */
static const struct display_keysym display_special[] = {
	{XK_BackSpace, KEY_BACKSPACE},
	{XK_Tab, KEY_TAB},
	{XK_ISO_Left_Tab, KEY_TAB},
	{XK_Return, KEY_ENTER},
	{XK_Pause, KEY_PAUSE},
	{XK_Scroll_Lock, KEY_SCROLLLOCK},
	{XK_Sys_Req, KEY_SYSRQ},
	{XK_Escape, KEY_ESC},
	{XK_Delete, KEY_DELETE},
	{XK_Home, KEY_HOME},
	{XK_Left, KEY_LEFT},
	{XK_Up, KEY_UP},
	{XK_Right, KEY_RIGHT},
	{XK_Down, KEY_DOWN},
	{XK_Page_Up, KEY_PAGEUP},
	{XK_Page_Down, KEY_PAGEDOWN},
	{XK_End, KEY_END},
	{XK_Print, KEY_SYSRQ},
	{XK_Insert, KEY_INSERT},
	{XK_Menu, KEY_COMPOSE},
	{XK_Num_Lock, KEY_NUMLOCK},
	{XK_KP_Enter, KEY_KPENTER},
	{XK_KP_Home, KEY_KP7},
	{XK_KP_Left, KEY_KP4},
	{XK_KP_Up, KEY_KP8},
	{XK_KP_Right, KEY_KP6},
	{XK_KP_Down, KEY_KP2},
	{XK_KP_Page_Up, KEY_KP9},
	{XK_KP_Page_Down, KEY_KP3},
	{XK_KP_End, KEY_KP1},
	{XK_KP_Begin, KEY_KP5},
	{XK_KP_Insert, KEY_KP0},
	{XK_KP_Delete, KEY_KPDOT},
	{XK_KP_Multiply, KEY_KPASTERISK},
	{XK_KP_Add, KEY_KPPLUS},
	{XK_KP_Separator, KEY_KPCOMMA},
	{XK_KP_Subtract, KEY_KPMINUS},
	{XK_KP_Decimal, KEY_KPDOT},
	{XK_KP_Divide, KEY_KPSLASH},
	{XK_KP_0, KEY_KP0},
	{XK_KP_1, KEY_KP1},
	{XK_KP_2, KEY_KP2},
	{XK_KP_3, KEY_KP3},
	{XK_KP_4, KEY_KP4},
	{XK_KP_5, KEY_KP5},
	{XK_KP_6, KEY_KP6},
	{XK_KP_7, KEY_KP7},
	{XK_KP_8, KEY_KP8},
	{XK_KP_9, KEY_KP9},
	{XK_KP_Equal, KEY_KPEQUAL},
	{XK_F1, KEY_F1},
	{XK_F2, KEY_F2},
	{XK_F3, KEY_F3},
	{XK_F4, KEY_F4},
	{XK_F5, KEY_F5},
	{XK_F6, KEY_F6},
	{XK_F7, KEY_F7},
	{XK_F8, KEY_F8},
	{XK_F9, KEY_F9},
	{XK_F10, KEY_F10},
	{XK_F11, KEY_F11},
	{XK_F12, KEY_F12},
	{XK_Shift_L, KEY_LEFTSHIFT},
	{XK_Shift_R, KEY_RIGHTSHIFT},
	{XK_Control_L, KEY_LEFTCTRL},
	{XK_Control_R, KEY_RIGHTCTRL},
	{XK_Caps_Lock, KEY_CAPSLOCK},
	{XK_Meta_L, KEY_LEFTMETA},
	{XK_Meta_R, KEY_RIGHTMETA},
	{XK_Alt_L, KEY_LEFTALT},
	{XK_Alt_R, KEY_RIGHTALT},
	{XK_Super_L, KEY_LEFTMETA},
	{XK_Super_R, KEY_RIGHTMETA},
	{XK_ISO_Level3_Shift, KEY_RIGHTALT},
	{XK_Mode_switch, KEY_RIGHTALT},
};

uint16_t display_input_keysym(uint32_t keysym)
{
	if (keysym >= 'a' && keysym <= 'z')
		return display_letters[keysym - 'a'];
	if (keysym >= 'A' && keysym <= 'Z')
		return display_letters[keysym - 'A'];
	if (keysym >= 0x20 && keysym < 0x7f)
		return display_ascii[keysym - 0x20];
	for (size_t i = 0; i < sizeof(display_special) / sizeof(display_special[0]); i++)
		if (display_special[i].keysym == keysym)
			return display_special[i].code;
	return 0;
}

static bool display_key_held(const struct display_input *in, uint16_t code)
{
	return (in->keys[code / 64] >> (code % 64)) & 1;
}

size_t display_input_key(struct display_input *in, bool down, uint32_t keysym,
			 struct cellvm_input_event *out)
{
	uint16_t code = display_input_keysym(keysym);

	if (code == 0 || code > CELLVM_INPUT_KEY_MAX)
		return 0;
	if (!down && !display_key_held(in, code))
		return 0;
	if (down)
		in->keys[code / 64] |= 1ULL << (code % 64);
	else
		in->keys[code / 64] &= ~(1ULL << (code % 64));
	out[0] = (struct cellvm_input_event){
		.kind = down ? CELLVM_INPUT_KEY_DOWN : CELLVM_INPUT_KEY_UP, .code = code};
	return 1;
}

/* A coordinate in 0..size-1 as 0..CELLVM_INPUT_ABS_MAX. */
static int32_t display_abs(int32_t v, uint32_t size)
{
	if (v < 0)
		v = 0;
	if (size <= 1)
		return 0;
	if ((uint32_t)v > size - 1)
		v = (int32_t)(size - 1);
	return (int32_t)(((int64_t)v * CELLVM_INPUT_ABS_MAX) / (size - 1));
}

static int32_t display_clamp_rel(int64_t d)
{
	if (d > CELLVM_INPUT_REL_MAX)
		return CELLVM_INPUT_REL_MAX;
	if (d < -CELLVM_INPUT_REL_MAX)
		return -CELLVM_INPUT_REL_MAX;
	return (int32_t)d;
}

/* RFB buttons 1..3 (mask bits 0..2): left, middle, right. */
static const uint16_t display_buttons[3] = {CELLVM_INPUT_BTN_LEFT, CELLVM_INPUT_BTN_MIDDLE,
					    CELLVM_INPUT_BTN_RIGHT};

size_t display_input_pointer(struct display_input *in, uint32_t mask, int32_t x, int32_t y,
			     uint32_t w, uint32_t h, struct cellvm_input_event *out)
{
	size_t n = 0;

	if (in->absolute) {
		if (!in->have_pos || x != in->x || y != in->y)
			out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_ABS_MOVE,
							       .a = display_abs(x, w),
							       .b = display_abs(y, h)};
	} else if (in->have_pos && (x != in->x || y != in->y)) {
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_REL_MOVE,
						       .a = display_clamp_rel((int64_t)x - in->x),
						       .b = display_clamp_rel((int64_t)y - in->y)};
	}
	in->have_pos = true;
	in->x = x;
	in->y = y;
	for (uint32_t b = 0; b < 3; b++) {
		bool now = (mask >> b) & 1, was = (in->buttons >> b) & 1;

		if (now == was)
			continue;
		out[n++] = (struct cellvm_input_event){.kind = now ? CELLVM_INPUT_BTN_DOWN
								   : CELLVM_INPUT_BTN_UP,
						       .code = display_buttons[b]};
		in->buttons ^= 1U << b;
	}
	/* Buttons 4..7 are wheel detents: a press is one step (RFB clients send
	 * press and release at once). 4 up (away from the user), 5 down, 6
	 * left, 7 right. */
	if (mask & (1U << 3))
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_WHEEL, .a = 1};
	if (mask & (1U << 4))
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_WHEEL, .a = -1};
	if (mask & (1U << 5))
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_WHEEL, .b = -1};
	if (mask & (1U << 6))
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_WHEEL, .b = 1};
	return n;
}

size_t display_input_release_all(struct display_input *in, struct cellvm_input_event *out,
				 size_t max)
{
	size_t n = 0;

	for (uint32_t b = 0; b < 3 && n < max; b++) {
		if (!((in->buttons >> b) & 1))
			continue;
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_BTN_UP,
						       .code = display_buttons[b]};
		in->buttons &= ~(1U << b);
	}
	for (uint32_t c = 1; c <= CELLVM_INPUT_KEY_MAX && n < max; c++) {
		if (!display_key_held(in, (uint16_t)c))
			continue;
		out[n++] = (struct cellvm_input_event){.kind = CELLVM_INPUT_KEY_UP,
						       .code = (uint16_t)c};
		in->keys[c / 64] &= ~(1ULL << (c % 64));
	}
	return n;
}
