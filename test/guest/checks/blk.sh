#!/bin/sh
# Check blk: the pattern written over the first cellvm.blk_bytes of /dev/vda
# (O_DIRECT, flushed) reads back; cellvm.blk_pause=1 stops halfway for a line
# on the console (the host restarts the device process meanwhile).
. /lib/check.sh
exec cellvm-check-blk /dev/vda "$(arg blk_bytes)" "$(arg seed)" "$(arg blk_pause)"
