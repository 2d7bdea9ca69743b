#!/usr/bin/env python3
"""VMs outlive the broker (docs/broker.md, "VMs outlive the broker"): a VM
with a disk and a NIC runs under a broker that is killed with SIGKILL (and,
in a second round, ends on SIGTERM with --on-exit keep); its core, devices
and keeper live on; a new broker on the same state directory adopts it: the
same processes, "running", an "adopted" log line, the console ring goes on
with the bytes from before and after (its byte count continues), counters
and device restarts continue, and every operation works on it: console
input, pause and resume, a device killed is restarted, power-off ends every
process (keeper included) and lets the created tap and the keeper's socket
go. Then fake adoption candidates: a keeper record whose pid is another
process (its start time differs), a socket at keep/<id>.sock that another
uid owns, a record of another boot: none is adopted, none is signalled.
The guest here is the serial_irq payload (it echoes its console); the disk
and network I/O of the test guest's checks across a kill is docs/testing.md's
broker_adopt_guest, run where guest user space runs.
Usage: adopt.py BINDIR PAYLOADDIR"""
import json
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, have_tun, need_root_kvm, payload, pid_alive,
                        private_netns, proc_start, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
NET = have_tun()
if NET:
    private_netns()


def state_file(b, vid):
    try:
        with open(os.path.join(b.state, "vms", vid + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def link_exists(name):
    """Whether the interface exists in our network namespace (ip's view:
    /sys shows the namespace it was mounted in)."""
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


def console(b, vid):
    return b.ok("GET", "/vm/%s/console" % vid)


def vm_pids(info):
    return [info["core_pid"]] + [d["pid"] for d in info["devices"]]


def check_gone(b, vid, procs, how):
    """Nothing of the VM is left: processes, keeper, its socket, the tap."""
    wait_until(lambda: not any(pid_alive(p) for p in procs),
               what="the VM's processes and keeper to end after %s" % how)
    if os.path.exists(os.path.join(b.state, "keep", vid + ".sock")):
        fail("%s left the keeper's socket" % how)
    if NET and link_exists("ad0"):
        fail("%s left the tap the broker created" % how)


def run_round(b, vid, how):
    """Boot (if needed), mark the console, end the broker how, start a new
    one, check the adopted VM. Returns its info."""
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running":
        info = b.ok("PUT", "/vm/%s/boot" % vid)
    pids = vm_pids(info)
    if NET and not link_exists("ad0"):
        fail("the broker made no tap ad0")
    wait_until(lambda: "irq: banner" in console(b, vid), what="the banner")
    mark = "before-%s" % how
    b.ok("PUT", "/vm/%s/console" % vid, mark)
    wait_until(lambda: mark in console(b, vid), what="the echo before")
    # A device restarted before: its count goes on under the next broker.
    n = b.ok("GET", "/vm/%s/counters" % vid)["devices"][0]["restarts"]
    os.kill(info["devices"][0]["pid"], signal.SIGKILL)
    wait_until(lambda: b.ok("GET", "/vm/%s/counters" % vid)["devices"][0]["restarts"] > n and
               b.ok("GET", "/vm/" + vid)["devices"][0]["running"],
               what="device 0 to be restarted")
    info = b.ok("GET", "/vm/" + vid)
    pids = vm_pids(info)
    before = b.ok("GET", "/vm/%s/counters" % vid)
    text_before = console(b, vid)
    # The state file records the keeper with the new device's pid.
    wait_until(lambda: (state_file(b, vid) or {}).get("keeper") and
               info["devices"][0]["pid"] in [p["pid"] for p in state_file(b, vid)["processes"]],
               what=lambda: "the state file to record the keeper and the restarted device: "
               "%r\n%s" % (state_file(b, vid), b.logtext()[-3000:]))
    keeper = state_file(b, vid)["keeper"]["pid"]
    if not pid_alive(keeper):
        fail("the keeper %d does not run" % keeper)
    if how == "kill9":
        b.kill9()
    else:
        b.proc.send_signal(signal.SIGTERM)
        if b.proc.wait(DEADLINE) != 0:
            fail("SIGTERM with --on-exit keep: exit %d\n%s" % (b.proc.returncode, b.logtext()))
    # Nothing of the VM died with the broker.
    for p in pids + [keeper]:
        if not pid_alive(p):
            fail("%s: process %d ended with the broker (%r)" % (how, p, pids + [keeper]))
    if NET and not link_exists("ad0"):
        fail("%s: the tap went with the broker" % how)
    b.args = [a for a in b.args if a not in ("--on-exit", "keep")]
    b.start()
    info = b.ok("GET", "/vm/" + vid)
    if info["state"] != "running" or vm_pids(info) != pids:
        fail("%s: not adopted: %r (was %r)\n%s" % (how, info, pids, b.logtext()[-3000:]))
    if "vm %s (tenant root): adopted" % vid not in b.logtext():
        fail("%s: no adopted line in the log:\n%s" % (how, b.logtext()[-3000:]))
    # The console: the same ring, and the guest still echoes.
    text = console(b, vid)
    if not text.startswith(text_before):
        fail("%s: the console log lost bytes: %r then %r" % (how, text_before, text))
    after = "after-%s" % how
    b.ok("PUT", "/vm/%s/console" % vid, after)
    wait_until(lambda: after in console(b, vid), what="the echo after")
    cnt = b.ok("GET", "/vm/%s/counters" % vid)
    if cnt["console_bytes"] < before["console_bytes"] + len(after) or \
            cnt["boots"] != before["boots"] or \
            [d["restarts"] for d in cnt["devices"]] != [d["restarts"] for d in before["devices"]]:
        fail("%s: counters did not go on: %r then %r" % (how, before, cnt))
    return info


b = Broker(bindir, "")
try:
    img = os.path.join(b.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    b.start()
    vdef = {"kernel": SERIAL, "name": "adoptee", "memory": "32M", "disks": [{"path": img}]}
    if NET:
        vdef["nets"] = [{"tap": "ad0"}]
    vid = b.ok("POST", "/vm.create", vdef)["vm_id"]

    # A second VM (no devices) adopted alongside: its power-off after the
    # first one's stop answers (a teardown once closed fd 0, which the next
    # one's then took from an API connection).
    other = b.ok("POST", "/vm.create", {"kernel": SERIAL, "memory": "16M"})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % other)

    # --- kill -9, then every operation on the adopted VM
    info = run_round(b, vid, "kill9")
    if b.ok("GET", "/vm/" + other)["state"] != "running":
        fail("the second VM was not adopted: %r" % b.ok("GET", "/vm/" + other))
    b.ok("PUT", "/vm/%s/pause" % vid)
    if b.ok("GET", "/vm/" + vid)["state"] != "paused":
        fail("pause of an adopted VM")
    b.ok("PUT", "/vm/%s/resume" % vid)
    if b.ok("GET", "/vm/" + vid)["state"] != "running":
        fail("resume of an adopted VM")
    dev = info["devices"][0]["pid"]
    os.kill(dev, signal.SIGKILL)
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["devices"][0]["pid"] not in (dev, None) and
               b.ok("GET", "/vm/" + vid)["devices"][0]["running"],
               what="the adopted VM's device to be restarted")
    if b.ok("GET", "/vm/%s/counters" % vid)["devices"][0]["restarts"] != 2:
        fail("restarts after adoption: %r" % b.ok("GET", "/vm/%s/counters" % vid))
    b.ok("PUT", "/vm/%s/console" % vid, "restarted")
    wait_until(lambda: "restarted" in console(b, vid), what="the echo after the restart")
    # The guest powers off ('q'): the core, not our child, ends by itself.
    info = b.ok("GET", "/vm/" + vid)
    procs = vm_pids(info) + [state_file(b, vid)["keeper"]["pid"]]
    b.ok("PUT", "/vm/%s/console" % vid, "q")
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] == "stopped",
               what="the adopted VM to stop")
    if "exit status unknown (adopted)" not in (b.ok("GET", "/vm/" + vid)["last_exit"] or ""):
        fail("last_exit of an adopted VM: %r" % b.ok("GET", "/vm/" + vid)["last_exit"])
    check_gone(b, vid, procs, "the guest's power-off")
    b.ok("PUT", "/vm/%s/power-off" % other)
    if b.ok("GET", "/vm/" + other)["state"] != "stopped":
        fail("the second adopted VM did not stop")
    print("ok   kill -9: adopted, operated, stopped by its guest")

    # --- SIGTERM with --on-exit keep
    b.stop()
    b.args += ["--on-exit", "keep"]
    b.start()
    info = run_round(b, vid, "keep")
    procs = vm_pids(info) + [state_file(b, vid)["keeper"]["pid"]]
    b.ok("PUT", "/vm/%s/power-off" % vid)
    check_gone(b, vid, procs, "power-off")
    print("ok   --on-exit keep: adopted, powered off")
    b.stop()

    # --- fake candidates: nothing adopted, nothing signalled
    fakes = []

    def sleeper():
        p = subprocess.Popen(["sleep", "3600"])
        fakes.append(p)
        return p

    def planted(uid):
        """A process that owns a socket at keep/<vid>.sock as another uid."""
        path = os.path.join(b.state, "keep", vid + ".sock")
        if os.path.exists(path):
            os.unlink(path)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(path)
            s.listen(4)
            os.chown(path, uid, uid)
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.write(w, b"x")
            while True:
                try:
                    c, _ = s.accept()
                    c.close()
                except OSError:
                    pass
        os.read(r, 1)
        os.close(r)
        os.close(w)
        return pid

    with open("/proc/sys/kernel/random/boot_id") as f:
        boot_id = f.read().strip()
    another = ("1" if boot_id[0] != "1" else "2") + boot_id[1:]
    reused, other_boot = sleeper(), sleeper()
    planter = planted(65534)
    cases = [
        ("pid reused", {"pid": reused.pid, "start": proc_start(reused.pid) + 1, "boot_id": boot_id},
         "is gone or another process"),
        ("planted socket", {"pid": planter, "start": proc_start(planter), "boot_id": boot_id},
         "is not a socket of uid 0"),
        ("another boot", {"pid": other_boot.pid, "start": proc_start(other_boot.pid),
                          "boot_id": another}, "recorded in another boot"),
    ]
    for what, rec, why in cases:
        st = state_file(b, vid)
        st["state"] = "running"
        st["keeper"] = rec
        st["processes"] = []
        with open(os.path.join(b.state, "vms", vid + ".json"), "w") as f:
            json.dump(st, f)
        b.start()
        info = b.ok("GET", "/vm/" + vid)
        if info["state"] != "stopped" or "vm %s: not adopted: " % vid not in b.logtext() or \
                why not in b.logtext():
            fail("%s: %r\n%s" % (what, info, b.logtext()[-2000:]))
        b.stop()
    for p in fakes:
        if p.poll() is not None:
            fail("a fake candidate was signalled: %d" % p.returncode)
    if not pid_alive(planter):
        fail("the planted socket's owner was signalled")
    os.kill(planter, signal.SIGKILL)
    os.waitpid(planter, 0)
    for p in fakes:
        p.kill()
        p.wait()
    print("ok   fake candidates: none adopted or signalled")
    print("PASS")
finally:
    b.cleanup()
