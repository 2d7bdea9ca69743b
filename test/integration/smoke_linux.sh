#!/usr/bin/env bash
# Slow smoke test: boot the shared test kernel with no root device. Its serial
# console must show "Linux version" and then the kernel's own panic for the
# missing root, within the bound. panic=-1 makes the kernel reset at once after the
# panic, which cellvm reports as a guest panic (status 4).
. "$(dirname "$0")/lib.sh"
cellvm=$1 srcdir=$2
need_kvm
dir=$(guest_dir "$srcdir") || exit $?
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
timeout "${CELLVM_SMOKE_TIMEOUT:-240}" "$cellvm" run --kernel "$dir/vmlinux" --cpus 1 --memory 256M \
	--cmdline "console=ttyS0 panic=-1 $GUEST_CPU_WORDS" </dev/null >"$log" 2>&1
st=$?
echo "status $st after $(($(date +%s) - start)) s; console tail:"
tail -n 15 "$log"
grep -q 'Linux version' "$log" || fail "no 'Linux version' on the console"
grep -q 'VFS: Unable to mount root fs' "$log" || fail "no root-fs panic on the console"
[ "$st" -eq 4 ] || fail "status $st, expected 4 (guest panic)"
echo "PASS"
