#!/bin/sh
# Install every Debian package needed to build and test cellvm (apt-get).
# Usage: install-deps.sh [--bench] [--kernel]
#   --bench adds the benchmark tools, --kernel the guest kernel build deps.
# Does nothing (and needs no network) when all packages are already installed.
set -eu

usage() {
	echo "usage: $0 [--bench] [--kernel]" >&2
	exit 2
}

# Packages to build the project and run its tests.
pkgs="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
libevent-dev libprotobuf-c-dev protobuf-c-compiler libseccomp-dev liburing-dev
libdrm-dev libsystemd-dev libcmocka-dev libjson-c-dev acpica-tools
busybox-static cpio e2fsprogs python3 iproute2 iputils-ping procps"

# systemd-analyze verifies the broker's units (test/broker/systemd.py).
pkgs="$pkgs systemd"

# The emulated KVM host (scripts/kvm-host.sh) for machines without hardware
# virtualization; it is also the benchmarks' reference VMM.
pkgs="$pkgs qemu-system-x86"
# ... run by a QEMU built from Debian's own source of that package with two
# fixes of ours (scripts/qemu-tcg/build.sh says why): what the build needs.
pkgs="$pkgs dpkg-dev patch ninja-build meson libglib2.0-dev libpixman-1-dev libfdt-dev
libcap-ng-dev libattr1-dev python3-venv flex bison"

# The stock-kernel and firmware tests (scripts/guest/mkstock.sh, mkdisks.sh):
# Debian's kernel as the guest, the firmware (SeaBIOS, OVMF) and what makes
# their boot disks without root (syslinux, mtools, mkfs.fat, sfdisk, systemd's
# EFI stub for a unified kernel image).
pkgs="$pkgs linux-image-amd64 seabios ovmf syslinux syslinux-common mtools dosfstools
fdisk systemd-boot-efi"

# Display: PNG screenshots (libspng), the VNC server (libvncserver; its
# libvncclient is the tests' VNC client), the browser viewer (noVNC) and a
# second, independent VNC client for the tests (gvnccapture).
pkgs="$pkgs libspng-dev libvncserver-dev novnc gvncviewer"
# The browser viewer's test drives a real browser (headless Chromium).
pkgs="$pkgs chromium"

# Benchmarks (bench/): measuring tools.
bench_pkgs="hyperfine fio"

# Building the test guest kernel (scripts/build-kernel.sh).
kernel_pkgs="linux-source-6.1 bc flex bison libelf-dev libssl-dev xz-utils cpio"

for arg in "$@"; do
	case $arg in
	--bench) pkgs="$pkgs $bench_pkgs" ;;
	--kernel) pkgs="$pkgs $kernel_pkgs" ;;
	-h | --help) usage ;;
	*) echo "$0: unknown argument: $arg" >&2; usage ;;
	esac
done

# Collect the packages that are not fully installed (one dpkg-query for all;
# it says nothing on stdout about packages it does not know).
# shellcheck disable=SC2086 # word splitting of the package list is intended
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $pkgs 2>/dev/null |
	awk '$2 == "installed" { printf " %s ", $1 }' || true)
missing=""
for p in $pkgs; do
	case $installed in
	*" $p "*) ;;
	*)
		case " $missing " in
		*" $p "*) ;;
		*) missing="$missing $p" ;;
		esac
		;;
	esac
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root, or: sudo apt-get install --no-install-recommends$missing" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing
