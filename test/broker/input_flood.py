#!/usr/bin/env python3
"""A flood of inject-input requests on one VM neither grows the broker nor
starves anyone else: two VMs with an input device run a payload guest that
never drives its i8042 (so nothing it is sent is ever consumed).
- 80 concurrent injects on VM 1: the 16 beyond the per-VM limit of 64 (the
  input device's too) are answered at once 503 VM_BUSY naming the limit, and
  so is an input-info on VM 1 while it is at the limit;
- meanwhile VM 2's input-info and an inject on it are answered (the inject
  503 VM_BUSY with 0 of 2 delivered at its own deadline), and so is ping;
- power-off of VM 1 answers the 64 in flight 500 BACKEND_ERROR.
The latencies of VM 2's requests during the flood are printed, not asserted.
Usage: input_flood.py BINDIR PAYLOADDIR"""
import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import DEADLINE, Broker, fail, need_root_kvm, payload, unix_connect

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
FLOOD, LIMIT = 80, 64
KEY = json.dumps({"events": [{"type": "keyboard", "action": "type", "key": "KEY_A"}]}).encode()


def send_inject(sock_path, vid, timeout_ms):
    s = unix_connect(sock_path)
    s.sendall(b"POST /vm/%s/inject-input?timeout_ms=%d HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (vid.encode(), timeout_ms, len(KEY), KEY))
    return s


def answer(s, timeout):
    """(status, JSON) of the one reply on s, or None when none came in time."""
    buf, end = b"", time.monotonic() + timeout
    while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < clen(buf):
        left = end - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return None
        chunk = s.recv(65536)
        if not chunk:
            fail("connection closed without a reply: %r" % buf)
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def clen(buf):
    for line in buf.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 1 << 30


b = Broker(bindir, "")
try:
    b.start()
    vms = [b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M",
                                          "input_config": {"backends": ["ps2"]}})["vm_id"]
           for _ in range(2)]
    for vid in vms:
        b.ok("PUT", "/vm/%s/boot" % vid)
    socks = [send_inject(b.sock, vms[0], 60000) for _ in range(FLOOD)]
    # The refused ones answer at once: wait for FLOOD - LIMIT answers; the
    # others are proven in flight below (power-off answers each of them).
    busy, end = {}, time.monotonic() + DEADLINE
    while len(busy) < FLOOD - LIMIT:
        left = end - time.monotonic()
        ready = select.select([s for s in socks if s not in busy], [], [], max(left, 0))[0]
        if not ready:
            fail("only %d of the %d beyond the limit were refused" % (len(busy), FLOOD - LIMIT))
        for s in ready:
            busy[s] = answer(s, DEADLINE)
    for r in busy.values():
        if r[0] != 503 or r[1]["code"] != "VM_BUSY" or "in flight" not in r[1]["error"]:
            fail("refused beyond the limit: %r" % (r,))
    pending = [s for s in socks if s not in busy]
    st, r = b.req("GET", "/vm/%s/input-info" % vms[0])
    if st != 503 or "in flight" not in r["error"]:
        fail("VM 1 at its limit still took input-info: %d %r" % (st, r))
    times = []
    t = time.monotonic()
    info = b.ok("GET", "/vm/%s/input-info" % vms[1])
    times.append(time.monotonic() - t)
    if info["active_backend"] != "ps2" or [x["backend"] for x in info["backends"]] != ["ps2"]:
        fail("VM 2's input-info: %r" % info)
    t = time.monotonic()
    st, r = b.req("POST", "/vm/%s/inject-input?timeout_ms=500" % vms[1], KEY.decode())
    times.append(time.monotonic() - t)
    if st != 503 or r["code"] != "VM_BUSY" or (r["delivered"], r["total"]) != (0, 2):
        fail("VM 2's inject: %d %r" % (st, r))
    t = time.monotonic()
    b.ok("GET", "/vmm.ping")
    times.append(time.monotonic() - t)
    print("during the flood: input-info %.1f ms, inject (500 ms deadline) %.1f ms, ping %.1f ms"
          % tuple(x * 1000 for x in times))
    b.ok("PUT", "/vm/%s/power-off" % vms[0])
    for s in pending:
        r = answer(s, DEADLINE)
        if not r or r[0] != 500 or r[1]["code"] != "BACKEND_ERROR":
            fail("an inject in flight at power-off: %r" % (r,))
        s.close()
    for s in busy:
        s.close()
    b.ok("PUT", "/vm/%s/power-off" % vms[1])
    b.stop()
    print("PASS")
finally:
    b.cleanup()
