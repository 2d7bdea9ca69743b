#!/usr/bin/env python3
"""A device process of a running VM is killed (kill -9): the broker sees it by
its pidfd and reports a device-exited event; the VM's core lives on and the
guest keeps running (it still echoes its console); the broker starts a new
device process (device-restarted event, a new pid, restarts 1 in the
counters), which the core attaches in place of the old one.
Usage: device_fault.py BINDIR PAYLOADDIR"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, pid_alive, unix_connect, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")


def event_line(ev, buf, name):
    while b'"' + name + b'"' not in buf:
        chunk = ev.recv(4096)
        if not chunk:
            fail("event stream closed")
        buf += chunk
    line = [x for x in buf.split(b"\n") if b'"' + name + b'"' in x][0]
    return json.loads(line[line.index(b"{"):]), buf


b = Broker(bindir, "")
try:
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    ev = unix_connect(b.sock)
    ev.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M",
                                        "disks": [{"path": img}, {"path": img, "readonly": True}]})["vm_id"]
    info = b.ok("PUT", "/vm/%s/boot" % vid)
    core, dev = info["core_pid"], info["devices"][0]["pid"]
    wait_until(lambda: "irq: banner" in b.ok("GET", "/vm/%s/console" % vid), what="the banner")
    os.kill(dev, signal.SIGKILL)
    buf = b""
    e, buf = event_line(ev, buf, b"device-exited")
    if e["vm_id"] != vid or "device 0 (blk)" not in e["detail"]:
        fail("event: %r" % e)
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running" or not pid_alive(core) or not info["devices"][1]["running"]:
        fail("the VM did not live on: %r" % info)
    b.ok("PUT", "/vm/%s/console" % vid, "still")
    wait_until(lambda: "still" in b.ok("GET", "/vm/%s/console" % vid),
               what="the guest to echo after the device died")
    # The device comes back (100 ms of back-off, then a new process).
    e, buf = event_line(ev, buf, b"device-restarted")
    if e["vm_id"] != vid or "device 0 (blk)" not in e["detail"]:
        fail("event: %r" % e)
    info = b.ok("GET", "/vm/" + vid)
    d0 = info["devices"][0]
    if not d0["running"] or d0["pid"] == dev or not pid_alive(d0["pid"]) or not pid_alive(core):
        fail("device 0 not back: %r" % info)
    cnt = b.ok("GET", "/vm/%s/counters" % vid)
    if [d["state"] for d in cnt["devices"]] != ["running", "running"] or \
            [d["restarts"] for d in cnt["devices"]] != [1, 0]:
        fail("counters: %r" % cnt)
    # The devices' own counts (this guest does no disk I/O): published, zero.
    for d in cnt["devices"]:
        if [d.get(k) for k in ("requests", "bytes", "bytes_in", "bytes_out", "errors")] != [0] * 5:
            fail("device counts: %r" % d)
    ev.close()
    b.ok("PUT", "/vm/%s/power-off" % vid)
    if pid_alive(core) or pid_alive(d0["pid"]) or pid_alive(info["devices"][1]["pid"]):
        fail("power-off left processes")
    b.stop()
    print("PASS")
finally:
    b.cleanup()
