/* Linux key codes to the scan codes of sets 1, 2 and 3 of an AT keyboard, and
 * the i8042's set 2 -> set 1 translation. Pure tables used by the input device
 * process's PS/2 model (ps2.c); nothing here sees guest bytes. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* The longest sequence one key event makes: Pause's make in set 2. */
#define PS2_KEY_MAX_BYTES 8

/* Writes the bytes a keyboard in scan code set `set` (1, 2 or 3) sends for
 * `code` going down or up into out[]. Returns how many (0 for the release of
 * a key that has none: Pause in sets 1/2, Hanja, Hangeul), or -EINVAL when
 * the key has no scan code in that set. */
int ps2_keymap_encode(uint8_t set, uint16_t code, bool down, uint8_t out[PS2_KEY_MAX_BYTES]);

/* What an i8042 with translation on (CTR bit 6) hands the host for a byte the
 * keyboard sent (the 0xF0 break prefix is handled by the caller). */
uint8_t ps2_keymap_xlate(uint8_t set2_byte);
