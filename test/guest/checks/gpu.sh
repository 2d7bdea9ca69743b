#!/bin/sh
# Check gpu: the console on virtio-gpu (fbcon on fb0) shows a known line for
# the host's screenshot, then cellvm-check-gpu draws a pattern and moves the
# cursor through DRM as the host asks (test/guest/guest_check.py, check gpu).
# With cellvm.gpu_input=N, the evdev reader (cellvm-check-input, N devices)
# runs beside it and prints what a viewer types and clicks.
. /lib/check.sh
printf '\033[2J\033[HCELLVM DISPLAY CHECK: the guest console on virtio-gpu\n' >/dev/tty0
n=$(arg gpu_input)
if [ -n "$n" ]; then
	cellvm-check-input "$n" 88 &
fi
exec cellvm-check-gpu
