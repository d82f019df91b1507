#!/bin/sh
# Install the Debian packages the build and tests need. As root it installs what is missing
# with apt-get; otherwise it prints the exact command and fails, so nothing is half-done.
# Usage: scripts/deps.sh [GROUP...]   groups: build (default), test, integration, run, bench, qemu
set -eu

build_pkgs="meson ninja-build pkg-config gcc libc6-dev binutils"
test_pkgs="libcmocka-dev clang llvm libclang-rt-14-dev clang-format"
# The integration tests boot Linux guests in QEMU behind a vIOMMU: Debian 12's kernel, and
# bookworm-backports' 6.12 (fetched by tests/integration/guest-lib.sh; zstd unpacks it, kmod
# reads its module dependencies).
integration_pkgs="qemu-system-x86 busybox-static linux-image-amd64 cpio gzip xz-utils zstd kmod"
# viommu-sim renders its plots with gnuplot (make run).
run_pkgs="gnuplot-nox"
# viommu-bench vhost runs the integration guest against DPDK's testpmd too (dpdk-dev ships it);
# viommu-bench qemu samples QEMU with perf (linux-perf). Only the benchmarks need them, so
# `make test` does not install them.
bench_pkgs="dpdk-dev linux-perf"
# qemu/build.sh builds QEMU from Debian's source package with libviommu's devices in it:
# QEMU's build dependencies for the x86_64 TCG target we configure, ccache for cheap rebuilds,
# dpkg-dev for `apt-get source`; the guest's firmware comes from the packaged BIOS and ROMs.
qemu_pkgs="libglib2.0-dev libpixman-1-dev libfdt-dev flex bison ccache dpkg-dev python3-venv
	qemu-system-data seabios ipxe-qemu"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
	case "$group" in
	build) want="$want $build_pkgs" ;;
	test) want="$want $build_pkgs $test_pkgs" ;;
	integration) want="$want $build_pkgs $integration_pkgs" ;;
	run) want="$want $build_pkgs $run_pkgs" ;;
	bench) want="$want $build_pkgs $integration_pkgs $bench_pkgs" ;;
	qemu) want="$want $build_pkgs $integration_pkgs $qemu_pkgs" ;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "Missing Debian packages. Install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; a stale one may name versions that are gone.
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
