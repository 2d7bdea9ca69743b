#!/usr/bin/env bash
# cellvm run's SIGTERM presses the ACPI power button; a guest that does not
# listen (the serial_irq payload has no ACPI driver; with --no-acpi there is
# no ACPI at all) is ended at once, and cellvm run says why. (The listening
# guest, Debian's kernel powering off on KEY_POWER, is stock_kernel_acpi.)
. "$(dirname "$0")/lib.sh"
cellvm=$1 payload=$2
need_kvm
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
banner=$'irq: banner sent by THR-empty interrupts\n'
for acpi in "" --no-acpi; do
	# Fresh files: the last round's banner must not count for this one.
	rm -f "$tmp/in" "$tmp/out" "$tmp/err"
	mkfifo "$tmp/in"
	timeout 120 "$cellvm" run --kernel "$payload" $acpi <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	exec 3>"$tmp/in"
	wait_until 60 "$pid" has_text "$tmp/out" "$banner" || fail "no banner: $(cat "$tmp/out")"
	# To cellvm itself: timeout(1) would pass a SIGTERM on to its whole
	# process group, a second one.
	kill -TERM "$(pgrep -P "$pid" -x cellvm)" || fail "no cellvm process under $pid"
	wait "$pid"
	st=$?
	[ "$st" -ne 124 ] || fail "${acpi:-acpi}: cellvm run did not end after SIGTERM"
	pid=
	exec 3>&-
	cat "$tmp/err"
	grep -q "SIGTERM: pressing the ACPI power button" "$tmp/err" ||
		fail "${acpi:-acpi}: the button was not pressed"
	grep -q "does not listen to the ACPI power button" "$tmp/err" ||
		fail "${acpi:-acpi}: no word that the guest does not listen"
	echo "ok   ${acpi:-acpi}: SIGTERM pressed the button, the guest did not listen, status $st"
done
echo "PASS"
