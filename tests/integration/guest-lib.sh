# Shared by tests/integration/qemu_vhost.sh and bench/vhost_vs_dpdk.sh (sourced, POSIX sh): the
# Debian guest kernel, its busybox initramfs (guest-init.sh as /init) and the QEMU command line
# of a virtio-net-pci device on a vhost-user socket behind an emulated Intel IOMMU.
# Needs the packages of `scripts/deps.sh integration`; set guest_lib_dir to this directory first.

# guest_kernel selects the kernel guest_prepare boots: "debian" (default) is the host's own Debian
# 12 kernel (linux-image-amd64, 6.1); "bpo" is bookworm-backports' 6.12, fetched once without
# installing it (guest_fetch_bpo): Debian 12's 6.1 is built without CONFIG_VIRTIO_IOMMU, 6.12 has
# it as a module with CONFIG_ACPI_VIOT=y; "arm64" is Debian 12's arm64 kernel (the same 6.1
# release family as the x86 guest) with an arm64 busybox, fetched once (guest_fetch_foreign), for
# qemu-system-aarch64; "ppc64el" the same for qemu-system-ppc64 (pseries). guest_modules names
# the modules /init loads, in that order; guest_prepare puts each one's dependencies before it and
# skips built-in ones.
guest_kernel=${guest_kernel:-debian}
guest_modules=${guest_modules:-"virtio_pci virtio_net pktgen virtio_blk"}

# The harness the tests/integration/qemu_*.sh scripts share (it_*): their prerequisites, the QEMU
# they run, the scratch folder and the background processes they start.
# shellcheck disable=SC2154 # guest_lib_dir: set by the caller (see above)
it_root=$(cd "$guest_lib_dir/../.." && pwd)

# it_skip_without HEADER WHAT: exit 77 (skip) when this libviommu has no <viommu/HEADER>, the
# model WHAT the script's QEMU glue needs.
it_skip_without() {
	if [ ! -e "$it_root/include/viommu/$1" ]; then
		echo "SKIP: this libviommu has no $2 (include/viommu/$1)"
		exit 77
	fi
}

# it_deps GROUP...: the packages of `scripts/deps.sh GROUP...` are there (it installs them as
# root), or the test fails.
it_deps() {
	"$it_root/scripts/deps.sh" "$@" || {
		echo "FAIL: the test needs the packages above (run as root or install them)" >&2
		exit 1
	}
}

# it_libpath PBUILD: the patched QEMU links libviommu at run time: PBUILD's, whatever the binary
# was built against.
it_libpath() {
	LD_LIBRARY_PATH="$1/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
}

# it_qemu TARGET PBUILD [OVERRIDE]: sets qemu to OVERRIDE when it is not empty, else to the
# patched qemu-system-TARGET qemu/build.sh builds (or finds cached) for PBUILD's libviommu, says
# which and how long that took, then it_libpath PBUILD.
it_qemu() {
	iq_t0=$(date +%s)
	if [ -n "${3:-}" ]; then
		qemu=$3
		iq_how="given"
	else
		qemu=$(VIOMMU_QEMU_TARGET=$1 "$it_root/qemu/build.sh" "$2" \
			"$2/qemu-viommu/qemu-system-$1" | tail -n 1)
		iq_how="qemu/build.sh: $(($(date +%s) - iq_t0)) s"
	fi
	# (The pipe hides build.sh's status: its last line must name a binary.)
	if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
		echo "FAIL: no QEMU binary ('$qemu'; from qemu/build.sh unless given)" >&2
		exit 1
	fi
	echo "QEMU: $qemu ($iq_how)"
	it_libpath "$2"
}

# it_work NAME: the scratch folder work=/tmp/viommu-NAME.XXXXXX and an exit trap that stops the
# background processes in qemu_pid, vhost_pid and refl_pid (reset here) and removes the folder
# (KEEP_WORK=1 keeps it).
it_work() {
	work=$(mktemp -d "/tmp/viommu-$1.XXXXXX")
	qemu_pid="" vhost_pid="" refl_pid=""
	trap it_cleanup EXIT INT TERM
}
it_cleanup() {
	for ic_pid in "$qemu_pid" "$vhost_pid" "$refl_pid"; do
		if [ -n "$ic_pid" ]; then kill "$ic_pid" 2> /dev/null || true; fi
	done
	wait 2> /dev/null || true
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}

# it_wait_for TEST PATH WHAT LOG: wait up to 10 s until `test TEST PATH` holds (-S a socket, -s a
# non-empty file); else print "FAIL WHAT did not start" and LOG, and fail.
it_wait_for() {
	iw_i=0
	while ! test "$1" "$2"; do
		iw_i=$((iw_i + 1))
		[ $iw_i -lt 100 ] || { echo "FAIL $3 did not start"; cat "$4"; return 1; }
		sleep 0.1
	done
}

# it_verdict WHAT: the mode's verdict from ok (1: it passed): "PASS MODE (SECS s)", or "FAIL ..."
# followed by the console's last 60 lines ($log), then WHAT: QEMU's output ($qlog) and the peer's
# log ($rlog); returns whether the mode passed.
# shellcheck disable=SC2154 # ok, log, qlog, rlog: the caller's run_mode
it_verdict() {
	if [ "$ok" -eq 1 ]; then
		echo "PASS $mode (${secs}s)"
		return 0
	fi
	echo "FAIL $mode (${secs}s): console, $1 follow"
	tail -n 60 "$log"
	cat "$qlog"
	cat "$rlog"
	return 1
}

# it_reflect_start LOG TAG: net_reflect ($reflect_bin) on a fresh $work/port, its stderr to LOG;
# sets refl_pid and port (the TCP port it listens on). TAG names the run in the failure message.
it_reflect_start() {
	rm -f "$work/port"
	# shellcheck disable=SC2154 # reflect_bin: the caller's net_reflect
	"$reflect_bin" "$work/port" 2> "$1" &
	refl_pid=$!
	it_wait_for -s "$work/port" "$2: net_reflect" "$1" || return 1
	port=$(cat "$work/port")
}

# it_reflect_stop: stop the net_reflect started last, if any.
it_reflect_stop() {
	if [ -n "$refl_pid" ]; then
		kill -TERM "$refl_pid" 2> /dev/null || true
		wait "$refl_pid" 2> /dev/null || true
		refl_pid=""
	fi
}

# it_vhost_start SOCK AUDIT LOG [OPTION...]: viommu-vhost ($vhost_bin) --reflect on SOCK with its
# audit log AUDIT and stderr to LOG, in place of the mode's net_reflect (stopped); sets vhost_pid.
it_vhost_start() {
	it_reflect_stop
	iv_sock=$1 iv_audit=$2 iv_log=$3
	shift 3
	# shellcheck disable=SC2154 # vhost_bin: the caller's viommu-vhost
	"$vhost_bin" --reflect --socket-path="$iv_sock" --audit="$iv_audit" "$@" 2> "$iv_log" &
	vhost_pid=$!
	it_wait_for -S "$iv_sock" "$mode: viommu-vhost" "$iv_log"
}

# it_qemu_wait START: wait for the QEMU started last (qemu_pid=$!) at START (date +%s); sets qrc
# (its exit status) and secs (the seconds it ran).
# shellcheck disable=SC2034 # qrc and secs are for the caller
it_qemu_wait() {
	qrc=0
	wait "$qemu_pid" || qrc=$?
	qemu_pid=""
	secs=$(($(date +%s) - $1))
}

# it_peers_stop: after QEMU, stop the mode's net_reflect and viommu-vhost (SIGUSR1 first: its
# statistics); sets vrc (viommu-vhost's exit status, 0 without one).
# shellcheck disable=SC2034 # vrc is for the caller
it_peers_stop() {
	it_reflect_stop
	vrc=0
	if [ -n "$vhost_pid" ]; then
		kill -USR1 "$vhost_pid" 2> /dev/null || true
		kill -TERM "$vhost_pid" 2> /dev/null || true
		wait "$vhost_pid" || vrc=$?
		vhost_pid=""
	fi
}

# guest_fetch_bpo CACHE: sets gk_root (the unpacked kernel package) and kver. The package comes
# from deb.debian.org's bookworm-backports through a private apt configuration under
# CACHE/guest-6.12 (the host's sources and package state stay as they are), is unpacked with
# dpkg-deb into a folder named after its version, and is reused by later runs without asking the
# mirror again (VIOMMU_GUEST_REFRESH=1 looks for a newer one).
guest_fetch_bpo() {
	gb_dir=$1/guest-6.12
	if [ "${VIOMMU_GUEST_REFRESH:-0}" != 1 ] && [ -s "$gb_dir/current" ]; then
		gb_key=$(cat "$gb_dir/current")
		if [ -e "$gb_dir/$gb_key/.done" ]; then
			gk_root=$gb_dir/$gb_key/root
			kver=$(ls "$gk_root/lib/modules")
			return 0
		fi
	fi
	gb_apt=$gb_dir/apt
	mkdir -p "$gb_apt/lists/partial" "$gb_apt/archives/partial" "$gb_apt/sources.list.d" \
		"$gb_apt/preferences.d" 2>/dev/null || {
		echo "FAIL: cannot create $gb_dir (run once as root, or set VIOMMU_CACHE)" >&2
		return 1
	}
	echo "deb http://deb.debian.org/debian bookworm-backports main" > "$gb_apt/sources.list"
	# Everything apt reads or writes is under gb_apt; the signing keys are the host's
	# (debian-archive-keyring). As root, apt would drop to _apt for downloads: keep root so the
	# files stay ours.
	gb_opts="-o Dir::Etc::SourceList=$gb_apt/sources.list -o Dir::Etc::SourceParts=$gb_apt/sources.list.d"
	gb_opts="$gb_opts -o Dir::Etc::PreferencesParts=$gb_apt/preferences.d -o Dir::State::Lists=$gb_apt/lists"
	gb_opts="$gb_opts -o Dir::Cache=$gb_apt -o Dir::Cache::archives=$gb_apt/archives"
	gb_opts="$gb_opts -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root"
	# shellcheck disable=SC2086
	apt-get $gb_opts -q update > "$gb_apt/update.log" 2>&1 || {
		echo "FAIL: apt-get update of bookworm-backports failed:" >&2
		cat "$gb_apt/update.log" >&2
		return 1
	}
	# The backports linux-image-amd64 depends on the current 6.12 image package (signed).
	# shellcheck disable=SC2086
	gb_pkg=$(apt-cache $gb_opts show linux-image-amd64 |
		awk '/^Version:/ { bpo = ($2 ~ /bpo/) } bpo && /^Depends:/ { print $2; exit }')
	# shellcheck disable=SC2086
	gb_ver=$(apt-cache $gb_opts show "$gb_pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
	case "$gb_pkg" in linux-image-6.12*-amd64) ;; *)
		echo "FAIL: no 6.12 amd64 kernel in bookworm-backports (found '$gb_pkg')" >&2
		return 1 ;;
	esac
	gb_key=${gb_pkg#linux-image-}_$gb_ver
	if [ ! -e "$gb_dir/$gb_key/.done" ]; then
		echo "guest kernel: fetching $gb_pkg $gb_ver from bookworm-backports" >&2
		rm -rf "$gb_dir/$gb_key"
		mkdir -p "$gb_dir/$gb_key/root"
		# shellcheck disable=SC2086
		(cd "$gb_dir/$gb_key" && apt-get $gb_opts -q download "$gb_pkg=$gb_ver") \
			> "$gb_dir/$gb_key/download.log" 2>&1 || {
			echo "FAIL: apt-get download $gb_pkg=$gb_ver failed:" >&2
			cat "$gb_dir/$gb_key/download.log" >&2
			return 1
		}
		dpkg-deb -x "$gb_dir/$gb_key/"*.deb "$gb_dir/$gb_key/root" || {
			echo "FAIL: cannot unpack $gb_pkg" >&2
			return 1
		}
		rm -f "$gb_dir/$gb_key/"*.deb
		touch "$gb_dir/$gb_key/.done"
	fi
	echo "$gb_key" > "$gb_dir/current"
	gk_root=$gb_dir/$gb_key/root
	kver=$(ls "$gk_root/lib/modules")
}

# guest_fetch_foreign CACHE ARCH FLAVOUR: sets gk_root (linux-image-*-FLAVOUR and
# busybox-static:ARCH unpacked into one folder) and kver (ARCH FLAVOUR: arm64 arm64 for
# qemu-system-aarch64, ppc64el powerpc64le for qemu-system-ppc64). Both are Debian 12 packages (bookworm, bookworm-updates,
# bookworm-security), fetched with `apt-get download` through a private apt configuration under
# CACHE/guest-ARCH that only knows that architecture (the host's sources, architectures
# and package state stay as they are), unpacked with dpkg-deb into a folder named after both
# versions and reused without asking the mirror again (VIOMMU_GUEST_REFRESH=1 looks for newer).
guest_fetch_foreign() {
	ga_dir=$1/guest-$2${ga_bpo:+-6.12}
	ga_arch=$2
	ga_flav=$3
	if [ "${VIOMMU_GUEST_REFRESH:-0}" != 1 ] && [ -s "$ga_dir/current" ]; then
		ga_key=$(cat "$ga_dir/current")
		if [ -e "$ga_dir/$ga_key/.done" ]; then
			gk_root=$ga_dir/$ga_key/root
			kver=$(ls "$gk_root/lib/modules")
			return 0
		fi
	fi
	ga_apt=$ga_dir/apt
	mkdir -p "$ga_apt/lists/partial" "$ga_apt/archives/partial" "$ga_apt/sources.list.d" \
		"$ga_apt/preferences.d" 2>/dev/null || {
		echo "FAIL: cannot create $ga_dir (run once as root, or set VIOMMU_CACHE)" >&2
		return 1
	}
	cat > "$ga_apt/sources.list" <<- EOF
		deb http://deb.debian.org/debian bookworm main
		deb http://deb.debian.org/debian bookworm-updates main
		deb http://deb.debian.org/debian-security bookworm-security main
	EOF
	# As guest_fetch_bpo, and ARCH as apt's only architecture.
	ga_opts="-o APT::Architecture=$ga_arch -o APT::Architectures=$ga_arch"
	if [ -n "${ga_bpo:-}" ]; then
		# ga_bpo=1 (guest_kernel=arm64-bpo): bookworm-backports' 6.12 kernel (busybox from
		# bookworm), for what 6.1 lacks: Linux reads the device tree's "ats-supported"
		# (PCIe root complex ATS) only since 6.10, 6.1 only from ACPI's IORT.
		echo "deb http://deb.debian.org/debian bookworm-backports main" >> "$ga_apt/sources.list"
		ga_opts="$ga_opts -o APT::Default-Release=bookworm-backports"
	fi
	ga_opts="$ga_opts -o Dir::Etc::SourceList=$ga_apt/sources.list -o Dir::Etc::SourceParts=$ga_apt/sources.list.d"
	ga_opts="$ga_opts -o Dir::Etc::PreferencesParts=$ga_apt/preferences.d -o Dir::State::Lists=$ga_apt/lists"
	ga_opts="$ga_opts -o Dir::Cache=$ga_apt -o Dir::Cache::archives=$ga_apt/archives"
	ga_opts="$ga_opts -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root"
	# shellcheck disable=SC2086
	apt-get $ga_opts -q update > "$ga_apt/update.log" 2>&1 || {
		echo "FAIL: apt-get update ($ga_arch, private configuration) failed:" >&2
		cat "$ga_apt/update.log" >&2
		return 1
	}
	# linux-image-FLAVOUR's candidate depends on the current ABI's image package.
	# shellcheck disable=SC2086
	ga_meta=$(apt-cache $ga_opts policy "linux-image-$ga_flav" | sed -n 's/^  Candidate: //p')
	# shellcheck disable=SC2086
	ga_pkg=$(apt-cache $ga_opts show "linux-image-$ga_flav=$ga_meta" 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
	# shellcheck disable=SC2086
	ga_ver=$(apt-cache $ga_opts policy "$ga_pkg" | sed -n 's/^  Candidate: //p')
	# shellcheck disable=SC2086
	ga_bb=$(apt-cache $ga_opts policy busybox-static | sed -n 's/^  Candidate: //p')
	case "${ga_bpo:+bpo}$ga_pkg" in linux-image-6.1.*-"$ga_flav" | bpolinux-image-6.12*-"$ga_flav") ;; *)
		echo "FAIL: no ${ga_bpo:+6.12 (bookworm-backports)}${ga_bpo:-6.1} $ga_flav kernel (found '$ga_pkg')" >&2
		return 1 ;;
	esac
	[ -n "$ga_ver" ] && [ -n "$ga_bb" ] || { echo "FAIL: no $ga_arch busybox-static or kernel version" >&2; return 1; }
	ga_key=$(echo "${ga_pkg#linux-image-}_${ga_ver}_busybox_$ga_bb" | tr ':' '-')
	if [ ! -e "$ga_dir/$ga_key/.done" ]; then
		echo "guest kernel: fetching $ga_pkg $ga_ver and busybox-static $ga_bb ($ga_arch)" >&2
		rm -rf "$ga_dir/$ga_key"
		mkdir -p "$ga_dir/$ga_key/root"
		# shellcheck disable=SC2086
		(cd "$ga_dir/$ga_key" && apt-get $ga_opts -q download "$ga_pkg=$ga_ver" \
			"busybox-static=$ga_bb") > "$ga_dir/$ga_key/download.log" 2>&1 || {
			echo "FAIL: apt-get download $ga_pkg=$ga_ver busybox-static=$ga_bb failed:" >&2
			cat "$ga_dir/$ga_key/download.log" >&2
			return 1
		}
		for ga_deb in "$ga_dir/$ga_key/"*.deb; do
			dpkg-deb -x "$ga_deb" "$ga_dir/$ga_key/root" || {
				echo "FAIL: cannot unpack $ga_deb" >&2
				return 1
			}
		done
		rm -f "$ga_dir/$ga_key/"*.deb
		touch "$ga_dir/$ga_key/.done"
	fi
	echo "$ga_key" > "$ga_dir/current"
	gk_root=$ga_dir/$ga_key/root
	kver=$(ls "$gk_root/lib/modules")
}

# guest_module NAME: copy module NAME (uncompressed) into the initramfs after its dependencies and
# append it to the load order, unless it is built in or already there.
guest_module() {
	local m f d
	m=$1
	case " $gm_done " in *" $m "*) return 0 ;; esac
	gm_done="$gm_done $m"
	if grep -q -e "/$m\.ko\$" -e "/$(echo "$m" | tr _ -)\.ko\$" "$gm_dir/modules.builtin"; then
		return 0
	fi
	f=$(find "$gm_dir/kernel" \( -name "$m.ko*" -o -name "$(echo "$m" | tr _ -).ko*" \) | head -n 1)
	[ -n "$f" ] || { echo "FAIL: module $m not found for $kver" >&2; return 1; }
	for d in $(modinfo -F depends "$f" | tr , ' '); do
		guest_module "$d" || return 1
	done
	case "$f" in
	*.ko.xz) xz -dc "$f" > "$gp_d/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" > "$gp_d/lib/modules/$m.ko" ;;
	*) cp "$f" "$gp_d/lib/modules/$m.ko" ;;
	esac || return 1
	echo "$m" >> "$gp_d/lib/modules/order"
}

# guest_prepare WORK CACHE: sets kver, vmlinux and initrd (WORK/initramfs.gz). The uncompressed
# kernel is kept in CACHE so that later runs skip the extraction. guest_init, when set, names
# another /init (bench/qemu_guest_init.sh).
guest_prepare() {
	gp_work=$1
	gp_cache=$2
	case "$guest_kernel" in
	debian)
		kver=$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -n 1)
		gp_kernel=/boot/vmlinuz-$kver
		gm_dir=/lib/modules/$kver
		;;
	bpo)
		guest_fetch_bpo "${VIOMMU_CACHE:-/var/cache/viommu}" || return 1
		gp_kernel=$gk_root/boot/vmlinuz-$kver
		gm_dir=$gk_root/lib/modules/$kver
		;;
	arm64 | arm64-bpo)
		ga_bpo=""
		[ "$guest_kernel" = arm64 ] || ga_bpo=1
		guest_fetch_foreign "${VIOMMU_CACHE:-/var/cache/viommu}" arm64 arm64 || return 1
		gp_kernel=$gk_root/boot/vmlinuz-$kver
		gm_dir=$gk_root/lib/modules/$kver
		;;
	ppc64el)
		ga_bpo=""
		guest_fetch_foreign "${VIOMMU_CACHE:-/var/cache/viommu}" ppc64el powerpc64le || return 1
		gp_kernel=$gk_root/boot/vmlinux-$kver
		gm_dir=$gk_root/lib/modules/$kver
		;;
	*) echo "FAIL: unknown guest_kernel '$guest_kernel'" >&2; return 1 ;;
	esac
	[ -n "$kver" ] && [ -r "$gp_kernel" ] || { echo "FAIL: no readable $guest_kernel kernel" >&2; return 1; }

	# A tiny initramfs: static busybox, guest-init.sh as /init, and the modules of
	# guest_modules with their dependencies (/lib/modules/order is the order to load them in).
	gp_d=$gp_work/initramfs
	rm -rf "$gp_d"
	mkdir -p "$gp_d/bin" "$gp_d/lib/modules"
	case "$guest_kernel" in arm64 | arm64-bpo | ppc64el) gp_foreign=1 ;; *) gp_foreign="" ;; esac
	if [ -n "$gp_foreign" ]; then
		cp "$gk_root/bin/busybox" "$gp_d/bin/busybox"
	else
		cp /bin/busybox "$gp_d/bin/busybox"
	fi
	# guest_bins: more static programs for /bin (tests/integration/vfio_shadow).
	for b in ${guest_bins:-}; do
		cp "$b" "$gp_d/bin/" || return 1
	done
	cp "${guest_init:-$guest_lib_dir/guest-init.sh}" "$gp_d/init"
	chmod +x "$gp_d/init"
	: > "$gp_d/lib/modules/order"
	gm_done=""
	for m in $guest_modules; do
		guest_module "$m" || return 1
	done
	initrd=$gp_work/initramfs.gz
	(cd "$gp_d" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd"

	# Debian's arm64 kernel package holds the uncompressed Image, its ppc64el one the ELF
	# vmlinux (which pseries loads): QEMU loads them as they are.
	if [ -n "$gp_foreign" ]; then
		vmlinux=$gp_kernel
		return 0
	fi

	# Boot the uncompressed kernel through its PVH entry point: under TCG, decompressing the
	# bzImage alone takes many seconds. The vmlinux is the bzImage's payload (setup header:
	# setup_sects at 0x1f1, payload_offset at 0x248, payload_length at 0x24c), xz in Debian's
	# 6.1 and zstd in 6.12; the build appends the 4-byte uncompressed size to the stream.
	vmlinux=$gp_cache/vmlinux-$kver
	if [ ! -s "$vmlinux" ]; then
		mkdir -p "$gp_cache"
		gp_ss=$(od -An -tu1 -j $((0x1f1)) -N1 "$gp_kernel" | tr -d ' ')
		gp_po=$(od -An -tu4 -j $((0x248)) -N4 "$gp_kernel" | tr -d ' ')
		gp_pl=$(od -An -tu4 -j $((0x24c)) -N4 "$gp_kernel" | tr -d ' ')
		gp_off=$(((gp_ss + 1) * 512 + gp_po))
		case $(od -An -tx1 -j "$gp_off" -N4 "$gp_kernel" | tr -d ' ') in
		fd377a58) gp_dec="xz -dc --single-stream" ;;
		28b52ffd) gp_dec="zstd -qdc" ;;
		1f8b*) gp_dec="gzip -dc" ;;
		*) echo "FAIL: unknown kernel compression in $gp_kernel" >&2; return 1 ;;
		esac
		# shellcheck disable=SC2086
		tail -c +$((gp_off + 1)) "$gp_kernel" | head -c $((gp_pl - 4)) | $gp_dec > "$vmlinux.tmp" 2>/dev/null || true
		[ "$(od -An -c -N4 "$vmlinux.tmp" 2>/dev/null | tr -d ' ')" = '177ELF' ] || {
			echo "FAIL: cannot extract vmlinux from $gp_kernel" >&2
			rm -f "$vmlinux.tmp"
			return 1
		}
		mv "$vmlinux.tmp" "$vmlinux"
	fi
}

# One mode's files under $work and its net_reflect peer: sets log, qlog, rlog, disk (a fresh
# 16 MiB image), refl_pid and port for the caller (uses $work and $reflect_bin).
guest_mode_start() {
	mode=$1
	log=$work/$mode.console
	qlog=$work/$mode.qemu
	rlog=$work/$mode.reflect
	disk=$work/$mode.disk
	it_reflect_start "$rlog" "$mode" || return 1
	truncate -s 16M "$disk"
}

# it_emulated IOMMU KERNEL_ARGS [REBOOT]: after guest_mode_start, the emulated-device guest of
# qemu_viommu.sh and qemu_amdvi.sh: $qemu on q35 with the vIOMMU -device IOMMU in front of a
# virtio-net (QEMU's datapath) on the mode's net_reflect, a virtio-blk on $disk and QEMU's edu;
# $vmlinux and $initrd with KERNEL_ARGS, the console to $log, QEMU's output to $qlog. REBOOT=1 lets
# the guest reboot (QEMU then exits on poweroff only). QEMU_TIMEOUT bounds it (default 300 s).
# Afterwards log names the console without its CRs, the net_reflect has stopped (its summary in
# $rlog) and it_qemu_wait has set qrc and secs.
it_emulated() {
	ie_start=$(date +%s)
	ie_reboot=-no-reboot
	[ "${3:-0}" != 1 ] || ie_reboot=""
	# shellcheck disable=SC2086
	timeout "${QEMU_TIMEOUT:-300}" "$qemu" -nodefaults -no-user-config -display none \
		-M q35 -accel tcg -smp 1 -m 256M \
		-device "$1" \
		-netdev socket,id=n0,connect=127.0.0.1:"$port" \
		-device virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=,mac=52:54:00:12:34:56 \
		-drive file="$disk",if=none,id=d0,format=raw,cache=writeback \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on \
		-device edu \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off $2" \
		-serial file:"$log" $ie_reboot > "$qlog" 2>&1 &
	qemu_pid=$!
	it_qemu_wait "$ie_start"
	it_console
	it_reflect_stop
}

# it_console: after QEMU, log names the console ($log) without its CRs ($log.txt): the serial
# console ends its lines with CR LF.
it_console() {
	tr -d '\r' < "$log" > "$log.txt"
	log=$log.txt
}

# it_unit_stat DEVICE NAME FILE [BUS]: counter NAME of the last "DEVICE stats: ... NAME=N ..." line
# in QEMU's output FILE (empty without one); with BUS, of the last "DEVICE stats: bus=BUS ..." line
# (the instance whose primary bus is BUS, e.g. pcie.1, where a machine has several).
it_unit_stat() {
	sed -n "s/.*$1 stats:${4:+ bus=$4}.* $2=\([0-9]*\).*/\1/p" "$3" | tail -n 1
}

# it_boot_checks REBOOT: after it_emulated, the guest passed (REBOOT=1: both boots, the second on
# the IOMMU QEMU's reset made), its clock did not run fast, QEMU exited cleanly. Each check that
# fails says why and sets ok=0.
it_boot_checks() {
	grep -q "^VIOMMU-TEST \[.*\] PASS\$" "$log" || { echo "$mode: the guest did not pass"; ok=0; }
	if [ "$1" = 1 ]; then
		grep -q "^VIOMMU-TEST \[.*\] PASS (first boot), rebooting" "$log" ||
			{ echo "$mode: the first boot did not pass"; ok=0; }
	fi
	ib_clk=$(guest_clock_ok "$log" "$secs") || { echo "$mode: $ib_clk"; ok=0; }
	[ "$qrc" -eq 0 ] || { echo "$mode: qemu exit status $qrc"; ok=0; }
}

# it_dma_checks [DEVICE]: after it_emulated, the disk image holds what the guest wrote and read
# back, frames crossed the reflector, and the vIOMMU DEVICE (its statistics in $qlog; none given:
# not checked here) translated. Each check that fails says why and sets ok=0.
it_dma_checks() {
	id_want=$(sed -n 's/^VIOMMU-TEST \[.*\] disk ok: 8 MiB sha256 \([0-9a-f]*\)$/\1/p' "$log" | tail -n 1)
	id_got=$(head -c 8388608 "$disk" | sha256sum | cut -d" " -f1)
	[ -n "$id_want" ] && [ "$id_got" = "$id_want" ] ||
		{ echo "$mode: disk image sha256 $id_got, guest wrote '$id_want'"; ok=0; }
	id_frames=$(sed -n 's/^net_reflect: frames=\([0-9]*\).*/\1/p' "$rlog")
	[ "${id_frames:-0}" -gt 0 ] || { echo "$mode: no frame crossed the reflector"; ok=0; }
	[ -n "${1:-}" ] || return 0
	id_xl=$(it_unit_stat "$1" translations "$qlog")
	[ "${id_xl:-0}" -gt 0 ] || { echo "$mode: the unit translated nothing"; ok=0; }
}

# it_vhost_checks: after it_peers_stop, the mode's viommu-vhost (it_vhost_start with the log
# $work/$mode.vhost and the audit log $work/$mode.audit) exited cleanly, refused no message, was
# sent IOTLB updates, and its audit logs replay without a translation used after its invalidation
# (audit_check: $audit_check). Sets stats (its exit statistics line); each check that fails says
# why and sets ok=0.
it_vhost_checks() {
	stats=$(grep "stats (exit)" "$work/$mode.vhost" | tail -n 1)
	# shellcheck disable=SC2154 # vrc: it_peers_stop
	[ "$vrc" -eq 0 ] || { echo "$mode: viommu-vhost exit status $vrc"; ok=0; }
	case "$stats" in *" bad_msgs=0 "*) ;; *) echo "$mode: refused vhost-user messages"; ok=0 ;; esac
	case "$stats" in *" iotlb_updates=0 "* | "") echo "$mode: no IOTLB UPDATE"; ok=0 ;; esac
	for ivk_f in "$work/$mode.audit".*; do
		[ -e "$ivk_f" ] || continue
		# shellcheck disable=SC2154 # audit_check: the caller's
		"$audit_check" "$ivk_f" > "$work/$mode.audit-check" 2>&1 ||
			{ echo "$mode: audit $ivk_f failed"; cat "$work/$mode.audit-check"; ok=0; }
	done
}

# it_vhost_counters TAG DEVICE COUNTER OUT MODE...: after qemu_vhost.sh on our vIOMMU DEVICE (its
# output in OUT), the back-end's invalidations came from DEVICE through QEMU's IOMMU notifiers:
# each MODE's last DEVICE statistics line counts COUNTER events (any number in pt). Says what each
# sent; fails when one has no statistics or sent none.
it_vhost_counters() {
	ivc_tag=$1 ivc_dev=$2 ivc_counter=$3 ivc_out=$4
	shift 4
	ivc_rc=0
	for ivc_mode in "$@"; do
		ivc_line=$(grep "^  \[$ivc_mode\] $ivc_dev stats:" "$ivc_out" | tail -n 1)
		ivc_n=$(echo "$ivc_line" | sed -n "s/.* $ivc_counter=\([0-9]*\).*/\1/p")
		if [ -z "$ivc_n" ]; then
			echo "FAIL $ivc_tag-$ivc_mode: no statistics from $ivc_dev"
			ivc_rc=1
		elif [ "$ivc_mode" != pt ] && [ "$ivc_n" -eq 0 ]; then
			echo "FAIL $ivc_tag-$ivc_mode: the unit sent no $ivc_counter event"
			ivc_rc=1
		else
			echo "$ivc_tag-$ivc_mode: the unit sent $ivc_n $ivc_counter events"
		fi
	done
	return $ivc_rc
}

# guest_qemu MODE SOCK CONSOLE KERNEL_ARGS &: run QEMU in the background (it execs, so $! is
# QEMU's timeout process)
# in IOMMU mode MODE (strict lazy pt noiommu) on the vhost-user socket SOCK, the serial console
# to the file CONSOLE. QEMU_TIMEOUT bounds it (default 600 s). GUEST_QEMU (default: the system's
# qemu-system-x86_64) and GUEST_IOMMU (default: QEMU's own intel-iommu) choose the VMM and the
# vIOMMU device, e.g. qemu/build.sh's binary with viommu-intel-iommu; GUEST_ATS=off turns the
# device's ATS off (default on); GUEST_APPEND adds kernel arguments. Modes virtio-strict and
# virtio-lazy put QEMU's own virtio-iommu-pci (GUEST_IOMMU: another, e.g. libviommu's
# virtio-iommu-pci,x-viommu=on) in front instead (the guest needs the virtio_iommu driver:
# guest_kernel=bpo; no ATS). GUEST_QUEUES=N (default 1) gives the virtio-net N queue
# pairs (vhost-user queues=N, mq=on); GUEST_SMP (default 1) the vCPUs (Linux uses one queue pair
# per vCPU); GUEST_NET_OPTS more virtio-net-pci properties (e.g. event_idx=off).
guest_qemu() {
	gq_iommu="-device ${GUEST_IOMMU:-intel-iommu,intremap=on,device-iotlb=on}"
	gq_ats=${GUEST_ATS:-on}
	case "$1" in
	strict) gq_append="intel_iommu=on iommu.strict=1" ;;
	lazy) gq_append="intel_iommu=on iommu.strict=0" ;;
	pt) gq_append="intel_iommu=on iommu=pt" ;;
	noiommu) gq_append="intel_iommu=off"; gq_iommu="" ;;
	virtio-strict) gq_append="iommu.strict=1 viommu.domain=DMA"; gq_iommu="-device ${GUEST_IOMMU:-virtio-iommu-pci}"; gq_ats=off ;;
	virtio-lazy) gq_append="iommu.strict=0 viommu.domain=DMA-FQ"; gq_iommu="-device ${GUEST_IOMMU:-virtio-iommu-pci}"; gq_ats=off ;;
	*) echo "unknown mode $1" >&2; return 1 ;;
	esac
	gq_queues=${GUEST_QUEUES:-1}
	gq_mq=""
	# Vectors stay 0 (see below): the queues share the INTx line.
	[ "$gq_queues" -gt 1 ] && gq_mq=",mq=on"

	# tsc=unstable: under TCG on a loaded host the guest's boot-time TSC calibration can come
	# out several times too low. With the TSC trusted (tsc=reliable did that: no clocksource
	# watchdog) the guest clock then ran 8x fast and every guest-side timeout (ping, the pktgen
	# wait, the soft-lockup watchdog) fired 8x early. The HPET follows the host clock.
	# MSI-X with a vhost-user device crashes QEMU 7.2 under TCG: vectors=0. iommu_platform needs
	# a modern-only device; ATS only exists behind a PCIe root port.
	# shellcheck disable=SC2086
	exec timeout "${QEMU_TIMEOUT:-600}" "${GUEST_QEMU:-qemu-system-x86_64}" -nodefaults -no-user-config -display none \
		-M q35,kernel-irqchip=split -accel tcg -smp "${GUEST_SMP:-1}" -m 256M \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		$gq_iommu \
		-device pcie-root-port,id=rp0,chassis=1,slot=1 \
		-chardev socket,id=chr0,path="$2" \
		-netdev vhost-user,id=net0,chardev=chr0,queues="$gq_queues" \
		-device virtio-net-pci,netdev=net0,bus=rp0,disable-legacy=on,iommu_platform=on,ats=$gq_ats,vectors=0,mac=52:54:00:12:34:56$gq_mq${GUEST_NET_OPTS:+,$GUEST_NET_OPTS} \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off $gq_append ${GUEST_APPEND:-} $4" \
		-serial file:"$3" -no-reboot
}

# guest_clock_ok CONSOLE SECS: the guest cannot have lived longer than QEMU ran (SECS); if it
# did, its clock ran fast and its timeouts meant nothing.
guest_clock_ok() {
	gc_secs=$(sed -n 's/^VIOMMU-[A-Z]* \[\([0-9]*\).*/\1/p' "$1" | tail -n 1)
	if [ -n "$gc_secs" ] && [ "$gc_secs" -gt $(($2 + 5)) ]; then
		echo "guest clock ran fast (${gc_secs}s of guest uptime in ${2}s)"
		return 1
	fi
	return 0
}

# guest_qemu_virtio MODE PEER DISK CONSOLE KERNEL_ARGS &: run QEMU ($QEMU, default Debian's
# qemu-system-x86_64) in the background (it execs) with a virtio-iommu-pci in front of a
# virtio-net, a virtio-blk disk on the raw image DISK (behind a PCIe root port: a secondary bus,
# numbered by the guest's firmware) and QEMU's edu device. MODE: qemu-strict, qemu-lazy (QEMU's own virtio-iommu); strict, lazy (libviommu's,
# x-viommu=on: the patched QEMU of qemu/build.sh); vhost-strict, vhost-lazy (libviommu's, with
# the virtio-net on a vhost-user netdev); reboot (libviommu's, strict, the guest reboots once
# after passing: QEMU then exits on poweroff only). PEER: net_reflect's TCP port on 127.0.0.1 for the
# emulated virtio-net (vhost off), the vhost-user socket in the vhost modes. QEMU_TIMEOUT bounds
# it (default 600 s).
guest_qemu_virtio() {
	gv_dev=virtio-iommu-pci,x-viommu=on
	gv_mem=""
	gv_net="-netdev socket,id=net0,connect=127.0.0.1:$2"
	gv_nic=""
	gv_noreboot=-no-reboot
	case "$1" in
	# QEMU 7.2's own device reports faults without their access flags.
	qemu-strict) gv_dev=virtio-iommu-pci; gv_append="iommu.strict=1 viommu.domain=DMA viommu.faultflags=none" ;;
	qemu-lazy) gv_dev=virtio-iommu-pci; gv_append="iommu.strict=0 viommu.domain=DMA-FQ viommu.faultflags=none" ;;
	strict | vhost-strict) gv_append="iommu.strict=1 viommu.domain=DMA" ;;
	lazy | vhost-lazy) gv_append="iommu.strict=0 viommu.domain=DMA-FQ" ;;
	reboot) gv_append="iommu.strict=1 viommu.domain=DMA viommu.reboot=1"; gv_noreboot="" ;;
	*) echo "unknown mode $1" >&2; return 1 ;;
	esac
	case "$1" in
	vhost-*)
		# vhost-user needs shared guest memory; MSI-X with a vhost-user device crashes QEMU
		# 7.2 under TCG (vectors=0, see guest_qemu).
		gv_mem="-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem"
		gv_net="-chardev socket,id=chr0,path=$2 -netdev vhost-user,id=net0,chardev=chr0"
		gv_nic=",vectors=0"
		;;
	esac
	# The IOMMU comes first: a PCI device realized before it would bypass it. tsc=unstable:
	# see guest_qemu. iommu_platform needs modern-only devices.
	# shellcheck disable=SC2086
	exec timeout "${QEMU_TIMEOUT:-600}" "${QEMU:-qemu-system-x86_64}" -nodefaults -no-user-config \
		-display none -M q35 -accel tcg -smp 1 -m 256M $gv_mem \
		-device "$gv_dev" \
		$gv_net \
		-device virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on,mac=52:54:00:12:34:56$gv_nic \
		-drive file="$3",if=none,id=disk0,format=raw,cache=writeback \
		-device pcie-root-port,id=rp0,chassis=1,slot=1 \
		-device virtio-blk-pci,drive=disk0,bus=rp0,disable-legacy=on,iommu_platform=on \
		-device edu \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 no_timer_check tsc=unstable mitigations=off $gv_append $5" \
		-serial file:"$4" $gv_noreboot
}
