#!/usr/bin/env python3
"""The cooperative pause (docs/broker.md, "VM lifecycle"): the test guest
(check clock, test/guest/clock.c) runs a periodic timer on its
CLOCK_MONOTONIC and prints each wake-up; the test pauses the VM through the
broker for a few seconds and resumes it. Then:
- while paused, the core runs (its vCPUs are held in the core, it is not
  SIGSTOPped) and the device processes are stopped; pause and resume answer
  "paused" and "running"; a second pause, or a resume of a running VM, is
  VM_BUSY;
- the guest's monotonic clock did not jump: between a wake-up seen before
  the pause and one seen after it, the guest's clock advanced by about the
  host's elapsed time less the pause (within half the pause), no two
  consecutive wake-ups are half a pause apart, and no wake-up counts a burst
  of expirations (the pause's worth of periods);
- the VM's disk and NIC work after resume: the guest goes on with the blk
  check (its pattern is in the image) and the net check (it pings the host on
  its tap and fetches a file from the test's HTTP server there).
Needs root, /dev/kvm, /dev/net/tun and the test guest (CELLVM_GUEST_DIR).
Usage: pause.py BINDIR PAYLOADDIR"""
import http.server
import os
import re
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The guest checks' host side: what the guest's blk check writes.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
from guest_check import blk_pattern  # noqa: E402
from brokertest import (Broker, fail, have_tun, need_root_kvm, private_netns, skip, test_guest,
                        wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
guest, initrd = test_guest(paydir)
if not have_tun():
    skip("/dev/net/tun missing")
private_netns()

PERIOD_MS = 100
PAUSE_S = 4.0
BLK_BYTES = 2 << 20  # test/guest/blk.c: a multiple of 2 MiB
SEED = 0x5eed
HOST, GUEST_IP, TAP = "10.0.2.1", "10.0.2.15", "cvpause0"
# Whole lines only: a snapshot of the console can end in the middle of a line
# ("mono_ms=80" of mono_ms=8093), and a cut number is a wrong time (CI once
# read such a cut as the guest's clock going back 7 s).
TICK = re.compile(r"CELLVM-CLOCK tick=(\d+) exp=(\d+) mono_ms=(\d+)\r?\n")

for cmd in (["ip", "link", "set", "lo", "up"],
            ["ip", "tuntap", "add", "dev", TAP, "mode", "tap", "vnet_hdr"],
            ["ip", "addr", "add", HOST + "/24", "dev", TAP],
            ["ip", "link", "set", TAP, "up"]):
    subprocess.run(cmd, check=True)
blob = os.urandom(64 * 1024 + 7)
served = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/blob":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob)
        served.append(self.client_address[0])

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()


def ticks(text):
    return [tuple(int(x) for x in m.groups()) for m in TICK.finditer(text)]


def pstate(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1][0]


b = Broker(bindir, "")
try:
    b.start()
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    cmdline = ("console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=900 cellvm.check=clock "
               "cellvm.clock_period_ms=%d cellvm.blk_bytes=%d cellvm.seed=%d "
               "cellvm.host=%s cellvm.port=%d ip=%s::%s:255.255.255.0::eth0:off"
               % (PERIOD_MS, BLK_BYTES, SEED, HOST, server.server_address[1], GUEST_IP, HOST))
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        cmdline += " noapictimer"  # test/integration/lib.sh says why
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "initrd": initrd, "memory": "256M",
        "cmdline": cmdline, "disks": [{"path": img}],
        "nets": [{"tap": TAP, "mac": "52:54:00:12:34:58"}]})["vm_id"]
    st, r = b.req("PUT", "/vm/%s/pause" % vid)
    if st != 503 or r["code"] != "VM_BUSY":
        fail("pause of a VM that does not run: %d %r" % (st, r))
    b.ok("PUT", "/vm/%s/boot" % vid)
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)
    wait_until(lambda: len(ticks(con())) >= 10, 600, "the guest's clock check to tick")
    src = re.search(r"CELLVM-DATA clock source=(\S+)", con())
    print("guest clocksource: %s" % (src.group(1) if src else "?"))

    # The last wake-up before the pause, as the host sees it: a new one.
    # Wake-ups by their number, not their place in the console (its last
    # 64 KiB: older lines fall out).
    seen = ticks(con())[-1][0]
    before = wait_until(lambda: (lambda t: t if t[-1][0] > seen else None)(ticks(con())), 60,
                        "a wake-up before the pause")
    h_a, g_a = time.monotonic(), before[-1][2]
    t_p0 = time.monotonic()
    info = b.ok("PUT", "/vm/%s/pause" % vid)
    t_p1 = time.monotonic()
    if info["state"] != "paused":
        fail("pause answered %r" % info["state"])
    st, r = b.req("PUT", "/vm/%s/pause" % vid)
    if st != 503 or r["code"] != "VM_BUSY":
        fail("a second pause: %d %r" % (st, r))
    vinfo = b.ok("GET", "/vm/%s" % vid)
    core = [vinfo["core_pid"]]
    devs = [d["pid"] for d in vinfo["devices"] if d.get("pid")]
    if not devs:
        fail("no device processes in %r" % vinfo)
    for pid in core:
        if pstate(pid) == "T":
            fail("the paused VM's core is stopped (SIGSTOP): its vCPUs are to be held in it")
    for pid in devs:
        wait_until(lambda: pstate(pid) == "T", 60, "device process %d to stop" % pid)
    # The pause itself: the time under test, not a wait for an event.
    time.sleep(PAUSE_S)
    t_r0 = time.monotonic()
    info = b.ok("PUT", "/vm/%s/resume" % vid)
    t_r1 = time.monotonic()
    if info["state"] != "running":
        fail("resume answered %r" % info["state"])
    st, r = b.req("PUT", "/vm/%s/resume" % vid)
    if st != 503 or r["code"] != "VM_BUSY":
        fail("resume of a running VM: %d %r" % (st, r))
    for pid in devs:
        if pstate(pid) == "T":
            fail("device process %d still stopped after resume" % pid)
    paused = t_r0 - t_p1  # at least this long: answered paused .. asked to resume
    n_a = ticks(con())[-1][0]
    after = wait_until(lambda: (lambda t: t if t[-1][0] > n_a else None)(ticks(con())), 120,
                       "a wake-up after the resume")
    h_b, g_b = time.monotonic(), [t for t in after if t[0] > n_a][0][2]
    wait_until(lambda: ticks(con())[-1][0] >= n_a + 10, 300, "ten wake-ups after the resume")
    # A line on the console ends the clock check (the disk and NIC checks
    # follow in the guest).
    b.ok("PUT", "/vm/%s/console" % vid, "end\n")
    # The whole result line (the console may hold half of it).
    out = wait_until(lambda: (lambda c: c if re.search(r"CELLVM-CHECK clock \w+ status=\d+\s", c)
                              else None)(con()), 600, "the guest's checks to end")
    if "CELLVM-CHECK clock pass" not in out:
        fail("the guest's checks failed after the resume:\n" + out[-3000:])

    # The guest's clock across the pause.
    tk = ticks(out)
    guest_s, host_s = (g_b - g_a) / 1000.0, h_b - h_a
    print("pause %.2f s (answered in %.0f ms, resumed in %.0f ms); guest advanced %.2f s "
          "(mono_ms %d to %d) while the host's clock did %.2f s"
          % (paused, (t_p1 - t_p0) * 1000, (t_r1 - t_r0) * 1000, guest_s, g_a, g_b, host_s))
    if abs(guest_s - (host_s - paused)) > paused / 2:
        fail("the guest's clock advanced %.2f s over %.2f s of host time with %.2f s paused: "
             "it jumped over the pause" % (guest_s, host_s, paused))
    gaps = [(b2[2] - a2[2]) / 1000.0 for a2, b2 in zip(tk, tk[1:])]
    if max(gaps) > paused / 2:
        fail("consecutive wake-ups %.2f s apart in guest time: a jump" % max(gaps))
    burst = max(t[1] for t in tk)
    if burst > paused * 1000 / PERIOD_MS / 2:
        fail("a wake-up counted %d expirations of the periodic timer: a burst" % burst)
    print("%d wake-ups, at most %d expirations at once, largest gap %.2f s"
          % (len(tk), burst, max(gaps)))

    # The disk and the NIC after the resume.
    blk = re.search(r"CELLVM-DATA blk bytes=(\d+) crc32=(\w+) mismatches=(\d+)", out)
    if not blk or int(blk.group(1)) != BLK_BYTES or blk.group(3) != "0":
        fail("the blk check after the resume: %r" % (blk.group(0) if blk else out[-2000:]))
    with open(img, "rb") as f:
        content = f.read(BLK_BYTES)
    if content != blk_pattern(SEED, BLK_BYTES) or "%08x" % zlib.crc32(content) != blk.group(2):
        fail("the image does not hold what the guest wrote after the resume")
    net = re.search(r"CELLVM-DATA net pings=(\d+) bytes=(\d+) crc32=(\w+)", out)
    if not net or int(net.group(2)) != len(blob) or net.group(3) != "%08x" % zlib.crc32(blob):
        fail("the net check after the resume: %r" % (net.group(0) if net else out[-2000:]))
    if served != [GUEST_IP]:
        fail("the server saw requests from %r" % served)
    print("PASS")
finally:
    server.shutdown()
    b.cleanup()
