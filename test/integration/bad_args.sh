#!/usr/bin/env bash
# `cellvm run` refuses bad arguments with a clear message and status 2, before
# starting anything. Needs no KVM.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2
n=0
expect() { # expect REGEX ARGS...: status 2 and REGEX on stderr
	local regex=$1
	shift
	local out st
	out=$(timeout 20 "$cellvm" "$@" </dev/null 2>&1)
	st=$?
	[ "$st" -eq 2 ] || fail "cellvm $*: status $st, expected 2 (output: $out)"
	echo "$out" | grep -Eq -- "$regex" || fail "cellvm $*: no /$regex/ in: $out"
	n=$((n + 1))
}
expect 'usage' 
expect 'unknown command' frobnicate
expect 'kernel is required' run
expect 'cpus' run --kernel "$payload" --cpus 0
expect 'cpus' run --kernel "$payload" --cpus 65
expect 'cpus' run --kernel "$payload" --cpus 2x
expect 'cpus' run --kernel "$payload" --cpus 99999999999999999999
expect 'memory' run --kernel "$payload" --memory 1M
expect 'memory' run --kernel "$payload" --memory 512T
expect 'memory' run --kernel "$payload" --memory 18446744073709551616
expect 'memory' run --kernel "$payload" --memory 100000
expect 'memory' run --kernel "$payload" --memory lots
expect 'memory' run --kernel "$payload" --memory -64M
expect 'cmdline' run --kernel "$payload" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
expect 'unexpected argument' run --kernel "$payload" extra
expect 'No such file' run --kernel /nonexistent/vmlinux
echo "PASS: $n cases"
