#!/usr/bin/env bash
# Slow smoke test: the shared test kernel finds a virtio-blk disk and a
# virtio-net NIC on PCI, both with MSI-X, configures its address from ip=,
# and the host pings the guest kernel through the tap that cellvm-dev-net
# serves. Runs in a network namespace of its own (unshare --net), so the tap
# and its address never touch the host's network.
. "$(dirname "$0")/lib.sh"
cellvm=$1 srcdir=$2
need_kvm
dir=$(guest_dir "$srcdir") || exit $?
[ -c /dev/net/tun ] || skip "/dev/net/tun missing"
command -v ip >/dev/null || skip "ip (iproute2) not installed"
command -v ping >/dev/null || skip "ping not installed"
command -v unshare >/dev/null || skip "unshare not installed"

if [ "${CELLVM_SMOKE_NETNS:-}" != 1 ]; then
	CELLVM_SMOKE_NETNS=1 exec unshare --net -- "$0" "$@"
fi

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
truncate -s 4M "$tmp/disk.img"
ip link set lo up
ip tuntap add dev cvm0 mode tap vnet_hdr || fail "cannot create the tap"
ip addr add 10.0.2.1/24 dev cvm0
ip link set cvm0 up

bound=${CELLVM_SMOKE_TIMEOUT:-240}
start=$(date +%s)
# root=/dev/vdz rootwait keeps the kernel alive after boot, answering pings.
"$cellvm" run --kernel "$dir/vmlinux" --cpus 1 --memory 256M \
	--disk "path=$tmp/disk.img,transport=pci" \
	--net "tap=cvm0,mac=52:54:00:12:34:56,transport=pci" \
	--cmdline "console=ttyS0 root=/dev/vdz rootwait ip=10.0.2.15::10.0.2.1:255.255.255.0::eth0:off $GUEST_CPU_WORDS" \
	</dev/null >"$tmp/log" 2>&1 &
pid=$!

while ! grep -q 'IP-Config: Complete' "$tmp/log"; do
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/log"; fail "cellvm ended before IP-Config"; }
	[ $(($(date +%s) - start)) -lt "$bound" ] || { tail -30 "$tmp/log"; fail "no IP-Config within ${bound} s"; }
	sleep 2
done
echo "IP-Config after $(($(date +%s) - start)) s"
ping -c 3 -i 1 -W 10 10.0.2.15 >"$tmp/ping" 2>&1
pst=$?
cat "$tmp/ping"
echo "console lines of interest:"
grep -E '1af4|virtio|vda|eth0|MSI-X|IP-Config|cellvm' "$tmp/log" | head -30

grep -q 'pci 0000:00:01.0: \[1af4:1042\]' "$tmp/log" || fail "virtio-blk not listed on the PCI bus"
grep -q 'pci 0000:00:02.0: \[1af4:1041\]' "$tmp/log" || fail "virtio-net not listed on the PCI bus"
grep -q 'virtio_blk virtio0: \[vda\] 8192 512-byte logical blocks' "$tmp/log" ||
	fail "virtio-blk did not bind on PCI"
[ "$(grep -c 'virtio-pci 00:0[12].0: MSI-X enabled' "$tmp/log")" -eq 2 ] ||
	fail "MSI-X not enabled on both devices"
[ "$pst" -eq 0 ] || fail "the guest did not answer pings"
echo "PASS"
