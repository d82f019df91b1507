# Shared by tests/integration/qemu_vhost.sh and bench/vhost_vs_dpdk.sh (sourced, POSIX sh): the
# Debian guest kernel, its busybox initramfs (guest-init.sh as /init) and the QEMU command line
# of a virtio-net-pci device on a vhost-user socket behind an emulated Intel IOMMU.
# Needs the packages of `scripts/deps.sh integration`; set guest_lib_dir to this directory first.

# guest_prepare WORK CACHE: sets kver, vmlinux and initrd (WORK/initramfs.gz). The uncompressed
# kernel is kept in CACHE so that later runs skip the extraction. guest_init, when set, names
# another /init (bench/qemu_guest_init.sh).
guest_prepare() {
	gp_work=$1
	gp_cache=$2
	kver=$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -n 1)
	gp_kernel=/boot/vmlinuz-$kver
	[ -n "$kver" ] && [ -r "$gp_kernel" ] || { echo "FAIL: no readable Debian amd64 kernel" >&2; return 1; }

	# A tiny initramfs: static busybox, the virtio modules of this kernel (modular in Debian's
	# 6.1 config: virtio, virtio_ring, virtio_pci*, virtio_net, net_failover, failover; and
	# pktgen).
	gp_d=$gp_work/initramfs
	mkdir -p "$gp_d/bin" "$gp_d/lib/modules"
	cp /bin/busybox "$gp_d/bin/busybox"
	cp "${guest_init:-$guest_lib_dir/guest-init.sh}" "$gp_d/init"
	chmod +x "$gp_d/init"
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		failover net_failover virtio_net pktgen virtio_blk; do
		f=$(find "/lib/modules/$kver/kernel" -name "$m.ko*" | head -n 1)
		[ -n "$f" ] || { echo "FAIL: module $m not found for $kver" >&2; return 1; }
		case "$f" in
		*.ko.xz) xz -dc "$f" > "$gp_d/lib/modules/$m.ko" ;;
		*) cp "$f" "$gp_d/lib/modules/$m.ko" ;;
		esac
	done
	initrd=$gp_work/initramfs.gz
	(cd "$gp_d" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd"

	# Boot the uncompressed kernel through its PVH entry point: under TCG, decompressing the xz
	# bzImage alone takes many seconds. The vmlinux is the xz stream inside the bzImage.
	vmlinux=$gp_cache/vmlinux-$kver
	if [ ! -s "$vmlinux" ]; then
		mkdir -p "$gp_cache"
		off=$(grep -abo "$(printf '\3757zXZ')" "$gp_kernel" | head -n 1 | cut -d: -f1)
		[ -n "$off" ] || { echo "FAIL: no xz stream in $gp_kernel" >&2; return 1; }
		tail -c +$((off + 1)) "$gp_kernel" | xz -dc --single-stream > "$vmlinux.tmp" 2>/dev/null || true
		[ -s "$vmlinux.tmp" ] || { echo "FAIL: cannot extract vmlinux from $gp_kernel" >&2; return 1; }
		mv "$vmlinux.tmp" "$vmlinux"
	fi
}

# guest_qemu MODE SOCK CONSOLE KERNEL_ARGS &: run QEMU in the background (it execs, so $! is
# QEMU's timeout process)
# in IOMMU mode MODE (strict lazy pt noiommu) on the vhost-user socket SOCK, the serial console
# to the file CONSOLE. QEMU_TIMEOUT bounds it (default 600 s). GUEST_QEMU (default: the system's
# qemu-system-x86_64) and GUEST_IOMMU (default: QEMU's own intel-iommu) choose the VMM and the
# vIOMMU device, e.g. qemu/build.sh's binary with viommu-intel-iommu; GUEST_ATS=off turns the
# device's ATS off (default on).
guest_qemu() {
	gq_iommu="-device ${GUEST_IOMMU:-intel-iommu,intremap=on,device-iotlb=on}"
	case "$1" in
	strict) gq_append="intel_iommu=on iommu.strict=1" ;;
	lazy) gq_append="intel_iommu=on iommu.strict=0" ;;
	pt) gq_append="intel_iommu=on iommu=pt" ;;
	noiommu) gq_append="intel_iommu=off"; gq_iommu="" ;;
	*) echo "unknown mode $1" >&2; return 1 ;;
	esac
	# tsc=unstable: under TCG on a loaded host the guest's boot-time TSC calibration can come
	# out several times too low. With the TSC trusted (tsc=reliable did that: no clocksource
	# watchdog) the guest clock then ran 8x fast and every guest-side timeout (ping, the pktgen
	# wait, the soft-lockup watchdog) fired 8x early. The HPET follows the host clock.
	# MSI-X with a vhost-user device crashes QEMU 7.2 under TCG: vectors=0. iommu_platform needs
	# a modern-only device; ATS only exists behind a PCIe root port.
	# shellcheck disable=SC2086
	exec timeout "${QEMU_TIMEOUT:-600}" "${GUEST_QEMU:-qemu-system-x86_64}" -nodefaults -no-user-config -display none \
		-M q35,kernel-irqchip=split -accel tcg -smp 1 -m 256M \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		$gq_iommu \
		-device pcie-root-port,id=rp0,chassis=1,slot=1 \
		-chardev socket,id=chr0,path="$2" \
		-netdev vhost-user,id=net0,chardev=chr0 \
		-device virtio-net-pci,netdev=net0,bus=rp0,disable-legacy=on,iommu_platform=on,ats=${GUEST_ATS:-on},vectors=0,mac=52:54:00:12:34:56 \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off $gq_append $4" \
		-serial file:"$3" -no-reboot
}

# guest_clock_ok CONSOLE SECS: the guest cannot have lived longer than QEMU ran (SECS); if it
# did, its clock ran fast and its timeouts meant nothing.
guest_clock_ok() {
	gc_secs=$(sed -n 's/^VIOMMU-[A-Z]* \[\([0-9]*\).*/\1/p' "$1" | tail -n 1)
	if [ -n "$gc_secs" ] && [ "$gc_secs" -gt $(($2 + 5)) ]; then
		echo "guest clock ran fast (${gc_secs}s of guest uptime in ${2}s)"
		return 1
	fi
	return 0
}
