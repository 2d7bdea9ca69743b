#!/usr/bin/env python3
"""Booting does not stall the broker. A gate (boot_gate.c) stands in for
cellvm-core and holds the core back until this test opens it: while it is
closed the boot is provably in progress (the core has not even started, so it
cannot have reported Ready), and the broker must answer everyone else
meanwhile: the VM reads "starting" and refuses changes with VM_BUSY, another
VM is created and read, the event stream shows "starting" but not "running",
and the boot request itself is not answered yet. Once the gate opens, the
boot request is answered with the VM running. A client that gives up on its
boot request while the gate holds the boot does not hurt either: the boot
completes and nothing leaks (LeakSanitizer at the broker's exit).
Usage: boot_async.py BINDIR PAYLOADDIR GATE"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import DEADLINE, Broker, fail, need_root_kvm, payload, unix_connect

bindir, paydir, gate = sys.argv[1], sys.argv[2], sys.argv[3]
need_root_kvm()
if not os.access(gate, os.X_OK):
    fail("the gate %s is missing (built as broker_boot_gate)" % gate)
SERIAL = payload(paydir, "serial_irq.elf")  # keeps running once booted
# The launcher waits this long for a core's Ready (LAUNCHER_READY_TIMEOUT_MS):
# what the test does while it holds the gate must fit well inside it.
READY_TIMEOUT = 10


class Gate:
    """The test's side of boot_gate: a core that reaches the gate connects
    here and waits for one byte."""

    def __init__(self, path):
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        os.chmod(path, 0o777)  # the core runs as an unprivileged id
        self.ls.listen(4)
        self.ls.settimeout(DEADLINE)

    def arrival(self, what):
        try:
            return self.ls.accept()[0]
        except socket.timeout:
            fail("no core reached the gate: " + what)

    def nobody_waiting(self):
        self.ls.settimeout(0)
        try:
            self.ls.accept()[0].close()
            return False
        except BlockingIOError:
            return True
        finally:
            self.ls.settimeout(DEADLINE)

    @staticmethod
    def open(conn):
        conn.sendall(b"g")
        conn.close()


class Events:
    """The event stream, read as far as needed."""

    def __init__(self, sockpath):
        self.s = unix_connect(sockpath)
        self.s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.buf = b""
        self.until(b'"subscribed"')

    def until(self, needle):
        self.until_count(needle, 1)

    def until_count(self, needle, n):
        self.s.settimeout(DEADLINE)
        while self.buf.count(needle) < n:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                chunk = b""
            if not chunk:
                fail("event stream: %r (%d) never came; got %r" % (needle, n, self.buf[-500:]))
            self.buf += chunk

    def queued(self):
        """What is already queued, without waiting for more."""
        self.s.settimeout(0)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except BlockingIOError:
            pass
        return self.buf


def expect_busy(resp, what):
    st, r = resp
    if st != 503 or not isinstance(r, dict) or r.get("code") != "VM_BUSY":
        fail("%s while the boot is held: %d %r" % (what, st, r))


b = Broker(bindir, "")
try:
    libexec = os.path.join(b.tmp, "libexec")
    os.mkdir(libexec)
    os.symlink(os.path.abspath(gate), os.path.join(libexec, "cellvm-core"))
    for dev in ("cellvm-dev-blk", "cellvm-dev-net"):
        os.symlink(os.path.abspath(os.path.join(bindir, dev)), os.path.join(libexec, dev))
    gate_sock = os.path.join(b.tmp, "gate.sock")
    g = Gate(gate_sock)
    # the broker's environment, which its launcher passes on to the gate
    os.environ.update(CELLVM_LIBEXEC=libexec, CELLVM_TEST_GATE_SOCKET=gate_sock,
                      CELLVM_TEST_GATE_CORE=os.path.abspath(os.path.join(bindir, "cellvm-core")))
    b.start()
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M"})["vm_id"]
    ev = Events(b.sock)
    result = {}

    def boot():
        result["reply"] = b.req("PUT", "/vm/%s/boot" % vid)
    th = threading.Thread(target=boot)
    th.start()
    held = g.arrival("the boot of the first VM")
    # The boot is held before the core runs. Everyone is answered meanwhile.
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "starting":
        fail("a VM whose core is held reads %r" % info["state"])
    expect_busy(b.req("DELETE", "/vm/" + vid), "delete")
    expect_busy(b.req("PUT", "/vm/%s/boot" % vid), "a second boot")
    expect_busy(b.req("PUT", "/vm/%s/pause" % vid), "pause")
    # (few requests: the hold counts against the launcher's Ready timeout)
    other = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M",
                                         "name": "other"})["vm_id"]
    lst = {v["id"]: v["state"] for v in b.ok("GET", "/vm.list")}
    if lst != {vid: "starting", other: "created"}:
        fail("list during the boot: %r" % lst)
    ev.until(b'"starting"')
    if b'"running"' in ev.queued():
        fail("a running event while the core is held: %r" % ev.buf)
    if "reply" in result or not th.is_alive():
        fail("the boot was answered before the VM ran: %r" % result)
    if not g.nobody_waiting():
        fail("a second core reached the gate")
    Gate.open(held)
    th.join(DEADLINE)
    if th.is_alive():
        fail("the boot was not answered once the gate opened")
    st, info = result["reply"]
    if st != 200 or info["state"] != "running" or info["boots"] != 1:
        fail("boot reply: %d %r (a boot held past the launcher's %d s Ready timeout fails)"
             % (st, info, READY_TIMEOUT))
    ev.until(b'"running"')
    expect_busy(b.req("PUT", "/vm/%s/boot" % vid), "a boot of a running VM")
    b.ok("PUT", "/vm/%s/power-off" % vid)

    # A client that gives up on its boot request while the boot is held: the
    # boot goes on, the reply has nowhere to go, nothing leaks.
    s = unix_connect(b.sock)
    s.sendall(("PUT /vm/%s/boot HTTP/1.1\r\nHost: x\r\n\r\n" % vid).encode())
    held = g.arrival("the boot whose client gives up")
    s.close()
    # Held until the client is gone: whether the broker notices the hang-up
    # before the boot ends or only when it replies, both must be safe.
    if b.ok("GET", "/vm/" + vid)["state"] != "starting":
        fail("the held boot is not starting")
    Gate.open(held)
    ev.until_count(b'"event":"running"', 2)
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running" or info["boots"] != 2:
        fail("the boot of a client that left: %r" % info)
    ev.s.close()
    b.stop()
    print("PASS")
finally:
    b.cleanup()
