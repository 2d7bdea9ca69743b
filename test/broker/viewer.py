#!/usr/bin/env python3
"""The browser viewer through the real broker: a VM with a gpu and
virtio-input boots the test kernel with the display check and the guest's
evdev reader beside it (test/guest/checks/gpu.sh, cellvm.gpu_input=4); the
guest draws its pattern through DRM. Then headless Chromium (Debian's
chromium, driven over the DevTools protocol: cdp.py) opens the viewer page a
console token names (noVNC from the broker's viewer listener, a WebSocket
to the VM's cellvm-display):
- the page connects, and its canvas is the API's screenshot (without the
  cursor, which noVNC draws apart) pixel for pixel;
- a click made in the page reaches the guest's evdev reader as the virtio
  tablet's absolute position and BTN_LEFT, and a key typed (a) as KEY_A;
- the token is spent: a second page with it does not connect.
Skips (77) without chromium or noVNC. Usage: viewer.py BINDIR PAYLOADDIR PNG_RAW"""
import base64
import re
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (check_result, test_guest, png_decode, DEADLINE, Broker, UnixHTTP, fail, need_root_kvm, scratch_dir,  # noqa: E402
                        skip, wait_until)
from cdp import CdpError, Chromium  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../guest"))
from gpu_ring import gpu_pattern  # noqa: E402

bindir, paydir, png_raw = sys.argv[1], sys.argv[2], sys.argv[3]
need_root_kvm()
guest, initrd = test_guest(paydir)
if not os.path.isfile("/usr/share/novnc/core/rfb.js"):
    skip("no noVNC in /usr/share/novnc (scripts/install-deps.sh installs novnc)")

# Small: in an emulated KVM host Chromium runs under TCG, minutes per page.
W, H = 640, 480
CLICK = (200, 100)  # in the guest's pixels
SLOW = 4 if os.environ.get("CELLVM_KVM_HOST") == "emulated" else 1
# Chromium makes unix sockets in $TMPDIR: a directory that holds them.
tmp = scratch_dir("cellvm-viewer-")
os.environ["TMPDIR"] = tmp
TABLET, KBD = "cellvm virtio tablet", "cellvm virtio keyboard"


def decode(png):
    return png_decode(png_raw, png)


def screenshot(b, vid, query):
    c = UnixHTTP(b.sock, DEADLINE)
    try:
        c.request("GET", "/vm/%s/screenshot%s" % (vid, query))
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            fail("screenshot: %d %r" % (r.status, body[:200]))
        return body
    finally:
        c.close()


EV = re.compile(r"^CELLVM-EV (.+)\|(\d+)\|(\d+)\|(-?\d+)$")


def events(console):
    """The evdev reader's events; a line another writer broke is passed over
    (the display check and the reader share the console)."""
    out = []
    for line in console.splitlines():
        m = EV.match(line.strip())
        if m:
            out.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))))
    return out


# noVNC's canvas as RGBA, base64 (null until it has the VM's size).
CANVAS = """(() => {
  const c = Array.from(document.querySelectorAll('canvas')).find(
      (e) => e.width === %d && e.height === %d);
  if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000)
    s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  return btoa(s);
})()""" % (W, H)
RECT = """(() => {
  const c = Array.from(document.querySelectorAll('canvas')).find((e) => e.width === %d);
  const r = c.getBoundingClientRect();
  return [r.left, r.top, r.width, r.height];
})()""" % W

b = Broker(bindir, "")
browser = None
try:
    b.start()
    cmdline = ("console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=800 cellvm.check=gpu "
               "cellvm.gpu_input=4")
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        cmdline += " noapictimer"  # test/integration/lib.sh says why
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "initrd": initrd, "memory": "256M",
        "cmdline": cmdline, "gpu": "%dx%d" % (W, H),
        "input_config": {"default_backend": "virtio", "backends": ["virtio"]}})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % vid)
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)
    wait_until(lambda: "CELLVM-GPU ready" in con() and "CELLVM-INPUT-READY" in con(), 300 * SLOW,
               "the guest's display check and evdev reader")
    b.ok("PUT", "/vm/%s/console" % vid, "draw\n")
    wait_until(lambda: "CELLVM-GPU drawn" in con(), 120 * SLOW, "the guest's drawing")
    bgrx = gpu_pattern(W, H)
    shot = bytearray(W * H * 3)
    shot[0::3], shot[1::3], shot[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]
    shot = bytes(shot)
    wait_until(lambda: decode(screenshot(b, vid, "?cursor=0"))[2] == shot, 60 * SLOW,
               "the guest's pattern in the screenshot")

    tok = b.ok("POST", "/vm/%s/console-token" % vid, {"ttl_s": 300})
    try:
        browser = Chromium(os.path.join(tmp, "profile"))
    except FileNotFoundError:
        skip("no chromium (scripts/install-deps.sh installs it)")
    t0 = time.monotonic()
    browser.open(tok["viewer"], timeout=120 * SLOW)

    def state():
        try:
            return browser.eval("window.cellvm ? window.cellvm.state : 'loading'", 60 * SLOW)
        except CdpError:
            return "loading"
    try:
        wait_until(lambda: state() in ("connected", "failed", "closed"), 150 * SLOW,
                   "the viewer to connect")
    finally:
        if state() != "connected":
            print("---- broker ----\n%s\n---- chromium ----\n%s" %
                  (b.logtext()[-3000:], browser.log_tail()))
    if state() != "connected":
        fail("the viewer page did not connect: %s" % state())
    print("viewer connected in %.1f s" % (time.monotonic() - t0))

    # The canvas: the screenshot, pixel for pixel (noVNC's alpha is 255).
    def canvas_rgb():
        data = browser.eval(CANVAS, 60 * SLOW)
        if not data:
            return None
        rgba = base64.b64decode(data)
        rgb = bytearray(len(rgba) // 4 * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = rgba[0::4], rgba[1::4], rgba[2::4]
        return bytes(rgb)
    def canvas_state():
        px = canvas_rgb()
        if px is None:
            return "the page's canvas to be the screenshot (no %dx%d canvas)" % (W, H)
        bad = sum(1 for i in range(0, len(px), 3) if px[i:i + 3] != shot[i:i + 3])
        return "the page's canvas to be the screenshot (%d pixels differ)" % bad
    wait_until(lambda: canvas_rgb() == shot, 60 * SLOW, canvas_state)
    print("the page's canvas is the API screenshot, pixel for pixel")

    # A click and a key, through the page.
    left, top, cw, ch = browser.eval(RECT)
    if (round(cw), round(ch)) != (W, H):
        fail("the canvas is shown at %sx%s, not 1:1" % (cw, ch))
    # The middle of the pixel: the canvas may sit at a fractional offset.
    x, y = left + CLICK[0] + 0.5, top + CLICK[1] + 0.5
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                  "button": "left" if kind != "mouseMoved"
                                                  else "none", "clickCount": 1})
    for kind in ("keyDown", "keyUp"):
        browser.call("Input.dispatchKeyEvent", {"type": kind, "key": "a", "code": "KeyA",
                                                "windowsVirtualKeyCode": 65,
                                                "text": "a" if kind == "keyDown" else ""})
    ax = CLICK[0] * 32767 // (W - 1)
    ay = CLICK[1] * 32767 // (H - 1)

    def arrived():
        ev = events(con())
        try:
            down = ev.index((TABLET, 1, 272, 1))
        except ValueError:
            return False
        xs = [e[3] for e in ev[:down] if e[:3] == (TABLET, 3, 0)]
        ys = [e[3] for e in ev[:down] if e[:3] == (TABLET, 3, 1)]
        return (xs and ys and xs[-1] == ax and ys[-1] == ay and
                (TABLET, 1, 272, 0) in ev[down:] and (KBD, 1, 30, 1) in ev and
                (KBD, 1, 30, 0) in ev)
    try:
        wait_until(arrived, 60 * SLOW,
                   "the click at %r and KEY_A in the guest's evdev reader" % (CLICK,))
    finally:
        if not arrived():
            print("---- console ----\n%s\n---- broker ----\n%s" %
                  (con()[-3000:], b.logtext()[-4000:]))
    print("a click at %r (tablet %d,%d) and KEY_A reached the guest" % (CLICK, ax, ay))

    # The token is spent: a second page with it stays unconnected.
    browser.open(tok["viewer"], timeout=120 * SLOW)
    wait_until(lambda: state() in ("connected", "failed", "closed"), 120 * SLOW,
               "the second page to give up")
    if state() == "connected":
        fail("a spent token connected a second viewer")
    b.ok("PUT", "/vm/%s/console" % vid, "done\n")
    if wait_until(lambda: check_result(con(), "gpu"), 120 * SLOW, "the guest's check to end") != "pass":
        fail("the guest's check failed:\n" + con()[-2000:])
    print("viewer: ok")
finally:
    if browser:
        browser.close()
    b.cleanup()
