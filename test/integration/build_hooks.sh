#!/usr/bin/env bash
# Test hooks never ship: a default configuration of the tree (what a user or a
# package build gets) compiles no CELLVM_TEST_HOOKS and builds no tests, and
# installing from a build that has them (this one) is refused.
# Usage: build_hooks.sh SRCDIR BUILDDIR
. "$(dirname "$0")/lib.sh"
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$src" -B "$tmp/default" >"$tmp/configure.log" 2>&1 ||
	{ cat "$tmp/configure.log"; fail "a default configuration failed"; }
grep -q '^CELLVM_TESTS:BOOL=OFF$' "$tmp/default/CMakeCache.txt" ||
	fail "a default configuration builds the test suite"
[ -s "$tmp/default/compile_commands.json" ] || fail "no compile_commands.json to look at"
grep -q 'CELLVM_TEST_HOOKS' "$tmp/default/compile_commands.json" &&
	fail "a default configuration compiles test hooks"
grep -q 'cellvm-core' "$tmp/default/compile_commands.json" ||
	fail "the default configuration does not build cellvm-core"
echo "ok: a default configuration has no test hooks and no tests"

grep -q '^CELLVM_TESTS:BOOL=ON$' "$build/CMakeCache.txt" || fail "$build is not a test build"
if cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
	fail "installing a build with test hooks was not refused"
fi
grep -q 'this build has test hooks' "$tmp/install.log" || { cat "$tmp/install.log"; fail "refused for another reason"; }
[ -z "$(find "$tmp/prefix" -type f 2>/dev/null)" ] || fail "files were installed before the refusal"
echo "ok: installing from this build (test hooks) is refused"
echo "PASS"
