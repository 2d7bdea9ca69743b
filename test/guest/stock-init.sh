#!/bin/sh
# /init of the stock-kernel guest (scripts/guest/mkstock.sh): Debian's own
# kernel, whose drivers for virtio-pci, virtio-blk, the ACPI power button and
# evdev are modules. Mounts the kernel file systems, loads the modules in
# their dependency order (modules.dep), then runs cellvm-acpi-probe, which
# prints what the kernel found and acts on cellvm.action= (button, poweroff,
# reboot, none). Should the probe return, the VM is powered off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "CELLVM-STOCK-START $(uname -r)"
for m in $(cat /lib/modules/load-order); do
	insmod "/lib/modules/$m.ko" || echo "CELLVM-MODULE-ERROR $m"
done
cellvm-acpi-probe
echo "CELLVM-STOCK-END status=$?"
sync
poweroff -f
