#!/bin/sh
# The QEMU that scripts/kvm-host.sh runs the emulated KVM host with: Debian's
# own source of the installed qemu-system-x86 (so the ROMs in /usr/share/qemu
# match), the patches beside this script applied, and only what the emulated
# host uses built (the x86_64 system emulator, TCG, 9p). Debian's binary has
# two bugs in TCG's emulation of SVM that froze the emulated host or made
# QEMU abort (svm-interrupt-request-lock.patch says which).
#
# Usage: build.sh [OUTDIR]
#   OUTDIR defaults to $CELLVM_CACHE/qemu-tcg (~/.cache/cellvm/qemu-tcg, next
#   to kvm-host.sh's cached kernel). Prints the path of
#   OUTDIR/qemu-system-x86_64 on stdout. Does nothing when
#   OUTDIR already holds the build of this source version and these patches
#   (OUTDIR/stamp); otherwise fetches the source with apt-get source (adding
#   a deb-src entry for Debian's archive when apt has none; as root) and
#   builds it: about 6 minutes on 2 cores, the log in OUTDIR/build.log.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${CELLVM_CACHE:-${HOME:-/root}/.cache/cellvm}/qemu-tcg}
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { echo "qemu-tcg: $*" >&2; }
die() {
	log "$*"
	exit 1
}

srcver=$(dpkg-query -W -f '${source:Version}' qemu-system-x86 2>/dev/null) ||
	die "qemu-system-x86 is not installed (scripts/install-deps.sh)"
stamp="qemu $srcver $(cat "$here"/*.patch | sha256sum | cut -d' ' -f1)"

# One build at a time per OUTDIR; a second caller waits for the first.
exec 9>"$out/lock"
flock 9
if [ -x "$out/qemu-system-x86_64" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$out/qemu-system-x86_64"
	exit 0
fi
rm -f "$out/stamp" "$out/qemu-system-x86_64"
for t in dpkg-source patch ninja meson; do
	command -v $t >/dev/null || die "needs $t: scripts/install-deps.sh"
done

if ! apt-cache showsrc qemu 2>/dev/null | grep -q '^Package: qemu$'; then
	[ "$(id -u)" -eq 0 ] || die "apt has no deb-src entry for qemu; as root, this script adds one"
	log "adding /etc/apt/sources.list.d/cellvm-deb-src.sources (Debian's source archive)"
	# shellcheck disable=SC1091 # the system's own file
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	cat >/etc/apt/sources.list.d/cellvm-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq || die "apt-get update failed"
fi

work="$out/work"
rm -rf "$work"
mkdir -p "$work"
set -- "$here"/*.patch
log "building QEMU $srcver with $# patch(es) (a few minutes; log: $out/build.log)"
{
	cd "$work"
	# apt checks the files against the archive's signed index.
	apt-get source -qq --download-only "qemu=$srcver"
	dpkg-source -x --no-check qemu_*.dsc src
	for p in "$here"/*.patch; do
		patch -d src -p1 --forward <"$p"
	done
	mkdir build
	cd build
	../src/configure --target-list=x86_64-softmmu --without-default-features \
		--enable-tcg --enable-virtfs --enable-attr --enable-cap-ng \
		--disable-docs --disable-werror
	ninja -j"$(nproc)" qemu-system-x86_64
} >"$out/build.log" 2>&1 || die "the build failed: $out/build.log"
cp "$work/build/qemu-system-x86_64" "$out/qemu-system-x86_64.new"
mv "$out/qemu-system-x86_64.new" "$out/qemu-system-x86_64"
echo "$stamp" >"$out/stamp"
rm -rf "$work"
log "built $out/qemu-system-x86_64"
echo "$out/qemu-system-x86_64"
