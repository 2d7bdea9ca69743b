#!/bin/sh
# Check clock: a periodic timer (cellvm.clock_period_ms, 100 by default) on
# the guest's CLOCK_MONOTONIC, one console line per wake-up, until the host
# writes a line on the console (or cellvm.clock_ticks wake-ups); the host
# pauses and resumes the VM meanwhile (test/broker/pause.py). Then, with
# cellvm.blk_bytes, the blk check on /dev/vda, and with cellvm.host, the net
# check: the disk and the NIC work after the resume.
. /lib/check.sh
cellvm-check-clock "$(arg clock_period_ms)" "$(arg clock_ticks)" || exit $?
if [ -n "$(arg blk_bytes)" ]; then
	cellvm-check-blk /dev/vda "$(arg blk_bytes)" "$(arg seed)" 0 || exit $?
fi
[ -z "$(arg host)" ] || exec cellvm-check-net "$(arg host)" "$(arg port)" /blob
