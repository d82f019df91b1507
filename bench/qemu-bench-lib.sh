# Shared by bench/qemu_emul_op.sh, bench/qemu_emul_op_virtio.sh, bench/qemu_side_by_side.sh and
# bench/qemu_virtio_side_by_side.sh (sourced, POSIX sh, after tests/integration/guest-lib.sh,
# whose it_* harness they use too): perf sample counts and the guest's phase protocol
# (bench/qemu_guest_init.sh: "VIOMMU-BENCH [..] PHASE start|end" on the console, then it waits
# for a go-ahead on its second serial port).
# shellcheck shell=sh disable=SC2154 # qemu_pid, work, disk, mib, log: the sourcing script's

# bench_share FILE SYMS: "HITS TOTAL": the samples of the perf.data FILE with any of SYMS (names,
# space-separated) on their call chain, and all its samples.
bench_share() {
	perf script -i "$1" -F tid,ip,sym 2> /dev/null | awk -v o="$2" '
		BEGIN { n = split(o, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		function done() { if (in_s) { t++; h += hx } in_s = hx = 0 }
		# A sample: its thread id on a line of its own, then one line per frame.
		/^ *[0-9]+ *$/ { done(); in_s = 1; next }
		NF >= 2 { if ($2 in want) hx = 1 }
		END { done(); printf "%d %d\n", h, t }'
}

# bench_go_ahead: a line to the guest's second serial port, $work/ack.in (guarded: with QEMU,
# $qemu_pid, gone, nobody reads).
bench_go_ahead() {
	if kill -0 "$qemu_pid" 2> /dev/null; then
		timeout 5 sh -c "echo go > '$work/ack.in'" || true
	fi
}

# bench_boot_start TAG: before one boot, net_reflect on a fresh port (it_reflect_start, its log
# $work/TAG.reflect), a fresh disk image $disk of $mib + 8 MiB, an empty console $log and the
# fifos of the guest's second serial port ($work/ack.in, .out: it waits there for our go-ahead
# around each phase).
bench_boot_start() {
	it_reflect_start "$work/$1.reflect" "$1" >&2 || return 1
	rm -f "$disk"
	truncate -s $((mib + 8))M "$disk"
	: > "$log"
	rm -f "$work/ack.in" "$work/ack.out"
	mkfifo "$work/ack.in" "$work/ack.out"
}

# bench_phase_wait LOG PHASE EDGE LIMIT: wait until the console LOG shows the guest's
# "VIOMMU-BENCH [..] PHASE EDGE" line (EDGE: start or end); fail when QEMU ($qemu_pid) has gone
# or the clock (date +%s) passed LIMIT.
bench_phase_wait() {
	while ! grep -q "^VIOMMU-BENCH \[.*\] $2 $3" "$1"; do
		if ! kill -0 "$qemu_pid" 2> /dev/null || [ "$(date +%s)" -gt "$4" ]; then
			return 1
		fi
		sleep 0.05
	done
}
