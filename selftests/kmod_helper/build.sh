#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/kmod_helper/build.sh KVER
#
# Build the test-only khm_sick.ko for kernel KVER into build/KVER/helper/,
# where selftests/vm/mkinitramfs.sh picks up every *.ko for the VM's
# /lib/kholmes/helper/. Where the kernel has FUSE as a module (6.1 cloud),
# its fuse.ko goes there too, uncompressed for busybox's insmod; and so do
# the modules the VM's virtio disk needs where they are modules (virtio_blk
# on every stock kernel, virtio and virtio_pci on 6.1, ext4 on 6.12-rt), as
# disk-NN-<name>.ko in the order modprobe would load them (busybox's insmod
# knows no dependencies): real_test loads them in that order.
set -euo pipefail

kver=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/$kver/helper
kdir=/lib/modules/$kver/build
if [[ $kver == debug ]]; then
	# the debug kernel of scripts/kdebug.sh: FUSE is built in there
	kd=$("$top/scripts/kdebug.sh") || exit 2
	kdir=$(sed -n 's/^KDEBUG_BUILD=//p' <<<"$kd")
fi

[[ -f $kdir/Makefile ]] || { echo "helper: no headers for $kver" >&2; exit 2; }
mkdir -p "$out"
for f in khm_sick.c Kbuild; do
	cmp -s "$here/$f" "$out/$f" || cp "$here/$f" "$out/$f"
done
make -C "$kdir" M="$out" W=1 >"$out/build.log" 2>&1 ||
	{ tail -n 30 "$out/build.log" >&2; exit 1; }
fuse=$(find "/lib/modules/$kver/kernel/fs/fuse" -name 'fuse.ko*' 2>/dev/null | head -n 1 || true)
case $fuse in
*.ko) cp "$fuse" "$out/fuse.ko" ;;
*.ko.xz) xz -dc "$fuse" >"$out/fuse.ko" ;;
*.ko.zst) zstd -qdc "$fuse" >"$out/fuse.ko" ;;
esac

# unpack SRC DST: a module, uncompressed
unpack() {
	case $1 in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*) echo "helper: what is $1?" >&2; return 1 ;;
	esac
}

rm -f "$out"/disk-*.ko
# the debug kernel has them built in
[[ $kver == debug ]] && exit 0
n=0
while read -r ko; do
	name=${ko##*/}
	n=$((n + 1))
	unpack "$ko" "$(printf '%s/disk-%02d-%s.ko' "$out" "$n" "${name%%.ko*}")"
done < <(for m in virtio_pci virtio_blk ext4; do
		PATH=$PATH:/usr/sbin:/sbin modprobe -S "$kver" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
exit 0
