#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench.sh: the body of `make bench`. Boots every kernel that can
# boot here with bench/init.sh as /init, collects its "BENCH section key
# value" lines, and writes bench/results.json and bench/results.md: the
# module's cost against pidstat, the overhead on three jobs unloaded and
# loaded at 1000 and 100 ms, detection latency, capture and profile cost,
# memory per tracked process. Ratios measured side by side in one run are
# the result; the VM runs under software emulation (TCG), so absolute
# times are not those of hardware.
#
#   KHM_BENCH_KERNELS="rel ..."   only these kernels
#   KHM_BENCH_ROUNDS=11 KHM_BENCH_TRIALS=20   repetitions
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/bench-vm
mkdir -p "$out" "$top/bench"
read -r -a kernels <<<"${KHM_BENCH_KERNELS:-$("$top/scripts/kernels.sh" --vm | tr '\n' ' ')}"
if ((${#kernels[@]} == 0)); then
	echo "bench: no bootable kernel: sudo make deps" >&2
	exit 1
fi

raw=$out/bench.lines
: >"$raw"
for k in "${kernels[@]}"; do
	echo "bench: $k (about 10 minutes under TCG)"
	"$top/scripts/kbuild.sh" --quiet "$k"
	img=$out/$k.img
	# perf, when the host has it, for `perf record` beside the profiler
	KHM_EXTRA_BINS=$(command -v perf || true) \
	KHM_INIT=$top/bench/init.sh "$top/selftests/vm/mkinitramfs.sh" "$img" \
		"$top/build/$k/src/kmod/kholmes.ko" "$top/ctl/kholmesctl" \
		"$top/build/bench"
	log=$out/$k.console.log
	set +e
	timeout -k 5 3000 \
		qemu-system-x86_64 -accel tcg -cpu max -m 3072 -smp 2 -nographic \
		-no-reboot -nic none -kernel "/boot/vmlinuz-$k" -initrd "$img" \
		-append "console=ttyS0 tsc=reliable panic=-1 oops=panic loglevel=4 quiet KHM_BENCH_ROUNDS=${KHM_BENCH_ROUNDS:-11} KHM_BENCH_TRIALS=${KHM_BENCH_TRIALS:-20}" \
		</dev/null 2>&1 | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
		tee "$log" | grep --line-buffered '^BENCH'
	set -e
	sed -n '/^KHM-DMESG-BEGIN/,/^KHM-DMESG-END/p' "$log" >"$out/$k.dmesg"
	splats=$("$top/selftests/vm/splats.sh" "$out/$k.dmesg")
	[[ -z $splats ]] || { echo "bench: $k: kernel log has splats:"; echo "$splats"; }
	grep -q '^KHM-DONE' "$log" || echo "bench: $k: the VM did not finish"
	sed -n "s/^BENCH /$k /p" "$log" >>"$raw"
done

python3 "$top/bench/report.py" "$raw" "$top/bench/results.json" "$top/bench/results.md"
cat "$top/bench/results.md"
