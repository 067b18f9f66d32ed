#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/fleet/run.sh [--rootfs-only] [OUTDIR]: kholmes' Debian
# packages on a real Debian 12 host, in a qemu VM (TCG), judged here as TAP.
# --rootfs-only builds (or finds cached) the root filesystem and stops:
# make check runs it beside the other steps once the packages are built,
# since building it mostly waits on the network.
#
# The VM boots the 6.12 cloud kernel (the newest /boot/vmlinuz-6.12*-cloud-*,
# or KHM_FLEET_KVER) into a Debian 12 root filesystem with systemd as PID 1,
# built by selftests/fleet/rootfs.sh with mmdebstrap and cached in
# KHM_FLEET_CACHE (default /var/cache/kholmes), with everything the packages
# depend on installed (the VM has no network) and the kernel's headers, so
# that DKMS builds the module in the VM as on a fleet host. Its disk is
# opened with snapshot=on: the cached image never changes, and the reboot
# in the middle of the test keeps what the first boot wrote. A second disk
# holds the packages from build/deb/ (make deb) and guest.sh, which a unit
# in the image runs at each boot and which reports on the serial console.
# Boot 1: apt-get install ./*.deb, systemctl enable --now, readiness,
# a capture, reload; reboot. Boot 2: the module and the daemon came back,
# a capture queued while the daemon was stopped, apt-get purge; power off.
#
# OUTDIR (default build/fleet): console.log, result.tap, summary
# (passed= failed= skipped= seconds=). Exit status 0 when all passed.
# KHM_FLEET_TIMEOUT (default 1500) bounds the VM in seconds;
# KHM_VERBOSE=1 copies the console to the terminal; KHM_FLEET_DEBS=DIR
# takes the packages from DIR; KHM_FLEET_DKMS=vm has DKMS compile in the VM.
set -uo pipefail

rootfs_only=0
if [[ ${1:-} == --rootfs-only ]]; then
	rootfs_only=1
	shift
fi
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/build/fleet}
cache=${KHM_FLEET_CACHE:-/var/cache/kholmes}
timeout=${KHM_FLEET_TIMEOUT:-1500}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/console.* "$out"/result.tap "$out"/summary "$out"/payload.ext4
start=$(date +%s)
n=0 failed=0

ok() {
	n=$((n + 1))
	if (($1 == 0)); then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
	fi
}
finish() {
	echo "1..$n"
	printf 'passed=%d\nfailed=%d\nskipped=0\nseconds=%d\n' \
		$((n - failed)) "$failed" $(($(date +%s) - start)) >"$out/summary"
	exit $((failed > 0))
}

kver=${KHM_FLEET_KVER:-$(cd /boot && ls vmlinuz-6.12*-cloud-amd64 2>/dev/null |
	sed 's/^vmlinuz-//' | sort -V | tail -n 1)}
version=$(sed -n 's/^#define KHOLMES_VERSION[[:space:]]*"\(.*\)"/\1/p' "$top/include/kholmes.h")
debdir=${KHM_FLEET_DEBS:-$top/build/deb}
debs=("$debdir"/kholmes-dkms_"$version"_all.deb
	"$debdir"/kholmesctl_"$version"_"$(dpkg --print-architecture)".deb)
if [[ -z $kver ]]; then
	echo "# no /boot/vmlinuz-6.12*-cloud-amd64: make deps"
	ok 1 "a 6.12 cloud kernel to boot"
	finish
fi
for d in "${debs[@]}"; do
	if [[ ! -f $d ]]; then
		echo "# $d missing: make deb"
		ok 1 "the packages are built"
		finish
	fi
done

# What the packages need, installed in the image beforehand: the first of
# each alternative of their Depends.
mapfile -t deps < <(for d in "${debs[@]}"; do dpkg-deb -f "$d" Depends; done |
	tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
	grep -v -x -e '' -e kholmes-dkms -e kholmesctl | sort -u)
t0=$(date +%s)
if ((rootfs_only)); then
	"$here/rootfs.sh" "$cache" "$kver" "${deps[@]}"
	exit
fi
rootfs=$("$here/rootfs.sh" "$cache" "$kver" "${deps[@]}")
ok $? "Debian 12 root filesystem for $kver (${rootfs:-none})"
echo "# rootfs ready in $(($(date +%s) - t0)) s"
((failed)) && finish

payload=$(mktemp -d)
trap 'rm -rf "$payload"' EXIT
cp "$here/guest.sh" "${debs[@]}" "$payload/"

# Where DKMS compiles the module. vm: in the VM, as on a fleet host; under
# TCG on a busy 2-core host that took over 20 minutes (its compiler runs
# emulated), so by default (host) DKMS builds it here, from the package's
# source in a private DKMS tree, as a binaries-only DKMS tarball that the
# VM puts in /usr/share/kholmes-dkms/ before the install: the package's
# own postinst (DKMS's common.postinst) then loads it with dkms ldtarball
# instead of compiling, and installs, tracks and removes the module with
# DKMS as usual. scripts/pkgcheck.sh checks the DKMS build itself.
if [[ ${KHM_FLEET_DKMS:-host} != vm ]]; then
	t0=$(date +%s)
	mkdir -p "$payload/dkms/tree" "$payload/dkms/modules"
	dargs=(--dkmstree "$payload/dkms/tree" --sourcetree "$payload/dkms/pkg/usr/src"
		--installtree "$payload/dkms/modules")
	{
		dpkg-deb -x "${debs[0]}" "$payload/dkms/pkg" &&
			dkms add "kholmes/$version" "${dargs[@]}" &&
			dkms build "kholmes/$version" -k "$kver" "${dargs[@]}" &&
			dkms mktarball "kholmes/$version" -k "$kver" --binaries-only \
				--archive "$payload/kholmes-$version.dkms.tar.gz" "${dargs[@]}"
	} >"$out/dkms-host.log" 2>&1
	ok $? "DKMS on the host: kholmes/$version built for $kver, a binaries-only tarball"
	rm -rf "$payload/dkms"
	echo "# host DKMS build: $(($(date +%s) - t0)) s"
	((failed)) && finish
fi
mkfs.ext4 -q -F -L khm-payload -d "$payload" "$out/payload.ext4" 64M
ok $? "the second disk: guest.sh and the packages"

qemu=(qemu-system-x86_64 -accel tcg -cpu "${KHM_QEMU_CPU:-max}" -m 2048 -smp 2
	-nographic -nic none -kernel "$rootfs/vmlinuz" -initrd "$rootfs/initrd.img"
	-append "root=/dev/vda rw console=ttyS0 tsc=reliable panic=-1 nowatchdog quiet loglevel=3 systemd.show_status=0"
	-drive "file=$rootfs/rootfs.ext4,format=raw,if=virtio,snapshot=on"
	-drive "file=$out/payload.ext4,format=raw,if=virtio,readonly=on")
t0=$(date +%s)
if [[ ${KHM_VERBOSE:-0} != 0 ]]; then
	timeout -k 10 "$timeout" "${qemu[@]}" </dev/null 2>&1 | tee "$out/console.raw"
	qrc=${PIPESTATUS[0]}
else
	timeout -k 10 "$timeout" "${qemu[@]}" </dev/null >"$out/console.raw" 2>&1
	qrc=$?
fi
secs=$(($(date +%s) - t0))
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[A-Za-z]//g' \
	<"$out/console.raw" >"$out/console.log"
rm -f "$out/console.raw"

# The guest's lines, numbered here.
grep -a -o 'KHMF .*' "$out/console.log" >"$out/guest.log"
while IFS= read -r line; do
	case $line in
	"KHMF ok - "*) ok 0 "${line#KHMF ok - }" ;;
	"KHMF not ok - "*) ok 1 "${line#KHMF not ok - }" ;;
	"KHMF #"*) echo "${line#KHMF }" ;;
	esac
done <"$out/guest.log"
grep -q -x 'KHMF phase1 done' "$out/guest.log"
ok $? "the first boot ran to its reboot"
grep -q -x 'KHMF done' "$out/guest.log"
ok $? "the second boot ran to the end"
((qrc == 0))
ok $? "the VM powered off by itself (qemu exit $qrc, ${secs} s, limit ${timeout} s)"
echo "# VM: ${secs} s; console: ${out#"$top"/}/console.log"
finish
