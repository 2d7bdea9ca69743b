#!/usr/bin/env python3
"""bench/broker_boots: many boots at once through the broker's REST API.

K clients (threads, a new connection per request, as curl would) each loop
create -> boot -> power-off -> delete of a tiny VM (serial_irq.elf, 32M);
K = 1, 2 and 8. Per K: boots per second of wall time over all clients, and
the boot request's latency (PUT boot until its reply: the VM runs) p50/p99.
The broker runs with boot_concurrency = C (--concurrency, default 4) and, the
clients being one tenant (root), boot_concurrency_per_tenant = C; the same 8
clients against boot_concurrency = 1 (one boot at a time, as the single
launcher thread did before) are measured too.

Reference, in the same run: the same kind of boot done serially by
`cellvm run` (the launcher without the broker): whole runs of hello.elf (it
powers off at once), start to exit, one after another; runs per second and
the run's wall time p50/p99.

usage: broker_boots.py [--build DIR] [--cycles N] [--concurrency C] [--clients 1,2,8]
"""
import argparse
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "broker"))
from brokertest import Broker  # noqa: E402  (the tests' client and launcher)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def bench_clients(b, kernel, clients, cycles):
    """cycles boots in all, shared by clients threads; (boots/s, latencies ms)."""
    lat, errors, lock = [], [], threading.Lock()
    left = [cycles]

    def client():
        while True:
            with lock:
                if left[0] == 0 or errors:
                    return
                left[0] -= 1
            try:
                vid = b.ok("POST", "/vm.create", {"kernel": kernel, "memory": "32M"})["vm_id"]
                s = time.perf_counter()
                st, r = b.req("PUT", "/vm/%s/boot" % vid)
                d = (time.perf_counter() - s) * 1000
                if st != 200:
                    raise RuntimeError("boot: %d %r" % (st, r))
                b.ok("PUT", "/vm/%s/power-off" % vid)
                b.ok("DELETE", "/vm/" + vid)
            except BaseException as e:  # noqa: B036 (a client's failure ends the run)
                with lock:
                    errors.append(repr(e))
                return
            with lock:
                lat.append(d)
    ts = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        sys.exit("bench/broker_boots: %s" % errors[0])
    return len(lat) / wall, lat


def bench_run(cellvm, hello, runs):
    lat = []
    t0 = time.perf_counter()
    for _ in range(runs):
        s = time.perf_counter()
        p = subprocess.run([cellvm, "run", "--kernel", hello, "--memory", "32M",
                            "--cmdline", "bench"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lat.append((time.perf_counter() - s) * 1000)
        if p.returncode != 0:
            sys.exit("bench/broker_boots: cellvm run: status %d: %s"
                     % (p.returncode, p.stderr.decode(errors="replace")))
    return runs / (time.perf_counter() - t0), lat


def with_broker(bindir, concurrency, fn):
    b = Broker(bindir, "boot_concurrency = %d\nboot_concurrency_per_tenant = %d\n"
               % (concurrency, concurrency))
    try:
        b.start()
        r = fn(b)
        b.stop()
        return r
    finally:
        b.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--cycles", type=int, default=40, help="boots per measurement")
    ap.add_argument("--concurrency", type=int, default=4, help="the broker's boot_concurrency")
    ap.add_argument("--clients", default="1,2,8")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/broker_boots: run as root (the broker is the privileged process)")
    bindir = os.path.abspath(os.path.join(a.build, "bin"))
    serial = os.path.abspath(os.path.join(a.build, "payloads", "serial_irq.elf"))
    hello = os.path.abspath(os.path.join(a.build, "payloads", "hello.elf"))
    cellvm = os.path.join(bindir, "cellvm")
    for f in (os.path.join(bindir, "cellvm-broker"), cellvm, serial, hello):
        if not os.path.exists(f):
            sys.exit("bench/broker_boots: %s missing; build first (bench/README.md)" % f)
    clients = [int(x) for x in a.clients.split(",")]
    rows = []

    def phases(b):
        out = []
        for k in clients:
            print("bench/broker_boots: %d clients..." % k, file=sys.stderr, flush=True)
            out.append(("%d client%s, boot_concurrency %d" % (k, "" if k == 1 else "s",
                                                               a.concurrency),
                        bench_clients(b, serial, k, a.cycles)))
        return out
    rows += with_broker(bindir, a.concurrency, phases)
    k = max(clients)
    print("bench/broker_boots: %d clients, one boot at a time..." % k, file=sys.stderr,
          flush=True)
    rows += with_broker(bindir, 1, lambda b: [(
        "%d clients, boot_concurrency 1" % k, bench_clients(b, serial, k, a.cycles))])
    print("bench/broker_boots: cellvm run...", file=sys.stderr, flush=True)
    ref = bench_run(cellvm, hello, a.cycles)

    print("bench/broker_boots (%s build): create->boot->power-off->delete of serial_irq.elf "
          "(32M), %d boots each" % (os.path.basename(os.path.abspath(a.build)), a.cycles))
    print("%-36s %10s %12s %12s" % ("", "boots/s", "boot p50 ms", "boot p99 ms"))
    for name, (rate, lat) in rows:
        print("%-36s %10.1f %12.1f %12.1f" % (name, rate, pct(lat, 50), pct(lat, 99)))
    print("%-36s %10.1f %12.1f %12.1f" % ("reference: cellvm run, serial", ref[0],
                                           pct(ref[1], 50), pct(ref[1], 99)))
    print("(the reference's time is a whole run of hello.elf, which powers off at once: "
          "start, boot, power-off, exit)")


if __name__ == "__main__":
    main()
