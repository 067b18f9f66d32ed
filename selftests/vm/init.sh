#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# /init of the kholmes test VM (busybox sh). Mounts what the tests need,
# loads the module, runs every /selftests/*_test in turn, unloads the
# module, dumps dmesg and powers off (or, without ACPI, reboots: qemu runs
# with -no-reboot). Everything the host needs to judge the run goes to the
# serial console between marker lines that judge.sh parses:
#
#   KHM-BOOT <release>                  /init started
#   KHM-INSMOD-OK | KHM-INSMOD-FAIL rc=N
#   KHM-BEGIN <test> ... KHM-END <test> rc=N   one test binary's TAP
#   KHM-TIME <test> S                          the seconds it took
#   KHM-RMMOD-OK | KHM-RMMOD-FAIL rc=N
#   KHM-KMEMLEAK-BEGIN ... KHM-KMEMLEAK-END   what kmemleak found after the
#                                       unload (kernels with kmemleak only),
#                                       or KHM-KMEMLEAK-FAIL why
#   KHM-DMESG-BEGIN ... KHM-DMESG-END
#   KHM-DONE                            the last line before poweroff
#
# /etc/khm.env, written by run-vm.sh, may set KHM_MODPARAMS (insmod
# parameters), KHM_TEST_TIMEOUT (seconds per test binary) and KHM_TEST_ARGS
# (arguments for every test binary, e.g. "-t load_unload_ten_times");
# KHM_ARGS_<name>, for <name>_test, replaces KHM_TEST_ARGS for that binary
# (KHM_ARGS_sick="-t race_pull_ack": one case of sick_test only).

PATH=/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in cpu memory pids; do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
		echo "KHM-NOTE cgroup controller $c not available"
done
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null ||
	echo "KHM-NOTE no debugfs"
hostname kholmes-vm
ip link set lo up 2>/dev/null

KHM_MODPARAMS=
KHM_TEST_TIMEOUT=300
# shellcheck disable=SC2034 # read through eval below
KHM_TEST_ARGS=
# shellcheck source=/dev/null
[ -r /etc/khm.env ] && . /etc/khm.env
KHOLMESCTL=/bin/kholmesctl
KHM_MODULE=/lib/kholmes/kholmes.ko
export KHOLMESCTL KHM_MODULE KHM_MODPARAMS

# Marks in the kernel log too, so that a splat in the dmesg dump can be
# tied to the test that caused it. As notices (<5>): the console shows
# warnings and worse (loglevel=5), and has the mark from echo already.
mark() {
	echo "$*"
	echo "<5>$*" >/dev/kmsg 2>/dev/null
}

finish() {
	echo "KHM-DMESG-BEGIN"
	dmesg
	echo "KHM-DMESG-END"
	echo "KHM-DONE"
	sync
	# Without ACPI (the debug kernel) power-off only halts; a reboot
	# ends qemu all the same (-no-reboot).
	if [ -d /sys/firmware/acpi ]; then
		poweroff -f
	else
		reboot -f
	fi
	sleep 10
}

# kmemleak (the debug kernel): what the boot itself leaked is no concern
# of ours; scan now and forget it, so that the scan after the unload shows
# only what the module and the tests left.
KMEMLEAK=/sys/kernel/debug/kmemleak
if [ -w "$KMEMLEAK" ]; then
	echo scan >"$KMEMLEAK" 2>/dev/null
	echo clear >"$KMEMLEAK" 2>/dev/null
fi

echo
mark "KHM-BOOT $(uname -r)"

# perf's page-fault and per-task jump labels held on for the whole run, so
# that no profile patches them under TCG (selftests/workloads/keyhold.c);
# waited for, so that their patching (text_poke_bp, int3 while the other
# vCPU runs) is over before insmod: an rt VM once died of "Oops: int3"
# during the load with keyhold started just before it
if [ -x /selftests/keyhold ]; then
	/selftests/keyhold </dev/null >/tmp/keyhold &
	i=0
	while ! grep -q ready /tmp/keyhold 2>/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	grep -q ready /tmp/keyhold 2>/dev/null || mark "KHM-NOTE keyhold not ready"
fi

# shellcheck disable=SC2086 # the parameters are words
insmod "$KHM_MODULE" $KHM_MODPARAMS
rc=$?
if [ "$rc" -ne 0 ]; then
	mark "KHM-INSMOD-FAIL rc=$rc"
	finish
fi
mark "KHM-INSMOD-OK"

for t in /selftests/*_test; do
	[ -x "$t" ] || continue
	name=${t##*/}
	mark "KHM-BEGIN $name"
	t0=$(cut -d. -f1 /proc/uptime)
	eval "args=\${KHM_ARGS_${name%_test}-\$KHM_TEST_ARGS}"
	# shellcheck disable=SC2086,SC2154 # the arguments are words; set by eval
	(cd /tmp && exec timeout -s KILL "$KHM_TEST_TIMEOUT" "$t" $args </dev/null)
	rc=$?
	mark "KHM-END $name rc=$rc"
	mark "KHM-TIME $name $(($(cut -d. -f1 /proc/uptime) - t0))"
	# A binary killed mid-case (at a harness bound or KHM_TEST_TIMEOUT)
	# may leave allocations failing: said (judge.sh fails the VM on it),
	# and off again for the binaries that follow.
	fa=/sys/module/kholmes/parameters/fail_alloc_every
	if [ -w "$fa" ] && [ "$(cat "$fa")" != 0 ]; then
		mark "KHM-FAULTS-LEFT $name left fail_alloc_every=$(cat "$fa")"
		echo 0 >"$fa"
	fi
done

rmmod kholmes
rc=$?
if [ "$rc" -eq 0 ]; then
	mark "KHM-RMMOD-OK"
else
	mark "KHM-RMMOD-FAIL rc=$rc"
fi
# Two scans with a pause between, as Documentation/dev-tools/kmemleak.rst
# advises: an object younger than 5 s is never reported, and a pointer
# kept only in a register or a stack a moment ago is gone by the second.
if [ -w "$KMEMLEAK" ]; then
	if echo scan >"$KMEMLEAK" && sleep 6 && echo scan >"$KMEMLEAK"; then
		mark "KHM-KMEMLEAK-BEGIN"
		cat "$KMEMLEAK"
		mark "KHM-KMEMLEAK-END"
	else
		mark "KHM-KMEMLEAK-FAIL cannot write scan to $KMEMLEAK"
	fi
fi
finish
