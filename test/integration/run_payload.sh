#!/usr/bin/env bash
# Boot one tiny payload with `cellvm run` and check its exit status and console.
# usage: run_payload.sh CELLVM PAYLOAD EXPECTED_STATUS REGEX [cellvm run args...]
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2 want=$3 regex=$4
shift 4
need_kvm
[ -f "$payload" ] || fail "payload $payload was not built"
out=$(timeout 60 "$cellvm" run --kernel "$payload" "$@" </dev/null 2>&1)
got=$?
echo "$out"
[ "$got" -eq "$want" ] || fail "exit status $got, expected $want"
echo "$out" | grep -Eq -- "$regex" || fail "console lacks /$regex/"
echo "PASS"
