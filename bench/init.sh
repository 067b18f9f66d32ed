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
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
J=/selftests/jobs
KO=/lib/kholmes/kholmes.ko
ROUNDS=${KHM_BENCH_ROUNDS:-11}
TRIALS=${KHM_BENCH_TRIALS:-30}
PASSES=${KHM_BENCH_PASSES:-11}
SEED=${KHM_BENCH_SEED:-1}
# full: every section; icount: the overhead rounds only (qemu -icount)
MODE=${KHM_BENCH_MODE:-full}
# the same settle time before every run of every round, unloaded or not
SETTLE=3
# the jobs' sizes; under -icount, where they do not scatter, each about
# 0.3 s of virtual time: three passes at 100 ms, so that a job's ratio is
# the passes' share of it give or take one pass, not all or nothing
CPUN=1500000000
FORKN=600
CTXN=4000
if [ "$MODE" = icount ]; then
	CPUN=300000000
	FORKN=1200
	CTXN=25000
fi

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

# pass: "passes pass-ns-last" from one status call
pass() {
	kholmesctl status | awk '$1 == "passes" { p = $2 }
		$1 == "pass-ns" { l = $3 } END { print p, l }'
}

# stopped PID: wait until PID has stopped itself (state T)
stopped() {
	sw=0
	while ! grep -q '^State:.*T' "/proc/$1/status" 2>/dev/null; do
		sleep 0.05
		sw=$((sw + 1))
		[ "$sw" -gt 400 ] && break
	done
}

# population TOTAL: about TOTAL threads for the module to visit, in 4
# processes of threads and 299 small processes
population() {
	per=$((($1 - 300) / 4))
	for _ in 1 2 3 4; do
		start_jobs threads "$per"
	done
	start_jobs procs 299
}

# phase: under -icount, before each job, a rest that the last job's
# deferred work ends in (the fork job's exits free their tasks and stacks
# after an RCU grace period: 0.3 ms of instructions for 300 exits, which
# landed in the ctxsw job that followed it), then a draw uniform over the
# longest interval: virtual time repeats itself, so without it every round
# started each job at the same phase of the sampler (at 100 ms a pass fell
# in every 24 ms run of the ctxsw job, never between)
phases=0
phase() {
	[ "$MODE" = icount ] || return 0
	phases=$((phases + 1))
	ph=$("$J" rand "$SEED" "$((900000 + phases))" 1000000)
	sleep "$(awk -v p="$ph" 'BEGIN { printf "%.6f\n", 0.2 + p / 1e6 }')"
}

# overhead SECTION: ROUNDS rounds, each one run of the three jobs unloaded
# and loaded at 1000 and 100 ms, in an order drawn from SEED per round;
# every value carries its round, by which report.py pairs them.
overhead() {
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		order=$("$J" order "$SEED" "$r" off 1000 100)
		emit "$1" order "$(echo "$order" | tr ' ' ,) r$r"
		for mode in $order; do
			if [ "$mode" = off ]; then
				rmmod kholmes 2>/dev/null
			else
				load "interval_ms=$mode" profiles=0
			fi
			# the same for every run: past a load's first
			# passes, which meet every process anew
			sleep "$SETTLE"
			for job in cpu fork ctxsw; do
				case $job in
				cpu) n=$CPUN ;;
				fork) n=$FORKN ;;
				*) n=$CTXN ;;
				esac
				phase
				emit "$1-$mode" "$job-ns" "$("$J" "$job" "$n") r$r"
			done
		done
		r=$((r + 1))
	done
}

# (the helpers' variables are their own: busybox sh has no local in POSIX)
# start_jobs ARGS: a background job that says "ready"; its pid in $jobpid
start_jobs() {
	rm -f /tmp/ready
	"$J" "$@" >/tmp/ready &
	jobpid=$!
	sj=0
	while ! grep -q ready /tmp/ready 2>/dev/null; do
		sleep 0.2
		sj=$((sj + 1))
		[ "$sj" -gt 600 ] && break
	done
}

echo "KHM-BOOT $(uname -r)"
emit meta kernel "$(uname -r)"
emit meta cpus "$(nproc)"
emit meta seed "$SEED"
emit meta mode "$MODE"
emit meta rounds "$ROUNDS"
emit meta trials "$TRIALS"
emit meta passes "$PASSES"
load interval_ms=1000 profiles=0
echo "KHM-INSMOD-OK"

if [ "$MODE" = icount ]; then
	# qemu -icount, one vCPU: virtual time counts instructions, so the
	# jobs' times scatter only as the scheduling and the interrupts do
	population 1000
	"$J" cpu "$CPUN" >/dev/null
	"$J" fork "$FORKN" >/dev/null
	"$J" ctxsw "$CTXN" >/dev/null
	overhead icount
	# the flight recorder's cost to the CPU-bound job, which on 2 TCG
	# vCPUs scatters tens of times wider than it (section 2b): here a
	# round's two runs differ only by the instructions its samples take
	load interval_ms=1000 profiles=0
	if kholmesctl config set flight-hz 19 >/dev/null 2>&1; then
		r=0
		while [ "$r" -lt "$ROUNDS" ]; do
			for hz in $("$J" order "$SEED" "$((r + 2000))" 0 19); do
				kholmesctl config set flight-hz "$hz" >/dev/null
				sleep "$SETTLE"
				phase
				emit "icount-flight-$hz" cpu-ns "$("$J" cpu "$CPUN") r$r"
			done
			r=$((r + 1))
		done
	fi
	killall -q jobs
	wait 2>/dev/null
	rmmod kholmes
	finish
fi

# 1. Sampling cost: N threads in 4 processes plus 300 small processes.
#    Per pass, as CPU against CPU, PASSES passes each: the module's
#    worker (every unbound kworker's sum_exec_runtime, one interval
#    apart, less the same with the module unloaded and the same
#    population), pidstat reading the
#    same tasks' counters (its own sum_exec_runtime between two reports);
#    and the pass's time in the kernel against the floor, a bare walk
#    reading one counter of every thread (debugfs kholmes/floor_walk).
#    Both from the pass after the first window on (the default window of
#    10): a host runs past it from ten seconds after the load for as long
#    as the module stays, while a pass in it judges every process in full,
#    none having the history that lets an idle one be judged steady.
rmmod kholmes
for total in 1000 10000; do
	population "$total"
	load interval_ms=1000 profiles=0
	sleep "$SETTLE"
	# the passes of the first window, each judging every process in full
	# (the first only primes the rates)
	w=0
	last=0
	while [ "$w" -lt 120 ]; do
		# shellcheck disable=SC2046 # "passes ns"
		set -- $(pass)
		[ "$1" -ge 12 ] && break
		if [ "$1" != "$last" ] && [ "$1" -ge 2 ] && [ "$1" -le 10 ]; then
			emit "sampling-$total" first-window-pass-ns "$2"
		fi
		last=$1
		sleep 0.3
		w=$((w + 1))
	done
	emit "sampling-$total" tasks "$(kstat tasks-visited)"
	emit "sampling-$total" procs "$(kstat procs-visited)"
	for v in $("$J" kwcpu "$PASSES" 1000); do
		emit "sampling-$total" module-cpu-ns "$v"
	done
	# each pass paired with a floor walk right after it, as the jobs are
	# paired per round: the emulated machine's speed drifts, and a pair
	# shares it
	n=0
	last=$(pass | cut -d' ' -f1)
	while [ "$n" -lt "$PASSES" ]; do
		sleep 0.3
		# shellcheck disable=SC2046 # two words
		set -- $(pass)
		[ "$1" = "$last" ] && continue
		last=$1
		emit "sampling-$total" module-pass-ns "$2" "r$n"
		# shellcheck disable=SC2046 # "threads ns sum"
		set -- $(cat /sys/kernel/debug/kholmes/floor_walk)
		emit "sampling-$total" floor-tasks "$1" "r$n"
		emit "sampling-$total" floor-ns "$2" "r$n"
		n=$((n + 1))
	done
	rmmod kholmes
	# the kworkers' CPU without the module, the same population there
	for v in $("$J" kwcpu "$PASSES" 1000); do
		emit "sampling-$total" kworker-idle-ns "$v"
	done
	for v in $("$J" passcpu "$PASSES" /selftests/pidstat -u -r -w -t 1 \
		$((PASSES + 2))); do
		emit "sampling-$total" pidstat-pass-ns "$v"
	done
	killall -q jobs
	wait 2>/dev/null
done

# 2. Overhead on workloads, with the 1,000-thread population of section 1
#    there to be sampled.
population 1000
# one untimed run of each job first: the emulator translates their code once
"$J" cpu "$CPUN" >/dev/null
"$J" fork "$FORKN" >/dev/null
"$J" ctxsw "$CTXN" >/dev/null
overhead overhead
load interval_ms=1000 profiles=0
sleep "$SETTLE"
emit overhead tasks "$(kstat tasks-visited)"

# 2b. The flight recorder (issue 18), where the module has it: the
#     CPU-bound job at 1000 ms with it at 19 Hz against it off, paired
#     per round in a drawn order; and its CPU over 10 s of an otherwise
#     idle VM (every status figure that names it, and the kworkers).
if kholmesctl config set flight-hz 0 >/dev/null 2>&1 &&
	kholmesctl config set flight-hz 19 >/dev/null 2>&1; then
	emit flight available 1
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		for hz in $("$J" order "$SEED" "$((r + 1000))" 0 19); do
			kholmesctl config set flight-hz "$hz" >/dev/null
			sleep "$SETTLE"
			emit "flight-$hz" cpu-ns "$("$J" cpu "$CPUN") r$r"
		done
		r=$((r + 1))
	done
	killall -q jobs
	wait 2>/dev/null
	for hz in 0 19; do
		kholmesctl config set flight-hz "$hz" >/dev/null
		sleep "$SETTLE"
		kholmesctl status | grep -i flight | sed "s/^/BENCH flight-$hz-before /"
		k0=$("$J" kwsum)
		t0=$(cut -d' ' -f1 /proc/uptime)
		sleep 10
		k1=$("$J" kwsum)
		t1=$(cut -d' ' -f1 /proc/uptime)
		kholmesctl status | grep -i flight | sed "s/^/BENCH flight-$hz-after /"
		emit "flight-$hz" kworker-ns "$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.0f\n", b - a }')"
		emit "flight-$hz" wall-s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
	done
else
	emit flight available 0
	killall -q jobs
	wait 2>/dev/null
fi

# 3. Detection latency: spin start to capture file on disk. Each trial
#    starts right after the last one's file appeared, a fixed time after a
#    pass; an idle time of five intervals plus a draw uniform over one
#    interval (in us) puts its spin start at a random phase of the sampler.
for iv in 1000 100; do
	load interval_ms=$iv window=3 profiles=0 capture_rate=600
	kholmesctl watch add comm jobs
	mkdir -p /tmp/lat
	kholmesctl daemon --dir /tmp/lat 2>/dev/null &
	daemon=$!
	t=0
	while [ "$t" -lt "$TRIALS" ]; do
		rm -f /tmp/lat/* /tmp/spin
		ph=$("$J" rand "$SEED" "$((iv * 100 + t))" "$((iv * 1000))")
		emit "latency-$iv" phase-us "$ph r$t"
		"$J" spin $((iv * 5)) "$ph" >/tmp/spin &
		spin=$!
		while [ ! -s /tmp/spin ]; do sleep 0.05; done
		t0=$(cat /tmp/spin)
		emit "latency-$iv" ns "$("$J" waitfile /tmp/lat "$t0" 30000) r$t"
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

# 6. The profiler against perf record, like for like: the CPU of all each
#    needs to produce its file, from the same job. kholmes: its handler
#    (in the job's CPU, and counted by the module: profile-ns), its
#    worker (the kworkers' CPU over the profiled run, less the same over
#    an unprofiled run of the module loaded: the base) and kholmesctl's
#    request and writing (pull). perf: `perf record` with the job (less
#    the job's CPU alone), and `perf report`'s symbolization. Then the
#    handler's cost per sample on its other unwinding path (no stack
#    copy: user_stack_kb=0, frame pointers only).
PJOB=1800000000
NPROF=3
# prof SECTION ROUND: one profiled run of the job, its figures
prof() {
	s0=$(kstat profile-samples)
	h0=$(kstat profile-ns)
	k0=$("$J" kwsum)
	"$J" cpustop "$PJOB" >/tmp/prof &
	p=$!
	stopped "$p"
	c=$("$J" cputime kholmesctl profile pid "$p" seconds 60)
	kill -CONT "$p"
	wait "$p"
	# the profile ends within 200 ms of its target
	sleep 1
	k1=$("$J" kwsum)
	emit "$1" job-cpu-ns "$(cat /tmp/prof) r$2"
	emit "$1" samples "$(($(kstat profile-samples) - s0)) r$2"
	emit "$1" handler-ns "$(($(kstat profile-ns) - h0)) r$2"
	emit "$1" kworker-ns "$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.0f\n", b - a }') r$2"
	# pull writes into a directory that exists (the daemon makes one)
	rm -rf /tmp/profiles
	mkdir -p /tmp/profiles
	c2=$("$J" cputime kholmesctl pull --dir /tmp/profiles)
	emit "$1" ctl-cpu-ns "$((c + c2)) r$2"
	emit "$1" files "$(find /tmp/profiles -type f | wc -l) r$2"
}
load interval_ms=1000 profiles=0
"$J" cpu "$PJOB" >/dev/null
i=0
while [ "$i" -lt "$NPROF" ]; do
	k0=$("$J" kwsum)
	"$J" cpustop "$PJOB" >/tmp/prof &
	p=$!
	stopped "$p"
	kill -CONT "$p"
	wait "$p"
	sleep 1
	k1=$("$J" kwsum)
	emit profile job-alone-cpu-ns "$(cat /tmp/prof) r$i"
	emit profile kworker-base-ns "$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.0f\n", b - a }') r$i"
	prof profile "$i"
	i=$((i + 1))
done

load interval_ms=1000 profiles=0 user_stack_kb=0
i=0
while [ "$i" -lt "$NPROF" ]; do
	prof profile-fp "$i"
	i=$((i + 1))
done

if rmmod kholmes; then
	echo "KHM-RMMOD-OK"
else
	echo "KHM-RMMOD-FAIL"
fi

# 6b. perf record -F 99 -g of the same job, without the module (bench.sh
#     puts the host's perf into the image)
if command -v perf >/dev/null; then
	i=0
	while [ "$i" -lt "$NPROF" ]; do
		emit perf job-alone-cpu-ns "$("$J" cputime "$J" cpu "$PJOB") r$i"
		rec=$("$J" cputime perf record -F 99 -g -o /tmp/perf.data -- \
			"$J" cpu "$PJOB" 2>/tmp/perf.err)
		n=$(sed -n 's/.*(\([0-9]*\) samples).*/\1/p' /tmp/perf.err)
		rep=$("$J" cputime perf report -i /tmp/perf.data --stdio 2>/dev/null)
		if [ -n "$rec" ] && [ -n "$n" ] && [ -n "$rep" ]; then
			emit perf record-cpu-ns "$rec r$i"
			emit perf samples "$n r$i"
			emit perf report-cpu-ns "$rep r$i"
		else
			echo "bench: perf failed: $(head -n 3 /tmp/perf.err)"
		fi
		rm -f /tmp/perf.data
		i=$((i + 1))
	done
else
	emit perf available 0
fi
finish
