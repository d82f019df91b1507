#!/bin/sh
# viommu-bench qemu: QEMU's own VT-d device (intel-iommu) against libviommu's
# (viommu-intel-iommu) in the same QEMU binary (qemu/build.sh), the same guest (Debian's 6.1
# kernel, the integration test's busybox initramfs with bench/qemu_guest_init.sh as /init) and the
# same device properties; only the -device word differs. Per IOMMU mode the two devices boot in
# alternation, VIOMMU_BENCH_REPS times each, and every figure is the median over those runs with
# its range. Phases (bench/qemu_guest_init.sh): pktgen through virtio-net (vhost off, -netdev
# socket to tests/net_reflect), O_DIRECT disk writes and reads through virtio-blk.
#
# Per phase and device, measured on the host over the phase's window only:
#   - the guest's rate (intact replies per second; MiB per second), in guest time;
#   - QEMU's CPU time (utime + stime of the process) per packet or per MiB;
#   - the CPU time in the device's translate path per packet or per MiB: perf record -e cpu-clock
#     (software sampling at a fixed period, DWARF call chains) on the QEMU process; the share of
#     samples with the device's translate entry point on the stack (vtd_iommu_translate for
#     QEMU's, iommu_translate for ours: everything below it, libviommu, glib, locks) times the
#     sampled CPU time;
#   - translations per packet or per MiB: uprobes on the same entry points, counted by perf stat
#     in one extra run per device and mode (a uprobe costs microseconds per hit, so the timed
#     runs have none); the time per translation is the translate CPU over that count.
#
# Usage: qemu_side_by_side.sh PROJECT_BUILD NET_REFLECT [--quick] [MODE...]   modes: strict lazy
# Prints "ROW<tab>case<tab>metric<tab>value<tab>unit<tab>baseline" lines on stdout (viommu-bench
# reads them); progress and notes on stderr. Run as root (packages, perf, uprobes).
# VIOMMU_BENCH_REPS (default 3; --quick 1), VIOMMU_BENCH_SECS (pktgen seconds, default 8; --quick
# 3), VIOMMU_BENCH_MIB (disk MiB each way in 1 MiB requests, default 512; --quick 8),
# VIOMMU_BENCH_MIB4K (MiB read in 4 KiB requests, default 16; --quick 2), KEEP_WORK=1 (keeps the
# perf data and consoles), VIOMMU_BENCH_COUNT=1 (with --quick: the uprobe count runs too).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 PROJECT_BUILD NET_REFLECT [--quick] [MODE...]" >&2; exit 2; }
pbuild=$(cd "$1" && pwd)
reflect_bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
shift 2
reps=${VIOMMU_BENCH_REPS:-3}
secs=${VIOMMU_BENCH_SECS:-8}
mib=${VIOMMU_BENCH_MIB:-512}
mib4k=${VIOMMU_BENCH_MIB4K:-16}
count_runs=1
if [ "${1:-}" = --quick ]; then
	reps=1
	secs=3
	mib=8
	mib4k=2
	count_runs=${VIOMMU_BENCH_COUNT:-0}
	shift
	[ $# -gt 0 ] || set -- strict
fi
[ $# -gt 0 ] || set -- strict lazy

guest_lib_dir=$root/tests/integration
guest_init=$here/qemu_guest_init.sh
# shellcheck source=tests/integration/guest-lib.sh
. "$guest_lib_dir/guest-lib.sh"
# shellcheck source=bench/qemu-bench-lib.sh
. "$here/qemu-bench-lib.sh"
# (stdout carries the rows: the harness's messages go to stderr.)
it_deps integration qemu >&2
it_qemu x86_64 "$pbuild" >&2
export VIOMMU_QEMU_STATS=1

work=$(mktemp -d /tmp/viommu-bench-qemu.XXXXXX)
# The disk image in memory when there is room: the host's own disk (fsync) stays out of it.
disk=$work/disk
if [ "$(df -m --output=avail /dev/shm 2>/dev/null | tail -n 1)" -gt $((mib * 2 + 64)) ] 2>/dev/null; then
	disk=/dev/shm/viommu-bench-qemu.$$.disk
fi
refl_pid=""
qemu_pid=""
perf_pid=""
probes=0
cleanup() {
	[ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null || true
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	[ -n "$refl_pid" ] && kill "$refl_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -f "$disk"
	[ $probes = 1 ] && perf probe -q -d 'viommubench:*' 2>/dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

guest_prepare "$work" "$pbuild/tests/integration-cache" >&2 || exit 1
hz=$(getconf CLK_TCK)
# perf's sampling period: one sample per this much CPU time of QEMU (microseconds).
period_us=${VIOMMU_BENCH_PERIOD_US:-1000}

# perf: sampling (cpu-clock works without hardware counters) and uprobes for the counts.
have_perf=0
if command -v perf > /dev/null 2>&1 && perf record -q -e cpu-clock -o "$work/probe.data" true 2>/dev/null; then
	have_perf=1
fi
if [ $have_perf = 1 ] && [ $count_runs = 1 ]; then
	[ -e /sys/kernel/tracing/uprobe_events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
	perf probe -q -d 'viommubench:*' 2>/dev/null || true
	if perf probe -q -x "$qemu" -a 'viommubench:xlate_qemu=vtd_iommu_translate' 2>/dev/null &&
		perf probe -q -x "$qemu" -a 'viommubench:xlate_ours=iommu_translate' 2>/dev/null; then
		probes=1
	else
		perf probe -q -d 'viommubench:*' 2>/dev/null || true
		echo "viommu-bench qemu: no uprobes (perf probe failed): no translation counts" >&2
	fi
fi
[ $have_perf = 1 ] || echo "viommu-bench qemu: no working perf: no translate-path rows" >&2

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
row() {
	printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}"
}
# The device each name boots, with the properties of the integration test's mode.
iommu_dev() { # DEV MODE
	d=intel-iommu
	[ "$1" = ours ] && d=viommu-intel-iommu
	case "$2" in
	strict) echo "$d,intremap=off,caching-mode=on" ;;
	lazy) echo "$d,intremap=off" ;;
	esac
}
iommu_append() {
	case "$1" in
	strict) echo "intel_iommu=on iommu.strict=1" ;;
	lazy) echo "intel_iommu=on iommu.strict=0" ;;
	esac
}
# Shares of a perf.data file's samples, as fractions: with the device's translate entry point on
# the call chain, with any of the device's entry points on it (translate, register reads and
# writes, invalidation queue processing); and the number of samples: "XLATE DEVICE SAMPLES".
perf_shares() { # FILE XLATE_SYM OTHER_SYMS
	perf script -i "$1" -F tid,ip,sym 2>/dev/null | awk -v x="$2" -v o="$3" '
		BEGIN { n = split(o, a, " "); for (i = 1; i <= n; i++) dev[a[i]] = 1; dev[x] = 1 }
		function done() { if (in_s) { t++; xs += hx; ds += hd } in_s = hx = hd = 0 }
		# A sample: its thread id on a line of its own, then one line per frame (tab first).
		/^ *[0-9]+ *$/ { done(); in_s = 1; next }
		NF >= 2 { if ($2 == x) hx = 1; if ($2 in dev) hd = 1 }
		END { done(); printf "%.6f %.6f %d\n", t ? xs / t : 0, t ? ds / t : 0, t }'
}


# run_one MODE DEV KIND (time|count): boots the guest once, measures each phase's window; writes
# "PHASE key=value..." lines to $work/MODE-DEV-KIND-N.res.
run_one() {
	mode=$1
	dev=$2
	kind=$3
	tag=$mode-$dev-$kind-$4
	log=$work/$tag.console
	res=$work/$tag.res
	: > "$res"
	bench_boot_start "$tag" || return 1
	# shellcheck disable=SC2046
	"$qemu" -nodefaults -no-user-config -display none -M q35 -accel tcg -smp 1 -m 256M \
		-device "$(iommu_dev "$dev" "$mode")" \
		-netdev socket,id=n0,connect=127.0.0.1:"$port" \
		-device virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=,mac=52:54:00:12:34:56 \
		-drive file="$disk",if=none,id=d0,format=raw,cache=writeback \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off oops=panic $(iommu_append "$mode") viommu.secs=$secs viommu.mib=$mib viommu.mib4k=$mib4k viommu.ack=1" \
		-serial file:"$log" -chardev pipe,id=ack,path="$work/ack" -serial chardev:ack \
		-no-reboot > "$work/$tag.qemu" 2>&1 &
	qemu_pid=$!
	start=$(date +%s)
	limit=$((start + 240 + 4 * secs + mib))
	ok=1
	for phase in net dwrite dread dread4k; do
		bench_phase_wait "$log" "$phase" start "$limit" || { ok=0; break; }
		pdata=$work/$tag.$phase.data
		if [ "$kind" = time ] && [ $have_perf = 1 ]; then
			perf record -q -e cpu-clock -c $((period_us * 1000)) --call-graph dwarf,4096 -p "$qemu_pid" \
				-o "$pdata" > /dev/null 2>&1 &
			perf_pid=$!
		elif [ "$kind" = count ]; then
			perf stat -x, -e viommubench:xlate_qemu -e viommubench:xlate_ours -p "$qemu_pid" \
				-o "$work/$tag.$phase.stat" > /dev/null 2>&1 &
			perf_pid=$!
		fi
		# perf attaches to QEMU's threads before the guest goes on.
		[ -z "$perf_pid" ] || sleep 0.5
		c0=$(cpu_ticks "$qemu_pid")
		bench_go_ahead
		bench_phase_wait "$log" "$phase" end "$limit" || { ok=0; break; }
		c1=$(cpu_ticks "$qemu_pid")
		ct=$((c1 - c0))
		# QEMU gone (it crashed): no CPU figure.
		[ "$c1" -ge "$c0" ] || ct=
		if [ -n "$perf_pid" ]; then
			kill -INT "$perf_pid" 2>/dev/null || true
			wait "$perf_pid" 2>/dev/null || true
			perf_pid=""
		fi
		kv=$(sed -n "s/^VIOMMU-BENCH \[.*\] $phase end \(.*\)/\1/p" "$log" | tr -d '\r' | tail -n 1)
		echo "$phase cpu_ticks=$ct $kv" >> "$res"
		bench_go_ahead
	done
	if [ $ok = 0 ]; then
		[ -n "$perf_pid" ] && { kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; }
		perf_pid=""
		kill "$qemu_pid" 2>/dev/null || true
	fi
	wait "$qemu_pid" || true
	qemu_pid=""
	it_reflect_stop
	tr -d '\r' < "$log" > "$log.txt"
	if [ $ok = 0 ] || ! grep -q "^VIOMMU-BENCH \[.*\] DONE" "$log.txt" ||
		grep -q "^VIOMMU-BENCH \[.*\] FAIL" "$log.txt"; then
		echo "$tag: the guest did not finish:" >&2
		tail -n 20 "$log.txt" >&2
		tail -n 5 "$work/$tag.qemu" >&2
		: > "$res"
		return 1
	fi
	if grep -q "corrupt=[1-9]" "$res"; then
		echo "$tag: frames came back corrupted" >&2
		: > "$res"
		return 1
	fi
	# Translate-path share of each phase's samples.
	if [ "$kind" = time ] && [ $have_perf = 1 ]; then
		# QEMU's register write may tail-call the queue processing: name both.
		xsym=vtd_iommu_translate
		osyms="vtd_mem_read vtd_mem_write vtd_fetch_inv_desc"
		if [ "$dev" = ours ]; then
			xsym=iommu_translate
			osyms="mmio_read mmio_write"
		fi
		for phase in net dwrite dread dread4k; do
			# shellcheck disable=SC2046
			set -- $(perf_shares "$work/$tag.$phase.data" "$xsym" "$osyms")
			sed -i "s/^$phase .*/& xshare=$1 dshare=$2 samples=$3/" "$res"
			[ "${KEEP_WORK:-0}" = 1 ] || rm -f "$work/$tag.$phase.data"
		done
	fi
	if [ "$kind" = count ]; then
		ev=xlate_qemu
		[ "$dev" = ours ] && ev=xlate_ours
		for phase in net dwrite dread dread4k; do
			n=$(awk -F, -v e="viommubench:$ev" '$3 == e { print $1 }' "$work/$tag.$phase.stat")
			sed -i "s/^$phase .*/& xlates=${n:-0}/" "$res"
		done
	fi
	echo "  $tag: $(tr '\n' ';' < "$res")" >&2
	[ "$dev" = ours ] && echo "  $tag: $(grep -o 'translations=[0-9]*.*page_walks=[0-9]*' "$work/$tag.qemu" | tail -n 1)" >&2
	return 0
}

# val FILE PHASE KEY: one value from a result file.
val() {
	awk -v p="$2" -v k="$3=" '$1 == p { for (i = 2; i <= NF; i++)
		if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }' "$1"
}
# stats V...: "median min max n" of the numbers given.
stats() {
	printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "0 0 0 0"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.6g %.6g %.6g %d\n", m, v[1], v[NR], NR }'
}
# emit CASE METRIC UNIT BASELINE V...: median row plus its range and run count.
emit() {
	c=$1 m=$2 u=$3 b=$4
	shift 4
	set -- $(stats "$@")
	[ "$4" -gt 0 ] || return 0
	row "$c" "$m" "$1" "$u" "$b"
	row "$c" "$m.min" "$2" "$u" "$b"
	row "$c" "$m.max" "$3" "$u" "$b"
	row "$c" "$m.runs" "$4" "n"
}

fails=0
for mode in "$@"; do
	case "$mode" in strict | lazy) ;; *) echo "unknown mode $mode" >&2; exit 2 ;; esac
	echo "== $mode: $reps runs per device, pktgen ${secs}s, disk ${mib} MiB each way, ${mib4k} MiB in 4 KiB reads" >&2
	if [ $probes = 1 ]; then
		for dev in qemu ours; do
			run_one "$mode" "$dev" count 0 || fails=$((fails + 1))
		done
	fi
	r=1
	while [ $r -le "$reps" ]; do
		# Alternate which device goes first, so a slow spell of the host falls on both.
		order="qemu ours"
		[ $((r % 2)) = 0 ] && order="ours qemu"
		for dev in $order; do
			run_one "$mode" "$dev" time "$r" || fails=$((fails + 1))
		done
		r=$((r + 1))
	done
	for dev in qemu ours; do
		case_name=$mode/$(iommu_dev "$dev" "$mode" | cut -d, -f1)
		base=""
		[ "$dev" = ours ] && base=$mode/intel-iommu
		cnt=$work/$mode-$dev-count-0.res
		for phase in net dwrite dread dread4k; do
			# Translations per unit of work (packet; MiB), from the count run.
			xpu=""
			if [ -s "$cnt" ]; then
				xpu=$(awk -v n="$(val "$cnt" $phase xlates)" -v r="$(val "$cnt" $phase received)" \
					-v b="$(val "$cnt" $phase bytes)" 'BEGIN { u = r != "" ? r : b / 1048576
						if (u > 0 && n != "") printf "%.4f", n / u }')
			fi
			rate="" cpu="" xl="" dv="" ns=""
			for f in "$work/$mode-$dev-time-"*.res; do
				[ -s "$f" ] || continue
				# Per unit: us per packet for net, ms per MiB for the disk.
				# shellcheck disable=SC2046
				set -- $(awk -v r="$(val "$f" $phase received)" -v b="$(val "$f" $phase bytes)" \
					-v a="$(val "$f" $phase t0)" -v z="$(val "$f" $phase t1)" \
					-v t="$(val "$f" $phase cpu_ticks)" -v hz="$hz" -v p="$period_us" \
					-v xs="$(val "$f" $phase xshare)" -v ds="$(val "$f" $phase dshare)" \
					-v k="$(val "$f" $phase samples)" -v x="$xpu" 'BEGIN {
						net = r != ""; u = net ? r : b / 1048576; f = net ? 1 : 1e-3
						if (u <= 0 || z <= a) { print "- - - - -"; exit }
						cpu = t == "" ? "-" : sprintf("%.6g", t / hz * 1e6 * f / u)
						if (k == "") { printf "%.6g %s - - -\n", u / (z - a), cpu; exit }
						xt = xs * k * p * f / u; dt = ds * k * p * f / u
						printf "%.6g %s %.6g %.6g %s\n", u / (z - a), cpu, xt, dt,
							(x > 0 ? sprintf("%.1f", xt / f * 1000 / x) : "-") }')
				[ "$1" != - ] && rate="$rate $1"
				[ "$2" != - ] && cpu="$cpu $2"
				[ "$3" != - ] && xl="$xl $3" dv="$dv $4"
				[ "$5" != - ] && ns="$ns $5"
			done
			if [ $phase = net ]; then
				runit=pkt/s cunit=us per=pkt rname=net_pps
			else
				runit=MiB/s cunit=ms per=mib rname=${phase#d}_mib_s
			fi
			pre=${phase#d}
			# shellcheck disable=SC2086
			{
				emit "$case_name" $rname $runit "$base" $rate
				emit "$case_name" ${pre}_cpu_${cunit}_per_$per $cunit "$base" $cpu
				emit "$case_name" ${pre}_dev_${cunit}_per_$per $cunit "$base" $dv
				emit "$case_name" ${pre}_xlate_${cunit}_per_$per $cunit "$base" $xl
				[ -n "$xpu" ] && row "$case_name" ${pre}_xlates_per_$per "$xpu" n "$base"
				emit "$case_name" ${pre}_ns_per_xlate ns "$base" $ns
			}
		done
	done
done
[ $fails = 0 ] || { echo "viommu-bench qemu: $fails runs failed" >&2; exit 1; }
