#!/bin/sh
# /init of the test guest (test/guest): mounts the kernel file systems, runs
# the check named by cellvm.check= on the kernel command line with a time
# limit (cellvm.limit=, seconds), prints one result line on the console
#   CELLVM-CHECK <name> pass|fail status=<n>
# and powers the VM off. Checks print their own CELLVM-DATA lines. Other
# cellvm.* words are the checks' parameters (/lib/check.sh: arg NAME).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
. /lib/check.sh
name=$(arg check)
limit=$(arg limit)
echo "CELLVM-CHECK-START ${name:-none}"
if [ -n "$name" ] && [ -x "/checks/$name" ]; then
	timeout "${limit:-120}" "/checks/$name" </dev/console
	st=$?
else
	echo "test guest: no check named '$name' (cellvm.check=)"
	st=127
fi
if [ "$st" -eq 0 ]; then res=pass; else res=fail; fi
echo "CELLVM-CHECK $name $res status=$st"
cellvm-poweroff
# Only when the power-off port did not work: halting with interrupts off
# makes cellvm end the VM with status 5, which the host reports.
poweroff -f
