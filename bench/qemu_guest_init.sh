#!/bin/busybox sh
# /init of the guest of bench/qemu_side_by_side.sh (the integration test's busybox initramfs with
# this script instead of tests/integration/guest-init.sh). Timed phases, each announced on the
# console before it starts and after it ends; after each announcement the guest waits for the
# host's line on the second serial port (ttyS1), so that the host's measurement of QEMU (perf, CPU
# time) covers the phase exactly, however late a loaded host notices the announcement:
#   net    pktgen: 60-byte UDP frames with checksums to the fake neighbour for viommu.secs
#          seconds through virtio-net (QEMU's datapath, vhost off, net_reflect on the host swaps
#          the addresses); the guest's UDP stack counts the replies that come back intact;
#   dwrite viommu.mib MiB written to /dev/vda with O_DIRECT in 1 MiB requests, then fsync;
#   dread  the same MiB read back with O_DIRECT in 1 MiB requests (DMA into the user buffer);
#   dread4k  viommu.mib4k MiB read back with O_DIRECT in 4 KiB requests: per byte, the most
#          mapping, unmapping and (strict) invalidation the driver does.
# O_DIRECT keeps the page cache out, so each request is the driver mapping the pages for the
# device and unmapping them after: the IOMMU's cost shows instead of the guest's memcpy.
# Phase lines: "VIOMMU-BENCH [uptime] PHASE start" and "VIOMMU-BENCH [uptime] PHASE end k=v ...".
# Without viommu.ack=1 (no second port) the guest sleeps a second instead of waiting.
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

up() { cut -d" " -f1 /proc/uptime; }
say() { echo "VIOMMU-BENCH [$(up)] $*" > /dev/console; }
fail() {
	say "FAIL $*"
	dmesg | tail -n 30 > /dev/console
	[ -w /proc/net/pktgen/pgctrl ] && echo stop > /proc/net/pktgen/pgctrl
	poweroff -f
}
arg() { sed -n "s/.*viommu\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
SECS=$(arg secs)
[ -n "$SECS" ] || SECS=5
MIB=$(arg mib)
[ -n "$MIB" ] || MIB=32
PEER_MAC=02:00:00:00:00:02
# The host's go-ahead: ttyS1 stays open (a byte that arrives while no one holds the port open is
# lost), without echo.
if [ "$(arg ack)" = 1 ]; then
	exec 3< /dev/ttyS1 || fail "no /dev/ttyS1"
	stty -F /dev/ttyS1 -echo
fi
# phase WHAT...: announce, then wait for the host (at most 60 s: a host that is gone does not
# keep the guest).
phase() {
	say "$@"
	if [ "$(arg ack)" = 1 ]; then
		read -r -t 60 _ <&3 || fail "no go-ahead from the host after '$*'"
	else
		sleep 1
	fi
}

for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover \
	net_failover virtio_net pktgen virtio_blk; do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] || [ ! -b /dev/vda ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "no eth0 or /dev/vda"
	sleep 0.1
done
ip link set lo up
ip link set eth0 up || fail "eth0 up"
ip addr add 10.0.0.1/24 dev eth0 || fail "address"
arp -s 10.0.0.2 $PEER_MAC || fail "static neighbour"
say "clock: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

udp() {
	awk -v f="$1" '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 }
		else print $c }' /proc/net/snmp
}
PG=/proc/net/pktgen
pg() { echo "$1" > $PG/eth0 || fail "pktgen: $1"; }
echo "add_device eth0" > $PG/kpktgend_0 || fail "pktgen add_device"
[ -e $PG/eth0 ] || fail "pktgen: no $PG/eth0 after add_device"
for c in "count 0" "clone_skb 0" "pkt_size 60" "delay 0" "dst 10.0.0.2" "dst_mac $PEER_MAC" \
	"udp_src_min 9" "udp_src_max 9" "udp_dst_min 7" "udp_dst_max 7" "flag UDPCSUM"; do
	pg "$c"
done

# One warm-up ping so that the neighbour path and the device's first mappings are not timed.
ping -c 1 -W 30 10.0.0.2 > /dev/null 2>&1 || fail "warm-up ping got no reply"

phase "net start"
np0=$(udp NoPorts)
cs0=$(($(udp InCsumErrors) + $(udp InErrors)))
t0=$(up)
echo start > $PG/pgctrl &
sleep "$SECS"
echo stop > $PG/pgctrl
t1=$(up)
wait
# Replies still in flight: wait until they stop coming (at most 5 s).
n=$(udp NoPorts)
i=0
while [ $i -lt 10 ]; do
	sleep 0.5
	m=$(udp NoPorts)
	[ "$m" = "$n" ] && break
	n=$m
	i=$((i + 1))
done
sent=$(sed -n 's/.*pkts-sofar: *\([0-9]*\).*/\1/p' $PG/eth0)
phase "net end sent=$sent received=$(($(udp NoPorts) - np0))" \
	"corrupt=$(($(udp InCsumErrors) + $(udp InErrors) - cs0)) t0=$t0 t1=$t1"

# Disk: whole MiB, O_DIRECT both ways. Source and sink are /dev/zero and /dev/null: the guest's
# own copying stays out of the figure.
phase "dwrite start"
t0=$(up)
dd if=/dev/zero of=/dev/vda bs=1M count="$MIB" oflag=direct conv=fsync 2> /dev/null ||
	fail "disk write"
t1=$(up)
phase "dwrite end bytes=$((MIB * 1048576)) t0=$t0 t1=$t1"
echo 3 > /proc/sys/vm/drop_caches
phase "dread start"
t0=$(up)
dd if=/dev/vda of=/dev/null bs=1M count="$MIB" iflag=direct 2> /dev/null || fail "disk read"
t1=$(up)
phase "dread end bytes=$((MIB * 1048576)) t0=$t0 t1=$t1"
phase "dread4k start"
MIB4K=$(arg mib4k)
[ -n "$MIB4K" ] || MIB4K=16
n4k=$((MIB4K * 256))
t0=$(up)
dd if=/dev/vda of=/dev/null bs=4k count="$n4k" iflag=direct 2> /dev/null || fail "disk read 4k"
t1=$(up)
phase "dread4k end bytes=$((n4k * 4096)) t0=$t0 t1=$t1"

if dmesg | grep -E "DMAR:.*[Ff]ault|BUG:|Oops|WARNING:|Call Trace|virtio_net.*(error|bad)" \
	> /tmp/bad; then
	fail "kernel log: $(head -n 3 /tmp/bad | tr '\n' ' ')"
fi
say "DONE"
poweroff -f
