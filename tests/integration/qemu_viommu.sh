#!/bin/sh
# Integration test: libviommu's VT-d model inside QEMU (qemu/build.sh: Debian 12's qemu source
# package with the device viommu-intel-iommu), programmed by the unmodified Linux 6.1 intel-iommu
# driver of Debian 12's kernel.
#
# Emulated-device modes (strict, lazy, pt): QEMU's own device models DMA through our model:
#   - the guest's DMAR driver initialised from our CAP/ECAP (its boot log against the unit's),
#     in the invalidation policy or default domain the mode asks for;
#   - virtio-net with QEMU's datapath (vhost off) on a `-netdev socket` TCP back-end whose peer
#     (net_reflect) swaps addresses: ping and pktgen with the payload checks of guest-init.sh;
#   - virtio-blk: an 8 MiB random pattern written, caches dropped, read back (page cache and
#     O_DIRECT); here the disk image must hold the same bytes;
#   - strict and lazy: QEMU's edu device DMAs from and to IOVAs nobody mapped; the guest's DMAR
#     fault handler must report each with the right reason code (from our fault recording
#     registers and fault event MSI).
# reboot: strict, then the guest reboots (QEMU resets the unit: a fresh model, notifiers told) and
# passes everything again.
# vhost-user modes (vhost-strict, vhost-lazy, vhost-pt): qemu_vhost.sh's test (viommu-vhost
# --reflect with device-IOTLB/ATS, audit replay) with our model instead of QEMU's intel-iommu:
# our invalidations reach the back-end through QEMU's IOMMU notifiers. vhost-noats-strict,
# vhost-noats-lazy, vhost-noats-pt: the same with ATS off (UNMAP notifiers instead).
#
# Usage: qemu_viommu.sh PROJECT_BUILD NET_REFLECT VIOMMU_VHOST AUDIT_CHECK [MODE...]
#   modes: strict lazy pt reboot vhost-strict vhost-lazy vhost-pt vhost-noats-strict vhost-noats-lazy
#   vhost-noats-pt (default: all)
# Builds (or finds cached) QEMU through qemu/build.sh; installs what it needs through
# scripts/deps.sh (as root) and fails, loudly, when it cannot. KEEP_WORK=1 keeps the scratch
# folder; VIOMMU_TEST_FRAMES sets the pktgen frames per size.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pbuild=$(cd "$1" && pwd)
reflect_bin=$2
vhost_bin=$3
audit_check=$4
shift 4
[ $# -gt 0 ] || set -- strict lazy pt reboot vhost-strict vhost-lazy vhost-pt vhost-noats-strict \
	vhost-noats-lazy vhost-noats-pt
frames=${VIOMMU_TEST_FRAMES:-1000}

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_deps integration qemu
it_qemu x86_64 "$pbuild"
export VIOMMU_QEMU_STATS=1
it_work qemu-it

guest_prepare "$work" "$(cd "$(dirname "$audit_check")" && pwd)/integration-cache" || exit 1

run_emulated() {
	mode=$1
	guest_mode_start "$mode" || return 1

	# strict also runs with caching mode, so the driver flushes on every map as VFIO needs.
	iommu="viommu-intel-iommu,intremap=off"
	edu=1
	reboot=0
	case "$mode" in
	strict) append="intel_iommu=on iommu.strict=1"; iommu="$iommu,caching-mode=on"
		policy="DMA domain TLB invalidation policy: strict mode" ;;
	reboot) append="intel_iommu=on iommu.strict=1 viommu.reboot=1"; reboot=1
		iommu="$iommu,caching-mode=on"
		policy="DMA domain TLB invalidation policy: strict mode" ;;
	lazy) append="intel_iommu=on iommu.strict=0"
		policy="DMA domain TLB invalidation policy: lazy mode" ;;
	pt) append="intel_iommu=on iommu=pt"; edu=0
		policy="Default domain type: Passthrough" ;;
	esac

	it_emulated "$iommu" "$append viommu.frames=$frames viommu.disk=1 viommu.edu=$edu viommu.iommulog=1" \
		"$reboot"

	ok=1
	it_boot_checks "$reboot"
	# The driver read our unit: its CAP/ECAP line must be the one the unit reports.
	unit=$(sed -n 's/^viommu-intel-iommu: \(cap [0-9a-f]* ecap [0-9a-f]*\)$/\1/p' "$qlog" | head -n 1)
	[ -n "$unit" ] || { echo "$mode: QEMU did not report the unit's CAP/ECAP"; ok=0; }
	grep -q "^VIOMMU-DMESG .*DMAR: dmar0: reg_base_addr fed90000 ver [0-9]*:[0-9]* $unit\$" "$log" ||
		{ echo "$mode: no DMAR driver line with '$unit'"; ok=0; }
	grep -q "^VIOMMU-DMESG .*$policy" "$log" || { echo "$mode: no '$policy' in the boot log"; ok=0; }
	grep -q "^VIOMMU-DMESG .*DMAR: Intel(R) Virtualization Technology for Directed I/O" "$log" ||
		{ echo "$mode: the DMAR driver did not finish initialising"; ok=0; }
	it_dma_checks viommu-intel-iommu
	if [ $edu = 1 ]; then
		n=$(grep -c "^VIOMMU-TEST \[.*\] fault ok:" "$log" || true)
		nf=2
		[ "$reboot" = 0 ] || nf=4
		[ "$n" = $nf ] || { echo "$mode: $n of $nf faults reported by the guest"; ok=0; }
		rec=$(it_unit_stat viommu-intel-iommu faults_recorded "$qlog")
		[ "${rec:-0}" -ge 2 ] || { echo "$mode: the unit recorded ${rec:-0} faults"; ok=0; }
	fi

	grep "VIOMMU-TEST" "$log" | sed "s/^/  [$mode] /"
	grep "VIOMMU-DMESG.*DMAR: dmar0" "$log" | sed "s/^/  [$mode] /"
	echo "  [$mode] $(cat "$rlog")"
	echo "  [$mode] $(grep 'viommu-intel-iommu stats' "$qlog" | tail -n 1)"
	it_verdict "QEMU output (with the unit's statistics) and reflector"
}

# run_vhost ATS MODE...: qemu_vhost.sh's modes on our unit, with ATS on (device-IOTLB
# invalidations reach the back-end) or off (the unit's UNMAP events do; QEMU 7.2's own
# intel-iommu misses some in lazy mode, see the README).
run_vhost() {
	ats=$1
	shift
	tag=vhost
	dev="viommu-intel-iommu,intremap=off,device-iotlb=on"
	counter=notify_dev_iotlb
	if [ "$ats" = off ]; then
		tag=vhost-noats
		dev="viommu-intel-iommu,intremap=off"
		counter=notify_unmap
	fi
	echo "$tag modes: $* (qemu_vhost.sh on $dev)"
	vrc=0
	GUEST_QEMU=$qemu GUEST_IOMMU=$dev GUEST_ATS=$ats \
		"$here/qemu_vhost.sh" "$vhost_bin" "$audit_check" "$@" > "$work/$tag.out" 2>&1 || vrc=1
	cat "$work/$tag.out"
	# The back-end's invalidations came from our unit, through QEMU's IOMMU notifiers.
	it_vhost_counters "$tag" viommu-intel-iommu "$counter" "$work/$tag.out" "$@" || vrc=1
	return $vrc
}

rc=0
vhost_modes=""
noats_modes=""
for mode in "$@"; do
	case "$mode" in
	strict | lazy | pt | reboot) run_emulated "$mode" || rc=1 ;;
	vhost-noats-strict | vhost-noats-lazy | vhost-noats-pt) noats_modes="$noats_modes ${mode#vhost-noats-}" ;;
	vhost-strict | vhost-lazy | vhost-pt) vhost_modes="$vhost_modes ${mode#vhost-}" ;;
	*) echo "unknown mode $mode" >&2; rc=1 ;;
	esac
done
# shellcheck disable=SC2086
[ -z "$vhost_modes" ] || run_vhost on $vhost_modes || rc=1
# shellcheck disable=SC2086
[ -z "$noats_modes" ] || run_vhost off $noats_modes || rc=1
exit $rc
