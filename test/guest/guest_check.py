#!/usr/bin/env python3
"""End-to-end checks in the test guest's user space: `cellvm run` boots the
test kernel with the test initramfs (test/guest), whose /init runs one check
and powers the VM off; this script reads the console, plays the host's part
(the device restart, the network peer) and verifies the result from the host
side (the image file, the bytes served).

Usage: guest_check.py BINDIR GUESTDIR SRCDIR CHECK
  CHECK: blk          pattern over virtio-blk with O_DIRECT, read back
         blk-restart  the same, with the device process killed halfway
         net          ping the host and fetch a file from its server on the tap
         input        inject keys, text, mouse, wheel, tablet and touch through
                      cellvm run's input socket on PS/2, virtio-input and USB
                      (xHCI); the guest's evdev reader must report exactly
                      those events (touch on the virtio touchscreen too); the
                      USB devices enumerate with the chosen identity;
                      switching backends releases held keys; Alt+SysRq+H
         input-intx   the same with the guest's MSI off (pci=nomsi): the
                      xHCI controller and virtio devices on their INTx pins
         gpu          the kernel binds virtio-gpu (fb0: virtio_gpudrmfb) and its
                      console shows on it; a DRM program draws a known pattern
                      and moves the cursor; cellvm run's capture socket hands
                      this script the ring, which must hold that pattern and
                      cursor pixel for pixel
         snd          the kernel's ALSA lists virtio-snd's card and PCM; the
                      guest plays 440 Hz for a second, which cellvm run's
                      audio socket's ring and its sink=wav: file must hold
                      (the peak, the rate, the length, no gaps; 16 readers
                      at most); after a malformed WAV stream pushed into the
                      audio input socket the guest records the source=wav:
                      file's 300 Hz (22050 Hz mono, looped); a 1000 Hz tone
                      (16-bit mono, 44100 Hz) pushed there is what the guest
                      records
Exit: 0 pass, 1 fail, 77 skip (KVM here cannot run guest user space, or no
test kernel).
"""
import http.server
import json
import os
import queue
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_ring import (CURSOR_AT, CURSOR_HOT, DRM_XRGB8888, Ring, gpu_cursor_image,  # noqa: E402
                      gpu_pattern, png_bytes)

BOOT_DEADLINE = 240  # s, from start to the check's result line
BLK_BYTES = 16 << 20
M64 = (1 << 64) - 1


def skip(why):
    print(f"SKIP: {why}", file=sys.stderr)
    sys.exit(77)


def fail(why, log=None):
    if log:
        print("---- console (last 60 lines) ----")
        print("\n".join(log[-60:]))
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def mix(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def blk_pattern(seed, nbytes):
    """What cellvm-check-blk writes (test/guest/blk.c)."""
    return b"".join(struct.pack("<QQ", mix(seed ^ s), s) * 32 for s in range(nbytes // 512))


class Vm:
    """One `cellvm run`: its console as lines, its stdin, its exit."""

    def __init__(self, argv, stderr=subprocess.STDOUT):
        print("+ " + " ".join(argv))
        self.start = time.monotonic()
        self.deadline = self.start + BOOT_DEADLINE
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr)
        self.lines = queue.Queue()
        self.log = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, prefix, deadline):
        """The first console line containing prefix, before deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"no console line with {prefix!r} in time", self.log)
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                fail(f"cellvm ended (status {self.proc.wait()}) before {prefix!r}", self.log)
            if prefix in line:
                return line[line.index(prefix):]

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def finish(self, deadline):
        try:
            st = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("the VM did not end after the check", self.log)
        if st != 0:
            fail(f"cellvm run exited {st}, expected 0 (the guest's cellvm-poweroff)", self.log)

    def outcome(self, name):
        """Wait for the check's CELLVM-DATA and result lines and the VM's
        power-off; the check must have passed. Returns the data fields."""
        data = data_fields(self.wait_line(f"CELLVM-DATA {name}", self.deadline))
        result = self.wait_line(f"CELLVM-CHECK {name}", self.deadline)
        self.finish(self.deadline)
        print(f"guest: {result}; {data}; {time.monotonic() - self.start:.1f} s")
        if "pass" not in result.split():
            fail(f"the guest's check failed: {result} {data}", self.log)
        return data

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def data_fields(line):
    """'CELLVM-DATA blk a=1 b=2' -> {'a': '1', 'b': '2'}"""
    return dict(w.split("=", 1) for w in line.split()[2:] if "=" in w)


def children(pid, comm):
    """Pids of pid's children whose command name is comm."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid and name == comm:
            found.append(int(d))
    return found


def kill_and_wait(pid, deadline):
    """SIGKILL pid and wait for its exit event (pidfd), not a guess."""
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        if not select.select([fd], [], [], max(0, deadline - time.monotonic()))[0]:
            fail(f"process {pid} did not end after SIGKILL")
    finally:
        os.close(fd)


def boot(args, guest, check_args, extra, stderr=subprocess.STDOUT):
    # The guest's own limit ends the check before the host's deadline.
    cmdline = ("console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=%d %s"
               % (BOOT_DEADLINE - 30, check_args))
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        # test/integration/lib.sh says why (the APIC timer's calibration spin).
        cmdline += " noapictimer"
    argv = [f"{args.bin}/cellvm", "run", "--kernel", f"{guest}/vmlinux", "--initrd",
            args.initrd, "--cpus", "1", "--memory", "256M", "--cmdline", cmdline] + extra
    return Vm(argv, stderr)


def check_blk(args, guest, restart):
    seed = random.getrandbits(63)
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        vm = boot(args, guest,
                  f"cellvm.check=blk cellvm.seed={seed} cellvm.blk_bytes={BLK_BYTES} "
                  f"cellvm.blk_pause={1 if restart else 0}",
                  ["--disk", f"path={img},serial=guest-check"])
        try:
            if restart:
                vm.wait_line("CELLVM-CHECK-PAUSE blk", vm.deadline)
                old = children(vm.proc.pid, "cellvm-dev-blk")
                if len(old) != 1:
                    fail(f"expected one cellvm-dev-blk child, found {old}", vm.log)
                kill_and_wait(old[0], vm.deadline)
                print(f"killed cellvm-dev-blk {old[0]} halfway; the guest goes on")
                # The guest writes the second half while the device is down
                # and being restarted: its requests wait in the ring.
                vm.send("go\n")
            data = vm.outcome("blk")
        finally:
            vm.kill()
        if restart and not any("device process restarted" in line for line in vm.log):
            fail("cellvm run did not report the device restart", vm.log)
        if int(data.get("bytes", 0)) != BLK_BYTES or data.get("mismatches") != "0":
            fail(f"unexpected guest data: {data}", vm.log)
        with open(img, "rb") as f:
            content = f.read(BLK_BYTES)
        if content != blk_pattern(seed, BLK_BYTES):
            fail("the image file does not hold the guest's pattern")
        if "%08x" % zlib.crc32(content) != data.get("crc32"):
            fail(f"CRC-32 of the image {zlib.crc32(content):08x} != the guest's {data.get('crc32')}")
    print("PASS")


def check_net(args, guest):
    if os.environ.get("CELLVM_GUEST_NETNS") != "1":
        # A network namespace of our own: the tap and its address never
        # touch the host's network.
        env = dict(os.environ, CELLVM_GUEST_NETNS="1")
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable] + sys.argv, env)
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun missing")
    host, guest_ip, tap = "10.0.2.1", "10.0.2.15", "cvmchk0"
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr"],
                ["ip", "addr", "add", f"{host}/24", "dev", tap],
                ["ip", "link", "set", tap, "up"]):
        subprocess.run(cmd, check=True)
    blob = os.urandom(256 * 1024 + 123)
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/blob":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)
            served.append(self.client_address[0])

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    vm = boot(args, guest,
              f"cellvm.check=net cellvm.host={host} cellvm.port={port} "
              f"ip={guest_ip}::{host}:255.255.255.0::eth0:off",
              ["--net", f"tap={tap},mac=52:54:00:12:34:57"])
    try:
        data = vm.outcome("net")
    finally:
        vm.kill()
        server.shutdown()
    if data.get("bytes") != str(len(blob)) or data.get("crc32") != "%08x" % zlib.crc32(blob):
        fail(f"the guest got other bytes than served: {data}")
    if served != [guest_ip]:
        fail(f"the server saw requests from {served}, expected one from {guest_ip}")
    print("PASS")


KBD_PS2 = "AT Translated Set 2 keyboard"
MOUSE_PS2 = "ImExPS/2 Generic Explorer Mouse"
KBD_VIO, MOUSE_VIO = "cellvm virtio keyboard", "cellvm virtio mouse"
TABLET_VIO, TOUCH_VIO = "cellvm virtio tablet", "cellvm virtio touchscreen"
# The USB keyboard with a chosen identity; the mouse and tablet with the
# defaults (Linux names a HID device "<manufacturer> <product>").
KBD_USB = "Logitech USB Keyboard"
MOUSE_USB, TABLET_USB = "cellvm USB Mouse", "cellvm USB Tablet"
USB_KBD_ID = "keyboard,vendor=0x046d,product=0xc31c,release=0x6400,manufacturer=Logitech," \
    "name=USB Keyboard,serial=CV-0001,interval=1"
EV_KEY, EV_REL, EV_ABS = 1, 2, 3
# Codes the kernel adds on its own (high-resolution wheel) are not compared.
IGNORED = {(EV_REL, 11), (EV_REL, 12)}


def inject(sock, body):
    """One request on cellvm run's input socket; its JSON answer."""
    import json
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock)
    s.sendall(json.dumps(body).encode())
    s.shutdown(socket.SHUT_WR)
    answer = s.makefile().read()
    s.close()
    return json.loads(answer)


def key(dev, code, value):
    return (dev, EV_KEY, code, value)


def typed(dev, code):
    return [key(dev, code, 1), key(dev, code, 0)]


def check_input(args, guest, intx=False):
    """Each step: a request, and the events the guest must report for it.
    intx: the guest uses no MSI (pci=nomsi): the xHCI controller and the
    virtio devices interrupt through their INTx pins."""
    kbd = {"ps2": KBD_PS2, "virtio": KBD_VIO, "usb": KBD_USB}
    mouse = {"ps2": MOUSE_PS2, "virtio": MOUSE_VIO, "usb": MOUSE_USB}
    steps = []
    for b in ("ps2", "virtio", "usb"):
        k, m = kbd[b], mouse[b]
        steps += [
            ({"backend": b, "events": [{"type": "keyboard", "action": "type", "scancode": 30}]},
             typed(k, 30)),
            ({"backend": b, "events": [{"type": "keyboard", "action": "type", "key": "KEY_ENTER",
                                        "modifiers": ["ctrl"]}]},
             [key(k, 29, 1)] + typed(k, 28) + [key(k, 29, 0)]),
            ({"backend": b, "layout": "us", "events": [{"type": "keyboard", "action": "type",
                                                        "text": "Hi!"}]},
             [key(k, 42, 1)] + typed(k, 35) + [key(k, 42, 0)] + typed(k, 23) +
             [key(k, 42, 1)] + typed(k, 2) + [key(k, 42, 0)]),
            ({"backend": b, "events": [{"type": "mouse", "action": "move", "dx": 7, "dy": -3}]},
             [(m, EV_REL, 0, 7), (m, EV_REL, 1, -3)]),
            ({"backend": b, "events": [
                {"type": "mouse", "action": "button_press", "button": "left"},
                {"type": "mouse", "action": "button_release", "button": "left"},
                {"type": "mouse", "action": "button_press", "button": "side"},
                {"type": "mouse", "action": "button_release", "button": "side"}]},
             [key(m, 272, 1), key(m, 272, 0), key(m, 275, 1), key(m, 275, 0)]),
            ({"backend": b, "events": [{"type": "mouse", "action": "wheel", "delta": 2}]},
             [(m, EV_REL, 8, 2)]),
        ]
    steps += [
        ({"backend": "virtio", "events": [{"type": "mouse", "action": "move_absolute",
                                           "x": 1000, "y": 2000}]},
         [(TABLET_VIO, EV_ABS, 0, 1000), (TABLET_VIO, EV_ABS, 1, 2000)]),
        ({"backend": "usb", "events": [
            {"type": "mouse", "action": "move_absolute", "x": 1000, "y": 2000},
            {"type": "mouse", "action": "button_press", "button": "right"},
            {"type": "mouse", "action": "button_release", "button": "right"},
            {"type": "mouse", "action": "move_absolute", "x": 32767, "y": 0}]},
         [(TABLET_USB, EV_ABS, 0, 1000), (TABLET_USB, EV_ABS, 1, 2000),
          key(TABLET_USB, 273, 1), key(TABLET_USB, 273, 0),
          (TABLET_USB, EV_ABS, 0, 32767), (TABLET_USB, EV_ABS, 1, 0)]),
        ({"backend": "usb", "events": [
            {"type": "mouse", "action": "move", "dx": -300, "dy": 1200},
            {"type": "mouse", "action": "wheel", "delta": -1}]},
         [(MOUSE_USB, EV_REL, 0, -300), (MOUSE_USB, EV_REL, 1, 1200),
          (MOUSE_USB, EV_REL, 8, -1)]),
        ({"backend": "virtio", "events": [
            {"type": "touch", "action": "down", "slot": 0, "x": 100, "y": 200},
            {"type": "touch", "action": "down", "slot": 1, "x": 300, "y": 400},
            {"type": "touch", "action": "move", "slot": 0, "x": 150, "y": 250},
            {"type": "touch", "action": "up", "slot": 1},
            {"type": "touch", "action": "up", "slot": 0}]},
         # Type B as the guest's evdev has it: ABS_MT_SLOT only where the
         # slot changes (it starts at 0), tracking ids 0 and 1 (the VM's
         # first contacts), ABS_X/Y and BTN_TOUCH following the oldest one.
         [(TOUCH_VIO, EV_ABS, 57, 0), (TOUCH_VIO, EV_ABS, 53, 100),
          (TOUCH_VIO, EV_ABS, 54, 200), (TOUCH_VIO, EV_KEY, 330, 1),
          (TOUCH_VIO, EV_ABS, 0, 100), (TOUCH_VIO, EV_ABS, 1, 200),
          (TOUCH_VIO, EV_ABS, 47, 1), (TOUCH_VIO, EV_ABS, 57, 1),
          (TOUCH_VIO, EV_ABS, 53, 300), (TOUCH_VIO, EV_ABS, 54, 400),
          (TOUCH_VIO, EV_ABS, 47, 0), (TOUCH_VIO, EV_ABS, 53, 150),
          (TOUCH_VIO, EV_ABS, 54, 250), (TOUCH_VIO, EV_ABS, 0, 150),
          (TOUCH_VIO, EV_ABS, 1, 250), (TOUCH_VIO, EV_ABS, 47, 1),
          (TOUCH_VIO, EV_ABS, 57, -1), (TOUCH_VIO, EV_ABS, 47, 0),
          (TOUCH_VIO, EV_ABS, 57, -1), (TOUCH_VIO, EV_KEY, 330, 0)]),
    ]
    with tempfile.TemporaryDirectory(dir="/run" if os.path.isdir("/run") else None) as tmp:
        sock = os.path.join(tmp, "input.sock")
        # cellvm's own log lines apart: they could land inside an event line.
        errlog = open(os.path.join(tmp, "stderr"), "w+")
        vm = boot(args, guest, "cellvm.check=input cellvm.input_devices=9 sysrq_always_enabled" +
                  (" pci=nomsi" if intx else ""),
                  ["--input", "ps2,virtio,usb", "--usb-device", USB_KBD_ID,
                   "--input-socket", sock], errlog)
        try:
            devs = []
            while True:
                line = vm.wait_line("CELLVM-", vm.deadline)
                if line.startswith("CELLVM-INPUT-READY"):
                    break
                if line.startswith(("CELLVM-INPUT-DEV", "CELLVM-KMSG", "CELLVM-USB", "CELLVM-IRQ")):
                    devs.append(line)
            print("\n".join(devs))
            for name in (KBD_PS2, MOUSE_PS2, KBD_VIO, MOUSE_VIO, TABLET_VIO, TOUCH_VIO,
                         KBD_USB, MOUSE_USB, TABLET_USB):
                if not any(f"-DEV {name} " in d for d in devs):
                    fail(f"the guest has no input device {name!r}", vm.log)
            if not any(f"-DEV {KBD_VIO} bus=0006 vendor=0627" in d for d in devs):
                fail("the virtio keyboard's ids are not the defaults", vm.log)
            # The USB keyboard as the VM was created with it: the kernel's
            # enumeration lines, the evdev ids.
            # (sysfs: this kernel does not log "New USB device found").
            for want in ("new full-speed USB device number",
                         "idVendor=046d idProduct=c31c bcdDevice=6400 manufacturer=Logitech "
                         "product=USB Keyboard serial=CV-0001",
                         "idVendor=1d6b idProduct=0105 bcdDevice=0100 manufacturer=cellvm "
                         "product=USB Mouse serial="):
                if not any(want in d for d in devs):
                    fail(f"the guest's kernel did not enumerate {want!r}", vm.log)
            irq = [d for d in devs if d.startswith("CELLVM-IRQ")]
            if not irq or ("IO-APIC" if intx else "MSI") not in irq[0]:
                fail(f"the xHCI controller does not interrupt through "
                     f"{'INTx' if intx else 'MSI-X'}: {irq}", vm.log)
            if not any(f"-DEV {KBD_USB} bus=0003 vendor=046d product=c31c" in d for d in devs):
                fail("the USB keyboard's ids are not the chosen ones", vm.log)
            info = inject(sock, {"input-info": True})
            print("input-info:", info)
            if not info.get("capabilities", {}).get("absolute_pointer"):
                fail(f"input-info: no absolute pointer with virtio and usb: {info}", vm.log)
            if not all(b["bound"] for b in info.get("backends", [])) or len(info["backends"]) != 3:
                fail(f"input-info: not every backend is bound: {info}", vm.log)
            expected = []
            for body, evs in steps:
                answer = inject(sock, body)
                if "error" in answer:
                    fail(f"{body}: {answer}", vm.log)
                if answer.get("delivered", 0) < len(body["events"]):
                    fail(f"{body}: only {answer} delivered", vm.log)
                expected += evs
            # Refused, with the event named: no absolute pointer on PS/2.
            bad = inject(sock, {"backend": "ps2", "events": [
                {"type": "mouse", "action": "move_absolute", "x": 1, "y": 1}]})
            if bad.get("code") != "INVALID_INPUT_EVENT" or bad.get("event") != 0:
                fail(f"move_absolute on ps2 was not refused: {bad}", vm.log)
            # Switching with a key held releases it on the old backend.
            inject(sock, {"backend": "ps2", "events": [
                {"type": "keyboard", "action": "press", "key": "KEY_LEFTSHIFT"}]})
            expected.append(key(KBD_PS2, 42, 1))
            sw = inject(sock, {"switch-input-backend": "virtio"})
            if "error" in sw:
                fail(f"switch: {sw}", vm.log)
            expected.append(key(KBD_PS2, 42, 0))
            inject(sock, {"events": [{"type": "keyboard", "action": "type", "key": "KEY_B"}]})
            expected += typed(KBD_VIO, 48)
            # To usb and away from it, each with a key held.
            inject(sock, {"events": [
                {"type": "keyboard", "action": "press", "key": "KEY_LEFTCTRL"}]})
            expected.append(key(KBD_VIO, 29, 1))
            inject(sock, {"switch-input-backend": "usb"})
            expected.append(key(KBD_VIO, 29, 0))
            inject(sock, {"events": [
                {"type": "keyboard", "action": "press", "key": "KEY_RIGHTSHIFT"},
                {"type": "keyboard", "action": "type", "key": "KEY_C"}]})
            expected += [key(KBD_USB, 54, 1)] + typed(KBD_USB, 46)
            inject(sock, {"switch-input-backend": "virtio"})
            expected.append(key(KBD_USB, 54, 0))
            inject(sock, {"backend": "ps2", "events": [
                {"type": "keyboard", "action": "type", "key": "KEY_F12"}]})
            expected.append(key(KBD_PS2, 88, 1))
            got = []
            while True:
                line = vm.wait_line("CELLVM-", vm.deadline)
                if line.startswith("CELLVM-DATA input"):
                    break
                if line.startswith("CELLVM-EV "):
                    dev, t, c, v = line[len("CELLVM-EV "):].rsplit("|", 3)
                    if (int(t), int(c)) not in IGNORED:
                        got.append((dev, int(t), int(c), int(v)))
            # Magic SysRq on each backend once the quiet reader runs: the
            # kernel's help text.
            vm.wait_line("CELLVM-INPUT-READY", vm.deadline)
            for b in ("ps2", "virtio", "usb"):
                inject(sock, {"backend": b, "events": [
                    {"type": "keyboard", "action": "press", "key": "KEY_LEFTALT"},
                    {"type": "keyboard", "action": "press", "key": "KEY_SYSRQ"},
                    {"type": "keyboard", "action": "type", "key": "KEY_H"},
                    {"type": "keyboard", "action": "release", "key": "KEY_SYSRQ"},
                    {"type": "keyboard", "action": "release", "key": "KEY_LEFTALT"}]})
                vm.wait_line("sysrq: HELP", time.monotonic() + 60)
                print(f"SysRq help on {b}")
            inject(sock, {"backend": "ps2", "events": [
                {"type": "keyboard", "action": "type", "key": "KEY_F11"}]})
            result = vm.wait_line("CELLVM-CHECK input", vm.deadline)
            vm.finish(vm.deadline)
            if "pass" not in result.split():
                fail(f"the guest's check failed: {result}", vm.log)
        finally:
            vm.kill()
            errlog.seek(0)
            print(errlog.read())
            errlog.close()
    print(f"guest: {result}; {len(got)} events")
    # Per device: the reader drains one device at a time, so its lines mix
    # devices in its own order; each device's stream must match exactly.
    for dev in sorted({e[0] for e in expected} | {g[0] for g in got}):
        g = [e for e in got if e[0] == dev]
        x = [e for e in expected if e[0] == dev]
        if g != x:
            for i in range(max(len(g), len(x))):
                a = g[i] if i < len(g) else None
                b = x[i] if i < len(x) else None
                print(f"{'  ' if a == b else '!!'} got {a} expected {b}")
            fail(f"{dev}: the guest's events differ from those injected")
    print("PASS")


# ---- gpu: the capture ring's reader and the guest's pattern (gpu_ring.py) ----

def capture_connect(path):
    """Subscribe at cellvm run's capture socket: (connection, hello, Ring).
    The socket exists from before the devices start."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    msg, fds, _, _ = socket.recv_fds(s, 4096, 2)
    if len(fds) != 2:
        fail(f"the capture socket sent {len(fds)} fds, not 2: {msg!r}")
    hello = json.loads(msg.decode())
    return s, hello, Ring(fds[0], fds[1], hello["ring_bytes"])


def check_gpu(args, guest):
    sock = f"/run/cellvm-gpu-{os.getpid()}.sock"
    vm = boot(args, guest, "cellvm.check=gpu",
              ["--gpu", "1024x768", "--capture-socket", sock])
    try:
        vm.wait_line("CELLVM-CHECK-START", vm.deadline)
        conn, hello, ring = capture_connect(sock)
        if hello["scanouts"] != [[1024, 768]]:
            fail(f"capture socket hello: {hello}")
        vm.wait_line("CELLVM-GPU ready", vm.deadline)
        if not any("fb0: virtio_gpudrmfb" in line for line in vm.log):
            fail("the kernel did not say fb0: virtio_gpudrmfb", vm.log)

        # The console (fbcon) with the check's line at the top.
        vm.send("shot\n")
        vm.wait_line("CELLVM-GPU shot", vm.deadline)
        end = time.monotonic() + 20
        lit = 0
        while time.monotonic() < end:
            got = ring.frame()
            if got and got[0]["width"] == 1024:
                meta, px = got
                top = px[:16 * 1024 * 4]
                lit = sum(1 for i in range(0, len(top), 4) if top[i:i + 3] != b"\0\0\0")
                if lit > 200:
                    break
            ring.wait(end)
        if lit <= 200:
            fail(f"no console text on the screen ({lit} lit pixels in the top rows)", vm.log)
        shot = os.environ.get("CELLVM_GPU_SHOT", f"/tmp/cellvm-gpu-console-{os.getpid()}.png")
        with open(shot, "wb") as f:
            f.write(png_bytes(1024, 768, px))
        print(f"console screenshot ({lit} lit pixels in the top rows): {shot}")

        # The pattern and the cursor, through DRM.
        vm.send("draw\n")
        drawn = vm.wait_line("CELLVM-GPU drawn", vm.deadline)
        if "1024x768" not in drawn:
            fail(f"the guest drew {drawn}, not 1024x768", vm.log)
        want = gpu_pattern(1024, 768)
        end = time.monotonic() + 20
        diff = None
        while time.monotonic() < end:
            got = ring.frame()
            if got and got[0]["width"] == 1024 and got[0]["height"] == 768:
                meta, px = got
                px = bytearray(px)
                px[3::4] = bytes(len(px) // 4)
                diff = sum(1 for i in range(0, len(px), 4096) if px[i:i + 4096] != want[i:i + 4096])
                if diff == 0:
                    break
            ring.wait(end)
        if diff != 0:
            fail(f"the ring's frame is not the guest's pattern ({diff} 4 KiB blocks differ)",
                 vm.log)
        if meta["fourcc"] != DRM_XRGB8888 or meta["scanout"] != 0:
            fail(f"frame {meta}: not XRGB8888 on scanout 0")
        print(f"ring frame {meta['serial']} is the pattern, pixel for pixel")

        image = gpu_cursor_image()
        for n, (x, y) in enumerate(CURSOR_AT):
            if n:
                vm.send("move\n")
                vm.wait_line("CELLVM-GPU moved", vm.deadline)
            end = time.monotonic() + 20
            cur = None
            while time.monotonic() < end:
                cur = ring.cursor()
                if cur and cur["visible"] and cur["image"] == image and (cur["x"], cur["y"]) == (x, y):
                    break
                ring.wait(end)
            shown = {k: v for k, v in (cur or {}).items() if k != "image"}
            if not cur or cur["image"] != image:
                bad = [i for i in range(4096) if cur and cur["image"][i] != image[i]]
                first = (f"{len(bad)} pixels differ, the first at {bad[0] % 64},{bad[0] // 64}: "
                         f"{cur['image'][bad[0]]:#010x}, expected {image[bad[0]]:#010x}"
                         if bad else "none")
                fail(f"the ring's cursor image is not the guest's ({first}): {shown}", vm.log)
            if (cur["x"], cur["y"]) != (x, y) or cur["hot"] != CURSOR_HOT or not cur["visible"]:
                fail(f"the ring's cursor is {shown}, expected at {(x, y)} with hotspot "
                     f"{CURSOR_HOT}", vm.log)
            print(f"ring cursor {cur['serial']} at {(x, y)}, hotspot {CURSOR_HOT}, image exact")
        vm.send("done\n")
        result = vm.wait_line("CELLVM-CHECK gpu", vm.deadline)
        vm.finish(vm.deadline)
        if "pass" not in result.split():
            fail(f"the guest's check failed: {result}", vm.log)
        conn.close()
    finally:
        vm.kill()


# ---- snd: cellvm-test-audio (test/guest/audio.c) follows the ring and pushes ----

SND_PLAY_HZ, SND_PUSH_HZ, SND_SOURCE_HZ, SND_RATE = 440, 1000, 300, 48000


def snd_source_wav(path):
    """The --snd source=wav: file: half a second (a whole number of periods:
    it loops without a click) of SND_SOURCE_HZ, 16-bit mono at 22050 Hz."""
    import math
    rate = 22050
    pcm = b"".join(struct.pack("<h", round(16383 * math.sin(2 * math.pi * SND_SOURCE_HZ * i / rate)))
                   for i in range(rate // 2))
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
                + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
                + b"data" + struct.pack("<I", len(pcm)) + pcm)


def snd_expect(what, got, checks, log):
    """Each (name, ok) of checks must hold for got (a JSON result)."""
    bad = [name for name, ok in checks if not ok]
    if bad:
        fail(f"{what}: {', '.join(bad)}: {got}", log)


def snd_reader_limit(path, log):
    """The audio socket takes 16 readers at once (one is already there):
    15 more get the ring and an eventfd, the 17th is told no; closing them
    ends their subscriptions."""
    conns = []
    try:
        for _ in range(15):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(path)
            msg, fds, _, _ = socket.recv_fds(s, 4096, 2)
            for fd in fds:
                os.close(fd)
            if len(fds) != 2 or "ring_bytes" not in msg.decode():
                fail(f"audio reader {len(conns) + 2}: {msg!r} with {len(fds)} fds", log)
            conns.append(s)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(path)
        conns.append(s)
        msg, fds, _, _ = socket.recv_fds(s, 4096, 2)
        if fds or "error" not in msg.decode():
            fail(f"a 17th audio reader was not refused: {msg!r} with {len(fds)} fds", log)
        print(f"audio socket: 16 readers at once, the 17th told {msg.decode().strip()}")
    finally:
        for s in conns:
            s.close()


def check_snd(args, guest):
    tool = os.path.join(args.bin, "cellvm-test-audio")
    # Unix sockets cannot live on 9p (the emulated host's /tmp).
    tmp = tempfile.mkdtemp(dir="/run" if os.path.isdir("/run") else None)
    audio, audio_in = os.path.join(tmp, "audio.sock"), os.path.join(tmp, "audio-in.sock")
    sink, source = os.path.join(tmp, "played.wav"), os.path.join(tmp, "source.wav")
    snd_source_wav(source)
    vm = boot(args, guest, "cellvm.check=snd",
              ["--snd", f"sink=ring,sink=wav:{sink},source=wav:{source}", "--audio-socket", audio,
               "--audio-input-socket", audio_in])
    reader = pusher = None
    try:
        vm.wait_line("CELLVM-SND ready", vm.deadline)
        cards = [ln[ln.index("CELLVM-SND-CARD"):] for ln in vm.log if "CELLVM-SND-CARD" in ln]
        pcms = [ln[ln.index("CELLVM-SND-PCM"):] for ln in vm.log if "CELLVM-SND-PCM" in ln]
        print("\n".join(cards + pcms))
        if not any(" 0 [" in c for c in cards):
            fail("the guest's ALSA has no card 0", vm.log)
        # A PCM device per group of streams: one with both, or one each.
        for d in ("playback", "capture"):
            if not any(p.startswith("CELLVM-SND-PCM 00-") and f"{d} 1" in p for p in pcms):
                fail(f"the guest's ALSA has no PCM with a {d} stream on card 0", vm.log)

        # What the guest plays, through the ring.
        reader = subprocess.Popen([tool, "follow", audio, "120"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        hello = reader.stdout.readline()
        if not hello.startswith("hello "):
            fail(f"the audio socket did not answer: {hello!r}", vm.log)
        hello = json.loads(hello[len("hello "):])
        if hello.get("playback") != 1 or hello.get("capture") != 1 or hello.get("ring_bytes", 0) <= 0:
            fail(f"audio socket hello: {hello}", vm.log)
        snd_reader_limit(audio, vm.log)
        vm.send("play\n")
        played = vm.wait_line("CELLVM-SND played", vm.deadline)
        print(f"guest: {played}")
        reader.stdin.close()  # the reader ends once the ring is quiet
        ring = json.loads(reader.stdout.readline() or "{}")
        if reader.wait(timeout=60) != 0:
            fail(f"the audio reader exited {reader.returncode}", vm.log)
        print(f"ring: {ring}")
        snd_expect("the audio ring", ring, [
            ("not 48000 Hz", ring.get("rate") == SND_RATE),
            ("not S16", ring.get("format") == 5),
            (f"the peak is not {SND_PLAY_HZ} Hz", abs(ring.get("freq", 0) - SND_PLAY_HZ) <= 5),
            ("not about a second of frames",
             0.9 * SND_RATE <= ring.get("frames", 0) <= 1.1 * SND_RATE),
            ("a gap in position between periods", ring.get("gaps") == 0),
            ("periods lost", ring.get("lost") == 0),
            ("the stream's parameters changed", ring.get("changes") == 0),
            ("the first period is not the stream's start",
             ring.get("first_discont") is True and ring.get("first_position") == 0),
            ("too quiet", ring.get("rms", 0) > 0.2),
        ], vm.log)
        if "xruns=0" in played:
            snd_expect("the audio ring", ring, [
                ("restarts without an underrun", ring.get("disconts") == 1)], vm.log)

        # A malformed WAV stream pushed: the device drops it (logged) and
        # the guest records its configured source (source=wav:, looped).
        vm.wait_line("CELLVM-SND waiting", vm.deadline)
        junk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        junk.connect(audio_in)
        answer = junk.makefile().readline()
        if '"id"' not in answer:
            fail(f"the audio input socket refused a stream: {answer!r}", vm.log)
        # RIFF/WAVE with a "fmt " of 0 channels, then bytes that are no PCM.
        fmt = struct.pack("<IHHIIHH", 16, 1, 0, 48000, 0, 0, 16)
        junk.sendall(b"RIFF\xff\xff\xff\xffWAVEfmt " + fmt + b"data\xff\xff\xff\xff"
                     + os.urandom(8192))
        junk.close()
        vm.send("junk\n")
        rec = data_fields(vm.wait_line("CELLVM-SND-REC junk", vm.deadline))
        print(f"the guest recorded {rec} after a malformed stream")
        if abs(float(rec.get("freq", 0)) - SND_SOURCE_HZ) > 10 or float(rec.get("rms", 0)) < 0.1:
            fail(f"after a malformed pushed stream the guest did not record the "
                 f"{SND_SOURCE_HZ} Hz of source=wav: {rec}", vm.log)

        # What the guest records: a tone pushed into the input socket.
        vm.wait_line("CELLVM-SND waiting", vm.deadline)
        pusher = subprocess.Popen([tool, "push", audio_in, str(SND_PUSH_HZ), "6", "44100"],
                                  stdout=subprocess.PIPE, text=True)
        answer = pusher.stdout.readline()
        if '"id"' not in answer:
            fail(f"the audio input socket refused the stream: {answer!r}", vm.log)
        vm.send("record\n")
        data = vm.outcome("snd")
        # The VM is gone, and the device's end of the stream with it.
        if pusher.wait(timeout=30) != 0:
            fail(f"the audio pusher exited {pusher.returncode}", vm.log)
        rec = {k: float(v) for k, v in data.items()}
        snd_expect("the guest's recording", rec, [
            (f"the peak is not {SND_PUSH_HZ} Hz", abs(rec.get("freq", 0) - SND_PUSH_HZ) <= 10),
            ("too quiet", rec.get("rms", 0) > 0.1),
        ], vm.log)
        print(f"the guest recorded {rec['freq']} Hz at RMS {rec['rms']}")
    finally:
        for p in (reader, pusher):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        vm.kill()

    # The sink=wav: file, complete once the VM ended.
    out = subprocess.run([tool, "wav", sink], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"the sink file is not a WAV: {out.stderr.strip()}")
    wav = json.loads(out.stdout)
    print(f"sink file: {wav}")
    snd_expect("the sink file", wav, [
        ("not 48000 Hz", wav.get("rate") == SND_RATE),
        (f"the peak is not {SND_PLAY_HZ} Hz", abs(wav.get("freq", 0) - SND_PLAY_HZ) <= 5),
        ("less than 0.9 s", wav.get("frames", 0) >= 0.9 * SND_RATE),
    ], None)
    subprocess.run(["rm", "-rf", tmp])
    print("PASS")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)

    class Args:
        pass

    args = Args()
    args.bin, guestdir, srcdir, check = sys.argv[1:]
    args.initrd = os.path.join(guestdir, "test-initramfs.cpio.gz")
    if os.geteuid() != 0:
        skip("needs root (taps, killing the device process)")
    env = subprocess.run([os.path.join(srcdir, "scripts/kvm-env.sh")], capture_output=True,
                         text=True).stdout.strip()
    if not env.startswith("native"):
        # scripts/test.sh runs this test inside the emulated KVM host then.
        skip(f"guest user space cannot run on this machine's KVM: {env}")
    guest = os.environ.get("CELLVM_GUEST_DIR") or os.path.join(srcdir, "../shared/guest")
    if not os.path.isfile(os.path.join(guest, "vmlinux")):
        skip(f"no test kernel in {guest} (set CELLVM_GUEST_DIR)")
    if not os.path.isfile(args.initrd):
        fail(f"the test initramfs {args.initrd} was not built")
    if check == "blk":
        check_blk(args, guest, restart=False)
    elif check == "blk-restart":
        check_blk(args, guest, restart=True)
    elif check == "net":
        check_net(args, guest)
    elif check == "input":
        check_input(args, guest)
    elif check == "input-intx":
        check_input(args, guest, intx=True)
    elif check == "gpu":
        check_gpu(args, guest)
    elif check == "snd":
        check_snd(args, guest)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
