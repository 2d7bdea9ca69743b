#!/usr/bin/env bash
# The real processes of a running VM are sandboxed: for cellvm-core and
# cellvm-dev-blk, /proc shows seccomp filtering, no_new_privs, no effective
# capabilities, namespaces of their own and only the fds they need; a
# test-only trigger makes each try a forbidden syscall (open, execve, socket)
# and it dies by SIGSYS, while for a device the VM goes on.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2
need_kvm
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, uid maps)"
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
truncate -s 16M "$tmp/disk.img"

# start_vm [env...]: the serial_irq payload echoes input until 'q'.
start_vm() {
	rm -f "$tmp/in" "$tmp/out" "$tmp/err"
	mkfifo "$tmp/in"
	env "$@" "$cellvm" run --kernel "$payload" --disk "path=$tmp/disk.img" \
		<"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	exec 3>"$tmp/in"
	# the whole banner line: input typed from now on is echoed on a line
	# of its own (the console alone: the processes' log lines, on stderr,
	# could land in the middle of it)
	wait_until 120 "$pid" has_text "$tmp/out" $'irq: banner sent by THR-empty interrupts\n' &&
		return 0
	cat "$tmp/out" "$tmp/err"
	fail "the VM did not start"
}

# stop_vm: send input and 'q'; the VM's exit status goes to $st.
stop_vm() {
	printf 'alive q' >&3
	exec 3>&-
	wait "$pid"
	st=$?
	pid=
}

check_proc() { # check_proc NAME PID ALLOWED_PATH_REGEX
	local name=$1 p=$2 allowed=$3 st
	st=/proc/$p/status
	grep -q '^Seccomp:[[:space:]]*2$' "$st" || fail "$name: not in seccomp filter mode"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "$name: no_new_privs not set"
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "$st" || fail "$name: has capabilities"
	for ns in user mnt pid ipc uts net; do
		[ "$(readlink "/proc/$p/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")" ] ||
			fail "$name: shares our $ns namespace"
	done
	for fd in /proc/"$p"/fd/*; do
		local n=${fd##*/} t
		[ "$n" -le 2 ] && continue
		t=$(readlink "$fd")
		case $t in
		socket:* | anon_inode:* | pipe:*) ;;
		*) echo "$t" | grep -Eq -- "$allowed" || fail "$name: unexpected fd $n -> $t" ;;
		esac
	done
	# its own report of the layers, in its process title (sandbox.h)
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -Eq '\[sandbox: namespaces seccomp landlock:([0-9]+|none) no_new_privs rlimits' ||
		fail "$name: no layers in its title: $(tr '\0' ' ' <"/proc/$p/cmdline")"
	grep -Eq '^Max processes +[0-9]+ ' "/proc/$p/limits" && ! grep -Eq '^Max processes +unlimited' "/proc/$p/limits" ||
		fail "$name: no RLIMIT_NPROC"
	echo "ok: $name (pid $p): seccomp, no_new_privs, CapEff 0, own namespaces, fds:" \
		"$(ls /proc/"$p"/fd | wc -l)"
}

start_vm
core=$(pgrep -P "$pid" -x cellvm-core) || fail "no cellvm-core child"
blk=$(pgrep -P "$pid" -x cellvm-dev-blk) || fail "no cellvm-dev-blk child"
# the core keeps each device's shared transport page and crash-recovery
# records (memfds it created) for the device's restart
check_proc cellvm-core "$core" '^/dev/kvm$|^anon_inode:kvm|^/memfd:cellvm-vdev-(shared|inflight) [(]deleted[)]$'
check_proc cellvm-dev-blk "$blk" "^$tmp/disk.img\$"
# the disk may not grow past its 16 MiB
grep -Eq '^Max file size +16777216 +16777216 ' "/proc/$blk/limits" ||
	fail "cellvm-dev-blk: RLIMIT_FSIZE is not the image's size: $(grep 'file size' "/proc/$blk/limits")"
# the core holds no disk, the device no KVM and neither guest RAM's memfd
ls -l /proc/"$core"/fd | grep -q disk.img && fail "core holds the disk image"
ls -l /proc/"$blk"/fd | grep -Eq 'kvm|memfd' && fail "device holds KVM or a memfd"
stop_vm
[ "$st" -eq 0 ] || fail "VM status $st"

# A device that tries a forbidden syscall dies by SIGSYS; the VM goes on.
for flag in 1 2 4; do
	start_vm CELLVM_TEST_DEVICE_FLAGS=$flag
	# The core's line comes last: it has handed the queues to the new
	# process (cellvm run's own "restarted" line comes before it).
	wait_until 120 "$pid" grep -Eq '^cellvm-core: .*device process restarted' "$tmp/err" ||
		fail "device flag $flag: no restart seen: $(cat "$tmp/out" "$tmp/err")"
	blk=$(pgrep -P "$pid" -x cellvm-dev-blk) || fail "device flag $flag: no new cellvm-dev-blk"
	check_proc "restarted cellvm-dev-blk" "$blk" "^$tmp/disk.img\$"
	stop_vm
	[ "$st" -eq 0 ] || fail "device flag $flag: VM status $st: $(cat "$tmp/out" "$tmp/err")"
	grep -q 'alive q' "$tmp/out" || fail "device flag $flag: the guest stopped answering"
	grep -q "ended (status $((128 + 31)))" "$tmp/err" ||
		fail "device flag $flag: device did not die by SIGSYS: $(cat "$tmp/err")"
	grep -q "device process restarted" "$tmp/err" ||
		fail "device flag $flag: the device was not restarted: $(cat "$tmp/err")"
	echo "ok: cellvm-dev-blk killed by SIGSYS (trigger $flag), restarted, VM went on"
done

# The core that does the same ends its VM, by SIGSYS; with 8 it tries right
# before parsing the kernel: the parse runs under the filter.
for flag in 1 2 4 8; do
	out=$(CELLVM_TEST_CORE_FLAGS=$flag timeout 30 "$cellvm" run --kernel "$payload" \
		</dev/null 2>&1)
	# (flag 8 kills it before Ready: the launcher reports the status)
	echo "$out" | grep -Eq 'killed by signal 31|exited during setup \(status 159\)' ||
		fail "core flag $flag: $out"
	echo "ok: cellvm-core killed by SIGSYS (trigger $flag)"
done
echo "PASS"
