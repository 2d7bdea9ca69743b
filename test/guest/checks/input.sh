#!/bin/sh
# Check input: print every evdev event the guest's drivers report until the
# host presses KEY_F12 (test/guest/guest_check.py plays the other side).
. /lib/check.sh
exec cellvm-check-input
