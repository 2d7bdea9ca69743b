/* Linux key names and keyboard layouts for the inject-input API: KEY_* names
 * to codes and back, and what a character needs on the "us", "de" and "fr"
 * layouts. Pure lookups over constant tables, linked by the broker and
 * cellvm run; every string returned is static. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* input_keys_layout's positive return: the key is a dead key, so the
 * character itself comes out only when a space follows. */
#define INPUT_KEYS_DEAD 1

/* The code of a KEY_* name as Linux spells it ("KEY_ENTER" -> 28); aliases
 * such as KEY_SCREENLOCK are known. -ENOENT if unknown. */
int input_keys_code(const char *name);

/* The name of a key code (the primary one where Linux has aliases), or NULL
 * if Linux defines no KEY_* name for it. */
const char *input_keys_name(uint16_t code);

/* Whether a layout name is one input_keys_layout knows. */
bool input_keys_layout_valid(const char *layout);

/* What typing a code point takes on a layout: the key, and whether Shift
 * (KEY_LEFTSHIFT) and AltGr (KEY_RIGHTALT) are held. Returns 0, or
 * INPUT_KEYS_DEAD when the key is a dead key (type it, then a space);
 * -ENOENT for an unknown layout, -ERANGE when the character is not typeable. */
int input_keys_layout(const char *layout, uint32_t codepoint, uint16_t *ret_code, bool *ret_shift,
		      bool *ret_altgr);
