#!/usr/bin/env python3
"""The stderr of a VM's processes under the broker (docs/broker.md, "Child
logs"): fault_dev (built with the integration tests) plays cellvm-dev-blk
through $CELLVM_LIBEXEC in log-flood mode. Its first process writes a line
that imitates the broker's own audit line, with a terminal escape, then
floods 10000 lines; meanwhile a client creates a VM. The broker's log must
show the forged line only behind "vm=<id> blk0:" and escaped (no raw escape
byte anywhere), the flood cut down to the token bucket (50 lines, then 10 a
second) with "lines dropped" lines that account for every line, and the
client's real audit line. Then the device is killed: its successor's line
comes through a new pipe, with the same prefix.
Usage: child_log.py BINDIR PAYLOADDIR"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, skip, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
fault_dev = os.path.join(bindir, "fault_dev")
if not os.path.isfile(fault_dev):
    skip("%s missing" % fault_dev)
FLOOD, BURST, RATE = 10000, 50, 10

b = Broker(bindir, "")
try:
    libexec, mark = os.path.join(b.tmp, "libexec"), os.path.join(b.tmp, "mark")
    os.mkdir(libexec)
    os.mkdir(mark)
    os.chmod(mark, 0o1777)  # the fault device runs as the sandbox's id
    os.symlink(os.path.abspath(os.path.join(bindir, "cellvm-core")),
               os.path.join(libexec, "cellvm-core"))
    os.symlink(os.path.abspath(fault_dev), os.path.join(libexec, "cellvm-dev-blk"))
    os.environ.update(CELLVM_LIBEXEC=libexec, CELLVM_FAULT_MODE="log-flood",
                      CELLVM_FAULT_MARK=os.path.join(mark, "first"),
                      CELLVM_FAULT_REAL=os.path.abspath(os.path.join(bindir, "cellvm-dev-blk")))
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M",
                                        "disks": [{"path": img}]})["vm_id"]
    t0 = time.monotonic()
    info = b.ok("PUT", "/vm/%s/boot" % vid)
    dev = info["devices"][0]["pid"]
    # A real audit line while the flood goes on.
    other = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M"})["vm_id"]
    prefix = "cellvm-broker: warning: vm=%s blk0: " % vid

    def counts():
        log = b.logtext()
        passed = len(re.findall(re.escape(prefix) + r"fault_dev: flood \d+\n", log))
        dropped = sum(int(n) for n in re.findall(
            re.escape(prefix) + r"\((\d+) lines dropped", log))
        return passed, dropped

    wait_until(lambda: sum(counts()) == FLOOD,
               what=lambda: "every flood line logged or counted as dropped: %r\n%s" %
               (counts(), b.logtext()[-3000:]))
    elapsed = time.monotonic() - t0
    passed, dropped = counts()
    if passed > BURST + RATE * elapsed + 1 or dropped == 0:
        fail("the flood was not rate-limited: %d lines in %.1f s, %d dropped" %
             (passed, elapsed, dropped))
    log = b.logtext()
    if "\x1b" in log or "\r" in log:
        fail("a raw control character reached the broker's log")
    forged = [x for x in log.split("\n") if "vm=forged" in x]
    if forged != [prefix + "cellvm-broker: info: api: tenant=root uid=0 delete vm=forged -> ok"
                  "\\x1b[2K\\x0d"]:
        fail("the forged line: %r" % forged)
    real = [x for x in log.split("\n")
            if x.startswith("cellvm-broker: info: api: tenant=root ") and other in x]
    if not real:
        fail("no audit line for the create made during the flood:\n" + log[-3000:])
    # A restarted device: a new process, a new pipe.
    os.kill(dev, signal.SIGKILL)
    wait_until(lambda: prefix + "fault_dev: a successor speaks\n" in b.logtext(),
               what=lambda: "the successor's line:\n" + b.logtext()[-3000:])
    b.ok("PUT", "/vm/%s/power-off" % vid)
    b.stop()
    print("ok   forged line prefixed and escaped; %d flood lines logged, %d dropped in %.1f s; "
          "audit line kept; successor logged" % (passed, dropped, elapsed))
    print("PASS")
finally:
    b.cleanup()
