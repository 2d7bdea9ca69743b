#!/bin/sh
# Run all of cellvm's checks: install deps, check formatting, build the dev (or,
# with $CI set, the ci) preset, and run its ctest suite in tiers:
#   host  every test that needs no KVM, on this machine;
#   kvm   every test that needs KVM (label "kvm"): here when /dev/kvm has
#         hardware virtualization, else inside one emulated KVM host
#         (scripts/kvm-host.sh), one boot for the whole tier;
#   browser  the browser viewer's test (label "browser"): headless Chromium,
#         in an emulated KVM host of its own where there is no hardware KVM;
#   systemd  the tests of the broker's units under a real systemd (label
#         "systemd"): here when systemd is PID 1 and KVM is native, else in
#         an emulated KVM host booted with systemd (kvm-host.sh -s);
#   fuzz  short libFuzzer runs of every fuzz target (a clang build of its own).
# Prints each tier's time and status; exits non-zero when any test failed.
# Usage: test.sh [extra ctest options, e.g. -R parse]   (the fuzz tier runs only
# without options). CELLVM_KVM=native|emulated overrides the KVM choice.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# --bench: the suite runs every benchmark briefly against its reference
# (QEMU, qemu-storage-daemon, fio).
scripts/install-deps.sh --bench
scripts/check-format.sh

# CI=true (as CI sets it) selects the ci preset: dev plus -Werror.
case ${CI:-} in
"" | 0 | false) preset=dev ;;
*) preset=ci ;;
esac

cmake --preset "$preset"
cmake --build "build/$preset" -j"$(nproc)"

# The guest kernel for the Linux smoke tests and the guest checks; the test
# initramfs is part of the build (test/guest).
if kdir=$(scripts/find-kernel.sh 2>/dev/null); then
	export CELLVM_GUEST_DIR="$kdir"
	echo "test: guest kernel: $kdir"
elif [ -n "${CELLVM_GUEST_DIR:-}" ]; then
	scripts/find-kernel.sh >/dev/null || exit 1 # it says what is wrong
else
	# No kernel beside the repository (../shared/guest) nor in the cache:
	# build one, so that no guest test skips for want of it.
	echo "test: no guest kernel found: building one (scripts/build-kernel.sh)"
	scripts/build-kernel.sh
	CELLVM_GUEST_DIR=$(scripts/find-kernel.sh)
	export CELLVM_GUEST_DIR
	echo "test: guest kernel: $CELLVM_GUEST_DIR"
fi

kvm=$(scripts/kvm-env.sh)
echo "test: KVM tier: ${kvm%% *}: ${kvm#* }"
case $kvm in
native*) ;;
*)
	# The emulated host's QEMU (scripts/kvm-host.sh): built here once, so
	# that its few minutes are not charged to the first tier's time limit.
	t0=$(date +%s)
	scripts/qemu-tcg/build.sh >/dev/null
	echo "test: the emulated host's QEMU is ready ($(($(date +%s) - t0))s)"
	;;
esac

status=0
times=""
# tier NAME CMD...: run one tier, note its time and whether it failed.
tier() {
	name=$1
	shift
	echo "test: ---- tier $name ----"
	t0=$(date +%s)
	st=0
	"$@" || st=$?
	t=$(($(date +%s) - t0))
	[ "$st" -eq 0 ] || status=1
	res=passed
	[ "$st" -eq 0 ] || res="FAILED (status $st)"
	times="$times
test:   $name: $((t / 60))m$((t % 60))s, $res"
	echo "test: tier $name: ${t}s, $res"
}

tier host ctest --preset "$preset" --output-on-failure -LE 'kvm|systemd|browser' -j"$(nproc)" "$@"
# The kvm tier in the emulated host: one host for the whole tier, one CPU
# (see scripts/kvm-host.sh), the repository shared read-write so the build
# tree and ctest's logs are the same files; 55 minutes at most for the tier
# (CI has 90 for everything). A host that stops making progress
# (kvm-host.sh's status 125; docs/testing.md) is started again for the tests
# that had not run to their end yet, while the tier has time left (a stop
# costs about a minute and a half; a run has seen twelve); a test that failed
# before a stop is not run again and fails the tier; which test was running
# at each stop goes into the summary.
stalls=
kvm_emulated() {
	log="build/$preset/kvm-tier.log"
	done_=
	failed=
	attempt=1
	t_end=$(($(date +%s) + ${CELLVM_KVM_TIER_SECONDS:-3300}))
	while :; do
		left=$((t_end - $(date +%s)))
		if [ -n "$done_" ]; then
			echo "test: the emulated host stopped; attempt $attempt for the tests not run to their end yet"
			# (ctest takes the last -E given: it holds every test that ended)
			set -- "$@" -E "^($done_)\$"
		fi
		{
			r=0
			CELLVM_KVM_HOST_STALL=${CELLVM_KVM_HOST_STALL:-60} \
				scripts/kvm-host.sh -t "$left" -w "$repo" -- \
				ctest --test-dir "build/$preset" --output-on-failure -L kvm "$@" || r=$?
			echo "$r" >"$log.status"
		} | tee "$log"
		r=$(cat "$log.status")
		# A test that failed before a stop stays failed: it is not run again.
		more=$(sed -n 's/.*Test *#[0-9]*: \([^ ]*\) \.*\**\(Failed\|Timeout\|Exception\|Not Run\).*/\1/p' "$log" | paste -sd ' ')
		failed="$failed${more:+ $more}"
		if [ "$r" -ne 125 ]; then
			if [ -n "$failed" ] && [ "$r" -eq 0 ]; then
				echo "test: failed before the emulated host stopped:$failed"
				r=1
			fi
			return "$r"
		fi
		during=$(sed -n 's/^ *Start *[0-9]*: \([^ ]*\).*/\1/p' "$log" | tail -n 1)
		stalls="$stalls ${during:-(before the first test)}"
		# Another boot needs room for itself and a test or two.
		if [ $((t_end - $(date +%s))) -lt 300 ]; then
			echo "test: the kvm tier's time is spent ($attempt emulated hosts)"
			[ -z "$failed" ] || echo "test: failed before the emulated host stopped:$failed"
			return "$r"
		fi
		more=$(sed -n 's/.*Test *#[0-9]*: \([^ ]*\) \.*[ *]*\(Passed\|Skipped\|Failed\|Timeout\|Exception\|Not Run\).*/\1/p' "$log" | paste -sd '|')
		done_=${done_:+$done_|}$more
		attempt=$((attempt + 1))
	done
}

case $kvm in
native*)
	tier kvm ctest --preset "$preset" --output-on-failure -L kvm -j"$(nproc)" "$@"
	;;
*)
	tier kvm kvm_emulated "$@"
	;;
esac

# One more emulated host when the first stopped (status 125: it froze, as
# emulated hosts now and then do), not for a test that failed.
browser_emulated() {
	for attempt in 1 2; do
		r=0
		CELLVM_KVM_HOST_STALL=900 scripts/kvm-host.sh -t 1800 -w "$repo" -- \
			ctest --test-dir "build/$preset" --output-on-failure -L browser "$@" || r=$?
		[ "$r" -eq 125 ] || return "$r"
		echo "test: the emulated host stopped during the browser tier (attempt $attempt)"
		stalls="$stalls broker_viewer"
	done
	return "$r"
}

# The browser tier: headless Chromium on the noVNC viewer against a VM
# (label "browser"). In an emulated KVM host Chromium runs under TCG and
# starves the host's heartbeat for minutes: a host of its own, watched
# loosely (15 minutes without a beat), so the kvm tier's watch stays close.
case $kvm in
native*)
	tier browser ctest --preset "$preset" --output-on-failure -L browser "$@"
	;;
*)
	tier browser browser_emulated "$@"
	;;
esac

# The systemd tier in an emulated host booted with systemd: started again
# (up to three hosts) when one stops making progress (status 125), for the
# tests that had not passed yet; a test that failed is not run again.
systemd_emulated() {
	log="build/$preset/systemd-tier.log"
	passed=
	for attempt in 1 2 3; do
		[ -z "$passed" ] || set -- "$@" -E "^($passed)\$"
		r=0
		{
			st=0
			scripts/kvm-host.sh -s -t 1800 -w "$repo" -- \
				ctest --test-dir "build/$preset" --output-on-failure -L systemd "$@" || st=$?
			echo "$st" >"$log.status"
		} | tee "$log"
		r=$(cat "$log.status")
		[ "$r" -eq 125 ] || return "$r"
		during=$(sed -n 's/^ *Start *[0-9]*: \([^ ]*\).*/\1/p' "$log" | tail -n 1)
		stalls="$stalls ${during:-(systemd tier)}"
		if grep -Eq 'Test *#[0-9]*: [^ ]* \.*\**(Failed|Timeout|Exception)' "$log"; then
			echo "test: a systemd test failed before the emulated host stopped"
			return 1
		fi
		more=$(sed -n 's/.*Test *#[0-9]*: \([^ ]*\) \.*[ *]*\(Passed\|Skipped\).*/\1/p' "$log" | paste -sd '|')
		passed=${passed:+$passed|}$more
		echo "test: the emulated host stopped during the systemd tier (attempt $attempt)"
	done
	return "$r"
}

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ "${kvm%% *}" = native ]; then
	tier systemd ctest --preset "$preset" --output-on-failure -L systemd "$@"
else
	tier systemd systemd_emulated "$@"
fi

if [ "$#" -eq 0 ]; then
	tier fuzz sh -c 'cmake --preset fuzz >/dev/null && cmake --build build/fuzz -j"$(nproc)" &&
		ctest --test-dir build/fuzz -L fuzz --output-on-failure'
fi
echo "test: summary (KVM tier ${kvm%% *}):$times"
[ -z "$stalls" ] || echo "test: the emulated host stopped making progress during:$stalls"
exit "$status"
