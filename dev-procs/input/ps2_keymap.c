/* Scan code tables of the input device process's AT keyboard: for each Linux
 * key code that Linux's atkbd driver maps, the make code in sets 1, 2 and 3
 * (0xE0xx for an E0-prefixed key, 0 for none), and the i8042's set 2 -> set 1
 * translation. Host key codes come from the broker; nothing here is guest data. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include "dev-procs/input/ps2_keymap.h"

struct ps2_keymap_entry {
	uint16_t set1, set2;
	uint8_t set3;
};

/* Where a key has several codes, the one a real keyboard sends (F7 is 0x83 in
 * set 2). Pause and SysRq (the PrintScreen key) have sequences of their own in
 * sets 1 and 2, Hanja and Hangeul single bytes with no break (ps2_keymap_encode). */
static const struct ps2_keymap_entry ps2_keymap[256] = {
	[KEY_ESC] = {.set1 = 0x01, .set2 = 0x76, .set3 = 0x08},
	[KEY_1] = {.set1 = 0x02, .set2 = 0x16, .set3 = 0x16},
	[KEY_2] = {.set1 = 0x03, .set2 = 0x1e, .set3 = 0x1e},
	[KEY_3] = {.set1 = 0x04, .set2 = 0x26, .set3 = 0x26},
	[KEY_4] = {.set1 = 0x05, .set2 = 0x25, .set3 = 0x25},
	[KEY_5] = {.set1 = 0x06, .set2 = 0x2e, .set3 = 0x2e},
	[KEY_6] = {.set1 = 0x07, .set2 = 0x36, .set3 = 0x36},
	[KEY_7] = {.set1 = 0x08, .set2 = 0x3d, .set3 = 0x3d},
	[KEY_8] = {.set1 = 0x09, .set2 = 0x3e, .set3 = 0x3e},
	[KEY_9] = {.set1 = 0x0a, .set2 = 0x46, .set3 = 0x46},
	[KEY_0] = {.set1 = 0x0b, .set2 = 0x45, .set3 = 0x45},
	[KEY_MINUS] = {.set1 = 0x0c, .set2 = 0x4e, .set3 = 0x4e},
	[KEY_EQUAL] = {.set1 = 0x0d, .set2 = 0x55, .set3 = 0x55},
	[KEY_BACKSPACE] = {.set1 = 0x0e, .set2 = 0x66, .set3 = 0x66},
	[KEY_TAB] = {.set1 = 0x0f, .set2 = 0x0d, .set3 = 0x0d},
	[KEY_Q] = {.set1 = 0x10, .set2 = 0x15, .set3 = 0x15},
	[KEY_W] = {.set1 = 0x11, .set2 = 0x1d, .set3 = 0x1d},
	[KEY_E] = {.set1 = 0x12, .set2 = 0x24, .set3 = 0x24},
	[KEY_R] = {.set1 = 0x13, .set2 = 0x2d, .set3 = 0x2d},
	[KEY_T] = {.set1 = 0x14, .set2 = 0x2c, .set3 = 0x2c},
	[KEY_Y] = {.set1 = 0x15, .set2 = 0x35, .set3 = 0x35},
	[KEY_U] = {.set1 = 0x16, .set2 = 0x3c, .set3 = 0x3c},
	[KEY_I] = {.set1 = 0x17, .set2 = 0x43, .set3 = 0x43},
	[KEY_O] = {.set1 = 0x18, .set2 = 0x44, .set3 = 0x44},
	[KEY_P] = {.set1 = 0x19, .set2 = 0x4d, .set3 = 0x4d},
	[KEY_LEFTBRACE] = {.set1 = 0x1a, .set2 = 0x54, .set3 = 0x54},
	[KEY_RIGHTBRACE] = {.set1 = 0x1b, .set2 = 0x5b, .set3 = 0x5b},
	[KEY_ENTER] = {.set1 = 0x1c, .set2 = 0x5a, .set3 = 0x5a},
	[KEY_LEFTCTRL] = {.set1 = 0x1d, .set2 = 0x14, .set3 = 0x11},
	[KEY_A] = {.set1 = 0x1e, .set2 = 0x1c, .set3 = 0x1c},
	[KEY_S] = {.set1 = 0x1f, .set2 = 0x1b, .set3 = 0x1b},
	[KEY_D] = {.set1 = 0x20, .set2 = 0x23, .set3 = 0x23},
	[KEY_F] = {.set1 = 0x21, .set2 = 0x2b, .set3 = 0x2b},
	[KEY_G] = {.set1 = 0x22, .set2 = 0x34, .set3 = 0x34},
	[KEY_H] = {.set1 = 0x23, .set2 = 0x33, .set3 = 0x33},
	[KEY_J] = {.set1 = 0x24, .set2 = 0x3b, .set3 = 0x3b},
	[KEY_K] = {.set1 = 0x25, .set2 = 0x42, .set3 = 0x42},
	[KEY_L] = {.set1 = 0x26, .set2 = 0x4b, .set3 = 0x4b},
	[KEY_SEMICOLON] = {.set1 = 0x27, .set2 = 0x4c, .set3 = 0x4c},
	[KEY_APOSTROPHE] = {.set1 = 0x28, .set2 = 0x52, .set3 = 0x52},
	[KEY_GRAVE] = {.set1 = 0x29, .set2 = 0x0e, .set3 = 0x0e},
	[KEY_LEFTSHIFT] = {.set1 = 0x2a, .set2 = 0x12, .set3 = 0x12},
	[KEY_BACKSLASH] = {.set1 = 0x2b, .set2 = 0x5d, .set3 = 0x53},
	[KEY_Z] = {.set1 = 0x2c, .set2 = 0x1a, .set3 = 0x1a},
	[KEY_X] = {.set1 = 0x2d, .set2 = 0x22, .set3 = 0x22},
	[KEY_C] = {.set1 = 0x2e, .set2 = 0x21, .set3 = 0x21},
	[KEY_V] = {.set1 = 0x2f, .set2 = 0x2a, .set3 = 0x2a},
	[KEY_B] = {.set1 = 0x30, .set2 = 0x32, .set3 = 0x32},
	[KEY_N] = {.set1 = 0x31, .set2 = 0x31, .set3 = 0x31},
	[KEY_M] = {.set1 = 0x32, .set2 = 0x3a, .set3 = 0x3a},
	[KEY_COMMA] = {.set1 = 0x33, .set2 = 0x41, .set3 = 0x41},
	[KEY_DOT] = {.set1 = 0x34, .set2 = 0x49, .set3 = 0x49},
	[KEY_SLASH] = {.set1 = 0x35, .set2 = 0x4a, .set3 = 0x4a},
	[KEY_RIGHTSHIFT] = {.set1 = 0x36, .set2 = 0x59, .set3 = 0x59},
	[KEY_KPASTERISK] = {.set1 = 0x37, .set2 = 0x7c, .set3 = 0x7e},
	[KEY_LEFTALT] = {.set1 = 0x38, .set2 = 0x11, .set3 = 0x19},
	[KEY_SPACE] = {.set1 = 0x39, .set2 = 0x29, .set3 = 0x29},
	[KEY_CAPSLOCK] = {.set1 = 0x3a, .set2 = 0x58, .set3 = 0x14},
	[KEY_F1] = {.set1 = 0x3b, .set2 = 0x05, .set3 = 0x07},
	[KEY_F2] = {.set1 = 0x3c, .set2 = 0x06, .set3 = 0x0f},
	[KEY_F3] = {.set1 = 0x3d, .set2 = 0x04, .set3 = 0x17},
	[KEY_F4] = {.set1 = 0x3e, .set2 = 0x0c, .set3 = 0x1f},
	[KEY_F5] = {.set1 = 0x3f, .set2 = 0x03, .set3 = 0x27},
	[KEY_F6] = {.set1 = 0x40, .set2 = 0x0b, .set3 = 0x2f},
	[KEY_F7] = {.set1 = 0x41, .set2 = 0x83, .set3 = 0x37},
	[KEY_F8] = {.set1 = 0x42, .set2 = 0x0a, .set3 = 0x3f},
	[KEY_F9] = {.set1 = 0x43, .set2 = 0x01, .set3 = 0x47},
	[KEY_F10] = {.set1 = 0x44, .set2 = 0x09, .set3 = 0x4f},
	[KEY_NUMLOCK] = {.set1 = 0x45, .set2 = 0x77, .set3 = 0x76},
	[KEY_SCROLLLOCK] = {.set1 = 0x46, .set2 = 0x7e, .set3 = 0x5f},
	[KEY_KP7] = {.set1 = 0x47, .set2 = 0x6c, .set3 = 0x6c},
	[KEY_KP8] = {.set1 = 0x48, .set2 = 0x75, .set3 = 0x75},
	[KEY_KP9] = {.set1 = 0x49, .set2 = 0x7d, .set3 = 0x7d},
	[KEY_KPMINUS] = {.set1 = 0x4a, .set2 = 0x7b, .set3 = 0x84},
	[KEY_KP4] = {.set1 = 0x4b, .set2 = 0x6b, .set3 = 0x6b},
	[KEY_KP5] = {.set1 = 0x4c, .set2 = 0x73, .set3 = 0x73},
	[KEY_KP6] = {.set1 = 0x4d, .set2 = 0x74, .set3 = 0x74},
	[KEY_KPPLUS] = {.set1 = 0x4e, .set2 = 0x79, .set3 = 0x7c},
	[KEY_KP1] = {.set1 = 0x4f, .set2 = 0x69, .set3 = 0x69},
	[KEY_KP2] = {.set1 = 0x50, .set2 = 0x72, .set3 = 0x72},
	[KEY_KP3] = {.set1 = 0x51, .set2 = 0x7a, .set3 = 0x7a},
	[KEY_KP0] = {.set1 = 0x52, .set2 = 0x70, .set3 = 0x70},
	[KEY_KPDOT] = {.set1 = 0x53, .set2 = 0x71, .set3 = 0x71},
	[KEY_ZENKAKUHANKAKU] = {.set1 = 0x76, .set2 = 0x5f},
	[KEY_102ND] = {.set1 = 0x56, .set2 = 0x61, .set3 = 0x13},
	[KEY_F11] = {.set1 = 0x57, .set2 = 0x78, .set3 = 0x56},
	[KEY_F12] = {.set1 = 0x58, .set2 = 0x07, .set3 = 0x5e},
	[KEY_RO] = {.set1 = 0x73, .set2 = 0x51},
	[KEY_KATAKANA] = {.set1 = 0x78, .set2 = 0x63},
	[KEY_HIRAGANA] = {.set1 = 0x77, .set2 = 0x62},
	[KEY_HENKAN] = {.set1 = 0x79, .set2 = 0x64, .set3 = 0x86},
	[KEY_KATAKANAHIRAGANA] = {.set1 = 0x70, .set2 = 0x13, .set3 = 0x87},
	[KEY_MUHENKAN] = {.set1 = 0x7b, .set2 = 0x67, .set3 = 0x85},
	[KEY_KPJPCOMMA] = {.set1 = 0x5c, .set2 = 0x27},
	[KEY_KPENTER] = {.set1 = 0xe01c, .set2 = 0xe05a, .set3 = 0x79},
	[KEY_RIGHTCTRL] = {.set1 = 0xe01d, .set2 = 0xe014, .set3 = 0x58},
	[KEY_KPSLASH] = {.set1 = 0xe035, .set2 = 0xe04a, .set3 = 0x77},
	[KEY_SYSRQ] = {.set3 = 0x57},
	[KEY_RIGHTALT] = {.set1 = 0xe038, .set2 = 0xe011, .set3 = 0x39},
	[KEY_HOME] = {.set1 = 0xe047, .set2 = 0xe06c, .set3 = 0x6e},
	[KEY_UP] = {.set1 = 0xe048, .set2 = 0xe075, .set3 = 0x63},
	[KEY_PAGEUP] = {.set1 = 0xe049, .set2 = 0xe07d, .set3 = 0x6f},
	[KEY_LEFT] = {.set1 = 0xe04b, .set2 = 0xe06b, .set3 = 0x61},
	[KEY_RIGHT] = {.set1 = 0xe04d, .set2 = 0xe074, .set3 = 0x6a},
	[KEY_END] = {.set1 = 0xe04f, .set2 = 0xe069, .set3 = 0x65},
	[KEY_DOWN] = {.set1 = 0xe050, .set2 = 0xe072, .set3 = 0x60},
	[KEY_PAGEDOWN] = {.set1 = 0xe051, .set2 = 0xe07a, .set3 = 0x6d},
	[KEY_INSERT] = {.set1 = 0xe052, .set2 = 0xe070, .set3 = 0x67},
	[KEY_DELETE] = {.set1 = 0xe053, .set2 = 0xe071, .set3 = 0x64},
	[KEY_MACRO] = {.set1 = 0xe06f, .set2 = 0xe06f, .set3 = 0x8e},
	[KEY_MUTE] = {.set1 = 0xe020, .set2 = 0xe023, .set3 = 0x50},
	[KEY_VOLUMEDOWN] = {.set1 = 0xe02e, .set2 = 0xe021, .set3 = 0x51},
	[KEY_VOLUMEUP] = {.set1 = 0xe030, .set2 = 0xe032, .set3 = 0x95},
	[KEY_POWER] = {.set1 = 0xe05e, .set2 = 0xe037},
	[KEY_KPEQUAL] = {.set1 = 0x59, .set2 = 0x0f},
	[KEY_KPPLUSMINUS] = {.set1 = 0xe04e, .set2 = 0xe079},
	[KEY_PAUSE] = {.set3 = 0x62},
	[KEY_KPCOMMA] = {.set1 = 0x7e, .set2 = 0x6d},
	[KEY_YEN] = {.set1 = 0x7d, .set2 = 0x6a},
	[KEY_LEFTMETA] = {.set1 = 0xe05b, .set2 = 0xe01f, .set3 = 0x40},
	[KEY_RIGHTMETA] = {.set1 = 0xe05c, .set2 = 0xe027, .set3 = 0x48},
	[KEY_COMPOSE] = {.set1 = 0xe05d, .set2 = 0xe02f, .set3 = 0x8d},
	[KEY_STOP] = {.set1 = 0xe068, .set2 = 0xe028, .set3 = 0x0a},
	[KEY_AGAIN] = {.set3 = 0x0b},
	[KEY_PROPS] = {.set3 = 0x0c},
	[KEY_UNDO] = {.set3 = 0x10},
	[KEY_COPY] = {.set3 = 0x18},
	[KEY_OPEN] = {.set3 = 0x20},
	[KEY_PASTE] = {.set3 = 0x28},
	[KEY_FIND] = {.set3 = 0x30},
	[KEY_CUT] = {.set3 = 0x38},
	[KEY_HELP] = {.set3 = 0x09},
	[KEY_MENU] = {.set3 = 0x91},
	[KEY_CALC] = {.set1 = 0xe021, .set2 = 0xe02b, .set3 = 0x99},
	[KEY_SLEEP] = {.set1 = 0xe05f, .set2 = 0xe03f},
	[KEY_WAKEUP] = {.set1 = 0xe063, .set2 = 0xe05e},
	[KEY_XFER] = {.set3 = 0xa2},
	[KEY_PROG1] = {.set3 = 0xa0},
	[KEY_PROG2] = {.set3 = 0xa1},
	[KEY_COFFEE] = {.set3 = 0x96},
	[KEY_CYCLEWINDOWS] = {.set3 = 0x9b},
	[KEY_MAIL] = {.set1 = 0xe06c, .set2 = 0xe048},
	[KEY_BOOKMARKS] = {.set1 = 0xe066, .set2 = 0xe018},
	[KEY_COMPUTER] = {.set1 = 0xe06b, .set2 = 0xe040},
	[KEY_BACK] = {.set1 = 0xe06a, .set2 = 0xe038},
	[KEY_FORWARD] = {.set1 = 0xe069, .set2 = 0xe030},
	[KEY_CLOSECD] = {.set3 = 0x9a},
	[KEY_NEXTSONG] = {.set1 = 0xe019, .set2 = 0xe04d, .set3 = 0x93},
	[KEY_PLAYPAUSE] = {.set1 = 0xe022, .set2 = 0xe034},
	[KEY_PREVIOUSSONG] = {.set1 = 0xe010, .set2 = 0xe015, .set3 = 0x94},
	[KEY_STOPCD] = {.set1 = 0xe024, .set2 = 0xe03b, .set3 = 0x98},
	[KEY_RECORD] = {.set3 = 0x9e},
	[KEY_REWIND] = {.set3 = 0x9f},
	[KEY_HOMEPAGE] = {.set1 = 0xe032, .set2 = 0xe03a, .set3 = 0x92},
	[KEY_REFRESH] = {.set1 = 0xe067, .set2 = 0xe020},
	[KEY_F13] = {.set1 = 0x5d, .set2 = 0x2f, .set3 = 0x7f},
	[KEY_F14] = {.set1 = 0x5e, .set2 = 0x37, .set3 = 0x80},
	[KEY_F15] = {.set1 = 0x5f, .set2 = 0x3f, .set3 = 0x81},
	[KEY_F16] = {.set3 = 0x82},
	[KEY_F17] = {.set3 = 0x83},
	[KEY_F23] = {.set1 = 0x6e, .set2 = 0x57},
	[KEY_SEARCH] = {.set1 = 0xe065, .set2 = 0xe010},
	[KEY_MEDIA] = {.set1 = 0xe06d, .set2 = 0xe050},
};

/* The 8042's translation of set 2 codes below 0x80; above, bytes pass
 * unchanged except 0x83 (F7) and 0x84 (Alt+SysRq). */
static const uint8_t ps2_xlate_low[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29,
	0x59, 0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11,
	0x03, 0x5b, 0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14,
	0x13, 0x06, 0x5d, 0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24,
	0x16, 0x08, 0x09, 0x5f, 0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35,
	0x26, 0x27, 0x19, 0x0c, 0x61, 0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36,
	0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76, 0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c,
	0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f, 0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
	0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

uint8_t ps2_keymap_xlate(uint8_t b)
{
	if (b < 0x80)
		return ps2_xlate_low[b];
	if (b == 0x83)
		return 0x41;
	if (b == 0x84)
		return 0x54;
	return b;
}

static int ps2_keymap_seq(uint8_t out[PS2_KEY_MAX_BYTES], const uint8_t *seq, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = seq[i];
	return n;
}

/* Pause sends its make and break at once on the press, and nothing on the
 * release; the PrintScreen key is a fake left shift plus E0 37 / E0 7C (the
 * Alt and Ctrl variants real keyboards send are not modelled: Linux maps
 * E0 7C to KEY_SYSRQ either way, which Alt+SysRq needs). */
static int ps2_keymap_special(uint8_t set, uint16_t code, bool down, uint8_t out[PS2_KEY_MAX_BYTES])
{
	static const uint8_t pause1[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
	static const uint8_t pause2[] = {0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77};
	static const uint8_t prt1_make[] = {0xe0, 0x2a, 0xe0, 0x37};
	static const uint8_t prt1_break[] = {0xe0, 0xb7, 0xe0, 0xaa};
	static const uint8_t prt2_make[] = {0xe0, 0x12, 0xe0, 0x7c};
	static const uint8_t prt2_break[] = {0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12};

	if (code == KEY_HANJA || code == KEY_HANGEUL) {
		if (!down)
			return 0;
		out[0] = code == KEY_HANJA ? 0xf1 : 0xf2;
		return 1;
	}
	if (set == 3)
		return -ENOENT;
	if (code == KEY_PAUSE) {
		if (!down)
			return 0;
		if (set == 1)
			return ps2_keymap_seq(out, pause1, sizeof(pause1));
		return ps2_keymap_seq(out, pause2, sizeof(pause2));
	}
	if (code == KEY_SYSRQ) {
		if (set == 1)
			return down ? ps2_keymap_seq(out, prt1_make, sizeof(prt1_make))
				    : ps2_keymap_seq(out, prt1_break, sizeof(prt1_break));
		return down ? ps2_keymap_seq(out, prt2_make, sizeof(prt2_make))
			    : ps2_keymap_seq(out, prt2_break, sizeof(prt2_break));
	}
	return -ENOENT;
}

int ps2_keymap_encode(uint8_t set, uint16_t code, bool down, uint8_t out[PS2_KEY_MAX_BYTES])
{
	const struct ps2_keymap_entry *e;
	uint16_t make;
	int n = 0, r;

	if (set < 1 || set > 3 || code >= sizeof(ps2_keymap) / sizeof(ps2_keymap[0]))
		return -EINVAL;
	r = ps2_keymap_special(set, code, down, out);
	if (r != -ENOENT)
		return r;
	e = &ps2_keymap[code];
	make = set == 1 ? e->set1 : set == 2 ? e->set2 : e->set3;
	if (!make)
		return -EINVAL;
	if (make >> 8)
		out[n++] = 0xe0;
	if (set == 1) {
		out[n++] = (uint8_t)(make | (down ? 0 : 0x80));
		return n;
	}
	if (!down)
		out[n++] = 0xf0;
	out[n++] = (uint8_t)make;
	return n;
}
