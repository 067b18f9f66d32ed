#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/run-vm.sh KVER OUTDIR
#
# Boot /boot/vmlinuz-KVER under qemu (TCG: no KVM here) with an initramfs
# holding the module built for KVER, kholmesctl, busybox and every selftest,
# and judge the run from the serial console. /init (init.sh) loads the
# module, runs each test binary, unloads the module and dumps dmesg.
#
# The run fails when the module does not load or unload, when any test case
# fails or a test binary dies without reporting all its cases, when the VM
# does not reach the end of /init within its time limit, or when the kernel
# log has a splat (BUG, WARNING, Oops, lockdep, refcount, list corruption,
# ...). Results in OUTDIR: console.log (everything), <test>.tap, dmesg.log,
# failures (why the run failed) and summary (passed= failed= skipped=
# seconds=, read by scripts/check.sh). Exit status 0 when nothing failed.
#
# Environment, for debugging:
#   KHM_TESTS="rig_test other"  only these test binaries (words or commas)
#   KHM_TEST_ARGS="-t name"     arguments for every test binary (harness
#                               filters: -t test, -f fixture, -v variant)
#   KHM_MODPARAMS="window=4"    module parameters for /init's insmod
#   KHM_TEST_TIMEOUT=600        seconds per test binary in the VM
#   KHM_VM_TIMEOUT=1800         seconds for the whole VM
#   KHM_VERBOSE=1               copy the console to the terminal live
#   KHM_MODULE, KHOLMESCTL, KHM_SELFTESTS   other module / controller /
#                               test directory (default: this tree's build)
#   KHM_QEMU_CPU=max            qemu -cpu model; KHM_QEMU_ARGS extra options
set -euo pipefail

if (($# != 2)); then
	echo "usage: $0 KVER OUTDIR" >&2
	exit 2
fi
kver=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

kernel=/boot/vmlinuz-$kver
module=${KHM_MODULE:-$top/build/$kver/src/kmod/kholmes.ko}
ctl=${KHOLMESCTL:-$top/ctl/kholmesctl}
tests_dir=${KHM_SELFTESTS:-$top/build/selftests}
vm_timeout=${KHM_VM_TIMEOUT:-1800}
export KHM_MODPARAMS=${KHM_MODPARAMS:-}
export KHM_TEST_TIMEOUT=${KHM_TEST_TIMEOUT:-600}
export KHM_TEST_ARGS=${KHM_TEST_ARGS:-}

if [[ ! -r $kernel ]]; then
	echo "run-vm: no readable $kernel; install it: sudo apt-get install linux-image-$kver" >&2
	exit 2
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir"/*.tap "$outdir"/console.* "$outdir"/dmesg.log \
	"$outdir"/failures "$outdir"/summary

# The tests to run: every built *_test, or those KHM_TESTS names.
tests_env=${KHM_TESTS:-}
read -r -a wanted <<<"${tests_env//,/ }"
tests=()
if ((${#wanted[@]})); then
	for t in "${wanted[@]}"; do
		tests+=("${t%_test}_test")
	done
else
	shopt -s nullglob
	for t in "$tests_dir"/*_test; do
		tests+=("${t##*/}")
	done
	shopt -u nullglob
fi
if ((${#tests[@]} == 0)); then
	echo "run-vm: no test binaries in $tests_dir (make selftests)" >&2
	exit 1
fi

img=$outdir/initramfs.img
"$here/mkinitramfs.sh" "$img" "$module" "$ctl" "$tests_dir" "${tests[@]}"

read -r -a qemu_extra <<<"${KHM_QEMU_ARGS:-}"
qemu=(qemu-system-x86_64 -accel tcg -cpu "${KHM_QEMU_CPU:-max}" -m 2048 -smp 2
	-nographic -no-reboot -nic none -kernel "$kernel" -initrd "$img"
	-append "console=ttyS0 panic=-1 oops=panic loglevel=4 quiet"
	"${qemu_extra[@]}")

raw=$outdir/console.raw
start=$(date +%s)
set +e
if [[ ${KHM_VERBOSE:-0} != 0 ]]; then
	timeout --foreground -k 10 "$vm_timeout" "${qemu[@]}" </dev/null 2>&1 | tee "$raw"
	qrc=${PIPESTATUS[0]}
else
	timeout -k 10 "$vm_timeout" "${qemu[@]}" </dev/null >"$raw" 2>&1
	qrc=$?
fi
set -e
seconds=$(($(date +%s) - start))
# Without carriage returns and the firmware's terminal escapes, which
# otherwise prefix /init's first line.
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[A-Za-z]//g' \
	<"$raw" >"$outdir/console.log"
rm -f "$raw"
console=$outdir/console.log

failures=()
fail() {
	failures+=("$*")
}

if ((qrc == 124 || qrc == 137)); then
	fail "VM timed out after ${vm_timeout}s (KHM_VM_TIMEOUT)"
elif ((qrc != 0)); then
	fail "qemu exited with status $qrc"
fi
grep -q '^KHM-BOOT ' "$console" || fail "/init never started"
if grep -q '^KHM-INSMOD-FAIL' "$console"; then
	fail "module failed to load ($(grep -m1 '^KHM-INSMOD-FAIL' "$console"))"
elif grep -q '^KHM-BOOT ' "$console" && ! grep -q '^KHM-INSMOD-OK' "$console"; then
	fail "module load never finished"
fi
if grep -q '^KHM-RMMOD-FAIL' "$console"; then
	fail "module failed to unload ($(grep -m1 '^KHM-RMMOD-FAIL' "$console"))"
elif grep -q '^KHM-INSMOD-OK' "$console" && ! grep -q '^KHM-RMMOD-OK' "$console"; then
	fail "module unload never happened"
fi
grep -q '^KHM-DONE' "$console" || fail "no end marker (KHM-DONE): the VM died or hung"

# Each test binary's TAP into OUTDIR/<test>.tap, then count its cases.
awk -v dir="$outdir" '
	/^KHM-BEGIN / { name = $2; file = dir "/" name ".tap"; printf "" > file; next }
	/^KHM-END /   { if (file) close(file); file = ""; next }
	file          { print > file }
' "$console"

passed=0 failed=0 skipped=0
report=()
for t in "${tests[@]}"; do
	tap=$outdir/$t.tap
	if [[ ! -f $tap ]]; then
		fail "$t did not run"
		failed=$((failed + 1))
		report+=("  $t: did not run")
		continue
	fi
	rc=$(sed -n "s/^KHM-END $t rc=\([0-9]*\)$/\1/p" "$console" | tail -n 1)
	read -r p f s planned < <(awk '
		/^1\.\.[0-9]+/               { planned = substr($1, 4) + 0 }
		/^not ok [0-9]+/             { f++; next }
		/^ok [0-9]+.*# (SKIP|skip)/  { s++; next }
		/^ok [0-9]+.*# XPASS/        { f++; next }
		/^ok [0-9]+/                 { p++ }
		END { printf "%d %d %d %d\n", p, f, s, planned }
	' "$tap")
	why=
	if ((p + f + s < planned)); then
		why="$((planned - p - f - s)) of $planned cases never reported"
		f=$((planned - p - s))
	fi
	if [[ -z $rc ]]; then
		why="${why:+$why, }killed with the VM"
		((f > 0)) || f=1
	elif ((rc == 137)); then
		why="${why:+$why, }killed after ${KHM_TEST_TIMEOUT}s (KHM_TEST_TIMEOUT)"
		((f > 0)) || f=1
	elif ((rc != 0 && rc != 4)); then
		# 4 is KSFT_SKIP: every case skipped.
		why="${why:+$why, }exit status $rc"
		((f > 0)) || f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	line="  $t: $p passed, $f failed"
	((s)) && line+=", $s skipped"
	secs=$(sed -n "s/^KHM-TIME $t \([0-9]*\)$/\1/p" "$console" | tail -n 1)
	[[ -n $secs ]] && line+=" (${secs}s)"
	[[ -n $why ]] && line+=" ($why)"
	report+=("$line")
	if ((f)); then
		fail "$t: $f failed${why:+ ($why)}"
		# The failing cases and the harness's assertion lines before
		# them, so that a log's tail says what broke, not only where.
		while IFS= read -r l; do
			fail "    $l"
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
else
	cp "$console" "$dmesg_log"
fi
splats=$("$here/splats.sh" "$dmesg_log")
if [[ -n $splats ]]; then
	fail "kernel log has splats (see $dmesg_log):"$'\n'"$(head -n 20 <<<"$splats" | sed 's/^/      /')"
fi

# A failure of the run itself counts as one failed case, so that the
# totals say "failed" whenever the exit status does.
for f in "${failures[@]}"; do
	if [[ $f != *_test:* && $f != *" did not run" && $f != "    "* ]]; then
		failed=$((failed + 1))
		break
	fi
done

((${#failures[@]} == 0)) || printf '%s\n' "${failures[@]}" >"$outdir/failures"
printf 'passed=%d\nfailed=%d\nskipped=%d\nseconds=%d\n' \
	"$passed" "$failed" "$skipped" "$seconds" >"$outdir/summary"

echo "$kver: VM ran ${seconds}s, console: $console"
printf '%s\n' "${report[@]}"
if ((${#failures[@]})); then
	echo "$kver: FAILED:"
	printf '  - %s\n' "${failures[@]}"
fi
line="$kver: $passed passed, $failed failed"
((skipped)) && line+=", $skipped skipped"
echo "$line"
((${#failures[@]} == 0))
