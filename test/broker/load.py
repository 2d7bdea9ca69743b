#!/usr/bin/env python3
"""cellvm-broker under load: a few concurrent clients create, boot (tiny payload
guests), drive and delete VMs, each at least MIN_CYCLES times and on until
SECONDS have passed (so a slow host does the same work, only slower, and a
fast one does more). Every operation must succeed or fail with a documented
error; afterwards the broker's fds and children are back at their baseline and
its memory has not grown without bound. Then clients race every operation on
one VM, each going through all of them at least once.
Usage: load.py BINDIR PAYLOADDIR [SECONDS]"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 6
MIN_CYCLES = 2  # per client, however long they take
CLIENTS = 4
need_root_kvm()
HELLO = payload(paydir, "hello.elf")
SERIAL = payload(paydir, "serial_irq.elf")


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def children(pid):
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    if int(f.read().rsplit(") ", 1)[1].split()[1]) == pid:
                        n += 1
            except (OSError, IndexError, ValueError):
                pass
    return n


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


b = Broker(bindir, "").start()
errors, cycles = [], [0] * CLIENTS
lock = threading.Lock()


def client(k):
    end = time.monotonic() + seconds
    while cycles[k] < MIN_CYCLES or time.monotonic() < end:
        try:
            kern = HELLO if k % 2 else SERIAL
            st, r = b.req("POST", "/vm.create", {"kernel": kern, "memory": "32M",
                                                 "name": "load%d" % k})
            if st != 200:
                raise RuntimeError("create %d %r" % (st, r))
            vid = r["vm_id"]
            st, r = b.req("PUT", "/vm/%s/boot" % vid)
            if st != 200:
                raise RuntimeError("boot %d %r" % (st, r))
            b.req("GET", "/vm/%s/counters" % vid)
            if kern == SERIAL:
                b.req("PUT", "/vm/%s/pause" % vid)
                b.req("PUT", "/vm/%s/resume" % vid)
            st, r = b.req("DELETE", "/vm/" + vid)
            if st != 200:
                raise RuntimeError("delete %d %r" % (st, r))
            cycles[k] += 1
        except Exception as e:  # collected, reported once
            with lock:
                errors.append(repr(e))
            return


try:
    pid = b.proc.pid
    # warm up once, so lazily allocated state is in the baseline
    vid = b.ok("POST", "/vm.create", {"kernel": HELLO, "memory": "32M"})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % vid)
    b.ok("DELETE", "/vm/" + vid)
    base_fds, base_rss = fds(pid), rss_kb(pid)
    ts = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        fail("; ".join(errors[:5]))
    # (the baseline may still count the warm-up's last connection: <=)
    wait_until(lambda: fds(pid) <= base_fds, what="fds back at %d" % base_fds)
    wait_until(lambda: children(pid) == 0, what="no children left")
    grown = rss_kb(pid) - base_rss
    print("create-boot-delete cycles per client %r; RSS %+d KiB" % (cycles, grown))
    if min(cycles) < MIN_CYCLES:
        fail("a client stopped before its cycles were done: %r" % cycles)
    if grown > 64 * 1024:
        fail("broker memory grew by %d KiB" % grown)
    if b.ok("GET", "/vm.list") != []:
        fail("VMs left")

    # Races on one VM: 6 clients hit every operation on the same id at once;
    # each answer is a success, VM_BUSY or (once deleted) VM_NOT_FOUND.
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M"})["vm_id"]
    ops = [("PUT", "/boot"), ("PUT", "/pause"), ("PUT", "/resume"), ("PUT", "/power-off"),
           ("PUT", "/reboot"), ("GET", ""), ("GET", "/counters"), ("GET", "/console")]
    seen = set()

    def racer(k):
        end = time.monotonic() + 3
        i = k
        while i < k + len(ops) or time.monotonic() < end:
            m, sub = ops[i % len(ops)]
            i += 1
            st, r = b.req(m, "/vm/" + vid + sub)
            with lock:
                seen.add(st)
            if st not in (200, 404, 503):
                errors.append("%s %s: %d %r" % (m, sub, st, r))
        if k == 0:
            b.req("DELETE", "/vm/" + vid)
    ts = [threading.Thread(target=racer, args=(k,)) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    b.req("DELETE", "/vm/" + vid)
    if errors:
        fail("; ".join(errors[:5]))
    wait_until(lambda: children(pid) == 0, what="no children left after the races")
    wait_until(lambda: fds(pid) <= base_fds, what="fds back at %d after the races" % base_fds)
    print("races on one VM: answers %r" % sorted(seen))
    b.stop()  # LeakSanitizer checks at exit
    print("PASS")
finally:
    b.cleanup()
