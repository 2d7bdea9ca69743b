#!/bin/sh
# Check gpu: the console on virtio-gpu (fbcon on fb0) shows a known line for
# the host's screenshot, then cellvm-check-gpu draws a pattern and moves the
# cursor through DRM as the host asks (test/guest/guest_check.py, check gpu).
. /lib/check.sh
printf '\033[2J\033[HCELLVM DISPLAY CHECK: the guest console on virtio-gpu\n' >/dev/tty0
exec cellvm-check-gpu
