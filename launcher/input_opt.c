/* The input options; see input_opt.h. Runs in cellvm run and cellvm-broker
 * (root): the string is the user's, checked before anything starts. */
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

int input_opt_parse(const char *s, struct input_opt *ret, char *err, size_t errlen)
{
	char buf[128], *save = NULL;
	int dflt = 0;

	/* UNTRUSTED(user): a short comma list. */
	input_opt_init(ret);
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "--input: too long");
		return -EINVAL;
	}
	strcpy(buf, s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "ps2") == 0 || strcmp(t, "virtio") == 0) {
			bool *on = t[0] == 'p' ? &ret->ps2 : &ret->virtio;
			if (*on) {
				snprintf(err, errlen, "--input: %s named twice", t);
				return -EINVAL;
			}
			*on = true;
			if (!ret->default_backend)
				ret->default_backend = (uint32_t)input_opt_backend(t);
		} else if (strncmp(t, "default=", 8) == 0) {
			dflt = input_opt_backend(t + 8);
			if (dflt < 0 || dflt == CELLVM_INPUT_BACKEND_USB) {
				snprintf(err, errlen, "--input: default=%s is not ps2 or virtio",
					 t + 8);
				return -EINVAL;
			}
		} else if (strcmp(t, "usb") == 0) {
			snprintf(err, errlen, "--input: usb is not built yet (ps2, virtio)");
			return -EINVAL;
		} else {
			snprintf(err, errlen, "--input: unknown '%s' (ps2, virtio, default=)", t);
			return -EINVAL;
		}
	}
	if (!ret->ps2 && !ret->virtio) {
		snprintf(err, errlen, "--input: name ps2, virtio or both");
		return -EINVAL;
	}
	if (dflt) {
		if ((dflt == CELLVM_INPUT_BACKEND_PS2 && !ret->ps2) ||
		    (dflt == CELLVM_INPUT_BACKEND_VIRTIO && !ret->virtio)) {
			snprintf(err, errlen, "--input: the default backend is not one of them");
			return -EINVAL;
		}
		ret->default_backend = (uint32_t)dflt;
	}
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
	return 0;
}

void input_opt_close(struct input_opt *o)
{
	for (int i = 0; i < 2; i++) {
		if (o->ps2_fds[i] >= 0)
			close(o->ps2_fds[i]);
		o->ps2_fds[i] = -1;
	}
}
