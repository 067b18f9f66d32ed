#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# /init of the benchmark VM (busybox sh). Every figure is printed as
#   BENCH <section> <key> <value>
# for scripts/bench.sh, which turns them into bench/results.{md,json}.
# Figures measured side by side in this one run are what counts: under
# software emulation the absolute times are not those of real hardware.
PATH=/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
J=/selftests/jobs
KO=/lib/kholmes/kholmes.ko
ROUNDS=${KHM_BENCH_ROUNDS:-11}
TRIALS=${KHM_BENCH_TRIALS:-20}

emit() {
	echo "BENCH $*"
}

finish() {
	echo "KHM-DMESG-BEGIN"
	dmesg
	echo "KHM-DMESG-END"
	echo "KHM-DONE"
	poweroff -f
	sleep 10
}

# kstat KEY [SUB]: a number from `kholmesctl status` (text: "key value" or
# "key sub value sub value ...")
kstat() {
	kholmesctl status | awk -v k="$1" -v s="${2:-}" '
		$1 == k && s == "" { print $2; exit }
		$1 == k { for (i = 2; i < NF; i++) if ($i == s) { print $(i + 1); exit } }'
}

load() {
	rmmod kholmes 2>/dev/null
	# shellcheck disable=SC2086 # parameters are words
	insmod $KO "$@" || { echo "KHM-INSMOD-FAIL"; finish; }
}

# start_jobs ARGS: a background job that says "ready"; its pid in $jobpid
start_jobs() {
	rm -f /tmp/ready
	"$J" "$@" >/tmp/ready &
	jobpid=$!
	i=0
	while ! grep -q ready /tmp/ready 2>/dev/null; do
		sleep 0.2
		i=$((i + 1))
		[ "$i" -gt 600 ] && break
	done
}

echo "KHM-BOOT $(uname -r)"
emit meta kernel "$(uname -r)"
emit meta cpus "$(nproc)"
load interval_ms=1000 profiles=0
echo "KHM-INSMOD-OK"

# 1. Sampling cost: N threads in 4 processes plus 300 small processes;
#    the module's own pass cost against pidstat collecting the same
#    counters for the same tasks, per sample.
for total in 1000 10000; do
	per=$(((total - 300) / 4))
	for p in 1 2 3 4; do
		start_jobs threads "$per"
	done
	start_jobs procs 299
	load interval_ms=1000 profiles=0
	sleep 6
	emit "sampling-$total" module-pass-ns "$(kstat pass-ns mean)"
	emit "sampling-$total" module-pass-max-ns "$(kstat pass-ns max)"
	emit "sampling-$total" tasks "$(kstat tasks-visited)"
	emit "sampling-$total" procs "$(kstat procs-visited)"
	emit "sampling-$total" pidstat-cpu-s \
		"$("$J" cputime /selftests/pidstat -u -r -w -t 1 5)"
	emit "sampling-$total" pidstat-samples 5
	killall -q jobs
	wait 2>/dev/null
done

# 2. Overhead on workloads: unloaded, 1000 ms, 100 ms, alternating, with
#    the 1,000-thread population of section 1 there to be sampled.
for p in 1 2 3 4; do
	start_jobs threads 175
done
start_jobs procs 299
# one untimed run of each job first: the emulator translates their code once
"$J" cpu 1500000000 >/dev/null
"$J" fork 600 >/dev/null
"$J" ctxsw 4000 >/dev/null
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	for mode in off 1000 100; do
		if [ "$mode" = off ]; then
			rmmod kholmes 2>/dev/null
		else
			# steady state: past the first passes, which meet
			# every process anew
			load interval_ms=$mode profiles=0
			sleep 3
		fi
		emit "overhead-$mode" cpu-ns "$("$J" cpu 1500000000)"
		emit "overhead-$mode" fork-ns "$("$J" fork 600)"
		emit "overhead-$mode" ctxsw-ns "$("$J" ctxsw 4000)"
	done
	r=$((r + 1))
done
emit overhead tasks "$(kstat tasks-visited)"
killall -q jobs
wait 2>/dev/null

# 3. Detection latency: spin start to capture file on disk.
for iv in 1000 100; do
	load interval_ms=$iv window=3 profiles=0 capture_rate=600
	kholmesctl watch add comm jobs
	mkdir -p /tmp/lat
	kholmesctl daemon --dir /tmp/lat 2>/dev/null &
	daemon=$!
	t=0
	while [ "$t" -lt "$TRIALS" ]; do
		rm -f /tmp/lat/* /tmp/spin
		"$J" spin $((iv * 5)) >/tmp/spin &
		spin=$!
		while [ ! -s /tmp/spin ]; do sleep 0.05; done
		t0=$(cat /tmp/spin)
		emit "latency-$iv" ns "$("$J" waitfile /tmp/lat "$t0" 30000)"
		kill "$spin"
		wait "$spin" 2>/dev/null
		t=$((t + 1))
	done
	kill -TERM "$daemon"
	wait "$daemon" 2>/dev/null
done

# 4. Capture cost: a 64-thread process; and how long a spinning target is
#    held up by captures of it.
load interval_ms=1000 profiles=0
start_jobs threads 63
i=0
while [ "$i" -lt 5 ]; do
	kholmesctl capture pid "$jobpid" >/dev/null
	sleep 1
	emit capture capture-ns "$(kstat capture-ns last)"
	i=$((i + 1))
done
emit capture queue-bytes "$(kstat queue-bytes)"
emit capture queue-len "$(kstat queue-len)"
kill "$jobpid"
# A spinning target's longest stall: alone; while kholmesctl runs five
# times beside it without capturing (the control: the VM has 2 CPUs, so
# any other work preempts it); and while it is captured five times.
emit capture gap-alone-ns "$("$J" gaps 3)"
for what in control captured; do
	"$J" gaps 3 >/tmp/gaps &
	g=$!
	sleep 0.5
	i=0
	while [ "$i" -lt 5 ]; do
		if [ "$what" = captured ]; then
			kholmesctl capture pid "$g" >/dev/null
		else
			kholmesctl status >/dev/null
		fi
		sleep 0.4
		i=$((i + 1))
	done
	wait "$g"
	emit capture "gap-$what-ns" "$(cat /tmp/gaps)"
done

# 5. Memory at 10,000 tracked processes.
load interval_ms=1000 profiles=0
sleep 3
emit memory base-bytes "$(kstat mem-bytes)"
emit memory base-tracked "$(kstat tracked)"
start_jobs procs 10000
sleep 4
emit memory bytes "$(kstat mem-bytes)"
emit memory tracked "$(kstat tracked)"
killall -q jobs
wait 2>/dev/null

# 5b. 5,000 idle threads (5 processes of 1,000) sampled every 100 ms:
#     the pass's cost, which selftests/scale_test.c only checks visits
#     every thread.
load interval_ms=100 profiles=0
for p in 1 2 3 4 5; do
	start_jobs threads 1000
done
sleep 3
emit threads-5000 tasks "$(kstat tasks-visited)"
emit threads-5000 pass-last-ns "$(kstat pass-ns last)"
emit threads-5000 pass-mean-ns "$(kstat pass-ns mean)"
emit threads-5000 pass-max-ns "$(kstat pass-ns max)"
killall -q jobs
wait 2>/dev/null

# 6. Profile cost at 99 Hz, and the profiled job's slowdown.
load interval_ms=1000 profiles=0
i=0
while [ "$i" -lt 3 ]; do
	# the job waits for SIGCONT, so that the profile covers all of it
	"$J" cpu 600000000 >/tmp/prof &
	p=$!
	kill -STOP "$p"
	kholmesctl status >/dev/null
	kill -CONT "$p"
	wait "$p"
	emit profile job-alone-ns "$(cat /tmp/prof)"
	"$J" cpu 600000000 >/tmp/prof &
	p=$!
	kill -STOP "$p"
	kholmesctl profile pid "$p" seconds 20 >/dev/null
	kill -CONT "$p"
	wait "$p"
	emit profile job-profiled-ns "$(cat /tmp/prof)"
	# the profile ends within 200 ms of its target; drain what it queued
	sleep 1
	kholmesctl pull --dir /tmp/profiles >/dev/null 2>&1
	i=$((i + 1))
done
emit profile samples "$(kstat profile-samples)"
emit profile handler-ns "$(kstat profile-ns)"

# 6a. The same profile with no stack copy (user_stack_kb=0): the cost per
# sample of the frame-pointer walk alone, beside the copy's above.
load interval_ms=1000 profiles=0 user_stack_kb=0
"$J" cpu 600000000 >/tmp/prof &
p=$!
kill -STOP "$p"
kholmesctl profile pid "$p" seconds 20 >/dev/null
kill -CONT "$p"
wait "$p"
sleep 1
kholmesctl pull --dir /tmp/profiles >/dev/null 2>&1
emit profile-fp samples "$(kstat profile-samples)"
emit profile-fp handler-ns "$(kstat profile-ns)"

if rmmod kholmes; then
	echo "KHM-RMMOD-OK"
else
	echo "KHM-RMMOD-FAIL"
fi

# 6b. The same job under `perf record -F 99 -g`, where the image has perf
# (bench.sh adds the host's): its slowdown, and the CPU perf itself uses
# (perf's and the job's CPU together, less the job's own run time, less
# what perf takes to start and write its file around a job of no length).
if command -v perf >/dev/null; then
	i=0
	while [ "$i" -lt 3 ]; do
		emit perf fixed-cpu-ns "$("$J" cputime perf record -F 99 -g \
			-o /tmp/perf.data -- true 2>/dev/null |
			awk '{ printf "%d\n", $1 * 1e9 }')"
		"$J" cpu 600000000 >/tmp/prof
		emit perf job-alone-ns "$(cat /tmp/prof)"
		cpu=$("$J" cputime perf record -F 99 -g -o /tmp/perf.data -- \
			sh -c "$J cpu 600000000 >/tmp/prof" 2>/tmp/perf.err)
		job=$(cat /tmp/prof)
		n=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' /tmp/perf.err)
		if [ -n "$job" ] && [ -n "$n" ]; then
			emit perf job-recorded-ns "$job"
			emit perf samples "$n"
			emit perf own-cpu-ns "$(awk -v c="$cpu" -v j="$job" \
				'BEGIN { printf "%d\n", c * 1e9 - j }')"
		else
			echo "bench: perf record failed: $(head -n 3 /tmp/perf.err)"
		fi
		rm -f /tmp/perf.data
		i=$((i + 1))
	done
fi
finish
