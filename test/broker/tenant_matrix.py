#!/usr/bin/env python3
"""Tenants of cellvm-broker: every per-VM route x {own VM, other tenant's VM,
missing VM} x {tenant A, tenant B, root}, each request from a client process
running as that uid. Another tenant's VM must answer exactly like a missing
one (same status, same body) and must not change; lists show only one's own;
image paths outside a tenant's directory are refused.
Usage: tenant_matrix.py BINDIR PAYLOADDIR"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import DEADLINE, Broker, connect_as, fail, http_on, need_root_kvm, payload

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
A, B, ROOT = (1001, 1001), (1002, 1002), (0, 0)

b = Broker(bindir, "")
try:
    imgs = {}
    for t in ("a", "b", "d"):
        d = os.path.join(b.tmp, "images-" + t)
        os.mkdir(d)
        shutil.copy(SERIAL, os.path.join(d, "k.elf"))
        imgs[t] = os.path.join(d, "k.elf")
    os.symlink("/etc/passwd", os.path.join(b.tmp, "images-a", "escape"))
    with open(b.conf, "w") as f:
        f.write("[tenant alice]\nuid = 1001\nimage_dir = %s/images-a\n\n"
                "[tenant bob]\ngid = 1002\nimage_dir = %s/images-b\n\n"
                "[tenant carol]\nuid = 1003\n\n"
                "[tenant dave]\nuid = 1004\nmax_vms = 3\nimage_dir = %s/images-d\n\n"
                "[tenant erin]\ngid = 2005\n"
                % (b.tmp, b.tmp, b.tmp))
    b.start()

    def call(who, method, path, body=b""):
        return http_on(connect_as(b.sock, *who), method, path, body)

    # image directories
    st, r = call(A, "POST", "/vm.create", {"kernel": imgs["b"]})
    if st != 400:
        fail("alice used bob's image: %d %r" % (st, r))
    st, r = call(A, "POST", "/vm.create", {"kernel": os.path.join(b.tmp, "images-a", "escape")})
    if st != 400:
        fail("a symlink out of the image directory was accepted: %d %r" % (st, r))
    st, r = call(A, "POST", "/vm.create", {"kernel": imgs["a"], "disks": ["path=/etc/shadow"]})
    if st != 400:
        fail("alice got /etc/shadow as a disk: %d %r" % (st, r))
    st, r = call((1003, 1003), "POST", "/vm.create", {"kernel": imgs["a"]})
    if st != 400:
        fail("a tenant without image_dir created a VM: %d %r" % (st, r))

    # gid entries match the primary group and the supplementary groups
    # (SO_PEERGROUPS), as they were at connect
    st, r = http_on(connect_as(b.sock, 1005, 1005, [3000, 2005]), "GET", "/vmm.ping")
    if st != 200 or r["tenant"] != "erin":
        fail("supplementary group: %d %r" % (st, r))
    st, r = http_on(connect_as(b.sock, 1005, 1005), "GET", "/vmm.ping")
    if st != 403:
        fail("uid 1005 without group 2005 got %d %r" % (st, r))
    st, r = http_on(connect_as(b.sock, 1006, 1002), "GET", "/vmm.ping")
    if st != 200 or r["tenant"] != "bob":
        fail("primary gid 1002: %d %r" % (st, r))

    # event streams carry only the subscriber's VMs (root: all)
    streams = {}
    for who in (A, B, ROOT):
        es = connect_as(b.sock, *who)
        es.settimeout(DEADLINE)
        es.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"subscribed" not in got:
            got += es.recv(4096)
        streams[who] = [es, got]

    vms = {}
    for who, t in ((A, "a"), (B, "b")):
        st, r = call(who, "POST", "/vm.create", {"kernel": imgs[t], "name": "vm-" + t})
        if st != 200:
            fail("create as %r: %d %r" % (who, st, r))
        vms[t] = r["vm_id"]
    missing = "00000000-0000-4000-8000-000000000000"

    # the "created" events: each tenant's stream has its own VM only. A
    # stream carries events in order: once a sentinel VM created after both
    # shows in it, any event of the other tenant's VM would have shown too.
    sentinel = {}
    for who, t in ((A, "a"), (B, "b")):
        st, r = call(who, "POST", "/vm.create", {"kernel": imgs[t], "name": "sentinel-" + t})
        if st != 200:
            fail("create as %r: %d %r" % (who, st, r))
        sentinel[who] = r["vm_id"]
    for who, mine in ((A, [vms["a"]]), (B, [vms["b"]]), (ROOT, [vms["a"], vms["b"]])):
        es, got = streams[who]
        last = list(sentinel.values()) if who == ROOT else [sentinel[who]]
        while not all(v.encode() in got for v in last):
            chunk = es.recv(4096)
            if not chunk:
                fail("event stream of %r closed" % (who,))
            got += chunk
        es.close()
        for vid in vms.values():
            if (vid.encode() in got) != (vid in mine):
                fail("event stream of %r: %s %s" % (who, vid, "missing" if vid in mine
                                                     else "leaked"))
    for who, vid in sentinel.items():
        st, r = call(who, "DELETE", "/vm/" + vid)
        if st != 200:
            fail("delete of a sentinel: %d %r" % (st, r))

    # lists
    for who, want in ((A, {vms["a"]}), (B, {vms["b"]}), (ROOT, set(vms.values()))):
        st, r = call(who, "GET", "/vm.list")
        if st != 200 or {v["id"] for v in r} != want:
            fail("list as %r: %r" % (who, r))
    # the default VM is one's own first VM
    for who, t in ((A, "a"), (B, "b")):
        st, r = call(who, "GET", "/vm.info")
        if st != 200 or r["id"] != vms[t]:
            fail("default VM of %r: %r" % (who, r))

    routes = [("GET", ""), ("GET", "/counters"), ("GET", "/console"), ("PUT", "/pause"),
              ("PUT", "/resume"), ("PUT", "/power-off"), ("PUT", "/reboot"), ("PUT", "/boot"),
              ("PUT", "/console"), ("POST", "/audio-input"), ("DELETE", "")]
    owner = {vms["a"]: A, vms["b"]: B}
    n = 0
    for who in (A, B, ROOT):
        for target in (vms["a"], vms["b"], missing):
            visible = target != missing and (who == ROOT or owner.get(target) == who)
            for m, sub in routes:
                if visible and (m != "GET"):
                    continue  # mutations by the owner are checked below
                path = "/vm/" + target + sub
                got = call(who, m, path, b"x" if sub == "/console" and m == "PUT" else b"")
                ref = call(who, m, "/vm/" + missing + sub,
                           b"x" if sub == "/console" and m == "PUT" else b"")
                if visible:
                    if got[0] != 200:
                        fail("%r %s %s: %r" % (who, m, path, got))
                elif got != ref or got[0] != 404:
                    fail("%r %s %s: %r differs from a missing VM's %r" % (who, m, path, got,
                                                                        ref))
                n += 1
    # nothing another tenant did changed the VMs
    for t in ("a", "b"):
        st, r = call(ROOT, "GET", "/vm/" + vms[t])
        if st != 200 or r["state"] != "created" or r["boots"] != 0:
            fail("another tenant changed vm %s: %r" % (t, r))

    # the owner, and root, can drive a VM
    for who, t in ((A, "a"), (ROOT, "a"), (B, "b"), (ROOT, "b")):
        for m, sub in [("PUT", "/boot"), ("PUT", "/pause"), ("PUT", "/resume"),
                       ("PUT", "/reboot"), ("PUT", "/power-off")]:
            st, r = call(who, m, "/vm/%s%s" % (vms[t], sub))
            if st != 200:
                fail("%r %s on own VM: %d %r" % (who, sub, st, r))
            n += 1
    st, r = call(A, "DELETE", "/vm/" + vms["a"])
    st2, r2 = call(ROOT, "DELETE", "/vm/" + vms["b"])
    if st != 200 or st2 != 200:
        fail("delete: %r %r" % (r, r2))
    if "tenant=alice uid=1001 boot vm=" + vms["a"] not in b.logtext():
        fail("mutating calls are not logged with tenant and VM")
    # Quotas hold under concurrent creates: 12 clients of dave (max 3 VMs),
    # released at once, each from its own process.
    go_r, go_w = os.pipe()
    kids = []
    for _ in range(12):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(go_w)
                s = connect_as(b.sock, 1004, 1004)
                os.read(go_r, 1)  # EOF when the parent lets everyone go
                st, r = http_on(s, "POST", "/vm.create", {"kernel": imgs["d"]})
                code = 0 if st == 200 else 3 if r.get("code") == "QUOTA_EXCEEDED" else 1
            finally:
                os._exit(code)
        kids.append(pid)
    os.close(go_r)
    os.close(go_w)
    codes = sorted(os.waitpid(k, 0)[1] >> 8 for k in kids)
    if codes != [0] * 3 + [3] * 9:
        fail("concurrent creates against a quota of 3: exit codes %r" % codes)
    st, r = call((1004, 1004), "GET", "/vm.list")
    if len(r) != 3:
        fail("dave has %d VMs" % len(r))
    print("%d tenant cases" % n)
    b.stop()
    print("PASS")
finally:
    b.cleanup()
