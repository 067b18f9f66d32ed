#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/deb.sh [--lintian]: the body of `make deb`. Copies the tree as it
# is (tracked and untracked files that git does not ignore) to
# build/deb/kholmes-<version>/ and builds the binary packages there with
# dpkg-buildpackage: build/deb/kholmes-dkms_<version>_all.deb and
# build/deb/kholmesctl_<version>_<arch>.deb, with their .changes and
# .buildinfo. The version is KHOLMES_VERSION in include/kholmes.h; the
# build stops when debian/changelog's top entry names another one.
# --lintian: then lintian on the .changes, as TAP (ok/not ok), failing on
# any error (warnings are printed, not fatal).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
version=$(sed -n 's/^#define KHOLMES_VERSION[[:space:]]*"\(.*\)"/\1/p' include/kholmes.h)
changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [[ $changelog != "$version" ]]; then
	echo "deb: debian/changelog is at $changelog, include/kholmes.h at $version:" >&2
	echo "  dch -v $version 'New release.'   (one version for the module, the controller and the packages)" >&2
	exit 1
fi

out=$top/build/deb
src=$out/kholmes-$version
arch=$(dpkg --print-architecture)
rm -rf "$out"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$src"

echo "deb: dpkg-buildpackage in ${src#"$top"/}"
(cd "$src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed, log: ${out#"$top"/}/build.log" >&2
	exit 1
}
changes=$out/kholmes_${version}_$arch.changes
ls "$out"/*.deb
[[ ${1:-} == --lintian ]] || exit 0

failed=0 rc=0
lintian --fail-on error --tag-display-limit 0 "$changes" >"$out/lintian.log" 2>&1 || rc=$?
sed 's/^/# /' "$out/lintian.log"
if ((rc == 0)); then
	echo "ok 1 - lintian: no errors in kholmes-dkms and kholmesctl $version"
else
	echo "not ok 1 - lintian: errors in kholmes-dkms or kholmesctl $version"
	failed=1
fi
# kholmesctl loads libdw, libkmod and libcurl with dlopen() (when it
# unwinds a capture, explains a missing module, uploads), and
# libdebuginfod only when DEBUGINFOD_URLS names servers, so dh_shlibdeps
# sees none of them: the package must depend on the first three and
# recommend the last by hand, or captures on a fleet host come out
# unsymbolized and `pull` never reaches a server.
ctl_deb=$(ls "$out"/kholmesctl_"${version}"_*.deb)
rec=$(dpkg-deb -f "$ctl_deb" Recommends)
dep=$(dpkg-deb -f "$ctl_deb" Depends)
if [[ $rec == *libdebuginfod1* && $dep == *libdw1* && $dep == *libelf1* &&
	$dep == *libkmod2* && $dep == *libcurl4* ]]; then
	echo "ok 2 - kholmesctl depends on libdw1, libelf1, libkmod2 and libcurl4 and recommends libdebuginfod1"
else
	echo "# Depends: $dep"
	echo "# Recommends: $rec"
	echo "not ok 2 - kholmesctl depends on libdw1, libelf1, libkmod2 and libcurl4 and recommends libdebuginfod1"
	failed=1
fi
echo "1..2"
exit $failed
