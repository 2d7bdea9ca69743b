#!/usr/bin/env python3
"""Tenants and host files through the real broker (docs/broker.md, "Tenants'
files"). Each check is an attack that must fail:

- a swapper process flips the tenant's kernel and disk names between its own
  files and symlinks to a secret outside its image_dir, in a tight loop,
  while the tenant creates VMs over and over: every create either refuses or
  holds the inside files; the broker never has the secret open (its fds, and
  the secret's lock, are looked at after each create); a VM so created boots;
- a root-owned 0444 base image in the tenant's directory, attached
  read-write: refused (read-only: fine);
- one image read-write in two VMs, or read-write and read-only: refused,
  naming the image; deleting the first VM releases it;
- a neighbour directory (/x/a vs /x/ab) is not the tenant's;
- two tenants with overlapping image_dirs: the broker refuses to start;
- cellctl create --pass-files: files outside the image_dir, opened by the
  tenant itself, passed as fds; a read-write disk the tenant cannot write is
  refused where it opens it."""
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, as_uid, connect_as, fail, http_on,  # noqa: E402
                        need_root_kvm, payload)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
SERIAL = payload(paydir, "serial_irq.elf")  # keeps running once booted
ALICE = (1001, 1001)


def alice(method, path, body=b""):
    return http_on(connect_as(b.sock, *ALICE), method, path, body)


def mkfile(path, data, uid=0, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, uid)
    os.chmod(path, mode)


def ofd_lock_conflicts(path, exclusive):
    """Whether someone else holds a lock on path that conflicts with ours."""
    fd = os.open(path, os.O_RDWR if exclusive else os.O_RDONLY)
    try:
        lk = struct.pack("@hhqqi4x", fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK, 0, 0, 0, 0)
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lk)
            return False
        except OSError:
            return True
    finally:
        os.close(fd)


def broker_open_files():
    d = "/proc/%d/fd" % b.proc.pid
    out = set()
    for n in os.listdir(d):
        try:
            out.add(os.readlink(os.path.join(d, n)))
        except OSError:
            pass
    return out


def swapper(name, inside, outside):
    """A child flipping name between a hard link of inside and a symlink to
    outside (each a rename: name always exists) until killed."""
    pid = os.fork()
    if pid == 0:
        tmp = name + ".swap"
        try:
            while True:
                for step in (lambda: os.symlink(outside, tmp), lambda: os.link(inside, tmp)):
                    try:
                        os.unlink(tmp)
                    except FileNotFoundError:
                        pass
                    step()
                    os.rename(tmp, name)
        finally:
            os._exit(0)
    return pid


b = Broker(bindir, "")
swappers = []
try:
    top = b.tmp
    a_dir, ab_dir, out_dir = (os.path.join(top, n) for n in ("a", "ab", "outside"))
    for d in (a_dir, ab_dir, out_dir):
        os.mkdir(d)
    # The secret is the tenant's own file, outside its directory: only the
    # no-symlink rule stands between the swap and it.
    secret = os.path.join(out_dir, "secret")
    mkfile(secret, b"SECRET!!" * 4096, uid=ALICE[0], mode=0o600)
    kernel_in = os.path.join(a_dir, "k.elf")
    shutil.copy(SERIAL, kernel_in)
    disk_in = os.path.join(a_dir, "inside.img")
    mkfile(disk_in, b"\0" * (1 << 20), uid=ALICE[0])
    with open(b.conf, "w") as f:
        f.write("[tenant alice]\nuid = 1001\nimage_dir = %s\n" % a_dir)
    b.start()

    # --- the symlink race
    kx, dx = os.path.join(a_dir, "kx"), os.path.join(a_dir, "dx")
    os.link(kernel_in, kx)
    os.link(disk_in, dx)
    swappers = [swapper(kx, kernel_in, secret), swapper(dx, disk_in, secret)]
    ok = refused = 0
    kept = None
    end = time.monotonic() + DEADLINE
    i = 0
    while i < 100 or not ok or not refused:
        if time.monotonic() > end:
            fail("after %d creates: %d held, %d refused: the race was not seen both ways"
                 % (i, ok, refused))
        i += 1
        # Read-only: shared locks, so every VM that gets through can hold it.
        st, r = alice("POST", "/vm.create", {"kernel": kx, "memory": "32M",
                                             "disks": [{"path": dx, "readonly": True}]})
        if st != 200:
            if st != 400:
                fail("create during the swap: %d %r" % (st, r))
            refused += 1
            continue
        ok += 1
        if secret in broker_open_files():
            fail("create %d: the broker holds the secret open (through the swapped link)" % i)
        if ofd_lock_conflicts(secret, True):
            fail("create %d: the secret is attached as a disk" % i)
        if not ofd_lock_conflicts(disk_in, True):
            fail("create %d: the inside image is not the one attached" % i)
        if kept is None:
            kept = r["vm_id"]
        else:
            st, r = alice("DELETE", "/vm/" + r["vm_id"])
            if st != 200:
                fail("delete: %d %r" % (st, r))
    for p in swappers:
        os.kill(p, signal.SIGKILL)
        os.waitpid(p, 0)
    swappers = []
    print("symlink race: %d creates, %d held the inside files, %d refused" % (i, ok, refused))
    # The first VM that got through boots, over the files it kept (the names
    # point wherever the swapper left them).
    st, r = alice("PUT", "/vm/%s/boot" % kept)
    if st != 200 or r["state"] != "running":
        fail("boot of a VM created during the swap: %d %r" % (st, r))
    if secret in broker_open_files():
        fail("the secret is open in the broker after the boot")
    st, r = alice("DELETE", "/vm/" + kept)
    if st != 200:
        fail("delete: %d %r" % (st, r))

    # --- root's read-only base image, read-write on a tenant's behalf
    base = os.path.join(a_dir, "base.img")
    mkfile(base, b"\0" * 65536, uid=0, mode=0o444)
    st, r = alice("POST", "/vm.create", {"kernel": kernel_in, "disks": [{"path": base}]})
    if st != 400 or "may not write this file" not in r.get("error", ""):
        fail("root's 0444 image attached read-write: %d %r" % (st, r))
    st, r = alice("POST", "/vm.create", {"kernel": kernel_in,
                                         "disks": [{"path": base, "readonly": True}]})
    if st != 200:
        fail("root's 0444 image read-only: %d %r" % (st, r))
    alice("DELETE", "/vm/" + r["vm_id"])
    private = os.path.join(a_dir, "private.img")
    mkfile(private, b"\0" * 65536, uid=0, mode=0o600)
    st, r = alice("POST", "/vm.create", {"kernel": kernel_in,
                                         "disks": [{"path": private, "readonly": True}]})
    if st != 400 or "may not read" not in r.get("error", ""):
        fail("root's 0600 image read on a tenant's behalf: %d %r" % (st, r))

    # --- one image in two VMs
    st, r = alice("POST", "/vm.create", {"kernel": kernel_in, "disks": [{"path": disk_in}]})
    if st != 200:
        fail("create: %d %r" % (st, r))
    first = r["vm_id"]
    for ro in (False, True):
        st, r = alice("POST", "/vm.create", {"kernel": kernel_in,
                                             "disks": [{"path": disk_in, "readonly": ro}]})
        if st != 400 or "in use by another VM" not in r.get("error", "") or \
                disk_in not in r.get("error", ""):
            fail("the image attached read-write twice (readonly=%s): %d %r" % (ro, st, r))
    st, r = b.req("POST", "/vm.create", {"kernel": kernel_in, "disks": [{"path": disk_in}]})
    if st != 400 or "in use by another VM" not in r.get("error", ""):
        fail("root attached the tenant's held image: %d %r" % (st, r))
    alice("DELETE", "/vm/" + first)
    st, r = alice("POST", "/vm.create", {"kernel": kernel_in, "disks": [{"path": disk_in}]})
    if st != 200:
        fail("the image after the first VM was deleted: %d %r" % (st, r))
    alice("DELETE", "/vm/" + r["vm_id"])

    # --- a neighbour directory
    shutil.copy(SERIAL, os.path.join(ab_dir, "k.elf"))
    st, r = alice("POST", "/vm.create", {"kernel": os.path.join(ab_dir, "k.elf")})
    if st != 400 or "not below this tenant's image directory" not in r.get("error", ""):
        fail("%s admitted %s: %d %r" % (a_dir, ab_dir, st, r))

    # --- files passed open (RPC, cellctl --pass-files), outside the image_dir
    kernel_out = os.path.join(out_dir, "k.elf")
    shutil.copy(SERIAL, kernel_out)
    os.chmod(out_dir, 0o755)
    disk_out = os.path.join(out_dir, "own.img")
    mkfile(disk_out, b"\0" * 65536, uid=ALICE[0])
    env = dict(os.environ, CELLVM_RPC_SOCKET=b.rpc)

    def cellctl(*args):
        def run():
            p = subprocess.run([os.path.join(bindir, "cellctl")] + list(args), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=DEADLINE)
            return [p.returncode, p.stdout.decode(), p.stderr.decode()]
        return as_uid(ALICE[0], ALICE[1], run)

    rc, out, errout = cellctl("create", "--pass-files", "--kernel", kernel_out, "--memory", "32M",
                              "--disk", "path=%s,serial=own" % disk_out)
    if rc != 0:
        fail("cellctl create --pass-files: %d %s %s" % (rc, out, errout))
    vid = out.strip()
    rc, out, errout = cellctl("--json", "boot", vid)
    if rc != 0 or '"running"' not in out:
        fail("boot of a VM on passed files: %d %s %s" % (rc, out, errout))
    if not ofd_lock_conflicts(disk_out, False):
        fail("a passed read-write image is not locked")
    rc, out, errout = cellctl("create", "--pass-files", "--kernel", kernel_out,
                              "--disk", "path=%s" % disk_out)
    if rc == 0 or "in use by another VM" not in errout:
        fail("a passed image attached twice: %d %s %s" % (rc, out, errout))
    rc, out, errout = cellctl("delete", vid)
    if rc != 0:
        fail("delete: %d %s" % (rc, errout))
    # Root's 0444 image: the tenant cannot open it read-write to pass it.
    rc, out, errout = cellctl("create", "--pass-files", "--kernel", kernel_out,
                              "--disk", "path=%s" % base)
    if rc == 0 or "Permission denied" not in errout:
        fail("a read-write pass of root's image: %d %s %s" % (rc, out, errout))
    b.stop()

    # --- overlapping image_dirs: refused at start, naming both tenants
    conf = os.path.join(top, "overlap.conf")
    with open(conf, "w") as f:
        f.write("[tenant alice]\nuid = 1001\nimage_dir = %s\n"
                "[tenant bob]\nuid = 1002\nimage_dir = %s/sub\n" % (a_dir, a_dir))
    p = subprocess.run([os.path.join(bindir, "cellvm-broker"), "--foreground",
                        "--api-socket", os.path.join(top, "o.sock"),
                        "--rpc-socket", os.path.join(top, "o-rpc.sock"),
                        "--state-dir", os.path.join(top, "o-state"), "--config", conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=DEADLINE)
    text = p.stdout.decode(errors="replace")
    if p.returncode == 0 or "tenants alice and bob" not in text or "overlap" not in text:
        fail("overlapping image_dirs: status %d: %s" % (p.returncode, text))
    print("PASS")
finally:
    for p in swappers:
        os.kill(p, signal.SIGKILL)
        os.waitpid(p, 0)
    b.cleanup()
