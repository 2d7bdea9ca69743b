/* cellvm-core: one VM's KVM process. Receives its resources from the launcher
 * on fd 3 (CoreSetup), loads the kernel, runs the vCPUs and reports why the VM
 * stopped. The kernel, initrd and command line are user input; guest register
 * accesses are guest input; the launcher's and the devices' messages are
 * checked by dispatch tables (the launcher's here, the devices' in
 * virtio_dev.c). Exit status: enum vm_exit. */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/dispatch.h"
#include "proto/ipc.h"
#include "proto/vm_channel.h"
#include "vmm-core/firmware.h"
#include "vmm-core/acpi.h"
#include "vmm-core/mptable.h"
#include "vmm-core/vm.h"
#ifdef CELLVM_HAVE_SANDBOX
#include "sandbox/sandbox.h"
#endif

#define CORE_CHANNEL_FD 3
#define CORE_MAX_KERNEL (512ULL << 20)
#define CORE_MAX_INITRD (2ULL << 30)

/* At most six before the links: an initrd at FD_INITRD, and a firmware's
 * kernel after it (core_fd_fw_kernel). */
enum { FD_KVM, FD_MEM, FD_KERNEL, FD_CONSOLE, FD_INITRD, FD_BASE_COUNT = 6 };
/* The core's entries: virtio devices, then the input device's PS/2 and xHCI
 * links. */
#define CORE_MAX_ENTRIES (VM_MAX_DEVS + 2)
#define FD_COUNT	 (FD_BASE_COUNT + CORE_MAX_ENTRIES)

/* Legacy ISA interrupts free for virtio-mmio devices (edge-triggered); not
 * 9, the ACPI SCI (level-triggered), nor 3 before the others (COM2's). */
static const uint32_t vmmio_gsis[VMMIO_MAX_DEVS] = {5, 6, 7, 10, 11, 14, 15, 3};

/* Where the launcher is on the channel: before CoreSetup (and until the core
 * is Ready it is not read), then running; pausing from a Pause until its
 * CorePaused, and paused from a CorePaused without error until the next
 * Resume. */
enum { CHAN_SETUP, CHAN_RUNNING, CHAN_PAUSING, CHAN_PAUSED };

/* How long a Pause waits for every vCPU to leave KVM_RUN (a kick takes a
 * signal delivery; an emulated host is slow). */
#define CORE_PAUSE_TIMEOUT_MS 5000

struct core {
	int chan;
	struct dispatch chan_proto; /* the launcher's place in the protocol */
	int fds[FD_COUNT];
	size_t nfds;
	const Cellvm__Vm__CoreSetup *setup; /* inside chan_proto.kept */
	struct vm vm;
	char cmdline[BOOT_CMDLINE_MAX + 512]; /* the setup's and the devices' parts */
	struct acpi_tables acpi;	      /* unless no_acpi: built by core_acpi_build */
};

/* CoreSetup.test_flags (test builds only): 1 open, 2 execve, 4 socket after
 * Ready; this one open() right before the kernel is parsed. */
#define CORE_TEST_TRY_OPEN_AT_PARSE (1U << 3)

struct mapped_file {
	const uint8_t *p;
	size_t len;
};

static int map_file(int fd, uint64_t max, struct mapped_file *ret)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size <= 0)
		return -ENOEXEC;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	ret->p = p;
	ret->len = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->p)
		munmap((void *)f->p, f->len);
	f->p = NULL;
}

static void core_send_stopped(struct core *c, enum vm_exit why, const char *detail)
{
	static const Cellvm__Vm__StopReason reasons[] = {
		[VM_EXIT_POWER_OFF] = CELLVM__VM__STOP_REASON__STOP_POWER_OFF,
		[VM_EXIT_ERROR] = CELLVM__VM__STOP_REASON__STOP_ERROR,
		[VM_EXIT_BAD_INPUT] = CELLVM__VM__STOP_REASON__STOP_BAD_INPUT,
		[VM_EXIT_REBOOT] = CELLVM__VM__STOP_REASON__STOP_REBOOT,
		[VM_EXIT_PANIC] = CELLVM__VM__STOP_REASON__STOP_PANIC,
		[VM_EXIT_HALT] = CELLVM__VM__STOP_REASON__STOP_HALT,
	};
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreStopped s = CELLVM__VM__CORE_STOPPED__INIT;

	s.reason = reasons[why];
	s.detail = (char *)detail;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_STOPPED;
	m.stopped = &s;
	(void)vm_channel_send(c->chan, &m, NULL, 0);
}

static int core_fail(struct core *c, enum vm_exit why, const char *what, int err)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "%s (%s)", what, strerror(-err));
	log_err("%s", detail);
	core_send_stopped(c, why, detail);
	return why;
}

static int core_on_setup(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__CoreSetup *s = msg;
	struct core *c = ctx;

	/* UNTRUSTED(launcher): the fd count must be what the setup says; a
	 * firmware takes an initrd only with a kernel of its own. */
	if (s->n_devices > CORE_MAX_ENTRIES ||
	    nfds != 4u + s->has_initrd + s->has_fw_kernel + s->n_devices ||
	    (s->has_fw_kernel && !s->has_firmware) ||
	    (s->has_firmware && s->has_initrd && !s->has_fw_kernel))
		return -EPROTO;
	for (size_t i = 0; i < nfds; i++) {
		c->fds[i] = fds[i];
		fds[i] = -1;
	}
	c->nfds = nfds;
	c->setup = s;
	return 0;
}

/* Where the firmware's kernel (has_fw_kernel) and the first link are. */
static size_t core_fd_fw_kernel(const struct core *c)
{
	return FD_INITRD + (c->setup->has_initrd ? 1 : 0);
}

static size_t core_fd_links(const struct core *c)
{
	return core_fd_fw_kernel(c) + (c->setup->has_fw_kernel ? 1 : 0);
}

static int core_on_device_restart(void *ctx, const void *msg, int *fds, size_t nfds)
{
	const Cellvm__Vm__DeviceRestart *dr = msg;
	struct core *c = ctx;
	struct vdev *d;
	int link, r;

	/* UNTRUSTED(launcher): the index, and one fd (the link) unless give_up. */
	if (dr->index >= c->vm.nvdevs || nfds != (dr->give_up ? 0u : 1u) ||
	    !c->vm.vdevs[dr->index]->restartable)
		return -EPROTO;
	d = c->vm.vdevs[dr->index];
	if (dr->give_up) {
		log_warn("%s: the device process will not be restarted", d->name);
		vdev_give_up(d);
		return 0;
	}
	link = fds[0];
	fds[0] = -1;
	/* A refused successor leaves the device dead; the launcher sees that
	 * process exit and tries again or gives up. */
	r = vdev_reattach(d, link);
	if (r < 0)
		log_err("%s: restarted device refused (%s)", d->name, strerror(-r));
	else
		log_info("%s: device process restarted%s", d->name,
			 r > 0 ? ", queues taken over" : "");
	return 0;
}

/* PowerButton: press it (PWRBTN_STS, the SCI if enabled) and say whether
 * the guest listens. */
static int core_on_power_button(void *ctx, const void *msg, int *fds, size_t nfds)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CorePowerButton pb = CELLVM__VM__CORE_POWER_BUTTON__INIT;
	struct core *c = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	pb.guest_listens = acpi_pm_power_button(&c->vm.pm);
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_POWER_BUTTON_DONE;
	m.power_button_done = &pb;
	(void)vm_channel_send(c->chan, &m, NULL, 0);
	return 0;
}

/* Pause: ask the vCPUs to stop (vm_pause.c); the loop answers CorePaused
 * once they are held and the clock is saved (core_pause_poll). */
static int core_on_pause(void *ctx, const void *msg, int *fds, size_t nfds)
{
	struct core *c = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	vm_pause_begin(&c->vm, CORE_PAUSE_TIMEOUT_MS);
	c->chan_proto.state = CHAN_PAUSING;
	return 0;
}

/* Each turn of the loop while pausing: once every vCPU is held (or the
 * pause failed), answer CorePaused; a failed pause says why and leaves the
 * VM running. */
static void core_pause_poll(struct core *c)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CorePaused p = CELLVM__VM__CORE_PAUSED__INIT;
	char err[96] = "";
	uint64_t clock = 0, drain;
	int r;

	/* Emptied whatever the state: a vCPU may have parked last just as a
	 * pause timed out. */
	(void)!read(c->vm.pause_efd, &drain, sizeof(drain));
	if (c->chan_proto.state != CHAN_PAUSING)
		return;
	r = vm_pause_poll(&c->vm, &clock);
	if (r == 0)
		return;
	if (r < 0) {
		snprintf(err, sizeof(err), "%s",
			 r == -ETIMEDOUT ? "a vCPU did not stop in time" : strerror(-r));
		log_warn("pause refused: %s", err);
		c->chan_proto.state = CHAN_RUNNING;
	} else {
		c->chan_proto.state = CHAN_PAUSED;
		log_debug("paused: guest clock %llu ns", (unsigned long long)clock);
	}
	p.guest_clock_ns = clock;
	p.error = err;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_PAUSED;
	m.paused = &p;
	/* A send that fails: the launcher's channel is gone or full; the loop
	 * sees the first, the launcher kills a core that fills it. */
	(void)vm_channel_send(c->chan, &m, NULL, 0);
}

/* Resume: put the guest clock back, run the vCPUs, answer CoreResumed. */
static int core_on_resume(void *ctx, const void *msg, int *fds, size_t nfds)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreResumed rs = CELLVM__VM__CORE_RESUMED__INIT;
	struct core *c = ctx;

	(void)msg;
	(void)fds;
	(void)nfds;
	(void)vm_resume(&c->vm);
	c->chan_proto.state = CHAN_RUNNING;
	rs.guest_clock_ns = c->vm.paused_clock;
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_RESUMED;
	m.resumed = &rs;
	(void)vm_channel_send(c->chan, &m, NULL, 0);
	return 0;
}

/* What the launcher may send, when: CoreSetup once and first, with its fds;
 * DeviceRestart once the core is Ready (an fd unless it gives up), paused
 * or not; Pause only while running, Resume only while paused, never with
 * fds. */
static const struct dispatch_entry core_chan_table[] = {
	[CELLVM__VM__VM_MESSAGE__MSG_SETUP] = {core_on_setup, DISPATCH_STATE(CHAN_SETUP),
					       DISPATCH_ONCE | DISPATCH_NEEDS_FDS | DISPATCH_KEEP},
	[CELLVM__VM__VM_MESSAGE__MSG_DEVICE_RESTART] = {core_on_device_restart,
							DISPATCH_STATE(CHAN_RUNNING) |
								DISPATCH_STATE(CHAN_PAUSING) |
								DISPATCH_STATE(CHAN_PAUSED),
							DISPATCH_FDS},
	[CELLVM__VM__VM_MESSAGE__MSG_PAUSE] = {core_on_pause, DISPATCH_STATE(CHAN_RUNNING), 0},
	[CELLVM__VM__VM_MESSAGE__MSG_RESUME] = {core_on_resume, DISPATCH_STATE(CHAN_PAUSED), 0},
	[CELLVM__VM__VM_MESSAGE__MSG_POWER_BUTTON] = {core_on_power_button,
						      DISPATCH_STATE(CHAN_RUNNING) |
							      DISPATCH_STATE(CHAN_PAUSING) |
							      DISPATCH_STATE(CHAN_PAUSED),
						      0},
	/* CoreReady, CoreStopped, DeviceFault, CorePaused and CoreResumed go
	 * the other way. */
};

static const struct dispatch_channel core_chan = {
	.envelope = &cellvm__vm__vm_message__descriptor,
	.max_len = VM_CHANNEL_MAX_MSG,
	.max_fds = FD_COUNT,
	.table = core_chan_table,
	.n = sizeof(core_chan_table) / sizeof(core_chan_table[0]),
};

/* The first message: CoreSetup, or a protocol violation. */
static int core_recv_setup(struct core *c)
{
	for (int i = 0; i < FD_COUNT; i++)
		c->fds[i] = -1;
	dispatch_init(&c->chan_proto, &core_chan, CHAN_SETUP);
	/* UNTRUSTED(launcher): checked by core_chan_table. */
	return dispatch_recv(c->chan, &c->chan_proto, c);
}

static int core_check_memfd(int fd, uint64_t size)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0)
		return -errno;
	/* Devices map the same memfd: its size must never change under them. */
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size != size)
		return -EINVAL;
	return 0;
}

/* The transports report; the core decides: one log line for each report
 * (the transport rate-limits what the guest can cause). Lock held, any
 * thread. */
static void core_vdev_report(const struct vdev *d, enum vdev_report what, const char *detail,
			     uint64_t off, int err)
{
	switch (what) {
	case VDEV_REPORT_GUEST_ERROR:
		log_warn("%s: guest %s (register 0x%llx) ignored", d->name, detail,
			 (unsigned long long)off);
		break;
	case VDEV_REPORT_RESET_TIMEOUT:
		log_err("%s: device did not finish its reset", d->name);
		break;
	case VDEV_REPORT_MSIX_ENABLED: log_info("%s: MSI-X enabled", d->name); break;
	case VDEV_REPORT_HOST_ERROR:
		log_err("%s: %s failed: %s", d->name, detail, strerror(-err));
		break;
	}
}

static int core_attach_mmio(struct core *c, int link, char *cmdline, size_t len, size_t *used)
{
	struct vmmio_dev *d = &c->vm.mmio[c->vm.nmmio];
	int r;

	if (c->vm.nmmio == VMMIO_MAX_DEVS)
		return -ENOSPC;
	r = vmmio_attach(d, c->vm.vm_fd, link, VMMIO_BASE + c->vm.nmmio * VMMIO_SIZE,
			 vmmio_gsis[c->vm.nmmio]);
	d->v.report = core_vdev_report;
	c->vm.vdevs[c->vm.nvdevs++] = &d->v;
	c->vm.nmmio++;
	if (r < 0)
		return r;
	vmmio_attach_finish(d, c->vm.vm_fd);
	r = vmmio_cmdline(d, cmdline + *used, len - *used);
	if (r < 0)
		return r;
	*used += (size_t)r;
	log_debug("%s: virtio id %u, irq %u", d->v.name, d->v.device_id, d->gsi);
	return 0;
}

static int core_attach_pci(struct core *c, int link)
{
	struct vpci_dev *d = &c->vm.pcidev[c->vm.npci];
	int r;

	r = vpci_attach(d, c->vm.vm_fd, &c->vm.routes, link);
	d->v.report = core_vdev_report;
	c->vm.vdevs[c->vm.nvdevs++] = &d->v;
	c->vm.npci++;
	if (r < 0)
		return r;
	r = pci_bus_add(&c->vm.pci, &d->f);
	if (r < 0)
		return r;
	r = vpci_start(d);
	if (r < 0)
		return r;
	log_debug("%s: virtio id %u, %u queues, GSIs %u-%u", d->v.name, d->v.device_id,
		  d->v.num_queues, d->gsi_base, d->gsi_base + d->v.num_queues);
	return 0;
}

/* Attach every device the launcher started on its transport; virtio-mmio
 * devices are announced on the command line, PCI ones are found by the
 * guest's bus scan. Returns 0 or an exit status. */
static int core_attach_devices(struct core *c, char *cmdline, size_t len)
{
	size_t base = core_fd_links(c);
	size_t used = strlen(cmdline);
	bool tail = false; /* the input device's links came: no virtio device may follow */

	if (c->setup->n_devices > CORE_MAX_ENTRIES)
		return core_fail(c, VM_EXIT_BAD_INPUT, "too many devices", -E2BIG);
	for (size_t i = 0; i < c->setup->n_devices; i++) {
		const Cellvm__Vm__CoreDevice *cd = c->setup->devices[i];
		int link = c->fds[base + i];
		int r;

		c->fds[base + i] = -1;
		if ((tail || c->vm.nvdevs == VM_MAX_DEVS) &&
		    (strcmp(cd->transport, "mmio") == 0 || strcmp(cd->transport, "pci") == 0)) {
			close(link);
			return core_fail(c, VM_EXIT_BAD_INPUT,
					 "too many virtio devices, or one after the input links",
					 -EINVAL);
		}
		if (strcmp(cd->transport, "mmio") == 0) {
			r = core_attach_mmio(c, link, cmdline, len, &used);
		} else if (strcmp(cd->transport, "pci") == 0) {
			r = core_attach_pci(c, link);
		} else if (strcmp(cd->transport, "isa") == 0 && strcmp(cd->kind, "input") == 0 &&
			   !ps2_link_present(&c->vm.ps2) && !xhci_pci_present(&c->vm.xhci)) {
			/* The input device's PS/2 ports; after the virtio
			 * devices, so every index below is a virtio device's
			 * (DeviceRestart). */
			tail = true;
			r = ps2_link_attach(&c->vm.ps2, c->vm.vm_fd, link);
			if (r < 0)
				return core_fail(c, VM_EXIT_ERROR, "attaching the PS/2 ports", r);
			continue;
		} else if (strcmp(cd->transport, "xhci") == 0 && strcmp(cd->kind, "input") == 0 &&
			   !xhci_pci_present(&c->vm.xhci)) {
			/* The input device's xHCI controller: last. */
			tail = true;
			r = xhci_pci_attach(&c->vm.xhci, c->vm.vm_fd, &c->vm.routes, link);
			if (r == 0)
				r = pci_bus_add(&c->vm.pci, &c->vm.xhci.f);
			if (r >= 0)
				r = xhci_pci_start(&c->vm.xhci);
			if (r < 0)
				return core_fail(c, VM_EXIT_ERROR, "attaching the xHCI controller",
						 r);
			continue;
		} else {
			close(link);
			return core_fail(c, VM_EXIT_BAD_INPUT, "device transport not supported",
					 -EOPNOTSUPP);
		}
		if (r == -ENOSPC)
			return core_fail(c, VM_EXIT_BAD_INPUT,
					 "no room for the device (command line or bus)", r);
		if (r < 0)
			return core_fail(c, VM_EXIT_ERROR, "attaching a device", r);
		c->vm.vdevs[c->vm.nvdevs - 1]->restartable = cd->restartable;
	}
	return 0;
}

/* Before the sandbox: attach every device (eventfds, memfds, KVM wiring),
 * which adds its part of the command line; the kernel is not looked at. */
static int core_attach(struct core *c)
{
	if (strlen(c->setup->cmdline) >= BOOT_CMDLINE_MAX)
		return core_fail(c, VM_EXIT_BAD_INPUT,
				 "command line: longer than the kernel accepts", -E2BIG);
	strcpy(c->cmdline, c->setup->cmdline);
	/* Before any vCPU runs: without ACPI, the power-off port alone. */
	c->vm.pm.acpi = !c->setup->no_acpi;
	return core_attach_devices(c, c->cmdline, sizeof(c->cmdline));
}

/* Inside the sandbox, with firmware: nothing to parse; what the firmware
 * needs to know goes into fw_cfg. */
static int core_acpi_build(struct core *c);

/* The tenant's kernel (kernel_fd) and initrd, mapped read-only. Returns 0
 * or an exit status (nothing left mapped). */
static int core_map_boot_files(struct core *c, int kernel_fd, struct mapped_file *kernel,
			       struct mapped_file *initrd)
{
	int r = map_file(kernel_fd, CORE_MAX_KERNEL, kernel);

	if (r < 0)
		return core_fail(c, VM_EXIT_BAD_INPUT, "kernel: cannot read", r);
	if (c->setup->has_initrd) {
		r = map_file(c->fds[FD_INITRD], CORE_MAX_INITRD, initrd);
		if (r < 0) {
			unmap_file(kernel);
			return core_fail(c, VM_EXIT_BAD_INPUT, "initrd: cannot read", r);
		}
	}
	return 0;
}

/* The kernel, initrd and command line for the firmware to boot, into
 * fw_cfg's kernel items. The kernel and initrd are the tenant's: parsed here,
 * in the sandbox, and only copied. Returns 0 or an exit status. */
static int core_fw_kernel(struct core *c)
{
	struct mapped_file kernel = {0}, initrd = {0};
	struct fw_cfg_kernel k;
	uint8_t *setup;
	int r;

	r = core_map_boot_files(c, c->fds[core_fd_fw_kernel(c)], &kernel, &initrd);
	if (r != 0)
		return r;
	setup = malloc(BOOT_FW_SETUP_CAP);
	r = setup ? loader_bzimage_fw_cfg(kernel.p, kernel.len, initrd.len, c->vm.mem.low_size,
					  c->setup->cmdline, setup, BOOT_FW_SETUP_CAP, &k)
		  : -ENOMEM;
	if (r == 0) {
		k.initrd = initrd.p;
		r = fw_cfg_set_kernel(&c->vm.fw_cfg, &k);
		if (r < 0)
			r = core_fail(c, VM_EXIT_ERROR, "firmware configuration (fw_cfg)", r);
	} else {
		r = core_fail(
			c, r == -ENOMEM ? VM_EXIT_ERROR : VM_EXIT_BAD_INPUT,
			r == -ENOEXEC
				? "kernel: a firmware boots a bzImage (protocol 2.03 or later)"
			: r == -EMSGSIZE ? "command line: longer than the kernel accepts"
			: r == -E2BIG	 ? "initrd: does not fit in guest memory"
			: r == -ENOMEM	 ? "out of memory"
					 : "kernel: invalid image",
			r);
	}
	free(setup);
	unmap_file(&initrd);
	unmap_file(&kernel);
	return r;
}

static int core_load_firmware(struct core *c)
{
	struct vm *vm = &c->vm;
	struct e820_map map;
	const char *boot[VM_MAX_DEVS];
	char paths[VM_MAX_DEVS][64];
	uint32_t nboot = 0;
	int r;

	vm->plan.entry = 0xfffffff0ULL;
	r = fw_cfg_init(&vm->fw_cfg, &vm->mem, (uint16_t)vm->ncpus, true);
	vm->has_fw_cfg = true;
	if (r == 0)
		r = e820_build(&map, &vm->mem);
	if (r == 0)
		r = fw_cfg_add_e820(&vm->fw_cfg, &map);
	/* SeaBIOS's text console on COM1 too (QEMU gives it with -nographic):
	 * its messages and a boot loader's reach the console log. */
	if (r == 0)
		r = fw_cfg_add_file(&vm->fw_cfg, "etc/sercon-port", (const uint8_t[]){0xf8, 0x03},
				    2);
	/* Boot from the virtio-blk disks, in the order given. */
	for (uint32_t i = 0; r == 0 && i < vm->npci; i++) {
		if (vm->pcidev[i].v.device_id != VIRTIO_ID_BLOCK)
			continue;
		r = fw_cfg_bootpath_virtio_blk(paths[nboot], sizeof(paths[nboot]),
					       vm->pcidev[i].f.slot);
		if (r >= 0) {
			boot[nboot] = paths[nboot];
			nboot++;
			r = 0;
		}
	}
	if (r == 0 && nboot && !c->setup->has_fw_kernel)
		r = fw_cfg_add_bootorder(&vm->fw_cfg, boot, nboot);
	if (r == 0 && c->setup->has_fw_kernel) {
		r = core_fw_kernel(c);
		if (r != 0)
			return r;
	}
	if (r == 0 && !c->setup->no_acpi) {
		r = core_acpi_build(c);
		if (r == 0)
			r = fw_cfg_add_file(&vm->fw_cfg, ACPI_FILE_RSDP, c->acpi.rsdp,
					    sizeof(c->acpi.rsdp));
		if (r == 0)
			r = fw_cfg_add_file(&vm->fw_cfg, ACPI_FILE_TABLES, c->acpi.blob,
					    c->acpi.blob_len);
		if (r == 0)
			r = fw_cfg_add_file(&vm->fw_cfg, ACPI_FILE_LOADER, c->acpi.loader,
					    c->acpi.loader_len);
	}
	if (r < 0)
		return core_fail(c, VM_EXIT_ERROR, "firmware configuration (fw_cfg)", r);
	return 0;
}

/* The ACPI tables of the machine as attached (c->acpi), for acpi_place or
 * a firmware's fw_cfg. Returns 0 or -errno. */
static int core_acpi_build(struct core *c)
{
	struct acpi_machine m = {.ncpus = c->vm.ncpus,
				 .ps2_mouse = ps2_link_present(&c->vm.ps2),
				 .nmmio = c->vm.nmmio};

	for (uint32_t i = 0; i < c->vm.nmmio; i++)
		m.mmio[i] =
			(struct acpi_mmio_dev){c->vm.mmio[i].base, VMMIO_SIZE, c->vm.mmio[i].gsi};
	return acpi_build(&m, &c->acpi);
}

/* Inside the sandbox: parse the tenant's kernel and initrd (user input: the
 * loaders check every header field) and lay out the boot structures. Needs
 * only fstat, mmap (read-only), munmap and getrandom, and, for the boot
 * vCPU's registers, which depend on the kernel's entry, KVM_SET_SREGS,
 * KVM_SET_REGS and KVM_SET_FPU. */
static int core_load(struct core *c)
{
	struct mapped_file kernel = {0}, initrd = {0};
	struct e820_map map;
	int r;

#ifdef CELLVM_TEST_HOOKS
	/* Test builds only: show the parse runs under the filter (SIGSYS). */
	if (c->setup->test_flags & CORE_TEST_TRY_OPEN_AT_PARSE)
		(void)!open("/etc/passwd", O_RDONLY | O_CLOEXEC);
#endif
	if (c->vm.firmware)
		return core_load_firmware(c);
	r = core_map_boot_files(c, c->fds[FD_KERNEL], &kernel, &initrd);
	if (r != 0)
		return r;
	r = loader_load(kernel.p, kernel.len, &c->vm.mem, &c->vm.plan);
	unmap_file(&kernel);
	if (r < 0) {
		unmap_file(&initrd);
		return core_fail(c, VM_EXIT_BAD_INPUT,
				 r == -ENOEXEC ? "kernel: not a bootable ELF or bzImage"
				 : r == -E2BIG ? "kernel: does not fit in guest memory"
					       : "kernel: invalid image",
				 r);
	}
	r = boot_place_initrd(&c->vm.mem, &c->vm.plan, initrd.p, initrd.len);
	unmap_file(&initrd);
	if (r < 0)
		return core_fail(c, VM_EXIT_BAD_INPUT, "initrd: does not fit in guest memory", r);
	/* Host randomness for the guest's RNG (credited when the guest is
	 * booted with random.trust_bootloader=on). */
	if (getrandom(c->vm.plan.rng_seed, sizeof(c->vm.plan.rng_seed), 0) ==
	    (ssize_t)sizeof(c->vm.plan.rng_seed))
		c->vm.plan.has_rng_seed = 1;
	r = e820_build(&map, &c->vm.mem);
	if (r < 0)
		return core_fail(c, VM_EXIT_ERROR, "e820", r);
	c->vm.plan.acpi_rsdp = c->setup->no_acpi ? 0 : ACPI_RSDP_ADDR;
	r = boot_write_info(&c->vm.mem, &c->vm.plan, c->cmdline, &map);
	if (r < 0)
		return core_fail(c, VM_EXIT_BAD_INPUT,
				 "command line: longer than the kernel accepts", r);
	{
		uint32_t slots = 0;
		for (uint32_t i = 0; i < c->vm.npci; i++)
			slots |= 1U << c->vm.pcidev[i].f.slot;
		if (xhci_pci_present(&c->vm.xhci))
			slots |= 1U << c->vm.xhci.f.slot;
		r = mptable_write(&c->vm.mem, c->vm.ncpus, slots);
	}
	if (r < 0)
		return core_fail(c, VM_EXIT_ERROR, "MP table", r);
	if (!c->setup->no_acpi) {
		r = core_acpi_build(c);
		if (r == 0)
			r = acpi_place(&c->vm.mem, &c->acpi, ACPI_RSDP_ADDR, ACPI_TABLES_ADDR);
		if (r < 0)
			return core_fail(c, VM_EXIT_ERROR, "ACPI tables", r);
	}
	/* The vCPUs were made before the sandbox; the boot one starts where
	 * the kernel just parsed says. */
	r = vcpu_set_boot_regs(&c->vm.vcpus[0]);
	if (r < 0)
		return core_fail(c, VM_EXIT_ERROR, "boot registers", r);
	return 0;
}

/* Everything the core needs is open: enter the sandbox, keeping exactly the
 * fds in use (channel, console, KVM, vCPUs, devices). */
static int core_enter_sandbox(struct core *c)
{
#ifdef CELLVM_HAVE_SANDBOX
	int keep[14 + VM_MAX_CPUS + VM_MAX_DEVS * (4 + 2 * VDEV_MAX_QUEUES)];
	struct sandbox_opts opts = {0};
	struct vm *vm = &c->vm;
	size_t n = 0;
	int r;

	keep[n++] = c->chan;
	keep[n++] = vm->console_fd;
	keep[n++] = vm->kvm_fd;
	keep[n++] = vm->vm_fd;
	keep[n++] = vm->stop_efd;
	keep[n++] = vm->pause_efd;
	/* Parsed inside the sandbox, closed after. */
	if (c->fds[FD_KERNEL] >= 0)
		keep[n++] = c->fds[FD_KERNEL];
	if (c->setup->has_initrd)
		keep[n++] = c->fds[FD_INITRD];
	if (c->setup->has_fw_kernel)
		keep[n++] = c->fds[core_fd_fw_kernel(c)];
	for (uint32_t i = 0; i < vm->ncpus; i++)
		keep[n++] = vm->vcpus[i].fd;
	if (ps2_link_present(&vm->ps2)) {
		keep[n++] = vm->ps2.fd;
		keep[n++] = vm->ps2.irq_fd[0];
		keep[n++] = vm->ps2.irq_fd[1];
	}
	if (xhci_pci_present(&vm->xhci)) {
		keep[n++] = vm->xhci.fd;
		keep[n++] = vm->xhci.irq_fd;
	}
	for (uint32_t i = 0; i < vm->nvdevs; i++) {
		const struct vdev *d = vm->vdevs[i];
		keep[n++] = d->link_fd;
		keep[n++] = d->irq_fd;
		keep[n++] = d->shared_fd;
		keep[n++] = d->inflight_fd;
		for (uint32_t q = 0; q < VDEV_MAX_QUEUES; q++) {
			if (d->q[q].kick_fd >= 0)
				keep[n++] = d->q[q].kick_fd;
			if (d->q[q].irq_fd >= 0)
				keep[n++] = d->q[q].irq_fd;
		}
	}
	/* The main thread and one thread per vCPU. */
	opts.tasks = 1 + vm->ncpus;
	r = sandbox_enter_opts(SANDBOX_CORE, keep, n, &opts);
	if (r < 0)
		return r;
	/* Once per process start: what it really got. */
	sandbox_log_layers(r, &opts);
	return 0;
#else
	(void)c;
	return 0;
#endif
}

static int core_send_ready(struct core *c)
{
	Cellvm__Vm__VmMessage m = CELLVM__VM__VM_MESSAGE__INIT;
	Cellvm__Vm__CoreReady rd = CELLVM__VM__CORE_READY__INIT;

	rd.entry = c->vm.plan.entry;
	rd.boot_protocol =
		(char *)(c->vm.firmware ? "firmware" : boot_protocol_name(c->vm.plan.protocol));
	m.msg_case = CELLVM__VM__VM_MESSAGE__MSG_READY;
	m.ready = &rd;
	return vm_channel_send(c->chan, &m, NULL, 0);
}

/* A device's link is readable: its transport takes the message. A device it
 * had to drop (gone, or in breach of the protocol) is logged here, once. */
static void core_on_device_link(struct vdev *d)
{
	int r = vdev_on_link(d);

	if (r < 0)
		log_err("%s: device link lost (%s)%s", d->name, dispatch_strerror(r),
			d->restartable ? ": waiting for its restart" : "");
}

/* How often the main loop looks for a VM whose vCPUs all halted for good. */
#define CORE_HALT_CHECK_MS 1000

static uint64_t core_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Main thread: console input, the launcher's channel, the stop event, and
 * once a second the halt check (vm_check_halted). */
static void core_loop(struct core *c)
{
	struct vm *vm = &c->vm;
	bool console_open = true;
	unsigned ticks = 0;
	uint64_t next_halt_check = core_now_ms() + CORE_HALT_CHECK_MS;

	while (atomic_load(&vm->exit_reason) == VM_EXIT_RUNNING) {
		struct pollfd p[4 + VM_MAX_DEVS] = {
			{.fd = vm->stop_efd, .events = POLLIN},
			{.fd = c->chan, .events = POLLIN},
			{.fd = console_open && serial_input_room(&vm->serial) ? vm->console_fd : -1,
			 .events = POLLIN},
		};
		int n, r;

		for (uint32_t i = 0; i < vm->nvdevs; i++)
			p[3 + i] = (struct pollfd){.fd = vm->vdevs[i]->dead ? -1
									    : vm->vdevs[i]->link_fd,
						   .events = POLLIN};
		/* The last vCPU to stop for a pause says so (core_pause_poll). */
		p[3 + vm->nvdevs] = (struct pollfd){.fd = vm->pause_efd, .events = POLLIN};
		n = poll(p, 4 + vm->nvdevs,
			 c->chan_proto.state == CHAN_PAUSING   ? 20
			 : console_open || vm->debug_unclaimed ? 100
							       : CORE_HALT_CHECK_MS);
		for (uint32_t i = 0; n > 0 && i < vm->nvdevs; i++)
			if (p[3 + i].revents)
				core_on_device_link(vm->vdevs[i]);
		/* A device dropped while its process may live (a reset it did not
		 * finish, a breach): the launcher kills and restarts it. */
		(void)vm_send_device_faults(vm, c->chan);

		if (n == 0 && vm->debug_unclaimed && ++ticks % 20 == 0) {
			/* --debug: sample where the vCPUs are every two seconds. */
			for (uint32_t i = 0; i < vm->ncpus; i++) {
				atomic_store(&vm->vcpus[i].sample_req, true);
				vcpu_kick(&vm->vcpus[i]);
			}
		}
		core_pause_poll(c);
		/* A paused VM's vCPUs are not probed (they wait in vcpu_park). */
		if (core_now_ms() >= next_halt_check && !vm->paused &&
		    c->chan_proto.state != CHAN_PAUSING) {
			vm_check_halted(vm);
			next_halt_check = core_now_ms() + CORE_HALT_CHECK_MS;
		}
		if (n < 0 && errno != EINTR) {
			vm_request_stop(vm, VM_EXIT_ERROR, "poll failed");
			break;
		}
		/* UNTRUSTED(launcher): checked by core_chan_table. */
		if (p[1].revents && (r = dispatch_recv(c->chan, &c->chan_proto, c)) < 0) {
			/* EOF means the launcher is gone; anything out of place is
			 * a protocol violation. */
			if (r != -ECONNRESET)
				log_err("launcher channel: %s", dispatch_strerror(r));
			vm_request_stop(vm, VM_EXIT_ERROR, "launcher channel closed or violated");
			break;
		}
		if (p[2].revents) {
			uint8_t buf[512];
			size_t room = serial_input_room(&vm->serial);
			ssize_t got =
				read(vm->console_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
			if (got > 0)
				serial_input(&vm->serial, buf, (size_t)got);
			else if (got == 0 || (errno != EINTR && errno != EAGAIN))
				console_open = false;
		}
	}
}

int main(int argc, char **argv)
{
	struct core c = {.chan = CORE_CHANNEL_FD};
	enum vm_exit why;
	int r;

	(void)argc;
	(void)argv;
	log_init("cellvm-core", getenv("CELLVM_DEBUG") ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	if (fcntl(c.chan, F_GETFD) < 0) {
		log_err("no channel on fd %d: cellvm-core is started by cellvm or cellvm-broker",
			CORE_CHANNEL_FD);
		return VM_EXIT_ERROR;
	}
	r = core_recv_setup(&c);
	if (r < 0) {
		log_err("launcher sent no valid setup: %s", dispatch_strerror(r));
		return VM_EXIT_ERROR;
	}
	if (c.setup->log_level)
		log_init("cellvm-core", LOG_DEBUG);
	r = core_check_memfd(c.fds[FD_MEM], c.setup->memory_bytes);
	if (r < 0)
		return core_fail(&c, VM_EXIT_ERROR, "guest memory", r);
	r = vm_create(&c.vm, c.fds[FD_KVM], c.fds[FD_MEM], c.setup->memory_bytes, c.setup->cpus,
		      c.fds[FD_CONSOLE]);
	c.fds[FD_KVM] = c.fds[FD_MEM] = -1;
	if (r < 0) {
		why = (r == -EINVAL) ? VM_EXIT_BAD_INPUT : VM_EXIT_ERROR;
		r = core_fail(&c, why, "creating the VM", r);
		goto out;
	}
	if (c.setup->log_level)
		c.vm.debug_unclaimed = calloc(65536, sizeof(uint32_t));
	/* A firmware finds the chipset it knows (OVMF: q35's). */
	if (c.setup->has_firmware)
		pci_bus_q35(&c.vm.pci);
	r = core_attach(&c);
	if (r != 0)
		goto out;
	/* A firmware image is mapped, not parsed: before the sandbox (a KVM
	 * memory slot), and before the vCPUs (the boot one stays at reset). */
	if (c.setup->has_firmware) {
		r = firmware_map(&c.vm, c.fds[FD_KERNEL]);
		if (r < 0) {
			r = core_fail(&c, r == -EFBIG ? VM_EXIT_BAD_INPUT : VM_EXIT_ERROR,
				      r == -EFBIG ? "firmware: not a ROM image (64 KiB to 16 MiB, "
						    "whole 4 KiB pages)"
						  : "firmware: cannot map",
				      r);
			goto out;
		}
		ipc_close_fds(&c.fds[FD_KERNEL], 1);
	}
	r = vm_setup_vcpus(&c.vm);
	if (r < 0) {
		r = core_fail(&c, VM_EXIT_ERROR, "vCPU setup", r);
		goto out;
	}
	/* Sandboxed before the tenant's kernel and initrd are parsed. */
	r = core_enter_sandbox(&c);
	if (r < 0) {
		r = core_fail(&c, VM_EXIT_ERROR, "entering the sandbox", r);
		goto out;
	}
	r = core_load(&c);
	if (r != 0)
		goto out;
	ipc_close_fds(&c.fds[FD_KERNEL], 1);
	if (c.setup->has_initrd)
		ipc_close_fds(&c.fds[FD_INITRD], 1);
	if (c.setup->has_fw_kernel)
		ipc_close_fds(&c.fds[core_fd_fw_kernel(&c)], 1);
	r = core_send_ready(&c);
	if (r < 0) {
		r = VM_EXIT_ERROR;
		goto out;
	}
	c.chan_proto.state = CHAN_RUNNING;
#ifdef CELLVM_TEST_HOOKS
	/* Test builds only: prove the sandbox by trying what it forbids. */
	if (c.setup->test_flags & 1)
		(void)!open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (c.setup->test_flags & 2) {
		char *const tv[] = {(char *)"/bin/true", NULL};
		execve(tv[0], tv, tv + 1);
	}
	if (c.setup->test_flags & 4)
		(void)!socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
#endif
	r = vm_start(&c.vm);
	if (r < 0) {
		vm_request_stop(&c.vm, VM_EXIT_ERROR, "cannot start vCPU threads");
	}
	core_loop(&c);
	vm_stop_vcpus(&c.vm);
	why = (enum vm_exit)atomic_load(&c.vm.exit_reason);
	log_debug("VM stopped: %s", c.vm.exit_detail);
	core_send_stopped(&c, why, c.vm.exit_detail);
	r = why;
out:
	vm_destroy(&c.vm);
	ipc_close_fds(c.fds, FD_COUNT);
	if (c.chan_proto.kept)
		protobuf_c_message_free_unpacked(c.chan_proto.kept, NULL);
	return r;
}
