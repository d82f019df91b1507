#!/bin/sh
# viommu-bench qemu: the same guest workloads on libviommu's vIOMMU inside QEMU and on QEMU's own,
# in the same patched binary (qemu/build.sh), the runs interleaved so that a busy spell of the
# machine falls on both alike.
#
# virtio-iommu (virtio-iommu-pci,x-viommu=on against x-viommu off; the guest of
# tests/integration/qemu_viommu_virtio.sh: bookworm-backports' 6.12 kernel, TCG), per mode
# (virtio-strict: iommu.strict=1, virtio-lazy: iommu.strict=0):
#   pps             60-byte pktgen UDP frames that came back intact through emulated virtio-net
#                   (vhost off, peer tests/net_reflect), per second of pktgen
#   disk_write_mbs  MiB/s of a BLKMB MiB write to virtio-blk with fsync (through the page cache)
#   disk_read_mbs   MiB/s reading it back after dropping the caches
#   xlate_per_pkt   (ours) translations the model answered per frame sent (the pktgen boot)
# Each value is the median over REPS boots. The device-specific rows are a function per IOMMU
# family (virtio_rows); VT-d rows can go beside them the same way.
#
# Usage: qemu_virtio_side_by_side.sh NET_REFLECT [--quick] [MODE...]   (NET_REFLECT in a meson build of
#   this project, whose libviommu.so QEMU uses). Prints "ROW<tab>case<tab>metric<tab>value<tab>
#   unit<tab>baseline" lines on stdout, progress on stderr. VIOMMU_BENCH_SECS (pktgen seconds,
#   default 10, --quick 3), VIOMMU_BENCH_REPS (default 3, --quick 1), VIOMMU_BENCH_BLKMB (default
#   32), QEMU (a patched binary instead of qemu/build.sh's), KEEP_WORK=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 NET_REFLECT [--quick] [MODE...]" >&2; exit 2; }
reflect_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
pbuild=$(cd "$(dirname "$reflect_bin")/.." && pwd)
shift
secs=${VIOMMU_BENCH_SECS:-10}
reps=${VIOMMU_BENCH_REPS:-3}
blkmb=${VIOMMU_BENCH_BLKMB:-32}
if [ "${1:-}" = --quick ]; then
	secs=3
	reps=1
	shift
	[ $# -gt 0 ] || set -- virtio-strict
fi
[ $# -gt 0 ] || set -- virtio-strict virtio-lazy

guest_lib_dir=$root/tests/integration
# shellcheck source=tests/integration/guest-lib.sh
. "$guest_lib_dir/guest-lib.sh"
# (stdout carries the rows: the harness's messages go to stderr.)
it_deps integration >&2
it_qemu x86_64 "$pbuild" "${QEMU:-}" >&2
qemu_bin=$qemu
it_work bench-qemu
guest_kernel=bpo
guest_modules="virtio_iommu virtio_pci virtio_net virtio_blk pktgen pci_stub"
guest_prepare "$work" "$pbuild/tests/integration-cache" >&2 || exit 1

row() {
	printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}"
}

# median V...: the middle value (the mean of the two middle ones for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# boot_virtio QEMU_MODE KERNEL_ARGS: one boot of the virtio-iommu guest (guest_qemu_virtio's
# mode); the console in $work/last.console, QEMU's output in $work/last.qemu. Returns non-zero
# when the guest did not finish healthy.
boot_virtio() {
	rm -f "$work/disk.img"
	truncate -s 64M "$work/disk.img"
	it_reflect_start "$work/last.reflect" "$1" >&2 || return 1
	QEMU=$qemu_bin QEMU_TIMEOUT=$((secs + 300)) guest_qemu_virtio "$1" "$port" \
		"$work/disk.img" "$work/last.console" "$2" > "$work/last.qemu" 2>&1 &
	qemu_pid=$!
	qrc=0
	wait "$qemu_pid" || qrc=$?
	qemu_pid=""
	wait "$refl_pid" 2>/dev/null || true
	refl_pid=""
	tr -d '\r' < "$work/last.console" > "$work/last.txt"
	[ $qrc -eq 0 ] || { echo "$1: qemu exit status $qrc" >&2; tail -n 20 "$work/last.txt" >&2; return 1; }
	return 0
}

# virtio_rows MODE (virtio-strict | virtio-lazy)
virtio_rows() {
	m=${1#virtio-}
	pps_ours=""
	pps_qemu=""
	dw_ours=""
	dw_qemu=""
	dr_ours=""
	dr_qemu=""
	xpp=""
	r=0
	while [ $r -lt "$reps" ]; do
		r=$((r + 1))
		for dev in ours qemu; do
			qm=$m
			[ $dev = qemu ] && qm=qemu-$m
			echo "qemu $1 $dev: pktgen boot $r of $reps" >&2
			boot_virtio "$qm" "viommu.tests=net viommu.bench=$secs" || return 1
			# "BENCH sent=N received=N corrupt=N t0=S t1=S"
			res=$(sed -n 's/^VIOMMU-TEST \[.*\] BENCH //p' "$work/last.txt" | tail -n 1)
			case "$res" in *" corrupt=0 "*) ;; *) echo "$1 $dev: bad run: '$res'" >&2; return 1 ;; esac
			pps=$(echo "$res" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				d = v["t1"] - v["t0"]; print (d > 0 ? v["received"] / d : 0) }')
			if [ $dev = ours ]; then
				pps_ours="$pps_ours $pps"
				st=$(grep "viommu-virtio-iommu: stats" "$work/last.qemu" | tail -n 1)
				sent=$(echo "$res" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
				xl=$(echo "$st" | sed -n 's/.* translations=\([0-9]*\) .*/\1/p')
				[ -n "$xl" ] && [ "${sent:-0}" -gt 0 ] && xpp="$xpp $(echo "$xl $sent" | awk '{ print $1 / $2 }')"
			else
				pps_qemu="$pps_qemu $pps"
			fi
			echo "qemu $1 $dev: disk boot $r of $reps" >&2
			boot_virtio "$qm" "viommu.tests=blk viommu.blkmb=$blkmb" || return 1
			grep -q "^VIOMMU-TEST \[.*\] PASS$" "$work/last.txt" || { echo "$1 $dev: disk run failed" >&2; tail -n 20 "$work/last.txt" >&2; return 1; }
			# "disk times: write_s=S read_s=S"
			t=$(sed -n 's/^VIOMMU-TEST \[.*\] disk times: //p' "$work/last.txt" | tail -n 1)
			w=$(echo "$t $blkmb" | awk '{ split($1, a, "="); split($2, b, "="); print (a[2] > 0 ? $3 / a[2] : 0) }')
			rd=$(echo "$t $blkmb" | awk '{ split($1, a, "="); split($2, b, "="); print (b[2] > 0 ? $3 / b[2] : 0) }')
			if [ $dev = ours ]; then
				dw_ours="$dw_ours $w"
				dr_ours="$dr_ours $rd"
			else
				dw_qemu="$dw_qemu $w"
				dr_qemu="$dr_qemu $rd"
			fi
		done
	done
	# shellcheck disable=SC2086
	{
		row "$1/qemu-own" pps "$(median $pps_qemu)" pkt/s
		row "$1/libviommu" pps "$(median $pps_ours)" pkt/s "$1/qemu-own"
		row "$1/qemu-own" disk_write_mbs "$(median $dw_qemu)" MiB/s
		row "$1/libviommu" disk_write_mbs "$(median $dw_ours)" MiB/s "$1/qemu-own"
		row "$1/qemu-own" disk_read_mbs "$(median $dr_qemu)" MiB/s
		row "$1/libviommu" disk_read_mbs "$(median $dr_ours)" MiB/s "$1/qemu-own"
		row "$1/libviommu" xlate_per_pkt "$(median $xpp)" count
	}
}

rc=0
for mode in "$@"; do
	case "$mode" in
	virtio-strict | virtio-lazy) virtio_rows "$mode" || rc=1 ;;
	*) echo "viommu-bench qemu: unknown mode '$mode'" >&2; rc=1 ;;
	esac
done
exit $rc
