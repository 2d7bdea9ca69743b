#!/usr/bin/env bash
# `cellvm run` refuses bad arguments with a clear message and status 2, before
# starting anything. Needs no KVM.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2
n=0
expect() { # expect REGEX ARGS...: status 2 and REGEX on stderr
	local regex=$1
	shift
	local out st
	out=$(timeout 20 "$cellvm" "$@" </dev/null 2>&1)
	st=$?
	[ "$st" -eq 2 ] || fail "cellvm $*: status $st, expected 2 (output: $out)"
	echo "$out" | grep -Eq -- "$regex" || fail "cellvm $*: no /$regex/ in: $out"
	n=$((n + 1))
}
expect 'usage' 
expect 'unknown command' frobnicate
expect 'kernel is required' run
expect 'cpus' run --kernel "$payload" --cpus 0
expect 'cpus' run --kernel "$payload" --cpus 65
expect 'cpus' run --kernel "$payload" --cpus 2x
expect 'cpus' run --kernel "$payload" --cpus 99999999999999999999
expect 'memory' run --kernel "$payload" --memory 1M
expect 'memory' run --kernel "$payload" --memory 512T
expect 'memory' run --kernel "$payload" --memory 18446744073709551616
expect 'memory' run --kernel "$payload" --memory 100000
expect 'memory' run --kernel "$payload" --memory lots
expect 'memory' run --kernel "$payload" --memory -64M
expect 'cmdline' run --kernel "$payload" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
expect 'unexpected argument' run --kernel "$payload" extra
expect 'No such file' run --kernel /nonexistent/vmlinux
# --firmware: instead of a kernel; an initrd or a cmdline only with a kernel
# for the firmware to boot.
expect 'kernel is required .or --firmware.' run --no-acpi
expect 'initrd and --cmdline go with a --kernel' run --firmware "$payload" --initrd "$payload"
expect 'initrd and --cmdline go with a --kernel' run --firmware "$payload" --cmdline x
expect 'No such file' run --firmware /nonexistent/bios.bin
# --disk transport= and --net: refused while parsing, before anything starts.
expect 'transport: .PCI. is not pci or mmio' run --kernel "$payload" --disk path=/x,transport=PCI
expect 'transport: .isa. is not pci or mmio' run --kernel "$payload" --net tap=t0,transport=isa
expect 'net: empty option' run --kernel "$payload" --net ''
expect 'empty item' run --kernel "$payload" --net tap=t0,,mtu=1500
expect 'not key=value' run --kernel "$payload" --net tap
expect "unknown key 'speed'" run --kernel "$payload" --net tap=t0,speed=10G
expect 'tap= given twice' run --kernel "$payload" --net tap=t0,tap=t1
expect 'tap= is required' run --kernel "$payload" --net mac=52:54:00:12:34:56
expect 'not an interface name' run --kernel "$payload" --net tap=0123456789abcdef
expect 'not an interface name' run --kernel "$payload" --net tap=a/b
expect 'not an interface name' run --kernel "$payload" --net 'tap=tap%d'
expect 'not an interface name' run --kernel "$payload" --net "tap=$(printf 'a\001')"
expect 'multicast' run --kernel "$payload" --net tap=t0,mac=01:00:5e:00:00:01
expect 'multicast' run --kernel "$payload" --net tap=t0,mac=ff:ff:ff:ff:ff:ff
expect 'all-zero' run --kernel "$payload" --net tap=t0,mac=00:00:00:00:00:00
expect 'not six hex bytes' run --kernel "$payload" --net tap=t0,mac=52:54:00:12:34
expect 'not six hex bytes' run --kernel "$payload" --net tap=t0,mac=52:54:00:12:34:56:78
expect 'queues: .0. is not a number from 1 to 8' run --kernel "$payload" --net tap=t0,queues=0
expect 'queues: .9. is not a number from 1 to 8' run --kernel "$payload" --net tap=t0,queues=9
expect 'queues' run --kernel "$payload" --net tap=t0,queues=99999999999999999999
expect 'mtu: .67. is not a number from 68 to 65535' run --kernel "$payload" --net tap=t0,mtu=67
expect 'mtu' run --kernel "$payload" --net tap=t0,mtu=65536
expect 'rate: .0. is not a number above 0' run --kernel "$payload" --net tap=t0,rate=0
expect 'rate: .* is too large' run --kernel "$payload" --net tap=t0,rate=18446744073709551616
expect 'pps: .* is too large' run --kernel "$payload" --net tap=t0,pps=16777216T
expect 'burst= needs rate=' run --kernel "$payload" --net tap=t0,burst=64K
expect 'pps-burst= needs pps=' run --kernel "$payload" --net tap=t0,pps-burst=10
expect 'longer than 1024' run --kernel "$payload" --net "tap=t0,mac=$(head -c 2000 /dev/zero | tr '\0' 0)"
expect 'tap=t0 is given to two NICs' run --kernel "$payload" --net tap=t0 --net tap=t0,mtu=9000
expect 'snd: .playback=5.: playback=N .0 to 4' run --kernel "$payload" --snd playback=5
expect 'snd: .rate=48000.: unknown key' run --kernel "$payload" --snd rate=48000
expect 'snd: .periods=8.: periods=N .16 to 4096' run --kernel "$payload" --snd=periods=8
expect 'snd: .*needs a stream' run --kernel "$payload" --snd playback=0,capture=0
expect 'snd: .sink=null.: null with another sink' run --kernel "$payload" --snd sink=ring,sink=null
expect 'snd: wav:/x.wav is both the sink and the source' run --kernel "$payload" \
	--snd sink=wav:/x.wav,source=wav:/x.wav
expect 'snd: given twice' run --kernel "$payload" --snd --snd
expect 'audio-socket needs --snd with the ring' run --kernel "$payload" --audio-socket /run/x.sock
expect 'audio-socket needs --snd with the ring' run --kernel "$payload" --snd sink=null \
	--audio-socket /run/x.sock
expect 'audio-input-socket needs --snd with a capture stream' run --kernel "$payload" \
	--snd capture=0 --audio-input-socket /run/x.sock
expect 'snd: source=wav:/nonexistent.wav: No such file' run --kernel "$payload" \
	--snd source=wav:/nonexistent.wav
expect 'snd: source=wav:/dev/null: not a regular file' run --kernel "$payload" \
	--snd source=wav:/dev/null
expect 'snd: source=wav:.*: not a (WAV|RIFF)' run --kernel "$payload" --snd "source=wav:$payload"
disks=()
for _ in 1 2 3 4 5 6 7 8; do disks+=(--disk path=/x); done
expect 'at most 8 disks and NICs' run --kernel "$payload" "${disks[@]}" --net tap=t0
expect 'at most 8 disks' run --kernel "$payload" "${disks[@]}" --disk path=/x
# An existing interface that is not a tap (needs the tun driver; opens nothing).
if [ -w /dev/net/tun ]; then
	expect 'tap=lo: the interface exists and is not a tap' run --kernel "$payload" --net tap=lo
fi
echo "PASS: $n cases"
