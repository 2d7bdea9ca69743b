/* Injected input events as the broker (or cellvm run) hands them to a VM's
 * input process: fixed 16-byte little-endian records packed in the `events`
 * bytes of device.proto's InputInject. The broker turns a client's JSON
 * (keys by code or name, text through a layout, modifiers) into these
 * primitive events; the input process checks every record again (the
 * control channel is untrusted there) and turns each into one guest-visible
 * report on the chosen backend. */
#pragma once
#include <stdint.h>

/* struct cellvm_input_event.kind */
enum cellvm_input_kind {
	CELLVM_INPUT_KEY_DOWN = 1,   /* code: Linux key code (KEY_*), 1..CELLVM_INPUT_KEY_MAX */
	CELLVM_INPUT_KEY_UP = 2,     /* code: as KEY_DOWN */
	CELLVM_INPUT_REL_MOVE = 3,   /* a, b: dx, dy (pointer units, +y down) */
	CELLVM_INPUT_ABS_MOVE = 4,   /* a, b: x, y in 0..CELLVM_INPUT_ABS_MAX */
	CELLVM_INPUT_BTN_DOWN = 5,   /* code: CELLVM_INPUT_BTN_* */
	CELLVM_INPUT_BTN_UP = 6,     /* code: CELLVM_INPUT_BTN_* */
	CELLVM_INPUT_WHEEL = 7,	     /* a: vertical detents (+ away from the user), b: horizontal */
	CELLVM_INPUT_TOUCH_DOWN = 8, /* slot; a, b: x, y in 0..CELLVM_INPUT_ABS_MAX */
	CELLVM_INPUT_TOUCH_MOVE = 9, /* slot; a, b: x, y */
	CELLVM_INPUT_TOUCH_UP = 10,  /* slot */
	CELLVM_INPUT_KIND_MAX = 10,
};

/* struct cellvm_input_event.backend and InputInject.backend */
enum cellvm_input_backend {
	CELLVM_INPUT_BACKEND_ACTIVE = 0, /* whatever the VM's active backend is */
	CELLVM_INPUT_BACKEND_PS2 = 1,
	CELLVM_INPUT_BACKEND_VIRTIO = 2,
	CELLVM_INPUT_BACKEND_USB = 3, /* xHCI HID (not built yet) */
	CELLVM_INPUT_BACKEND_MAX = 3,
};

/* Mouse buttons, as the API names them (left, right, middle, side, extra). */
enum cellvm_input_button {
	CELLVM_INPUT_BTN_LEFT = 0,
	CELLVM_INPUT_BTN_RIGHT = 1,
	CELLVM_INPUT_BTN_MIDDLE = 2,
	CELLVM_INPUT_BTN_SIDE = 3,
	CELLVM_INPUT_BTN_EXTRA = 4,
	CELLVM_INPUT_BTN_COUNT = 5,
};

#define CELLVM_INPUT_KEY_MAX	 0x2ff /* Linux KEY_MAX */
#define CELLVM_INPUT_ABS_MAX	 32767 /* absolute axes run 0..32767 */
#define CELLVM_INPUT_REL_MAX	 32767 /* |dx|, |dy| per event */
#define CELLVM_INPUT_WHEEL_MAX	 127   /* |detents| per event */
#define CELLVM_INPUT_TOUCH_SLOTS 10    /* multi-touch slots 0..9 */
#define CELLVM_INPUT_DELAY_MAX	 10000 /* ms before one event */
#define CELLVM_INPUT_MAX_EVENTS	 900   /* per InputInject (16 KiB datagrams) */

struct cellvm_input_event {
	uint8_t kind;	   /* enum cellvm_input_kind */
	uint8_t backend;   /* enum cellvm_input_backend; 0: the request's, else the VM's */
	uint16_t code;	   /* key code, button, or touch slot */
	int32_t a;	   /* dx, x, wheel */
	int32_t b;	   /* dy, y, horizontal wheel */
	uint16_t delay_ms; /* wait this long before the event (0..CELLVM_INPUT_DELAY_MAX) */
	uint16_t reserved; /* 0 */
};
_Static_assert(sizeof(struct cellvm_input_event) == 16, "16-byte records");
