#!/usr/bin/env python3
"""A distro kernel and real firmware on cellvm: Debian's stock kernel with the
stock guest's initramfs (scripts/guest/mkstock.sh; /init is
test/guest/stock-init.sh, which runs cellvm-acpi-probe, test/guest/
acpi_probe.c), booted directly or from a disk by SeaBIOS and OVMF.

Usage: stock_check.py BINDIR GUESTDIR SRCDIR MODE [PNG_RAW]
  MODE: acpi     `cellvm run --kernel` with a virtio-blk disk: the kernel
                 finds the RSDP, XSDT, FACP, DSDT, APIC and MCFG tables,
                 uses MMCONFIG for PCI, finds the i8042 through ACPI
                 (PNP0303) and the disk; no ACPI error in its log;
                 cellvm run's SIGTERM presses the power button, the guest
                 sees KEY_POWER and powers off (ACPI S5, status 0); a
                 second boot's reboot (the ACPI reset register) is status 3
        shutdown the same guest through the broker: PUT /vm/{id}/shutdown
                 presses the ACPI power button: the guest program sees
                 KEY_POWER, powers off, and the answer says powered_off
        seabios  `cellvm run --firmware bios.bin` boots an MBR disk
                 (syslinux) to the guest program, which powers off (status 0)
        ovmf     `cellvm run --firmware OVMF.fd` boots a GPT disk (EFI
                 system partition, a unified kernel image) the same way, and
                 the kernel finds cellvm's ACPI tables through OVMF's copy
        ovmf_display  the same disk through the broker with a gpu: the
                 screen is not black once the guest runs, and a shutdown
                 through the API powers it off
        ovmf_kernel  `cellvm run --firmware OVMF.fd --kernel --initrd
                 --cmdline`: OVMF boots the kernel it finds in fw_cfg (no
                 disk), with that initrd and command line
  PNG_RAW: test/broker/png_raw (ovmf_display: decodes the screenshot)
Exit: 0 pass, 1 fail, 77 skip (KVM here cannot run guest user space).
The stock guest or the firmware missing is a failure, not a skip.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../broker"))
from guest_check import Vm, fail, skip  # noqa: E402
from brokertest import Broker, UnixHTTP, png_decode, wait_until  # noqa: E402

SEABIOS = "/usr/share/seabios/bios.bin"
OVMF = "/usr/share/ovmf/OVMF.fd"
# The whole boot is slow in an emulated KVM host (every exit a nested
# VMRUN under TCG; OVMF's many more): generous bounds, each a failure.
BOOT_S = 600
EMULATED = os.environ.get("CELLVM_KVM_HOST") == "emulated"

bindir, guestdir, srcdir = (os.path.abspath(a) for a in sys.argv[1:4])
mode = sys.argv[4]
png_raw = sys.argv[5] if len(sys.argv) > 5 else None
kernel = os.path.join(guestdir, "stock-vmlinuz")
initrd = os.path.join(guestdir, "stock-initramfs.cpio.gz")


def cmdline(action):
    c = "console=ttyS0 panic=-1 quiet cellvm.action=%s cellvm.limit=%d" % (action, BOOT_S)
    if EMULATED:
        # test/integration/lib.sh says why; nokaslr: the kernel's addresses
        # as System.map has them, for a look at a frozen host's inner guest.
        c += " noapictimer nokaslr"
    return c


def prerequisites():
    env = subprocess.run([os.path.join(srcdir, "scripts/kvm-env.sh")], capture_output=True,
                         text=True).stdout.strip()
    if not env.startswith("native"):
        skip("guest user space cannot run on this machine's KVM: %s" % env)
    for f in (kernel, initrd):
        if not os.path.isfile(f):
            fail("%s was not built: it needs Debian's linux-image-amd64 "
                 "(scripts/install-deps.sh), then a build (scripts/guest/mkstock.sh)" % f)


def run(argv, what, expect_status, extra_wait=("CELLVM-READY",), then=()):
    """cellvm run argv until it ends; the console lines. Fails unless every
    line of extra_wait came and cellvm ended with expect_status. With then,
    cellvm gets SIGTERM after extra_wait, and the lines in then must follow."""
    vm = Vm([os.path.join(bindir, "cellvm"), "run"] + argv)
    vm.deadline = vm.start + BOOT_S
    try:
        for w in extra_wait:
            vm.wait_line(w, vm.deadline)
        print("%s: %s after %.1f s" % (what, extra_wait[-1], time.monotonic() - vm.start))
        if then:
            # cellvm run's SIGTERM presses the ACPI power button (as
            # systemd's stop of a unit running it would).
            vm.proc.send_signal(signal.SIGTERM)
            for w in then:
                vm.wait_line(w, vm.deadline)
            print("%s: %s after the SIGTERM" % (what, then[-1]))
        try:
            st = vm.proc.wait(timeout=max(1, vm.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            fail("%s: the VM did not end" % what, vm.log)
        # The reader thread has the rest once stdout closes.
        while vm.lines.get() is not None:
            pass
    finally:
        vm.kill()
    print("%s: cellvm run ended with status %d after %.1f s"
          % (what, st, time.monotonic() - vm.start))
    if st != expect_status:
        fail("%s: cellvm run exited %d, expected %d" % (what, st, expect_status), vm.log)
    return vm.log


def check_platform(log):
    """The stock kernel's view of cellvm's platform, from the probe's lines."""
    text = "\n".join(log)
    tables = set(re.findall(r"CELLVM-ACPI-TABLE (\w{4})\b", text))
    missing = {"RSDP", "XSDT", "FACP", "DSDT", "APIC", "MCFG"} - tables
    if missing:
        fail("ACPI tables the kernel did not find: %s (found %s)"
             % (" ".join(sorted(missing)), " ".join(sorted(tables))), log)
    if not re.search(r"CELLVM-MMCONFIG used .*PCI MMCONFIG", text):
        fail("PCI does not use MMCONFIG (no 'PCI MMCONFIG' in /proc/iomem)", log)
    pnp = re.findall(r"CELLVM-PNP \S+ (\S+)", text)
    if not any("PNP0303" in ids.upper().split(",") for ids in pnp):
        fail("no PNP0303 (the i8042 keyboard through ACPI) among the PNP devices %r" % pnp, log)
    blk = re.search(r"CELLVM-BLK vda sectors=(\d+)", text)
    if not blk or int(blk.group(1)) != (16 << 20) // 512:
        fail("the virtio-blk disk (16 MiB) not seen as vda: %r" % (blk and blk.group(0)), log)
    errors = [ln for ln in log if re.search(r"ACPI (BIOS )?Error|AE_[A-Z]", ln)]
    if errors:
        fail("ACPI errors in the kernel's log:\n" + "\n".join(errors), log)
    if not re.search(r"CELLVM-READY action=\w+ buttons=[1-9]", text):
        fail("no 'Power Button' input device", log)
    print("tables %s; %s; PNP %s; PCI %d devices" % (
        " ".join(sorted(tables)), re.search(r"CELLVM-MMCONFIG .*", text).group(0), " ".join(pnp),
        len(re.findall(r"CELLVM-PCI ", text))))


def broker_shutdown(b, vid, what):
    """PUT /vm/{id}/shutdown once the guest waits for the button: the guest
    sees KEY_POWER and powers off; the answer says so."""
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)  # noqa: E731
    t0 = time.monotonic()
    st, r = b.req("PUT", "/vm/%s/shutdown" % vid, {"timeout_s": 120}, timeout=180)
    print("%s: shutdown answered %d %r after %.1f s" % (what, st, r, time.monotonic() - t0))
    if st != 200 or not isinstance(r, dict) or r.get("powered_off") is not True:
        fail("%s: shutdown: %d %r\nconsole:\n%s" % (what, st, r, con()[-3000:]))
    text = con()
    if not re.search(r"CELLVM-POWER-KEY event\d+", text):
        fail("%s: powered off without the guest seeing KEY_POWER:\n%s" % (what, text[-3000:]))
    info = b.ok("GET", "/vm/%s" % vid)
    if info.get("state") == "running":
        fail("%s: the VM still runs after powered_off: %r" % (what, info))


def boot_broker(b, vdef, what):
    vid = b.ok("POST", "/vm.create", vdef)["vm_id"]
    t0 = time.monotonic()
    b.ok("PUT", "/vm/%s/boot" % vid)
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)  # noqa: E731
    wait_until(lambda: re.search(r"CELLVM-READY action=button buttons=\d+\r?\n", con()), BOOT_S,
               lambda: "the guest program through the broker (%s); console:\n%s"
               % (what, con()[-3000:]))
    print("%s: CELLVM-READY through the broker after %.1f s" % (what, time.monotonic() - t0))
    return vid, con


def mode_acpi():
    with tempfile.TemporaryDirectory(prefix="cellvm-stock-") as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        base = ["--kernel", kernel, "--initrd", initrd, "--cpus", "1", "--memory", "512M",
                "--disk", "path=" + img]
        # Two boots (each one a chance for the emulated host to freeze).
        # The first: the platform as the kernel sees it, then a graceful
        # shutdown: cellvm run's SIGTERM presses the power button, the guest
        # program sees KEY_POWER and powers off through ACPI S5 (status 0).
        log = run(base + ["--cmdline", cmdline("button")], "stock SIGTERM", 0,
                  ("CELLVM-READY",), then=("CELLVM-POWER-KEY",))
        check_platform(log)
        if not any("pressing the ACPI power button" in ln for ln in log):
            fail("cellvm run did not say it pressed the power button", log)
        if not any("Power down" in ln for ln in log):
            fail("the guest did not power down after KEY_POWER", log)
        # The kernel's reboot: the ACPI reset register first (FADT).
        log = run(base + ["--debug", "--cmdline", cmdline("reboot")], "stock reboot", 3,
                  ("CELLVM-READY", "CELLVM-ACTION reboot"))
        if not any("ACPI reset" in ln for ln in log):
            fail("the reboot did not go through the ACPI reset register", log)


def mode_shutdown():
    with tempfile.TemporaryDirectory(prefix="cellvm-stock-") as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        b = Broker(bindir, "")
        try:
            b.start()
            vid, _ = boot_broker(b, {"kernel": kernel, "initrd": initrd, "memory": "512M",
                                     "cmdline": cmdline("button"),
                                     "disks": [{"path": img}]}, "stock button")
            broker_shutdown(b, vid, "stock button")
        finally:
            b.cleanup()


def check_tables(which, log):
    # The kernel found our tables through the firmware's copy.
    text = "\n".join(log)
    tables = set(re.findall(r"CELLVM-ACPI-TABLE (\w{4})\b", text))
    missing = {"RSDP", "XSDT", "FACP", "DSDT", "APIC", "MCFG"} - tables
    if missing or not re.search(r"CELLVM-MMCONFIG used .*PCI MMCONFIG", text):
        fail("%s: ACPI tables missing (%s) or no MMCONFIG" % (which, " ".join(missing)), log)


def mode_ovmf_kernel():
    # OVMF's direct kernel boot (QemuKernelLoaderFsDxe): the bzImage, its
    # initrd and command line come through fw_cfg's kernel items; there is
    # no disk. The initramfs's program (CELLVM-STOCK-START) shows the initrd
    # arrived, cellvm.action=poweroff from the command line that it did.
    if not os.path.isfile(OVMF):
        fail("no firmware %s (package ovmf: scripts/install-deps.sh)" % OVMF)
    log = run(["--firmware", OVMF, "--kernel", kernel, "--initrd", initrd,
               "--cmdline", cmdline("poweroff"), "--cpus", "1", "--memory", "512M"],
              "ovmf kernel", 0, ("CELLVM-STOCK-START", "CELLVM-READY", "CELLVM-ACTION poweroff"))
    check_tables("ovmf kernel", log)


def mode_firmware(which):
    fw = SEABIOS if which.startswith("seabios") else OVMF
    if not os.path.isfile(fw):
        fail("no firmware %s (package %s: scripts/install-deps.sh)" % (fw, which))
    mk = os.path.join(srcdir, "scripts/guest/mkdisks.sh")
    disk = "seabios" if which == "seabios" else "ovmf"
    with tempfile.TemporaryDirectory(prefix="cellvm-fw-") as tmp:
        for action in ("poweroff", "button"):
            d = os.path.join(tmp, action)
            r = subprocess.run([mk, d, kernel, initrd, cmdline(action), disk])
            if r.returncode != 0:
                fail("mkdisks.sh %s failed (%d)" % (disk, r.returncode))
        if which != "ovmf_display":
            img = os.path.join(tmp, "poweroff", disk + ".img")
            log = run(["--firmware", fw, "--cpus", "1", "--memory", "512M", "--disk",
                       "path=" + img], which, 0,
                      ("CELLVM-STOCK-START", "CELLVM-READY", "CELLVM-ACTION poweroff"))
            check_tables(which, log)
            return
        disk = "ovmf"
        # The boot screen: OVMF drives the gpu (VirtioGpuDxe), the kernel's
        # EFI framebuffer console follows on it.
        img = os.path.join(tmp, "button", disk + ".img")
        b = Broker(bindir, "")
        try:
            b.start()
            vid, _ = boot_broker(b, {"firmware": fw, "memory": "512M",
                                     "disks": [{"path": img}],
                                     "gpu": {"scanouts": [{"width": 1024, "height": 768}]}},
                                 "ovmf gpu")
            c = UnixHTTP(b.sock, 60)
            c.request("GET", "/vm/%s/screenshot" % vid)
            resp = c.getresponse()
            png = resp.read()
            c.close()
            if resp.status != 200:
                fail("screenshot: %d %r" % (resp.status, png[:200]))
            # Kept beside the stock guest, to look at.
            with open(os.path.join(guestdir, "ovmf-screen.png"), "wb") as f:
                f.write(png)
            w, h, rgb = png_decode(png_raw, png)
            lit = sum(1 for i in range(0, len(rgb), 3 * 7) if max(rgb[i:i + 3]) > 0x40)
            print("ovmf screen %dx%d: %d of %d sampled pixels lit" % (w, h, lit,
                                                                    len(rgb) // 21))
            if lit < 50:
                fail("the OVMF VM's screen is black once the guest runs (%d lit)" % lit)
            broker_shutdown(b, vid, "ovmf button")
        finally:
            b.cleanup()


prerequisites()
if mode == "acpi":
    mode_acpi()
elif mode == "shutdown":
    mode_shutdown()
elif mode in ("seabios", "ovmf", "ovmf_display"):
    mode_firmware(mode)
elif mode == "ovmf_kernel":
    mode_ovmf_kernel()
else:
    fail("unknown mode %s" % mode)
print("PASS")
