#!/usr/bin/env python3
"""VMs outlive the broker with a gpu, a sound card and an input device
(docs/broker.md, "VMs outlive the broker"): the serial_irq payload (no guest
driver: the gpu has no frame, the snd plays nothing) runs with all three;
capture and audio readers of ours (RPC Capture, AudioCapture) hold places at
the devices when the broker is killed with SIGKILL. A new broker adopts the
VM: the same core, devices, VNC server (cellvm-display) and keeper;
GET screenshot answers as it did before the kill (the gpu's ring mapped
again); GET audio starts a WAV stream (the audio ring mapped again); the
dead readers' places are given back at the devices (a full set of new
readers is taken, none refused: the devices' logs say so at the end); a
console token's VNC client (gvnccapture) is served by the adopted VNC
server; the console echoes; the same again after an exit with --on-exit
keep; power-off leaves no process, keeper or socket.
Usage: adopt_devices.py BINDIR PAYLOADDIR"""
import json
import os
import pty
import select
import signal
import socket
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, need_root_kvm, payload, pid_alive,  # noqa: E402
                        unix_connect, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
GPU_READERS, SND_READERS = 15, 16  # the API's per VM (one gpu place is the VNC server's)


def varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7f) | (0x80 if v > 0x7f else 0))
        v >>= 7
        if not v:
            return bytes(out)


def fields(msg):
    """A protobuf message's fields: {number: value} (varints, bytes)."""
    out, i = {}, 0

    def rd():
        nonlocal i
        v, shift = 0, 0
        while True:
            v |= (msg[i] & 0x7f) << shift
            shift += 7
            i += 1
            if not msg[i - 1] & 0x80:
                return v
    while i < len(msg):
        key = rd()
        num, wire = key >> 3, key & 7
        if wire == 0:
            v = rd()
        elif wire == 2:
            n = rd()
            v = msg[i:i + n]
            i += n
        else:
            fail("protobuf wire type %d in %r" % (wire, msg))
        out[num] = v
    return out


def reader(b, field, vid, ok_field):
    """A reader over RPC (Request.capture = 17 -> Response 13,
    audio_capture = 20 -> 16): its connection, held open."""
    s = unix_connect(b.rpc, kind=socket.SOCK_SEQPACKET)
    inner = b"\x0a" + varint(len(vid)) + vid.encode()
    s.sendall(varint(field << 3 | 2) + varint(len(inner)) + inner)
    msg, fds, _, _ = socket.recv_fds(s, 65536, 4)
    for fd in fds:
        os.close(fd)
    f = fields(msg)
    if ok_field not in f or len(fds) != 2:
        fail("RPC reader %d: %r (%d fds)\n%s" % (field, f, len(fds), b.logtext()[-3000:]))
    return s


def state_file(b, vid):
    try:
        with open(os.path.join(b.state, "vms", vid + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def recorded(b, vid):
    return sorted(p["pid"] for p in (state_file(b, vid) or {}).get("processes", []))


def shot(b, vid):
    """GET screenshot: (status, body) as bytes."""
    st, body = b.req("GET", "/vm/%s/screenshot" % vid)
    return st, body if isinstance(body, (bytes, str)) else json.dumps(body, sort_keys=True)


def stream_open(path, sock):
    s = unix_connect(sock)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return s


def audio_head(b, vid):
    au = stream_open("/vm/%s/audio" % vid, b.sock)
    head = b""
    while b"\r\n\r\n" not in head:
        c = au.recv(4096)
        if not c:
            fail("GET audio closed: %r\n%s" % (head, b.logtext()[-3000:]))
        head += c
    au.close()
    if not head.startswith(b"HTTP/1.1 200") or b"Content-Type: audio/wav" not in head:
        fail("GET audio: %r" % head)


def gvnccapture(addr, password, out):
    """gtk-vnc's gvnccapture against the VNC listener, the password typed at
    its prompt on a pty: (exit status, what it printed)."""
    host, port = addr.rsplit(":", 1)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("gvnccapture", ["gvnccapture", "%s:%d" % (host, int(port) - 5900), out])
    text, sent, end = b"", False, time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if not select.select([fd], [], [], max(0, end - time.monotonic()))[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        text += chunk
        if not sent and b"Password:" in text:
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
    vid = b.ok("POST", "/vm.create", {
        "kernel": SERIAL, "name": "adoptdev", "memory": "32M",
        "input_config": {"backend": "ps2"},
        "gpu": {"scanouts": [{"width": 640, "height": 480}]},
        "snd": {"playback": 1, "capture": 1}})["vm_id"]
    info = b.ok("PUT", "/vm/%s/boot" % vid)
    kinds = sorted(d["kind"] for d in info["devices"])
    if kinds != ["gpu", "input", "snd"]:
        fail("devices: %r" % info["devices"])
    wait_until(lambda: "irq: banner" in b.ok("GET", "/vm/%s/console" % vid), what="the banner")
    # The state file records the keeper and the VNC server beside the core
    # and the devices.
    wait_until(lambda: (state_file(b, vid) or {}).get("keeper") and
               len(recorded(b, vid)) == 1 + len(info["devices"]) + 2,
               what=lambda: "the state file to record the keeper and the VNC server: %r\n%s" %
               (state_file(b, vid), b.logtext()[-3000:]))
    procs = recorded(b, vid)
    before = shot(b, vid)
    audio_head(b, vid)
    # Readers whose connections die with the broker.
    dead = [reader(b, 17, vid, 13) for _ in range(3)] + [reader(b, 20, vid, 16) for _ in range(2)]

    b.kill9()
    for s in dead:
        s.close()
    for p in procs:
        if not pid_alive(p):
            fail("process %d ended with the broker (%r)" % (p, procs))
    b.start()
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running" or recorded(b, vid) != procs:
        fail("not adopted: %r, %r (was %r)\n%s" % (info, recorded(b, vid), procs,
                                                   b.logtext()[-3000:]))
    if "vm %s (tenant root): adopted" % vid not in b.logtext():
        fail("no adopted line in the log:\n%s" % b.logtext()[-3000:])
    after = shot(b, vid)
    if after != before:
        fail("GET screenshot before the kill %r, after the adoption %r" % (before, after))
    if after[0] == 200 and after[1][1:4] != "PNG":
        fail("GET screenshot: not a PNG")
    audio_head(b, vid)
    # A full set of readers: the dead ones' places were given back.
    live = [reader(b, 17, vid, 13) for _ in range(GPU_READERS)] + \
        [reader(b, 20, vid, 16) for _ in range(SND_READERS)]
    for field, what in ((17, "capture"), (20, "audio")):
        s = unix_connect(b.rpc, kind=socket.SOCK_SEQPACKET)
        inner = b"\x0a" + varint(len(vid)) + vid.encode()
        s.sendall(varint(field << 3 | 2) + varint(len(inner)) + inner)
        msg, fds, _, _ = socket.recv_fds(s, 65536, 4)
        s.close()
        if fds or 2 not in fields(msg):
            fail("one %s reader past the limit was not refused: %r" % (what, fields(msg)))
    for s in live:
        s.close()
    # The adopted VNC server serves a console token's client.
    tok = b.ok("POST", "/vm/%s/console-token" % vid, {"ttl_s": 120})
    st, said = gvnccapture(tok["vnc"], tok["password"], os.path.join(b.tmp, "vnc.png"))
    if st != 0:
        fail("gvnccapture through the adopted VNC server: %d %s\n%s" %
             (st, said, b.logtext()[-3000:]))
    b.ok("PUT", "/vm/%s/console" % vid, "after")
    wait_until(lambda: "after" in b.ok("GET", "/vm/%s/console" % vid), what="the echo after")
    print("ok   adopted with its gpu, snd, input and VNC server (GET screenshot: %d %s)"
          % (after[0], after[1][:80] if after[0] != 200 else "a PNG"))

    # Once more through an exit with --on-exit keep: the broker lets go of
    # the rings and the VNC server's channel, the next one adopts them.
    b.kill9()
    b.args += ["--on-exit", "keep"]
    b.start()
    if b.ok("GET", "/vm/" + vid)["state"] != "running":
        fail("not adopted by the --on-exit keep broker\n%s" % b.logtext()[-3000:])
    b.proc.send_signal(signal.SIGTERM)
    if b.proc.wait(DEADLINE) != 0:
        fail("SIGTERM with --on-exit keep: exit %d\n%s" % (b.proc.returncode, b.logtext()))
    b.args = [x for x in b.args if x not in ("--on-exit", "keep")]
    b.start()
    if b.ok("GET", "/vm/" + vid)["state"] != "running" or recorded(b, vid) != procs or \
            shot(b, vid) != before:
        fail("after --on-exit keep: %r, %r\n%s" % (b.ok("GET", "/vm/" + vid), recorded(b, vid),
                                                    b.logtext()[-3000:]))
    audio_head(b, vid)
    print("ok   adopted again after an exit with --on-exit keep")

    b.ok("PUT", "/vm/%s/power-off" % vid)
    wait_until(lambda: not any(pid_alive(p) for p in procs),
               what="the VM's processes, VNC server and keeper to end")
    if os.path.exists(os.path.join(b.state, "keep", vid + ".sock")):
        fail("power-off left the keeper's socket")
    b.stop()
    # The devices' logs, all read at the broker's exit: no reader refused.
    if "refused: too many readers" in b.logtext() or "is not subscribed" in b.logtext():
        fail("a device refused a reader: the dead ones kept their places\n%s" %
             b.logtext()[-3000:])
    print("ok   powered off, nothing left")
    print("PASS")
finally:
    b.cleanup()
