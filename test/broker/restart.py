#!/usr/bin/env python3
"""cellvm-broker restarts: kill -9 the broker with a running and a paused VM
(each with a disk device process), start it again on the same state
directory: every definition is back, the VMs are reported stopped and no
process of theirs is left (a paused core cannot notice its broker died: the new
broker kills it by its recorded pid and start time). Then SIGTERM: running
VMs are powered off and the broker exits 0.
Usage: restart.py BINDIR PAYLOADDIR"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, pid_alive, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")

b = Broker(bindir, "")
try:
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    defs, pids = {}, []
    for name in ("run", "pause", "idle"):
        vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "name": name, "memory": "32M",
                                            "disks": [{"path": img, "serial": name}]})["vm_id"]
        defs[name] = vid
    for name in ("run", "pause"):
        info = b.ok("PUT", "/vm/%s/boot" % defs[name])
        pids += [info["core_pid"]] + [d["pid"] for d in info["devices"]]
    b.ok("PUT", "/vm/%s/pause" % defs["pause"])
    if len(pids) != 4 or not all(pid_alive(p) for p in pids):
        fail("processes: %r" % pids)
    before = {v["id"]: b.ok("GET", "/vm/" + v["id"])["config"] for v in b.ok("GET", "/vm.list")}

    b.kill9()
    # what an interrupted write or a damaged disk could leave: skipped or removed
    vmsdir = os.path.join(b.state, "vms")
    with open(os.path.join(vmsdir, ".%s.tmp" % defs["idle"]), "w") as f:
        f.write("{\"id\": ")
    with open(os.path.join(vmsdir, "00000000-0000-4000-8000-00000000dead.json"), "w") as f:
        f.write("{not json")
    with open(os.path.join(vmsdir, "00000000-0000-4000-8000-00000000beef.json"), "w") as f:
        f.write('{"id": "00000000-0000-4000-8000-00000000beef", "tenant": "nobody", '
                '"state": "created", "definition": {"kernel": "/x"}}')
    b.start()
    if os.path.exists(os.path.join(vmsdir, ".%s.tmp" % defs["idle"])):
        fail("a leftover temporary file was not removed")
    log = b.logtext()
    if "dead.json is damaged" not in log or "tenant 'nobody'" not in log:
        fail("damaged or foreign state files were not reported:\n" + log)
    wait_until(lambda: not any(pid_alive(p) for p in pids), 10, "the old VM processes to end")
    lst = {v["id"]: v for v in b.ok("GET", "/vm.list")}
    if set(lst) != set(defs.values()):  # the damaged and foreign files are not VMs
        fail("definitions lost: %r" % lst)
    for name, vid in defs.items():
        info = b.ok("GET", "/vm/" + vid)
        if info["config"] != before[vid]:
            fail("definition of %s changed: %r" % (name, info["config"]))
        want = "created" if name == "idle" else "stopped"
        if info["state"] != want:
            fail("%s is %s after the restart" % (name, info["state"]))
        if name != "idle" and "broker restarted" not in (info["last_exit"] or ""):
            fail("last_exit of %s: %r" % (name, info["last_exit"]))
    if "left by an earlier broker" not in b.logtext():
        fail("the paused VM's processes were not killed by the new broker")

    # the VMs boot again; SIGTERM powers them off and the broker exits cleanly
    info = b.ok("PUT", "/vm/%s/boot" % defs["run"])
    core = info["core_pid"]
    if b.ok("GET", "/vm.info")["id"] != defs["run"]:
        fail("the default VM changed across the restart")
    b.proc.send_signal(signal.SIGTERM)
    if b.proc.wait(30) != 0:
        fail("SIGTERM: exit status %d\n%s" % (b.proc.returncode, b.logtext()))
    if pid_alive(core):
        fail("SIGTERM left a core running")
    b.start()
    info = b.ok("GET", "/vm/" + defs["run"])
    if info["state"] != "stopped":
        fail("after SIGTERM the VM is %r" % info)

    # --on-exit restore: what ran at a clean exit is booted again at start
    b.stop()
    b.args = ["--on-exit", "restore"]
    b.start()
    core = b.ok("PUT", "/vm/%s/boot" % defs["run"])["core_pid"]
    b.proc.send_signal(signal.SIGTERM)
    if b.proc.wait(30) != 0 or pid_alive(core):
        fail("SIGTERM with --on-exit restore: %d" % b.proc.returncode)
    b.args = []
    b.start()
    wait_until(lambda: b.ok("GET", "/vm/" + defs["run"])["state"] == "running", 10,
               "the VM to be booted again")
    for name in ("pause", "idle"):
        if b.ok("GET", "/vm/" + defs[name])["state"] == "running":
            fail("%s was booted though it did not run at the exit" % name)
    # booted once: a second restart does not boot it again on its own
    b.ok("PUT", "/vm/%s/power-off" % defs["run"])
    b.stop()
    b.start()
    if b.ok("GET", "/vm/" + defs["run"])["state"] != "stopped":
        fail("the restore mark outlived its restore")
    b.stop()
    print("PASS")
finally:
    b.cleanup()
