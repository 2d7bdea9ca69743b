#!/usr/bin/env python3
"""bench/broker_pause: the cooperative pause's latency through the REST API.

One VM runs (serial_irq.elf, a PVH payload that waits for console input, with
one virtio-blk disk so that a device process is stopped and continued too).
Over ROUNDS rounds:
  pause   PUT /vm/{id}/pause until its answer ("paused": the core has held
          its vCPUs and saved the guest clock, the device processes are
          SIGSTOPped)
  resume  PUT /vm/{id}/resume until its answer ("running": devices
          continued, the core has put the clock back and released the vCPUs)
and, in the same run, two references:
  api     GET /vm/{id}: a no-op round trip through the same API
  signals the old mechanism: SIGSTOP of the core and every device process
          until /proc shows each stopped, then SIGCONT until none is (the old
          pause answered once the signals were sent, so its API figure was
          one round trip; this is what the stop itself took)
p50 and p99 in ms of each. Python's own overhead is part of the figures.

usage: broker_pause.py [--build DIR] [--rounds N]
"""
import argparse
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "broker"))
from brokertest import Broker  # noqa: E402  (the tests' client and launcher)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1][0]


def timed(fn):
    s = time.perf_counter()
    fn()
    return (time.perf_counter() - s) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--rounds", type=int, default=200)
    a = ap.parse_args()
    bindir = os.path.abspath(os.path.join(a.build, "bin"))
    serial = os.path.abspath(os.path.join(a.build, "payloads", "serial_irq.elf"))
    for f in (os.path.join(bindir, "cellvm-broker"), serial):
        if not os.path.exists(f):
            sys.exit("bench/broker_pause: %s missing; build first (bench/README.md)" % f)
    b = Broker(bindir, "")
    res = {"pause": [], "resume": [], "api": [], "sigstop": [], "sigcont": []}
    try:
        b.start()
        img = os.path.join(b.tmp, "disk.img")
        with open(img, "wb") as f:
            f.truncate(1 << 20)
        vid = b.ok("POST", "/vm.create", {"kernel": serial, "memory": "32M",
                                          "disks": [{"path": img}]})["vm_id"]
        b.ok("PUT", "/vm/%s/boot" % vid)
        while "irq: banner" not in b.ok("GET", "/vm/%s/console" % vid):
            pass
        info = b.ok("GET", "/vm/" + vid)
        pids = [info["core_pid"]] + [d["pid"] for d in info["devices"] if d.get("pid")]

        def sig_all(sig, want):
            for p in pids:
                os.kill(p, sig)
            while any((state(p) == "T") != want for p in pids):
                pass

        for _ in range(a.rounds):
            res["pause"].append(timed(lambda: b.ok("PUT", "/vm/%s/pause" % vid)))
            res["resume"].append(timed(lambda: b.ok("PUT", "/vm/%s/resume" % vid)))
            res["api"].append(timed(lambda: b.ok("GET", "/vm/%s" % vid)))
            res["sigstop"].append(timed(lambda: sig_all(signal.SIGSTOP, True)))
            res["sigcont"].append(timed(lambda: sig_all(signal.SIGCONT, False)))
        b.ok("DELETE", "/vm/" + vid)
    finally:
        b.cleanup()
    print("bench/broker_pause (%s build, %d rounds, %d processes per VM)"
          % (os.path.basename(os.path.abspath(a.build)), a.rounds, len(pids)))
    for k, what in (("pause", "PUT pause (cooperative)"), ("resume", "PUT resume (cooperative)"),
                    ("api", "reference: GET /vm/{id}"),
                    ("sigstop", "reference: SIGSTOP all, until stopped"),
                    ("sigcont", "reference: SIGCONT all, until running")):
        v = res[k]
        print("  %-40s p50 %7.3f ms  p99 %7.3f ms  mean %7.3f ms"
              % (what, pct(v, 50), pct(v, 99), statistics.mean(v)))


if __name__ == "__main__":
    main()
