#!/bin/sh
# Check input: print every evdev event the guest's drivers report until the
# host presses KEY_F12 (test/guest/guest_check.py plays the other side).
. /lib/check.sh
# Then, quiet, until KEY_F11: the host's SysRq checks print the kernel's
# own lines, which must not land inside event lines.
cellvm-check-input "$(arg input_devices)" 88 && exec cellvm-check-input 0 87 quiet
