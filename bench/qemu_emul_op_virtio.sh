#!/bin/sh
# The VMM's own work per virtio-iommu request (the simulator's `vmm_emul_op` for virtio-iommu),
# measured in QEMU for QEMU's own virtio-iommu-pci and for libviommu's (virtio-iommu-pci,
# x-viommu=on), with no change to either: the guest of tests/integration/qemu_viommu_virtio.sh
# (6.12 kernel, TCG, strict, its net and blk tests against net_reflect), one boot per device
# sampled whole by perf record -e cpu-clock with DWARF call chains:
#   handler time = samples with the request-queue handler on the stack (QEMU's
#                  virtio_iommu_handle_command; the glue's vv_handle_output) x the period;
#   requests     = libviommu's own counters (VIOMMU stats line at exit: attach + detach + map +
#                  unmap + probe), and its kicks; for QEMU's device a second boot counts the
#                  handler's calls with a uprobe, and the requests per kick of libviommu's run
#                  are taken for it (the same guest driver fills the same queue).
#   vmm_emul_op  = handler time / requests
# Included: popping the request from the virtqueue, parsing, the domain and mapping trees, the
# reply and the used-buffer interrupt; excluded: the exit (TCG has none) and translations.
#
# Usage: qemu_emul_op_virtio.sh PROJECT_BUILD LIB_DIR NET_REFLECT QEMU   (root: perf, uprobes)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 4 ] || { echo "usage: $0 PROJECT_BUILD LIB_DIR NET_REFLECT QEMU" >&2; exit 2; }
pbuild=$(cd "$1" && pwd)
libdir=$(cd "$2" && pwd)
reflect_bin=$3
real_qemu=$4
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
period_us=${VIOMMU_BENCH_PERIOD_US:-500}

work=$(mktemp -d /tmp/viommu-emul-op-virtio.XXXXXX)
refl_pid=""
cleanup() {
	[ -n "$refl_pid" ] && kill "$refl_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	perf probe -q -d 'viommuvop:*' 2>/dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

guest_lib_dir=$root/tests/integration
# shellcheck source=tests/integration/guest-lib.sh
. "$guest_lib_dir/guest-lib.sh"
# shellcheck source=bench/qemu-bench-lib.sh
. "$here/qemu-bench-lib.sh"
guest_kernel=bpo
guest_modules="virtio_iommu virtio_pci virtio_net virtio_blk pktgen pci_stub"
guest_prepare "$work" "$pbuild/tests/integration-cache" >&2 || exit 1

[ -e /sys/kernel/tracing/uprobe_events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
perf probe -q -d 'viommuvop:*' 2>/dev/null || true
perf probe -q -x "$real_qemu" -a 'viommuvop:k_qemu=virtio_iommu_handle_command' ||
	{ echo "perf probe failed" >&2; exit 1; }

# QEMU under perf: the wrapper guest_qemu_virtio execs (through timeout).
wrap=$work/qemu-wrap.sh
cat > "$wrap" <<EOF
#!/bin/sh
case "\$VOP_KIND" in
time) exec perf record -q -e cpu-clock -c $((period_us * 1000)) --call-graph dwarf,4096 -o "\$VOP_OUT" -- "$real_qemu" "\$@" ;;
count) exec perf stat -x, -e viommuvop:k_qemu -o "\$VOP_OUT" -- "$real_qemu" "\$@" ;;
esac
EOF
chmod +x "$wrap"

run() { # MODE KIND
	tag=$1-$2
	it_reflect_start "$work/$tag.reflect" "$tag" >&2 || return 1
	rm -f "$work/disk"
	truncate -s 64M "$work/disk"
	(export VOP_KIND="$2" VOP_OUT="$work/$tag.out"; QEMU=$wrap guest_qemu_virtio "$1" "$port" \
		"$work/disk" "$work/$tag.console" \
		"viommu.tests=net,blk viommu.frames=1000 viommu.blkmb=8") > "$work/$tag.qemu" 2>&1 || true
	it_reflect_stop
	tr -d '\r' < "$work/$tag.console" | grep -q "^VIOMMU-TEST \[.*\] PASS$" ||
		{ echo "$tag: the guest did not pass" >&2; tail -n 5 "$work/$tag.console" >&2; return 1; }
}

run strict time
run qemu-strict count
run qemu-strict time
st=$(grep -o 'viommu-virtio-iommu: stats .*' "$work/strict-time.qemu" | tail -n 1)
echo "ours stats: $st"
req=$(echo "$st" | tr ' ' '\n' | awk -F= '$1 ~ /^(attach|detach|map|unmap|probe)$/ { n += $2 } END { print n + 0 }')
kicks=$(echo "$st" | tr ' ' '\n' | sed -n 's/^kicks=\([0-9]*\)\/.*/\1/p')
kq=$(awk -F, '$3 == "viommuvop:k_qemu" { print $1 }' "$work/qemu-strict-count.out")
set -- $(bench_share "$work/strict-time.out" "vv_handle_output")
h_ours=$1 t_ours=$2
set -- $(bench_share "$work/qemu-strict-time.out" "virtio_iommu_handle_command")
h_qemu=$1 t_qemu=$2
awk -v req="$req" -v kicks="$kicks" -v kq="$kq" -v ho="$h_ours" -v to="$t_ours" -v hq="$h_qemu" \
	-v tq="$t_qemu" -v p="$period_us" 'BEGIN {
	rpk = req / kicks
	printf "ours: %d requests in %d kicks (%.3f per kick); %d of %d samples in the handler; " \
		"%.0f ns per request\n", req, kicks, rpk, ho, to, ho * p * 1000 / req
	printf "qemu: %d handler calls (count run) x %.3f requests per kick = %.0f requests; %d of " \
		"%d samples in the handler; %.0f ns per request\n", kq, rpk, kq * rpk, hq, tq,
		hq * p * 1000 / (kq * rpk) }'
