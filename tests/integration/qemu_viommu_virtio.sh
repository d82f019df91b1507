#!/bin/sh
# Integration test: the Linux guest's own virtio_iommu driver (bookworm-backports' 6.12 kernel,
# unmodified: Debian 12's 6.1 has no CONFIG_VIRTIO_IOMMU) programs a virtio-iommu-pci device on
# QEMU's q35 machine (ACPI VIOT), with emulated devices behind it: virtio-net with vhost off
# (ping and pktgen payload checks of guest-init.sh, peer net_reflect), virtio-blk (write, drop
# caches, read back, checksum; the host checks the image too) and QEMU's edu device DMAing to an
# address nobody mapped (the driver's fault report). Modes:
#   strict, lazy            libviommu's virtio-iommu model (virtio-iommu-pci,x-viommu=on) in the
#                           patched QEMU (qemu/build.sh), iommu.strict=1 / iommu.strict=0
#   vhost-strict, vhost-lazy  the same with the virtio-net on a vhost-user netdev served by
#                           viommu-vhost --reflect: QEMU's IOMMU notifiers carry the model's UNMAPs
#                           to the back-end as IOTLB invalidations, its misses come back as
#                           translations; the back-end's audit log shows no translation used after
#                           its invalidation (audit_check)
#   reboot                  libviommu's, strict: the guest passes, reboots (QEMU's system reset
#                           recreates the model: bypass back to boot-bypass, endpoints declared
#                           again), and passes again on its second boot
#   qemu-strict, qemu-lazy  QEMU's own virtio-iommu (x-viommu off), the baseline, in the same
#                           patched binary: side-by-side runs differ in one property, and the
#                           patch must leave QEMU's own device working (QEMU_BASELINE=path runs
#                           these modes on another QEMU 7.2, e.g. Debian's qemu-system-x86_64)
#
# Usage: qemu_viommu_virtio.sh NET_REFLECT [MODE...]   (viommu-vhost and audit_check are taken
#   from the same meson build as NET_REFLECT)
#   QEMU=path     the patched QEMU binary (default: qemu/build.sh's, built or cached)
#   VIOMMU_TEST_FRAMES (pktgen frames per size, default 1000), KEEP_WORK=1 keeps the work folder.
# It installs what it needs through scripts/deps.sh (as root) and fails, loudly, when it cannot.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
reflect_bin=$1
shift
[ $# -gt 0 ] || set -- strict lazy vhost-strict vhost-lazy reboot qemu-strict qemu-lazy
frames=${VIOMMU_TEST_FRAMES:-1000}
blkmb=8

pbuild=$(cd "$(dirname "$reflect_bin")/.." && pwd)
vhost_bin=$pbuild/vhost/viommu-vhost
audit_check=$pbuild/tests/audit_check

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_deps integration
# The patched QEMU (QEMU, else qemu/build.sh's: built once per QEMU source version and glue, cached
# under /var/cache/viommu/qemu, against this build's libviommu, linked dynamically), only when a
# mode runs on it: the qemu-* modes run on QEMU_BASELINE when it is set.
patched=0
for mode in "$@"; do
	case "$mode" in qemu-*) [ -n "${QEMU_BASELINE:-}" ] || patched=1 ;; *) patched=1 ;; esac
done
if [ $patched = 1 ]; then
	it_qemu x86_64 "$pbuild" "${QEMU:-}"
else
	it_libpath "$pbuild"
fi
it_work virtio-it
guest_kernel=bpo
guest_modules="virtio_iommu virtio_pci virtio_net virtio_blk pktgen pci_stub"
guest_prepare "$work" "$pbuild/tests/integration-cache" || exit 1

run_mode() {
	mode=$1
	log=$work/$mode.console
	rlog=$work/$mode.reflect
	qlog=$work/$mode.qemu
	disk=$work/$mode.img
	case "$mode" in
	qemu-*) qemu_bin=${QEMU_BASELINE:-$qemu} ;;
	*) qemu_bin=$qemu ;;
	esac
	rm -f "$disk" "$work/port"
	truncate -s 64M "$disk"
	case "$mode" in
	vhost-*)
		peer=$work/$mode.sock
		peer_name=viommu-vhost
		it_vhost_start "$peer" "$work/$mode.audit" "$rlog" || return 1
		;;
	*)
		peer_name=net_reflect
		it_reflect_start "$rlog" "$mode" || return 1
		peer=$port
		;;
	esac

	start=$(date +%s)
	QEMU=$qemu_bin guest_qemu_virtio "$mode" "$peer" "$disk" "$log" \
		"viommu.tests=net,blk,fault viommu.frames=$frames viommu.blkmb=$blkmb" > "$qlog" 2>&1 &
	qemu_pid=$!
	it_qemu_wait "$start"
	rrc=0
	case "$mode" in
	vhost-*)
		it_peers_stop
		rrc=$vrc
		;;
	*)
		# net_reflect exits by itself when QEMU hangs up: its status counts. A QEMU that failed
		# may never have connected, and the reflector would wait for it forever.
		if [ "$qrc" -eq 0 ]; then
			wait "$refl_pid" || rrc=$?
			refl_pid=""
		else
			it_reflect_stop
		fi
		;;
	esac

	ok=1
	# The console ends lines with CR; "PASS (first boot)" is not the final PASS.
	tr -d '\r' < "$log" | grep -q "^VIOMMU-TEST \[.*\] PASS$" || { echo "$mode: the guest did not pass"; ok=0; }
	clk=$(guest_clock_ok "$log" "$secs") || { echo "$mode: $clk"; ok=0; }
	if [ "$mode" = reboot ]; then
		grep -q "PASS (first boot), rebooting" "$log" ||
			{ echo "$mode: the guest did not pass its first boot"; ok=0; }
	fi
	[ $qrc -eq 0 ] || { echo "$mode: qemu exit status $qrc"; ok=0; }
	[ $rrc -eq 0 ] || { echo "$mode: $peer_name exit status $rrc"; ok=0; }
	# The disk holds what the guest wrote last, not just its page cache.
	gsum=$(sed -n 's/.*disk ok: .* sha256 \([0-9a-f]*\).*/\1/p' "$log" | tail -n 1)
	hsum=$(head -c $((blkmb * 1048576)) "$disk" | sha256sum | cut -d" " -f1)
	[ -n "$gsum" ] && [ "$gsum" = "$hsum" ] || { echo "$mode: disk image sha256 $hsum, guest wrote '$gsum'"; ok=0; }
	case "$mode" in
	qemu-*) ;;
	*)
		# libviommu's model must have done the work: requests, translations, the fault.
		stats=$(grep "viommu-virtio-iommu: stats" "$qlog" | tail -n 1)
		case "$stats" in "") echo "$mode: no statistics from libviommu's model"; ok=0 ;; esac
		for f in attach map unmap probe translations events_written; do
			case "$stats" in *" $f=0 "*) echo "$mode: libviommu's model counted no $f"; ok=0 ;; esac
		done
		case "$stats" in *" bad_requests=0 not_ok=0 "*) ;; *) echo "$mode: requests refused"; ok=0 ;; esac
		# The driver read the model's configuration (QEMU's own device says 64 bits).
		grep -q "virtio_iommu virtio[0-9]*: input address: 48 bits" "$log" ||
			{ echo "$mode: the driver did not report the model's 48-bit input range"; ok=0; }
		;;
	esac

	case "$mode" in
	vhost-*)
		# Our model's UNMAPs reached the back-end through QEMU's notifiers, and it never used
		# a translation after the invalidation that removed it.
		vstats=$(grep "stats (exit)" "$rlog" | tail -n 1)
		case "$vstats" in *" bad_msgs=0 "*) ;; *) echo "$mode: refused vhost-user messages"; ok=0 ;; esac
		case "$vstats" in *" iotlb_updates=0 "* | "") echo "$mode: no IOTLB UPDATE"; ok=0 ;; esac
		case "$vstats" in *" iotlb_invalidates=0 "*) echo "$mode: no IOTLB INVALIDATE"; ok=0 ;; esac
		case "$stats" in *" notifier_events=0 "*) echo "$mode: no model event reached QEMU's notifiers"; ok=0 ;; esac
		for f in "$work/$mode.audit".*; do
			[ -e "$f" ] || { echo "$mode: no audit log"; ok=0; continue; }
			"$audit_check" "$f" || { echo "$mode: audit $f failed"; ok=0; }
		done
		;;
	esac

	grep -E "VIOMMU-TEST|dmesg:" "$log" | sed "s/^/  [$mode] /"
	tail -n 3 "$rlog" | sed "s/^/  [$mode] /"
	grep "viommu-virtio-iommu: stats" "$qlog" | sed "s/^/  [$mode] /" || true
	it_verdict "QEMU output and $peer_name log"
}

rc=0
for mode in "$@"; do
	run_mode "$mode" || rc=1
done
exit $rc
