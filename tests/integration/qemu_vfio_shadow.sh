#!/bin/sh
# Integration test: the shadow engine against a real VFIO type1 container. A Debian 12 guest (Linux
# 6.1) runs under QEMU with libviommu's VT-d in caching mode (viommu-intel-iommu); the guest binds
# QEMU's edu device to vfio-pci and runs tests/integration/vfio_shadow.c as an L1 VMM: its
# simulated L2 guest's mappings go through the engine into the guest kernel's container, the
# guest's intel-iommu programs our VT-d, and edu's DMA to L2 IOVAs is checked (guest-init.sh,
# viommu.tests=vfio).
# Usage: qemu_vfio_shadow.sh PROJECT_BUILD_DIR VFIO_SHADOW_BIN
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pbuild=$(cd "$1" && pwd)
vfio_bin=$2

"$root/scripts/deps.sh" integration qemu || {
	echo "FAIL: the test needs the packages above (run as root or install them)" >&2
	exit 1
}
# VIOMMU_QEMU: a QEMU built by qemu/build.sh for another key whose glue is ABI-compatible (the
# library is linked at run time), to skip a rebuild while another worktree holds the build lock.
if [ -n "${VIOMMU_QEMU:-}" ]; then
	qemu=$VIOMMU_QEMU
else
	qemu=$("$root/qemu/build.sh" "$pbuild" "$pbuild/qemu-viommu/qemu-system-x86_64" | tail -n 1) || {
		echo "FAIL: qemu/build.sh could not build QEMU" >&2
		exit 1
	}
fi
export LD_LIBRARY_PATH="$pbuild/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VIOMMU_QEMU_STATS=1

work=$(mktemp -d /tmp/viommu-vfio-it.XXXXXX)
qemu_pid=""
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2> /dev/null || true
	wait 2> /dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

guest_lib_dir=$here
guest_modules="vfio_iommu_type1 vfio_pci"
guest_bins=$vfio_bin
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
guest_prepare "$work" "$pbuild/tests/integration-cache" || exit 1

log=$work/vfio.console
timeout "${QEMU_TIMEOUT:-300}" "$qemu" -nodefaults -no-user-config -display none \
	-M q35 -accel tcg -smp 1 -m 256M \
	-device viommu-intel-iommu,intremap=off,caching-mode=on \
	-device edu \
	-kernel "$vmlinux" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off intel_iommu=on iommu.strict=1 viommu.tests=vfio" \
	-serial file:"$log" -no-reboot > "$work/vfio.qemu" 2>&1 &
qemu_pid=$!
qrc=0
wait "$qemu_pid" || qrc=$?
qemu_pid=""
tr -d '\r' < "$log" > "$log.txt"
grep -E "VIOMMU-TEST|vfio_shadow:" "$log.txt" || true
if grep -q "^VIOMMU-TEST \[.*\] PASS\$" "$log.txt"; then
	echo "PASS vfio: $(grep 'vfio ok' "$log.txt" | sed 's/.*vfio ok: //')"
	exit 0
fi
echo "FAIL vfio (QEMU exit $qrc):"
tail -n 40 "$log.txt"
tail -n 20 "$work/vfio.qemu"
exit 1
