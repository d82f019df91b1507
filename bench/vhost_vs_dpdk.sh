#!/bin/sh
# viommu-bench vhost: one guest (the integration test's: Debian's 6.1 kernel and a busybox
# initramfs, QEMU 7.2 under TCG, virtio-net-pci behind intel-iommu with ATS) against
# viommu-vhost --reflect and against DPDK's dpdk-testpmd (vhost PMD with iommu-support=1,
# 5tswap forwarding with retry), one after the other in each IOMMU mode. The guest's pktgen sends
# 60-byte UDP frames for a fixed time; its UDP stack counts the replies that come back intact.
#
# Usage: vhost_vs_dpdk.sh VIOMMU_VHOST [--quick] [MODE...]   modes: noiommu strict pt lazy
# Prints "ROW<tab>case<tab>metric<tab>value<tab>unit<tab>baseline" lines on stdout (viommu-bench
# reads them) and progress and notes on stderr. Per mode and back-end: ok (1: every frame that
# came back was intact and the guest stayed healthy; a back-end that corrupts the guest reports 0
# and pps 0), pps (intact replies per second of pktgen), replies_pct (replies per frame sent) and
# cpu_us_per_pkt (the back-end's utime + stime over the whole run, per reply). Run as root.
# VIOMMU_BENCH_SECS (default 10, --quick 3), VIOMMU_CACHE (vmlinux cache dir), KEEP_WORK=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 VIOMMU_VHOST [--quick] [MODE...]" >&2; exit 2; }
vhost_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
secs=${VIOMMU_BENCH_SECS:-10}
if [ "${1:-}" = --quick ]; then
	secs=3
	shift
	[ $# -gt 0 ] || set -- strict
fi
[ $# -gt 0 ] || set -- noiommu strict pt lazy

"$root/scripts/deps.sh" bench >&2 || {
	echo "viommu-bench vhost: needs the packages above (run as root or install them)" >&2
	exit 1
}

work=$(mktemp -d /tmp/viommu-bench-vhost.XXXXXX)
be_pid=""
qemu_pid=""
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	[ -n "$be_pid" ] && kill -INT "$be_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "/var/run/dpdk/viommu-bench-$$"
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

guest_lib_dir=$root/tests/integration
# shellcheck source=tests/integration/guest-lib.sh
. "$guest_lib_dir/guest-lib.sh"
guest_prepare "$work" "${VIOMMU_CACHE:-$(dirname "$vhost_bin")/integration-cache}" >&2 || exit 1
hz=$(getconf CLK_TCK)

# CPU time (utime + stime, in clock ticks) of process $1 so far. Field 2 (comm) has no spaces
# for either back-end.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

row() {
	printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}"
}

# run_one MODE BACKEND (viommu|dpdk): boots the guest once; sets r_pps, r_cpu_us (back-end CPU
# microseconds per packet that came back), r_pct (replies per frame sent) and r_status.
run_one() {
	mode=$1
	be=$2
	sock=$work/$mode-$be.sock
	log=$work/$mode-$be.console
	blog=$work/$mode-$be.backend
	case "$be" in
	viommu)
		"$vhost_bin" --reflect --socket-path="$sock" 2> "$blog" &
		;;
	dpdk)
		# Retry: a full guest receive ring holds forwarding back instead of dropping, as
		# viommu-vhost --reflect does. No hugepages needed: --no-huge with -m.
		echo "set fwd 5tswap retry" > "$work/testpmd.cmd"
		dpdk-testpmd -l 0,1 --no-huge -m 256 --no-pci --file-prefix="viommu-bench-$$" \
			--vdev "net_vhost0,iface=$sock,iommu-support=1,queues=1" -- \
			--nb-cores=1 --total-num-mbufs=16384 --forward-mode=5tswap \
			--cmdline-file="$work/testpmd.cmd" \
			--stats-period=3600 < /dev/null > "$blog" 2>&1 &
		;;
	esac
	be_pid=$!
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$be_pid" 2>/dev/null; then
			echo "$mode/$be: back-end did not start:" >&2
			tail -n 20 "$blog" >&2
			r_status="back-end did not start"
			r_pps=0
			r_cpu_us=0
			r_pct=0
			kill -INT "$be_pid" 2>/dev/null || true
			wait "$be_pid" 2>/dev/null || true
			be_pid=""
			return 0
		fi
		sleep 0.1
	done

	start=$(date +%s)
	# oops=panic: a guest whose memory a back-end corrupted stops at once instead of hanging.
	QEMU_TIMEOUT=$((secs + 300)) guest_qemu "$mode" "$sock" "$log" "viommu.bench=$secs oops=panic" \
		> "$work/$mode-$be.qemu" 2>&1 &
	qemu_pid=$!
	qrc=0
	wait "$qemu_pid" || qrc=$?
	qemu_pid=""
	elapsed=$(($(date +%s) - start))
	ticks=$(cpu_ticks "$be_pid")
	kill -INT "$be_pid" 2>/dev/null || true
	wait "$be_pid" 2>/dev/null || true
	be_pid=""

	res=$(sed -n 's/^VIOMMU-TEST \[.*\] BENCH //p' "$log" | tail -n 1)
	r_status=ok
	if [ -z "$res" ]; then
		why=$(grep -m 1 -o -E "(general protection fault|Kernel panic|BUG:|Oops|FAIL).*" \
			"$log" || true)
		r_status="guest failed${why:+: $why}"
	elif ! clk=$(guest_clock_ok "$log" "$elapsed"); then
		r_status=$clk
	elif [ $qrc -ne 0 ]; then
		r_status="qemu exit status $qrc"
	fi
	# shellcheck disable=SC2086
	set -- $res
	sent=0 received=0 corrupt=0 t0=0 t1=1
	for kv in "$@"; do
		case "$kv" in
		sent=*) sent=${kv#sent=} ;;
		received=*) received=${kv#received=} ;;
		corrupt=*) corrupt=${kv#corrupt=} ;;
		t0=*) t0=${kv#t0=} ;;
		t1=*) t1=${kv#t1=} ;;
		esac
	done
	[ "$corrupt" = 0 ] || r_status="$corrupt frames came back corrupted"
	if grep -q -E "DMAR:.*[Ff]ault|BUG:|Oops|WARNING:|Call Trace" "$log"; then
		[ "$r_status" != ok ] || r_status="guest kernel log: $(grep -m 1 -E "DMAR:.*[Ff]ault|BUG:|Oops|WARNING:|Call Trace" "$log")"
	fi
	if [ "$r_status" = ok ]; then
		r_pps=$(awk -v n="$received" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
		r_pct=$(awk -v n="$received" -v s="$sent" 'BEGIN { printf "%.1f", s ? 100 * n / s : 0 }')
		r_cpu_us=$(awk -v t="$ticks" -v hz="$hz" -v n="$received" \
			'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }')
	else
		r_pps=0
		r_pct=0
		r_cpu_us=0
	fi
	echo "  $mode/$be: $r_status: $received of $sent frames back in $t0..$t1 s guest time;" \
		"back-end CPU $ticks ticks over ${elapsed}s" >&2
}

echo "testpmd busy-polls one core; on a machine with few cores that CPU is taken from QEMU's" \
	"TCG vCPU, which slows the guest itself: compare cpu_us_per_pkt (each back-end's own CPU" \
	"time per frame that came back) as well as pps" >&2
for mode in "$@"; do
	echo "== $mode (pktgen ${secs}s per back-end)" >&2
	run_one "$mode" dpdk
	d_pps=$r_pps
	d_status=$r_status
	row "$mode/dpdk-testpmd" ok "$([ "$r_status" = ok ] && echo 1 || echo 0)" bool
	row "$mode/dpdk-testpmd" pps "$r_pps" pkt/s
	row "$mode/dpdk-testpmd" replies_pct "$r_pct" %
	row "$mode/dpdk-testpmd" cpu_us_per_pkt "$r_cpu_us" us
	run_one "$mode" viommu
	row "$mode/viommu-vhost" ok "$([ "$r_status" = ok ] && echo 1 || echo 0)" bool
	row "$mode/viommu-vhost" pps "$r_pps" pkt/s "$mode/dpdk-testpmd"
	row "$mode/viommu-vhost" replies_pct "$r_pct" % "$mode/dpdk-testpmd"
	row "$mode/viommu-vhost" cpu_us_per_pkt "$r_cpu_us" us "$mode/dpdk-testpmd"
	[ "$d_status" = ok ] || echo "NOTE $mode: dpdk-testpmd FAILED: $d_status" >&2
	[ "$r_status" = ok ] || echo "NOTE $mode: viommu-vhost FAILED: $r_status" >&2
	if [ "$d_status" = ok ] && [ "$r_status" = ok ] &&
		awk -v a="$d_pps" -v b="$r_pps" 'BEGIN { d = a - b; if (d < 0) d = -d;
			m = a > b ? a : b; exit !(m > 0 && d / m < 0.1) }'; then
		echo "NOTE $mode: both back-ends within 10% of each other: the guest (TCG) is the" \
			"bottleneck, so pps cannot rank them; cpu_us_per_pkt is each back-end's own cost" \
			"(testpmd busy-polls a core, so its cost is the wall time it ran)" >&2
	fi
done
