#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/demo.sh: the body of `make demo`. Boots the newest kernel that
# can boot here under qemu with kholmes loaded and its daemon running,
# stages an incident (demo/init.sh: a service stuck in a hot loop, a cache
# that leaks, a server that bursts threads), brings the capture files back
# into ./demo-captures/, prints the CPU spike's report, and checks what it
# saw: one closing line "N passed, N failed".
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/demo-vm
dest=$top/demo-captures

# The newest kernel, preferring the fleet's usual flavour to PREEMPT_RT.
kver=$("$top/scripts/kernels.sh" --vm | grep -v -- '-rt-' | tail -n 1)
[[ -n $kver ]] || kver=$("$top/scripts/kernels.sh" --vm | tail -n 1)
if [[ -z $kver ]]; then
	echo "demo: no kernel with /boot/vmlinuz-<release> and headers: sudo make deps" >&2
	exit 1
fi
"$top/scripts/kbuild.sh" --quiet "$kver"
mkdir -p "$out"
img=$out/initramfs.img
KHM_INIT=$top/demo/init.sh "$top/selftests/vm/mkinitramfs.sh" "$img" \
	"$top/build/$kver/src/kmod/kholmes.ko" "$top/ctl/kholmesctl" \
	"$top/build/demo"

echo "demo: booting $kver under qemu (software emulation: slow, ~1 min)"
raw=$out/console.raw
set +e
timeout -k 5 150 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 \
	-nographic -no-reboot -nic none -kernel "/boot/vmlinuz-$kver" \
	-initrd "$img" -append "console=ttyS0 tsc=reliable panic=-1 oops=panic loglevel=4 quiet" \
	</dev/null 2>&1 | tee "$raw" |
	sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
	awk '/^KHM-INSMOD-OK/ { show = 1; next } /^KHM-FILES-BEGIN/ { show = 0 }
		show && !/^\[/ { print; fflush() }'
set -e
log=$out/console.log
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$raw" >"$log"

rm -rf "$dest"
mkdir -p "$dest"
sed -n '/^KHM-FILES-BEGIN/,/^KHM-FILES-END/p' "$log" | sed '1d;$d' |
	base64 -d 2>/dev/null | gzip -dc 2>/dev/null |
	tar -xf - -C "$dest" --strip-components=1 2>/dev/null || true
sed -n '/^KHM-DMESG-BEGIN/,/^KHM-DMESG-END/p' "$log" >"$out/dmesg.log"

passed=0 failed=0
check() {
	local what=$1

	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "  ok: $what"
	else
		failed=$((failed + 1))
		echo "  FAILED: $what"
	fi
}
report() {
	find "$dest" -name "*-$1-*-$2-*.txt" | sort | head -n 1
}
loaded() {
	grep -q '^KHM-INSMOD-OK' "$log" && grep -q '^KHM-RMMOD-OK' "$log"
}
names() {
	[[ -n $1 ]] && grep -q "$2" "$1"
}
complete() {
	local t n=0

	for t in "$dest"/*.txt; do
		[[ -f $t && -f ${t%.txt}.json && -f ${t%.txt}.folded ]] || return 1
		n=$((n + 1))
	done
	((n > 0))
}
clean() {
	[[ -s $out/dmesg.log && -z $("$top/selftests/vm/splats.sh" "$out/dmesg.log") ]]
}

cpu=$(report checkout cpu)
echo
if [[ -n $cpu ]]; then
	echo "demo: the CPU spike's report, ${cpu#"$top"/}:"
	echo
	cat "$cpu"
	echo
fi
echo "demo: capture files in ./demo-captures/:"
find "$dest" -type f -printf "  %f\n" | sort
echo
echo "demo: what it should have seen:"
check "the module loaded and unloaded" loaded
check "a cpu capture of checkout names compute_invoice_totals" \
	names "$cpu" compute_invoice_totals
check "an rss capture of leaky" names "$(report leaky rss)" .
check "a threads capture of burst names wait_for_client" \
	names "$(report burst threads)" wait_for_client
before() {
	[[ -n $cpu ]] && sed -n '/^before the trigger/,$p' "$cpu" |
		grep -q compute_invoice_totals &&
		grep -q compute_invoice_totals "${cpu%.txt}.before.folded" &&
		[[ -s ${cpu%.txt}.before.pb.gz ]]
}
check "its 'before the trigger' section and .before.folded name compute_invoice_totals" \
	before
check "a cpu profile of checkout has compute_invoice_totals on top" \
	names "$(find "$dest" -name '*-checkout-*-cpu-*.cpu.folded' | head -n 1)" \
	compute_invoice_totals
check "a page-fault profile of leaky names cache_insert" \
	names "$(find "$dest" -name '*-leaky-*.faults.folded' | head -n 1)" cache_insert
pprof_top() {
	local f

	f=$(find "$dest" -name '*-checkout-*.cpu.pb.gz' | head -n 1)
	[[ -n $f ]] || return 1
	# go tool pprof is what people open these with; skip if it is absent
	command -v go >/dev/null || { echo "  (go not installed: not checked with go tool pprof)"; return 0; }
	go tool pprof -top "$f" 2>/dev/null | grep -q compute_invoice_totals
}
check "go tool pprof -top reads the cpu profile" pprof_top
check "every capture has its .txt, .json and .folded" complete
check "a clean kernel log" clean
echo "$passed passed, $failed failed"
((failed == 0))
