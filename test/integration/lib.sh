# Shared helpers for the integration tests (sourced). Tests exit 0 pass,
# 1 fail, 77 skip (a prerequisite is missing: never a pass).
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
need_kvm() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm not usable"
}
# guest_dir SRCDIR: where the shared test kernel lives, or skip.
guest_dir() {
	local d=${CELLVM_GUEST_DIR:-$1/../shared/guest}
	[ -f "$d/vmlinux" ] || skip "no test kernel in $d (set CELLVM_GUEST_DIR)"
	echo "$d"
}
# Words the nested-KVM test machines need on the kernel command line
# (see ../shared/guest/README.md); kept under 128 characters.
GUEST_CPU_WORDS="clearcpuid=xsave,popcnt,smap,smep,avx,avx2,bmi1,bmi2,movbe,rdrand,rdseed,fsgsbase,erms,fsrm,sse4_1,sse4_2,pku,lzcnt lpj=1000000"
# In the emulated KVM host the guest also skips the APIC timer: its boot-time
# calibration spins waiting for 25 timer ticks without one exit of its own,
# and one such spin froze the whole emulated host (docs/testing.md).
[ "${CELLVM_KVM_HOST:-}" != emulated ] || GUEST_CPU_WORDS="$GUEST_CPU_WORDS noapictimer"
# wait_until SECONDS PID COMMAND...: run COMMAND until it succeeds, to wait
# for what a test synchronises on; false after SECONDS, or once PID (the
# process that would bring it about; "" for none) has ended and COMMAND has
# had a last try.
wait_until() {
	local end=$((SECONDS + $1)) pid=$2
	shift 2
	while ! "$@"; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			"$@"
			return
		fi
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.02
	done
}
# has_text FILE TEXT: FILE holds TEXT, literally (newlines included).
has_text() {
	local content=
	# (the file may not exist yet: a command starting in the background
	# has not opened it)
	{ IFS= read -r -d '' content <"$1"; } 2>/dev/null
	[[ $content == *"$2"* ]]
}
