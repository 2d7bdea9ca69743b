#!/usr/bin/env bash
# Terminal input reaches the guest through the 8250's RX interrupt while the
# guest sits in HLT, and the guest's output leaves through THR-empty
# interrupts: the serial_irq payload echoes what it receives until 'q'.
# Input is typed once the guest has shown it reads: after its whole banner
# line (its RX interrupt is on by then), and the second word after the echo
# of the first, however slow the guest is.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2
need_kvm
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/in"
# The console alone in out: log lines on stderr could split the banner.
timeout 120 "$cellvm" run --kernel "$payload" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in"
banner=$'irq: banner sent by THR-empty interrupts\n'
wait_until 60 "$pid" has_text "$tmp/out" "$banner" || fail "no banner: $(cat "$tmp/out")"
printf 'ping' >&3
wait_until 60 "$pid" has_text "$tmp/out" ping || fail "ping not echoed: $(cat "$tmp/out")"
printf ' pong q' >&3
exec 3>&-
wait "$pid"
st=$?
pid=
out=$(cat "$tmp/out")
echo "$out"
cat "$tmp/err"
[ "$st" -eq 0 ] || fail "status $st, expected 0"
echo "$out" | grep -q 'irq: banner sent by THR-empty interrupts' || fail "no banner"
echo "$out" | grep -q 'ping pong q' || fail "input was not echoed"
echo "$out" | grep -q 'irq: rx=0000000B tx=00000029' || fail "wrong rx/tx counts"
echo "PASS"
