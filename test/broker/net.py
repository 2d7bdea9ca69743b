#!/usr/bin/env python3
"""NICs of broker VMs (`nets`), in a network namespace of this test's own (the
taps never touch the host's network): a VM with a disk and two NICs boots with
a cellvm-dev-net process per NIC on its tap (created by the broker, up, with
the MTU asked for); info and counters show them; a net device killed with
kill -9 comes back on the same tap (the broker keeps the tap open); a second
VM cannot boot on a tap the first holds; power-off lets a created tap go.
A multi-queue tap the broker creates has an owner and a group (root, and a
group nobody is in): an unprivileged process that opens /dev/net/tun cannot
attach a queue to it (EPERM), where an ownerless one would hand it part of
the VM's traffic; an existing multi-queue tap without owner or group is
refused at boot with the reason.
Tenants only get the taps their configuration lists (taps = ...), never
another tenant's, and overlapping lists are refused at start. Bad nets
inputs are 400 INVALID_ARGUMENT with a message that names the problem.
Usage: net.py BINDIR PAYLOADDIR"""
import json
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (Broker, as_uid, fail, have_tun, need_root_kvm, payload, pid_alive,
                        private_netns, skip, unix_connect, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
if not have_tun():
    skip("/dev/net/tun missing")
private_netns()
SERIAL = payload(paydir, "serial_irq.elf")
ALICE, BOB, CAROL = (1001, 1001), (1002, 1002), (1003, 1003)


def link(name):
    """ip's view of an interface, or None."""
    p = subprocess.run(["ip", "-j", "-d", "link", "show", "dev", name], capture_output=True)
    return json.loads(p.stdout)[0] if p.returncode == 0 else None


def event_line(ev, buf, name):
    while b'"' + name + b'"' not in buf:
        chunk = ev.recv(4096)
        if not chunk:
            fail("event stream closed")
        buf += chunk
    line = [x for x in buf.split(b"\n") if b'"' + name + b'"' in x][0]
    return json.loads(line[line.index(b"{"):]), buf


def attach_queue(who, name):
    """As uid/gid who (no capabilities), try to attach a queue to the
    multi-queue tap name: None when it worked, else the errno name. The
    /dev/net/tun fd is opened first, as root: the attacker is any user who
    can open it (0666 on many hosts); the kernel checks the caller's
    credentials at the TUNSETIFF."""
    import errno
    import fcntl
    import struct
    TUNSETIFF = 0x400454ca
    flags = 0x0002 | 0x1000 | 0x4000 | 0x0100  # IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|IFF_MULTI_QUEUE
    fd = os.open("/dev/net/tun", os.O_RDWR)

    def attach():
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
            return None
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))
    try:
        return as_uid(who[0], who[1], attach)
    finally:
        os.close(fd)


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read()


def expect_400(b, body, want, who=None):
    if who:
        st, r = as_uid(who[0], who[1], lambda: b.req("POST", "/vm.create", body))
    else:
        st, r = b.req("POST", "/vm.create", body)
    if st != 400 or not isinstance(r, dict) or r.get("code") != "INVALID_ARGUMENT" or \
            want not in r.get("error", ""):
        fail("%r: want 400 INVALID_ARGUMENT with %r, got %d %r" % (body, want, st, r))


b = Broker(bindir, "")
try:
    imgs = os.path.join(b.tmp, "images")
    os.mkdir(imgs)
    kernel = os.path.join(imgs, "k.elf")
    shutil.copy(SERIAL, kernel)
    img = os.path.join(imgs, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    # Each tenant its own image directory (overlapping ones are refused),
    # with a copy of the kernel.
    tdirs = {}
    for who in (ALICE, BOB, CAROL):
        tdirs[who] = os.path.join(b.tmp, "images-%d" % who[0])
        os.mkdir(tdirs[who])
        shutil.copy(SERIAL, os.path.join(tdirs[who], "k.elf"))
    with open(b.conf, "w") as f:
        f.write("[tenant alice]\nuid = 1001\nimage_dir = %s\ntaps = ta-* alice0\n"
                "[tenant bob]\nuid = 1002\nimage_dir = %s\ntaps = tb0, tb1\n"
                "[tenant carol]\nuid = 1003\nimage_dir = %s\n"
                % (tdirs[ALICE], tdirs[BOB], tdirs[CAROL]))
    b.start()
    ev = unix_connect(b.sock)
    ev.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")

    # --- a disk and two NICs (object and --net string forms)
    vid = b.ok("POST", "/vm.create", {
        "kernel": kernel, "memory": "32M", "disks": [{"path": img}],
        "nets": [{"tap": "cv0", "mac": "52:54:00:12:34:56", "queues": 2, "mtu": 9000,
                  "rate": "10M", "burst": 1 << 20, "pps": 1000},
                 "tap=cv1,transport=mmio"]})["vm_id"]
    cfg = b.ok("GET", "/vm/" + vid)["config"]["nets"]
    want0 = {"tap": "cv0", "mac": "52:54:00:12:34:56", "queues": 2, "mtu": 9000,
             "rate": 10 << 20, "burst": 1 << 20, "pps": 1000}
    if cfg[0] != want0 or cfg[1]["tap"] != "cv1" or cfg[1]["transport"] != "mmio" or \
            cfg[1]["queues"] != 1:
        fail("config nets: %r" % cfg)
    mac1 = cfg[1]["mac"]
    # A MAC picked at create: locally administered unicast, kept across boots.
    if len(mac1) != 17 or int(mac1[:2], 16) & 3 != 2:
        fail("random MAC %r" % mac1)
    if link("cv0") or link("cv1"):
        fail("taps exist before the boot")

    info = b.ok("PUT", "/vm/%s/boot" % vid)
    devs = info["devices"]
    if [d["kind"] for d in devs] != ["blk", "net", "net"] or \
            [d.get("tap") for d in devs] != [None, "cv0", "cv1"] or \
            devs[1]["mac"] != "52:54:00:12:34:56" or devs[2]["mac"] != mac1 or \
            not all(d["running"] and pid_alive(d["pid"]) for d in devs):
        fail("boot: %r" % info)
    core = info["core_pid"]
    for d in devs[1:]:
        if b"cellvm-dev-net" not in cmdline(d["pid"]):
            fail("device %r is not cellvm-dev-net: %r" % (d, cmdline(d["pid"])))
    l0, l1 = link("cv0"), link("cv1")
    if not l0 or not l1:
        fail("taps missing after boot")
    for l in (l0, l1):
        if "UP" not in l["flags"] or l["linkinfo"]["info_kind"] != "tun" or \
                l["linkinfo"]["info_data"]["type"] != "tap":
            fail("tap not a tap, or down: %r" % l)
    if l0["mtu"] != 9000 or not l0["linkinfo"]["info_data"].get("multi_queue"):
        fail("cv0: MTU 9000, multi-queue: %r" % l0)
    # Nobody but CAP_NET_ADMIN attaches a queue to the tap the broker made: not
    # the sandbox's id, not a tenant's (as_uid drops every capability).
    for who in ((65534, 65534), ALICE):
        got = attach_queue(who, "cv0")
        if got != "EPERM":
            fail("uid %d attaching a queue to cv0: %r, expected EPERM" % (who[0], got))
    wait_until(lambda: "irq: banner" in b.ok("GET", "/vm/%s/console" % vid), what="the banner")
    cnt = b.ok("GET", "/vm/%s/counters" % vid)
    if [(d["index"], d["kind"], d["state"], d["restarts"]) for d in cnt["devices"]] != \
            [(0, "blk", "running", 0), (1, "net", "running", 0), (2, "net", "running", 0)] or \
            cnt["devices"][2]["tap"] != "cv1":
        fail("counters: %r" % cnt)

    # --- kill -9 a net device: it comes back on the same tap
    os.kill(devs[1]["pid"], signal.SIGKILL)
    buf = b""
    e, buf = event_line(ev, buf, b"device-exited")
    if e["vm_id"] != vid or "device 1 (net)" not in e["detail"]:
        fail("event: %r" % e)
    e, buf = event_line(ev, buf, b"device-restarted")
    if e["vm_id"] != vid or "device 1 (net)" not in e["detail"]:
        fail("event: %r" % e)
    info = b.ok("GET", "/vm/" + vid)
    d1 = info["devices"][1]
    if not d1["running"] or d1["pid"] == devs[1]["pid"] or not pid_alive(d1["pid"]) or \
            b"cellvm-dev-net" not in cmdline(d1["pid"]) or not pid_alive(core) or \
            info["state"] != "running":
        fail("net device not back: %r" % info)
    l0b = link("cv0")
    if not l0b or l0b["ifindex"] != l0["ifindex"] or "UP" not in l0b["flags"]:
        fail("the tap did not stay: %r then %r" % (l0, l0b))
    cnt = b.ok("GET", "/vm/%s/counters" % vid)
    if [d["restarts"] for d in cnt["devices"]] != [0, 1, 0] or \
            [d["state"] for d in cnt["devices"]] != ["running"] * 3:
        fail("counters after the restart: %r" % cnt)
    b.ok("PUT", "/vm/%s/console" % vid, "still")
    wait_until(lambda: "still" in b.ok("GET", "/vm/%s/console" % vid),
               what="the guest to echo after the restart")
    ev.close()

    # --- one tap, one VM: a second VM cannot boot on cv0 while the first holds it
    other = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M",
                                         "nets": [{"tap": "cv0", "queues": 2}]})["vm_id"]
    st, r = b.req("PUT", "/vm/%s/boot" % other)
    if st != 400 or r.get("code") != "INVALID_ARGUMENT" or "in use by another VM" not in r["error"]:
        fail("boot on a held tap: %d %r" % (st, r))
    if b.ok("GET", "/vm/" + other)["state"] != "created":
        fail("the refused VM changed state")

    # --- power-off: the taps the broker created go with their last fd
    b.ok("PUT", "/vm/%s/power-off" % vid)
    if pid_alive(core) or any(pid_alive(d["pid"]) for d in info["devices"]):
        fail("power-off left processes")
    if link("cv0") or link("cv1"):
        fail("created taps left after power-off")
    # ... and the other VM may have cv0 now.
    if b.ok("PUT", "/vm/%s/boot" % other)["devices"][0]["tap"] != "cv0" or not link("cv0"):
        fail("boot after the tap was freed")
    b.ok("DELETE", "/vm/" + other)
    if link("cv0"):
        fail("delete left the tap")
    # A reboot gets the same MAC (fixed in the definition).
    info = b.ok("PUT", "/vm/%s/boot" % vid)
    if info["devices"][2]["mac"] != mac1:
        fail("MAC changed across boots: %r" % info)
    b.ok("PUT", "/vm/%s/power-off" % vid)

    # --- an existing tap (made by the operator) is used as it is
    subprocess.run(["ip", "tuntap", "add", "dev", "op0", "mode", "tap", "vnet_hdr"], check=True)
    op = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M", "nets": ["tap=op0"]})
    b.ok("PUT", "/vm/%s/boot" % op["vm_id"])
    b.ok("DELETE", "/vm/" + op["vm_id"])
    if not link("op0"):
        fail("the operator's tap went away")
    # An existing multi-queue tap without owner or group: anyone could attach
    # a queue to it, so it is refused with the reason; with an owner it is used.
    subprocess.run(["ip", "tuntap", "add", "dev", "op1", "mode", "tap", "vnet_hdr",
                    "multi_queue"], check=True)
    if attach_queue((65534, 65534), "op1") is not None:
        fail("control: an unprivileged user cannot attach to an ownerless tap here")
    mq = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M",
                                      "nets": [{"tap": "op1", "queues": 2}]})["vm_id"]
    st, r = b.req("PUT", "/vm/%s/boot" % mq)
    if st != 400 or "has no owner or group" not in r.get("error", ""):
        fail("boot on an ownerless multi-queue tap: %d %r" % (st, r))
    subprocess.run(["ip", "tuntap", "del", "dev", "op1", "mode", "tap", "multi_queue"],
                   check=True)
    subprocess.run(["ip", "tuntap", "add", "dev", "op1", "mode", "tap", "vnet_hdr",
                    "multi_queue", "user", "0"], check=True)
    b.ok("PUT", "/vm/%s/boot" % mq)
    b.ok("DELETE", "/vm/" + mq)
    # An interface that is not a tap (lo, a tun): refused at boot.
    subprocess.run(["ip", "tuntap", "add", "dev", "tun0", "mode", "tun"], check=True)
    for name, why in (("lo", "exists and is not a tap"), ("tun0", "a tun (IP), not a tap")):
        dm = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M",
                                          "nets": [{"tap": name}]})["vm_id"]
        st, r = b.req("PUT", "/vm/%s/boot" % dm)
        if st != 400 or why not in r.get("error", ""):
            fail("boot on %s: %d %r" % (name, st, r))
        b.ok("DELETE", "/vm/" + dm)

    # --- tenants: only the taps their configuration lists
    def create(who, tap):
        return as_uid(who[0], who[1], lambda: b.req("POST", "/vm.create", {
            "kernel": os.path.join(tdirs[who], "k.elf"), "memory": "32M",
            "nets": [{"tap": tap}]}))

    st, r = create(ALICE, "ta-0")
    if st != 200:
        fail("alice on ta-0: %d %r" % (st, r))
    avid = r["vm_id"]
    for who, tap in ((ALICE, "alice0"), (BOB, "tb0"), (BOB, "tb1")):
        st, r = create(who, tap)
        if st != 200:
            fail("%r on %s: %d %r" % (who, tap, st, r))
    for who, tap, why in ((ALICE, "tb0", "not one of tenant alice's taps"),
                          (ALICE, "alice01", "not one of tenant alice's taps"),
                          (ALICE, "ta", "not one of tenant alice's taps"),
                          (BOB, "ta-0", "not one of tenant bob's taps"),
                          (BOB, "tb01", "not one of tenant bob's taps"),
                          (BOB, "cv0", "not one of tenant bob's taps"),
                          (CAROL, "tc0", "tenant carol has no taps")):
        st, r = create(who, tap)
        if st != 400 or r.get("code") != "INVALID_ARGUMENT" or why not in r.get("error", ""):
            fail("%r on %s: want 400 %r, got %d %r" % (who, tap, why, st, r))
    # Alice boots on her own tap (the broker creates it for her).
    st, r = as_uid(ALICE[0], ALICE[1], lambda: b.req("PUT", "/vm/%s/boot" % avid))
    if st != 200 or r["devices"][0]["tap"] != "ta-0" or not link("ta-0"):
        fail("alice's boot: %d %r" % (st, r))
    # Root may use any tap, a tenant's too, but not while another VM holds it.
    rv = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M",
                                      "nets": [{"tap": "ta-0"}]})["vm_id"]
    st, r = b.req("PUT", "/vm/%s/boot" % rv)
    if st != 400 or "in use by another VM" not in r.get("error", ""):
        fail("root on alice's held tap: %d %r" % (st, r))
    b.ok("DELETE", "/vm/" + rv)

    # --- bad nets inputs: 400 with a clear message
    K = {"kernel": kernel, "memory": "32M"}
    for nets, want in [
        ([{"tap": "t0", "mac": "zz"}], "not six hex bytes"),
        ([{"tap": "t0", "mac": "01:00:5e:00:00:01"}], "multicast"),
        ([{"tap": "t0", "mac": "00:00:00:00:00:00"}], "all-zero"),
        ([{"tap": "t0", "mac": "52:54:00:00:00:01:02"}], "not six hex bytes"),
        ([{"tap": "t0", "queues": 0}], "nets[].queues: must be from 1 to 8"),
        ([{"tap": "t0", "queues": 9}], "nets[].queues: must be from 1 to 8"),
        ([{"tap": "t0", "mtu": 67}], "nets[].mtu: must be from 68 to 65535"),
        ([{"tap": "t0", "mtu": 65536}], "nets[].mtu: must be from 68 to 65535"),
        ([{"tap": "t0", "speed": 1}], "unknown field 'speed'"),
        (["tap=t0,speed=1"], "unknown key 'speed'"),
        ([{"tap": "t0", "queues": "2"}], "nets[].queues: must be an integer"),
        ([{"tap": "t0", "mtu": True}], "nets[].mtu: must be an integer"),
        ([{"tap": "t0", "queues": 2.5}], "nets[].queues: must be an integer"),
        ([{"tap": 5}], "nets[].tap: must be a string"),
        ([{"tap": None}], "nets[].tap: must be a string"),
        ([{"tap": "t0", "mac": 1}], "nets[].mac: must be a string"),
        ([{"tap": "t0", "rate": -1}], "nets[].rate: must be from 1"),
        ([{"tap": "t0", "rate": 0}], "nets[].rate: must be from 1"),
        ([{"tap": "t0", "rate": "fast"}], "rate: 'fast' is not a number"),
        ([{"tap": "t0", "rate": "16777215T"}], "a rate or burst above"),
        ([{"tap": "t0", "rate": 1 << 70}], "nets[].rate: must be"),
        ([{"tap": "t0", "burst": 100}], "burst= needs rate="),
        ([{"tap": "t0", "pps-burst": 100}], "pps-burst= needs pps="),
        ([{"tap": "t0", "transport": "usb"}], "not pci or mmio"),
        ([{"tap": "t0,queues=2"}], "nets[].tap: no ',' allowed"),
        ([{"tap": "a b"}], "not an interface name"),
        ([{"tap": "t" * 16}], "not an interface name"),
        ([{"tap": "tap%d"}], "not an interface name"),
        ([{"mac": "52:54:00:00:00:01"}], "tap= is required"),
        ([{}], "empty option"),
        (["tap=t0,queues=2,queues=3"], "given twice"),
        (["tap=t0,"], "empty item"),
        ([5], "nets[]: must be a string or an object"),
        ([[]], "nets[]: must be a string or an object"),
        ({"tap": "t0"}, "nets: must be an array"),
        ([{"tap": "t0"}, {"tap": "t0"}], "'t0' is given to two NICs"),
        ([{"tap": "t%d" % i} for i in range(9)], "nets: at most 8"),
    ]:
        expect_400(b, dict(K, nets=nets), want)
    # Disks and nets share the 8 device slots.
    expect_400(b, dict(K, disks=[{"path": img, "readonly": True}] * 8, nets=["tap=t0"]),
               "at most 8 disks and nets in all")
    # Tenants are checked the same way, before their taps list.
    expect_400(b, {"kernel": os.path.join(tdirs[ALICE], "k.elf"),
                   "nets": [{"tap": "ta-1", "queues": 0}]}, "queues", ALICE)
    if len(b.ok("GET", "/vm.list")) != 5:
        fail("refused creates left VMs: %r" % b.ok("GET", "/vm.list"))
    b.stop()
    if link("ta-0"):
        fail("shutdown left alice's tap")

    # --- a broker restart reloads the nets as they were (MACs included)
    with open(b.conf) as f:
        conf = f.read()
    b2 = Broker(bindir, conf, tmp=b.tmp, keep_state=b.state)
    try:
        b2.start()
        back = b2.ok("GET", "/vm/" + vid)["config"]["nets"]
        if back != cfg:
            fail("nets after a restart: %r, were %r" % (back, cfg))
        if b2.ok("PUT", "/vm/%s/boot" % vid)["devices"][2]["mac"] != mac1:
            fail("MAC changed across a broker restart")
        b2.stop()
    finally:
        if b2.proc and b2.proc.poll() is None:
            b2.proc.kill()
            b2.proc.wait()

    # --- overlapping taps lists are refused at start
    for conf in ("[tenant a]\nuid = 1001\ntaps = x*\n[tenant b]\nuid = 1002\ntaps = xy0\n",
                 "[tenant a]\nuid = 1001\ntaps = q0 q1\n[tenant b]\nuid = 1002\ntaps = q1\n",
                 "[tenant a]\nuid = 1001\ntaps = ab*\n[tenant b]\nuid = 1002\ntaps = a*\n"):
        with open(b.conf, "w") as f:
            f.write(conf)
        p = subprocess.run([os.path.join(bindir, "cellvm-broker"), "--foreground",
                            "--api-socket", b.sock + "2", "--rpc-socket", b.rpc + "2",
                            "--state-dir", b.state + "2", "--config", b.conf],
                           capture_output=True, timeout=30)
        if p.returncode == 0 or b"overlap" not in p.stderr + p.stdout:
            fail("overlapping taps accepted: %r -> %d %r" % (conf, p.returncode, p.stderr))
    print("PASS")
finally:
    b.cleanup()
