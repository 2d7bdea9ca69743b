#!/bin/sh
# Run the cellvm demo: install deps, build the release VMM, find (or build) the
# guest kernel, build a busybox initramfs, and boot it with the console here.
# Usage: demo.sh [extra cellvm run options...]
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

scripts/install-deps.sh

cmake --preset release
cmake --build build/release -j"$(nproc)"

# The guest kernel: the usual places (scripts/find-kernel.sh), else build one
# into the cache. An explicit but wrong $CELLVM_GUEST_DIR is an error, not a
# reason to build.
if [ -n "${CELLVM_GUEST_DIR:-}" ]; then
	kdir=$(scripts/find-kernel.sh)
elif ! kdir=$(scripts/find-kernel.sh 2>/dev/null); then
	echo "cellvm demo: building the guest kernel (a few minutes, once)"
	scripts/build-kernel.sh
	kdir=$(scripts/find-kernel.sh)
fi

initrd=build/demo-initramfs.cpio.gz
scripts/mkinitramfs.sh "$initrd"

# CPU features to hide from the guest. On nested-KVM (kvm_pvm) hosts guest ring 0
# runs in KVM's instruction emulator, which cannot execute these instructions; the
# kernel would stop with an emulation failure. Linux limits the whole clearcpuid=
# argument to 128 characters, so keep this list short.
clearcpuid=xsave,popcnt,smap,smep,avx,avx2,bmi1,bmi2,movbe,rdrand,rdseed,fsgsbase,erms,fsrm,sse4_1,sse4_2,pku,lzcnt

# lpj= skips the delay-loop calibration, very slow under the emulator.
cmdline="console=ttyS0 panic=-1 rdinit=/init clearcpuid=$clearcpuid lpj=1000000"

echo "cellvm demo: console follows; Ctrl-A x quits"
exec build/release/bin/cellvm run --kernel "$kdir/vmlinux" --initrd "$initrd" \
	--cpus 2 --memory 512M --cmdline "$cmdline" "$@"
