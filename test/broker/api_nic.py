#!/usr/bin/env python3
"""A broker VM with a NIC through both APIs: the NIC part of broker_api and
broker_rpc, in a test of its own that skips without /dev/net/tun (broker_net
covers the net device process, taps, tenants and bad input in depth). In a
network namespace of its own, so the taps never touch the host's network.
REST: a definition with a NIC keeps its tap and MAC, boots with a net device
on a tap the broker created, pauses, resumes, reboots and powers off (the tap
goes with it). RPC: cellctl create --net makes the same definition, which
boots with a net device and is deleted.
Usage: api_nic.py BINDIR PAYLOADDIR"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, fail, have_tun, need_root_kvm, payload, pid_alive,
                        private_netns, skip)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
if not have_tun():
    skip("/dev/net/tun missing: no NIC can be booted")
private_netns()
SERIAL = payload(paydir, "serial_irq.elf")
CELLCTL = os.path.join(bindir, "cellctl")


def tap_exists(name):
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


def ctl(b, *args):
    r = subprocess.run([CELLCTL, "--socket", b.rpc, "--json"] + list(args), capture_output=True,
                       timeout=DEADLINE)
    if r.returncode != 0:
        fail("cellctl %s: %d %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r.stdout.decode()


def booted_nic(info, tap, mac):
    """The running VM's one device is a net device on tap with mac."""
    devs = info["devices"]
    if info["state"] != "running" or [d["kind"] for d in devs] != ["net"] or \
            devs[0]["tap"] != tap or devs[0]["mac"] != mac or not devs[0]["running"] or \
            not pid_alive(devs[0]["pid"]):
        fail("VM with a NIC: %r" % info)
    if not tap_exists(tap):
        fail("tap %s missing while the VM runs" % tap)
    return devs[0]["pid"]


b = Broker(bindir, "")
try:
    b.start()
    # --- REST
    tap, mac = "tap-t0", "52:54:00:00:00:01"
    vid = b.ok("POST", "/vm.create", {"name": "nic", "kernel": SERIAL, "memory": "64M",
                                        "nets": [{"tap": tap, "mac": mac}]})["vm_id"]
    nets = b.ok("GET", "/vm/" + vid)["config"]["nets"]
    if [(n["tap"], n["mac"]) for n in nets] != [(tap, mac)]:
        fail("config nets: %r" % nets)
    if tap_exists(tap):
        fail("the tap exists before the boot")
    booted_nic(b.ok("PUT", "/vm/%s/boot" % vid), tap, mac)
    if b.ok("PUT", "/vm/%s/pause" % vid)["state"] != "paused":
        fail("pause")
    if b.ok("PUT", "/vm/%s/resume" % vid)["state"] != "running":
        fail("resume")
    info = b.ok("PUT", "/vm/%s/reboot" % vid)
    net = booted_nic(info, tap, mac)
    if info["boots"] != 2:
        fail("reboot: %r" % info)
    if b.ok("PUT", "/vm/%s/power-off" % vid)["state"] != "stopped":
        fail("power-off")
    if pid_alive(net) or tap_exists(tap):
        fail("power-off left the net device or the tap the broker created")
    b.ok("DELETE", "/vm/" + vid)

    # --- RPC (cellctl create --net)
    tap, mac = "tap9", "52:54:00:00:00:09"
    rid = subprocess.run([CELLCTL, "--socket", b.rpc, "create", "--kernel", SERIAL, "--name",
                          "rpcnic", "--memory", "64M", "--net", "tap=%s,mac=%s" % (tap, mac)],
                         capture_output=True, timeout=DEADLINE).stdout.decode().strip()
    if len(rid) != 36:
        fail("cellctl create --net printed %r" % rid)
    nets = b.ok("GET", "/vm/" + rid)["config"]["nets"]
    if [(n["tap"], n["mac"]) for n in nets] != [(tap, mac)]:
        fail("config nets of an RPC create: %r" % nets)
    if [d["kind"] for d in json.loads(ctl(b, "boot", rid))["devices"]] != ["net"]:
        fail("RPC boot: no net device")
    net = booted_nic(b.ok("GET", "/vm/" + rid), tap, mac)
    ctl(b, "delete", rid)
    if pid_alive(net) or tap_exists(tap):
        fail("delete left the net device or the tap")
    b.stop()
    print("PASS")
finally:
    b.cleanup()
