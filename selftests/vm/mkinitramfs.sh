#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/mkinitramfs.sh OUT.img MODULE.ko KHOLMESCTL SELFTESTS-DIR [TEST...]
#
# Build the test VM's initramfs (cpio newc, gzip):
#
#   /init                      selftests/vm/init.sh, or $KHM_INIT
#   /bin/busybox + applets     busybox-static, one symlink per applet
#   /lib/kholmes/kholmes.ko    MODULE.ko
#   /lib/kholmes/helper/*.ko   test-only modules: $KHM_HELPER_DIR, or
#                              build/KVER/helper beside MODULE's build
#   /bin/kholmesctl            KHOLMESCTL, with the shared libraries ldd
#                              reports and the dynamic loader, and libdw
#                              and libkmod, which it loads when it needs
#                              them
#   /selftests/*               every file of SELFTESTS-DIR: the static test
#                              binaries (*_test) and workloads; only the TEST
#                              names given, if any, of the *_test binaries
#   /bin/<name>                each host binary $KHM_EXTRA_BINS names
#                              (space-separated paths), with its libraries
#   what <test>.extra names    for each test going in that has a
#                              SELFTESTS-DIR/<test>.extra: each host path
#                              (or glob) of it, one a line, '#' comments:
#                              an executable as /bin/<name>, with its
#                              libraries; a directory, whole, and any other
#                              file, with the libraries ldd finds for it,
#                              at the same path; one missing is left out
#                              (the test skips what needs it)
#   /etc/passwd, /etc/group    root and nobody (65534)
#   /etc/khm.env               KHM_MODPARAMS, KHM_TEST_TIMEOUT, KHM_TEST_ARGS
#                              and every KHM_FUZZ_* from our environment
set -euo pipefail

if (($# < 4)); then
	echo "usage: $0 OUT.img MODULE.ko KHOLMESCTL SELFTESTS-DIR [TEST...]" >&2
	exit 2
fi
img=$1 module=$2 ctl=$3 tests_dir=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)

for f in "$module" "$ctl"; do
	[[ -f $f ]] || { echo "mkinitramfs: $f does not exist" >&2; exit 1; }
done
[[ -d $tests_dir ]] || { echo "mkinitramfs: no $tests_dir (make selftests)" >&2; exit 1; }
busybox=$(command -v busybox || true)
# ldd fails on a static binary, which is the one we want.
if [[ -z $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
	echo "mkinitramfs: a static busybox is needed: sudo apt-get install busybox-static" >&2
	exit 1
fi

root=$(mktemp -d "${img%/*}/.initramfs.XXXXXX")
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,etc,lib/kholmes,proc,root,run,selftests,sys,tmp}
chmod 1777 "$root/tmp"

install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[[ $applet == busybox ]] && continue
	ln -sf busybox "$root/bin/$applet"
done

install -m 0755 "${KHM_INIT:-$here/init.sh}" "$root/init"
install -m 0644 "$module" "$root/lib/kholmes/kholmes.ko"
# test-only helper modules (selftests/kmod_helper/build.sh), when built
helper=${KHM_HELPER_DIR:-${module%/src/kmod/*}/helper}
if compgen -G "$helper/*.ko" >/dev/null; then
	mkdir -p "$root/lib/kholmes/helper"
	install -m 0644 "$helper"/*.ko "$root/lib/kholmes/helper/"
fi

# add_bin HOST-PATH NAME: /bin/NAME and every absolute path ldd prints for
# it, the libraries and the loader.
add_bin() {
	local lib

	install -m 0755 "$1" "$root/bin/$2"
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(ldd "$1" | grep -o '/[^ ]*' | sort -u)
}

# add_extra HOST-PATH: see <test>.extra above.
add_extra() {
	local lib

	if [[ -d $1 ]]; then
		mkdir -p "$root$(dirname "$1")"
		cp -rL "$1" "$root$1"
		return
	fi
	if [[ -x $1 && $1 != *.so* ]]; then
		add_bin "$1" "${1##*/}"
		return
	fi
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

# add_extras FILE: every path FILE names.
add_extras() {
	local line p

	while read -r line; do
		[[ -z $line || $line == \#* ]] && continue
		for p in $line; do
			if [[ -e $p ]]; then
				add_extra "$p"
			else
				echo "mkinitramfs: ${1##*/}: no $p on this host, left out" >&2
			fi
		done
	done <"$1"
}

add_bin "$ctl" kholmesctl
# and what it loads when it needs it, which ldd does not list: libdw to
# unwind a capture, libkmod to explain a missing module
libc=$(ldd "$ctl" 2>/dev/null | grep -o '/[^ ]*/libc\.so\.6' || true)
for f in libdw.so.1 libkmod.so.2; do
	if [[ -n $libc && -e ${libc%/*}/$f ]]; then
		add_extra "${libc%/*}/$f"
	fi
done
for b in ${KHM_EXTRA_BINS:-}; do
	[[ -x $b ]] || { echo "mkinitramfs: no executable $b" >&2; exit 1; }
	add_bin "$b" "${b##*/}"
done

if (($#)); then
	for t in "$@"; do
		t=${t%_test}_test
		[[ -x $tests_dir/$t ]] || { echo "mkinitramfs: no test $tests_dir/$t" >&2; exit 1; }
		install -m 0755 "$tests_dir/$t" "$root/selftests/$t"
		[[ -f $tests_dir/$t.extra ]] && add_extras "$tests_dir/$t.extra"
	done
	for f in "$tests_dir"/*; do
		[[ -f $f && $f != *_test ]] && install -m 0755 "$f" "$root/selftests/"
	done
else
	for f in "$tests_dir"/*; do
		[[ -f $f ]] && install -m 0755 "$f" "$root/selftests/"
		[[ $f == *_test.extra ]] && add_extras "$f"
	done
fi

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nogroup:x:65534:
EOF
{
	printf 'KHM_MODPARAMS=%q\n' "${KHM_MODPARAMS:-}"
	printf 'KHM_TEST_TIMEOUT=%q\n' "${KHM_TEST_TIMEOUT:-300}"
	printf 'KHM_TEST_ARGS=%q\n' "${KHM_TEST_ARGS:-}"
	# test knobs, e.g. the fuzzer's KHM_FUZZ_SEED or real_test's
	# KHM_REAL_STEADY_S, reach the tests as is
	for v in ${!KHM_FUZZ_@} ${!KHM_REAL_@} ${!KHM_ARGS_@}; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
} >"$root/etc/khm.env"

# The kernel opens /dev/console before running /init; its built-in
# initramfs has the node, but add it where we may (root) in case.
mknod -m 0600 "$root/dev/console" c 5 1 2>/dev/null || true

(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$img.tmp"
mv "$img.tmp" "$img"
