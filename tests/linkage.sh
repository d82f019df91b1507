#!/bin/sh
# Every function declared VIOMMU_API in the public headers is exported by the shared library,
# and the library exports nothing else; everything it exports starts with viommu_, and every
# global the static library defines starts with viommu_ (public) or vi_ (internal).
# Usage: linkage.sh LIBVIOMMU.so INCLUDE_DIR LIBVIOMMU.a
set -eu
lib=$1
incdir=$2
static=$3
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declarations may span lines: join each header, then pick the identifier before the '(' that
# follows VIOMMU_API.
for h in "$incdir"/*.h; do
	tr '\n' ' ' <"$h" | grep -o 'VIOMMU_API[^;{(]*(' |
		sed -e 's/($//' -e 's/.*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*$/\1/'
done | grep "^viommu_" | sort -u >"$tmp/declared"

nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDRBV]$/ { print $3 }' |
	grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u >"$tmp/exported"

if ! cmp -s "$tmp/declared" "$tmp/exported"; then
	echo "declared (<) versus exported (>):"
	diff "$tmp/declared" "$tmp/exported" || true
	exit 1
fi
echo "ok: $(wc -l <"$tmp/declared") public functions, all exported, nothing else"
sh "$here/prefixes.sh" "$lib" 'viommu_' -D
sh "$here/prefixes.sh" "$static" 'viommu_|vi_'
