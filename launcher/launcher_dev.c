/* Device bring-up; see launcher_dev.h. One row per device kind; the rest is
 * the same for every kind. Runs in the privileged process (cellvm run,
 * cellvm-broker). */
#include "launcher/launcher_dev.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "common/gmem.h"
#include "launcher/net_tap.h"

struct launcher_dev_ops {
	const char *name; /* cellvm-dev-NAME; CoreDevice.kind */
	const char *(*transport)(const struct launcher_dev *d);
	int (*open)(struct launcher_dev *d, char *err, size_t errlen);
	/* Whether a failure r of open is the user's rather than the host's. */
	bool (*bad_input)(int r);
	/* The backend fds and the kind's configuration in DeviceSetup. */
	void (*setup)(const struct launcher_dev *d, struct device_config *dc);
	void (*close)(struct launcher_dev *d);
};

/* ---- blk ---- */

static const char *launcher_dev_blk_transport(const struct launcher_dev *d)
{
	return d->disk->transport;
}

static int launcher_dev_blk_open(struct launcher_dev *d, char *err, size_t errlen)
{
	return disk_opt_open(d->disk, err, errlen);
}

static bool launcher_dev_blk_bad_input(int r)
{
	/* The image the user named cannot be had (missing, no access, not a
	 * file, read-only, no O_DIRECT there); only a host out of fds or memory
	 * is not the user's doing. */
	return r != -EMFILE && r != -ENFILE && r != -ENOMEM;
}

static void launcher_dev_blk_setup(const struct launcher_dev *d, struct device_config *dc)
{
	dc->backend_fds[0] = d->disk->fd;
	dc->nbackend = 1;
	dc->blk = &d->disk->blk;
}

static void launcher_dev_blk_close(struct launcher_dev *d)
{
	disk_opt_close(d->disk);
}

/* ---- net ---- */

static const char *launcher_dev_net_transport(const struct launcher_dev *d)
{
	return d->net->transport;
}

static int launcher_dev_net_open(struct launcher_dev *d, char *err, size_t errlen)
{
	return net_tap_open_opt(d->net, err, errlen);
}

static bool launcher_dev_net_bad_input(int r)
{
	/* A tap that cannot be had (in use, not a tap, the other queue mode, a
	 * multi-queue tap anyone could attach to) is the user's choice; no tun
	 * driver or no privilege is the host's. */
	return r == -EINVAL || r == -EBUSY || r == -EACCES;
}

static void launcher_dev_net_setup(const struct launcher_dev *d, struct device_config *dc)
{
	for (size_t q = 0; q < d->net->nfds; q++)
		dc->backend_fds[q] = d->net->fds[q];
	dc->nbackend = d->net->nfds;
	dc->net = &d->net->net;
}

static void launcher_dev_net_close(struct launcher_dev *d)
{
	net_tap_close_opt(d->net);
}

/* ---- input ---- */

static const char *launcher_dev_input_transport(const struct launcher_dev *d)
{
	(void)d;
	return "pci";
}

static int launcher_dev_input_open(struct launcher_dev *d, char *err, size_t errlen)
{
	return input_opt_open(d->input, err, errlen);
}

static bool launcher_dev_input_bad_input(int r)
{
	(void)r;
	return false; /* only a socketpair can fail: the host's */
}

static void launcher_dev_input_setup(const struct launcher_dev *d, struct device_config *dc)
{
	uint32_t nv = input_opt_nvirtio(d->input);

	dc->nbackend = 0;
	if (d->input->ps2)
		dc->backend_fds[dc->nbackend++] = d->input->ps2_fds[1];
	if (d->input->usb)
		dc->backend_fds[dc->nbackend++] = d->input->xhci_fds[1];
	dc->input = &d->input->cfg;
	dc->no_link = nv == 0;
	dc->extra_links = nv ? nv - 1 : 0;
}

static void launcher_dev_input_close(struct launcher_dev *d)
{
	input_opt_close(d->input);
}

/* ---- gpu ---- */

static const char *launcher_dev_gpu_transport(const struct launcher_dev *d)
{
	(void)d;
	return "pci";
}

static int launcher_dev_gpu_open(struct launcher_dev *d, char *err, size_t errlen)
{
	/* Host presentation takes a host device (and its display) for the VM:
	 * for cellvm run, whose user is root here anyway, never for a
	 * broker's VM (a jail), whose definition is a tenant's. */
	if (d->jail && d->gpu->present_path[0]) {
		snprintf(err, errlen,
			 "present=%s: host presentation is for cellvm run only, not for "
			 "a broker's VMs",
			 d->gpu->present_path);
		return -EPERM;
	}
	return gpu_opt_open(d->gpu, err, errlen);
}

static bool launcher_dev_gpu_bad_input(int r)
{
	/* The options were checked; what can still fail is the present= node
	 * the user named (missing, no access, not a DRM device) or the host's
	 * memfd (out of fds or memory). */
	return r != -EMFILE && r != -ENFILE && r != -ENOMEM;
}

static void launcher_dev_gpu_setup(const struct launcher_dev *d, struct device_config *dc)
{
	/* The ring, then the DRM node to present on, if any (at
	 * GpuConfig.present_fd_index); readers bring their eventfds later
	 * (CaptureSubscribe). */
	dc->backend_fds[0] = d->gpu->ring_fd;
	dc->nbackend = 1;
	if (d->gpu->present_fd >= 0) {
		assert(d->gpu->cfg.present_fd_index == GPU_OPT_PRESENT_INDEX);
		dc->backend_fds[dc->nbackend++] = d->gpu->present_fd;
	}
	dc->gpu = &d->gpu->cfg;
}

static void launcher_dev_gpu_close(struct launcher_dev *d)
{
	gpu_opt_close(d->gpu);
}

/* ---- snd ---- */

static const char *launcher_dev_snd_transport(const struct launcher_dev *d)
{
	(void)d;
	return "pci";
}

static int launcher_dev_snd_open(struct launcher_dev *d, char *err, size_t errlen)
{
	return snd_opt_open(d->snd, err, errlen);
}

static bool launcher_dev_snd_bad_input(int r)
{
	/* The options were checked; what can still fail is the WAV files the
	 * user named (missing, no access, not a file, not a WAV we read) or
	 * the host's memfd (out of fds or memory). */
	return r != -EMFILE && r != -ENFILE && r != -ENOMEM;
}

static void launcher_dev_snd_setup(const struct launcher_dev *d, struct device_config *dc)
{
	/* The ring, the WAV sink, the WAV source, each when there is one, at
	 * the indices snd_opt_open wrote into SndConfig; readers bring their
	 * eventfds later (CaptureSubscribe). */
	dc->nbackend = 0;
	if (d->snd->ring_fd >= 0)
		dc->backend_fds[dc->nbackend++] = d->snd->ring_fd;
	if (d->snd->sink_fd >= 0) {
		assert(d->snd->cfg.wav_sink_fd_index == dc->nbackend);
		dc->backend_fds[dc->nbackend++] = d->snd->sink_fd;
	}
	if (d->snd->source_fd >= 0) {
		assert(d->snd->cfg.wav_source_fd_index == dc->nbackend);
		dc->backend_fds[dc->nbackend++] = d->snd->source_fd;
	}
	dc->snd = &d->snd->cfg;
}

static void launcher_dev_snd_close(struct launcher_dev *d)
{
	snd_opt_close(d->snd);
}

static const struct launcher_dev_ops launcher_dev_kinds[] = {
	[LAUNCHER_DEV_BLK] = {"blk", launcher_dev_blk_transport, launcher_dev_blk_open,
			      launcher_dev_blk_bad_input, launcher_dev_blk_setup,
			      launcher_dev_blk_close},
	[LAUNCHER_DEV_NET] = {"net", launcher_dev_net_transport, launcher_dev_net_open,
			      launcher_dev_net_bad_input, launcher_dev_net_setup,
			      launcher_dev_net_close},
	[LAUNCHER_DEV_INPUT] = {"input", launcher_dev_input_transport, launcher_dev_input_open,
				launcher_dev_input_bad_input, launcher_dev_input_setup,
				launcher_dev_input_close},
	[LAUNCHER_DEV_GPU] = {"gpu", launcher_dev_gpu_transport, launcher_dev_gpu_open,
			      launcher_dev_gpu_bad_input, launcher_dev_gpu_setup,
			      launcher_dev_gpu_close},
	[LAUNCHER_DEV_SND] = {"snd", launcher_dev_snd_transport, launcher_dev_snd_open,
			      launcher_dev_snd_bad_input, launcher_dev_snd_setup,
			      launcher_dev_snd_close},
};

/* ---- every kind ---- */

static const struct launcher_dev_ops *launcher_dev_ops(const struct launcher_dev *d)
{
	assert((size_t)d->kind < sizeof(launcher_dev_kinds) / sizeof(launcher_dev_kinds[0]));
	return &launcher_dev_kinds[d->kind];
}

const char *launcher_dev_name(const struct launcher_dev *d)
{
	return launcher_dev_ops(d)->name;
}

const char *launcher_dev_transport(const struct launcher_dev *d)
{
	const char *t = launcher_dev_ops(d)->transport(d);

	return t ? t : LAUNCHER_DEV_DEFAULT_TRANSPORT;
}

int launcher_dev_open(struct launcher_dev *d, char *err, size_t errlen, enum vm_exit *ret_exit)
{
	const struct launcher_dev_ops *k = launcher_dev_ops(d);
	int r = k->open(d, err, errlen);

	if (r < 0)
		*ret_exit = k->bad_input(r) ? VM_EXIT_BAD_INPUT : VM_EXIT_ERROR;
	return r;
}

int launcher_dev_start(const struct launcher_dev *d, int mem_fd, uint64_t mem_size,
		       struct device_proc *ret, char *err, size_t errlen)
{
	const struct launcher_dev_ops *k = launcher_dev_ops(d);
	struct device_config dc = {.kind = k->name,
				   .stats_fd = d->stats_fd,
				   .debug = d->debug,
				   .test_flags = d->test_flags,
				   .jail = d->jail};
	uint64_t low = mem_size < GMEM_MMIO_HOLE_START ? mem_size : GMEM_MMIO_HOLE_START;

	k->setup(d, &dc);
	return launcher_start_device(&dc, mem_fd, mem_size, low, ret, err, errlen);
}

void launcher_dev_close(struct launcher_dev *d)
{
	launcher_dev_ops(d)->close(d);
}

bool launcher_dev_restartable(const struct launcher_dev *d)
{
	return d->kind != LAUNCHER_DEV_INPUT && d->kind != LAUNCHER_DEV_GPU &&
	       d->kind != LAUNCHER_DEV_SND;
}

int launcher_dev_core_entries(const struct launcher_dev *devs, const struct device_proc *procs,
			      size_t n, struct device_proc *out, const char **kinds,
			      const char **transports, size_t max)
{
	const struct launcher_dev *input = NULL;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct device_proc *p = &procs[i];

		if (devs[i].kind == LAUNCHER_DEV_INPUT) {
			if (input || i + 1 != n)
				return -EINVAL; /* one, and last */
			input = &devs[i];
		}
		for (uint32_t l = 0; l < 1 + p->nmore; l++) {
			int fd = l == 0 ? p->link : p->more_links[l - 1];

			if (l == 0 && fd < 0)
				continue; /* no virtio function (PS/2 only) */
			if (k == max)
				return -E2BIG;
			out[k] = *p;
			out[k].link = fd;
			out[k].nmore = 0;
			kinds[k] = launcher_dev_name(&devs[i]);
			transports[k] = launcher_dev_transport(&devs[i]);
			k++;
		}
	}
	if (input && input->input->ps2) {
		if (k == max)
			return -E2BIG;
		out[k] = (struct device_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
		out[k].link = input->input->ps2_fds[0];
		kinds[k] = "input";
		transports[k] = "isa";
		k++;
	}
	if (input && input->input->usb) {
		if (k == max)
			return -E2BIG;
		out[k] = (struct device_proc){.pid = -1, .pidfd = -1, .ctl = -1, .log = -1};
		out[k].link = input->input->xhci_fds[0];
		kinds[k] = "input";
		transports[k] = "xhci";
		k++;
	}
	return (int)k;
}
