#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build QEMU from Debian 12's `qemu` source package with libviommu's devices in it, as a VMM
# author embedding libviommu would: qemu-system-x86_64 (q35: viommu-intel-iommu,
# viommu-amd-iommu, virtio-iommu-pci,x-viommu=on) and qemu-system-aarch64 (virt:
# iommu=viommu-smmuv3) and qemu-system-ppc64 (pseries: spapr-pci-host-bridge,x-viommu=on), from
# one build tree. Prints the path of the built qemu-system-x86_64 on its last line of standard
# output, or of qemu-system-aarch64 / qemu-system-ppc64 with VIOMMU_QEMU_TARGET=aarch64 / ppc64;
# the binaries sit in the same folder.
#
# Usage: qemu/build.sh [PROJECT_BUILD_DIR] [LINK]
#   PROJECT_BUILD_DIR  a meson build of this project with libviommu.so built (default: build);
#                      QEMU finds the library through its uninstalled pkg-config file and links
#                      it dynamically, so library changes need no QEMU rebuild (run the binary
#                      with LD_LIBRARY_PATH=PROJECT_BUILD_DIR/src).
#   LINK               also make LINK a symbolic link to the binary (the one printed).
#
# Everything it keeps lives under $VIOMMU_QEMU_CACHE (default /var/cache/viommu/qemu):
#   apt/                a private apt configuration with bookworm's deb-src entries (the system's
#                       sources stay untouched)
#   src/VERSION/        the source package as `apt-get source` unpacked it (Debian's patches in)
#   tree/VERSION/       the tree we build: the source plus qemu/patches/*.patch and qemu/hw/**,
#                       updated file by file so that ninja recompiles only what changed
#   bin/VERSION-HASH/   finished binaries, keyed by the glue (qemu/) and the public headers
#   ccache/             the compiler cache, so switching between glue variants is cheap
# A binary for the current key is reused without touching anything else. One build at a time
# (flock): several worktrees may share the cache.
#
# Needs the packages of `scripts/deps.sh qemu` and network access to deb.debian.org the first
# time only.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
pbuild=$(cd "${1:-$root/build}" && pwd)
link=${2:-}
cache=${VIOMMU_QEMU_CACHE:-/var/cache/viommu/qemu}
# The release the tests were written against; VIOMMU_QEMU_VERSION overrides.
want_version=${VIOMMU_QEMU_VERSION:-}
target=${VIOMMU_QEMU_TARGET:-x86_64}
case "$target" in x86_64 | aarch64 | ppc64) ;; *) echo "qemu/build.sh: VIOMMU_QEMU_TARGET is x86_64, aarch64 or ppc64" >&2; exit 2 ;; esac

log() { echo "qemu/build.sh: $*" >&2; }
# cpu_s FILE: the user+sys seconds in FILE, the output of the `times` builtin (its second line,
# "XmY.Zs XmY.Zs": this shell's finished children; `times` must run in this shell, not in $()).
cpu_s() { tail -n 1 "$1" | tr 'ms' '  ' | awk '{ printf "%d\n", $1 * 60 + $2 + $3 * 60 + $4 }'; }
die() { log "FAIL: $*"; exit 1; }

[ -e "$pbuild/meson-uninstalled/viommu-uninstalled.pc" ] ||
	die "$pbuild is not a meson build of this project (no meson-uninstalled/viommu-uninstalled.pc)"
ls "$pbuild"/src/libviommu.so* > /dev/null 2>&1 || die "no libviommu.so in $pbuild/src: build it first"

"$root/scripts/deps.sh" qemu >&2 || die "the QEMU build needs the packages above"

mkdir -p "$cache"
exec 9> "$cache/lock"
flock 9

# --- the source package, through a private apt configuration --------------------------------
apt_dir=$cache/apt
mkdir -p "$apt_dir/etc" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
cat > "$apt_dir/etc/sources.list.new" << 'EOF'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
mv "$apt_dir/etc/sources.list.new" "$apt_dir/etc/sources.list"
apt_opts="-o Dir::Etc::sourcelist=$apt_dir/etc/sources.list -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache -o APT::Get::List-Cleanup=0"

src_version() {
	# shellcheck disable=SC2086
	apt-cache $apt_opts showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1
}
version=$want_version
if [ -z "$version" ]; then
	# Reuse the newest source already fetched; ask the archive only when there is none.
	version=$(ls "$cache/src" 2>/dev/null | grep -v '\.tmp$' | sort -V | tail -n 1 || true)
	[ -n "$version" ] && version=$(cat "$cache/src/$version/.version")
fi
if [ -z "$version" ] || [ ! -d "$cache/src/$(echo "$version" | sed 's/^[0-9]*://')/qemu" ]; then
	if [ -z "$version" ]; then
		log "fetching the bookworm source index"
		# shellcheck disable=SC2086
		apt-get -q $apt_opts update >&2 || die "apt-get update (private deb-src configuration)"
		version=$(src_version)
		[ -n "$version" ] || die "no qemu source package in bookworm's deb-src"
	fi
	vdir=$cache/src/$(echo "$version" | sed 's/^[0-9]*://')
	log "fetching qemu $version with apt-get source"
	rm -rf "$vdir.tmp"
	mkdir -p "$vdir.tmp"
	# shellcheck disable=SC2086
	(cd "$vdir.tmp" && apt-get -q $apt_opts source "qemu=$version" >&2) ||
		die "apt-get source qemu=$version"
	d=$(find "$vdir.tmp" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n 1)
	[ -n "$d" ] && [ -e "$d/configure" ] || die "apt-get source left no qemu tree"
	mv "$d" "$vdir.tmp/qemu"
	echo "$version" > "$vdir.tmp/.version"
	rm -rf "$vdir"
	mv "$vdir.tmp" "$vdir"
fi
sver=$(echo "$version" | sed 's/^[0-9]*://')
pristine=$cache/src/$sver/qemu

# --- the key: our glue and the public headers (the library itself is linked at run time) ------
key=$( (
	cd "$root"
	find qemu include/viommu -type f \( -name '*.c' -o -name '*.h' -o -name '*.patch' \
		-o -name '*.sh' -o -name '*.build' -o -name 'Kconfig*' \) | LC_ALL=C sort |
		while read -r f; do
			echo "$f"
			cat "$f"
		done
) | sha256sum | cut -c1-16)
bin_dir=$cache/bin/$sver-$key
targets="qemu-system-x86_64 qemu-system-aarch64 qemu-system-ppc64"
bin=$bin_dir/qemu-system-$target
have=1
for t in $targets; do [ -x "$bin_dir/$t" ] || have=0; done
if [ $have = 1 ]; then
	log "cached: $bin_dir"
else
	# --- the tree: pristine source + patches + glue, changed files only ------------------
	tree=$cache/tree/$sver
	if [ ! -e "$tree/.viommu-tree" ]; then
		log "copying the source to $tree"
		rm -rf "$tree"
		mkdir -p "$(dirname "$tree")"
		cp -a "$pristine" "$tree"
		: > "$tree/.viommu-touched"
		: > "$tree/.viommu-tree"
	fi
	stage=$cache/stage
	rm -rf "$stage"
	mkdir -p "$stage"
	# Every file a patch or the glue names now, and every file they named last time.
	list=$stage.list
	{
		cat "$tree/.viommu-touched"
		for p in "$here"/patches/*.patch; do
			[ -e "$p" ] || continue
			sed -n 's,^+++ [^/]*/\([^	 ]*\).*,\1,p' "$p"
		done
		(cd "$here" && find hw -type f 2>/dev/null)
	} | LC_ALL=C sort -u > "$list"
	while read -r f; do
		if [ -e "$pristine/$f" ]; then
			mkdir -p "$stage/$(dirname "$f")"
			cp "$pristine/$f" "$stage/$f"
		fi
	done < "$list"
	for p in "$here"/patches/*.patch; do
		[ -e "$p" ] || continue
		patch -s -p1 -d "$stage" --no-backup-if-mismatch < "$p" || die "patch $(basename "$p") does not apply"
	done
	if [ -d "$here/hw" ]; then
		(cd "$here" && find hw -type f) | while read -r f; do
			mkdir -p "$stage/$(dirname "$f")"
			cp "$here/$f" "$stage/$f"
		done
	fi
	# Copy what differs; a file we no longer change goes back to the pristine one (or away).
	while read -r f; do
		if [ -e "$stage/$f" ]; then
			cmp -s "$stage/$f" "$tree/$f" 2>/dev/null || {
				mkdir -p "$tree/$(dirname "$f")"
				cp "$stage/$f" "$tree/$f"
			}
		else
			rm -f "$tree/$f"
		fi
	done < "$list"
	(cd "$stage" && find . -type f | sed 's,^\./,,') | LC_ALL=C sort > "$tree/.viommu-touched"
	rm -rf "$stage" "$list"

	# --- configure and build ------------------------------------------------------------
	# What the tests need and nothing else: TCG system emulation of x86_64 (q35), aarch64 (virt)
	# and ppc64 (pseries), each with our device set from patch 0008 (configs/devices/*/viommu.mak:
	# QEMU's defaults minus every device no test or benchmark creates: the machine, QEMU's own
	# IOMMUs and ours, virtio-net/blk-pci, virtio-iommu-pci on x86_64, pcie-root-port, pxb-pcie,
	# edu; no other board, no board-implied PCI/ISA/USB/sound/display device, no other virtio
	# device), vhost-user and vhost-net netdevs, ACPI. QEMU's device sets cost 1570 compiler
	# runs for the three targets (the default x86_64 set with aarch64's and ppc64's `minimal`
	# boards), ours 1277: x86_64 955, then aarch64 adds 155 and ppc64 167 (the
	# target-independent code, most of it, is compiled once for the union of the targets'
	# devices, so every target's set counts). Not --without-default-devices: that also drops
	# the defaults target code links against (ARM_V7M's NVIC, CXL for pxb-pcie).
	# --disable-debug-info: -g costs 30-45% more compiler time per file (measured on
	# target/i386/tcg/translate.c and hw/virtio/virtio.c) for line numbers nobody reads in CI;
	# the symbols stay (backtraces name functions). To debug QEMU with gdb, replace it with
	# --enable-debug-info (a new configuration: one full build).
	# --disable-install-blobs: the dfsg tarball has no firmware; the binary searches
	# Debian's packaged firmware where Debian's own qemu does (qemu-system-data, seabios,
	# ipxe-qemu); the aarch64 guest boots its kernel directly (-kernel) and needs none; pseries
	# runs qemu-system-data's vof.bin (x-vof=on) or slof.bin.
	conf="--prefix=/usr --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
		--target-list=x86_64-softmmu,aarch64-softmmu,ppc64-softmmu
		--with-devices-x86_64=viommu --with-devices-aarch64=viommu --with-devices-ppc64=viommu
		--without-default-features --enable-tcg --disable-debug-info
		--disable-docs --disable-werror --enable-vhost-user --enable-vhost-kernel
		--enable-vhost-net --disable-kvm --enable-fdt=system --disable-install-blobs
		--disable-tools --disable-guest-agent --meson=meson"
	b=$tree/build
	export CCACHE_DIR=$cache/ccache
	export PATH=/usr/lib/ccache:$PATH
	# QEMU's meson resolves dependency('viommu') when it configures and keeps the answer, and
	# several worktrees share this tree: give it one fixed place to find the library, filled
	# with this worktree's public headers (copied only when they differ, so ninja recompiles
	# just what includes them) and links to this build's libviommu.so. At run time the binary
	# needs LD_LIBRARY_PATH=PROJECT_BUILD_DIR/src (its RUNPATH names this shared place).
	sdk=$cache/sdk
	mkdir -p "$sdk/include" "$sdk/lib"
	(cd "$root/include" && find viommu -type f -name '*.h') | LC_ALL=C sort > "$sdk/headers.new"
	while read -r f; do
		cmp -s "$root/include/$f" "$sdk/include/$f" 2> /dev/null || {
			mkdir -p "$sdk/include/$(dirname "$f")"
			cp "$root/include/$f" "$sdk/include/$f"
		}
	done < "$sdk/headers.new"
	(cd "$sdk/include" && find viommu -type f -name '*.h') | LC_ALL=C sort |
		LC_ALL=C comm -23 - "$sdk/headers.new" | while read -r f; do rm -f "$sdk/include/$f"; done
	mv "$sdk/headers.new" "$sdk/headers"
	for l in "$pbuild"/src/libviommu.so*; do
		[ -f "$l" ] || continue
		ln -sfn "$l" "$sdk/lib/$(basename "$l")"
	done
	{
		echo "prefix=$sdk"
		echo "Name: viommu"
		echo "Description: libviommu for qemu/build.sh"
		echo "Version: $(sed -n 's/^Version: //p' "$pbuild/meson-uninstalled/viommu-uninstalled.pc")"
		echo 'Libs: -L${prefix}/lib -lviommu'
		echo 'Cflags: -I${prefix}/include'
	} > "$sdk/viommu.pc"
	export PKG_CONFIG_PATH=$sdk
	ccache -M 5G > /dev/null
	# Worktrees whose configure lines differ (branches that add a target) share this tree: a
	# build folder whose configuration is not ours is parked under its configuration's hash and
	# ours, if parked, comes back to the same path, so that its object files, and ccache's
	# entries (which depend on the folder's path through the debug information), still match.
	# Two parked folders at most (each the size of a whole build).
	want_conf="$conf pkg-config:$sdk"
	if [ -e "$b/.viommu-conf" ] && [ "$(cat "$b/.viommu-conf")" != "$want_conf" ]; then
		old=$(sha256sum < "$b/.viommu-conf" | cut -c1-16)
		rm -rf "$tree/build.park-$old"
		mv "$b" "$tree/build.park-$old"
		log "parked the build folder of another configuration as build.park-$old"
	fi
	mine=$tree/build.park-$(printf '%s\n' "$want_conf" | sha256sum | cut -c1-16)
	if [ ! -e "$b" ] && [ -e "$mine/build.ninja" ]; then
		mv "$mine" "$b"
		log "unparked this configuration's build folder"
	fi
	# shellcheck disable=SC2012
	ls -dt "$tree"/build.park-* 2> /dev/null | tail -n +3 | while read -r d; do rm -rf "$d"; done
	if [ ! -e "$b/build.ninja" ] ||
		[ "$(cat "$b/.viommu-conf" 2> /dev/null)" != "$want_conf" ]; then
		log "configuring"
		rm -rf "$b"
		mkdir -p "$b"
		# shellcheck disable=SC2086
		(cd "$b" && ../configure $conf >&2) || die "configure failed"
		printf '%s\n' "$want_conf" > "$b/.viommu-conf"
	fi
	log "building $targets (ccache in $CCACHE_DIR)"
	t0=$(date +%s)
	times > "$cache/times"
	c0=$(cpu_s "$cache/times")
	# shellcheck disable=SC2086
	nice -n 10 ninja -C "$b" -j "${VIOMMU_QEMU_JOBS:-2}" $targets >&2 ||
		die "ninja failed (tree $tree)"
	# The CPU time too: on a shared machine the wall time says little about a build's cost.
	times > "$cache/times"
	log "built in $(($(date +%s) - t0)) s, CPU (user+sys) $(($(cpu_s "$cache/times") - c0)) s, load $(cut -d' ' -f1-3 /proc/loadavg); $(ccache -s 2>/dev/null | grep -i -E '^ *(hits|misses):' | tr -s ' ' | tr '\n' ';')"
	mkdir -p "$bin_dir.tmp/qemu-bundle"
	for t in $targets; do
		cp "$b/$t" "$bin_dir.tmp/"
	done
	# QEMU relocates its data and firmware paths to where the binary runs from, or looks in a
	# qemu-bundle folder beside it: point that at the system's /usr.
	ln -s /usr "$bin_dir.tmp/qemu-bundle/usr"
	rm -rf "$bin_dir"
	mv "$bin_dir.tmp" "$bin_dir"
fi
if [ -n "$link" ]; then
	mkdir -p "$(dirname "$link")"
	ln -sfn "$bin" "$link"
fi
echo "$bin"
