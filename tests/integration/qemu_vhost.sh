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

guest_lib_dir=$here
# shellcheck source=tests/integration/guest-lib.sh
. "$here/guest-lib.sh"
# The uncompressed kernel is kept beside the test binaries.
guest_prepare "$work" "$(cd "$(dirname "$audit_check")" && pwd)/integration-cache" || exit 1

run_mode() {
	mode=$1
	sock=$work/$mode.sock
	log=$work/$mode.console
	vlog=$work/$mode.vhost
	audit=$work/$mode.audit
	dbg=""
	[ "${VHOST_DEBUG:-0}" = 1 ] && dbg=--debug
	"$vhost_bin" --reflect --socket-path="$sock" --audit="$audit" ${dbg:+"$dbg"} 2> "$vlog" &
	vhost_pid=$!
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "FAIL $mode: back-end did not start"; cat "$vlog"; return 1; }
		sleep 0.1
	done

	start=$(date +%s)
	guest_qemu "$mode" "$sock" "$log" "viommu.frames=$frames" > "$work/$mode.qemu" 2>&1 &
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
	clk=$(guest_clock_ok "$log" "$secs") || { echo "$mode: $clk"; ok=0; }
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
	# A vIOMMU that reports its own statistics (qemu/build.sh's viommu-intel-iommu).
	grep " stats: " "$work/$mode.qemu" | sed "s/^/  [$mode] /" || true
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
