/* A VNC client's key and pointer events as cellvm input records: X keysyms
 * through a US layout into Linux KEY_* codes (shift as the client sends it),
 * the pointer's position and button mask into ABS_MOVE or REL_MOVE, button
 * and wheel records. Pure functions over one client's state, so the fuzzer
 * and the tests call them directly. Runs in cellvm-display; the keysyms,
 * masks and positions are untrusted (the client). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/input_event.h"

/* The most records one pointer event makes: a move, three button changes
 * and a wheel record for each of four wheel bits. */
#define DISPLAY_INPUT_MAX_EVENTS 8
#define DISPLAY_INPUT_KEY_WORDS	 ((CELLVM_INPUT_KEY_MAX + 64) / 64)

struct display_input {
	bool absolute;	  /* tablet (ABS_MOVE) or mouse (REL_MOVE) */
	bool have_pos;	  /* a position seen (relative mode needs one to diff) */
	int32_t x, y;	  /* the last position */
	uint32_t buttons; /* RFB mask bits 0..2 held */
	/* The keys this client holds down, released when it goes. */
	uint64_t keys[DISPLAY_INPUT_KEY_WORDS];
};

/* The Linux key code a keysym types on a US keyboard, or 0 for none. */
uint16_t display_input_keysym(uint32_t keysym);

/* A key event: 0 or 1 records into out (a key this client did not press is
 * not released; a repeat of a held key is sent again, as autorepeat). */
size_t display_input_key(struct display_input *in, bool down, uint32_t keysym,
			 struct cellvm_input_event *out);

/* A pointer event at (x, y) in a w x h frame with RFB button mask: up to
 * DISPLAY_INPUT_MAX_EVENTS records into out. */
size_t display_input_pointer(struct display_input *in, uint32_t mask, int32_t x, int32_t y,
			     uint32_t w, uint32_t h, struct cellvm_input_event *out);

/* Releases for everything held (a client that goes): up to max records. */
size_t display_input_release_all(struct display_input *in, struct cellvm_input_event *out,
				 size_t max);
