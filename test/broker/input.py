#!/usr/bin/env python3
"""The input API through the real broker, on the test guest: a VM with
input_config (PS/2, virtio-input and USB, chosen identities for the virtio
and the USB keyboards) boots the test kernel with the input check (test/guest/input.c
prints every evdev event on the console). Then:
- input-info: the three backends bound by the guest's drivers, ps2 active;
- inject-input on each backend (keys by code and name, text, mouse): each
  answered 200 with every event delivered, and the guest's reader shows
  exactly those events, per device;
- errors: 400 INVALID_INPUT_EVENT naming the event (a bad scancode, an
  absolute move on ps2, a touch on usb), 400 BACKEND_NOT_AVAILABLE (a VM
  without input_config), a bad switch body;
- a paused VM (its processes stopped) does not drain: 503 VM_BUSY with the
  count delivered; after resume the events arrive, once, in order;
- switch-input-backend with a key held releases it on the old backend.
Usage: input.py BINDIR PAYLOADDIR"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import check_result, test_guest, Broker, fail, need_root_kvm, payload, skip, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
guest, initrd = test_guest(paydir)

KBD_PS2, MOUSE_PS2 = "AT Translated Set 2 keyboard", "ImExPS/2 Generic Explorer Mouse"
KBD_VIO, MOUSE_VIO = "Logitech USB Keyboard", "cellvm virtio mouse"
# The USB keyboard's identity, chosen apart from the virtio keyboard's name.
KBD_USB, TABLET_USB = "Logitech K120 Keyboard", "cellvm USB Tablet"


def events(console):
    out = []
    for line in console.splitlines():
        if line.startswith("CELLVM-EV "):
            dev, t, c, v = line[10:].rsplit("|", 3)
            if (int(t), int(c)) not in ((2, 11), (2, 12)):
                out.append((dev, int(t), int(c), int(v)))
    return out


def typed(dev, code):
    return [(dev, 1, code, 1), (dev, 1, code, 0)]


b = Broker(bindir, "")
try:
    b.start()
    cmdline = ("console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=400 cellvm.check=input "
               "cellvm.input_devices=9")
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        cmdline += " noapictimer"  # test/integration/lib.sh says why
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "initrd": initrd, "memory": "256M",
        "cmdline": cmdline,
        "input_config": {"default_backend": "ps2", "backends": ["ps2", "virtio", "usb"],
                         "devices": {"keyboard": {"name": KBD_VIO, "vendor": 0x046D,
                                                  "product": 0xC31C, "serial": "kbd-1"}},
                         "usb_keyboard_config": {"vendor_id": "0x046d", "product_id": "0xc31c",
                                                 "manufacturer": "Logitech",
                                                 "product": "K120 Keyboard"}}})["vm_id"]
    bare = b.ok("POST", "/vm.create", {"kernel": payload(paydir, "hello.elf")})["vm_id"]
    info = b.ok("GET", "/vm/" + vid)
    if info["config"]["input_config"]["devices"]["keyboard"]["vendor"] != 0x046D or \
            info["config"]["input_config"]["usb_keyboard_config"]["vendor_id"] != 0x046D:
        fail("the definition does not keep the identity: %r" % info["config"])
    key_a = {"events": [{"type": "keyboard", "action": "type", "key": "KEY_A"}]}
    st, r = b.req("POST", "/vm/%s/inject-input" % vid, key_a)
    if st != 503 or r["code"] != "VM_BUSY":
        fail("inject into a stopped VM: %d %r" % (st, r))
    b.ok("PUT", "/vm/%s/boot" % vid)
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)
    wait_until(lambda: "CELLVM-INPUT-READY" in con(), 300, "the guest's evdev reader")
    c = con()
    if ("CELLVM-INPUT-DEV %s bus=0006 vendor=046d product=c31c" % KBD_VIO) not in c:
        fail("the virtio keyboard's identity is not the one chosen:\n" + c[-2000:])
    if ("CELLVM-INPUT-DEV %s bus=0003 vendor=046d product=c31c" % KBD_USB) not in c:
        fail("the USB keyboard's identity is not the one chosen:\n" + c[-2000:])
    ii = b.ok("GET", "/vm/%s/input-info" % vid)
    if ii["active_backend"] != "ps2" or [x["backend"] for x in ii["backends"]] != ["ps2", "usb", "virtio"] \
            or not all(x["bound"] for x in ii["backends"]) or not ii["capabilities"]["absolute_pointer"]:
        fail("input-info: %r" % ii)
    expected = []

    def inject(body, n, path=None):
        st, r = b.req("POST", path or "/vm/%s/inject-input" % vid, body)
        if st != 200 or r["delivered"] != n or r["total"] != n:
            fail("inject %r: %d %r" % (body, st, r))

    inject({"events": [{"type": "keyboard", "action": "type", "scancode": 30}]}, 2)
    expected += typed(KBD_PS2, 30)
    inject({"backend": "virtio", "events": [{"type": "keyboard", "action": "type", "text": "ok"}]}, 4)
    expected += typed(KBD_VIO, 24) + typed(KBD_VIO, 37)
    inject({"backend": "usb", "events": [{"type": "keyboard", "action": "type", "text": "Ok"},
                                         {"type": "mouse", "action": "move_absolute",
                                          "x": 5, "y": 6}]}, 7)
    expected += [(KBD_USB, 1, 42, 1)] + typed(KBD_USB, 24) + [(KBD_USB, 1, 42, 0)] + \
        typed(KBD_USB, 37) + [(TABLET_USB, 3, 0, 5), (TABLET_USB, 3, 1, 6)]
    inject({"events": [{"type": "mouse", "action": "move", "dx": 3, "dy": 4, "backend": "virtio"},
                       {"type": "mouse", "action": "move", "dx": -2, "dy": 1}]}, 2)
    expected += [(MOUSE_VIO, 2, 0, 3), (MOUSE_VIO, 2, 1, 4), (MOUSE_PS2, 2, 0, -2),
                 (MOUSE_PS2, 2, 1, 1)]
    # The single-VM form acts on the tenant's default VM: the first created.
    inject({"events": [{"type": "keyboard", "action": "type", "key": "KEY_Z"}]}, 2,
           "/vm.inject-input")
    expected += typed(KBD_PS2, 44)
    # Refusals: nothing is queued.
    for body, code, ev in (
            ({"events": [{"type": "keyboard", "action": "type", "key": "KEY_A"},
                         {"type": "keyboard", "action": "press", "scancode": 1000}]},
             "INVALID_INPUT_EVENT", 1),
            ({"events": [{"type": "mouse", "action": "move_absolute", "x": 1, "y": 1}]},
             "INVALID_INPUT_EVENT", 0),
            ({"backend": "usb", "events": [{"type": "keyboard", "action": "type", "key": "KEY_A"},
                                           {"type": "touch", "action": "down", "slot": 0,
                                            "x": 1, "y": 1}]},
             "INVALID_INPUT_EVENT", 1)):
        st, r = b.req("POST", "/vm/%s/inject-input" % vid, body)
        if st != 400 or r["code"] != code or r.get("event") != ev:
            fail("%r: %d %r, expected 400 %s naming event %d" % (body, st, r, code, ev))
    st, r = b.req("POST", "/vm/%s/inject-input" % bare, key_a)
    if st != 400 or r["code"] != "BACKEND_NOT_AVAILABLE":
        fail("a VM without input: %d %r" % (st, r))
    st, r = b.req("PUT", "/vm/%s/switch-input-backend" % vid, {"backend": "ps2", "x": 1})
    if st != 400 or r["code"] != "INVALID_INPUT_EVENT":
        fail("a bad switch body: %d %r" % (st, r))
    # A paused VM does not drain: VM_BUSY at the deadline, then delivery.
    b.ok("PUT", "/vm/%s/pause" % vid)
    st, r = b.req("POST", "/vm/%s/inject-input?timeout_ms=1500" % vid,
                  {"events": [{"type": "keyboard", "action": "type", "key": "KEY_Q"}]})
    if st != 503 or r["code"] != "VM_BUSY" or r["delivered"] != 0 or r["total"] != 2:
        fail("inject into a paused VM: %d %r" % (st, r))
    expected += typed(KBD_PS2, 16)
    b.ok("PUT", "/vm/%s/resume" % vid)
    inject({"events": [{"type": "keyboard", "action": "type", "key": "KEY_W"}]}, 2)
    expected += typed(KBD_PS2, 17)
    # Switching with Shift held: released on the old backend.
    inject({"events": [{"type": "keyboard", "action": "press", "key": "KEY_LEFTSHIFT"}]}, 1)
    expected.append((KBD_PS2, 1, 42, 1))
    r = b.ok("PUT", "/vm/%s/switch-input-backend" % vid, {"backend": "virtio"})
    expected.append((KBD_PS2, 1, 42, 0))
    inject({"events": [{"type": "keyboard", "action": "type", "key": "KEY_E"}]}, 2)
    expected += typed(KBD_VIO, 18)
    if b.ok("GET", "/vm.input-info")["active_backend"] != "virtio":
        fail("the switch did not stick")
    # The reader's end marker, then the check's (it exits quietly on F11).
    inject({"backend": "ps2", "events": [{"type": "keyboard", "action": "type", "key": "KEY_F12"}]}, 2)
    expected.append((KBD_PS2, 1, 88, 1))
    wait_until(lambda: "CELLVM-DATA input" in con(), 120, "the reader's end")
    got = events(con())
    for dev in sorted({e[0] for e in expected} | {g[0] for g in got}):
        g, x = [e for e in got if e[0] == dev], [e for e in expected if e[0] == dev]
        if g != x:
            fail("%s: the guest saw %r, injected %r" % (dev, g, x))
    wait_until(lambda: con().count("CELLVM-INPUT-READY") == 2, 120, "the quiet reader")
    inject({"backend": "ps2", "events": [{"type": "keyboard", "action": "type", "key": "KEY_F11"}]}, 2)
    if wait_until(lambda: check_result(con(), "input"), 120, "the check's end") != "pass":
        fail("the guest's check failed:\n" + con()[-2000:])
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] == "stopped", 120, "the power-off")
    b.stop()
    print("PASS")
finally:
    b.cleanup()
