#!/usr/bin/env python3
"""The display API through the real broker, on the test guest: a VM with a
gpu (one 1024x768 scanout) boots the test kernel with the display check
(test/guest/gpu.c). Then:
- refusals: a screenshot of a VM that is not running (503 VM_BUSY), of a VM
  without a gpu (501 NOT_SUPPORTED), with a bad query (400);
- the console (fbcon on virtio-gpu) shows the check's line: GET screenshot
  has lit pixels in its first text row (the PNG is kept to look at);
- the guest draws a pattern through a DRM dumb buffer and sets a cursor:
  GET screenshot?cursor=0 is that pattern pixel for pixel; with the cursor
  (the default) the opaque part of the cursor image sits at the pointer
  minus the hotspot and the rest is the pattern; a crop is the pattern's
  part; cellctl screenshot (RPC, the PNG in a memfd) is the same image;
- a capture reader over RPC (Capture: the ring read-only and an eventfd)
  sees the same pattern in the ring and the cursor move the guest makes,
  woken by its eventfd; two readers at once; closing a reader's connection
  ends its subscription (the device is told; a new reader still works);
- the viewer listeners (--viewer-listen, --vnc-listen, loopback): a real VNC client
  (gvnccapture) with a console token's password captures the pattern pixel
  for pixel; the password works once; a wrong one is refused; a WebSocket
  upgrade with the token gets the VM's RFB greeting in a WebSocket frame,
  a spent or another VM's token 403; the viewer page and noVNC's files are
  served, paths outside noVNC are not.
Usage: display.py BINDIR PAYLOADDIR PNG_RAW"""
import json
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../guest"))
from brokertest import (check_result, test_guest, png_decode, DEADLINE, Broker, UnixHTTP, fail, need_root_kvm, payload,  # noqa: E402
                        skip, unix_connect, wait_until)
from gpu_ring import CURSOR_AT, CURSOR_HOT, Ring, gpu_cursor_image, gpu_pattern  # noqa: E402

bindir, paydir, png_raw = sys.argv[1], sys.argv[2], sys.argv[3]
need_root_kvm()
guest, initrd = test_guest(paydir)

W, H = 1024, 768
CELLCTL = os.path.join(bindir, "cellctl")
tmp = tempfile.mkdtemp(prefix="cellvm-display-")


def get_png(b, path):
    """GET path: (status, body bytes, content type)."""
    c = UnixHTTP(b.sock, DEADLINE)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Content-Type") or ""
    finally:
        c.close()


def decode(png):
    return png_decode(png_raw, png)


def screenshot(b, vid, query=""):
    st, body, ctype = get_png(b, "/vm/%s/screenshot%s" % (vid, query))
    if st != 200 or ctype != "image/png":
        fail("screenshot%s: %d %s %r" % (query, st, ctype, body[:200]))
    return body


def rgb_of(bgrx):
    """The ring's XRGB8888 bytes (B, G, R, X) as RGB."""
    out = bytearray(len(bgrx) // 4 * 3)
    out[0::3], out[1::3], out[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]
    return bytes(out)


def rpc_capture(b, vid):
    """Capture over RPC: (socket, ring bytes, Ring). The request and the
    reply are protobuf, written and read here by hand (proto/api.proto:
    Request.capture = 17, Capture.vm_id = 1; Response.capture = 13,
    CaptureStarted.ring_bytes = 1)."""
    s = unix_connect(b.rpc, kind=socket.SOCK_SEQPACKET)
    vmid = vid.encode()
    inner = b"\x0a" + bytes([len(vmid)]) + vmid
    s.sendall(b"\x8a\x01" + bytes([len(inner)]) + inner)
    msg, fds, _, _ = socket.recv_fds(s, 65536, 4)
    if len(fds) != 2:
        fail("Capture: %d fds, reply %r" % (len(fds), msg))
    # Response: nfds (1) then capture (13, length-delimited).
    i = 0
    ring_bytes = None
    while i < len(msg):
        key = msg[i]
        i += 1
        if key == 0x08:  # nfds varint
            while msg[i] & 0x80:
                i += 1
            i += 1
        elif key == 0x6a:  # capture
            n = msg[i]
            i += 1
            body = msg[i:i + n]
            i += n
            if body[0] == 0x08:
                v, shift, k = 0, 0, 1
                while True:
                    v |= (body[k] & 0x7f) << shift
                    shift += 7
                    k += 1
                    if not body[k - 1] & 0x80:
                        break
                ring_bytes = v
        else:
            fail("Capture reply: unexpected field %#x in %r" % (key, msg))
    if not ring_bytes:
        fail("Capture reply without ring_bytes: %r" % msg)
    return s, ring_bytes, Ring(fds[0], fds[1], ring_bytes)


def ring_pattern_frame(ring, want, deadline):
    """Wait (on the eventfd) for the ring's latest frame to be the pattern."""
    diff = None
    while time.monotonic() < deadline:
        got = ring.frame()
        if got and got[0]["width"] == W and got[0]["height"] == H:
            px = bytearray(got[1])
            px[3::4] = bytes(len(px) // 4)
            diff = sum(1 for i in range(0, len(px), 4096) if px[i:i + 4096] != want[i:i + 4096])
            if diff == 0:
                return got[0]
        ring.wait(deadline)
    fail("the ring's frame is not the guest's pattern (%s 4 KiB blocks differ)" % diff)


def http_raw(addr, request, want=65536, timeout=DEADLINE):
    """Send request bytes to the viewer listener; what comes back until
    the peer closes (or want bytes)."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(request)
        got = b""
        while len(got) < want:
            try:
                chunk = s.recv(want - len(got))
            except ConnectionResetError:  # closed with our bytes unread
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def gvnccapture(addr, password, out):
    """gvnccapture (gtk-vnc's) against the viewer listener, typing password
    at its prompt: it reads it from its terminal (getpass), so it runs on a
    pty. (exit status, what it printed)."""
    host, port = addr.rsplit(":", 1)
    # gvnccapture takes a display number: the port is 5900 + it.
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("gvnccapture", ["gvnccapture", "%s:%d" % (host, int(port) - 5900), out])
    text, sent, end = b"", False, time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if not select.select([fd], [], [], max(0, end - time.monotonic()))[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed its terminal
            break
        if not chunk:
            break
        text += chunk
        if not sent and b"Password:" in text:
            # It turns echo off (flushing what is typed) after the prompt:
            # type once the terminal says echo is off.
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < end:
                time.sleep(0.01)
            os.write(fd, password.encode() + b"\n")
            sent = True
    if time.monotonic() >= end:
        os.kill(pid, 9)
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), text.decode(errors="replace")


b = Broker(bindir, "")
try:
    b.start()
    cmdline = ("console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=600 cellvm.check=gpu")
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        cmdline += " noapictimer"  # test/integration/lib.sh says why
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "initrd": initrd, "memory": "256M",
        "cmdline": cmdline, "gpu": {"scanouts": [{"width": W, "height": H}],
                                    "budget": "64M"}})["vm_id"]
    bare = b.ok("POST", "/vm.create", {"kernel": payload(paydir, "hello.elf")})["vm_id"]
    info = b.ok("GET", "/vm/" + vid)
    if info["config"].get("gpu") != {"scanouts": [{"width": W, "height": H}],
                                     "budget": 64 << 20}:
        fail("the definition does not keep the gpu: %r" % info["config"])
    for body, why in (({"kernel": payload(paydir, "hello.elf"), "gpu": {"scanouts": []}},
                       "no scanout"),
                      ({"kernel": payload(paydir, "hello.elf"),
                        "gpu": {"scanouts": [{"width": 5000, "height": 10}]}}, "too wide"),
                      ({"kernel": payload(paydir, "hello.elf"), "gpu": {"budget": "1K"}},
                       "budget too small"),
                      ({"kernel": payload(paydir, "hello.elf"), "gpu": "9x9x9"}, "bad string"),
                      ({"kernel": payload(paydir, "hello.elf"),
                        "gpu": "1024x768,present=/dev/dri/card0"}, "the host's display"),
                      ({"kernel": payload(paydir, "hello.elf"), "gpu": {"present": 1}},
                       "unknown field")):
        st, r = b.req("POST", "/vm.create", body)
        if st != 400 or r["code"] != "INVALID_ARGUMENT":
            fail("a gpu definition with %s: %d %r" % (why, st, r))
    st, body, _ = get_png(b, "/vm/%s/screenshot" % vid)
    if st != 503:
        fail("a screenshot of a VM not booted: %d %r" % (st, body[:200]))
    b.ok("PUT", "/vm/%s/boot" % bare)
    st, body, _ = get_png(b, "/vm/%s/screenshot" % bare)
    if st != 501 or b"NOT_SUPPORTED" not in body:
        fail("a screenshot of a VM without a gpu: %d %r" % (st, body[:200]))

    b.ok("PUT", "/vm/%s/boot" % vid)
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)
    wait_until(lambda: "CELLVM-GPU ready" in con(), 300, "the guest's display check")
    if "fb0: virtio_gpudrmfb" not in con():
        fail("the kernel did not say fb0: virtio_gpudrmfb:\n" + con()[-2000:])
    for q in ("?scanout=1", "?scanout=x", "?x=1", "?x=0&y=0&w=0&h=5", "?what=1",
              "?x=1020&y=0&w=10&h=10", "?cursor=2"):
        st, body, _ = get_png(b, "/vm/%s/screenshot%s" % (vid, q))
        if st != 400:
            fail("screenshot%s: %d %r, expected 400" % (q, st, body[:200]))

    # The console: the check's line in the first text row.
    b.ok("PUT", "/vm/%s/console" % vid, "shot\n")
    wait_until(lambda: "CELLVM-GPU shot" in con(), 120, "the guest's answer")

    def console_lit():
        st, body, _ = get_png(b, "/vm/%s/screenshot?x=0&y=0&w=%d&h=16" % (vid, W))
        if st != 200:
            return 0
        _, _, px = decode(body)
        return sum(1 for i in range(0, len(px), 3) if px[i:i + 3] != b"\0\0\0")
    wait_until(lambda: console_lit() > 200, 60, "console text on the screen")
    shot = os.environ.get("CELLVM_DISPLAY_SHOT", os.path.join(tmp, "console.png"))
    with open(shot, "wb") as f:
        f.write(screenshot(b, vid))
    print("console screenshot: %s" % shot)

    # Two capture readers over RPC, before the guest draws.
    r1, size1, ring1 = rpc_capture(b, vid)
    r2, size2, ring2 = rpc_capture(b, vid)
    if size1 != size2 or size1 < W * H * 4:
        fail("capture rings of %d and %d bytes" % (size1, size2))

    # The pattern and the cursor.
    b.ok("PUT", "/vm/%s/console" % vid, "draw\n")
    wait_until(lambda: "CELLVM-GPU drawn %dx%d" % (W, H) in con(), 120, "the guest's drawing")
    want = gpu_pattern(W, H)
    end = time.monotonic() + 30
    for ring in (ring1, ring2):
        meta = ring_pattern_frame(ring, want, end)
    print("both capture readers see the pattern (frame %d)" % meta["serial"])
    want_rgb = rgb_of(want)
    image = gpu_cursor_image()

    def cursor_at(ring, x, y, deadline):
        while time.monotonic() < deadline:
            cur = ring.cursor()
            if cur and cur["visible"] and (cur["x"], cur["y"]) == (x, y) and \
                    cur["image"] == image and cur["hot"] == CURSOR_HOT:
                return
            ring.wait(deadline)
        fail("the capture reader's cursor is not at %r: %r" %
             ((x, y), {k: v for k, v in (ring.cursor() or {}).items() if k != "image"}))
    cursor_at(ring1, *CURSOR_AT[0], time.monotonic() + 30)

    w, h, px = decode(screenshot(b, vid, "?cursor=0"))
    if (w, h) != (W, H) or px != want_rgb:
        fail("screenshot?cursor=0 is not the pattern (%dx%d, %d bytes differ)" %
             (w, h, sum(1 for i in range(min(len(px), len(want_rgb))) if px[i] != want_rgb[i])))
    w, h, px = decode(screenshot(b, vid, "?cursor=0&x=10&y=20&w=100&h=50"))
    crop = b"".join(want_rgb[((20 + y) * W + 10) * 3:((20 + y) * W + 110) * 3] for y in range(50))
    if (w, h) != (100, 50) or px != crop:
        fail("a cropped screenshot is not the pattern's part")
    # With the cursor: its opaque pixels (x < 48) at the pointer minus the
    # hotspot, the transparent stripe and everything else the pattern.
    w, h, px = decode(screenshot(b, vid))
    with_cursor = px
    ox, oy = CURSOR_AT[0][0] - CURSOR_HOT[0], CURSOR_AT[0][1] - CURSOR_HOT[1]
    bad = 0
    for y in range(H):
        for x in range(W):
            i = (y * W + x) * 3
            cx, cy = x - ox, y - oy
            if 0 <= cx < 48 and 0 <= cy < 64:
                a = image[cy * 64 + cx]
                exp = bytes(((a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff))
            else:
                exp = want_rgb[i:i + 3]
            bad += px[i:i + 3] != exp
    if bad:
        fail("the screenshot with the cursor differs in %d pixels" % bad)
    print("screenshots: the pattern, a crop, and the cursor drawn in, pixel for pixel")

    # cellctl screenshot: RPC, the PNG passed in a memfd.
    out = os.path.join(tmp, "cellctl.png")
    r = subprocess.run([CELLCTL, "--socket", b.rpc, "screenshot", vid, "-o", out,
                        "--no-cursor"], capture_output=True, text=True, timeout=DEADLINE)
    if r.returncode != 0:
        fail("cellctl screenshot: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    with open(out, "rb") as f:
        w, h, px = decode(f.read())
    if (w, h) != (W, H) or px != want_rgb:
        fail("cellctl screenshot is not the pattern")
    r = subprocess.run([CELLCTL, "--socket", b.rpc, "screenshot", bare, "-o", out],
                       capture_output=True, text=True, timeout=DEADLINE)
    if r.returncode == 0 or "NOT_SUPPORTED" not in r.stdout + r.stderr:
        fail("cellctl screenshot of a VM without a gpu: %d %s %s" %
             (r.returncode, r.stdout, r.stderr))

    # The viewer listener: a real VNC client with a console token.
    tok = b.ok("POST", "/vm/%s/console-token" % vid, {"ttl_s": 120})
    if len(tok["password"]) != 8 or len(tok["token"]) < 20 or \
            not tok["viewer"].endswith("/vm/%s/viewer?token=%s" % (vid, tok["token"])):
        fail("console-token: %r" % tok)
    vnc_addr = tok["vnc"]
    addr = tok["viewer"].split("/")[2]  # the web listener's ADDRESS:PORT
    for body in ({"ttl_s": 0}, {"ttl_s": 601}, {"what": 1}, [1]):
        st, r = b.req("POST", "/vm/%s/console-token" % vid, body)
        if st != 400:
            fail("console-token %r: %d %r" % (body, st, r))
    st, r = b.req("POST", "/vm/%s/console-token" % bare, {})
    if st != 501:
        fail("console-token for a VM without a gpu: %d %r" % (st, r))
    vnc_png = os.path.join(tmp, "vnc.png")
    st, said = gvnccapture(vnc_addr, tok["password"], vnc_png)
    if st != 0:
        fail("gvnccapture with the token's password: %d %s\n%s" %
             (st, said, b.logtext()[-3000:]))
    with open(vnc_png, "rb") as f:
        w, h, px = decode(f.read())
    # gvnccapture asks for no cursor encoding: libvncserver draws the cursor
    # into what it sends, as the screenshot with the cursor has it.
    if (w, h) != (W, H) or px != with_cursor:
        fail("the VNC client's framebuffer is not the pattern with the cursor "
             "(%dx%d, %d bytes differ)" %
             (w, h, sum(1 for i in range(min(len(px), len(want_rgb))) if px[i] != with_cursor[i])))
    print("gvnccapture through the viewer listener: the pattern and cursor, pixel for pixel")
    for password, why in ((tok["password"], "a spent password"), ("wrong123", "a wrong one")):
        st, said = gvnccapture(vnc_addr, password, vnc_png + ".2.png")
        if st == 0:
            fail("gvnccapture with %s got in: %s" % (why, said))
    # A WebSocket upgrade with a token: the VM's RFB greeting comes back in
    # a WebSocket frame (noVNC's path).
    tok = b.ok("POST", "/vm/%s/console-token" % vid, {})
    ws_req = ("GET /vm/%s/websockify?token=%s HTTP/1.1\r\nHost: %s\r\n"
              "Origin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n"
              % (vid, tok["token"], addr, addr)).encode()
    host, port = addr.rsplit(":", 1)
    ws = socket.create_connection((host, int(port)), timeout=DEADLINE)
    ws.sendall(ws_req)
    got = b""
    while b"RFB 003.008" not in got:
        chunk = ws.recv(4096)
        if not chunk:
            break
        got += chunk
    ws.close()
    if not got.startswith(b"HTTP/1.1 101") or b"RFB 003.008" not in got:
        fail("a WebSocket upgrade with a token: %r\n%s" % (got[:300], b.logtext()[-3000:]))
    for path, status in (("/vm/%s/websockify?token=%s" % (vid, tok["token"]), b" 403 "),
                         ("/vm/%s/websockify?token=%s" % (bare, "x" * 22), b" 403 ")):
        got = http_raw(addr, ws_req.replace(ws_req.split(b" ")[1], path.encode()))
        if status not in got.split(b"\r\n")[0]:
            fail("WebSocket %s: %r" % (path, got[:200]))
    tok = b.ok("POST", "/vm/%s/console-token" % vid, {})
    page = http_raw(addr, ("GET /vm/%s/viewer?token=%s HTTP/1.1\r\nHost: x\r\n\r\n"
                           % (vid, tok["token"])).encode())
    if not page.startswith(b"HTTP/1.1 200") or b"/novnc/core/rfb.js" not in page:
        fail("the viewer page: %r" % page[:300])
    js = http_raw(addr, b"GET /novnc/core/rfb.js HTTP/1.1\r\nHost: x\r\n\r\n", 1 << 22)
    if not js.startswith(b"HTTP/1.1 200") or b"text/javascript" not in js.split(b"\r\n\r\n")[0]:
        fail("noVNC's rfb.js: %r" % js[:300])
    for path in ("/novnc/../../etc/passwd", "/novnc/vnc_auto.html", "/etc/passwd",
                 "/novnc/core/", "/vm/%s/other" % vid):
        got = http_raw(addr, ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        if not got.startswith(b"HTTP/1.1 404"):
            fail("GET %s on the viewer listener: %r" % (path, got[:200]))
    # Hostile peers: each loses its own connection, the listener serves on.
    got = http_raw(addr, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
    if not got.startswith(b"HTTP/1.1 431"):
        fail("a request head over 8 KiB: %r" % got[:100])
    for junk in (b"\x16\x03\x01\x02\x00", b"PUT / HTTP/1.1\r\n\r\n", b"\0\0\0\0",
                 b"RFB 003.008\n"):
        if http_raw(addr, junk) != b"":
            fail("%r was answered" % junk)
    host, port = vnc_addr.rsplit(":", 1)
    rfb = socket.create_connection((host, int(port)), timeout=DEADLINE)
    if rfb.recv(12) != b"RFB 003.008\n":
        fail("a VNC client did not get the RFB version")
    rfb.sendall(b"RFB 009.999\n")
    try:
        dropped = rfb.recv(16) == b""
    except ConnectionResetError:
        dropped = True
    if not dropped:
        fail("a bad RFB version was not dropped")
    rfb.close()
    got = http_raw(addr, b"GET /vm/%s/websockify HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
                   % vid.encode())
    if b" 403 " not in got.split(b"\r\n")[0]:
        fail("a WebSocket without a token: %r" % got[:100])
    # A viewer over the RPC socket (ViewerConnect: request 19, reply 15):
    # its tenant is the authentication; RFB with security type None on the
    # stream fd it gets.
    s = unix_connect(b.rpc, kind=socket.SOCK_SEQPACKET)
    inner = b"\x0a" + bytes([len(vid)]) + vid.encode()
    s.sendall(b"\x9a\x01" + bytes([len(inner)]) + inner)
    msg, fds, _, _ = socket.recv_fds(s, 65536, 2)
    s.close()
    if len(fds) != 1 or b"\x7a\x00" not in msg:
        fail("ViewerConnect: %r with %d fds" % (msg, len(fds)))
    v = socket.socket(fileno=fds[0])
    v.settimeout(DEADLINE)

    def recv_exact(n):
        got = b""
        while len(got) < n:
            chunk = v.recv(n - len(got))
            if not chunk:
                fail("the viewer's stream ended after %r" % got)
            got += chunk
        return got
    if recv_exact(12) != b"RFB 003.008\n":
        fail("ViewerConnect: no RFB greeting")
    v.sendall(b"RFB 003.008\n")
    types = recv_exact(recv_exact(1)[0])
    if 1 not in types:
        fail("ViewerConnect: security types %r without None" % types)
    v.sendall(b"\x01")
    if recv_exact(4) != b"\0\0\0\0":
        fail("ViewerConnect: the security result is not OK")
    v.sendall(b"\x01")  # ClientInit, shared
    init = recv_exact(24)
    if struct.unpack(">HH", init[:4]) != (W, H):
        fail("ViewerConnect: ServerInit %r, not %dx%d" % (init[:4], W, H))
    v.close()
    print("a viewer over the RPC socket: RFB, %dx%d" % (W, H))

    # The same over RPC: cellctl console-token.
    r = subprocess.run([CELLCTL, "--socket", b.rpc, "console-token", vid, "--ttl", "30"],
                       capture_output=True, text=True, timeout=DEADLINE)
    ct = json.loads(r.stdout) if r.returncode == 0 else {}
    if len(ct.get("password", "")) != 8 or ct.get("vnc") != vnc_addr or \
            ct.get("expires_in") != 30 or tok["token"] in ct.get("viewer", tok["token"]):
        fail("cellctl console-token: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    r = subprocess.run([CELLCTL, "--socket", b.rpc, "console-token", bare],
                       capture_output=True, text=True, timeout=DEADLINE)
    if r.returncode == 0 or "NOT_SUPPORTED" not in r.stdout + r.stderr:
        fail("cellctl console-token for a VM without a gpu: %s %s" % (r.stdout, r.stderr))
    print("viewer listener: WebSocket with a token, the viewer page, noVNC's files, refusals")

    # The cursor moves: reader 2 follows it; reader 1 has gone, and a new
    # reader takes its place.
    r1.close()
    b.ok("PUT", "/vm/%s/console" % vid, "move\n")
    wait_until(lambda: "CELLVM-GPU moved" in con(), 120, "the guest's cursor move")
    cursor_at(ring2, *CURSOR_AT[1], time.monotonic() + 30)
    r3, _, ring3 = rpc_capture(b, vid)
    if ring3.cursor()["x"] != CURSOR_AT[1][0]:
        fail("a new reader's ring does not hold the moved cursor")
    r2.close()
    r3.close()
    b.ok("PUT", "/vm/%s/console" % vid, "done\n")
    if wait_until(lambda: check_result(con(), "gpu"), 120, "the guest's check to end") != "pass":
        fail("the guest's check failed:\n" + con()[-2000:])
    log = b.logtext()
    if "capture reader" in log and "refused" in log:
        fail("the device refused a reader:\n" + log[-2000:])
    print("display: ok")
finally:
    b.cleanup()
