#!/bin/sh
# The VMM's own work per emulated VT-d operation (the simulator's `vmm_emul_op`, one `vmm.op`: a
# trapped register write or one queued-invalidation descriptor), measured in QEMU for QEMU's own
# intel-iommu and for libviommu's (viommu-intel-iommu), with no change to either: the guest and
# QEMU of bench/qemu_side_by_side.sh (TCG, so a guest register write calls the device's write
# handler directly and no VM exit is inside the figure), strict invalidation with caching mode,
# pktgen through virtio-net for the net phase only.
#
# Per device, two boots:
#   count  uprobes count, over the net phase, the register-write handler W (vtd_mem_write;
#          the glue's mmio_write) and the invalidation-queue doorbells D (vtd_fetch_inv_desc;
#          libviommu's vi_vtd_qi_process), per packet received;
#   time   perf record -e cpu-clock (DWARF call chains) on QEMU over the net phase: the share of
#          samples with W on the stack times the sampled CPU time, per packet.
# Descriptors per doorbell come from libviommu's own counters (VIOMMU_QEMU_STATS=1, the whole
# run) and are taken as the same for QEMU's device: the same guest driver writes the same queue.
#   vmm_emul_op = handler time per packet / (W + D x descriptors per doorbell) per packet
# It includes everything under the write handler: the model's decode, the descriptor processing
# (IOTLB and context-cache invalidation, wait-descriptor status write and interrupt), the glue's
# lock; it excludes the exit, QEMU's MMIO dispatch above the handler, and translations.
#
# Usage: qemu_emul_op.sh PROJECT_BUILD LIB_DIR NET_REFLECT QEMU [SECS]
#   PROJECT_BUILD: a build directory with tests/integration-cache (the guest's kernel cache);
#   LIB_DIR: the libviommu.so to run (a release build's src/); QEMU: qemu/build.sh's binary.
# Prints "device key=value..." lines and the per-op figures on stdout. Root (perf, uprobes).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 4 ] || { echo "usage: $0 PROJECT_BUILD LIB_DIR NET_REFLECT QEMU [SECS]" >&2; exit 2; }
pbuild=$(cd "$1" && pwd)
libdir=$(cd "$2" && pwd)
reflect_bin=$3
qemu=$4
secs=${5:-8}
mib=8
mib4k=2
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VIOMMU_QEMU_STATS=1
lib=$libdir/libviommu.so
period_us=${VIOMMU_BENCH_PERIOD_US:-250}

work=$(mktemp -d /tmp/viommu-emul-op.XXXXXX)
disk=$work/disk
refl_pid=""
qemu_pid=""
perf_pid=""
cleanup() {
	[ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null || true
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	[ -n "$refl_pid" ] && kill "$refl_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	perf probe -q -d 'viommuop:*' 2>/dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

guest_lib_dir=$root/tests/integration
guest_init=$here/qemu_guest_init.sh
# shellcheck source=tests/integration/guest-lib.sh
. "$guest_lib_dir/guest-lib.sh"
# shellcheck source=bench/qemu-bench-lib.sh
. "$here/qemu-bench-lib.sh"
guest_prepare "$work" "$pbuild/tests/integration-cache" >&2 || exit 1

[ -e /sys/kernel/tracing/uprobe_events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
perf probe -q -d 'viommuop:*' 2>/dev/null || true
perf probe -q -x "$qemu" -a 'viommuop:w_qemu=vtd_mem_write' &&
	perf probe -q -x "$qemu" -a 'viommuop:d_qemu=vtd_fetch_inv_desc' &&
	perf probe -q -x "$qemu" -a 'viommuop:w_ours=mmio_write' &&
	perf probe -q -x "$lib" -a 'viommuop:d_ours=vi_vtd_qi_process' || {
	echo "perf probe failed" >&2
	exit 1
}

# run DEV KIND: one boot; the net phase measured, the others let through.
run() {
	dev=$1
	kind=$2
	tag=$dev-$kind
	log=$work/$tag.console
	d=intel-iommu
	[ "$dev" = ours ] && d=viommu-intel-iommu
	bench_boot_start "$tag" || return 1
	"$qemu" -nodefaults -no-user-config -display none -M q35 -accel tcg -smp 1 -m 256M \
		-device "$d,intremap=off,caching-mode=on" \
		-netdev socket,id=n0,connect=127.0.0.1:"$port" \
		-device virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=,mac=52:54:00:12:34:56 \
		-drive file="$disk",if=none,id=d0,format=raw,cache=writeback \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off oops=panic intel_iommu=on iommu.strict=1 viommu.secs=$secs viommu.mib=$mib viommu.mib4k=$mib4k viommu.ack=1" \
		-serial file:"$log" -chardev pipe,id=ack,path="$work/ack" -serial chardev:ack \
		-no-reboot > "$work/$tag.qemu" 2>&1 &
	qemu_pid=$!
	limit=$(($(date +%s) + 300 + 4 * secs))
	for phase in net dwrite dread dread4k; do
		bench_phase_wait "$log" "$phase" start "$limit" ||
			{ echo "$tag: no $phase start" >&2; tail -n 20 "$log" >&2; return 1; }
		if [ $phase = net ]; then
			if [ "$kind" = time ]; then
				perf record -q -e cpu-clock -c $((period_us * 1000)) --call-graph dwarf,4096 \
					-p "$qemu_pid" -o "$work/$tag.data" > /dev/null 2>&1 &
			else
				perf stat -x, -e "viommuop:w_$dev" -e "viommuop:d_$dev" -p "$qemu_pid" \
					-o "$work/$tag.stat" > /dev/null 2>&1 &
			fi
			perf_pid=$!
			sleep 0.5
		fi
		bench_go_ahead
		bench_phase_wait "$log" "$phase" end "$limit" ||
			{ echo "$tag: no $phase end" >&2; tail -n 20 "$log" >&2; return 1; }
		if [ $phase = net ]; then
			kill -INT "$perf_pid" 2>/dev/null || true
			wait "$perf_pid" 2>/dev/null || true
			perf_pid=""
			sed -n "s/^VIOMMU-BENCH \[.*\] net end \(.*\)/\1/p" "$log" | tr -d '\r' | tail -n 1 \
				> "$work/$tag.net"
		fi
		bench_go_ahead
	done
	wait "$qemu_pid" || true
	qemu_pid=""
	it_reflect_stop
	grep -q "^VIOMMU-BENCH \[.*\] DONE" "$log" || { echo "$tag: guest did not finish" >&2; return 1; }
}

kv() { # FILE KEY
	tr ' ' '\n' < "$1" | sed -n "s/^$2=//p" | head -n 1
}

# libviommu's counters over its whole run: descriptors per doorbell.
dpd=""
for dev in qemu ours; do
	run "$dev" count
	run "$dev" time
	[ "$dev" = ours ] || continue
	# shellcheck disable=SC2016
	st=$(grep -o 'qi_doorbells=[0-9]*.*' "$work/ours-count.qemu" | tail -n 1)
	echo "ours stats: $st"
	dpd=$(echo "$st" | tr ' ' '\n' | awk -F= '$1 == "qi_doorbells" { db = $2 }
		$1 ~ /^qi_(cc|iotlb|dev_iotlb|iec|wait)$/ { n += $2 }
		END { if (db > 0) printf "%.4f", n / db }')
done
[ -n "$dpd" ] || { echo "no descriptor count from libviommu's stats" >&2; exit 1; }
for dev in qemu ours; do
	rc=$(kv "$work/$dev-count.net" received)
	rt=$(kv "$work/$dev-time.net" received)
	w=$(awk -F, -v e="viommuop:w_$dev" '$3 == e { print $1 }' "$work/$dev-count.stat")
	db=$(awk -F, -v e="viommuop:d_$dev" '$3 == e { print $1 }' "$work/$dev-count.stat")
	# QEMU's write handler tail-calls the queue processing (its frame is gone from those
	# samples): both names, and the same pair for ours.
	syms="vtd_mem_write vtd_fetch_inv_desc"
	[ "$dev" = ours ] && syms="mmio_write vi_vtd_qi_process"
	set -- $(bench_share "$work/$dev-time.data" "$syms")
	awk -v dev="$dev" -v rc="$rc" -v rt="$rt" -v w="$w" -v db="$db" -v h="$1" -v t="$2" \
		-v p="$period_us" -v dpd="$dpd" 'BEGIN {
		wp = w / rc; dp = db / rc; ops = wp + dp * dpd
		tns = h * p * 1000 / rt
		printf "%s: packets %d (count run) %d (time run); per packet: register writes %.3f, " \
			"doorbells %.3f, descriptors/doorbell %.3f, vmm.op %.3f; samples %d of %d " \
			"in the write handler; handler ns per packet %.0f; ns per write %.0f; " \
			"vmm_emul_op %.0f ns\n", dev, rc, rt, wp, dp, dpd, ops, h, t, tns, tns / wp,
			tns / ops }'
done
