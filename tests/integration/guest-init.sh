#!/bin/busybox sh
# /init of the test guest. The tests named by viommu.tests= on the kernel command line (default
# net) run in this order, each reporting on the console; then the guest powers off.
# net: bring up the virtio-net device whose peer reflects every frame (viommu-vhost --reflect, or
# tests/integration/net_reflect behind an emulated NIC), send and receive traffic whose integrity
# the guest's own stack checks. The peer swaps MAC, IPv4 and UDP addresses, so a frame sent to the
# fake neighbour 10.0.0.2 comes back as if that neighbour had sent it.
# blk: write a random pattern to the virtio-blk disk /dev/vda, drop the page cache, read it back
# and compare checksums (the host checks the image file too).
# fault: program QEMU's edu device through its BAR to DMA to an I/O virtual address nobody mapped,
# and expect the IOMMU driver's fault report in the kernel log.
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

say() { echo "VIOMMU-TEST [$(cut -d" " -f1 /proc/uptime)] $*" > /dev/console; }
fail() {
	say "FAIL $*"
	dmesg | tail -n 30 > /dev/console
	# A pktgen run left going keeps transmitting while poweroff stops the device, and the
	# guest then spins in softirq (soft lockup) instead of powering off.
	[ -w /proc/net/pktgen/pgctrl ] && echo stop > /proc/net/pktgen/pgctrl
	poweroff -f
}

arg() { sed -n "s/.*viommu\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
FRAMES=$(arg frames)
[ -n "$FRAMES" ] || FRAMES=2000
BENCH=$(arg bench) # seconds of pktgen for bench/vhost_vs_dpdk.sh instead of the test
TXQ=$(arg txqueue) # pktgen transmits on this queue (multiqueue tests); default 0
PEER_MAC=02:00:00:00:00:02

TESTS=$(arg tests)
[ -n "$TESTS" ] || TESTS=net
has() { case ",$TESTS," in *",$1,"*) return 0 ;; esac; return 1; }
DOMAIN=$(arg domain) # expected IOMMU domain type of every tested device (DMA, DMA-FQ, identity)

# The host put the modules in load order: dependencies first, and the IOMMU driver before the
# devices it translates for (their probe waits for it).
while read -r m; do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done < /lib/modules/order
say "modules: $(tr '\n' ' ' < /lib/modules/order)"

# pci_of DEV: the PCI function above a sysfs device (a virtio device's parent).
pci_of() {
	d=$(readlink -f "$1")
	while [ -n "$d" ] && [ "$d" != / ]; do
		[ -e "$d/vendor" ] && [ -e "$d/config" ] && { echo "$d"; return 0; }
		d=${d%/*}
	done
	return 1
}
# check_iommu NAME SYSFS-DEVICE: report the device's IOMMU group and domain type; with
# viommu.domain=TYPE, fail unless the device sits in a group of that type.
check_iommu() {
	p=$(pci_of "$2") || fail "$1: no PCI device above $2"
	g=$(readlink "$p/iommu_group" 2>/dev/null) && g=${g##*/}
	t=""
	[ -n "$g" ] && t=$(cat "/sys/kernel/iommu_groups/$g/type" 2>/dev/null)
	say "$1: ${p##*/} iommu_group=${g:-none} type=${t:-none}"
	[ -z "$DOMAIN" ] || [ "$t" = "$DOMAIN" ] || fail "$1: domain type '${t:-none}', expected $DOMAIN"
}
say "iommu: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')"
dmesg | grep -i -E "iommu|viot|deferred" | head -n 20 | sed 's/^/  dmesg: /' > /dev/console

# ---- net: setup ----------------------------------------------------------------------------
# UDP counters from /proc/net/snmp: field $1 of the Udp line.
udp() {
	awk -v f="$1" '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 }
		else print $c }' /proc/net/snmp
}
PG=/proc/net/pktgen
pg() { echo "$1" > $PG/eth0 || fail "pktgen: $1"; }
# pktgen_setup SIZE COUNT: UDP frames with checksums from 10.0.0.1:9 to the fake neighbour's
# port 7; each comes back swapped to a closed port, so NoPorts counts the intact ones.
pktgen_setup() {
	pg "count $2"
	pg "clone_skb 0"
	pg "pkt_size $1"
	pg "delay 0"
	pg "dst 10.0.0.2"
	pg "dst_mac $PEER_MAC"
	pg "udp_src_min 9"
	pg "udp_src_max 9"
	pg "udp_dst_min 7"
	pg "udp_dst_max 7"
	pg "flag UDPCSUM"
	if [ -n "$TXQ" ]; then
		pg "queue_map_min $TXQ"
		pg "queue_map_max $TXQ"
	fi
}

has net || BENCH=""
if has net; then
i=0
while [ ! -e /sys/class/net/eth0 ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "no eth0"
	sleep 0.1
done
ip link set lo up
ip link set eth0 up || fail "eth0 up"
ip addr add 10.0.0.1/24 dev eth0 || fail "address"
arp -s 10.0.0.2 $PEER_MAC || fail "static neighbour"
# Guest-side timeouts (ping deadlines, the pktgen wait, the soft-lockup watchdog) are only
# meaningful if the guest clock keeps real time; the host compares it with its own.
say "clock: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
	"$(dmesg | grep -o -E 'tsc: [^,]*MHz[^,]*|[Mm]arking TSC unstable.*' | tr '\n' ' ')"
check_iommu net /sys/class/net/eth0/device
# What the driver negotiated (the virtio device's feature bits, bit 0 first) and the queues it
# uses: the host checks them against what the back-end offered.
nfeat=$(cat /sys/class/net/eth0/device/features 2>/dev/null)
nbit() { echo "$nfeat" | cut -c$(($1 + 1)); }
say "net features: indirect_desc=$(nbit 28) event_idx=$(nbit 29) mq=$(nbit 22)" \
	"queues=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l) ring_packed=$(nbit 34)"
# No rem_device_all first: the guest just booted, the thread has no devices, and the kernel
# only flags the removal for the pktgen thread (then sleeps 125 ms); under TCG on a loaded host
# the thread ran after add_device and removed eth0 again ("can't create /proc/net/pktgen/eth0").
echo "add_device eth0" > $PG/kpktgend_0 || fail "pktgen add_device"
[ -e $PG/eth0 ] || fail "pktgen: no $PG/eth0 after add_device"
fi

# Benchmark: pktgen 60-byte frames for BENCH seconds as fast as the guest can, then count what
# came back intact. One line for the host; no pass/fail of its own.
if [ -n "$BENCH" ]; then
	np0=$(udp NoPorts)
	cs0=$(($(udp InCsumErrors) + $(udp InErrors)))
	pktgen_setup 60 0
	t0=$(cut -d" " -f1 /proc/uptime)
	echo start > $PG/pgctrl &
	sleep "$BENCH"
	echo stop > $PG/pgctrl
	t1=$(cut -d" " -f1 /proc/uptime)
	wait
	sleep 1 # replies still in flight
	sent=$(sed -n 's/.*pkts-sofar: *\([0-9]*\).*/\1/p' $PG/eth0)
	say "BENCH sent=$sent received=$(($(udp NoPorts) - np0))" \
		"corrupt=$(($(udp InCsumErrors) + $(udp InErrors) - cs0)) t0=$t0 t1=$t1"
	dmesg | grep -E "DMAR:.*[Ff]ault|BUG:|Oops|WARNING:|Call Trace" | head -n 3 > /dev/console
	poweroff -f
fi

ping1() {
	ping -c 1 -W 30 "$@" 10.0.0.2 2>&1 | grep -q "1 packets transmitted, 1 packets received"
}
if has net; then
# Ping payloads go guest -> back-end -> guest (request), and back again (reply): a corrupted
# frame fails a checksum and the reply never comes. 3000 bytes also exercises IP fragments.
# One echo per ping, each allowed 30 s: after its last echo busybox ping waits only twice the
# slowest round trip so far (at least 1 s) for the last reply, and under TCG on a busy host one
# reply can take longer than that (lazy mode: every flush empties the device IOTLB and the next
# frame waits for QEMU's main loop to answer its misses). Lost or corrupted replies still fail.
for size in 56 1400 3000; do
	for k in 1 2 3 4 5; do
		ping1 -s $size || fail "ping -s $size: echo $k of 5 got no reply"
	done
	say "ping -s $size ok"
done

# pktgen: FRAMES UDP frames with checksums, to the fake neighbour, per size. Each comes back
# swapped to a closed port: NoPorts counts the ones that arrived with a valid checksum.
for size in 60 1514; do
	np0=$(udp NoPorts)
	cs0=$(udp InCsumErrors)
	er0=$(udp InErrors)
	pktgen_setup $size $FRAMES
	echo start > $PG/pgctrl
	# The write can return before the run has even begun: pktgen gives its thread 125 ms to
	# start and then waits only while the device runs, and a TCG guest blocked in a vIOMMU
	# flush (QEMU waits for the back-end's INVALIDATE replies) misses that. Wait for this
	# size's result (the previous size's stays until the run begins).
	i=0
	while ! grep -q "^Result: OK: .*(${size}byte" $PG/eth0 && [ $i -lt 600 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	# "Result: OK: <usec>(...) usec, <frames sent> (<size>byte,<frags>frags)"
	sent=$(sed -n 's/^Result: OK: .* usec, \([0-9]*\) (.*/\1/p' $PG/eth0)
	[ "$sent" = "$FRAMES" ] || fail "pktgen sent '$sent' of $FRAMES: $(grep -E 'Result|sofar' $PG/eth0)"
	i=0
	while [ $(($(udp NoPorts) - np0)) -lt "$FRAMES" ] && [ $i -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	got=$(($(udp NoPorts) - np0))
	bad=$(($(udp InCsumErrors) - cs0 + $(udp InErrors) - er0))
	[ "$got" = "$FRAMES" ] || fail "pktgen $size: $got of $FRAMES frames came back intact"
	[ "$bad" = 0 ] || fail "pktgen $size: $bad frames came back corrupted"
	say "pktgen $size ok: $FRAMES sent, $got received intact"
done

fi

# ---- blk (viommu.tests=blk or viommu.disk=1): write, drop the page cache, read back --------
# BLKMB MiB (default 8) of random data at the start of the virtio-blk disk /dev/vda: written
# through the page cache (the device DMAs from the guest's pages), read back after dropping the
# caches, then again with O_DIRECT (DMA straight into user pages). The host compares the image
# file's first BLKMB MiB with the checksum printed here.
BLKMB=$(arg blkmb)
[ -n "$BLKMB" ] || BLKMB=8
now() { cut -d" " -f1 /proc/uptime; }
if has blk || [ "$(arg disk)" = 1 ]; then
	i=0
	while [ ! -b /dev/vda ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "disk: no /dev/vda"
		sleep 0.1
	done
	check_iommu blk /sys/block/vda/device
	dd if=/dev/urandom of=/tmp/pattern bs=64k count=$((BLKMB * 16)) 2> /dev/null || fail "disk: pattern"
	want=$(sha256sum < /tmp/pattern | cut -d" " -f1)
	t0=$(now)
	dd if=/tmp/pattern of=/dev/vda bs=64k conv=fsync 2> /dev/null || fail "disk: write"
	t1=$(now)
	rm -f /tmp/pattern
	sync
	echo 3 > /proc/sys/vm/drop_caches
	t2=$(now)
	got=$(dd if=/dev/vda bs=64k count=$((BLKMB * 16)) 2> /dev/null | sha256sum | cut -d" " -f1)
	t3=$(now)
	[ "$got" = "$want" ] || fail "disk: read back $got after writing $want"
	dd if=/dev/vda of=/tmp/direct bs=64k count=$((BLKMB * 16)) iflag=direct 2> /dev/null ||
		fail "disk: O_DIRECT read"
	got=$(sha256sum < /tmp/direct | cut -d" " -f1)
	[ "$got" = "$want" ] || fail "disk: O_DIRECT read back $got after writing $want"
	rm -f /tmp/direct
	say "disk times: write_s=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')" \
		"read_s=$(echo "$t2 $t3" | awk '{ print $2 - $1 }')"
	say "disk ok: ${BLKMB} MiB sha256 $want"
fi

# Healthy: no DMA faults, oopses or warnings, and the devices still work. (pseries: QEMU's blank
# NVRAM makes the kernel warn "nvram corruption detected: 0-length partition"; that is no DMA.)
if dmesg | grep -E "DMAR:.*[Ff]ault|fault from EP|BUG:|Oops|WARNING:|Call Trace|virtio_net.*(error|bad)|virtio_blk.*error|I/O error" |
	grep -v "WARNING: nvram corruption detected: 0-length partition" > /tmp/bad; then
	fail "kernel log: $(head -n 3 /tmp/bad | tr '\n' ' ')"
fi
if has net; then
	ping1 && ping1 || fail "ping after traffic"
	say "rx_packets=$(cat /sys/class/net/eth0/statistics/rx_packets)" \
		"tx_packets=$(cat /sys/class/net/eth0/statistics/tx_packets)"
fi

# viommu.iommulog=1: the IOMMU driver's boot log, for the host to compare with the unit it built.
if [ "$(arg iommulog)" = 1 ]; then
	dmesg | grep -E "DMAR|iommu|IOMMU|AMD-Vi|smmu" | head -n 40 | while read -r l; do
		echo "VIOMMU-DMESG $l" > /dev/console
	done
fi

# ---- provoked DMA faults through QEMU's edu device (1234:11e8) -------------------------------
# BAR0: 0x04 liveness (reads back inverted), 0x80 DMA source, 0x88 DMA destination, 0x90 count
# (QEMU 7.2 aborts on a full 4096-byte one: its range check is off by one), 0x98 command (1
# start, 2 edu-to-RAM; bit 0 clears when done). The device's own buffer is at 0x40000 in its DMA
# address space. Nothing is mapped for it in its default domain.
edu_find() { # sets edu (sysfs path), edu_bdf (bus:dev.fn), edu_rid, edu_bar; enables its DMA
	edu=""
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ] && edu=$d
	done
	[ -n "$edu" ] || fail "edu: no device"
	# Without its PCI domain (0001: behind virt's second host bridge): the requester id.
	edu_bdf=$(basename "$edu" | sed 's/^[0-9a-f]\{4\}://')
	edu_rid=$(((0x${edu_bdf%%:*} << 8) | (0x$(echo "$edu_bdf" | sed 's/.*:\(..\)\..*/\1/') << 3) | ${edu_bdf##*.}))
	edu_bar=$(($(head -n 1 "$edu/resource" | cut -d" " -f1)))
	[ "$edu_bar" != 0 ] || fail "edu: BAR0 not assigned"
	# Command register, config offset 4: memory space (bit 1) and bus master (bit 2).
	printf '\006\000' | dd of="$edu/config" bs=1 seek=4 count=2 conv=notrunc 2> /dev/null ||
		fail "edu: config write"
	devmem $((edu_bar + 4)) 32 0x12345678
	[ "$(devmem $((edu_bar + 4)) 32)" = 0xEDCBA987 ] || fail "edu: BAR0 does not answer"
	# edu's registers are in the byte order of QEMU's target: big-endian in qemu-system-ppc64,
	# where this little-endian guest reads its ID register (0x010000ed) as 0xed000001.
	case "$(devmem "$edu_bar" 32)" in
	0x010000ED) edu_swap=0 ;;
	0xED000001) edu_swap=1 ;;
	*) fail "edu: unknown ID register $(devmem "$edu_bar" 32)" ;;
	esac
}
edu_val() { # V: V as the device must find it in a 64-bit register (byte-swapped if big-endian)
	if [ "$edu_swap" = 1 ]; then
		ev=$(($1))
		er=0
		ek=0
		while [ $ek -lt 8 ]; do
			er=$(((er << 8) | ((ev >> (8 * ek)) & 255)))
			ek=$((ek + 1))
		done
		printf '0x%x' "$er"
	else
		printf '0x%x' $(($1))
	fi
}
edu_dma() { # SRC DST CMD: one 4-byte DMA, one bus access so one fault (CMD 1: RAM -> device, 3: device -> RAM)
	devmem $((edu_bar + 0x80)) 64 "$(edu_val "$1")"
	devmem $((edu_bar + 0x88)) 64 "$(edu_val "$2")"
	devmem $((edu_bar + 0x90)) 64 "$(edu_val 4)"
	devmem $((edu_bar + 0x98)) 64 "$(edu_val "$3")"
	# The command's bit 0 (run), in a 32-bit read.
	edu_run=1
	[ "$edu_swap" = 1 ] && edu_run=0x01000000
	i=0
	while [ $(($(devmem $((edu_bar + 0x98)) 32) & edu_run)) != 0 ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "edu: DMA did not complete"
		sleep 0.1
	done
}

# viommu.edu=1 (VT-d): the guest's own DMAR fault handler must report a read and a write with the
# reason code for a missing read/write permission (0x06, 0x05).
edu_fault() { # KIND ADDR REASON: wait for the guest's report of this fault
	i=0
	while ! dmesg | grep -q "DMAR: \[$1 NO_PASID\] Request device \[$edu_bdf\] fault addr 0x$2 \[fault reason 0x$3\]"; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "edu: no '$1' fault at 0x$2 reason 0x$3: $(dmesg | grep -E 'DMAR.*fault' | tail -n 3 | tr '\n' ' ')"
		sleep 0.1
	done
	say "fault ok: $(dmesg | grep "DMAR: \[$1 NO_PASID\].*fault addr 0x$2" | tail -n 1 | sed 's/^\[[^]]*\] //')"
}
# viommu.edu=amd: the same DMAs behind an AMD IOMMU; Linux's amd_iommu reports each from the
# event log as IO_PAGE_FAULT with the flags the IOMMU wrote (0x0000 read, 0x0020 write: RW).
edu_fault_amd() { # ADDR FLAGS
	i=0
	while ! dmesg | grep -q "$edu_bdf: AMD-Vi: Event logged \[IO_PAGE_FAULT domain=0x[0-9a-f]* address=0x$1 flags=0x$2\]"; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "edu: no IO_PAGE_FAULT at 0x$1 flags 0x$2: $(dmesg | grep -E 'AMD-Vi.*Event' | tail -n 3 | tr '\n' ' ')"
		sleep 0.1
	done
	say "fault ok: $(dmesg | grep "$edu_bdf: AMD-Vi: Event logged \[IO_PAGE_FAULT.*address=0x$1 " | tail -n 1 | sed 's/^\[[^]]*\] //')"
}
# viommu.edu=smmu: behind an Arm SMMUv3. The edu device gets pci-stub first: with a device tree,
# Linux attaches a device to the SMMU (its StreamID's STE, a DMA domain) only when a driver binds
# it. Linux's arm-smmu-v3 prints each event record it has no handler for: "event 0xID received:"
# and its four 64-bit words. Word 0: the event number (F_TRANSLATION, 0x10) and the StreamID
# (the requester id) in bits 63:32; word 1 bit 35: RnW; word 2: the input address. The report
# names the SMMU (its device, e.g. 9050000.smmuv3) whose event queue held the record.
edu_fault_smmu() { # ADDR RNW: wait for the record of this fault
	want0=$(printf '0x%08x%08x' "$edu_rid" 16)
	want2=$(printf '0x%016x' "$1")
	i=0
	while :; do
		# One line per record: the SMMU and its four words (records of several SMMUs may
		# interleave in the log: each SMMU's own lines are in order).
		dmesg | sed -n 's/.*arm-smmu-v3 \([^ :]*\):[[:space:]]*\(event 0x[0-9a-f]* received:\|0x[0-9a-f]\{16\}\)$/\1 \2/p' |
			awk '$2 == "event" { if (n[$1] == 4) print $1 w[$1]; w[$1] = ""; n[$1] = 0; next }
				{ w[$1] = w[$1] " " $2; n[$1]++ }
				END { for (d in n) if (n[d] == 4) print d w[d] }' > /tmp/smmu-events
		found=""
		while read -r dev w0 w1 w2 w3; do
			[ "$w0" = "$want0" ] && [ "$w2" = "$want2" ] &&
				[ $(((w1 >> 35) & 1)) = "$2" ] && found="$w0 $w1 $w2 $w3" && fdev=$dev
		done < /tmp/smmu-events
		[ -n "$found" ] && break
		i=$((i + 1))
		[ $i -gt 100 ] && fail "edu: no F_TRANSLATION record for $want2 RnW $2 (StreamID $edu_rid): $(tail -n 3 /tmp/smmu-events | tr '\n' ' ')"
		sleep 0.1
	done
	say "fault ok: F_TRANSLATION StreamID $edu_rid addr $want2 RnW $2 from $fdev: $found"
}
if [ "$(arg edu)" = smmu ]; then
	echo "1234 11e8" > /sys/bus/pci/drivers/pci-stub/new_id || fail "edu: pci-stub new_id"
	edu_find
	[ -e "$edu/driver" ] || fail "edu: pci-stub did not bind the edu device"
	check_iommu edu "$edu"
	edu_dma 0x1234000 0x40000 1
	edu_fault_smmu 0x1234000 1
	edu_dma 0x40000 0x5678000 3
	edu_fault_smmu 0x5678000 0
fi
# viommu.edu=eeh: behind a pSeries PHB whose TCE table is libviommu's model (qemu-system-ppc64,
# spapr-pci-host-bridge,x-viommu=on). edu (on pci-stub: nothing maps TCEs for it) reads from the
# last page below its 28-bit DMA mask, a bus address with no valid TCE: the model refuses the DMA
# and the PHB freezes its PE, as a pSeries PHB does. The next config read of the device returns
# all ones, from which the kernel's pseries EEH code finds the frozen PE through RTAS and starts
# its recovery: its report is the guest's view of the TCE fault.
EEH_IOVA=0xffff000
if [ "$(arg edu)" = eeh ]; then
	echo "1234 11e8" > /sys/bus/pci/drivers/pci-stub/new_id || fail "edu: pci-stub new_id"
	edu_find
	[ -e "$edu/driver" ] || fail "edu: pci-stub did not bind the edu device"
	edu_dma $((EEH_IOVA)) 0x40000 1
	# A config read through the kernel's RTAS accessor (not the sysfs copy of the vendor id).
	cfg=$(od -An -tx4 -N4 "$edu/config" | tr -d ' ')
	want="EEH: Recovering PHB#[0-9a-f]*-PE#[0-9a-f]*"
	i=0
	while ! dmesg | grep -q "$want" && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	dmesg | grep "EEH" | tail -n 12 | sed 's/^/  dmesg: /' > /dev/console
	dmesg | grep -q "$want" || fail "eeh: no '$want' after the refused DMA (config read $cfg)"
	say "fault ok: edu read of $(printf '%#x' $((EEH_IOVA))) refused, config read $cfg," \
		"$(dmesg | grep -o "EEH: Recovering PHB#[0-9a-f]*-PE#[0-9a-f]*" | head -n 1)"
fi
if [ "$(arg edu)" = 1 ] || [ "$(arg edu)" = amd ]; then
	edu_find
	edu_dma 0x1234000 0x40000 1
	if [ "$(arg edu)" = amd ]; then
		edu_fault_amd 1234000 0000
	else
		edu_fault "DMA Read" 1234000 06
	fi
	edu_dma 0x40000 0x5678000 3
	if [ "$(arg edu)" = amd ]; then
		edu_fault_amd 5678000 0020
	else
		edu_fault "DMA Write" 5678000 05
	fi
fi

# viommu.tests=fault (virtio-iommu): the edu device gets pci-stub as its driver first: with ACPI
# VIOT, Linux puts a device in an IOMMU group (and its default DMA domain) only when a driver binds
# it; unbound, it would stay unattached and, with the device's boot bypass, DMA straight into
# guest memory. The virtio_iommu driver's fault handler reports the write.
FAULT_IOVA=0xdead000
if has fault; then
	echo "1234 11e8" > /sys/bus/pci/drivers/pci-stub/new_id || fail "fault: pci-stub new_id"
	edu_find
	[ -e "$edu/driver" ] || fail "fault: pci-stub did not bind the edu device"
	check_iommu fault "$edu"
	edu_dma 0x40000 $((FAULT_IOVA)) 3
	# The report names the reason (page: the domain has no mapping there), the endpoint (the
	# requester ID), the address and the access: W, unless viommu.faultflags= says otherwise
	# (QEMU 7.2's own device reports none: "none").
	flags=$(arg faultflags)
	[ -n "$flags" ] || flags=W
	[ "$flags" = none ] && flags=""
	want="page fault from EP $edu_rid at $(printf '%#x' $((FAULT_IOVA))) \[$flags\]"
	i=0
	while ! dmesg | grep -q "$want" && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	dmesg | grep "fault from EP" | head -n 3 | sed 's/^/  dmesg: /' > /dev/console
	dmesg | grep -q "$want" || fail "fault: no '$want' in the kernel log"
	say "fault ok: edu (EP $edu_rid) write to $(printf '%#x' $((FAULT_IOVA))) reported"
fi

# viommu.tests=vfio: the edu device on vfio-pci, and /bin/vfio_shadow (tests/integration/
# vfio_shadow.c) as an L1 VMM shadowing its simulated L2 guest's mappings through libviommu's
# engine into this kernel's VFIO type1 container (which programs the IOMMU under us: VT-d in
# caching mode or AMD-Vi with NpCache); the program checks the DMA data, the unmapped IOVA and the
# number of VFIO calls. viommu.vfiol2=vtd|amdvi: L2's vIOMMU (default vtd). Then the IOMMU
# driver's fault reports (the DMA to the unmapped IOVA), for the host to check.
if has vfio; then
	# Our VT-d and AMD-Vi (intremap=off) do not remap interrupts: type1 then wants the
	# admin's consent (edu's interrupts are not used here).
	echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts ||
		fail "vfio: allow_unsafe_interrupts"
	echo "1234 11e8" > /sys/bus/pci/drivers/vfio-pci/new_id || fail "vfio: vfio-pci new_id"
	edu_find
	i=0
	while [ ! -e "$edu/driver" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
	[ "$(basename "$(readlink "$edu/driver")")" = vfio-pci ] || fail "vfio: edu not on vfio-pci"
	grp=$(basename "$(readlink "$edu/iommu_group")")
	i=0
	while [ ! -e "/dev/vfio/$grp" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
	[ -e "/dev/vfio/$grp" ] || fail "vfio: no /dev/vfio/$grp"
	l2=$(arg vfiol2)
	/bin/vfio_shadow "$(basename "$edu")" "$grp" "${l2:-vtd}" > /tmp/vfio.log 2>&1
	rc=$?
	sed 's/^/  vfio_shadow: /' /tmp/vfio.log > /dev/console
	dmesg | grep -E "IO_PAGE_FAULT|DMAR: \[DMA" | head -n 4 | while read -r l; do
		echo "VIOMMU-DMESG $l" > /dev/console
	done
	[ $rc = 0 ] && grep -q "VFIO-SHADOW PASS" /tmp/vfio.log || fail "vfio: vfio_shadow failed ($rc)"
	say "vfio ok: $(grep 'VFIO-SHADOW PASS' /tmp/vfio.log)"
fi

# viommu.iommudevs=1: each IOMMU the kernel registered and the devices it attached (sysfs
# class iommu: on a device tree, the ones whose driver bound), for the host to check who serves
# whom when there are several.
if [ "$(arg iommudevs)" = 1 ]; then
	# shellcheck disable=SC2012 # busybox; the names are PCI addresses
	for d in /sys/class/iommu/*; do
		[ -d "$d/devices" ] || continue
		say "iommu ${d##*/}: $(ls "$d/devices" | tr '\n' ' ')"
	done
fi

# viommu.reboot=1: after a first full pass, leave a mark on the disk (past the test pattern) and
# reboot, so the VMM resets its vIOMMU under a guest that used it; the second boot finds the
# mark, passes again and powers off.
if [ "$(arg reboot)" = 1 ]; then
	mark=$(dd if=/dev/vda bs=512 skip=24576 count=1 2> /dev/null | tr -d '\000')
	if [ "$mark" != VIOMMU-REBOOTED ]; then
		printf VIOMMU-REBOOTED | dd of=/dev/vda bs=512 seek=24576 conv=sync,fsync 2> /dev/null ||
			fail "reboot: cannot mark the disk"
		say "PASS (first boot), rebooting"
		reboot -f
	fi
fi
say PASS
poweroff -f
