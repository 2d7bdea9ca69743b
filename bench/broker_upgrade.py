#!/usr/bin/env python3
"""bench/broker_upgrade: the pause that PUT /vmm.upgrade (cellctl upgrade)
costs API clients. The broker re-executes itself in place, hands its API
sockets to the new image and the new image adopts every VM; meanwhile clients
that connect wait in the listen backlog. Measured with 1 and 10 running VMs
(tiny PVH payloads): a load generator asks GET /vmm.ping continuously (threads,
a new connection per request); the figures are the longest request around
the switch (the pause a client sees), the time from the upgrade's answer to
the first request the new image answered, and how many requests failed (the
design says none). The reference, measured in the same run, is the same
load's p50/p99 before the upgrade.

usage: broker_upgrade.py [--build DIR] [--vms 1,10] [--threads N]
"""
import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "broker"))
from brokertest import Broker, wait_until  # noqa: E402


def load(b, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            st, _ = b.req("GET", "/vmm.ping", timeout=60)
            ok = st == 200
        except OSError:
            ok = False
        out.append((t0, time.monotonic(), ok))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def run(build, nvms, threads):
    bindir = os.path.join(build, "bin")
    payload = os.path.join(build, "payloads", "serial_irq.elf")
    b = Broker(bindir).start()
    try:
        ids = []
        for i in range(nvms):
            vid = b.ok("POST", "/vm.create", {"name": "u%d" % i, "kernel": payload,
                                               "memory": "32M"})["vm_id"]
            b.ok("PUT", "/vm/%s/boot" % vid)
            ids.append(vid)
        stop = threading.Event()
        samples = [[] for _ in range(threads)]
        ts = [threading.Thread(target=load, args=(b, stop, samples[i]))
              for i in range(threads)]
        for t in ts:
            t.start()
        time.sleep(1.0)  # the reference: the load before the upgrade
        t_up = time.monotonic()
        st, _ = b.req("PUT", "/vmm.upgrade")
        t_answered = time.monotonic()
        if st != 200:
            raise SystemExit("PUT /vmm.upgrade: %d" % st)
        wait_until(lambda: "upgraded" in b.logtext(), 120, "the new image")
        time.sleep(1.0)  # and after it
        stop.set()
        for t in ts:
            t.join()
        running = [v["id"] for v in b.ok("GET", "/vm.list") if v["state"] == "running"]
        if sorted(running) != sorted(ids):
            raise SystemExit("after the upgrade not every VM runs: %r of %r" % (running, ids))
        all_ = [s for th in samples for s in th]
        before = [e - s for s, e, ok in all_ if e < t_up and ok]
        around = [e - s for s, e, ok in all_ if s <= t_answered + 30 and e >= t_up]
        failed = sum(1 for _, _, ok in all_ if not ok)
        first_new = min((e for s, e, ok in all_ if ok and s >= t_answered), default=float("nan"))
        print("vms %2d: upgrade pause (longest request around the switch) %.1f ms, "
              "answer to first new-image reply %.1f ms, failed requests %d of %d"
              % (nvms, max(around) * 1e3 if around else float("nan"),
                 (first_new - t_answered) * 1e3, failed, len(all_)))
        print("reference: the same load before the upgrade: p50 %.2f ms, p99 %.2f ms "
              "(%d requests)" % (statistics.median(before) * 1e3, pct(before, 0.99) * 1e3,
                                 len(before)))
    finally:
        b.stop(expect_clean=False)
        b.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                    "dev"))
    ap.add_argument("--vms", default="1,10")
    ap.add_argument("--threads", type=int, default=4)
    a = ap.parse_args()
    for n in (int(x) for x in a.vms.split(",")):
        run(os.path.abspath(a.build), n, a.threads)


if __name__ == "__main__":
    main()
