#!/bin/bash
# Run one command inside an emulated KVM host, for machines without hardware
# virtualization. QEMU's TCG (no /dev/kvm needed) emulates an AMD CPU with SVM;
# Debian's stock kernel, booted that way, loads kvm-amd, so the command finds a
# working /dev/kvm. This machine's root is shared read-only over 9p with a
# tmpfs overlay on top (everything is writable, nothing written persists), and
# the directories given with -w are shared read-write at the same paths.
# The command runs in the same working directory with the same environment;
# its output comes back on stdout and its exit status is this script's.
#
# Usage: kvm-host.sh [-i] [-s] [-m MEM] [-t SECONDS] [-w DIR]... -- CMD [ARGS...]
#   -i   interactive: CMD gets this terminal (its own serial port, raw)
#   -s   systemd: the host boots this machine's systemd as PID 1 and runs
#        CMD as a service once sysinit.target is reached (for tests of the
#        broker's systemd units under a real service manager)
#   -m   memory of the emulated host (default 6G)
#   -t   wall-clock limit; past it the emulated host is stopped (status 124)
#   -w   share DIR read-write (repeatable; the current directory's git
#        top level by default, "-w none" for no share)
# Exit status: CMD's; 124 on timeout; 125 when the emulated host could not run
# CMD to its end: it did not start, or it stopped making progress (no
# heartbeat for CELLVM_KVM_HOST_STALL seconds, 180 by default; its console's
# tail is printed). A caller may try again on 125.
#
# What was learned (docs/testing.md has the rest):
# - kvm-amd loads with npt=0: with nested paging some workloads froze the
#   whole emulated host (test_virtio_pci, sandbox_processes).
# - One emulated CPU: even with npt=0, two froze under test_virtio_pci.
# - switch_root, not chroot: the kernel refuses user namespaces (the sandbox)
#   to a chrooted process.
# - 9p cannot hold unix sockets; /tmp and /run are tmpfs inside.
set -euo pipefail

interactive= systemd= mem=6G limit=0
shares=()
while [ $# -gt 0 ]; do
	case $1 in
	-i) interactive=1; shift ;;
	-s) systemd=1; shift ;;
	-m) mem=$2; shift 2 ;;
	-t) limit=$2; shift 2 ;;
	-w) shares+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	echo "usage: kvm-host.sh [-i] [-s] [-m MEM] [-t SECONDS] [-w DIR]... -- CMD [ARGS...]" >&2
	exit 2
fi
if [ ${#shares[@]} -eq 0 ]; then
	top=$(git rev-parse --show-toplevel 2>/dev/null || true)
	[ -z "$top" ] || shares=("$top")
fi

log() { echo "kvm-host: $*" >&2; }

need() {
	command -v "$1" >/dev/null && return 0
	log "needs $1 (package $2): run scripts/install-deps.sh"
	exit 125
}
need qemu-system-x86_64 qemu-system-x86
need busybox busybox-static
need dpkg-deb dpkg
need cpio cpio

# --- QEMU: Debian's own source, rebuilt with two fixes to TCG's SVM ---------
# Debian's binary lost the emulated host's timer interrupt now and then (the
# freezes in docs/testing.md) and aborted under OVMF; scripts/qemu-tcg/ has
# the patch and says why. Built once (a few minutes) and cached.
# CELLVM_KVM_HOST_QEMU=PATH runs another binary; "system" runs Debian's.
qemu=${CELLVM_KVM_HOST_QEMU:-}
if [ -z "$qemu" ]; then
	qemu=$("$(dirname "$0")/qemu-tcg/build.sh") || {
		log "could not build the emulated host's QEMU (scripts/qemu-tcg/build.sh)"
		exit 125
	}
elif [ "$qemu" = system ]; then
	qemu="qemu-system-x86_64"
fi

# --- The emulated host's kernel and initramfs, built once and cached ---------
cache=${CELLVM_CACHE:-${HOME:-/root}/.cache/cellvm}/kvm-host

# The kernel package: whatever linux-image-amd64 points at in apt's lists.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Modules the host needs (with what they depend on, from modules.dep):
# KVM on the emulated AMD CPU, 9p over virtio-pci for the shares, overlayfs
# for a writable root, and what the network tests use; virtio_gpu for a KMS
# device (below).
modules="kvm-amd 9p 9pnet_virtio virtio_pci overlay tun veth bridge loop virtio_gpu"

build_image() {
	local pkg dir ver kdir stage
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(kernel_package)
	fi
	if [ -z "$pkg" ]; then
		log "apt knows no linux-image-amd64 (is apt configured?)"
		exit 125
	fi
	dir="$cache/$pkg-$self_sum"
	if [ -f "$dir/initrd.gz" ] && [ -f "$dir/vmlinuz" ]; then
		echo "$dir"
		return
	fi
	log "preparing the emulated host once: $pkg (apt-get download), into $dir"
	# Images of older recipes go.
	rm -rf "$dir" "$cache/$pkg"-* && mkdir -p "$dir/deb"
	(cd "$dir/deb" && apt-get download "$pkg" >/dev/null 2>&1) ||
		(apt-get update -qq >/dev/null 2>&1 && cd "$dir/deb" && apt-get download "$pkg" >/dev/null) || {
		log "cannot download $pkg"
		exit 125
	}
	dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
	ver=$(ls "$dir/root/lib/modules")
	cp "$dir/root/boot/vmlinuz-$ver" "$dir/vmlinuz"
	busybox depmod -b "$dir/root" "$ver"
	kdir="$dir/root/lib/modules/$ver"

	stage="$dir/initrd"
	mkdir -p "$stage"/{bin,dev,proc,sys,host,overlay,lib/modules/"$ver"}
	cp "$(command -v busybox)" "$stage/bin/busybox"
	# Each wanted module and the modules it depends on, paths as in modules.dep.
	for m in $modules; do
		awk -v m="$m" '{
			f = $1; sub(":", "", f); n = f; sub(".*/", "", n); sub("\\.ko$", "", n)
			gsub("-", "_", n); w = m; gsub("-", "_", w)
			if (n == w) { print f; for (i = 2; i <= NF; i++) print $i }
		}' "$kdir/modules.dep"
	done | sort -u | while read -r f; do
		mkdir -p "$stage/lib/modules/$ver/$(dirname "$f")"
		cp "$kdir/$f" "$stage/lib/modules/$ver/$f"
	done
	cp "$kdir"/modules.builtin "$kdir"/modules.order "$stage/lib/modules/$ver/"
	busybox depmod -b "$stage" "$ver"
	cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
# The emulated host's init: modules, the shares, then switch_root into this
# machine's root and run the job's script (kvm-host.sh wrote it).
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
arg() { sed -n "s/.*kvmhost\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
die() { echo "kvm-host init: $*"; echo o >/proc/sysrq-trigger; sleep 60; }
echo 1 >/proc/sys/kernel/sysrq
init=$(arg init)
for m in virtio_pci 9pnet_virtio 9p overlay tun veth bridge loop; do modprobe $m || die "modprobe $m"; done
# No PMU for the inner guests: their perf counters and NMIs would go through
# TCG's emulation of an AMD PMU, which is not worth the risk.
modprobe kvm enable_pmu=0 || die "modprobe kvm"
modprobe kvm-amd $(arg kvmamd | tr , ' ') || die "modprobe kvm-amd"
[ -c /dev/kvm ] || die "no /dev/kvm (is SVM emulated?)"
# A real KMS device, /dev/dri/card0 (with a cursor plane), for the host
# presentation test (test_gpu_present): QEMU's virtio-gpu-pci driven by the
# stock virtio_gpu module; Debian's kernel is built without vkms. Best
# effort: without it that test skips, nothing else needs it. fbcon takes only
# an unused console (fbcon=vc:62-62 on the command line): no text, no cursor
# blink drawn and flushed under TCG on the visible one.
modprobe virtio_gpu || echo "kvm-host init: modprobe virtio_gpu failed: no /dev/dri/card0"
o="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$o,ro,cache=loose" host /host || die "no root share"
mount -t tmpfs -o mode=755 rw /overlay && mkdir /overlay/u /overlay/w /overlay/root
mount -t overlay -o lowerdir=/host,upperdir=/overlay/u,workdir=/overlay/w root /overlay/root ||
	die "overlay root"
mount -t tmpfs -o mode=755 run /overlay/root/run && mkdir /overlay/root/run/kvm-host
mount -t 9p -o "$o" job /overlay/root/run/kvm-host || die "no job share"
for d in tmp var/tmp; do mount -t tmpfs -o mode=1777 t /overlay/root/$d; done
# The shares last, so that one may lie under /tmp.
i=0
for p in $(arg shares | tr , ' '); do
	mkdir -p "/overlay/root$p"
	mount -t 9p -o "$o" "rw$i" "/overlay/root$p" || die "share $p"
	i=$((i + 1))
done
mount --move /dev /overlay/root/dev; mount --move /proc /overlay/root/proc
mount --move /sys /overlay/root/sys
if [ "$init" = systemd ]; then
	# systemd as PID 1, the job as a service of its own target (the unit
	# files come with the job); systemd keeps the /run mounted here.
	mkdir -p /overlay/root/run/systemd/system
	cp /overlay/root/run/kvm-host/units/* /overlay/root/run/systemd/system/
	# This machine may be a container: its marker would make systemd act as
	# a container's manager (and ignore the kernel command line).
	rm -f /overlay/root/.dockerenv
	exec switch_root /overlay/root /lib/systemd/systemd --unit=kvm-host-job.target
fi
exec switch_root /overlay/root /bin/bash /run/kvm-host/job.sh
INIT
	chmod 755 "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1 >"$dir/initrd.gz.tmp")
	mv "$dir/initrd.gz.tmp" "$dir/initrd.gz"
	rm -rf "$dir/deb" "$dir/root"
	echo "$dir"
}

# The cache key: what goes into the image (this function, the module list).
self_sum=$( (declare -f build_image; echo "$modules") | sha256sum | cut -c1-12)
img=$(build_image)

# --- The job: a script the emulated host's init runs -------------------------
job=$(mktemp -d "${TMPDIR:-/tmp}/cellvm-kvm-host.XXXXXX")
trap '[ -n "${CELLVM_KVM_HOST_KEEP:-}" ] || rm -rf "$job"' EXIT
shared=()
for d in "${shares[@]}"; do
	[ "$d" = none ] && continue
	d=$(cd "$d" && pwd -P)
	case $d in *,* | *" "*) log "cannot share a path with a comma or space: $d"; exit 2 ;; esac
	shared+=("$d")
done
size=
if [ -n "$interactive" ] && [ -t 0 ]; then size=$(stty size 2>/dev/null || true); fi
{
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'mkdir -p /dev/pts /dev/shm /run/lock'
	# (systemd, with -s, mounts these itself)
	echo 'mountpoint -q /dev/pts || { mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts; ln -sf pts/ptmx /dev/ptmx; }'
	echo 'mountpoint -q /dev/shm || mount -t tmpfs -o mode=1777 shm /dev/shm'
	echo 'ip link set lo up'
	# The caller's environment, less what describes this machine's session.
	export -p | grep -v -E '^declare -x (PATH|PWD|OLDPWD|SHLVL|_|TERM|HOSTNAME|TMPDIR)='
	echo "export CELLVM_KVM_HOST=emulated"
	echo "export TERM=${TERM:-dumb}"
	# A heartbeat on a serial port of its own (ttyS2, a file outside): the
	# watchdog outside sees the host stop making progress (docs/testing.md:
	# the freezes). Not through the 9p job share, whose writes can stall
	# for a minute and more while the host runs on.
	echo 'stty -F /dev/ttyS2 raw -echo'
	# shellcheck disable=SC2016 # expanded in the job, not here
	echo '(while :; do echo "beat $(date +%s)" >/dev/ttyS2; sleep 5; done) &'
	printf 'cd %q || exit 125\n' "$PWD"
	if [ -n "$interactive" ]; then
		echo "stty -F /dev/ttyS1 sane${size:+ rows ${size% *} cols ${size#* }}"
		printf 'setsid -c -w '; printf '%q ' "$@"
		echo '</dev/ttyS1 >/dev/ttyS1 2>&1'
	else
		echo 'stty -F /dev/ttyS1 raw -echo'
		printf '%q ' "$@"; echo '</dev/null >/dev/ttyS1 2>&1'
	fi
	# shellcheck disable=SC2016 # expanded in the job, not here
	echo 'rc=$?; echo "rc $rc" >/dev/ttyS2; echo "$rc" >/run/kvm-host/rc; sync'
	echo 'echo o >/proc/sysrq-trigger; sleep 60'
} >"$job/job.sh"

init_args=
if [ -n "$systemd" ]; then
	[ -x /lib/systemd/systemd ] || { log "-s needs systemd installed here"; exit 2; }
	mkdir -p "$job/units"
	cat >"$job/units/kvm-host-job.target" <<'UNIT'
[Unit]
Description=kvm-host.sh job
Requires=sysinit.target kvm-host-job.service
After=sysinit.target kvm-host-job.service
AllowIsolate=yes
UNIT
	cat >"$job/units/kvm-host-job.service" <<'UNIT'
[Unit]
Description=kvm-host.sh job (the command, then power-off)
After=sysinit.target
[Service]
Type=oneshot
ExecStart=/bin/bash /run/kvm-host/job.sh
UNIT
	init_args=" kvmhost.init=systemd systemd.show_status=0"
fi

virtfs=(-virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$job,mount_tag=job,security_model=none")
i=0
for d in "${shared[@]}"; do
	virtfs+=(-virtfs "local,path=$d,mount_tag=rw$i,security_model=none")
	i=$((i + 1))
done
shares_arg=$(IFS=,; echo "${shared[*]}")

# virtio-gpu-pci: the display behind the init's virtio_gpu (test_gpu_present).
run=("$qemu" -L /usr/share/qemu -L /usr/share/seabios -M q35 -accel tcg,thread=multi -cpu EPYC,+svm -smp 1 -m "$mem"
	-nodefaults -no-user-config -display none -no-reboot
	-serial "file:$job/console.log" -chardev stdio,id=io,signal=off -serial chardev:io
	-serial "file:$job/beat"
	-monitor "unix:$job/monitor,server=on,wait=off"
	-device virtio-gpu-pci
	-kernel "$img/vmlinuz" -initrd "$img/initrd.gz"
	-append "console=ttyS0 quiet panic=-1 mitigations=off nmi_watchdog=0 fbcon=vc:62-62 kvmhost.kvmamd=${CELLVM_KVM_AMD_PARAMS-npt=0} kvmhost.shares=$shares_arg$init_args"
	"${virtfs[@]}")
# What the emulated CPU is doing, from QEMU's monitor, for the log of a
# stop: twice, a second apart (running or halted, where, interrupt flag, the
# local APIC's pending and in-service vectors). See docs/testing.md.
monitor_look() {
	command -v python3 >/dev/null || return 0
	python3 - "$job/monitor" <<'PY' >&2 || true
import socket, sys, time
def ask(cmds):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(sys.argv[1])
    out = b""
    for c in [""] + cmds:
        if c:
            s.sendall(c.encode() + b"\n")
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            pass
    s.close()
    return out.decode(errors="replace")
keep = ("RIP=", "EIP=", "RFL=", "EFL=", "CS =", "CR0=", "IRR", "ISR", "APR", "LVTT", "Timer")
for i in range(2):
    try:
        text = ask(["info registers", "info lapic"])
    except OSError as e:
        print("kvm-host: monitor: %s" % e)
        break
    for line in text.splitlines():
        line = line.strip("\r")
        if line.startswith(keep):
            print("kvm-host: look %d: %s" % (i + 1, line))
    time.sleep(1)
PY
}

# The command's status: the job share's rc file, or the heartbeat port's
# last "rc N" line (what came first). Empty while it runs.
job_rc() {
	if [ -s "$job/rc" ]; then
		cat "$job/rc"
	elif [ -s "$job/beat" ]; then
		tr -d '\r' <"$job/beat" | sed -n 's/^rc \([0-9][0-9]*\)$/\1/p' | tail -n 1
	fi
}

# Past this many seconds without a heartbeat (the host writes one every 5 s
# once it runs the job), the emulated host has stopped making progress.
stall=${CELLVM_KVM_HOST_STALL:-180}
st=0
if [ -n "$interactive" ]; then
	# A person watches: the terminal stays QEMU's, in the foreground.
	if [ "$limit" != 0 ]; then
		timeout --foreground "$limit" "${run[@]}" 2>"$job/qemu.err" || st=$?
	else
		"${run[@]}" 2>"$job/qemu.err" || st=$?
	fi
else
	start=$(date +%s)
	"${run[@]}" </dev/null 2>"$job/qemu.err" &
	qemu=$!
	trap 'kill "$qemu" 2>/dev/null || true; [ -n "${CELLVM_KVM_HOST_KEEP:-}" ] || rm -rf "$job"' EXIT
	# The watchdog polls: it looks at the heartbeat and the time limit every
	# few seconds while QEMU runs.
	while kill -0 "$qemu" 2>/dev/null; do
		sleep 2
		now=$(date +%s)
		beat=$start
		[ -s "$job/beat" ] && beat=$(stat -c %Y "$job/beat")
		if [ "$limit" != 0 ] && [ $((now - start)) -ge "$limit" ]; then
			kill "$qemu" 2>/dev/null
			st=124
			break
		fi
		if [ $((now - beat)) -ge "$stall" ] && [ -z "$(job_rc)" ]; then
			log "the emulated host stopped making progress (no heartbeat for $((now - beat)) s): stopping it"
			monitor_look
			kill "$qemu" 2>/dev/null
			st=125
			break
		fi
	done
	qst=0
	wait "$qemu" 2>/dev/null || qst=$?
	[ "$st" != 0 ] || st=$qst
fi
if [ "$st" = 124 ]; then
	log "stopped after ${limit}s (-t); console tail:"
	tail -n 20 "$job/console.log" >&2
	exit 124
fi
rc=$(job_rc)
if [ -z "$rc" ]; then
	log "the command did not finish (status $st); qemu and console tail:"
	tail -n 5 "$job/qemu.err" >&2
	tail -n 20 "$job/console.log" >&2
	exit 125
fi
exit "$rc"
