#!/usr/bin/env python3
"""Live upgrade (docs/broker.md, "Upgrades"): PUT /vmm.upgrade and cellctl
upgrade re-execute the broker in place under a running VM (a disk, a NIC
where /dev/net/tun exists, the serial_irq payload echoing its console) while
four clients ask GET /vmm.ping without pause, each on a new connection:
- the broker's pid stays (it is the same process, the new image);
- no client request fails: the ones that arrive during the switch wait in
  the listen backlog and are answered by the new image;
- the VM is adopted: the same core and device processes, "running", the
  console log holds what was typed before and the guest echoes what is typed
  after; power-off then ends every process of the VM, its keeper included;
- a tenant that is not the administrator is refused both (REST 403, RPC
  PERMISSION_DENIED), and the broker goes on.
Usage: upgrade.py BINDIR PAYLOADDIR"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (Broker, connect_as, fail, have_tun, http_on, need_root_kvm, payload,
                        pid_alive, private_netns, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
NET = have_tun()
if NET:
    private_netns()
CELLCTL = os.path.join(bindir, "cellctl")


def console(b, vid):
    return b.ok("GET", "/vm/%s/console" % vid)


def vm_pids(info):
    return [info["core_pid"]] + [d["pid"] for d in info["devices"]]


def pinger(b, stop, results):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            st, _ = b.req("GET", "/vmm.ping", timeout=120)
        except OSError as e:
            st = repr(e)
        results.append((t0, time.monotonic(), st))


def upgrade_round(b, vid, how, typed):
    """Upgrade the broker how ("rest" or "cellctl") under load; check the
    adopted VM. Returns everything typed on the console so far."""
    info = b.ok("GET", "/vm/" + vid)
    pids = vm_pids(info)
    pid = b.proc.pid
    stop = threading.Event()
    results = [[] for _ in range(4)]
    ts = [threading.Thread(target=pinger, args=(b, stop, r)) for r in results]
    for t in ts:
        t.start()
    # The load runs before the switch (at least one answered request each).
    wait_until(lambda: all(r for r in results), what="the clients' first answers")
    marker = len(b.logtext())
    if how == "rest":
        b.ok("PUT", "/vmm.upgrade")
    else:
        r = subprocess.run([CELLCTL, "--socket", b.rpc, "upgrade"], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            fail("cellctl upgrade: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    wait_until(lambda: "upgraded: this is the new image" in b.logtext()[marker:],
               what="the new image to start")
    t_new = time.monotonic()
    # The clients go on until each had a request answered by the new image.
    wait_until(lambda: all(any(s > t_new for s, _, _ in r) for r in results),
               what="answers from the new image")
    stop.set()
    for t in ts:
        t.join()
    bad = [(s, e, st) for r in results for s, e, st in r if st != 200]
    if bad:
        fail("%s: %d requests failed around the upgrade: %r\n%s"
             % (how, len(bad), bad[:5], b.logtext()[-3000:]))
    longest = max(e - s for r in results for s, e, _ in r)
    if b.proc.poll() is not None or b.proc.pid != pid:
        fail("%s: the broker process ended (%r)" % (how, b.proc.returncode))
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running" or vm_pids(info) != pids:
        fail("%s: the VM was not adopted: %r (was %r)\n%s"
             % (how, info, pids, b.logtext()[-3000:]))
    if not console(b, vid).rstrip("\r\n").endswith(typed):
        fail("%s: the console log lost what was typed: %r" % (how, console(b, vid)[-200:]))
    mark = "after-%s" % how
    b.ok("PUT", "/vm/%s/console" % vid, mark)
    typed += mark
    wait_until(lambda: typed in console(b, vid), what="the echo after the %s upgrade" % how)
    n = sum(len(r) for r in results)
    print("ok   %s upgrade: pid %d kept, VM adopted, %d requests, none failed, the longest "
          "%.0f ms" % (how, pid, n, longest * 1e3))
    return typed


b = Broker(bindir, "[tenant alice]\nuid = 1001\n")
try:
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    vdef = {"kernel": SERIAL, "name": "upgradee", "memory": "32M", "disks": [{"path": img}]}
    if NET:
        vdef["nets"] = [{"tap": "up0"}]
    vid = b.ok("POST", "/vm.create", vdef)["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % vid)
    wait_until(lambda: "irq: banner" in console(b, vid), what="the banner")
    b.ok("PUT", "/vm/%s/console" % vid, "before")
    typed = "before"
    wait_until(lambda: typed in console(b, vid), what="the echo before")

    # A tenant may not upgrade the host's broker.
    st, r = http_on(connect_as(b.sock, 1001, 1001), "PUT", "/vmm.upgrade")
    if st != 403:
        fail("a tenant's PUT /vmm.upgrade: %d %r" % (st, r))
    r = subprocess.run(["setpriv", "--reuid=1001", "--regid=1001", "--clear-groups", CELLCTL,
                        "--socket", b.rpc, "upgrade"], capture_output=True, text=True,
                       timeout=60)
    if r.returncode == 0 or "PERMISSION_DENIED" not in r.stdout + r.stderr:
        fail("a tenant's cellctl upgrade: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    if "upgrading" in b.logtext():
        fail("a tenant's request started an upgrade")
    print("ok   a tenant is refused (REST 403, RPC PERMISSION_DENIED)")

    typed = upgrade_round(b, vid, "rest", typed)
    typed = upgrade_round(b, vid, "cellctl", typed)

    # Power-off after the upgrades: nothing of the VM is left.
    with open(os.path.join(b.state, "vms", vid + ".json")) as f:
        keeper = [json.load(f)["keeper"]["pid"]]
    if not pid_alive(keeper[0]):
        fail("the keeper the state file names does not run: %r" % keeper)
    procs = vm_pids(b.ok("GET", "/vm/" + vid))
    b.ok("PUT", "/vm/%s/power-off" % vid)
    wait_until(lambda: not any(pid_alive(p) for p in procs + keeper),
               what="the VM's processes and keeper to end at power-off")
    if os.path.exists(os.path.join(b.state, "keep", vid + ".sock")):
        fail("power-off left the keeper's socket")
    print("ok   power-off after the upgrades ends every process of the VM")
    b.stop()
    print("PASS")
finally:
    b.cleanup()
