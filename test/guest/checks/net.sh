#!/bin/sh
# Check net: the guest (address from ip=) pings the host cellvm.host and
# fetches http://cellvm.host:cellvm.port/blob from the server the test runs
# on the tap; prints the size and CRC-32 of what it got for the host to compare.
. /lib/check.sh
exec cellvm-check-net "$(arg host)" "$(arg port)" /blob
