#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# /init of the demo VM (busybox sh): load kholmes, start the daemon, stage
# a small incident, and send the capture files back over the console
# (tar | base64 between KHM-FILES-BEGIN / KHM-FILES-END) for scripts/demo.sh.
PATH=/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname demo

finish() {
	echo "KHM-DMESG-BEGIN"
	dmesg
	echo "KHM-DMESG-END"
	echo "KHM-DONE"
	sync
	poweroff -f
	sleep 10
}

say() {
	echo "demo: $*"
}

echo
echo "KHM-BOOT $(uname -r)"
if ! insmod /lib/kholmes/kholmes.ko interval_ms=250 window=8; then
	echo "KHM-INSMOD-FAIL"
	finish
fi
echo "KHM-INSMOD-OK"

say "kholmes loaded: sampling every process every 250 ms, window of 8 samples"
kholmesctl watch add comm checkout
kholmesctl watch add comm leaky
kholmesctl watch add comm burst
# rss from 4 MiB: leaky is caught as it starts, whatever the pace; a
# climb of under a quarter a sample reads as a level held (see the README)
kholmesctl rule set rss min 4 diff 50
kholmesctl rule set threads min 32 diff 100
# three busy processes on two CPUs wait for each other: true, but not the story
kholmesctl rule set rundelay off
kholmesctl config set profile-s 3
kholmesctl rule show

mkdir -p /tmp/captures
kholmesctl daemon --dir /tmp/captures &
daemon=$!
kholmesctl monitor &
monitor=$!

say "the incident: checkout spins, burst starts 120 threads, then leaky leaks"
/selftests/checkout 3 &
checkout=$!
# after checkout's CPU profile (one profile runs at a time)
/selftests/leaky 8 &
leaky=$!
/selftests/burst 3 &
burst=$!

# until the three captures and the two profiles that follow them are written
i=0
while [ "$i" -lt 120 ]; do
	n=$(find /tmp/captures -name '*.txt' | wc -l)
	p=$(find /tmp/captures -name '*.cpu.folded' -o -name '*.faults.folded' | wc -l)
	[ "$n" -ge 3 ] && [ "$p" -ge 2 ] && break
	sleep 0.5
	i=$((i + 1))
done
sleep 1
say "$(find /tmp/captures -name '*.txt' | wc -l) capture reports and $(find /tmp/captures -name '*.pb.gz' | wc -l) pprof files written"
kholmesctl ps --sort cpu
kholmesctl status

kill "$checkout" "$leaky" "$burst" "$monitor" 2>/dev/null
kill -TERM "$daemon"
wait "$daemon"

echo "KHM-FILES-BEGIN"
(cd /tmp && tar cf - captures | gzip -c | base64)
echo "KHM-FILES-END"

if rmmod kholmes; then
	echo "KHM-RMMOD-OK"
else
	echo "KHM-RMMOD-FAIL"
fi
finish
