#!/usr/bin/env bash
# Boot one tiny payload with `cellvm run` and check its exit status and console.
# usage: run_payload.sh CELLVM PAYLOAD EXPECTED_STATUS REGEXES [cellvm run args...]
# REGEXES: one or more extended regexes joined by '&&', each to match some line.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2 want=$3 regex=$4
shift 4
need_kvm
[ -f "$payload" ] || fail "payload $payload was not built"
out=$(timeout 60 "$cellvm" run --kernel "$payload" "$@" </dev/null 2>&1)
got=$?
echo "$out"
[ "$got" -eq "$want" ] || fail "exit status $got, expected $want"
rest=$regex
while [ -n "$rest" ]; do
	re=${rest%%&&*}
	[ "$re" = "$rest" ] && rest= || rest=${rest#*&&}
	echo "$out" | grep -Eq -- "$re" || fail "console lacks /$re/"
done
echo "PASS"
