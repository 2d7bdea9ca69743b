#!/usr/bin/env python3
"""API conformance of cellvm-broker: every route and every error code, through
the real broker on a temporary socket, with tiny payload guests (without
NICs: api_nic.py boots one, and skips where there is no /dev/net/tun).
Usage: api_conformance.py BINDIR PAYLOADDIR"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, as_uid, fail, need_root_kvm, payload, pid_alive,
                        tone_s16, unix_connect, wait_until, wav_bytes)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")  # runs until it reads 'q', then powers off
HELLO = payload(paydir, "hello.elf")  # prints and powers off at once
REBOOT = payload(paydir, "reboot.elf")  # reboots through the i8042 at once

CONF = """
[tenant quota]
uid = 1003
max_vms = 1
max_cpus = 2
max_memory = 64M
image_dir = %s
""" % os.path.dirname(HELLO)


def expect_err(resp, status, code):
    st, body = resp
    if st != status or not isinstance(body, dict) or body.get("code") != code or \
            not isinstance(body.get("error"), str):
        fail("expected %d %s, got %d %r" % (status, code, st, body))


def stream_open(path, sock):
    s = unix_connect(sock)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return s


def dechunk(raw):
    """The payload of a chunked HTTP reply so far (headers dropped), and
    whether its last chunk has come."""
    body = raw.partition(b"\r\n\r\n")[2]
    out = b""
    while True:
        line, sep, rest = body.partition(b"\r\n")
        if not sep:
            return out, False
        n = int(line, 16)
        if n == 0:
            return out, True
        if len(rest) < n + 2:
            return out, False
        out += rest[:n]
        body = rest[n + 2:]


def stream_until(s, needle, buf=b"", end=False):
    """Read the stream until its payload holds needle (or, with end, until the
    last chunk came); bounded."""
    deadline = time.monotonic() + DEADLINE
    while True:
        payload, done = dechunk(buf)
        if (end and done) or (not end and needle in payload):
            return buf
        if time.monotonic() > deadline:
            fail("stream: %r never came; got %r" % (needle, payload[-300:]))
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            fail("stream closed before %r; got %r" % (needle, payload[-300:]))
        buf += chunk


b = Broker(bindir, CONF).start()
try:
    # --- vmm
    ping = b.ok("GET", "/vmm.ping")
    if ping.get("tenant") != "root" or "version" not in ping:
        fail("ping: %r" % ping)
    expect_err(b.req("POST", "/vmm.ping"), 405, "METHOD_NOT_ALLOWED")
    expect_err(b.req("GET", "/nowhere"), 404, "ROUTE_NOT_FOUND")

    # --- event stream: subscribe first, check what arrives at the end
    ev = stream_open("/events", b.sock)
    evbuf = stream_until(ev, b'"subscribed"')

    # --- single-VM forms before any VM exists
    expect_err(b.req("GET", "/vm.info"), 404, "VM_NOT_FOUND")

    # --- create
    expect_err(b.req("POST", "/vm.create", {"name": "x"}), 400, "INVALID_ARGUMENT")
    expect_err(b.req("GET", "/vm.create"), 405, "METHOD_NOT_ALLOWED")
    vid = b.ok("POST", "/vm.create", {"name": "serial", "kernel": SERIAL, "cpus": 1,
                                        "memory": "64M", "cmdline": "console=ttyS0",
                                        "input_config": {"backend": "ps2"},
                                        "gpu": {"scanouts": [{"width": 800, "height": 600}]},
                                        "snd": {"playback": 1, "capture": 1}})["vm_id"]
    if len(vid) != 36:
        fail("vm_id %r" % vid)
    lst = b.ok("GET", "/vm.list")
    if [v["id"] for v in lst] != [vid] or lst[0]["state"] != "created" or \
            lst[0]["input_backend"] != "ps2" or lst[0]["name"] != "serial":
        fail("list: %r" % lst)
    info = b.ok("GET", "/vm/" + vid)
    cfg = info["config"]
    if cfg["memory"] != 64 << 20 or cfg.get("nets", []) != [] or \
            cfg["gpu"] != {"scanouts": [{"width": 800, "height": 600}]} or \
            cfg["snd"] != {"playback": 1, "capture": 1, "sink": "ring"}:
        fail("info config: %r" % cfg)
    if b.ok("GET", "/vm.info")["id"] != vid:
        fail("/vm.info is not the first VM")
    expect_err(b.req("DELETE", "/vm.info"), 405, "METHOD_NOT_ALLOWED")
    expect_err(b.req("GET", "/vm.delete"), 405, "METHOD_NOT_ALLOWED")
    expect_err(b.req("GET", "/vm."), 405, "METHOD_NOT_ALLOWED")

    # --- missing ids: every per-VM route answers the same
    missing = "00000000-0000-4000-8000-000000000000"
    for m, sub in [("GET", ""), ("DELETE", ""), ("PUT", "/boot"), ("PUT", "/pause"),
                   ("PUT", "/resume"), ("PUT", "/reboot"), ("PUT", "/power-off"),
                   ("GET", "/counters"), ("GET", "/console"), ("GET", "/audio"),
                   ("POST", "/audio-input")]:
        expect_err(b.req(m, "/vm/" + missing + sub), 404, "VM_NOT_FOUND")
    expect_err(b.req("GET", "/vm/not-an-id"), 404, "VM_NOT_FOUND")

    # --- sound before the boot: the VM's state conflicts (409), a bad query
    # or a body that is no WAV is the client's (400)
    wav = wav_bytes(tone_s16(440, 8000, 0.5), 8000, 1)
    expect_err(b.req("GET", "/vm/%s/audio" % vid), 409, "VM_BUSY")
    expect_err(b.req("POST", "/vm/%s/audio-input" % vid, wav), 409, "VM_BUSY")
    expect_err(b.req("GET", "/vm/%s/audio?stream=1" % vid), 400, "INVALID_ARGUMENT")
    expect_err(b.req("POST", "/vm/%s/audio-input" % vid, b"RIFF"), 400, "INVALID_ARGUMENT")
    expect_err(b.req("PUT", "/vm/%s/audio" % vid), 405, "METHOD_NOT_ALLOWED")

    # --- lifecycle: state errors are VM_BUSY
    for a in ("pause", "resume", "power-off"):
        expect_err(b.req("PUT", "/vm/%s/%s" % (vid, a)), 503, "VM_BUSY")
    expect_err(b.req("PUT", "/vm/%s/console" % vid, "x"), 503, "VM_BUSY")
    expect_err(b.req("POST", "/vm/%s/boot" % vid), 405, "METHOD_NOT_ALLOWED")
    st = b.ok("PUT", "/vm/%s/boot" % vid)
    if st["state"] != "running" or not pid_alive(st["core_pid"]):
        fail("boot: %r" % st)
    core = st["core_pid"]
    # the sandbox layers the core really has: seccomp, no_new_privs and its
    # pid namespace from /proc/PID/status, the rest from its own report
    sb = b.ok("GET", "/vm/" + vid).get("core_sandbox") or {}
    if not (sb.get("seccomp") and sb.get("no_new_privs") and sb.get("pid_namespace") and
            sb.get("namespaces") and sb.get("rlimits") and
            isinstance(sb.get("landlock_abi"), int) and "seccomp" in (sb.get("reported") or "")):
        fail("core_sandbox: %r" % sb)
    for d in b.ok("GET", "/vm/" + vid)["devices"]:
        if d["running"] and not ((d.get("sandbox") or {}).get("seccomp")):
            fail("device sandbox: %r" % d)
    # sound of the running VM (the payload plays nothing): a WAV stream
    # starts (200, audio/wav; the WAV header comes with the first period),
    # pushed sound is taken (204)
    if "snd" not in [d["kind"] for d in b.ok("GET", "/vm/" + vid)["devices"]]:
        fail("no snd device: %r" % b.ok("GET", "/vm/" + vid)["devices"])
    au = stream_open("/vm/%s/audio" % vid, b.sock)
    head = b""
    while b"\r\n\r\n" not in head:
        c = au.recv(4096)
        if not c:
            fail("GET audio closed: %r" % head)
        head += c
    if not head.startswith(b"HTTP/1.1 200") or b"Content-Type: audio/wav" not in head:
        fail("GET audio: %r" % head)
    au.close()
    st, r = b.req("POST", "/vm/%s/audio-input" % vid, wav)
    if st != 204:
        fail("POST audio-input: %d %r" % (st, r))
    expect_err(b.req("PUT", "/vm/%s/boot" % vid), 503, "VM_BUSY")
    expect_err(b.req("PUT", "/vm/%s/resume" % vid), 503, "VM_BUSY")
    wait_until(lambda: "irq: banner" in b.ok("GET", "/vm/%s/console" % vid), what="the banner")

    # console follow: the log so far, then what comes
    cs = stream_open("/vm/%s/console?follow=1" % vid, b.sock)
    cbuf = stream_until(cs, b"irq: banner")
    if b.ok("PUT", "/vm/%s/pause" % vid)["state"] != "paused":
        fail("pause")
    # A cooperative pause: the core holds its vCPUs and runs on (it is not
    # SIGSTOPped); its device processes are stopped.
    with open("/proc/%d/stat" % core) as f:
        if f.read().split(") ")[1][0] == "T":
            fail("the paused core is stopped: its vCPUs are to be held in it")
    expect_err(b.req("PUT", "/vm/%s/pause" % vid), 503, "VM_BUSY")
    expect_err(b.req("PUT", "/vm/%s/console" % vid, "x"), 503, "VM_BUSY")
    if b.ok("PUT", "/vm/%s/resume" % vid)["state"] != "running":
        fail("resume")
    b.ok("PUT", "/vm/%s/console" % vid, "ping")
    cbuf = stream_until(cs, b"ping", cbuf)
    expect_err(b.req("PUT", "/vm/%s/console" % vid, ""), 400, "INVALID_ARGUMENT")

    cnt = b.ok("GET", "/vm/%s/counters" % vid)
    if cnt["boots"] != 1 or cnt["console_bytes"] < 10:
        fail("counters: %r" % cnt)

    # reboot (API): a new core
    st = b.ok("PUT", "/vm/%s/reboot" % vid)
    if st["state"] != "running" or st["core_pid"] == core or pid_alive(core) or st["boots"] != 2:
        fail("reboot: %r" % st)
    core = st["core_pid"]
    # the guest powers itself off on 'q': the broker notices by pidfd
    wait_until(lambda: "irq: banner" in b.ok("GET", "/vm/%s/console" % vid).split("ping")[-1],
               what="the banner after reboot")
    b.ok("PUT", "/vm.console", "q")
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] == "stopped", what="guest power-off")
    if not b.ok("GET", "/vm/" + vid)["last_exit"].startswith("power-off"):
        fail("last_exit: %r" % b.ok("GET", "/vm/" + vid))
    if pid_alive(core):
        fail("core still alive after power-off")

    # single-VM forms act on the default VM
    if b.ok("PUT", "/vm.boot")["state"] != "running":
        fail("/vm.boot")
    b.ok("GET", "/vm.counters")
    if b.ok("PUT", "/vm.power-off")["state"] != "stopped":
        fail("/vm.power-off")
    if not b.ok("GET", "/vm.info")["last_exit"].startswith("powered off"):
        fail("/vm.info after power-off")

    # a guest that reboots is booted again, up to the loop limit
    rid = b.ok("POST", "/vm.create", {"kernel": REBOOT, "memory": 32 << 20})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % rid)
    # (the limit is more than 10 reboots within 60 s: on a host where a boot
    # takes over 6 s it never trips, and this wait fails)
    wait_until(lambda: b.ok("GET", "/vm/" + rid)["state"] == "stopped", 2 * DEADLINE,
               "reboot loop stop")
    ri = b.ok("GET", "/vm/" + rid)
    if ri["boots"] != 11 or "guest reboots" not in ri["last_exit"]:
        fail("reboot loop: %r" % ri)

    # a guest that finishes at once
    hid = b.ok("POST", "/vm.create", {"kernel": HELLO, "memory": 32 << 20,
                                        "cmdline": "hello-test"})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % hid)
    wait_until(lambda: b.ok("GET", "/vm/" + hid)["state"] == "stopped", what="hello to finish")
    if "pvh: ok" not in b.ok("GET", "/vm/%s/console" % hid):
        fail("hello console: %r" % b.ok("GET", "/vm/%s/console" % hid))

    # a kernel the core refuses: INVALID_ARGUMENT at boot
    bad = os.path.join(b.tmp, "notakernel")
    with open(bad, "wb") as f:
        f.write(b"\0" * 4096)
    bid = b.ok("POST", "/vm.create", {"kernel": bad})["vm_id"]
    expect_err(b.req("PUT", "/vm/%s/boot" % bid), 400, "INVALID_ARGUMENT")
    if b.ok("GET", "/vm/" + bid)["state"] != "created":
        fail("a refused boot changed the state")

    # FIFOs, directories and devices are refused as kernels and disks, at
    # create and again at boot (a FIFO would hang whoever opens it)
    fifo = os.path.join(b.tmp, "fifo")
    os.mkfifo(fifo)
    for d in ({"kernel": fifo}, {"kernel": b.tmp}, {"kernel": "/dev/null"},
              {"kernel": HELLO, "initrd": fifo}, {"kernel": HELLO, "disks": [{"path": fifo}]},
              {"kernel": HELLO, "disks": ["path=/dev/null"]}):
        expect_err(b.req("POST", "/vm.create", d), 400, "INVALID_ARGUMENT")
    swap = os.path.join(b.tmp, "swap.elf")
    with open(swap, "wb") as f, open(HELLO, "rb") as g:
        f.write(g.read())
    sid = b.ok("POST", "/vm.create", {"kernel": swap})["vm_id"]
    os.unlink(swap)
    os.mkfifo(swap)
    # The file was opened once, at create: the boot uses it, not what the
    # name is now (a FIFO there is never opened, nothing hangs).
    booted = b.ok("PUT", "/vm/%s/boot" % sid)
    if booted["boots"] != 1 or booted["state"] not in ("running", "stopped"):
        fail("the boot of a VM whose kernel's name was swapped after create: %r" % booted)
    b.ok("DELETE", "/vm/" + sid)

    # quotas (tenant "quota": 1 VM, 2 vCPUs, 64M)
    def quota_client():
        out = []
        out.append(b.req("POST", "/vm.create", {"kernel": HELLO, "cpus": 4, "memory": "32M"}))
        out.append(b.req("POST", "/vm.create", {"kernel": HELLO, "memory": "128M"}))
        out.append(b.req("POST", "/vm.create", {"kernel": HELLO, "memory": "32M"}))
        out.append(b.req("POST", "/vm.create", {"kernel": HELLO, "memory": "32M"}))
        out.append(b.req("GET", "/vm.list"))
        out.append(b.req("PUT", "/vmm.shutdown"))
        return out
    q = as_uid(1003, 1003, quota_client)
    expect_err(q[0], 403, "QUOTA_EXCEEDED")
    expect_err(q[1], 403, "QUOTA_EXCEEDED")
    if q[2][0] != 200:
        fail("quota: first small VM refused: %r" % (q[2],))
    expect_err(q[3], 403, "QUOTA_EXCEEDED")
    if len(q[4][1]) != 1:
        fail("quota tenant sees %r" % (q[4],))
    expect_err(q[5], 403, "PERMISSION_DENIED")
    # a uid with no tenant is refused everything
    expect_err(as_uid(1999, 1999, lambda: b.req("GET", "/vmm.ping")), 403, "PERMISSION_DENIED")

    # delete, then it is gone
    b.ok("PUT", "/vm/%s/boot" % vid)
    core = b.ok("GET", "/vm/" + vid)["core_pid"]
    b.ok("DELETE", "/vm/" + vid)
    expect_err(b.req("GET", "/vm/" + vid), 404, "VM_NOT_FOUND")
    if pid_alive(core):
        fail("deleting a running VM left its core")
    cbuf = stream_until(cs, None, cbuf, end=True)  # the follow stream ended
    if b.ok("GET", "/vm.info")["id"] != rid:
        fail("the default VM after deleting the first is not the next one")
    b.ok("DELETE", "/vm.delete")
    expect_err(b.req("GET", "/vm/" + rid), 404, "VM_NOT_FOUND")
    cs.close()

    evbuf = stream_until(ev, b'"deleted"', evbuf)
    events = [json.loads(line) for line in dechunk(evbuf)[0].split(b"\n") if line]
    kinds = [(e.get("vm_id"), e["event"]) for e in events]
    for want in [(vid, "created"), (vid, "running"), (vid, "paused"), (vid, "stopped"),
                 (rid, "rebooting"), (vid, "deleted")]:
        if want not in kinds:
            fail("event %r missing from %r" % (want, kinds))
    ev.close()
    # State files are written by the broker's writer thread after the reply;
    # at exit it has drained its queue.
    b.stop()
    if os.listdir(os.path.join(b.state, "vms")).count(vid + ".json"):
        fail("deleted VM still in the state directory")

    # INTERNAL: the broker cannot find the VM binaries
    os.environ["CELLVM_LIBEXEC"] = "/nonexistent"
    b2 = Broker(bindir, "").start()
    try:
        i2 = b2.ok("POST", "/vm.create", {"kernel": HELLO})["vm_id"]
        expect_err(b2.req("PUT", "/vm/%s/boot" % i2), 500, "INTERNAL")
        b2.stop()
    finally:
        b2.cleanup()
    print("PASS")
finally:
    b.cleanup()
