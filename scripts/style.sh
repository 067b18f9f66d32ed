#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/style.sh CHECKPATCH-DIR FILE...: run the kernel's checkpatch.pl
# (--strict, as for a patch to netdev) on the module's and the UAPI's files.
# Fails on any ERROR, WARNING or CHECK.
set -euo pipefail

cp_dir=${1:?usage: $0 CHECKPATCH-DIR FILE...}
shift
if (($# == 0)); then
	echo "style: no files to check" >&2
	exit 1
fi

# kmod/compat.h is the one file that exists to test LINUX_VERSION_CODE
# (design: every kernel difference is keyed there and nowhere else), so
# that check alone is waived for it alone.
checkpatch() {
	perl "$cp_dir/checkpatch.pl" --no-tree --strict --show-types \
		--no-summary --terse "$@" 2>&1
}
compat=()
rest=()
for f in "$@"; do
	if [[ $f == kmod/compat.h ]]; then
		compat+=("$f")
	else
		rest+=("$f")
	fi
done
out=
rc=0
if ((${#rest[@]})); then
	out+=$(checkpatch -f "${rest[@]}")$'\n' || rc=1
fi
if ((${#compat[@]})); then
	out+=$(checkpatch --ignore LINUX_VERSION_CODE -f "${compat[@]}") || rc=1
fi
if ((rc != 0)) || grep -Eq '(ERROR|WARNING|CHECK):' <<<"$out"; then
	printf '%s\n' "$out"
	echo "style: checkpatch found $(grep -Ec '(ERROR|WARNING|CHECK):' <<<"$out") problems in $# files"
	exit 1
fi
echo "style: checkpatch --strict clean on $# files"
