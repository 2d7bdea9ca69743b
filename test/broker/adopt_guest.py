#!/usr/bin/env python3
"""VMs outlive the broker, with the test guest (docs/broker.md, "VMs
outlive the broker"): the guest's clock check (test/guest/clock.c) prints a
numbered line per wake-up of a 100 ms timer while the broker is killed with
SIGKILL and a new one adopts the VM; the console log the new broker serves
holds every wake-up, numbered without a gap across the kill (the lines the
guest wrote while no broker ran waited in the console stream). Then a line
on the console ends the clock check and the guest runs its blk check (a
pattern written to its disk through the adopted cellvm-dev-blk, read back)
and its net check (pings the host on its tap, fetches a blob from the
test's HTTP server): nothing lost. Then the same across SIGTERM with
--on-exit keep, the VM powered off after it.
Needs root, /dev/kvm, /dev/net/tun and the test guest (CELLVM_GUEST_DIR).
Usage: adopt_guest.py BINDIR PAYLOADDIR"""
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The guest checks' host side: what the guest's blk check writes.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
from guest_check import blk_pattern  # noqa: E402
from brokertest import (DEADLINE, check_result, Broker, fail, have_tun, need_root_kvm, pid_alive,
                        private_netns, skip, test_guest, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
guest, initrd = test_guest(paydir)
if not have_tun():
    skip("/dev/net/tun missing")
private_netns()

BLK_BYTES = 2 << 20  # test/guest/blk.c: a multiple of 2 MiB
SEED = 0x5eed
HOST, GUEST_IP, TAP = "10.0.2.1", "10.0.2.15", "cvadopt0"
TICK = re.compile(r"CELLVM-CLOCK tick=(\d+) exp=(\d+) mono_ms=(\d+)")

for cmd in (["ip", "link", "set", "lo", "up"],
            ["ip", "tuntap", "add", "dev", TAP, "mode", "tap", "vnet_hdr"],
            ["ip", "addr", "add", HOST + "/24", "dev", TAP],
            ["ip", "link", "set", TAP, "up"]):
    subprocess.run(cmd, check=True)
blob = os.urandom(64 * 1024 + 7)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/blob":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob)

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()


def ticks(text):
    return [int(m.group(1)) for m in TICK.finditer(text)]


def run(b, how, img):
    cmdline = ("console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=900 cellvm.check=clock "
               "cellvm.blk_bytes=%d cellvm.seed=%d cellvm.host=%s cellvm.port=%d "
               "ip=%s::%s:255.255.255.0::eth0:off"
               % (BLK_BYTES, SEED, HOST, server.server_address[1], GUEST_IP, HOST))
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        cmdline += " noapictimer"  # test/integration/lib.sh says why
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "initrd": initrd, "memory": "256M",
        "cmdline": cmdline, "disks": [{"path": img}],
        "nets": [{"tap": TAP, "mac": "52:54:00:12:34:59"}]})["vm_id"]
    info = b.ok("PUT", "/vm/%s/boot" % vid)
    pids = [info["core_pid"]] + [d["pid"] for d in info["devices"]]
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)
    wait_until(lambda: len(ticks(con())) >= 10, 600, "the guest's clock check to tick")
    wait_until(lambda: '"keeper"' in open(os.path.join(b.state, "vms", vid + ".json")).read(),
               what="the state file to record the keeper")
    n_before = len(ticks(con()))
    if how == "kill9":
        b.kill9()
    else:
        b.proc.send_signal(signal.SIGTERM)
        if b.proc.wait(DEADLINE) != 0:
            fail("SIGTERM with --on-exit keep: exit %d" % b.proc.returncode)
        b.args = [a for a in b.args if a not in ("--on-exit", "keep")]
    if not all(pid_alive(p) for p in pids):
        fail("%s: the VM's processes ended with the broker" % how)
    b.start()
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running" or info["core_pid"] != pids[0]:
        fail("%s: not adopted: %r\n%s" % (how, info, b.logtext()[-3000:]))
    # Wake-ups from before, during and after the broker's absence: no gap.
    wait_until(lambda: len(ticks(con())) >= n_before + 20, 300, "wake-ups after the adoption")
    t = ticks(con())
    if t != list(range(t[0], t[0] + len(t))):
        fail("%s: the console lost wake-ups: %r" % (how, t))
    b.ok("PUT", "/vm/%s/console" % vid, "end\n")
    wait_until(lambda: check_result(con(), "clock"), 600, "the guest's checks to end")
    out = con()
    if check_result(out, "clock") != "pass":
        fail("%s: the guest's checks failed after the adoption:\n%s" % (how, out[-3000:]))
    blk = re.search(r"CELLVM-DATA blk bytes=(\d+) crc32=(\w+) mismatches=(\d+)", out)
    if not blk or int(blk.group(1)) != BLK_BYTES or blk.group(3) != "0":
        fail("%s: the blk check: %r" % (how, blk.group(0) if blk else out[-2000:]))
    with open(img, "rb") as f:
        content = f.read(BLK_BYTES)
    if content != blk_pattern(SEED, BLK_BYTES) or "%08x" % zlib.crc32(content) != blk.group(2):
        fail("%s: the image does not hold what the guest wrote" % how)
    net = re.search(r"CELLVM-DATA net pings=(\d+) bytes=(\d+) crc32=(\w+)", out)
    if not net or int(net.group(2)) != len(blob) or net.group(3) != "%08x" % zlib.crc32(blob):
        fail("%s: the net check: %r" % (how, net.group(0) if net else out[-2000:]))
    b.req("PUT", "/vm/%s/power-off" % vid)  # 503 when the guest powered off first
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] == "stopped", 300, "the VM to stop")
    if any(pid_alive(p) for p in pids):
        fail("%s: processes left after the stop" % how)
    b.ok("DELETE", "/vm/" + vid)
    print("ok   %s: %d wake-ups without a gap, blk and net checks passed" % (how, len(t)))


b = Broker(bindir, "")
try:
    b.start()
    run(b, "kill9", os.path.join(b.tmp, "disk.img"))
    b.stop()
    b.args += ["--on-exit", "keep"]
    b.start()
    run(b, "keep", os.path.join(b.tmp, "disk2.img"))
    b.stop()
    print("PASS")
finally:
    server.shutdown()
    b.cleanup()
