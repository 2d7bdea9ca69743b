/* The input options; see input_opt.h. Runs in cellvm run and cellvm-broker
 * (root): the strings are the user's, checked before anything starts. */
#include "launcher/input_opt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/input_event.h"

static const char *const input_opt_kind_names[INPUT_OPT_VIRTIO_FNS] = {
	"cellvm virtio keyboard", "cellvm virtio mouse", "cellvm virtio tablet",
	"cellvm virtio touchscreen"};

void input_opt_init(struct input_opt *o)
{
	memset(o, 0, sizeof(*o));
	o->ps2_fds[0] = o->ps2_fds[1] = -1;
	o->xhci_fds[0] = o->xhci_fds[1] = -1;
	for (int i = 0; i < INPUT_OPT_VIRTIO_FNS; i++)
		snprintf(o->names[i], sizeof(o->names[i]), "%s", input_opt_kind_names[i]);
}

const char *input_opt_backend_name(uint32_t backend)
{
	switch (backend) {
	case CELLVM_INPUT_BACKEND_PS2: return "ps2";
	case CELLVM_INPUT_BACKEND_VIRTIO: return "virtio";
	case CELLVM_INPUT_BACKEND_USB: return "usb";
	default: return NULL;
	}
}

int input_opt_backend(const char *name)
{
	for (uint32_t b = 1; b <= CELLVM_INPUT_BACKEND_MAX; b++)
		if (strcmp(name, input_opt_backend_name(b)) == 0)
			return (int)b;
	return -EINVAL;
}

/* The on flag of backend b. */
static bool *input_opt_on(struct input_opt *o, int b)
{
	switch (b) {
	case CELLVM_INPUT_BACKEND_PS2: return &o->ps2;
	case CELLVM_INPUT_BACKEND_VIRTIO: return &o->virtio;
	case CELLVM_INPUT_BACKEND_USB: return &o->usb;
	default: return NULL;
	}
}

int input_opt_parse(const char *s, struct input_opt *ret, char *err, size_t errlen)
{
	char buf[128], *save = NULL;
	int dflt = 0, b;

	/* UNTRUSTED(user): a short comma list. */
	input_opt_init(ret);
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "--input: too long");
		return -EINVAL;
	}
	strcpy(buf, s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "default=", 8) == 0) {
			dflt = input_opt_backend(t + 8);
			if (dflt < 0) {
				snprintf(err, errlen,
					 "--input: default=%s is not ps2, virtio or usb", t + 8);
				return -EINVAL;
			}
			continue;
		}
		b = input_opt_backend(t);
		if (b < 0) {
			snprintf(err, errlen, "--input: unknown '%s' (ps2, virtio, usb, default=)",
				 t);
			return -EINVAL;
		}
		if (*input_opt_on(ret, b)) {
			snprintf(err, errlen, "--input: %s named twice", t);
			return -EINVAL;
		}
		*input_opt_on(ret, b) = true;
		if (!ret->default_backend)
			ret->default_backend = (uint32_t)b;
	}
	if (!ret->ps2 && !ret->virtio && !ret->usb) {
		snprintf(err, errlen, "--input: name ps2, virtio, usb or several");
		return -EINVAL;
	}
	if (dflt) {
		if (!*input_opt_on(ret, dflt)) {
			snprintf(err, errlen, "--input: the default backend is not one of them");
			return -EINVAL;
		}
		ret->default_backend = (uint32_t)dflt;
	}
	return 0;
}

static const char *const input_opt_usb_kinds[INPUT_OPT_USB_FNS] = {"keyboard", "mouse", "tablet"};

int input_opt_usb_kind(const char *name)
{
	for (int k = 0; k < INPUT_OPT_USB_FNS; k++)
		if (strcmp(name, input_opt_usb_kinds[k]) == 0)
			return k;
	return -EINVAL;
}

const char *input_opt_usb_kind_name(uint32_t kind)
{
	return kind < INPUT_OPT_USB_FNS ? input_opt_usb_kinds[kind] : NULL;
}

/* A number in [min, max], decimal or 0x hex, digits only (no sign, no
 * spaces). */
static int input_opt_usb_number(const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		v = v * base + d;
		if (v > max)
			return -ERANGE;
	}
	if (v < min)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int input_opt_usb_set(struct input_opt_usb *u, const char *key, const char *val, char *err,
		      size_t errlen)
{
	uint32_t *num = NULL, max = 0xffff, min = 0;
	char *str = NULL;

	/* UNTRUSTED(user): both key and value. */
	if (strcmp(key, "vendor") == 0)
		num = &u->vendor;
	else if (strcmp(key, "product") == 0)
		num = &u->product;
	else if (strcmp(key, "release") == 0)
		num = &u->release;
	else if (strcmp(key, "interval") == 0) {
		num = &u->interval_ms;
		min = 1;
		max = 255;
	} else if (strcmp(key, "manufacturer") == 0)
		str = u->manufacturer;
	else if (strcmp(key, "name") == 0)
		str = u->product_name;
	else if (strcmp(key, "serial") == 0)
		str = u->serial;
	else
		return -ENOENT;
	if (num) {
		if (input_opt_usb_number(val, min, max, num) < 0) {
			if (max == 255)
				snprintf(err, errlen, "'%.16s' is not a number from %u to %u", val,
					 min, max);
			else
				snprintf(err, errlen,
					 "'%.16s' is not a number from %u to %#x (decimal or 0x "
					 "hex)",
					 val, min, max);
			return -EINVAL;
		}
		return 0;
	}
	if (strlen(val) > INPUT_OPT_USB_STR_MAX) {
		snprintf(err, errlen, "longer than %d bytes", INPUT_OPT_USB_STR_MAX);
		return -EINVAL;
	}
	/* A USB string descriptor is UTF-16; printable ASCII maps one to one. */
	for (const char *c = val; *c; c++)
		if (*c < 0x20 || *c > 0x7e) {
			snprintf(err, errlen, "byte %#x is not printable ASCII", (unsigned char)*c);
			return -EINVAL;
		}
	strcpy(str, val);
	return 0;
}

int input_opt_parse_usb(const char *s, struct input_opt *o, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *t, why[128];
	struct input_opt_usb u = {0};
	int k, r;

	/* UNTRUSTED(user): KIND then key=value pairs. */
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "--usb-device: too long");
		return -EINVAL;
	}
	strcpy(buf, s);
	t = strtok_r(buf, ",", &save);
	k = t ? input_opt_usb_kind(t) : -EINVAL;
	if (k < 0) {
		snprintf(err, errlen, "--usb-device: '%.32s' is not keyboard, mouse or tablet",
			 t ? t : "");
		return -EINVAL;
	}
	if (o->usb_ids[k].given) {
		snprintf(err, errlen, "--usb-device: %s given twice", t);
		return -EINVAL;
	}
	while ((t = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(t, '=');

		if (!eq) {
			snprintf(err, errlen, "--usb-device: '%.32s' is not key=value", t);
			return -EINVAL;
		}
		*eq = 0;
		r = input_opt_usb_set(&u, t, eq + 1, why, sizeof(why));
		if (r == -ENOENT) {
			snprintf(err, errlen,
				 "--usb-device: unknown key '%.32s' (vendor, product, release, "
				 "manufacturer, name, serial, interval)",
				 t);
			return -EINVAL;
		}
		if (r < 0) {
			snprintf(err, errlen, "--usb-device: %s: %s", t, why);
			return -EINVAL;
		}
	}
	u.given = true;
	o->usb_ids[k] = u;
	return 0;
}

uint32_t input_opt_nvirtio(const struct input_opt *o)
{
	return o->virtio ? INPUT_OPT_VIRTIO_FNS : 0;
}

int input_opt_open(struct input_opt *o, char *err, size_t errlen)
{
	cellvm__device__input_config__init(&o->cfg);
	if (o->ps2 && o->ps2_fds[0] < 0 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, o->ps2_fds) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -errno;
	}
	if (o->usb && o->xhci_fds[0] < 0 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, o->xhci_fds) < 0) {
		int e = errno;

		snprintf(err, errlen, "socketpair: %s", strerror(e));
		input_opt_close(o);
		return -e;
	}
	o->cfg.has_ps2 = o->ps2;
	o->cfg.default_backend = o->default_backend;
	for (uint32_t i = 0; i < input_opt_nvirtio(o); i++) {
		cellvm__device__virtio_input_config__init(&o->vcfg[i]);
		o->vcfg[i].kind = i;
		o->vcfg[i].name = o->names[i];
		o->vcfg[i].serial = o->serials[i];
		o->vcfg[i].vendor = o->vendor[i];
		o->vcfg[i].product = o->product[i];
		o->pvcfg[i] = &o->vcfg[i];
	}
	o->cfg.n_virtio = input_opt_nvirtio(o);
	o->cfg.virtio = o->pvcfg;
	for (uint32_t i = 0; o->usb && i < INPUT_OPT_USB_FNS; i++) {
		struct input_opt_usb *u = &o->usb_ids[i];

		cellvm__device__usb_hid_config__init(&o->ucfg[i]);
		o->ucfg[i].kind = i;
		o->ucfg[i].vendor = u->vendor;
		o->ucfg[i].product = u->product;
		o->ucfg[i].release = u->release;
		o->ucfg[i].manufacturer = u->manufacturer;
		o->ucfg[i].product_name = u->product_name;
		o->ucfg[i].serial = u->serial;
		o->ucfg[i].interval_ms = u->interval_ms;
		o->pucfg[i] = &o->ucfg[i];
	}
	o->cfg.has_usb = o->usb;
	o->cfg.n_usb = o->usb ? INPUT_OPT_USB_FNS : 0;
	o->cfg.usb = o->pucfg;
	return 0;
}

void input_opt_close(struct input_opt *o)
{
	for (int i = 0; i < 2; i++) {
		if (o->ps2_fds[i] >= 0)
			close(o->ps2_fds[i]);
		o->ps2_fds[i] = -1;
		if (o->xhci_fds[i] >= 0)
			close(o->xhci_fds[i]);
		o->xhci_fds[i] = -1;
	}
}
