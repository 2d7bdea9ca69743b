#!/usr/bin/env python3
"""bench/broker: the broker as a host service, measured through its REST API.

1. cycles: create -> boot -> first guest console output -> delete, one after
   another with a tiny PVH payload (hello.elf); cycles per second of wall time
   and per second of host CPU (the broker and every VM process it started:
   utime+stime of the broker plus its reaped children, from /proc).
2. latency: GET /vm/{id} at a steady rate from a concurrent load generator
   (threads, a new connection per request, as curl would) while one VM runs;
   p50/p99 in ms. Python's own overhead is part of these figures.
3. memory: per-VM PSS of the core and device processes (one virtio-blk disk),
   guest RAM mappings excluded, next to qemu-system-x86_64 -M microvm with the
   same payload and a virtio-blk-device, measured in the same run.

usage: broker.py [--build DIR] [--cycles N] [--rate R] [--seconds S] [--vms K]
"""
import argparse
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "broker"))
from brokertest import Broker  # noqa: E402  (the tests' client and launcher)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(") ", 1)[1].split()
    return sum(int(x) for x in v[11:15])  # utime stime cutime cstime


def pss_kib(pid, guest_bytes):
    """PSS of pid without mappings at least as large as guest RAM."""
    total, size = 0, 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1]) * 1024
            elif line.startswith("Pss:") and size < guest_bytes:
                total += int(line.split()[1])
    return total


def bench_cycles(b, hello, n):
    tick = os.sysconf("SC_CLK_TCK")
    pid = b.proc.pid
    c0, t0 = cpu_ticks(pid), time.perf_counter()
    firsts = []
    for _ in range(n):
        s = time.perf_counter()
        vid = b.ok("POST", "/vm.create", {"kernel": hello, "memory": "32M"})["vm_id"]
        b.ok("PUT", "/vm/%s/boot" % vid)
        while not b.ok("GET", "/vm/%s/console" % vid):
            pass
        firsts.append((time.perf_counter() - s) * 1000)
        b.ok("DELETE", "/vm/" + vid)
    wall = time.perf_counter() - t0
    cpu = (cpu_ticks(pid) - c0) / tick
    return n / wall, n / cpu if cpu else float("inf"), statistics.median(firsts)


def bench_latency(b, kernel, rate, seconds):
    vid = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M"})["vm_id"]
    b.ok("PUT", "/vm/%s/boot" % vid)
    lat, lock = [], threading.Lock()
    threads = 4
    end = time.perf_counter() + seconds

    def gen(k):
        period = threads / rate
        nxt = time.perf_counter() + k * period / threads
        while nxt < end:
            now = time.perf_counter()
            if now < nxt:
                time.sleep(nxt - now)
            s = time.perf_counter()
            st, _ = b.req("GET", "/vm/" + vid)
            d = (time.perf_counter() - s) * 1000
            if st == 200:
                with lock:
                    lat.append(d)
            nxt += period
    ts = [threading.Thread(target=gen, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    b.ok("DELETE", "/vm/" + vid)
    lat.sort()
    return len(lat) / seconds, lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)]


def bench_memory(b, kernel, img, k, mem):
    vms, per = [], []
    for _ in range(k):
        vid = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": mem,
                                            "disks": [{"path": img, "readonly": True}]})["vm_id"]
        info = b.ok("PUT", "/vm/%s/boot" % vid)
        vms.append(vid)
        while "banner" not in b.ok("GET", "/vm/%s/console" % vid):
            time.sleep(0.01)
        pids = [info["core_pid"]] + [d["pid"] for d in info["devices"]]
        per.append(sum(pss_kib(p, 32 << 20) for p in pids))
    for vid in vms:
        b.ok("DELETE", "/vm/" + vid)
    return statistics.median(per)


def qemu_memory(kernel, img, mem):
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        return None
    p = subprocess.Popen([qemu, "-M", "microvm,accel=kvm,rtc=off", "-m", mem, "-nodefaults",
                          "-no-user-config", "-display", "none", "-serial", "stdio",
                          "-kernel", kernel, "-append", "console=ttyS0",
                          "-drive", "file=%s,if=none,id=d0,format=raw,readonly=on" % img,
                          "-device", "virtio-blk-device,drive=d0"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        # Up to 3 s for the banner (the guest runs); QEMU's own setup is done
        # well before either way.
        select.select([p.stdout], [], [], 3)
        return pss_kib(p.pid, 32 << 20)
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--vms", type=int, default=4)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/broker: run as root (the broker is the privileged process)")
    bindir = os.path.abspath(os.path.join(a.build, "bin"))
    hello = os.path.abspath(os.path.join(a.build, "payloads", "hello.elf"))
    serial = os.path.abspath(os.path.join(a.build, "payloads", "serial_irq.elf"))
    for f in (os.path.join(bindir, "cellvm-broker"), hello, serial):
        if not os.path.exists(f):
            sys.exit("bench/broker: %s missing; build first (bench/README.md)" % f)
    b = Broker(bindir, "")
    try:
        b.start()
        img = os.path.join(b.tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        print("bench/broker: cycles...", file=sys.stderr, flush=True)
        cps, cpc, first = bench_cycles(b, hello, a.cycles)
        print("bench/broker: latency...", file=sys.stderr, flush=True)
        rps, p50, p99 = bench_latency(b, serial, a.rate, a.seconds)
        print("bench/broker: memory...", file=sys.stderr, flush=True)
        pss = bench_memory(b, serial, img, a.vms, "64M")
        qpss = qemu_memory(serial, img, "64M")
        b.stop()
    finally:
        b.cleanup()
    print("bench/broker (%s build)" % os.path.basename(os.path.abspath(a.build)))
    print("create->boot->first output->delete: %.1f cycles/s wall, %.1f cycles per CPU-second, "
          "first output after %.1f ms (median of %d)" % (cps, cpc, first, a.cycles))
    print("GET /vm/{id} at %.0f req/s (4 clients, one VM running): p50 %.2f ms, p99 %.2f ms"
          % (rps, p50, p99))
    print("per-VM PSS (core + 1 blk device, guest RAM excluded): cellvm %d KiB" % pss, end="")
    print(", qemu microvm %d KiB" % qpss if qpss is not None else
          " (qemu-system-x86_64 not installed)")
    print("reference: Firecracker publishes 5 VM creations per host core per second")


if __name__ == "__main__":
    main()
