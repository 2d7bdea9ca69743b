#!/usr/bin/env python3
"""bench/boot: whole-process cost of booting a tiny PVH payload that powers off
at once, with `cellvm run` and with `qemu-system-x86_64 -M microvm` on the same
payload, measured in the same run. Reports wall time, time to the first guest
output byte, CPU time (user+sys of the VMM's whole process tree) and peak RSS.

usage: boot.py [--runs N] [--build DIR]   (DIR holds bin/cellvm and payloads/)
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time


RUSAGE = None  # bench-rusage helper, set in main()


def run_once(argv, expect_status):
    """Runs argv under bench-rusage: CPU and RSS come from wait4() in a small
    helper, so this interpreter's RSS (inherited by its forked child until
    exec) does not count."""
    t0 = time.perf_counter()
    p = subprocess.Popen([RUSAGE] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.read(1)
    t_first = time.perf_counter() - t0
    rest = p.stdout.read()
    err = p.stderr.read().decode(errors="replace")
    p.wait()
    m = re.search(r"rusage: status=(\d+) wall_us=(\d+) cpu_us=(\d+) maxrss_kib=(\d+)", err)
    if not m or int(m.group(1)) != expect_status or not first:
        raise RuntimeError(f"{argv[0]}: expected status {expect_status}: {err!r} "
                           f"output {first + rest!r}")
    return int(m.group(2)) / 1e6, t_first, int(m.group(3)) / 1e6, int(m.group(4))


def bench(name, argv, expect_status, runs):
    # A warm-up run so both start from a warm page cache.
    run_once(argv, expect_status)
    walls, firsts, cpus = [], [], []
    maxrss = 0
    for _ in range(runs):
        wall, first, cpu, rss = run_once(argv, expect_status)
        walls.append(wall)
        firsts.append(first)
        cpus.append(cpu)
        maxrss = max(maxrss, rss)
    return {
        "name": name,
        "wall_ms": statistics.median(walls) * 1e3,
        "first_ms": statistics.median(firsts) * 1e3,
        "cpu_ms": statistics.median(cpus) * 1e3,
        "rss_kib": maxrss,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--build", default=os.path.join(here, "..", "build", "release"))
    args = ap.parse_args()
    payload = os.path.join(args.build, "payloads", "hello.elf")
    cellvm = os.path.join(args.build, "bin", "cellvm")
    global RUSAGE
    RUSAGE = os.path.join(args.build, "bin", "bench-rusage")
    for f in (payload, cellvm, RUSAGE):
        if not os.path.exists(f):
            sys.exit(f"bench/boot: {f} missing; build first (see bench/README.md)")
    mem = "64M"
    results = [bench("cellvm run", [cellvm, "run", "--kernel", payload, "--memory", mem,
                                    "--cmdline", "bench"], 0, args.runs)]
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        # isa-debug-exit turns the payload's write to port 0xf4 into exit status 1.
        results.append(bench("qemu microvm", [
            qemu, "-M", "microvm,accel=kvm,rtc=off", "-m", mem, "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", payload, "-append", "bench",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"], 1, args.runs))
    else:
        print("bench/boot: qemu-system-x86_64 not installed; no reference "
              "(scripts/install-deps.sh --bench)")

    print(f"bench/boot: tiny PVH payload, power-off at once, guest RAM {mem}, "
          f"median of {args.runs} runs")
    print(f"{'vmm':<14}{'wall ms':>10}{'first out ms':>14}{'cpu ms':>10}{'peak rss KiB':>14}")
    for r in results:
        print(f"{r['name']:<14}{r['wall_ms']:>10.2f}{r['first_ms']:>14.2f}"
              f"{r['cpu_ms']:>10.2f}{r['rss_kib']:>14}")
    if len(results) == 2:
        a, b = results
        print(f"ratio cellvm/qemu: wall {a['wall_ms'] / b['wall_ms']:.2f}, "
              f"first output {a['first_ms'] / b['first_ms']:.2f}, "
              f"cpu {a['cpu_ms'] / b['cpu_ms']:.2f}, rss {a['rss_kib'] / b['rss_kib']:.2f}")
    print("target: VMM ready in under 8 ms of CPU; core RSS under 3 MiB beyond guest RAM")


if __name__ == "__main__":
    main()
