#!/bin/sh
# Integration test: the shadow engine against a real VFIO type1 container. A Debian 12 guest (Linux
# 6.1) runs under QEMU with one of libviommu's IOMMUs (L1's); the guest binds QEMU's edu device to
# vfio-pci and runs tests/integration/vfio_shadow.c as an L1 VMM: its simulated L2 guest's
# mappings (L2's vIOMMU: a libviommu unit programmed through the guest-driver library) go through
# the engine into the guest kernel's container, the guest's IOMMU driver programs our unit in
# QEMU, and edu's DMA to L2 IOVAs is checked (guest-init.sh, viommu.tests=vfio): data in the right
# L2 pages both ways, an unmapped IOVA blocked, VFIO calls = maximal contiguous ranges changed.
# Here: the guest's IOMMU driver reported the blocked DMA (its L1 IOVA is L2's), and QEMU's
# statistics of our unit show that it ran the driver's invalidations and translated edu's DMA.
#
# MODE is L1[-L2], each vtd or amdvi (L2 defaults to L1):
#   vtd: L1 viommu-intel-iommu,caching-mode=on (intel_iommu=on), L2 VT-d in caching mode;
#   amdvi: L1 viommu-amd-iommu (NpCache on: the 6.1 amd_iommu driver invalidates after every map,
#     its domains are strict), L2 AMD-Vi with NpCache, whose INVALIDATE_IOMMU_PAGES the model
#     turns into the MAP/UNMAP events the engine consumes (issue 19);
#   vtd-amdvi, amdvi-vtd: the mixes.
# Usage: qemu_vfio_shadow.sh PROJECT_BUILD_DIR VFIO_SHADOW_BIN [MODE...]   (default: vtd)
# VIOMMU_QEMU: a QEMU built by qemu/build.sh for another key whose glue is ABI-compatible (the
# library is linked at run time), to skip a rebuild while another worktree holds the build lock.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pbuild=$(cd "$1" && pwd)
vfio_bin=$2
shift 2
[ $# -gt 0 ] || set -- vtd

guest_lib_dir=$here
guest_modules="vfio_iommu_type1 vfio_pci"
guest_bins=$vfio_bin
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_deps integration qemu
it_qemu x86_64 "$pbuild" "${VIOMMU_QEMU:-}"
export VIOMMU_QEMU_STATS=1
it_work vfio-it
guest_prepare "$work" "$pbuild/tests/integration-cache" || exit 1

# The DMA vfio_shadow.c lets edu write to an IOVA L2 unmapped (IOVA + 66 pages): the engine
# maps L2 IOVAs 1:1 into the container, so L1's IOMMU faults at the same address.
blocked=142000

# stat NAME: one counter from the statistics line of our unit ($unit) in QEMU's output.
stat() {
	sed -n "s/.*$unit stats:.* $1=\([0-9]*\).*/\1/p" "$qlog" | tail -n 1
}

run_mode() {
	mode=$1
	l1=${mode%%-*}
	l2=${mode#*-}
	log=$work/$mode.console
	qlog=$work/$mode.qemu
	case "$l1" in
	vtd)
		unit=viommu-intel-iommu
		iommu=viommu-intel-iommu,intremap=off,caching-mode=on
		append=intel_iommu=on
		fault="DMAR: \[DMA Write.*fault addr 0x$blocked "
		# Counters that must be positive, and that must be 0.
		pos="translations qi_wait inv_iotlb_page faults_recorded"
		zero="qi_errors"
		;;
	amdvi)
		unit=viommu-amd-iommu
		iommu=viommu-amd-iommu,intremap=off
		append=""
		fault="AMD-Vi: Event logged \[IO_PAGE_FAULT domain=0x[0-9a-f]* address=0x$blocked flags=0x0020\]"
		pos="translations cmd_completion_wait cmd_inv_pages events_logged"
		# (Not events_lost: QEMU retries a failed DMA in 4-byte pieces, each a fault: edu's
		# 2048 bytes overflow the 512-entry event log, as they would on hardware.)
		zero="cmd_errors"
		;;
	*) echo "unknown mode $mode" >&2; return 1 ;;
	esac
	case "$l2" in vtd | amdvi) ;; *) echo "unknown mode $mode" >&2; return 1 ;; esac

	start=$(date +%s)
	timeout "${QEMU_TIMEOUT:-300}" "$qemu" -nodefaults -no-user-config -display none \
		-M q35 -accel tcg -smp 1 -m 256M \
		-device "$iommu" \
		-device edu \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off $append iommu.strict=1 viommu.tests=vfio viommu.vfiol2=$l2" \
		-serial file:"$log" -no-reboot > "$qlog" 2>&1 &
	qemu_pid=$!
	it_qemu_wait "$start"
	# The serial console ends its lines with CR LF.
	tr -d '\r' < "$log" > "$log.txt"
	log=$log.txt

	ok=1
	grep -q "^VIOMMU-TEST \[.*\] PASS\$" "$log" || { echo "$mode: the guest did not pass"; ok=0; }
	grep -q "^VIOMMU-TEST \[.*\] vfio ok: VFIO-SHADOW PASS l2=$l2 " "$log" ||
		{ echo "$mode: no vfio_shadow pass with L2 $l2"; ok=0; }
	[ "$qrc" -eq 0 ] || { echo "$mode: qemu exit status $qrc"; ok=0; }
	grep -q "^VIOMMU-DMESG .*$fault" "$log" ||
		{ echo "$mode: the guest's IOMMU driver did not report the DMA to 0x$blocked"; ok=0; }
	for c in $pos; do
		n=$(stat "$c")
		[ "${n:-0}" -gt 0 ] || { echo "$mode: $unit $c=${n:-none}"; ok=0; }
	done
	for c in $zero; do
		n=$(stat "$c")
		[ "${n:-1}" -eq 0 ] || { echo "$mode: $unit $c=${n:-none}"; ok=0; }
	done

	grep -E "VIOMMU-TEST|vfio_shadow:|VIOMMU-DMESG" "$log" | sed "s/^/  [$mode] /"
	echo "  [$mode] $(grep "$unit stats:" "$qlog" | tail -n 1)"
	rlog=/dev/null
	it_verdict "QEMU output (with the unit's statistics)"
}

rc=0
for mode in "$@"; do
	run_mode "$mode" || rc=1
done
exit $rc
