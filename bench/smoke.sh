#!/usr/bin/env bash
# A short run of one benchmark, so CI exercises every benchmark end to end:
# it must run and print its figures next to its reference. It asserts no
# timing (benchmarks report; see bench/README.md). Exit 77 when a reference
# the benchmark compares with is not installed (scripts/install-deps.sh
# --bench) or the run needs root/tun that this machine lacks.
# Usage: smoke.sh blk|net|broker|broker_boots|broker_adopt|broker_pause|broker_upgrade|input|
#                 capture|audio BINDIR SRCDIR
set -u
what=$1 bindir=$2 srcdir=$3
skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
case $what in input | capture | audio) ;; *) [ "$(id -u)" -eq 0 ] || skip "needs root" ;; esac
out=$(mktemp)
trap 'rm -f "$out"' EXIT
case $what in
blk)
	command -v fio >/dev/null || skip "fio not installed (install-deps.sh --bench)"
	command -v qemu-storage-daemon >/dev/null || skip "qemu-storage-daemon not installed"
	"$bindir/bench-blk" --seconds 1 --size 16M --dir /var/tmp >"$out" 2>&1 || { cat "$out"; fail "bench-blk failed"; }
	grep -q '^targets: cellvm' "$out" || { cat "$out"; fail "no figures"; }
	;;
net)
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	"$bindir/bench-net" --seconds 1 --repeat 1 >"$out" 2>&1 || { cat "$out"; fail "bench-net failed"; }
	grep -q '^64 KiB TSO   RX' "$out" || { cat "$out"; fail "no figures"; }
	;;
broker)
	[ -c /dev/kvm ] || skip "no /dev/kvm (scripts/test.sh runs this test in the KVM tier)"
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
	python3 "$srcdir/bench/broker.py" --build "$(dirname "$bindir")" --cycles 5 --rate 50 \
		--seconds 2 --vms 1 >"$out" 2>&1 || { cat "$out"; fail "bench/broker.py failed"; }
	grep -q 'qemu microvm' "$out" || { cat "$out"; fail "no figures"; }
	;;
broker_boots)
	[ -c /dev/kvm ] || skip "no /dev/kvm (scripts/test.sh runs this test in the KVM tier)"
	python3 "$srcdir/bench/broker_boots.py" --build "$(dirname "$bindir")" --cycles 4 \
		--clients 1,2,8 >"$out" 2>&1 || { cat "$out"; fail "bench/broker_boots.py failed"; }
	grep -q '^reference: cellvm run' "$out" || { cat "$out"; fail "no figures"; }
	;;
broker_adopt)
	[ -c /dev/kvm ] || skip "no /dev/kvm (scripts/test.sh runs this test in the KVM tier)"
	python3 "$srcdir/bench/broker_adopt.py" --build "$(dirname "$bindir")" --vms 1,3 --repeat 1 \
		>"$out" 2>&1 || { cat "$out"; fail "bench/broker_adopt.py failed"; }
	grep -q '^broker restart,  3 VMs' "$out" && grep -q '^broker start, no VMs' "$out" ||
		{ cat "$out"; fail "no figures"; }
	;;
broker_pause)
	[ -c /dev/kvm ] || skip "no /dev/kvm (scripts/test.sh runs this test in the KVM tier)"
	python3 "$srcdir/bench/broker_pause.py" --build "$(dirname "$bindir")" --rounds 5 \
		>"$out" 2>&1 || { cat "$out"; fail "bench/broker_pause.py failed"; }
	grep -q 'p50' "$out" || { cat "$out"; fail "no figures"; }
	;;
broker_upgrade)
	[ -c /dev/kvm ] || skip "no /dev/kvm (scripts/test.sh runs this test in the KVM tier)"
	python3 "$srcdir/bench/broker_upgrade.py" --build "$(dirname "$bindir")" --vms 1 --threads 2 \
		>"$out" 2>&1 || { cat "$out"; fail "bench/broker_upgrade.py failed"; }
	grep -q '^vms  1: upgrade pause' "$out" && grep -q '^reference: ' "$out" ||
		{ cat "$out"; fail "no figures"; }
	;;
input)
	"$bindir/bench-input" --iters 200 --batches 5 >"$out" 2>&1 || { cat "$out"; fail "bench-input failed"; }
	grep -q '^virtio ' "$out" && grep -q '^reference: ' "$out" || { cat "$out"; fail "no figures"; }
	;;
capture)
	"$bindir/bench-capture" --iters 20 --ms 200 --shots 2 >"$out" 2>&1 || { cat "$out"; fail "bench-capture failed"; }
	grep -q '^flush->reader copy, full ' "$out" && grep -q '^reference: memcpy' "$out" || { cat "$out"; fail "no figures"; }
	;;
audio)
	"$bindir/bench-audio" --seconds 0.5 >"$out" 2>&1 || { cat "$out"; fail "bench-audio failed"; }
	grep -q '^period 10 ms: period->reader latency' "$out" && grep -q '^reference: timerfd' "$out" || { cat "$out"; fail "no figures"; }
	;;
*) fail "unknown benchmark $what" ;;
esac
if [ "${CELLVM_KVM_HOST:-}" = emulated ]; then
	echo "NOTE: measured inside the emulated KVM host (QEMU TCG): not comparable with native figures"
fi
cat "$out"
echo "PASS"
