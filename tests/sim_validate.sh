#!/bin/sh
# viommu-sim validate as a smoke test: every row of docs/validation/rows.conf that names a
# scenario runs and every one of its figures gets a prediction (how close it lands is not
# checked), in both output forms; a malformed rows file is refused.
set -eu
sim=$1
rows=$2
out=$3
"$sim" validate -q -u 128 -j -r "$rows" >"$out.json"
"$sim" validate -q -u 128 -r "$rows" >"$out.txt"
grep -q 'stated orderings hold' "$out.txt"
figs=$(grep -c '"fig":' "$out.json")
[ "$figs" -gt 0 ] || { echo "no figures"; exit 1; }
if grep -q '"predicted":null' "$out.json"; then echo "a figure has no prediction"; exit 1; fi
# Every row with a scenario and without an unmet 'needs' appears with its figures.
for id in $(awk '/^\[/ { id = substr($1, 2, length($1) - 2) } /^scenario/ && id { print id }' "$rows"); do
	grep -q "\"row\":\"$id\"" "$out.json" || { echo "row $id missing"; exit 1; }
done
echo "ok: $figs figures"
bad="$out.bad.conf"
printf '[X] broken\nscenario = v1.sim\nfig a = 1 | nosuchmetric noiommu assigned tx 64 | x\n' >"$bad"
if "$sim" validate -q -r "$bad" >/dev/null 2>&1; then echo "a bad rows file was accepted"; exit 1; fi
echo "ok: bad rows file refused"
