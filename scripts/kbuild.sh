#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/kbuild.sh [--fresh] [--strict] KVER [MAKE-ARGS...]
#
# Build kholmes.ko for kernel release KVER against /lib/modules/KVER/build,
# (KVER "debug": the debug kernel of scripts/kdebug.sh, built if need be)
# with W=1, in build/KVER/src: a private copy of Kbuild, kmod/ and include/,
# so that the objects of one kernel never meet those of another. The module
# ends up in build/KVER/src/kmod/kholmes.ko and the log in build/KVER/build.log.
#
#   --fresh    start from an empty build/KVER/src (every file recompiled, so
#              every warning shows up again)
#   --strict   fail when the compiler or modpost printed any warning
#   --log F    write the log to F instead (e.g. sparse.log)
#   --quiet    only the log, not the terminal; its tail when the build fails
#
# Only sources are copied (not objects or a .ko left in kmod/ by someone's
# in-tree build, which Kbuild could take for up to date), and only when their
# content changed, so an unchanged tree is an incremental no-op.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
fresh=0
strict=0
quiet=0
log=
while (($#)); do
	case $1 in
	--fresh) fresh=1 ;;
	--strict) strict=1 ;;
	--log) log=$2; shift ;;
	--quiet) quiet=1 ;;
	*) break ;;
	esac
	shift
done
if (($# < 1)) || [[ -z $1 ]]; then
	echo "kbuild: no kernel headers found under /lib/modules/*/build;" \
		"install them with: sudo make deps" >&2
	exit 2
fi
kver=$1
shift

kdir=/lib/modules/$kver/build
if [[ $kver == debug ]]; then
	# The debug kernel's build tree (scripts/kdebug.sh; built if need be).
	kd=$("$top/scripts/kdebug.sh") || exit 2
	kdir=$(sed -n 's/^KDEBUG_BUILD=//p' <<<"$kd")
fi
if [[ ! -f $kdir/Makefile ]]; then
	echo "kbuild: no headers for kernel $kver ($kdir is missing)." >&2
	echo "kbuild: install them with: sudo apt-get install linux-headers-$kver" >&2
	exit 2
fi

out=$top/build/$kver
src=$out/src
log=${log:-$out/build.log}
((fresh)) && rm -rf "$src"
mkdir -p "$src"

list_sources() {
	{
		(cd "$1" && find kmod include -type f \( -name '*.[chS]' \
			-o -name Kbuild -o -name Makefile \) 2>/dev/null)
		if [[ -f $1/Kbuild ]]; then echo Kbuild; fi
	} | LC_ALL=C sort
}

# A plain cp (new mtime) when the content differs, so Kbuild always sees
# the change, even when the repository's copy is older than our objects.
while read -r f; do
	if ! cmp -s "$top/$f" "$src/$f"; then
		mkdir -p "$(dirname "$src/$f")"
		cp "$top/$f" "$src/$f"
	fi
done < <(list_sources "$top")
# A header deleted from the repository must not linger here and hide a
# broken include.
LC_ALL=C comm -13 <(list_sources "$top") <(list_sources "$src") | while read -r f; do
	rm -f "$src/$f"
done

# -j unless a make above already runs jobs (its jobserver is in MAKEFLAGS;
# a -j here would reset it and print a warning that fails the W=1 check)
jobs=(-j"$(nproc)")
[[ ${MAKEFLAGS:-} =~ (^|\ )-j|jobserver ]] && jobs=()
set +e
if ((quiet)); then
	make "${jobs[@]}" -C "$kdir" M="$src" W=1 "$@" >"$log" 2>&1
	rc=$?
else
	make "${jobs[@]}" -C "$kdir" M="$src" W=1 "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
fi
set -e
if ((rc != 0)); then
	((quiet)) && tail -n 40 "$log" >&2
	echo "kbuild: build for $kver failed (log: $log)" >&2
	exit "$rc"
fi
if ((strict)) && grep -qi 'warning:' "$log"; then
	echo "kbuild: build for $kver has warnings (W=1), see $log:" >&2
	grep -i 'warning:' "$log" >&2
	exit 1
fi
exit 0
