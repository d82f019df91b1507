#!/bin/busybox sh
# /init of the test guest: bring up the virtio-net device served by viommu-vhost --reflect, send
# and receive traffic whose integrity the guest's own stack checks, report on the console, power
# off. The peer (the back-end) swaps MAC, IPv4 and UDP addresses, so a frame sent to the fake
# neighbour 10.0.0.2 comes back as if that neighbour had sent it.
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
PEER_MAC=02:00:00:00:00:02

for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover \
	net_failover virtio_net pktgen; do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done

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
say "iommu: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')group: $(basename "$(readlink /sys/class/net/eth0/device/iommu_group 2>/dev/null)")"

# UDP counters from /proc/net/snmp: field $1 of the Udp line.
udp() {
	awk -v f="$1" '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 }
		else print $c }' /proc/net/snmp
}
PG=/proc/net/pktgen
pg() { echo "$1" > $PG/eth0 || fail "pktgen: $1"; }
# No rem_device_all first: the guest just booted, the thread has no devices, and the kernel
# only flags the removal for the pktgen thread (then sleeps 125 ms); under TCG on a loaded host
# the thread ran after add_device and removed eth0 again ("can't create /proc/net/pktgen/eth0").
echo "add_device eth0" > $PG/kpktgend_0 || fail "pktgen add_device"
[ -e $PG/eth0 ] || fail "pktgen: no $PG/eth0 after add_device"
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
}

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

# Ping payloads go guest -> back-end -> guest (request), and back again (reply): a corrupted
# frame fails a checksum and the reply never comes. 3000 bytes also exercises IP fragments.
# One echo per ping, each allowed 30 s: after its last echo busybox ping waits only twice the
# slowest round trip so far (at least 1 s) for the last reply, and under TCG on a busy host one
# reply can take longer than that (lazy mode: every flush empties the device IOTLB and the next
# frame waits for QEMU's main loop to answer its misses). Lost or corrupted replies still fail.
ping1() {
	ping -c 1 -W 30 "$@" 10.0.0.2 2>&1 | grep -q "1 packets transmitted, 1 packets received"
}
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

# Healthy: no DMA faults, oopses or warnings, and the device still works.
if dmesg | grep -E "DMAR:.*[Ff]ault|BUG:|Oops|WARNING:|Call Trace|virtio_net.*(error|bad)" \
	> /tmp/bad; then
	fail "kernel log: $(head -n 3 /tmp/bad | tr '\n' ' ')"
fi
ping1 && ping1 || fail "ping after traffic"
say "rx_packets=$(cat /sys/class/net/eth0/statistics/rx_packets)" \
	"tx_packets=$(cat /sys/class/net/eth0/statistics/tx_packets)"
say PASS
poweroff -f
