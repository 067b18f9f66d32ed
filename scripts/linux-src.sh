#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/linux-src.sh OUTDIR: take the few files kholmes borrows from the
# kernel tree out of Debian's linux-source tarball (linux-source-6.12
# preferred, else the newest one installed) into OUTDIR:
#
#   OUTDIR/ksft/kselftest_harness.h, kselftest.h   the kselftest harness
#   OUTDIR/checkpatch/checkpatch.pl, spelling.txt,
#                     const_structs.checkpatch       checkpatch and its data
#
# They are never copied into the repository. One pass over the tarball
# (xz has no index, so every extraction reads all of it).
set -euo pipefail

out=${1:?usage: $0 OUTDIR}
shopt -s nullglob
tarballs=(/usr/src/linux-source-6.12.tar.xz)
[[ -f ${tarballs[0]} ]] || tarballs=(/usr/src/linux-source-*.tar.xz)
if ((${#tarballs[@]} == 0)); then
	echo "linux-src: no /usr/src/linux-source-*.tar.xz; install it: sudo make deps" >&2
	exit 1
fi
tarball=$(printf '%s\n' "${tarballs[@]}" | sort -V | tail -n 1)
top=$(basename "$tarball" .tar.xz)

mkdir -p "$out"
tmp=$(mktemp -d "$out/.linux-src.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
files=(
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
)
tar -xJf "$tarball" -C "$tmp" --strip-components=1 "${files[@]/#/$top/}"

mkdir -p "$out/ksft" "$out/checkpatch"
# The 6.12 harness changes `child` between setjmp() and the longjmp() of
# a failed ASSERT without declaring it volatile, so at -O2 it can come back
# as 1: the test then takes itself for the parent and skips its teardown,
# leaving workloads and configuration behind for the next test. Declaring
# it volatile is what C requires; the copy in OUTDIR gets that one word.
sed 's/^\(\t*\)pid_t child = 1; \\$/\1volatile pid_t child = 1; \\/' \
	"$tmp"/tools/testing/selftests/kselftest_harness.h >"$out/ksft/kselftest_harness.h"
grep -q 'volatile pid_t child = 1;' "$out/ksft/kselftest_harness.h" ||
	echo "linux-src: note: the harness's child variable was not found to fix" >&2
cp "$tmp"/tools/testing/selftests/kselftest.h "$out/ksft/"
cp "$tmp"/scripts/checkpatch.pl "$tmp"/scripts/spelling.txt \
	"$tmp"/scripts/const_structs.checkpatch "$out/checkpatch/"
echo "linux-src: kselftest harness and checkpatch from $(basename "$tarball")"
