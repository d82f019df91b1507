#!/bin/sh
# Every installed header compiles on its own (C11, and C++ when a compiler is there), and all of
# them together, so names of the specification headers (include/viommu/spec/) never collide with
# the API's.
# Usage: headers.sh INCLUDE_DIR CC [CC ARGS...] (meson passes its compiler command, ccache included)
set -eu
incdir=$1
shift
cc=$*
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cxx=
for c in c++ g++ clang++; do
	if command -v "$c" >/dev/null 2>&1; then
		cxx=$c
		break
	fi
done

n=0
: >"$tmp/all.c"
for h in "$incdir"/viommu/*.h "$incdir"/viommu/spec/*.h; do
	name=viommu/${h#"$incdir"/viommu/}
	printf '#include <%s>\n' "$name" >"$tmp/one.c"
	printf '#include <%s>\n' "$name" >>"$tmp/all.c"
	$cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$incdir" -c "$tmp/one.c" -o "$tmp/one.o"
	if [ -n "$cxx" ]; then
		$cxx -Wall -Wextra -Werror -I"$incdir" -x c++ -c "$tmp/one.c" -o "$tmp/one.o"
	fi
	n=$((n + 1))
done
$cc -std=c11 -Wall -Wextra -Werror -I"$incdir" -c "$tmp/all.c" -o "$tmp/all.o"
echo "ok: $n headers compile alone and together"
