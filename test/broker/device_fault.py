#!/usr/bin/env python3
"""A device process of a running VM is killed (kill -9): the broker sees it by
its pidfd and reports a device-exited event; the VM's core lives on and the
guest keeps running (it still echoes its console); the broker starts a new
device process (device-restarted event, a new pid, restarts 1 in the
counters), which the core attaches in place of the old one.

Then a device whose process lives but never answers the guest's reset (the
test kernel resets every virtio device it registers): fault_dev (built with
the integration tests) plays cellvm-dev-blk through $CELLVM_LIBEXEC, the
real device behind a relay that swallows Reset, in the first process only.
The core drops it after 2 s and tells the broker, which kills that process
and restarts it (device-exited, device-restarted); the guest then mounts its
ext2 root from the disk. Skipped (with the first part run) without the test
kernel, mke2fs or fault_dev.
Usage: device_fault.py BINDIR PAYLOADDIR"""
import json
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (Broker, fail, need_root_kvm, payload, pid_alive, skip, unix_connect,
                        wait_until)

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
    img_ro = os.path.join(b.tmp, "disk-ro.img")  # one image is never rw and ro at once
    for path in (img, img_ro):
        with open(path, "wb") as f:
            f.truncate(1 << 20)
    b.start()
    ev = unix_connect(b.sock)
    ev.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "32M",
                                        "disks": [{"path": img}, {"path": img_ro, "readonly": True}]})["vm_id"]
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
    print("ok   kill -9: restarted")
finally:
    b.cleanup()

# --- a device that never answers the guest's reset, under the broker
here = os.path.dirname(os.path.abspath(__file__))
guest = os.environ.get("CELLVM_GUEST_DIR") or os.path.join(here, "../../../shared/guest")
fault_dev = os.path.join(bindir, "fault_dev")
if not os.path.isfile(os.path.join(guest, "vmlinux")):
    skip("no test kernel in %s (set CELLVM_GUEST_DIR): reset-hang case not run" % guest)
if not shutil.which("mke2fs") or not os.path.isfile(fault_dev):
    skip("mke2fs or %s missing: reset-hang case not run" % fault_dev)
b = Broker(bindir, "")
try:
    libexec, mark = os.path.join(b.tmp, "libexec"), os.path.join(b.tmp, "mark")
    os.mkdir(libexec)
    os.mkdir(mark)
    os.chmod(mark, 0o1777)  # the fault device runs as the sandbox's id
    os.symlink(os.path.abspath(os.path.join(bindir, "cellvm-core")),
               os.path.join(libexec, "cellvm-core"))
    os.symlink(os.path.abspath(fault_dev), os.path.join(libexec, "cellvm-dev-blk"))
    os.environ.update(CELLVM_LIBEXEC=libexec, CELLVM_FAULT_MODE="reset-hang",
                      CELLVM_FAULT_MARK=os.path.join(mark, "first"),
                      CELLVM_FAULT_REAL=os.path.abspath(os.path.join(bindir, "cellvm-dev-blk")))
    root = os.path.join(b.tmp, "root")
    os.makedirs(os.path.join(root, "etc"))
    img = os.path.join(b.tmp, "root.img")
    subprocess.run(["mke2fs", "-q", "-t", "ext2", "-d", root, img, "8M"], check=True)
    b.start()
    ev = unix_connect(b.sock)
    ev.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    words = ("clearcpuid=xsave,popcnt,smap,smep,avx,avx2,bmi1,bmi2,movbe,rdrand,rdseed,fsgsbase,"
             "erms,fsrm,sse4_1,sse4_2,pku,lzcnt lpj=1000000")
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        words += " noapictimer"  # test/integration/lib.sh says why
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "memory": "256M", "disks": [{"path": img}],
        "cmdline": "console=ttyS0 root=/dev/vda rw " + words})["vm_id"]
    dev = b.ok("PUT", "/vm/%s/boot" % vid)["devices"][0]["pid"]
    buf = b""
    e, buf = event_line(ev, buf, b"device-exited")
    if "device 0 (blk) exited with status 137" not in e["detail"]:
        fail("event: %r" % e)
    e, buf = event_line(ev, buf, b"device-restarted")
    if "the core dropped it (did not finish the guest's reset)" not in b.logtext():
        fail("the broker did not kill the hung device for its fault:\n" + b.logtext())
    # Mounted from the new process (the guest then panics for want of an
    # init there and waits: panic=0).
    wait_until(lambda: "VFS: Mounted root (ext2 filesystem)" in
               b.ok("GET", "/vm/%s/console" % vid), timeout=240,
               what=lambda: "the guest to mount its root:\n" +
               b.ok("GET", "/vm/%s/console" % vid)[-3000:])
    if pid_alive(dev):
        fail("the hung device process lives on")
    ev.close()
    b.ok("PUT", "/vm/%s/power-off" % vid)
    b.stop()
    print("ok   reset-hang: killed, restarted, the guest mounts its root")
    print("PASS")
finally:
    b.cleanup()
