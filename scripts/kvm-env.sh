#!/bin/sh
# Say where cellvm's KVM guests can run on this machine: prints one line,
# "native REASON" or "emulated REASON".
#   native:   /dev/kvm is usable and backed by hardware virtualization
#             (kvm_intel or kvm_amd): guests, their user space included, run here.
#   emulated: no usable hardware KVM; guests run inside the emulated KVM host
#             (scripts/kvm-host.sh: QEMU TCG with nested SVM).
# $CELLVM_KVM=native|emulated overrides the choice (auto by default).
# Inside the emulated host itself (CELLVM_KVM_HOST=emulated) the answer is native.
set -eu

case ${CELLVM_KVM:-auto} in
native) echo "native (CELLVM_KVM=native)"; exit 0 ;;
emulated) echo "emulated (CELLVM_KVM=emulated)"; exit 0 ;;
auto) ;;
*) echo "kvm-env: CELLVM_KVM must be native, emulated or auto" >&2; exit 2 ;;
esac

if [ "${CELLVM_KVM_HOST:-}" = emulated ] && [ -c /dev/kvm ]; then
	echo "native (inside the emulated KVM host)"
elif [ ! -c /dev/kvm ]; then
	echo "emulated (this machine has no /dev/kvm)"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "emulated (/dev/kvm is not readable and writable by $(id -un))"
elif [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
	echo "native (/dev/kvm with hardware virtualization)"
elif [ -d /sys/module/kvm_pvm ]; then
	# PVM runs guest ring 0 in KVM's instruction emulator and never lets
	# guest user space reach the guest kernel (docs/testing.md).
	echo "emulated (/dev/kvm here is kvm_pvm, a paravirtual nested KVM where guest user space cannot run)"
else
	echo "emulated (/dev/kvm without kvm_intel or kvm_amd)"
fi
