#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/check.sh: the body of `make check` (which runs `make deps` first).
#
#   1. the controller and its host unit tests (TAP)
#   2. checkpatch --strict on kmod/ and include/
#   3. the module for every installed kernel, W=1, no warnings
#   4. packaging (make install, DKMS, systemd unit, man page), the Debian
#      packages (make deb, lintian) installed on a Debian 12 VM with systemd
#      (selftests/fleet/run.sh, a third VM beside step 7's pool, from
#      the moment the packages are built), and the Prometheus textfile
#      read back through node_exporter
#   5. the selftests, and the host-side test of the VM judging and this
#      accounting (scripts/tests/check_test.sh, TAP)
#   6. the debug kernel (scripts/kdebug.sh: built once, then cached), in
#      the background from the start, with the module built against it
#   7. for every kernel that can boot here (/boot/vmlinuz-<rel> with
#      headers), and the debug kernel: its module, and its suite split over
#      KHM_VM_PARTS qemu VMs (default 2; the debug kernel a subset in
#      KHM_DEBUG_PARTS VMs), each with its own initramfs
#      (selftests/vm/run-vm.sh), KHM_VM_JOBS VMs at a time (default 2)
#
# The VMs' results are counted by selftests/vm/tally.sh: a VM with any
# failure record counts as failed, every kernel of selftests/vm/kernels
# (6.1 cloud, 6.12 cloud, 6.12 rt, debug) must have run, and a skipped case
# not in selftests/expected-skips counts as failed. Every skipped case is
# named in the closing summary. A VM whose guest the emulator killed (an
# int3 Oops outside the module, judge.sh's retry file) runs once more, and
# the summary names it.
#
# Steps 1 to 5 run in two lanes at once (lane() below: the packaging steps
# and the selftests' build in one, the rest in the other) and are printed
# in the order above; builds
# use make -j$(nproc). Step 6 runs beside them and beside step 7, whose
# debug VMs start once it is done; the fleet VM's root filesystem is built
# beside them too, once the packages are (on a fresh machine the kernel
# takes about 20 minutes of both CPUs and the root filesystem 10 minutes,
# mostly downloads; cached, seconds).
#
# Every step runs even when an earlier one failed, so one run shows
# everything that is wrong. Counted are individual test cases (TAP "ok" /
# "not ok" / "# SKIP" lines) of the host unit tests and of every kernel's
# VM tests; a step that fails without test cases of its own (a build, style,
# a VM that does not finish) counts as one failure, so that "0 failed" and
# the exit status always agree. The last line is the total:
#   N passed, N failed[, N skipped]
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logs=$top/build/logs
mkdir -p "$logs"
start=$(date +%s)

total_pass=0 total_fail=0 total_skip=0
summary=()

step() {
	printf '\n== %s\n' "$*"
}

# add NAME PASS FAIL SKIP [NOTE]: one line of the closing summary.
add() {
	local line
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	total_skip=$((total_skip + $4))
	line=$(printf '  %-32s %d passed, %d failed' "$1" "$2" "$3")
	(($4)) && line+=", $4 skipped"
	[[ -n ${5:-} ]] && line+="  ($5)"
	summary+=("$line")
}

# gate NAME RC LOG: a step with no test cases of its own.
gate() {
	if (($2 == 0)); then
		summary+=("$(printf '  %-32s ok' "$1")")
	else
		add "$1" 0 1 0 "FAILED, log: ${3#"$top"/}"
	fi
}

# tap_count FILE: "pass fail skip" over every TAP result line in FILE.
tap_count() {
	awk '
		/^not ok [0-9]+/             { f++; next }
		/^ok [0-9]+.*# (SKIP|skip)/  { s++; next }
		/^ok [0-9]+.*# XPASS/        { f++; next }
		/^ok [0-9]+/                 { p++ }
		END { printf "%d %d %d\n", p, f, s }
	' "$1"
}

# -j for the builds: the host steps ran one job at a time, half of the two
# CPUs idle (vmstat) for six minutes.
make=("${MAKE:-make}" -j"$(nproc)")

step "controller: build"
"${make[@]}" ctl ksft >"$logs/ctl.log" 2>&1
rc=$?
((rc == 0)) || tail -n 30 "$logs/ctl.log"
gate "controller build" "$rc" "$logs/ctl.log"

# The debug kernel (scripts/kdebug.sh: built once, about 20 minutes here
# with the whole machine, then cached under /var/cache/kholmes/) and the
# module and helper built against it, in the background from here: on a
# fresh machine the kernel builds while the host steps and the stock
# kernels' VMs run, and the debug VMs join the pool once it is there
# (ready_debug below). It runs at nice 19 (KDEBUG_NICE): at the run's own
# niceness it starved the VMs beside it, whose tests judge what the guest
# got in its time (run 9, a fresh cache: built in 50 min beside two VMs
# at load 7, and six timing-bound cases failed in the VMs that ran beside
# it, none elsewhere); at 19 it takes what the VMs leave and builds in
# earnest once the stock kernels' VMs are done. With the kernel cached
# this takes a few seconds.
kdebug_bg() {
	local rc=0

	KDEBUG_NICE=${KDEBUG_NICE:-19} "$top/scripts/kdebug.sh" \
		>"$logs/kdebug.out" 2>"$logs/kdebug.log" || rc=1
	if ((rc == 0)); then
		if "$top/scripts/kbuild.sh" --quiet debug; then
			# sick_test's helper module; without it those tests skip
			"$top/selftests/kmod_helper/build.sh" debug ||
				echo "check: no khm_sick.ko for debug" >&2
		else
			rc=2
		fi
	fi
	echo "$rc" >"$logs/kdebug.rc"
}
rm -f "$logs/kdebug.rc"
kdebug_bg >"$logs/kdebug-bg.log" 2>&1 &
kdebug_pid=$!

# The host steps, each a function. They run in two lanes at once (lane_b's
# steps share DKMS's state in /var/lib/dkms and run in order), each step's
# output in $logs/<step>.out and its summary lines in $logs/<step>.res;
# both are replayed below in this order, as if they had run one by one.
# tap_step NAME LOG CMD...: CMD's TAP, also in LOG, counted as NAME; a
# failing CMD that printed no "not ok" counts as one failure, LOG named.
tap_step() {
	local name=$1 log=$2 rc p f s note=

	shift 2
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	read -r p f s < <(tap_count "$log")
	if ((rc != 0 && f == 0)); then
		f=1
		note="exit $rc, log: ${log#"$top"/}"
	fi
	add "$name" "$p" "$f" "$s" "$note"
}

host_unit() {
	step "controller: host unit tests"
	tap_step "host unit tests" "$logs/unit.log" "${make[@]}" unit
}

host_style() {
	step "style: checkpatch --strict"
	"${make[@]}" style 2>&1 | tee "$logs/style.log"
	gate "style (checkpatch --strict)" "${PIPESTATUS[0]}" "$logs/style.log"
}

host_modules() {
	step "module: W=1 build for every installed kernel"
	# no -j: kbuild.sh gives each module build its own
	"${make[0]}" modules-all 2>&1 | tee "$logs/modules-all.log"
	gate "W=1 builds, no warnings" "${PIPESTATUS[0]}" "$logs/modules-all.log"
	# The modules the VMs load (an incremental no-op after modules-all
	# when it built) and sick_test's helper, for every kernel that can
	# boot here: "<kernel> ok|build" in $logs/vm-modules, read by step 7.
	# Here rather than after the lanes, where these 16 s of one CPU
	# each run held back the VMs.
	local k

	for k in $("$top/scripts/kernels.sh" --vm); do
		if "$top/scripts/kbuild.sh" --quiet "$k"; then
			# without the helper, sick_test's cases skip
			"$top/selftests/kmod_helper/build.sh" "$k" ||
				echo "check: no khm_sick.ko for $k" >&2
			echo "$k ok"
		else
			echo "$k build"
		fi
	done >"$logs/vm-modules"
}

host_pkgcheck() {
	step "packaging: make install, DKMS for every kernel, the unit, the man page"
	tap_step "packaging (pkgcheck)" "$logs/pkgcheck.log" "${make[0]}" pkgcheck
}

# Debian packages (scripts/deb.sh, lintian), then installed, reloaded,
# rebooted and purged on a Debian 12 VM with systemd (selftests/fleet/).
host_deb() {
	step "packages: make deb, lintian"
	tap_step "packages (make deb, lintian)" "$logs/deb.log" \
		"$top/scripts/deb.sh" --lintian
	# The fleet VM's root filesystem, for what the packages depend on:
	# cached, or built from here on beside the other steps (ten minutes
	# on a fresh machine, mostly downloads). The fleet job finds it,
	# or waits for it on rootfs.sh's lock.
	"$top/selftests/fleet/run.sh" --rootfs-only "$top/build/fleet-rootfs" \
		>"$logs/rootfs.log" 2>&1 &
}

# The packages on the Debian 12 VM: started as soon as host_deb is done,
# beside the other lane and then the VM pool, as a third VM. It was the
# pool's shortest job, so it started last and ran alone for two to three
# minutes at 1.4 CPUs of two (155 s, 213 s of CPU). Beside the others it
# is no free ride (run 4 of 4 December: 400 s, the two VMs beside it 100
# s longer each, the lanes 44 s longer: three guests on two CPUs), but
# that run still ended 33 s before run 3, which had it alone at the end.
host_fleet() {
	step "fleet: the packages on a Debian 12 VM with systemd as PID 1"
	tap_step "fleet VM (Debian 12, systemd)" "$logs/fleet.log" \
		"$top/selftests/fleet/run.sh" "$top/build/fleet"
}

# after host_unit: ctl/tests/prom_write writes the file
host_prom() {
	step "prometheus: node_exporter serves the daemon's textfile"
	tap_step "node_exporter textfile" "$logs/node-exporter.log" \
		"$top/scripts/node-exporter-check.sh"
}

host_selftests() {
	step "selftests: build"
	"${make[@]}" selftests >"$logs/selftests.log" 2>&1
	rc=$?
	((rc == 0)) || tail -n 30 "$logs/selftests.log"
	gate "selftests build" "$rc" "$logs/selftests.log"
}

host_judging() {
	step "VM judging: fabricated consoles and results (scripts/tests/check_test.sh)"
	tap_step "VM judging (check_test.sh)" "$logs/check_test.log" \
		"$top/scripts/tests/check_test.sh"
}

# lane STEP...: the host steps in order, in this shell's child, each
# step's add and gate lines written to $logs/STEP.res for the replay.
lane() {
	local name

	for name in "$@"; do
		(
			res=$logs/$name.res
			: >"$res"
			# shellcheck disable=SC2317 # called by the host_* steps
			add() { printf '%q ' add "$@" >>"$res"; echo >>"$res"; }
			# shellcheck disable=SC2317
			gate() { printf '%q ' gate "$@" >>"$res"; echo >>"$res"; }
			t0=$(date +%s)
			"host_$name"
			echo "($name: $(($(date +%s) - t0))s)"
		) >"$logs/$name.out" 2>&1
	done
}
# The lanes take about as long each (4 December: unit 76 s, prom 1, style
# 4, modules 57, judging 4; pkgcheck 80, deb 40, selftests 24); the fleet
# VM starts in lane_b after deb and runs on past both ($logs/fleet.done
# when it is over, waited for before the summary).
lane_a=(unit prom style modules judging)
rm -f "$logs"/fleet.{done,res,pid,started} "$logs/vm-modules"
lane "${lane_a[@]}" &
pa=$!
(
	lane pkgcheck deb
	echo "VM: fleet started ($(date -u +%T)): selftests/fleet/run.sh" \
		>"$logs/fleet.started"
	{ lane fleet; : >"$logs/fleet.done"; } &
	echo $! >"$logs/fleet.pid"
	lane selftests
) &
pb=$!
wait "$pa" "$pb"
for s in unit style modules pkgcheck deb prom selftests judging; do
	cat "$logs/$s.out"
	if [[ -s $logs/$s.res ]]; then
		# shellcheck disable=SC1090 # written by lane() above
		source "$logs/$s.res"
	else
		add "host step $s" 0 1 0 "no result, log: build/logs/$s.out"
	fi
done

mapfile -t kernels < <("$top/scripts/kernels.sh" --vm)
if ((${#kernels[@]} == 0)); then
	echo "no kernel with both /boot/vmlinuz-<rel> and headers: sudo make deps" >&2
fi
# "debug" is one of the kernels that must have run (selftests/vm/kernels):
# without the debug kernel the run fails.
kernels+=(debug)
# Each kernel's suite runs in KHM_VM_PARTS VMs (default 2), KHM_VM_JOBS VMs
# at a time (default 2). Two VMs keep both host CPUs busy (vmstat during
# a run: 0 % idle), so a third would only slow the others; splitting
# every suite keeps both slots busy to the end instead of leaving the last
# kernel's VM to run alone. The test binaries are dealt out longest first,
# each to the part with the least time so far, by vm_secs: the seconds
# each took in a VM beside another (KHM-TIME lines of the 6.12 cloud suite
# in two VMs side by side, 3 December 2026, with the state put back by one
# kholmesctl apply; the debug kernel's from run B of that day); an
# unlisted test counts 60. Each part has its
# own build/<rel>/vm-<n>/ and log, printed in kernel order once all are
# done.
#
# The debug kernel runs only $debug_tests (KHM_DEBUG_TESTS), in
# KHM_DEBUG_PARTS VMs (default 2): KASAN, lockdep and kmemleak under TCG
# make every test several times slower (debug_secs: their seconds there
# beside another VM; they join the pool by their estimates like any
# part, which today puts the 6.12 parts first). What
# runs there is what takes the module's own paths, where the debug kernel
# sees what a stock one cannot: captures and the queue (capture), perf-
# driven profiles and an unload while one runs (profile), every netlink
# request (fuzz), the daemon pulling and acknowledging (daemon),
# allocation failures injected at every 3rd and every 7th allocation
# while captures, profiles and pulls run (hardening's failalloc: the error
# paths, where leaks hide) and a minute of pulls and acknowledgements
# racing captures and profiles (sick_test's race_pull_ack), the flight
# recorder's lock-free rings read while their CPUs write them
# (flight_test), each VM
# ending in an unload and a kmemleak scan. debug_args leaves out, per
# binary, what judges the controller or the rules, not the module's
# memory or locks, and what holds deadlines meant for stock kernels:
# profile_test's saturation policy, refusals (fuzz sends every request),
# perl unwinding (the controller's) and rundelay naming (the detector);
# capture_test's capture without libdw (the controller's fallback);
# daemon_test's SIGKILL loop, read-only directory, rotation and exec
# hook (the daemon's own crash consistency and files);
# hardening_test's 50 reloads under load and 20,000 processes (13 to
# 32 s a round there, over their bounds); sick_test's 2 s deadlines.
# KHM_DEBUG_ARGS_<name> replaces one binary's entry. fuzz.privileged sends
# half its 100,000 messages there (KHM_DEBUG_FUZZ_COUNT): 78 of its 99 s
# at 100,000 (run 3 of 4 December), every request still hundreds of times
# (877 APPLY acknowledged of 100,000), the model compared 25 times; the
# stock kernels send all of them, and the two parallel streams are whole.
jobs=${KHM_VM_JOBS:-2}
nparts=${KHM_VM_PARTS:-2}
dparts=${KHM_DEBUG_PARTS:-2}
debug_tests=${KHM_DEBUG_TESTS:-capture_test,profile_test,fuzz_test,daemon_test,sick_test,hardening_test,flight_test}
declare -A debug_args=(
	[capture]="-T without_libdw_fp_frames_stay"
	[profile]="-T cpu_max_skips_when_saturated -T refusals -T perl_whole_stacks -T perl_fp_walk_no_junk -T rundelay_names_the_spinner"
	[daemon]="-T sigkill_loop_loses_nothing -T readonly_dir_retried -T rotation_keeps_newest -T exec_gets_report_path"
	[hardening]="-f failalloc"
	[sick]="${KHM_DEBUG_SICK_ARGS:--t race_pull_ack}"
)
debug_fuzz=${KHM_DEBUG_FUZZ_COUNT:-50000}
for v in ${!KHM_DEBUG_ARGS_@}; do
	debug_args[${v#KHM_DEBUG_ARGS_}]=${!v}
done
# What judges kholmesctl alone (its symbolization, its files, its crash
# consistency, its stance against a hostile local user or a silent
# module), not the module, runs on one kernel: the 6.12 cloud kernel
# ($once_kernel, KHM_ONCE_KERNEL), the one the debug kernel is built from.
# The controller is the same binary on every kernel and these cases take
# none of the module's kernel-dependent paths beyond what the other
# cases cover everywhere (captures, profiles, pulls and acks: the
# stack-copy and frame-pointer paths run on every kernel in
# sym.python_whole_stacks, sym.perl_agrees_with_perf and profile_test).
# once_tests are whole binaries, once_args cases of one (-T, per
# binary, as KHM_ARGS_<name> on the other kernels). 2 December 2026 (run
# 10), on the three stock kernels together: 460 VM seconds of 4,674,
# real.steady_stress_ng's 130 among them then.
once_kernel=${KHM_ONCE_KERNEL:-}
once_tests=(ctl_faults_test ctl_hostile_test)
declare -A once_args=(
	[capture]="-T without_libdw_fp_frames_stay"
	[symbols]="-T cpp_demangled -T stripped_from_debug_file -T stripped_keeps_offsets -T debuginfod"
	[daemon]="-T sigkill_loop_loses_nothing -T readonly_dir_retried -T rotation_keeps_newest -T exec_gets_report_path"
)
# shellcheck disable=SC2034 # read by deal() through a nameref
declare -A vm_secs=(
	[capture_test]=57 [config_test]=34 [ctl_hostile_test]=2
	[daemon_test]=43 [detect_test]=27 [fuzz_test]=29
	[hardening_test]=120 [limits_test]=14 [priv_test]=70
	[profile_test]=99 [real_test]=169 [rig_test]=5 [sampling_test]=29
	[scale_test]=41 [sick_test]=39 [storm_test]=53 [watch_test]=10
	[ctl_faults_test]=29 [symbols_test]=57 [flight_test]=18
)
# The other stock kernels run fewer cases of some binaries (once_args)
# and take longer over others: run B of 3 December, 6.1 and rt
# (hardening's reloads: 114 and 149 s there, 88 on 6.12 cloud). Dealt by
# vm_secs alone, their second part ran 540 and 608 s, the first 388 and
# 394.
# shellcheck disable=SC2034 # read by deal() through a nameref
declare -A few_secs=()
for t in "${!vm_secs[@]}"; do
	few_secs[$t]=${vm_secs[$t]}
done
few_secs+=([daemon_test]=9 [symbols_test]=30 [hardening_test]=210
	[scale_test]=66 [priv_test]=53 [real_test]=151 [profile_test]=93)
# shellcheck disable=SC2034 # read by deal() through a nameref
declare -A debug_secs=(
	[capture_test]=204 [daemon_test]=21 [fuzz_test]=234
	[hardening_test]=69 [profile_test]=142 [sick_test]=73
	[flight_test]=66
)
all_tests=()
for t in "$top"/build/selftests/*_test; do
	[[ -x $t ]] && all_tests+=("${t##*/}")
done

# deal NPARTS SECS-ARRAY TEST...: the tests in NPARTS comma-separated
# lists, one per line, "<estimated seconds> <list>", longest part first.
deal() {
	local n=$1 i low t
	local -n secs=$2
	local -a names=() load=()

	shift 2
	((n > $#)) && n=$#
	((n < 1)) && n=1
	for ((i = 0; i < n; i++)); do
		names[i]="" load[i]=0
	done
	while read -r _ t; do
		low=0
		for ((i = 1; i < n; i++)); do
			((load[i] < load[low])) && low=$i
		done
		names[low]+="${names[low]:+,}$t"
		load[low]=$((load[low] + ${secs[$t]:-60}))
	done < <(for t in "$@"; do echo "${secs[$t]:-60} $t"; done | sort -rn)
	for ((i = 0; i < n; i++)); do
		[[ -n ${names[i]} ]] && echo "${load[i]} ${names[i]}"
	done | sort -rn
}

declare -A vmrc kparts
# the kernel the once_* cases run on: the first 6.12 cloud kernel there is
if [[ -z $once_kernel ]]; then
	for k in "${kernels[@]}"; do
		[[ $k == 6.12.*-cloud-amd64 ]] && { once_kernel=$k; break; }
	done
	[[ -n $once_kernel ]] || once_kernel=${kernels[0]:-}
fi
few_tests=()
for t in "${all_tests[@]}"; do
	[[ " ${once_tests[*]} " == *" $t "* ]] || few_tests+=("$t")
done
[[ -n $once_kernel ]] &&
	echo "check: controller-only cases on $once_kernel only: ${once_tests[*]}, and per binary: $(for b in "${!once_args[@]}"; do printf '%s_test %s; ' "$b" "${once_args[$b]}"; done)"
# the kernels whose module host_modules built (a kernel it did not get to
# counts as one that does not build)
declare -A vmmod=()
while read -r k st; do
	vmmod[$k]=$st
done <"$logs/vm-modules"
built=()
for k in "${kernels[@]}"; do
	if [[ $k == debug ]]; then
		built+=(debug)	# by kdebug_bg; ready_debug says how it went
	elif [[ ${vmmod[$k]:-} == ok ]]; then
		built+=("$k")
	else
		vmrc[$k]=build
	fi
done
# Every VM to run: "<estimated seconds> <kernel> <part> <tests>", the
# longest first.
vms=()
for k in "${built[@]}"; do
	if [[ $k == debug ]]; then
		read -r -a dt <<<"${debug_tests//,/ }"
		mapfile -t plan < <(deal "$dparts" debug_secs "${dt[@]}")
	elif [[ $k == "$once_kernel" ]]; then
		mapfile -t plan < <(deal "$nparts" vm_secs "${all_tests[@]}")
	else
		mapfile -t plan < <(deal "$nparts" few_secs "${few_tests[@]}")
	fi
	kparts[$k]=${#plan[@]}
	n=0
	for p in "${plan[@]}"; do
		n=$((n + 1))
		vms+=("${p%% *} $k $n ${p#* }")
	done
done
mapfile -t vms < <(printf '%s\n' "${vms[@]}" | sort -rn)
# live: how many of the VM runners started so far are still running. Not
# `wait -n`, which also returns for this script's process substitutions.
vm_pids=()
live() {
	local pid n=0

	for pid in "${vm_pids[@]}"; do
		kill -0 "$pid" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}
# start_vm KERNEL PART TESTS: one VM runner in the background.
start_vm() {
	local k=$1 n=$2 list=$3 vm_env

	while (($(live) >= jobs)); do
		sleep 1
	done
	echo "VM: $k part $n started ($(date -u +%T)): ${list//,/ }"
	rm -rf "$top/build/$k/vm-$n"
	vm_env=(KHM_TESTS="$list")
	if [[ $k == debug ]]; then
		for v in "${!debug_args[@]}"; do
			vm_env+=("KHM_ARGS_$v=${debug_args[$v]}")
		done
		vm_env+=("KHM_FUZZ_COUNT=$debug_fuzz")
	elif [[ $k != "$once_kernel" ]]; then
		for v in "${!once_args[@]}"; do
			vm_env+=("KHM_ARGS_$v=${once_args[$v]}")
		done
	fi
	env "${vm_env[@]}" \
		"$top/selftests/vm/run-vm.sh" "$k" "$top/build/$k/vm-$n" \
		>"$logs/vm-$k-$n.log" 2>&1 &
	vm_pids+=($!)
}
# ready_debug: whether the debug VMs can start (status 0), must wait for
# kdebug_bg (1), or cannot (2: no kernel, or no module for it; they are
# dropped and the kernel counted as failed below).
debug_state=
ready_debug() {
	local rc

	[[ -n $debug_state ]] && return "$debug_state"
	if [[ -s $logs/kdebug.rc ]]; then
		rc=$(<"$logs/kdebug.rc")
	elif kill -0 "$kdebug_pid" 2>/dev/null; then
		return 1
	else
		rc=1	# ended without saying: killed
	fi
	case $rc in
	0) debug_state=0 ;;
	2) debug_state=2 vmrc[debug]=build ;;
	*) debug_state=2 vmrc[debug]=kdebug ;;
	esac
	return "$debug_state"
}
cat "$logs/fleet.started" 2>/dev/null
# The pool: whenever a slot is free, the longest job that can start.
pending=()
for v in "${vms[@]}"; do
	[[ -n $v ]] && pending+=("$v")
done
while ((${#pending[@]})); do
	while (($(live) >= jobs)); do
		sleep 1
	done
	pick=-1
	for i in "${!pending[@]}"; do
		read -r _ k _ <<<"${pending[i]}"
		if [[ $k == debug ]]; then
			ready_debug
			st=$?
			((st == 1)) && continue
			if ((st == 2)); then
				unset 'pending[i]'
				continue
			fi
		fi
		pick=$i
		break
	done
	pending=("${pending[@]}")
	if ((pick < 0)); then
		sleep 2
		continue
	fi
	read -r _ k n list <<<"${pending[pick]}"
	unset 'pending[pick]'
	pending=("${pending[@]}")
	start_vm "$k" "$n" "$list"
done
# the runners' exit status is in their summary files, read below; this
# waits for kdebug_bg too
wait
# A VM whose guest the emulator killed (judge.sh's retry file: an int3
# Oops outside the module) runs once more; its second run is what counts,
# and the summary says that it was retried and why.
retried=()
for v in "${vms[@]}"; do
	[[ -n $v ]] || continue
	read -r _ k n list <<<"$v"
	f=$top/build/$k/vm-$n/retry
	[[ -s $f ]] || continue
	retried+=("  retried $k vm-$n: $(cat "$f") (first run: build/$k/vm-$n.first)")
	rm -rf "$top/build/$k/vm-$n.first"
	mv "$top/build/$k/vm-$n" "$top/build/$k/vm-$n.first"
	start_vm "$k" "$n" "$list"
done
wait
# the fleet VM, not this shell's child (lane_b's): until it is done, or
# gone without saying so (then its missing result counts as a failure)
fpid=$(cat "$logs/fleet.pid" 2>/dev/null)
while [[ ! -e $logs/fleet.done && -n $fpid ]] && kill -0 "$fpid" 2>/dev/null; do
	sleep 2
done
step "debug kernel: make kdebug (KASAN, lockdep, kmemleak, ...)"
ready_debug
cat "$logs/kdebug.log" "$logs/kdebug.out" "$logs/kdebug-bg.log"
gate "debug kernel (make kdebug)" "$([[ ${vmrc[debug]:-} == kdebug ]] && echo 1 || echo 0)" "$logs/kdebug.log"
cat "$logs/fleet.out"
if [[ -s $logs/fleet.res ]]; then
	# shellcheck disable=SC1091 # written by lane()
	source "$logs/fleet.res"
else
	add "fleet VM (Debian 12, systemd)" 0 1 0 "no result, log: build/logs/fleet.out"
fi

tally_args=()
for k in "${kernels[@]}"; do
	step "VM: $k"
	if [[ ${vmrc[$k]:-} == build ]]; then
		add "$k" 0 1 0 "module does not build"
		continue
	fi
	if [[ ${vmrc[$k]:-} == kdebug ]]; then
		add "$k" 0 1 0 "no debug kernel: build/logs/kdebug.log"
		continue
	fi
	dirs=
	for ((n = 1; n <= ${kparts[$k]}; n++)); do
		cat "$logs/vm-$k-$n.log"
		dirs+="${dirs:+,}$top/build/$k/vm-$n"
	done
	tally_args+=("$k=$dirs")
done
# What the VMs say, counted by selftests/vm/tally.sh: a VM with a failure
# record counts as failed, an expected kernel that did not run and an
# unexpected skip fail the run.
said=()
tally=$("$top/selftests/vm/tally.sh" "${tally_args[@]}")
trc=$?
tally_failed=0
while IFS='|' read -r kind a b c d e; do
	case $kind in
	ADD) add "$a" "$b" "$c" "$d" "${e//"$top"\//}"
		tally_failed=$((tally_failed + c)) ;;
	SAY) said+=("  $a") ;;
	esac
done <<<"$tally"
# tally.sh failing is never green, even when it counted nothing.
((trc != 0 && tally_failed == 0)) && add "VM tally" 0 1 0 "selftests/vm/tally.sh exit $trc"

step "summary ($(($(date +%s) - start))s)"
printf '%s\n' "${summary[@]}"
((${#said[@]})) && printf '%s\n' "${said[@]}"
((${#retried[@]})) && printf '%s\n' "${retried[@]}"
# What failed inside the VMs, repeated here so that the tail of a log names
# the cases (the full TAP is in build/<kernel>/vm-<n>/<test>.tap).
for k in "${kernels[@]}"; do
	for ((n = 1; n <= ${kparts[$k]:-0}; n++)); do
		f=$top/build/$k/vm-$n/failures
		[[ -s $f ]] || continue
		echo "  failed on $k (vm-$n):"
		head -n 40 "$f" | sed 's/^/    /'
	done
done
line="$total_pass passed, $total_fail failed"
((total_skip)) && line+=", $total_skip skipped"
echo "$line"
((total_fail == 0))
