#!/usr/bin/env python3
"""What each VM takes from the host (broker_host.c): a uid/gid of its own from
the broker's uid_pool, and a cgroup of its own under a cgroup v2 subtree the
broker was given (here: a directory this test makes on a cgroup2 mount, named
by `cgroup =` in the configuration).

- Two VMs (each a core and a blk device) run as two different host uids and
  gids, from the pool, never 65534; every process of a VM has its VM's.
- A process running as VM A's uid cannot signal VM B's core (kill(pid, 0):
  EPERM), ptrace it (EPERM) or open its /proc files (EACCES); the control:
  kill(pid, 0) against A's own core succeeds (with one shared uid, as before,
  both would).
- Each VM's processes are in <subtree>/vm-<id>, the broker in
  <subtree>/broker; memory.max is guest RAM + the overhead, pids.max and
  cpu.weight are set (a VM's own cpu_weight wins over the broker's; out of
  1..10000 it is refused at create); info and counters show the figures.
- The ids are recorded: after a restart of the broker each VM has its own
  again; a VM created then gets an id no other VM has. Delete removes the
  cgroup.
- A VM whose core needs more tasks than pids.max (vm_pids_max = 1, two
  vCPUs) cannot start its vCPU threads: it does not run, and its cgroup's
  pids.events counts the refused forks (info: pids_refused)."""
import ctypes
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, need_root_kvm, payload, skip, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")
POOL_START, POOL_COUNT = 1879048192, 65536  # the documented default
libc = ctypes.CDLL(None, use_errno=True)


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.startswith("cgroup2 ") and left.split()[3] == "/":
                return left.split()[4], False
    return None, True


def ids_of(pid):
    uid = gid = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = [int(x) for x in line.split()[1:]]
            if line.startswith("Gid:"):
                gid = [int(x) for x in line.split()[1:]]
    return uid, gid


def cgroup_of(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def as_uid_try(uid, gid, target):
    """In a child running as uid/gid (no groups): kill(target, 0), ptrace
    attach, open /proc/target/environ; the errno of each (0: allowed)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = {}
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            out["kill"] = 0 if libc.kill(target, 0) == 0 else ctypes.get_errno()
            # PTRACE_ATTACH = 16; detach at once if it ever worked
            if libc.ptrace(16, target, None, None) == 0:
                out["ptrace"] = 0
                libc.ptrace(17, target, None, None)
            else:
                out["ptrace"] = ctypes.get_errno()
            try:
                open("/proc/%d/environ" % target, "rb").close()
                out["open"] = 0
            except OSError as e:
                out["open"] = e.errno
        except BaseException as e:
            out["exception"] = repr(e)
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = os.read(r, 4096)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def vm_pids(info):
    return [info["core_pid"]] + [d["pid"] for d in info["devices"]]


def read(path):
    with open(path) as f:
        return f.read().strip()


mnt, made_mount = cgroup2_mount()
scratch = Broker(bindir, "")  # only for its directory
if made_mount:
    mnt = os.path.join(scratch.tmp, "cgroup2")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "cgroup2", "none", mnt]).returncode != 0:
        skip("no cgroup2 mount and none can be made")
avail = read(os.path.join(mnt, "cgroup.controllers")).split()
if "memory" not in avail or "pids" not in avail:
    skip("the cgroup2 hierarchy has no memory and pids controllers: %s" % avail)
try:
    with open(os.path.join(mnt, "cgroup.subtree_control"), "w") as f:
        f.write("+memory +pids" + (" +cpu" if "cpu" in avail else ""))
except OSError as e:
    skip("cannot enable memory and pids under %s: %s" % (mnt, e))
sub = os.path.join(mnt, "cellvm-test-%d" % os.getpid())
os.mkdir(sub)
conf = "uid_pool = %d %d\ncgroup = %s\n" % (POOL_START, POOL_COUNT, sub)
b = Broker(bindir, conf, tmp=scratch.tmp)
try:
    b.start()
    rel = sub[len(mnt):]
    if cgroup_of(b.proc.pid) != rel + "/broker":
        fail("the broker is in %s, not %s/broker" % (cgroup_of(b.proc.pid), rel))
    if "VMs under " + sub not in b.logtext():
        fail("the broker did not say where its VMs' cgroups are:\n" + b.logtext())
    # A VM's own cpu_weight: out of its range, or not an integer, refused.
    for bad in (0, 10001, -1, "50", 1.5, None):
        st, body = b.req("POST", "/vm.create", {"kernel": SERIAL, "cpu_weight": bad})
        if st != 400 or not isinstance(body, dict) or body.get("code") != "INVALID_ARGUMENT" \
                or "cpu_weight" not in body.get("error", ""):
            fail("cpu_weight %r: %d %r" % (bad, st, body))
    vms = {}
    weights = {"a": None, "b": 50}  # a: the broker's vm_cpu_weight (100)
    for name in ("a", "b"):
        img = os.path.join(b.tmp, name + ".img")
        with open(img, "wb") as f:
            f.truncate(1 << 20)
        d = {"kernel": SERIAL, "name": name, "memory": "32M", "cpus": 1, "disks": [{"path": img}]}
        if weights[name]:
            d["cpu_weight"] = weights[name]
        vms[name] = b.ok("POST", "/vm.create", d)["vm_id"]
        if b.ok("GET", "/vm/" + vms[name])["config"].get("cpu_weight") != weights[name]:
            fail("vm %s: config %r" % (name, b.ok("GET", "/vm/" + vms[name])["config"]))
    infos = {n: b.ok("PUT", "/vm/%s/boot" % v) for n, v in vms.items()}

    # -- ids --
    uids = {}
    for n, info in infos.items():
        host = info["host"]
        hu, hg = host["host_uid"], host["host_gid"]
        if not POOL_START <= hu < POOL_START + POOL_COUNT or hu != hg:
            fail("vm %s: host ids %r outside the pool" % (n, host))
        for pid in vm_pids(info):
            uid, gid = ids_of(pid)
            if set(uid) != {hu} or set(gid) != {hg}:
                fail("vm %s: process %d runs as uid %r gid %r, not %d" % (n, pid, uid, gid, hu))
            if 65534 in uid or 65534 in gid:
                fail("vm %s: process %d runs as 65534" % (n, pid))
        uids[n] = hu
    if uids["a"] == uids["b"]:
        fail("both VMs run as uid %d" % uids["a"])
    core_a, core_b = infos["a"]["core_pid"], infos["b"]["core_pid"]
    tried = as_uid_try(uids["a"], uids["a"], core_b)
    if tried != {"kill": 1, "ptrace": 1, "open": 13}:  # EPERM, EPERM, EACCES
        fail("as VM a's uid against VM b's core: %r" % tried)
    own = as_uid_try(uids["a"], uids["a"], core_a)
    if own.get("kill") != 0:
        fail("control: as VM a's uid, kill(own core, 0) should succeed: %r" % own)
    print("ids: a=%d b=%d; a against b: %r; a against a: %r" % (uids["a"], uids["b"], tried, own))

    # -- cgroups --
    for n, info in infos.items():
        want = "%s/vm-%s" % (rel, vms[n])
        for pid in vm_pids(info):
            if cgroup_of(pid) != want:
                fail("vm %s: process %d in cgroup %s, not %s" % (n, pid, cgroup_of(pid), want))
        d = mnt + want
        if int(read(d + "/memory.max")) != (32 << 20) + (256 << 20):
            fail("vm %s: memory.max %s" % (n, read(d + "/memory.max")))
        pids_max = read(d + "/pids.max")
        if pids_max == "max" or int(pids_max) < 3:
            fail("vm %s: pids.max %s" % (n, pids_max))
        if "cpu" in avail and read(d + "/cpu.weight") != str(weights[n] or 100):
            fail("vm %s: cpu.weight %s" % (n, read(d + "/cpu.weight")))
        print("vm %s: cpu.weight %s" % (n, read(d + "/cpu.weight") if "cpu" in avail
                                        else "(no cpu controller)"))
        for route in ("/vm/%s" % vms[n], "/vm/%s/counters" % vms[n]):
            host = b.ok("GET", route)["host"]
            if host.get("cgroup") != d or host.get("memory_max") != (32 << 20) + (256 << 20) or \
                    host.get("pids_max") != int(pids_max) or host.get("pids_current", 0) < 2 or \
                    host.get("memory_current", 0) <= 0 or "cpu_usage_usec" not in host:
                fail("vm %s: %s shows %r" % (n, route, host))
        print("vm %s: %r" % (n, b.ok("GET", "/vm/%s/counters" % vms[n])["host"]))

    # -- the ids survive a restart; a new VM gets one nobody has --
    b.stop()
    for n, v in vms.items():
        with open(os.path.join(b.state, "vms", v + ".json")) as f:
            if json.load(f).get("host_id") != uids[n]:
                fail("vm %s: the state file does not record its id" % n)
    with open(b.conf, "w") as f:
        f.write(conf + "vm_pids_max = 1\n")
    b.start()
    for n, v in vms.items():
        got = b.ok("GET", "/vm/" + v)["host"]["host_uid"]
        if got != uids[n]:
            fail("vm %s: uid %d after the restart, %d before" % (n, got, uids[n]))
    b.ok("DELETE", "/vm/" + vms["a"])
    if os.path.exists("%s/vm-%s" % (sub, vms["a"])):
        fail("a deleted VM's cgroup is left")
    c = b.ok("POST", "/vm.create", {"kernel": SERIAL, "name": "c", "memory": "32M", "cpus": 2})
    cu = b.ok("GET", "/vm/" + c["vm_id"])["host"]["host_uid"]
    if cu in uids.values() or not POOL_START <= cu < POOL_START + POOL_COUNT:
        fail("vm c got uid %d (a had %d, b has %d)" % (cu, uids["a"], uids["b"]))

    # -- pids.max: 1 task, two vCPU threads wanted --
    st, body = b.req("PUT", "/vm/%s/boot" % c["vm_id"])

    def not_running():
        i = b.ok("GET", "/vm/" + c["vm_id"])
        return i if i["state"] in ("stopped", "created") else None

    info = wait_until(not_running, what="vm c to fail for want of tasks")
    host = info["host"]
    if host.get("pids_max") != 1 or host.get("pids_refused", 0) < 1:
        fail("vm c: pids.max 1 refused nothing? boot %d %r; %r" % (st, body, host))
    print("vm c (pids.max 1): boot answered %d %r; %r" % (st, body, host))
    b.stop()
    print("PASS")
finally:
    if b.proc and b.proc.poll() is None:
        b.proc.kill()
        b.proc.wait()
    # Our cgroups, the VMs' first (their processes die with the broker).
    if os.path.isdir(sub):
        for e in os.listdir(sub):
            d = os.path.join(sub, e)
            if os.path.isdir(d):
                try:
                    wait_until(lambda: read(d + "/cgroup.procs") == "", what=d + " to empty")
                    os.rmdir(d)
                except (OSError, SystemExit):
                    pass
        try:
            os.rmdir(sub)
        except OSError:
            pass
    if made_mount:
        subprocess.run(["umount", mnt])
    b.cleanup()
