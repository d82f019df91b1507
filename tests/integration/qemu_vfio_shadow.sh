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
pbuild=$(cd "$1" && pwd)
vfio_bin=$2

guest_lib_dir=$here
guest_modules="vfio_iommu_type1 vfio_pci"
guest_bins=$vfio_bin
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_deps integration qemu
# VIOMMU_QEMU: a QEMU built by qemu/build.sh for another key whose glue is ABI-compatible (the
# library is linked at run time), to skip a rebuild while another worktree holds the build lock.
it_qemu x86_64 "$pbuild" "${VIOMMU_QEMU:-}"
export VIOMMU_QEMU_STATS=1
it_work vfio-it
guest_prepare "$work" "$pbuild/tests/integration-cache" || exit 1

log=$work/vfio.console
start=$(date +%s)
timeout "${QEMU_TIMEOUT:-300}" "$qemu" -nodefaults -no-user-config -display none \
	-M q35 -accel tcg -smp 1 -m 256M \
	-device viommu-intel-iommu,intremap=off,caching-mode=on \
	-device edu \
	-kernel "$vmlinux" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off intel_iommu=on iommu.strict=1 viommu.tests=vfio" \
	-serial file:"$log" -no-reboot > "$work/vfio.qemu" 2>&1 &
qemu_pid=$!
it_qemu_wait "$start"
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
