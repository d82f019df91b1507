#!/bin/sh
# Integration test: libviommu's Arm SMMUv3 model inside qemu-system-aarch64 (qemu/build.sh: Debian
# 12's qemu source package; `-M virt,iommu=viommu-smmuv3` creates the device viommu-smmuv3 where
# iommu=smmuv3 creates QEMU's own, with the same device tree), programmed by the unmodified
# arm-smmu-v3 driver of Debian 12's arm64 kernel (6.1, fetched as a Debian package by
# guest-lib.sh), under TCG with -cpu max. In each mode:
#   - the driver probed the SMMU from our ID registers: its "ias/oas ... (features 0x...)" line
#     against the IDR0/IDR3/IDR5 values QEMU printed (stage 1, 2-level stream table, range
#     invalidation, OAS), and the tested devices sit in IOMMU groups of the mode's domain type;
#   - virtio-net with QEMU's datapath (vhost off) on a `-netdev socket` TCP back-end whose peer
#     (net_reflect) swaps addresses: ping and pktgen with the payload checks of guest-init.sh;
#   - virtio-blk: an 8 MiB random pattern written, caches dropped, read back (page cache and
#     O_DIRECT); here the disk image must hold the same bytes;
#   - QEMU's edu device (bound to pci-stub, so that Linux attaches it to a DMA domain) DMAs from
#     and to IOVAs nobody mapped: the guest must find the arm-smmu-v3 driver's report of each
#     F_TRANSLATION record (StreamID, address, RnW) read from the event queue.
# Modes:
#   strict, lazy            viommu-smmuv3, iommu.strict=1 (domain DMA) / iommu.strict=0 (DMA-FQ)
#   reboot                  viommu-smmuv3, strict: the guest passes, reboots (QEMU's system reset
#                           makes a fresh model) and passes again
#   qemu-strict, qemu-lazy  QEMU's own smmuv3 in the same binary: the baseline (the harness and
#                           the guest work without our model; the patch keeps QEMU's device)
#   vhost-strict, vhost-lazy  viommu-smmuv3 with the virtio-net on a vhost-user netdev served by
#                           viommu-vhost --reflect (net checks only): QEMU's IOMMU notifiers carry
#                           the model's UNMAP events (from the driver's TLBIs) to the back-end as
#                           IOTLB invalidations, its misses come back as translations; the
#                           back-end's audit log shows no translation used after its invalidation
#   ats-strict, ats-lazy    the vhost modes with the virtio-net behind a PCIe root port with
#                           ats=on: the patched virt machine says "ats-supported" on its PCIe
#                           host node when iommu=viommu-smmuv3, so the driver (IDR0.ATS) enables
#                           the device's ATS and STE.EATS, and each unmap ends with CMD_ATC_INV;
#                           QEMU then registers vhost's notifier for device-IOTLB invalidations
#                           only. Proof: the model ran ATC_INV commands, sent DEVIOTLB_UNMAP
#                           events, and the back-end received IOTLB invalidations (its audit
#                           replay shows none used after its invalidation), and no UNMAP event
#                           reached it. These modes boot bookworm-backports' 6.12 arm64 kernel:
#                           6.1 reads ATS support only from ACPI's IORT, the device tree's
#                           "ats-supported" since 6.10
#   two                     two SMMUs, one per host bridge (strict): virt,x-viommu-pcie2=on,
#                           acpi=off (patch 0006) adds a second generic PCIe host bridge, PCI
#                           domain 1 with root bus pcie.1 and its own ECAM, windows and INTx SPIs,
#                           whose iommu-map names a second viommu-smmuv3 (another libviommu
#                           instance, its own registers, SPIs and device-tree node, primary bus
#                           pcie.1). The virtio-net sits on pcie.0, the virtio-blk and the edu on
#                           pcie.1 (the disk and the NIC have the same StreamID, 8, each on its
#                           own SMMU). Checked besides the usual: both SMMUs' "ias ... oas" lines
#                           against our IDRs, each device in its bridge's PCI domain and attached
#                           to that bridge's SMMU only (the guest's sysfs), the edu's two fault
#                           records read from the second SMMU's event queue, and per instance
#                           (QEMU's exit statistics, tagged with the primary bus): translations
#                           and TLBIs on both, events logged only by pcie.1's, and the functions
#                           each translated for (pcie.0's: the virtio-net only; pcie.1's: the
#                           virtio-blk and the edu, whose DMAs it blocked)
#
# Usage: qemu_smmuv3.sh PROJECT_BUILD NET_REFLECT [MODE...]   (default: strict lazy reboot
#   vhost-strict vhost-lazy ats-strict ats-lazy qemu-strict two; viommu-vhost and audit_check come from PROJECT_BUILD)
#   VIOMMU_QEMU_AARCH64=path  a qemu-system-aarch64 to use instead of qemu/build.sh's
#   VIOMMU_SMMUV3_GUEST=arm64-bpo  the other modes on the 6.12 guest too (default arm64: 6.1)
#   VIOMMU_TEST_FRAMES (pktgen frames per size, default 500), KEEP_WORK=1 keeps the scratch folder.
# Exit 77 (skip) only when this libviommu has no SMMUv3 model (no <viommu/smmuv3.h>): the QEMU
# device cannot be built. Anything else that goes wrong fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pbuild=$(cd "$1" && pwd)
reflect_bin=$2
shift 2
[ $# -gt 0 ] || set -- strict lazy reboot vhost-strict vhost-lazy ats-strict ats-lazy qemu-strict two
frames=${VIOMMU_TEST_FRAMES:-500}
vhost_bin=$pbuild/vhost/viommu-vhost
audit_check=$pbuild/tests/audit_check

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_skip_without smmuv3.h "SMMUv3 model"
it_deps integration qemu
it_qemu aarch64 "$pbuild" "${VIOMMU_QEMU_AARCH64:-}"
export VIOMMU_QEMU_STATS=1
it_work qemu-smmuv3

# arm-smmu-v3 is built into Debian's arm64 kernel; the rest are modules.
guest_modules="virtio_pci virtio_net virtio_blk pktgen pci_stub"
# guest_use KERNEL: prepare the guest with Debian's arm64 kernel (arm64: 6.1; arm64-bpo: 6.12,
# for the ats-* modes) unless it is the one prepared last; sets vmlinux and initrd.
guest_cur=""
guest_use() {
	[ "$guest_cur" != "$1" ] || return 0
	guest_kernel=$1
	gu_t0=$(date +%s)
	guest_prepare "$work" "$pbuild/tests/integration-cache" || return 1
	guest_cur=$1
	echo "guest: Debian arm64 kernel $kver, modules: $(tr '\n' ' ' < "$work/initramfs/lib/modules/order")($(($(date +%s) - gu_t0)) s)"
}

# unit_stat NAME FILE [BUS]: one counter from the SMMU's statistics line in QEMU's output (the
# instance whose primary bus is BUS, e.g. pcie.1; default: the last line printed).
unit_stat() {
	it_unit_stat viommu-smmuv3 "$1" "$2" "${3:-}"
}

# check_features MODE CONSOLE QEMU_LOG [DEVICE]: the driver's view of the SMMU (the one named
# DEVICE in the kernel log, e.g. 90c0000.smmuv3; default: the first) against our ID registers.
# Linux 6.1 prints "ias N-bit, oas N-bit (features 0x...)"; its feature bits 0 (2-level stream
# table), 9 (stage 1), 10 (stage 2) and 15 (range invalidation) come straight from IDR0.ST_LEVEL,
# IDR0.S1P, IDR0.S2P and IDR3.RIL, and oas from IDR5.OAS.
check_features() {
	cf_line=$(sed -n "s/^VIOMMU-DMESG .*arm-smmu-v3${4:+ $4:}.*\(ias [0-9]*-bit, oas [0-9]*-bit (features 0x[0-9a-f]*)\).*/\1/p" "$2" | head -n 1)
	[ -n "$cf_line" ] || { echo "$1: no arm-smmu-v3${4:+ $4} 'ias ... oas ... (features ...)' line"; return 1; }
	cf_idr=$(sed -n 's/^viommu-smmuv3: idr0 \([0-9a-f]*\) idr1 [0-9a-f]* idr3 \([0-9a-f]*\) idr5 \([0-9a-f]*\)$/\1 \2 \3/p' "$3" | head -n 1)
	[ -n "$cf_idr" ] || { echo "$1: QEMU did not report the SMMU's ID registers"; return 1; }
	set -- "$1" $cf_idr
	cf_feat=$(($(echo "$cf_line" | sed 's/.*features \(0x[0-9a-f]*\).*/\1/')))
	cf_oas=$(echo "$cf_line" | sed 's/.*oas \([0-9]*\)-bit.*/\1/')
	idr0=$((0x$2))
	idr3=$((0x$3))
	idr5=$((0x$4))
	cf_want=$(( ((idr0 >> 27) & 3) == 1 ? 1 : 0 ))
	cf_want=$((cf_want | ((idr0 >> 1) & 1) << 9 | (idr0 & 1) << 10 | ((idr3 >> 10) & 1) << 15))
	cf_got=$((cf_feat & (1 | 1 << 9 | 1 << 10 | 1 << 15)))
	case $((idr5 & 7)) in
	0) cf_woas=32 ;; 1) cf_woas=36 ;; 2) cf_woas=40 ;; 3) cf_woas=42 ;; 4) cf_woas=44 ;;
	5) cf_woas=48 ;; *) cf_woas=52 ;;
	esac
	[ "$cf_got" = "$cf_want" ] ||
		{ echo "$1: driver features $(printf '%#x' "$cf_feat"), IDRs say bits $(printf '%#x' "$cf_want") of mask 0x8601"; return 1; }
	[ "$cf_oas" = "$cf_woas" ] || { echo "$1: driver oas $cf_oas-bit, IDR5 says $cf_woas"; return 1; }
	echo "  [$1] arm-smmu-v3: $cf_line matches idr0 $2 idr3 $3 idr5 $4"
}

# Mode two: virt's SMMUs as the kernel names them (reg addresses: virt's VIRT_SMMU and patch
# 0006's second one) and the primary buses of the viommu-smmuv3 instances behind them.
two_smmu0=9050000.smmuv3 two_smmu1=90c0000.smmuv3

# check_two CONSOLE QEMU_LOG: two host bridges, one SMMU each. Both SMMUs probed; every device
# sits on its own bridge's SMMU in the guest (sysfs) and in QEMU (the instance that translated
# for it); the edu's faults came from bridge 1's SMMU's event queue.
check_two() {
	ct=0
	for b in 0 1; do
		ct_dev=$two_smmu0
		[ $b = 0 ] || ct_dev=$two_smmu1
		check_features "$mode: pcie.$b" "$1" "$2" "$ct_dev" || ct=1
		for st in translations cmd_tlbi; do
			v=$(unit_stat $st "$2" pcie.$b)
			[ "${v:-0}" -gt 0 ] || { echo "$mode: SMMU of pcie.$b: $st=${v:-none}"; ct=1; }
		done
	done
	# The faults: both records from SMMU 1, logged by its instance, none by SMMU 0's.
	n=$(grep -c "^VIOMMU-TEST \[.*\] fault ok: .* from $two_smmu1: " "$1" || true)
	[ "$n" = 2 ] || { echo "$mode: $n of 2 faults reported from $two_smmu1"; ct=1; }
	ev0=$(unit_stat events_logged "$2" pcie.0)
	ev1=$(unit_stat events_logged "$2" pcie.1)
	if [ "${ev0:-x}" != 0 ] || [ "${ev1:-0}" -lt 2 ]; then
		echo "$mode: events logged: pcie.0's SMMU ${ev0:-none}, pcie.1's ${ev1:-none}"
		ct=1
	fi
	# QEMU: the functions each instance translated for.
	d0=$(sed -n 's/^viommu-smmuv3 bus=pcie\.0 devices: //p' "$2" | tail -n 1)
	d1=$(sed -n 's/^viommu-smmuv3 bus=pcie\.1 devices: //p' "$2" | tail -n 1)
	case "$d0" in *" virtio-blk-pci "* | *" edu "* | "") echo "$mode: pcie.0's SMMU translated for '$d0'"; ct=1 ;; esac
	case "$d0" in *" virtio-net-pci translations="*) ;; *) echo "$mode: pcie.0's SMMU did not translate for the virtio-net"; ct=1 ;; esac
	case "$d1" in *" virtio-net-pci "* | "") echo "$mode: pcie.1's SMMU translated for '$d1'"; ct=1 ;; esac
	case "$d1" in *" virtio-blk-pci translations="*) ;; *) echo "$mode: pcie.1's SMMU did not translate for the virtio-blk"; ct=1 ;; esac
	eb=$(echo "$d1" | sed -n 's/.* edu translations=[0-9]* blocked=\([0-9]*\).*/\1/p')
	[ "${eb:-0}" -ge 2 ] || { echo "$mode: pcie.1's SMMU blocked ${eb:-no} edu DMA"; ct=1; }
	# The guest: each tested function in its bridge's PCI domain, attached to that bridge's
	# SMMU (sysfs class iommu, named after the SMMU's address) and not to the other.
	g0=$(sed -n 's/^VIOMMU-TEST \[.*\] iommu smmu3\.0x0*9050000: //p' "$1")
	g1=$(sed -n 's/^VIOMMU-TEST \[.*\] iommu smmu3\.0x0*90c0000: //p' "$1")
	for what in net blk edu; do
		own=$g1 other=$g0 dom=0001
		[ $what = net ] && own=$g0 other=$g1 dom=0000
		bdf=$(sed -n "s/^VIOMMU-TEST \[.*\] $what: \([0-9a-f:.]*\) iommu_group=.*/\1/p" "$1" | tail -n 1)
		case "$bdf" in "$dom":*) ;; *) echo "$mode: $what at '$bdf', not in domain $dom"; ct=1 ;; esac
		case " $own " in *" $bdf "*) ;; *) echo "$mode: $what ($bdf) not attached to its bridge's SMMU ($own)"; ct=1 ;; esac
		case " $other " in *" $bdf "*) echo "$mode: $what ($bdf) attached to the other SMMU"; ct=1 ;; esac
	done
	echo "  [$mode] guest: SMMU $two_smmu0 serves $g0; SMMU $two_smmu1 serves $g1"
	return $ct
}

run_mode() {
	mode=$1
	case "$mode" in
	ats-*) guest_use arm64-bpo || return 1 ;;
	*) guest_use "${VIOMMU_SMMUV3_GUEST:-arm64}" || return 1 ;;
	esac
	guest_mode_start "$mode" || return 1
	mem=""
	net="-netdev socket,id=n0,connect=127.0.0.1:$port"
	nic=""
	tests="viommu.disk=1 viommu.edu=smmu"
	rp=""
	machine=""
	netbus="" blkbus="" edubus=""
	case "$mode" in
	vhost-* | ats-*)
		# The reflector is not used: viommu-vhost reflects. vhost-user needs shared guest
		# memory; MSI-X with a vhost-user device crashes QEMU 7.2 under TCG (vectors=0, as in
		# guest-lib.sh).
		sock=$work/$mode.sock
		it_vhost_start "$sock" "$work/$mode.audit" "$work/$mode.vhost" || return 1
		mem="-object memory-backend-memfd,id=mem,size=256M,share=on"
		net="-chardev socket,id=chr0,path=$sock -netdev vhost-user,id=n0,chardev=chr0"
		nic=",vectors=0"
		tests=""
		;;
	esac
	case "$mode" in
	ats-*)
		# ATS only exists behind a PCIe root port (a PCI Express device).
		rp="-device pcie-root-port,id=rp0,chassis=1,slot=1"
		nic="$nic,bus=rp0,ats=on"
		;;
	esac

	iommu=viommu-smmuv3
	reboot=0
	case "$mode" in
	strict | vhost-strict | ats-strict) append="iommu.strict=1 viommu.domain=DMA" ;;
	lazy | vhost-lazy | ats-lazy) append="iommu.strict=0 viommu.domain=DMA-FQ" ;;
	reboot) append="iommu.strict=1 viommu.domain=DMA viommu.reboot=1"; reboot=1 ;;
	two)
		# The second host bridge: its root bus pcie.1 holds the disk and the edu, behind
		# the second SMMU; the NIC stays on pcie.0 behind the first. Device tree only.
		append="iommu.strict=1 viommu.domain=DMA viommu.iommudevs=1"
		machine=",x-viommu-pcie2=on,acpi=off"
		netbus=",bus=pcie.0" blkbus=",bus=pcie.1" edubus=",bus=pcie.1"
		;;
	qemu-strict) iommu=smmuv3; append="iommu.strict=1 viommu.domain=DMA" ;;
	qemu-lazy) iommu=smmuv3; append="iommu.strict=0 viommu.domain=DMA-FQ" ;;
	*) echo "unknown mode $mode" >&2; return 1 ;;
	esac
	# ats-*: ACS on the root port (enabled by Linux only when asked before enumeration, which
	# of_iommu does too late on a device-tree system), so that the device has an IOMMU group
	# of its own. In one group with its (ATS-less) root port, 6.12 enables the device's ATS
	# but never sends it an ATC_INV: the back-end, told only of device-IOTLB invalidations,
	# keeps stale translations and the guest receives garbage.
	case "$mode" in ats-*) append="$append pci=config_acs=0011111@0000:00:01.0" ;; esac

	# -cpu max,pauth-impdef=on: every feature QEMU has, with an implementation-defined pointer
	# authentication hash instead of QARMA, which TCG computes slowly on every kernel function
	# call. romfile=: no option ROM (the kernel is loaded directly, no firmware runs).
	noreboot=-no-reboot
	[ $reboot = 0 ] || noreboot=""
	start=$(date +%s)
	# shellcheck disable=SC2086
	timeout "${QEMU_TIMEOUT:-300}" "$qemu" -nodefaults -no-user-config -display none \
		-M virt,iommu=$iommu$machine${mem:+,memory-backend=mem} -cpu max,pauth-impdef=on -accel tcg -smp 1 -m 256M \
		$mem $net $rp \
		-device virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=,mac=52:54:00:12:34:56$nic$netbus \
		-drive file="$disk",if=none,id=d0,format=raw,cache=writeback \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on$blkbus \
		-device edu$edubus \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyAMA0 quiet panic=-1 mitigations=off $append viommu.frames=$frames $tests viommu.iommulog=1" \
		-serial file:"$log" $noreboot > "$qlog" 2>&1 &
	qemu_pid=$!
	it_qemu_wait "$start"
	it_console
	it_peers_stop

	ok=1
	it_boot_checks $reboot
	grep -q "^VIOMMU-DMESG .*arm-smmu-v3" "$log" || { echo "$mode: no arm-smmu-v3 line in the boot log"; ok=0; }
	nf=2
	[ "$mode" = reboot ] && nf=4
	case "$mode" in
	vhost-* | ats-*)
		nf=0
		it_vhost_checks
		echo "  [$mode] viommu-vhost: $stats"
		;;
	*)
		# No DEVICE: the SMMU's translations are checked below, with its other counters.
		# shellcheck disable=SC2119
		it_dma_checks
		;;
	esac
	n=$(grep -c "^VIOMMU-TEST \[.*\] fault ok:" "$log" || true)
	[ "$n" = $nf ] || { echo "$mode: $n of $nf faults reported by the guest"; ok=0; }
	case "$mode" in
	qemu-*) ;;
	two) check_two "$log" "$qlog" || ok=0 ;;
	*)
		check_features "$mode" "$log" "$qlog" || ok=0
		xl=$(unit_stat translations "$qlog")
		[ "${xl:-0}" -gt 0 ] || { echo "$mode: the SMMU translated nothing"; ok=0; }
		# The statistics at exit are the last model's: after a reboot, the second boot's.
		rec=$(unit_stat events_logged "$qlog")
		[ "${rec:-0}" -ge $((nf < 2 ? nf : 2)) ] || { echo "$mode: the SMMU logged ${rec:-0} events"; ok=0; }
		case "$mode" in
		ats-*)
			# The driver enabled the device's ATS: its unmaps end with ATC_INV, which
			# reach the back-end as device-IOTLB invalidations (vhost listens to nothing
			# else with ATS on).
			atc=$(unit_stat cmd_atc_inv "$qlog")
			[ "${atc:-0}" -gt 0 ] || { echo "$mode: the driver sent no ATC_INV (ATS not enabled)"; ok=0; }
			dv=$(unit_stat notify_dev_iotlb "$qlog")
			[ "${dv:-0}" -gt 0 ] || { echo "$mode: the SMMU sent no DEVIOTLB_UNMAP event"; ok=0; }
			inv=$(echo "$stats" | sed -n 's/.* iotlb_invalidates=\([0-9]*\).*/\1/p')
			[ "${inv:-0}" -gt 0 ] || { echo "$mode: the back-end received no IOTLB invalidation"; ok=0; }
			un=$(unit_stat notify_unmap "$qlog")
			[ "${un:-0}" = 0 ] || { echo "$mode: $un UNMAP events: the device's ATS was not on throughout"; ok=0; }
			echo "  [$mode] ATC_INV commands ${atc:-0}, DEVIOTLB_UNMAP events ${dv:-0}, back-end invalidations ${inv:-0}"
			;;
		vhost-*)
			# The back-end's invalidations are the model's UNMAP events.
			un=$(unit_stat notify_unmap "$qlog")
			[ "${un:-0}" -gt 0 ] || { echo "$mode: the SMMU sent no UNMAP event"; ok=0; }
			;;
		esac
		tlbi=$(unit_stat cmd_tlbi "$qlog")
		[ "${tlbi:-0}" -gt 0 ] || { echo "$mode: the driver sent no TLBI"; ok=0; }
		;;
	esac

	grep "VIOMMU-TEST" "$log" | sed "s/^/  [$mode] /"
	grep "VIOMMU-DMESG.*smmu" "$log" | sed "s/^/  [$mode] /"
	echo "  [$mode] $(cat "$rlog")"
	case "$mode" in
	qemu-*) ;;
	two) grep '^viommu-smmuv3 \(stats: \)\?bus=' "$qlog" | sed "s/^/  [$mode] /" ;;
	*) echo "  [$mode] $(grep 'viommu-smmuv3 stats' "$qlog" | tail -n 1)" ;;
	esac
	it_verdict "QEMU output (with the SMMU's statistics) and reflector"
}

rc=0
for mode in "$@"; do
	run_mode "$mode" || rc=1
done
exit $rc
