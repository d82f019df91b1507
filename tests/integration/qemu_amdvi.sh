#!/bin/sh
# Integration test: libviommu's AMD-Vi model inside QEMU (qemu/build.sh: Debian 12's qemu source
# package with the device viommu-amd-iommu; QEMU keeps generating IVRS), programmed by the
# unmodified Linux 6.1 amd_iommu driver of Debian 12's kernel. Modes strict, lazy, pt:
#   - the guest's AMD-Vi driver initialised from our extended feature register (its boot log
#     against the EFR the device reports), in the policy or default domain the mode asks for;
#   - virtio-net with QEMU's datapath (vhost off) on a `-netdev socket` TCP back-end whose peer
#     (net_reflect) swaps addresses: ping and pktgen with the payload checks of guest-init.sh;
#   - virtio-blk: an 8 MiB random pattern written, caches dropped, read back (page cache and
#     O_DIRECT); here the disk image must hold the same bytes;
#   - lazy: on viommu-amd-iommu,npcache=off: with NpCache Linux makes every domain strict, so
#     the devices' domains are checked to be DMA-FQ (strict: DMA);
#   - strict and lazy: QEMU's edu device DMAs from and to IOVAs nobody mapped; the guest's AMD-Vi
#     driver must report each as IO_PAGE_FAULT from our event log (with its MSI).
#
# v2-strict, v2-lazy: the same checks with bookworm-backports' 6.12 kernel (guest-lib.sh's bpo) and
# amd_iommu=pgtbl_v2 on viommu-amd-iommu,gt=on (EFR GTSup, GIoSup, GLXSup, PASmax; GATS 4 levels):
# the driver's DMA domains use v2 (x86-64) tables through GCR3 entry 0 with DTE GIoV, so every
# translation of the guest's devices is a guest (v2) walk; its boot log must say "V2 page table
# enabled (Paging mode : 4 level)".
#
# hwv-strict, hwv-lazy: the v2 modes' guest and checks on viommu-amd-iommu,gt=on,hwv=on: the guest
# gets a Guest ID of AMD's hardware-assisted vIOMMU (a host IOMMU model with VIOMMU_AMDVI_HWV inside
# the glue, which plays the host driver and the VMM): its control page trapped, its VF MMIO page,
# command buffer and event log handled by the "hardware", its DTE stores trapped through a write
# overlay on its device table and installed as nested DTEs (guest v2 over the VMM's v1 table), its
# devices translated under host DeviceIDs through the DeviceID map. QEMU's hwv statistics must show
# it: guest commands the hardware ran, trapped DTE stores installed without error, the provoked
# faults written to the guest's event log by the hardware, and guest interrupts. hwv-reboot:
# hwv-strict, then the guest reboots (QEMU's reset builds a new host side, Guest ID and write trap)
# and passes everything again.
#
# reboot: strict, then the guest reboots (QEMU resets the IOMMU: a fresh model, notifiers told) and
# passes everything again.
# vhost-strict, vhost-lazy, vhost-pt: qemu_vhost.sh's test (viommu-vhost --reflect with device-IOTLB
# (ATS), audit replay) on viommu-amd-iommu; vhost-noats-*: the same with ATS off. vhost-v2-strict,
# vhost-v2-lazy: the vhost test with ATS on the 6.12 guest with amd_iommu=pgtbl_v2 and gt=on
# (6.12 leaves ATS off there: UNMAP events serve the back-end); vhost-v2ats-strict,
# vhost-v2ats-lazy: the same with ppr=on (PPRSup, EPHSup), where 6.12 turns the device's ATS on
# and the back-end takes device-IOTLB invalidations.
#
# Usage: qemu_amdvi.sh PROJECT_BUILD NET_REFLECT VIOMMU_VHOST AUDIT_CHECK [MODE...]
#   modes: strict lazy pt reboot v2-strict v2-lazy vhost-strict vhost-lazy vhost-pt vhost-noats-strict
#   vhost-noats-lazy vhost-noats-pt vhost-v2-strict vhost-v2-lazy vhost-v2ats-strict
#   vhost-v2ats-lazy hwv-strict hwv-lazy hwv-reboot (default: all)
# KEEP_WORK=1 keeps the scratch folder; VIOMMU_TEST_FRAMES sets the pktgen frames per size;
# VIOMMU_QEMU names a QEMU binary to run instead of qemu/build.sh's.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pbuild=$(cd "$1" && pwd)
reflect_bin=$2
vhost_bin=$3
audit_check=$4
shift 4
[ $# -gt 0 ] || set -- strict lazy pt reboot v2-strict v2-lazy vhost-strict vhost-lazy vhost-pt \
	vhost-noats-strict vhost-noats-lazy vhost-noats-pt vhost-v2-strict vhost-v2-lazy \
	vhost-v2ats-strict vhost-v2ats-lazy hwv-strict hwv-lazy hwv-reboot
frames=${VIOMMU_TEST_FRAMES:-1000}

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_deps integration qemu
it_qemu x86_64 "$pbuild" "${VIOMMU_QEMU:-}"
export VIOMMU_QEMU_STATS=1
it_work qemu-amdvi

# Debian 12's 6.1 for the v1 modes, bookworm-backports' 6.12 (amd_iommu=pgtbl_v2) for the v2 ones.
need61=0
need612=0
for mode in "$@"; do
	case "$mode" in v2-* | vhost-v2-* | hwv-*) need612=1 ;; *) need61=1 ;; esac
done
if [ $need61 = 1 ]; then
	guest_prepare "$work" "$pbuild/tests/integration-cache" || exit 1
	vmlinux61=$vmlinux
	initrd61=$initrd
fi
if [ $need612 = 1 ]; then
	mkdir -p "$work/bpo"
	guest_kernel=bpo guest_prepare "$work/bpo" "$pbuild/tests/integration-cache" || exit 1
	vmlinux612=$vmlinux
	initrd612=$initrd
fi

# unit_stat NAME: one counter from the IOMMU's statistics line in QEMU's output.
unit_stat() {
	it_unit_stat viommu-amd-iommu "$1" "$qlog"
}

# hwv_stat NAME: one counter from the hwv=on statistics line (the guest's Guest ID).
hwv_stat() {
	it_unit_stat "viommu-amd-iommu hwv" "$1" "$qlog"
}

run_emulated() {
	mode=$1
	guest_mode_start "$mode" || return 1

	iommu="viommu-amd-iommu,intremap=off"
	edu=amd
	reboot=0
	vmlinux=${vmlinux61:-}
	initrd=${initrd61:-}
	case "$mode" in
	v2-*)
		iommu="$iommu,gt=on"
		vmlinux=$vmlinux612
		initrd=$initrd612
		;;
	hwv-*)
		iommu="$iommu,gt=on,hwv=on"
		vmlinux=$vmlinux612
		initrd=$initrd612
		;;
	esac
	# Linux makes every domain strict on an IOMMU with NpCache ("Using strict mode due to
	# virtualization"): the lazy modes drop NpCache (nothing here needs MAP/UNMAP consumers) so
	# that iommu.strict=0 gives flush-queue (DMA-FQ) domains.
	dtype=DMA
	case "$mode" in
	lazy | v2-lazy | hwv-lazy) iommu="$iommu,npcache=off"; dtype=DMA-FQ ;;
	esac
	case "$mode" in
	strict) append="iommu.strict=1"
		policy="DMA domain TLB invalidation policy: strict mode" ;;
	reboot) append="iommu.strict=1 viommu.reboot=1"; reboot=1
		policy="DMA domain TLB invalidation policy: strict mode" ;;
	lazy) append="iommu.strict=0"
		policy="DMA domain TLB invalidation policy: lazy mode" ;;
	v2-strict | hwv-strict) append="iommu.strict=1 amd_iommu=pgtbl_v2"
		policy="DMA domain TLB invalidation policy: strict mode" ;;
	hwv-reboot) append="iommu.strict=1 amd_iommu=pgtbl_v2 viommu.reboot=1"; reboot=1
		policy="DMA domain TLB invalidation policy: strict mode" ;;
	v2-lazy | hwv-lazy) append="iommu.strict=0 amd_iommu=pgtbl_v2"
		policy="DMA domain TLB invalidation policy: lazy mode" ;;
	pt) append="iommu=pt"; edu=0
		policy="Default domain type: Passthrough" ;;
	esac

	it_emulated "$iommu" "$append viommu.frames=$frames viommu.disk=1 viommu.edu=$edu viommu.iommulog=1" \
		"$reboot"

	ok=1
	it_boot_checks "$reboot"
	# The driver read our IOMMU: its extended features line must show the EFR the model reports.
	efr=$(sed -n 's/^viommu-amd-iommu: efr \([0-9a-f]*\)$/\1/p' "$qlog" | head -n 1)
	[ -n "$efr" ] || { echo "$mode: QEMU did not report the IOMMU's EFR"; ok=0; }
	grep -q "^VIOMMU-DMESG .*AMD-Vi: Extended features (0x$efr" "$log" ||
		{ echo "$mode: no AMD-Vi 'Extended features (0x$efr' line"; ok=0; }
	grep -q "^VIOMMU-DMESG .*$policy" "$log" || { echo "$mode: no '$policy' in the boot log"; ok=0; }
	if [ $edu = amd ]; then
		# The devices' domains are what the mode asks for (the policy line above comes before
		# the AMD-Vi driver, which may still make them strict).
		for dev in net blk; do
			grep -q "^VIOMMU-TEST \[.*\] $dev: .* type=$dtype\$" "$log" ||
				{ echo "$mode: the $dev device's domain is not $dtype"; ok=0; }
		done
	fi
	case "$mode" in
	v2-* | hwv-*)
		# The driver took the v2 tables (no "Fallback to v1") with 4-level guest tables: GATS
		# says 4 levels, whatever the guest CPU's LA57. Its DTEs then have Mode 0 with IR and
		# IW besides GIoV, so the edu faults and intact payloads below need the v2 walk (a DTE
		# read as Mode 0 alone would pass every DMA untranslated).
		grep -q "^VIOMMU-DMESG .*AMD-Vi: V2 page table enabled (Paging mode : 4 level)" "$log" ||
			{ echo "$mode: the driver did not enable v2 page tables"; ok=0; }
		;;
	esac
	grep -q "^VIOMMU-DMESG .*AMD-Vi: Interrupt remapping" "$log" ||
		grep -q "^VIOMMU-DMESG .*Adding to iommu group" "$log" ||
		{ echo "$mode: the AMD-Vi driver put no device in an IOMMU group"; ok=0; }
	it_dma_checks viommu-amd-iommu
	if [ $edu = amd ]; then
		n=$(grep -c "^VIOMMU-TEST \[.*\] fault ok:" "$log" || true)
		nf=2
		[ "$reboot" = 0 ] || nf=4
		[ "$n" = $nf ] || { echo "$mode: $n of $nf faults reported by the guest"; ok=0; }
		if [ "${mode#hwv-}" = "$mode" ]; then
			rec=$(unit_stat events_logged)
			[ "${rec:-0}" -ge 2 ] || { echo "$mode: the IOMMU logged ${rec:-0} events"; ok=0; }
		fi
	fi
	case "$mode" in
	hwv-*)
		# The hardware path ran: the guest's commands executed by the IOMMU (no exit), its DTE
		# stores trapped and every one installed, the edu faults written by the hardware to
		# the guest's event log with its interrupt, nothing refused or lost.
		for c in direct_cmds direct_doorbells completion_waits trapped_dte dt_writes guest_irqs; do
			n=$(hwv_stat $c)
			[ "${n:-0}" -gt 0 ] || { echo "$mode: hwv $c=${n:-none}"; ok=0; }
		done
		# No host-stage fault (the host's log is not set up: they would count as lost), so
		# the firmware's DMA before the guest's driver, too, reached guest memory.
		n=$(unit_stat events_lost)
		[ "${n:-1}" -eq 0 ] || { echo "$mode: ${n:-?} host-stage events"; ok=0; }
		n=$(hwv_stat direct_events)
		[ "${n:-0}" -ge 2 ] || { echo "$mode: the hardware wrote ${n:-0} guest events"; ok=0; }
		for c in dt_trap_errors cmd_errors hw_errors events_lost; do
			n=$(hwv_stat $c)
			[ "${n:-1}" -eq 0 ] || { echo "$mode: hwv $c=${n:-none}"; ok=0; }
		done
		;;
	esac

	grep "VIOMMU-TEST" "$log" | sed "s/^/  [$mode] /"
	grep "VIOMMU-DMESG.*AMD-Vi" "$log" | sed "s/^/  [$mode] /"
	echo "  [$mode] $(cat "$rlog")"
	echo "  [$mode] $(grep 'viommu-amd-iommu stats' "$qlog" | tail -n 1)"
	grep 'viommu-amd-iommu hwv stats' "$qlog" | tail -n 1 | sed "s/^/  [$mode] /"
	it_verdict "QEMU output (with the unit's statistics) and reflector"
}

# run_vhost ATS MODE...: qemu_vhost.sh's modes on our IOMMU, with ATS on (INVALIDATE_IOTLB_PAGES
# reaches the back-end as device-IOTLB invalidations) or off (the NpCache sync's UNMAP events do;
# QEMU 7.2's own amd-iommu sends none at all).
run_vhost() {
	ats=$1
	shift
	tag=vhost
	dev="viommu-amd-iommu,intremap=off,device-iotlb=on"
	counter=notify_dev_iotlb
	gk=debian
	gappend=""
	if [ "$ats" = off ]; then
		tag=vhost-noats
		dev="viommu-amd-iommu,intremap=off"
		counter=notify_unmap
	elif [ "$ats" = v2 ]; then
		# 6.12 with v2 tables: its INVALIDATE_IOTLB_PAGES carry GN = 1 with PASID 0 (the GIoV
		# address space), which must reach the back-end as no-PASID invalidations.
		ats=on
		tag=vhost-v2
		dev="$dev,gt=on"
		gk=bpo
		gappend=amd_iommu=pgtbl_v2
		# 6.12 leaves the device's ATS off behind viommu-amd-iommu (no INVALIDATE_IOTLB_PAGES
		# at all, with v1 tables too: it reads ATS capabilities only with EFR GT, GIoSup, PPR
		# and EPHSup): vhost then takes UNMAP notifications from the NpCache sync.
		counter=notify_unmap
	elif [ "$ats" = v2ats ]; then
		# 6.12 with v2 tables and ATS: ppr=on adds PPRSup and EPHSup, so with gt=on the
		# driver reads the device's ATS capability and sends INVALIDATE_IOTLB_PAGES (GN = 1,
		# PASID 0), which must reach the back-end as device-IOTLB invalidations.
		ats=on
		tag=vhost-v2ats
		dev="$dev,gt=on,ppr=on"
		gk=bpo
		gappend=amd_iommu=pgtbl_v2
		# ATS needs no MAP/UNMAP consumer, so lazy runs without NpCache (which would make
		# Linux force strict) and is a real flush-queue (DMA-FQ) domain.
		[ "$*" != lazy ] || dev="$dev,npcache=off"
	fi
	echo "$tag modes: $* (qemu_vhost.sh on $dev${gappend:+, $gappend})"
	vrc=0
	GUEST_QEMU=$qemu GUEST_IOMMU=$dev GUEST_ATS=$ats GUEST_APPEND=$gappend guest_kernel=$gk \
		"$here/qemu_vhost.sh" "$vhost_bin" "$audit_check" "$@" > "$work/$tag.out" 2>&1 || vrc=1
	cat "$work/$tag.out"
	# The back-end's invalidations came from our unit, through QEMU's IOMMU notifiers.
	it_vhost_counters "$tag" viommu-amd-iommu "$counter" "$work/$tag.out" "$@" || vrc=1
	return $vrc
}

rc=0
vhost_modes=""
noats_modes=""
v2_modes=""
v2ats_modes=""
for mode in "$@"; do
	case "$mode" in
	strict | lazy | pt | reboot | v2-strict | v2-lazy | hwv-*) run_emulated "$mode" || rc=1 ;;
	vhost-noats-strict | vhost-noats-lazy | vhost-noats-pt) noats_modes="$noats_modes ${mode#vhost-noats-}" ;;
	vhost-v2-strict | vhost-v2-lazy) v2_modes="$v2_modes ${mode#vhost-v2-}" ;;
	vhost-v2ats-strict | vhost-v2ats-lazy) v2ats_modes="$v2ats_modes ${mode#vhost-v2ats-}" ;;
	vhost-strict | vhost-lazy | vhost-pt) vhost_modes="$vhost_modes ${mode#vhost-}" ;;
	*) echo "unknown mode $mode" >&2; rc=1 ;;
	esac
done
# shellcheck disable=SC2086
[ -z "$vhost_modes" ] || run_vhost on $vhost_modes || rc=1
# shellcheck disable=SC2086
[ -z "$noats_modes" ] || run_vhost off $noats_modes || rc=1
# shellcheck disable=SC2086
[ -z "$v2_modes" ] || run_vhost v2 $v2_modes || rc=1
for mode in $v2ats_modes; do
	run_vhost v2ats "$mode" || rc=1
	# The lazy one is a flush-queue domain (no NpCache), the strict one not.
	want=DMA
	[ "$mode" != lazy ] || want=DMA-FQ
	got=$(grep "^  \[$mode\] VIOMMU-TEST .* net: " "$work/vhost-v2ats.out" |
		sed -n 's/.* type=\([A-Za-z-]*\).*/\1/p' | tail -n 1)
	[ "$got" = "$want" ] ||
		{ echo "FAIL vhost-v2ats-$mode: the device's domain is ${got:-unknown}, not $want"; rc=1; }
done
exit $rc
