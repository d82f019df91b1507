#!/bin/sh
# The back-end's own CPU per packet (the simulator's `vhost_pkt`), measured on viommu-vhost
# --reflect serving the integration test's guest (QEMU under TCG, virtio-net-pci over
# vhost-user, pktgen 60-byte UDP frames that the back-end swaps and sends back). Two runs per
# mode, SHORT and LONG seconds of pktgen; the back-end's CPU time (the sum of its threads'
# /proc/PID/task/*/schedstat run time, in ns) and the frames that came back are taken at the end
# of each run, and
#   vhost_pkt = (CPU(LONG) - CPU(SHORT)) / (replies(LONG) - replies(SHORT))
# so the start-up, the vhost-user set-up and the guest's boot-time traffic cancel. What is left
# is everything the back-end does per frame: its epoll wake-ups, the kick and call eventfds, the
# descriptor handling, the 60-byte copies and, with an IOMMU, its device-IOTLB lookups and miss
# messages. With a slow (TCG) guest few frames share a wake-up, so this is the back-end's cost at
# low load: an upper bound for a busy back-end that batches.
#
# A third run of LONG seconds counts the back-end's system calls (perf stat on the
# raw_syscalls:sys_enter tracepoint, not in the timed runs): syscalls per frame, so that a profile
# whose syscall costs differ from this machine's can re-price that part. A fourth samples the
# back-end (perf record -e cpu-clock, DWARF call chains): the samples in user space under
# vnet_port_run (descriptor handling, the copy, the swap; no system call, wake-up or scheduling)
# per frame are the back-end's cost per frame when frames come in batches and wake-ups are
# amortised: the other end of the range.
#
# Usage: vhost_pkt.sh VIOMMU_VHOST PROJECT_BUILD QEMU [MODE...]  (modes: noiommu strict; default
# noiommu). VIOMMU_BENCH_SHORT (default 3), VIOMMU_BENCH_LONG (default 12) seconds.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 3 ] || { echo "usage: $0 VIOMMU_VHOST PROJECT_BUILD QEMU [MODE...]" >&2; exit 2; }
vhost_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
pbuild=$(cd "$2" && pwd)
export GUEST_QEMU=$3
shift 3
[ $# -gt 0 ] || set -- noiommu
short=${VIOMMU_BENCH_SHORT:-3}
period_us=${VIOMMU_BENCH_PERIOD_US:-100}
long=${VIOMMU_BENCH_LONG:-12}

work=$(mktemp -d /tmp/viommu-vhost-pkt.XXXXXX)
be_pid=""
cleanup() {
	[ -n "$be_pid" ] && kill -INT "$be_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

guest_lib_dir=$root/tests/integration
# shellcheck source=tests/integration/guest-lib.sh
. "$guest_lib_dir/guest-lib.sh"
guest_prepare "$work" "$pbuild/tests/integration-cache" >&2 || exit 1

cpu_ns() { # PID: run time of all its threads so far
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# one MODE SECS [count]: prints "CPU_NS REPLIES [SYSCALLS]"
one() {
	sock=$work/$1-$2.sock
	log=$work/$1-$2.console
	"$vhost_bin" --reflect --socket-path="$sock" 2> "$work/$1-$2.backend" &
	be_pid=$!
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] && kill -0 "$be_pid" 2>/dev/null || { echo "back-end did not start" >&2; return 1; }
		sleep 0.1
	done
	st_pid=""
	if [ "${3:-}" = count ]; then
		perf stat -x, -e raw_syscalls:sys_enter -p "$be_pid" -o "$work/$1-$2.stat" \
			> /dev/null 2>&1 &
		st_pid=$!
		sleep 0.5
	elif [ "${3:-}" = prof ]; then
		perf record -q -e cpu-clock -c $((period_us * 1000)) --call-graph dwarf,4096 \
			-p "$be_pid" -o "$work/$1-$2.data" > /dev/null 2>&1 &
		st_pid=$!
		sleep 0.5
	fi
	(QEMU_TIMEOUT=$(($2 + 400)) guest_qemu "$1" "$sock" "$log" "viommu.bench=$2 oops=panic") \
		> "$work/$1-$2.qemu" 2>&1 || true
	ns=$(cpu_ns "$be_pid")
	sc=""
	if [ -n "$st_pid" ]; then
		kill -INT "$st_pid" 2>/dev/null || true
		wait "$st_pid" 2>/dev/null || true
		if [ "$3" = count ]; then
			sc=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$work/$1-$2.stat")
		else
			# "USER_SAMPLES_UNDER_vnet_port_run ALL_SAMPLES"
			sc=$(perf script -i "$work/$1-$2.data" -F ip,sym,dso 2>/dev/null | awk '
				function done() { if (in_s) { t++; if (hit && leaf_user) h++ }
					in_s = hit = 0; first = 1 }
				BEGIN { first = 1 }
				/^[ \t]*$/ { done(); next }
				{ in_s = 1
				  if (first) { leaf_user = ($0 !~ /kernel/); first = 0 }
				  if ($2 == "vnet_port_run") hit = 1 }
				END { done(); printf "%d:%d", h, t }')
		fi
	fi
	kill -INT "$be_pid" 2>/dev/null || true
	wait "$be_pid" 2>/dev/null || true
	be_pid=""
	res=$(sed -n 's/^VIOMMU-TEST \[.*\] BENCH //p' "$log" | tr -d '\r' | tail -n 1)
	got=$(echo "$res" | tr ' ' '\n' | sed -n 's/^received=//p')
	bad=$(echo "$res" | tr ' ' '\n' | sed -n 's/^corrupt=//p')
	[ -n "$got" ] && [ "${bad:-0}" = 0 ] || { echo "$1/$2 s: guest failed: $(tail -n 5 "$log")" >&2; return 1; }
	echo "$ns $got $sc"
}

for mode in "$@"; do
	set -- $(one "$mode" "$short")
	c1=$1 r1=$2
	set -- $(one "$mode" "$long")
	c2=$1 r2=$2
	set -- $(one "$mode" "$long" count)
	r3=$2 s3=${3:-0}
	set -- $(one "$mode" "$long" prof)
	r4=$2 h4=${3%%:*} t4=${3##*:}
	awk -v m="$mode" -v c1="$c1" -v r1="$r1" -v c2="$c2" -v r2="$r2" -v s="$short" -v l="$long" \
		-v r3="$r3" -v s3="$s3" -v r4="$r4" -v h4="$h4" -v t4="$t4" -v p="$period_us" 'BEGIN {
		printf "%s: %d s run: %d replies, back-end CPU %.1f ms; %d s run: %d replies, %.1f ms; ", \
			m, s, r1, c1 / 1e6, l, r2, c2 / 1e6
		if (r2 > r1) printf "vhost_pkt %.0f ns per frame; ", (c2 - c1) / (r2 - r1)
		else printf "no difference in replies; "
		if (r3 > 0) printf "count run: %d replies, %.2f syscalls per frame; ", r3, s3 / r3
		if (r4 > 0) printf "profile run: %d replies, %d of %d samples in user space under " \
			"vnet_port_run: %.0f ns per frame (all samples: %.0f ns)\n", r4, h4, t4,
			h4 * p * 1000 / r4, t4 * p * 1000 / r4
		else printf "no profile run\n" }'
done
