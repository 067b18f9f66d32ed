#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/pkgcheck.sh: how fleets install kholmes, checked on the host, as
# TAP: `make install` into a scratch DESTDIR puts every file where it
# belongs; DKMS builds the module from that installed source for every
# installed kernel (in a private DKMS tree, so the host's is untouched);
# systemd accepts the unit; mandoc accepts the man page, and the man page
# and `kholmesctl help` name the same commands.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() {
	n=$((n + 1))
	if (($1 == 0)); then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		[[ -s $tmp/out ]] && sed 's/^/# /' "$tmp/out" | head -n 30
	fi
}

version=$(sed -n 's/^#define KHOLMES_VERSION[[:space:]]*"\(.*\)"/\1/p' include/kholmes.h)
dest=$tmp/root
make -s install DESTDIR="$dest" PREFIX=/usr >"$tmp/out" 2>&1
ok $? "make install DESTDIR=... PREFIX=/usr"
missing=0
for f in usr/sbin/kholmesctl usr/share/man/man8/kholmesctl.8 \
	lib/systemd/system/kholmesd.service etc/modprobe.d/kholmes.conf \
	etc/kholmes.conf "usr/src/kholmes-$version/dkms.conf" \
	"usr/src/kholmes-$version/Kbuild" "usr/src/kholmes-$version/kmod/Kbuild" \
	"usr/src/kholmes-$version/kmod/main.c" "usr/src/kholmes-$version/include/kholmes.h"; do
	[[ -f $dest/$f ]] || { echo "missing $f"; missing=1; }
done >"$tmp/out"
ok $missing "make install puts every file in place"

make -s install DESTDIR="$tmp/root2" PREFIX=/opt/kholmes >"$tmp/out" 2>&1 &&
	[[ -x $tmp/root2/opt/kholmes/sbin/kholmesctl ]] &&
	grep -q '^ExecStart=/opt/kholmes/sbin/kholmesctl ' "$tmp/root2/lib/systemd/system/kholmesd.service"
ok $? "make install honours PREFIX in the files and in the unit"

mapfile -t kernels < <("$top/scripts/kernels.sh")
dkms_args=(--dkmstree "$tmp/dkms" --sourcetree "$dest/usr/src" --installtree "$tmp/modules")
mkdir -p "$tmp/dkms" "$tmp/modules"
dkms add "kholmes/$version" "${dkms_args[@]}" >"$tmp/out" 2>&1
ok $? "dkms add kholmes/$version"
for k in "${kernels[@]}"; do
	dkms build "kholmes/$version" -k "$k" "${dkms_args[@]}" >"$tmp/out" 2>&1 &&
		find "$tmp/dkms/kholmes/$version/$k" -name 'kholmes.ko*' | grep -q .
	ok $? "dkms build kholmes/$version -k $k"
done

# The unit as installed, with its binary at the scratch path, so that
# systemd can check that what it runs exists.
sed "s|/usr/sbin/kholmesctl|$dest/usr/sbin/kholmesctl|" \
	"$dest/lib/systemd/system/kholmesd.service" >"$tmp/kholmesd.service"
systemd-analyze verify --man=no "$tmp/kholmesd.service" >"$tmp/out" 2>&1 &&
	! grep -v 'Failed to .*\(cgroup\|bus\)' "$tmp/out" | grep -q .
ok $? "systemd-analyze verify kholmesd.service"

mandoc -T lint -W warning "$dest/usr/share/man/man8/kholmesctl.8" >"$tmp/out" 2>&1
ok $? "mandoc -T lint kholmesctl.8"

# Every command in `kholmesctl help` has a .Cm entry in the man page's
# COMMANDS section, and the other way round.
"$dest/usr/sbin/kholmesctl" help 2>/dev/null |
	awk '/^Available subcommands:/ { on = 1; next } on && NF { print $1 } !NF { on = 0 }' |
	sort -u >"$tmp/help"
sed -n '/^\.Sh COMMANDS/,/^\.Sh /p' doc/kholmesctl.8 |
	sed -n 's/^\.It Cm \([a-z]*\).*/\1/p' | sort -u >"$tmp/man"
diff "$tmp/help" "$tmp/man" >"$tmp/out" 2>&1 && [[ -s $tmp/help ]]
ok $? "kholmesctl help and kholmesctl(8) name the same commands"

echo "1..$n"
((failed == 0))
