#!/usr/bin/env bash
# Hostile kernels, initrds and command lines reach cellvm-core, which refuses
# them with status 2 and a message, and never starts a half-loaded guest (no
# payload output appears). A disk image another VM has read-write (its lock)
# is refused with status 2 before anything starts.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payloads=$2
need_kvm
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
expect() { # expect REGEX ARGS...
	local regex=$1
	shift
	local out st
	out=$(timeout 30 "$cellvm" run "$@" </dev/null 2>&1)
	st=$?
	[ "$st" -eq 2 ] || fail "cellvm run $*: status $st, expected 2 (output: $out)"
	echo "$out" | grep -Eq -- "$regex" || fail "cellvm run $*: no /$regex/ in: $out"
	if echo "$out" | grep -Eq '^(pvh|elf64|bzimage):'; then
		fail "cellvm run $*: the guest ran: $out"
	fi
	n=$((n + 1))
}
hello=$payloads/hello.elf
bz=$payloads/bzimage.bin
: >"$tmp/empty"
head -c 40 "$hello" >"$tmp/trunc-ehdr"
head -c 200 "$hello" >"$tmp/trunc-segs"
head -c 4096 /dev/urandom >"$tmp/random"
head -c 700 "$bz" >"$tmp/bz-trunc"
objcopy --remove-section .note.pvh "$hello" "$tmp/elf32-nonote"
# ELF with e_phnum = 0xffff (lying program header count)
cp "$hello" "$tmp/elf-phnum" && printf '\xff\xff' | dd of="$tmp/elf-phnum" bs=1 seek=44 conv=notrunc status=none
# ELF whose segment claims to live at 0xfff00000 (in the MMIO hole)
python3 - "$hello" "$tmp/elf-hole" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
phoff = struct.unpack_from('<I', b, 28)[0]
for i in range(struct.unpack_from('<H', b, 44)[0]):
    o = phoff + i * 32
    if struct.unpack_from('<I', b, o)[0] == 1:  # PT_LOAD
        struct.pack_into('<II', b, o + 8, 0xfff00000, 0xfff00000)
open(sys.argv[2], 'wb').write(b)
PY
# bzImage whose setup_sects points past the end of the file
cp "$bz" "$tmp/bz-setup" && printf '\x7f' | dd of="$tmp/bz-setup" bs=1 seek=$((0x1f1)) conv=notrunc status=none
# bzImage that asks for more memory than the guest has (init_size = 1 GiB)
cp "$bz" "$tmp/bz-initsize" && printf '\x00\x00\x00\x40' | dd of="$tmp/bz-initsize" bs=1 seek=$((0x260)) conv=notrunc status=none
# bzImage that accepts only 100 bytes of command line
cp "$bz" "$tmp/bz-cmdsize" && printf '\x64\x00\x00\x00' | dd of="$tmp/bz-cmdsize" bs=1 seek=$((0x238)) conv=notrunc status=none
head -c $((20 << 20)) /dev/zero >"$tmp/big-initrd"

expect 'not a bootable|cannot read' --kernel "$tmp/empty"
expect 'not a bootable' --kernel "$tmp/random"
expect 'not a bootable|invalid' --kernel "$tmp/trunc-ehdr"
expect 'invalid|not a bootable' --kernel "$tmp/trunc-segs"
expect 'not a bootable' --kernel "$tmp/elf32-nonote"
expect 'invalid' --kernel "$tmp/elf-phnum"
expect 'does not fit' --kernel "$tmp/elf-hole"
expect 'invalid|not a bootable' --kernel "$tmp/bz-trunc"
expect 'invalid' --kernel "$tmp/bz-setup"
expect 'does not fit' --kernel "$tmp/bz-initsize" --memory 64M
expect 'command line' --kernel "$tmp/bz-cmdsize" --cmdline "$(head -c 200 /dev/zero | tr '\0' y)"
expect 'initrd: does not fit' --kernel "$hello" --initrd "$tmp/big-initrd" --memory 16M
expect 'kernel: cannot read' --kernel "$tmp"
expect 'missing: No such file' --kernel "$tmp/missing"

# One image read-write in two VMs (or read-write and read-only): the second
# cellvm run is refused by the first one's lock, naming the image.
serial=$payloads/serial_irq.elf
[ -f "$serial" ] || skip "$serial missing"
truncate -s 1M "$tmp/disk.img"
mkfifo "$tmp/in"
"$cellvm" run --kernel "$serial" --memory 32M --disk "path=$tmp/disk.img" \
	<"$tmp/in" >"$tmp/out" 2>&1 &
pid=$!
exec 3>"$tmp/in"
wait_until 120 $pid has_text "$tmp/out" 'irq: banner' || { cat "$tmp/out"; fail "the first VM did not start"; }
expect "in use by another VM.*$tmp/disk.img|$tmp/disk.img.*in use by another VM" \
	--kernel "$hello" --disk "path=$tmp/disk.img"
expect 'in use by another VM' --kernel "$hello" --disk "path=$tmp/disk.img,readonly=on"
printf q >&3
exec 3>&-
wait $pid
pid=
# Its lock went with it.
out=$(timeout 60 "$cellvm" run --kernel "$hello" --memory 32M --disk "path=$tmp/disk.img" \
	</dev/null 2>&1) || fail "the image after the first VM ended: $out"
echo "PASS: $n cases"
