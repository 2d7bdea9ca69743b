/* Linux key codes to USB HID usages of the Keyboard/Keypad page (0x07), for
 * the input device process's USB keyboard (usb_hid.c). A pure table; key
 * codes come from the broker, nothing here sees guest bytes. */
#pragma once
#include <stdint.h>

/* The usage a keyboard sends for `code` (0xE0..0xE7 for the modifiers, which
 * travel in the report's modifier byte), or 0 when the key has none. */
uint8_t usb_keymap_usage(uint16_t code);
