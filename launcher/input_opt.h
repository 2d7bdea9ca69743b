/* A VM's input devices: --input of cellvm run and the input_config of a
 * cellvm-broker VM definition (broker_vmdef.c builds the same struct):
 * which backends exist (ps2: the i8042 with keyboard and mouse; virtio:
 * a virtio-input keyboard, mouse, tablet and multi-touch screen), which is
 * active first, and the identity of each virtio-input device. User input,
 * checked here; the PS/2 port link is made by input_opt_open. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"

#define INPUT_OPT_VIRTIO_FNS 4 /* keyboard, mouse, tablet, multi-touch */
#define INPUT_OPT_NAME_MAX   63
#define INPUT_OPT_SERIAL_MAX 31

struct input_opt {
	bool ps2;
	bool virtio;
	uint32_t default_backend; /* enum cellvm_input_backend */
	char names[INPUT_OPT_VIRTIO_FNS][INPUT_OPT_NAME_MAX + 1];
	char serials[INPUT_OPT_VIRTIO_FNS][INPUT_OPT_SERIAL_MAX + 1];
	uint32_t vendor[INPUT_OPT_VIRTIO_FNS], product[INPUT_OPT_VIRTIO_FNS];
	/* The PS/2 port link: [0] the core's end, [1] the device's (-1: none). */
	int ps2_fds[2];
	/* Filled by input_opt_open(); points into this struct. */
	Cellvm__Device__InputConfig cfg;
	Cellvm__Device__VirtioInputConfig vcfg[INPUT_OPT_VIRTIO_FNS];
	Cellvm__Device__VirtioInputConfig *pvcfg[INPUT_OPT_VIRTIO_FNS];
};

/* Parse "ps2,virtio[,default=ps2|virtio]" into *ret. The default backend
 * is the first one named. Returns 0 or -EINVAL with a message in err. */
int input_opt_parse(const char *s, struct input_opt *ret, char *err, size_t errlen);
/* An empty set of options (no backend yet); fds -1. */
void input_opt_init(struct input_opt *o);
/* The backend's name ("ps2", "virtio", "usb"), or NULL. */
const char *input_opt_backend_name(uint32_t backend);
/* The backend a name stands for, or -EINVAL. */
int input_opt_backend(const char *name);
/* How many virtio-input functions (links) the device has. */
uint32_t input_opt_nvirtio(const struct input_opt *o);
/* Make the PS/2 port link and fill cfg. Returns 0 or -errno. */
int input_opt_open(struct input_opt *o, char *err, size_t errlen);
void input_opt_close(struct input_opt *o);
