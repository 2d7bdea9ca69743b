#!/usr/bin/env python3
"""The broker's one loop must not wait for a VM's processes to end: a VM is
deleted while its device process, killed, cannot be reaped yet (the test
holds it with ptrace: its zombie goes to the tracer first, as a process in
uninterruptible sleep behind a disk flush would keep it from ending). The
delete kills and leaves the VM "stopping"; meanwhile another tenant's list and
the admin's info are answered within the client timeout (a broker that waits
in waitpid answers nobody). Once the test lets the zombie go, the teardown
finishes by itself: the delete is answered, the VM is gone. Skipped where
ptrace is refused (Yama's ptrace_scope 3).
Usage: stall.py BINDIR PAYLOADDIR"""
import ctypes
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (Broker, connect_as, fail, http_on, need_root_kvm, payload, pid_alive,
                        skip, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
BOB = 1002
ANSWER_WITHIN = 5  # seconds: well under the broker's client timeout
PTRACE_SEIZE = 0x4206
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long


def seize(pid):
    if libc.ptrace(ctypes.c_long(PTRACE_SEIZE), ctypes.c_int(pid), None, None) != 0:
        skip("ptrace(PTRACE_SEIZE) of the device process: %s" %
             os.strerror(ctypes.get_errno()))


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0]
    except OSError:
        return None


b = Broker(bindir, "[tenant bob]\nuid = %d\n" % BOB)
traced = None
try:
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M",
                                        "disks": [{"path": img}]})["vm_id"]
    info = b.ok("PUT", "/vm/%s/boot" % vid)
    core, dev = info["core_pid"], info["devices"][0]["pid"]
    seize(dev)
    traced = dev

    answer = []
    t = threading.Thread(target=lambda: answer.append(b.req("DELETE", "/vm/" + vid,
                                                            timeout=600)))
    t.start()
    # The broker killed it: a zombie that only its tracer (this test) may reap.
    wait_until(lambda: proc_state(dev) == "Z", what="the device process to be killed")
    wait_until(lambda: not pid_alive(core), what="the core to be killed")
    for _ in range(3):
        t0 = time.monotonic()
        try:
            st, r = http_on(connect_as(b.sock, BOB, BOB), "GET", "/vm.list",
                            timeout=ANSWER_WITHIN)
        except OSError as e:
            fail("bob's list not answered within %d s while the teardown waits: %s" %
                 (ANSWER_WITHIN, e))
        if st != 200 or r != []:
            fail("bob's list: %d %r" % (st, r))
        st, r = b.req("GET", "/vm/" + vid, timeout=ANSWER_WITHIN)
        if st != 200 or r["state"] != "stopping":
            fail("info during the teardown: %d %r" % (st, r))
        print("ok   answered in %.3f s while the teardown waits" % (time.monotonic() - t0))
    if answer:
        fail("the delete was answered before its processes were gone: %r" % answer)
    # Let the zombie go: the tracer reaps it, the broker gets it back.
    os.waitpid(dev, WALL)
    traced = None
    t.join(60)
    if t.is_alive() or not answer or answer[0][0] != 200:
        fail("delete after the process ended: %r" % answer)
    if b.ok("GET", "/vm.list") != []:
        fail("the VM is still listed after its delete")
    b.stop()
    print("ok   the teardown finished once the process ended")
finally:
    if traced:
        try:
            os.kill(traced, 9)
            os.waitpid(traced, WALL)
        except OSError:
            pass
    b.cleanup()
