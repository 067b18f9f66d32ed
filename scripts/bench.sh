#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench.sh: the body of `make bench`. Boots every kernel that can
# boot here with bench/init.sh as /init, collects its "BENCH section key
# value [round]" lines, and writes bench/results.json, bench/results.md
# and the README's Cost table (bench/report.py). Per kernel, two VMs: the
# full bench under multi-threaded TCG, and the overhead rounds again under
# `-icount` (virtual time counted in instructions), for what resolution
# that gives the fork- and context-switch-bound jobs.
#
# It fails, leaving bench/ and README.md as they were (the run's files are
# in build/bench-vm/), on a kernel splat, a VM that did not finish or a
# missing measurement.
#
#   KHM_BENCH_KERNELS="rel ..."   only these kernels
#   KHM_BENCH_SEED=N              the seed of every drawn order and phase
#                                 (default: drawn, and printed)
#   KHM_BENCH_ROUNDS=11 KHM_BENCH_TRIALS=30 KHM_BENCH_PASSES=11
#   KHM_BENCH_ICOUNT_ROUNDS=5     repetitions (0: no -icount VM)
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
seed=${KHM_BENCH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "bench: seed $seed (KHM_BENCH_SEED=$seed repeats every drawn order and phase)"
icount_rounds=${KHM_BENCH_ICOUNT_ROUNDS:-5}

raw=$out/bench.lines
: >"$raw"
failed=()

# vm KERNEL NAME TIMEOUT CPUS QEMU-ARGS... -- APPEND: one VM run; its console
# in $out/KERNEL.NAME.log, its BENCH lines (prefixed with KERNEL) in $raw
vm() {
	local k=$1 name=$2 limit=$3 cpus=$4 log=$out/$1.$2.console.log t0 splats
	shift 4
	local qargs=()
	while [[ $1 != -- ]]; do
		qargs+=("$1")
		shift
	done
	shift
	t0=$SECONDS
	set +e
	timeout -k 5 "$limit" \
		qemu-system-x86_64 "${qargs[@]}" -m 3072 -smp "$cpus" -nographic \
		-no-reboot -nic none -kernel "/boot/vmlinuz-$k" -initrd "$out/$k.img" \
		-append "console=ttyS0 tsc=reliable panic=-1 oops=panic loglevel=4 quiet KHM_BENCH_SEED=$seed $*" \
		</dev/null 2>&1 | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
		tee "$log" | grep --line-buffered '^BENCH\|^bench:'
	set -e
	echo "bench: $k $name: $((SECONDS - t0)) s"
	sed -n '/^KHM-DMESG-BEGIN/,/^KHM-DMESG-END/p' "$log" >"$out/$k.$name.dmesg"
	splats=$("$top/selftests/vm/splats.sh" "$out/$k.$name.dmesg")
	if [[ -n $splats ]]; then
		echo "bench: $k $name: kernel log has splats:"
		echo "$splats"
		failed+=("$k $name: splat")
	fi
	if ! grep -q '^KHM-DONE' "$log"; then
		echo "bench: $k $name: the VM did not finish"
		failed+=("$k $name: did not finish")
	fi
	grep -q '^KHM-INSMOD-FAIL' "$log" && failed+=("$k $name: insmod failed")
	grep -q '^KHM-RMMOD-FAIL' "$log" && failed+=("$k $name: rmmod failed")
	# the -icount VM's meta lines are its own
	sed -n -e "s/^BENCH meta /BENCH $name-meta /" -e "s/^BENCH full-meta /BENCH meta /" \
		-e "s/^BENCH /$k /p" "$log" >>"$raw"
	echo "$k meta $name-vm-s $((SECONDS - t0))" >>"$raw"
}

for k in "${kernels[@]}"; do
	echo "bench: $k"
	"$top/scripts/kbuild.sh" --quiet "$k"
	# perf, when the host has it, for `perf record` beside the profiler
	KHM_EXTRA_BINS=$(command -v perf || true) \
	KHM_INIT=$top/bench/init.sh "$top/selftests/vm/mkinitramfs.sh" "$out/$k.img" \
		"$top/build/$k/src/kmod/kholmes.ko" "$top/ctl/kholmesctl" \
		"$top/build/bench"
	vm "$k" full 3000 2 -accel tcg -cpu max -- \
		"KHM_BENCH_ROUNDS=${KHM_BENCH_ROUNDS:-11}" \
		"KHM_BENCH_TRIALS=${KHM_BENCH_TRIALS:-30}" \
		"KHM_BENCH_PASSES=${KHM_BENCH_PASSES:-11}"
	if ((icount_rounds > 0)); then
		# 1 ns of guest time per instruction. One vCPU: -icount runs
		# every vCPU on one host thread anyway, and qemu 7.2 under
		# -icount never brings up 6.1's second CPU (the guest clock
		# stops at "x86: Booting SMP configuration")
		vm "$k" icount 1800 1 -accel tcg -cpu max -icount shift=0,sleep=on -- \
			"KHM_BENCH_ROUNDS=$icount_rounds" KHM_BENCH_MODE=icount
	fi
done

rc=0
# a run of some kernels keeps the others' last figures, each table column
# saying which commit it measured
python3 "$top/bench/report.py" "$raw" "$out/results.json" "$out/results.md" \
	--keep "$top/bench/results.json" || rc=$?
((rc == 0)) || failed+=("missing or failed measurements (report.py above)")
if ((${#failed[@]})); then
	printf 'bench: FAILED: %s\n' "${failed[@]}" >&2
	echo "bench: bench/ and README.md left as they were; this run's files: $out/" >&2
	exit 1
fi
cp "$out/results.json" "$out/results.md" "$top/bench/"
python3 "$top/bench/report.py" --readme "$top/bench/results.json" "$top/README.md"
cat "$top/bench/results.md"
