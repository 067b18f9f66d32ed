#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/fleet/rootfs.sh CACHE KVER PACKAGE...
#
# A Debian 12 root filesystem for the fleet VM test (selftests/fleet/run.sh),
# built once with mmdebstrap from the archive in the host's apt sources and
# cached in CACHE/<key>/: rootfs.ext4 (the disk, opened read-only by the
# test, whose writes go to a qemu snapshot), vmlinuz and initrd.img (the
# image's own kernel KVER and its initramfs-tools initramfs), packages (the
# list it was built from). The key is a hash of this script and the package
# list, so a change to either builds a new one; older ones are removed.
# Prints the directory. The image has systemd as PID 1, KVER's image and
# headers (DKMS builds the module there), and whatever PACKAGEs the test
# needs installed beforehand (the VM has no network). A unit,
# khm-fleet-test.service, runs /guest.sh from the second disk at every boot
# and writes to the serial console.
set -euo pipefail

if (($# < 2)); then
	echo "usage: $0 CACHE KVER PACKAGE..." >&2
	exit 2
fi
cache=$1 kver=$2
shift 2
packages=(systemd-sysv udev kmod procps mawk
	"linux-image-$kver" "linux-headers-$kver" dkms gcc make "$@")
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
key=$({ cat "$0"; printf '%s\n' "${packages[@]}"; } | sha256sum | cut -c1-16)
dir=$cache/rootfs-$key
if [[ -f $dir/rootfs.ext4 && -f $dir/vmlinuz && -f $dir/initrd.img ]]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
for old in "$cache"/rootfs-*; do
	[[ $old == "$dir" || ! -d $old ]] || rm -rf "$old"
done
tmp=$cache/tmp-$key
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# The archive as the host's apt knows it (main, updates, security: the
# kernel packages come from the latter).
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources; do
	[[ -s $f ]] && sources+=("$f")
done

export KHM_UNIT='[Unit]
Description=kholmes fleet test (second disk: /guest.sh)
ConditionPathExists=/dev/vdb

[Service]
Type=simple
ExecStart=/bin/sh -c "mkdir -p /run/khm-test && mount -o ro /dev/vdb /run/khm-test && exec /bin/bash /run/khm-test/guest.sh"
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target'

echo "fleet rootfs: mmdebstrap bookworm, ${#packages[@]} packages, into $tmp" >&2
mmdebstrap --variant=apt --mode=root \
	--include="$(IFS=,; echo "${packages[*]}")" \
	--customize-hook='echo kholmes-fleet >"$1/etc/hostname"' \
	--customize-hook='echo "/dev/vda / ext4 defaults 0 0" >"$1/etc/fstab"' \
	--customize-hook='printf "%s\n" "$KHM_UNIT" >"$1/etc/systemd/system/khm-fleet-test.service"' \
	--customize-hook='chroot "$1" systemctl enable khm-fleet-test.service' \
	--customize-hook='for u in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer systemd-timesyncd.service; do ln -sf /dev/null "$1/etc/systemd/system/$u"; done' \
	bookworm "$tmp/root" "${sources[@]}" >"$cache/build.log" 2>&1 </dev/null || {
	tail -n 30 "$cache/build.log" >&2
	echo "fleet rootfs: mmdebstrap failed, log: $cache/build.log" >&2
	exit 1
}

cp "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$tmp/root/boot/initrd.img-$kver" "$tmp/initrd.img"
size=$(( $(du -sm "$tmp/root" | cut -f1) + 1536 ))
mkfs.ext4 -q -F -L khm-fleet -d "$tmp/root" "$tmp/rootfs.ext4" "${size}M" >&2
rm -rf "$tmp/root"
printf '%s\n' "${packages[@]}" >"$tmp/packages"
mv "$tmp" "$dir"
trap - EXIT
echo "fleet rootfs: built in $(($(date +%s) - start))s, $(du -sh --apparent-size "$dir/rootfs.ext4" | cut -f1)" >&2
echo "$dir"
