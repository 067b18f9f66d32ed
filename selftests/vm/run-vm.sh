#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/run-vm.sh KVER OUTDIR
#
# Boot /boot/vmlinuz-KVER under qemu (TCG: no KVM here) with an initramfs
# holding the module built for KVER, kholmesctl, busybox and every selftest,
# and judge the run from the serial console (judge.sh). /init (init.sh)
# loads the module, runs each test binary, unloads the module, has kmemleak
# scan where the kernel has it, and dumps dmesg. KVER "debug" is the debug
# kernel of `make kdebug` (KASAN, lockdep, kmemleak...; scripts/kdebug.sh
# builds it if it is not cached), with the module scripts/kbuild.sh debug
# built against it.
#
# The VM has one disk, virtio-blk /dev/vda: OUTDIR/disk.img, a fresh empty
# ext4 image of 32 MiB (sparse, made anew for each run, so VMs that run
# side by side have one each). Nothing mounts it at boot; real_test's
# majflt case loads the drivers where they are modules
# (selftests/kmod_helper/build.sh), mounts it and faults pages of a file
# on it after dropping caches. The debug kernel boots with pci=noacpi: it
# has no PCI_MSI, so virtio-pci needs its INTx routed, and ACPI's _PRT,
# interpreted under KASAN and TCG, timed out (AE_AML_LOOP_TIMEOUT, "PCI
# INT A: no GSI") and the boot hung in virtio_blk's probe; the BIOS's
# $PIR table and the PIIX router route it (IRQ 11).
#
# The kernel boots with loglevel=5 (warnings reach the console even when
# the VM dies before its dmesg dump) and log_buf_len=8M (judge.sh fails a
# dump that lost the boot's first line), and tsc=reliable: on a loaded
# host the clocksource watchdog finds the emulated TSC skewed against the
# HPET, marks it unstable and flips the sched_clock static key while every
# CPU runs through it; under TCG that patching can leave a stale int3 in
# translated code, and the guest dies with "Oops: int3" in
# sched_clock_tick (seen in storm_test on 6.12 under make check).
#
# The run fails when the module does not load or unload, when any test case
# fails or a test binary dies without reporting all its cases, when the VM
# does not reach the end of /init within its time limit, when the kernel
# log has a splat (splats.sh: BUG, WARNING, Oops, KASAN, lockdep, RCU,
# UBSAN, hung task, soft lockup, ...) or wrapped, or when kmemleak reports
# a leak. Results in OUTDIR: console.log (everything), <test>.tap,
# dmesg.log, kmemleak.log, skips, failures (why the run failed) and summary
# (passed= failed= skipped= seconds=, read by scripts/check.sh). Exit
# status 0 when nothing failed.
#
# Environment, for debugging:
#   KHM_TESTS="rig_test other"  only these test binaries (words or commas)
#   KHM_TEST_ARGS="-t name"     arguments for every test binary (harness
#                               filters: -t test, -f fixture, -v variant)
#   KHM_ARGS_<name>="-t case"   arguments for <name>_test only, instead
#   KHM_MODPARAMS="window=4"    module parameters for /init's insmod
#   KHM_TEST_TIMEOUT=600        seconds per test binary in the VM (1200
#                               on the debug kernel)
#   KHM_VM_TIMEOUT=1800         seconds for the whole VM (3600 on debug)
#   KHM_VERBOSE=1               copy the console to the terminal live
#   KHM_MODULE, KHOLMESCTL, KHM_SELFTESTS   other module / controller /
#                               test directory (default: this tree's build)
#   KHM_QEMU_CPU=max            qemu -cpu model; KHM_QEMU_ARGS extra options
#   KHM_APPEND="..."            more kernel command line
set -euo pipefail

if (($# != 2)); then
	echo "usage: $0 KVER OUTDIR" >&2
	exit 2
fi
kver=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

kernel=/boot/vmlinuz-$kver
cmdline="console=ttyS0 tsc=reliable panic=-1 oops=panic loglevel=5 log_buf_len=8M"
if [[ $kver == debug ]]; then
	# The debug kernel of `make kdebug` (scripts/kdebug.sh), built if need
	# be; KASAN and lockdep under TCG are slow, so longer limits.
	kd=$("$top/scripts/kdebug.sh") || exit 1
	kernel=$(sed -n 's/^KDEBUG_IMAGE=//p' <<<"$kd")
	export KHM_VM_TIMEOUT=${KHM_VM_TIMEOUT:-3600}
	export KHM_TEST_TIMEOUT=${KHM_TEST_TIMEOUT:-1200}
	# no5lvl: 4-level paging. qemu's -cpu max offers LA57, and while
	# identify_cpu() clears and refills boot_cpu_data's capabilities
	# (start_kernel -> arch_cpu_finalize_init, interrupts on, before the
	# alternatives are patched), pgtable_l5_enabled() reads false, so
	# KASAN's idea of where shadow starts moves to 4-level's, and an
	# interrupt in that window that takes an irq_desc's lock in the
	# 5-level direct map (0xff11...) is reported as "wild-memory-access
	# in do_raw_spin_lock" from handle_edge_irq. The kernel's race, not
	# the module's: it came once in CI's make check, before /init ran,
	# and here once in 109 boots with four VMs on two CPUs (PIT
	# calibration failed first: a slow boot widens the window). The
	# stock kernels keep LA57, so the module's 5-level address ranges are
	# still seen in their VMs.
	cmdline+=" kmemleak=on printk.time=1 pci=noacpi no5lvl"
fi
[[ -n ${KHM_APPEND:-} ]] && cmdline+=" $KHM_APPEND"
module=${KHM_MODULE:-$top/build/$kver/src/kmod/kholmes.ko}
ctl=${KHOLMESCTL:-$top/ctl/kholmesctl}
tests_dir=${KHM_SELFTESTS:-$top/build/selftests}
export KHM_VM_TIMEOUT=${KHM_VM_TIMEOUT:-1800}
vm_timeout=$KHM_VM_TIMEOUT
export KHM_MODPARAMS=${KHM_MODPARAMS:-}
export KHM_TEST_TIMEOUT=${KHM_TEST_TIMEOUT:-600}
export KHM_TEST_ARGS=${KHM_TEST_ARGS:-}

if [[ ! -r $kernel ]]; then
	[[ $kver == debug ]] && { echo "run-vm: no debug kernel: make kdebug" >&2; exit 2; }
	echo "run-vm: no readable $kernel; install it: sudo apt-get install linux-image-$kver" >&2
	exit 2
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir"/*.tap "$outdir"/console.* "$outdir"/dmesg.log \
	"$outdir"/failures "$outdir"/summary

# The tests to run: every built *_test, or those KHM_TESTS names.
tests_env=${KHM_TESTS:-}
read -r -a wanted <<<"${tests_env//,/ }"
tests=()
if ((${#wanted[@]})); then
	for t in "${wanted[@]}"; do
		tests+=("${t%_test}_test")
	done
else
	shopt -s nullglob
	for t in "$tests_dir"/*_test; do
		tests+=("${t##*/}")
	done
	shopt -u nullglob
fi
if ((${#tests[@]} == 0)); then
	echo "run-vm: no test binaries in $tests_dir (make selftests)" >&2
	exit 1
fi

img=$outdir/initramfs.img
"$here/mkinitramfs.sh" "$img" "$module" "$ctl" "$tests_dir" "${tests[@]}"

disk=$outdir/disk.img
rm -f "$disk"
truncate -s 32M "$disk"
# inode tables and journal written here, not by ext4lazyinit during a test
PATH=$PATH:/usr/sbin:/sbin mkfs.ext4 -q -F -L khm-disk \
	-E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$disk"

read -r -a qemu_extra <<<"${KHM_QEMU_ARGS:-}"
qemu=(qemu-system-x86_64 -accel tcg -cpu "${KHM_QEMU_CPU:-max}" -m 2048 -smp 2
	-nographic -no-reboot -nic none -kernel "$kernel" -initrd "$img"
	-drive "file=$disk,if=virtio,format=raw" -append "$cmdline"
	"${qemu_extra[@]}")

# stamp: the harness's case lines with the host's clock in front, so that
# OUTDIR/times says how long each case took (the guest's clock under TCG
# is not what make check's budget is counted in); summed up in case-times.
stamp() {
	local line

	while IFS= read -r line; do
		case $line in
		*"#  RUN "* | *"#            OK "* | *"#          FAIL "* | \
			*"#      SKIP "* | *KHM-TIME*)
			printf '%(%s)T %s\n' -1 "${line%$'\r'}" ;;
		esac
	done
}

raw=$outdir/console.raw
start=$(date +%s)
set +e
if [[ ${KHM_VERBOSE:-0} != 0 ]]; then
	timeout --foreground -k 10 "$vm_timeout" "${qemu[@]}" </dev/null 2>&1 |
		tee "$raw" >(stamp >"$outdir/times")
	qrc=${PIPESTATUS[0]}
else
	timeout -k 10 "$vm_timeout" "${qemu[@]}" </dev/null 2>&1 |
		tee "$raw" | stamp >"$outdir/times"
	qrc=${PIPESTATUS[0]}
fi
# case-times: "<seconds> <case>", the longest first.
awk '
	/KHM-TIME/ { next }
	/#  RUN /  { t0 = $1; c = $4; next }
	/#  +(OK|FAIL|SKIP) / { if (c != "") print $1 - t0, c; c = "" }
' "$outdir/times" | sort -rn >"$outdir/case-times"
set -e
seconds=$(($(date +%s) - start))
# Without carriage returns and the firmware's terminal escapes, which
# otherwise prefix /init's first line.
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[A-Za-z]//g' \
	<"$raw" >"$outdir/console.log"
rm -f "$raw"

"$here/judge.sh" "$kver" "$outdir" "$qrc" "$seconds" "${tests[@]}"
