#!/bin/sh
# Every global a static library defines starts with PREFIX (the guest library: vg_).
# Usage: prefix.sh LIB.a PREFIX
set -eu
lib=$1
prefix=$2
bad=$(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v "^$prefix" || true)
if [ -n "$bad" ]; then
	echo "globals of $lib without the prefix $prefix:"
	echo "$bad"
	exit 1
fi
echo "ok: $(nm -g --defined-only "$lib" | awk 'NF == 3' | wc -l) globals, all $prefix*"
