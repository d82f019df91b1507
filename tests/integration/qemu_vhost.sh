#!/bin/sh
# Integration test: unmodified QEMU (Debian's qemu-system-x86, TCG) boots a Debian Linux guest
# whose virtio-net device is served by viommu-vhost --reflect, behind an emulated Intel IOMMU
# with device-IOTLB (ATS) in strict, lazy and pass-through modes, and with no IOMMU. The guest
# checks its own traffic (tests/integration/guest-init.sh); here we check the back-end's audit log
# (no translation used after the invalidation that removed it), its statistics, and the virtio
# features the guest's driver negotiated (EVENT_IDX and INDIRECT_DESC, which the back-end offers).
# More modes:
#   mq              strict, with two queue pairs (queues=2, two vCPUs: Linux uses both pairs) and
#                   the guest's pktgen sending on the second; the back-end must see it there
#   virtio-strict, virtio-lazy   QEMU 7.2's own virtio-iommu-pci instead of intel-iommu
#                   (bookworm-backports' 6.12 guest: Debian 12's 6.1 has no virtio_iommu);
#                   strict mode must bring the back-end invalidations
#   *-poll, *-busypoll, *-event   any mode with viommu-vhost --poll, --busy-poll-us=200 or
#                   --busy-poll-us=0 (purely event-driven; the default is a 50 us window)
#   *-noevidx       any mode (before -poll/-busypoll/-event) with EVENT_IDX and INDIRECT_DESC turned off
#                   on the device: kick and interrupt suppression through the ring flags
#   packed, packed-MODE   packed virtqueues (virtio-net packed=on; the guest must negotiate
#                   VIRTIO_F_RING_PACKED): packed is strict (device IOTLB), packed-MODE any other
#                   IOMMU mode, e.g. packed-noiommu, packed-lazy, packed-strict-noevidx
#
# Usage: qemu_vhost.sh VIOMMU_VHOST AUDIT_CHECK [MODE...]   (default: strict lazy pt noiommu)
# It installs what it needs through scripts/deps.sh (as root) and fails, loudly, when it cannot.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
vhost_bin=$1
audit_check=$2
shift 2
[ $# -gt 0 ] || set -- strict lazy pt noiommu
frames=${VIOMMU_TEST_FRAMES:-1000}

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_deps integration
it_work vhost-it
# The uncompressed kernel is kept beside the test binaries.
cache=$(cd "$(dirname "$audit_check")" && pwd)/integration-cache
guest_prepare "$work" "$cache" || exit 1
deb_vmlinux=$vmlinux deb_initrd=$initrd
# The virtio-iommu modes boot the 6.12 guest with the virtio_iommu driver loaded first.
case " $* " in *" virtio-"*)
	mkdir -p "$work/bpo"
	guest_kernel=bpo guest_modules="virtio_iommu virtio_pci virtio_net pktgen" \
		guest_prepare "$work/bpo" "$cache" || exit 1
	bpo_vmlinux=$vmlinux bpo_initrd=$initrd
	;;
esac

run_mode() {
	mode=$1
	# MODE[-poll|-busypoll|-event]: the IOMMU mode, and how the back-end waits for work.
	imode=${mode%-poll}
	imode=${imode%-busypoll}
	imode=${imode%-event}
	bopt=""
	case "$mode" in
	*-poll) bopt=--poll ;;
	*-busypoll) bopt=--busy-poll-us=200 ;;
	*-event) bopt=--busy-poll-us=0 ;;
	esac
	# MODE-noevidx[-poll...]: the device hides EVENT_IDX and INDIRECT_DESC from the guest, so
	# kicks are suppressed with VRING_USED_F_NO_NOTIFY and interrupts by NO_INTERRUPT.
	netopts="" evidx=1 packed=0
	case "$imode" in *-noevidx)
		imode=${imode%-noevidx} netopts="event_idx=off,indirect_desc=off" evidx=0 ;;
	esac
	# packed[-MODE]: packed virtqueues (strict unless a MODE follows).
	case "$imode" in
	packed) imode=strict packed=1 ;;
	packed-*) imode=${imode#packed-} packed=1 ;;
	esac
	[ $packed -eq 1 ] && netopts="packed=on${netopts:+,$netopts}"
	queues=1 smp=1 gargs=""
	vmlinux=$deb_vmlinux initrd=$deb_initrd
	case "$imode" in
	mq)
		imode=strict queues=2 smp=2 gargs="viommu.txqueue=1" ;;
	virtio-*)
		vmlinux=$bpo_vmlinux initrd=$bpo_initrd ;;
	esac
	sock=$work/$mode.sock
	log=$work/$mode.console
	vlog=$work/$mode.vhost
	audit=$work/$mode.audit
	dbg=""
	[ "${VHOST_DEBUG:-0}" = 1 ] && dbg=--debug
	it_vhost_start "$sock" "$audit" "$vlog" ${dbg:+"$dbg"} ${bopt:+"$bopt"} || return 1

	start=$(date +%s)
	GUEST_QUEUES=$queues GUEST_SMP=$smp GUEST_NET_OPTS=$netopts guest_qemu "$imode" "$sock" "$log" \
		"viommu.frames=$frames $gargs" > "$work/$mode.qemu" 2>&1 &
	qemu_pid=$!
	it_qemu_wait "$start"
	it_peers_stop

	ok=1
	grep -q "^VIOMMU-TEST \[.*\] PASS" "$log" || { echo "$mode: the guest did not pass"; ok=0; }
	clk=$(guest_clock_ok "$log" "$secs") || { echo "$mode: $clk"; ok=0; }
	[ $qrc -eq 0 ] || { echo "$mode: qemu exit status $qrc"; ok=0; }
	[ $vrc -eq 0 ] || { echo "$mode: viommu-vhost exit status $vrc"; ok=0; }
	stats=$(grep "stats (exit)" "$vlog" | tail -n 1)
	case "$stats" in *" bad_msgs=0 "*) ;; *) echo "$mode: refused messages"; ok=0 ;; esac
	case "$imode" in
	noiommu)
		case "$stats" in *" iotlb_msgs=0 "*) ;; *) echo "$mode: IOTLB traffic"; ok=0 ;; esac ;;
	*)
		case "$stats" in *" iotlb_updates=0 "*) echo "$mode: no UPDATE"; ok=0 ;; esac ;;
	esac
	# Strict mode unmaps every buffer after use: the back-end must hear of it.
	case "$imode" in *strict)
		case "$stats" in *" iotlb_invalidates=0 "*)
			echo "$mode: no INVALIDATE reached the back-end: it kept every translation"
			ok=0 ;;
		esac ;;
	esac
	# The driver took the ring features offered, and in mq mode both queue pairs.
	nf=$(grep -m 1 "net features:" "$log" || true)
	case "$nf" in *"indirect_desc=$evidx event_idx=$evidx "*) ;; *)
		echo "$mode: INDIRECT_DESC and EVENT_IDX not negotiated as expected ($evidx): '$nf'"
		ok=0 ;;
	esac
	case "$nf" in *" ring_packed=$packed"*) ;; *)
		echo "$mode: RING_PACKED not negotiated as expected ($packed): '$nf'"; ok=0 ;;
	esac
	if [ "$queues" -gt 1 ]; then
		case "$nf" in *"mq=1 queues=$queues"*) ;; *)
			echo "$mode: the guest did not use $queues queue pairs: '$nf'"; ok=0 ;;
		esac
		pair1=$(echo "$stats" | sed -n 's/.* tx_pairs=[0-9]*\/\([0-9]*\)\/.*/\1/p')
		[ "${pair1:-0}" -ge "$frames" ] || {
			echo "$mode: ${pair1:-0} frames on the second transmit queue, expected >= $frames"
			ok=0
		}
	fi
	for f in "$audit".*; do
		[ -e "$f" ] || continue
		"$audit_check" "$f" || { echo "$mode: audit $f failed"; ok=0; }
	done

	grep "VIOMMU-TEST" "$log" | sed "s/^/  [$mode] /"
	echo "  [$mode] $stats"
	# A vIOMMU that reports its own statistics (qemu/build.sh's viommu-intel-iommu).
	grep " stats: " "$work/$mode.qemu" | sed "s/^/  [$mode] /" || true
	if [ $ok -eq 1 ]; then
		echo "PASS $mode (${secs}s)"
		return 0
	fi
	echo "FAIL $mode (${secs}s): console, back-end log and QEMU output follow"
	tail -n 40 "$log"
	tail -n 20 "$vlog"
	cat "$work/$mode.qemu"
	return 1
}

rc=0
for mode in "$@"; do
	run_mode "$mode" || rc=1
done
exit $rc
