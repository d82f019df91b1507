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
	poweroff -f
}

arg() { sed -n "s/.*viommu\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
FRAMES=$(arg frames)
[ -n "$FRAMES" ] || FRAMES=2000
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
say "iommu: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')group: $(basename "$(readlink /sys/class/net/eth0/device/iommu_group 2>/dev/null)")"

# Ping payloads go guest -> back-end -> guest (request), and back again (reply): a corrupted
# frame fails a checksum and the reply never comes. 3000 bytes also exercises IP fragments.
# A deadline (-w), not a per-reply timeout: under TCG on a busy host replies can be slow.
for size in 56 1400 3000; do
	out=$(ping -c 5 -i 0.2 -w 60 -s $size 10.0.0.2 2>&1)
	echo "$out" | grep -q "5 packets transmitted, 5 packets received" ||
		fail "ping -s $size: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	say "ping -s $size ok"
done

# UDP counters from /proc/net/snmp: field $1 of the Udp line.
udp() {
	awk -v f="$1" '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 }
		else print $c }' /proc/net/snmp
}

# pktgen: FRAMES UDP frames with checksums, to the fake neighbour, per size. Each comes back
# swapped to a closed port: NoPorts counts the ones that arrived with a valid checksum.
PG=/proc/net/pktgen
echo "rem_device_all" > $PG/kpktgend_0
echo "add_device eth0" > $PG/kpktgend_0 || fail "pktgen add_device"
pg() { echo "$1" > $PG/eth0 || fail "pktgen: $1"; }
for size in 60 1514; do
	np0=$(udp NoPorts)
	cs0=$(udp InCsumErrors)
	er0=$(udp InErrors)
	pg "count $FRAMES"
	pg "clone_skb 0"
	pg "pkt_size $size"
	pg "delay 0"
	pg "dst 10.0.0.2"
	pg "dst_mac $PEER_MAC"
	pg "udp_src_min 9"
	pg "udp_src_max 9"
	pg "udp_dst_min 7"
	pg "udp_dst_max 7"
	pg "flag UDPCSUM"
	echo start > $PG/pgctrl
	# "Result: OK: <usec>(...) usec, <frames sent> (<size>byte,<frags>frags)"
	sent=$(sed -n 's/^Result: OK: .* usec, \([0-9]*\) (.*/\1/p' $PG/eth0)
	[ "$sent" = "$FRAMES" ] || fail "pktgen sent '$sent' of $FRAMES: $(grep -E 'Result|sofar' $PG/eth0)"
	i=0
	while [ $(($(udp NoPorts) - np0)) -lt "$FRAMES" ] && [ $i -lt 100 ]; do
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
ping -c 2 -w 60 10.0.0.2 > /dev/null 2>&1 || fail "ping after traffic"
say "rx_packets=$(cat /sys/class/net/eth0/statistics/rx_packets)" \
	"tx_packets=$(cat /sys/class/net/eth0/statistics/tx_packets)"
say PASS
poweroff -f
