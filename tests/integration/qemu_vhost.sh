#!/bin/sh
# Integration test: unmodified QEMU (Debian's qemu-system-x86, TCG) boots a Debian Linux guest
# whose virtio-net device is served by viommu-vhost --reflect, behind an emulated Intel IOMMU
# with device-IOTLB (ATS) in strict, lazy and pass-through modes, and with no IOMMU. The guest
# checks its own traffic (tests/integration/guest-init.sh); here we check the back-end's audit log
# (no translation used after the invalidation that removed it) and its statistics.
#
# Usage: qemu_vhost.sh VIOMMU_VHOST AUDIT_CHECK [MODE...]   modes: strict lazy pt noiommu
# It installs what it needs through scripts/deps.sh (as root) and fails, loudly, when it cannot.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
vhost_bin=$1
audit_check=$2
shift 2
[ $# -gt 0 ] || set -- strict lazy pt noiommu
frames=${VIOMMU_TEST_FRAMES:-1000}

"$root/scripts/deps.sh" integration || {
	echo "FAIL: the integration test needs the packages above (run as root or install them)" >&2
	exit 1
}

kver=$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -n 1)
kernel=/boot/vmlinuz-$kver
[ -n "$kver" ] && [ -r "$kernel" ] || { echo "FAIL: no readable Debian amd64 kernel" >&2; exit 1; }

work=$(mktemp -d /tmp/viommu-vhost-it.XXXXXX)
vhost_pid=""
qemu_pid=""
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	[ -n "$vhost_pid" ] && kill "$vhost_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

# A tiny initramfs: static busybox, the virtio modules of this kernel (modular in Debian's 6.1
# config: virtio, virtio_ring, virtio_pci*, virtio_net, net_failover, failover; and pktgen).
mkinitramfs() {
	d=$work/initramfs
	mkdir -p "$d/bin" "$d/lib/modules"
	cp /bin/busybox "$d/bin/busybox"
	cp "$here/guest-init.sh" "$d/init"
	chmod +x "$d/init"
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		failover net_failover virtio_net pktgen; do
		f=$(find "/lib/modules/$kver/kernel" -name "$m.ko*" | head -n 1)
		[ -n "$f" ] || { echo "FAIL: module $m not found for $kver" >&2; exit 1; }
		case "$f" in
		*.ko.xz) xz -dc "$f" > "$d/lib/modules/$m.ko" ;;
		*) cp "$f" "$d/lib/modules/$m.ko" ;;
		esac
	done
	(cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"
}
mkinitramfs

# Boot the uncompressed kernel through its PVH entry point: under TCG, decompressing the xz
# bzImage alone takes many seconds. The vmlinux is the xz stream inside the bzImage; it is kept
# beside the test binaries so later runs skip the extraction.
cache=$(cd "$(dirname "$audit_check")" && pwd)/integration-cache
vmlinux=$cache/vmlinux-$kver
if [ ! -s "$vmlinux" ]; then
	mkdir -p "$cache"
	off=$(grep -abo "$(printf '\3757zXZ')" "$kernel" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || { echo "FAIL: no xz stream in $kernel" >&2; exit 1; }
	tail -c +$((off + 1)) "$kernel" | xz -dc --single-stream > "$vmlinux.tmp" 2>/dev/null || true
	[ -s "$vmlinux.tmp" ] || { echo "FAIL: cannot extract vmlinux from $kernel" >&2; exit 1; }
	mv "$vmlinux.tmp" "$vmlinux"
fi

run_mode() {
	mode=$1
	sock=$work/$mode.sock
	log=$work/$mode.console
	vlog=$work/$mode.vhost
	audit=$work/$mode.audit
	iommu="-device intel-iommu,intremap=on,device-iotlb=on"
	case "$mode" in
	strict) append="intel_iommu=on iommu.strict=1" ;;
	lazy) append="intel_iommu=on iommu.strict=0" ;;
	pt) append="intel_iommu=on iommu=pt" ;;
	noiommu) append="intel_iommu=off"; iommu="" ;;
	*) echo "unknown mode $mode" >&2; return 1 ;;
	esac

	"$vhost_bin" --reflect --socket-path="$sock" --audit="$audit" 2> "$vlog" &
	vhost_pid=$!
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "FAIL $mode: back-end did not start"; cat "$vlog"; return 1; }
		sleep 0.1
	done

	start=$(date +%s)
	# MSI-X with a vhost-user device crashes QEMU 7.2 under TCG: vectors=0. iommu_platform needs
	# a modern-only device; ATS only exists behind a PCIe root port.
	# shellcheck disable=SC2086
	timeout ${QEMU_TIMEOUT:-600} qemu-system-x86_64 -nodefaults -no-user-config -display none \
		-M q35,kernel-irqchip=split -accel tcg -smp 1 -m 256M \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		$iommu \
		-device pcie-root-port,id=rp0,chassis=1,slot=1 \
		-chardev socket,id=chr0,path="$sock" \
		-netdev vhost-user,id=net0,chardev=chr0 \
		-device virtio-net-pci,netdev=net0,bus=rp0,disable-legacy=on,iommu_platform=on,ats=on,vectors=0,mac=52:54:00:12:34:56 \
		-kernel "$vmlinux" -initrd "$work/initramfs.gz" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=reliable mitigations=off $append viommu.frames=$frames" \
		-serial file:"$log" -no-reboot > "$work/$mode.qemu" 2>&1 &
	qemu_pid=$!
	qrc=0
	wait "$qemu_pid" || qrc=$?
	qemu_pid=""
	secs=$(($(date +%s) - start))

	kill -USR1 "$vhost_pid" 2>/dev/null || true
	kill -TERM "$vhost_pid" 2>/dev/null || true
	vrc=0
	wait "$vhost_pid" || vrc=$?
	vhost_pid=""

	ok=1
	grep -q "^VIOMMU-TEST \[.*\] PASS" "$log" || { echo "$mode: the guest did not pass"; ok=0; }
	[ $qrc -eq 0 ] || { echo "$mode: qemu exit status $qrc"; ok=0; }
	[ $vrc -eq 0 ] || { echo "$mode: viommu-vhost exit status $vrc"; ok=0; }
	stats=$(grep "stats (exit)" "$vlog" | tail -n 1)
	case "$stats" in *" bad_msgs=0 "*) ;; *) echo "$mode: refused messages"; ok=0 ;; esac
	case "$mode" in
	noiommu)
		case "$stats" in *" iotlb_msgs=0 "*) ;; *) echo "$mode: IOTLB traffic"; ok=0 ;; esac ;;
	*)
		case "$stats" in *" iotlb_updates=0 "*) echo "$mode: no UPDATE"; ok=0 ;; esac ;;
	esac
	for f in "$audit".*; do
		[ -e "$f" ] || continue
		"$audit_check" "$f" || { echo "$mode: audit $f failed"; ok=0; }
	done

	grep "VIOMMU-TEST" "$log" | sed "s/^/  [$mode] /"
	echo "  [$mode] $stats"
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
