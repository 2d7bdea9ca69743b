#!/usr/bin/env bash
# Firmware boot: Debian's SeaBIOS (/usr/share/seabios/bios.bin) runs its POST
# in cellvm. Its debug console (port 0x402, logged with --debug) and its
# serial console (COM1, through fw_cfg's etc/sercon-port) show that it found
# what QEMU would give it: fw_cfg with DMA, the e820 map, the ACPI tables
# through the table loader (it takes the PM timer from our FADT), the
# virtio-blk disk in the second BAR window with the boot order naming it.
# The test ends the VM before SeaBIOS reads the disk's first sector (a disk
# of zeros); firmware_seabios (test/guest/stock_check.py) boots a real one.
# Also refused with status 2 and the reason: images that cannot be ROMs, and
# a kernel for the firmware that is not a bzImage.
. "$(dirname "$0")/lib.sh"
cellvm=$1
need_kvm
bios=/usr/share/seabios/bios.bin
[ -f "$bios" ] || fail "$bios missing: scripts/install-deps.sh installs seabios"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
log=$tmp/log

# Refused images: too small, not whole pages, a directory.
head -c 4096 /dev/zero >"$tmp/small.rom"
head -c $((128 * 1024 + 100)) /dev/zero >"$tmp/odd.rom"
for img in "$tmp/small.rom" "$tmp/odd.rom"; do
	"$cellvm" run --firmware "$img" --memory 64M </dev/null >"$tmp/bad" 2>&1
	st=$?
	[ "$st" -eq 2 ] || { cat "$tmp/bad"; fail "$img: status $st, expected 2"; }
	grep -q "not a ROM image" "$tmp/bad" || { cat "$tmp/bad"; fail "$img: no reason given"; }
done
"$cellvm" run --firmware "$bios" --kernel "$bios" --memory 64M </dev/null >"$tmp/bad" 2>&1
st=$?
[ "$st" -eq 2 ] || { cat "$tmp/bad"; fail "--kernel bios.bin for the firmware: status $st, expected 2"; }
grep -q "a firmware boots a bzImage" "$tmp/bad" || { cat "$tmp/bad"; fail "--kernel bios.bin: no reason given"; }
echo "ok   refused: a 4 KiB image, one of 128 KiB + 100 bytes, bios.bin as the firmware's kernel"

# A disk of zeros: SeaBIOS finds it and would boot from it.
truncate -s 16M "$tmp/disk.img"
start=$(date +%s)
"$cellvm" run --firmware "$bios" --memory 256M --debug --disk "path=$tmp/disk.img" \
	</dev/null >"$log" 2>&1 &
pid=$!
wait_until "${CELLVM_FIRMWARE_TIMEOUT:-240}" "$pid" grep -q "Space available for UMB" "$log" ||
	{ tail -n 40 "$log"; fail "SeaBIOS did not finish its POST"; }
kill "$pid"
wait "$pid"
pid=
echo "SeaBIOS finished its POST after $(($(date +%s) - start)) s"
expect() {
	grep -q -- "$1" "$log" || { grep "firmware:" "$log" | tail -n 40; fail "no '$1' ($2)"; }
}
expect "firmware: SeaBIOS (version" "its debug console"
expect "SeaBIOS (version" "its serial console"
expect "Running on QEMU" "the host bridge's QEMU subsystem id"
expect "Found QEMU fw_cfg" "fw_cfg's signature"
expect "QEMU fw_cfg DMA interface supported" "fw_cfg's DMA bit"
expect "qemu/e820: addr 0x0000000000100000 len 0x000000000ff00000 \[RAM\]" "etc/e820"
expect "Moving pm_base to 0x600" "our FADT's PM block, through the table loader"
expect "found virtio-blk at 00:01.0" "the disk"
expect "using modern (1.0) virtio mode" "virtio 1.x"
expect "bar 0 at 0xfe" "its BAR in the second window"
expect "Searching bootorder for: /pci@i0cf8/\*@1" "the boot order"
expect "drive 0x.*s=32768" "the disk registered for int 13h, its size (16 MiB)"
expect "sercon: using ioport 0x3f8" "etc/sercon-port"
echo "PASS"
