#!/bin/sh
# viommu-bench vhost: one guest (the integration test's: Debian's 6.1 kernel and a busybox
# initramfs, QEMU 7.2 under TCG, virtio-net-pci behind intel-iommu with ATS) against DPDK's
# dpdk-testpmd (vhost PMD with iommu-support=1, 5tswap forwarding with retry, one forwarding
# core) and against viommu-vhost --reflect in its three ways of waiting: event-driven (the
# default), --poll (one core, like testpmd) and --busy-poll-us. The guest's pktgen sends 60-byte
# UDP frames for a fixed time; its UDP stack counts the replies that come back intact.
#
# Per IOMMU mode the back-ends run one after the other, ROUNDS times, alternating the order (the
# first round forwards, the second backwards, ...) so that a drifting machine load favours none.
#
# Usage: vhost_vs_dpdk.sh VIOMMU_VHOST [--quick] [MODE...]   modes: noiommu pt strict lazy
# Prints "ROW<tab>case<tab>metric<tab>value<tab>unit<tab>baseline" lines on stdout (viommu-bench
# reads them) and progress and notes on stderr. Per mode, back-end and round (case MODE/BE#N):
# ok (1: every frame that came back was intact and the guest stayed healthy; a back-end that
# corrupts the guest reports 0 and pps 0), pps (intact replies per second of pktgen), replies_pct
# (replies per frame sent), cpu_us_per_pkt (the back-end's utime + stime over the whole run, per
# reply: getrusage-equivalent from /proc/PID/stat) and load1 (the machine's 1-minute load average
# at the end of the run). Per mode and back-end over the rounds (case MODE/BE): the mean pps and
# cpu_us_per_pkt, the viommu-vhost rows with testpmd's as their baseline (the ratio), and
# pps_ratio (mean of the per-round ratios to testpmd). Rows machine/load1_start and
# machine/load1_end state the load; a NOTE says when the machine was not idle. Run as root.
# VIOMMU_BENCH_SECS (pktgen seconds, default 10, --quick 3), VIOMMU_BENCH_ROUNDS (default 2),
# VIOMMU_BENCH_BACKENDS (default "dpdk viommu viommu-poll viommu-busypoll"; viommu-busypoll-N:
# --busy-poll-us=N, for choosing the window),
# VIOMMU_BENCH_BUSY_POLL_US (default 50), VIOMMU_CACHE (vmlinux cache dir), KEEP_WORK=1;
# GUEST_NET_OPTS (guest-lib.sh) reaches the virtio-net device: packed=on measures packed rings.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 VIOMMU_VHOST [--quick] [MODE...]" >&2; exit 2; }
vhost_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
secs=${VIOMMU_BENCH_SECS:-10}
rounds=${VIOMMU_BENCH_ROUNDS:-2}
backends=${VIOMMU_BENCH_BACKENDS:-dpdk viommu viommu-poll viommu-busypoll}
busy_us=${VIOMMU_BENCH_BUSY_POLL_US:-50}
if [ "${1:-}" = --quick ]; then
	secs=${VIOMMU_BENCH_SECS:-3}
	shift
	[ $# -gt 0 ] || set -- strict
fi
[ $# -gt 0 ] || set -- noiommu pt strict lazy
[ "$rounds" -ge 1 ] || { echo "VIOMMU_BENCH_ROUNDS must be at least 1" >&2; exit 2; }

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

load1() {
	cut -d" " -f1 /proc/loadavg
}

# The case name of back-end $1.
be_name() {
	case "$1" in
	dpdk) echo dpdk-testpmd ;;
	viommu) echo viommu-vhost ;;
	viommu-poll) echo viommu-vhost-poll ;;
	viommu-busypoll) echo viommu-vhost-busypoll ;;
	viommu-busypoll-*) echo "viommu-vhost-busypoll-${1#viommu-busypoll-}us" ;;
	esac
}

# run_one MODE BACKEND (dpdk|viommu|viommu-poll|viommu-busypoll): boots the guest once; sets
# r_pps, r_cpu_us (back-end CPU microseconds per packet that came back), r_pct (replies per frame
# sent), r_load (1-minute load average at the end) and r_status.
run_one() {
	mode=$1
	be=$2
	sock=$work/$mode-$be.sock
	log=$work/$mode-$be.console
	blog=$work/$mode-$be.backend
	rm -f "$sock"
	case "$be" in
	viommu)
		"$vhost_bin" --reflect --socket-path="$sock" --busy-poll-us=0 2> "$blog" &
		;;
	viommu-poll)
		"$vhost_bin" --reflect --socket-path="$sock" --poll 2> "$blog" &
		;;
	viommu-busypoll)
		"$vhost_bin" --reflect --socket-path="$sock" --busy-poll-us="$busy_us" 2> "$blog" &
		;;
	viommu-busypoll-*)
		"$vhost_bin" --reflect --socket-path="$sock" --busy-poll-us="${be#viommu-busypoll-}" \
			2> "$blog" &
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
			r_load=$(load1)
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
	r_load=$(load1)
	kill -INT "$be_pid" 2>/dev/null || true
	wait "$be_pid" 2>/dev/null || true
	be_pid=""

	# The serial console ends lines with CR.
	bres=$(sed -n 's/^VIOMMU-TEST \[.*\] BENCH //p' "$log" | tr -d '\r' | tail -n 1)
	r_status=ok
	if [ -z "$bres" ]; then
		why=$(grep -m 1 -o -E "(general protection fault|Kernel panic|BUG:|Oops|FAIL).*" \
			"$log" || true)
		r_status="guest failed${why:+: $why}"
	elif ! clk=$(guest_clock_ok "$log" "$elapsed"); then
		r_status=$clk
	elif [ $qrc -ne 0 ]; then
		r_status="qemu exit status $qrc"
	fi
	# shellcheck disable=SC2086
	set -- $bres
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
		"back-end CPU $ticks ticks over ${elapsed}s; load $r_load" >&2
}

echo "testpmd busy-polls one core; on a machine with few cores that CPU is taken from QEMU's" \
	"TCG vCPU, which slows the guest itself: compare cpu_us_per_pkt (each back-end's own CPU" \
	"time per frame that came back) as well as pps; viommu-vhost-poll spends a core the same way" >&2
load_start=$(load1)
echo "load: $(cat /proc/loadavg) on $(nproc) CPUs at the start" >&2
row machine load1_start "$load_start" load
# The back-ends in the order of round $1: forwards in odd rounds, backwards in even ones.
order() {
	if [ $(($1 % 2)) = 1 ]; then
		echo "$backends"
	else
		echo "$backends" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'
	fi
}
for mode in "$@"; do
	echo "== $mode (pktgen ${secs}s per back-end, $rounds rounds: $backends)" >&2
	resf=$work/$mode.results # lines: backend round status pps cpu_us pct load
	: > "$resf"
	r=1
	while [ $r -le "$rounds" ]; do
		for be in $(order $r); do
			run_one "$mode" "$be"
			[ "$r_status" = ok ] || echo "NOTE $mode: $(be_name "$be") round $r FAILED: $r_status" >&2
			echo "$be $r $([ "$r_status" = ok ] && echo ok || echo fail) $r_pps $r_cpu_us" \
				"$r_pct $r_load" >> "$resf"
		done
		# The round's rows, testpmd's first (the others name it as their baseline).
		for be in $backends; do
			# Fields: backend round status pps cpu_us pct load (the mode loop's list is
			# already expanded: set -- does not change it).
			# shellcheck disable=SC2046
			set -- $(awk -v be="$be" -v r="$r" '$1 == be && $2 == r' "$resf")
			name=$(be_name "$be")
			base=""
			[ "$be" = dpdk ] || base="$mode/dpdk-testpmd#$r"
			case " $backends " in *" dpdk "*) ;; *) base="" ;; esac
			row "$mode/$name#$r" ok "$([ "$3" = ok ] && echo 1 || echo 0)" bool
			row "$mode/$name#$r" pps "$4" pkt/s "$base"
			row "$mode/$name#$r" replies_pct "$6" %
			row "$mode/$name#$r" cpu_us_per_pkt "$5" us "$base"
			row "$mode/$name#$r" load1 "$7" load
		done
		r=$((r + 1))
	done
	# Over the rounds: means of the successful runs, and the mean of the per-round pps ratios
	# to testpmd (a round counts only when both runs in it succeeded).
	for be in $backends; do
		name=$(be_name "$be")
		m=$(awk -v be="$be" '$1 == be && $3 == "ok" { n++; p += $4; c += $5 }
			END { if (n) printf "%.1f %.2f %d", p / n, c / n, n; else print "0 0 0" }' "$resf")
		base=""
		[ "$be" = dpdk ] || base="$mode/dpdk-testpmd"
		case " $backends " in *" dpdk "*) ;; *) base="" ;; esac
		row "$mode/$name" pps "$(echo "$m" | cut -d" " -f1)" pkt/s "$base"
		row "$mode/$name" cpu_us_per_pkt "$(echo "$m" | cut -d" " -f2)" us "$base"
		row "$mode/$name" ok_runs "$(echo "$m" | cut -d" " -f3)" runs
		[ "$be" != dpdk ] || continue
		ratio=$(awk -v be="$be" '$3 == "ok" { p[$1 " " $2] = $4 }
			END { for (k in p) { split(k, a, " "); if (a[1] == be && (("dpdk " a[2]) in p) &&
				p["dpdk " a[2]] > 0) { s += p[k] / p["dpdk " a[2]]; n++ } }
				if (n) printf "%.3f", s / n; else print "" }' "$resf")
		if [ -n "$ratio" ]; then
			row "$mode/$name" pps_ratio "$ratio" x
			echo "  $mode: $name / dpdk-testpmd pps ratio (mean of rounds): $ratio" >&2
		fi
	done
	if grep -q "^dpdk [0-9]* fail " "$resf" && ! grep -q "^viommu[^ ]* [0-9]* fail " "$resf"; then
		echo "NOTE $mode: dpdk-testpmd failed where viommu-vhost stayed correct" >&2
	fi
done
load_end=$(load1)
row machine load1_end "$load_end" load
echo "load: $(cat /proc/loadavg) on $(nproc) CPUs at the end" >&2
if awk -v a="$load_start" -v b="$load_end" 'BEGIN { exit !(a > 0.5 || b > 0.5) }'; then
	echo "NOTE: the machine was not idle (1-minute load $load_start at the start, $load_end at" \
		"the end): these figures are not representative; run again on an idle machine" >&2
fi
