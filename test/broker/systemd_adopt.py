#!/usr/bin/env python3
"""VMs outlive the broker under a real systemd (PID 1): the shipped units
(every line as shipped but ExecStart's path, and a drop-in that shortens the
watchdog so the test does not wait 30 s), a VM with a disk (a loop device) and
a NIC, its guest echoing what the test types on its console. The broker is then
ended four ways, each while the guest runs:
  1. kill -9 of the main process: Restart=on-failure starts a new broker;
  2. a stalled loop (SIGSTOP): the watchdog's abort and kill, then the restart;
  3. systemctl restart (SIGTERM; the unit's --on-exit keep);
  4. cellctl upgrade: the same process re-executes itself (same MainPID);
and after each the new broker has adopted the VM: the same core and device
processes run, the guest echoes what is typed next, the console log holds
everything typed so far in order with nothing lost, and the API works on it. Then
the disk's device process is killed and comes back, and a power-off leaves no
process of the VM, no keeper, no tap and no cgroup of the VM.
Needs systemd as PID 1: scripts/test.sh runs it in the emulated KVM host
booted with systemd (scripts/kvm-host.sh -s).
Usage: systemd_adopt.py BINDIR PAYLOADDIR SRCDIR"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import fail, need_root_kvm, payload, pid_alive, skip, wait_until
import systemd_unit as su

bindir, paydir, srcdir = sys.argv[1], sys.argv[2], sys.argv[3]
su.bindir, su.paydir, su.srcdir = bindir, paydir, srcdir
TAP = "cvmsda0"
RPC = "/run/cellvm/rpc.sock"
# Emulated hosts are slow: generous bounds (upper bounds only, never sleeps).
LONG = 240
ECHO = 90


def main_pid():
    return int(su.sh("systemctl", "show", "-p", "MainPID", "--value", "cellvm-broker.service"))


def type_and_see(vid, text, typed):
    """Type text on the guest's console and wait for its echo; the log must
    hold everything typed so far, in order, after the banner."""
    print("typing %r" % text, flush=True)
    # (su.ok sends its body as JSON: the guest gets, and echoes, the quotes)
    su.ok("PUT", "/vm/%s/console" % vid, text)
    typed += json.dumps(text)
    wait_until(lambda: typed in console_log(vid), ECHO,
               lambda: "the guest's echo of %r (everything typed so far: %r); the console "
               "log ends %r; the journal:\n%s" % (text, typed, console_log(vid)[-300:],
                                                    su.journal()))
    return typed


def console_log(vid):
    c = su.UnixHTTP(su.API)
    c.request("GET", "/vm/%s/console" % vid)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return data if r.status == 200 else ""


def kill_unit_leftovers():
    """What a failed run left in the unit's cgroup (KillMode=process leaves
    VMs when the broker stops): killed, so the next test starts clean."""
    for top in ("/sys/fs/cgroup/system.slice/cellvm-broker.service",
                "/sys/fs/cgroup/system.slice/cellvm-vms.service"):
        for d, _, files in os.walk(top):
            if "cgroup.procs" not in files:
                continue
            for p in open(os.path.join(d, "cgroup.procs")).read().split():
                try:
                    os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass


def vm_procs(vid):
    info = su.ok("GET", "/vm/%s" % vid)
    return info, [info["core_pid"]] + sorted(d["pid"] for d in info["devices"])


def wait_new_broker(old_pid, what):
    def up():
        try:
            pid = main_pid()
            if pid in (0, old_pid):
                return False
            return su.req("GET", "/vmm.ping")[0] == 200
        except Exception:
            return False
    wait_until(up, LONG, lambda: "a new broker after %s (MainPID %s, was %d); the journal:\n%s"
               % (what, su.sh("systemctl", "show", "-p", "MainPID", "-p", "ActiveState", "-p",
                             "SubState", "cellvm-broker.service", check=False),
                  old_pid, su.journal()))
    return main_pid()


def check_adopted(vid, procs, what):
    info, now = vm_procs(vid)
    if info["state"] != "running":
        fail("after %s the VM is %s (%s)\n%s" % (what, info["state"], info.get("last_exit"),
                                                 su.journal()))
    if now != procs:
        fail("after %s the VM's processes changed: %r, were %r" % (what, now, procs))
    if not all(pid_alive(p) for p in procs):
        fail("after %s a process of the VM is gone: %r" % (what, procs))
    print("ok: after %s the VM runs on, adopted: processes %r" % (what, procs))


def main():
    if os.geteuid() != 0:
        skip("needs root")
    if not (os.path.isdir("/run/systemd/system") and
            open("/proc/1/comm").read().strip() == "systemd"):
        skip("needs systemd as PID 1 (scripts/test.sh runs this test in the emulated KVM host "
             "booted with systemd)")
    need_root_kvm()
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun missing")
    for tool in ("losetup", "systemctl", "journalctl", "ip"):
        if not shutil.which(tool):
            skip("%s not installed" % tool)
    if any(os.path.exists(os.path.join(su.RUNTIME, u)) or
           os.path.exists("/etc/systemd/system/" + u) for u in su.UNITS):
        skip("cellvm-broker units are already installed on this machine: not touching them")
    cellctl = os.path.join(bindir, "cellctl")
    os.makedirs("/srv", exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="cellvm-sda-", dir="/srv")
    img = os.path.join(tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    loop = None
    try:
        loop = su.sh("losetup", "--find", "--show", img)
        su.install_units()
        unit = open(os.path.join(su.RUNTIME, "cellvm-broker.service")).read()
        for line in ("KillMode=process", "--on-exit keep", "Restart=on-failure"):
            if line not in unit:
                fail("the shipped unit has no %r: update this test" % line)
        # Only the watchdog's timing changes: the test need not wait 30 s.
        os.makedirs(su.DROPIN, exist_ok=True)
        with open(os.path.join(su.DROPIN, "watchdog.conf"), "w") as f:
            f.write("[Service]\nWatchdogSec=6s\nTimeoutAbortSec=3s\n")
        su.sh("systemctl", "daemon-reload")
        su.start()
        vid = su.ok("POST", "/vm.create", {
            "name": "sda", "kernel": payload(paydir, "serial_irq.elf"), "memory": "64M",
            "disks": [{"path": loop}], "nets": [{"tap": TAP}]})["vm_id"]
        st, info = su.req("PUT", "/vm/%s/boot" % vid)
        if st != 200 or info.get("state") != "running":
            fail("boot: %d %r\n%s" % (st, info, su.journal()))
        wait_until(lambda: "irq: banner" in console_log(vid), LONG, "the guest's banner")
        info, procs = vm_procs(vid)
        typed = type_and_see(vid, "abc", "")
        unit_cg = su.sh("systemctl", "show", "-p", "ControlGroup", "--value",
                        "cellvm-vms.service").strip()

        # 1. kill -9: Restart=on-failure, and the new broker adopts.
        pid = main_pid()
        os.kill(pid, signal.SIGKILL)
        pid = wait_new_broker(pid, "kill -9")
        check_adopted(vid, procs, "kill -9 and Restart=on-failure")
        typed = type_and_see(vid, "def", typed)

        # 2. A stalled loop: no watchdog pings; systemd aborts it, kills it
        # (it is stopped: the abort cannot run), and restarts it.
        print("stopping the broker's loop (SIGSTOP of %d)" % pid, flush=True)
        os.kill(pid, signal.SIGSTOP)
        pid = wait_new_broker(pid, "a stalled loop (the watchdog)")
        if "watchdog" not in su.journal().lower():
            fail("no watchdog in the journal:\n" + su.journal())
        check_adopted(vid, procs, "the watchdog's restart")
        typed = type_and_see(vid, "ghi", typed)

        # 3. systemctl restart: SIGTERM with --on-exit keep.
        su.sh("systemctl", "restart", "cellvm-broker.service")
        pid = wait_new_broker(pid, "systemctl restart")
        check_adopted(vid, procs, "systemctl restart (--on-exit keep)")
        typed = type_and_see(vid, "jkl", typed)

        # 4. cellctl upgrade: the same process, the new image.
        r = subprocess.run([cellctl, "--socket", RPC, "upgrade"], capture_output=True,
                           text=True, timeout=LONG)
        if r.returncode != 0:
            fail("cellctl upgrade: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        wait_until(lambda: "upgraded" in su.journal(), LONG, "the new image's start")
        wait_until(lambda: su.req("GET", "/vmm.ping")[0] == 200, LONG, "the upgraded broker")
        if main_pid() != pid:
            fail("cellctl upgrade changed the MainPID: %d, was %d" % (main_pid(), pid))
        if su.sh("systemctl", "is-active", "cellvm-broker.service") != "active":
            fail("the unit is not active after the upgrade:\n" + su.journal())
        check_adopted(vid, procs, "cellctl upgrade")
        typed = type_and_see(vid, "mno", typed)

        # The disk's device dies after adoption and comes back.
        blk = [d for d in info["devices"] if d["kind"] == "blk"][0]
        os.kill(blk["pid"], signal.SIGKILL)

        def blk_back():
            d = [d for d in su.ok("GET", "/vm/%s" % vid)["devices"] if d["kind"] == "blk"][0]
            return d["running"] and d["pid"] != blk["pid"] and pid_alive(d["pid"])
        wait_until(blk_back, LONG, "the disk's device to be restarted by the adopting broker")
        print("ok: a device killed after adoption was restarted")
        typed = type_and_see(vid, "pqr", typed)

        # Power-off: nothing of the VM is left.
        info, procs = vm_procs(vid)
        # The unit's StateDirectory: the VM's state file names its keeper.
        with open("/var/lib/cellvm/vms/%s.json" % vid) as f:
            keepers = [json.load(f)["keeper"]["pid"]]
        if not pid_alive(keepers[0]):
            fail("the keeper the state file names does not run: %r" % keepers)
        if su.ok("PUT", "/vm/%s/power-off" % vid)["state"] != "stopped":
            fail("power-off")
        left = [p for p in procs if pid_alive(p)]
        if left:
            fail("power-off left processes of the VM: %r" % left)
        wait_until(lambda: not [p for p in keepers if pid_alive(p)], LONG,
                   "the VM's keeper to end at its power-off")
        if subprocess.run(["ip", "link", "show", TAP], capture_output=True).returncode == 0:
            fail("the tap %s the broker made is still there after power-off" % TAP)
        su.ok("DELETE", "/vm/" + vid)
        vm_cg = "/sys/fs/cgroup%s/vm-%s" % (unit_cg, vid)
        wait_until(lambda: not os.path.exists(vm_cg), LONG, "the VM's cgroup to go at delete")
        print("ok: after power-off and delete no process, keeper, tap or cgroup of the VM")
        print("PASS")
    finally:
        su.stop()
        shutil.rmtree(su.DROPIN, ignore_errors=True)
        for u in su.UNITS:
            try:
                os.unlink(os.path.join(su.RUNTIME, u))
            except OSError:
                pass
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)
        kill_unit_leftovers()
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        subprocess.run(["ip", "link", "delete", TAP], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
