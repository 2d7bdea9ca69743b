#!/usr/bin/env python3
"""Connection floods against cellvm-broker, each an attack that must fail,
while another tenant (bob) keeps asking over REST and RPC and must be answered
every time. No VM is booted.

- alice (a tenant) opens many REST connections and trickles header bytes on
  them: beyond --max-conns-per-uid they are closed at accept, and the ones
  taken are closed at the request deadline (--client-timeout from accept),
  though a byte comes in every fraction of a second (evhttp's own timeout
  restarts with every byte: without the deadline they live for ever).
- a uid without a tenant holds more RPC connections than the broker has room
  for tenants' clients (RPC_MAX_CLIENTS), and many REST connections, sending
  nothing: they get places of their own, few (the rest closed at accept), and
  lose those after --client-timeout; bob is not locked out.
- alice holds idle RPC connections: beyond her uid's limit closed at accept,
  the rest closed after --idle-timeout.
bob's latencies (p50, p99) are printed, not asserted.
Usage: flood.py BINDIR PAYLOADDIR"""
import ast
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, hung_up, skip, unix_connect,
                        wait_until)

bindir = sys.argv[1]
if os.geteuid() != 0:
    skip("needs root (the broker is the privileged process; clients of other uids)")

ALICE, BOB, NOBODY = 1001, 1002, 1999
PER_UID = 8
CLIENT_TIMEOUT = 2
IDLE_TIMEOUT = 3
NO_TENANT_PLACES = 16  # REST_MAX_NO_TENANT, RPC_MAX_NO_TENANT
RPC_MAX_CLIENTS = 256
PING = b"\x12\x00"  # Request.ping
PONG_TAG = 0x1a


def connect_many_as(path, uid, n, kind=socket.SOCK_STREAM):
    """n sockets connected by a child running as uid (SO_PEERCRED is taken
    at connect), passed back to us."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            a.close()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for _ in range(n):
                s = unix_connect(path, DEADLINE, kind)
                socket.send_fds(b, [b"s"], [s.fileno()])
                s.close()
        except BaseException as e:
            print("connect as %d: %r" % (uid, e), file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    b.close()
    socks = []
    for _ in range(n):
        _, fds, _, _ = socket.recv_fds(a, 16, 1)
        if not fds:
            break
        socks.append(socket.socket(fileno=fds[0]))
    a.close()
    _, st = os.waitpid(pid, 0)
    if st != 0 or len(socks) != n:
        fail("could not connect %d sockets as uid %d" % (n, uid))
    return socks


class Bob:
    """bob, asking all the time from a child process: a REST list and an RPC
    ping in turn, each timed. Stops when told; reports latencies and
    failures."""

    def __init__(self, b):
        self.r, w = os.pipe()
        self.stop_r, self.stop_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.r)
            os.close(self.stop_w)
            os.setgroups([])
            os.setresgid(BOB, BOB, BOB)
            os.setresuid(BOB, BOB, BOB)
            lat, bad = [], []
            while not hung_up_fd(self.stop_r):
                for kind in ("rest", "rpc"):
                    t = time.monotonic()
                    try:
                        ok = self.rest(b) if kind == "rest" else self.rpc(b)
                    except OSError as e:
                        ok = "%s: %r" % (kind, e)
                    lat.append(time.monotonic() - t)
                    if ok is not True:
                        bad.append(ok)
            os.write(w, repr((lat, bad[:5], len(bad))).encode())
            os._exit(0)
        os.close(w)
        os.close(self.stop_r)

    @staticmethod
    def rest(b):
        st, body = b.req("GET", "/vm.list")
        return True if st == 200 else "rest: %d %r" % (st, body)

    @staticmethod
    def rpc(b):
        s = unix_connect(b.rpc, DEADLINE, socket.SOCK_SEQPACKET)
        try:
            s.send(PING)
            reply = s.recv(70000)
        finally:
            s.close()
        return True if reply[:1] == bytes([PONG_TAG]) else "rpc: %r" % reply[:60]

    def finish(self):
        os.close(self.stop_w)
        data = b""
        while True:
            c = os.read(self.r, 1 << 20)
            if not c:
                break
            data += c
        os.close(self.r)
        os.waitpid(self.pid, 0)
        return ast.literal_eval(data.decode())


def hung_up_fd(fd):
    p = select.poll()
    p.register(fd, select.POLLIN | select.POLLHUP)
    return bool(p.poll(0))


def closed(socks):
    return [s for s in socks if hung_up(s)]


def wait_closed(socks, n, what):
    """Wait until at least n of socks are closed by the broker."""
    wait_until(lambda: len(closed(socks)) >= n, DEADLINE,
               lambda: "%s: %d of %d closed, %d expected" % (what, len(closed(socks)),
                                                             len(socks), n))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


b = Broker(bindir, "[tenant alice]\nuid = %d\n[tenant bob]\nuid = %d\n" % (ALICE, BOB),
           ["--client-timeout", str(CLIENT_TIMEOUT), "--idle-timeout", str(IDLE_TIMEOUT),
            "--max-conns-per-uid", str(PER_UID)])
bob = None
try:
    b.start()
    bob = Bob(b)

    # 1. alice trickles header bytes on many REST connections.
    n = 40
    socks = connect_many_as(b.sock, ALICE, n)
    for s in socks:
        s.setblocking(False)
        try:
            s.send(b"GET /vm.list HTTP/1.1\r\nX-Slow: ")
        except OSError:
            pass  # closed at accept already
    wait_closed(socks, n - PER_UID, "alice's REST connections beyond her uid's limit")
    kept = [s for s in socks if not hung_up(s)]
    if len(kept) != PER_UID:
        fail("alice holds %d REST connections, her limit is %d" % (len(kept), PER_UID))
    # A byte every 0.2 s on each: evhttp's per-read timeout never runs out;
    # the request deadline must. Bounded: 60 s of trickling is a failure.
    end = time.monotonic() + DEADLINE
    trickled = 0
    while [s for s in kept if not hung_up(s)]:
        if time.monotonic() > end:
            fail("a client trickling header bytes kept its connection for %d s "
                 "(client timeout %d s)" % (DEADLINE, CLIENT_TIMEOUT))
        for s in kept:
            try:
                s.send(b"x")
            except OSError:
                pass
        trickled += 1
        time.sleep(0.2)  # the attacker's pace, not a synchronisation
    for s in socks:
        try:
            if s.recv(4096).startswith(b"HTTP/1.1 200"):
                fail("a trickled request was answered")
        except OSError:
            pass
        s.close()
    print("alice: %d REST connections, %d closed at accept, %d closed at the deadline "
          "after %d bytes each" % (n, n - PER_UID, PER_UID, trickled))

    # 2. a uid without a tenant: more RPC connections than tenants' clients
    # may have, and REST connections, all silent.
    rpc = connect_many_as(b.rpc, NOBODY, RPC_MAX_CLIENTS + 44, socket.SOCK_SEQPACKET)
    rest = connect_many_as(b.sock, NOBODY, 40)
    wait_closed(rpc, len(rpc) - NO_TENANT_PLACES, "RPC connections without a tenant")
    wait_closed(rest, len(rest) - NO_TENANT_PLACES, "REST connections without a tenant")
    # bob, asking all along, is served while they hold what they could get
    wait_closed(rpc, len(rpc), "RPC connections without a tenant, after the client timeout")
    wait_closed(rest, len(rest), "REST connections without a tenant, after the client timeout")
    for s in rpc + rest:
        s.close()
    print("uid %d: %d RPC and %d REST connections: all but %d each closed at accept, "
          "those after the client timeout" % (NOBODY, len(rpc), len(rest), NO_TENANT_PLACES))

    # 3. alice holds idle RPC connections.
    rpc = connect_many_as(b.rpc, ALICE, 40, socket.SOCK_SEQPACKET)
    wait_closed(rpc, len(rpc) - PER_UID, "alice's RPC connections beyond her uid's limit")
    kept = [s for s in rpc if not hung_up(s)]
    kept[0].settimeout(DEADLINE)
    kept[0].send(PING)  # a connection that asks is served
    if kept[0].recv(70000)[:1] != bytes([PONG_TAG]):
        fail("alice's RPC connection within her limit not served")
    wait_closed(rpc, len(rpc), "alice's idle RPC connections, after the idle timeout")
    for s in rpc:
        s.close()
    print("alice: 40 idle RPC connections, %d closed at accept, %d after the idle timeout"
          % (40 - PER_UID, PER_UID))

    lat, bad, nbad = bob.finish()
    bob = None
    if nbad:
        fail("bob was refused %d of %d times during the floods: %r" % (nbad, len(lat), bad))
    if not lat:
        fail("bob asked nothing")
    print("bob: %d requests, all answered; p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (len(lat), pct(lat, 50) * 1000, pct(lat, 99) * 1000, max(lat) * 1000))
    log = b.logtext()
    for line in ("connection of uid %d refused: too many connections of this uid" % ALICE,
                 "connection of uid %d refused: no tenant" % NOBODY):
        if line not in log:
            fail("no log line %r" % line)
    b.stop()
finally:
    if bob is not None:  # failed half-way: bob may be writing his results
        os.kill(bob.pid, 9)
        os.waitpid(bob.pid, 0)
    b.cleanup()
print("PASS")
