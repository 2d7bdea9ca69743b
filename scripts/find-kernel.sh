#!/bin/sh
# Print the directory that holds the test guest kernel (vmlinux, bzImage).
# Order: $CELLVM_GUEST_DIR if set; else <repo>/../shared/guest; else the
# scripts/build-kernel.sh cache. Exits 1 with a message when there is none.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CELLVM_CACHE:-${HOME:-/root}/.cache/cellvm}/kernel

# An explicit choice wins, but must actually hold a kernel.
if [ -n "${CELLVM_GUEST_DIR:-}" ]; then
	if [ -f "$CELLVM_GUEST_DIR/vmlinux" ]; then
		(cd "$CELLVM_GUEST_DIR" && pwd)
		exit 0
	fi
	echo "find-kernel: CELLVM_GUEST_DIR=$CELLVM_GUEST_DIR has no vmlinux" >&2
	exit 1
fi

for dir in "$repo/../shared/guest" "$cache"; do
	if [ -f "$dir/vmlinux" ]; then
		(cd "$dir" && pwd)
		exit 0
	fi
done

echo "find-kernel: no guest kernel found (looked in \$CELLVM_GUEST_DIR," \
	"$repo/../shared/guest, $cache); build one with scripts/build-kernel.sh" >&2
exit 1
