#!/bin/sh
# Run one libFuzzer target for SECONDS from its committed corpus and print what it did.
#   fuzz/run.sh EXE CORPUS_DIR SECONDS LOG [libFuzzer options...]
# The corpus is copied to a scratch folder (new inputs never land in the repository; set
# FUZZ_KEEP=DIR to keep the grown corpus there). The whole output goes to LOG; stdout gets one
# line: executions, coverage (libFuzzer's cov: edges and ft: features) and corpus size. Exits
# with the fuzzer's status (non-zero on a finding; LOG has the report and the crash input).
set -u
exe=$(realpath "$1") corpus=$(realpath -m "$2") secs=$3 log=$(realpath -m "$4")
shift 4
name=$(basename "$exe")
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -d "$corpus" ]; then
	find "$corpus" -maxdepth 1 -type f -exec cp {} "$work"/ \;
fi
mkdir -p "$(dirname "$log")"
cd "$(dirname "$log")" || exit 1 # crash-* files land beside the log
"$exe" "$work" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 -rss_limit_mb=2048 \
	-timeout=30 "$@" >"$log" 2>&1
status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
cov=$(printf '%s\n' "$last" | sed -n 's/.*\(cov: [0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.*\(ft: [0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
seeds=$(find "$corpus" -maxdepth 1 -type f 2>/dev/null | wc -l)
echo "$name: ${execs:-?} executions in ${secs}s, ${cov:-cov: ?}, ${ft:-ft: ?}," \
	"corpus ${seeds} seeds -> ${corp:-?} (status $status, log $log)"
if [ -n "${FUZZ_KEEP:-}" ]; then
	mkdir -p "$FUZZ_KEEP/$name" && cp "$work"/* "$FUZZ_KEEP/$name"/ 2>/dev/null
fi
if [ "$status" -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -n 20
fi
exit "$status"
