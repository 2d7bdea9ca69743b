#!/usr/bin/env python3
"""bench/broker_adopt: a broker restart under running VMs (docs/broker.md,
"VMs outlive the broker"). For 1, 10 and 50 VMs (the serial_irq payload,
16 MiB each): boot them, kill -9 the broker, start a new one on the same
state directory and time it from its start to its first answer (it adopts
before it serves) and until every VM reads "running"; the broker's own
figure for the adoptions alone (its "adopted N of M running VMs in T us"
log line). The reference, in the same run: a broker start with no VMs.
Figures only, no assertion.

usage: broker_adopt.py [--build DIR] [--vms 1,10,50] [--repeat N]
"""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "broker"))
from brokertest import Broker, wait_until  # noqa: E402  (the tests' client and launcher)


def timed_start(b):
    """Seconds from the broker's start to its first answer."""
    t0 = time.perf_counter()
    b.start()
    return time.perf_counter() - t0


def adopted_us(b):
    m = re.findall(r"adopted (\d+) of (\d+) running VMs in (\d+) us", b.logtext())
    return (int(m[-1][0]), int(m[-1][1]), int(m[-1][2])) if m else (0, 0, 0)


def bench_n(bindir, serial, n, repeat):
    b = Broker(bindir, "")
    try:
        b.start()
        vids = []
        for _ in range(n):
            vid = b.ok("POST", "/vm.create", {"kernel": serial, "memory": "16M"})["vm_id"]
            b.ok("PUT", "/vm/%s/boot" % vid)
            vids.append(vid)
        answer, running, inner = [], [], []
        for _ in range(repeat):
            # The state files must name the keepers before the kill.
            wait_until(lambda: all('"keeper"' in open(os.path.join(b.state, "vms", v + ".json"))
                                   .read() for v in vids), what="state files with keepers")
            b.kill9()
            t0 = time.perf_counter()
            b.start()
            answer.append(time.perf_counter() - t0)
            wait_until(lambda: all(v["state"] == "running" for v in b.ok("GET", "/vm.list")),
                       what="every VM running")
            running.append(time.perf_counter() - t0)
            got, of, us = adopted_us(b)
            if got != n or of != n:
                print("  warning: adopted %d of %d (want %d)" % (got, of, n))
            inner.append(us / 1e6)
        for v in vids:
            b.ok("PUT", "/vm/%s/power-off" % v)
        b.stop()
        return answer, running, inner
    except BaseException:
        print(b.logtext()[-4000:])
        raise
    finally:
        b.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--vms", default="1,10,50")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    bindir = os.path.abspath(os.path.join(a.build, "bin"))
    serial = os.path.abspath(os.path.join(a.build, "payloads", "serial_irq.elf"))
    ref = []
    for _ in range(a.repeat):
        b = Broker(bindir, "")
        try:
            ref.append(timed_start(b))
            b.stop()
        finally:
            b.cleanup()
    print("broker start, no VMs: median %.1f ms (of %d)" % (statistics.median(ref) * 1e3,
                                                            len(ref)))
    for n in (int(x) for x in a.vms.split(",")):
        answer, running, inner = bench_n(bindir, serial, n, a.repeat)
        print("broker restart, %2d VMs: first answer %.1f ms, all running %.1f ms, "
              "adoption alone %.1f ms (medians of %d)"
              % (n, statistics.median(answer) * 1e3, statistics.median(running) * 1e3,
                 statistics.median(inner) * 1e3, len(answer)))


if __name__ == "__main__":
    main()
