#!/usr/bin/env bash
# Slow smoke test: the shared test kernel finds a virtio-blk disk served by a
# sandboxed cellvm-dev-blk over virtio-mmio (transport=mmio: PCI, the default,
# has its own smoke test), with the right size, and mounts
# the ext2 file system on it as its root. The image holds no init that could
# run here, so the kernel then panics and (panic=-1) resets: status 4.
. "$(dirname "$0")/lib.sh"
cellvm=$1 srcdir=$2
need_kvm
dir=$(guest_dir "$srcdir") || exit $?
command -v mke2fs >/dev/null || skip "mke2fs not installed (e2fsprogs)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/etc"
echo "cellvm smoke test" >"$tmp/root/etc/motd"
mke2fs -q -t ext2 -d "$tmp/root" -L cellvm-root "$tmp/disk.img" 8M || fail "mke2fs failed"
start=$(date +%s)
timeout "${CELLVM_SMOKE_TIMEOUT:-240}" "$cellvm" run --kernel "$dir/vmlinux" --cpus 1 \
	--memory 256M --disk "path=$tmp/disk.img,serial=cellvm-smoke,transport=mmio" \
	--cmdline "console=ttyS0 panic=-1 root=/dev/vda rw $GUEST_CPU_WORDS" \
	</dev/null >"$tmp/log" 2>&1
st=$?
echo "status $st after $(($(date +%s) - start)) s; console lines of interest:"
grep -E 'virtio|vda|VFS|Kernel panic|cellvm' "$tmp/log" | head -20
grep -q 'virtio_blk virtio0: \[vda\] 16384 512-byte logical blocks' "$tmp/log" ||
	fail "no 'virtio_blk virtio0: [vda]' with 16384 sectors on the console"
grep -q 'VFS: Mounted root (ext2 filesystem)' "$tmp/log" || fail "the root file system was not mounted"
[ "$st" -eq 4 ] || fail "status $st, expected 4 (panic for the missing init, then reset)"
echo "PASS"
