#!/usr/bin/env python3
"""cellvm-broker restarts: kill -9 the broker with a running and a paused VM
(each with a disk device process), start it again on the same state
directory: every definition is back, the VMs are reported stopped and no
process of theirs is left. Then SIGTERM: running VMs are powered off and the
broker exits 0; with --on-exit restore they are booted again at the next start.

VMs outlive the broker through their keepers (adopt.py tests that); here the
state files lose their keeper records before the restart, so nothing is
adopted and the new broker kills what an earlier broker left (pids and start
times from the state file, the keeper's among them). That kill is also
checked with stand-ins: stopped processes of this test,
which outlive the broker, written into the paused VM's state file; one with
its true start time and this boot's id (killed), one with another start time
(a reused pid: spared), one with its true start time but another boot's id
(after a host reboot the same pid and start time name an unrelated process:
spared), and one without a boot id (a state file of an older broker: spared
the same way).
Usage: restart.py BINDIR PAYLOADDIR"""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, need_root_kvm, payload, pid_alive, proc_start,
                        wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")


def stand_in():
    """A stopped process that does not die with the broker (as a paused core
    would if PR_SET_PDEATHSIG were lost)."""
    p = subprocess.Popen(["sleep", "3600"])
    p.send_signal(signal.SIGSTOP)
    wait_until(lambda: open("/proc/%d/stat" % p.pid).read().rsplit(") ", 1)[1][0] == "T",
               what="the stand-in to stop")
    return p


b = Broker(bindir, "")
stand_ins = []
try:
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    defs, pids = {}, []
    for name in ("run", "pause", "idle"):
        # One image per VM: an image is read-write in one VM at a time (locks).
        with open(img + "." + name, "wb") as f:
            f.truncate(1 << 20)
        vid = b.ok("POST", "/vm.create", {"kernel": SERIAL, "name": name, "memory": "32M",
                                            "disks": [{"path": img + "." + name,
                                                       "serial": name}]})["vm_id"]
        defs[name] = vid
    for name in ("run", "pause"):
        info = b.ok("PUT", "/vm/%s/boot" % defs[name])
        pids += [info["core_pid"]] + [d["pid"] for d in info["devices"]]
    b.ok("PUT", "/vm/%s/pause" % defs["pause"])
    if len(pids) != 4 or not all(pid_alive(p) for p in pids):
        fail("processes: %r" % pids)
    before = {v["id"]: b.ok("GET", "/vm/" + v["id"])["config"] for v in b.ok("GET", "/vm.list")}

    # The broker's writer thread writes state files after the replies: wait
    # until they hold what the API said (a kill -9 before would lose it).
    def written(name, state, nprocs):
        try:
            with open(os.path.join(b.state, "vms", defs[name] + ".json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            return False
        return st["state"] == state and len(st["processes"]) == nprocs
    # core, device and keeper
    for name, state, nprocs in (("run", "running", 3), ("pause", "paused", 3),
                                ("idle", "created", 0)):
        wait_until(lambda: written(name, state, nprocs),
                   what="the state file of %s to say %s" % (name, state))
    b.kill9()
    vmsdir = os.path.join(b.state, "vms")
    # No keeper on record: not adopted (a broker without keepers left them).
    for name in ("run", "pause"):
        path = os.path.join(vmsdir, defs[name] + ".json")
        with open(path) as f:
            st = json.load(f)
        del st["keeper"]
        with open(path, "w") as f:
            json.dump(st, f)
    # Stand-ins for processes that outlived the broker, recorded with the
    # paused VM: the first with a wrong start time (a pid reused since), then
    # one with its own. The broker goes through a file's list in order.
    spared, other_boot, no_boot, killed = stand_in(), stand_in(), stand_in(), stand_in()
    stand_ins += [spared, other_boot, no_boot, killed]
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot_id = f.read().strip()
    # another boot: this one's id with its first hex digit changed
    another = ("1" if boot_id[0] != "1" else "2") + boot_id[1:]
    path = os.path.join(vmsdir, defs["pause"] + ".json")
    with open(path) as f:
        st = json.load(f)
    if st["state"] != "paused" or len(st["processes"]) != 3 or \
            any(p.get("boot_id") != boot_id for p in st["processes"]):
        fail("state file of the paused VM (pids with this boot's id): %r" % st)
    st["processes"] += [
        {"pid": spared.pid, "start": proc_start(spared.pid) + 1, "boot_id": boot_id},
        {"pid": other_boot.pid, "start": proc_start(other_boot.pid), "boot_id": another},
        {"pid": no_boot.pid, "start": proc_start(no_boot.pid)},
        {"pid": killed.pid, "start": proc_start(killed.pid), "boot_id": boot_id}]
    with open(path, "w") as f:
        json.dump(st, f)
    # what an interrupted write or a damaged disk could leave: skipped or removed
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
    wait_until(lambda: not any(pid_alive(p) for p in pids), what="the old VM processes to end")
    # The broker read the state files before it answered: the stand-in with
    # its true start time was sent SIGKILL, the other never was.
    wait_until(lambda: killed.poll() is not None, what="the stand-in to be killed")
    if killed.returncode != -signal.SIGKILL:
        fail("the stand-in ended with %d, not by SIGKILL" % killed.returncode)
    if "killing process %d left by an earlier broker" % killed.pid not in b.logtext():
        fail("the broker did not report the process it killed:\n" + b.logtext())
    if spared.poll() is not None or "process %d " % spared.pid in b.logtext():
        fail("the broker killed a process whose start time differs from the recorded one")
    for p, what in ((other_boot, "recorded in another boot"), (no_boot, "recorded without a boot id")):
        if p.poll() is not None or "killing process %d " % p.pid in b.logtext():
            fail("the broker killed a process %s" % what)
        if "process %d was recorded in another boot" % p.pid not in b.logtext():
            fail("the broker did not say it left process %d (%s) alone:\n%s"
                 % (p.pid, what, b.logtext()))
    for p in (spared, other_boot, no_boot):
        p.kill()
        p.wait()
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

    # the VMs boot again; SIGTERM powers them off and the broker exits cleanly
    info = b.ok("PUT", "/vm/%s/boot" % defs["run"])
    core = info["core_pid"]
    if b.ok("GET", "/vm.info")["id"] != defs["run"]:
        fail("the default VM changed across the restart")
    b.proc.send_signal(signal.SIGTERM)
    if b.proc.wait(DEADLINE) != 0:
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
    if b.proc.wait(DEADLINE) != 0 or pid_alive(core):
        fail("SIGTERM with --on-exit restore: %d" % b.proc.returncode)
    b.args = []
    b.start()
    wait_until(lambda: b.ok("GET", "/vm/" + defs["run"])["state"] == "running",
               what=lambda: "the VM to be booted again: %r\n%s"
               % (b.ok("GET", "/vm/" + defs["run"]), b.logtext()[-2000:]))
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
    for p in stand_ins:
        if p.poll() is None:
            p.kill()
            p.wait()
    b.cleanup()
