#!/usr/bin/env python3
"""The graceful shutdown (PUT /vm/{id}/shutdown, RPC VmShutdown, cellctl
shutdown VM_ID; docs/broker.md "VM lifecycle") and the firmware fields of a
VM definition, through the real broker:
- a running VM whose guest has no ACPI (the serial_irq payload) is
  answered at once: 200, powered_off false, guest_listens false, a message,
  the VM still running, well before the timeout; power-off then stops it;
- bad bodies are 400 INVALID_ARGUMENT, an unknown VM or another tenant's is
  404 VM_NOT_FOUND, a paused or stopped VM is 503 VM_BUSY;
- cellctl shutdown VM_ID answers the same (exit status 3: it runs on);
- firmware: not with kernel, initrd or cmdline, below the tenant's
  image_dir like a kernel; "acpi": false and the firmware show in the info.
The real ACPI power-off is test/guest's (an ACPI guest kernel).
Needs root and /dev/kvm. Usage: shutdown.py BINDIR PAYLOADDIR"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, as_uid, fail, need_root_kvm, payload, wait_until)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")  # runs until it reads 'q'
CELLCTL = os.path.join(bindir, "cellctl")
# Far longer than a no-ACPI answer may take, even on an emulated host.
TIMEOUT_S = 600

CONF = """
[tenant other]
uid = 1003
max_vms = 2
max_cpus = 2
max_memory = 128M
image_dir = %s
""" % os.path.dirname(SERIAL)


def expect_err(resp, status, code, what):
    st, body = resp
    if st != status or not isinstance(body, dict) or body.get("code") != code or \
            not isinstance(body.get("error"), str):
        fail("%s: expected %d %s, got %d %r" % (what, status, code, st, body))
    return body


def state(b, vid):
    return b.ok("GET", "/vm/" + vid)["state"]


def expect_not_listening(res, what):
    if not isinstance(res, dict) or res.get("powered_off") is not False or \
            res.get("guest_listens") is not False or res.get("state") != "running" or \
            "ACPI" not in res.get("message", "") or \
            not isinstance(res.get("seconds"), (int, float)) or res["seconds"] >= TIMEOUT_S:
        fail("%s: %r" % (what, res))


def ctl(b, *args, uid=None):
    def drop():
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    return subprocess.run([CELLCTL, "--socket", b.rpc] + list(args), capture_output=True,
                          timeout=DEADLINE, preexec_fn=drop if uid else None)


def boot_running(b, body):
    vid = b.ok("POST", "/vm.create", body)["vm_id"]
    if b.ok("PUT", "/vm/%s/boot" % vid)["state"] != "running":
        fail("boot of %r" % body)
    return vid


def test_no_acpi_guest(b, vid, what):
    t0 = time.monotonic()
    st, res = b.req("PUT", "/vm/%s/shutdown" % vid, {"timeout_s": TIMEOUT_S})
    took = time.monotonic() - t0
    if st != 200:
        fail("%s: shutdown: %d %r" % (what, st, res))
    expect_not_listening(res, what + ": shutdown")
    # Answered at once, not at the deadline.
    if took > DEADLINE:
        fail("%s: the answer took %.1f s" % (what, took))
    if state(b, vid) != "running":
        fail("%s: the VM is %s after a shutdown its guest ignored" % (what, state(b, vid)))
    if "shutdown vm=%s -> OK (not powered off)" % vid not in b.logtext():
        fail("%s: no API log line for the shutdown:\n%s" % (what, b.logtext()))


def test_api(b):
    vid = boot_running(b, {"name": "s", "kernel": SERIAL, "memory": "32M"})
    wait_until(lambda: "irq: banner" in b.ok("GET", "/vm/%s/console" % vid), what="the banner")
    test_no_acpi_guest(b, vid, "serial_irq")
    # The default body (no body: 60 s) and the single-VM form.
    st, res = b.req("PUT", "/vm.shutdown")
    if st != 200:
        fail("PUT /vm.shutdown: %d %r" % (st, res))
    expect_not_listening(res, "PUT /vm.shutdown")
    st, res = b.req("PUT", "/vm/%s/shutdown" % vid, {"timeout_s": 0})
    if st != 200:
        fail("timeout_s 0: %d %r" % (st, res))
    expect_not_listening(res, "timeout_s 0")

    # Bad bodies: each 400 with its reason; the VM runs on.
    for body, why in (("{", "malformed JSON"), ("[]", "JSON object"), ('"x"', "JSON object"),
                      ({"timeout_s": -1}, "timeout_s"), ({"timeout_s": 3601}, "timeout_s"),
                      ({"timeout_s": 1.5}, "timeout_s"), ({"timeout_s": "5"}, "timeout_s"),
                      ({"timeout_s": None}, "timeout_s"),
                      ({"timeout_s": 99999999999999999999}, "timeout_s"),
                      ({"timeout": 5}, "unknown field"), ("{} x", "after the value"),
                      ("{\"timeout_s\": 5\0}", "NUL")):
        err = expect_err(b.req("PUT", "/vm/%s/shutdown" % vid, body), 400,
                         "INVALID_ARGUMENT", "body %r" % (body,))
        if why not in err["error"]:
            fail("body %r: %r does not say %r" % (body, err["error"], why))
    expect_err(b.req("GET", "/vm/%s/shutdown" % vid), 405, "METHOD_NOT_ALLOWED", "GET shutdown")
    # An unknown VM, a malformed id.
    expect_err(b.req("PUT", "/vm/00000000-0000-4000-8000-000000000000/shutdown"), 404,
               "VM_NOT_FOUND", "unknown VM")
    expect_err(b.req("PUT", "/vm/x/shutdown"), 404, "VM_NOT_FOUND", "malformed id")
    # Another tenant: not found, as for power-off; its own default VM is none.
    r = as_uid(1003, 1003, lambda: [b.req("PUT", "/vm/%s/shutdown" % vid),
                                    b.req("PUT", "/vm/%s/power-off" % vid),
                                    b.req("PUT", "/vm.shutdown")])
    expect_err(r[0], 404, "VM_NOT_FOUND", "another tenant's shutdown")
    expect_err(r[1], 404, "VM_NOT_FOUND", "another tenant's power-off")
    expect_err(r[2], 404, "VM_NOT_FOUND", "another tenant's default shutdown")
    if state(b, vid) != "running":
        fail("the VM stopped after refused shutdowns")

    # cellctl: the same answer over RPC, exit status 3 (it runs on).
    r = ctl(b, "--json", "shutdown", vid, "--timeout", str(TIMEOUT_S))
    if r.returncode != 3:
        fail("cellctl shutdown: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    expect_not_listening(json.loads(r.stdout), "cellctl shutdown")
    r = ctl(b, "shutdown", vid)
    if r.returncode != 3 or b"guest_listens no" not in r.stdout:
        fail("cellctl shutdown (text): %d %s %s" % (r.returncode, r.stdout, r.stderr))
    for args in (("shutdown", vid, "--timeout", "3601"), ("shutdown", vid, "--timeout", "x"),
                 ("shutdown", "--timeout", "5"), ("shutdown", vid, "extra")):
        r = ctl(b, *args)
        if r.returncode != 2:
            fail("cellctl %s: %d %s" % (" ".join(args), r.returncode, r.stderr))
    r = ctl(b, "shutdown", "00000000-0000-4000-8000-000000000000")
    if r.returncode != 1 or b"VM_NOT_FOUND" not in r.stderr:
        fail("cellctl shutdown of an unknown VM: %d %s" % (r.returncode, r.stderr))
    r = ctl(b, "shutdown", vid, uid=1003)
    if r.returncode != 1 or b"VM_NOT_FOUND" not in r.stderr:
        fail("cellctl shutdown of another tenant's VM: %d %s" % (r.returncode, r.stderr))

    # Paused: refused (the guest could not act on the button); then resumed.
    if b.ok("PUT", "/vm/%s/pause" % vid)["state"] != "paused":
        fail("pause")
    err = expect_err(b.req("PUT", "/vm/%s/shutdown" % vid), 503, "VM_BUSY", "paused")
    if "paused" not in err["error"]:
        fail("paused: %r" % err)
    if b.ok("PUT", "/vm/%s/resume" % vid)["state"] != "running":
        fail("resume")
    test_no_acpi_guest(b, vid, "after resume")

    # power-off stays the hard stop, and works after the ignored button.
    if b.ok("PUT", "/vm/%s/power-off" % vid)["state"] != "stopped":
        fail("power-off after shutdown")
    err = expect_err(b.req("PUT", "/vm/%s/shutdown" % vid), 503, "VM_BUSY", "stopped")
    if "stopped" not in err["error"]:
        fail("stopped: %r" % err)
    b.ok("DELETE", "/vm/" + vid)


def test_firmware(b):
    fw = SERIAL  # any file the tenant may use: only the definition is checked here
    expect_err(b.req("POST", "/vm.create", {"firmware": fw, "kernel": fw}), 400,
               "INVALID_ARGUMENT", "firmware with kernel")
    for extra in ({"initrd": fw}, {"cmdline": "x"}):
        body = dict({"firmware": fw}, **extra)
        err = expect_err(b.req("POST", "/vm.create", body), 400, "INVALID_ARGUMENT",
                         "firmware with %r" % extra)
        if "not with kernel, initrd or cmdline" not in err["error"]:
            fail("firmware with %r: %r" % (extra, err))
    for bad in ("", "relative/bios.bin", "/a/../b", 5, None):
        expect_err(b.req("POST", "/vm.create", {"firmware": bad}), 400, "INVALID_ARGUMENT",
                   "firmware %r" % (bad,))
    for bad in ("no", 0, None):
        expect_err(b.req("POST", "/vm.create", {"kernel": fw, "acpi": bad}), 400,
                   "INVALID_ARGUMENT", "acpi %r" % (bad,))
    err = expect_err(b.req("POST", "/vm.create", {}), 400, "INVALID_ARGUMENT", "no kernel")
    if "firmware" not in err["error"]:
        fail("no kernel: %r" % err)
    # A tenant's firmware is held to its image_dir, as a kernel is: no host file.
    r = as_uid(1003, 1003, lambda: [
        b.req("POST", "/vm.create", {"firmware": "/usr/share/seabios/bios.bin"}),
        b.req("POST", "/vm.create", {"firmware": "/etc/shadow"}),
        b.req("POST", "/vm.create", {"firmware": fw, "acpi": False, "memory": "32M"})])
    for resp in r[:2]:
        err = expect_err(resp, 400, "INVALID_ARGUMENT", "a tenant's firmware outside image_dir")
        if "firmware" not in err["error"]:
            fail("a tenant's firmware outside image_dir: %r" % err)
    if r[2][0] != 200:
        fail("a tenant's firmware in its image_dir: %r" % (r[2],))
    fid = r[2][1]["vm_id"]
    cfg = b.ok("GET", "/vm/" + fid)["config"]
    if cfg.get("firmware") != fw or cfg.get("acpi") is not False or "kernel" in cfg or \
            "cmdline" in cfg:
        fail("firmware VM's config: %r" % cfg)
    # RPC: the definition carries them too.
    r = ctl(b, "--json", "info", fid)
    info = json.loads(r.stdout) if r.returncode == 0 else {}
    if info.get("config", {}).get("firmware") != fw or info["config"].get("acpi") is not False:
        fail("cellctl info of the firmware VM: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    r = ctl(b, "create", "--firmware", fw, "--kernel", fw)
    if r.returncode != 2:
        fail("cellctl create --firmware --kernel: %d %s" % (r.returncode, r.stderr))
    r = ctl(b, "--json", "create", "--firmware", fw, "--no-acpi", "--memory", "32M")
    cid = json.loads(r.stdout).get("vm_id") if r.returncode == 0 else None
    cfg = b.ok("GET", "/vm/%s" % cid)["config"] if cid else {}
    if cfg.get("firmware") != fw or cfg.get("acpi") is not False:
        fail("cellctl create --firmware --no-acpi: %d %s %s %r" % (r.returncode, r.stdout,
                                                                    r.stderr, cfg))
    b.ok("DELETE", "/vm/" + cid)
    b.ok("DELETE", "/vm/" + fid)
    # acpi: false on a kernel VM boots (the core leaves its tables out).
    vid = boot_running(b, {"kernel": SERIAL, "memory": "32M", "acpi": False})
    test_no_acpi_guest(b, vid, "acpi false")
    b.ok("PUT", "/vm/%s/power-off" % vid)
    b.ok("DELETE", "/vm/" + vid)


def main():
    b = Broker(bindir, CONF).start()
    try:
        test_api(b)
        test_firmware(b)
        b.stop()
    finally:
        b.cleanup()
    print("shutdown: pass")


main()
