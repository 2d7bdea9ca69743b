#!/usr/bin/env python3
"""The shipped units under a real systemd: cellvm-broker.service with every
hardening line as shipped (only ExecStart points at this build), activated
through its sockets, boots a VM with a NIC on a tap it creates and a disk on
a block device (a loop device), which needs the unit's RestrictAddressFamilies
and DevicePolicy to allow them; the broker runs with the shipped capability
bounding set. A control run with the unit's old RestrictAddressFamilies line
(no AF_INET) must fail the NIC's boot, so this test can see the fault.
Needs systemd as PID 1: scripts/test.sh runs it inside the emulated KVM host
booted with systemd (scripts/kvm-host.sh -s) where this machine has none.
Usage: systemd_unit.py BINDIR PAYLOADDIR SRCDIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import DEADLINE, UnixHTTP, fail, need_root_kvm, payload, pid_alive, skip

bindir, paydir, srcdir = sys.argv[1], sys.argv[2], sys.argv[3]
UNITS = ("cellvm-broker.service", "cellvm-broker.socket", "cellvm-broker-rpc.socket",
         "cellvm-vms.service")
RUNTIME = "/run/systemd/system"
DROPIN = RUNTIME + "/cellvm-broker.service.d"
API = "/run/cellvm/api.sock"
TAP = "cvmsd0"
# The capabilities the unit's CapabilityBoundingSet names (linux/capability.h).
CAPS = {"CAP_SETUID": 7, "CAP_SETGID": 6, "CAP_KILL": 5, "CAP_DAC_OVERRIDE": 1,
        "CAP_DAC_READ_SEARCH": 2, "CAP_NET_ADMIN": 12, "CAP_SYS_RESOURCE": 24,
        "CAP_SYS_ADMIN": 21}


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=DEADLINE)
    if check and r.returncode != 0:
        fail("%s: %d %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout.strip()


def req(method, path, body=None):
    c = UnixHTTP(API)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def ok(method, path, body=None):
    st, reply = req(method, path, body)
    if st // 100 != 2:
        fail("%s %s: %d %r" % (method, path, st, reply))
    return reply


def install_units():
    broker = os.path.abspath(os.path.join(bindir, "cellvm-broker"))
    for u in UNITS:
        with open(os.path.join(srcdir, "packaging", "systemd", u)) as f:
            text = f.read()
        if u.endswith(".service"):
            if "/usr/local/sbin/cellvm-broker " not in text:
                fail("the unit's ExecStart changed: update this test")
            text = text.replace("/usr/local/sbin/cellvm-broker ", broker + " ")
        with open(os.path.join(RUNTIME, u), "w") as f:
            f.write(text)
    sh("systemctl", "daemon-reload")


def start():
    sh("systemctl", "start", "cellvm-broker.socket", "cellvm-broker-rpc.socket")
    # The first request activates the service through its socket.
    if ok("GET", "/vmm.ping") is None:
        fail("no answer to /vmm.ping")
    if sh("systemctl", "is-active", "cellvm-broker.service") != "active":
        fail("cellvm-broker.service is not active after a request")


def stop():
    subprocess.run(["systemctl", "stop", "cellvm-broker.service", "cellvm-broker.socket",
                    "cellvm-broker-rpc.socket", "cellvm-vms.service"], capture_output=True,
                   timeout=DEADLINE)
    subprocess.run(["systemctl", "reset-failed", "cellvm-broker.service", "cellvm-vms.service"],
                   capture_output=True)


def journal():
    return subprocess.run(["journalctl", "-u", "cellvm-broker.service", "--no-pager", "-n", "40"],
                          capture_output=True, text=True).stdout


def check_hardening():
    """The running broker is the unit's, with the unit's bounding set."""
    pid = int(sh("systemctl", "show", "-p", "MainPID", "--value", "cellvm-broker.service"))
    with open("/proc/%d/status" % pid) as f:
        bnd = [int(l.split()[1], 16) for l in f if l.startswith("CapBnd:")][0]
    want = sum(1 << b for b in CAPS.values())
    if bnd != want:
        fail("the broker's bounding set is %#x, the unit says %#x" % (bnd, want))
    props = sh("systemctl", "show", "-p", "RestrictAddressFamilies", "-p", "DevicePolicy",
               "cellvm-broker.service")
    print("unit in force: pid %d, %s" % (pid, props.replace("\n", ", ")))
    return pid


def boot_vm(disk):
    vid = ok("POST", "/vm.create", {"name": "sd", "kernel": payload(paydir, "serial_irq.elf"),
                                    "memory": "64M", "disks": [{"path": disk}],
                                    "nets": [{"tap": TAP}]})["vm_id"]
    st, info = req("PUT", "/vm/%s/boot" % vid)
    return vid, st, info


def main():
    if os.geteuid() != 0:
        skip("needs root")
    if not (os.path.isdir("/run/systemd/system") and open("/proc/1/comm").read().strip() == "systemd"):
        skip("needs systemd as PID 1 (scripts/test.sh runs this test in the emulated KVM host "
             "booted with systemd)")
    need_root_kvm()
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun missing")
    for tool in ("losetup", "systemctl", "journalctl", "ip"):
        if not shutil.which(tool):
            skip("%s not installed" % tool)
    if any(os.path.exists(os.path.join(RUNTIME, u)) or os.path.exists("/etc/systemd/system/" + u)
           for u in UNITS):
        skip("cellvm-broker units are already installed on this machine: not touching them")
    # Outside /tmp (PrivateTmp) and /home (ProtectHome): where images live.
    os.makedirs("/srv", exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="cellvm-sd-", dir="/srv")
    img = os.path.join(tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    loop = None
    try:
        loop = sh("losetup", "--find", "--show", img)
        install_units()

        # 1. As shipped: the NIC and the block device boot.
        start()
        check_hardening()
        vid, st, info = boot_vm(loop)
        if st != 200 or info.get("state") != "running":
            fail("boot under the shipped unit: %d %r\n%s" % (st, info, journal()))
        kinds = sorted(d["kind"] for d in info["devices"])
        if kinds != ["blk", "net"] or not all(pid_alive(d["pid"]) for d in info["devices"]):
            fail("devices under the shipped unit: %r" % info["devices"])
        print("ok: under the shipped unit a VM boots with a NIC on %s and a disk on %s" % (TAP, loop))
        # The VM in <cellvm-vms.service>/vm-<id> (that unit's Delegate=yes,
        # its holder in <it>/holder); the broker's own unit holds no VM.
        unit_cg = sh("systemctl", "show", "-p", "ControlGroup", "--value",
                     "cellvm-vms.service").strip()
        if sh("systemctl", "is-active", "cellvm-vms.service") != "active":
            fail("cellvm-vms.service is not active with the broker")
        procs = [info["core_pid"]] + [d["pid"] for d in info["devices"]]
        where = {p: open("/proc/%d/cgroup" % p).read().strip() for p in procs}
        host = info.get("host") or {}
        if any(w != "0::%s/vm-%s" % (unit_cg, vid) for w in where.values()) or \
                not host.get("cgroup", "").endswith("%s/vm-%s" % (unit_cg, vid)) or \
                host.get("memory_max") != (64 << 20) + (256 << 20) or \
                host.get("pids_current", 0) < 3:
            fail("the VM's cgroup under Delegate=yes: %r, info %r\n%s" % (where, host, journal()))
        print("ok: the VM's processes are in %s/vm-%s: %r" % (unit_cg, vid, host))
        if ok("PUT", "/vm/%s/power-off" % vid)["state"] != "stopped":
            fail("power-off")
        ok("DELETE", "/vm/" + vid)
        stop()

        # 2. Control: the old line makes the NIC's tap set-up fail.
        os.makedirs(DROPIN, exist_ok=True)
        with open(os.path.join(DROPIN, "old.conf"), "w") as f:
            f.write("[Service]\nRestrictAddressFamilies=\n"
                    "RestrictAddressFamilies=AF_UNIX AF_NETLINK\n")
        sh("systemctl", "daemon-reload")
        start()
        vid, st, info = boot_vm(loop)
        if st == 200:
            fail("the control boot (no AF_INET) succeeded: this test cannot see the fault")
        print("ok: the control unit without AF_INET refuses the NIC (%d %s)"
              % (st, (info or {}).get("error")))
        req("DELETE", "/vm/" + vid)
        print("PASS")
    finally:
        stop()
        shutil.rmtree(DROPIN, ignore_errors=True)
        for u in UNITS:
            try:
                os.unlink(os.path.join(RUNTIME, u))
            except OSError:
                pass
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        subprocess.run(["ip", "link", "delete", TAP], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
