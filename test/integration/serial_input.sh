#!/usr/bin/env bash
# Terminal input reaches the guest through the 8250's RX interrupt while the
# guest sits in HLT, and the guest's output leaves through THR-empty
# interrupts: the serial_irq payload echoes what it receives until 'q'.
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2
need_kvm
out=$( (sleep 1; printf 'ping'; sleep 0.5; printf ' pong q') |
	timeout 60 "$cellvm" run --kernel "$payload" 2>&1)
st=$?
echo "$out"
[ "$st" -eq 0 ] || fail "status $st, expected 0"
echo "$out" | grep -q 'irq: banner sent by THR-empty interrupts' || fail "no banner"
echo "$out" | grep -q 'ping pong q' || fail "input was not echoed"
echo "$out" | grep -q 'irq: rx=0000000B tx=00000029' || fail "wrong rx/tx counts"
echo "PASS"
