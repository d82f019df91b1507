#!/bin/sh
# Every global symbol a library defines starts with one of its prefixes, so that nothing of it
# collides in an embedder's link (issue 15). Names starting with __ are the compiler's and the
# sanitizers' (ASan's ODR indicators, for one), never the code's: C reserves them.
# Usage: prefixes.sh LIBRARY PREFIX-ERE [nm option]   (e.g. prefixes.sh libviommu.a 'viommu_|vi_')
#        the option -D checks what a shared library exports instead of its symbol table.
set -eu
lib=$1
ere=$2
opt=${3:--g}
# nm on its own first: a missing or unreadable library must fail, not pass as empty.
syms=$(nm "$opt" --defined-only "$lib") || { echo "nm failed on $lib"; exit 1; }
[ -n "$syms" ] || { echo "$lib: no symbols"; exit 1; }
bad=$(echo "$syms" | awk 'NF == 3 && $2 ~ /^[A-Za-z]$/ { print $3 }' |
	grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | grep -v -E '^__' |
	grep -v -E "^($ere)" | sort -u || true)
if [ -n "$bad" ]; then
	echo "$(basename "$lib"): defined globals without a prefix ($ere):"
	echo "$bad" | sed 's/^/  /'
	exit 1
fi
echo "ok: $(basename "$lib"): every defined global starts with $ere"
