#!/bin/sh
# The stock-kernel guest: Debian's own kernel (linux-image-amd64, as a distro
# guest would run it: ACPI, PNP, PCI with MMCONFIG, its drivers as modules)
# and a busybox initramfs for it whose /init (test/guest/stock-init.sh) loads
# the modules the tests need and runs cellvm-acpi-probe (test/guest/
# acpi_probe.c). Writes into OUTDIR:
#   stock-vmlinuz              the kernel (a bzImage, copied from /boot)
#   stock-initramfs.cpio.gz    the initramfs
# Usage: mkstock.sh OUTDIR PROBE   (PROBE: the built cellvm-acpi-probe)
#   The kernel is the newest /boot/vmlinuz-*-amd64 with its modules in
#   /lib/modules, or $CELLVM_STOCK_KVER.
set -eu

out=${1:?usage: mkstock.sh OUTDIR PROBE}
probe=${2:?usage: mkstock.sh OUTDIR PROBE}
repo=$(cd "$(dirname "$0")/../.." && pwd)

kver=${CELLVM_STOCK_KVER:-}
if [ -z "$kver" ]; then
	for k in $(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V); do
		v=${k#/boot/vmlinuz-}
		[ -f "/lib/modules/$v/modules.dep" ] && kver=$v
	done
fi
if [ -z "$kver" ] || [ ! -r "/boot/vmlinuz-$kver" ] || [ ! -f "/lib/modules/$kver/modules.dep" ]; then
	echo "mkstock: needs Debian's linux-image-amd64 (a /boot/vmlinuz-*-amd64 with its" \
		"/lib/modules): scripts/install-deps.sh" >&2
	exit 1
fi
mdir=/lib/modules/$kver
mkdir -p "$out"

# The modules, each after what it needs (modules.dep names every module a
# module needs; loaded depth first). Uncompressed .ko in Debian 12.
want="virtio_pci virtio_blk button evdev"
order=
add() {
	local line dep d path
	case " $order " in *" $1 "*) return ;; esac
	line=$(grep -E "(^|/)$1\.ko(\.xz|\.zst)?:" "$mdir/modules.dep") || {
		echo "mkstock: no module $1 in $mdir/modules.dep" >&2
		exit 1
	}
	for dep in ${line#*:}; do
		d=${dep##*/}
		add "${d%%.ko*}"
	done
	order="$order $1"
	path=${line%%:*}
	case $path in
	*.ko) ;;
	*) echo "mkstock: $path is compressed; busybox insmod needs a plain .ko" >&2; exit 1 ;;
	esac
	adds="$adds $mdir/$path:/lib/modules/$1.ko"
}
adds=
for m in $want; do add "$m"; done

# The load order as a file of the archive; rewritten only when it changes
# (mkinitramfs.sh rebuilds when an input is newer than its output).
lo=$out/stock-load-order
if [ ! -f "$lo" ] || [ "$(cat "$lo")" != "$(echo $order)" ]; then
	echo $order >"$lo"
fi

cp -p "/boot/vmlinuz-$kver" "$out/stock-vmlinuz"
# shellcheck disable=SC2086 # the list of SRC:DEST words is split on purpose
"$repo/scripts/mkinitramfs.sh" "$out/stock-initramfs.cpio.gz" \
	--init "$repo/test/guest/stock-init.sh" \
	"$probe:/bin/cellvm-acpi-probe" "$lo:/lib/modules/load-order" $adds
echo "mkstock: kernel $kver, modules: $order"
