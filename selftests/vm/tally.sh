#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/tally.sh [-k EXPECTED-KERNELS] [-s EXPECTED-SKIPS] KERNEL=DIR[,DIR...]...
#
# The VM part of scripts/check.sh's accounting, apart so that
# scripts/tests/ can feed it fabricated results: for each KERNEL, the
# results (summary, failures, skips) judge.sh left in each of its VM
# output directories DIR. Prints, for check.sh to read:
#
#   ADD|<name>|<passed>|<failed>|<skipped>|<note>   one line of the summary
#   SAY|<text>                                      a line for the closing
#                                                   summary (skips, why)
#
# and exits 1 when anything is wrong:
#   - a VM left no summary (it never ran, or its runner died);
#   - a VM's failures file is not empty: then its run counts at least one
#     failed case, whatever its summary says;
#   - a kernel of EXPECTED-KERNELS (default selftests/vm/kernels: one
#     bash pattern of a release per line, "debug" for the debug kernel)
#     has no KERNEL= argument matching it with a VM that ran: it is named
#     as missing and counts one failure;
#   - a skipped case that no line of EXPECTED-SKIPS (default
#     selftests/expected-skips: "<kernel pattern> <test> <case> <reason>")
#     allows: it counts as failed, not skipped. Every skipped case is
#     listed by name, expected or not.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
expected_kernels=$here/kernels
expected_skips=$here/../expected-skips
while getopts k:s: opt; do
	case $opt in
	k) expected_kernels=$OPTARG ;;
	s) expected_skips=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

bad=0
ran=()

# skip_expected KERNEL TEST CASE: whether EXPECTED-SKIPS allows it.
skip_expected() {
	local kpat tpat cpat _

	[[ -f $expected_skips ]] || return 1
	while read -r kpat tpat cpat _; do
		[[ -z $kpat || $kpat == \#* ]] && continue
		# shellcheck disable=SC2053 # the patterns are globs
		if [[ $1 == $kpat && $2 == $tpat && $3 == $cpat ]]; then
			return 0
		fi
	done <"$expected_skips"
	return 1
}

# field FILE NAME: NAME=value of a summary file (0 when absent).
field() {
	local v

	v=$(sed -n "s/^$2=\([0-9]*\)$/\1/p" "$1" | tail -n 1)
	echo "${v:-0}"
}

for arg in "$@"; do
	k=${arg%%=*}
	IFS=, read -r -a dirs <<<"${arg#*=}"
	kp=0 kf=0 ks=0 secs=0 notes=() booted=0
	for d in "${dirs[@]}"; do
		if [[ ! -f $d/summary ]]; then
			kf=$((kf + 1))
			notes+=("${d##*/} left no summary")
			bad=1
			continue
		fi
		booted=1
		p=$(field "$d/summary" passed) f=$(field "$d/summary" failed)
		s=$(field "$d/summary" skipped)
		secs=$((secs + $(field "$d/summary" seconds)))
		if [[ -s $d/failures ]]; then
			bad=1
			if ((f == 0)); then
				f=1
				notes+=("${d##*/} recorded failures but counted none")
			fi
			notes+=("see ${d##*/}/failures")
		fi
		((f)) && bad=1
		named=0
		if [[ -f $d/skips ]]; then
			while read -r t c why; do
				[[ -n $t ]] || continue
				named=$((named + 1))
				if skip_expected "$k" "$t" "$c"; then
					echo "SAY|skipped on $k: $t $c ($why) - expected"
				else
					echo "SAY|skipped on $k: $t $c ($why) - NOT EXPECTED (selftests/expected-skips)"
					s=$((s - 1)) f=$((f + 1)) bad=1
				fi
			done <"$d/skips"
		fi
		if ((s > named)); then
			echo "SAY|skipped on $k: $((s - named)) cases without a name - NOT EXPECTED"
			f=$((f + s - named)) s=$named bad=1
		fi
		kp=$((kp + p)) kf=$((kf + f)) ks=$((ks + s))
	done
	((booted)) && ran+=("$k")
	note="${#dirs[@]} VMs ${secs}s"
	((${#notes[@]})) && note+=", $(printf '%s, ' "${notes[@]}")" && note=${note%, }
	echo "ADD|$k|$kp|$kf|$ks|$note"
done

if [[ -f $expected_kernels ]]; then
	while read -r pat _; do
		[[ -z $pat || $pat == \#* ]] && continue
		found=0
		for k in "${ran[@]}"; do
			# shellcheck disable=SC2053 # a glob
			[[ $k == $pat ]] && found=1
		done
		if ((!found)); then
			echo "ADD|kernel $pat|0|1|0|expected (selftests/vm/kernels) but did not run"
			echo "SAY|MISSING: no VM ran on a kernel $pat"
			bad=1
		fi
	done <"$expected_kernels"
else
	echo "SAY|no list of expected kernels ($expected_kernels)"
	bad=1
fi
exit "$bad"
