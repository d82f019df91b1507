#!/bin/sh
# Measure this machine's unit costs with viommu-bench and write them as a viommu-sim cost file:
#   scripts/this-machine-profile.sh [BENCH] > this-machine.conf
#   viommu-sim --cost-file this-machine.conf --profile this-machine
# Rows used (docs/cost-model.md §8): sys/syscall -> syscall_ns; sys/unix-rtt/44B / 2 ->
# vmm_sock_msg_ns and vmm_wakeup_ns; sys/copy/64KiB-dram -> copy_gbyte_per_s; devtlb/2048 hit
# (--quick run) -> devtlb_lookup_ns; vtd/vtd-psi/qi / 3 (an IQT write and two descriptors: the
# three VMM operations the simulator counts for it) -> vmm_emul_op_ns: the library alone. The
# figures that need guests and root come from their own scripts and are passed in when known:
#   VIOMMU_EMUL_OP_NS  bench/qemu_emul_op.sh (QEMU's own intel-iommu: the write handler with its
#                      descriptors, per vmm.op) replaces the library-only vmm_emul_op_ns;
#   VIOMMU_VHOST_PKT_NS  bench/vhost_pkt.sh (viommu-vhost frame processing, profile run) -> vhost_pkt_ns.
# Everything else keeps x86-current's value and source.
set -eu
bench=${1:-build-release/bench/viommu-bench}
[ -x "$bench" ] || { echo "no $bench: run 'make bench' first or name the binary" >&2; exit 1; }
rows=$("$bench" sys --json; "$bench" devtlb --quick --json; "$bench" vtd --json)
value() {
	printf '%s\n' "$rows" | sed -n "s/.*\"case\":\"$1\".*\"value\":\([0-9.eE+-]*\).*/\1/p" | head -n 1
}
sc=$(value syscall)
rtt=$(value 'unix-rtt\/44B')
copy=$(value 'copy\/64KiB-dram')
devtlb=$(value 'devtlb\/2048')
psi=$(value 'vtd-psi\/qi')
[ -n "$devtlb" ] && [ -n "$psi" ] || { echo "viommu-bench devtlb/vtd gave no rows" >&2; exit 1; }
op=$(awk -v r="$psi" 'BEGIN { printf "%.1f", r / 3 }')
[ -n "$sc" ] && [ -n "$rtt" ] && [ -n "$copy" ] || { echo "viommu-bench sys gave no rows" >&2; exit 1; }
half=$(awk -v r="$rtt" 'BEGIN { printf "%.1f", r / 2 }')
cat <<CONF
# Measured on $(uname -n) at $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/this-machine-profile.sh
[profile this-machine]
inherit = x86-current
syscall_ns = $sc   # M sys/syscall
vmm_sock_msg_ns = $half   # M sys/unix-rtt/44B / 2
vmm_wakeup_ns = $half   # M sys/unix-rtt/44B / 2
copy_gbyte_per_s = $copy   # M sys/copy/64KiB-dram
devtlb_lookup_ns = $devtlb   # M devtlb/2048 hit (--quick)
CONF
if [ -n "${VIOMMU_EMUL_OP_NS:-}" ]; then
	echo "vmm_emul_op_ns = $VIOMMU_EMUL_OP_NS   # M bench/qemu_emul_op.sh, QEMU intel-iommu (library alone: $op)"
else
	echo "vmm_emul_op_ns = $op   # M vtd/vtd-psi/qi / 3 (the library alone, no QEMU)"
fi
[ -z "${VIOMMU_VHOST_PKT_NS:-}" ] ||
	echo "vhost_pkt_ns = $VIOMMU_VHOST_PKT_NS   # M bench/vhost_pkt.sh, viommu-vhost frame processing, noiommu"
