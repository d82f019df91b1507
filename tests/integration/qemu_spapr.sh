#!/bin/sh
# Integration test: libviommu's TCE model (the Calgary model's PHB 0 and its sPAPR hypercall
# interface, <viommu/calgary.h>) behind the default DMA window of a pseries PHB in
# qemu-system-ppc64 (qemu/build.sh; `-global spapr-pci-host-bridge.x-viommu=on` hands the
# window's table, the H_PUT_TCE / H_PUT_TCE_INDIRECT / H_STUFF_TCE / H_GET_TCE hypercalls and the
# DMA translation to the model, qemu/hw/ppc/viommu-spapr.c), driven by the unmodified pSeries
# IOMMU code of Debian 12's ppc64el kernel (6.1, fetched as a Debian package by guest-lib.sh),
# under TCG. Dynamic DMA windows are off (ddw=off): a 64-bit window would bypass the model. In
# each mode QEMU's statistics must show the hypercalls and translations reached the model:
#   net    virtio-net (iommu_platform=on, QEMU's datapath) on a `-netdev socket` TCP back-end
#          whose peer (net_reflect) swaps addresses: ping and pktgen with the payload checks of
#          guest-init.sh; the guest maps every buffer with H_PUT_TCE(_INDIRECT) and unmaps it
#          with H_STUFF_TCE;
#   disk   virtio-blk: an 8 MiB random pattern written, caches dropped, read back (page cache and
#          O_DIRECT); here the disk image must hold the same bytes;
#   fault  QEMU's edu device (on pci-stub: nothing maps TCEs for it) reads from a bus address
#          with no valid TCE: the model refuses the DMA (the PHB's CSR shows a TCE fault) and the
#          PHB freezes its PE as a pSeries PHB does; the guest's EEH code finds the frozen PE at
#          the next config read and must report "EEH: Recovering PHB#..-PE#..".
#   vhost  the virtio-net on a vhost-user netdev served by viommu-vhost --reflect (net checks
#          only): its IOTLB misses are answered through the model's translate, the model's UNMAP
#          events (from the guest's H_STUFF_TCE / H_PUT_TCE of 0) reach it through QEMU's
#          notifiers as invalidations, and the audit replay finds no translation used after its
#          invalidation;
#   qemu-net, qemu-disk  the same with QEMU's own TCE table (x-viommu=off, same binary and
#          guest): the baseline, without the checks on the model's statistics.
#
# Usage: qemu_spapr.sh PROJECT_BUILD NET_REFLECT [MODE...]   (default: net disk fault vhost
#   qemu-disk; viommu-vhost and audit_check come from PROJECT_BUILD)
#   VIOMMU_QEMU_PPC64=path  a qemu-system-ppc64 to use instead of qemu/build.sh's
#   VIOMMU_TEST_FRAMES (pktgen frames per size, default 500), KEEP_WORK=1 keeps the scratch folder.
# Exit 77 (skip) only when this libviommu has no Calgary model (no <viommu/calgary.h>): the QEMU
# glue cannot be built. Anything else that goes wrong fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pbuild=$(cd "$1" && pwd)
reflect_bin=$2
shift 2
[ $# -gt 0 ] || set -- net disk fault vhost qemu-disk
frames=${VIOMMU_TEST_FRAMES:-500}
vhost_bin=$pbuild/vhost/viommu-vhost
audit_check=$pbuild/tests/audit_check

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
it_skip_without calgary.h "TCE model"
it_deps integration qemu
it_qemu ppc64 "$pbuild" "${VIOMMU_QEMU_PPC64:-}"
it_work qemu-spapr

# The pSeries IOMMU and EEH code is built into Debian's ppc64el kernel; the rest are modules.
guest_kernel=ppc64el
guest_modules="virtio_pci virtio_net virtio_blk pktgen pci_stub"
t0=$(date +%s)
guest_prepare "$work" "$pbuild/tests/integration-cache" || exit 1
echo "guest: Debian ppc64el kernel $kver, modules: $(tr '\n' ' ' < "$work/initramfs/lib/modules/order")($(($(date +%s) - t0)) s)"

# unit_stat NAME FILE: one counter from the glue's statistics line in QEMU's output.
unit_stat() {
	sed -n "s/^viommu-spapr stats:.* $1=\([0-9]*\).*/\1/p" "$2" | tail -n 1
}

run_mode() {
	mode=$1
	guest_mode_start "$mode" || return 1
	devs=""
	mem=""
	viommu=on
	case "$mode" in qemu-*) viommu=off ;; esac
	case "${mode#qemu-}" in
	net)
		tests="viommu.tests=net"
		devs="-netdev socket,id=n0,connect=127.0.0.1:$port
			-device virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=,mac=52:54:00:12:34:56"
		;;
	disk)
		tests="viommu.tests=blk"
		devs="-drive file=$disk,if=none,id=d0,format=raw,cache=writeback
			-device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on"
		;;
	fault)
		tests="viommu.tests=none viommu.edu=eeh"
		devs="-device edu"
		;;
	vhost)
		# virtio-net on a vhost-user netdev served by viommu-vhost --reflect (shared guest
		# memory; vectors=0 as in the other vhost tests): its IOTLB misses are answered by
		# the model's translate, the model's UNMAP events reach it through QEMU's notifiers
		# as invalidations.
		sock=$work/$mode.sock
		it_vhost_start "$sock" "$work/$mode.audit" "$work/$mode.vhost" || return 1
		tests="viommu.tests=net"
		mem="-object memory-backend-memfd,id=mem,size=512M,share=on"
		devs="-chardev socket,id=chr0,path=$sock -netdev vhost-user,id=n0,chardev=chr0
			-device virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=,mac=52:54:00:12:34:56,vectors=0"
		;;
	*) echo "unknown mode $mode" >&2; return 1 ;;
	esac

	# x-vof=on: QEMU's Virtual Open Firmware (qemu-system-data's vof.bin) instead of SLOF, which
	# under TCG takes many seconds to scan the PCI bus the device tree already describes. The
	# spectre/meltdown capabilities TCG cannot provide are declared broken (the guest is told).
	start=$(date +%s)
	# shellcheck disable=SC2086
	timeout "${QEMU_TIMEOUT:-300}" "$qemu" -nodefaults -no-user-config -display none \
		-M pseries,x-vof=on,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off${mem:+,memory-backend=mem} \
		-accel tcg -smp 1 -m 512M $mem \
		-global spapr-pci-host-bridge.x-viommu=$viommu -global spapr-pci-host-bridge.ddw=off \
		$devs \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=hvc0 quiet panic=-1 mitigations=off $tests viommu.frames=$frames viommu.iommulog=1" \
		-serial file:"$log" -no-reboot > "$qlog" 2>&1 &
	qemu_pid=$!
	it_qemu_wait "$start"
	it_console
	it_peers_stop

	ok=1
	it_boot_checks 0
	if [ $viommu = off ] && grep -q "viommu-spapr" "$qlog"; then
		echo "$mode: the model is there"
		ok=0
	fi
	[ $viommu = off ] || grep -q "viommu-spapr: LIOBN 0x80000000: TCE table and hypercalls by libviommu's model" "$qlog" ||
		{ echo "$mode: the PHB's window is not backed by the model"; ok=0; }
	xl=$(unit_stat translations "$qlog")
	hc=$(unit_stat hcalls "$qlog")
	tces=$(unit_stat hcall_tces "$qlog")
	herr=$(unit_stat hcall_errors "$qlog")
	faults=$(unit_stat faults "$qlog")
	if [ $viommu = on ]; then
		[ "${xl:-0}" -gt 0 ] || { echo "$mode: the model translated nothing"; ok=0; }
		[ "${hc:-0}" -gt 0 ] && [ "${tces:-0}" -gt 0 ] ||
			{ echo "$mode: no TCE hypercall reached the model"; ok=0; }
		[ "${herr:-1}" = 0 ] || { echo "$mode: ${herr:-?} hypercalls refused"; ok=0; }
	fi
	[ $viommu = on ] || faults=0
	case "${mode#qemu-}" in
	net)
		frames_back=$(sed -n 's/^net_reflect: frames=\([0-9]*\).*/\1/p' "$rlog")
		[ "${frames_back:-0}" -gt 0 ] || { echo "$mode: no frame crossed the reflector"; ok=0; }
		[ "${faults:-1}" = 0 ] || { echo "$mode: ${faults:-?} TCE faults"; ok=0; }
		;;
	disk)
		want=$(sed -n 's/^VIOMMU-TEST \[.*\] disk ok: 8 MiB sha256 \([0-9a-f]*\)$/\1/p' "$log" | tail -n 1)
		got=$(head -c 8388608 "$disk" | sha256sum | cut -d" " -f1)
		[ -n "$want" ] && [ "$got" = "$want" ] ||
			{ echo "$mode: disk image sha256 $got, guest wrote '$want'"; ok=0; }
		[ "${faults:-1}" = 0 ] || { echo "$mode: ${faults:-?} TCE faults"; ok=0; }
		;;
	vhost)
		it_vhost_checks
		un=$(unit_stat notify_unmap "$qlog")
		[ "${un:-0}" -gt 0 ] || { echo "$mode: the model sent no UNMAP event"; ok=0; }
		[ "${faults:-1}" = 0 ] || { echo "$mode: ${faults:-?} TCE faults"; ok=0; }
		echo "  [$mode] viommu-vhost: $stats"
		;;
	fault)
		n=$(grep -c "^VIOMMU-TEST \[.*\] fault ok:" "$log" || true)
		[ "$n" = 1 ] || { echo "$mode: $n of 1 faults reported by the guest"; ok=0; }
		# The model refused edu's read of 0xffff000 (no valid TCE) and set the PHB's
		# CSR TCE-fault bit (0x80000000).
		grep -q "viommu-spapr: TCE fault: LIOBN 0x80000000 ioba 0xffff000 read refused .*PHB CSR 0x8" "$qlog" ||
			{ echo "$mode: QEMU did not log the model's TCE fault at 0xffff000"; ok=0; }
		[ "${faults:-0}" -ge 1 ] || { echo "$mode: the model counted no fault"; ok=0; }
		[ "$(unit_stat eeh_freezes "$qlog")" -ge 1 ] 2> /dev/null ||
			{ echo "$mode: the PE was never frozen"; ok=0; }
		;;
	esac

	grep "VIOMMU-TEST" "$log" | sed "s/^/  [$mode] /"
	grep "VIOMMU-DMESG" "$log" | grep -i -E "iommu|tce|eeh" | head -n 8 | sed "s/^/  [$mode] /"
	[ "${mode#qemu-}" = net ] && echo "  [$mode] $(cat "$rlog")"
	[ $viommu = off ] || echo "  [$mode] $(grep '^viommu-spapr stats' "$qlog" | tail -n 1)"
	it_verdict "QEMU output (with the model's statistics) and reflector"
}

rc=0
for mode in "$@"; do
	run_mode "$mode" || rc=1
done
exit $rc
