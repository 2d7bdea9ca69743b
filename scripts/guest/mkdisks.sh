#!/bin/sh
# Bootable disk images for the firmware tests (test/integration/firmware.sh),
# made without root or mounts (sfdisk, mkfs.fat on a file, mtools, dd):
#   OUTDIR/seabios.img  MBR (syslinux's mbr.bin), one active FAT partition
#                       with syslinux (ldlinux.sys, ldlinux.c32), syslinux.cfg,
#                       KERNEL as /vmlinuz and INITRD as /initrd.gz: what a
#                       BIOS (SeaBIOS) boots from its first disk
#   OUTDIR/ovmf.img     GPT with an EFI system partition (FAT) holding
#                       EFI/BOOT/BOOTX64.EFI, a unified kernel image (systemd's
#                       stub + KERNEL + INITRD + CMDLINE): UEFI (OVMF) starts
#                       the default boot path with no arguments, so the
#                       command line is inside
# Usage: mkdisks.sh OUTDIR KERNEL INITRD CMDLINE [seabios|ovmf]...
#   (both images without a list)
set -eu

out=${1:?usage: mkdisks.sh OUTDIR KERNEL INITRD CMDLINE [seabios|ovmf]...}
kernel=${2:?need KERNEL}
initrd=${3:?need INITRD}
cmdline=${4:?need CMDLINE}
shift 4
[ $# -gt 0 ] || set -- seabios ovmf

mbr=/usr/lib/syslinux/mbr/mbr.bin
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
need() {
	[ -e "$1" ] || command -v "$1" >/dev/null 2>&1 || {
		echo "mkdisks: needs $1 (package $2): scripts/install-deps.sh" >&2
		exit 1
	}
}
need sfdisk fdisk
need mkfs.fat dosfstools
need mcopy mtools
need objcopy binutils
mkdir -p "$out"
tmp=$(mktemp -d "$out/mkdisks.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A FAT file system of $2 MiB in file $1, for sector 2048 of its disk.
mkfat() {
	rm -f "$1"
	mkfs.fat -C -h 2048 -n CELLVM "$1" $(($2 * 1024)) >/dev/null
}

# Disk $1: $3 (a partition image) at sector 2048 under the table $2 (an
# sfdisk script's header and type), 1 MiB of slack at the end (GPT's backup).
mkdisk() {
	psize=$(stat -c %s "$3")
	rm -f "$1"
	truncate -s $((psize + 2 * 1048576)) "$1"
	printf '%s\nstart=2048, size=%d, %s\n' "$2" $((psize / 512)) "$4" |
		sfdisk -q --no-reread --no-tell-kernel "$1" >/dev/null
	dd if="$3" of="$1" bs=1M seek=1 conv=notrunc status=none
}

for which in "$@"; do
	case $which in
	seabios)
		need "$mbr" syslinux-common
		need syslinux syslinux
		part=$tmp/seabios.part
		ksize=$(($(stat -c %s "$kernel") + $(stat -c %s "$initrd")))
		mkfat "$part" $((ksize / 1048576 + 8))
		# Installs ldlinux.sys into the boot sector and ldlinux.c32
		# (the mtools-based installer: no mount).
		syslinux --install "$part"
		cat >"$tmp/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND $cmdline
CFG
		mcopy -i "$part" "$tmp/syslinux.cfg" ::/syslinux.cfg
		mcopy -i "$part" "$kernel" ::/vmlinuz
		mcopy -i "$part" "$initrd" ::/initrd.gz
		mkdisk "$tmp/seabios.img" "label: dos" "$part" "type=e, bootable"
		dd if="$mbr" of="$tmp/seabios.img" bs=440 count=1 conv=notrunc status=none
		mv "$tmp/seabios.img" "$out/seabios.img"
		echo "mkdisks: wrote $out/seabios.img"
		;;
	ovmf)
		need "$stub" systemd-boot-efi
		# The unified kernel image: each section at the next aligned
		# address after the stub's last one (systemd 252's stub finds
		# them by name: .cmdline, .linux, .initrd).
		uki=$tmp/BOOTX64.EFI
		printf '%s' "$cmdline" >"$tmp/cmdline"
		align=$(objdump -p "$stub" | awk '$1 == "SectionAlignment" { print $2 }')
		align=$((0x$align))
		end=$(objdump -h "$stub" | awk 'NF == 7 && $1 ~ /^[0-9]+$/ { print $3, $4 }' |
			while read -r size vma; do echo $((0x$size + 0x$vma)); done | sort -n | tail -n 1)
		up() { echo $((($1 + align - 1) / align * align)); }
		cmd_at=$(up "$end")
		linux_at=$(up $((cmd_at + $(stat -c %s "$tmp/cmdline"))))
		initrd_at=$(up $((linux_at + $(stat -c %s "$kernel"))))
		objcopy \
			--add-section .cmdline="$tmp/cmdline" \
			--change-section-vma .cmdline=$(printf 0x%x "$cmd_at") \
			--add-section .linux="$kernel" \
			--change-section-vma .linux=$(printf 0x%x "$linux_at") \
			--add-section .initrd="$initrd" \
			--change-section-vma .initrd=$(printf 0x%x "$initrd_at") \
			"$stub" "$uki"
		part=$tmp/ovmf.part
		mkfat "$part" $(($(stat -c %s "$uki") / 1048576 + 8))
		mmd -i "$part" ::/EFI ::/EFI/BOOT
		mcopy -i "$part" "$uki" ::/EFI/BOOT/BOOTX64.EFI
		mkdisk "$tmp/ovmf.img" "label: gpt" "$part" \
			"type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP"
		mv "$tmp/ovmf.img" "$out/ovmf.img"
		echo "mkdisks: wrote $out/ovmf.img"
		;;
	*)
		echo "mkdisks: unknown image: $which (seabios, ovmf)" >&2
		exit 2
		;;
	esac
done
