#!/usr/bin/env python3
"""The protobuf RPC socket of cellvm-broker: cellctl drives every operation
(human and --json output), tenants are enforced as on REST, and hostile
datagrams (garbage, truncations, unknown fields, fds, oversize, floods) get a
clear error or a closed connection while the broker serves the next client; a
client that does not read its replies is dropped. The VMs have no NIC here
(api_nic.py creates one over RPC, and skips where there is no /dev/net/tun).
The input requests (InjectInput, InputInfo, SwitchInputBackend, and cellctl
input) are tried without a guest that reads input: answered asynchronously
in order with the device's state or VM_BUSY at the deadline on a running VM,
and every error (no input device, a stopped VM, a bad request naming its
event) with the input codes; test/broker/input.py delivers input over REST.
Usage: rpc.py BINDIR PAYLOADDIR"""
import array
import json
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, hung_up, need_root_kvm, payload, unix_connect,
                        wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
CELLCTL = os.path.join(bindir, "cellctl")


def ctl(b, *args, uid=None, ok=True, timeout=DEADLINE):
    def drop():
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    r = subprocess.run([CELLCTL, "--socket", b.rpc] + list(args), capture_output=True,
                       timeout=timeout, preexec_fn=drop if uid else None)
    if ok and r.returncode != 0:
        fail("cellctl %s: %d %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r


def jctl(b, *args, **kw):
    return json.loads(ctl(b, "--json", *args, **kw).stdout)


def varint(n):
    out = b""
    while True:
        byte = n & 0x7f
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field(num, wire, payload_bytes):
    tag = varint(num << 3 | wire)
    if wire == 2:
        return tag + varint(len(payload_bytes)) + payload_bytes
    return tag + payload_bytes


def decode(data):
    """One protobuf message's fields: {number: value} (varints as signed
    64-bit, length-delimited as bytes; the last occurrence wins)."""
    out, i = {}, 0

    def vint():
        nonlocal i
        n = shift = 0
        while True:
            byte = data[i]
            i += 1
            n |= (byte & 0x7f) << shift
            shift += 7
            if not byte & 0x80:
                return n
    while i < len(data):
        key = vint()
        if key & 7 == 0:
            v = vint()
            out[key >> 3] = v - (1 << 64) if v >= 1 << 63 else v
        elif key & 7 == 2:
            n = vint()
            out[key >> 3] = data[i:i + n]
            i += n
        else:
            raise ValueError("wire type %d" % (key & 7))
    return out


def dgram(b, data, fds=None):
    """Send one datagram; return the first reply datagram (b"" when closed)."""
    s = unix_connect(b.rpc, DEADLINE, socket.SOCK_SEQPACKET)
    try:
        if fds:
            s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        else:
            s.send(data)
        try:
            return s.recv(70000)
        except ConnectionResetError:
            return b""
    finally:
        s.close()


PING = field(2, 2, b"")
LIST = field(5, 2, b"")


def pong(b):
    try:
        return dgram(b, PING)[:1] == bytes([PONG_TAG])
    except OSError:  # the backlog is full while a flood drains
        return False
ERROR_TAG, PONG_TAG, LIST_TAG, INPUT_TAG = 0x12, 0x1a, 0x2a, 0x5a
KEY_A = b'{"events": [{"type": "keyboard", "action": "type", "key": "KEY_A"}]}'
BAD_EVENT_1 = (b'{"events": [{"type": "keyboard", "action": "type", "key": "KEY_A"},'
               b' {"type": "keyboard", "action": "press", "scancode": 1000}]}')


def inject(vm_id, body, timeout_ms=0):
    return field(13, 2, field(1, 2, vm_id.encode()) + field(2, 2, body) +
                 (field(3, 0, varint(timeout_ms)) if timeout_ms else b""))


def input_error(reply, code, event=None, delivered=0, total=0):
    """reply is an Error with the input code, event and progress given."""
    if reply[:1] != bytes([ERROR_TAG]):
        fail("expected %s, got %r" % (code, reply[:80]))
    e = decode(decode(reply)[2])
    got = (e.get(1), e.get(5), e.get(3, 0), e.get(4, 0))
    if got != (code.encode(), event, delivered, total):
        fail("expected %r, got %r (%r)" % ((code, event, delivered, total), got, e.get(2)))

b = Broker(bindir, "")
try:
    imgs = os.path.join(b.tmp, "images")
    os.mkdir(imgs)
    shutil.copy(SERIAL, os.path.join(imgs, "k.elf"))
    with open(b.conf, "w") as f:
        f.write("[tenant alice]\nuid = 1001\nimage_dir = %s\n" % imgs)
    b.start()
    os.chmod(b.tmp, 0o755)

    # --- cellctl, every command
    if jctl(b, "ping")["tenant"] != "root":
        fail("ping")
    vid = ctl(b, "create", "--kernel", SERIAL, "--name", "rpc1", "--memory", "64M",
              "--input", "virtio").stdout.decode().strip()
    if len(vid) != 36:
        fail("create printed %r" % vid)
    lst = jctl(b, "list")
    if [v["id"] for v in lst] != [vid] or lst[0]["state"] != "created":
        fail("list: %r" % lst)
    if "rpc1" not in ctl(b, "list").stdout.decode():
        fail("human list")
    info = jctl(b, "boot", vid)
    if info["state"] != "running" or info["boots"] != 1:
        fail("boot: %r" % info)
    if jctl(b, "pause", vid)["state"] != "paused" or jctl(b, "resume")["state"] != "running":
        fail("pause/resume")
    wait_until(lambda: b"irq: banner" in ctl(b, "console", vid).stdout, what="console over RPC")
    # input on a running VM whose guest has no virtio-input driver (virtio
    # active, ps2 beside it): its state; an inject that is not consumed is
    # VM_BUSY at the deadline with the count delivered; a backend it lacks is
    # refused by the device; a switch answers the new state. Each answer
    # comes when the device's does; the requests behind it on the connection
    # wait, so the replies stay in order.
    ii = jctl(b, "input", vid, "info")
    if ii["active_backend"] != "virtio" or \
            [x["backend"] for x in ii["backends"]] != ["ps2", "virtio"] or \
            ii["backends"][1]["bound"] or ii["delivered"] or ii["total"] or ii["pending"]:
        fail("cellctl input info: %r" % ii)
    r = ctl(b, "--json", "input", vid, "inject", KEY_A.decode(), "--timeout-ms", "300", ok=False)
    if r.returncode != 1 or json.loads(r.stdout) != {
            "error": json.loads(r.stdout).get("error"), "code": "VM_BUSY", "delivered": 0,
            "total": 2} or "0 of 2 delivered" not in json.loads(r.stdout)["error"]:
        fail("cellctl input inject into a guest that does not read: %r" % r)
    r = ctl(b, "--json", "input", "switch", "usb", ok=False)
    if r.returncode != 1 or json.loads(r.stdout)["code"] != "BACKEND_NOT_AVAILABLE":
        fail("cellctl input switch to a backend the VM lacks: %r" % r)
    if jctl(b, "input", "switch", "ps2")["active_backend"] != "ps2" or \
            jctl(b, "input", vid, "switch", "virtio")["active_backend"] != "virtio":
        fail("cellctl input switch")
    c = unix_connect(b.rpc, DEADLINE, socket.SOCK_SEQPACKET)
    c.send(field(14, 2, field(1, 2, vid.encode())))
    c.send(inject(vid, KEY_A, 200))
    c.send(PING)
    replies = [c.recv(70000) for _ in range(3)]
    c.close()
    if replies[0][:1] != bytes([INPUT_TAG]) or replies[2][:1] != bytes([PONG_TAG]):
        fail("input replies out of order: %r" % [x[:1] for x in replies])
    input_error(replies[1], "VM_BUSY", None, 0, 2)
    st = decode(decode(replies[0])[11])
    # (decode keeps the last backend; the first inject's 2 events wait)
    if st.get(3) != b"virtio" or decode(st[4]).get(1) != b"virtio" or st.get(5) != 2:
        fail("InputResult: %r" % st)
    if jctl(b, "reboot", vid)["boots"] != 2:
        fail("reboot")
    cnt = jctl(b, "counters", vid)
    if cnt["boots"] != 2:
        fail("counters: %r" % cnt)
    if "state:      running" not in ctl(b, "info").stdout.decode():
        fail("human info: %r" % ctl(b, "info").stdout)
    if jctl(b, "power-off", vid)["state"] != "stopped":
        fail("power-off")
    # events stream (cellctl events) sees a boot. It is subscribed once it
    # shows an event: create and delete scratch VMs until one shows.
    ev = subprocess.Popen([CELLCTL, "--socket", b.rpc, "--json", "events"], stdout=subprocess.PIPE)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(x)) for x in ev.stdout],
                     daemon=True).start()

    def scratch_event():
        ctl(b, "delete", ctl(b, "create", "--kernel", SERIAL).stdout.decode().strip())
        try:
            lines.get(timeout=0.1)
            return True
        except queue.Empty:
            return False
    wait_until(scratch_event, what="the event subscription")
    jctl(b, "boot", vid)
    seen = []
    while ("running", vid) not in seen:
        e = lines.get(timeout=DEADLINE)
        seen.append((e["event"], e["vm_id"]))
    mine = [x for x in seen if x[1] == vid]
    if mine != [("starting", vid), ("running", vid)]:
        fail("events: %r" % seen)
    ev.kill()
    ev.wait()
    # console --follow ends when the VM is deleted; it is following once it
    # printed the log so far (the banner)
    fol = subprocess.Popen([CELLCTL, "--socket", b.rpc, "console", vid, "--follow"],
                           stdout=subprocess.PIPE)
    got = b""
    while b"irq: banner" not in got:
        chunk = fol.stdout.read1(4096)
        if not chunk:
            fail("console --follow ended early: %r" % got)
        got += chunk
    ctl(b, "delete", vid)
    out = got + fol.communicate(timeout=DEADLINE)[0]
    if fol.returncode != 0:
        fail("console --follow: %d %r" % (fol.returncode, out[-200:]))
    r = ctl(b, "--json", "info", vid, ok=False)
    if r.returncode != 1 or json.loads(r.stdout)["code"] != "VM_NOT_FOUND":
        fail("info after delete: %r" % r)

    # --- tenants: alice cannot see root's VM; another tenant's = missing
    rid = ctl(b, "create", "--kernel", SERIAL).stdout.decode().strip()
    a = ctl(b, "--json", "info", rid, uid=1001, ok=False)
    m = ctl(b, "--json", "info", "00000000-0000-4000-8000-000000000000", uid=1001, ok=False)
    if a.returncode != 1 or a.stdout != m.stdout:
        fail("alice sees root's VM differently from a missing one: %r %r" % (a.stdout, m.stdout))
    aid = ctl(b, "create", "--kernel", os.path.join(imgs, "k.elf"), uid=1001).stdout.decode().strip()
    if [v["id"] for v in jctl(b, "list", uid=1001)] != [aid]:
        fail("alice's list")
    r = ctl(b, "--json", "shutdown", uid=1001, ok=False)
    if json.loads(r.stdout)["code"] != "PERMISSION_DENIED":
        fail("alice shut the broker down")
    r = ctl(b, "--json", "ping", uid=1999, ok=False)
    if r.returncode != 1 or json.loads(r.stdout)["code"] != "PERMISSION_DENIED":
        fail("uid without tenant: %r" % r)

    # --- input errors without a guest: no input device (rid), a stopped VM
    # with one, bad requests (checked first, naming the event), a deadline
    # out of range; over RPC and through cellctl
    sid = ctl(b, "create", "--kernel", SERIAL, "--input", "ps2").stdout.decode().strip()
    input_error(dgram(b, inject(rid, KEY_A)), "BACKEND_NOT_AVAILABLE")
    input_error(dgram(b, inject(sid, KEY_A)), "VM_BUSY")
    input_error(dgram(b, inject(sid, BAD_EVENT_1)), "INVALID_INPUT_EVENT", 1)
    input_error(dgram(b, inject(rid, b"{\"events\": [")), "INVALID_INPUT_EVENT")
    input_error(dgram(b, inject(sid, b"")), "INVALID_INPUT_EVENT")
    input_error(dgram(b, inject(sid, KEY_A, 60001)), "INVALID_INPUT_EVENT")
    input_error(dgram(b, field(14, 2, field(1, 2, rid.encode()))), "BACKEND_NOT_AVAILABLE")
    input_error(dgram(b, field(14, 2, field(1, 2, sid.encode()))), "VM_BUSY")
    input_error(dgram(b, field(15, 2, field(1, 2, sid.encode()) + field(2, 2, b"usb2"))),
                "BACKEND_NOT_AVAILABLE")
    input_error(dgram(b, field(15, 2, field(1, 2, sid.encode()) + field(2, 2, b"virtio"))),
                "VM_BUSY")
    reply = dgram(b, inject("00000000-0000-4000-8000-000000000000", KEY_A))
    if reply[:1] != bytes([ERROR_TAG]) or decode(decode(reply)[2])[1] != b"VM_NOT_FOUND":
        fail("inject into a missing VM: %r" % reply[:80])
    for args, code, extra in (
            ((rid, "inject", KEY_A.decode()), "BACKEND_NOT_AVAILABLE", {}),
            ((sid, "inject", KEY_A.decode(), "--timeout-ms", "100"), "VM_BUSY", {}),
            ((sid, "inject", "-"), "INVALID_INPUT_EVENT", {"event": 1}),
            ((rid, "info"), "BACKEND_NOT_AVAILABLE", {}),
            ((sid, "switch", "virtio"), "VM_BUSY", {})):
        r = subprocess.run([CELLCTL, "--socket", b.rpc, "--json", "input"] + list(args),
                           input=BAD_EVENT_1, capture_output=True, timeout=DEADLINE)
        o = json.loads(r.stdout or b"{}")
        if r.returncode != 1 or o.get("code") != code or o.get("delivered") != 0 or \
                o.get("total") != 0 or o.get("event") != extra.get("event"):
            fail("cellctl input %r: %d %r %r" % (args, r.returncode, o, r.stderr))
    for args in ((), (sid,), (sid, "inject"), (sid, "info", "x"), (sid, "switch"),
                 (sid, "inject", "{}", "--timeout-ms", "0"), (sid, "info", "--timeout-ms", "5"),
                 (sid, "frob")):
        r = ctl(b, "input", *args, ok=False)
        if r.returncode != 2:
            fail("cellctl input %r: %d, expected usage (2)" % (args, r.returncode))
    ctl(b, "delete", sid)

    # --- hostile datagrams
    n = 0
    bad = [b"", b"\xff" * 10, b"\x12", b"\x12\x05\x00", field(2, 0, b"\x01"), b"\x08\x01",
           field(6, 2, field(1, 2, b"x" * 100000)[:60000]), field(99, 0, b"\x01") + PING,
           field(2, 2, field(7, 0, b"\x01")), field(4, 2, b""), field(4, 2, field(1, 2,
           field(4, 2, b"/nonexistent") + field(99, 2, b"zz"))),
           field(4, 2, field(1, 2, field(2, 0, varint(2**32 - 1)) + field(4, 2, SERIAL.encode()))),
           field(4, 2, field(1, 2, field(3, 0, varint(2**64 - 1)) + field(4, 2, SERIAL.encode()))),
           field(4, 2, field(1, 2, field(4, 2, b"rel/path"))),
           field(7, 2, field(1, 2, b"x") + field(2, 0, b"\x09")),
           field(7, 2, field(2, 0, varint(2**31))), field(1, 0, b"\x02") + PING,
           field(8, 2, field(1, 2, b"00000000-0000-4000-8000-000000000000")),
           field(11, 2, field(2, 2, b"q" * 5000)), field(10, 2, field(1, 2, b"x\0" * 18)),
           b"\x0a" * 70000, field(2, 2, b"") * 3000, field(12, 2, b"") + field(2, 2, b"")]
    for data in bad:
        # any answer or a hang-up, but never a crash (protobuf allows some of
        # these: a repeated oneof member is "last one wins")
        dgram(b, data)
        if dgram(b, PING)[:1] != bytes([PONG_TAG]):
            fail("no pong after %r" % data[:40])
        n += 1
    # unknown fields are refused, at any depth
    for data in (field(99, 0, b"\x01") + PING, field(2, 2, field(7, 0, b"\x01")),
                 field(4, 2, field(1, 2, field(4, 2, SERIAL.encode()) + field(99, 2, b"zz"))),
                 field(4, 2, field(1, 2, field(4, 2, SERIAL.encode()) +
                                   field(8, 2, field(1, 2, b"tap0") + field(77, 0, b"\x01")))),
                 field(13, 2, field(2, 2, KEY_A) + field(9, 0, b"\x01")),
                 field(13, 2, field(2, 2, KEY_A) + field(4, 2, b"x")),
                 field(14, 2, field(2, 0, b"\x01")),
                 field(15, 2, field(2, 2, b"ps2") + field(3, 2, b"virtio"))):
        reply = dgram(b, data)
        if reply[:1] != bytes([ERROR_TAG]) or b"unknown fields" not in reply:
            fail("unknown fields accepted: %r -> %r" % (data[:40], reply[:60]))
        n += 1
    # The RPC dispatch table's rules, per connection state (each a datagram
    # on one connection, its answer, and whether the connection stays):
    # no tenant: refused and closed; a tenant asking the administrator's
    # Shutdown: refused, served on; a stream connection: every request
    # refused, the stream goes on; fds (the envelope honest about them):
    # refused and closed.
    OK_TAG, EVENT_TAG = 0x3a, 0x52
    EVENTS = field(12, 2, b"")

    def conn(uid=None):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.settimeout(DEADLINE)
        if uid is None:
            c.connect(b.rpc)
            return c
        pid = os.fork()
        if pid == 0:  # the broker takes the peer's credentials at connect
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            c.connect(b.rpc)
            os._exit(0)
        os.waitpid(pid, 0)
        return c

    def ask(c, data):
        """Send a request, return its answer (events a stream carries
        meanwhile are skipped)."""
        c.send(data)
        while True:
            reply = c.recv(70000)
            if reply[:1] != bytes([EVENT_TAG]):
                return reply

    c = conn(1999)
    reply = ask(c, PING)
    if reply[:1] != bytes([ERROR_TAG]) or b"PERMISSION_DENIED" not in reply:
        fail("a peer without a tenant: %r" % reply[:80])
    if not hung_up(c, DEADLINE):
        fail("a peer without a tenant keeps its connection")
    c.close()
    n += 1
    c = conn(1001)
    reply = ask(c, field(3, 2, b""))
    if reply[:1] != bytes([ERROR_TAG]) or b"only the administrator" not in reply:
        fail("alice's Shutdown: %r" % reply[:80])
    if ask(c, PING)[:1] != bytes([PONG_TAG]):
        fail("alice's connection not served after her refused Shutdown")
    c.close()
    n += 1
    c = conn()
    if ask(c, EVENTS)[:1] != bytes([OK_TAG]):
        fail("events request refused")
    for data in (PING, LIST, EVENTS, field(3, 2, b"")):
        reply = ask(c, data)
        if reply[:1] != bytes([ERROR_TAG]) or b"carries a stream" not in reply:
            fail("request %r on an event stream: %r" % (data[:10], reply[:80]))
    if hung_up(c):
        fail("an event stream closed for a refused request")
    c.close()
    if not pong(b):
        fail("no pong after requests on a stream")
    n += 1
    c = conn()
    with open("/dev/null") as f:
        c.sendmsg([field(1, 0, b"\x01") + PING],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
    reply = c.recv(70000)
    if reply[:1] != bytes([ERROR_TAG]) or b"no fds" not in reply:
        fail("a request with an fd (nfds 1): %r" % reply[:80])
    if not hung_up(c, DEADLINE):
        fail("a client that sent an fd keeps its connection")
    c.close()
    n += 1
    # protobuf-c strings are C strings: an embedded NUL ends them (the path
    # that is left is checked like any other).
    reply = dgram(b, field(4, 2, field(1, 2, field(4, 2, b"rel\0" + SERIAL.encode()))))
    if reply[:1] != bytes([ERROR_TAG]):
        fail("NUL-cut path: %r" % reply)
    n += 1
    with open("/dev/null") as f:
        reply = dgram(b, PING, [f.fileno()])
        if reply[:1] != bytes([ERROR_TAG]):
            fail("fds were accepted: %r" % reply)
    n += 1
    # A client that sends requests but never reads its replies is dropped:
    # its replies pile up until the broker's send would block, and the broker
    # closes the connection instead of waiting. The hang-up shows here
    # without reading anything.
    if dgram(b, LIST)[:1] != bytes([LIST_TAG]):
        fail("list request: %r" % dgram(b, LIST))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(b.rpc)
    s.setblocking(False)
    p = select.poll()
    p.register(s, select.POLLOUT | select.POLLRDHUP)
    sent, end, dropped = 0, time.monotonic() + DEADLINE, False
    while not dropped:
        if time.monotonic() > end:
            fail("a client that never reads was not dropped (%d requests sent)" % sent)
        for _, evs in p.poll(1000):
            if evs & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                dropped = True
            elif evs & select.POLLOUT:
                try:
                    s.send(LIST)
                    sent += 1
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    dropped = True
    if not hung_up(s, DEADLINE):
        fail("the dropped client's connection is not closed")
    # What the broker sent before it gave up is still queued here: answers to
    # the requests (it was dropped for not reading, not for a bad request),
    # fewer than were asked (the one that would have blocked was not sent).
    replies = []
    while True:
        try:
            d = s.recv(70000)
        except ConnectionResetError:
            continue  # reported once, before the queue: requests went unread
        except BlockingIOError:
            break
        if not d:
            break
        replies.append(d)
    s.close()
    if not replies or any(d[:1] != bytes([LIST_TAG]) for d in replies) or len(replies) >= sent:
        fail("dropped client: %d requests, %d replies, first kinds %r"
             % (sent, len(replies), sorted({d[:1] for d in replies})))
    if not pong(b):
        fail("no pong after a client that does not read")
    n += 1
    # one tenant holds 64 connections at most: alice's 65th is closed at
    # once, root is still served
    alice = []
    for _ in range(64):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            os.setresgid(1001, 1001, 1001)
            os.setresuid(1001, 1001, 1001)
            c.connect(b.rpc)
            os._exit(0)
        os.waitpid(pid, 0)
        # a pong: the broker has accepted it and counts it (a connection
        # still in the backlog would not be)
        c.settimeout(DEADLINE)
        c.send(PING)
        if c.recv(70000)[:1] != bytes([PONG_TAG]):
            fail("alice's RPC connection %d was not served" % len(alice))
        alice.append(c)
    r = ctl(b, "--json", "ping", uid=1001, ok=False)
    if r.returncode != 1:
        fail("alice's 65th RPC connection was served: %r" % r)
    if jctl(b, "ping")["tenant"] != "root":
        fail("root not served while alice holds 64 connections")
    for c in alice:
        c.close()
    wait_until(lambda: ctl(b, "ping", uid=1001, ok=False).returncode == 0,
               what="alice to be served again")
    n += 1
    # a flood of idle RPC connections
    flood = []
    for _ in range(300):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.setblocking(False)
        try:
            c.connect(b.rpc)
        except BlockingIOError:
            pass
        flood.append(c)
    for c in flood:
        c.close()
    wait_until(lambda: pong(b), what="pong after a flood")
    n += 1
    print("%d hostile RPC cases" % n)
    b.stop()
    print("PASS")
finally:
    b.cleanup()
