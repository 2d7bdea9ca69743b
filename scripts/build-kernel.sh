#!/bin/sh
# Build the test guest kernel (vmlinux with a PVH note, and bzImage) from Debian's
# linux-source-6.1 with scripts/guest/guest.defconfig and pvm-emulation.patch.
# Usage: build-kernel.sh [OUTDIR]   (default ${CELLVM_CACHE:-~/.cache/cellvm}/kernel)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
config=$here/guest/guest.defconfig
patchfile=$here/guest/pvm-emulation.patch
out=${1:-${CELLVM_CACHE:-${HOME:-/root}/.cache/cellvm}/kernel}
src_tarball=/usr/src/linux-source-6.1.tar.xz

# The stamp records what the kernel in OUTDIR was built from: the sha256 of the
# config and of the patch. Same inputs, same kernel: nothing to do.
stamp=$out/.cellvm-kernel.stamp
want=$(cd "$here/guest" && sha256sum guest.defconfig pvm-emulation.patch)
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ] && [ -f "$stamp" ] &&
	[ "$(cat "$stamp")" = "$want" ]; then
	echo "build-kernel: up to date: $out"
	exit 0
fi

# Kernel build dependencies (linux-source-6.1, bc, flex, bison, libelf-dev, ...).
"$here/install-deps.sh" --kernel
[ -f "$src_tarball" ] || { echo "build-kernel: $src_tarball missing" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$stamp"

# Build in a throw-away directory, removed however the script ends.
work=$(mktemp -d "${TMPDIR:-/tmp}/cellvm-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

echo "build-kernel: unpacking $src_tarball"
tar -C "$work" -xf "$src_tarball"
cd "$work/linux-source-6.1"

patch -p1 -s <"$patchfile"
cp "$config" arch/x86/configs/cellguest_defconfig

# Fixed build metadata so that rebuilds of the same inputs are alike.
export KBUILD_BUILD_TIMESTAMP='1970-01-01 00:00:00 UTC'
export KBUILD_BUILD_USER=cellvm KBUILD_BUILD_HOST=cellvm

log=$work/build.log
echo "build-kernel: building with $(nproc) jobs (a few minutes; log: $log)"
if ! { make cellguest_defconfig && make -j"$(nproc)" vmlinux bzImage; } >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "build-kernel: kernel build failed" >&2
	exit 1
fi

# The VMM boots vmlinux through its PVH entry: refuse a kernel without it.
grep -q '^CONFIG_PVH=y' .config || { echo "build-kernel: CONFIG_PVH not set" >&2; exit 1; }

# Install atomically, then write the stamp last.
cp vmlinux "$out/vmlinux.tmp" && mv -f "$out/vmlinux.tmp" "$out/vmlinux"
cp arch/x86/boot/bzImage "$out/bzImage.tmp" && mv -f "$out/bzImage.tmp" "$out/bzImage"
printf '%s\n' "$want" >"$stamp"
echo "build-kernel: built $out/vmlinux $out/bzImage"
