#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/judge.sh KVER OUTDIR QEMU-RC SECONDS TEST...
#
# Judge one VM run from its serial console, OUTDIR/console.log (carriage
# returns and terminal escapes already gone): run-vm.sh calls it after
# qemu exited with QEMU-RC, having run SECONDS, with the test binaries TEST
# in its initramfs. Separate from run-vm.sh so that scripts/tests/ can feed
# it fabricated consoles without booting anything.
#
# The run fails when the module does not load or unload, when any test case
# fails or a test binary dies without reporting all its cases, when the VM
# does not reach the end of /init, when the kernel log has a splat
# (splats.sh), when it wrapped (the dump lacks the boot's "Linux version"
# line: log_buf_len too small to prove anything), or when kmemleak, scanned
# after the unload (debug kernel), reports anything.
#
# Writes into OUTDIR: <test>.tap, dmesg.log, kmemleak.log (when scanned),
# failures (why the run failed; absent when it did not), skips (one
# "<test> <case> <reason>" line per skipped case) and summary (passed=
# failed= skipped= seconds=, read by scripts/check.sh). Any failure of the
# run itself, beyond failed cases, counts as one more failed case, so that
# "failed=0" and an empty failures file always go together. Exit status 0
# when nothing failed.
set -euo pipefail

if (($# < 4)); then
	echo "usage: $0 KVER OUTDIR QEMU-RC SECONDS TEST..." >&2
	exit 2
fi
kver=$1 outdir=$2 qrc=$3 seconds=$4
shift 4
tests=("$@")
here=$(cd "$(dirname "$0")" && pwd)
console=$outdir/console.log
vm_timeout=${KHM_VM_TIMEOUT:-1800}
[[ -f $console ]] || : >"$console"
rm -f "$outdir"/*.tap "$outdir"/dmesg.log "$outdir"/kmemleak.log \
	"$outdir"/failures "$outdir"/summary "$outdir"/skips "$outdir"/retry
# /init's own output: the console up to the dmesg dump, which has /init's
# marks again (at the start of a line where printk.time is off).
head=$outdir/console.head
sed '/^KHM-DMESG-BEGIN/,$d' "$console" >"$head"

# failures: every line of the failures file; run_bad: the run itself went
# wrong (not only counted cases), which costs one more failed case.
failures=()
run_bad=0
fail() {
	failures+=("$*")
	run_bad=1
}
# A line about failed cases, already counted as such.
fail_cases() {
	failures+=("$*")
}

if ((qrc == 124 || qrc == 137)); then
	fail "VM timed out after ${vm_timeout}s (KHM_VM_TIMEOUT)"
elif ((qrc != 0)); then
	fail "qemu exited with status $qrc"
fi
grep -q '^KHM-BOOT ' "$head" || fail "/init never started"
if grep -q '^KHM-INSMOD-FAIL' "$head"; then
	fail "module failed to load ($(grep -m1 '^KHM-INSMOD-FAIL' "$head"))"
elif grep -q '^KHM-BOOT ' "$head" && ! grep -q '^KHM-INSMOD-OK' "$head"; then
	fail "module load never finished"
fi
if grep -q '^KHM-RMMOD-FAIL' "$head"; then
	fail "module failed to unload ($(grep -m1 '^KHM-RMMOD-FAIL' "$head"))"
elif grep -q '^KHM-INSMOD-OK' "$head" && ! grep -q '^KHM-RMMOD-OK' "$head"; then
	fail "module unload never happened"
fi
grep -q '^KHM-DONE' "$console" || fail "no end marker (KHM-DONE): the VM died or hung"
if grep -q '^KHM-FAULTS-LEFT' "$head"; then
	fail "allocation failures left on ($(grep -m1 '^KHM-FAULTS-LEFT' "$head"))"
fi

# Each test binary's TAP into OUTDIR/<test>.tap, then count its cases.
awk -v dir="$outdir" '
	/^KHM-BEGIN / { name = $2; file = dir "/" name ".tap"; printf "" > file; next }
	/^KHM-END /   { if (file) close(file); file = ""; next }
	file          { print > file }
' "$head"

passed=0 failed=0 skipped=0
report=()
: >"$outdir/skips"
for t in "${tests[@]}"; do
	tap=$outdir/$t.tap
	if [[ ! -f $tap ]]; then
		fail_cases "$t did not run"
		failed=$((failed + 1))
		report+=("  $t: did not run")
		continue
	fi
	rc=$(sed -n "s/^KHM-END $t rc=\([0-9]*\)$/\1/p" "$head" | tail -n 1)
	read -r p f s planned < <(awk '
		/^1\.\.[0-9]+/               { planned = substr($1, 4) + 0 }
		/^not ok [0-9]+/             { f++; next }
		/^ok [0-9]+.*# (SKIP|skip)/  { s++; next }
		/^ok [0-9]+.*# XPASS/        { f++; next }
		/^ok [0-9]+/                 { p++ }
		END { printf "%d %d %d %d\n", p, f, s, planned }
	' "$tap")
	# "ok 3 fixture.case # SKIP why" -> "<test> fixture.case why"
	sed -n 's/^ok [0-9]\+ \([^ ]*\) *# \(SKIP\|skip\) *\(.*\)$/\1 \3/p' "$tap" |
		sed "s/^/$t /" >>"$outdir/skips"
	why=
	if ((p + f + s < planned)); then
		why="$((planned - p - f - s)) of $planned cases never reported"
		f=$((planned - p - s))
	fi
	if [[ -z $rc ]]; then
		why="${why:+$why, }killed with the VM"
		((f > 0)) || f=1
	elif ((rc == 137)); then
		why="${why:+$why, }killed after ${KHM_TEST_TIMEOUT:-600}s (KHM_TEST_TIMEOUT)"
		((f > 0)) || f=1
	elif ((rc != 0 && rc != 4)); then
		# 4 is KSFT_SKIP: every case skipped.
		why="${why:+$why, }exit status $rc"
		((f > 0)) || f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	line="  $t: $p passed, $f failed"
	((s)) && line+=", $s skipped"
	secs=$(sed -n "s/^KHM-TIME $t \([0-9]*\)$/\1/p" "$head" | tail -n 1)
	[[ -n $secs ]] && line+=" (${secs}s)"
	[[ -n $why ]] && line+=" ($why)"
	report+=("$line")
	if ((f)); then
		fail_cases "$t: $f failed${why:+ ($why)}"
		# The failing cases and the harness's assertion lines before
		# them, so that a log's tail says what broke, not only where.
		while IFS= read -r l; do
			fail_cases "    $l"
		done < <(awk '
			/^not ok [0-9]+/ { for (i = 0; i < n; i++) print ctx[i]; print; n = 0; next }
			/^ok [0-9]+/     { n = 0; next }
			/^# .*(Expected|:[0-9]+:)/ { if (n < 4) ctx[n++] = $0 }
		' "$tap" | head -n 24)
	fi
done

# The kernel log: the dmesg dump if /init got that far, else the console.
dmesg_log=$outdir/dmesg.log
if grep -q '^KHM-DMESG-END' "$console"; then
	sed -n '/^KHM-DMESG-BEGIN/,/^KHM-DMESG-END/p' "$console" | sed '1d;$d' >"$dmesg_log"
	# A dump without the boot's first line lost its beginning: whatever
	# it lost may have been a splat.
	grep -q 'Linux version ' "$dmesg_log" ||
		fail "kernel log wrapped: the dmesg dump lacks the boot's \"Linux version\" line (raise log_buf_len)"
else
	cp "$console" "$dmesg_log"
fi
splats=$("$here/splats.sh" "$dmesg_log")
if [[ -n $splats ]]; then
	fail "kernel log has splats (see $dmesg_log):"$'\n'"$(head -n 20 <<<"$splats" | sed 's/^/      /')"
fi

# kmemleak, scanned by /init after the unload where the kernel has it.
if grep -q '^KHM-KMEMLEAK-BEGIN' "$head"; then
	sed -n '/^KHM-KMEMLEAK-BEGIN/,/^KHM-KMEMLEAK-END/p' "$head" | sed '1d;$d' \
		>"$outdir/kmemleak.log"
	if ! grep -q '^KHM-KMEMLEAK-END' "$head"; then
		fail "kmemleak scan never finished"
	elif grep -q 'unreferenced object' "$outdir/kmemleak.log"; then
		n=$(grep -c 'unreferenced object' "$outdir/kmemleak.log")
		fail "kmemleak reports $n leaked objects after the unload (see $outdir/kmemleak.log):"$'\n'"$(head -n 12 "$outdir/kmemleak.log" | sed 's/^/      /')"
	fi
fi
if grep -q '^KHM-KMEMLEAK-FAIL' "$head"; then
	fail "kmemleak could not scan ($(grep -m1 '^KHM-KMEMLEAK-FAIL' "$head"))"
fi

rm -f "$head"
((run_bad)) && failed=$((failed + 1))
# retry: a failed run whose guest died of the emulator, not of the module.
# qemu's TCG (Debian 12's 7.2) can run a stale translation of kernel text
# that the guest patched through int3 on another vCPU (a static key
# switched at boot, by the clocksource watchdog or by perf events opened
# and closed): "Oops: int3" with RIP in the kernel's own code
# (sched_clock_tick, sched_clock_cpu, do_user_addr_fault seen), the
# module nowhere in the trace. tsc=reliable and keyhold (init.sh) keep
# the keys seen so from being switched during a run. make check runs such a VM once more and
# says so; an int3 Oops naming the module, or any other splat, is judged
# as it stands.
if ((${#failures[@]})) && grep -q 'Oops: int3' "$console"; then
	oops=$(sed -n '/Oops: int3/,/end trace\|Kernel panic/p' "$console")
	rip=$(grep -m1 -o 'RIP: 0010:[^ ]*' <<<"$oops")
	if [[ -n $rip ]] &&
		! grep -v 'Modules linked in' <<<"$oops" | grep -q 'kholmes\|khm_'; then
		echo "guest Oops: int3 at ${rip#RIP: 0010:}, outside the module (TCG cross-modifying code)" >"$outdir/retry"
	fi
fi
((${#failures[@]} == 0)) || printf '%s\n' "${failures[@]}" >"$outdir/failures"
printf 'passed=%d\nfailed=%d\nskipped=%d\nseconds=%d\n' \
	"$passed" "$failed" "$skipped" "$seconds" >"$outdir/summary"

echo "$kver: VM ran ${seconds}s, console: $console"
printf '%s\n' "${report[@]}"
if [[ -s $outdir/skips ]]; then
	echo "$kver: skipped:"
	sed 's/^/  - /' "$outdir/skips"
fi
if ((${#failures[@]})); then
	echo "$kver: FAILED:"
	printf '  - %s\n' "${failures[@]}"
fi
line="$kver: $passed passed, $failed failed"
((skipped)) && line+=", $skipped skipped"
echo "$line"
((${#failures[@]} == 0))
