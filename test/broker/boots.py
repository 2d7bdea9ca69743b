#!/usr/bin/env python3
"""Many boots at once, fair between tenants (docs/broker.md "VM lifecycle").
A gate (boot_gate.c) stands in for cellvm-core and holds each core back until
this test opens it: a core at the gate is a boot provably in flight, and the
gate's peer uid (SO_PEERCRED: the VM's host uid from the pool) says whose.
With boot_concurrency = 3 and boot_concurrency_per_tenant = 2:
  1. alice asks for 5 boots at once: 2 reach the gate (her share), 3 wait
     in her queue; bob then asks for one, and his reaches the gate while
     alice's queue still holds 3 (he does not wait behind her);
  2. never more than 3 cores at the gate, never more than 2 of one tenant,
     and as slots free alice's queued boots go on, in turn, until all ran;
  3. with every boot slot held at the gate, a running VM's disk device is
     killed and restarted (device restarts have a lane of their own).
A core held at the gate counts against the launcher's wait for its Ready
(process_ready_timeout_ms, 10 s by default): the gated broker gets 300 s, so
that a slow host (the emulated KVM host) does not end a held boot before the
test opens its gate.
A broker with process_ready_timeout_ms = 1000 ends a boot whose core stays
at the gate: a 500 that names the bound, the core killed (the gate sees EOF).
Then, without the gate, bob's boot latency while alice boots in a loop is
printed (p50/p99, information only: nothing is asserted on times).
Usage: boots.py BINDIR PAYLOADDIR GATE"""
import os
import shutil
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, connect_as, fail, http_on, need_root_kvm, payload,
                        pid_alive, wait_until)

bindir, paydir, gate = sys.argv[1], sys.argv[2], sys.argv[3]
need_root_kvm()
if not os.access(gate, os.X_OK):
    fail("the gate %s is missing (built as broker_boot_gate)" % gate)
SERIAL = payload(paydir, "serial_irq.elf")  # keeps running once booted
ALICE, BOB = (1001, 1001), (1002, 1002)
LIMIT, PER_TENANT, NA = 3, 2, 5


def config(tmp, extra):
    imgs = {}
    for t in ("alice", "bob"):
        d = os.path.join(tmp, "images-" + t)
        os.mkdir(d)
        os.chmod(d, 0o755)
        shutil.copy(SERIAL, os.path.join(d, "k.elf"))
        imgs[t] = os.path.join(d, "k.elf")
    return imgs, (extra + "[tenant alice]\nuid = 1001\nimage_dir = %s/images-alice\nmax_vms = 16\n\n"
                  "[tenant bob]\nuid = 1002\nimage_dir = %s/images-bob\n" % (tmp, tmp))


def call(b, who, method, path, body=b""):
    return http_on(connect_as(b.sock, *who), method, path, body)


def create(b, who, kernel, name):
    st, r = call(b, who, "POST", "/vm.create", {"kernel": kernel, "memory": "32M", "name": name})
    if st != 200:
        fail("create %s: %d %r" % (name, st, r))
    return r["vm_id"]


def boot_async(b, who, vid, results):
    """PUT boot from a thread, on a socket connected as who (here)."""
    s = connect_as(b.sock, *who)

    def run():
        try:
            results[vid] = http_on(s, "PUT", "/vm/%s/boot" % vid)
        except OSError as e:  # the broker went away (ConnectionError) or a timeout
            results[vid] = (0, "no answer: %r" % e)
    th = threading.Thread(target=run)
    th.start()
    return th


class Gate:
    """The test's side of boot_gate: each core that reaches the gate
    connects here and waits for one byte."""

    def __init__(self, path):
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        os.chmod(path, 0o777)  # the core runs as its VM's unprivileged id
        self.ls.listen(16)
        self.ls.settimeout(DEADLINE)

    def arrival(self, what):
        """(connection, the arriving core's uid)."""
        try:
            c = self.ls.accept()[0]
        except socket.timeout:
            fail("no core reached the gate: " + what)
        _, uid, _ = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                     struct.calcsize("3i")))
        return c, uid

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


def gated(b, devices):
    """Before b starts: its cellvm-core is the gate (the devices named are
    the real ones), through the environment the broker passes on. The
    test's end of the gate."""
    libexec = os.path.join(b.tmp, "libexec")
    os.mkdir(libexec)
    os.symlink(os.path.abspath(gate), os.path.join(libexec, "cellvm-core"))
    for dev in devices:
        os.symlink(os.path.abspath(os.path.join(bindir, dev)), os.path.join(libexec, dev))
    gate_sock = os.path.join(b.tmp, "gate.sock")
    g = Gate(gate_sock)
    os.environ.update(CELLVM_LIBEXEC=libexec, CELLVM_TEST_GATE_SOCKET=gate_sock,
                      CELLVM_TEST_GATE_CORE=os.path.abspath(os.path.join(bindir, "cellvm-core")))
    return g


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# ---- 1-3: with the gate ----
b = Broker(bindir, "")
try:
    imgs, conf = config(b.tmp, "boot_concurrency = %d\nboot_concurrency_per_tenant = %d\n"
                        "process_ready_timeout_ms = 300000\n\n" % (LIMIT, PER_TENANT))
    with open(b.conf, "w") as f:
        f.write(conf)
    disk = os.path.join(b.tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    saved_env = dict(os.environ)
    g = gated(b, ("cellvm-dev-blk", "cellvm-dev-net"))
    b.start()

    # A running VM of root's with a disk, booted through the gate.
    rid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M", "name": "r",
                                       "disks": [{"path": disk}]})["vm_id"]
    res = {}
    th = boot_async(b, (0, 0), rid, res)
    c, _ = g.arrival("root's running VM")
    Gate.open(c)
    th.join(DEADLINE)
    if res.get(rid, (0,))[0] != 200:
        fail("boot of the running VM: %r" % (res.get(rid),))
    dev_pid = b.ok("GET", "/vm/" + rid)["devices"][0]["pid"]

    avms = [create(b, ALICE, imgs["alice"], "a%d" % i) for i in range(NA)]
    bvm = create(b, BOB, imgs["bob"], "b0")
    uid_of = {}
    for vid in avms + [bvm]:
        uid_of[b.ok("GET", "/vm/" + vid)["host"]["host_uid"]] = vid
    if len(uid_of) != NA + 1:
        fail("VMs share host uids: %r" % uid_of)

    def state(vid):
        return b.ok("GET", "/vm/" + vid)["state"]

    # 1. alice's five boots: two at the gate, three queued.
    # One after the other (each "starting" before the next is asked): her
    # queue's order is known.
    threads = {}
    for vid in avms:
        threads[vid] = boot_async(b, ALICE, vid, res)
        wait_until(lambda: state(vid) == "starting", what="alice's boot to be starting")
    held = {}  # vm id -> gate connection
    arrived = []
    for _ in range(PER_TENANT):
        c, uid = g.arrival("alice's boots")
        if uid_of.get(uid) not in avms[:PER_TENANT] or uid_of[uid] in held:
            fail("not one of alice's first boots at the gate: uid %d (%r)"
                 % (uid, uid_of.get(uid)))
        held[uid_of[uid]] = c
        arrived.append(uid_of[uid])
    # bob asks once: his boot starts while alice's queue still holds three.
    threads[bvm] = boot_async(b, BOB, bvm, res)
    c, uid = g.arrival("bob's boot, with alice's queue full")
    if uid_of.get(uid) != bvm:
        fail("bob's boot waited: the core at the gate is %r's" % uid_of.get(uid))
    held[bvm] = c
    queued = [v for v in avms if v not in held]
    if len(queued) != NA - PER_TENANT or any(state(v) != "starting" for v in queued):
        fail("alice's queue is not as expected: held %r" % list(held))

    # 3. every boot slot is held: a device restart still goes through.
    os.kill(dev_pid, signal.SIGKILL)

    def restarted():
        d = b.ok("GET", "/vm/" + rid)["devices"][0]
        return d["running"] and d["pid"] != dev_pid and pid_alive(d["pid"])
    wait_until(restarted, what="the device's restart while every boot slot is held")
    # 2. nobody beyond the limit, and every held boot is still unanswered.
    if not g.nobody_waiting():
        fail("a core beyond boot_concurrency reached the gate")
    if any(v in res for v in held) or any(state(v) != "starting" for v in held):
        fail("a held boot was answered")
    print("bob's boot started with %d of alice's boots queued; the device restarted with "
          "%d boots held" % (len(queued), len(held)))
    b.ok("PUT", "/vm/%s/power-off" % rid)

    def finish(vid):
        """A released boot's reply; then the VM is powered off (few guests
        run at once: an emulated KVM host runs each slowly)."""
        threads[vid].join(DEADLINE)
        st, r = res.get(vid, (0, None))
        if st != 200 or r["state"] != "running":
            fail("boot of %s: %d %r" % (vid, st, r))
        st, r = call(b, BOB if vid == bvm else ALICE, "PUT", "/vm/%s/power-off" % vid)
        if st != 200:
            fail("power-off of %s: %d %r" % (vid, st, r))

    # 2. release in order of arrival; alice's queued boots go on in turn,
    # never more than LIMIT at the gate nor PER_TENANT of hers.
    order = [arrived[0], bvm, arrived[1]]
    while held:
        vid = order.pop(0)
        Gate.open(held.pop(vid))
        finish(vid)
        while queued and len(held) < LIMIT and sum(v in avms for v in held) < PER_TENANT:
            c, uid = g.arrival("alice's next queued boot")
            if uid_of.get(uid) != queued[0]:
                fail("alice's boots out of order: %r before %r" % (uid_of.get(uid), queued[0]))
            held[queued[0]] = c
            order.append(queued.pop(0))
        if len(held) > LIMIT or sum(v in avms for v in held) > PER_TENANT:
            fail("too many boots in flight: %r" % list(held))
    if queued or len(res) != NA + 2:
        fail("boots left: %r" % queued)
    if not g.nobody_waiting():
        fail("a core reached the gate after every boot ran")
    b.stop()
finally:
    b.cleanup()

# ---- a core that never reports Ready: the bound ends its boot ----
b = Broker(bindir, "")
try:
    imgs, conf = config(b.tmp, "process_ready_timeout_ms = 1000\n\n")
    with open(b.conf, "w") as f:
        f.write(conf)
    g = gated(b, ())
    b.start()
    vid = create(b, ALICE, imgs["alice"], "stuck")
    res = {}
    th = boot_async(b, ALICE, vid, res)
    c, _ = g.arrival("the boot that is never let go")
    th.join(DEADLINE)
    st, r = res.get(vid, (0, None))
    if st != 500 or "did not become ready in 1000 ms" not in str(r):
        fail("a core held past process_ready_timeout_ms: %d %r" % (st, r))
    c.settimeout(DEADLINE)
    if c.recv(1) != b"":
        fail("the held core was not ended")
    c.close()
    if b.ok("GET", "/vm/" + vid)["state"] == "running":
        fail("a boot that timed out left its VM running")
    print("a core held past process_ready_timeout_ms: %s" % r["error"])
    b.stop()
finally:
    b.cleanup()
os.environ.clear()
os.environ.update(saved_env)

# ---- bob's boot latency while alice boots in a loop (printed only) ----
b = Broker(bindir, "")
try:
    imgs, conf = config(b.tmp, "")
    with open(b.conf, "w") as f:
        f.write(conf)
    b.start()
    # Short in an emulated KVM host: a storm of nested boots there trips its
    # known freezes (docs/testing.md).
    nloop, nboot = (1, 5) if os.environ.get("CELLVM_KVM_HOST") == "emulated" else (3, 20)
    loopers = [create(b, ALICE, imgs["alice"], "loop%d" % i) for i in range(nloop)]
    bvm = create(b, BOB, imgs["bob"], "b")
    stop = threading.Event()
    counts, errors = [], []

    def loop(vid):
        n = 0
        while not stop.is_set():
            st, r = call(b, ALICE, "PUT", "/vm/%s/boot" % vid)
            if st != 200:
                errors.append("alice's boot loop: %d %r" % (st, r))
                break
            call(b, ALICE, "PUT", "/vm/%s/power-off" % vid)
            n += 1
        counts.append(n)
    ths = [threading.Thread(target=loop, args=(v,)) for v in loopers]
    for th in ths:
        th.start()
    lat = []
    for _ in range(nboot):
        t0 = time.monotonic()
        st, r = call(b, BOB, "PUT", "/vm/%s/boot" % bvm)
        lat.append(time.monotonic() - t0)
        if st != 200:
            fail("bob's boot during alice's loop: %d %r" % (st, r))
        call(b, BOB, "PUT", "/vm/%s/power-off" % bvm)
    stop.set()
    for th in ths:
        th.join(DEADLINE)
    if errors:
        fail(errors[0])
    print("bob's boot latency with alice in a boot loop (%d client%s): p50 %.1f ms, p99 %.1f ms "
          "(%d boots; alice %d) [information, not asserted]"
          % (nloop, "" if nloop == 1 else "s", pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, len(lat),
             sum(counts)))
    b.stop()
    print("PASS")
finally:
    b.cleanup()
