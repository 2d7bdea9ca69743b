#!/bin/sh
# Run all of cellvm's checks: install deps, check formatting, build the dev (or,
# with $CI set, the ci) preset and run its ctest suite; exits with ctest's status.
# Usage: test.sh [extra ctest options, e.g. -R parse]
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

# The guest kernel for the smoke tests. Without one they skip; the kernel is
# not built here (scripts/build-kernel.sh does that, in a few minutes).
if kdir=$(scripts/find-kernel.sh 2>/dev/null); then
	export CELLVM_GUEST_DIR="$kdir"
	echo "test: guest kernel: $kdir"
elif [ -n "${CELLVM_GUEST_DIR:-}" ]; then
	scripts/find-kernel.sh >/dev/null || exit 1 # it says what is wrong
else
	echo "test: no guest kernel found: the guest smoke tests will skip"
fi

status=0
ctest --preset "$preset" --output-on-failure "$@" || status=$?

# Short libFuzzer runs of every fuzz target (a clang build of its own).
if [ "$#" -eq 0 ]; then
	cmake --preset fuzz
	cmake --build build/fuzz -j"$(nproc)"
	ctest --test-dir build/fuzz -L fuzz --output-on-failure || status=$?
fi
exit "$status"
