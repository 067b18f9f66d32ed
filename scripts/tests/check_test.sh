#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/tests/check_test.sh: the VM judging (selftests/vm/judge.sh) and
# make check's accounting of the VMs (selftests/vm/tally.sh), fed
# fabricated consoles and results, no qemu. Each case is a way a run went
# wrong that must not come out green (and one clean run that must). TAP.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
judge=$top/selftests/vm/judge.sh
tally=$top/selftests/vm/tally.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0 bad=0
ok() {
	n=$((n + 1))
	echo "ok $n $1"
}
not_ok() {
	n=$((n + 1))
	bad=$((bad + 1))
	echo "not ok $n $1"
	[[ -n ${2:-} ]] && awk '{ print "# " $0 }' <<<"$2"
}

# console DIR [SPLAT] [DMESG-FIRST-LINE] [KMEMLEAK]: a console.log in DIR of
# a VM that ran fuzz_test (2 cases, both pass) and skip_test (one case
# skipped), with SPLAT in its kernel log.
console() {
	local dir=$1 splat=${2:-} first=${3-"[    0.000000] Linux version 6.12.0 (gcc) #1"}

	mkdir -p "$dir"
	{
		echo "KHM-BOOT 6.12.0"
		echo "KHM-INSMOD-OK"
		echo "KHM-BEGIN fuzz_test"
		printf 'TAP version 13\n1..2\n# Starting 2 tests from 1 test cases.\n'
		printf 'ok 1 fuzz.requests\nok 2 fuzz.replies\n# PASSED: 2 / 2 tests passed.\n'
		echo "KHM-END fuzz_test rc=0"
		echo "KHM-TIME fuzz_test 30"
		echo "KHM-BEGIN skip_test"
		printf 'TAP version 13\n1..1\nok 1 cg.moves # SKIP no cgroup v2\n'
		echo "KHM-END skip_test rc=4"
		echo "KHM-RMMOD-OK"
		if [[ -n ${4:-} ]]; then
			echo "KHM-KMEMLEAK-BEGIN"
			printf '%s\n' "$4"
			echo "KHM-KMEMLEAK-END"
		fi
		echo "KHM-DMESG-BEGIN"
		[[ -n $first ]] && echo "$first"
		echo "[    1.000000] KHM-BOOT 6.12.0"
		echo "[    2.000000] KHM-BEGIN fuzz_test"
		[[ -n $splat ]] && printf '%s\n' "$splat"
		echo "[    9.000000] KHM-END fuzz_test rc=0"
		echo "KHM-DMESG-END"
		echo "KHM-DONE"
	} >"$dir/console.log"
}

# run_judge DIR [QEMU-RC]: judge.sh's output in DIR/out, status in $jrc.
run_judge() {
	"$judge" test "$1" "${2:-0}" 40 fuzz_test skip_test >"$1/out" 2>&1
	jrc=$?
}

# failed_count DIR: failed= of DIR/summary.
failed_count() {
	sed -n 's/^failed=//p' "$1/summary"
}

echo "TAP version 13"
echo "1..18"

d=$tmp/clean
console "$d"
run_judge "$d"
if ((jrc == 0)) && [[ ! -e $d/failures && $(failed_count "$d") == 0 ]]; then
	ok "judge: a clean console passes"
else
	not_ok "judge: a clean console passes" "$(cat "$d/out")"
fi

# The dump repeats /init's marks; where printk.time is off they start a
# line, and must not be taken for /init's own (a second, empty TAP).
d=$tmp/notime
console "$d"
sed -i '/^KHM-DMESG-BEGIN/,/^KHM-DMESG-END/s/^\[ *[0-9.]*\] //' "$d/console.log"
run_judge "$d"
if ((jrc == 0)) && grep -q '^passed=2$' "$d/summary" && grep -q '^skipped=1$' "$d/summary"; then
	ok "judge: marks repeated in an untimed dmesg dump are not /init's"
else
	not_ok "judge: marks repeated in an untimed dmesg dump are not /init's" "$(cat "$d/out")"
fi

d=$tmp/lockup
console "$d" "[    5.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fuzz_test:345]"
run_judge "$d"
if ((jrc != 0)) && [[ -s $d/failures && $(failed_count "$d") -ge 1 ]] &&
	grep -q 'soft lockup' "$d/failures"; then
	ok "judge: a splat naming a test (soft lockup [fuzz_test:345]) fails and counts"
else
	not_ok "judge: a splat naming a test (soft lockup [fuzz_test:345]) fails and counts" \
		"rc=$jrc failed=$(failed_count "$d")"
fi

# An int3 Oops in the kernel's own code, the module nowhere in the trace
# but loaded: the emulator's stale translation (retried once, still a
# failure as judged); the same Oops in the module: no retry.
int3="[  801.578803] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI
[  801.578803] RIP: 0010:sched_clock_tick+0x5/0xb0
[  801.578803] Call Trace:
[  801.578803]  sched_tick+0x3a/0x270
[  801.578803] Modules linked in: kholmes(OE)
[  801.578803] ---[ end trace 0000000000000000 ]---"
d=$tmp/int3
console "$d" "$int3"
run_judge "$d"
if ((jrc != 0)) && [[ -s $d/failures ]] &&
	grep -q 'int3 at sched_clock_tick+0x5/0xb0, outside the module' "$d/retry" 2>/dev/null; then
	ok "judge: an int3 Oops outside the module fails and is marked for one retry"
else
	not_ok "judge: an int3 Oops outside the module fails and is marked for one retry" \
		"rc=$jrc retry=$(cat "$d/retry" 2>/dev/null)"
fi
d=$tmp/int3mod
console "$d" "${int3/sched_clock_tick+0x5\/0xb0/khm_walk+0x5\/0xb0 [kholmes]}"
run_judge "$d"
if ((jrc != 0)) && [[ -s $d/failures && ! -e $d/retry ]]; then
	ok "judge: an int3 Oops in the module fails and is not retried"
else
	not_ok "judge: an int3 Oops in the module fails and is not retried" \
		"rc=$jrc retry=$(cat "$d/retry" 2>/dev/null)"
fi

d=$tmp/kasan
console "$d" "[    5.000000] BUG: KASAN: slab-use-after-free in khm_queue_pop+0x1c/0x90 [kholmes]
[    5.000001] Read of size 8 at addr ffff888004e1c2a8 by task fuzz_test/210"
run_judge "$d"
if ((jrc != 0)) && grep -q 'BUG: KASAN: slab-use-after-free in khm_queue_pop' "$d/out"; then
	ok "judge: a KASAN report fails with its first line in the output"
else
	not_ok "judge: a KASAN report fails with its first line in the output" "$(cat "$d/out")"
fi

fails_with() {
	local name=$1 what=$2

	if ((jrc != 0)) && [[ $(failed_count "$d") -ge 1 ]] && grep -q "$what" "$d/failures"; then
		ok "$name"
	else
		not_ok "$name" "rc=$jrc; $(cat "$d/out")"
	fi
}

for s in "WARNING: possible circular locking dependency detected" \
	"UBSAN: array-index-out-of-bounds in kmod/queue.c:40:9" \
	"INFO: task fuzz_test:200 blocked for more than 30 seconds."; do
	d=$tmp/splat-$n
	console "$d" "[    5.000000] $s"
	run_judge "$d"
	fails_with "judge: '$s' fails" "${s:0:20}"
done

d=$tmp/wrapped
console "$d" "" ""
run_judge "$d"
fails_with "judge: a kernel log that wrapped (no \"Linux version\") fails" "wrapped"

d=$tmp/leak
console "$d" "" "[    0.000000] Linux version 6.12.0" "unreferenced object 0xffff888003d0e000 (size 64):
  comm \"fuzz_test\", pid 210, jiffies 4294937296"
run_judge "$d"
fails_with "judge: a kmemleak report after the unload fails" "kmemleak reports 1 leaked"

d=$tmp/timeout
console "$d"
sed -i '/^KHM-RMMOD-OK/,$d' "$d/console.log"
run_judge "$d" 124
fails_with "judge: a VM that timed out before the unload fails" "timed out"

# A binary killed mid-case left allocations failing for the next ones
# (init.sh says so and turns them off): the VM fails, naming it.
d=$tmp/faults
console "$d"
sed -i '/^KHM-TIME fuzz_test/a KHM-FAULTS-LEFT fuzz_test left fail_alloc_every=3' "$d/console.log"
run_judge "$d"
fails_with "judge: allocation failures left on by a binary fail the VM" "fail_alloc_every=3"

d=$tmp/skips
console "$d"
run_judge "$d"
if grep -qx 'skip_test cg.moves no cgroup v2' "$d/skips"; then
	ok "judge: a skipped case is named in skips"
else
	not_ok "judge: a skipped case is named in skips" "$(cat "$d/skips" 2>&1)"
fi

# tally.sh on judged directories.
kernels=$tmp/kernels
printf '# expected\n6.12.*-cloud-amd64\ndebug\n' >"$kernels"
skips_ok=$tmp/skips-ok
printf '# expected\n* skip_test cg.moves no cgroup v2 here\n' >"$skips_ok"
skips_none=$tmp/skips-none
: >"$skips_none"

out=$("$tally" -k "$kernels" -s "$skips_ok" 6.12.5-cloud-amd64="$tmp/clean" debug="$tmp/skips")
trc=$?
if ((trc == 0)) && ! grep -q '^ADD|[^|]*|[0-9]*|[1-9]' <<<"$out"; then
	ok "tally: clean VMs on every expected kernel, expected skip: green"
else
	not_ok "tally: clean VMs on every expected kernel, expected skip: green" "$out"
fi

out=$("$tally" -k "$kernels" -s "$skips_ok" 6.12.5-cloud-amd64="$tmp/clean")
trc=$?
if ((trc != 0)) && grep -q '^ADD|kernel debug|0|1|' <<<"$out" && grep -q 'MISSING.*debug' <<<"$out"; then
	ok "tally: a missing expected kernel fails and is named"
else
	not_ok "tally: a missing expected kernel fails and is named" "$out"
fi

out=$("$tally" -k "$kernels" -s "$skips_none" 6.12.5-cloud-amd64="$tmp/clean" debug="$tmp/skips")
trc=$?
if ((trc != 0)) && grep -q '^ADD|debug|2|1|0|' <<<"$out" &&
	grep -q 'skip_test cg.moves.*NOT EXPECTED' <<<"$out"; then
	ok "tally: an unexpected skip fails, named"
else
	not_ok "tally: an unexpected skip fails, named" "$out"
fi

# A failures file the summary does not count (what run-vm.sh wrote when a
# splat named a test) still fails.
d=$tmp/uncounted
cp -r "$tmp/clean" "$d"
echo "kernel log has splats: [fuzz_test] soft lockup [fuzz_test:345]" >"$d/failures"
rm -f "$tmp/nosummary/summary"
mkdir -p "$tmp/nosummary"
out=$("$tally" -k "$kernels" -s "$skips_ok" 6.12.5-cloud-amd64="$d" debug="$tmp/skips,$tmp/nosummary")
trc=$?
if ((trc != 0)) && grep -q '^ADD|6.12.5-cloud-amd64|[0-9]*|1|' <<<"$out" &&
	grep -q '^ADD|debug|[0-9]*|1|.*nosummary left no summary' <<<"$out"; then
	ok "tally: an uncounted failure record and a VM without summary fail"
else
	not_ok "tally: an uncounted failure record and a VM without summary fail" "$out"
fi

echo "# $((n - bad)) passed, $bad failed"
((bad == 0))
