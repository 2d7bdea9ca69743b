#!/usr/bin/env python3
"""Hostile clients against cellvm-broker's REST socket: a corpus of bad bodies,
bad HTTP, slow and stuck clients and connection floods. After every case the
broker must answer the next good request; nothing bad may create a VM; the
broker must exit cleanly (no leak, no crash) at the end.
Usage: bad_input.py BINDIR PAYLOADDIR"""
import json
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, unix_connect, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
K = payload(paydir, "hello.elf")


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
    V(input_config="ps2"), V(input_config={}), V(input_config={"backend": "serial"}),
    V(input_config={"backend": "ps2", "extra": 1}), V(input_config={"backend": 1}),
    V(gpu="yes"), V(snd=[1]), V(unknown_field=1), V(Kernel=K), V(vm_id="x"),
]


def raw(b, data, shut=True, timeout=10):
    """Send raw bytes; return the reply bytes (maybe empty)."""
    s = unix_connect(b.sock, timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
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


def good(b):
    st, body = b.req("GET", "/vmm.ping", timeout=5)
    if st != 200 or body.get("tenant") != "root":
        fail("the broker stopped answering: %r %r" % (st, body))


b = Broker(bindir, "", ["--client-timeout", "2"]).start()
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

    # A slow client that sends half a request and stops: others are served at
    # once, and the broker drops it after --client-timeout.
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(b.sock)
    slow.sendall(b"POST /vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ker")
    t0 = time.monotonic()
    good(b)
    if time.monotonic() - t0 > 1.0:
        fail("a slow client delayed another")
    slow.settimeout(10)
    try:
        got = slow.recv(4096)  # EOF (or a 4xx) once the broker gives up on it
        if got and (status_of(got) or 0) < 400:
            fail("slow client got %r" % got[:100])
    except socket.timeout:
        fail("the broker never dropped the slow client")
    except ConnectionResetError:
        pass
    slow.close()
    ncases += 1

    # Slowloris: a byte every 0.5 s never completes the headers in time.
    lor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lor.connect(b.sock)
    lor.settimeout(0.5)
    start, dropped = time.monotonic(), False
    for ch in b"GET /vmm.ping HTTP/1.1\r\nX-Slow: " + b"a" * 60:
        try:
            lor.sendall(bytes([ch]))
            if lor.recv(1) == b"":
                dropped = True
                break
        except socket.timeout:
            pass
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
        if time.monotonic() - start > 4:
            break
    lor.close()
    # evhttp's timeout is per read: a client trickling bytes holds its
    # connection (one fd, under the connection guard) but blocks nobody.
    print("slowloris client %s" % ("dropped" if dropped else "held its connection"))
    good(b)
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

    # A stream client that never reads: the broker drops it, serves others.
    ev = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ev.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ev.connect(b.sock)
    ev.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    for i in range(60):  # many events, each some hundred bytes
        vid = b.ok("POST", "/vm.create", {"kernel": K, "name": "ev%d" % i})["vm_id"]
        b.ok("DELETE", "/vm/" + vid)
    good(b)
    ev.close()
    ncases += 1

    # Streams are limited per tenant (32): the next one is refused, the
    # broker goes on; closing them frees the slots.
    held = []
    for i in range(32):
        s = unix_connect(b.sock)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"subscribed" not in got:
            got += s.recv(4096)
        held.append(s)
    st, r = b.req("GET", "/events")
    if st != 503 or r.get("code") != "VM_BUSY":
        fail("stream 33: %d %r" % (st, r))
    for s in held:
        s.close()
    wait_until(lambda: b.req("GET", "/vm.console")[0] == 404, 10, "the broker after streams")
    s = unix_connect(b.sock)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    if b"subscribed" not in s.recv(4096):
        fail("no stream after the others closed")
    s.close()
    ncases += 1

    if b.ok("GET", "/vm.list") != []:
        fail("bad input created VMs: %r" % b.ok("GET", "/vm.list"))
    if not wait_until(lambda: b.proc.poll() is None, 1):
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


b = Broker(bindir, "", ["--client-timeout", "2"])
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
    wait_until(lambda: "accepting paused" in b.logtext(), 10, "the connection guard")
    for s in flood:
        s.close()
    def answers():
        try:
            return b.req("GET", "/vmm.ping", timeout=5)[0] == 200
        except OSError:
            return False
    wait_until(answers, 15, "the broker to accept again after a flood")
    b.stop()
    print("PASS")
finally:
    subprocess.Popen = real_popen
    b.cleanup()
