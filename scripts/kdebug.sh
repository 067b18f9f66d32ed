#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/kdebug.sh [--config-only]: the debug kernel of `make kdebug`.
#
# Builds, once, a kernel from Debian's linux-source-6.12 tarball (the source
# of the 6.12 cloud kernel) with x86_64 tinyconfig plus
# selftests/vm/kdebug.config: what the VM suite needs, and KASAN, lockdep
# (PROVE_LOCKING, PROVE_RCU), DEBUG_ATOMIC_SLEEP, kmemleak, DEBUG_LIST,
# UBSAN, the hung task and soft lockup detectors. Every option the fragment
# sets is checked in the final .config: one that olddefconfig dropped fails
# the build.
#
# The kernel is cached outside the work tree, so `make clean` keeps it:
#   $KHOLMES_CACHE (default /var/cache/kholmes)/
#     src-<source package version>/       the tarball, extracted once
#     kdebug-<hash>/                      the build tree (O=), keyed by the
#                                         fragment, the source version and
#                                         the compiler
# A finished build tree has .kdebug-done; a later call only prints. The
# build tree is ready for out-of-tree modules (`make -C KDEBUG_BUILD M=...`:
# modules_prepare done, Module.symvers there).
#
# Standard output is exactly three lines, for scripts (eval-able):
#   KDEBUG_IMAGE=<bzImage>
#   KDEBUG_BUILD=<build tree>
#   KDEBUG_RELEASE=<uname -r of that kernel>
# Progress goes to standard error, the build's output to
# <build tree>/kdebug-build.log. KDEBUG_JOBS (default 2) is make's -j,
# KDEBUG_NICE (default 10) its niceness.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
fragment=$top/selftests/vm/kdebug.config
cache=${KHOLMES_CACHE:-/var/cache/kholmes}
tarball=${KDEBUG_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
jobs=${KDEBUG_JOBS:-2}
niceness=${KDEBUG_NICE:-10}
config_only=0
[[ ${1:-} == --config-only ]] && config_only=1

say() {
	echo "kdebug: $*" >&2
}

die() {
	say "$*"
	exit 1
}

[[ -r $tarball ]] ||
	die "no $tarball; install it: sudo apt-get install linux-source-6.12 (make deps)"
for tool in gcc make bc flex bison perl; do
	command -v "$tool" >/dev/null || die "$tool is missing: sudo make deps"
done
[[ -r /usr/include/libelf.h ]] || die "libelf-dev is missing (objtool): sudo make deps"

# The source's version: the package's, else the tarball's size and mtime.
ver=$(dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null || true)
[[ -n $ver ]] || ver=$(stat -c '%s-%Y' "$tarball")
ver=${ver//[^A-Za-z0-9.+-]/_}
key=$( {
	cat "$fragment"
	echo "source $ver"
	gcc --version | head -n 1
} | sha256sum | cut -c1-16)
src=$cache/src-$ver
build=$cache/kdebug-$key

emit() {
	local image=$build/arch/x86/boot/bzImage release

	release=$(cat "$build/include/config/kernel.release")
	echo "KDEBUG_IMAGE=$image"
	echo "KDEBUG_BUILD=$build"
	echo "KDEBUG_RELEASE=$release"
}

if [[ -f $build/.kdebug-done ]] && ((!config_only)); then
	emit
	exit 0
fi

mkdir -p "$cache"
# One build at a time: another `make kdebug` (another work tree) waits here
# and then finds the kernel built.
exec 9>"$cache/kdebug.lock"
if ! flock -n 9; then
	say "another kdebug build is running; waiting for it"
	flock 9
fi
if [[ -f $build/.kdebug-done ]] && ((!config_only)); then
	emit
	exit 0
fi

start=$(date +%s)
if [[ ! -f $src/Makefile ]]; then
	say "extracting $tarball into $src"
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	nice -n 10 tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	mv "$src.tmp" "$src"
fi

mkdir -p "$build"
log=$build/kdebug-build.log
: >"$log"
kmake() {
	nice -n "$niceness" make -C "$src" O="$build" "$@" >>"$log" 2>&1 ||
		die "make $* failed; the end of $log:$(echo; tail -n 30 "$log")"
}

say "configuring $build (tinyconfig + ${fragment#"$top"/})"
kmake tinyconfig
(cd "$build" && "$src/scripts/kconfig/merge_config.sh" -m -O "$build" \
	"$build/.config" "$fragment") >>"$log" 2>&1 || die "merge_config failed, see $log"
kmake olddefconfig

# Every requirement of the fragment, as olddefconfig left it.
bad=()
while IFS= read -r line; do
	[[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]] || continue
	opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
	have=$(sed -n "s/^$opt=//p" "$build/.config")
	if [[ $want == n ]]; then
		[[ -z $have ]] || bad+=("$opt=$have (wanted n)")
	elif [[ $have != "$want" ]]; then
		bad+=("$opt=${have:-n} (wanted $want)")
	fi
done <"$fragment"
if ((${#bad[@]})); then
	say "olddefconfig did not keep these options of ${fragment#"$top"/}:"
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
say "config checked: every option of the fragment is set"
((config_only)) && { say "config in $build/.config"; exit 0; }

say "building (make -j$jobs, nice $niceness; log: $log); load: $(cut -d' ' -f1-3 /proc/loadavg)"
kmake -j"$jobs" all
kmake modules_prepare
[[ -f $build/arch/x86/boot/bzImage && -f $build/Module.symvers ]] ||
	die "no bzImage or Module.symvers in $build after the build"
secs=$(($(date +%s) - start))
say "built in $((secs / 60)) min $((secs % 60)) s; load now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "seconds=$secs" >"$build/.kdebug-done"
# A build tree without .kdebug-done other than ours is one that was
# interrupted (we hold the lock, so none is running): only disk now.
for d in "$cache"/kdebug-*/; do
	d=${d%/}
	[[ $d != "$build" && ! -f $d/.kdebug-done ]] && rm -rf "$d"
done
emit
