#!/usr/bin/env bash
# Device faults under `cellvm run`, with fault_dev installed as cellvm-dev-blk
# (through $CELLVM_LIBEXEC; it runs the real device behind a relay on the core
# link and misbehaves there):
#  1. reset-hang: the first process never answers the guest's Reset (Linux
#     resets every virtio device when it registers it). The core drops it
#     after 2 s and tells the launcher, which kills that process and starts a
#     new one: the guest then finds the disk (16384 sectors) and mounts its
#     ext2 root from it (status 4: no init there, panic=-1). Without the kill
#     the hung process would stay and the guest would wait on its disk.
#  2. violate: the first process sends a ResetDone nobody asked for; it is
#     killed and restarted once, and the new process (the real device) stays.
#  3. violate-always: every process breaks the protocol: after 8 restarts in
#     a row the launcher gives up (the guest is told the device needs a
#     reset); the VM lives on.
. "$(dirname "$0")/lib.sh"
cellvm=$1 fault_dev=$2 payloads=$3 srcdir=$4
need_kvm
bin=$(dirname "$cellvm")
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/libexec" "$tmp/mark"
# The fault device runs as the sandbox's unprivileged id: it creates its mark here.
chmod 1777 "$tmp/mark"
chmod 755 "$tmp"
ln -s "$bin/cellvm-core" "$tmp/libexec/cellvm-core"
ln -s "$fault_dev" "$tmp/libexec/cellvm-dev-blk"
export CELLVM_LIBEXEC=$tmp/libexec CELLVM_FAULT_REAL=$bin/cellvm-dev-blk

# --- 1. a device that never answers the guest's reset, under a Linux guest
dir=$(guest_dir "$srcdir") || exit $?
command -v mke2fs >/dev/null || skip "mke2fs not installed (e2fsprogs)"
mkdir -p "$tmp/root/etc"
echo "cellvm fault test" >"$tmp/root/etc/motd"
mke2fs -q -t ext2 -d "$tmp/root" -L cellvm-root "$tmp/disk.img" 8M || fail "mke2fs failed"
CELLVM_FAULT_MODE=reset-hang CELLVM_FAULT_MARK=$tmp/mark/hang \
	timeout "${CELLVM_SMOKE_TIMEOUT:-240}" "$cellvm" run --kernel "$dir/vmlinux" --cpus 1 \
	--memory 256M --disk "path=$tmp/disk.img" \
	--cmdline "console=ttyS0 panic=-1 root=/dev/vda rw $GUEST_CPU_WORDS" \
	</dev/null >"$tmp/con1" 2>"$tmp/log1"
st=$?
# The guest's console (stdout) apart from the processes' logs (stderr): lines
# of the two interleave mid-line when they share one file.
grep -E 'fault_dev|reset|dropped|restart' "$tmp/log1" | head -20
grep -E 'virtio_blk|vda|VFS' "$tmp/con1" | head -10
grep -q 'fault_dev: this process will fault (reset-hang)' "$tmp/log1" ||
	fail "the fault device did not run"
grep -q 'device did not finish its reset' "$tmp/log1" || fail "the core saw no reset timeout"
grep -q "disk 0: the core dropped the device (did not finish the guest's reset): its process is killed" "$tmp/log1" ||
	fail "the launcher did not kill the hung device process"
grep -q 'disk 0: device process restarted (1 so far)' "$tmp/log1" ||
	fail "no new device process"
grep -q 'virtio_blk virtio0: \[vda\] 16384 512-byte logical blocks' "$tmp/con1" ||
	fail "the guest did not find the disk"
grep -q 'VFS: Mounted root (ext2 filesystem)' "$tmp/con1" ||
	fail "the guest did not mount its root from the restarted device"
[ "$st" -eq 4 ] || fail "status $st, expected 4 (panic for the missing init, then reset)"
echo "ok   reset-hang: killed, restarted, the guest reads its disk"

# --- 2, 3. a device that breaks the link protocol, under a guest that runs on
serial=$payloads/serial_irq.elf
[ -f "$serial" ] || skip "$serial missing"
truncate -s 1M "$tmp/small.img"
running() { # MODE LOG: start cellvm run in the background
	CELLVM_FAULT_MODE=$1 CELLVM_FAULT_MARK=$tmp/mark/$1 "$cellvm" run --kernel "$serial" \
		--memory 32M --disk "path=$tmp/small.img" </dev/null >"$2" 2>&1 &
	pid=$!
}
running violate "$tmp/log2"
wait_until 120 $pid has_text "$tmp/log2" 'disk 0: device process restarted (1 so far)' ||
	{ cat "$tmp/log2"; fail "violate: no restart"; }
grep -q "disk 0: the core dropped the device (broke the link protocol)" "$tmp/log2" ||
	{ cat "$tmp/log2"; fail "violate: the launcher did not end the violating process"; }
# The new process is the real device, and it stays (the VM still echoes).
dev=$(pgrep -P $pid -f cellvm-dev-blk | head -1)
[ -n "$dev" ] && [ "$(readlink /proc/$dev/exe)" = "$(readlink -f "$bin/cellvm-dev-blk")" ] ||
	fail "violate: the device process is not the real one"
kill -0 $pid || fail "violate: cellvm run ended"
kill $pid
wait $pid 2>/dev/null
pid=
grep -q 'restarted (2 so far)' "$tmp/log2" && fail "violate: restarted more than once"
echo "ok   violate: killed and restarted once"

running violate-always "$tmp/log3"
wait_until 240 $pid has_text "$tmp/log3" 'after 8 restarts in a row: giving up' ||
	{ cat "$tmp/log3"; fail "violate-always: the launcher did not give up"; }
kill -0 $pid || fail "violate-always: the VM did not live on"
kill $pid
wait $pid 2>/dev/null
pid=
[ "$(grep -c 'broke the link protocol' "$tmp/log3")" -ge 9 ] ||
	fail "violate-always: fewer than 9 violations reported"
echo "ok   violate-always: given up after 8 restarts"
echo "PASS"
