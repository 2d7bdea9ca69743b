#!/usr/bin/env python3
"""Hostile clients against cellvm-broker's REST socket: a corpus of bad bodies,
bad HTTP, slow and stuck clients and connection floods. After every case the
broker must answer the next good request; nothing bad may create a VM; the
broker must exit cleanly (no leak, no crash) at the end. Slow clients are
checked against what docs/broker.md promises, by the order of events (who is
answered while whom is still connected), not by durations: a client that
stops mid-request is dropped after --client-timeout while others are served;
one that trickles bytes faster than that is dropped all the same (the request
must arrive whole within --client-timeout of accept) and blocks nobody
meanwhile; an event stream client that never reads is
dropped once more than 1 MiB waits for it (REST_STREAM_MAX_OUT).
Usage: bad_input.py BINDIR PAYLOADDIR"""
import json
import os
import resource
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, hung_up, need_root_kvm, payload, unix_connect,
                        wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
K = payload(paydir, "hello.elf")
SERIAL = payload(paydir, "serial_irq.elf")  # keeps running once booted
CLIENT_TIMEOUT = 4  # --client-timeout of the broker under test, seconds
TRICKLE = 0.25  # the slowloris client's pace: well inside CLIENT_TIMEOUT
STREAM_MAX_OUT = 1 << 20  # REST_STREAM_MAX_OUT (broker/broker_api.h)


def V(**kw):
    d = {"kernel": K}
    d.update(kw)
    return json.dumps(d)


# Bodies for POST /vm.create that must get 400 INVALID_ARGUMENT.
BAD_BODIES = [
    "", " ", "{", "}", "[", "{\"kernel\":", "{\"kernel\": \"%s\"" % K, "{\"kernel\" \"x\"}",
    "{'kernel': 'x'}", "{\"kernel\": \"%s\"} trailing" % K, "{\"kernel\": \"%s\"}{}" % K,
    "null", "true", "42", "\"str\"", "[]", "[{\"kernel\": \"%s\"}]" % K, "{}",
    "{\"kernel\": nan}", "{\"kernel\": \"\\ud800\"}", "\x00", "{\"kernel\":\"%s\"}\x00" % K,
    "\xff\xfe{}", "[" * 100 + "]" * 100, "{\"a\":" * 40 + "1" + "}" * 40,
    V(cpus="2"), V(cpus=2.5), V(cpus=-1), V(cpus=0), V(cpus=65), V(cpus=True), V(cpus=None),
    V(cpus=[]), V(cpus={}), V(cpus=10**30), V(cpus=2**63), V(cpus=2**64 + 1),
    '{"kernel":"%s","cpus":1e309}' % K, '{"kernel":"%s","cpus":-0.0}' % K,
    V(memory=-1), V(memory="abc"), V(memory="1T"), V(memory=4097), V(memory="15M"),
    V(memory=""), V(memory=2**63 - 1), V(memory=10**40), V(memory="256G1"), V(memory=True),
    V(memory="17000001"), V(memory=[1]), V(memory="-5M"),
    V(name=123), V(name="x" * 64), V(name="bad name"), V(name="a/b"), V(name="\u0000a"),
    V(name=["a"]), V(name="é"),
    V(kernel="relative/path"), V(kernel="/nonexistent/kernel"), V(kernel="/tmp/../etc/passwd"),
    V(kernel=123), V(kernel=""), V(kernel="/" + "a" * 5000), V(kernel="/tmp/\u0000x"),
    V(kernel=None), V(kernel="/tmp/.."),
    V(initrd="/nonexistent"), V(initrd=5), V(initrd="rel"),
    V(cmdline="x" * 3000), V(cmdline=7), V(cmdline=None),
    V(disks="path=/x"), V(disks={}), V(disks=[1]), V(disks=["nokey"]),
    V(disks=["path=/nonexistent/img"]), V(disks=[{"path": "/x", "bogus": 1}]),
    V(disks=[{"path": K, "queues": 0}]), V(disks=[{"path": K, "queues": 9}]),
    V(disks=[{"path": K, "readonly": "yes"}]), V(disks=[{"path": "/a,b"}]),
    V(disks=[{"readonly": True}]), V(disks=[{"path": K}] * 9),
    V(disks=[{"path": K, "serial": "x" * 21}]), V(disks=[{"path": K, "serial": "\t"}]),
    V(disks=["path=%s,readonly=maybe" % K]), V(disks=["path=%s,queues=100" % K]),
    V(disks=["path=%s,unknown=1" % K]), V(disks=[{"path": "relative"}]),
    V(nets={}), V(nets=[{}]), V(nets=[{"tap": "t" * 16}]), V(nets=[{"tap": "a b"}]),
    V(nets=[{"tap": "t0", "mac": "01:00:00:00:00:01"}]), V(nets=[{"tap": "t0", "mac": "zz"}]),
    V(nets=[{"tap": "t0", "mac": "52:54:00:00:00:01:ff"}]), V(nets=[{"tap": "t0", "queues": 0}]),
    V(nets=[{"tap": "t0", "queues": 99}]), V(nets=[{"tap": "t0", "x": 1}]),
    V(nets=[{"tap": "t0"}] * 9), V(nets=["tap0"]),
    V(input_config="ps2"), V(input_config={"backends": []}), V(input_config={"backend": "serial"}),
    V(input_config={"backend": "ps2", "extra": 1}), V(input_config={"backend": 1}),
    V(input_config={"backends": ["usb"], "usb_keyboard_config": {"vendor_id": 0x10000}}),
    V(input_config={"backends": ["usb"], "usb_keyboard_config": {"vendor_id": "0x10000"}}),
    V(input_config={"backends": ["usb"], "usb_mouse_config": {"interval_ms": 0}}),
    V(input_config={"backends": ["usb"], "usb_mouse_config": {"interval_ms": 256}}),
    V(input_config={"backends": ["usb"], "usb_tablet_config": {"colour": "red"}}),
    V(input_config={"backends": ["usb"], "usb_touch_config": {}}),
    V(input_config={"backends": ["usb"], "usb_tablet_config": {"serial": "x" * 64}}),
    V(input_config={"backends": ["usb"], "usb_tablet_config": {"product": "a\u0001"}}),
    V(input_config={"backends": ["usb"], "usb_tablet_config": {"manufacturer": 5}}),
    V(input_config={"backends": ["usb"], "usb_tablet_config": []}),
    V(input_config={"backends": ["ps2"], "usb_keyboard_config": {}}),
    V(input_config={"backends": ["ps2"], "default_backend": "usb"}),
    V(input_config={"backends": ["usb", "usb"]}),
    V(gpu="yes"), V(gpu=5), V(gpu={"scanouts": 1}), V(gpu={"scanouts": [{"width": 64}]}),
    V(gpu={"budget": "1T"}), V(gpu="800x600,present=/dev/dri/card0"), V(snd=[1]), V(unknown_field=1), V(Kernel=K), V(vm_id="x"),
    V(snd="yes"), V(snd=5), V(snd=None), V(snd={"streams": 1}), V(snd={"playback": 5}),
    V(snd={"playback": "1"}), V(snd={"playback": -1}), V(snd={"playback": 0, "capture": 0}),
    V(snd={"ring_periods": 1}), V(snd={"ring_periods": 5000}), V(snd={"channels": 0}),
    V(snd={"channels": 9}), V(snd={"sink": "wav:/tmp/x.wav"}), V(snd={"sink": 1}),
    V(snd={"source": "silence"}), V(snd="sink=wav:/tmp/x.wav"),
    V(snd="sink=ring,sink=wav:/tmp/x.wav"), V(snd="source=wav:/etc/passwd"),
    V(snd="playback=9"), V(snd="playback=1,playback=1"), V(snd="x" * 300), V(snd=",,"),
]


def wav_variant(**kw):
    """A 16-bit mono 8 kHz WAV, with one thing changed: fmt fields, the
    data chunk, or chunks before it."""
    f = dict(fmt=1, channels=1, rate=8000, bits=16, fmt_size=16, data_size=None,
             pre=b"", data=True, magic=b"RIFF")
    f.update(kw)
    block = f["channels"] * f["bits"] // 8
    fmtc = struct.pack("<HHIIHH", f["fmt"], f["channels"], f["rate"], f["rate"] * block,
                       block, f["bits"])
    pcm = b"\0\1" * 400
    body = b"WAVE" + f["pre"] + b"fmt " + struct.pack("<I", f["fmt_size"]) + fmtc
    if f["data"]:
        body += b"data" + struct.pack("<I", len(pcm) if f["data_size"] is None
                                      else f["data_size"]) + pcm
    return f["magic"] + struct.pack("<I", len(body)) + body


# Bodies of POST audio-input that are no WAV we read: 400 INVALID_ARGUMENT.
BAD_WAVS = [
    b"", b"R", b"RIFF", b"RIFF\0\0\0\0WAVE", b"\0" * 100, b"RIFF" + b"\xff" * 60,
    wav_variant(magic=b"RIFX"), wav_variant(bits=8), wav_variant(bits=12), wav_variant(bits=64),
    wav_variant(fmt=3, bits=64), wav_variant(fmt=2), wav_variant(fmt=0), wav_variant(channels=0),
    wav_variant(channels=9), wav_variant(rate=0), wav_variant(rate=4000),
    wav_variant(rate=400000), wav_variant(fmt_size=0xffffffff), wav_variant(fmt_size=2),
    wav_variant(data=False), wav_variant(pre=b"LIST" + struct.pack("<I", 8192) + b"x" * 8192),
    wav_variant(pre=b"junk" + struct.pack("<I", 0xfffffff0)),
]


def raw(b, data, shut=True, timeout=DEADLINE):
    """Send raw bytes; return the reply bytes (maybe empty) once the broker
    closed the connection."""
    s = unix_connect(b.sock, timeout)
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            # The broker may answer and close before a large bad request
            # is all sent (seen on slow hosts): its reply is still to read.
            pass
        out = b""
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                fail("raw %r: neither answered nor closed in %d s" % (data[:60], timeout))
            if not c:
                break
            out += c
        return out
    finally:
        s.close()


def status_of(reply):
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


# Raw HTTP that must be refused (a 4xx/5xx or a closed connection), never crash.
BAD_HTTP = [
    b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
    b"GET /vmm.ping\r\n\r\n", b"PATCH /vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n",
    b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /vmm.ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n",
    b"GET /vmm.ping HTTP/1.1\r\n" + b"X-H: v\r\n" * 3000 + b"\r\n",
    b"POST /vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}",
    b"POST /vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
    b"POST /vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + b"{" * 70000,
    b"POST /vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffff\r\nx\r\n",
    b"POST /vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"a\"",
    b"GET /vm/../vmm.shutdown HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PUT /vm/%2e%2e/vmm.shutdown HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /vm/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /vm/00000000-0000-4000-8000-000000000000/../../vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PUT /vm.shutdown HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE /vm.list HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /vm/00000000-0000-4000-8000-000000000000/console?follow=1&follow=0 HTTP/1.1\r\n\r\n",
    b"PUT /vm.console HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"q" * 5000,
]


def subscribed(s):
    """Read a new event stream until its first line; its bytes so far."""
    got = b""
    while b"subscribed" not in got:
        c = s.recv(4096)
        if not c:
            fail("event stream closed before it subscribed: %r" % got)
        got += c
    return got


def good(b):
    st, body = b.req("GET", "/vmm.ping")
    if st != 200 or body.get("tenant") != "root":
        fail("the broker stopped answering: %r %r" % (st, body))


b = Broker(bindir, "", ["--client-timeout", str(CLIENT_TIMEOUT)]).start()
ncases = 0
try:
    for body in BAD_BODIES:
        try:
            st, reply = b.req("POST", "/vm.create", body.encode("utf-8", "surrogatepass"))
        except OSError as e:
            fail("body %r: %r" % (body[:80], e))
        if st != 400 or not isinstance(reply, dict) or reply.get("code") != "INVALID_ARGUMENT":
            fail("body %r: got %d %r" % (body[:80], st, reply))
        ncases += 1
        good(b)
    # Answered or not, these must not hurt: a good request with pipelined junk.
    for data in [b"GET /vmm.ping HTTP/1.1\r\nHost: x\r\n" + b"\r\n" * 5000,
                 b"GET /vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n" * 200,
                 b"GET /events?x=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET /vm.console?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n"]:
        raw(b, data)
        ncases += 1
        good(b)
    for data in BAD_HTTP:
        reply = raw(b, data)
        st = status_of(reply)
        if reply and (st is None or st < 400):
            fail("raw %r: got %r" % (data[:60], reply[:200]))
        ncases += 1
        good(b)
    # unknown ids and malformed ids, on every per-VM route
    for vid in ["00000000-0000-4000-8000-000000000000", "x", "0" * 36, "../" * 12, "%00" * 12,
                "ffffffff-ffff-ffff-ffff-ffffffffffffff"]:
        for m, sub in [("GET", ""), ("DELETE", ""), ("PUT", "/boot"), ("GET", "/counters")]:
            st, reply = b.req(m, "/vm/" + vid + sub)
            if st != 404 or reply.get("code") != "VM_NOT_FOUND":
                fail("id %r %s: %d %r" % (vid, sub, st, reply))
            ncases += 1
    good(b)

    # Sound: the audio routes of a VM without snd and of one not running
    # (409), bad queries and bodies that are no WAV (400), bodies over the
    # limit (413); nothing reaches a device, the broker goes on.
    nosnd = b.ok("POST", "/vm.create", {"kernel": K})["vm_id"]
    snd = b.ok("POST", "/vm.create", {"kernel": K, "snd": {"playback": 1, "capture": 1}})["vm_id"]
    good_wav = wav_variant()
    for m, path, body, want, code in (
            ("GET", "/vm/%s/audio" % nosnd, None, 409, "NOT_SUPPORTED"),
            ("POST", "/vm/%s/audio-input" % nosnd, good_wav, 409, "NOT_SUPPORTED"),
            ("GET", "/vm/%s/audio" % snd, None, 409, "VM_BUSY"),
            ("POST", "/vm/%s/audio-input" % snd, good_wav, 409, "VM_BUSY"),
            ("GET", "/vm/%s/audio-input" % snd, None, 405, "METHOD_NOT_ALLOWED"),
            ("POST", "/vm/%s/audio" % snd, good_wav, 405, "METHOD_NOT_ALLOWED")):
        st, reply = b.req(m, path, body)
        if st != want or not isinstance(reply, dict) or reply.get("code") != code:
            fail("%s %s: %d %r, expected %d %s" % (m, path, st, reply, want, code))
        ncases += 1
    for q in ["stream=1", "stream=-1", "stream=x", "seconds=0", "seconds=3601", "seconds=x",
              "stream=0&stream=0", "seconds=1&seconds=2", "what=1", "seconds", "%zz",
              "stream=" + "9" * 40, "seconds=1e3"]:
        st, reply = b.req("GET", "/vm/%s/audio?%s" % (snd, q))
        if st != 400 or reply.get("code") != "INVALID_ARGUMENT":
            fail("GET audio?%s: %d %r" % (q, st, reply))
        ncases += 1
    for body in BAD_WAVS:
        for vid in (snd, nosnd):
            st, reply = b.req("POST", "/vm/%s/audio-input" % vid, body)
            if st != 400 or reply.get("code") != "INVALID_ARGUMENT":
                fail("POST audio-input %r: %d %r" % (body[:48], st, reply))
            ncases += 1
        good(b)
    for data in (b"POST /vm/%s/audio-input HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"
                 % snd.encode() + good_wav + b"\0" * (70000 - len(good_wav)),
                 b"POST /vm/%s/audio-input HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999"
                 b"\r\n\r\n" % snd.encode() + good_wav,
                 b"POST /vm/%s/audio-input HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n20000\r\n" % snd.encode() + b"\0" * 0x20000 + b"\r\n0\r\n\r\n"):
        st = status_of(raw(b, data))
        if st is not None and st not in (400, 413):
            fail("an oversize audio-input body: %r" % st)
        ncases += 1
        good(b)
    b.ok("DELETE", "/vm/" + nosnd)
    b.ok("DELETE", "/vm/" + snd)

    # A slow client that sends half a request and stops: another client is
    # answered while it is still connected, and the broker drops it after
    # --client-timeout (EOF, or a 4xx first).
    slow = unix_connect(b.sock)
    slow.sendall(b"POST /vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ker")
    good(b)
    if hung_up(slow):
        fail("the slow client was dropped before another was answered (is the "
             "loop waiting for it?)")
    if not hung_up(slow, DEADLINE):
        fail("the broker never dropped the slow client")
    try:
        got = slow.recv(4096)
        if got and (status_of(got) or 0) < 400:
            fail("slow client got %r" % got[:100])
    except ConnectionResetError:
        pass
    slow.close()
    ncases += 1

    # Slowloris: headers a byte at a time, each byte well within
    # --client-timeout. evhttp restarts its timeout with every read; the
    # broker's request deadline (from accept) does not: the client is dropped
    # while it is still sending, and blocks nobody meanwhile (others are
    # answered between its bytes).
    lor = unix_connect(b.sock)
    trickle = b"GET /vmm.ping HTTP/1.1\r\nX-Slow: " + b"a" * 100000  # never ends its headers
    start, sent = time.monotonic(), 0
    while not hung_up(lor, TRICKLE):  # the pause between bytes, cut short by the drop
        if time.monotonic() - start > DEADLINE:
            fail("a client sending a byte every %.2f s kept its connection for %d s "
                 "(--client-timeout %d s)" % (TRICKLE, DEADLINE, CLIENT_TIMEOUT))
        try:
            lor.sendall(trickle[sent:sent + 1])
        except OSError:
            break
        sent += 1
        good(b)
    try:
        got = lor.recv(4096)
        if got and (status_of(got) or 0) < 400:
            fail("slowloris client got %r" % got[:100])
    except ConnectionResetError:
        pass
    lor.close()
    print("slowloris client dropped after %d bytes" % sent)
    ncases += 1

    # A flood of idle connections: the next good client is still served.
    flood = []
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(b.sock)
        except BlockingIOError:
            pass
        flood.append(s)
    good(b)
    for s in flood:
        s.close()
    ncases += 1

    # An event stream client that never reads: once more than 1 MiB of events
    # waits for it in the broker, it is dropped (its queued events discarded),
    # and the broker serves others. Events come from pausing and resuming a
    # VM, pipelined on one connection; the stream's hang-up shows without
    # reading it.
    ev = unix_connect(b.sock)
    ev.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    subscribed(ev)
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M", "name": "e" * 63})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % vid)
    events = 0
    ctl = unix_connect(b.sock)
    while not hung_up(ev):
        if events > 8 * STREAM_MAX_OUT // 100:  # 8 MiB of events of over 100 bytes
            fail("an event stream client that never reads was not dropped after %d events"
                 % events)
        batch = 200
        ctl.sendall(b"".join(("PUT /vm/%s/%s HTTP/1.1\r\nHost: x\r\n\r\n"
                              % (vid, ("pause", "resume")[i % 2])).encode() for i in range(batch)))
        replies = b""
        while replies.count(b"HTTP/1.1 ") < batch:
            c = ctl.recv(65536)
            if not c:
                fail("the broker closed a pipelining client")
            replies += c
        if replies.count(b"HTTP/1.1 200") != batch:
            fail("pause/resume: %r" % replies[:300])
        events += batch
    ctl.close()
    wait_until(lambda: "dropping a event stream client that does not read" in b.logtext(),
               what="the broker to report the drop")
    # What the kernel had taken before the drop is still readable, then EOF
    # without the last chunk of a stream that ended cleanly.
    ev.settimeout(DEADLINE)
    got = b""
    while True:
        try:
            c = ev.recv(65536)
        except ConnectionResetError:
            break
        if not c:
            break
        got += c
    ev.close()
    received = got.count(b'"seq":')
    if received >= events or got.endswith(b"\r\n0\r\n\r\n"):
        fail("the stream was not dropped: %d of %d events came, ending %r"
             % (received, events, got[-20:]))
    print("event stream client dropped after %d events (%d reached its socket)"
          % (events, received))
    good(b)
    b.ok("DELETE", "/vm/" + vid)
    ncases += 1

    # Streams are limited per tenant (32): the next one is refused, the
    # broker goes on; closing them frees the slots.
    held = []
    for i in range(32):
        s = unix_connect(b.sock)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        subscribed(s)
        held.append(s)
    st, r = b.req("GET", "/events")
    if st != 503 or r.get("code") != "VM_BUSY":
        fail("stream 33: %d %r" % (st, r))
    for s in held:
        s.close()

    def subscribes():
        # 503 until the broker has seen the others' hang-ups
        s = unix_connect(b.sock)
        try:
            s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                c = s.recv(4096)
                if not c:
                    return False
                got += c
            if status_of(got) != 200:
                return False
            if b"subscribed" not in got:
                subscribed(s)
            return True
        finally:
            s.close()
    wait_until(subscribes, what="a stream after the others closed")
    ncases += 1

    if b.ok("GET", "/vm.list") != []:
        fail("bad input created VMs: %r" % b.ok("GET", "/vm.list"))
    if b.proc.poll() is not None:
        fail("broker died")
    print("%d hostile cases" % ncases)
    if ncases < 100:
        fail("corpus too small")
    b.stop()
finally:
    b.cleanup()

# A broker with few fds: a flood pauses accepting, then it recovers.
def lowfd():
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))


b = Broker(bindir, "", ["--client-timeout", str(CLIENT_TIMEOUT)])
import subprocess  # noqa: E402  (only here: the low-fd broker)
real_popen = subprocess.Popen
subprocess.Popen = lambda *a, **k: real_popen(*a, preexec_fn=lowfd, **k)
try:
    b.start()
    subprocess.Popen = real_popen
    flood = []
    for _ in range(400):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(b.sock)
            flood.append(s)
        except (BlockingIOError, ConnectionRefusedError, OSError):
            s.close()
    # the broker accepts until its guard pauses the listener
    wait_until(lambda: "accepting paused" in b.logtext(), what="the connection guard")
    for s in flood:
        s.close()
    def answers():
        try:
            return b.req("GET", "/vmm.ping", timeout=10)[0] == 200
        except OSError:
            return False
    wait_until(answers, what="the broker to accept again after a flood")
    b.stop()
    print("PASS")
finally:
    subprocess.Popen = real_popen
    b.cleanup()
