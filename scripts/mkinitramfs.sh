#!/bin/sh
# Build a small busybox initramfs (gzip'd newc cpio). By default /init is the
# demo's: it mounts proc/sys/dev, prints "cellvm demo: init started" and runs
# a console shell. --init FILE puts FILE there instead (the test guest's);
# each SRC:DEST adds the file SRC at DEST (mode kept), e.g. the static
# programs of test/guest.
# Usage: mkinitramfs.sh OUT.cpio.gz [--init FILE] [SRC:DEST]...
#   (skipped when OUT is newer than this script, busybox and every input)
set -eu

out=${1:?usage: mkinitramfs.sh OUT.cpio.gz [--init FILE] [SRC:DEST]...}
shift
self=$0
busybox=/bin/busybox
init=
adds=
while [ $# -gt 0 ]; do
	case $1 in
	--init) init=${2:?--init needs a file}; shift 2 ;;
	*:*) adds="$adds $1"; shift ;;
	*) echo "mkinitramfs: not SRC:DEST: $1" >&2; exit 2 ;;
	esac
done

# Cache: nothing to do when OUT is newer than this script, busybox and inputs.
if [ -f "$out" ]; then
	stale=
	for f in "$self" "$busybox" $init $(for a in $adds; do echo "${a%%:*}"; done); do
		[ -n "$(find "$out" -newer "$f")" ] || stale=1
	done
	if [ -z "$stale" ]; then
		echo "mkinitramfs: up to date: $out"
		exit 0
	fi
fi

# The guest needs a statically linked busybox: Debian's busybox-static.
if ! dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null | grep -qx installed ||
	[ ! -x "$busybox" ]; then
	echo "mkinitramfs: needs Debian's busybox-static (scripts/install-deps.sh)" >&2
	exit 1
fi

# Absolute paths: the archive is made from inside the staging directory.
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
out=$(abs "$out")
[ -z "$init" ] || init=$(abs "$init")
abs_adds=
for a in $adds; do
	src=$(abs "${a%%:*}")
	[ -f "$src" ] || { echo "mkinitramfs: no such file: $src" >&2; exit 1; }
	abs_adds="$abs_adds $src:${a#*:}"
done
mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$

stage=$(mktemp -d "${TMPDIR:-/tmp}/cellvm-initramfs.XXXXXX")
trap 'rm -rf "$stage" "$tmp"' EXIT
trap 'exit 130' INT TERM

umask 022
cd "$stage"
mkdir -p bin sbin dev proc sys tmp etc root usr/bin usr/sbin
chmod 1777 tmp
chmod 700 root

# busybox itself, and a relative symlink for every applet at its usual path
# (e.g. usr/bin/awk -> ../../bin/busybox), as `busybox --list-full` names them.
cp "$busybox" bin/busybox
chmod 755 bin/busybox
"$busybox" --list-full | while read -r applet; do
	case $applet in
	bin/busybox | "") continue ;;
	esac
	case $applet in
	bin/*) target=busybox ;;
	*)
		# One "../" per directory level of the applet's path.
		up=$(printf '%s\n' "$applet" | sed -e 's|[^/]*/|../|g' -e 's|[^/]*$||')
		target=${up}bin/busybox
		;;
	esac
	ln -sf "$target" "$applet"
done

# Console and null device nodes, so that the kernel can open /dev/console for
# init before devtmpfs is mounted. mknod needs root; without it the archive
# still works on kernels that mount devtmpfs themselves, so only warn.
if ! { mknod -m 600 dev/console c 5 1 && mknod -m 666 dev/null c 1 3; } 2>/dev/null; then
	echo "mkinitramfs: warning: cannot mknod (not root?): no /dev/console in archive" >&2
fi

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat >etc/group <<'EOF'
root:x:0:
EOF
cat >etc/profile <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
PS1='\h:\w\$ '
EOF

for a in $abs_adds; do
	dest=${a#*:}
	dest=${dest#/}
	mkdir -p "$(dirname "$dest")"
	cp "${a%%:*}" "$dest"
done

if [ -n "$init" ]; then
	cp "$init" init
else
	cat >init <<'EOF'
#!/bin/sh
# cellvm demo init: mount the kernel file systems, greet, and give the console a
# shell. When the shell exits, end the VM. init must never return (the kernel
# would panic), so everything runs in a loop. The test kernel has no ACPI, so
# "poweroff" only halts it (cellvm then ends the VM as halted, status 5);
# cellvm-poweroff (test/guest), when the archive has it, powers off through
# cellvm's power-off port (status 0).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
echo "cellvm demo: init started" >/dev/console
hostname cellvm
while :; do
	# setsid + cttyhack: a new session whose controlling tty is the real
	# console device (e.g. ttyS0), so job control and Ctrl-C work.
	setsid cttyhack sh -l
	echo "cellvm demo: shell exited, ending the VM" >/dev/console
	command -v cellvm-poweroff >/dev/null && cellvm-poweroff
	poweroff -f
	sleep 1
done
EOF
fi
chmod 755 init

# Deterministic archive: fixed mtimes, sorted names, owner root, no inode or
# device numbers of the host, no timestamp in the gzip header.
find . -exec touch -h -d @0 {} +
find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9 -n >"$tmp"
mv -f "$tmp" "$out"
echo "mkinitramfs: wrote $out ($(wc -c <"$out") bytes)"
