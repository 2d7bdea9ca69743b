#!/usr/bin/env python3
"""Booting does not stall the broker: while one VM's boot is in flight (a
128 MiB initrd makes its core take a while to load), other clients are
answered at once, the VM reads as "starting" and refuses changes with
VM_BUSY, and the boot request itself is answered when the VM runs. A client
that gives up on its boot request does not hurt either.
Usage: boot_async.py BINDIR PAYLOADDIR"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, unix_connect, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")  # keeps running once booted

b = Broker(bindir, "")
try:
    initrd = os.path.join(b.tmp, "big.initrd")
    with open(initrd, "wb") as f:
        f.truncate(128 << 20)
    b.start()
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "initrd": initrd, "memory": "512M"})["vm_id"]
    result = {}

    def boot():
        t = time.monotonic()
        result["reply"] = b.req("PUT", "/vm/%s/boot" % vid, timeout=60)
        result["secs"] = time.monotonic() - t
    th = threading.Thread(target=boot)
    th.start()
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] != "created", 10, "the boot to begin")
    pings, states, slowest = 0, set(), 0.0
    while th.is_alive():
        t = time.monotonic()
        st, info = b.req("GET", "/vm/" + vid)
        slowest = max(slowest, time.monotonic() - t)
        if info["state"] == "starting" and "starting" not in states:
            # the first sight of "starting", milliseconds into a boot of about
            # a second: changes are refused
            st, r = b.req("DELETE", "/vm/" + vid)
            if st != 503 or r["code"] != "VM_BUSY":
                fail("delete while starting: %d %r" % (st, r))
        states.add(info["state"])
        # a second boot is refused while starting and once running alike
        st, r = b.req("PUT", "/vm/%s/boot" % vid)
        if st != 503:
            fail("second boot during the first: %d %r" % (st, r))
        pings += 1
    th.join()
    st, info = result["reply"]
    if st != 200 or info["boots"] != 1:
        fail("boot reply: %d %r" % (st, info))
    print("boot took %.2f s; %d requests answered meanwhile, slowest %.3f s, states %r"
          % (result["secs"], pings, slowest, sorted(states)))
    if "starting" not in states or pings < 3:
        fail("the broker did not serve others during the boot")
    if slowest > max(0.5, result["secs"] / 3):
        fail("requests waited for the boot")
    b.ok("PUT", "/vm/%s/power-off" % vid)

    # A client that gives up on its boot request: the boot goes on, the reply
    # has nowhere to go, nothing leaks (LeakSanitizer at exit).
    s = unix_connect(b.sock)
    s.sendall(("PUT /vm/%s/boot HTTP/1.1\r\nHost: x\r\n\r\n" % vid).encode())
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] == "starting" or
               b.ok("GET", "/vm/" + vid)["boots"] == 2, 10, "the second boot")
    s.close()
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["boots"] == 2, 30, "the second boot to finish")
    b.stop()
    print("PASS")
finally:
    b.cleanup()
