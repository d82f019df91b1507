#!/bin/sh
# viommu-sim quick -q --json: one JSON object per row with the issue's keys, the output files
# written, and --help/--list working.
set -eu
sim=$1
out=$2
rm -rf "$out"
"$sim" --help >/dev/null
"$sim" --list | grep -q '^  vtd-strict-cm'
"$sim" quick -u 128 --json -o "$out" >"$out.json"
rows=$(wc -l <"$out.json")
[ "$rows" -eq 40 ] || { echo "expected 40 rows, got $rows"; exit 1; }
for key in profile config vhost direction msg_size throughput_mbps rel_noiommu guest_cpu_util \
	exits_per_pkt invalidations_per_pkt iotlb_hit_rate bottleneck; do
	n=$(grep -c "\"$key\":" "$out.json")
	[ "$n" -eq "$rows" ] || { echo "key $key in $n of $rows rows"; exit 1; }
done
if grep -q '"supported":false' "$out.json"; then echo "a default row failed"; exit 1; fi
[ -s "$out/results.csv" ] && [ -s "$out/results.json" ] && [ -s "$out/costs.txt" ]
# An unknown cost is an error, not a warning.
if "$sim" quick -q -c no_such_cost_ns=1 -o "$out" >/dev/null 2>&1; then exit 1; fi
echo "ok: $rows rows"
# The rows do not depend on how many workers ran them.
"$sim" quick -u 128 --json -J 1 -o "$out" >"$out.j1"
"$sim" quick -u 128 --json -J 3 -o "$out" >"$out.j3"
cmp "$out.j1" "$out.j3"
cmp "$out.j1" "$out.json" || [ "$(nproc)" -eq 1 ]
echo "ok: same rows with 1 and 3 workers"
# The arm scenario: every row runs on its own profile and none is refused.
"$sim" arm -u 128 --json -o "$out" >"$out.arm"
[ "$(wc -l <"$out.arm")" -eq 96 ] && [ "$(grep -c '"profile":"arm-2017-thunderx"' "$out.arm")" -eq 96 ]
if grep -q '"supported":false' "$out.arm"; then echo "an arm row failed"; exit 1; fi
echo "ok: arm scenario"
