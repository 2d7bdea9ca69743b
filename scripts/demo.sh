#!/bin/sh
# Run the cellvm demo: install deps, build the release VMM, find (or build) the
# guest kernel, build a busybox initramfs, and boot it with the console here,
# with every device the build has: a virtio-blk disk (/dev/vda, ext2) and a
# virtio-net NIC on the host tap cellvm0 (host 10.0.2.1, guest 10.0.2.15).
# Without hardware virtualization (no /dev/kvm, or a nested kvm_pvm one where
# guest user space cannot run) the VM runs inside the emulated KVM host
# (scripts/kvm-host.sh): slower, but the same VMM and the same shell.
# Usage: demo.sh [extra cellvm run options...]   CELLVM_DEMO_NET=off: no NIC
#        CELLVM_KVM=native|emulated overrides where the VM runs.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# The second stage, inside the emulated host: only the tap and the VM.
if [ "${CELLVM_DEMO_STAGE:-}" != run ]; then
	scripts/install-deps.sh

	cmake --preset release
	cmake --build build/release -j"$(nproc)"

	# The guest kernel: the usual places (scripts/find-kernel.sh), else build
	# one into the cache. An explicit but wrong $CELLVM_GUEST_DIR is an error,
	# not a reason to build.
	if [ -n "${CELLVM_GUEST_DIR:-}" ]; then
		kdir=$(scripts/find-kernel.sh)
	elif ! kdir=$(scripts/find-kernel.sh 2>/dev/null); then
		echo "cellvm demo: building the guest kernel (a few minutes, once)"
		scripts/build-kernel.sh
		kdir=$(scripts/find-kernel.sh)
	fi
	export CELLVM_GUEST_DIR="$kdir"

	# cellvm-poweroff (test/guest) lets the guest power the VM off.
	scripts/mkinitramfs.sh build/demo-initramfs.cpio.gz \
		build/release/guest/cellvm-poweroff:/bin/cellvm-poweroff

	kvm=$(scripts/kvm-env.sh)
	case $kvm in
	emulated*)
		echo "cellvm demo: no hardware KVM here: ${kvm#* }"
		echo "cellvm demo: running the VM inside the emulated KVM host (QEMU TCG with"
		echo "cellvm demo: nested SVM; about a minute to the guest's shell)"
		CELLVM_DEMO_STAGE=run exec scripts/kvm-host.sh -i -w "$repo" -- scripts/demo.sh "$@"
		;;
	esac
fi
kdir=$CELLVM_GUEST_DIR
initrd=build/demo-initramfs.cpio.gz
cmdline="console=ttyS0 panic=-1 rdinit=/init"
if [ -d /sys/module/kvm_pvm ] && [ "${CELLVM_KVM_HOST:-}" != emulated ]; then
	# Native on a nested kvm_pvm host (CELLVM_KVM=native): guest ring 0 runs
	# in KVM's instruction emulator, which cannot execute these instructions;
	# lpj= skips the slow delay-loop calibration. (Linux limits clearcpuid=
	# to 128 characters.) Guest user space cannot run there.
	cmdline="$cmdline clearcpuid=xsave,popcnt,smap,smep,avx,avx2,bmi1,bmi2,movbe,rdrand,rdseed,fsgsbase,erms,fsrm,sse4_1,sse4_2,pku,lzcnt lpj=1000000"
fi
# In the emulated KVM host: no APIC timer (its calibration spin can freeze
# the emulated host; test/integration/lib.sh, docs/testing.md).
[ "${CELLVM_KVM_HOST:-}" != emulated ] || cmdline="$cmdline noapictimer"

bin=build/release/bin
# The devices go after the user's own options ("$@").

# Every device the build has. A disk: a small ext2 image, mount /dev/vda in the guest.
if [ -x $bin/cellvm-dev-blk ]; then
	disk=build/demo-disk.img
	if [ ! -f "$disk" ]; then
		stage=$(mktemp -d)
		echo "Hello from the cellvm demo disk (virtio-blk, cellvm-dev-blk)." >"$stage/README"
		truncate -s 16M "$disk.tmp"
		if command -v mke2fs >/dev/null; then
			mke2fs -q -t ext2 -L cellvm-demo -d "$stage" "$disk.tmp"
		fi
		mv "$disk.tmp" "$disk"
		rm -rf "$stage"
	fi
	set -- "$@" --disk "path=$disk,serial=cellvm-demo"
fi

# A NIC on the tap cellvm0 (host 10.0.2.1/24, guest 10.0.2.15 from ip=). The
# launcher would create a missing tap itself, but only as the VM starts and
# without an address: the demo makes a persistent one first, and removes it
# at the end when it made it. CELLVM_DEMO_NET=off leaves the network out.
# Input: the i8042 keyboard and mouse, the virtio-input devices and the xHCI
# controller's USB keyboard, mouse and tablet, with a socket that takes
# inject-input requests (docs/input.md).
if [ -x $bin/cellvm-dev-input ]; then
	set -- "$@" --input ps2,virtio,usb --input-socket /run/cellvm-demo-input.sock
	echo "cellvm demo: PS/2, virtio-input and USB input devices (in the guest: cat /proc/bus/input/devices);"
	echo "  ask which the guest's drivers bound, from another terminal:"
	echo "  echo '{\"input-info\":true}' | socat -t 10 - UNIX-CONNECT:/run/cellvm-demo-input.sock"
	echo "  (docs/input.md; in the emulated KVM host the socket is inside that host)"
fi

# Display: a virtio-gpu (the guest's fb0 and DRM card0) whose frames a
# capture reader can follow through a socket (docs/gpu.md, docs/cli.md).
if [ -x $bin/cellvm-dev-gpu ]; then
	set -- "$@" --gpu 1024x768 --capture-socket /run/cellvm-demo-capture.sock
	echo "cellvm demo: a virtio-gpu display, 1024x768 (in the guest: ls /dev/dri /sys/class/graphics);"
	echo "  its frames and cursor for capture readers at /run/cellvm-demo-capture.sock (docs/cli.md)"
fi

# Sound: a virtio-snd card (one playback, one capture stream) whose playback
# goes to the audio capture ring, readers at a socket, and a socket that
# takes a WAV for the guest's microphone (docs/snd.md, docs/cli.md).
if [ -x $bin/cellvm-dev-snd ]; then
	set -- "$@" --snd --audio-socket /run/cellvm-demo-audio.sock \
		--audio-input-socket /run/cellvm-demo-audio-in.sock
	echo "cellvm demo: a virtio-snd card (in the guest: cat /proc/asound/cards);"
	echo "  what it plays for audio readers at /run/cellvm-demo-audio.sock, and a WAV"
	echo "  written to /run/cellvm-demo-audio-in.sock is its microphone (docs/snd.md)"
fi

tap=cellvm0 made_tap=
net_host=10.0.2.1 net_guest=10.0.2.15
trap '[ -z "$made_tap" ] || ip link delete "$tap" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
if [ "${CELLVM_DEMO_NET:-on}" = off ]; then
	:
elif [ ! -x $bin/cellvm-dev-net ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
	echo "cellvm demo: no network (needs cellvm-dev-net, /dev/net/tun and ip)"
elif ip -o addr show | grep -v " $tap " | grep -q ' inet 10\.0\.2\.'; then
	echo "cellvm demo: no network (10.0.2.0/24 is in use on this host)"
else
	if ! ip link show "$tap" >/dev/null 2>&1; then
		ip tuntap add dev "$tap" mode tap vnet_hdr
		made_tap=1
	fi
	ip addr replace "$net_host/24" dev "$tap"
	ip link set "$tap" up
	set -- "$@" --net "tap=$tap,mac=52:54:00:12:34:56"
	cmdline="$cmdline ip=$net_guest::$net_host:255.255.255.0::eth0:off"
	if [ "${CELLVM_KVM_HOST:-}" = emulated ]; then
		echo "cellvm demo: the tap $tap ($net_host) lives inside the emulated host; the guest is $net_guest"
	else
		echo "cellvm demo: from another terminal, ping $net_guest (the guest kernel answers)"
	fi
fi
echo "cellvm demo: console follows; Ctrl-A x quits, 'exit' in the guest's shell powers off"
st=0
$bin/cellvm run --kernel "$kdir/vmlinux" --initrd "$initrd" \
	--cpus 2 --memory 512M --cmdline "$cmdline" "$@" || st=$?
exit "$st"
